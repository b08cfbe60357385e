//! Bank statements: import, pairing of payments with accounts, the queue of unpaired payments.
//!
//! A statement is imported in one transaction: either every booked movement on it is recorded
//! (and credited, reversed or queued) or nothing is. Each movement is recorded once under the
//! key (bank account, bank reference), so importing the same statement twice, or two statements
//! that overlap, credits nothing twice. A credit is paired with an account by its variable symbol
//! (leading zeros ignored; found in the remittance text when the VS field is empty), credited to
//! the ledger as a top-up and invoiced in the same transaction. A reversed credit takes the credit
//! back (as far as the account still has it; the rest is recorded as a shortfall) and its invoice
//! is corrected by a credit note. What cannot be paired waits for staff, whose decision is logged.

use billing::{InvoiceKind, InvoicePolicy, Invoicing};
use domain::{AccountId, Money};
use payments::{Direction, Statement, Transaction};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::accounts::ledger_entry;
use crate::billing::for_update;
use crate::invoices::{issue, open_invoice_for_payment, IssueRequest};
use crate::{Backend, Durability, Result, Store, StoreError};

/// What one import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub import_id: i64,
    /// Booked movements on the statement.
    pub transactions: usize,
    /// Of those, already recorded by an earlier import (nothing done again).
    pub duplicates: usize,
    /// Pending or informational entries, not recorded (a later statement books them).
    pub not_booked: usize,
    pub credited: usize,
    pub credited_total: Money,
    pub reversed: usize,
    pub unpaired: usize,
    pub ignored: usize,
    /// Numbers of the invoices and credit notes issued.
    pub documents: Vec<String>,
}

/// A recorded movement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankTransaction {
    pub id: i64,
    pub bank_account: String,
    pub bank_ref: String,
    pub credit: bool,
    pub reversal: bool,
    pub amount: Money,
    pub currency: String,
    pub booking_date: String,
    pub variable_symbol: Option<String>,
    pub counter_account: Option<String>,
    pub counter_name: Option<String>,
    pub message: Option<String>,
    /// paired, unpaired, reversed, ignored, rejected
    pub state: String,
    pub account: Option<AccountId>,
    pub shortfall: Money,
}

/// An account that owes money (see [`Store::debtors`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Debtor {
    pub account: AccountId,
    pub email: String,
    pub name: String,
    pub owed: Money,
    /// When the oldest unsettled debt arose (UTC microseconds).
    pub since: i64,
}

/// A staff decision on an unpaired payment, as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairingDecision {
    pub bank_transaction: i64,
    pub decision: String,
    pub account: Option<AccountId>,
    pub decided_by: String,
    pub note: String,
    pub decided_at: i64,
}

/// Where an import came from (for the import log).
#[derive(Debug, Clone)]
pub struct ImportSource<'a> {
    /// A file name or "upload".
    pub name: &'a str,
    /// SHA-256 of the file, hex.
    pub sha256: &'a str,
}

const TX_COLUMNS: &str =
    "id, bank_account, bank_ref, direction, reversal, amount_cents, currency, \
    booking_date, variable_symbol, counter_account, counter_name, message, state, account_id, \
    shortfall_cents";

fn tx_from_row(r: &AnyRow) -> Result<BankTransaction> {
    let direction: String = r.try_get("direction")?;
    Ok(BankTransaction {
        id: r.try_get("id")?,
        bank_account: r.try_get("bank_account")?,
        bank_ref: r.try_get("bank_ref")?,
        credit: direction == "credit",
        reversal: r.try_get::<i64, _>("reversal")? != 0,
        amount: Money::from_hundredths(r.try_get("amount_cents")?),
        currency: r.try_get("currency")?,
        booking_date: r.try_get("booking_date")?,
        variable_symbol: r.try_get("variable_symbol")?,
        counter_account: r.try_get("counter_account")?,
        counter_name: r.try_get("counter_name")?,
        message: r.try_get("message")?,
        state: r.try_get("state")?,
        account: r
            .try_get::<Option<i64>, _>("account_id")?
            .map(AccountId::new),
        shortfall: Money::from_hundredths(r.try_get("shortfall_cents")?),
    })
}

/// What a movement is, for us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Money in: a payment to pair and credit.
    Payment,
    /// A payment taken back by the bank: the credit goes back.
    ReversedPayment,
    /// Anything else (our own debits, fees, a returned debit): recorded, nothing credited.
    Other,
}

