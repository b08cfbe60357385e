//! Metrics of the HTTP API.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    pub status: u16,
}

#[derive(Clone, Default)]
pub struct ApiMetrics {
    pub messages_accepted: Counter,
    pub submit_responses: Family<StatusLabel, Counter>,
}

impl ApiMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            "apisendsms_messages_accepted",
            "Messages accepted by the API",
            m.messages_accepted.clone(),
        );
        registry.register(
            "apisendsms_submit_responses",
            "Answers to message submissions by HTTP status",
            m.submit_responses.clone(),
        );
        m
    }
}
