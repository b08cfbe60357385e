//! Sessions end to end: in memory over `tokio::io::duplex` (most with paused time)
//! and over loopback TCP on port 0.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use smpp::client::{Backoff, BindMode, Client, ClientConfig, Connect, Event, SubmitError};
use smpp::codec::*;
use smpp::server::{self, BindKind, ServerConfig, SessionHandle, SessionHandler};
use smpp::sim::{OutcomeShares, Sim, SimConfig, GATEWAY_MESSAGE_ID_TAG};
use smpp::Connection;
use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc, Semaphore};
use tokio::time::{timeout, Instant};

/// A connector that opens an in-memory stream served by `sim`.
fn sim_connector(sim: Sim) -> impl Connect<Stream = DuplexStream> {
    let (shutdown, _) = broadcast::channel::<()>(1);
    move || {
        let sim = sim.clone();
        let rx = shutdown.subscribe();
        async move {
            let (a, b) = duplex(1 << 16);
            tokio::spawn(async move { sim.serve(b, rx).await });
            Ok::<_, io::Error>(a)
        }
    }
}

fn config() -> ClientConfig {
    let mut c = ClientConfig::new("gateway", "secret").unwrap();
    c.reconnect_backoff = Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(1),
    };
    c
}

fn submit_to(dest: &str, gateway_id: Option<&str>) -> SubmitSm {
    SubmitSm {
        source_addr_ton: 5,
        source_addr: "Info".try_into().unwrap(),
        dest_addr_ton: 1,
        dest_addr_npi: 1,
        destination_addr: dest.try_into().unwrap(),
        registered_delivery: registered_delivery::ON_FINAL,
        short_message: ShortMessage::new(&b"hello"[..]).unwrap(),
        tlvs: gateway_id
            .map(|g| Tlv::Other {
                tag: GATEWAY_MESSAGE_ID_TAG,
                value: OctetString::new(g.as_bytes()).unwrap(),
            })
            .into_iter()
            .collect(),
        ..Default::default()
    }
}

