//! The hub and its connector against a real store (SQLite and PostgreSQL), with devices played
//! by the test: round-robin, limits, acknowledgement, the offline policy, reports and cut-off.

use std::sync::Arc;
use std::time::Duration;

use devices::hub::{secret_hash, Connection, HubError};
use devices::protocol::{DeviceFrame, ServerFrame};
use devices::{DeviceConnector, DeviceMetrics, Hub, HubConfig};
use domain::optout::Keywords;
use domain::{AccountId, IdGenerator, MessageId, MessageStatus, Money};
use store::{
    DeviceChannel, DeviceRecord, DeviceRouting, NewDevice, NewMessage, OfflineFallback, Store,
    StoreOptions, Submission,
};
use workers::{Connector, Delivery, OutboundMessage};

struct World {
    store: Store,
    hub: Arc<Hub>,
    connector: Arc<DeviceConnector>,
    ids: Arc<IdGenerator>,
    account: AccountId,
    _db: testkit::TestDb,
}

async fn world(backend: testkit::Backend) -> World {
    let db = testkit::TestDb::new(backend).await;
    let store = Store::connect(&db.url, StoreOptions::default())
        .await
        .unwrap();
    let account = AccountId::new(7);
    store
        .create_account(
            account,
            "d@example.com",
            "D",
            Money::from_hundredths(100_000),
            1,
        )
        .await
        .unwrap();
    let ids = Arc::new(IdGenerator::new(1));
    let hub = Hub::new(
        store.clone(),
        ids.clone(),
        Keywords::default(),
        HubConfig {
            ack_timeout: Duration::from_millis(500),
            heartbeat_s: 30,
        },
        DeviceMetrics::default(),
    );
    World {
        connector: Arc::new(DeviceConnector::new(hub.clone())),
        store,
        hub,
        ids,
        account,
        _db: db,
    }
}

impl World {
    async fn device(&self, per_minute: u32) -> DeviceRecord {
        let id = self.ids.next();
        let code = format!("code-{id}");
        self.store
            .create_device(
                &NewDevice {
                    id,
                    account: self.account,
                    name: format!("phone {id}"),
                    pairing_code_hash: secret_hash(&code),
                    pairing_expires_at: i64::MAX,
                    per_minute,
                    per_day: 1000,
                },
                store::now_us(),
            )
            .await
            .unwrap();
        let credential = format!("cred-{id}");
        self.store
            .pair_device(
                &secret_hash(&code),
                &secret_hash(&credential),
                store::now_us(),
            )
            .await
            .unwrap()
            .unwrap();
        self.hub.authenticate(&credential).await.unwrap().unwrap()
    }

    async fn connect(&self, d: &DeviceRecord) -> Connection {
        let mut c = self
            .hub
            .connect(
                d,
                &DeviceFrame::Hello {
                    model: Some("test".into()),
                    sim_slots: Some(1),
                    signal: Some(20),
                    battery: None,
                    app: None,
                },
            )
            .await
            .unwrap();
        assert!(matches!(
            c.frames.recv().await,
            Some(ServerFrame::Welcome { .. })
        ));
        c
    }

    /// A message accepted now (its id tells its age to the offline policy).
    async fn message(&self) -> OutboundMessage {
        let id = self.ids.next();
        self.store
            .submit(Submission {
                account: self.account,
                submission_id: id,
                idempotency: None,
                messages: vec![NewMessage {
                    id: MessageId::new(id),
                    to: "+420777000111".into(),
                    sender: "ACME".into(),
                    body: format!("text {id}"),
                    encoding: "gsm7",
                    parts: 1,
                    price: Money::from_hundredths(90),
                    status: MessageStatus::Queued,
                    client_ref: None,
                    scheduled_at: None,
                    due_at: 1,
                    expires_at: i64::MAX,
                }],
                response: "{}".into(),
                now: 1,
                smpp: None,
                marketing: false,
                device: Some(DeviceChannel::default()),
            })
            .await
            .unwrap();
        OutboundMessage {
            id: MessageId::new(id),
            account: self.account,
            to: "+420777000111".into(),
            sender: "ACME".into(),
            body: format!("text {id}"),
            encoding: "gsm7".into(),
            parts: 1,
            expires_at: i64::MAX,
        }
    }
}

