//! The dispatcher: claims due messages, chooses a connector by the route table (longest prefix,
//! then priority, skipping connectors that are down), submits, and records what happened.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use domain::routing::RouteTable;
use domain::MessageStatus;
use futures::StreamExt;
use store::{Claimed, SendResult, Store};
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

use crate::connector::{Connector, Delivery, OutboundMessage};
use crate::WorkerMetrics;

#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    /// Unique among nodes sharing the database.
    pub node: i64,
    /// Messages claimed at once.
    pub batch: u32,
    /// Submits in flight at once per dispatcher.
    pub concurrency: usize,
    /// How long a claim holds before another node may take the message back.
    pub lease: Duration,
    /// Sleep when nothing is due (the API wakes the dispatcher sooner).
    pub idle_poll: Duration,
    /// Attempts before a temporary failure becomes final.
    pub max_attempts: u32,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        Self {
            node: 0,
            batch: 500,
            concurrency: 256,
            lease: Duration::from_secs(300),
            idle_poll: Duration::from_millis(250),
            max_attempts: 12,
        }
    }
}

/// What one [`Dispatcher::run_once`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DispatchReport {
    pub claimed: usize,
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
}

pub struct Dispatcher {
    store: Store,
    routes: RouteTable,
    connectors: HashMap<String, Arc<dyn Connector>>,
    config: DispatcherConfig,
    metrics: WorkerMetrics,
    /// The channel of messages routed to the account's own devices.
    devices: Option<Arc<dyn Connector>>,
    /// Messages the store's writer claimed for this node as it stored them
    /// ([`Store::hand_off_fresh`]), shared by the workers running [`Dispatcher::run`].
    fresh: tokio::sync::Mutex<Option<mpsc::Receiver<Vec<Claimed>>>>,
}

impl Dispatcher {
    pub fn new(
        store: Store,
        routes: RouteTable,
        connectors: Vec<Arc<dyn Connector>>,
        config: DispatcherConfig,
        metrics: WorkerMetrics,
    ) -> Self {
        let connectors = connectors
            .into_iter()
            .map(|c| (c.name().to_owned(), c))
            .collect();
        Self {
            store,
            routes,
            connectors,
            config,
            metrics,
            devices: None,
            fresh: tokio::sync::Mutex::new(None),
        }
    }

    /// Asks the store to claim fresh messages for this dispatcher as it stores them (up to
    /// `capacity` groups waiting), so that [`Dispatcher::run`] sends them without claiming them
    /// from the database first. The store then wakes `wake` (the one given to `run`) when it
    /// queued messages due now for a claim.
    pub async fn take_fresh_messages(
        &self,
        capacity: usize,
        wake: Arc<Notify>,
    ) -> Result<(), store::StoreError> {
        let rx = self
            .store
            .hand_off_fresh(self.config.node, self.config.lease, capacity, wake)
            .await?;
        *self.fresh.lock().await = Some(rx);
        Ok(())
    }

    /// Sends messages whose route is `device` through `devices` (the account's own phones and
    /// modems) instead of the route table.
    pub fn with_devices(mut self, devices: Arc<dyn Connector>) -> Self {
        self.devices = Some(devices);
        self
    }

    /// Claims one batch of due messages, submits them and records the results.
    pub async fn run_once(&self) -> Result<DispatchReport, store::StoreError> {
        let now = store::now_us();
        let lease_until =
            now + i64::try_from(self.config.lease.as_micros()).unwrap_or(i64::MAX / 2);
        let claimed = self
            .store
            .claim_due(self.config.node, now, lease_until, self.config.batch)
            .await?;
        self.dispatch(claimed).await
    }

    /// Submits claimed messages and records the results.
    async fn dispatch(&self, claimed: Vec<Claimed>) -> Result<DispatchReport, store::StoreError> {
        if claimed.is_empty() {
            return Ok(DispatchReport::default());
        }
        let sends: Vec<_> = claimed.iter().map(|m| self.send_one(m)).collect();
        let results: Vec<SendResult> = futures::stream::iter(sends)
            .buffer_unordered(self.config.concurrency.max(1))
            .collect()
            .await;
        let mut report = DispatchReport {
            claimed: claimed.len(),
            ..DispatchReport::default()
        };
        for r in &results {
            match r {
                SendResult::Sent { .. } => report.sent += 1,
                SendResult::Retry { .. } => report.retried += 1,
                SendResult::Failed { .. } => report.failed += 1,
            }
        }
        self.store.record_results(results, store::now_us()).await?;
        self.metrics.outcome("sent", report.sent as u64);
        self.metrics.outcome("retry", report.retried as u64);
        self.metrics.outcome("failed", report.failed as u64);
        Ok(report)
    }

