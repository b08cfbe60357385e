//! The ESME side: a cloneable [`Client`] handle to background session tasks.
//!
//! [`Client::connect`] spawns one task per bind (one transceiver, or a transmitter and a
//! receiver) and returns at once; the tasks connect, bind, and reconnect with exponential
//! backoff for as long as the client lives. Each task owns its [`Connection`] and is the
//! only writer on it.
//!
//! - **Window**: at most [`ClientConfig::window`] requests are outstanding per
//!   transmitting session; further [`Client::submit`] calls wait.
//! - **Throughput**: [`ClientConfig::max_submits_per_second`] spaces submits evenly.
//! - **Retries**: `ESME_RTHROTTLED` pauses every submitter of this client for the retry
//!   backoff and then retries; other temporary statuses ([`CommandStatus::is_temporary`])
//!   are retried too, at most [`RetryPolicy::max_attempts`] times in all. Permanent
//!   statuses are returned. A timeout or a lost connection is returned, never retried,
//!   because the SMSC may have accepted the message.
//! - **Keep-alive**: `enquire_link` every [`ClientConfig::enquire_link_interval`]; no answer
//!   within [`ClientConfig::response_timeout`] drops the connection and reconnects.
//! - **Inbound `deliver_sm`** (receipts and MO messages) arrive as [`Event::Deliver`] on the
//!   channel returned by `connect`. The owner answers each with [`Delivery::accept`] or
//!   [`Delivery::reject`] *after* it has stored it; a [`Delivery`] dropped unanswered, or
//!   one that finds the channel full or closed, is answered `ESME_RX_T_APPN`, so the SMSC
//!   delivers it again later. Nothing is acknowledged before its owner has seen it.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use smpp_codec::{
    AddressRange, Bind, CommandStatus, DeliverSm, DeliveryReceipt, FieldError, Password, Pdu,
    PduBody, SubmitSm, SystemId, SystemType, INTERFACE_VERSION_34,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::{sleep, sleep_until, timeout, Instant};
use tracing::{debug, info, warn};

use crate::connection::{ConnError, Connection, DEFAULT_MAX_PDU_LEN};
use crate::server::BindKind;
use crate::Sequence;

/// Opens a new stream to the SMSC; called for every (re)connection.
///
/// Implemented for closures `Fn() -> impl Future<Output = io::Result<S>>`, e.g.
/// `move || tokio::net::TcpStream::connect(addr)`.
pub trait Connect: Send + Sync + 'static {
    /// The stream type.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// Opens one stream.
    fn connect(&self) -> impl Future<Output = io::Result<Self::Stream>> + Send;
}

impl<F, Fut, S> Connect for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = io::Result<S>> + Send,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = S;
    fn connect(&self) -> impl Future<Output = io::Result<S>> + Send {
        self()
    }
}

/// How to bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindMode {
    /// One `bind_transceiver` session.
    Transceiver,
    /// A `bind_transmitter` session for submits and a `bind_receiver` session for deliveries.
    TransmitterAndReceiver,
}

/// Exponential backoff: `initial`, doubling per attempt, capped at `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// First delay.
    pub initial: Duration,
    /// Upper bound.
    pub max: Duration,
}

impl Backoff {
    /// Delay before retry number `attempt` (0-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }
}

/// Retries of submits answered with a temporary status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, including the first.
    pub max_attempts: u32,
    /// Wait between attempts.
    pub backoff: Backoff,
}

