//! What the web needs stored: users and their sessions, login attempts, one-time tokens,
//! consent records, the e-mail outbox, the staff audit log, and the read models of the
//! customer app (API keys, dashboard figures) and the back office (customers, message search).
//!
//! Secrets arrive here already hashed (argon2 for passwords, SHA-256 for session ids and
//! tokens); nothing in this module sees them in clear.

use domain::{AccountId, Money};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::audit::AuditEntry;
use crate::{MessageRecord, Result, Store, StoreError};

/// A person who signs in to the web, linked to one customer account.
#[derive(Debug, Clone)]
pub struct WebUser {
    pub id: i64,
    pub account: AccountId,
    pub email: String,
    pub password_hash: String,
    pub kind: String,
    pub full_name: String,
    pub company: Option<String>,
    pub ico: Option<String>,
    pub dic: Option<String>,
    pub address: String,
    pub phone: Option<String>,
    pub birth_date: String,
    pub lang: String,
    pub role: String,
    pub email_verified_at: Option<i64>,
    pub totp_secret: Option<String>,
    pub totp_enabled_at: Option<i64>,
    pub locked_until: Option<i64>,
    pub created_at: i64,
}

/// A new registration: the account and its first user are created together.
#[derive(Debug, Clone)]
pub struct NewWebUser {
    pub id: i64,
    pub account: AccountId,
    /// Name of the account: the company, or the person's name.
    pub account_name: String,
    pub email: String,
    pub password_hash: String,
    pub kind: String,
    pub full_name: String,
    pub company: Option<String>,
    pub ico: Option<String>,
    pub dic: Option<String>,
    pub address: String,
    pub phone: Option<String>,
    pub birth_date: String,
    pub age_text_version: String,
    pub terms_version: String,
    pub lang: String,
    /// Credit given at sign-up (zero unless the operator configures a welcome credit).
    pub credit: Money,
}

/// A session with its user.
#[derive(Debug, Clone)]
pub struct WebSession {
    pub stage: String,
    pub expires_at: i64,
    pub user: WebUser,
}

/// One consent record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    pub id: i64,
    pub subject: String,
    pub purpose: String,
    pub granted: bool,
    pub text_version: String,
    pub channel: String,
    pub source: String,
    pub at: i64,
    pub withdrawn_at: Option<i64>,
}

/// An API key as the customer sees it: never the key, only its prefix.
#[derive(Debug, Clone)]
pub struct ApiKeyRecord {
    pub id: i64,
    pub prefix: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// The dashboard's figures for one account.
#[derive(Debug, Clone, Default)]
pub struct DashboardStats {
    pub messages_today: i64,
    /// Messages in a final state over the window, and how many of them were delivered.
    pub final_30d: i64,
    pub delivered_30d: i64,
    /// (day number since the epoch in local time, messages created that day), ascending.
    pub per_day: Vec<(i64, i64)>,
}

/// A customer as the back office lists it.
#[derive(Debug, Clone)]
pub struct CustomerRow {
    pub account: AccountId,
    pub name: String,
    pub email: String,
    pub balance: Money,
    pub reserved: Money,
    pub created_at: i64,
    pub users: i64,
    /// When the customer's contract ended (the account is closed); `None` while it runs.
    pub contract_ended_at: Option<i64>,
}

/// A row of the staff audit log.
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub id: i64,
    pub staff_user: i64,
    pub action: String,
    pub subject: String,
    pub at: i64,
}

const USER_COLUMNS: &str =
    "u.id, u.account_id, u.email, u.password_hash, u.kind, u.full_name, u.company, \
     u.ico, u.dic, u.address, u.phone, u.birth_date, u.lang, u.role, u.email_verified_at, \
     u.totp_secret, u.totp_enabled_at, u.locked_until, u.created_at";

fn user_from_row(r: &AnyRow) -> Result<WebUser> {
    Ok(WebUser {
        id: r.try_get("id")?,
        account: AccountId::new(r.try_get("account_id")?),
        email: r.try_get("email")?,
        password_hash: r.try_get("password_hash")?,
        kind: r.try_get("kind")?,
        full_name: r.try_get("full_name")?,
        company: r.try_get("company")?,
        ico: r.try_get("ico")?,
        dic: r.try_get("dic")?,
        address: r.try_get("address")?,
        phone: r.try_get("phone")?,
        birth_date: r.try_get("birth_date")?,
        lang: r.try_get("lang")?,
        role: r.try_get("role")?,
        email_verified_at: r.try_get("email_verified_at")?,
        totp_secret: r.try_get("totp_secret")?,
        totp_enabled_at: r.try_get("totp_enabled_at")?,
        locked_until: r.try_get("locked_until")?,
        created_at: r.try_get("created_at")?,
    })
}

