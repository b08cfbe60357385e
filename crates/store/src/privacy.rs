//! Data subjects' rights (issue 6): consent records with age declarations, objections to
//! commercial messages, data-subject requests with identity verification and their deadline,
//! the copy of a person's data for access and portability, and the erasure of a customer.
//!
//! Every step writes its audit entry in its own transaction.

use domain::consent::ConsentPurpose;
use domain::retention::Period;
use domain::AccountId;
use sqlx::{Column, Row, TypeInfo, ValueRef};

use crate::audit::{self, AuditEntry};
use crate::blacklist::{end_blocked, text_columns};
use crate::{BlockReason, Result, Store, StoreError};

/// A consent given or refused, with its age declaration where the purpose needs one (checked by
/// the caller with [`domain::consent::check_age`]).
#[derive(Debug, Clone)]
pub struct NewConsent<'a> {
    /// `user:ID`, `visitor:RANDOM`, `email:ADDRESS` or `number:E164`.
    pub subject: &'a str,
    pub purpose: ConsentPurpose,
    pub granted: bool,
    pub text_version: &'a str,
    /// `web`, `email`, `sms`, `phone`, `paper`, `import`.
    pub channel: &'a str,
    /// The page, form or import it came from.
    pub source: &'a str,
    pub birth_date: Option<&'a str>,
    pub age_text_version: Option<&'a str>,
    /// Who recorded it: the subject itself (`user:ID`) or staff.
    pub actor: &'a str,
}

/// The kinds of data-subject request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    Access,
    Portability,
    Rectification,
    Erasure,
    Restriction,
    Objection,
    Withdrawal,
}

impl RequestKind {
    pub const ALL: [RequestKind; 7] = [
        RequestKind::Access,
        RequestKind::Portability,
        RequestKind::Rectification,
        RequestKind::Erasure,
        RequestKind::Restriction,
        RequestKind::Objection,
        RequestKind::Withdrawal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Access => "access",
            RequestKind::Portability => "portability",
            RequestKind::Rectification => "rectification",
            RequestKind::Erasure => "erasure",
            RequestKind::Restriction => "restriction",
            RequestKind::Objection => "objection",
            RequestKind::Withdrawal => "withdrawal",
        }
    }

    pub fn parse(s: &str) -> Option<RequestKind> {
        RequestKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A request being filed.
#[derive(Debug, Clone)]
pub struct NewDataRequest {
    pub id: i64,
    pub kind: RequestKind,
    /// The data subject: a web user.
    pub user_id: i64,
    pub details: String,
    pub lang: String,
    /// `user:ID` (the subject) or `user:STAFF_ID`.
    pub filed_by: String,
    /// `Some("session")` when the subject filed it signed in: verified at once.
    pub verified_by: Option<String>,
}

/// A stored request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataRequest {
    pub id: i64,
    pub kind: RequestKind,
    pub user_id: Option<i64>,
    pub details: String,
    pub lang: String,
    pub filed_by: String,
    pub status: String,
    pub verified_by: Option<String>,
    pub received_at: i64,
    pub due_at: i64,
    pub extension_reason: Option<String>,
    pub closed_at: Option<i64>,
    pub answer: Option<String>,
}

impl DataRequest {
    pub fn is_verified(&self) -> bool {
        self.verified_by.is_some()
    }
    pub fn is_overdue(&self, now: i64) -> bool {
        self.closed_at.is_none() && self.due_at < now
    }
}

/// How a code check went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    Verified,
    Wrong,
    /// Expired, used up (five wrong tries) or never sent.
    NotLive,
}

/// A table of a person's data: column names and rows of values as text (`None`: NULL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataTable {
    pub name: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

/// What a customer erasure did and what it kept, and why.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CustomerErasure {
    pub rows_scrubbed: u64,
    pub rows_deleted: u64,
    pub invoices_kept: i64,
    pub debtor_record_kept: bool,
    pub messages_kept: i64,
}

const REQUEST_COLUMNS: &str = "id, kind, user_id, details, lang, filed_by, status, verified_by, \
    received_at, due_at, extension_reason, closed_at, answer";