/// Client settings.
#[derive(Clone)]
pub struct ClientConfig {
    /// `system_id` to bind with.
    pub system_id: SystemId,
    /// Password to bind with.
    pub password: Password,
    /// `system_type`, often empty.
    pub system_type: SystemType,
    /// `address_range` for receivers, often empty.
    pub address_range: AddressRange,
    /// One transceiver, or transmitter plus receiver.
    pub bind_mode: BindMode,
    /// Maximum outstanding requests per transmitting session.
    pub window: usize,
    /// Interval between `enquire_link`s.
    pub enquire_link_interval: Duration,
    /// How long a bind, submit or `enquire_link` waits for its response.
    pub response_timeout: Duration,
    /// Delay between reconnection attempts.
    pub reconnect_backoff: Backoff,
    /// Submits per second across all handles; `None` for no cap.
    pub max_submits_per_second: Option<u32>,
    /// Retries of temporary failures.
    pub retry: RetryPolicy,
    /// Capacity of the event channel.
    pub event_capacity: usize,
    /// Largest PDU accepted from the SMSC.
    pub max_pdu_len: u32,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("system_id", &self.system_id)
            .field("password", &"***")
            .field("system_type", &self.system_type)
            .field("bind_mode", &self.bind_mode)
            .field("window", &self.window)
            .field("enquire_link_interval", &self.enquire_link_interval)
            .field("response_timeout", &self.response_timeout)
            .field("reconnect_backoff", &self.reconnect_backoff)
            .field("max_submits_per_second", &self.max_submits_per_second)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl ClientConfig {
    /// Defaults for a transceiver bind: window 10, `enquire_link` every 30 s,
    /// 10 s response timeout, reconnect backoff 1 s doubling to 60 s, no throughput
    /// cap, 5 attempts for temporary failures with 1 s doubling to 30 s between them.
    ///
    /// Fails when `system_id` is over 15 octets or `password` over 8.
    pub fn new(system_id: &str, password: &str) -> Result<Self, FieldError> {
        Ok(ClientConfig {
            system_id: SystemId::try_from(system_id)?,
            password: Password::try_from(password)?,
            system_type: SystemType::empty(),
            address_range: AddressRange::empty(),
            bind_mode: BindMode::Transceiver,
            window: 10,
            enquire_link_interval: Duration::from_secs(30),
            response_timeout: Duration::from_secs(10),
            reconnect_backoff: Backoff {
                initial: Duration::from_secs(1),
                max: Duration::from_secs(60),
            },
            max_submits_per_second: None,
            retry: RetryPolicy {
                max_attempts: 5,
                backoff: Backoff {
                    initial: Duration::from_secs(1),
                    max: Duration::from_secs(30),
                },
            },
            event_capacity: 1024,
            max_pdu_len: DEFAULT_MAX_PDU_LEN,
        })
    }
}

/// Something that happened on a session.
///
/// `Bound` and `Unbound` are informational and dropped when the channel is full;
/// read [`Client::state`] for the authoritative state.
#[derive(Debug)]
pub enum Event {
    /// A session bound.
    Bound(BindKind),
    /// A bound session ended; the task reconnects unless the client is closing.
    Unbound(BindKind),
    /// An inbound `deliver_sm`, to be answered.
    Deliver(Box<Delivery>),
}

/// An inbound `deliver_sm`: a delivery receipt or a mobile-originated message.
///
/// Answer with [`accept`](Self::accept) or [`reject`](Self::reject); dropping it
/// answers `ESME_RX_T_APPN` (temporary) so the SMSC retries later.
#[derive(Debug)]
pub struct Delivery {
    /// The PDU body.
    pub sm: DeliverSm,
    /// The parsed receipt, when the PDU is one.
    pub receipt: Option<DeliveryReceipt>,
    ack: Ack,
}

impl Delivery {
    /// Answers `ESME_ROK`.
    pub fn accept(self) {
        self.reject(CommandStatus::ESME_ROK)
    }

    /// Answers with `status` (`ESME_RX_T_APPN` to have it redelivered,
    /// `ESME_RX_P_APPN` / `ESME_RX_R_APPN` to refuse it for good).
    pub fn reject(mut self, status: CommandStatus) {
        self.ack.send(status);
    }
}

#[derive(Debug)]
struct Ack {
    sequence_number: u32,
    tx: Option<mpsc::UnboundedSender<(u32, CommandStatus)>>,
}

impl Ack {
    fn send(&mut self, status: CommandStatus) {
        if let Some(tx) = self.tx.take() {
            // The session may be gone; the SMSC will then redeliver.
            let _ = tx.send((self.sequence_number, status));
        }
    }
}

impl Drop for Ack {
    fn drop(&mut self) {
        self.send(CommandStatus::ESME_RX_T_APPN);
    }
}

/// Why a request got no response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// No transmitting session was bound within the response timeout.
    #[error("not bound to the SMSC")]
    NotBound,
    /// The request was sent but no response came in time; the outcome is unknown.
    #[error("no response in time")]
    Timeout,
    /// The connection ended while the request was outstanding; the outcome is unknown.
    #[error("connection lost with the request outstanding")]
    ConnectionLost,
    /// The client is closed.
    #[error("client closed")]
    Closed,
    /// The response could not be decoded (the status says why); the outcome is unknown.
    #[error("malformed response: {0}")]
    MalformedResponse(CommandStatus),
}

