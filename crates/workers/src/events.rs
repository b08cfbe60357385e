//! Applies what connectors report: delivery receipts to messages and inbound messages to the
//! inbox, many per transaction. A single-word opt-out reply (the configurable [`Keywords`])
//! puts its sender on the Blacklist of the account the reply was assigned to (`STOPALL`: the
//! global one) in the transaction that stores it; an opt-in reply lifts what the sender's own
//! reply had put there.

use std::time::Duration;

use domain::optout::Keywords;
use domain::IdGenerator;
use store::{NewInbound, Store};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::connector::ConnectorEvent;
use crate::WorkerMetrics;

/// Most events in one transaction.
const BATCH: usize = 1000;

/// Applies `first` and whatever else is already waiting (up to a batch). Returns how many
/// events were applied.
pub async fn run_once(
    store: &Store,
    ids: &IdGenerator,
    first: ConnectorEvent,
    events: &mut mpsc::Receiver<ConnectorEvent>,
    metrics: &WorkerMetrics,
    keywords: &Keywords,
) -> Result<usize, store::StoreError> {
    let mut receipts = Vec::new();
    let mut inbound = Vec::new();
    let mut take = |e: ConnectorEvent| match e {
        ConnectorEvent::Receipt(r) => receipts.push(r),
        ConnectorEvent::Inbound(m) => inbound.push(NewInbound {
            id: ids.next(),
            connector: m.connector,
            from: m.from,
            to: m.to,
            body: m.text,
            smsc_id: m.smsc_id,
            received_at: m.received_at,
        }),
    };
    take(first);
    for _ in 1..BATCH {
        match events.try_recv() {
            Ok(e) => take(e),
            Err(_) => break,
        }
    }
    if !receipts.is_empty() {
        let n = retrying(|| store.apply_receipts(&receipts, store::now_us())).await?;
        metrics.receipts.inc_by(n as u64);
    }
    if !inbound.is_empty() {
        retrying(|| store.store_inbound_with_keywords(&inbound, Some(keywords))).await?;
        metrics.inbound.inc_by(inbound.len() as u64);
    }
    Ok(receipts.len() + inbound.len())
}

/// Events exist only in memory here: on a database error keep trying for a while rather than
/// drop them.
async fn retrying<T, F, Fut>(mut op: F) -> Result<T, store::StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, store::StoreError>>,
{
    let mut delay = Duration::from_millis(50);
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if delay < Duration::from_secs(30) => {
                tracing::warn!(error = %e, "applying connector events failed; retrying");
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
    ids: std::sync::Arc<IdGenerator>,
    mut events: mpsc::Receiver<ConnectorEvent>,
    metrics: WorkerMetrics,
    keywords: Keywords,
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
        if let Err(e) = run_once(&store, &ids, first, &mut events, &metrics, &keywords).await {
            tracing::error!(error = %e, "connector events could not be applied");
        }
    }
}
