//! The SMSC side: a session runner per connection and a listener loop.
//!
//! A session is a small state machine: *open* (only `bind_*` and `enquire_link`
//! are accepted; other requests get `ESME_RINVBNDSTS`) → *bound* as transmitter,
//! receiver or transceiver → closed after `unbind`, a fatal framing error, an idle
//! timeout, or server shutdown (which sends `unbind` first).
//!
//! Requests from a bound ESME are handed to the [`SessionHandler`] in their own tasks,
//! so a slow handler does not stop the session from reading (at most
//! [`ServerConfig::max_in_flight`] at once per session); responses go out as they are ready.
//! The SMSC pushes `deliver_sm` to receiver and transceiver binds through the
//! [`SessionHandle`] passed to [`SessionHandler::bound`].

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use smpp_codec::{
    Bind, BindResp, CancelSm, CommandStatus, DataSm, DataSmResp, DeliverSm, Pdu, PduBody, QuerySm,
    QuerySmResp, SubmitSm, SubmitSmResp, SystemId, Tlv,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc, oneshot, Semaphore};
use tokio::time::{sleep_until, Instant};
use tracing::{debug, info, warn, Instrument};

use crate::connection::{ConnError, Connection, DEFAULT_MAX_PDU_LEN};
use crate::Sequence;

/// How an ESME bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BindKind {
    /// `bind_transmitter`: may submit, receives nothing.
    Transmitter,
    /// `bind_receiver`: receives `deliver_sm`, may not submit.
    Receiver,
    /// `bind_transceiver`: both.
    Transceiver,
}

impl BindKind {
    /// May this bind send `submit_sm` / `data_sm` / `query_sm` / `cancel_sm`?
    pub fn can_submit(self) -> bool {
        !matches!(self, BindKind::Receiver)
    }

    /// May the SMSC send `deliver_sm` to this bind?
    pub fn can_receive(self) -> bool {
        !matches!(self, BindKind::Transmitter)
    }
}

/// Session settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `system_id` sent in bind responses.
    pub system_id: SystemId,
    /// Maximum simultaneous connections ([`run`] stops accepting beyond it).
    pub max_connections: usize,
    /// Largest `command_length` accepted; a longer PDU closes the session.
    pub max_pdu_len: u32,
    /// A connection that has not bound within this time is closed.
    pub bind_timeout: Duration,
    /// A session that receives nothing for this long is closed.
    pub idle_timeout: Duration,
    /// How long a pushed `deliver_sm` (and shutdown `unbind`) waits for its response.
    pub response_timeout: Duration,
    /// Requests handled concurrently per session before the session stops reading.
    pub max_in_flight: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            system_id: SystemId::try_from("SMSC").unwrap_or_default(),
            max_connections: 256,
            max_pdu_len: DEFAULT_MAX_PDU_LEN,
            bind_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(120),
            response_timeout: Duration::from_secs(10),
            max_in_flight: 64,
        }
    }
}

/// What the SMSC application does with a session. Every method but
/// [`authenticate`](Self::authenticate) and [`submit_sm`](Self::submit_sm) has a default.
///
/// A method returning `Err(status)` makes the session answer with that status.
pub trait SessionHandler: Send + Sync + 'static {
    /// Authorises a bind. `Err` is typically `ESME_RINVPASWD`, `ESME_RINVSYSID` or `ESME_RBINDFAIL`.
    fn authenticate(
        &self,
        kind: BindKind,
        bind: &Bind,
    ) -> impl Future<Output = Result<(), CommandStatus>> + Send;

    /// A session is bound; keep the handle to push `deliver_sm` to it.
    fn bound(&self, session: SessionHandle) -> impl Future<Output = ()> + Send {
        let _ = session;
        async {}
    }

    /// A bound session ended.
    fn unbound(&self, session: &SessionHandle) -> impl Future<Output = ()> + Send {
        let _ = session;
        async {}
    }

    /// `submit_sm` from a transmitter or transceiver.
    fn submit_sm(
        &self,
        session: &SessionHandle,
        sm: SubmitSm,
    ) -> impl Future<Output = Result<SubmitSmResp, CommandStatus>> + Send;

    /// `data_sm`; unsupported (`ESME_RINVCMDID`) unless implemented.
    fn data_sm(
        &self,
        session: &SessionHandle,
        sm: DataSm,
    ) -> impl Future<Output = Result<DataSmResp, CommandStatus>> + Send {
        let _ = (session, sm);
        async { Err(CommandStatus::ESME_RINVCMDID) }
    }

    /// `query_sm`; fails with `ESME_RQUERYFAIL` unless implemented.
    fn query_sm(
        &self,
        session: &SessionHandle,
        q: QuerySm,
    ) -> impl Future<Output = Result<QuerySmResp, CommandStatus>> + Send {
        let _ = (session, q);
        async { Err(CommandStatus::ESME_RQUERYFAIL) }
    }

    /// `cancel_sm`; fails with `ESME_RCANCELFAIL` unless implemented.
    fn cancel_sm(
        &self,
        session: &SessionHandle,
        c: CancelSm,
    ) -> impl Future<Output = Result<(), CommandStatus>> + Send {
        let _ = (session, c);
        async { Err(CommandStatus::ESME_RCANCELFAIL) }
    }
}