/// True when a malformed PDU was a response (bit 31 of `command_id` set).
pub(crate) fn is_response(e: &smpp_codec::DecodeError) -> bool {
    e.command_id.is_some_and(|id| id & 0x8000_0000 != 0)
}

/// The outcome of a submit that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The SMSC refused the message with a permanent status.
    #[error("rejected by the SMSC: {0}")]
    Rejected(CommandStatus),
    /// Every attempt got a temporary status.
    #[error("gave up after {attempts} attempts, last status {last}")]
    RetriesExhausted {
        /// The last status.
        last: CommandStatus,
        /// Attempts made.
        attempts: u32,
    },
    /// No response (see [`RequestError`]).
    #[error(transparent)]
    Request(#[from] RequestError),
}

/// A successful submit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    /// The SMSC's message id (what receipts refer to).
    pub message_id: String,
    /// Attempts it took (1 when the first succeeded).
    pub attempts: u32,
}

/// A snapshot of the client's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientState {
    /// A session that can submit is bound.
    pub bound: bool,
    /// A session that receives deliveries is bound.
    pub receiver_bound: bool,
    /// Requests sent and not yet answered.
    pub window_in_use: usize,
    /// Submits accepted in the last whole second.
    pub submitted_last_second: u64,
    /// Submits accepted since the client started.
    pub submitted_total: u64,
}

struct Request {
    body: PduBody,
    reply: oneshot::Sender<Result<Pdu, RequestError>>,
}

struct Shared {
    config: ClientConfig,
    started: Instant,
    bound: watch::Sender<bool>,
    receiver_bound: AtomicBool,
    window_in_use: AtomicUsize,
    submitted_total: AtomicU64,
    /// (second since start, count in that second, count in the second before)
    per_second: Mutex<(u64, u64, u64)>,
    /// Earliest time the next submit may go out.
    next_submit: Mutex<Instant>,
    closing: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    fn second(&self, now: Instant) -> u64 {
        now.duration_since(self.started).as_secs()
    }

    fn record_submit(&self) {
        self.submitted_total.fetch_add(1, Ordering::Relaxed);
        let now = self.second(Instant::now());
        let mut c = self.per_second.lock().unwrap_or_else(|e| e.into_inner());
        if c.0 != now {
            let previous = if c.0 + 1 == now { c.1 } else { 0 };
            *c = (now, 0, previous);
        }
        c.1 += 1;
    }

    /// Waits for the next submit slot (token bucket with a burst of one).
    async fn take_slot(&self) {
        let interval = self
            .config
            .max_submits_per_second
            .filter(|r| *r > 0)
            .map_or(Duration::ZERO, |r| Duration::from_secs(1) / r);
        let at = {
            let mut next = self.next_submit.lock().unwrap_or_else(|e| e.into_inner());
            let at = (*next).max(Instant::now());
            *next = at + interval;
            at
        };
        sleep_until(at).await;
    }

    /// Delays every submitter (after `ESME_RTHROTTLED`).
    fn pause_submits(&self, delay: Duration) {
        let mut next = self.next_submit.lock().unwrap_or_else(|e| e.into_inner());
        *next = (*next).max(Instant::now() + delay);
    }
}

/// Handle to an ESME client. Clones share the sessions; when the last clone is
/// dropped the sessions unbind and their tasks end, as after [`Client::close`].
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
    requests: mpsc::Sender<Request>,
    _last_handle: Arc<CloseOnDrop>,
}

struct CloseOnDrop(Arc<Shared>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.closing.send_replace(true);
    }
}

