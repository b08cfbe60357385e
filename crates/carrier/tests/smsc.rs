//! The SMPP carrier against the `smpp` crate's SMSC simulator over loopback TCP on port 0.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use carrier::{BindMode, ConcatMode, SmppCarrier, SmppCarrierConfig};
use domain::{AccountId, MessageId, MessageStatus};
use smpp::codec::{Bind, CommandStatus, SubmitSm, SubmitSmResp};
use smpp::server::{self, BindKind, ServerConfig, SessionHandle, SessionHandler};
use smpp::sim::{OutcomeShares, Sim, SimConfig};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc};
use tokio::time::timeout;
use workers::connector::InboundSms;
use workers::{Connector, ConnectorEvent, Delivery, OutboundMessage};

const WAIT: Duration = Duration::from_secs(10);

/// Serves `handler` on a fresh loopback port until the returned sender is dropped.
async fn serve<H: SessionHandler>(handler: Arc<H>) -> (SocketAddr, broadcast::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, mut stop_rx) = broadcast::channel::<()>(1);
    tokio::spawn(async move {
        server::run(listener, handler, ServerConfig::default(), async move {
            let _ = stop_rx.recv().await;
        })
        .await
    });
    (addr, stop)
}

struct Smsc {
    sim: Sim,
    addr: SocketAddr,
    _stop: broadcast::Sender<()>,
}

async fn smsc(config: SimConfig) -> Smsc {
    let sim = Sim::new(SimConfig {
        receipt_delay: Duration::from_millis(20),
        ..config
    });
    let (addr, stop) = serve(Arc::new(sim.clone())).await;
    Smsc {
        sim,
        addr,
        _stop: stop,
    }
}

fn config(addr: SocketAddr) -> SmppCarrierConfig {
    SmppCarrierConfig::new(
        "op",
        addr.ip().to_string(),
        addr.port(),
        "gateway",
        "secret",
    )
}

/// A started and bound carrier with its event channel.
async fn carrier(config: SmppCarrierConfig) -> (SmppCarrier, mpsc::Receiver<ConnectorEvent>) {
    let (tx, rx) = mpsc::channel(64);
    let carrier = SmppCarrier::start(config, tx).unwrap();
    assert!(carrier.wait_bound(WAIT).await, "carrier did not bind");
    assert!(carrier.is_up());
    (carrier, rx)
}

fn message(id: i64, body: &str) -> OutboundMessage {
    OutboundMessage {
        id: MessageId::new(id),
        account: AccountId::new(7),
        to: "+420777123456".into(),
        sender: "Info".into(),
        body: body.into(),
        encoding: if sms::gsm7_encode(body).is_some() {
            "gsm7"
        } else {
            "ucs2"
        }
        .into(),
        parts: 1,
        expires_at: i64::MAX,
    }
}

fn long_ucs2() -> String {
    "Příliš žluťoučký kůň úpěl ďábelské ódy. ".repeat(4)
}

fn accepted(d: Delivery) -> String {
    match d {
        Delivery::Accepted { smsc_id } => smsc_id,
        other => panic!("not accepted: {other:?}"),
    }
}

async fn next_event(rx: &mut mpsc::Receiver<ConnectorEvent>) -> ConnectorEvent {
    timeout(WAIT, rx.recv())
        .await
        .expect("no event in time")
        .expect("event channel closed")
}

async fn next_receipt(rx: &mut mpsc::Receiver<ConnectorEvent>) -> store::Receipt {
    match next_event(rx).await {
        ConnectorEvent::Receipt(r) => r,
        other => panic!("not a receipt: {other:?}"),
    }
}

async fn next_inbound(rx: &mut mpsc::Receiver<ConnectorEvent>) -> InboundSms {
    match next_event(rx).await {
        ConnectorEvent::Inbound(m) => m,
        other => panic!("not an inbound message: {other:?}"),
    }
}

