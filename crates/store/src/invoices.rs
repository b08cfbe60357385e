//! Tax documents: issued inside the transaction that credits the payment, numbered in series
//! without gaps, never changed afterwards (triggers refuse UPDATE and DELETE); a correction is a
//! credit note that refers to the invoice it corrects.

use billing::{InvoiceDocument, InvoiceKind, InvoicePolicy, Supplier, VatRate};
use chrono::{Datelike, NaiveDate};
use domain::{AccountId, Money};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::billing::{ensure_billing_account, next_counter};
use crate::{Durability, Result, Store, StoreError};

/// An issued document with its ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceRecord {
    pub id: i64,
    pub account: AccountId,
    pub series: String,
    pub seq: i64,
    pub bank_transaction: Option<i64>,
    pub corrects_id: Option<i64>,
    pub created_at: i64,
    pub document: InvoiceDocument,
}

/// What one new document is about.
pub(crate) struct IssueRequest<'a> {
    pub account: AccountId,
    pub kind: InvoiceKind,
    /// Including VAT; negative for a credit note.
    pub total: Money,
    pub taxable_date: NaiveDate,
    pub payment_date: Option<NaiveDate>,
    pub bank_transaction: Option<i64>,
    pub corrects: Option<(i64, String)>,
    pub description: &'a str,
    pub now: i64,
}

const INVOICE_COLUMNS: &str = "id, number, series, seq, kind, corrects_id, \
    (SELECT c.number FROM invoices c WHERE c.id = invoices.corrects_id) AS corrects_number, \
    account_id, bank_transaction_id, issue_date, taxable_date, payment_date, supplier_name, \
    supplier_address, supplier_ico, supplier_dic, supplier_register, supplier_iban, customer_name, \
    customer_address, customer_ico, customer_dic, description, quantity, unit_price_cents, \
    discount_cents, base_cents, vat_rate_bp, vat_cents, total_cents, currency, variable_symbol, \
    created_at, (SELECT u.due_date FROM usage_invoices u WHERE u.invoice_id = invoices.id) AS due_date";

fn date(r: &AnyRow, col: &str) -> Result<NaiveDate> {
    let s: String = r.try_get(col)?;
    billing::calendar::parse_iso(&s)
        .ok_or_else(|| StoreError::Corrupt(format!("invoice {col} {s:?} is not a date")))
}

fn invoice_from_row(r: &AnyRow) -> Result<InvoiceRecord> {
    let kind: String = r.try_get("kind")?;
    let payment_date: Option<String> = r.try_get("payment_date")?;
    let money = |c: &str| -> Result<Money> { Ok(Money::from_hundredths(r.try_get(c)?)) };
    Ok(InvoiceRecord {
        id: r.try_get("id")?,
        account: AccountId::new(r.try_get("account_id")?),
        series: r.try_get("series")?,
        seq: r.try_get("seq")?,
        bank_transaction: r.try_get("bank_transaction_id")?,
        corrects_id: r.try_get("corrects_id")?,
        created_at: r.try_get("created_at")?,
        document: InvoiceDocument {
            number: r.try_get("number")?,
            kind: InvoiceKind::parse(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("invoice kind {kind:?}")))?,
            corrects: r.try_get("corrects_number")?,
            issue_date: date(r, "issue_date")?,
            taxable_date: date(r, "taxable_date")?,
            payment_date: payment_date
                .as_deref()
                .map(|s| {
                    billing::calendar::parse_iso(s)
                        .ok_or_else(|| StoreError::Corrupt(format!("payment_date {s:?}")))
                })
                .transpose()?,
            supplier: Supplier {
                name: r.try_get("supplier_name")?,
                address: r.try_get("supplier_address")?,
                ico: r.try_get("supplier_ico")?,
                dic: r
                    .try_get::<Option<String>, _>("supplier_dic")?
                    .unwrap_or_default(),
                register: r.try_get("supplier_register")?,
                iban: r.try_get("supplier_iban")?,
                bic: String::new(),
            },
            customer_name: r.try_get("customer_name")?,
            customer_address: r.try_get("customer_address")?,
            customer_ico: r.try_get("customer_ico")?,
            customer_dic: r.try_get("customer_dic")?,
            description: r.try_get("description")?,
            quantity: r.try_get("quantity")?,
            unit_price: money("unit_price_cents")?,
            discount: money("discount_cents")?,
            base: money("base_cents")?,
            vat_rate: VatRate::from_basis_points(r.try_get("vat_rate_bp")?),
            vat: money("vat_cents")?,
            total: money("total_cents")?,
            currency: r.try_get("currency")?,
            variable_symbol: r.try_get("variable_symbol")?,
            due_date: r
                .try_get::<Option<String>, _>("due_date")?
                .as_deref()
                .map(|s| {
                    billing::calendar::parse_iso(s)
                        .ok_or_else(|| StoreError::Corrupt(format!("due_date {s:?}")))
                })
                .transpose()?,
            payment_qr: None,
        },
    })
}