impl Client {
    /// Starts the session tasks and returns at once; binding happens in the background
    /// (see [`Client::wait_bound`]). Must be called inside a tokio runtime.
    pub fn connect<C: Connect>(
        config: ClientConfig,
        connector: C,
    ) -> (Client, mpsc::Receiver<Event>) {
        let (req_tx, req_rx) = mpsc::channel(config.window.max(1));
        let (event_tx, event_rx) = mpsc::channel(config.event_capacity.max(1));
        let now = Instant::now();
        let shared = Arc::new(Shared {
            started: now,
            bound: watch::Sender::new(false),
            receiver_bound: AtomicBool::new(false),
            window_in_use: AtomicUsize::new(0),
            submitted_total: AtomicU64::new(0),
            per_second: Mutex::new((0, 0, 0)),
            next_submit: Mutex::new(now),
            closing: watch::Sender::new(false),
            tasks: Mutex::new(Vec::new()),
            config,
        });
        let connector = Arc::new(connector);
        let mut tasks = Vec::new();
        match shared.config.bind_mode {
            BindMode::Transceiver => {
                tasks.push(tokio::spawn(session_task(
                    shared.clone(),
                    connector,
                    BindKind::Transceiver,
                    Some(req_rx),
                    event_tx,
                )));
            }
            BindMode::TransmitterAndReceiver => {
                tasks.push(tokio::spawn(session_task(
                    shared.clone(),
                    connector.clone(),
                    BindKind::Transmitter,
                    Some(req_rx),
                    event_tx.clone(),
                )));
                tasks.push(tokio::spawn(session_task(
                    shared.clone(),
                    connector,
                    BindKind::Receiver,
                    None,
                    event_tx,
                )));
            }
        }
        *shared.tasks.lock().unwrap_or_else(|e| e.into_inner()) = tasks;
        (
            Client {
                _last_handle: Arc::new(CloseOnDrop(shared.clone())),
                shared,
                requests: req_tx,
            },
            event_rx,
        )
    }

    /// A snapshot of the live state; cheap (a few atomic loads).
    pub fn state(&self) -> ClientState {
        let now = self.shared.second(Instant::now());
        let c = *self
            .shared
            .per_second
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let submitted_last_second = if c.0 == now {
            c.2
        } else if c.0 + 1 == now {
            c.1
        } else {
            0
        };
        ClientState {
            bound: *self.shared.bound.borrow(),
            receiver_bound: self.shared.receiver_bound.load(Ordering::Relaxed),
            window_in_use: self.shared.window_in_use.load(Ordering::Relaxed),
            submitted_last_second,
            submitted_total: self.shared.submitted_total.load(Ordering::Relaxed),
        }
    }

    /// Waits until a transmitting session is bound; false after `within`.
    pub async fn wait_bound(&self, within: Duration) -> bool {
        let mut rx = self.shared.bound.subscribe();
        timeout(within, wait_true(&mut rx))
            .await
            .is_ok_and(|still_open| still_open)
    }

    /// Sends one request and waits for its response (`generic_nack` included), without
    /// retries. For `query_sm`, `cancel_sm`, `data_sm`, `replace_sm`, `submit_multi`.
    pub async fn request(&self, body: PduBody) -> Result<Pdu, RequestError> {
        if *self.shared.closing.borrow() {
            return Err(RequestError::Closed);
        }
        if !self.wait_bound(self.shared.config.response_timeout).await {
            return Err(RequestError::NotBound);
        }
        let (reply, rx) = oneshot::channel();
        self.requests
            .send(Request { body, reply })
            .await
            .map_err(|_| RequestError::Closed)?;
        rx.await.map_err(|_| RequestError::ConnectionLost)?
    }

    /// Submits a message and waits for `submit_sm_resp`, retrying temporary failures
    /// (see the module documentation).
    pub async fn submit(&self, sm: SubmitSm) -> Result<Submitted, SubmitError> {
        let retry = self.shared.config.retry;
        let max_attempts = retry.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.shared.take_slot().await;
            let resp = self.request(PduBody::SubmitSm(sm.clone())).await?;
            let status = match (&resp.body, resp.command_status) {
                // generic_nack with status 0 makes no sense; treat it as a failure
                (PduBody::GenericNack, s) if s.is_ok() => CommandStatus::ESME_RUNKNOWNERR,
                (_, s) => s,
            };
            if status.is_ok() {
                self.shared.record_submit();
                let message_id = match resp.body {
                    PduBody::SubmitSmResp(r) => r.message_id.to_string(),
                    _ => String::new(),
                };
                return Ok(Submitted {
                    message_id,
                    attempts: attempt,
                });
            }
            if !status.is_temporary() {
                return Err(SubmitError::Rejected(status));
            }
            if attempt >= max_attempts {
                return Err(SubmitError::RetriesExhausted {
                    last: status,
                    attempts: attempt,
                });
            }
            let delay = retry.backoff.delay(attempt - 1);
            debug!(%status, attempt, ?delay, "temporary failure, retrying");
            if status == CommandStatus::ESME_RTHROTTLED {
                self.shared.pause_submits(delay);
            } else {
                sleep(delay).await;
            }
        }
    }

    /// Stops accepting requests, lets outstanding ones finish, unbinds and waits for the
    /// session tasks to end.
    pub async fn close(&self) {
        self.shared.closing.send_replace(true);
        let tasks =
            std::mem::take(&mut *self.shared.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        for t in tasks {
            let _ = t.await;
        }
    }
}

