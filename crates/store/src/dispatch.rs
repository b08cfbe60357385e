//! The dispatcher's side of storage: claiming due messages, recording what the carriers said,
//! delivery receipts, expiry, and recovery after a crash.
//!
//! Claiming marks messages `sending` with this node's id and a lease. A node that restarts puts
//! its own `sending` messages back in the queue at once ([`Store::requeue_in_doubt`]); another
//! node's expired lease is taken back by [`Store::recover_expired_leases`]. Such a message is
//! sent again with the same message id, which carriers that deduplicate by it (our SMSC
//! simulator, via a TLV) use to send it once. A claimed message whose number is now on the
//! Blacklist is not sent: it ends `blocked` and its reservation is released.

use std::collections::{HashMap, HashSet};

use domain::{AccountId, MessageId, MessageStatus, Money};
use sqlx::{AnyConnection, Row};

use crate::accounts::{ledger_entry, push_ledger_entry};
use crate::blacklist::{block_for, end_blocked, entries_for, numbers_with_basis};
use crate::messages::{insert_event_rows, insert_events, push_event_rows, EventRow};
use crate::sql::{self, Batch};
use crate::{Backend, BlacklistKey, BlockReason, Result, Store, StoreError};

/// A message claimed for sending.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: MessageId,
    pub account: AccountId,
    pub to: String,
    pub sender: String,
    pub body: String,
    pub encoding: String,
    pub parts: u32,
    pub price: Money,
    pub expires_at: i64,
    /// Including this one.
    pub attempts: u32,
    /// Goes through the account's own devices (`route = 'device'`), not a carrier.
    pub device: bool,
}

/// What became of one claimed message.
#[derive(Debug, Clone)]
pub enum SendResult {
    /// The carrier accepted it (submit_sm_resp OK): charge it.
    Sent {
        id: MessageId,
        account: AccountId,
        price: Money,
        connector: String,
        smsc_id: String,
    },
    /// A temporary failure: back to the queue, due again at `retry_at`.
    Retry {
        id: MessageId,
        reason: String,
        retry_at: i64,
    },
    /// A permanent failure (`Failed` or `Rejected`): release the reserved price.
    Failed {
        id: MessageId,
        account: AccountId,
        price: Money,
        status: MessageStatus,
        reason: String,
    },
}

impl SendResult {
    /// The message it is about.
    pub fn id(&self) -> MessageId {
        match self {
            SendResult::Sent { id, .. }
            | SendResult::Retry { id, .. }
            | SendResult::Failed { id, .. } => *id,
        }
    }
}

/// A delivery receipt from a carrier.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub connector: String,
    pub smsc_id: String,
    /// `Delivered`, `Undeliverable`, `Expired` or `Rejected`.
    pub status: MessageStatus,
    pub reason: Option<String>,
}

/// Both claims' update of the messages they take, followed by the subquery of their ids
/// (`$4` there: the limit on PostgreSQL, the JSON list of ids on SQLite).
const CLAIM_SET: &str =
    "UPDATE messages SET status = 'sending', claimed_by = $1, claimed_until = $2, \
     attempts = attempts + 1, updated_at = $3 WHERE id IN";

const CLAIM_RETURNING: &str =
    "RETURNING id, account_id, to_number, sender, body, encoding, parts, price_cents, expires_at, attempts, marketing, route";

impl Store {
    /// From now on, messages that may be sent at once are claimed for `node` by the group
    /// commit that stores them and come out of the returned queue after their commit, instead
    /// of waiting for [`Store::claim_due`] (which still takes everything else: scheduled
    /// messages, retries, device routes, and fresh messages while this queue is full).
    /// `capacity` counts groups. A message still in the queue when the node stops is
    /// `sending` for this node, like any claimed one: [`Store::requeue_in_doubt`] puts it back.
    /// From then on the store also wakes `wake` when it stored messages due now that it did not
    /// hand over, so that the dispatcher claims them.
    pub async fn hand_off_fresh(
        &self,
        node: i64,
        lease: std::time::Duration,
        capacity: usize,
        wake: std::sync::Arc<tokio::sync::Notify>,
    ) -> Result<tokio::sync::mpsc::Receiver<Vec<Claimed>>> {
        let (tx, rx) = tokio::sync::mpsc::channel(capacity.max(1));
        let lease_us = i64::try_from(lease.as_micros()).unwrap_or(i64::MAX / 2);
        self.writer
            .send(crate::writer::Job::HandOff(crate::writer::HandOff {
                node,
                lease_us,
                tx,
                wake,
            }))
            .await
            .map_err(|_| StoreError::WriterGone)?;
        Ok(rx)
    }

