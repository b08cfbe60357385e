//! Billing settings and the billing subcommands: statement import, the unpaired-payment queue
//! and staff pairing, price lists, credit notes, and the debtor and low-credit listings.

use std::path::{Path, PathBuf};

use anyhow::Context;
use billing::vat::VatRateSetting;
use billing::{InvoicePolicy, PriceEntry, SeriesRule, Supplier, VatRates};
use clap::Subcommand;
use domain::{AccountId, Money};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use store::{ImportSource, NewPriceList, Store};

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
    /// How often accounts are checked against their low-credit threshold.
    pub low_credit_check_s: u64,
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
        })
    }

    /// What the HTTP API needs.
    pub fn api(&self) -> anyhow::Result<api::BillingSettings> {
        self.policy()?;
        Ok(api::BillingSettings {
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
    /// Accounts that owe money (reversed payments their credit could not cover), JSON lines.
    Debtors,
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

/// Sends the low-credit notices that are due, one e-mail per account, and marks them sent;
/// re-arms accounts whose credit recovered. Returns how many went out.
pub async fn low_credit_run_once(store: &Store, smtp: &SmtpSettings) -> anyhow::Result<usize> {
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
    store.rearm_low_credit().await?;
    let due = store.low_credit_due().await?;
    if due.is_empty() {
        return Ok(0);
    }
    let from: lettre::message::Mailbox = smtp
        .from
        .parse()
        .with_context(|| format!("billing.smtp.from {:?}", smtp.from))?;
    let mailer = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
        .port(smtp.port)
        .build();
    let mut sent = 0;
    for (account, email, available, threshold) in due {
        let to: lettre::message::Mailbox = match email.parse() {
            Ok(to) => to,
            Err(_) => {
                tracing::warn!(%account, "low-credit notice: the account's e-mail is not an address");
                store
                    .mark_low_credit_notified(account, store::now_us())
                    .await?;
                continue;
            }
        };
        let body = format!(
            "Kredit vašeho účtu {account} klesl pod {threshold} CZK: k dispozici je {available} CZK.\n\
             Dobijte jej bankovním převodem (POST /v1/top-ups).\n\n\
             The credit of your account {account} fell below {threshold} CZK: {available} CZK is available.\n"
        );
        let message = Message::builder()
            .from(from.clone())
            .to(to)
            .subject("Nízký kredit / Low credit")
            .body(body)
            .context("building the low-credit e-mail")?;
        match mailer.send(message).await {
            Ok(_) => {
                store
                    .mark_low_credit_notified(account, store::now_us())
                    .await?;
                sent += 1;
            }
            // Tried again at the next check.
            Err(e) => tracing::warn!(%account, error = %e, "low-credit notice not sent"),
        }
    }
    Ok(sent)
}

/// [`low_credit_run_once`] every `interval` until `shutdown`.
pub async fn low_credit_notices(
    store: Store,
    smtp: SmtpSettings,
    interval: std::time::Duration,
    shutdown: tokio_util::sync::CancellationToken,
) {
    loop {
        match low_credit_run_once(&store, &smtp).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(sent = n, "low-credit notices sent"),
            Err(e) => tracing::warn!(error = %e, "low-credit check failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
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
                        "account_id": d.account,
                        "name": d.name,
                        "email": d.email,
                        "owed_czk": d.owed,
                        "since_us": d.since,
                    })
                );
            }
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
    let InvoicesCommand::CreditNote { invoice, reason } = command;
    let id = store
        .issue_credit_note(invoice, &reason, &settings.policy()?, store::now_us())
        .await
        .context("issuing the credit note")?;
    println!("{}", serde_json::json!({"credit_note_id": id}));
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
        assert_eq!(low_credit_run_once(&store, &smtp).await.unwrap(), 1);
        assert_eq!(
            low_credit_run_once(&store, &smtp).await.unwrap(),
            0,
            "sent once"
        );
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