/// Polls `f` every 10 ms until it holds; false after `WAIT`.
async fn eventually(mut f: impl FnMut() -> bool) -> bool {
    timeout(WAIT, async {
        while !f() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .is_ok()
}

#[tokio::test]
async fn single_and_concatenated_messages_are_accepted_and_receipted() {
    let smsc = smsc(SimConfig::default()).await;
    let (carrier, mut events) = carrier(config(smsc.addr)).await;

    let short = accepted(carrier.submit(&message(1, "Hello from apisendsms")).await);
    let long = accepted(carrier.submit(&message(2, &long_ucs2())).await);
    assert_ne!(short, long);

    let stats = smsc.sim.stats();
    assert_eq!((stats.submitted, stats.unique), (4, 4));
    assert_eq!(stats.concatenated_parts, 3);
    let state = carrier.state();
    assert_eq!(state.name, "op");
    assert!(state.bound);
    assert_eq!(state.submitted_total, 4);

    // One receipt per message: only the last part asks for one, and its id is returned.
    let mut receipts = [
        next_receipt(&mut events).await,
        next_receipt(&mut events).await,
    ];
    receipts.sort_by(|a, b| a.smsc_id.cmp(&b.smsc_id));
    let mut ids = [short, long];
    ids.sort();
    for (r, id) in receipts.iter().zip(&ids) {
        assert_eq!(&r.smsc_id, id);
        assert_eq!(r.connector, "op");
        assert_eq!(r.status, MessageStatus::Delivered);
        assert_eq!(r.reason, None);
    }
    assert!(timeout(Duration::from_millis(200), events.recv())
        .await
        .is_err());
    assert!(eventually(|| smsc.sim.stats().receipts_sent == 2).await);
    carrier.close().await;
}

#[tokio::test]
async fn undeliverable_receipts_carry_status_and_reason() {
    let smsc = smsc(SimConfig {
        outcomes: OutcomeShares {
            delivered: 0,
            undeliverable: 1,
            expired: 0,
            rejected: 0,
        },
        ..SimConfig::default()
    })
    .await;
    let mut c = config(smsc.addr);
    c.bind = BindMode::TransmitterReceiver;
    let (carrier, mut events) = carrier(c).await;
    let id = accepted(carrier.submit(&message(3, "Your code is 1234")).await);
    let r = next_receipt(&mut events).await;
    assert_eq!(r.smsc_id, id);
    assert_eq!(r.status, MessageStatus::Undeliverable);
    assert_eq!(r.reason.as_deref(), Some("UNDELIV err:001"));
}

#[tokio::test]
async fn mo_messages_arrive_decoded() {
    let smsc = smsc(SimConfig::default()).await;
    let (_carrier, mut events) = carrier(config(smsc.addr)).await;

    let status = smsc
        .sim
        .inject_mo("420777123456", "90210", "Příliš žluťoučký kůň")
        .await
        .unwrap();
    assert_eq!(status, CommandStatus::ESME_ROK);
    let m = next_inbound(&mut events).await;
    assert_eq!(m.connector, "op");
    assert_eq!(m.from, "+420777123456");
    assert_eq!(m.to, "90210");
    assert_eq!(m.text, "Příliš žluťoučký kůň");
    assert!(m.received_at > 1_700_000_000_000_000);

    let status = smsc
        .sim
        .inject_mo("420777123456", "90210", "STOP")
        .await
        .unwrap();
    assert_eq!(status, CommandStatus::ESME_ROK);
    assert_eq!(next_inbound(&mut events).await.text, "STOP");
    assert_eq!(smsc.sim.stats().mo_sent, 2);
}

#[tokio::test]
async fn mo_is_refused_for_redelivery_when_nobody_listens() {
    let smsc = smsc(SimConfig::default()).await;
    let (_carrier, events) = carrier(config(smsc.addr)).await;
    drop(events);
    let status = smsc
        .sim
        .inject_mo("420777123456", "90210", "STOP")
        .await
        .unwrap();
    assert_eq!(status, CommandStatus::ESME_RX_T_APPN);
    assert_eq!(smsc.sim.stats().mo_sent, 0);
}

#[tokio::test]
async fn a_resubmitted_message_is_sent_once() {
    let smsc = smsc(SimConfig::default()).await;
    let (carrier, mut events) = carrier(config(smsc.addr)).await;

    let first = accepted(carrier.submit(&message(10, "once")).await);
    let again = accepted(carrier.submit(&message(10, "once")).await);
    assert_eq!(first, again);
    let long_first = accepted(carrier.submit(&message(11, &long_ucs2())).await);
    let long_again = accepted(carrier.submit(&message(11, &long_ucs2())).await);
    assert_eq!(long_first, long_again);

    let stats = smsc.sim.stats();
    assert_eq!((stats.submitted, stats.unique, stats.duplicates), (8, 4, 4));
    // No second receipt for the duplicates.
    next_receipt(&mut events).await;
    next_receipt(&mut events).await;
    assert!(timeout(Duration::from_millis(300), events.recv())
        .await
        .is_err());
}

#[tokio::test]
async fn sar_and_payload_modes() {
    // (mode, submit_sm PDUs, of which with a UDH)
    for (mode, pdus, with_udh) in [(ConcatMode::Sar, 3, 0), (ConcatMode::Payload, 1, 0)] {
        let smsc = smsc(SimConfig::default()).await;
        let mut c = config(smsc.addr);
        c.concat = mode;
        let (carrier, mut events) = carrier(c).await;
        let id = accepted(carrier.submit(&message(20, &long_ucs2())).await);
        let stats = smsc.sim.stats();
        assert_eq!(
            (stats.submitted, stats.concatenated_parts),
            (pdus, with_udh),
            "{mode:?}"
        );
        assert_eq!(next_receipt(&mut events).await.smsc_id, id, "{mode:?}");
    }
}

#[tokio::test]
async fn throttling_never_ends_permanent() {
    let smsc = smsc(SimConfig {
        throttle_per_second: Some(2),
        ..SimConfig::default()
    })
    .await;
    let (carrier, _events) = carrier(config(smsc.addr)).await;
    let carrier = Arc::new(carrier);
    let sends: Vec<_> = (0..5)
        .map(|i| {
            let carrier = carrier.clone();
            tokio::spawn(async move { carrier.submit(&message(100 + i, "throttled?")).await })
        })
        .collect();
    for send in sends {
        let d = timeout(Duration::from_secs(30), send)
            .await
            .expect("submit ended")
            .unwrap();
        assert!(
            matches!(d, Delivery::Accepted { .. } | Delivery::Temporary { .. }),
            "{d:?}"
        );
    }
    assert!(smsc.sim.stats().throttled > 0);
}

#[tokio::test]
async fn reconnects_after_the_smsc_drops_the_session() {
    let smsc = smsc(SimConfig::default()).await;
    let (carrier, _events) = carrier(config(smsc.addr)).await;
    smsc.sim.disconnect_all().await;
    assert!(eventually(|| !carrier.is_up()).await, "still up");
    assert!(!carrier.state().bound);
    assert!(eventually(|| carrier.is_up()).await, "did not reconnect");
    accepted(carrier.submit(&message(30, "after reconnect")).await);
}

#[tokio::test]
async fn shutdown_unbinds_and_ends_the_event_stream() {
    let smsc = smsc(SimConfig::default()).await;
    let (carrier, mut events) = carrier(config(smsc.addr)).await;
    let id = accepted(carrier.submit(&message(35, "last one")).await);
    assert_eq!(next_receipt(&mut events).await.smsc_id, id);
    timeout(WAIT, carrier.shutdown())
        .await
        .expect("shutdown ended");
    assert!(!carrier.is_up());
    assert!(eventually(|| smsc.sim.bound_sessions() == 0).await);
    // The forwarding task is gone with its sender.
    assert!(timeout(WAIT, events.recv()).await.unwrap().is_none());
}

#[tokio::test]
async fn submit_is_temporary_when_the_smsc_is_gone() {
    // Nothing listens on this port once the listener is dropped.
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let (tx, _rx) = mpsc::channel(4);
    let mut c = config(addr);
    c.response_timeout_s = 1;
    let carrier = SmppCarrier::start(c, tx).unwrap();
    assert!(!carrier.is_up());
    let d = timeout(Duration::from_secs(5), carrier.submit(&message(40, "hi")))
        .await
        .unwrap();
    assert!(matches!(d, Delivery::Temporary { .. }), "{d:?}");
}

/// An SMSC that refuses every destination.
struct Refusing;

impl SessionHandler for Refusing {
    async fn authenticate(&self, _kind: BindKind, _bind: &Bind) -> Result<(), CommandStatus> {
        Ok(())
    }

    async fn submit_sm(
        &self,
        _session: &SessionHandle,
        _sm: SubmitSm,
    ) -> Result<SubmitSmResp, CommandStatus> {
        Err(CommandStatus::ESME_RINVDSTADR)
    }
}

#[tokio::test]
async fn permanent_statuses_and_unsendable_messages_are_permanent() {
    let (addr, _stop) = serve(Arc::new(Refusing)).await;
    let (carrier, _events) = carrier(config(addr)).await;
    assert_eq!(
        carrier.submit(&message(50, "hi")).await,
        Delivery::Permanent {
            reason: "ESME_RINVDSTADR (0x0000000B)".into()
        }
    );
    let mut bad = message(51, "hi");
    bad.to = "12345".into();
    assert!(matches!(
        carrier.submit(&bad).await,
        Delivery::Permanent { .. }
    ));
}

#[test]
fn config_reads_from_toml() {
    let c: SmppCarrierConfig = toml::from_str(
        r#"
        name = "operator-a"
        host = "smsc.example.net"
        port = 2775
        system_id = "apisendsms"
        password = "secret"
        bind = "transmitter_receiver"
        throughput_per_second = 50
        concat = "sar"
        register_delivery = false
        "#,
    )
    .unwrap();
    assert_eq!(c.bind, BindMode::TransmitterReceiver);
    assert_eq!(c.concat, ConcatMode::Sar);
    assert_eq!(c.throughput_per_second, Some(50));
    assert!(!c.register_delivery);
    assert!(c.send_message_id_tlv);
    assert_eq!((c.window, c.enquire_link_s), (10, 30));
    assert_eq!(c.system_type, "");
    c.client_config().unwrap();

    let minimal: SmppCarrierConfig = toml::from_str(
        r#"
        name = "b"
        host = "h"
        port = 1
        system_id = "s"
        password = "p"
        "#,
    )
    .unwrap();
    assert_eq!(minimal.bind, BindMode::Transceiver);
    assert_eq!(minimal.concat, ConcatMode::Udh);
    assert!(minimal.register_delivery);

    assert!(toml::from_str::<SmppCarrierConfig>(
        r#"
        name = "b"
        host = "h"
        port = 1
        system_id = "s"
        password = "p"
        bind = "receiver"
        "#,
    )
    .is_err());
}
