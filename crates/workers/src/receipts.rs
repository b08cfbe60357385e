//! Applies connectors' delivery receipts to messages, many per transaction.

use std::time::Duration;

use store::Store;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::connector::ConnectorEvent;
use crate::WorkerMetrics;

/// Most receipts in one transaction.
const BATCH: usize = 1000;

/// Applies `first` and whatever else is already waiting (up to a batch). Returns how many
/// receipts were applied.
pub async fn run_once(
    store: &Store,
    first: ConnectorEvent,
    events: &mut mpsc::Receiver<ConnectorEvent>,
    metrics: &WorkerMetrics,
) -> Result<usize, store::StoreError> {
    let mut batch = Vec::with_capacity(BATCH);
    let mut take = |e: ConnectorEvent| match e {
        ConnectorEvent::Receipt(r) => batch.push(r),
        ConnectorEvent::Inbound(m) => {
            tracing::warn!(connector = %m.connector, "inbound SMS skipped")
        }
    };
    take(first);
    for _ in 1..BATCH {
        match events.try_recv() {
            Ok(e) => take(e),
            Err(_) => break,
        }
    }
    apply(store, &batch, metrics).await?;
    Ok(batch.len())
}

async fn apply(
    store: &Store,
    batch: &[store::Receipt],
    metrics: &WorkerMetrics,
) -> Result<(), store::StoreError> {
    let mut delay = Duration::from_millis(50);
    loop {
        match store.apply_receipts(batch, store::now_us()).await {
            Ok(n) => {
                metrics.receipts.inc_by(n as u64);
                return Ok(());
            }
            // Receipts exist only in memory here: keep trying rather than drop them.
            Err(e) if delay < Duration::from_secs(30) => {
                tracing::warn!(error = %e, "applying receipts failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Applies receipts until shutdown, then drains what is already queued. Only the wait for the
/// next event is cancelled; a batch taken from the channel is always applied.
pub async fn run(
    store: Store,
    mut events: mpsc::Receiver<ConnectorEvent>,
    metrics: WorkerMetrics,
    shutdown: CancellationToken,
) {
    loop {
        let next = tokio::select! {
            e = events.recv() => e,
            _ = shutdown.cancelled() => {
                events.close();
                events.recv().await
            }
        };
        let Some(first) = next else { return };
        if let Err(e) = run_once(&store, first, &mut events, &metrics).await {
            tracing::error!(error = %e, "receipts could not be applied");
        }
    }
}