/// Issues one document in the caller's transaction: takes the next number of its series, copies
/// the supplier's and the customer's details, splits the total into base and VAT.
pub(crate) async fn issue(
    conn: &mut sqlx::AnyConnection,
    policy: &InvoicePolicy,
    req: IssueRequest<'_>,
) -> Result<i64> {
    let billing = ensure_billing_account(conn, req.account, req.now).await?;
    let account_name: String = sqlx::query("SELECT name FROM accounts WHERE id = $1")
        .bind(req.account.get())
        .fetch_one(&mut *conn)
        .await?
        .try_get("name")?;
    let issue_date = billing::calendar::prague_date(req.now);
    let rate = policy
        .vat_rates
        .on(req.taxable_date)
        .map_err(|e| StoreError::Billing(e.to_string()))?;
    let split = rate.split_gross(req.total);
    let rule = match req.kind {
        InvoiceKind::Invoice => &policy.invoices,
        InvoiceKind::CreditNote => &policy.credit_notes,
    };
    let series = rule.series(issue_date.year());
    let seq = next_counter(conn, &format!("invoice:{series}"), 1).await?;
    let number = rule.number(issue_date.year(), seq);
    let s = &policy.supplier;
    let row = sqlx::query(
        "INSERT INTO invoices (number, series, seq, kind, corrects_id, account_id, bank_transaction_id, \
         issue_date, taxable_date, payment_date, supplier_name, supplier_address, supplier_ico, \
         supplier_dic, supplier_register, supplier_iban, customer_name, customer_address, customer_ico, \
         customer_dic, description, quantity, unit_price_cents, discount_cents, base_cents, vat_rate_bp, \
         vat_cents, total_cents, currency, variable_symbol, created_at) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, \
          $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31) RETURNING id",
    )
    .bind(number.as_str())
    .bind(series.as_str())
    .bind(seq)
    .bind(req.kind.as_str())
    .bind(req.corrects.as_ref().map(|(id, _)| *id))
    .bind(req.account.get())
    .bind(req.bank_transaction)
    .bind(billing::calendar::iso(issue_date))
    .bind(billing::calendar::iso(req.taxable_date))
    .bind(req.payment_date.map(billing::calendar::iso))
    .bind(s.name.as_str())
    .bind(s.address.as_str())
    .bind(s.ico.as_str())
    .bind((!s.dic.is_empty()).then_some(s.dic.as_str()))
    .bind(s.register.as_str())
    .bind(s.iban.as_str())
    .bind(billing.customer_name.unwrap_or(account_name))
    .bind(billing.customer_address)
    .bind(billing.customer_ico)
    .bind(billing.customer_dic)
    .bind(req.description)
    .bind(1_i64)
    .bind(split.base.hundredths())
    .bind(0_i64)
    .bind(split.base.hundredths())
    .bind(rate.basis_points())
    .bind(split.vat.hundredths())
    .bind(split.total.hundredths())
    .bind("CZK")
    .bind(billing.variable_symbol.as_str())
    .bind(req.now)
    .fetch_one(&mut *conn)
    .await?;
    let id: i64 = row.try_get("id")?;
    crate::audit::record(
        conn,
        &crate::audit::AuditEntry::new(
            "system",
            "invoice.issue",
            format!("account:{}", req.account),
            "billing",
        )
        .details(format!("invoice={id} series={series} seq={seq}")),
        req.now,
    )
    .await?;
    Ok(id)
}

