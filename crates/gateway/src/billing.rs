//! Billing settings and the billing subcommands: statement import, the unpaired-payment queue
//! and staff pairing, postpaid accounts, price lists, credit notes, monthly invoicing, and the
//! debtor listing; and the billing worker: low-credit notices, reminders of overdue invoices,
//! monthly invoicing.

use std::path::{Path, PathBuf};

use anyhow::Context;
use billing::calendar::Month;
use billing::vat::VatRateSetting;
use billing::{InvoicePolicy, Invoicing, PriceEntry, SeriesRule, Supplier, VatRates};
use clap::Subcommand;
use domain::IdGenerator;
use domain::{AccountId, Money};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use store::{ImportSource, NewPriceList, OutboxMail, Store};

/// `[billing]` in the settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BillingSettings {
    /// The operator as payee and as supplier on invoices (`[billing.supplier]`).
    pub supplier: Supplier,
    /// Invoice numbers: prefix + year + sequence (`FV2026000001`).
    pub invoice_prefix: String,
    /// Credit note numbers (`DB2026000001`).
    pub credit_note_prefix: String,
    pub number_digits: u8,
    /// The standard VAT rate over time (`[[billing.vat_rates]]` with `valid_from`, `percent`).
    pub vat_rates: Vec<VatRateSetting>,
    /// Subject of supply printed on the invoice of a top-up.
    pub top_up_description: String,
    pub top_up_due_days: u32,
    pub min_top_up_czk: String,
    pub max_top_up_czk: String,
    /// Where low-credit notices are sent from; no notices without it (`[billing.smtp]`).
    pub smtp: Option<SmtpSettings>,
    /// How often accounts are checked against their low-credit threshold (and overdue
    /// invoices for reminders).
    pub low_credit_check_s: u64,
    /// `per_payment` (an invoice with each paired payment) or `monthly` (one invoice per
    /// account for a month's payments, issued after the month).
    pub invoicing: Invoicing,
    /// Days from a postpaid usage invoice's issue to its due date.
    pub postpaid_due_days: u32,
    /// Days between two reminders of an overdue invoice.
    pub reminder_interval_days: u32,
    /// Reminders of one invoice at most (then staff take over: the debtor list).
    pub max_reminders: u32,
    /// How often the worker looks for a finished month to invoice.
    pub invoicing_check_s: u64,
}

/// An SMTP relay that accepts mail without authentication, e.g. the local MTA or a relay on a
/// trusted network. The connection is not encrypted: the relay is expected on the same host or
/// network (no credentials are ever sent).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    /// The sender, e.g. "ApiSendSMS <billing@example.cz>".
    pub from: String,
}

fn default_smtp_port() -> u16 {
    25
}

impl Default for BillingSettings {
    fn default() -> Self {
        Self {
            supplier: Supplier::default(),
            invoice_prefix: "FV".into(),
            credit_note_prefix: "DB".into(),
            number_digits: 6,
            vat_rates: vec![VatRateSetting {
                valid_from: "2013-01-01".into(),
                percent: "21".into(),
            }],
            top_up_description: "Předplacený kredit na SMS služby (prepaid SMS credit)".into(),
            top_up_due_days: 14,
            min_top_up_czk: "100.00".into(),
            max_top_up_czk: "1000000.00".into(),
            smtp: None,
            low_credit_check_s: 60,
            invoicing: Invoicing::PerPayment,
            postpaid_due_days: 14,
            reminder_interval_days: 7,
            max_reminders: 3,
            invoicing_check_s: 3600,
        }
    }
}

impl BillingSettings {
    /// The rules invoices are issued by; refuses settings that could not issue one.
    pub fn policy(&self) -> anyhow::Result<InvoicePolicy> {
        payments::Iban::parse(&self.supplier.iban)
            .with_context(|| format!("billing.supplier.iban {:?}", self.supplier.iban))?;
        anyhow::ensure!(
            !self.invoice_prefix.is_empty() && self.invoice_prefix != self.credit_note_prefix,
            "billing.invoice_prefix and billing.credit_note_prefix must differ and not be empty"
        );
        Ok(InvoicePolicy {
            supplier: self.supplier.clone(),
            invoices: SeriesRule::new(&self.invoice_prefix, self.number_digits),
            credit_notes: SeriesRule::new(&self.credit_note_prefix, self.number_digits),
            vat_rates: VatRates::from_settings(&self.vat_rates).context("billing.vat_rates")?,
            top_up_description: self.top_up_description.clone(),
            invoicing: self.invoicing,
        })
    }

