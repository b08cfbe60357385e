//! Devices' storage on both databases: pairing, revocation, assignments that only move
//! forward, limits, routing settings, inbound messages stored once, and the device route
//! through submission and claim.

use domain::optout::Keywords;
use domain::{AccountId, MessageId, MessageStatus, Money};
use store::{
    AssignmentState, DeviceChannel, DeviceRouting, NewDevice, NewInbound, NewMessage,
    OfflineFallback, Store, StoreOptions, Submission, SubmitOutcome,
};

async fn open(db: &testkit::TestDb) -> Store {
    Store::connect(&db.url, StoreOptions::default())
        .await
        .expect("connect")
}

async fn account(store: &Store, id: i64) -> AccountId {
    let a = AccountId::new(id);
    store
        .create_account(
            a,
            &format!("d{id}@example.com"),
            "Devices",
            Money::from_hundredths(10_000),
            1,
        )
        .await
        .unwrap();
    a
}

fn device(account: AccountId, id: i64, code: &str, expires: i64) -> NewDevice {
    NewDevice {
        id,
        account,
        name: format!("phone {id}"),
        pairing_code_hash: code.into(),
        pairing_expires_at: expires,
        per_minute: 2,
        per_day: 100,
    }
}

async fn submit(store: &Store, account: AccountId, id: i64, channel: Option<DeviceChannel>) {
    let outcome = store
        .submit(Submission {
            account,
            submission_id: id,
            idempotency: None,
            messages: vec![NewMessage {
                id: MessageId::new(id),
                to: "+420777123456".into(),
                sender: "ACME".into(),
                body: "hello".into(),
                encoding: "gsm7",
                parts: 1,
                price: Money::from_hundredths(100),
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
            device: channel,
        })
        .await
        .unwrap();
    assert_eq!(outcome, SubmitOutcome::Accepted);
}

#[tokio::test]
async fn a_pairing_code_works_once_before_it_expires_and_revocation_ends_the_credential() {
    for backend in testkit::backends().await {
        let db = testkit::TestDb::new(backend).await;
        let store = open(&db).await;
        let acc = account(&store, 7).await;
        store
            .create_device(&device(acc, 1, "code-1", 1_000), 10)
            .await
            .unwrap();
        store
            .create_device(&device(acc, 2, "code-2", 1_000), 10)
            .await
            .unwrap();
        // Expired.
        assert!(store
            .pair_device("code-2", "cred-2", 1_000)
            .await
            .unwrap()
            .is_none());
        let d = store
            .pair_device("code-1", "cred-1", 500)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((d.id, d.paired_at), (1, Some(500)), "{backend:?}");
        // Used.
        assert!(store
            .pair_device("code-1", "cred-x", 600)
            .await
            .unwrap()
            .is_none());
        assert_eq!(
            store
                .device_for_credential("cred-1")
                .await
                .unwrap()
                .unwrap()
                .id,
            1
        );
        assert_eq!(store.live_device_count(acc).await.unwrap(), 2);
        // Another account cannot revoke it.
        let other = account(&store, 8).await;
        assert!(!store.revoke_device(other, 1, 700).await.unwrap());
        assert!(store.revoke_device(acc, 1, 700).await.unwrap());
        assert!(!store.revoke_device(acc, 1, 800).await.unwrap());
        assert!(store
            .device_for_credential("cred-1")
            .await
            .unwrap()
            .is_none());
        assert_eq!(store.live_device_count(acc).await.unwrap(), 1);
        let listed = store.list_devices(acc).await.unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].revoked_at, Some(700));
    }
}