/// The invoice issued for a paid bank transaction that no credit note has corrected yet.
pub(crate) async fn open_invoice_for_payment(
    conn: &mut sqlx::AnyConnection,
    bank_transaction: i64,
) -> Result<Option<(i64, String, Money)>> {
    let row = sqlx::query(
        "SELECT i.id, i.number, i.total_cents FROM invoices i WHERE i.bank_transaction_id = $1 \
         AND i.kind = 'invoice' AND NOT EXISTS (SELECT 1 FROM invoices c WHERE c.corrects_id = i.id)",
    )
    .bind(bank_transaction)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok((
            r.try_get("id")?,
            r.try_get("number")?,
            Money::from_hundredths(r.try_get("total_cents")?),
        ))
    })
    .transpose()
}

impl Store {
    /// The account's documents, newest first, below the id `before`.
    pub async fn list_invoices(
        &self,
        account: AccountId,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<InvoiceRecord>> {
        let sql = format!(
            "SELECT {INVOICE_COLUMNS} FROM invoices WHERE account_id = $1 AND id < $2 \
             ORDER BY id DESC LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(account.get())
            .bind(before.unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(invoice_from_row).collect()
    }

    pub async fn get_invoice(&self, account: AccountId, id: i64) -> Result<Option<InvoiceRecord>> {
        let sql =
            format!("SELECT {INVOICE_COLUMNS} FROM invoices WHERE id = $1 AND account_id = $2");
        let row = sqlx::query(&sql)
            .bind(id)
            .bind(account.get())
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(invoice_from_row).transpose()
    }

    /// Every document of a series in order (for staff and for the numbering tests).
    pub async fn invoices_in_series(&self, series: &str) -> Result<Vec<InvoiceRecord>> {
        let sql = format!("SELECT {INVOICE_COLUMNS} FROM invoices WHERE series = $1 ORDER BY seq");
        let rows = sqlx::query(&sql).bind(series).fetch_all(&self.read).await?;
        rows.iter().map(invoice_from_row).collect()
    }

    /// Corrects an invoice in full with a credit note (opravný daňový doklad) of the negative
    /// amount; the invoice itself never changes. Refused when the invoice was corrected before.
    pub async fn issue_credit_note(
        &self,
        invoice_id: i64,
        reason: &str,
        policy: &InvoicePolicy,
        now: i64,
    ) -> Result<i64> {
        let mut conn = self.write_conn(Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let row = sqlx::query(
            "SELECT i.account_id, i.number, i.total_cents, i.kind, \
             (SELECT COUNT(*) FROM invoices c WHERE c.corrects_id = i.id) AS corrections \
             FROM invoices i WHERE i.id = $1",
        )
        .bind(invoice_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::Billing(format!("no invoice {invoice_id}")))?;
        let kind: String = row.try_get("kind")?;
        if kind != "invoice" || row.try_get::<i64, _>("corrections")? > 0 {
            return Err(StoreError::Billing(format!(
                "invoice {invoice_id} is a credit note or was corrected already"
            )));
        }
        let number: String = row.try_get("number")?;
        let today = billing::calendar::prague_date(now);
        let id = issue(
            &mut tx,
            policy,
            IssueRequest {
                account: AccountId::new(row.try_get("account_id")?),
                kind: InvoiceKind::CreditNote,
                total: Money::from_hundredths(-row.try_get::<i64, _>("total_cents")?),
                taxable_date: today,
                payment_date: None,
                bank_transaction: None,
                corrects: Some((invoice_id, number)),
                description: reason,
                now,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }
}
