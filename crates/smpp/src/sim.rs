//! An SMSC simulator on top of the [`server`] module, for tests and local development.
//!
//! - Accepts any bind, or only the configured `system_id`/`password`.
//! - Answers `submit_sm` with unique message ids and, when `registered_delivery` asks for
//!   it, sends a delivery receipt `deliver_sm` (text form and the `receipted_message_id`
//!   and `message_state` TLVs) after [`SimConfig::receipt_delay`] to a receiver or
//!   transceiver session of the same `system_id`.
//! - Outcomes are drawn from [`OutcomeShares`] with a seeded generator, so a run with the
//!   same seed and the same submit order gives the same outcomes.
//! - Throttling: more than [`SimConfig::throttle_per_second`] submits in one second are
//!   answered `ESME_RTHROTTLED`.
//! - Random disconnects: after each submit, the session is dropped with probability
//!   [`SimConfig::disconnect_probability`].
//! - Deduplication: a submit carrying the vendor TLV [`GATEWAY_MESSAGE_ID_TAG`] (the
//!   gateway's own message id, ASCII) whose id was seen before is answered with the same
//!   SMSC message id and gets no second receipt.
//! - Concatenated parts (`esm_class` UDHI, 0x40) are accepted and counted; each part gets
//!   its own message id and receipt, as real SMSCs do.
//! - [`Sim::inject_mo`] sends a mobile-originated `deliver_sm`.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use smpp_codec::{
    esm_class, registered_delivery, Bind, CommandStatus, DeliverSm, DeliveryReceipt, FieldError,
    MessageState, OctetString, ReceiptDate, ShortMessage, SubmitSm, SubmitSmResp, Tlv, TlvsExt,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio::time::{sleep, Instant};
use tracing::debug;

use crate::server::{self, BindKind, DeliverError, ServerConfig, SessionHandle, SessionHandler};

/// Vendor TLV carrying the gateway's own message id, used for deduplication.
pub const GATEWAY_MESSAGE_ID_TAG: u16 = 0x1501;

/// Relative weights of receipt outcomes (they need not sum to anything in particular).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutcomeShares {
    /// `DELIVRD`.
    pub delivered: u32,
    /// `UNDELIV`.
    pub undeliverable: u32,
    /// `EXPIRED`.
    pub expired: u32,
    /// `REJECTD`.
    pub rejected: u32,
}

impl Default for OutcomeShares {
    fn default() -> Self {
        OutcomeShares {
            delivered: 1,
            undeliverable: 0,
            expired: 0,
            rejected: 0,
        }
    }
}

/// Simulator settings.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// `(system_id, password)` to accept; `None` accepts any bind.
    pub credentials: Option<(String, String)>,
    /// Delay between `submit_sm_resp` and the receipt.
    pub receipt_delay: Duration,
    /// Receipt outcome weights.
    pub outcomes: OutcomeShares,
    /// Seed of the outcome and disconnect generator.
    pub seed: u64,
    /// Answer `ESME_RTHROTTLED` above this many submits per second; `None` never throttles.
    pub throttle_per_second: Option<u32>,
    /// Probability (0..=1) of dropping the session after a submit.
    pub disconnect_probability: f64,
    /// Session settings of the underlying server.
    pub server: ServerConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            credentials: None,
            receipt_delay: Duration::from_millis(100),
            outcomes: OutcomeShares::default(),
            seed: 1,
            throttle_per_second: None,
            disconnect_probability: 0.0,
            server: ServerConfig {
                system_id: "SMSCSIM".try_into().unwrap_or_default(),
                ..ServerConfig::default()
            },
        }
    }
}

/// Counters of what the simulator did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimStats {
    /// `submit_sm` accepted (unique plus duplicates).
    pub submitted: u64,
    /// Accepted submits with a new (or no) gateway message id.
    pub unique: u64,
    /// Accepted submits repeating a gateway message id.
    pub duplicates: u64,
    /// Submits answered `ESME_RTHROTTLED`.
    pub throttled: u64,
    /// Accepted submits with UDHI set (parts of concatenated messages).
    pub concatenated_parts: u64,
    /// Receipts acknowledged with `ESME_ROK` by the ESME.
    pub receipts_sent: u64,
    /// MO messages acknowledged with `ESME_ROK` by the ESME.
    pub mo_sent: u64,
    /// Sessions dropped on purpose.
    pub disconnects: u64,
}