async fn session_task<C: Connect>(
    shared: Arc<Shared>,
    connector: Arc<C>,
    kind: BindKind,
    mut requests: Option<mpsc::Receiver<Request>>,
    events: mpsc::Sender<Event>,
) {
    let config = shared.config.clone();
    let mut closing = shared.closing.subscribe();
    let mut failures = 0u32;
    loop {
        if *closing.borrow() {
            return;
        }
        let mut seq = Sequence::new();
        match bind(&*connector, kind, &config, &mut seq).await {
            Ok(conn) => {
                failures = 0;
                info!(?kind, system_id = %config.system_id, "bound");
                set_bound(&shared, kind, true);
                let _ = events.try_send(Event::Bound(kind));
                let mut session = BoundSession {
                    conn,
                    seq,
                    shared: &shared,
                    pending: HashMap::new(),
                    events: &events,
                };
                let end = session.run(requests.as_mut(), &mut closing).await;
                set_bound(&shared, kind, false);
                shared.window_in_use.store(0, Ordering::Relaxed);
                let _ = events.try_send(Event::Unbound(kind));
                match end {
                    End::Closed => return,
                    End::Lost(reason) => warn!(?kind, %reason, "session lost"),
                }
            }
            Err(e) => warn!(?kind, error = %e, "bind failed"),
        }
        let delay = config.reconnect_backoff.delay(failures);
        failures = failures.saturating_add(1);
        tokio::select! {
            _ = sleep(delay) => {}
            _ = wait_true(&mut closing) => return,
        }
    }
}

/// Waits until the watched flag is true; false if the sender is gone. (Keeps the
/// non-`Send` `watch::Ref` out of callers' futures.)
async fn wait_true(rx: &mut watch::Receiver<bool>) -> bool {
    rx.wait_for(|v| *v).await.is_ok()
}

fn set_bound(shared: &Shared, kind: BindKind, bound: bool) {
    if kind.can_submit() {
        shared.bound.send_replace(bound);
    }
    if kind.can_receive() {
        shared.receiver_bound.store(bound, Ordering::Relaxed);
    }
}