    /// What the HTTP API needs.
    pub fn api(&self) -> anyhow::Result<api::BillingSettings> {
        Ok(api::BillingSettings {
            policy: self.policy()?,
            supplier: self.supplier.clone(),
            top_up_due_days: self.top_up_due_days,
            min_top_up: Money::parse(&self.min_top_up_czk)
                .context("billing.min_top_up_czk must be an amount")?,
            max_top_up: Money::parse(&self.max_top_up_czk)
                .context("billing.max_top_up_czk must be an amount")?,
        })
    }
}

#[derive(Subcommand, Debug)]
pub enum PaymentsCommand {
    /// Import a bank statement (ABO/GPC, camt.053 or Fio JSON, detected from the content):
    /// pair payments by variable symbol, credit them once, invoice them. Prints a JSON report.
    Import { file: PathBuf },
    /// List the payments waiting for staff to pair them (JSON lines).
    Unpaired,
    /// Pair an unpaired payment with an account (credited and invoiced; the decision is logged).
    Pair {
        #[arg(long)]
        transaction: i64,
        #[arg(long)]
        account: i64,
        /// Who decides (logged).
        #[arg(long)]
        by: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Accounts that owe money, JSON lines: reversed payments their credit could not cover
    /// (`"kind": "reversal"`) and postpaid accounts with overdue invoices (`"kind": "postpaid"`).
    Debtors,
    /// Make an account postpaid with a credit limit (its balance may go down to -limit), or
    /// change the limit; `--off` makes it prepaid again (refused while it uses its credit line).
    Postpaid {
        #[arg(long)]
        account: i64,
        /// The credit limit in CZK, e.g. 5000.00.
        #[arg(long, required_unless_present = "off")]
        limit: Option<String>,
        #[arg(long)]
        off: bool,
    },
    /// Decide that an unpaired payment belongs to no account (to be refunded; logged).
    Reject {
        #[arg(long)]
        transaction: i64,
        #[arg(long)]
        by: String,
        #[arg(long)]
        note: String,
    },
}

/// Hands one e-mail to the SMTP relay.
async fn send_mail(smtp: &SmtpSettings, mail: &OutboxMail) -> anyhow::Result<()> {
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
    let from: lettre::message::Mailbox = smtp
        .from
        .parse()
        .with_context(|| format!("billing.smtp.from {:?}", smtp.from))?;
    let to: lettre::message::Mailbox = mail
        .to
        .parse()
        .with_context(|| format!("{:?} is not an e-mail address", mail.to))?;
    let message = Message::builder()
        .from(from)
        .to(to)
        .subject(mail.subject.as_str())
        .body(mail.body.clone())
        .context("building the e-mail")?;
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
        .port(smtp.port)
        .build()
        .send(message)
        .await
        .context("sending the e-mail")?;
    Ok(())
}

/// Mails an outbox e-mail when SMTP is configured and marks it sent; without SMTP (or when
/// the relay refuses) it stays in the outbox unsent.
async fn deliver_mail(store: &Store, smtp: Option<&SmtpSettings>, id: i64, mail: &OutboxMail) {
    let Some(smtp) = smtp else { return };
    match send_mail(smtp, mail).await {
        Ok(()) => {
            if let Err(e) = store.mark_email_sent(id, store::now_us()).await {
                tracing::warn!(error = %e, "marking the e-mail sent");
            }
        }
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), outbox = id, "e-mail not sent; kept in the outbox")
        }
    }
}

/// What one pass of the notices did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NoticeReport {
    pub low_credit: usize,
    pub reminders: usize,
}