/// Why an MO message could not be delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// No receiver or transceiver session is bound.
    #[error("no receiving session bound")]
    NoReceiver,
    /// An address is longer than 20 octets or contains NUL.
    #[error("invalid address: {0}")]
    InvalidAddress(#[from] FieldError),
    /// The session did not answer.
    #[error(transparent)]
    Deliver(#[from] DeliverError),
}

struct State {
    rng: u64,
    next_id: u64,
    sessions: Vec<SessionHandle>,
    dedup: HashMap<Vec<u8>, String>,
    throttle_window: (Instant, u32),
    stats: SimStats,
}

struct Inner {
    config: SimConfig,
    state: Mutex<State>,
}

/// Handle to a simulator; clones share state.
#[derive(Clone)]
pub struct Sim {
    inner: Arc<Inner>,
}

impl State {
    /// splitmix64
    fn next_u64(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl Sim {
    /// A simulator with `config`; serve it with [`Sim::run`] or [`Sim::serve`].
    pub fn new(config: SimConfig) -> Sim {
        let state = State {
            rng: config.seed,
            next_id: 0,
            sessions: Vec::new(),
            dedup: HashMap::new(),
            throttle_window: (Instant::now(), 0),
            stats: SimStats::default(),
        };
        Sim {
            inner: Arc::new(Inner {
                config,
                state: Mutex::new(state),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The counters so far.
    pub fn stats(&self) -> SimStats {
        self.state().stats
    }

    /// Number of bound sessions.
    pub fn bound_sessions(&self) -> usize {
        let mut st = self.state();
        st.sessions.retain(|s| !s.is_closed());
        st.sessions.len()
    }

    /// Drops every bound session without `unbind`, as a failing SMSC would.
    pub async fn disconnect_all(&self) {
        let sessions = std::mem::take(&mut self.state().sessions);
        for s in sessions {
            s.close().await;
        }
    }

    /// Sends a mobile-originated `deliver_sm` from `from` to `to` with `text` to the
    /// first bound receiver or transceiver, and returns the ESME's answer.
    /// ASCII text goes as data_coding 0, other text as UCS-2 (data_coding 8); text
    /// longer than `short_message` allows goes in `message_payload`.
    pub async fn inject_mo(
        &self,
        from: &str,
        to: &str,
        text: &str,
    ) -> Result<CommandStatus, SimError> {
        let session = {
            let mut st = self.state();
            st.sessions.retain(|s| !s.is_closed());
            st.sessions.iter().find(|s| s.kind().can_receive()).cloned()
        }
        .ok_or(SimError::NoReceiver)?;
        let (data_coding, bytes) = if text.is_ascii() {
            (0u8, text.as_bytes().to_vec())
        } else {
            (
                8u8,
                text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
            )
        };
        let mut sm = DeliverSm {
            source_addr_ton: 1,
            source_addr_npi: 1,
            source_addr: from.try_into()?,
            dest_addr_ton: 0,
            dest_addr_npi: 0,
            destination_addr: to.try_into()?,
            data_coding,
            ..Default::default()
        };
        match ShortMessage::new(bytes.clone()) {
            Ok(short) => sm.short_message = short,
            Err(_) => sm.tlvs.push(Tlv::MessagePayload(
                OctetString::new(bytes).unwrap_or_default(),
            )),
        }
        let status = session.deliver(sm).await?;
        if status.is_ok() {
            self.state().stats.mo_sent += 1;
        }
        Ok(status)
    }

    /// Serves SMPP on `listener` until `shutdown` completes.
    pub async fn run(&self, listener: TcpListener, shutdown: impl Future<Output = ()>) {
        let handler = Arc::new(self.clone());
        server::run(
            listener,
            handler,
            self.inner.config.server.clone(),
            shutdown,
        )
        .await
    }

    /// Serves one connection (for in-memory tests with `tokio::io::duplex`).
    pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        stream: S,
        shutdown: broadcast::Receiver<()>,
    ) {
        let config = Arc::new(self.inner.config.server.clone());
        server::serve_connection(stream, Arc::new(self.clone()), config, shutdown).await
    }

    fn draw_outcome(st: &mut State, shares: OutcomeShares) -> MessageState {
        let table = [
            (shares.delivered, MessageState::Delivered),
            (shares.undeliverable, MessageState::Undeliverable),
            (shares.expired, MessageState::Expired),
            (shares.rejected, MessageState::Rejected),
        ];
        let total: u64 = table.iter().map(|t| u64::from(t.0)).sum();
        if total == 0 {
            return MessageState::Delivered;
        }
        let mut pick = st.next_u64() % total;
        for (weight, state) in table {
            if pick < u64::from(weight) {
                return state;
            }
            pick -= u64::from(weight);
        }
        MessageState::Delivered
    }

    async fn send_receipt(
        &self,
        system_id: String,
        sm: SubmitSm,
        message_id: String,
        state: MessageState,
    ) {
        let submitted = wall_clock_date();
        sleep(self.inner.config.receipt_delay).await;
        let text: String = String::from_utf8_lossy(sm.short_message.as_bytes())
            .chars()
            .take(20)
            .collect();
        let receipt = DeliveryReceipt {
            id: Some(message_id),
            sub: Some(1),
            dlvrd: Some(u32::from(state == MessageState::Delivered)),
            submit_date: Some(submitted),
            done_date: Some(wall_clock_date()),
            stat: Some(state),
            err: Some(
                if state == MessageState::Delivered {
                    "000"
                } else {
                    "001"
                }
                .into(),
            ),
            text: Some(text),
        };
        let pdu = DeliverSm {
            source_addr_ton: sm.dest_addr_ton,
            source_addr_npi: sm.dest_addr_npi,
            source_addr: sm.destination_addr.clone(),
            dest_addr_ton: sm.source_addr_ton,
            dest_addr_npi: sm.source_addr_npi,
            destination_addr: sm.source_addr.clone(),
            esm_class: esm_class::DELIVERY_RECEIPT,
            short_message: ShortMessage::new(receipt.to_string().into_bytes()).unwrap_or_default(),
            tlvs: receipt.tlvs(),
            ..Default::default()
        };
        // Try a few times: the receiver may be reconnecting.
        for _ in 0..5 {
            let session = {
                let mut st = self.state();
                st.sessions.retain(|s| !s.is_closed());
                st.sessions
                    .iter()
                    .find(|s| s.kind().can_receive() && s.system_id() == system_id)
                    .cloned()
            };
            if let Some(session) = session {
                match session.deliver(pdu.clone()).await {
                    Ok(status) if status.is_ok() => {
                        self.state().stats.receipts_sent += 1;
                        return;
                    }
                    Ok(status) => debug!(%status, "receipt refused, will retry"),
                    Err(e) => debug!(error = %e, "receipt not delivered, will retry"),
                }
            }
            sleep(
                self.inner
                    .config
                    .receipt_delay
                    .max(Duration::from_millis(100)),
            )
            .await;
        }
    }
}

impl SessionHandler for Sim {
    async fn authenticate(&self, _kind: BindKind, bind: &Bind) -> Result<(), CommandStatus> {
        match &self.inner.config.credentials {
            None => Ok(()),
            Some((id, _)) if bind.system_id.as_bytes() != id.as_bytes() => {
                Err(CommandStatus::ESME_RINVSYSID)
            }
            Some((_, pw)) if bind.password.as_bytes() != pw.as_bytes() => {
                Err(CommandStatus::ESME_RINVPASWD)
            }
            Some(_) => Ok(()),
        }
    }

    async fn bound(&self, session: SessionHandle) {
        self.state().sessions.push(session);
    }

    async fn unbound(&self, session: &SessionHandle) {
        self.state().sessions.retain(|s| s.id() != session.id());
    }

    async fn submit_sm(
        &self,
        session: &SessionHandle,
        sm: SubmitSm,
    ) -> Result<SubmitSmResp, CommandStatus> {
        let config = &self.inner.config;
        let (message_id, receipt, disconnect) = {
            let mut st = self.state();
            if let Some(limit) = config.throttle_per_second {
                let now = Instant::now();
                if now.duration_since(st.throttle_window.0) >= Duration::from_secs(1) {
                    st.throttle_window = (now, 0);
                }
                if st.throttle_window.1 >= limit {
                    st.stats.throttled += 1;
                    return Err(CommandStatus::ESME_RTHROTTLED);
                }
                st.throttle_window.1 += 1;
            }
            st.stats.submitted += 1;
            if sm.esm_class & esm_class::UDHI != 0 {
                st.stats.concatenated_parts += 1;
            }
            let gateway_id = sm.tlvs.other(GATEWAY_MESSAGE_ID_TAG).map(<[u8]>::to_vec);
            let known = gateway_id.as_ref().and_then(|g| st.dedup.get(g).cloned());
            let (message_id, receipt) = match known {
                Some(id) => {
                    st.stats.duplicates += 1;
                    (id, None)
                }
                None => {
                    st.stats.unique += 1;
                    st.next_id += 1;
                    let id = format!("{:010}", st.next_id);
                    if let Some(g) = gateway_id {
                        st.dedup.insert(g, id.clone());
                    }
                    let outcome = Self::draw_outcome(&mut st, config.outcomes);
                    let wanted =
                        match sm.registered_delivery & registered_delivery::SMSC_RECEIPT_MASK {
                            registered_delivery::ON_FINAL => true,
                            registered_delivery::ON_FAILURE => outcome != MessageState::Delivered,
                            _ => false,
                        };
                    (id, wanted.then_some(outcome))
                }
            };
            let disconnect = config.disconnect_probability > 0.0
                && st.next_f64() < config.disconnect_probability;
            if disconnect {
                st.stats.disconnects += 1;
            }
            (message_id, receipt, disconnect)
        };
        if let Some(outcome) = receipt {
            let sim = self.clone();
            let system_id = session.system_id().to_owned();
            let id = message_id.clone();
            tokio::spawn(async move { sim.send_receipt(system_id, sm, id, outcome).await });
        }
        if disconnect {
            let session = session.clone();
            tokio::spawn(async move {
                sleep(Duration::from_millis(10)).await;
                session.close().await;
            });
        }
        Ok(SubmitSmResp {
            message_id: message_id.as_str().try_into().unwrap_or_default(),
        })
    }
}

/// Current UTC time as a receipt date (`YYMMDDhhmm`).
fn wall_clock_date() -> ReceiptDate {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    ReceiptDate {
        year: (year % 100) as u8,
        month: month as u8,
        day: day as u8,
        hour: (rem / 3600) as u8,
        minute: (rem % 3600 / 60) as u8,
        second: None,
    }
}

/// Runs a simulator with `config` on `listener` until `shutdown` completes.
pub async fn run(listener: TcpListener, config: SimConfig, shutdown: impl Future<Output = ()>) {
    Sim::new(config).run(listener, shutdown).await
}
