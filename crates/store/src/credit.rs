//! Postpaid accounts and the customer's view of credit: the credit limit as a credit line in the
//! ledger, the ledger's entries, and the low-credit notice recorded once per crossing.
//!
//! A postpaid account may spend down to `-credit_limit`. `accounts.balance_cents` never goes
//! negative (a CHECK of the foundation), so the limit is granted as a credit line: setting or
//! changing it appends an `adjustment` of the difference to the ledger. Acceptance then needs
//! nothing new: it refuses what `balance_cents` cannot cover, which is exactly "beyond the
//! limit". The customer's balance is `balance_cents - credit_limit_cents`.
//! Invariant: `billing_accounts.credit_limit_cents` equals the sum of the ledger's credit-line
//! adjustments of the account (both change in one transaction).

use domain::{AccountId, Money};
use sqlx::Row;

use crate::accounts::ledger_entry;
use crate::billing::{ensure_billing_account, for_update};
use crate::{Durability, NewDelivery, Result, Store, StoreError};

/// The ledger reference of credit-line adjustments.
const CREDIT_LINE: &str = "credit line";

/// The credit of an account as its customer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreditView {
    /// What the customer has: negative when a postpaid account uses its credit line.
    pub balance: Money,
    /// Held for accepted messages not yet charged.
    pub reserved: Money,
    pub postpaid: bool,
    pub credit_limit: Money,
    /// What can still be spent: `balance + credit_limit`.
    pub spendable: Money,
}

/// One entry of the credit ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRow {
    pub id: i64,
    /// topup, reserve, charge, release, adjustment
    pub kind: String,
    pub available_delta: Money,
    pub reserved_delta: Money,
    pub reference: String,
    pub created_at: i64,
}

/// An e-mail to put in the outbox.
#[derive(Debug, Clone)]
pub struct OutboxMail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

pub(crate) async fn is_postpaid(
    conn: &mut sqlx::AnyConnection,
    account: AccountId,
) -> Result<bool> {
    let row = sqlx::query("SELECT postpaid FROM billing_accounts WHERE account_id = $1")
        .bind(account.get())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(match row {
        Some(r) => r.try_get::<i64, _>("postpaid")? != 0,
        None => false,
    })
}

/// Puts a mail in the outbox in the caller's transaction; returns its id.
pub(crate) async fn push_mail(
    conn: &mut sqlx::AnyConnection,
    mail: &OutboxMail,
    now: i64,
) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO email_outbox (to_address, subject, body, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(mail.to.as_str())
    .bind(mail.subject.as_str())
    .bind(mail.body.as_str())
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get("id")?)
}

/// Creates webhook deliveries outside the feed (billing events) in the caller's transaction;
/// each (webhook, event key) at most once.
pub(crate) async fn push_deliveries(
    conn: &mut sqlx::AnyConnection,
    deliveries: &[NewDelivery],
    now: i64,
) -> Result<()> {
    for d in deliveries {
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, webhook_id, account_id, event_type, event_key, \
             payload, status, attempts, next_attempt_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $8) \
             ON CONFLICT (webhook_id, event_key) DO NOTHING",
        )
        .bind(d.id)
        .bind(d.webhook_id)
        .bind(d.account.get())
        .bind(d.event_type.as_str())
        .bind(d.event_key.as_str())
        .bind(d.payload.as_str())
        .bind(now)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

