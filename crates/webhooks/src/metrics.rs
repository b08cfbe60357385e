//! Metrics of the webhook workers.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: &'static str,
}

#[derive(Clone, Default)]
pub struct WebhookMetrics {
    /// Deliveries created by the fan-out.
    pub deliveries_created: Counter,
    /// Attempts by outcome: delivered, retry, failed.
    pub attempts: Family<OutcomeLabel, Counter>,
}

impl WebhookMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            "apisendsms_webhook_deliveries",
            "Webhook deliveries created (one per event and matching webhook)",
            m.deliveries_created.clone(),
        );
        registry.register(
            "apisendsms_webhook_attempts",
            "Webhook delivery attempts by outcome (delivered, retry, failed)",
            m.attempts.clone(),
        );
        m
    }

    pub(crate) fn attempt(&self, outcome: &'static str) {
        self.attempts.get_or_create(&OutcomeLabel { outcome }).inc();
    }
}
