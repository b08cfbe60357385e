//! An in-process carrier for development and tests: it accepts every message, gives it an id,
//! and reports a delivery receipt after a delay with a configurable share of failures.
//! A message submitted again with the same message id (after a crash) gets the same carrier id
//! and no second receipt, as a deduplicating SMSC would do.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use domain::{MessageId, MessageStatus};
use tokio::sync::mpsc;

use crate::connector::{Connector, ConnectorEvent, Delivery, OutboundMessage};

#[derive(Debug, Clone)]
pub struct SimCarrierConfig {
    pub name: String,
    pub receipt_delay: Duration,
    /// Per mille of messages that end undeliverable (chosen by message id, so repeatable).
    pub undeliverable_per_mille: u32,
}

impl Default for SimCarrierConfig {
    fn default() -> Self {
        Self {
            name: "sim".into(),
            receipt_delay: Duration::from_millis(200),
            undeliverable_per_mille: 0,
        }
    }
}

pub struct SimCarrier {
    config: SimCarrierConfig,
    events: mpsc::Sender<ConnectorEvent>,
    next: AtomicU64,
    seen: Mutex<HashMap<MessageId, String>>,
    /// Receipts scheduled but not yet reported.
    pending: Arc<tokio::sync::watch::Sender<usize>>,
}

impl SimCarrier {
    pub fn new(config: SimCarrierConfig, events: mpsc::Sender<ConnectorEvent>) -> Self {
        Self {
            config,
            events,
            next: AtomicU64::new(1),
            seen: Mutex::new(HashMap::new()),
            pending: Arc::new(tokio::sync::watch::Sender::new(0)),
        }
    }

    /// Messages taken, counting each message id once.
    pub fn unique_submissions(&self) -> usize {
        self.seen.lock().expect("sim carrier").len()
    }
}

#[async_trait]
impl Connector for SimCarrier {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn is_up(&self) -> bool {
        true
    }

    async fn submit(&self, message: &OutboundMessage) -> Delivery {
        let smsc_id = {
            let mut seen = self.seen.lock().expect("sim carrier");
            if let Some(existing) = seen.get(&message.id) {
                return Delivery::Accepted {
                    smsc_id: existing.clone(),
                };
            }
            let id = format!("{:016x}", self.next.fetch_add(1, Ordering::Relaxed));
            seen.insert(message.id, id.clone());
            id
        };
        let failed = (message.id.get().unsigned_abs() % 1000)
            < u64::from(self.config.undeliverable_per_mille);
        let (status, reason) = if failed {
            (
                MessageStatus::Undeliverable,
                Some("UNDELIV err:001".to_owned()),
            )
        } else {
            (MessageStatus::Delivered, None)
        };
        let receipt = store::Receipt {
            connector: self.config.name.clone(),
            smsc_id: smsc_id.clone(),
            status,
            reason,
        };
        let events = self.events.clone();
        let delay = self.config.receipt_delay;
        let pending = self.pending.clone();
        pending.send_modify(|n| *n += 1);
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = events.send(ConnectorEvent::Receipt(receipt)).await;
            pending.send_modify(|n| *n -= 1);
        });
        Delivery::Accepted { smsc_id }
    }

    /// Waits until every scheduled receipt has been reported.
    async fn shutdown(&self) {
        let mut rx = self.pending.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }
}