    /// Claims up to `limit` due messages for this node until `lease_until`.
    pub async fn claim_due(
        &self,
        node: i64,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> Result<Vec<Claimed>> {
        let (backend, key) = (self.backend, self.key.clone());
        self.write_op(crate::Durability::Relaxed, move |tx| {
            Box::pin(
                async move { claim_due_in(backend, &key, tx, node, now, lease_until, limit).await },
            )
        })
        .await
    }

    /// Records the carriers' answers for claimed messages, charging or releasing credit.
    /// Only messages still `sending` change, so a repeated result charges nothing twice.
    pub async fn record_results(&self, results: Vec<SendResult>, now: i64) -> Result<()> {
        if results.is_empty() {
            return Ok(());
        }
        let backend = self.backend;
        self.write_op(crate::Durability::Relaxed, move |tx| {
            Box::pin(async move { record_results_in(backend, tx, &results, now).await })
        })
        .await
    }

    /// Applies delivery receipts. A receipt for a message whose submit response is not recorded
    /// yet is kept in `pending_receipts` and applied by [`Store::match_pending_receipts`].
    /// Returns how many messages changed.
    pub async fn apply_receipts(&self, receipts: &[Receipt], now: i64) -> Result<usize> {
        if receipts.is_empty() {
            return Ok(0);
        }
        let backend = self.backend;
        let receipts = receipts.to_vec();
        self.write_op(crate::Durability::Relaxed, move |tx| {
            Box::pin(async move { apply_receipts_in(backend, tx, &receipts, now).await })
        })
        .await
    }

    /// Applies kept receipts whose messages are now known; drops those older than `drop_before`.
    /// Runs in the writer's round, like the receipts themselves.
    pub async fn match_pending_receipts(&self, now: i64, drop_before: i64) -> Result<usize> {
        let backend = self.backend;
        let (applied, dropped) = self
            .write_op(crate::Durability::Relaxed, move |tx| {
                Box::pin(async move { match_pending_in(backend, tx, now, drop_before).await })
            })
            .await?;
        if dropped > 0 {
            tracing::warn!(dropped, "dropped delivery receipts that matched no message");
        }
        Ok(applied)
    }

    /// Ends messages whose validity ran out before they were sent, releasing their price.
    pub async fn expire_due(&self, now: i64, limit: u32) -> Result<usize> {
        let backend = self.backend;
        self.write_op(crate::Durability::Relaxed, move |tx| {
            Box::pin(async move { expire_due_in(backend, tx, now, limit).await })
        })
        .await
    }

    /// After a restart: this node's messages left in `sending` go back to the queue at once.
    pub async fn requeue_in_doubt(&self, node: i64, now: i64) -> Result<usize> {
        self.requeue_where(
            "claimed_by = $1",
            node,
            now,
            "in doubt after a restart; sent again with the same id",
        )
        .await
    }

    /// Takes back messages whose claim lease ran out (their node died).
    pub async fn recover_expired_leases(&self, now: i64) -> Result<usize> {
        self.requeue_where(
            "claimed_until < $1",
            now,
            now,
            "claim lease expired; sent again with the same id",
        )
        .await
    }

    async fn requeue_where(
        &self,
        cond: &'static str,
        arg: i64,
        now: i64,
        reason: &'static str,
    ) -> Result<usize> {
        let backend = self.backend;
        self.write_op(crate::Durability::Relaxed, move |tx| {
            Box::pin(async move { requeue_where_in(backend, tx, cond, arg, now, reason).await })
        })
        .await
    }

    /// Counts of messages by status, for metrics and tests.
    pub async fn count_by_status(&self) -> Result<Vec<(MessageStatus, i64)>> {
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM messages GROUP BY status")
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                let s: String = r.try_get("status")?;
                Ok((
                    s.parse().map_err(|e| StoreError::Corrupt(format!("{e}")))?,
                    r.try_get("n")?,
                ))
            })
            .collect()
    }
}

/// Rows per set-based statement (each row binds at most five values).
const UPDATE_CHUNK: usize = 1000;

