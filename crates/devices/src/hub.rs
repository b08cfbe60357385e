//! The hub: the devices connected to this node, what they are told and what they report.
//!
//! A connection (WebSocket or long-poll) is a [`Session`] holding the sending half of a channel
//! of [`ServerFrame`]s; the transport drains the other half. Everything a device reports is
//! written to the store before the hub confirms it, so a report lost with a connection is
//! repeated by the device and applied once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use domain::optout::Keywords;
use domain::{AccountId, IdGenerator, MessageId, MessageStatus};
use sha2::{Digest, Sha256};
use store::{Assignment, AssignmentState, DeviceRecord, NewInbound, OfflineFallback, Store};
use tokio::sync::{mpsc, oneshot};
use workers::Delivery;

use crate::metrics::DeviceMetrics;
use crate::protocol::{DeviceFrame, ServerFrame};

/// The connector name messages sent through devices carry.
pub const CONNECTOR: &str = "device";

#[derive(Debug, Clone)]
pub struct HubConfig {
    /// How long a submit waits for the device to acknowledge an assignment.
    pub ack_timeout: Duration,
    /// How often devices send a heartbeat; three missed ones and the device counts as offline.
    pub heartbeat_s: u32,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            ack_timeout: Duration::from_secs(10),
            heartbeat_s: 30,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The device was revoked or replaced by a newer connection.
    #[error("this connection was closed by the server")]
    Closed,
    #[error("{0}")]
    Protocol(String),
}

/// What the hub knows of a connected device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveState {
    pub signal: Option<u8>,
    pub battery: Option<u8>,
    /// Messages the device says it holds unsent.
    pub queue: Option<u32>,
}

struct Session {
    conn: u64,
    account: AccountId,
    name: String,
    per_minute: u32,
    per_day: u32,
    tx: mpsc::UnboundedSender<ServerFrame>,
    last_heard: Instant,
    live: LiveState,
}

#[derive(Default)]
struct State {
    sessions: HashMap<i64, Session>,
    /// The next device to try, per account (round-robin).
    turn: HashMap<AccountId, usize>,
    /// Submits waiting for a device's `ack`.
    waiters: HashMap<MessageId, Vec<oneshot::Sender<()>>>,
}

/// One connection of a device: frames for it arrive on `frames`.
pub struct Connection {
    pub id: u64,
    pub frames: mpsc::UnboundedReceiver<ServerFrame>,
}

pub struct Hub {
    store: Store,
    ids: Arc<IdGenerator>,
    keywords: Keywords,
    config: HubConfig,
    metrics: DeviceMetrics,
    state: Mutex<State>,
    next_conn: AtomicU64,
    /// Choosing a device and recording the assignment happen one at a time, so that
    /// concurrent submits cannot together pass a device's limits.
    assigning: tokio::sync::Mutex<()>,
}

/// The stored form of a device credential or pairing code.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.trim().as_bytes()))
}

fn parse_id(id: &str) -> Result<MessageId, HubError> {
    id.parse()
        .map_err(|_| HubError::Protocol(format!("{id:?} is not a message id")))
}