#[derive(Debug, thiserror::Error)]
enum BindError {
    #[error("connect: {0}")]
    Connect(#[from] io::Error),
    #[error("{0}")]
    Conn(#[from] ConnError),
    #[error("no bind response in time")]
    Timeout,
    #[error("connection closed before the bind response")]
    Closed,
    #[error("bind refused: {0}")]
    Refused(CommandStatus),
}

async fn bind<C: Connect>(
    connector: &C,
    kind: BindKind,
    config: &ClientConfig,
    seq: &mut Sequence,
) -> Result<Connection<C::Stream>, BindError> {
    let deadline = Instant::now() + config.response_timeout;
    let stream = tokio::time::timeout_at(deadline, connector.connect())
        .await
        .map_err(|_| BindError::Timeout)??;
    let mut conn = Connection::new(stream, config.max_pdu_len);
    let bind = Bind {
        system_id: config.system_id.clone(),
        password: config.password.clone(),
        system_type: config.system_type.clone(),
        interface_version: INTERFACE_VERSION_34,
        addr_ton: 0,
        addr_npi: 0,
        address_range: config.address_range.clone(),
    };
    let body = match kind {
        BindKind::Transmitter => PduBody::BindTransmitter(bind),
        BindKind::Receiver => PduBody::BindReceiver(bind),
        BindKind::Transceiver => PduBody::BindTransceiver(bind),
    };
    let bind_seq = seq.next();
    conn.write_pdu(&Pdu::new(bind_seq, body)).await?;
    loop {
        let pdu = match tokio::time::timeout_at(deadline, conn.read_pdu()).await {
            Err(_) => return Err(BindError::Timeout),
            Ok(Ok(Some(pdu))) => pdu,
            Ok(Ok(None)) => return Err(BindError::Closed),
            Ok(Err(ConnError::Malformed(e))) => {
                let nack = Pdu::generic_nack(e.sequence_number.unwrap_or(0), e.status());
                conn.write_pdu(&nack).await?;
                continue;
            }
            Ok(Err(e)) => return Err(e.into()),
        };
        match pdu.body {
            PduBody::EnquireLink => {
                conn.write_pdu(&Pdu::new(pdu.sequence_number, PduBody::EnquireLinkResp))
                    .await?
            }
            PduBody::BindTransmitterResp(_)
            | PduBody::BindReceiverResp(_)
            | PduBody::BindTransceiverResp(_)
            | PduBody::GenericNack
                if pdu.sequence_number == bind_seq =>
            {
                return if pdu.command_status.is_ok() && pdu.body != PduBody::GenericNack {
                    Ok(conn)
                } else {
                    Err(BindError::Refused(pdu.command_status))
                };
            }
            _ => debug!(command_id = ?pdu.command_id(), "ignored before bind response"),
        }
    }
}

enum End {
    /// The client is closing; do not reconnect.
    Closed,
    /// The connection ended; reconnect.
    Lost(String),
}

enum Pending {
    Request(oneshot::Sender<Result<Pdu, RequestError>>),
    EnquireLink,
    Unbind,
}

struct BoundSession<'a, S> {
    conn: Connection<S>,
    seq: Sequence,
    shared: &'a Shared,
    pending: HashMap<u32, (Instant, Pending)>,
    events: &'a mpsc::Sender<Event>,
}

async fn recv_request(rx: &mut Option<&mut mpsc::Receiver<Request>>) -> Option<Request> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> BoundSession<'_, S> {
    async fn run(
        &mut self,
        mut requests: Option<&mut mpsc::Receiver<Request>>,
        closing: &mut watch::Receiver<bool>,
    ) -> End {
        let config = &self.shared.config;
        let (ack_tx, mut ack_rx) = mpsc::unbounded_channel::<(u32, CommandStatus)>();
        let mut enquire = tokio::time::interval_at(
            Instant::now() + config.enquire_link_interval,
            config.enquire_link_interval,
        );
        enquire.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut is_closing = false;
        let end = loop {
            let requests_outstanding = self
                .pending
                .values()
                .filter(|p| matches!(p.1, Pending::Request(_)))
                .count();
            self.shared
                .window_in_use
                .store(requests_outstanding, Ordering::Relaxed);
            if is_closing
                && requests_outstanding == 0
                && !self
                    .pending
                    .values()
                    .any(|p| matches!(p.1, Pending::Unbind))
            {
                if let Err(e) = self.send(PduBody::Unbind, Pending::Unbind).await {
                    break End::Lost(e.to_string());
                }
            }
            let deadline = self
                .pending
                .values()
                .map(|p| p.0)
                .min()
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            let window_open = !is_closing && self.pending.len() < config.window.max(1);
            // Branches in order (timers first, so a busy peer cannot hold them off); the last,
            // when nothing else is ready, writes out what the others queued: PDUs that are
            // ready together leave in one write.
            tokio::select! {
                biased;
                _ = wait_true(closing), if !is_closing => is_closing = true,
                _ = enquire.tick() => {
                    let outstanding = self.pending.values().any(|p| matches!(p.1, Pending::EnquireLink));
                    if !outstanding {
                        if let Err(e) = self.send(PduBody::EnquireLink, Pending::EnquireLink).await {
                            break End::Lost(e.to_string());
                        }
                    }
                }
                _ = sleep_until(deadline) => {
                    if let Some(end) = self.expire() {
                        break end;
                    }
                }
                Some(req) = recv_request(&mut requests), if window_open => {
                    if let Err(e) = self.send(req.body, Pending::Request(req.reply)).await {
                        break End::Lost(e.to_string());
                    }
                }
                Some((seq, status)) = ack_rx.recv() => {
                    let resp = Pdu::with_status(seq, status, PduBody::DeliverSmResp(Default::default()));
                    if let Err(e) = self.conn.queue_pdu(&resp).await {
                        break End::Lost(e.to_string());
                    }
                }
                read = self.conn.read_pdu() => match read {
                    Ok(Some(pdu)) => {
                        if let Some(end) = self.on_pdu(pdu, &ack_tx).await {
                            break end;
                        }
                    }
                    Ok(None) => break End::Lost("closed by the SMSC".into()),
                    Err(ConnError::Malformed(e)) if is_response(&e) => {
                        // A response is never nacked; fail the request it answers.
                        warn!(error = %e, "malformed response");
                        let seq = e.sequence_number.unwrap_or(0);
                        if let Some((_, Pending::Request(reply))) = self.pending.remove(&seq) {
                            let _ = reply.send(Err(RequestError::MalformedResponse(e.status())));
                        }
                    }
                    Err(ConnError::Malformed(e)) => {
                        let nack = Pdu::generic_nack(e.sequence_number.unwrap_or(0), e.status());
                        if let Err(e) = self.conn.queue_pdu(&nack).await {
                            break End::Lost(e.to_string());
                        }
                    }
                    Err(e) => break End::Lost(e.to_string()),
                },
                _ = std::future::ready(()), if self.conn.has_unflushed() => {
                    if let Err(e) = self.conn.flush().await {
                        break End::Lost(e.to_string());
                    }
                }
            }
        };
        let _ = self.conn.shutdown().await;
        for (_, (_, p)) in self.pending.drain() {
            if let Pending::Request(reply) = p {
                let _ = reply.send(Err(RequestError::ConnectionLost));
            }
        }
        end
    }