/// `UPDATE messages SET {set}, updated_at = <now> FROM (VALUES ..) AS v` for `rows` rows of
/// `cols` values whose first is the message id; only messages still `sending` change.
/// `now` is bound first, then the values.
fn update_from_values(backend: Backend, set: &str, rows: usize, cols: usize) -> String {
    format!(
        "UPDATE messages SET {set}, updated_at = {} FROM (VALUES {}) AS v \
         WHERE messages.id = v.column1 AND messages.status = 'sending' RETURNING messages.id",
        sql::param(backend, 1),
        sql::rows(backend, 2, rows, cols)
    )
}

fn returned_ids(rows: Vec<sqlx::any::AnyRow>) -> Result<Vec<i64>> {
    rows.iter()
        .map(|r| r.try_get::<i64, _>("id").map_err(Into::into))
        .collect()
}

/// Adds one message's price to its account's total (accounts kept in first-seen order).
fn add(totals: &mut Vec<(AccountId, i64, u32)>, account: AccountId, amount: i64) {
    match totals.iter_mut().find(|(a, _, _)| *a == account) {
        Some((_, sum, n)) => {
            *sum += amount;
            *n += 1;
        }
        None => totals.push((account, amount, 1)),
    }
}

fn to_u32(v: i64) -> Result<u32> {
    u32::try_from(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// [`Store::claim_due`] inside the writer's transaction.
async fn claim_due_in(
    backend: Backend,
    key: &BlacklistKey,
    tx: &mut AnyConnection,
    node: i64,
    now: i64,
    lease_until: i64,
    limit: u32,
) -> Result<Vec<Claimed>> {
    let (claimed, marketing) = match backend {
        Backend::Postgres => claim_returning(tx, node, now, lease_until, limit).await?,
        Backend::Sqlite => claim_as_json(tx, node, now, lease_until, limit).await?,
    };
    // A number may have been blocked after its message was queued (scheduled messages):
    // such a message ends `blocked` here and its reservation is released.
    let hashes: Vec<String> = claimed.iter().map(|c| key.hash(&c.to)).collect();
    let refs: Vec<&str> = hashes.iter().map(String::as_str).collect();
    let blocks = entries_for(backend, &mut *tx, &refs).await?;
    // A commercial message also needs its basis still standing: an objection or a
    // withdrawn consent after it was scheduled stops it here.
    let commercial: Vec<&str> = claimed
        .iter()
        .zip(&marketing)
        .filter(|(_, m)| **m)
        .map(|(c, _)| c.to.as_str())
        .collect();
    let with_basis = if commercial.is_empty() {
        HashSet::new()
    } else {
        numbers_with_basis(backend, &mut *tx, &commercial).await?
    };
    let mut ended = Vec::new();
    let mut send = Vec::with_capacity(claimed.len());
    for ((c, hash), m) in claimed.into_iter().zip(&hashes).zip(marketing) {
        let reason = block_for(&blocks, hash, c.account).or_else(|| {
            (m && !with_basis.contains(&(c.account.get(), c.to.clone())))
                .then_some(BlockReason::NoMarketingBasis)
        });
        match reason {
            None => send.push(c),
            Some(reason) => ended.push((c.id.get(), c.account, c.price.hundredths(), reason)),
        }
    }
    end_blocked(backend, &mut *tx, &ended, now).await?;
    let claimed = send;
    let ids: Vec<i64> = claimed.iter().map(|c| c.id.get()).collect();
    insert_events(&mut *tx, backend, &ids, MessageStatus::Sending, None, now).await?;
    Ok(claimed)
}

/// The claim on PostgreSQL: one `UPDATE .. RETURNING` over the due rows it locks (rows others
/// have locked are skipped); the rows come back over the socket together.
async fn claim_returning(
    tx: &mut AnyConnection,
    node: i64,
    now: i64,
    lease_until: i64,
    limit: u32,
) -> Result<(Vec<Claimed>, Vec<bool>)> {
    let sql = format!(
        "{CLAIM_SET} (SELECT id FROM messages WHERE status IN ('queued', 'scheduled') \
         AND due_at <= $3 AND expires_at > $3 ORDER BY due_at LIMIT $4 FOR UPDATE SKIP LOCKED) {CLAIM_RETURNING}"
    );
    let rows = sqlx::query(&sql)
        .bind(node)
        .bind(lease_until)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
    let due = rows
        .iter()
        .map(|r| {
            Ok((
                r.try_get("id")?,
                r.try_get("account_id")?,
                r.try_get("to_number")?,
                r.try_get("sender")?,
                r.try_get("body")?,
                r.try_get("encoding")?,
                r.try_get("parts")?,
                r.try_get("price_cents")?,
                r.try_get("expires_at")?,
                r.try_get("attempts")?,
                r.try_get("marketing")?,
                r.try_get("route")?,
            ))
        })
        .collect::<Result<Vec<DueRow>>>()?;
    claimed_from(due)
}

/// One claimed message as both claims read it: the columns of [`CLAIM_RETURNING`], in that
/// order, `attempts` already counting this one.
type DueRow = (
    i64,
    i64,
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    i64,
    i64,
    Option<String>,
);

/// The claim on SQLite, in the one writer's transaction: the due messages read as one JSON
/// value (one row), then marked claimed. SQLite's driver hands each returned row over from the
/// connection's thread separately, a context switch each: a claim of a hundred messages
/// returned as rows cost a hundred of them.
async fn claim_as_json(
    tx: &mut AnyConnection,
    node: i64,
    now: i64,
    lease_until: i64,
    limit: u32,
) -> Result<(Vec<Claimed>, Vec<bool>)> {
    let json: String = sqlx::query_scalar(
        "SELECT json_group_array(json_array(id, account_id, to_number, sender, body, encoding, parts, \
         price_cents, expires_at, attempts + 1, marketing, route)) FROM \
         (SELECT * FROM messages WHERE status IN ('queued', 'scheduled') AND due_at <= ? \
          AND expires_at > ? ORDER BY due_at LIMIT ?)",
    )
    .bind(now)
    .bind(now)
    .bind(i64::from(limit))
    .fetch_one(&mut *tx)
    .await?;
    let rows: Vec<DueRow> =
        serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    if rows.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let ids = serde_json::to_string(&rows.iter().map(|r| r.0).collect::<Vec<_>>())
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let updated = sqlx::query(&format!("{CLAIM_SET} (SELECT value FROM json_each($4))"))
        .bind(node)
        .bind(lease_until)
        .bind(now)
        .bind(ids)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if updated != rows.len() as u64 {
        return Err(StoreError::Corrupt(format!(
            "claimed {updated} of {} due messages",
            rows.len()
        )));
    }
    claimed_from(rows)
}

/// The claimed messages and, for each, whether it is commercial.
fn claimed_from(rows: Vec<DueRow>) -> Result<(Vec<Claimed>, Vec<bool>)> {
    let mut claimed = Vec::with_capacity(rows.len());
    let mut marketing = Vec::with_capacity(rows.len());
    for (id, account, to, sender, body, encoding, parts, price, expires_at, attempts, m, route) in
        rows
    {
        marketing.push(m != 0);
        claimed.push(Claimed {
            id: MessageId::new(id),
            account: AccountId::new(account),
            to,
            sender,
            body,
            encoding,
            parts: to_u32(parts)?,
            price: Money::from_hundredths(price),
            expires_at,
            attempts: to_u32(attempts)?,
            device: route.as_deref() == Some("device"),
        });
    }
    Ok((claimed, marketing))
}

/// [`Store::record_results`] inside the writer's transaction.
async fn record_results_in(
    backend: Backend,
    tx: &mut AnyConnection,
    results: &[SendResult],
    now: i64,
) -> Result<()> {
    // The first result for a message wins, as if they were applied one after another.
    let mut seen: HashSet<i64> = HashSet::with_capacity(results.len());
    let (mut sent, mut retry, mut failed) = (Vec::new(), Vec::new(), Vec::new());
    for result in results {
        if !seen.insert(result.id().get()) {
            continue;
        }
        match result {
            SendResult::Sent { .. } => sent.push(result),
            SendResult::Retry { .. } => retry.push(result),
            SendResult::Failed { .. } => failed.push(result),
        }
    }
    let changed = match backend {
        Backend::Postgres => {
            update_returning(backend, &mut *tx, &sent, &retry, &failed, now).await?
        }
        Backend::Sqlite => update_as_json(&mut *tx, &sent, &retry, &failed, now).await?,
    };
    // One charge and one release entry per account, accounts in the order first seen.
    let mut charges: Vec<(AccountId, i64, u32)> = Vec::new();
    let mut releases: Vec<(AccountId, i64, u32)> = Vec::new();
    let mut events: Vec<EventRow<'_>> = Vec::with_capacity(changed.len());
    for result in sent.iter().chain(&retry).chain(&failed) {
        match result {
            SendResult::Sent {
                id, account, price, ..
            } if changed.contains(&id.get()) => {
                add(&mut charges, *account, price.hundredths());
                events.push((id.get(), MessageStatus::Sent, None, now));
            }
            SendResult::Retry { id, reason, .. } if changed.contains(&id.get()) => {
                events.push((id.get(), MessageStatus::Queued, Some(reason.as_str()), now));
            }
            SendResult::Failed {
                id,
                account,
                price,
                status,
                reason,
            } if changed.contains(&id.get()) => {
                add(&mut releases, *account, price.hundredths());
                events.push((id.get(), *status, Some(reason.as_str()), now));
            }
            _ => {}
        }
    }
    // Events and ledger entries return nothing: one batch, its count checked whole.
    let mut batch = Batch::new(backend);
    push_event_rows(&mut batch, &events);
    for (account, amount, n) in charges {
        if amount > 0 {
            push_ledger_entry(
                &mut batch,
                account,
                "charge".into(),
                0,
                -amount,
                format!("{n} messages sent"),
                now,
            );
        }
    }
    for (account, amount, n) in releases {
        if amount > 0 {
            push_ledger_entry(
                &mut batch,
                account,
                "release".into(),
                amount,
                -amount,
                format!("{n} messages not sent"),
                now,
            );
        }
    }
    batch
        .execute_checked(&mut *tx, "the results' writes (an account gone?)")
        .await
}

/// The results' updates on PostgreSQL, each returning the ids it changed.
async fn update_returning(
    backend: Backend,
    tx: &mut AnyConnection,
    sent: &[&SendResult],
    retry: &[&SendResult],
    failed: &[&SendResult],
    now: i64,
) -> Result<HashSet<i64>> {
    let mut changed: HashSet<i64> = HashSet::with_capacity(sent.len() + retry.len() + failed.len());
    for chunk in sent.chunks(UPDATE_CHUNK) {
        let sql = update_from_values(
            backend,
            "status = 'sent', status_reason = NULL, connector = v.column2, smsc_id = v.column3, \
             claimed_until = NULL",
            chunk.len(),
            3,
        );
        let mut q = sqlx::query(&sql).bind(now);
        for r in chunk {
            if let SendResult::Sent {
                id,
                connector,
                smsc_id,
                ..
            } = r
            {
                q = q
                    .bind(id.get())
                    .bind(connector.as_str())
                    .bind(smsc_id.as_str());
            }
        }
        changed.extend(returned_ids(q.fetch_all(&mut *tx).await?)?);
    }
    for chunk in retry.chunks(UPDATE_CHUNK) {
        let sql = update_from_values(
            backend,
            "status = 'queued', status_reason = v.column2, due_at = v.column3, claimed_by = NULL, \
             claimed_until = NULL",
            chunk.len(),
            3,
        );
        let mut q = sqlx::query(&sql).bind(now);
        for r in chunk {
            if let SendResult::Retry {
                id,
                reason,
                retry_at,
            } = r
            {
                q = q.bind(id.get()).bind(reason.as_str()).bind(*retry_at);
            }
        }
        changed.extend(returned_ids(q.fetch_all(&mut *tx).await?)?);
    }
    for chunk in failed.chunks(UPDATE_CHUNK) {
        let sql = update_from_values(
            backend,
            "status = v.column2, status_reason = v.column3, claimed_until = NULL",
            chunk.len(),
            3,
        );
        let mut q = sqlx::query(&sql).bind(now);
        for r in chunk {
            if let SendResult::Failed {
                id, status, reason, ..
            } = r
            {
                q = q.bind(id.get()).bind(status.as_str()).bind(reason.as_str());
            }
        }
        changed.extend(returned_ids(q.fetch_all(&mut *tx).await?)?);
    }
    Ok(changed)
}

/// The results' updates on SQLite, as one multi-statement query: first the ids still `sending`
/// (one JSON value), then one update per kind of result, its rows read from a JSON parameter.
/// Nothing is returned row by row (`RETURNING`): SQLite's driver hands each returned row over
/// from the connection's thread on its own, and for eighty rows that cost more than the
/// update. The writer holds the write lock, so nothing changes between the read and the
/// updates. The statements keep one shape whatever the number of rows, so they stay prepared.
async fn update_as_json(
    tx: &mut AnyConnection,
    sent: &[&SendResult],
    retry: &[&SendResult],
    failed: &[&SendResult],
    now: i64,
) -> Result<HashSet<i64>> {
    let json = |rows: Vec<serde_json::Value>| {
        serde_json::to_string(&rows).map_err(|e| StoreError::Corrupt(e.to_string()))
    };
    let ids: Vec<serde_json::Value> = sent
        .iter()
        .chain(retry)
        .chain(failed)
        .map(|r| r.id().get().into())
        .collect();
    let mut sql = String::from(
        "SELECT json_group_array(id) FROM messages \
         WHERE id IN (SELECT value FROM json_each(?)) AND status = 'sending'",
    );
    let mut args = vec![json(ids)?];
    let mut update = |set: &str, rows: Vec<serde_json::Value>| -> Result<()> {
        if !rows.is_empty() {
            sql.push_str(&format!(
                ";\nUPDATE messages SET {set}, updated_at = ? FROM json_each(?) AS v \
                 WHERE messages.id = v.value ->> 0 AND messages.status = 'sending'"
            ));
            args.push(json(rows)?);
        }
        Ok(())
    };
    update(
        "status = 'sent', status_reason = NULL, connector = v.value ->> 1, \
         smsc_id = v.value ->> 2, claimed_until = NULL",
        sent.iter()
            .filter_map(|r| match r {
                SendResult::Sent {
                    id,
                    connector,
                    smsc_id,
                    ..
                } => Some(serde_json::json!([id.get(), connector, smsc_id])),
                _ => None,
            })
            .collect(),
    )?;
    update(
        "status = 'queued', status_reason = v.value ->> 1, due_at = v.value ->> 2, \
         claimed_by = NULL, claimed_until = NULL",
        retry
            .iter()
            .filter_map(|r| match r {
                SendResult::Retry {
                    id,
                    reason,
                    retry_at,
                } => Some(serde_json::json!([id.get(), reason, retry_at])),
                _ => None,
            })
            .collect(),
    )?;
    update(
        "status = v.value ->> 1, status_reason = v.value ->> 2, claimed_until = NULL",
        failed
            .iter()
            .filter_map(|r| match r {
                SendResult::Failed {
                    id, status, reason, ..
                } => Some(serde_json::json!([id.get(), status.as_str(), reason])),
                _ => None,
            })
            .collect(),
    )?;
    let mut args = args.into_iter();
    let mut q = sqlx::query(&sql).bind(args.next());
    for rows in args {
        q = q.bind(now).bind(rows);
    }
    // All of it, not only the first row: fetching one would stop before the updates.
    let rows = q.fetch_all(&mut *tx).await?;
    let ids: String = rows
        .first()
        .ok_or_else(|| StoreError::Corrupt("no ids read back".into()))?
        .try_get(0)?;
    serde_json::from_str(&ids).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// [`Store::apply_receipts`] inside the writer's transaction.
async fn apply_receipts_in(
    backend: Backend,
    tx: &mut AnyConnection,
    receipts: &[Receipt],
    now: i64,
) -> Result<usize> {
    // A repeated receipt in the same batch would find its message already final.
    let mut seen: HashSet<(&str, &str)> = HashSet::with_capacity(receipts.len());
    let receipts: Vec<&Receipt> = receipts
        .iter()
        .filter(|r| seen.insert((r.connector.as_str(), r.smsc_id.as_str())))
        .collect();
    let matched = match backend {
        Backend::Postgres => receipts_returning(backend, &mut *tx, &receipts, now).await?,
        Backend::Sqlite => receipts_as_json(&mut *tx, &receipts, now).await?,
    };
    let mut events: Vec<EventRow<'_>> = Vec::with_capacity(matched.len());
    let mut unmatched: Vec<&Receipt> = Vec::new();
    for r in &receipts {
        match matched.get(&(r.connector.clone(), r.smsc_id.clone())) {
            Some(id) => events.push((*id, r.status, r.reason.as_deref(), now)),
            None => unmatched.push(r),
        }
    }
    // Receipts for messages not sent yet (or final already): keep those whose message is
    // unknown, for [`Store::match_pending_receipts`]. A message that is `sent` here was
    // recorded sent by a transaction that committed after the update above looked
    // (PostgreSQL reads each statement afresh): its receipt is kept too.
    let mut known: HashSet<(String, String)> = HashSet::new();
    for chunk in unmatched.chunks(UPDATE_CHUNK) {
        let sql = format!(
            "SELECT m.connector, m.smsc_id FROM messages m JOIN (VALUES {}) AS v \
                 ON m.connector = v.column1 AND m.smsc_id = v.column2 \
                 WHERE m.status NOT IN ('sent', 'sending')",
            sql::rows(backend, 1, chunk.len(), 2)
        );
        let mut q = sqlx::query(&sql);
        for r in chunk {
            q = q.bind(r.connector.as_str()).bind(r.smsc_id.as_str());
        }
        for row in q.fetch_all(&mut *tx).await? {
            known.insert((row.try_get("connector")?, row.try_get("smsc_id")?));
        }
    }
    let pending: Vec<&Receipt> = unmatched
        .into_iter()
        .filter(|r| !known.contains(&(r.connector.clone(), r.smsc_id.clone())))
        .collect();
    for chunk in pending.chunks(UPDATE_CHUNK) {
        let sql = format!(
            "INSERT INTO pending_receipts (connector, smsc_id, status, reason, received_at) \
                 VALUES {} ON CONFLICT (connector, smsc_id) DO NOTHING",
            sql::rows(backend, 1, chunk.len(), 5)
        );
        let mut q = sqlx::query(&sql);
        for r in chunk {
            q = q
                .bind(r.connector.as_str())
                .bind(r.smsc_id.as_str())
                .bind(r.status.as_str())
                .bind(r.reason.as_deref())
                .bind(now);
        }
        q.execute(&mut *tx).await?;
    }
    let changed = events.len();
    // On SQLite the events went with the update.
    if backend == Backend::Postgres {
        insert_event_rows(&mut *tx, backend, &events).await?;
    }
    Ok(changed)
}

/// Which message each receipt's (connector, carrier id) names.
type Matched = HashMap<(String, String), i64>;

/// The receipts' updates on PostgreSQL, returning the messages they changed.
async fn receipts_returning(
    backend: Backend,
    tx: &mut AnyConnection,
    receipts: &[&Receipt],
    now: i64,
) -> Result<Matched> {
    let mut matched: Matched = HashMap::with_capacity(receipts.len());
    for chunk in receipts.chunks(UPDATE_CHUNK) {
        let sql = format!(
            "UPDATE messages SET status = v.column3, status_reason = v.column4, updated_at = {} \
             FROM (VALUES {}) AS v WHERE messages.connector = v.column1 AND messages.smsc_id = v.column2 \
             AND messages.status IN ('sent', 'sending') \
             RETURNING messages.id, messages.connector, messages.smsc_id",
            sql::param(backend, 1),
            sql::rows(backend, 2, chunk.len(), 4)
        );
        let mut q = sqlx::query(&sql).bind(now);
        for r in chunk {
            q = q
                .bind(r.connector.as_str())
                .bind(r.smsc_id.as_str())
                .bind(r.status.as_str())
                .bind(r.reason.as_deref());
        }
        for row in q.fetch_all(&mut *tx).await? {
            matched.insert(
                (row.try_get("connector")?, row.try_get("smsc_id")?),
                row.try_get("id")?,
            );
        }
    }
    Ok(matched)
}

/// The receipts' updates on SQLite: the messages they name and may still change, read as one
/// JSON value, their status events, then one update whose rows come from a JSON parameter; one
/// multi-statement query, for the reasons given at [`update_as_json`].
async fn receipts_as_json(
    tx: &mut AnyConnection,
    receipts: &[&Receipt],
    now: i64,
) -> Result<Matched> {
    let rows: Vec<serde_json::Value> = receipts
        .iter()
        .map(|r| serde_json::json!([r.connector, r.smsc_id, r.status.as_str(), r.reason]))
        .collect();
    let rows = serde_json::to_string(&rows).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let read = sqlx::query(
        "SELECT json_group_array(json_array(m.id, m.connector, m.smsc_id)) \
         FROM json_each(?) AS v JOIN messages m \
         ON m.connector = v.value ->> 0 AND m.smsc_id = v.value ->> 1 \
         WHERE m.status IN ('sent', 'sending');
         INSERT INTO message_events (message_id, status, reason, at) \
         SELECT m.id, v.value ->> 2, v.value ->> 3, ? FROM json_each(?) AS v JOIN messages m \
         ON m.connector = v.value ->> 0 AND m.smsc_id = v.value ->> 1 \
         WHERE m.status IN ('sent', 'sending') ORDER BY v.key;
         UPDATE messages SET status = v.value ->> 2, status_reason = v.value ->> 3, updated_at = ? \
         FROM json_each(?) AS v WHERE messages.connector = v.value ->> 0 \
         AND messages.smsc_id = v.value ->> 1 AND messages.status IN ('sent', 'sending')",
    )
    .bind(rows.as_str())
    .bind(now)
    .bind(rows.as_str())
    .bind(now)
    .bind(rows.as_str())
    // All of it, not only the first row: fetching one would stop before the update.
    .fetch_all(&mut *tx)
    .await?;
    let json: String = read
        .first()
        .ok_or_else(|| StoreError::Corrupt("no receipts read back".into()))?
        .try_get(0)?;
    let found: Vec<(i64, String, String)> =
        serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(found
        .into_iter()
        .map(|(id, connector, smsc_id)| ((connector, smsc_id), id))
        .collect())
}

/// [`Store::expire_due`] inside the writer's transaction.
async fn expire_due_in(
    backend: Backend,
    tx: &mut AnyConnection,
    now: i64,
    limit: u32,
) -> Result<usize> {
    const REASON: &str = "validity period ended before sending";
    let rows = sqlx::query(
        "UPDATE messages SET status = 'expired', status_reason = $1, updated_at = $2 WHERE id IN \
         (SELECT id FROM messages WHERE status IN ('queued', 'scheduled') AND expires_at <= $2 LIMIT $3) \
         RETURNING id, account_id, price_cents",
    )
    .bind(REASON)
    .bind(now)
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await?;
    let mut releases: HashMap<i64, i64> = HashMap::new();
    let mut ids = Vec::with_capacity(rows.len());
    for r in &rows {
        ids.push(r.try_get::<i64, _>("id")?);
        *releases.entry(r.try_get("account_id")?).or_default() +=
            r.try_get::<i64, _>("price_cents")?;
    }
    insert_events(
        &mut *tx,
        backend,
        &ids,
        MessageStatus::Expired,
        Some(REASON),
        now,
    )
    .await?;
    for (account, amount) in releases {
        if amount > 0 {
            ledger_entry(
                &mut *tx,
                AccountId::new(account),
                "release",
                amount,
                -amount,
                "messages expired",
                now,
            )
            .await?;
        }
    }
    Ok(ids.len())
}

/// [`Store::requeue_in_doubt`] and [`Store::recover_expired_leases`] inside the writer's
/// transaction.
async fn requeue_where_in(
    backend: Backend,
    tx: &mut AnyConnection,
    cond: &str,
    arg: i64,
    now: i64,
    reason: &str,
) -> Result<usize> {
    let sql = format!(
        "UPDATE messages SET status = 'queued', status_reason = $2, claimed_by = NULL, claimed_until = NULL, \
         updated_at = $3 WHERE status = 'sending' AND {cond} RETURNING id"
    );
    let rows = sqlx::query(&sql)
        .bind(arg)
        .bind(reason)
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
    let ids = returned_ids(rows)?;
    insert_events(
        &mut *tx,
        backend,
        &ids,
        MessageStatus::Queued,
        Some(reason),
        now,
    )
    .await?;
    Ok(ids.len())
}

/// [`Store::match_pending_receipts`] inside the writer's transaction: the kept receipts whose
/// message is now known (read from the kept ones, so that the work follows their number and
/// not the number of messages), applied and forgotten; then those too old. Returns how many
/// messages changed and how many receipts were dropped.
async fn match_pending_in(
    backend: Backend,
    tx: &mut AnyConnection,
    now: i64,
    drop_before: i64,
) -> Result<(usize, u64)> {
    let rows = sqlx::query(
        "SELECT p.connector, p.smsc_id, p.status, p.reason FROM pending_receipts p \
         WHERE EXISTS (SELECT 1 FROM messages m WHERE m.connector = p.connector \
         AND m.smsc_id = p.smsc_id) LIMIT 1000",
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut receipts = Vec::with_capacity(rows.len());
    for r in &rows {
        let status: String = r.try_get("status")?;
        receipts.push(Receipt {
            connector: r.try_get("connector")?,
            smsc_id: r.try_get("smsc_id")?,
            status: status
                .parse()
                .map_err(|e| StoreError::Corrupt(format!("{e}")))?,
            reason: r.try_get("reason")?,
        });
    }
    let applied = if receipts.is_empty() {
        0
    } else {
        apply_receipts_in(backend, &mut *tx, &receipts, now).await?
    };
    for chunk in receipts.chunks(UPDATE_CHUNK) {
        let sql = format!(
            "DELETE FROM pending_receipts WHERE (connector, smsc_id) IN (VALUES {})",
            sql::rows(backend, 1, chunk.len(), 2)
        );
        let mut q = sqlx::query(&sql);
        for r in chunk {
            q = q.bind(r.connector.as_str()).bind(r.smsc_id.as_str());
        }
        q.execute(&mut *tx).await?;
    }
    let dropped = sqlx::query("DELETE FROM pending_receipts WHERE received_at < $1")
        .bind(drop_before)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    Ok((applied, dropped))
}