fn consent_from_row(r: &AnyRow) -> Result<ConsentRecord> {
    Ok(ConsentRecord {
        id: r.try_get("id")?,
        subject: r.try_get("subject")?,
        purpose: r.try_get("purpose")?,
        granted: r.try_get::<i64, _>("granted")? != 0,
        text_version: r.try_get("text_version")?,
        channel: r.try_get("channel")?,
        source: r.try_get("source")?,
        at: r.try_get("at")?,
        withdrawn_at: r.try_get("withdrawn_at")?,
    })
}

impl Store {
    /// Creates the account and its first user in one transaction.
    pub async fn create_web_user(&self, u: &NewWebUser, now: i64) -> Result<()> {
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let taken = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM accounts WHERE email = $1) + \
                    (SELECT COUNT(*) FROM web_users WHERE email = $1) AS n",
        )
        .bind(u.email.as_str())
        .fetch_one(&mut *tx)
        .await?
        .try_get::<i64, _>("n")?;
        if taken > 0 {
            return Err(StoreError::Conflict("an account with this e-mail"));
        }
        sqlx::query("INSERT INTO accounts (id, email, name, created_at) VALUES ($1, $2, $3, $4)")
            .bind(u.account.get())
            .bind(u.email.as_str())
            .bind(u.account_name.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if u.credit.hundredths() > 0 {
            crate::accounts::ledger_entry(
                &mut tx,
                u.account,
                "topup",
                u.credit.hundredths(),
                0,
                "welcome credit",
                now,
            )
            .await?;
        }
        sqlx::query(
            "INSERT INTO web_users (id, account_id, email, password_hash, kind, full_name, company, ico, dic, \
             address, phone, birth_date, age_text_version, terms_version, lang, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(u.id)
        .bind(u.account.get())
        .bind(u.email.as_str())
        .bind(u.password_hash.as_str())
        .bind(u.kind.as_str())
        .bind(u.full_name.as_str())
        .bind(u.company.clone())
        .bind(u.ico.clone())
        .bind(u.dic.clone())
        .bind(u.address.as_str())
        .bind(u.phone.clone())
        .bind(u.birth_date.as_str())
        .bind(u.age_text_version.as_str())
        .bind(u.terms_version.as_str())
        .bind(u.lang.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        crate::audit::record(
            &mut tx,
            &AuditEntry::new(
                format!("user:{}", u.id),
                "account.create",
                format!("user:{}", u.id),
                "registration",
            )
            .details(format!(
                "account={} terms={} age_text={}",
                u.account, u.terms_version, u.age_text_version
            )),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn web_user_by_email(&self, email: &str) -> Result<Option<WebUser>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM web_users u WHERE u.email = $1");
        let row = sqlx::query(&sql)
            .bind(email)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    pub async fn web_user(&self, id: i64) -> Result<Option<WebUser>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM web_users u WHERE u.id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn exec_write(&self, sql: &str, binds: Vec<Bind>) -> Result<u64> {
        let mut q = sqlx::query(sql);
        for b in binds {
            q = match b {
                Bind::I(v) => q.bind(v),
                Bind::OI(v) => q.bind(v),
                Bind::S(v) => q.bind(v),
                Bind::OS(v) => q.bind(v),
            };
        }
        let done = q
            .execute(&mut *self.write_conn(crate::Durability::Full).await?)
            .await?;
        Ok(done.rows_affected())
    }

    /// Runs one change and its audit entry in one transaction; returns the rows changed (no
    /// entry when nothing changed).
    async fn exec_audited(
        &self,
        sql: &str,
        binds: Vec<Bind>,
        entry: AuditEntry,
        now: i64,
    ) -> Result<u64> {
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let mut q = sqlx::query(sql);
        for b in binds {
            q = match b {
                Bind::I(v) => q.bind(v),
                Bind::OI(v) => q.bind(v),
                Bind::S(v) => q.bind(v),
                Bind::OS(v) => q.bind(v),
            };
        }
        let n = q.execute(&mut *tx).await?.rows_affected();
        if n > 0 {
            crate::audit::record(&mut tx, &entry, now).await?;
        }
        tx.commit().await?;
        Ok(n)
    }

    pub async fn set_web_user_verified(&self, user: i64, now: i64) -> Result<()> {
        self.exec_audited(
            "UPDATE web_users SET email_verified_at = $1 WHERE id = $2 AND email_verified_at IS NULL",
            vec![Bind::I(now), Bind::I(user)],
            AuditEntry::new(format!("user:{user}"), "account.verify_email", format!("user:{user}"), "e-mail link"),
            now,
        )
        .await?;
        Ok(())
    }

    pub async fn set_web_user_password(&self, user: i64, password_hash: &str) -> Result<()> {
        self.exec_audited(
            "UPDATE web_users SET password_hash = $1, locked_until = NULL WHERE id = $2",
            vec![Bind::S(password_hash.to_owned()), Bind::I(user)],
            AuditEntry::new(
                format!("user:{user}"),
                "account.password",
                format!("user:{user}"),
                "password set",
            ),
            crate::now_us(),
        )
        .await?;
        Ok(())
    }

    /// Stores a TOTP secret; `enabled_at` is `None` until the user confirms a code.
    pub async fn set_web_user_totp(
        &self,
        user: i64,
        secret: Option<&str>,
        enabled_at: Option<i64>,
    ) -> Result<()> {
        self.exec_audited(
            "UPDATE web_users SET totp_secret = $1, totp_enabled_at = $2 WHERE id = $3",
            vec![
                Bind::OS(secret.map(str::to_owned)),
                Bind::OI(enabled_at),
                Bind::I(user),
            ],
            AuditEntry::new(
                format!("user:{user}"),
                if enabled_at.is_some() {
                    "account.totp_on"
                } else {
                    "account.totp_setup"
                },
                format!("user:{user}"),
                "two-factor sign-in",
            ),
            crate::now_us(),
        )
        .await?;
        Ok(())
    }

    /// Sets a user's role; false when no user has this e-mail.
    pub async fn set_web_user_role(&self, email: &str, role: &str) -> Result<bool> {
        let n = self
            .exec_audited(
                "UPDATE web_users SET role = $1 WHERE email = $2",
                vec![Bind::S(role.to_owned()), Bind::S(email.to_owned())],
                AuditEntry::new(
                    "cli",
                    "account.role",
                    format!("email:{}", self.number_hash(email)),
                    format!("role={role}"),
                ),
                crate::now_us(),
            )
            .await?;
        Ok(n > 0)
    }

    pub async fn lock_web_user(&self, user: i64, until: i64) -> Result<()> {
        self.exec_audited(
            "UPDATE web_users SET locked_until = $1 WHERE id = $2",
            vec![Bind::I(until), Bind::I(user)],
            AuditEntry::new(
                "system",
                "account.lock",
                format!("user:{user}"),
                "failed sign-ins",
            ),
            crate::now_us(),
        )
        .await?;
        Ok(())
    }

    /// Stores a one-time token by its hash.
    pub async fn create_web_token(
        &self,
        token_hash: &str,
        user: i64,
        purpose: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<()> {
        self.exec_write(
            "INSERT INTO web_tokens (token_hash, user_id, purpose, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)",
            vec![
                Bind::S(token_hash.to_owned()),
                Bind::I(user),
                Bind::S(purpose.to_owned()),
                Bind::I(expires_at),
                Bind::I(now),
            ],
        )
        .await?;
        Ok(())
    }

    /// Uses a live token once; returns its user.
    pub async fn take_web_token(
        &self,
        token_hash: &str,
        purpose: &str,
        now: i64,
    ) -> Result<Option<i64>> {
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let row = sqlx::query(
            "UPDATE web_tokens SET used_at = $1 WHERE token_hash = $2 AND purpose = $3 \
             AND used_at IS NULL AND expires_at > $4 RETURNING user_id",
        )
        .bind(now)
        .bind(token_hash)
        .bind(purpose)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        row.map(|r| r.try_get::<i64, _>("user_id"))
            .transpose()
            .map_err(Into::into)
    }

    pub async fn create_web_session(
        &self,
        id_hash: &str,
        user: i64,
        stage: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        self.exec_write(
            "INSERT INTO web_sessions (id_hash, user_id, stage, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            vec![
                Bind::S(id_hash.to_owned()),
                Bind::I(user),
                Bind::S(stage.to_owned()),
                Bind::I(now),
                Bind::I(expires_at),
            ],
        )
        .await?;
        Ok(())
    }

    /// A live session and its user.
    pub async fn web_session(&self, id_hash: &str, now: i64) -> Result<Option<WebSession>> {
        let sql = format!(
            "SELECT s.stage, s.expires_at, {USER_COLUMNS} FROM web_sessions s \
             JOIN web_users u ON u.id = s.user_id WHERE s.id_hash = $1 AND s.expires_at > $2"
        );
        let row = sqlx::query(&sql)
            .bind(id_hash)
            .bind(now)
            .fetch_optional(&self.read)
            .await?;
        match row {
            None => Ok(None),
            Some(r) => Ok(Some(WebSession {
                stage: r.try_get("stage")?,
                expires_at: r.try_get("expires_at")?,
                user: user_from_row(&r)?,
            })),
        }
    }

    pub async fn delete_web_session(&self, id_hash: &str) -> Result<()> {
        self.exec_write(
            "DELETE FROM web_sessions WHERE id_hash = $1",
            vec![Bind::S(id_hash.to_owned())],
        )
        .await?;
        Ok(())
    }

    /// Ends every session of a user (after a password change).
    pub async fn delete_web_sessions_of(&self, user: i64) -> Result<()> {
        self.exec_write(
            "DELETE FROM web_sessions WHERE user_id = $1",
            vec![Bind::I(user)],
        )
        .await?;
        Ok(())
    }

    pub async fn record_login_attempt(
        &self,
        email: &str,
        ip: &str,
        success: bool,
        now: i64,
    ) -> Result<()> {
        self.exec_write(
            "INSERT INTO web_login_attempts (email, ip, success, at) VALUES ($1, $2, $3, $4)",
            vec![
                Bind::S(email.to_owned()),
                Bind::S(ip.to_owned()),
                Bind::I(i64::from(success)),
                Bind::I(now),
            ],
        )
        .await?;
        Ok(())
    }

    /// Failed attempts for an e-mail since `since` and after its last success.
    pub async fn failed_logins_since(&self, email: &str, since: i64) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM web_login_attempts WHERE email = $1 AND success = 0 AND at >= $2 \
             AND at > COALESCE((SELECT MAX(at) FROM web_login_attempts WHERE email = $1 AND success = 1), 0)",
        )
        .bind(email)
        .bind(since)
        .fetch_one(&self.read)
        .await?;
        Ok(row.try_get("n")?)
    }

    /// Attempts from one address since `since`.
    pub async fn logins_from_ip_since(&self, ip: &str, since: i64) -> Result<i64> {
        let row =
            sqlx::query("SELECT COUNT(*) AS n FROM web_login_attempts WHERE ip = $1 AND at >= $2")
                .bind(ip)
                .bind(since)
                .fetch_one(&self.read)
                .await?;
        Ok(row.try_get("n")?)
    }

    /// Records a choice: the subject's live records for these purposes are withdrawn and the
    /// new ones added, in one transaction.
    pub async fn record_consents(
        &self,
        subject: &str,
        choices: &[(&str, bool)],
        text_version: &str,
        channel: &str,
        source: &str,
        now: i64,
    ) -> Result<()> {
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        for (purpose, granted) in choices {
            sqlx::query(
                "UPDATE consents SET withdrawn_at = $1 WHERE subject = $2 AND purpose = $3 AND withdrawn_at IS NULL",
            )
            .bind(now)
            .bind(subject)
            .bind(*purpose)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO consents (subject, purpose, granted, text_version, channel, source, at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(subject)
            .bind(*purpose)
            .bind(i64::from(*granted))
            .bind(text_version)
            .bind(channel)
            .bind(source)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let summary: Vec<String> = choices
            .iter()
            .map(|(p, g)| format!("{p}={}", u8::from(*g)))
            .collect();
        crate::audit::record(
            &mut tx,
            &AuditEntry::new(
                self.audit_subject(subject),
                "consent.choice",
                self.audit_subject(subject),
                source,
            )
            .details(format!(
                "{} text={text_version} channel={channel}",
                summary.join(" ")
            )),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every consent record of these subjects, newest first.
    pub async fn consents_of(&self, subjects: &[String]) -> Result<Vec<ConsentRecord>> {
        let mut out = Vec::new();
        for s in subjects {
            let rows = sqlx::query(
                "SELECT id, subject, purpose, granted, text_version, channel, source, at, withdrawn_at \
                 FROM consents WHERE subject = $1 ORDER BY id DESC",
            )
            .bind(s.as_str())
            .fetch_all(&self.read)
            .await?;
            for r in &rows {
                out.push(consent_from_row(r)?);
            }
        }
        out.sort_by_key(|c| std::cmp::Reverse(c.id));
        Ok(out)
    }

    /// Withdraws one live, granted consent of one of these subjects; returns it when done.
    pub async fn withdraw_consent(
        &self,
        id: i64,
        subjects: &[String],
        now: i64,
    ) -> Result<Option<ConsentRecord>> {
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let row = sqlx::query(
            "SELECT id, subject, purpose, granted, text_version, channel, source, at, withdrawn_at \
             FROM consents WHERE id = $1 AND withdrawn_at IS NULL AND granted = 1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let record = consent_from_row(&row)?;
        if !subjects.contains(&record.subject) {
            return Ok(None);
        }
        sqlx::query("UPDATE consents SET withdrawn_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        // The withdrawal is itself the new state of the purpose: refused from now on.
        sqlx::query(
            "INSERT INTO consents (subject, purpose, granted, text_version, channel, source, at) \
             VALUES ($1, $2, 0, $3, $4, 'withdrawal', $5)",
        )
        .bind(record.subject.as_str())
        .bind(record.purpose.as_str())
        .bind(record.text_version.as_str())
        .bind(record.channel.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        crate::audit::record(
            &mut tx,
            &AuditEntry::new(
                self.audit_subject(&record.subject),
                "consent.withdraw",
                self.audit_subject(&record.subject),
                record.purpose.as_str(),
            )
            .details(format!("consent={id}")),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Some(record))
    }

    /// Queues an e-mail; returns its outbox id.
    pub async fn push_email(&self, to: &str, subject: &str, body: &str, now: i64) -> Result<i64> {
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let row = sqlx::query(
            "INSERT INTO email_outbox (to_address, subject, body, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(to)
        .bind(subject)
        .bind(body)
        .bind(now)
        .fetch_one(&mut *conn)
        .await?;
        Ok(row.try_get("id")?)
    }

    pub async fn list_api_keys(&self, account: AccountId) -> Result<Vec<ApiKeyRecord>> {
        let rows = sqlx::query(
            "SELECT id, prefix, created_at, revoked_at FROM api_keys WHERE account_id = $1 ORDER BY id DESC",
        )
        .bind(account.get())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ApiKeyRecord {
                    id: r.try_get("id")?,
                    prefix: r.try_get("prefix")?,
                    created_at: r.try_get("created_at")?,
                    revoked_at: r.try_get("revoked_at")?,
                })
            })
            .collect()
    }

    /// Revokes one live key of the account; false when there is none with this id.
    pub async fn revoke_api_key(&self, account: AccountId, id: i64, now: i64) -> Result<bool> {
        let n = self
            .exec_audited(
                "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND account_id = $3 AND revoked_at IS NULL",
                vec![Bind::I(now), Bind::I(id), Bind::I(account.get())],
                AuditEntry::new(format!("account:{account}"), "account.revoke_key", format!("account:{account}"), "web app")
                    .details(format!("api_key={id}")),
                now,
            )
            .await?;
        Ok(n > 0)
    }

    /// Figures of the dashboard. `offset_us` moves UTC to local time for the day buckets.
    pub async fn dashboard_stats(
        &self,
        account: AccountId,
        today_start: i64,
        window_start: i64,
        offset_us: i64,
    ) -> Result<DashboardStats> {
        let today = sqlx::query(
            "SELECT COUNT(*) AS n FROM messages WHERE account_id = $1 AND created_at >= $2",
        )
        .bind(account.get())
        .bind(today_start)
        .fetch_one(&self.read)
        .await?;
        let rate = sqlx::query(
            "SELECT COALESCE(SUM(CASE WHEN status = 'delivered' THEN 1 ELSE 0 END), 0) AS delivered, \
             COUNT(*) AS n FROM messages WHERE account_id = $1 AND created_at >= $2 \
             AND status IN ('delivered', 'undeliverable', 'expired', 'rejected', 'failed')",
        )
        .bind(account.get())
        .bind(window_start)
        .fetch_one(&self.read)
        .await?;
        let days = sqlx::query(
            "SELECT (created_at + $1) / 86400000000 AS day, COUNT(*) AS n FROM messages \
             WHERE account_id = $2 AND created_at >= $3 GROUP BY (created_at + $1) / 86400000000 ORDER BY day",
        )
        .bind(offset_us)
        .bind(account.get())
        .bind(window_start)
        .fetch_all(&self.read)
        .await?;
        Ok(DashboardStats {
            messages_today: today.try_get("n")?,
            final_30d: rate.try_get("n")?,
            delivered_30d: rate.try_get("delivered")?,
            per_day: days
                .iter()
                .map(|r| Ok((r.try_get("day")?, r.try_get("n")?)))
                .collect::<Result<_>>()?,
        })
    }

    /// Customers for the back office, newest first, optionally filtered by e-mail or name.
    pub async fn list_customers(
        &self,
        query: Option<&str>,
        limit: u32,
    ) -> Result<Vec<CustomerRow>> {
        let pattern = format!("%{}%", query.unwrap_or("").to_lowercase());
        let sql = format!(
            "SELECT a.id, a.name, a.email, a.balance_cents, a.reserved_cents, a.created_at, \
             a.contract_ended_at, \
             (SELECT COUNT(*) FROM web_users u WHERE u.account_id = a.id) AS users \
             FROM accounts a WHERE LOWER(a.email) LIKE $1 OR LOWER(a.name) LIKE $1 \
             ORDER BY a.id DESC LIMIT {}",
            limit.clamp(1, 500)
        );
        let rows = sqlx::query(&sql)
            .bind(pattern)
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(CustomerRow {
                    account: AccountId::new(r.try_get("id")?),
                    name: r.try_get("name")?,
                    email: r.try_get("email")?,
                    balance: Money::from_hundredths(r.try_get("balance_cents")?),
                    reserved: Money::from_hundredths(r.try_get("reserved_cents")?),
                    created_at: r.try_get("created_at")?,
                    users: r.try_get("users")?,
                    contract_ended_at: r.try_get("contract_ended_at")?,
                })
            })
            .collect()
    }

    /// Messages of every account to one number (the back office's search), newest first.
    pub async fn staff_messages_to(&self, to: &str, limit: u32) -> Result<Vec<MessageRecord>> {
        let sql = format!(
            "SELECT {} FROM messages WHERE to_number = $1 ORDER BY id DESC LIMIT {}",
            crate::messages::MESSAGE_COLUMNS,
            limit.clamp(1, 500)
        );
        let rows = sqlx::query(&sql).bind(to).fetch_all(&self.read).await?;
        rows.iter().map(crate::messages::message_from_row).collect()
    }

    /// Records a staff member's view of personal data in the audit log.
    pub async fn audit_staff_view(
        &self,
        staff_user: i64,
        action: &str,
        subject: &str,
        now: i64,
    ) -> Result<()> {
        // Numbers searched for are named by their keyed hash, never in clear.
        let subject = if subject.starts_with('+') {
            format!("number:{}", self.number_hash(subject))
        } else {
            subject.to_owned()
        };
        self.audit(
            &crate::audit::AuditEntry::new(
                format!("user:{staff_user}"),
                format!("staff.{action}"),
                subject,
                "back office view",
            ),
            now,
        )
        .await?;
        Ok(())
    }

    /// The latest staff views of personal data, from the audit log.
    pub async fn staff_audit_log(&self, limit: u32) -> Result<Vec<AuditRow>> {
        let rows = self.audit_entries(None, None, limit.clamp(1, 1000)).await?;
        Ok(rows
            .into_iter()
            .map(|r| AuditRow {
                id: r.id,
                staff_user: r
                    .entry
                    .actor
                    .strip_prefix("user:")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0),
                action: r.entry.action,
                subject: r.entry.subject,
                at: r.at,
            })
            .collect())
    }
}

/// A bound value of [`Store::exec_write`].
enum Bind {
    I(i64),
    OI(Option<i64>),
    S(String),
    OS(Option<String>),
}
