//! The fan-out: turns feed events into deliveries, one per matching webhook.
//!
//! A webhook gets the events that happened after it was created, of the types it subscribed
//! to, for its own account. `sending` (the dispatcher's internal claim) is not a status a
//! customer is told about. Deliveries and the cursor move commit together
//! (`Store::fan_out`): after a crash the same events are read again and create nothing twice.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use domain::IdGenerator;
use serde_json::json;
use store::{
    FeedBatch, FeedEvent, FeedEventKind, FeedSource, GapTracker, NewDelivery, Store, WebhookRecord,
};
use tokio_util::sync::CancellationToken;

use crate::{WebhookConfig, WebhookMetrics, EVENT_INBOUND, EVENT_MESSAGE_STATUS};

/// The cursor names of the two feeds.
pub const CONSUMER_MESSAGE_EVENTS: &str = "webhooks.message_events";
pub const CONSUMER_INBOUND: &str = "webhooks.inbound";

/// How many times `batch` ids one skim reads (ids only, no payloads).
const SKIM_FACTOR: u32 = 20;

pub struct FanOut {
    store: Store,
    ids: Arc<IdGenerator>,
    metrics: WebhookMetrics,
    batch: u32,
    message_gaps: GapTracker,
    inbound_gaps: GapTracker,
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FanOutReport {
    /// Feed events read and passed.
    pub events: usize,
    /// Feed positions passed without reading the events (no webhooks anywhere).
    pub skimmed: usize,
    /// Deliveries created.
    pub deliveries: usize,
}

impl FanOut {
    pub fn new(
        store: Store,
        ids: Arc<IdGenerator>,
        config: &WebhookConfig,
        metrics: WebhookMetrics,
    ) -> Self {
        Self {
            store,
            ids,
            metrics,
            batch: config.batch.max(1),
            message_gaps: GapTracker::new(config.gap_grace),
            inbound_gaps: GapTracker::new(config.gap_grace),
        }
    }

    /// One read of each feed. While no account has a webhook the events are only skimmed
    /// (ids read, cursor moved): the webhooks are looked up after the ids were read, so a
    /// webhook created later was created after every skimmed event and was owed none of them.
    pub async fn run_once(&mut self, now: i64) -> Result<FanOutReport, store::StoreError> {
        let mut report = FanOutReport::default();
        for (source, consumer) in [
            (FeedSource::MessageEvents, CONSUMER_MESSAGE_EVENTS),
            (FeedSource::Inbound, CONSUMER_INBOUND),
        ] {
            let gaps = match source {
                FeedSource::MessageEvents => &mut self.message_gaps,
                FeedSource::Inbound => &mut self.inbound_gaps,
            };
            if !self.store.any_webhooks().await? {
                let skimmed = self
                    .store
                    .skim_feed(
                        source,
                        consumer,
                        self.batch.saturating_mul(SKIM_FACTOR),
                        gaps,
                        now,
                    )
                    .await?;
                if skimmed.to == skimmed.from || self.store.any_webhooks().await? {
                    continue;
                }
                if self
                    .store
                    .fan_out(consumer, skimmed.from, skimmed.to, Vec::new(), now)
                    .await?
                {
                    report.skimmed += usize::try_from(skimmed.to - skimmed.from).unwrap_or(0);
                }
                continue;
            }
            let batch = self
                .store
                .read_feed(source, consumer, self.batch, gaps, now)
                .await?;
            if batch.to == batch.from {
                continue;
            }
            let accounts: Vec<_> = batch
                .events
                .iter()
                .filter_map(FeedEvent::account)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let hooks = if accounts.is_empty() {
                Vec::new()
            } else {
                self.store.webhooks_of(&accounts).await?
            };
            let deliveries = deliveries(&batch, &hooks, &self.ids);
            let created = deliveries.len();
            if self
                .store
                .fan_out(consumer, batch.from, batch.to, deliveries, now)
                .await?
            {
                report.events += batch.events.len();
                report.deliveries += created;
                self.metrics.deliveries_created.inc_by(created as u64);
            }
        }
        Ok(report)
    }

    /// Passes on events until shutdown. Events for webhooks are read again at once while
    /// there are some; a skim goes on at once only when it found a full one waiting (a
    /// backlog), else it waits for `poll` like an empty read: skimming more often than that
    /// only moves a cursor nobody needs yet, with reads and a write every time.
    pub async fn run(mut self, poll: Duration, shutdown: CancellationToken) {
        let full_skim =
            usize::try_from(self.batch.saturating_mul(SKIM_FACTOR)).unwrap_or(usize::MAX);
        loop {
            let busy = match self.run_once(store::now_us()).await {
                Ok(r) => r.events > 0 || r.skimmed >= full_skim,
                Err(e) => {
                    tracing::error!(error = %e, "webhook fan-out failed");
                    false
                }
            };
            if !busy {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(poll) => {}
                }
            } else if shutdown.is_cancelled() {
                return;
            }
        }
    }
}