    async fn send_one(&self, m: &Claimed) -> SendResult {
        let out = OutboundMessage {
            id: m.id,
            account: m.account,
            to: m.to.clone(),
            sender: m.sender.clone(),
            body: m.body.clone(),
            encoding: m.encoding.clone(),
            parts: m.parts,
            expires_at: m.expires_at,
        };
        if m.device {
            let Some(devices) = &self.devices else {
                return self.retry_or_fail(m, "no device channel on this node".into());
            };
            match devices.submit(&out).await {
                Delivery::Reroute { reason } => {
                    tracing::info!(message_id = %m.id, %reason, "device route: falling back to a carrier");
                }
                other => return self.result(m, devices.name(), other),
            }
        }
        let digits = m.to.trim_start_matches('+');
        let connector = self
            .routes
            .candidates(digits)
            .filter_map(|name| self.connectors.get(name))
            .find(|c| c.is_up());
        let Some(connector) = connector else {
            return self.retry_or_fail(m, "no route up for this destination".into());
        };
        let delivery = connector.submit(&out).await;
        self.result(m, connector.name(), delivery)
    }

    fn result(&self, m: &Claimed, connector: &str, delivery: Delivery) -> SendResult {
        match delivery {
            Delivery::Accepted { smsc_id } => SendResult::Sent {
                id: m.id,
                account: m.account,
                price: m.price,
                connector: connector.to_owned(),
                smsc_id,
            },
            Delivery::Temporary { reason } | Delivery::Reroute { reason } => {
                self.retry_or_fail(m, reason)
            }
            Delivery::Permanent { reason } => SendResult::Failed {
                id: m.id,
                account: m.account,
                price: m.price,
                status: MessageStatus::Rejected,
                reason,
            },
        }
    }

    /// Exponential backoff from 2 s up to 10 min; after `max_attempts`, or past the validity
    /// period, the message fails.
    fn retry_or_fail(&self, m: &Claimed, reason: String) -> SendResult {
        let delay_s = 2u64.saturating_pow(m.attempts.min(10)).min(600);
        let retry_at = store::now_us() + i64::try_from(delay_s * 1_000_000).unwrap_or(i64::MAX / 2);
        if m.attempts >= self.config.max_attempts || retry_at >= m.expires_at {
            SendResult::Failed {
                id: m.id,
                account: m.account,
                price: m.price,
                status: MessageStatus::Failed,
                reason: format!("gave up after {} attempts: {reason}", m.attempts),
            }
        } else {
            SendResult::Retry {
                id: m.id,
                reason,
                retry_at,
            }
        }
    }

