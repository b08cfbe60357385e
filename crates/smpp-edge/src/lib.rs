//! The SMPP v3.4 server for customers (`serve --smpp ADDR`).
//!
//! - **Binds** use an account's SMPP credentials (`system_id` + password, argon2-verified off
//!   the async threads). A wrong pair is refused with `ESME_RBINDFAIL` and logged (never the
//!   password); each further failure for the same `system_id` within 15 minutes waits twice as
//!   long before the answer, up to 8 s. A revoked credential's sessions are closed within
//!   seconds.
//! - **`submit_sm`** goes through [`api::messages::accept`], the path of `POST /v1/messages`:
//!   the same number and sender rules, credit, rate limit and queue. The answer's
//!   `message_id` is the message id of the API. `data_coding` 0 (GSM 03.38, unpacked), 1, 3 and
//!   8 (UCS-2) are read; binary data is refused. Long texts arrive as concatenated parts (UDH
//!   or SAR TLVs) or in `message_payload`: parts are joined in memory and the message is stored
//!   when the last part arrives; every part is answered with the message's id. Parts still
//!   incomplete after [`EdgeConfig::reassembly_timeout`] are sent as they are (the text that
//!   arrived), so nothing accepted is silently dropped; parts answered before a crash but never
//!   completed are lost (they were never stored).
//! - A commercial message is marked by the vendor TLV [`EdgeConfig::marketing_tlv`] (0x1502 by
//!   default, value 1) and must then meet the same rules as `"marketing": true` over HTTP.
//! - **`query_sm`** and **`cancel_sm`** work on the account's messages.
//! - **Receipts** (`registered_delivery` 1 or 2) are owed in the database from the submit's
//!   transaction and pushed as `deliver_sm` to the credential's receiver or transceiver binds
//!   when the message is final; **inbound messages** of the account are pushed to its binds too.
//!   Both are marked done only after the customer's `deliver_sm_resp`, so a customer that is
//!   not bound gets them when it binds.

mod push;
pub mod smpp_time;
mod submit;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use api::AppState;
use domain::AccountId;
use smpp::codec::{Bind, CancelSm, CommandStatus, QuerySm, QuerySmResp, SubmitSm, SubmitSmResp};
use smpp::server::{self, BindKind, ServerConfig, SessionHandle, SessionHandler};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Settings of the customer SMPP server.
#[derive(Debug, Clone)]
pub struct EdgeConfig {
    /// Session limits; `system_id` is what bind responses carry.
    pub server: ServerConfig,
    /// How long the parts of a concatenated message wait for the rest.
    pub reassembly_timeout: Duration,
    /// How often owed receipts and inbound messages are looked for.
    pub poll_interval: Duration,
    /// Inbound messages older than this are not pushed to a bind that comes later.
    pub mo_max_age: Duration,
    /// The vendor TLV that marks a `submit_sm` as a commercial message (first octet non-zero),
    /// which must then meet the rules of `"marketing": true` in the HTTP API.
    pub marketing_tlv: u16,
}

/// The default tag of the commercial-message TLV (in the vendor range 0x1400-0x3FFF).
pub const DEFAULT_MARKETING_TLV: u16 = 0x1502;

impl Default for EdgeConfig {
    fn default() -> Self {
        EdgeConfig {
            server: ServerConfig {
                system_id: "apisendsms".try_into().unwrap_or_default(),
                ..ServerConfig::default()
            },
            reassembly_timeout: Duration::from_secs(60),
            poll_interval: Duration::from_millis(200),
            mo_max_age: Duration::from_secs(3 * 24 * 3600),
            marketing_tlv: DEFAULT_MARKETING_TLV,
        }
    }
}

/// The customer SMPP server; cheap to clone.
#[derive(Clone)]
pub struct Edge {
    inner: Arc<Inner>,
}

struct Inner {
    state: AppState,
    config: EdgeConfig,
    /// Bound credentials by `system_id`.
    binds: Mutex<HashMap<String, Bound>>,
    failures: Mutex<HashMap<String, Failures>>,
    partials: Mutex<submit::Partials>,
    wake: Notify,
}

struct Bound {
    credential_id: i64,
    account: AccountId,
    sessions: Vec<SessionHandle>,
    next: usize,
}

struct Failures {
    count: u32,
    last: Instant,
}