/// Submits through the connector while the device answers the assignment with `ack`.
async fn submit_acked(
    w: &World,
    m: &OutboundMessage,
    devices: &mut [(&DeviceRecord, &mut Connection)],
) -> (Delivery, i64) {
    let connector = w.connector.clone();
    let m2 = m.clone();
    let task = tokio::spawn(async move { connector.submit(&m2).await });
    let (device, conn) = loop {
        let mut found = None;
        for (i, (_, c)) in devices.iter_mut().enumerate() {
            if let Ok(f) = c.frames.try_recv() {
                found = Some((i, f));
                break;
            }
        }
        if let Some((i, f)) = found {
            let ServerFrame::Assign { id, text, .. } = f else {
                panic!("expected an assignment, got {f:?}")
            };
            assert_eq!(id, m.id.to_string());
            assert_eq!(text.as_deref(), Some(m.body.as_str()));
            break (devices[i].0.clone(), devices[i].1.id);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    w.hub
        .handle(
            &device,
            conn,
            DeviceFrame::Ack {
                id: m.id.to_string(),
            },
        )
        .await
        .unwrap();
    (task.await.unwrap(), device.id)
}

#[tokio::test]
async fn messages_take_turns_on_devices_under_their_limits_and_wait_for_the_ack() {
    for backend in testkit::backends().await {
        let w = world(backend).await;
        let a = w.device(1).await;
        let b = w.device(100).await;
        let mut ca = w.connect(&a).await;
        let mut cb = w.connect(&b).await;
        let mut used = Vec::new();
        for id in 1..=3 {
            let m = w.message().await;
            let (d, device) = submit_acked(&w, &m, &mut [(&a, &mut ca), (&b, &mut cb)]).await;
            assert_eq!(
                d,
                Delivery::Accepted {
                    smsc_id: m.id.to_string()
                },
                "{backend:?} message {id}"
            );
            used.push(device);
        }
        // Round-robin, and `a` (one a minute) is skipped once it had its one.
        assert_eq!(used.iter().filter(|d| **d == a.id).count(), 1, "{used:?}");
        assert_eq!(used.iter().filter(|d| **d == b.id).count(), 2, "{used:?}");
        // A repeat of an acknowledged message is accepted again without a second assignment.
        let m = w.message().await;
        let (_, device) = submit_acked(&w, &m, &mut [(&a, &mut ca), (&b, &mut cb)]).await;
        assert_eq!(device, b.id);
        assert_eq!(
            w.connector.submit(&m).await,
            Delivery::Accepted {
                smsc_id: m.id.to_string()
            }
        );
        assert!(cb.frames.try_recv().is_err(), "no second assignment");
    }
}

#[tokio::test]
async fn an_unanswered_assignment_is_retried_and_offline_accounts_follow_their_policy() {
    for backend in testkit::backends().await {
        let w = world(backend).await;
        let m = w.message().await;
        // No device: wait (the default: 600 s).
        assert!(matches!(
            w.connector.submit(&m).await,
            Delivery::Temporary { .. }
        ));
        for (fallback, expect_reroute) in [
            (OfflineFallback::Carrier, true),
            (OfflineFallback::Fail, false),
        ] {
            w.store
                .set_device_routing(
                    w.account,
                    DeviceRouting {
                        device_by_default: true,
                        offline_wait_s: 0,
                        offline_fallback: fallback,
                    },
                )
                .await
                .unwrap();
            let d = w.connector.submit(&m).await;
            if expect_reroute {
                assert!(matches!(d, Delivery::Reroute { .. }), "{d:?}");
            } else {
                assert!(matches!(d, Delivery::Permanent { .. }), "{d:?}");
            }
        }
        // A device that never answers: the submit gives up (temporary), and the assignment is
        // given again when the device reconnects.
        let a = w.device(100).await;
        let mut ca = w.connect(&a).await;
        let d = w.connector.submit(&m).await;
        assert!(matches!(d, Delivery::Temporary { .. }), "{d:?}");
        assert!(matches!(
            ca.frames.recv().await,
            Some(ServerFrame::Assign { .. })
        ));
        let mut again = w.connect(&a).await;
        assert!(
            matches!(ca.frames.recv().await, Some(ServerFrame::Error { .. })),
            "the old connection is replaced"
        );
        assert!(
            matches!(again.frames.recv().await, Some(ServerFrame::Assign { id, .. }) if id == m.id.to_string())
        );
    }
}

#[tokio::test]
async fn reports_are_confirmed_once_recorded_and_a_revoked_device_is_cut_off() {
    for backend in testkit::backends().await {
        let w = world(backend).await;
        let a = w.device(100).await;
        let mut ca = w.connect(&a).await;
        let m = w.message().await;
        let id = m.id.to_string();
        submit_acked(&w, &m, &mut [(&a, &mut ca)]).await;
        w.hub
            .handle(
                &a,
                ca.id,
                DeviceFrame::Sent {
                    id: id.clone(),
                    refs: vec![3],
                },
            )
            .await
            .unwrap();
        assert_eq!(
            ca.frames.recv().await,
            Some(ServerFrame::Confirm { id: id.clone() })
        );
        w.hub
            .handle(&a, ca.id, DeviceFrame::Delivered { id: id.clone() })
            .await
            .unwrap();
        assert_eq!(
            ca.frames.recv().await,
            Some(ServerFrame::Confirm { id: id.clone() })
        );
        assert_eq!(
            w.store.assignment(m.id).await.unwrap().unwrap().state,
            store::AssignmentState::Delivered
        );
        w.hub
            .handle(
                &a,
                ca.id,
                DeviceFrame::Inbound {
                    reference: "r1".into(),
                    from: "+420777000999".into(),
                    text: "Hi".into(),
                    received_at_ms: 1_000,
                },
            )
            .await
            .unwrap();
        assert_eq!(
            ca.frames.recv().await,
            Some(ServerFrame::InboundStored {
                reference: "r1".into()
            })
        );
        assert_eq!(
            w.store
                .list_inbound(w.account, None, 10)
                .await
                .unwrap()
                .len(),
            1
        );

        assert!(w
            .store
            .revoke_device(w.account, a.id, store::now_us())
            .await
            .unwrap());
        w.hub.cut_off(a.id);
        assert!(
            matches!(ca.frames.recv().await, Some(ServerFrame::Error { detail }) if detail.contains("revoked"))
        );
        assert_eq!(ca.frames.recv().await, None);
        assert!(matches!(
            w.hub
                .handle(
                    &a,
                    ca.id,
                    DeviceFrame::Heartbeat {
                        signal: None,
                        battery: None,
                        queue: None
                    }
                )
                .await,
            Err(HubError::Closed)
        ));
        assert!(w.hub.live(a.id).is_none());
        assert!(w
            .hub
            .authenticate(&format!("cred-{}", a.id))
            .await
            .unwrap()
            .is_none());
    }
}
