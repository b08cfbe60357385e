//! Metrics of the background workers.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: &'static str,
}

#[derive(Clone, Default)]
pub struct WorkerMetrics {
    /// Dispatch outcomes: sent, retry, failed.
    pub dispatched: Family<OutcomeLabel, Counter>,
    pub receipts: Counter,
    pub inbound: Counter,
    pub expired: Counter,
}

impl WorkerMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            "apisendsms_dispatched",
            "Messages handed to connectors by outcome",
            m.dispatched.clone(),
        );
        registry.register(
            "apisendsms_receipts",
            "Delivery receipts applied",
            m.receipts.clone(),
        );
        registry.register(
            "apisendsms_expired",
            "Messages expired before sending",
            m.expired.clone(),
        );
        m
    }

    pub(crate) fn outcome(&self, outcome: &'static str, n: u64) {
        if n > 0 {
            self.dispatched
                .get_or_create(&OutcomeLabel { outcome })
                .inc_by(n);
        }
    }
}