/// Low-credit notices and reminders of overdue invoices: each recorded once (the e-mail in the
/// outbox and the webhook deliveries in the same transaction), then mailed when SMTP is
/// configured. Accounts whose credit recovered are re-armed first.
pub async fn notices_run_once(
    store: &Store,
    ids: &IdGenerator,
    settings: &BillingSettings,
    now: i64,
) -> anyhow::Result<NoticeReport> {
    let mut report = NoticeReport::default();
    store.rearm_low_credit().await?;
    for (account, email, available, threshold) in store.low_credit_due().await? {
        let mail = OutboxMail {
            to: email,
            subject: "Nízký kredit / Low credit".into(),
            body: format!(
                "Kredit vašeho účtu {account} klesl pod {threshold} CZK: k dispozici je {available} CZK.\n\
                 Dobijte jej bankovním převodem (v aplikaci: Kredit, nebo POST /v1/top-ups).\n\n\
                 The credit of your account {account} fell below {threshold} CZK: {available} CZK is available.\n"
            ),
        };
        let hooks = store.webhooks_of(&[account]).await?;
        let event = webhooks::billing::BillingEvent::CreditLow {
            available,
            threshold,
            at: now,
        };
        let deliveries = webhooks::billing::deliveries(account, &event, &hooks, ids);
        if let Some(id) = store
            .record_low_credit_notice(account, &mail, &deliveries, now)
            .await?
        {
            report.low_credit += 1;
            deliver_mail(store, settings.smtp.as_ref(), id, &mail).await;
        }
    }
    let today = billing::calendar::prague_date(now);
    let interval = i64::from(settings.reminder_interval_days) * 86_400_000_000;
    for u in store.overdue_usage_invoices(today).await? {
        if u.reminders >= i64::from(settings.max_reminders)
            || u.reminded_at.is_some_and(|at| now - at < interval)
        {
            continue;
        }
        let due = billing::calendar::czech(u.due_date);
        let mail = OutboxMail {
            to: u.email.clone(),
            subject: format!(
                "Upomínka: faktura {} po splatnosti / Invoice overdue",
                u.number
            ),
            body: format!(
                "Faktura {number} za {period} byla splatná {due}; zbývá uhradit {owed} CZK.\n\
                 Zaplaťte prosím převodem na účet uvedený na faktuře s jejím variabilním symbolem \
                 (PDF s QR kódem v aplikaci: Faktury).\n\n\
                 Invoice {number} for {period} was due on {due}; {owed} CZK is still owed.\n",
                number = u.number,
                period = u.period,
                owed = u.outstanding,
            ),
        };
        let hooks = store.webhooks_of(&[u.account]).await?;
        let event = webhooks::billing::BillingEvent::InvoiceOverdue {
            invoice_id: u.invoice_id,
            number: u.number.clone(),
            due_date: billing::calendar::iso(u.due_date),
            outstanding: u.outstanding,
            reminder: u.reminders + 1,
            at: now,
        };
        let deliveries = webhooks::billing::deliveries(u.account, &event, &hooks, ids);
        if let Some(id) = store
            .record_reminder(u.invoice_id, u.reminders, &mail, &deliveries, now)
            .await?
        {
            report.reminders += 1;
            deliver_mail(store, settings.smtp.as_ref(), id, &mail).await;
        }
    }
    Ok(report)
}

/// The invoices of a finished month: postpaid usage, and the month's payments when invoicing
/// is monthly. Returns the numbers issued.
pub async fn invoice_month(
    store: &Store,
    settings: &BillingSettings,
    month: Month,
    now: i64,
) -> anyhow::Result<Vec<String>> {
    let policy = settings.policy()?;
    let mut issued = store
        .invoice_monthly_usage(month, &policy, settings.postpaid_due_days, now)
        .await
        .with_context(|| format!("usage invoices of {month}"))?;
    if policy.invoicing == Invoicing::Monthly {
        issued.extend(
            store
                .invoice_monthly_payments(month, &policy, now)
                .await
                .with_context(|| format!("payment invoices of {month}"))?,
        );
    }
    Ok(issued)
}

