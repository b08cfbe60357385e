//! Monthly invoicing and postpaid usage invoices: due dates, what is still owed, reminders and
//! the debtors among postpaid accounts.
//!
//! - Monthly invoicing (`billing.invoicing = "monthly"`): after a calendar month (Prague) each
//!   prepaid account gets one invoice for the payments paired in it; `invoiced_payments` lists
//!   what an invoice covers, so a run repeated (or run by two nodes) invoices nothing twice. A
//!   payment reversed before it was invoiced is left out; one reversed after gets a credit note.
//! - A postpaid account gets one usage invoice per month (the charges of its messages, prices
//!   including VAT as for top-ups), with a due date and, while it is owed, the QR Platba code.
//! - What is owed is derived, never stored: the debt is the credit line in use, less what was
//!   not invoiced yet (charges after the last invoiced month and reservations); the newest
//!   invoices are the ones still owed, so payments settle the oldest first.
//!
//! Every document is issued in its own transaction with its number, so a series has no gaps.

use billing::calendar::Month;
use billing::{InvoiceKind, InvoicePolicy};
use chrono::NaiveDate;
use domain::{AccountId, Money};
use sqlx::Row;

use crate::bank::BankTransaction;
use crate::credit::{push_deliveries, push_mail, OutboxMail};
use crate::invoices::{issue, IssueRequest};
use crate::{Durability, NewDelivery, Result, Store, StoreError};

/// A postpaid account's usage invoice with what is still owed of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageInvoice {
    pub invoice_id: i64,
    pub account: AccountId,
    /// The account's e-mail (where reminders go).
    pub email: String,
    pub number: String,
    /// `YYYY-MM`.
    pub period: String,
    pub due_date: NaiveDate,
    /// The invoice's total less its credit notes.
    pub total: Money,
    pub outstanding: Money,
    pub reminders: i64,
    pub reminded_at: Option<i64>,
}

/// A postpaid account with overdue invoices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostpaidDebtor {
    pub account: AccountId,
    pub email: String,
    pub name: String,
    /// Owed on invoices past their due date.
    pub overdue: Money,
    /// The earliest due date missed.
    pub oldest_due: NaiveDate,
    pub invoices: usize,
}

fn month_dates(month: Month) -> (String, String) {
    (
        billing::calendar::iso(month.first_day()),
        billing::calendar::iso(month.last_day()),
    )
}