impl Store {
    /// Makes the account postpaid with `limit` as its credit line, changes the limit, or (with
    /// `postpaid` false) makes it prepaid again. The difference to the previous limit is a
    /// ledger adjustment. Refused when the account already spends more of its line than the
    /// new limit would give.
    pub async fn set_postpaid(
        &self,
        account: AccountId,
        postpaid: bool,
        limit: Money,
        now: i64,
    ) -> Result<CreditView> {
        if limit.is_negative() {
            return Err(StoreError::Billing(
                "a credit limit cannot be negative".into(),
            ));
        }
        let new_limit = if postpaid { limit.hundredths() } else { 0 };
        let mut conn = self.write_conn(Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let billing = ensure_billing_account(&mut tx, account, now).await?;
        let sql = format!(
            "SELECT balance_cents FROM accounts WHERE id = $1 {}",
            for_update(self.backend)
        );
        let balance: i64 = sqlx::query(&sql)
            .bind(account.get())
            .fetch_one(&mut *tx)
            .await?
            .try_get("balance_cents")?;
        // The limit as stored now, read after the account's row lock.
        let old_limit: i64 =
            sqlx::query("SELECT credit_limit_cents FROM billing_accounts WHERE account_id = $1")
                .bind(account.get())
                .fetch_one(&mut *tx)
                .await?
                .try_get("credit_limit_cents")?;
        let delta = new_limit - old_limit;
        if balance + delta < 0 {
            return Err(StoreError::Billing(format!(
                "the account owes {} CZK of its credit line; the limit cannot be lower than that \
                 until it pays",
                Money::from_hundredths(old_limit - balance)
            )));
        }
        if delta != 0 {
            ledger_entry(
                &mut tx,
                account,
                "adjustment",
                delta,
                0,
                &format!(
                    "{CREDIT_LINE} {} CZK (was {} CZK)",
                    Money::from_hundredths(new_limit),
                    Money::from_hundredths(old_limit)
                ),
                now,
            )
            .await?;
        }
        let since = match (billing.postpaid, postpaid) {
            (false, true) => Some(now),
            _ => None,
        };
        sqlx::query(
            "UPDATE billing_accounts SET postpaid = $1, credit_limit_cents = $2, \
             postpaid_since = CASE WHEN $3 = 0 THEN NULL ELSE COALESCE($4, postpaid_since) END \
             WHERE account_id = $5",
        )
        .bind(i64::from(postpaid))
        .bind(new_limit)
        .bind(i64::from(postpaid))
        .bind(since)
        .bind(account.get())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        // SQLite has one write connection: give it back before reading through it.
        drop(conn);
        self.credit_view(account)
            .await?
            .ok_or_else(|| StoreError::Billing(format!("no account {account}")))
    }

    /// The account's credit as its customer sees it; `None` for no such account.
    pub async fn credit_view(&self, account: AccountId) -> Result<Option<CreditView>> {
        let row = sqlx::query(
            "SELECT a.balance_cents, a.reserved_cents, COALESCE(b.postpaid, 0) AS postpaid, \
             COALESCE(b.credit_limit_cents, 0) AS credit_limit_cents FROM accounts a \
             LEFT JOIN billing_accounts b ON b.account_id = a.id WHERE a.id = $1",
        )
        .bind(account.get())
        .fetch_optional(&self.write)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let raw: i64 = r.try_get("balance_cents")?;
        let limit: i64 = r.try_get("credit_limit_cents")?;
        Ok(Some(CreditView {
            balance: Money::from_hundredths(raw - limit),
            reserved: Money::from_hundredths(r.try_get("reserved_cents")?),
            postpaid: r.try_get::<i64, _>("postpaid")? != 0,
            credit_limit: Money::from_hundredths(limit),
            spendable: Money::from_hundredths(raw),
        }))
    }

    /// The account's ledger, newest first, below the id `before`.
    pub async fn ledger(
        &self,
        account: AccountId,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<LedgerRow>> {
        let rows = sqlx::query(
            "SELECT id, kind, available_delta, reserved_delta, reference, created_at \
             FROM ledger_entries WHERE account_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
        )
        .bind(account.get())
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LedgerRow {
                    id: r.try_get("id")?,
                    kind: r.try_get("kind")?,
                    available_delta: Money::from_hundredths(r.try_get("available_delta")?),
                    reserved_delta: Money::from_hundredths(r.try_get("reserved_delta")?),
                    reference: r.try_get("reference")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Records a low-credit notice for one crossing of the threshold: marks the account
    /// notified and, in the same transaction, queues the e-mail and the webhook deliveries.
    /// Returns the outbox id, or `None` (and writes nothing) when the notice for this crossing
    /// was recorded already (by another node) or the threshold was cleared meanwhile.
    pub async fn record_low_credit_notice(
        &self,
        account: AccountId,
        mail: &OutboxMail,
        deliveries: &[NewDelivery],
        now: i64,
    ) -> Result<Option<i64>> {
        let mut conn = self.write_conn(Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let marked = sqlx::query(
            "UPDATE billing_accounts SET low_credit_notified_at = $1 \
             WHERE account_id = $2 AND low_credit_notified_at IS NULL AND low_credit_cents IS NOT NULL",
        )
        .bind(now)
        .bind(account.get())
        .execute(&mut *tx)
        .await?;
        if marked.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        let id = push_mail(&mut tx, mail, now).await?;
        push_deliveries(&mut tx, deliveries, now).await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    /// Marks an outbox e-mail sent (handed to the SMTP relay).
    pub async fn mark_email_sent(&self, id: i64, now: i64) -> Result<()> {
        sqlx::query("UPDATE email_outbox SET sent_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&mut *self.write_conn(Durability::Full).await?)
            .await?;
        Ok(())
    }
}