/// Why a pushed `deliver_sm` got no response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliverError {
    /// The session ended before the response came.
    #[error("session closed")]
    Closed,
    /// No response within [`ServerConfig::response_timeout`].
    #[error("no deliver_sm_resp in time")]
    Timeout,
    /// The bind is a transmitter, which receives nothing.
    #[error("session is bound as transmitter")]
    NotReceiver,
    /// The response could not be decoded.
    #[error("malformed deliver_sm_resp")]
    MalformedResponse,
}

enum Command {
    Send {
        body: PduBody,
        reply: oneshot::Sender<Result<Pdu, DeliverError>>,
    },
    Close,
}

/// A bound session, as seen by the application. Cheap to clone.
#[derive(Clone)]
pub struct SessionHandle {
    inner: Arc<SessionInner>,
}

struct SessionInner {
    id: u64,
    system_id: String,
    kind: BindKind,
    tx: mpsc::Sender<Command>,
}

impl std::fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionHandle")
            .field("id", &self.inner.id)
            .field("system_id", &self.inner.system_id)
            .field("kind", &self.inner.kind)
            .finish()
    }
}

impl SessionHandle {
    /// Unique id of this session within the process.
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// The `system_id` the ESME bound with.
    pub fn system_id(&self) -> &str {
        &self.inner.system_id
    }

    /// How it bound.
    pub fn kind(&self) -> BindKind {
        self.inner.kind
    }

    /// True once the session has ended.
    pub fn is_closed(&self) -> bool {
        self.inner.tx.is_closed()
    }

    /// Sends `deliver_sm` and waits for `deliver_sm_resp` (or `generic_nack`);
    /// returns the ESME's `command_status`.
    pub async fn deliver(&self, sm: DeliverSm) -> Result<CommandStatus, DeliverError> {
        if !self.inner.kind.can_receive() {
            return Err(DeliverError::NotReceiver);
        }
        let (reply, rx) = oneshot::channel();
        let cmd = Command::Send {
            body: PduBody::DeliverSm(sm),
            reply,
        };
        self.inner
            .tx
            .send(cmd)
            .await
            .map_err(|_| DeliverError::Closed)?;
        let pdu = rx.await.map_err(|_| DeliverError::Closed)??;
        Ok(pdu.command_status)
    }

    /// Drops the connection without `unbind` (as a failing SMSC would).
    pub async fn close(&self) {
        let _ = self.inner.tx.send(Command::Close).await;
    }
}

static NEXT_SESSION_ID: AtomicU64 = AtomicU64::new(1);