    /// Runs until `shutdown`: a batch right after another while there is work, otherwise a
    /// wait for `wake`, for fresh messages or for the idle poll. Fresh messages handed over by
    /// the store go first, but the database is still asked at least once per idle poll, so
    /// that scheduled messages and retries are not held back by a steady stream of fresh ones.
    /// The batch in hand is finished before stopping; fresh messages not sent by then are put
    /// back in the queue.
    pub async fn run(self: Arc<Self>, wake: Arc<Notify>, shutdown: CancellationToken) {
        // Whether to ask the database on this pass: at start, when woken, after a claim that
        // found messages, and at least once per idle poll.
        let mut poll = true;
        let mut polled = tokio::time::Instant::now();
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            let batch = self.fresh_batch();
            let handed = !batch.is_empty();
            if handed {
                self.send_fresh(batch).await;
            }
            if poll || polled.elapsed() >= self.config.idle_poll {
                polled = tokio::time::Instant::now();
                match self.run_once().await {
                    Ok(r) if r.claimed > 0 => continue,
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "dispatch failed; retrying"),
                }
            }
            poll = false;
            if handed {
                continue;
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = wake.notified() => poll = true,
                batch = self.next_fresh() => self.send_fresh(batch).await,
                _ = tokio::time::sleep(self.config.idle_poll) => poll = true,
            }
        }
        self.requeue_unsent().await;
    }

    /// Sends fresh messages. A failure to record the results leaves them claimed: they come
    /// back with their lease (or at this node's restart).
    async fn send_fresh(&self, batch: Vec<Claimed>) {
        if let Err(e) = self.dispatch(batch).await {
            tracing::error!(error = %e, "dispatch failed; retrying");
        }
    }

    /// Fresh messages waiting in the queue, up to a batch; none while another worker holds
    /// the queue.
    fn fresh_batch(&self) -> Vec<Claimed> {
        let mut batch = Vec::new();
        let Ok(mut fresh) = self.fresh.try_lock() else {
            return batch;
        };
        let Some(rx) = fresh.as_mut() else {
            return batch;
        };
        while batch.len() < self.config.batch as usize {
            match rx.try_recv() {
                Ok(group) => batch.extend(group),
                Err(_) => break,
            }
        }
        batch
    }

    /// Waits for the next group of fresh messages; forever when there is no queue (or the
    /// store stopped handing messages over).
    async fn next_fresh(&self) -> Vec<Claimed> {
        let mut fresh = self.fresh.lock().await;
        match fresh.as_mut() {
            Some(rx) => match rx.recv().await {
                Some(group) => group,
                None => {
                    *fresh = None;
                    drop(fresh);
                    std::future::pending().await
                }
            },
            None => {
                drop(fresh);
                std::future::pending().await
            }
        }
    }

    /// At shutdown: puts fresh messages that were never submitted back in the queue, due at
    /// once (the first worker to stop does it; the queue is closed for good).
    async fn requeue_unsent(&self) {
        let mut fresh = self.fresh.lock().await;
        let Some(mut rx) = fresh.take() else { return };
        drop(fresh);
        rx.close();
        let now = store::now_us();
        let mut results = Vec::new();
        while let Some(group) = rx.recv().await {
            results.extend(group.into_iter().map(|m| SendResult::Retry {
                id: m.id,
                reason: "not sent before the node stopped".into(),
                retry_at: now,
            }));
        }
        if let Err(e) = self.store.record_results(results, now).await {
            // Still claimed by this node: put back when it starts again.
            tracing::warn!(error = %e, "unsent fresh messages stay claimed until the next start");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use domain::routing::RouteTable;
    use domain::{AccountId, MessageId, MessageStatus, Money};
    use store::{NewMessage, Store, StoreOptions, Submission, SubmitOutcome};
    use tokio::sync::Notify;
    use tokio_util::sync::CancellationToken;

    use super::{Dispatcher, DispatcherConfig};
    use crate::WorkerMetrics;

    /// A message the store handed over and the dispatcher never sent is queued again when
    /// the dispatcher stops, instead of staying claimed until the node starts again.
    #[tokio::test]
    async fn fresh_messages_not_sent_before_shutdown_go_back_to_the_queue() {
        for backend in testkit::backends().await {
            let db = testkit::TestDb::new(backend).await;
            let store = Store::connect(&db.url, StoreOptions::default())
                .await
                .expect("connect");
            let a = AccountId::new(1);
            let now = store::now_us();
            store
                .create_account(a, "a@example.com", "A", Money::from_hundredths(1_000), now)
                .await
                .expect("account");
            let dispatcher = Arc::new(Dispatcher::new(
                store.clone(),
                RouteTable::default(),
                Vec::new(),
                DispatcherConfig {
                    node: 3,
                    ..DispatcherConfig::default()
                },
                WorkerMetrics::default(),
            ));
            let wake = Arc::new(Notify::new());
            dispatcher
                .take_fresh_messages(4, wake.clone())
                .await
                .expect("hand-over");
            let id = MessageId::new(1);
            let submission = Submission {
                account: a,
                submission_id: 1,
                idempotency: None,
                messages: vec![NewMessage {
                    id,
                    to: "+420777000001".into(),
                    sender: "ACME".into(),
                    body: "hello".into(),
                    encoding: "gsm7",
                    parts: 1,
                    price: Money::from_hundredths(90),
                    status: MessageStatus::Queued,
                    client_ref: None,
                    scheduled_at: None,
                    due_at: now,
                    expires_at: now + 3_600_000_000,
                }],
                response: String::new(),
                now,
                smpp: None,
                marketing: false,
                device: None,
            };
            assert_eq!(
                store.submit(submission).await.expect("submit"),
                SubmitOutcome::Accepted
            );
            let status = |store: Store| async move {
                store.get_message(a, id).await.unwrap().unwrap().status
            };
            assert_eq!(status(store.clone()).await, MessageStatus::Sending);

            let shutdown = CancellationToken::new();
            shutdown.cancel();
            dispatcher.clone().run(wake, shutdown).await;
            assert_eq!(status(store.clone()).await, MessageStatus::Queued);
            assert!(store.ledger_consistent(a).await.expect("ledger"));
            store.close().await;
        }
    }
}
