//! The sender: claims due deliveries and POSTs them, signed, to their webhooks.
//!
//! A 2xx answer delivers. Anything else (another status, a timeout, a refused connection) is
//! tried again after the next wait of the retry schedule, lengthened by a random jitter so
//! that a receiver coming back is not hit by every retry at once; after the last wait the
//! delivery is `failed`. Redirects are not followed (a redirect is an answer that is not 2xx).
//! Every attempt is recorded with its time, duration and status code or error. Only public
//! addresses are posted to, unless the deployment allows private ones ([`crate::targets`]).
//!
//! A claim holds a delivery for the attempt's timeout plus a margin; a node that dies meanwhile
//! leaves it to be sent again when the claim lapses, which receivers absorb by deduplicating on
//! `X-Apisendsms-Delivery`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use store::{AttemptResult, DeliveryState, DueDelivery, Store};
use tokio_util::sync::CancellationToken;

use crate::signing::{signature, HEADER_DELIVERY, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use crate::{SecretsKey, WebhookConfig, WebhookMetrics};

/// How much longer than the attempt's timeout a claim lasts.
const CLAIM_MARGIN: Duration = Duration::from_secs(30);
/// The longest error text kept per attempt.
const MAX_ERROR: usize = 500;

pub struct Sender {
    store: Store,
    key: Arc<SecretsKey>,
    client: reqwest::Client,
    config: WebhookConfig,
    metrics: WebhookMetrics,
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SendReport {
    pub delivered: usize,
    pub retry: usize,
    pub failed: usize,
}

impl SendReport {
    pub fn total(&self) -> usize {
        self.delivered + self.retry + self.failed
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SenderError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("building the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

impl Sender {
    pub fn new(
        store: Store,
        key: Arc<SecretsKey>,
        config: WebhookConfig,
        metrics: WebhookMetrics,
    ) -> Result<Self, SenderError> {
        let mut client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("apisendsms-webhooks/", env!("CARGO_PKG_VERSION")));
        if !config.allow_private_targets {
            client = client.dns_resolver(Arc::new(crate::targets::PublicOnly));
        }
        let client = client.build()?;
        Ok(Self {
            store,
            key,
            client,
            config,
            metrics,
        })
    }

    /// Claims the due deliveries and attempts each once.
    pub async fn run_once(&self) -> Result<SendReport, SenderError> {
        let now = store::now_us();
        let lease =
            i64::try_from((self.config.timeout + CLAIM_MARGIN).as_micros()).unwrap_or(i64::MAX / 2);
        let due = self
            .store
            .claim_deliveries(now, now + lease, self.config.batch.max(1))
            .await?;
        if due.is_empty() {
            return Ok(SendReport::default());
        }
        let results: Vec<AttemptResult> = futures::stream::iter(due)
            .map(|d| self.attempt(d))
            .buffer_unordered(self.config.concurrency.max(1))
            .collect()
            .await;
        let mut report = SendReport::default();
        for r in &results {
            let outcome = match r.state {
                DeliveryState::Delivered => {
                    report.delivered += 1;
                    "delivered"
                }
                DeliveryState::Retry(_) => {
                    report.retry += 1;
                    "retry"
                }
                DeliveryState::Failed => {
                    report.failed += 1;
                    "failed"
                }
            };
            self.metrics.attempt(outcome);
        }
        self.store.record_attempts(&results).await?;
        Ok(report)
    }

    async fn attempt(&self, d: DueDelivery) -> AttemptResult {
        let at = store::now_us();
        let started = Instant::now();
        let (status_code, error) = if d.webhook_deleted {
            (None, Some("the webhook was deleted".to_owned()))
        } else {
            match self.key.decrypt(d.webhook_id, &d.secret) {
                Ok(secret) => self.post(&d, &secret).await,
                Err(e) => {
                    tracing::error!(webhook = d.webhook_id, error = %e, "webhook secret unusable");
                    (None, Some(e.to_string()))
                }
            }
        };
        let duration_us = i64::try_from(started.elapsed().as_micros()).unwrap_or(i64::MAX);
        let ok = status_code.is_some_and(|c| (200..300).contains(&c));
        let state = if ok {
            DeliveryState::Delivered
        } else if d.webhook_deleted {
            DeliveryState::Failed
        } else {
            match self.config.retry_schedule.get(d.attempts as usize) {
                Some(wait) => DeliveryState::Retry(at + jittered(*wait, self.config.jitter)),
                None => DeliveryState::Failed,
            }
        };
        if !ok {
            tracing::info!(
                delivery = d.id,
                webhook = d.webhook_id,
                status = ?status_code,
                error = error.as_deref().unwrap_or(""),
                ?state,
                "webhook attempt not delivered"
            );
        }
        AttemptResult {
            delivery_id: d.id,
            at,
            duration_us,
            status_code,
            error,
            state,
        }
    }

    /// POSTs the payload; the status code, or why there was none.
    async fn post(&self, d: &DueDelivery, secret: &str) -> (Option<u16>, Option<String>) {
        if !self.config.allow_private_targets {
            if let Some(why) = crate::targets::refusal(&d.url) {
                return (None, Some(why));
            }
        }
        let timestamp = store::now_us() / 1_000_000;
        let sent = self
            .client
            .post(&d.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(HEADER_TIMESTAMP, timestamp.to_string())
            .header(
                HEADER_SIGNATURE,
                signature(secret, timestamp, d.payload.as_bytes()),
            )
            .header(HEADER_DELIVERY, d.id.to_string())
            .body(d.payload.clone())
            .send()
            .await;
        match sent {
            Ok(resp) => {
                let code = resp.status().as_u16();
                // Read (a bounded part of) the answer so the connection can be reused.
                let _ = tokio::time::timeout(Duration::from_secs(1), resp.bytes()).await;
                let error = (!(200..300).contains(&code)).then(|| format!("HTTP {code}"));
                (Some(code), error)
            }
            Err(e) => {
                let mut text = if e.is_timeout() {
                    format!("timed out after {:?}", self.config.timeout)
                } else {
                    error_chain(&e)
                };
                text.truncate(MAX_ERROR);
                (None, Some(text))
            }
        }
    }

    /// Sends until shutdown; attempts in flight finish first.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            let busy = match self.run_once().await {
                Ok(r) => r.total() > 0,
                Err(e) => {
                    tracing::error!(error = %e, "webhook sender failed");
                    false
                }
            };
            if !busy || shutdown.is_cancelled() {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(self.config.poll) => {}
                }
            }
        }
    }
}

/// `wait` lengthened by a random fraction up to `jitter`, in microseconds.
fn jittered(wait: Duration, jitter: f64) -> i64 {
    let base = wait.as_micros() as f64;
    let extra = base * jitter.clamp(0.0, 1.0) * rand::random::<f64>();
    (base + extra) as i64
}

/// An error and its causes, one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_only_lengthens_and_stays_bounded() {
        for _ in 0..1000 {
            let j = jittered(Duration::from_secs(10), 0.2);
            assert!((10_000_000..=12_000_000).contains(&j), "{j}");
        }
        assert_eq!(jittered(Duration::from_secs(3), 0.0), 3_000_000);
    }
}
