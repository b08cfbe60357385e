//! The dispatcher's side of storage: claiming due messages, recording what the carriers said,
//! delivery receipts, expiry, and recovery after a crash.
//!
//! Claiming marks messages `sending` with this node's id and a lease. A node that restarts puts
//! its own `sending` messages back in the queue at once ([`Store::requeue_in_doubt`]); another
//! node's expired lease is taken back by [`Store::recover_expired_leases`]. Such a message is
//! sent again with the same message id, which carriers that deduplicate by it (our SMSC
//! simulator, via a TLV) use to send it once.

use std::collections::HashMap;

use domain::{AccountId, MessageId, MessageStatus, Money};
use sqlx::Row;

use crate::accounts::ledger_entry;
use crate::messages::{insert_event_rows, insert_events, EventRow};
use crate::{Backend, Result, Store, StoreError};

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

/// A delivery receipt from a carrier.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub connector: String,
    pub smsc_id: String,
    /// `Delivered`, `Undeliverable`, `Expired` or `Rejected`.
    pub status: MessageStatus,
    pub reason: Option<String>,
}

const CLAIM_RETURNING: &str =
    "RETURNING id, account_id, to_number, sender, body, encoding, parts, price_cents, expires_at, attempts";

impl Store {
    /// Claims up to `limit` due messages for this node until `lease_until`.
    pub async fn claim_due(
        &self,
        node: i64,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> Result<Vec<Claimed>> {
        let lock = match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        };
        let sql = format!(
            "UPDATE messages SET status = 'sending', claimed_by = $1, claimed_until = $2, attempts = attempts + 1, \
             updated_at = $3 WHERE id IN (SELECT id FROM messages WHERE status IN ('queued', 'scheduled') \
             AND due_at <= $3 AND expires_at > $3 ORDER BY due_at LIMIT $4 {lock}) {CLAIM_RETURNING}"
        );
        let mut tx = self.write.begin().await?;
        let rows = sqlx::query(&sql)
            .bind(node)
            .bind(lease_until)
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
        let claimed = rows
            .iter()
            .map(|r| {
                Ok(Claimed {
                    id: MessageId::new(r.try_get("id")?),
                    account: AccountId::new(r.try_get("account_id")?),
                    to: r.try_get("to_number")?,
                    sender: r.try_get("sender")?,
                    body: r.try_get("body")?,
                    encoding: r.try_get("encoding")?,
                    parts: to_u32(r.try_get("parts")?)?,
                    price: Money::from_hundredths(r.try_get("price_cents")?),
                    expires_at: r.try_get("expires_at")?,
                    attempts: to_u32(r.try_get("attempts")?)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let ids: Vec<i64> = claimed.iter().map(|c| c.id.get()).collect();
        insert_events(&mut tx, &ids, MessageStatus::Sending, None, now).await?;
        tx.commit().await?;
        Ok(claimed)
    }

    /// Records the carriers' answers for claimed messages, charging or releasing credit.
    pub async fn record_results(&self, results: &[SendResult], now: i64) -> Result<()> {
        if results.is_empty() {
            return Ok(());
        }
        let mut tx = self.write.begin().await?;
        let mut charges: HashMap<AccountId, (i64, u32)> = HashMap::new();
        let mut releases: HashMap<AccountId, (i64, u32)> = HashMap::new();
        let mut events: Vec<EventRow<'_>> = Vec::with_capacity(results.len());
        for result in results {
            match result {
                SendResult::Sent {
                    id,
                    account,
                    price,
                    connector,
                    smsc_id,
                } => {
                    let done = sqlx::query(
                        "UPDATE messages SET status = 'sent', status_reason = NULL, connector = $1, smsc_id = $2, \
                         claimed_until = NULL, updated_at = $3 WHERE id = $4 AND status = 'sending'",
                    )
                    .bind(connector.as_str())
                    .bind(smsc_id.as_str())
                    .bind(now)
                    .bind(id.get())
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() == 1 {
                        let c = charges.entry(*account).or_default();
                        c.0 += price.hundredths();
                        c.1 += 1;
                        events.push((id.get(), MessageStatus::Sent, None, now));
                    }
                }
                SendResult::Retry {
                    id,
                    reason,
                    retry_at,
                } => {
                    let done = sqlx::query(
                        "UPDATE messages SET status = 'queued', status_reason = $1, due_at = $2, claimed_by = NULL, \
                         claimed_until = NULL, updated_at = $3 WHERE id = $4 AND status = 'sending'",
                    )
                    .bind(reason.as_str())
                    .bind(*retry_at)
                    .bind(now)
                    .bind(id.get())
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() == 1 {
                        events.push((id.get(), MessageStatus::Queued, Some(reason.as_str()), now));
                    }
                }
                SendResult::Failed {
                    id,
                    account,
                    price,
                    status,
                    reason,
                } => {
                    let done = sqlx::query(
                        "UPDATE messages SET status = $1, status_reason = $2, claimed_until = NULL, updated_at = $3 \
                         WHERE id = $4 AND status = 'sending'",
                    )
                    .bind(status.as_str())
                    .bind(reason.as_str())
                    .bind(now)
                    .bind(id.get())
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() == 1 {
                        let r = releases.entry(*account).or_default();
                        r.0 += price.hundredths();
                        r.1 += 1;
                        events.push((id.get(), *status, Some(reason.as_str()), now));
                    }
                }
            }
        }
        insert_event_rows(&mut tx, &events).await?;
        for (account, (amount, n)) in charges {
            if amount > 0 {
                ledger_entry(
                    &mut tx,
                    account,
                    "charge",
                    0,
                    -amount,
                    &format!("{n} messages sent"),
                    now,
                )
                .await?;
            }
        }
        for (account, (amount, n)) in releases {
            if amount > 0 {
                ledger_entry(
                    &mut tx,
                    account,
                    "release",
                    amount,
                    -amount,
                    &format!("{n} messages not sent"),
                    now,
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Applies delivery receipts. A receipt for a message whose submit response is not recorded
    /// yet is kept in `pending_receipts` and applied by [`Store::match_pending_receipts`].
    /// Returns how many messages changed.
    pub async fn apply_receipts(&self, receipts: &[Receipt], now: i64) -> Result<usize> {
        if receipts.is_empty() {
            return Ok(0);
        }
        let mut tx = self.write.begin().await?;
        let mut events: Vec<EventRow<'_>> = Vec::with_capacity(receipts.len());
        for r in receipts {
            let row = sqlx::query(
                "UPDATE messages SET status = $1, status_reason = $2, updated_at = $3 \
                 WHERE connector = $4 AND smsc_id = $5 AND status IN ('sent', 'sending') RETURNING id",
            )
            .bind(r.status.as_str())
            .bind(r.reason.clone())
            .bind(now)
            .bind(r.connector.as_str())
            .bind(r.smsc_id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            match row {
                Some(row) => events.push((row.try_get("id")?, r.status, r.reason.as_deref(), now)),
                None => {
                    let known = sqlx::query(
                        "SELECT id FROM messages WHERE connector = $1 AND smsc_id = $2",
                    )
                    .bind(r.connector.as_str())
                    .bind(r.smsc_id.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
                    if known.is_none() {
                        sqlx::query(
                            "INSERT INTO pending_receipts (connector, smsc_id, status, reason, received_at) \
                             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (connector, smsc_id) DO NOTHING",
                        )
                        .bind(r.connector.as_str())
                        .bind(r.smsc_id.as_str())
                        .bind(r.status.as_str())
                        .bind(r.reason.clone())
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
            }
        }
        let changed = events.len();
        insert_event_rows(&mut tx, &events).await?;
        tx.commit().await?;
        Ok(changed)
    }

    /// Applies kept receipts whose messages are now known; drops those older than `drop_before`.
    pub async fn match_pending_receipts(&self, now: i64, drop_before: i64) -> Result<usize> {
        let rows = sqlx::query(
            "SELECT p.connector, p.smsc_id, p.status, p.reason FROM pending_receipts p \
             JOIN messages m ON m.connector = p.connector AND m.smsc_id = p.smsc_id LIMIT 1000",
        )
        .fetch_all(&self.write)
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
        let applied = self.apply_receipts(&receipts, now).await?;
        let mut tx = self.write.begin().await?;
        for r in &receipts {
            sqlx::query("DELETE FROM pending_receipts WHERE connector = $1 AND smsc_id = $2")
                .bind(r.connector.as_str())
                .bind(r.smsc_id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        let dropped = sqlx::query("DELETE FROM pending_receipts WHERE received_at < $1")
            .bind(drop_before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if dropped > 0 {
            tracing::warn!(dropped, "dropped delivery receipts that matched no message");
        }
        tx.commit().await?;
        Ok(applied)
    }

    /// Ends messages whose validity ran out before they were sent, releasing their price.
    pub async fn expire_due(&self, now: i64, limit: u32) -> Result<usize> {
        const REASON: &str = "validity period ended before sending";
        let mut tx = self.write.begin().await?;
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
        insert_events(&mut tx, &ids, MessageStatus::Expired, Some(REASON), now).await?;
        for (account, amount) in releases {
            if amount > 0 {
                ledger_entry(
                    &mut tx,
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
        tx.commit().await?;
        Ok(ids.len())
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

    async fn requeue_where(&self, cond: &str, arg: i64, now: i64, reason: &str) -> Result<usize> {
        let sql = format!(
            "UPDATE messages SET status = 'queued', status_reason = $2, claimed_by = NULL, claimed_until = NULL, \
             updated_at = $3 WHERE status = 'sending' AND {cond} RETURNING id"
        );
        let mut tx = self.write.begin().await?;
        let rows = sqlx::query(&sql)
            .bind(arg)
            .bind(reason)
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
        let ids = rows
            .iter()
            .map(|r| r.try_get::<i64, _>("id"))
            .collect::<Result<Vec<_>, _>>()?;
        insert_events(&mut tx, &ids, MessageStatus::Queued, Some(reason), now).await?;
        tx.commit().await?;
        Ok(ids.len())
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

fn to_u32(v: i64) -> Result<u32> {
    u32::try_from(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}