impl Hub {
    pub fn new(
        store: Store,
        ids: Arc<IdGenerator>,
        keywords: Keywords,
        config: HubConfig,
        metrics: DeviceMetrics,
    ) -> Arc<Hub> {
        Arc::new(Hub {
            store,
            ids,
            keywords,
            config,
            metrics,
            state: Mutex::new(State::default()),
            next_conn: AtomicU64::new(1),
            assigning: tokio::sync::Mutex::new(()),
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn ids(&self) -> &IdGenerator {
        &self.ids
    }

    pub fn heartbeat_s(&self) -> u32 {
        self.config.heartbeat_s
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("device hub")
    }

    fn offline_after(&self) -> Duration {
        Duration::from_secs(u64::from(self.config.heartbeat_s) * 3)
    }

    /// The live device holding this credential.
    pub async fn authenticate(&self, credential: &str) -> Result<Option<DeviceRecord>, HubError> {
        Ok(self
            .store
            .device_for_credential(&secret_hash(credential))
            .await?)
    }

    /// Whether the device is connected to this node and was heard from lately.
    pub fn live(&self, device: i64) -> Option<LiveState> {
        let limit = self.offline_after();
        self.state()
            .sessions
            .get(&device)
            .filter(|s| s.last_heard.elapsed() < limit)
            .map(|s| s.live)
    }

    /// Starts a connection after the device's `hello`: a newer connection replaces an older
    /// one. The device is welcomed and given again every assignment it has not acknowledged.
    pub async fn connect(
        &self,
        device: &DeviceRecord,
        hello: &DeviceFrame,
    ) -> Result<Connection, HubError> {
        let DeviceFrame::Hello {
            model,
            sim_slots,
            signal,
            battery,
            ..
        } = hello
        else {
            return Err(HubError::Protocol("the first frame must be a hello".into()));
        };
        self.store
            .device_seen(
                device.id,
                store::now_us(),
                model.as_deref(),
                sim_slots.map(i64::from),
                signal.map(i64::from),
                battery.map(i64::from),
            )
            .await?;
        let (tx, rx) = mpsc::unbounded_channel();
        let conn = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let _ = tx.send(ServerFrame::Welcome {
            device_id: device.id.to_string(),
            heartbeat_s: self.config.heartbeat_s,
        });
        for a in self.store.open_assignments(device.id).await? {
            let _ = tx.send(assign_frame(&a));
        }
        let live = LiveState {
            signal: *signal,
            battery: *battery,
            queue: None,
        };
        let old = self.state().sessions.insert(
            device.id,
            Session {
                conn,
                account: device.account,
                name: device.name.clone(),
                per_minute: device.per_minute,
                per_day: device.per_day,
                tx,
                last_heard: Instant::now(),
                live,
            },
        );
        if let Some(old) = old {
            let _ = old.tx.send(ServerFrame::Error {
                detail: "replaced by a newer connection of this device".into(),
            });
        }
        self.metrics.set_live(device.id, &device.name, Some(live));
        tracing::info!(device = device.id, account = %device.account, "device connected");
        Ok(Connection {
            id: conn,
            frames: rx,
        })
    }

    /// Ends a connection (if it is still the device's current one).
    pub fn disconnect(&self, device: i64, conn: u64) {
        let mut state = self.state();
        if let Some(s) = state.sessions.get(&device) {
            if s.conn == conn {
                let s = state.sessions.remove(&device).expect("present");
                self.metrics.set_live(device, &s.name, None);
                tracing::info!(device, "device disconnected");
            }
        }
    }

    /// Cuts a device off at once (its credential was revoked): the connection gets an error
    /// frame and closes, and nothing more it sends is accepted.
    pub fn cut_off(&self, device: i64) {
        if let Some(s) = self.state().sessions.remove(&device) {
            let _ = s.tx.send(ServerFrame::Error {
                detail: "this device's credential was revoked".into(),
            });
            self.metrics.set_live(device, &s.name, None);
            tracing::info!(device, "device cut off");
        }
    }

    /// Revokes a device of the account and cuts it off at once: its credential stops working
    /// and a connected device is told so and disconnected. `false` when the account has no
    /// such live device.
    pub async fn revoke(&self, account: AccountId, device: i64) -> Result<bool, HubError> {
        if !self
            .store
            .revoke_device(account, device, store::now_us())
            .await?
        {
            return Ok(false);
        }
        self.cut_off(device);
        Ok(true)
    }

    /// Whether `conn` is still the device's connection; touches its last-heard time.
    fn touch(&self, device: i64, conn: u64) -> Result<(), HubError> {
        match self.state().sessions.get_mut(&device) {
            Some(s) if s.conn == conn => {
                s.last_heard = Instant::now();
                Ok(())
            }
            _ => Err(HubError::Closed),
        }
    }

    /// A sign of life on a connection without frames (a long-poll request).
    pub fn keepalive(&self, device: i64, conn: u64) -> Result<(), HubError> {
        self.touch(device, conn)
    }

    fn reply(&self, device: i64, frame: ServerFrame) {
        if let Some(s) = self.state().sessions.get(&device) {
            let _ = s.tx.send(frame);
        }
    }

    fn wake(&self, id: MessageId) {
        if let Some(ws) = self.state().waiters.remove(&id) {
            for w in ws {
                let _ = w.send(());
            }
        }
    }

    /// Applies one frame of a connected device.
    pub async fn handle(
        &self,
        device: &DeviceRecord,
        conn: u64,
        frame: DeviceFrame,
    ) -> Result<(), HubError> {
        self.touch(device.id, conn)?;
        let now = store::now_us();
        match frame {
            DeviceFrame::Hello { .. } => {
                return Err(HubError::Protocol("hello is sent only once".into()));
            }
            DeviceFrame::Heartbeat {
                signal,
                battery,
                queue,
            } => {
                let live = LiveState {
                    signal,
                    battery,
                    queue,
                };
                if let Some(s) = self.state().sessions.get_mut(&device.id) {
                    s.live = live;
                }
                self.metrics.set_live(device.id, &device.name, Some(live));
                self.store
                    .device_seen(
                        device.id,
                        now,
                        None,
                        None,
                        signal.map(i64::from),
                        battery.map(i64::from),
                    )
                    .await?;
            }
            DeviceFrame::Ack { id } => {
                let id = parse_id(&id)?;
                self.store
                    .advance_assignment(device.id, id, AssignmentState::Acked, None, None, now)
                    .await?;
                self.wake(id);
            }
            DeviceFrame::Sent { id, refs } => {
                let mid = parse_id(&id)?;
                let refs = refs
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(",");
                self.store
                    .advance_assignment(
                        device.id,
                        mid,
                        AssignmentState::Sent,
                        Some(&refs),
                        None,
                        now,
                    )
                    .await?;
                self.wake(mid);
                self.reply(device.id, ServerFrame::Confirm { id });
            }
            DeviceFrame::Delivered { id } => {
                self.finish(device, &id, MessageStatus::Delivered, None, now)
                    .await?;
            }
            DeviceFrame::Failed { id, error } => {
                let error: String = error.chars().take(500).collect();
                self.finish(device, &id, MessageStatus::Undeliverable, Some(error), now)
                    .await?;
            }
            DeviceFrame::Inbound {
                reference,
                from,
                text,
                received_at_ms,
            } => {
                let m = NewInbound {
                    id: self.ids.next(),
                    connector: CONNECTOR.to_owned(),
                    from,
                    to: format!("device:{}", device.id),
                    body: text,
                    smsc_id: Some(format!("{}:{reference}", device.id)),
                    received_at: received_at_ms.saturating_mul(1000),
                };
                self.store
                    .store_device_inbound(device.account, &m, &self.keywords)
                    .await?;
                self.reply(device.id, ServerFrame::InboundStored { reference });
            }
        }
        Ok(())
    }

    /// A final report: the message's status changes (as a carrier's receipt would change it)
    /// before the assignment does, and both before the device hears the confirmation.
    async fn finish(
        &self,
        device: &DeviceRecord,
        id: &str,
        status: MessageStatus,
        error: Option<String>,
        now: i64,
    ) -> Result<(), HubError> {
        let mid = parse_id(id)?;
        let ours = self
            .store
            .assignment(mid)
            .await?
            .is_some_and(|a| a.device_id == device.id);
        if ours {
            let reason = error.as_ref().map(|e| format!("device: {e}"));
            self.store
                .apply_receipts(
                    &[store::Receipt {
                        connector: CONNECTOR.to_owned(),
                        smsc_id: mid.to_string(),
                        status,
                        reason,
                    }],
                    now,
                )
                .await?;
            let state = if status == MessageStatus::Delivered {
                AssignmentState::Delivered
            } else {
                AssignmentState::Failed
            };
            self.store
                .advance_assignment(device.id, mid, state, None, error.as_deref(), now)
                .await?;
        } else {
            tracing::warn!(device = device.id, message_id = %mid, "report about a message not assigned to this device");
        }
        self.wake(mid);
        self.reply(device.id, ServerFrame::Confirm { id: id.to_owned() });
        Ok(())
    }

    /// The account's devices connected here that may take one more message now, in
    /// round-robin order.
    async fn candidates(&self, account: AccountId) -> Result<Vec<(i64, u32, u32)>, HubError> {
        let limit = self.offline_after();
        let (mut devices, turn) = {
            let state = self.state();
            let devices: Vec<(i64, u32, u32)> = state
                .sessions
                .iter()
                .filter(|(_, s)| s.account == account && s.last_heard.elapsed() < limit)
                .map(|(id, s)| (*id, s.per_minute, s.per_day))
                .collect();
            (devices, state.turn.get(&account).copied().unwrap_or(0))
        };
        devices.sort_unstable();
        if !devices.is_empty() {
            let n = devices.len();
            devices.rotate_left(turn % n);
        }
        Ok(devices)
    }

    /// Chooses the next device of the account under its limits, and moves the turn on.
    async fn choose(&self, account: AccountId) -> Result<Option<i64>, HubError> {
        let now = store::now_us();
        for (device, per_minute, per_day) in self.candidates(account).await? {
            let (minute, _) = self.store.device_load(device, now - 60_000_000).await?;
            if minute >= per_minute {
                continue;
            }
            let (day, _) = self
                .store
                .device_load(device, now - 24 * 3600 * 1_000_000)
                .await?;
            if day >= per_day {
                continue;
            }
            let mut state = self.state();
            *state.turn.entry(account).or_insert(0) += 1;
            return Ok(Some(device));
        }
        Ok(None)
    }

    /// Hands a message to one of its account's devices (see the [`workers::Connector`]
    /// implementation in [`crate::DeviceConnector`]).
    pub(crate) async fn submit(&self, m: &workers::OutboundMessage) -> Result<Delivery, HubError> {
        let accepted = Delivery::Accepted {
            smsc_id: m.id.to_string(),
        };
        let existing = self.store.assignment(m.id).await?;
        if let Some(a) = &existing {
            if a.state != AssignmentState::Assigned {
                // The device holds it already (a repeat after a crash or a lost answer).
                return Ok(accepted);
            }
        }
        let assigning = self.assigning.lock().await;
        let device = match existing
            .as_ref()
            .map(|a| a.device_id)
            .filter(|d| self.live(*d).is_some())
        {
            Some(d) => Some(d),
            None => self.choose(m.account).await?,
        };
        let Some(device) = device else {
            drop(assigning);
            return self.offline(m).await;
        };
        let a = self
            .store
            .assign(m.id, device, m.account, store::now_us())
            .await?;
        drop(assigning);
        if a.state != AssignmentState::Assigned {
            return Ok(accepted);
        }
        let (tx, rx) = oneshot::channel();
        {
            let mut state = self.state();
            state.waiters.entry(m.id).or_default().push(tx);
            match state.sessions.get(&a.device_id) {
                Some(s) => {
                    let _ = s.tx.send(assign_frame(&a));
                }
                None => {
                    state.waiters.remove(&m.id);
                    return Ok(Delivery::Temporary {
                        reason: "the device went offline".into(),
                    });
                }
            }
        }
        match tokio::time::timeout(self.config.ack_timeout, rx).await {
            Ok(Ok(())) => Ok(accepted),
            _ => {
                self.state().waiters.remove(&m.id);
                Ok(Delivery::Temporary {
                    reason: format!("device {} did not acknowledge in time", a.device_id),
                })
            }
        }
    }

    /// No device can take the message: wait, fail or fall back, as the account chose.
    async fn offline(&self, m: &workers::OutboundMessage) -> Result<Delivery, HubError> {
        let routing = self.store.device_routing(m.account).await?;
        let now_ms = u64::try_from(store::now_us() / 1000).unwrap_or(0);
        let waited_s = now_ms.saturating_sub(m.id.unix_ms()) / 1000;
        if waited_s < u64::from(routing.offline_wait_s) {
            return Ok(Delivery::Temporary {
                reason: "no device of the account is online and under its limits".into(),
            });
        }
        let reason = format!(
            "no device of the account could take it within {} s",
            routing.offline_wait_s
        );
        Ok(match routing.offline_fallback {
            OfflineFallback::Fail => Delivery::Permanent { reason },
            OfflineFallback::Carrier => Delivery::Reroute { reason },
        })
    }

    /// Whether any device is connected to this node.
    pub fn any_online(&self) -> bool {
        !self.state().sessions.is_empty()
    }

    pub fn online_count(&self) -> usize {
        self.state().sessions.len()
    }

    /// Assignments sent to devices and not yet acknowledged.
    pub fn awaiting_ack(&self) -> usize {
        self.state().waiters.len()
    }
}

fn assign_frame(a: &Assignment) -> ServerFrame {
    ServerFrame::Assign {
        id: a.message_id.to_string(),
        to: a.to.clone(),
        text: a.ciphertext.is_none().then(|| a.body.clone()),
        ciphertext: a.ciphertext.clone(),
        parts: a.parts,
        expires_at_ms: a.expires_at / 1000,
    }
}
