//! Metrics of the background workers.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConnectorLabel {
    pub connector: String,
}

#[derive(Clone, Default)]
pub struct WorkerMetrics {
    /// 1 when the connector can take messages.
    pub connector_up: Family<ConnectorLabel, Gauge>,
    pub connector_window_in_use: Family<ConnectorLabel, Gauge>,
    pub connector_submitted_per_second: Family<ConnectorLabel, Gauge>,
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
        registry.register(
            "apisendsms_inbound",
            "Inbound (mobile-originated) messages stored",
            m.inbound.clone(),
        );
        registry.register(
            "apisendsms_connector_up",
            "Whether the connector can take messages (SMPP: bound)",
            m.connector_up.clone(),
        );
        registry.register(
            "apisendsms_connector_window_in_use",
            "Requests sent to the connector's peer and not yet answered",
            m.connector_window_in_use.clone(),
        );
        registry.register(
            "apisendsms_connector_submitted_per_second",
            "Submits accepted by the connector's peer in the last whole second",
            m.connector_submitted_per_second.clone(),
        );
        m
    }

    pub(crate) fn connector_state(
        &self,
        name: &str,
        up: bool,
        load: crate::connector::ConnectorLoad,
    ) {
        let label = ConnectorLabel {
            connector: name.to_owned(),
        };
        self.connector_up.get_or_create(&label).set(i64::from(up));
        self.connector_window_in_use
            .get_or_create(&label)
            .set(i64::try_from(load.window_in_use).unwrap_or(i64::MAX));
        self.connector_submitted_per_second
            .get_or_create(&label)
            .set(i64::try_from(load.submitted_last_second).unwrap_or(i64::MAX));
    }

    pub(crate) fn outcome(&self, outcome: &'static str, n: u64) {
        if n > 0 {
            self.dispatched
                .get_or_create(&OutcomeLabel { outcome })
                .inc_by(n);
        }
    }
}
