//! Periodic upkeep: messages past their validity expire, dead nodes' claims come back, receipts
//! that came early find their messages.

use std::time::Duration;

use store::Store;
use tokio_util::sync::CancellationToken;

use crate::WorkerMetrics;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MaintenanceReport {
    pub expired: usize,
    pub recovered: usize,
    pub late_receipts: usize,
}

/// How long an unmatched receipt waits for its message.
const PENDING_RECEIPT_TTL_US: i64 = 24 * 3600 * 1_000_000;

pub async fn run_once(
    store: &Store,
    now: i64,
    metrics: &WorkerMetrics,
) -> Result<MaintenanceReport, store::StoreError> {
    let expired = store.expire_due(now, 10_000).await?;
    metrics.expired.inc_by(expired as u64);
    let recovered = store.recover_expired_leases(now).await?;
    let late_receipts = store
        .match_pending_receipts(now, now - PENDING_RECEIPT_TTL_US)
        .await?;
    metrics.receipts.inc_by(late_receipts as u64);
    Ok(MaintenanceReport {
        expired,
        recovered,
        late_receipts,
    })
}

pub async fn run(
    store: Store,
    every: Duration,
    metrics: WorkerMetrics,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {
                match run_once(&store, store::now_us(), &metrics).await {
                    Ok(r) if r != MaintenanceReport::default() => tracing::info!(?r, "maintenance"),
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "maintenance failed"),
                }
            }
        }
    }
}