/// The billing worker: notices every `low_credit_check_s`, the previous month's invoices every
/// `invoicing_check_s` (nothing is issued twice), until `shutdown`.
pub async fn run_worker(
    store: Store,
    ids: std::sync::Arc<IdGenerator>,
    settings: BillingSettings,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let tick = std::time::Duration::from_secs(settings.low_credit_check_s.max(1));
    let invoicing_every = std::time::Duration::from_secs(settings.invoicing_check_s.max(1));
    let mut last_invoicing: Option<std::time::Instant> = None;
    loop {
        let now = store::now_us();
        match notices_run_once(&store, &ids, &settings, now).await {
            Ok(r) if r == NoticeReport::default() => {}
            Ok(r) => tracing::info!(
                low_credit = r.low_credit,
                reminders = r.reminders,
                "billing notices recorded"
            ),
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "billing notices failed"),
        }
        if last_invoicing.is_none_or(|t| t.elapsed() >= invoicing_every) {
            last_invoicing = Some(std::time::Instant::now());
            let month = Month::of(billing::calendar::prague_date(now)).previous();
            match invoice_month(&store, &settings, month, now).await {
                Ok(issued) if issued.is_empty() => {}
                Ok(issued) => {
                    tracing::info!(%month, count = issued.len(), "monthly invoices issued")
                }
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "monthly invoicing failed"),
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(tick) => {}
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum PricesCommand {
    /// Add a price list version from a CSV file of `prefix,price_czk` lines (prefix = E.164
    /// digits without '+', empty for every destination; price per segment).
    Import {
        file: PathBuf,
        /// The account whose own prices these are; the public list when absent.
        #[arg(long)]
        account: Option<i64>,
        /// RFC 3339; now when absent.
        #[arg(long)]
        valid_from: Option<String>,
        #[arg(long)]
        valid_until: Option<String>,
        #[arg(long, default_value = "price list")]
        name: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum InvoicesCommand {
    /// Correct an invoice in full with a credit note (the invoice itself never changes).
    CreditNote {
        #[arg(long)]
        invoice: i64,
        #[arg(long)]
        reason: String,
    },
    /// Issue the invoices of a finished month now (the server does it by itself after each
    /// month): postpaid usage invoices, and with `invoicing = "monthly"` the invoices of the
    /// month's payments. Prints the numbers issued.
    RunMonthly {
        /// YYYY-MM; the previous month when absent.
        #[arg(long)]
        month: Option<String>,
    },
}

pub async fn payments(
    store: &Store,
    settings: &BillingSettings,
    command: PaymentsCommand,
) -> anyhow::Result<()> {
    let now = store::now_us();
    match command {
        PaymentsCommand::Import { file } => {
            let report = import_file(store, &settings.policy()?, &file, now).await?;
            println!(
                "{}",
                serde_json::json!({
                    "import_id": report.import_id,
                    "transactions": report.transactions,
                    "duplicates": report.duplicates,
                    "not_booked": report.not_booked,
                    "credited": report.credited,
                    "credited_czk": report.credited_total,
                    "reversed": report.reversed,
                    "unpaired": report.unpaired,
                    "ignored": report.ignored,
                    "documents": report.documents,
                })
            );
        }
        PaymentsCommand::Unpaired => {
            for t in store.unpaired_payments().await? {
                println!(
                    "{}",
                    serde_json::json!({
                        "id": t.id,
                        "bank_account": t.bank_account,
                        "bank_ref": t.bank_ref,
                        "direction": if t.credit { "credit" } else { "debit" },
                        "reversal": t.reversal,
                        "amount": t.amount,
                        "currency": t.currency,
                        "booking_date": t.booking_date,
                        "variable_symbol": t.variable_symbol,
                        "counter_account": t.counter_account,
                        "counter_name": t.counter_name,
                        "message": t.message,
                    })
                );
            }
        }
        PaymentsCommand::Pair {
            transaction,
            account,
            by,
            note,
        } => {
            let doc = store
                .pair_payment(
                    transaction,
                    AccountId::new(account),
                    &by,
                    &note,
                    &settings.policy()?,
                    now,
                )
                .await
                .context("pairing the payment")?;
            println!(
                "{}",
                serde_json::json!({"paired": transaction, "document": doc})
            );
        }
        PaymentsCommand::Debtors => {
            for d in store.debtors().await? {
                println!(
                    "{}",
                    serde_json::json!({
                        "kind": "reversal",
                        "account_id": d.account,
                        "name": d.name,
                        "email": d.email,
                        "owed_czk": d.owed,
                        "since_us": d.since,
                    })
                );
            }
            let today = billing::calendar::prague_date(now);
            for d in store.postpaid_debtors(today).await? {
                println!(
                    "{}",
                    serde_json::json!({
                        "kind": "postpaid",
                        "account_id": d.account,
                        "name": d.name,
                        "email": d.email,
                        "owed_czk": d.overdue,
                        "oldest_due_date": billing::calendar::iso(d.oldest_due),
                        "overdue_invoices": d.invoices,
                    })
                );
            }
        }
        PaymentsCommand::Postpaid {
            account,
            limit,
            off,
        } => {
            let limit = match (&limit, off) {
                (_, true) => Money::ZERO,
                (Some(l), false) => Money::parse(l)
                    .ok()
                    .filter(|m| !m.is_negative())
                    .with_context(|| format!("--limit {l:?} is not an amount such as 5000.00"))?,
                (None, false) => anyhow::bail!("--limit or --off"),
            };
            let view = store
                .set_postpaid(AccountId::new(account), !off, limit, now)
                .await
                .context("setting the credit terms")?;
            println!(
                "{}",
                serde_json::json!({
                    "account_id": account,
                    "postpaid": view.postpaid,
                    "credit_limit_czk": view.credit_limit,
                    "balance_czk": view.balance,
                })
            );
        }
        PaymentsCommand::Reject {
            transaction,
            by,
            note,
        } => {
            store
                .reject_payment(transaction, &by, &note, now)
                .await
                .context("rejecting the payment")?;
            println!("{}", serde_json::json!({"rejected": transaction}));
        }
    }
    Ok(())
}

/// Reads, parses and imports one statement file; a file that does not parse changes nothing
/// and the error names the line or element at fault.
pub async fn import_file(
    store: &Store,
    policy: &InvoicePolicy,
    file: &Path,
    now: i64,
) -> anyhow::Result<store::ImportReport> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let statement = payments::parse(&bytes)
        .with_context(|| format!("{} is refused, nothing was imported", file.display()))?;
    let sha = hex::encode(Sha256::digest(&bytes));
    let name = file.display().to_string();
    store
        .import_statement(
            &statement,
            &ImportSource {
                name: &name,
                sha256: &sha,
            },
            policy,
            now,
        )
        .await
        .with_context(|| format!("importing {}; nothing was imported", file.display()))
}

fn rfc3339_us(text: &str) -> anyhow::Result<i64> {
    let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .with_context(|| format!("{text:?} is not an RFC 3339 time"))?;
    Ok(i64::try_from(t.unix_timestamp_nanos() / 1000)?)
}

/// `prefix,price` lines; `#` starts a comment; a header line `prefix,...` is skipped.
fn parse_price_csv(text: &str) -> anyhow::Result<Vec<PriceEntry>> {
    let mut entries = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || (n == 0 && line.starts_with("prefix")) {
            continue;
        }
        let (prefix, price) = line
            .split_once(',')
            .with_context(|| format!("line {}: expected prefix,price_czk", n + 1))?;
        let prefix = prefix.trim().trim_start_matches('+');
        anyhow::ensure!(
            prefix.bytes().all(|b| b.is_ascii_digit()),
            "line {}: prefix {prefix:?} is not E.164 digits",
            n + 1
        );
        let price = Money::parse(price)
            .ok()
            .filter(|m| !m.is_negative())
            .with_context(|| format!("line {}: {price:?} is not a price such as 0.90", n + 1))?;
        entries.push(PriceEntry {
            prefix: prefix.to_owned(),
            per_segment: price,
        });
    }
    anyhow::ensure!(!entries.is_empty(), "the price list has no entries");
    Ok(entries)
}

pub async fn prices(store: &Store, command: PricesCommand) -> anyhow::Result<()> {
    let PricesCommand::Import {
        file,
        account,
        valid_from,
        valid_until,
        name,
    } = command;
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    let entries = parse_price_csv(&text).with_context(|| file.display().to_string())?;
    let now = store::now_us();
    let account = account.map(AccountId::new);
    if let Some(a) = account {
        anyhow::ensure!(store.account_exists(a).await?, "no account {a}");
    }
    let list = NewPriceList {
        account,
        name,
        valid_from: valid_from
            .as_deref()
            .map(rfc3339_us)
            .transpose()?
            .unwrap_or(now),
        valid_until: valid_until.as_deref().map(rfc3339_us).transpose()?,
        entries,
    };
    let id = store
        .create_price_list(&list, now)
        .await
        .context("storing the price list")?;
    println!(
        "{}",
        serde_json::json!({"price_list_id": id, "entries": list.entries.len()})
    );
    Ok(())
}

pub async fn invoices(
    store: &Store,
    settings: &BillingSettings,
    command: InvoicesCommand,
) -> anyhow::Result<()> {
    match command {
        InvoicesCommand::CreditNote { invoice, reason } => {
            let id = store
                .issue_credit_note(invoice, &reason, &settings.policy()?, store::now_us())
                .await
                .context("issuing the credit note")?;
            println!("{}", serde_json::json!({"credit_note_id": id}));
        }
        InvoicesCommand::RunMonthly { month } => {
            let now = store::now_us();
            let month = match month {
                Some(m) => {
                    Month::parse(&m).with_context(|| format!("--month {m:?} is not YYYY-MM"))?
                }
                None => Month::of(billing::calendar::prague_date(now)).previous(),
            };
            let issued = invoice_month(store, settings, month, now).await?;
            println!(
                "{}",
                serde_json::json!({"month": month.to_string(), "issued": issued})
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_csv() {
        let e =
            parse_price_csv("prefix,price_czk\n420,0.90\n+4206,0.85\n# comment\n,1.50\n").unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e[1].prefix, "4206");
        assert_eq!(e[2].prefix, "");
        assert_eq!(e[2].per_segment, Money::from_hundredths(150));
        let err = parse_price_csv("420,abc").unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
        assert!(parse_price_csv("42a,1").is_err());
        assert!(parse_price_csv("420,-1").is_err());
        assert!(parse_price_csv("").is_err());
    }

    /// A minimal SMTP server that accepts one connection's mail and returns what it received.
    async fn fake_smtp() -> (u16, tokio::task::JoinHandle<String>) {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let (sock, _) = listener.accept().await.unwrap();
            let (r, mut w) = sock.into_split();
            let mut lines = BufReader::new(r).lines();
            let mut received = String::new();
            w.write_all(b"220 test ESMTP\r\n").await.unwrap();
            let mut in_data = false;
            while let Ok(Some(line)) = lines.next_line().await {
                received.push_str(&line);
                received.push('\n');
                if in_data {
                    if line == "." {
                        in_data = false;
                        w.write_all(b"250 queued\r\n").await.unwrap();
                    }
                    continue;
                }
                let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
                let reply: &[u8] = match verb.as_str() {
                    "DATA" => {
                        in_data = true;
                        b"354 go on\r\n"
                    }
                    "QUIT" => {
                        w.write_all(b"221 bye\r\n").await.unwrap();
                        break;
                    }
                    _ => b"250 ok\r\n",
                };
                w.write_all(reply).await.unwrap();
            }
            received
        });
        (port, task)
    }

    #[tokio::test]
    async fn low_credit_notice_is_mailed_once() {
        let db = testkit::TestDb::new(testkit::Backend::Sqlite).await;
        let store = Store::connect(&db.url, store::StoreOptions::default())
            .await
            .unwrap();
        let a = AccountId::new(7);
        store
            .create_account(
                a,
                "jana@example.com",
                "Jana",
                Money::from_hundredths(5_000),
                0,
            )
            .await
            .unwrap();
        store
            .set_low_credit(a, Some(Money::from_hundredths(10_000)), 0)
            .await
            .unwrap();
        let (port, server) = fake_smtp().await;
        let smtp = SmtpSettings {
            host: "127.0.0.1".into(),
            port,
            from: "ApiSendSMS <billing@example.cz>".into(),
        };
        let settings = BillingSettings {
            smtp: Some(smtp),
            ..BillingSettings::default()
        };
        let ids = IdGenerator::new(1);
        let once = notices_run_once(&store, &ids, &settings, store::now_us())
            .await
            .unwrap();
        assert_eq!(once.low_credit, 1);
        let again = notices_run_once(&store, &ids, &settings, store::now_us())
            .await
            .unwrap();
        assert_eq!(again.low_credit, 0, "sent once");
        drop(store);
        let mail = tokio::time::timeout(std::time::Duration::from_secs(10), server)
            .await
            .expect("the SMTP session ends")
            .unwrap();
        assert!(mail.contains("RCPT TO:<jana@example.com>"), "{mail}");
        assert!(mail.contains("50.00 CZK"), "{mail}");
    }

    #[test]
    fn default_settings_make_a_policy() {
        let s = BillingSettings::default();
        assert!(s.policy().is_ok());
        assert!(s.api().is_ok());
        let mut bad = s.clone();
        bad.supplier.iban = "CZ00".into();
        assert!(bad.policy().is_err());
    }
}