#[tokio::test]
async fn assignments_move_forward_only_and_count_towards_limits() {
    for backend in testkit::backends().await {
        let db = testkit::TestDb::new(backend).await;
        let store = open(&db).await;
        let acc = account(&store, 7).await;
        store
            .create_device(&device(acc, 1, "c1", i64::MAX), 10)
            .await
            .unwrap();
        store
            .create_device(&device(acc, 2, "c2", i64::MAX), 10)
            .await
            .unwrap();
        submit(&store, acc, 100, Some(DeviceChannel::default())).await;
        let id = MessageId::new(100);
        let a = store.assign(id, 1, acc, 1_000).await.unwrap();
        assert_eq!((a.device_id, a.state), (1, AssignmentState::Assigned));
        assert_eq!(
            (a.to.as_str(), a.body.as_str(), a.parts),
            ("+420777123456", "hello", 1)
        );
        // Not acknowledged: it may move to another device.
        let a = store.assign(id, 2, acc, 1_100).await.unwrap();
        assert_eq!(a.device_id, 2, "{backend:?}");
        assert_eq!(store.open_assignments(2).await.unwrap().len(), 1);
        assert!(store.open_assignments(1).await.unwrap().is_empty());
        // A report from the wrong device changes nothing.
        assert!(!store
            .advance_assignment(1, id, AssignmentState::Acked, None, None, 1_200)
            .await
            .unwrap());
        assert!(store
            .advance_assignment(2, id, AssignmentState::Acked, None, None, 1_200)
            .await
            .unwrap());
        // Acknowledged: it stays.
        assert_eq!(store.assign(id, 1, acc, 1_300).await.unwrap().device_id, 2);
        assert!(store
            .advance_assignment(2, id, AssignmentState::Sent, Some("4,5"), None, 1_400)
            .await
            .unwrap());
        // A repeat and a step back are refused.
        assert!(!store
            .advance_assignment(2, id, AssignmentState::Sent, Some("9"), None, 1_500)
            .await
            .unwrap());
        assert!(!store
            .advance_assignment(2, id, AssignmentState::Acked, None, None, 1_500)
            .await
            .unwrap());
        assert!(store.open_assignments(2).await.unwrap().is_empty());
        assert!(store
            .advance_assignment(2, id, AssignmentState::Delivered, None, None, 1_600)
            .await
            .unwrap());
        assert!(!store
            .advance_assignment(2, id, AssignmentState::Failed, None, Some("x"), 1_700)
            .await
            .unwrap());
        assert_eq!(
            store.assignment(id).await.unwrap().unwrap().state,
            AssignmentState::Delivered
        );
        assert_eq!(store.device_load(2, 1_000).await.unwrap(), (1, 0));
        assert_eq!(store.device_load(2, 2_000).await.unwrap(), (0, 0));
    }
}

#[tokio::test]
async fn the_device_route_survives_submission_and_claim() {
    for backend in testkit::backends().await {
        let db = testkit::TestDb::new(backend).await;
        let store = open(&db).await;
        let acc = account(&store, 7).await;
        submit(&store, acc, 100, Some(DeviceChannel::default())).await;
        submit(&store, acc, 101, None).await;
        submit(
            &store,
            acc,
            102,
            Some(DeviceChannel {
                ciphertext: Some("b64ciphertext".into()),
            }),
        )
        .await;
        let mut claimed = store.claim_due(0, 10, 1_000_000, 10).await.unwrap();
        claimed.sort_by_key(|c| c.id);
        let routes: Vec<(i64, bool)> = claimed.iter().map(|c| (c.id.get(), c.device)).collect();
        assert_eq!(
            routes,
            vec![(100, true), (101, false), (102, true)],
            "{backend:?}"
        );
        store
            .create_device(&device(acc, 1, "c1", i64::MAX), 10)
            .await
            .unwrap();
        let a = store.assign(MessageId::new(102), 1, acc, 20).await.unwrap();
        assert_eq!(a.ciphertext.as_deref(), Some("b64ciphertext"));
    }
}

#[tokio::test]
async fn routing_settings_default_and_change() {
    for backend in testkit::backends().await {
        let db = testkit::TestDb::new(backend).await;
        let store = open(&db).await;
        let acc = account(&store, 7).await;
        assert_eq!(
            store.device_routing(acc).await.unwrap(),
            DeviceRouting::default()
        );
        let r = DeviceRouting {
            device_by_default: true,
            offline_wait_s: 120,
            offline_fallback: OfflineFallback::Carrier,
        };
        store.set_device_routing(acc, r).await.unwrap();
        assert_eq!(store.device_routing(acc).await.unwrap(), r, "{backend:?}");
        let r2 = DeviceRouting {
            device_by_default: false,
            ..r
        };
        store.set_device_routing(acc, r2).await.unwrap();
        assert_eq!(store.device_routing(acc).await.unwrap(), r2);
    }
}

#[tokio::test]
async fn an_inbound_message_from_a_device_is_stored_once_for_its_account() {
    for backend in testkit::backends().await {
        let db = testkit::TestDb::new(backend).await;
        let store = open(&db).await;
        let acc = account(&store, 7).await;
        let m = NewInbound {
            id: 500,
            connector: "device".into(),
            from: "+420777000999".into(),
            to: "device:1".into(),
            body: "STOP".into(),
            smsc_id: Some("1:abc".into()),
            received_at: 5,
        };
        let keywords = Keywords::default();
        assert!(store
            .store_device_inbound(acc, &m, &keywords)
            .await
            .unwrap());
        let again = NewInbound {
            id: 501,
            ..m.clone()
        };
        assert!(!store
            .store_device_inbound(acc, &again, &keywords)
            .await
            .unwrap());
        let listed = store.list_inbound(acc, None, 10).await.unwrap();
        assert_eq!(listed.len(), 1, "{backend:?}");
        assert_eq!(listed[0].account, Some(acc));
        // STOP from the device's SIM put the sender on the account's Blacklist.
        assert!(store
            .block_reason(acc, "+420777000999")
            .await
            .unwrap()
            .is_some());
    }
}