const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
const MAX_FAILURE_DELAY: Duration = Duration::from_secs(8);

/// The wait before answering a bind for a `system_id` that failed `count` times recently.
fn failure_delay(count: u32) -> Duration {
    match count {
        0 | 1 => Duration::ZERO,
        n => (Duration::from_millis(250) * 2u32.saturating_pow(n - 2)).min(MAX_FAILURE_DELAY),
    }
}

/// The receiving sessions of one credential.
pub(crate) struct Receivers {
    pub credential_id: i64,
    pub account: AccountId,
    pub system_id: String,
}

impl Edge {
    pub fn new(state: AppState, config: EdgeConfig) -> Edge {
        Edge {
            inner: Arc::new(Inner {
                state,
                config,
                binds: Mutex::new(HashMap::new()),
                failures: Mutex::new(HashMap::new()),
                partials: Mutex::new(submit::Partials::default()),
                wake: Notify::new(),
            }),
        }
    }

    /// Serves customers on `listener` and pushes receipts and inbound messages until `shutdown`.
    pub async fn run(self, listener: TcpListener, shutdown: CancellationToken) {
        if let Ok(addr) = listener.local_addr() {
            info!(%addr, "SMPP server for customers listening");
        }
        let pusher = tokio::spawn(push::run(self.clone(), shutdown.clone()));
        let config = self.inner.config.server.clone();
        let token = shutdown.clone();
        server::run(listener, Arc::new(self), config, async move {
            token.cancelled().await
        })
        .await;
        shutdown.cancel();
        let _ = pusher.await;
    }

    pub(crate) fn state(&self) -> &AppState {
        &self.inner.state
    }

    pub(crate) fn config(&self) -> &EdgeConfig {
        &self.inner.config
    }

    pub(crate) fn woken(&self) -> tokio::sync::futures::Notified<'_> {
        self.inner.wake.notified()
    }

    /// Every bound credential with its sessions that can take `deliver_sm`.
    pub(crate) fn receivers(&self) -> Vec<Receivers> {
        let mut binds = self.inner.binds.lock().expect("binds");
        binds
            .iter_mut()
            .filter_map(|(system_id, b)| {
                b.sessions.retain(|s| !s.is_closed());
                b.sessions
                    .iter()
                    .any(|s| s.kind().can_receive())
                    .then(|| Receivers {
                        credential_id: b.credential_id,
                        account: b.account,
                        system_id: system_id.clone(),
                    })
            })
            .collect()
    }

    /// The `system_id` of every bound credential.
    pub(crate) fn bound_system_ids(&self) -> Vec<String> {
        self.inner
            .binds
            .lock()
            .expect("binds")
            .keys()
            .cloned()
            .collect()
    }

    /// The next receiving session of a credential, round robin.
    pub(crate) fn pick_receiver(&self, system_id: &str) -> Option<SessionHandle> {
        let mut binds = self.inner.binds.lock().expect("binds");
        let b = binds.get_mut(system_id)?;
        let receivers: Vec<&SessionHandle> = b
            .sessions
            .iter()
            .filter(|s| s.kind().can_receive() && !s.is_closed())
            .collect();
        if receivers.is_empty() {
            return None;
        }
        b.next = b.next.wrapping_add(1);
        Some(receivers[b.next % receivers.len()].clone())
    }

    /// Closes every session of a credential that is no longer valid.
    pub(crate) async fn drop_credential(&self, system_id: &str) {
        let sessions = self
            .inner
            .binds
            .lock()
            .expect("binds")
            .remove(system_id)
            .map(|b| b.sessions)
            .unwrap_or_default();
        if !sessions.is_empty() {
            warn!(
                system_id,
                sessions = sessions.len(),
                "SMPP credential revoked; closing its sessions"
            );
        }
        for s in sessions {
            s.close().await;
        }
    }

    fn bound_account(&self, session: &SessionHandle) -> Result<(i64, AccountId), CommandStatus> {
        self.inner
            .binds
            .lock()
            .expect("binds")
            .get(session.system_id())
            .map(|b| (b.credential_id, b.account))
            .ok_or(CommandStatus::ESME_RINVBNDSTS)
    }

    fn note_failure(&self, system_id: &str) -> u32 {
        let mut failures = self.inner.failures.lock().expect("bind failures");
        if failures.len() > 10_000 {
            failures.retain(|_, f| f.last.elapsed() < FAILURE_WINDOW);
        }
        let f = failures.entry(system_id.to_owned()).or_insert(Failures {
            count: 0,
            last: Instant::now(),
        });
        if f.last.elapsed() >= FAILURE_WINDOW {
            f.count = 0;
        }
        f.count += 1;
        f.last = Instant::now();
        f.count
    }

    fn recent_failures(&self, system_id: &str) -> u32 {
        self.inner
            .failures
            .lock()
            .expect("bind failures")
            .get(system_id)
            .filter(|f| f.last.elapsed() < FAILURE_WINDOW)
            .map_or(0, |f| f.count)
    }
}

