//! Applies connectors' delivery receipts to messages, many per transaction.

use std::time::Duration;

use store::Store;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::connector::ConnectorEvent;
use crate::WorkerMetrics;

/// Most receipts in one transaction.
const BATCH: usize = 1000;

/// Takes whatever events are waiting (up to a batch) and applies them. Returns how many
/// receipts were taken; `None` when every sender is gone.
pub async fn run_once(
    store: &Store,
    events: &mut mpsc::Receiver<ConnectorEvent>,
    metrics: &WorkerMetrics,
) -> Result<Option<usize>, store::StoreError> {
    let Some(first) = events.recv().await else {
        return Ok(None);
    };
    let mut batch = Vec::with_capacity(BATCH);
    let ConnectorEvent::Receipt(r) = first;
    batch.push(r);
    while batch.len() < BATCH {
        match events.try_recv() {
            Ok(ConnectorEvent::Receipt(r)) => batch.push(r),
            Err(_) => break,
        }
    }
    apply(store, &batch, metrics).await?;
    Ok(Some(batch.len()))
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

/// Applies receipts until shutdown, then drains what is already queued.
pub async fn run(
    store: Store,
    mut events: mpsc::Receiver<ConnectorEvent>,
    metrics: WorkerMetrics,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            r = run_once(&store, &mut events, &metrics) => match r {
                Ok(Some(_)) => {}
                Ok(None) => return,
                Err(e) => tracing::error!(error = %e, "receipts lost"),
            },
            _ = shutdown.cancelled() => {
                events.close();
                while let Ok(Some(_)) = run_once(&store, &mut events, &metrics).await {}
                return;
            }
        }
    }
}