fn kind_of(t: &Transaction) -> Kind {
    match (t.direction, t.reversal) {
        (Direction::Credit, false) => Kind::Payment,
        (Direction::Debit, true) => Kind::ReversedPayment,
        _ => Kind::Other,
    }
}

/// The variable symbol of a movement: its VS field, else one in the remittance text.
fn variable_symbol(t: &Transaction) -> Option<String> {
    t.vs.clone()
        .filter(|vs| !vs.is_zero())
        .or_else(|| t.message.as_deref().and_then(payments::vs_from_remittance))
        .map(|vs| vs.as_str().to_owned())
}

async fn account_for_vs(conn: &mut sqlx::AnyConnection, vs: &str) -> Result<Option<AccountId>> {
    let row = sqlx::query("SELECT account_id FROM billing_accounts WHERE variable_symbol = $1")
        .bind(vs)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| r.try_get::<i64, _>("account_id").map(AccountId::new))
        .transpose()
        .map_err(Into::into)
}

/// The statement's own account as the first half of the dedup key.
fn statement_account(statement: &Statement) -> String {
    statement
        .account
        .as_deref()
        .map(|a| a.trim().trim_start_matches('0').to_owned())
        .unwrap_or_default()
}

/// Credits a paired payment and, when payments are invoiced one by one and the account is
/// prepaid, invoices it; returns the invoice's number. (Monthly invoicing invoices the payment
/// after its month; a postpaid account's payment settles its usage invoices, which were the
/// tax documents.)
async fn credit_payment(
    conn: &mut sqlx::AnyConnection,
    policy: &InvoicePolicy,
    tx: &BankTransaction,
    account: AccountId,
    now: i64,
) -> Result<Option<String>> {
    ledger_entry(
        conn,
        account,
        "topup",
        tx.amount.hundredths(),
        0,
        &format!("bank payment {}/{}", tx.bank_account, tx.bank_ref),
        now,
    )
    .await?;
    recover_shortfalls(conn, account, tx, now).await?;
    if policy.invoicing == Invoicing::Monthly || crate::credit::is_postpaid(conn, account).await? {
        return Ok(None);
    }
    let date = billing::calendar::parse_iso(&tx.booking_date)
        .ok_or_else(|| StoreError::Corrupt(format!("booking date {:?}", tx.booking_date)))?;
    let id = issue(
        conn,
        policy,
        IssueRequest {
            account,
            kind: InvoiceKind::Invoice,
            total: tx.amount,
            taxable_date: date,
            payment_date: Some(date),
            bank_transaction: Some(tx.id),
            corrects: None,
            description: &policy.top_up_description,
            now,
        },
    )
    .await?;
    invoice_number(conn, id).await.map(Some)
}