async fn next_delivery(events: &mut mpsc::Receiver<Event>) -> smpp::client::Delivery {
    loop {
        match timeout(Duration::from_secs(30), events.recv()).await {
            Ok(Some(Event::Deliver(d))) => return *d,
            Ok(Some(_)) => continue,
            other => panic!("no delivery: {other:?}"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn bind_submit_and_unbind_in_memory() {
    let sim = Sim::new(SimConfig {
        credentials: Some(("gateway".into(), "secret".into())),
        ..SimConfig::default()
    });
    let (client, _events) = Client::connect(config(), sim_connector(sim.clone()));
    assert!(client.wait_bound(Duration::from_secs(5)).await);
    assert!(client.state().bound && client.state().receiver_bound);
    assert_eq!(sim.bound_sessions(), 1);
    let s = client
        .submit(submit_to("420777000001", None))
        .await
        .unwrap();
    assert_eq!(s.attempts, 1);
    assert!(!s.message_id.is_empty());
    client.close().await;
    assert!(!client.state().bound);
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(sim.bound_sessions(), 0);
}

#[tokio::test(start_paused = true)]
async fn wrong_password_is_refused_and_never_binds() {
    let sim = Sim::new(SimConfig {
        credentials: Some(("gateway".into(), "other".into())),
        ..SimConfig::default()
    });
    let (client, _events) = Client::connect(config(), sim_connector(sim.clone()));
    assert!(!client.wait_bound(Duration::from_secs(5)).await);
    assert_eq!(sim.bound_sessions(), 0);
    let err = client.submit(submit_to("1", None)).await.unwrap_err();
    assert_eq!(
        err,
        SubmitError::Request(smpp::client::RequestError::NotBound)
    );
}

/// Holds every submit until the test releases it.
struct Gate {
    permits: Semaphore,
    current: AtomicUsize,
    max_seen: AtomicUsize,
}

impl SessionHandler for Gate {
    async fn authenticate(&self, _: BindKind, _: &Bind) -> Result<(), CommandStatus> {
        Ok(())
    }

    async fn submit_sm(
        &self,
        _: &SessionHandle,
        _: SubmitSm,
    ) -> Result<SubmitSmResp, CommandStatus> {
        let now = self.current.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_seen.fetch_max(now, Ordering::SeqCst);
        self.permits.acquire().await.unwrap().forget();
        self.current.fetch_sub(1, Ordering::SeqCst);
        Ok(SubmitSmResp {
            message_id: "x".try_into().unwrap(),
        })
    }
}

#[tokio::test(start_paused = true)]
async fn window_limits_outstanding_requests() {
    let gate = Arc::new(Gate {
        permits: Semaphore::new(0),
        current: AtomicUsize::new(0),
        max_seen: AtomicUsize::new(0),
    });
    let (shutdown, _) = broadcast::channel::<()>(1);
    let handler = gate.clone();
    let connector = move || {
        let handler = handler.clone();
        let rx = shutdown.subscribe();
        async move {
            let (a, b) = duplex(1 << 16);
            let config = Arc::new(ServerConfig::default());
            tokio::spawn(server::serve_connection(b, handler, config, rx));
            Ok::<_, io::Error>(a)
        }
    };
    let mut cfg = config();
    cfg.window = 3;
    cfg.response_timeout = Duration::from_secs(60);
    let (client, _events) = Client::connect(cfg, connector);
    assert!(client.wait_bound(Duration::from_secs(5)).await);
    let submits: Vec<_> = (0..10)
        .map(|i| {
            let c = client.clone();
            tokio::spawn(async move { c.submit(submit_to(&format!("42077700{i:04}"), None)).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(gate.current.load(Ordering::SeqCst), 3);
    assert_eq!(client.state().window_in_use, 3);
    gate.permits.add_permits(10);
    for s in submits {
        s.await.unwrap().unwrap();
    }
    assert_eq!(gate.max_seen.load(Ordering::SeqCst), 3);
    assert_eq!(client.state().submitted_total, 10);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(client.state().submitted_last_second, 10);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(client.state().submitted_last_second, 0);
}

#[tokio::test(start_paused = true)]
async fn throughput_cap_spaces_submits() {
    let sim = Sim::new(SimConfig::default());
    let mut cfg = config();
    cfg.max_submits_per_second = Some(5);
    let (client, _events) = Client::connect(cfg, sim_connector(sim.clone()));
    assert!(client.wait_bound(Duration::from_secs(5)).await);
    let start = Instant::now();
    let submits: Vec<_> = (0..10)
        .map(|i| {
            let c = client.clone();
            tokio::spawn(async move { c.submit(submit_to(&format!("42077711{i:04}"), None)).await })
        })
        .collect();
    for s in submits {
        s.await.unwrap().unwrap();
    }
    // 10 submits at 5/s: the first goes at once, the last 9 x 200 ms later.
    assert_eq!(start.elapsed().as_millis(), 1800);
    assert_eq!(sim.stats().unique, 10);
}

#[tokio::test(start_paused = true)]
async fn sim_counts_concatenated_parts_and_drops_sessions_on_request() {
    let sim = Sim::new(SimConfig {
        disconnect_probability: 1.0,
        ..SimConfig::default()
    });
    let (client, mut events) = Client::connect(config(), sim_connector(sim.clone()));
    assert!(client.wait_bound(Duration::from_secs(5)).await);
    let mut part = submit_to("420777000004", None);
    part.esm_class = esm_class::UDHI;
    part.short_message = ShortMessage::new(&[5, 0, 3, 0x2A, 2, 1, b'h', b'i'][..]).unwrap();
    client.submit(part).await.unwrap();
    loop {
        match timeout(Duration::from_secs(5), events.recv())
            .await
            .unwrap()
        {
            Some(Event::Unbound(_)) => break,
            Some(_) => continue,
            None => panic!("events closed"),
        }
    }
    let stats = sim.stats();
    assert_eq!(stats.concatenated_parts, 1);
    assert_eq!(stats.disconnects, 1);
    assert!(client.wait_bound(Duration::from_secs(5)).await);
}

#[tokio::test(start_paused = true)]
async fn dropping_every_handle_unbinds() {
    let sim = Sim::new(SimConfig::default());
    let (client, _events) = Client::connect(config(), sim_connector(sim.clone()));
    assert!(client.wait_bound(Duration::from_secs(5)).await);
    assert_eq!(sim.bound_sessions(), 1);
    drop(client);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(sim.bound_sessions(), 0);
}

#[tokio::test(start_paused = true)]
async fn enquire_link_on_interval_and_unanswered_one_reconnects() {
    let (conn_tx, mut conn_rx) = mpsc::unbounded_channel::<DuplexStream>();
    let connector = move || {
        let tx = conn_tx.clone();
        async move {
            let (a, b) = duplex(1 << 16);
            tx.send(b).unwrap();
            Ok::<_, io::Error>(a)
        }
    };
    let mut cfg = config();
    cfg.enquire_link_interval = Duration::from_secs(30);
    cfg.response_timeout = Duration::from_secs(5);
    let (client, _events) = Client::connect(cfg, connector);

    let mut smsc = Connection::new(conn_rx.recv().await.unwrap(), 4096);
    let bind = smsc.read_pdu().await.unwrap().unwrap();
    assert_eq!(bind.command_id(), CommandId::BindTransceiver);
    let resp = PduBody::BindTransceiverResp(BindResp::default());
    smsc.write_pdu(&Pdu::new(bind.sequence_number, resp))
        .await
        .unwrap();
    assert!(client.wait_bound(Duration::from_secs(1)).await);
    let bound_at = Instant::now();

    let el = smsc.read_pdu().await.unwrap().unwrap();
    assert_eq!(el.body, PduBody::EnquireLink);
    assert_eq!(bound_at.elapsed().as_secs(), 30);
    smsc.write_pdu(&Pdu::new(el.sequence_number, PduBody::EnquireLinkResp))
        .await
        .unwrap();

    let el = smsc.read_pdu().await.unwrap().unwrap();
    assert_eq!(el.body, PduBody::EnquireLink);
    assert_eq!(bound_at.elapsed().as_secs(), 60);
    // No answer: the client gives up after the response timeout and reconnects.
    assert!(smsc.read_pdu().await.unwrap().is_none());
    assert_eq!(bound_at.elapsed().as_secs(), 65);
    assert!(!client.state().bound);
    let mut smsc = Connection::new(conn_rx.recv().await.unwrap(), 4096);
    let bind = smsc.read_pdu().await.unwrap().unwrap();
    assert_eq!(bind.command_id(), CommandId::BindTransceiver);
}

#[tokio::test(start_paused = true)]
async fn throttled_submits_are_retried_transparently() {
    let sim = Sim::new(SimConfig {
        throttle_per_second: Some(2),
        ..SimConfig::default()
    });
    let mut cfg = config();
    cfg.retry.backoff = Backoff {
        initial: Duration::from_millis(200),
        max: Duration::from_secs(1),
    };
    cfg.retry.max_attempts = 20;
    let (client, _events) = Client::connect(cfg, sim_connector(sim.clone()));
    assert!(client.wait_bound(Duration::from_secs(5)).await);
    let submits: Vec<_> = (0..6)
        .map(|i| {
            let c = client.clone();
            tokio::spawn(async move { c.submit(submit_to(&format!("4207770{i:05}"), None)).await })
        })
        .collect();
    let mut retried = 0;
    for s in submits {
        let ok = s.await.unwrap().unwrap();
        retried += u32::from(ok.attempts > 1);
    }
    let stats = sim.stats();
    assert_eq!(stats.unique, 6);
    assert!(stats.throttled > 0, "{stats:?}");
    assert!(retried > 0);
}

#[tokio::test(start_paused = true)]
async fn permanent_errors_are_returned() {
    struct Refuse;
    impl SessionHandler for Refuse {
        async fn authenticate(&self, _: BindKind, _: &Bind) -> Result<(), CommandStatus> {
            Ok(())
        }
        async fn submit_sm(
            &self,
            _: &SessionHandle,
            _: SubmitSm,
        ) -> Result<SubmitSmResp, CommandStatus> {
            Err(CommandStatus::ESME_RINVDSTADR)
        }
    }
    let (shutdown, _) = broadcast::channel::<()>(1);
    let connector = move || {
        let rx = shutdown.subscribe();
        async move {
            let (a, b) = duplex(1 << 16);
            let config = Arc::new(ServerConfig::default());
            tokio::spawn(server::serve_connection(b, Arc::new(Refuse), config, rx));
            Ok::<_, io::Error>(a)
        }
    };
    let (client, _events) = Client::connect(config(), connector);
    let err = client.submit(submit_to("1", None)).await.unwrap_err();
    assert_eq!(err, SubmitError::Rejected(CommandStatus::ESME_RINVDSTADR));
}

/// Reads one PDU from a raw stream; `None` at end of stream.
async fn read_raw(s: &mut DuplexStream) -> Option<Pdu> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await.ok()?;
    let n = u32::from_be_bytes(len) as usize;
    let mut frame = len.to_vec();
    frame.resize(n, 0);
    s.read_exact(&mut frame[4..]).await.ok()?;
    Some(decode(&frame).unwrap())
}

async fn raw_bound_session(sim: &Sim) -> (DuplexStream, broadcast::Sender<()>) {
    let (shutdown, rx) = broadcast::channel::<()>(1);
    let (mut a, b) = duplex(1 << 16);
    let s = sim.clone();
    tokio::spawn(async move { s.serve(b, rx).await });
    let bind = Bind {
        system_id: "raw".try_into().unwrap(),
        interface_version: 0x34,
        ..Default::default()
    };
    a.write_all(&Pdu::new(1, PduBody::BindTransmitter(bind)).to_bytes())
        .await
        .unwrap();
    let resp = read_raw(&mut a).await.unwrap();
    assert_eq!(resp.command_id(), CommandId::BindTransmitterResp);
    assert!(resp.command_status.is_ok());
    (a, shutdown)
}

#[tokio::test(start_paused = true)]
async fn garbage_pdu_gets_generic_nack_and_session_survives() {
    let sim = Sim::new(SimConfig::default());
    let (mut esme, _shutdown) = raw_bound_session(&sim).await;
    // command_id 0x99 is not defined
    esme.write_all(&[0, 0, 0, 16, 0, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 5])
        .await
        .unwrap();
    let nack = read_raw(&mut esme).await.unwrap();
    assert_eq!(nack.body, PduBody::GenericNack);
    assert_eq!(nack.sequence_number, 5);
    assert_eq!(nack.command_status, CommandStatus::ESME_RINVCMDID);
    // a submit_sm whose short_message runs past the end
    esme.write_all(&[0, 0, 0, 20, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 6, 0, 1, 1, 0])
        .await
        .unwrap();
    let nack = read_raw(&mut esme).await.unwrap();
    assert_eq!(nack.body, PduBody::GenericNack);
    assert_eq!(nack.sequence_number, 6);
    esme.write_all(&Pdu::new(7, PduBody::EnquireLink).to_bytes())
        .await
        .unwrap();
    let resp = read_raw(&mut esme).await.unwrap();
    assert_eq!(resp.body, PduBody::EnquireLinkResp);
    assert_eq!(resp.sequence_number, 7);
}

#[tokio::test(start_paused = true)]
async fn over_long_pdu_closes_the_session() {
    let sim = Sim::new(SimConfig::default());
    let (mut esme, _shutdown) = raw_bound_session(&sim).await;
    esme.write_all(&[0, 0x10, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 9])
        .await
        .unwrap();
    let nack = read_raw(&mut esme).await.unwrap();
    assert_eq!(nack.body, PduBody::GenericNack);
    assert_eq!(nack.command_status, CommandStatus::ESME_RINVCMDLEN);
    assert_eq!(nack.sequence_number, 9);
    assert!(read_raw(&mut esme).await.is_none());
}

#[tokio::test(start_paused = true)]
async fn requests_before_bind_are_refused_with_invalid_bind_status() {
    let sim = Sim::new(SimConfig::default());
    let (_tx, rx) = broadcast::channel::<()>(1);
    let (mut esme, b) = duplex(1 << 16);
    let s = sim.clone();
    tokio::spawn(async move { s.serve(b, rx).await });
    let sm = PduBody::SubmitSm(submit_to("1", None));
    esme.write_all(&Pdu::new(3, sm).to_bytes()).await.unwrap();
    let resp = read_raw(&mut esme).await.unwrap();
    assert_eq!(resp.command_id(), CommandId::SubmitSmResp);
    assert_eq!(resp.command_status, CommandStatus::ESME_RINVBNDSTS);
}

async fn loopback_sim(config: SimConfig) -> (Sim, std::net::SocketAddr, broadcast::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sim = Sim::new(config);
    let (stop, mut stop_rx) = broadcast::channel::<()>(1);
    let s = sim.clone();
    tokio::spawn(async move {
        s.run(listener, async move {
            let _ = stop_rx.recv().await;
        })
        .await
    });
    (sim, addr, stop)
}

#[tokio::test]
async fn submit_gets_a_receipt_over_tcp_and_duplicates_are_recognised() {
    let (sim, addr, _stop) = loopback_sim(SimConfig {
        receipt_delay: Duration::from_millis(20),
        ..SimConfig::default()
    })
    .await;
    let (client, mut events) = Client::connect(config(), move || TcpStream::connect(addr));
    assert!(client.wait_bound(Duration::from_secs(5)).await);
    let first = client
        .submit(submit_to("420777000001", Some("gw-1")))
        .await
        .unwrap();
    let d = next_delivery(&mut events).await;
    let receipt = d.receipt.clone().expect("a receipt");
    assert_eq!(receipt.id.as_deref(), Some(first.message_id.as_str()));
    assert_eq!(receipt.stat, Some(MessageState::Delivered));
    assert_eq!(d.sm.tlvs.message_state(), Some(MessageState::Delivered));
    d.accept();

    let again = client
        .submit(submit_to("420777000001", Some("gw-1")))
        .await
        .unwrap();
    assert_eq!(again.message_id, first.message_id);
    let other = client
        .submit(submit_to("420777000001", Some("gw-2")))
        .await
        .unwrap();
    assert_ne!(other.message_id, first.message_id);
    let d = next_delivery(&mut events).await;
    assert_eq!(
        d.receipt.as_ref().unwrap().id.as_deref(),
        Some(other.message_id.as_str())
    );
    d.accept();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stats = sim.stats();
    assert_eq!((stats.submitted, stats.unique, stats.duplicates), (3, 2, 1));
    assert_eq!(stats.receipts_sent, 2);
    client.close().await;
}

#[tokio::test]
async fn reconnects_after_the_server_drops_the_session() {
    let (sim, addr, _stop) = loopback_sim(SimConfig::default()).await;
    let (client, mut events) = Client::connect(config(), move || TcpStream::connect(addr));
    assert!(client.wait_bound(Duration::from_secs(5)).await);
    sim.disconnect_all().await;
    let mut saw_unbound = false;
    while let Ok(Some(e)) = timeout(Duration::from_secs(5), events.recv()).await {
        match e {
            Event::Unbound(_) => saw_unbound = true,
            Event::Bound(_) if saw_unbound => break,
            _ => {}
        }
    }
    assert!(saw_unbound);
    assert!(client.wait_bound(Duration::from_secs(5)).await);
    client
        .submit(submit_to("420777000002", None))
        .await
        .unwrap();
    client.close().await;
}

#[tokio::test]
async fn transmitter_and_receiver_pair_receives_receipts_and_mo() {
    let (sim, addr, _stop) = loopback_sim(SimConfig {
        receipt_delay: Duration::from_millis(10),
        outcomes: OutcomeShares {
            delivered: 0,
            undeliverable: 1,
            expired: 0,
            rejected: 0,
        },
        ..SimConfig::default()
    })
    .await;
    let mut cfg = config();
    cfg.bind_mode = BindMode::TransmitterAndReceiver;
    let (client, mut events) = Client::connect(cfg, move || TcpStream::connect(addr));
    assert!(client.wait_bound(Duration::from_secs(5)).await);
    while !client.state().receiver_bound {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(sim.bound_sessions(), 2);
    let s = client
        .submit(submit_to("420777000003", None))
        .await
        .unwrap();
    let d = next_delivery(&mut events).await;
    let r = d.receipt.clone().unwrap();
    assert_eq!(r.id.as_deref(), Some(s.message_id.as_str()));
    assert_eq!(r.stat, Some(MessageState::Undeliverable));
    d.accept();

    let sim2 = sim.clone();
    let mo = tokio::spawn(async move { sim2.inject_mo("420777000009", "90210", "STOP").await });
    let d = next_delivery(&mut events).await;
    assert!(d.receipt.is_none());
    assert_eq!(d.sm.short_message.as_bytes(), b"STOP");
    assert_eq!(d.sm.source_addr.to_string(), "420777000009");
    d.accept();
    assert_eq!(mo.await.unwrap().unwrap(), CommandStatus::ESME_ROK);

    // An unanswered delivery is refused with a temporary error, so the SMSC retries.
    let sim3 = sim.clone();
    let mo = tokio::spawn(async move { sim3.inject_mo("420777000009", "90210", "later").await });
    drop(next_delivery(&mut events).await);
    assert_eq!(mo.await.unwrap().unwrap(), CommandStatus::ESME_RX_T_APPN);
    client.close().await;
}

#[tokio::test]
async fn server_shutdown_unbinds_sessions_and_returns() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(smpp::sim::run(listener, SimConfig::default(), async move {
        let _ = stop_rx.await;
    }));
    let (client, mut events) = Client::connect(config(), move || TcpStream::connect(addr));
    assert!(client.wait_bound(Duration::from_secs(5)).await);
    stop_tx.send(()).unwrap();
    timeout(Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap();
    loop {
        match timeout(Duration::from_secs(5), events.recv())
            .await
            .unwrap()
        {
            Some(Event::Unbound(_)) => break,
            Some(_) => continue,
            None => panic!("events closed"),
        }
    }
    client.close().await;
}

#[tokio::test(start_paused = true)]
async fn malformed_response_fails_the_request_without_a_nack() {
    let (conn_tx, mut conn_rx) = mpsc::unbounded_channel::<DuplexStream>();
    let connector = move || {
        let tx = conn_tx.clone();
        async move {
            let (a, b) = duplex(1 << 16);
            tx.send(b).unwrap();
            Ok::<_, io::Error>(a)
        }
    };
    let (client, _events) = Client::connect(config(), connector);
    let mut smsc = conn_rx.recv().await.unwrap();
    let bind = read_raw(&mut smsc).await.unwrap();
    let resp = PduBody::BindTransceiverResp(BindResp::default());
    smsc.write_all(&Pdu::new(bind.sequence_number, resp).to_bytes())
        .await
        .unwrap();
    let c = client.clone();
    let submit = tokio::spawn(async move { c.submit(submit_to("1", None)).await });
    let sm = read_raw(&mut smsc).await.unwrap();
    // submit_sm_resp whose message_id has no NUL terminator
    let mut bad = vec![0, 0, 0, 19, 0x80, 0, 0, 4, 0, 0, 0, 0];
    bad.extend_from_slice(&sm.sequence_number.to_be_bytes());
    bad.extend_from_slice(b"abc");
    smsc.write_all(&bad).await.unwrap();
    let err = submit.await.unwrap().unwrap_err();
    assert!(matches!(
        err,
        SubmitError::Request(smpp::client::RequestError::MalformedResponse(_))
    ));
    // the session is still up and nothing was sent back for the bad response
    smsc.write_all(&Pdu::new(77, PduBody::EnquireLink).to_bytes())
        .await
        .unwrap();
    let next = read_raw(&mut smsc).await.unwrap();
    assert_eq!(next.body, PduBody::EnquireLinkResp);
    assert_eq!(next.sequence_number, 77);
}

#[tokio::test]
async fn connection_limit_holds_further_connections_until_one_ends() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = SimConfig::default();
    config.server.max_connections = 1;
    let sim = Sim::new(config);
    let s = sim.clone();
    tokio::spawn(async move { s.run(listener, std::future::pending()).await });

    let mut first = TcpStream::connect(addr).await.unwrap();
    let bind = |seq| {
        Pdu::new(
            seq,
            PduBody::BindTransceiver(Bind {
                system_id: "a".try_into().unwrap(),
                ..Default::default()
            }),
        )
        .to_bytes()
    };
    first.write_all(&bind(1)).await.unwrap();
    let mut buf = [0u8; 64];
    assert!(first.read(&mut buf).await.unwrap() > 0);

    let mut second = TcpStream::connect(addr).await.unwrap();
    second.write_all(&bind(1)).await.unwrap();
    let waited = timeout(Duration::from_millis(300), second.read(&mut buf)).await;
    assert!(waited.is_err(), "second session must wait for a free slot");
    drop(first);
    let n = timeout(Duration::from_secs(5), second.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(n >= 16);
    assert_eq!(&buf[4..8], &[0x80, 0, 0, 9]);
}