    async fn send(&mut self, body: PduBody, pending: Pending) -> Result<(), ConnError> {
        let seq = self.seq.next();
        let deadline = Instant::now() + self.shared.config.response_timeout;
        self.pending.insert(seq, (deadline, pending));
        self.conn.queue_pdu(&Pdu::new(seq, body)).await
    }

    fn expire(&mut self) -> Option<End> {
        let now = Instant::now();
        let expired: Vec<u32> = self
            .pending
            .iter()
            .filter(|(_, p)| p.0 <= now)
            .map(|(s, _)| *s)
            .collect();
        let mut end = None;
        for seq in expired {
            match self.pending.remove(&seq).map(|p| p.1) {
                Some(Pending::Request(reply)) => {
                    let _ = reply.send(Err(RequestError::Timeout));
                }
                Some(Pending::EnquireLink) => {
                    end = Some(End::Lost("no enquire_link_resp in time".into()))
                }
                Some(Pending::Unbind) => end = Some(End::Closed),
                None => {}
            }
        }
        end
    }

    async fn on_pdu(
        &mut self,
        pdu: Pdu,
        ack_tx: &mpsc::UnboundedSender<(u32, CommandStatus)>,
    ) -> Option<End> {
        let seq = pdu.sequence_number;
        if pdu.command_id().is_response() {
            match self.pending.remove(&seq).map(|p| p.1) {
                Some(Pending::Request(reply)) => {
                    let _ = reply.send(Ok(pdu));
                }
                Some(Pending::Unbind) => return Some(End::Closed),
                Some(Pending::EnquireLink) => {}
                None => debug!(seq, command_id = ?pdu.command_id(), "response to nothing"),
            }
            return None;
        }
        let reply = match pdu.body {
            PduBody::DeliverSm(sm) => {
                let receipt = DeliveryReceipt::from_deliver_sm(&sm);
                let delivery = Delivery {
                    sm,
                    receipt,
                    ack: Ack {
                        sequence_number: seq,
                        tx: Some(ack_tx.clone()),
                    },
                };
                // A full or closed channel drops the delivery, which answers ESME_RX_T_APPN.
                if self
                    .events
                    .try_send(Event::Deliver(Box::new(delivery)))
                    .is_err()
                {
                    warn!(
                        seq,
                        "event channel full or closed; deliver_sm refused for now"
                    );
                }
                return None;
            }
            PduBody::EnquireLink => Pdu::new(seq, PduBody::EnquireLinkResp),
            PduBody::Unbind => {
                let _ = self
                    .conn
                    .write_pdu(&Pdu::new(seq, PduBody::UnbindResp))
                    .await;
                return Some(End::Lost("unbind from the SMSC".into()));
            }
            PduBody::DataSm(_) => Pdu::with_status(
                seq,
                CommandStatus::ESME_RX_R_APPN,
                PduBody::DataSmResp(Default::default()),
            ),
            PduBody::AlertNotification(_) | PduBody::Outbind(_) => return None,
            _ => match PduBody::default_response(pdu.command_id()) {
                Some(body) => Pdu::with_status(seq, CommandStatus::ESME_RINVCMDID, body),
                None => return None,
            },
        };
        match self.conn.queue_pdu(&reply).await {
            Ok(()) => None,
            Err(e) => Some(End::Lost(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        let delays: Vec<_> = (0..6).map(|a| b.delay(a).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.delay(200), Duration::from_secs(1));
    }
}