/// The deliveries a batch of events makes for these webhooks.
fn deliveries(batch: &FeedBatch, hooks: &[WebhookRecord], ids: &IdGenerator) -> Vec<NewDelivery> {
    let mut out = Vec::new();
    for event in &batch.events {
        let Some(account) = event.account() else {
            continue;
        };
        let Some((event_type, key, at, payload)) = describe(event) else {
            continue;
        };
        for hook in hooks {
            if hook.account == account
                && hook.events.iter().any(|e| e == event_type)
                && at >= hook.created_at
            {
                out.push(NewDelivery {
                    id: ids.next(),
                    webhook_id: hook.id,
                    account,
                    event_type: event_type.to_owned(),
                    event_key: key.clone(),
                    payload: payload.clone(),
                });
            }
        }
    }
    out
}

/// (type, deduplication key, time, JSON payload) of an event customers are told about.
fn describe(event: &FeedEvent) -> Option<(&'static str, String, i64, String)> {
    match &event.kind {
        FeedEventKind::MessageStatus {
            message_id,
            status,
            reason,
            at,
            to,
            client_ref,
            ..
        } => {
            if status == "sending" {
                return None;
            }
            let payload = json!({
                "type": EVENT_MESSAGE_STATUS,
                "created_at": rfc3339(*at),
                "data": {
                    "message_id": message_id.get().to_string(),
                    "status": status,
                    "reason": reason,
                    "to": to,
                    "client_ref": client_ref,
                    "at": rfc3339(*at),
                },
            });
            Some((
                EVENT_MESSAGE_STATUS,
                format!("message_event:{}", event.seq),
                *at,
                payload.to_string(),
            ))
        }
        FeedEventKind::Inbound {
            inbound_id,
            from,
            to,
            body,
            connector,
            received_at,
            ..
        } => {
            let payload = json!({
                "type": EVENT_INBOUND,
                "created_at": rfc3339(*received_at),
                "data": {
                    "id": inbound_id.to_string(),
                    "from": from,
                    "to": to,
                    "text": body,
                    "connector": connector,
                    "received_at": rfc3339(*received_at),
                },
            });
            Some((
                EVENT_INBOUND,
                format!("inbound:{inbound_id}"),
                *received_at,
                payload.to_string(),
            ))
        }
    }
}

/// UTC microseconds as RFC 3339.
pub(crate) fn rfc3339(us: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{AccountId, MessageId};

    fn hook(id: i64, account: i64, events: &[&str], created_at: i64) -> WebhookRecord {
        WebhookRecord {
            id,
            account: AccountId::new(account),
            url: "https://example.com/hook".into(),
            events: events.iter().map(|e| (*e).to_owned()).collect(),
            secret: String::new(),
            created_at,
        }
    }

    fn status(seq: i64, account: i64, status: &str, at: i64) -> FeedEvent {
        FeedEvent {
            seq,
            kind: FeedEventKind::MessageStatus {
                message_id: MessageId::new(77),
                account: Some(AccountId::new(account)),
                status: status.into(),
                reason: None,
                at,
                to: Some("+420777123456".into()),
                client_ref: Some("order-1".into()),
            },
        }
    }

    #[test]
    fn events_go_to_matching_webhooks_of_their_account_only() {
        let batch = FeedBatch {
            from: 0,
            to: 4,
            events: vec![
                status(1, 1, "queued", 100),
                status(2, 1, "sending", 101),
                status(3, 2, "sent", 102),
                FeedEvent {
                    seq: 4,
                    kind: FeedEventKind::Inbound {
                        inbound_id: 9,
                        account: Some(AccountId::new(1)),
                        from: "+420777123456".into(),
                        to: "4209000".into(),
                        body: "STOP".into(),
                        connector: "smsc".into(),
                        received_at: 103,
                    },
                },
            ],
        };
        let hooks = [
            hook(10, 1, &[EVENT_MESSAGE_STATUS, EVENT_INBOUND], 0),
            hook(11, 1, &[EVENT_INBOUND], 0),
            hook(12, 2, &[EVENT_MESSAGE_STATUS], 0),
            // Created after the event: not told about it.
            hook(13, 2, &[EVENT_MESSAGE_STATUS], 103),
        ];
        let made = deliveries(&batch, &hooks, &IdGenerator::new(1));
        let got: Vec<(i64, &str)> = made
            .iter()
            .map(|d| (d.webhook_id, d.event_key.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (10, "message_event:1"),
                (12, "message_event:3"),
                (10, "inbound:9"),
                (11, "inbound:9"),
            ]
        );
        let p: serde_json::Value = serde_json::from_str(&made[0].payload).unwrap();
        assert_eq!(p["type"], "message.status");
        assert_eq!(p["data"]["status"], "queued");
        assert_eq!(p["data"]["message_id"], "77");
        assert_eq!(p["data"]["client_ref"], "order-1");
        let p: serde_json::Value = serde_json::from_str(&made[2].payload).unwrap();
        assert_eq!(p["data"]["text"], "STOP");
        assert_eq!(p["data"]["id"], "9");
    }
}