async fn number_of(conn: &mut sqlx::AnyConnection, id: i64) -> Result<String> {
    Ok(sqlx::query("SELECT number FROM invoices WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?
        .try_get("number")?)
}

/// A reversed payment that had no invoice of its own: when a monthly invoice covered it, a
/// credit note corrects that invoice by the payment's amount; when nothing invoiced it yet, it
/// is marked so that no monthly invoice ever does. Returns the credit note's number.
pub(crate) async fn reverse_uninvoiced_payment(
    conn: &mut sqlx::AnyConnection,
    policy: &InvoicePolicy,
    reversal: &BankTransaction,
    account: AccountId,
    now: i64,
) -> Result<Option<String>> {
    let row = sqlx::query(
        "SELECT t.id, p.bank_transaction_id AS listed, p.invoice_id FROM bank_transactions t \
         LEFT JOIN invoiced_payments p ON p.bank_transaction_id = t.id \
         WHERE t.account_id = $1 AND t.state = 'paired' AND t.direction = 'credit' \
           AND t.amount_cents = $2 AND t.bank_account = $3 AND p.reversed_by IS NULL \
           AND NOT EXISTS (SELECT 1 FROM invoices i WHERE i.bank_transaction_id = t.id AND i.kind = 'invoice') \
         ORDER BY t.id DESC LIMIT 1",
    )
    .bind(account.get())
    .bind(reversal.amount.hundredths())
    .bind(reversal.bank_account.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let original: i64 = row.try_get("id")?;
    let listed: Option<i64> = row.try_get("listed")?;
    let invoice: Option<i64> = row.try_get("invoice_id")?;
    match (listed, invoice) {
        (None, _) => {
            sqlx::query(
                "INSERT INTO invoiced_payments (bank_transaction_id, invoice_id, reversed_by, created_at) \
                 VALUES ($1, NULL, $2, $3)",
            )
            .bind(original)
            .bind(reversal.id)
            .bind(now)
            .execute(&mut *conn)
            .await?;
            Ok(None)
        }
        (Some(_), Some(invoice_id)) => {
            let number = number_of(conn, invoice_id).await?;
            let id = issue(
                conn,
                policy,
                IssueRequest {
                    account,
                    kind: InvoiceKind::CreditNote,
                    total: Money::from_hundredths(-reversal.amount.hundredths()),
                    taxable_date: billing::calendar::parse_iso(&reversal.booking_date)
                        .unwrap_or_else(|| billing::calendar::prague_date(now)),
                    payment_date: None,
                    bank_transaction: Some(reversal.id),
                    corrects: Some((invoice_id, number)),
                    description: "Vrácení platby bankou (payment reversed by the bank)",
                    now,
                },
            )
            .await?;
            sqlx::query(
                "UPDATE invoiced_payments SET reversed_by = $1 WHERE bank_transaction_id = $2",
            )
            .bind(reversal.id)
            .bind(original)
            .execute(&mut *conn)
            .await?;
            number_of(conn, id).await.map(Some)
        }
        (Some(_), None) => Ok(None),
    }
}

impl Store {
    /// Monthly invoicing of prepaid accounts: one invoice per account for the payments paired
    /// in `month` and not invoiced yet. Returns the numbers issued. Refused before the month
    /// is over.
    pub async fn invoice_monthly_payments(
        &self,
        month: Month,
        policy: &InvoicePolicy,
        now: i64,
    ) -> Result<Vec<String>> {
        if month.bounds_us().1 > now {
            return Err(StoreError::Billing(format!("{month} is not over yet")));
        }
        let (first, last) = month_dates(month);
        const PENDING: &str = "FROM bank_transactions t JOIN billing_accounts b ON b.account_id = t.account_id \
             WHERE t.state = 'paired' AND t.direction = 'credit' AND t.reversal = 0 \
               AND t.booking_date >= $1 AND t.booking_date <= $2 AND b.postpaid = 0 \
               AND NOT EXISTS (SELECT 1 FROM invoices i WHERE i.bank_transaction_id = t.id) \
               AND NOT EXISTS (SELECT 1 FROM invoiced_payments p WHERE p.bank_transaction_id = t.id)";
        let accounts = sqlx::query(&format!(
            "SELECT DISTINCT t.account_id {PENDING} ORDER BY t.account_id"
        ))
        .bind(first.as_str())
        .bind(last.as_str())
        .fetch_all(&self.read)
        .await?;
        let mut issued = Vec::new();
        for a in accounts {
            let account = AccountId::new(a.try_get("account_id")?);
            let mut conn = self.write_conn(Durability::Full).await?;
            let mut tx = crate::begin_write(&mut conn).await?;
            let rows = sqlx::query(&format!(
                "SELECT t.id, t.amount_cents, t.booking_date {PENDING} AND t.account_id = $3 ORDER BY t.id"
            ))
            .bind(first.as_str())
            .bind(last.as_str())
            .bind(account.get())
            .fetch_all(&mut *tx)
            .await?;
            if rows.is_empty() {
                continue;
            }
            let mut total = 0_i64;
            let mut latest = String::new();
            let mut ids = Vec::new();
            for r in &rows {
                total += r.try_get::<i64, _>("amount_cents")?;
                let d: String = r.try_get("booking_date")?;
                latest = latest.max(d);
                ids.push(r.try_get::<i64, _>("id")?);
            }
            let paid = billing::calendar::parse_iso(&latest)
                .ok_or_else(|| StoreError::Corrupt(format!("booking date {latest:?}")))?;
            let description = format!(
                "{} – platby přijaté v {} (payments received): {}",
                policy.top_up_description,
                month.czech(),
                ids.len()
            );
            let id = issue(
                &mut tx,
                policy,
                IssueRequest {
                    account,
                    kind: InvoiceKind::Invoice,
                    total: Money::from_hundredths(total),
                    taxable_date: paid,
                    payment_date: Some(paid),
                    bank_transaction: None,
                    corrects: None,
                    description: &description,
                    now,
                },
            )
            .await?;
            let mut taken = true;
            for t in &ids {
                let done = sqlx::query(
                    "INSERT INTO invoiced_payments (bank_transaction_id, invoice_id, created_at) \
                     VALUES ($1, $2, $3) ON CONFLICT (bank_transaction_id) DO NOTHING",
                )
                .bind(t)
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                taken &= done.rows_affected() == 1;
            }
            if !taken {
                // Another node invoiced them first: this invoice (and its number) never was.
                tx.rollback().await?;
                continue;
            }
            issued.push(number_of(&mut tx, id).await?);
            tx.commit().await?;
        }
        Ok(issued)
    }

    /// Usage invoices of postpaid accounts for `month`: the charges of their messages in it
    /// (from when the account became postpaid), due `due_days` after issue. Returns the numbers
    /// issued; an account with no usage gets none. Refused before the month is over.
    pub async fn invoice_monthly_usage(
        &self,
        month: Month,
        policy: &InvoicePolicy,
        due_days: u32,
        now: i64,
    ) -> Result<Vec<String>> {
        let (start, end) = month.bounds_us();
        if end > now {
            return Err(StoreError::Billing(format!("{month} is not over yet")));
        }
        let period = month.to_string();
        let accounts = sqlx::query(
            "SELECT b.account_id, b.postpaid_since FROM billing_accounts b WHERE b.postpaid = 1 \
             AND NOT EXISTS (SELECT 1 FROM usage_invoices u WHERE u.account_id = b.account_id AND u.period = $1) \
             ORDER BY b.account_id",
        )
        .bind(period.as_str())
        .fetch_all(&self.read)
        .await?;
        let today = billing::calendar::prague_date(now);
        let due = today + chrono::Duration::days(i64::from(due_days));
        let mut issued = Vec::new();
        for a in accounts {
            let account = AccountId::new(a.try_get("account_id")?);
            let since: Option<i64> = a.try_get("postpaid_since")?;
            let from = start.max(since.unwrap_or(start));
            if from >= end {
                continue;
            }
            let mut conn = self.write_conn(Durability::Full).await?;
            let mut tx = crate::begin_write(&mut conn).await?;
            let used: i64 = sqlx::query(
                "SELECT CAST(COALESCE(SUM(-reserved_delta), 0) AS BIGINT) AS used FROM ledger_entries \
                 WHERE account_id = $1 AND kind = 'charge' AND created_at >= $2 AND created_at < $3",
            )
            .bind(account.get())
            .bind(from)
            .bind(end)
            .fetch_one(&mut *tx)
            .await?
            .try_get("used")?;
            if used <= 0 {
                continue;
            }
            let description = format!("SMS služby za {} (SMS services, usage)", month.czech());
            let id = issue(
                &mut tx,
                policy,
                IssueRequest {
                    account,
                    kind: InvoiceKind::Invoice,
                    total: Money::from_hundredths(used),
                    taxable_date: month.last_day(),
                    payment_date: None,
                    bank_transaction: None,
                    corrects: None,
                    description: &description,
                    now,
                },
            )
            .await?;
            let done = sqlx::query(
                "INSERT INTO usage_invoices (invoice_id, account_id, period, period_start, period_end, due_date) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (account_id, period) DO NOTHING",
            )
            .bind(id)
            .bind(account.get())
            .bind(period.as_str())
            .bind(start)
            .bind(end)
            .bind(billing::calendar::iso(due))
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                tx.rollback().await?;
                continue;
            }
            issued.push(number_of(&mut tx, id).await?);
            tx.commit().await?;
        }
        Ok(issued)
    }

    /// The account's usage invoices, newest first, with what is still owed of each.
    pub async fn usage_invoices(&self, account: AccountId) -> Result<Vec<UsageInvoice>> {
        let row = sqlx::query(
            "SELECT a.email, a.balance_cents, a.reserved_cents, COALESCE(b.credit_limit_cents, 0) AS credit_limit \
             FROM accounts a LEFT JOIN billing_accounts b ON b.account_id = a.id WHERE a.id = $1",
        )
        .bind(account.get())
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else {
            return Ok(Vec::new());
        };
        let balance: i64 = row.try_get("balance_cents")?;
        let reserved: i64 = row.try_get("reserved_cents")?;
        let limit: i64 = row.try_get("credit_limit")?;
        let email: String = row.try_get("email")?;
        let rows = sqlx::query(
            "SELECT u.invoice_id, u.period, u.period_end, u.due_date, u.reminders, u.reminded_at, i.number, \
             i.total_cents + CAST(COALESCE((SELECT SUM(c.total_cents) FROM invoices c WHERE c.corrects_id = i.id), 0) AS BIGINT) AS net \
             FROM usage_invoices u JOIN invoices i ON i.id = u.invoice_id \
             WHERE u.account_id = $1 ORDER BY u.period DESC",
        )
        .bind(account.get())
        .fetch_all(&self.read)
        .await?;
        let Some(first) = rows.first() else {
            return Ok(Vec::new());
        };
        let last_end: i64 = first.try_get("period_end")?;
        let unbilled: i64 = sqlx::query(
            "SELECT CAST(COALESCE(SUM(-reserved_delta), 0) AS BIGINT) AS used FROM ledger_entries \
             WHERE account_id = $1 AND kind = 'charge' AND created_at >= $2",
        )
        .bind(account.get())
        .bind(last_end)
        .fetch_one(&self.read)
        .await?
        .try_get("used")?;
        // The credit line in use, less what no invoice asked for yet.
        let mut billed_debt = ((limit - balance).max(0) - unbilled - reserved).max(0);
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let net: i64 = r.try_get("net")?;
            let owed = net.max(0).min(billed_debt);
            billed_debt -= owed;
            let due: String = r.try_get("due_date")?;
            out.push(UsageInvoice {
                invoice_id: r.try_get("invoice_id")?,
                account,
                email: email.clone(),
                number: r.try_get("number")?,
                period: r.try_get("period")?,
                due_date: billing::calendar::parse_iso(&due)
                    .ok_or_else(|| StoreError::Corrupt(format!("due date {due:?}")))?,
                total: Money::from_hundredths(net),
                outstanding: Money::from_hundredths(owed),
                reminders: r.try_get("reminders")?,
                reminded_at: r.try_get("reminded_at")?,
            });
        }
        Ok(out)
    }

    /// Usage invoices still owed after their due date (before `today`), of every account.
    pub async fn overdue_usage_invoices(&self, today: NaiveDate) -> Result<Vec<UsageInvoice>> {
        let accounts = sqlx::query(
            "SELECT DISTINCT account_id FROM usage_invoices WHERE due_date < $1 ORDER BY account_id",
        )
        .bind(billing::calendar::iso(today))
        .fetch_all(&self.read)
        .await?;
        let mut out = Vec::new();
        for a in accounts {
            let account = AccountId::new(a.try_get("account_id")?);
            out.extend(
                self.usage_invoices(account)
                    .await?
                    .into_iter()
                    .filter(|u| u.due_date < today && u.outstanding.hundredths() > 0),
            );
        }
        Ok(out)
    }

    /// Postpaid accounts with overdue invoices, largest debt first.
    pub async fn postpaid_debtors(&self, today: NaiveDate) -> Result<Vec<PostpaidDebtor>> {
        let mut out: Vec<PostpaidDebtor> = Vec::new();
        for u in self.overdue_usage_invoices(today).await? {
            if let Some(d) = out.iter_mut().find(|d| d.account == u.account) {
                d.overdue =
                    Money::from_hundredths(d.overdue.hundredths() + u.outstanding.hundredths());
                d.oldest_due = d.oldest_due.min(u.due_date);
                d.invoices += 1;
                continue;
            }
            let row = sqlx::query("SELECT email, name FROM accounts WHERE id = $1")
                .bind(u.account.get())
                .fetch_one(&self.read)
                .await?;
            out.push(PostpaidDebtor {
                account: u.account,
                email: row.try_get("email")?,
                name: row.try_get("name")?,
                overdue: u.outstanding,
                oldest_due: u.due_date,
                invoices: 1,
            });
        }
        out.sort_by(|a, b| b.overdue.cmp(&a.overdue).then(a.account.cmp(&b.account)));
        Ok(out)
    }

    /// Records a reminder of an overdue invoice: counts it and, in the same transaction,
    /// queues the e-mail and the webhook deliveries. `None` (nothing written) when another
    /// node recorded reminder number `sent_before + 1` first.
    pub async fn record_reminder(
        &self,
        invoice_id: i64,
        sent_before: i64,
        mail: &OutboxMail,
        deliveries: &[NewDelivery],
        now: i64,
    ) -> Result<Option<i64>> {
        let mut conn = self.write_conn(Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let done = sqlx::query(
            "UPDATE usage_invoices SET reminders = reminders + 1, reminded_at = $1 \
             WHERE invoice_id = $2 AND reminders = $3",
        )
        .bind(now)
        .bind(invoice_id)
        .bind(sent_before)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        let id = push_mail(&mut tx, mail, now).await?;
        push_deliveries(&mut tx, deliveries, now).await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    /// The latest staff decisions on unpaired payments, newest first.
    pub async fn recent_pairing_decisions(
        &self,
        limit: u32,
    ) -> Result<Vec<crate::PairingDecision>> {
        let rows = sqlx::query(
            "SELECT bank_transaction_id, decision, account_id, decided_by, note, decided_at \
             FROM payment_pairing_log ORDER BY id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(crate::PairingDecision {
                    bank_transaction: r.try_get("bank_transaction_id")?,
                    decision: r.try_get("decision")?,
                    account: r
                        .try_get::<Option<i64>, _>("account_id")?
                        .map(AccountId::new),
                    decided_by: r.try_get("decided_by")?,
                    note: r.try_get("note")?,
                    decided_at: r.try_get("decided_at")?,
                })
            })
            .collect()
    }

    /// The due date and the amount still owed of an invoice that asks for a payment (a usage
    /// invoice not settled yet); `None` otherwise.
    pub async fn invoice_payment_due(
        &self,
        account: AccountId,
        invoice_id: i64,
    ) -> Result<Option<(NaiveDate, Money)>> {
        let listed = sqlx::query(
            "SELECT 1 AS one FROM usage_invoices WHERE invoice_id = $1 AND account_id = $2",
        )
        .bind(invoice_id)
        .bind(account.get())
        .fetch_optional(&self.read)
        .await?;
        if listed.is_none() {
            return Ok(None);
        }
        Ok(self
            .usage_invoices(account)
            .await?
            .into_iter()
            .find(|u| u.invoice_id == invoice_id && u.outstanding.hundredths() > 0)
            .map(|u| (u.due_date, u.outstanding)))
    }
}
