//! Signed webhooks: message status changes and inbound messages POSTed to the customers'
//! endpoints, with retries.
//!
//! - [`billing`]: `credit.low` and `invoice.overdue`, whose deliveries the billing worker
//!   creates with the notice it records.
//! - [`fanout`]: reads the event feed (`store::feed`) and creates one delivery per matching
//!   webhook, in one transaction with the cursor move.
//! - [`sender`]: claims due deliveries, POSTs them signed, and retries with exponential backoff
//!   and jitter for at least a day (configurable) before a delivery is `failed`.
//! - [`signing`]: `X-Apisendsms-Signature: v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
//! - [`secrets`]: the signing secrets are encrypted at rest (ChaCha20-Poly1305) with the
//!   service's secrets key.
//!
//! Each worker has a `run_once` that returns what it did, wrapped in a thin loop.
//! Invariant: an event is delivered at least once to every webhook that existed and matched
//! when it happened; receivers deduplicate by `X-Apisendsms-Delivery`.
//! Boundary: knows the store, HTTP as a client and the JSON of the webhook payloads; nothing of
//! the API's routes.
#![forbid(unsafe_code)]

pub mod billing;
pub mod fanout;
pub mod metrics;
pub mod secrets;
pub mod sender;
pub mod signing;
pub mod targets;

use std::time::Duration;

pub use metrics::WebhookMetrics;
pub use secrets::{generate_secret, SecretsKey};

/// The event types a webhook can subscribe to.
pub const EVENT_TYPES: [&str; 4] = [
    EVENT_MESSAGE_STATUS,
    EVENT_INBOUND,
    EVENT_CREDIT_LOW,
    EVENT_INVOICE_OVERDUE,
];
pub const EVENT_MESSAGE_STATUS: &str = "message.status";
pub const EVENT_INBOUND: &str = "inbound";
/// The credit fell under the customer's threshold ([`billing`]).
pub const EVENT_CREDIT_LOW: &str = "credit.low";
/// A reminder of a postpaid invoice not paid by its due date ([`billing`]).
pub const EVENT_INVOICE_OVERDUE: &str = "invoice.overdue";

/// Tuning of the webhook workers.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// The waits between attempts; after the last one a delivery fails. Each wait is
    /// lengthened by up to [`WebhookConfig::jitter`] at random.
    pub retry_schedule: Vec<Duration>,
    /// Largest random addition to a wait, as a fraction of it (0.2 = up to 20 % longer).
    pub jitter: f64,
    /// Timeout of one HTTP attempt, connect to last byte.
    pub timeout: Duration,
    /// How often the workers look for new work when idle.
    pub poll: Duration,
    /// How long a missing feed id may hold the cursor (see `store::feed`).
    pub gap_grace: Duration,
    /// Deliveries per claim and events per feed read.
    pub batch: u32,
    /// Attempts in flight at once.
    pub concurrency: usize,
    /// Deliver also to loopback, private and link-local addresses ([`targets`]).
    pub allow_private_targets: bool,
}

impl WebhookConfig {
    /// The default schedule: 10 waits from 5 s to 12 h, about 27.7 hours in all.
    pub fn default_schedule() -> Vec<Duration> {
        [5, 30, 120, 600, 1800, 3600, 7200, 14_400, 28_800, 43_200]
            .into_iter()
            .map(Duration::from_secs)
            .collect()
    }
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            retry_schedule: Self::default_schedule(),
            jitter: 0.2,
            timeout: Duration::from_secs(10),
            poll: Duration::from_millis(250),
            gap_grace: Duration::from_secs(5),
            batch: 500,
            concurrency: 32,
            allow_private_targets: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_retries_for_more_than_a_day() {
        let total: Duration = WebhookConfig::default_schedule().iter().sum();
        assert!(total >= Duration::from_secs(24 * 3600), "{total:?}");
    }
}