/// Runs one SMSC session over `stream` until it ends. `shutdown` firing (or its
/// sender being dropped) makes the session send `unbind` and close.
pub async fn serve_connection<S, H>(
    stream: S,
    handler: Arc<H>,
    config: Arc<ServerConfig>,
    shutdown: broadcast::Receiver<()>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
    H: SessionHandler,
{
    let session = Session {
        conn: Connection::new(stream, config.max_pdu_len),
        handler,
        config,
        seq: Sequence::new(),
        bound: None,
        cmd_rx: None,
        pending: HashMap::new(),
        in_flight: 0,
        unbind_deadline: None,
    };
    session.run(shutdown).await
}

struct Session<S, H> {
    conn: Connection<S>,
    handler: Arc<H>,
    config: Arc<ServerConfig>,
    seq: Sequence,
    bound: Option<SessionHandle>,
    cmd_rx: Option<mpsc::Receiver<Command>>,
    pending: HashMap<u32, (Instant, oneshot::Sender<Result<Pdu, DeliverError>>)>,
    in_flight: usize,
    unbind_deadline: Option<Instant>,
}

/// Whether the session continues after handling an event.
enum Flow {
    Continue,
    Close,
}

async fn recv_cmd(rx: &mut Option<mpsc::Receiver<Command>>) -> Option<Command> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

impl<S, H> Session<S, H>
where
    S: AsyncRead + AsyncWrite + Unpin,
    H: SessionHandler,
{
    async fn run(mut self, mut shutdown: broadcast::Receiver<()>) {
        let (resp_tx, mut resp_rx) = mpsc::channel::<Pdu>(self.config.max_in_flight.max(1));
        let started = Instant::now();
        let mut last_rx = started;
        let mut shutting_down = false;
        loop {
            let deadline = self.next_deadline(started, last_rx);
            // Branches in order (timers first, so a busy peer cannot hold them off); the last,
            // when nothing else is ready, writes out what the others queued: PDUs that are
            // ready together leave in one write.
            let flow = tokio::select! {
                biased;
                _ = shutdown.recv(), if !shutting_down => {
                    shutting_down = true;
                    self.begin_unbind().await
                }
                _ = sleep_until(deadline) => self.on_timer(started, last_rx),
                Some(pdu) = resp_rx.recv() => {
                    self.in_flight -= 1;
                    self.write(&pdu).await
                }
                cmd = recv_cmd(&mut self.cmd_rx) => match cmd {
                    Some(Command::Send { body, reply }) => self.push(body, reply).await,
                    Some(Command::Close) | None => Flow::Close,
                },
                read = self.conn.read_pdu(), if self.in_flight < self.config.max_in_flight => {
                    last_rx = Instant::now();
                    match read {
                        Ok(Some(pdu)) => self.on_pdu(pdu, &resp_tx).await,
                        Ok(None) => Flow::Close,
                        Err(ConnError::Malformed(e)) if crate::client::is_response(&e) => {
                            warn!(error = %e, "malformed response");
                            let seq = e.sequence_number.unwrap_or(0);
                            if let Some((_, reply)) = self.pending.remove(&seq) {
                                let _ = reply.send(Err(DeliverError::MalformedResponse));
                            }
                            Flow::Continue
                        }
                        Err(ConnError::Malformed(e)) => {
                            debug!(error = %e, "malformed PDU, answering generic_nack");
                            let nack = Pdu::generic_nack(e.sequence_number.unwrap_or(0), e.status());
                            self.write(&nack).await
                        }
                        Err(ConnError::Frame { error, sequence_number }) => {
                            warn!(%error, "unframeable PDU, closing session");
                            let nack = Pdu::generic_nack(
                                sequence_number.unwrap_or(0),
                                CommandStatus::ESME_RINVCMDLEN,
                            );
                            let _ = self.conn.write_pdu(&nack).await;
                            Flow::Close
                        }
                        Err(e) => {
                            debug!(error = %e, "connection error");
                            Flow::Close
                        }
                    }
                }
                _ = std::future::ready(()), if self.conn.has_unflushed() => self.flush().await,
            };
            if let Flow::Close = flow {
                break;
            }
        }
        let _ = self.conn.shutdown().await;
        for (_, (_, reply)) in self.pending.drain() {
            let _ = reply.send(Err(DeliverError::Closed));
        }
        if let Some(handle) = self.bound.take() {
            info!(
                session = handle.id(),
                system_id = handle.system_id(),
                "session ended"
            );
            self.handler.unbound(&handle).await;
        }
    }

    fn next_deadline(&self, started: Instant, last_rx: Instant) -> Instant {
        let mut d = last_rx + self.config.idle_timeout;
        if self.bound.is_none() {
            d = d.min(started + self.config.bind_timeout);
        }
        if let Some(u) = self.unbind_deadline {
            d = d.min(u);
        }
        self.pending.values().map(|p| p.0).fold(d, Instant::min)
    }

    fn on_timer(&mut self, started: Instant, last_rx: Instant) -> Flow {
        let now = Instant::now();
        let expired: Vec<u32> = self
            .pending
            .iter()
            .filter(|(_, p)| p.0 <= now)
            .map(|(s, _)| *s)
            .collect();
        for seq in expired {
            if let Some((_, reply)) = self.pending.remove(&seq) {
                let _ = reply.send(Err(DeliverError::Timeout));
            }
        }
        if self.unbind_deadline.is_some_and(|d| d <= now) {
            return Flow::Close;
        }
        if self.bound.is_none() && now >= started + self.config.bind_timeout {
            debug!("no bind in time, closing");
            return Flow::Close;
        }
        if now >= last_rx + self.config.idle_timeout {
            debug!("idle timeout, closing");
            return Flow::Close;
        }
        Flow::Continue
    }

    /// Queues a PDU; the session loop flushes once nothing else is ready.
    async fn write(&mut self, pdu: &Pdu) -> Flow {
        match self.conn.queue_pdu(pdu).await {
            Ok(()) => Flow::Continue,
            Err(e) => {
                debug!(error = %e, "write failed");
                Flow::Close
            }
        }
    }

    async fn flush(&mut self) -> Flow {
        match self.conn.flush().await {
            Ok(()) => Flow::Continue,
            Err(e) => {
                debug!(error = %e, "write failed");
                Flow::Close
            }
        }
    }

    async fn begin_unbind(&mut self) -> Flow {
        if self.bound.is_none() {
            return Flow::Close;
        }
        let seq = self.seq.next();
        self.unbind_deadline = Some(Instant::now() + self.config.response_timeout);
        self.write(&Pdu::new(seq, PduBody::Unbind)).await
    }

    async fn push(
        &mut self,
        body: PduBody,
        reply: oneshot::Sender<Result<Pdu, DeliverError>>,
    ) -> Flow {
        let seq = self.seq.next();
        let flow = self.write(&Pdu::new(seq, body)).await;
        let deadline = Instant::now() + self.config.response_timeout;
        self.pending.insert(seq, (deadline, reply));
        flow
    }

    async fn respond(&mut self, to: &Pdu, status: CommandStatus) -> Flow {
        match PduBody::default_response(to.command_id()) {
            Some(body) => {
                self.write(&Pdu::with_status(to.sequence_number, status, body))
                    .await
            }
            None => Flow::Continue,
        }
    }

    async fn on_pdu(&mut self, pdu: Pdu, resp_tx: &mpsc::Sender<Pdu>) -> Flow {
        let seq = pdu.sequence_number;
        match pdu.body {
            PduBody::EnquireLink => self.write(&Pdu::new(seq, PduBody::EnquireLinkResp)).await,
            PduBody::BindTransmitter(ref b) => self.on_bind(&pdu, BindKind::Transmitter, b).await,
            PduBody::BindReceiver(ref b) => self.on_bind(&pdu, BindKind::Receiver, b).await,
            PduBody::BindTransceiver(ref b) => self.on_bind(&pdu, BindKind::Transceiver, b).await,
            PduBody::Unbind => {
                let _ = self.write(&Pdu::new(seq, PduBody::UnbindResp)).await;
                Flow::Close
            }
            PduBody::UnbindResp if self.unbind_deadline.is_some() => Flow::Close,
            PduBody::DeliverSmResp(_) | PduBody::DataSmResp(_) | PduBody::GenericNack => {
                if let Some((_, reply)) = self.pending.remove(&seq) {
                    let _ = reply.send(Ok(pdu));
                }
                Flow::Continue
            }
            PduBody::SubmitSm(_)
            | PduBody::DataSm(_)
            | PduBody::QuerySm(_)
            | PduBody::CancelSm(_) => {
                let Some(session) = self.bound.clone().filter(|s| s.kind().can_submit()) else {
                    return self.respond(&pdu, CommandStatus::ESME_RINVBNDSTS).await;
                };
                self.in_flight += 1;
                let handler = self.handler.clone();
                let resp_tx = resp_tx.clone();
                tokio::spawn(
                    async move {
                        let resp = handle_request(&*handler, &session, pdu).await;
                        let _ = resp_tx.send(resp).await;
                    }
                    .in_current_span(),
                );
                Flow::Continue
            }
            _ if pdu.command_id().is_response() => Flow::Continue,
            // submit_multi, replace_sm, deliver_sm from an ESME, outbind, alert_notification
            _ => self.respond(&pdu, CommandStatus::ESME_RINVCMDID).await,
        }
    }

    async fn on_bind(&mut self, pdu: &Pdu, kind: BindKind, bind: &Bind) -> Flow {
        if self.bound.is_some() {
            return self.respond(pdu, CommandStatus::ESME_RALYBND).await;
        }
        if let Err(status) = self.handler.authenticate(kind, bind).await {
            info!(system_id = %bind.system_id, %status, "bind refused");
            return self.respond(pdu, status).await;
        }
        let (tx, rx) = mpsc::channel(64);
        let handle = SessionHandle {
            inner: Arc::new(SessionInner {
                id: NEXT_SESSION_ID.fetch_add(1, Ordering::Relaxed),
                system_id: bind.system_id.to_string(),
                kind,
                tx,
            }),
        };
        let body = BindResp {
            system_id: self.config.system_id.clone(),
            tlvs: vec![Tlv::ScInterfaceVersion(smpp_codec::INTERFACE_VERSION_34)],
        };
        let body = match kind {
            BindKind::Transmitter => PduBody::BindTransmitterResp(body),
            BindKind::Receiver => PduBody::BindReceiverResp(body),
            BindKind::Transceiver => PduBody::BindTransceiverResp(body),
        };
        info!(
            session = handle.id(),
            system_id = handle.system_id(),
            ?kind,
            "bound"
        );
        let flow = self.write(&Pdu::new(pdu.sequence_number, body)).await;
        self.bound = Some(handle.clone());
        self.cmd_rx = Some(rx);
        self.handler.bound(handle).await;
        flow
    }
}

async fn handle_request<H: SessionHandler>(handler: &H, session: &SessionHandle, pdu: Pdu) -> Pdu {
    let seq = pdu.sequence_number;
    let id = pdu.command_id();
    let result = match pdu.body {
        PduBody::SubmitSm(sm) => handler
            .submit_sm(session, sm)
            .await
            .map(PduBody::SubmitSmResp),
        PduBody::DataSm(sm) => handler.data_sm(session, sm).await.map(PduBody::DataSmResp),
        PduBody::QuerySm(q) => handler.query_sm(session, q).await.map(PduBody::QuerySmResp),
        PduBody::CancelSm(c) => handler
            .cancel_sm(session, c)
            .await
            .map(|()| PduBody::CancelSmResp),
        _ => Err(CommandStatus::ESME_RINVCMDID),
    };
    match result {
        Ok(body) => Pdu::new(seq, body),
        Err(status) => Pdu::with_status(
            seq,
            status,
            PduBody::default_response(id).unwrap_or(PduBody::GenericNack),
        ),
    }
}

/// Accepts connections until `shutdown` completes, then asks every session to unbind
/// and waits for all of them to end. At most [`ServerConfig::max_connections`]
/// sessions run at once; further connections wait in the listen backlog.
pub async fn run<H: SessionHandler>(
    listener: TcpListener,
    handler: Arc<H>,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) {
    let config = Arc::new(config);
    let limit = Arc::new(Semaphore::new(config.max_connections));
    let (notify_shutdown, _) = broadcast::channel::<()>(1);
    let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = limit.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = &mut shutdown => break,
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = &mut shutdown => break,
        };
        let (socket, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = socket.set_nodelay(true);
        let handler = handler.clone();
        let config = config.clone();
        let shutdown_rx = notify_shutdown.subscribe();
        let done = done_tx.clone();
        tokio::spawn(
            async move {
                serve_connection(socket, handler, config, shutdown_rx).await;
                drop(permit);
                drop(done);
            }
            .instrument(tracing::info_span!("smpp_session", %peer)),
        );
    }
    drop(notify_shutdown);
    drop(done_tx);
    let _ = done_rx.recv().await;
}