fn request_from_row(r: &sqlx::any::AnyRow) -> Result<DataRequest> {
    let kind: String = r.try_get("kind")?;
    Ok(DataRequest {
        id: r.try_get("id")?,
        kind: RequestKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("request kind {kind:?}")))?,
        user_id: r.try_get("user_id")?,
        details: r.try_get("details")?,
        lang: r.try_get("lang")?,
        filed_by: r.try_get("filed_by")?,
        status: r.try_get("status")?,
        verified_by: r.try_get("verified_by")?,
        received_at: r.try_get("received_at")?,
        due_at: r.try_get("due_at")?,
        extension_reason: r.try_get("extension_reason")?,
        closed_at: r.try_get("closed_at")?,
        answer: r.try_get("answer")?,
    })
}

/// Tables that an erasure leaves whole: legal duties (invoices and the payments behind them,
/// the ledger) and the audit log, which names people only by id.
const KEEP_TABLES: &[&str] = &[
    "invoices",
    "ledger_entries",
    "audit_log",
    "audit_chain",
    "bank_transactions",
    "bank_imports",
    "payment_pairing_log",
];

/// The marker that replaces erased personal data.
pub const ERASED: &str = "[erased]";

impl Store {
    /// Records a consent given or refused: the subject's live records of the purpose are
    /// withdrawn and the new one added. A refusal of a marketing purpose by a number is also an
    /// objection: no commercial message goes to it from then on (queued ones end at once).
    pub async fn record_consent(&self, c: &NewConsent<'_>, now: i64) -> Result<i64> {
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        sqlx::query(
            "UPDATE consents SET withdrawn_at = $1 WHERE subject = $2 AND purpose = $3 AND withdrawn_at IS NULL",
        )
        .bind(now)
        .bind(c.subject)
        .bind(c.purpose.as_str())
        .execute(&mut *tx)
        .await?;
        let id: i64 = sqlx::query(
            "INSERT INTO consents (subject, purpose, granted, text_version, channel, source, at, birth_date, age_text_version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(c.subject)
        .bind(c.purpose.as_str())
        .bind(i64::from(c.granted))
        .bind(c.text_version)
        .bind(c.channel)
        .bind(c.source)
        .bind(now)
        .bind(c.birth_date)
        .bind(c.age_text_version)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        if let (Some(number), false, ConsentPurpose::MarketingSms) =
            (c.subject.strip_prefix("number:"), c.granted, c.purpose)
        {
            self.object_in(&mut tx, number, None, c.source, now).await?;
        }
        audit::record(
            &mut tx,
            &AuditEntry::new(
                c.actor,
                if c.granted {
                    "consent.grant"
                } else {
                    "consent.refuse"
                },
                self.audit_subject(c.subject),
                c.purpose.as_str(),
            )
            .details(format!(
                "consent={id} text={} channel={} source={}",
                c.text_version, c.channel, c.source
            )),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// How the audit log names a consent subject: numbers and e-mails by keyed hash.
    pub(crate) fn audit_subject(&self, subject: &str) -> String {
        match subject.split_once(':') {
            Some(("number", n)) => format!("number:{}", self.number_hash(n)),
            Some(("email", e)) => format!("email:{}", self.number_hash(e)),
            _ => subject.to_owned(),
        }
    }

    /// A recipient's objection to commercial messages from one sender (`account`) or from every
    /// sender: recorded, and queued commercial messages to the number end `blocked` at once.
    pub async fn object_to_marketing(
        &self,
        number: &str,
        account: Option<AccountId>,
        source: &str,
        actor: &str,
        now: i64,
    ) -> Result<u64> {
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let ended = self
            .object_in(&mut tx, number, account, source, now)
            .await?;
        audit::record(
            &mut tx,
            &AuditEntry::new(
                actor,
                "marketing.objection",
                format!("number:{}", self.number_hash(number)),
                source,
            )
            .details(format!(
                "scope={} ended_queued={ended}",
                account.map_or("all".to_owned(), |a| format!("account:{a}"))
            )),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(ended)
    }

    async fn object_in(
        &self,
        tx: &mut sqlx::AnyConnection,
        number: &str,
        account: Option<AccountId>,
        source: &str,
        now: i64,
    ) -> Result<u64> {
        let scope = account.map_or(0, AccountId::get);
        sqlx::query(
            "INSERT INTO marketing_objections (number, account_id, source, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (number, account_id) DO NOTHING",
        )
        .bind(number)
        .bind(scope)
        .bind(source)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let rows = sqlx::query(
            "SELECT id, account_id, price_cents FROM messages WHERE to_number = $1 AND marketing = 1 \
             AND status IN ('queued', 'scheduled') AND ($2 = 0 OR account_id = $2)",
        )
        .bind(number)
        .bind(scope)
        .fetch_all(&mut *tx)
        .await?;
        let ended = rows
            .iter()
            .map(|r| {
                Ok((
                    r.try_get::<i64, _>("id")?,
                    AccountId::new(r.try_get("account_id")?),
                    r.try_get::<i64, _>("price_cents")?,
                    BlockReason::NoMarketingBasis,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        end_blocked(self.backend, tx, &ended, now).await?;
        Ok(ended.len() as u64)
    }

    /// Files a request. Its deadline is one month from now; filed signed in, it is verified.
    pub async fn file_data_request(&self, r: &NewDataRequest, now: i64) -> Result<()> {
        let due = Period::Months(1).due(now).unwrap_or(now);
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        sqlx::query(
            "INSERT INTO data_requests (id, kind, user_id, details, lang, filed_by, status, verified_by, received_at, due_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(r.id)
        .bind(r.kind.as_str())
        .bind(r.user_id)
        .bind(r.details.as_str())
        .bind(r.lang.as_str())
        .bind(r.filed_by.as_str())
        .bind(if r.verified_by.is_some() { "open" } else { "unverified" })
        .bind(r.verified_by.as_deref())
        .bind(now)
        .bind(due)
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            &AuditEntry::new(
                r.filed_by.as_str(),
                "dsr.file",
                format!("user:{}", r.user_id),
                r.kind.as_str(),
            )
            .details(format!(
                "dsr={} verified_by={}",
                r.id,
                r.verified_by.as_deref().unwrap_or("-")
            )),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores the hash of a one-time code sent to `channel` (`code_email`, `code_phone`).
    pub async fn set_request_code(
        &self,
        id: i64,
        code_hash: &str,
        channel: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool> {
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let n = sqlx::query(
            "UPDATE data_requests SET code_hash = $1, code_expires_at = $2, code_attempts = 0, verified_by = NULL \
             WHERE id = $3 AND status = 'unverified'",
        )
        .bind(format!("{channel}:{code_hash}"))
        .bind(expires_at)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n > 0 {
            audit::record(
                &mut tx,
                &AuditEntry::new("system", "dsr.code_sent", format!("dsr:{id}"), channel),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Records the SMS that carried a request's code (its text is redacted once the code is
    /// spent), redacting the one of an earlier code.
    pub async fn set_request_code_message(&self, id: i64, message_id: i64) -> Result<()> {
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        redact_code_message(&mut tx, id).await?;
        sqlx::query("UPDATE data_requests SET code_message_id = $1 WHERE id = $2")
            .bind(message_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Redacts the texts of code SMS whose code is spent (verified, expired, used up or
    /// replaced) once the message is final; returns how many. The retention job runs it.
    pub async fn redact_spent_codes(&self, now: i64) -> Result<u64> {
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let n = sqlx::query(
            "UPDATE messages SET body = $1 WHERE body <> $1 AND status NOT IN ('queued', 'scheduled', 'sending') \
             AND id IN (SELECT code_message_id FROM data_requests WHERE code_message_id IS NOT NULL \
             AND (status <> 'unverified' OR code_expires_at < $2 OR code_attempts >= 5))",
        )
        .bind(CODE_REDACTED)
        .bind(now)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        Ok(n)
    }

    /// Checks a one-time code: five tries, until it expires.
    pub async fn verify_request_code(
        &self,
        id: i64,
        code_hash: &str,
        now: i64,
    ) -> Result<CodeCheck> {
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let row = sqlx::query(
            "SELECT code_hash, code_expires_at, code_attempts FROM data_requests WHERE id = $1 AND status = 'unverified'",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(CodeCheck::NotLive);
        };
        let stored: Option<String> = row.try_get("code_hash")?;
        let expires: Option<i64> = row.try_get("code_expires_at")?;
        let attempts: i64 = row.try_get("code_attempts")?;
        let (Some(stored), Some(expires)) = (stored, expires) else {
            return Ok(CodeCheck::NotLive);
        };
        if expires < now || attempts >= 5 {
            return Ok(CodeCheck::NotLive);
        }
        let (channel, hash) = stored.split_once(':').unwrap_or(("code", stored.as_str()));
        let outcome = if constant_time_eq(hash.as_bytes(), code_hash.as_bytes()) {
            sqlx::query(
                "UPDATE data_requests SET status = 'open', verified_by = $1, code_hash = NULL WHERE id = $2",
            )
            .bind(channel)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            redact_code_message(&mut tx, id).await?;
            audit::record(
                &mut tx,
                &AuditEntry::new("system", "dsr.verified", format!("dsr:{id}"), channel),
                now,
            )
            .await?;
            CodeCheck::Verified
        } else {
            sqlx::query("UPDATE data_requests SET code_attempts = code_attempts + 1 WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            CodeCheck::Wrong
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// Extends the deadline by two months; only within the first month and only once, with
    /// the reasons that the subject is told.
    pub async fn extend_data_request(
        &self,
        id: i64,
        reason: &str,
        actor: &str,
        now: i64,
    ) -> Result<bool> {
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let Some(r) = request_in(&mut tx, id).await? else {
            return Ok(false);
        };
        if r.closed_at.is_some()
            || r.extension_reason.is_some()
            || now > r.due_at
            || reason.trim().is_empty()
        {
            return Ok(false);
        }
        let due = Period::Months(3).due(r.received_at).unwrap_or(r.due_at);
        sqlx::query("UPDATE data_requests SET due_at = $1, extension_reason = $2 WHERE id = $3")
            .bind(due)
            .bind(reason)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        audit::record(
            &mut tx,
            &AuditEntry::new(actor, "dsr.extend", format!("dsr:{id}"), reason),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Marks a verified request done (or refused) with the answer given.
    pub async fn close_data_request(
        &self,
        id: i64,
        refused: bool,
        answer: &str,
        actor: &str,
        now: i64,
    ) -> Result<bool> {
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let n = sqlx::query(
            "UPDATE data_requests SET status = $1, answer = $2, closed_at = $3 WHERE id = $4 AND closed_at IS NULL \
             AND (status = 'open' OR $5 = 1)",
        )
        .bind(if refused { "refused" } else { "done" })
        .bind(answer)
        .bind(now)
        .bind(id)
        .bind(i64::from(refused))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n > 0 {
            audit::record(
                &mut tx,
                &AuditEntry::new(
                    actor,
                    if refused { "dsr.refuse" } else { "dsr.done" },
                    format!("dsr:{id}"),
                    answer,
                ),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    pub async fn data_request(&self, id: i64) -> Result<Option<DataRequest>> {
        let mut conn = self.read.acquire().await?;
        request_in(&mut conn, id).await
    }

    /// Requests, soonest deadline first: every one, or of one subject.
    pub async fn data_requests(
        &self,
        user: Option<i64>,
        open_only: bool,
    ) -> Result<Vec<DataRequest>> {
        let sql = format!(
            "SELECT {REQUEST_COLUMNS} FROM data_requests WHERE ($1 = 0 OR user_id = $1) \
             AND ($2 = 0 OR closed_at IS NULL) ORDER BY closed_at IS NOT NULL, due_at, id LIMIT 1000"
        );
        let rows = sqlx::query(&sql)
            .bind(user.unwrap_or(0))
            .bind(i64::from(open_only))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(request_from_row).collect()
    }

    /// Records a read of a person's data by someone (a staff view, an export); an entry of its own.
    pub async fn audit_read(
        &self,
        actor: &str,
        action: &str,
        subject: &str,
        why: &str,
        now: i64,
    ) -> Result<()> {
        self.audit(
            &AuditEntry::new(actor, action, self.audit_subject(subject), why),
            now,
        )
        .await?;
        Ok(())
    }

    /// Everything stored about a web user and their account, table by table, for an access or
    /// portability answer. Secrets (password and TOTP hashes, key hashes) are left out.
    pub async fn subject_data(&self, user_id: i64) -> Result<Vec<DataTable>> {
        let mut conn = self.read.acquire().await?;
        let account: Option<i64> = sqlx::query("SELECT account_id FROM web_users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&mut *conn)
            .await?
            .map(|r| r.try_get("account_id"))
            .transpose()?;
        let Some(account) = account else {
            return Ok(Vec::new());
        };
        let subject = format!("user:{user_id}");
        let queries: &[(&str, &str, bool)] = &[
            ("user", "SELECT id, email, kind, full_name, company, ico, dic, address, phone, birth_date, \
              age_text_version, terms_version, lang, role, email_verified_at, created_at FROM web_users WHERE id = $1", false),
            ("account", "SELECT id, email, name, balance_cents, reserved_cents, identification, optout_line, created_at \
              FROM accounts WHERE id = $1", true),
            ("billing_details", "SELECT variable_symbol, customer_name, customer_address, customer_ico, customer_dic, created_at \
              FROM billing_accounts WHERE account_id = $1", true),
            ("consents", "SELECT id, purpose, granted, text_version, channel, source, at, withdrawn_at, birth_date, \
              age_text_version FROM consents WHERE subject = $1 ORDER BY id", false),
            ("api_keys", "SELECT id, prefix, created_at, revoked_at FROM api_keys WHERE account_id = $1 ORDER BY id", true),
            ("messages", "SELECT id, to_number, sender, body, parts, price_cents, status, status_reason, client_ref, \
              scheduled_at, created_at, updated_at FROM messages WHERE account_id = $1 ORDER BY id", true),
            ("inbound_messages", "SELECT id, from_number, to_number, body, received_at FROM inbound_messages \
              WHERE account_id = $1 ORDER BY id", true),
            ("ledger", "SELECT id, kind, available_delta, reserved_delta, reference, created_at FROM ledger_entries \
              WHERE account_id = $1 ORDER BY id", true),
            ("invoices", "SELECT number, kind, issue_date, customer_name, customer_address, customer_ico, customer_dic, \
              description, base_cents, vat_cents, total_cents, currency, variable_symbol FROM invoices \
              WHERE account_id = $1 ORDER BY id", true),
            ("blacklist", "SELECT number, kind, source, created_at FROM blacklist WHERE account_id = $1 ORDER BY id", true),
            ("tickets", "SELECT id, kind, subject, message_id, status, created_at, resolved_at FROM tickets \
              WHERE account_id = $1 ORDER BY id", true),
            ("ticket_messages", "SELECT m.ticket_id, m.author, m.body, m.at FROM ticket_messages m \
              JOIN tickets t ON t.id = m.ticket_id WHERE t.account_id = $1 ORDER BY m.id", true),
            ("data_requests", "SELECT id, kind, details, status, verified_by, received_at, due_at, extension_reason, \
              closed_at, answer FROM data_requests WHERE user_id = $1 ORDER BY id", false),
        ];
        let mut out = Vec::with_capacity(queries.len());
        for (name, sql, by_account) in queries {
            let q = sqlx::query(sql);
            let q = match (*name, *by_account) {
                ("consents", _) => q.bind(subject.clone()),
                (_, true) => q.bind(account),
                (_, false) => q.bind(user_id),
            };
            let rows = q.fetch_all(&mut *conn).await?;
            out.push(table_from_rows(name, &rows)?);
        }
        Ok(out)
    }

    /// The traffic data of a number over a period, for an authority's lawful request: sent and
    /// received messages. The export is audited with the request's reference.
    pub async fn lawful_export(
        &self,
        number: &str,
        from: i64,
        to: i64,
        reference: &str,
        actor: &str,
        now: i64,
    ) -> Result<Vec<DataTable>> {
        let mut out = Vec::new();
        {
            let mut conn = self.read.acquire().await?;
            let sent = sqlx::query(
                "SELECT id, account_id, to_number, sender, parts, status, status_reason, connector, smsc_id,                  created_at, updated_at FROM messages WHERE to_number = $1 AND created_at >= $2 AND created_at < $3 ORDER BY id",
            )
            .bind(number)
            .bind(from)
            .bind(to)
            .fetch_all(&mut *conn)
            .await?;
            out.push(table_from_rows("messages_to", &sent)?);
            let received = sqlx::query(
                "SELECT id, account_id, from_number, to_number, connector, smsc_id, received_at FROM inbound_messages                  WHERE from_number = $1 AND received_at >= $2 AND received_at < $3 ORDER BY id",
            )
            .bind(number)
            .bind(from)
            .bind(to)
            .fetch_all(&mut *conn)
            .await?;
            out.push(table_from_rows("messages_from", &received)?);
        }
        let rows: usize = out.iter().map(|t| t.rows.len()).sum();
        self.audit(
            &AuditEntry::new(
                actor,
                "lawful_request.export",
                format!("number:{}", self.number_hash(number)),
                reference,
            )
            .details(format!("from={from} to={to} rows={rows}")),
            now,
        )
        .await?;
        Ok(out)
    }

    /// Erases a customer (Art. 17): their personal data are deleted or replaced by [`ERASED`]
    /// everywhere but where a legal duty keeps them: invoices and the payments behind them
    /// (10 years), the ledger, and the account's identification while a debt is open. Traffic
    /// data of the account's messages stay for their legal period, without texts. Sign-in ends.
    /// `None` when there is no such user.
    pub async fn erase_customer(
        &self,
        user_id: i64,
        actor: &str,
        reason: &str,
        now: i64,
    ) -> Result<Option<CustomerErasure>> {
        let mut report = CustomerErasure::default();
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let user = sqlx::query(
            "SELECT account_id, email, full_name, company, ico, dic, address, phone FROM web_users WHERE id = $1",
        )
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(user) = user else {
            return Ok(None);
        };
        let account: i64 = user.try_get("account_id")?;
        let acc = sqlx::query("SELECT email, name FROM accounts WHERE id = $1")
            .bind(account)
            .fetch_one(&mut *tx)
            .await?;
        report.debtor_record_kept = sqlx::query(
            "SELECT COUNT(*) AS n FROM bank_transactions WHERE account_id = $1 AND shortfall_cents > 0",
        )
        .bind(account)
        .fetch_one(&mut *tx)
        .await?
        .try_get::<i64, _>("n")?
            > 0;
        report.invoices_kept =
            sqlx::query("SELECT COUNT(*) AS n FROM invoices WHERE account_id = $1")
                .bind(account)
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
        let email: String = user.try_get("email")?;
        let mut values: Vec<String> = vec![email.clone()];
        for col in ["full_name", "company", "address", "phone", "ico", "dic"] {
            if let Some(v) = user.try_get::<Option<String>, _>(col)? {
                values.push(v);
            }
        }
        let account_email: String = acc.try_get("email")?;
        let account_name: String = acc.try_get("name")?;
        if !report.debtor_record_kept {
            values.push(account_email.clone());
            values.push(account_name.clone());
        }
        if let Some(phone) = user.try_get::<Option<String>, _>("phone")? {
            values.push(phone.replace(' ', ""));
        }
        values.retain(|v| v.trim().chars().count() >= 4);
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();

        for sql in [
            "DELETE FROM web_sessions WHERE user_id = $1",
            "DELETE FROM web_tokens WHERE user_id = $1",
        ] {
            report.rows_deleted += sqlx::query(sql)
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        report.rows_deleted += sqlx::query("DELETE FROM consents WHERE subject = $1")
            .bind(format!("user:{user_id}"))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        for sql in [
            "DELETE FROM web_login_attempts WHERE email = $1",
            "DELETE FROM email_outbox WHERE to_address = $1",
        ] {
            report.rows_deleted += sqlx::query(sql)
                .bind(email.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        sqlx::query(
            "UPDATE web_users SET email = $1, full_name = $2, company = NULL, ico = NULL, dic = NULL, \
             address = $2, phone = NULL, birth_date = '', password_hash = $2, totp_secret = NULL, \
             totp_enabled_at = NULL, locked_until = $3 WHERE id = $4",
        )
        .bind(format!("erased-{user_id}@invalid"))
        .bind(ERASED)
        .bind(i64::MAX)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(account)
        .execute(&mut *tx)
        .await?;
        if !report.debtor_record_kept {
            sqlx::query(
                "UPDATE accounts SET email = $1, name = $2, identification = NULL, optout_line = NULL WHERE id = $3",
            )
            .bind(format!("erased-account-{account}@invalid"))
            .bind(ERASED)
            .bind(account)
            .execute(&mut *tx)
            .await?;
        }
        // Texts are content, not traffic data: they go; numbers, times and prices stay for
        // their legal period (the retention job deletes them after it).
        report.messages_kept = sqlx::query(
            "UPDATE messages SET body = $1, client_ref = NULL WHERE account_id = $2 AND status NOT IN ('queued', 'scheduled', 'sending')",
        )
        .bind(ERASED)
        .bind(account)
        .execute(&mut *tx)
        .await?
        .rows_affected() as i64;
        sqlx::query("UPDATE inbound_messages SET body = $1 WHERE account_id = $2")
            .bind(ERASED)
            .bind(account)
            .execute(&mut *tx)
            .await?;
        report.rows_scrubbed =
            scrub_values(self.backend, &mut tx, &values, report.debtor_record_kept).await?;
        audit::record(
            &mut tx,
            &AuditEntry::new(actor, "dsr.erase_customer", format!("user:{user_id}"), reason).details(format!(
                "account={account} scrubbed={} deleted={} invoices_kept={} debtor_kept={} messages_kept={}",
                report.rows_scrubbed, report.rows_deleted, report.invoices_kept, report.debtor_record_kept, report.messages_kept
            )),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Some(report))
    }
}

/// What replaces the text of an SMS that carried a spent one-time code.
pub const CODE_REDACTED: &str = "[one-time code]";

/// Redacts the text of the SMS that carried the request's code, if it is final.
async fn redact_code_message(conn: &mut sqlx::AnyConnection, id: i64) -> Result<()> {
    sqlx::query(
        "UPDATE messages SET body = $1 WHERE status NOT IN ('queued', 'scheduled', 'sending') \
         AND id = (SELECT code_message_id FROM data_requests WHERE id = $2)",
    )
    .bind(CODE_REDACTED)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn request_in(conn: &mut sqlx::AnyConnection, id: i64) -> Result<Option<DataRequest>> {
    let sql = format!("SELECT {REQUEST_COLUMNS} FROM data_requests WHERE id = $1");
    let row = sqlx::query(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(request_from_row).transpose()
}

fn table_from_rows(name: &str, rows: &[sqlx::any::AnyRow]) -> Result<DataTable> {
    let columns: Vec<String> = match rows.first() {
        Some(r) => r.columns().iter().map(|c| c.name().to_owned()).collect(),
        None => Vec::new(),
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let mut values = Vec::with_capacity(columns.len());
        for i in 0..columns.len() {
            let raw = r.try_get_raw(i)?;
            if raw.is_null() {
                values.push(None);
                continue;
            }
            let ty = raw.type_info().name().to_ascii_uppercase();
            let v = if ty.contains("INT") {
                r.try_get::<i64, _>(i)?.to_string()
            } else if ty.contains("REAL") || ty.contains("FLOAT") || ty.contains("DOUBLE") {
                r.try_get::<f64, _>(i)?.to_string()
            } else {
                r.try_get::<String, _>(i)?
            };
            values.push(Some(v));
        }
        out.push(values);
    }
    Ok(DataTable {
        name: name.to_owned(),
        columns,
        rows: out,
    })
}

/// Replaces each of `values` by [`ERASED`] in every text column of every table but those a
/// legal duty keeps (and, while a debt is open, the account's row). Values are bound, never
/// written into the statement. Returns the rows changed.
async fn scrub_values(
    backend: crate::Backend,
    conn: &mut sqlx::AnyConnection,
    values: &[String],
    keep_account: bool,
) -> Result<u64> {
    if values.is_empty() {
        return Ok(0);
    }
    let mut rows = 0;
    for col in text_columns(backend, conn).await? {
        let (table, column) = (col.table_name(), col.column_name());
        if KEEP_TABLES.contains(&table)
            || crate::blacklist::is_hash_column(table, column)
            || (keep_account && table == "accounts")
        {
            continue;
        }
        for v in values {
            let sql = format!(
                "UPDATE \"{table}\" SET \"{column}\" = {} WHERE {} LIKE $3",
                col.stored_from_text(&format!("REPLACE({}, $1, $2)", col.as_text())),
                col.as_text()
            );
            rows += sqlx::query(&sql)
                .bind(v.as_str())
                .bind(ERASED)
                .bind(format!("%{}%", v.replace(['%', '_'], "")))
                .execute(&mut *conn)
                .await?
                .rows_affected();
        }
    }
    Ok(rows)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
