//! The interface of delivery channels.

use async_trait::async_trait;
use domain::{AccountId, MessageId};

/// A message handed to a connector.
#[derive(Debug, Clone)]
pub struct OutboundMessage {
    pub id: MessageId,
    pub account: AccountId,
    /// E.164 with '+'.
    pub to: String,
    pub sender: String,
    pub body: String,
    /// "gsm7" or "ucs2".
    pub encoding: String,
    pub parts: u32,
    /// Unix microseconds after which the carrier should give up.
    pub expires_at: i64,
}

/// What a connector says about one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The carrier took it and gave it this id (receipts name it).
    Accepted { smsc_id: String },
    /// Try again later (throttled, queue full, connection lost).
    Temporary { reason: String },
    /// Will never work (bad number, refused content).
    Permanent { reason: String },
    /// This channel will not take it: send it by the carrier route table instead (a device
    /// route whose devices stayed offline past the account's wait).
    Reroute { reason: String },
}

/// What connectors report without being asked.
#[derive(Debug, Clone)]
pub enum ConnectorEvent {
    Receipt(store::Receipt),
    /// A mobile-originated message (a reply, an opt-out keyword).
    Inbound(InboundSms),
}

/// A message a handset sent to one of our numbers, as a connector received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundSms {
    /// The connector it arrived on.
    pub connector: String,
    /// The sender: E.164 with '+' when the carrier marked it international, else as received.
    pub from: String,
    /// Our number or short code it was sent to (same convention as `from`).
    pub to: String,
    pub text: String,
    /// The carrier's id for it, when the carrier gives one.
    pub smsc_id: Option<String>,
    /// Unix microseconds.
    pub received_at: i64,
}

/// Live load of a connector, for operators.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectorLoad {
    /// Requests sent and not yet answered.
    pub window_in_use: usize,
    /// Submits (parts) accepted in the last whole second.
    pub submitted_last_second: u64,
    /// Submits (parts) accepted since the connector started.
    pub submitted_total: u64,
}

#[async_trait]
pub trait Connector: Send + Sync + 'static {
    /// The name routes refer to.
    fn name(&self) -> &str;
    /// Whether it can take messages now; a connector that is down is skipped (failover).
    fn is_up(&self) -> bool;
    async fn submit(&self, message: &OutboundMessage) -> Delivery;
    /// What it is doing now; connectors without a window report zeros.
    fn load(&self) -> ConnectorLoad {
        ConnectorLoad::default()
    }
    /// Called once at shutdown, after the last submit: finish reporting what is owed (receipts
    /// already due) so that nothing known is lost.
    async fn shutdown(&self) {}
}

/// Publishes every connector's state in the metrics once per `every`, until shutdown.
pub async fn report_state(
    connectors: Vec<std::sync::Arc<dyn Connector>>,
    metrics: crate::WorkerMetrics,
    every: std::time::Duration,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {
                for c in &connectors {
                    metrics.connector_state(c.name(), c.is_up(), c.load());
                }
            }
        }
    }
}