/// A new payment first settles what earlier reversals could not take back (oldest first): the
/// payment is credited whole, then an adjustment takes the debt, and the shortfall shrinks.
async fn recover_shortfalls(
    conn: &mut sqlx::AnyConnection,
    account: AccountId,
    payment: &BankTransaction,
    now: i64,
) -> Result<()> {
    let rows = sqlx::query(
        "SELECT id, bank_ref, shortfall_cents FROM bank_transactions \
         WHERE account_id = $1 AND shortfall_cents > 0 ORDER BY id",
    )
    .bind(account.get())
    .fetch_all(&mut *conn)
    .await?;
    let mut left = payment.amount.hundredths();
    for r in rows {
        if left == 0 {
            break;
        }
        let id: i64 = r.try_get("id")?;
        let bank_ref: String = r.try_get("bank_ref")?;
        let owed: i64 = r.try_get("shortfall_cents")?;
        let take = owed.min(left);
        left -= take;
        ledger_entry(
            conn,
            account,
            "adjustment",
            -take,
            0,
            &format!(
                "debt of reversed payment {bank_ref} settled from {}",
                payment.bank_ref
            ),
            now,
        )
        .await?;
        sqlx::query("UPDATE bank_transactions SET shortfall_cents = shortfall_cents - $1, updated_at = $2 WHERE id = $3")
            .bind(take)
            .bind(now)
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

async fn invoice_number(conn: &mut sqlx::AnyConnection, id: i64) -> Result<String> {
    Ok(sqlx::query("SELECT number FROM invoices WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?
        .try_get("number")?)
}

/// Takes a reversed payment back from the account, as far as its available credit goes;
/// corrects the original payment's invoice with a credit note. Returns the shortfall and the
/// credit note's number.
async fn take_back(
    backend: Backend,
    conn: &mut sqlx::AnyConnection,
    policy: &InvoicePolicy,
    tx: &BankTransaction,
    account: AccountId,
    now: i64,
) -> Result<(Money, Option<String>)> {
    let sql = format!(
        "SELECT balance_cents FROM accounts WHERE id = $1 {}",
        for_update(backend)
    );
    let balance: i64 = sqlx::query(&sql)
        .bind(account.get())
        .fetch_one(&mut *conn)
        .await?
        .try_get("balance_cents")?;
    let take = tx.amount.hundredths().min(balance).max(0);
    if take > 0 {
        ledger_entry(
            conn,
            account,
            "adjustment",
            -take,
            0,
            &format!("reversed bank payment {}/{}", tx.bank_account, tx.bank_ref),
            now,
        )
        .await?;
    }
    // The original payment: the latest paired credit of this account and amount whose invoice
    // is not corrected yet.
    let original = sqlx::query(
        "SELECT t.id FROM bank_transactions t WHERE t.account_id = $1 AND t.state = 'paired' \
         AND t.direction = 'credit' AND t.amount_cents = $2 AND t.bank_account = $3 \
         AND EXISTS (SELECT 1 FROM invoices i WHERE i.bank_transaction_id = t.id AND i.kind = 'invoice' \
           AND NOT EXISTS (SELECT 1 FROM invoices c WHERE c.corrects_id = i.id)) \
         ORDER BY t.id DESC LIMIT 1",
    )
    .bind(account.get())
    .bind(tx.amount.hundredths())
    .bind(tx.bank_account.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let mut note = None;
    if let Some(row) = original {
        let original_id: i64 = row.try_get("id")?;
        if let Some((invoice_id, number, total)) =
            open_invoice_for_payment(conn, original_id).await?
        {
            let id = issue(
                conn,
                policy,
                IssueRequest {
                    account,
                    kind: InvoiceKind::CreditNote,
                    total: Money::from_hundredths(-total.hundredths()),
                    taxable_date: billing::calendar::parse_iso(&tx.booking_date)
                        .unwrap_or_else(|| billing::calendar::prague_date(now)),
                    payment_date: None,
                    bank_transaction: Some(tx.id),
                    corrects: Some((invoice_id, number)),
                    description: "Vrácení platby bankou (payment reversed by the bank)",
                    now,
                },
            )
            .await?;
            note = Some(invoice_number(conn, id).await?);
        }
    } else {
        note = crate::invoicing::reverse_uninvoiced_payment(conn, policy, tx, account, now).await?;
    }
    Ok((Money::from_hundredths(tx.amount.hundredths() - take), note))
}

impl Store {
    /// Imports a parsed statement in one transaction; see the module documentation.
    pub async fn import_statement(
        &self,
        statement: &Statement,
        source: &ImportSource<'_>,
        policy: &InvoicePolicy,
        now: i64,
    ) -> Result<ImportReport> {
        let bank_account = statement_account(statement);
        let format = match statement.format {
            payments::Format::AboGpc => "abo",
            payments::Format::Camt053 => "camt.053",
            payments::Format::FioJson => "fio",
        };
        let mut conn = self.write_conn(Durability::Full).await?;
        let mut db = crate::begin_write(&mut conn).await?;
        let import_id: i64 = sqlx::query(
            "INSERT INTO bank_imports (format, bank_account, statement_id, file_sha256, source, \
             transactions, new_transactions, imported_at) VALUES ($1, $2, $3, $4, $5, 0, 0, $6) RETURNING id",
        )
        .bind(format)
        .bind(bank_account.as_str())
        .bind(statement.statement_id.as_deref())
        .bind(source.sha256)
        .bind(source.name)
        .bind(now)
        .fetch_one(&mut *db)
        .await?
        .try_get("id")?;
        let mut report = ImportReport {
            import_id,
            ..ImportReport::default()
        };
        for t in &statement.transactions {
            if !t.status_booked {
                report.not_booked += 1;
                continue;
            }
            report.transactions += 1;
            let kind = kind_of(t);
            let vs = variable_symbol(t);
            let account = match (&vs, kind) {
                (Some(vs), Kind::Payment | Kind::ReversedPayment) => {
                    account_for_vs(&mut db, vs).await?
                }
                _ => None,
            };
            let state = match (kind, account) {
                (Kind::Other, _) => "ignored",
                (Kind::Payment, Some(_)) if t.currency == "CZK" => "paired",
                (Kind::ReversedPayment, Some(_)) if t.currency == "CZK" => "reversed",
                _ => "unpaired",
            };
            let amount = t.amount.halere();
            let row = sqlx::query(&format!(
                "INSERT INTO bank_transactions (import_id, bank_account, bank_ref, direction, reversal, \
                 amount_cents, currency, booking_date, variable_symbol, counter_account, counter_name, \
                 message, state, account_id, created_at, updated_at) VALUES \
                 ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
                 ON CONFLICT (bank_account, bank_ref) DO NOTHING RETURNING {TX_COLUMNS}"
            ))
            .bind(import_id)
            .bind(bank_account.as_str())
            .bind(t.bank_ref.as_str())
            .bind(match t.direction {
                Direction::Credit => "credit",
                Direction::Debit => "debit",
            })
            .bind(i64::from(t.reversal))
            .bind(amount)
            .bind(t.currency.as_str())
            .bind(billing::calendar::iso(t.booking_date))
            .bind(vs.as_deref())
            .bind(t.counter_account.as_deref())
            .bind(t.counter_name.as_deref())
            .bind(t.message.as_deref())
            .bind(state)
            .bind(account.filter(|_| state != "unpaired").map(AccountId::get))
            .bind(now)
            .bind(now)
            .fetch_optional(&mut *db)
            .await?;
            let Some(row) = row else {
                report.duplicates += 1;
                continue;
            };
            let recorded = tx_from_row(&row)?;
            match (state, account) {
                ("paired", Some(account)) => {
                    let number = credit_payment(&mut db, policy, &recorded, account, now).await?;
                    report.credited += 1;
                    report.credited_total = report
                        .credited_total
                        .checked_add(recorded.amount)
                        .ok_or_else(|| StoreError::Billing("credited total overflows".into()))?;
                    report.documents.extend(number);
                }
                ("reversed", Some(account)) => {
                    let (shortfall, note) =
                        take_back(self.backend, &mut db, policy, &recorded, account, now).await?;
                    if shortfall.hundredths() > 0 {
                        sqlx::query(
                            "UPDATE bank_transactions SET shortfall_cents = $1 WHERE id = $2",
                        )
                        .bind(shortfall.hundredths())
                        .bind(recorded.id)
                        .execute(&mut *db)
                        .await?;
                    }
                    report.reversed += 1;
                    report.documents.extend(note);
                }
                ("unpaired", _) => report.unpaired += 1,
                _ => report.ignored += 1,
            }
        }
        sqlx::query(
            "UPDATE bank_imports SET transactions = $1, new_transactions = $2 WHERE id = $3",
        )
        .bind(report.transactions as i64)
        .bind((report.transactions - report.duplicates) as i64)
        .bind(import_id)
        .execute(&mut *db)
        .await?;
        db.commit().await?;
        Ok(report)
    }

    /// Accounts that owe money: reversed payments the credit could not cover, not yet settled
    /// by a later payment. Largest debt first.
    pub async fn debtors(&self) -> Result<Vec<Debtor>> {
        let rows = sqlx::query(
            "SELECT a.id, a.email, a.name, CAST(SUM(t.shortfall_cents) AS BIGINT) AS owed, \
             MIN(t.updated_at) AS since FROM bank_transactions t JOIN accounts a ON a.id = t.account_id \
             WHERE t.shortfall_cents > 0 GROUP BY a.id, a.email, a.name ORDER BY owed DESC, a.id",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Debtor {
                    account: AccountId::new(r.try_get("id")?),
                    email: r.try_get("email")?,
                    name: r.try_get("name")?,
                    owed: Money::from_hundredths(r.try_get("owed")?),
                    since: r.try_get("since")?,
                })
            })
            .collect()
    }

    /// Payments waiting for staff, oldest first.
    pub async fn unpaired_payments(&self) -> Result<Vec<BankTransaction>> {
        let sql = format!(
            "SELECT {TX_COLUMNS} FROM bank_transactions WHERE state = 'unpaired' ORDER BY id"
        );
        let rows = sqlx::query(&sql).fetch_all(&self.read).await?;
        rows.iter().map(tx_from_row).collect()
    }

    pub async fn bank_transaction(&self, id: i64) -> Result<Option<BankTransaction>> {
        let sql = format!("SELECT {TX_COLUMNS} FROM bank_transactions WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(tx_from_row).transpose()
    }

    /// Staff pair an unpaired movement with an account: a payment is credited and invoiced, a
    /// reversal takes the credit back. The decision is logged. Returns the document issued.
    pub async fn pair_payment(
        &self,
        id: i64,
        account: AccountId,
        decided_by: &str,
        note: &str,
        policy: &InvoicePolicy,
        now: i64,
    ) -> Result<Option<String>> {
        let mut conn = self.write_conn(Durability::Full).await?;
        let mut db = crate::begin_write(&mut conn).await?;
        let recorded = self.claim_unpaired(&mut db, id).await?;
        if recorded.currency != "CZK" {
            return Err(StoreError::Billing(format!(
                "payment {id} is in {}; only CZK is credited (reject it and refund)",
                recorded.currency
            )));
        }
        crate::billing::ensure_billing_account(&mut db, account, now).await?;
        let (state, document, shortfall) = if recorded.credit {
            let n = credit_payment(&mut db, policy, &recorded, account, now).await?;
            ("paired", n, Money::ZERO)
        } else {
            let (shortfall, n) =
                take_back(self.backend, &mut db, policy, &recorded, account, now).await?;
            ("reversed", n, shortfall)
        };
        sqlx::query(
            "UPDATE bank_transactions SET state = $1, account_id = $2, shortfall_cents = $3, updated_at = $4 \
             WHERE id = $5",
        )
        .bind(state)
        .bind(account.get())
        .bind(shortfall.hundredths())
        .bind(now)
        .bind(id)
        .execute(&mut *db)
        .await?;
        log_decision(&mut db, id, "paired", Some(account), decided_by, note, now).await?;
        db.commit().await?;
        Ok(document)
    }

    /// Staff decide an unpaired movement belongs to no account (to be refunded); logged.
    pub async fn reject_payment(
        &self,
        id: i64,
        decided_by: &str,
        note: &str,
        now: i64,
    ) -> Result<()> {
        let mut conn = self.write_conn(Durability::Full).await?;
        let mut db = crate::begin_write(&mut conn).await?;
        self.claim_unpaired(&mut db, id).await?;
        sqlx::query(
            "UPDATE bank_transactions SET state = 'rejected', updated_at = $1 WHERE id = $2",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *db)
        .await?;
        log_decision(&mut db, id, "rejected", None, decided_by, note, now).await?;
        db.commit().await?;
        Ok(())
    }

    /// The logged staff decisions about a movement, oldest first.
    pub async fn pairing_log(&self, id: i64) -> Result<Vec<PairingDecision>> {
        let rows = sqlx::query(
            "SELECT bank_transaction_id, decision, account_id, decided_by, note, decided_at \
             FROM payment_pairing_log WHERE bank_transaction_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PairingDecision {
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

    /// The movement, locked, if it still waits for a decision.
    async fn claim_unpaired(
        &self,
        conn: &mut sqlx::AnyConnection,
        id: i64,
    ) -> Result<BankTransaction> {
        let sql = format!(
            "SELECT {TX_COLUMNS} FROM bank_transactions WHERE id = $1 {}",
            for_update(self.backend)
        );
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| StoreError::Billing(format!("no bank transaction {id}")))?;
        let recorded = tx_from_row(&row)?;
        if recorded.state != "unpaired" {
            return Err(StoreError::Billing(format!(
                "bank transaction {id} is {}, not waiting for pairing",
                recorded.state
            )));
        }
        Ok(recorded)
    }
}

async fn log_decision(
    conn: &mut sqlx::AnyConnection,
    id: i64,
    decision: &str,
    account: Option<AccountId>,
    decided_by: &str,
    note: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO payment_pairing_log (bank_transaction_id, decision, account_id, decided_by, note, decided_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(decision)
    .bind(account.map(AccountId::get))
    .bind(decided_by)
    .bind(note)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    crate::audit::record(
        conn,
        &crate::audit::AuditEntry::new(
            decided_by,
            format!("payment.{decision}"),
            account.map_or(format!("bank_transaction:{id}"), |a| format!("account:{a}")),
            note,
        )
        .details(format!("bank_transaction={id}")),
        now,
    )
    .await?;
    Ok(())
}