impl SessionHandler for Edge {
    async fn authenticate(&self, kind: BindKind, bind: &Bind) -> Result<(), CommandStatus> {
        let system_id = String::from_utf8_lossy(bind.system_id.as_bytes()).into_owned();
        let password = String::from_utf8_lossy(bind.password.as_bytes()).into_owned();
        let delay = failure_delay(self.recent_failures(&system_id) + 1);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let credential = self
            .inner
            .state
            .store()
            .smpp_credential(&system_id)
            .await
            .map_err(|e| {
                warn!(error = %e, "SMPP bind: credential lookup failed");
                CommandStatus::ESME_RSYSERR
            })?;
        let verified = match &credential {
            Some(c) => {
                let hash = c.password_hash.clone();
                tokio::task::spawn_blocking(move || {
                    api::smpp_credentials::verify_password(&hash, &password)
                })
                .await
                .unwrap_or(false)
            }
            None => false,
        };
        let Some(credential) = credential.filter(|_| verified) else {
            let failures = self.note_failure(&system_id);
            warn!(
                system_id = %system_id.escape_debug(),
                ?kind,
                failures,
                "SMPP bind refused: unknown system_id or wrong password"
            );
            return Err(CommandStatus::ESME_RBINDFAIL);
        };
        self.inner
            .failures
            .lock()
            .expect("bind failures")
            .remove(&system_id);
        self.inner
            .binds
            .lock()
            .expect("binds")
            .entry(system_id)
            .or_insert(Bound {
                credential_id: credential.id,
                account: credential.account,
                sessions: Vec::new(),
                next: 0,
            });
        Ok(())
    }

    async fn bound(&self, session: SessionHandle) {
        info!(system_id = session.system_id(), kind = ?session.kind(), "customer bound over SMPP");
        let receives = session.kind().can_receive();
        if let Some(b) = self
            .inner
            .binds
            .lock()
            .expect("binds")
            .get_mut(session.system_id())
        {
            b.sessions.push(session);
        }
        if receives {
            self.inner.wake.notify_one();
        }
    }

    async fn unbound(&self, session: &SessionHandle) {
        let mut binds = self.inner.binds.lock().expect("binds");
        if let Some(b) = binds.get_mut(session.system_id()) {
            b.sessions
                .retain(|s| s.id() != session.id() && !s.is_closed());
            if b.sessions.is_empty() {
                binds.remove(session.system_id());
            }
        }
    }

    async fn submit_sm(
        &self,
        session: &SessionHandle,
        sm: SubmitSm,
    ) -> Result<SubmitSmResp, CommandStatus> {
        let (credential_id, account) = self.bound_account(session)?;
        submit::submit(self, credential_id, account, sm).await
    }

    async fn query_sm(
        &self,
        session: &SessionHandle,
        q: QuerySm,
    ) -> Result<QuerySmResp, CommandStatus> {
        let (_, account) = self.bound_account(session)?;
        submit::query(self, account, q).await
    }

    async fn cancel_sm(&self, session: &SessionHandle, c: CancelSm) -> Result<(), CommandStatus> {
        let (_, account) = self.bound_account(session)?;
        submit::cancel(self, account, c).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_binds_wait_longer_each_time_up_to_a_cap() {
        assert_eq!(failure_delay(1), Duration::ZERO);
        assert_eq!(failure_delay(2), Duration::from_millis(250));
        assert_eq!(failure_delay(3), Duration::from_millis(500));
        assert_eq!(failure_delay(6), Duration::from_secs(4));
        assert_eq!(failure_delay(7), MAX_FAILURE_DELAY);
        assert_eq!(failure_delay(200), MAX_FAILURE_DELAY);
    }
}
