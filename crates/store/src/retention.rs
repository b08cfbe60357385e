//! The retention job (seed clause 4): deletes personal data past its period, in batches, except
//! what a legal hold keeps; and the report of what is kept, until when and why.
//!
//! The periods come from [`domain::retention::POLICIES`]; `now` is a parameter everywhere, so
//! tests (and `apisendsms retention run --now`) drive the clock. Each batch is its own short
//! transaction, so sending is never blocked for longer than one batch.
//!
//! Former customers: from the recorded end of the contract ([`crate::contracts`]), marketing to
//! them ends after a year (their marketing consents are withdrawn) and their customer record is
//! erased after ten (as on an erasure request; invoices and the ledger stay).
//!
//! Legal holds: a row of `legal_holds` (an open complaint ticket puts one there; staff put one
//! for a dispute), and every account with an open debt (a reversed payment its credit did not
//! cover), whose traffic data stay while the claim can be enforced.

use domain::consent::ConsentPurpose;
use domain::retention::{policy, Category, Enforcement, POLICIES};
use sqlx::Row;

use crate::{sql, Result, Store};

/// What one run did, or (dry run) would do, for one category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryRun {
    pub category: Category,
    /// Rows past the period and not held: deleted, or to be deleted in a dry run.
    pub deleted: u64,
    /// Rows past the period kept by a legal hold.
    pub held: u64,
}

/// The result of [`Store::run_retention`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionRun {
    pub id: i64,
    pub clock: i64,
    pub dry_run: bool,
    pub categories: Vec<CategoryRun>,
}

impl RetentionRun {
    pub fn deleted(&self, category: Category) -> u64 {
        self.categories
            .iter()
            .find(|c| c.category == category)
            .map_or(0, |c| c.deleted)
    }
}

/// One line of the retention report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionLine {
    pub category: Category,
    /// Rows stored now (`None` where the category is not one table).
    pub stored: Option<i64>,
    /// The oldest start event among them.
    pub oldest: Option<i64>,
    /// Rows past the period kept by a legal hold.
    pub held: i64,
}

/// An open legal hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalHold {
    pub id: i64,
    /// `message`, `account` or `number`.
    pub scope: String,
    pub target_id: Option<i64>,
    pub number: Option<String>,
    pub reason: String,
    pub ticket_id: Option<i64>,
    pub created_by: String,
    pub created_at: i64,
}

/// The condition that a message row `m` is under a legal hold.
const MESSAGE_HELD: &str = "(EXISTS (SELECT 1 FROM legal_holds h WHERE h.released_at IS NULL AND \
     ((h.scope = 'message' AND h.target_id = m.id) OR (h.scope = 'account' AND h.target_id = m.account_id) \
      OR (h.scope = 'number' AND h.number = m.to_number))) \
     OR m.account_id IN (SELECT t.account_id FROM bank_transactions t WHERE t.shortfall_cents > 0 AND t.account_id IS NOT NULL))";

/// The condition that an inbound message row `m` is under a legal hold.
const INBOUND_HELD: &str = "(EXISTS (SELECT 1 FROM legal_holds h WHERE h.released_at IS NULL AND \
     ((h.scope = 'account' AND h.target_id = m.account_id) OR (h.scope = 'number' AND h.number = m.from_number))) \
     OR m.account_id IN (SELECT t.account_id FROM bank_transactions t WHERE t.shortfall_cents > 0 AND t.account_id IS NOT NULL))";

/// `FROM ... WHERE` selecting closed accounts (alias `a`) whose contract ended before `$1` and
/// whose record is not erased yet.
const ACCOUNT_PAST: &str =
    "FROM accounts a WHERE a.contract_ended_at < $1 AND a.record_erased_at IS NULL";

/// The condition that a closed account `a`'s record is held: a legal hold on the account, or an
/// open debt (a reversed payment its credit did not cover).
const ACCOUNT_HELD: &str = "(EXISTS (SELECT 1 FROM legal_holds h WHERE h.released_at IS NULL AND h.scope = 'account' \
     AND h.target_id = a.id) \
     OR EXISTS (SELECT 1 FROM bank_transactions t WHERE t.shortfall_cents > 0 AND t.account_id = a.id))";

/// The marketing purposes that end with a former customer's marketing period.
const MARKETING_PURPOSES: [ConsentPurpose; 4] = [
    ConsentPurpose::MarketingEmail,
    ConsentPurpose::MarketingSms,
    ConsentPurpose::MarketingPhone,
    ConsentPurpose::Newsletter,
];

/// A swept table: which rows are past their period, whether they are held, and what goes with them.
struct Sweep {
    category: Category,
    /// `FROM ... WHERE` selecting rows past the cutoff (`$1`), alias `m`, key column `m.id`.
    past: &'static str,
    /// Condition of a held row, or "" when nothing holds this category.
    held: &'static str,
    /// Statements run for each batch before the rows themselves go, with `{ids}` the id list.
    dependents: &'static [&'static str],
    table: &'static str,
    key: &'static str,
}

const SWEEPS: &[Sweep] = &[
    Sweep {
        category: Category::TrafficData,
        past: "FROM messages m WHERE m.created_at < $1 AND m.status NOT IN ('scheduled', 'queued', 'sending')",
        held: MESSAGE_HELD,
        dependents: &[
            "DELETE FROM message_events WHERE message_id IN ({ids})",
            "DELETE FROM smpp_receipts WHERE message_id IN ({ids})",
        ],
        table: "messages",
        key: "id",
    },
    Sweep {
        category: Category::TrafficData,
        past: "FROM webhook_deliveries m WHERE m.created_at < $1 AND m.status <> 'pending'",
        held: "EXISTS (SELECT 1 FROM legal_holds h WHERE h.released_at IS NULL AND h.scope = 'account' AND h.target_id = m.account_id)",
        dependents: &["DELETE FROM webhook_attempts WHERE delivery_id IN ({ids})"],
        table: "webhook_deliveries",
        key: "id",
    },
    Sweep {
        category: Category::InboundMessages,
        past: "FROM inbound_messages m WHERE m.received_at < $1",
        held: INBOUND_HELD,
        dependents: &[
            "DELETE FROM inbound_feed WHERE inbound_id IN ({ids})",
            "DELETE FROM smpp_mo_pushed WHERE inbound_id IN ({ids})",
        ],
        table: "inbound_messages",
        key: "id",
    },
    Sweep {
        category: Category::LoginAttempts,
        past: "FROM web_login_attempts m WHERE m.at < $1",
        held: "",
        dependents: &[],
        table: "web_login_attempts",
        key: "id",
    },
    Sweep {
        category: Category::SessionsAndTokens,
        past: "FROM web_sessions m WHERE m.expires_at < $1",
        held: "",
        dependents: &[],
        table: "web_sessions",
        key: "id_hash",
    },
    Sweep {
        category: Category::SessionsAndTokens,
        past: "FROM web_tokens m WHERE m.expires_at < $1",
        held: "",
        dependents: &[],
        table: "web_tokens",
        key: "token_hash",
    },
    Sweep {
        category: Category::SupportTickets,
        past: "FROM tickets m WHERE m.status = 'resolved' AND m.resolved_at < $1",
        held: "EXISTS (SELECT 1 FROM legal_holds h WHERE h.released_at IS NULL AND h.ticket_id = m.id)",
        dependents: &["DELETE FROM ticket_messages WHERE ticket_id IN ({ids})"],
        table: "tickets",
        key: "id",
    },
    Sweep {
        category: Category::DataRequests,
        past: "FROM data_requests m WHERE m.closed_at < $1",
        held: "",
        dependents: &[],
        table: "data_requests",
        key: "id",
    },
];

impl Store {
    /// Runs the retention job with the clock at `now`: every enforced category, in batches of
    /// `batch` rows, each its own transaction. A dry run counts and deletes nothing. The run and
    /// its counts are recorded in `retention_runs` (and the audit log when it deleted anything).
    pub async fn run_retention(&self, now: i64, dry_run: bool, batch: u32) -> Result<RetentionRun> {
        let batch = i64::from(batch.clamp(1, 10_000));
        let started = crate::now_us();
        let mut categories: Vec<CategoryRun> = Vec::new();
        for sweep in SWEEPS {
            let p = policy(sweep.category);
            debug_assert_eq!(p.enforcement, Enforcement::Delete);
            let Some(cutoff) = p.period.cutoff(now) else {
                continue;
            };
            let (deleted, held) = self.sweep(sweep, cutoff, dry_run, batch).await?;
            match categories.iter_mut().find(|c| c.category == sweep.category) {
                Some(c) => {
                    c.deleted += deleted;
                    c.held += held;
                }
                None => categories.push(CategoryRun {
                    category: sweep.category,
                    deleted,
                    held,
                }),
            }
        }
        for (category, (deleted, held)) in [
            (
                Category::FormerCustomerMarketing,
                self.end_former_customer_marketing(now, dry_run).await?,
            ),
            (
                Category::CustomerRecord,
                self.erase_former_customers(now, dry_run).await?,
            ),
        ] {
            categories.push(CategoryRun {
                category,
                deleted,
                held,
            });
        }
        if !dry_run {
            self.redact_spent_codes(now).await?;
        }
        let report = categories
            .iter()
            .map(|c| {
                format!(
                    "{}: deleted={} held={}",
                    c.category.as_str(),
                    c.deleted,
                    c.held
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let id: i64 = sqlx::query(
            "INSERT INTO retention_runs (clock, dry_run, started_at, finished_at, report) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(now)
        .bind(i64::from(dry_run))
        .bind(started)
        .bind(crate::now_us())
        .bind(report.as_str())
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        if !dry_run && categories.iter().any(|c| c.deleted > 0) {
            crate::audit::record(
                &mut tx,
                &crate::audit::AuditEntry::new(
                    "system",
                    "retention.delete",
                    format!("retention_run:{id}"),
                    "retention policy (seed clause 4)",
                )
                .details(report.clone()),
                crate::now_us(),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(RetentionRun {
            id,
            clock: now,
            dry_run,
            categories,
        })
    }

    async fn sweep(&self, s: &Sweep, cutoff: i64, dry_run: bool, batch: i64) -> Result<(u64, u64)> {
        let held = if s.held.is_empty() {
            0
        } else {
            let sql = format!("SELECT COUNT(*) AS n {} AND {}", s.past, s.held);
            let n: i64 = sqlx::query(&sql)
                .bind(cutoff)
                .fetch_one(&self.read)
                .await?
                .try_get("n")?;
            n as u64
        };
        let not_held = if s.held.is_empty() {
            String::new()
        } else {
            format!(" AND NOT {}", s.held)
        };
        if dry_run {
            let sql = format!("SELECT COUNT(*) AS n {}{not_held}", s.past);
            let n: i64 = sqlx::query(&sql)
                .bind(cutoff)
                .fetch_one(&self.read)
                .await?
                .try_get("n")?;
            return Ok((n as u64, held));
        }
        let select = format!("SELECT m.{} AS k {}{not_held} LIMIT $2", s.key, s.past);
        let mut deleted = 0;
        loop {
            let mut conn = self.write_conn(crate::Durability::Full).await?;
            let mut tx = crate::begin_write(&mut conn).await?;
            let rows = sqlx::query(&select)
                .bind(cutoff)
                .bind(batch)
                .fetch_all(&mut *tx)
                .await?;
            if rows.is_empty() {
                break;
            }
            let n = rows.len();
            let ids = sql::list(self.backend, 1, n);
            let keys: Vec<Key> = rows
                .iter()
                .map(|r| {
                    r.try_get::<i64, _>("k")
                        .map(Key::I)
                        .or_else(|_| r.try_get::<String, _>("k").map(Key::S))
                })
                .collect::<std::result::Result<_, _>>()?;
            for dep in s
                .dependents
                .iter()
                .map(|d| d.replace("{ids}", &ids))
                .chain([format!(
                    "DELETE FROM {} WHERE {} IN ({ids})",
                    s.table, s.key
                )])
            {
                let mut q = sqlx::query(&dep);
                for k in &keys {
                    q = match k {
                        Key::I(v) => q.bind(*v),
                        Key::S(v) => q.bind(v.as_str()),
                    };
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await?;
            deleted += n as u64;
            if (n as i64) < batch {
                break;
            }
            tokio::task::yield_now().await;
        }
        Ok((deleted, held))
    }

    /// Marketing to a former customer ends a year after the contract's end: the marketing
    /// consents of the account's users are withdrawn (source: the retention policy) and the end
    /// is recorded on the account. Returns (accounts ended, 0): nothing holds marketing.
    async fn end_former_customer_marketing(&self, now: i64, dry_run: bool) -> Result<(u64, u64)> {
        let Some(cutoff) = policy(Category::FormerCustomerMarketing).period.cutoff(now) else {
            return Ok((0, 0));
        };
        let rows = sqlx::query(
            "SELECT id FROM accounts WHERE contract_ended_at < $1 AND marketing_ended_at IS NULL \
             AND record_erased_at IS NULL ORDER BY id",
        )
        .bind(cutoff)
        .fetch_all(&self.read)
        .await?;
        if dry_run {
            return Ok((rows.len() as u64, 0));
        }
        let mut ended = 0;
        for r in &rows {
            let account: i64 = r.try_get("id")?;
            let mut conn = self.write_conn(crate::Durability::Full).await?;
            let mut tx = crate::begin_write(&mut conn).await?;
            let n = sqlx::query(
                "UPDATE accounts SET marketing_ended_at = $1 WHERE id = $2 AND marketing_ended_at IS NULL \
                 AND contract_ended_at < $3",
            )
            .bind(now)
            .bind(account)
            .bind(cutoff)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                continue;
            }
            let purposes = MARKETING_PURPOSES
                .iter()
                .map(|p| format!("'{}'", p.as_str()))
                .collect::<Vec<_>>()
                .join(", ");
            let withdrawn = sqlx::query(&format!(
                "UPDATE consents SET withdrawn_at = $1 WHERE withdrawn_at IS NULL AND purpose IN ({purposes}) \
                 AND subject IN (SELECT 'user:' || CAST(u.id AS TEXT) FROM web_users u WHERE u.account_id = $2)"
            ))
            .bind(now)
            .bind(account)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            crate::audit::record(
                &mut tx,
                &crate::audit::AuditEntry::new(
                    "system",
                    "retention.end_marketing",
                    format!("account:{account}"),
                    "retention policy: marketing to former customers ends 1 year after the contract",
                )
                .details(format!("consents_withdrawn={withdrawn}")),
                now,
            )
            .await?;
            tx.commit().await?;
            ended += 1;
        }
        Ok((ended, 0))
    }

    /// The customer record of a former customer goes ten years after the contract's end: each
    /// web user is erased as on an erasure request (invoices and the ledger stay: their own ten
    /// years run from issue), the account's identification is replaced, and the erasure is
    /// recorded on the account. A legal hold on the account or an open debt keeps the record.
    /// Returns (accounts erased, accounts held).
    async fn erase_former_customers(&self, now: i64, dry_run: bool) -> Result<(u64, u64)> {
        let Some(cutoff) = policy(Category::CustomerRecord).period.cutoff(now) else {
            return Ok((0, 0));
        };
        let held: i64 = sqlx::query(&format!(
            "SELECT COUNT(*) AS n {ACCOUNT_PAST} AND {ACCOUNT_HELD}"
        ))
        .bind(cutoff)
        .fetch_one(&self.read)
        .await?
        .try_get("n")?;
        let rows = sqlx::query(&format!(
            "SELECT a.id {ACCOUNT_PAST} AND NOT {ACCOUNT_HELD} ORDER BY a.id"
        ))
        .bind(cutoff)
        .fetch_all(&self.read)
        .await?;
        if dry_run {
            return Ok((rows.len() as u64, held as u64));
        }
        let reason = "retention policy: customer record 10 years after the contract";
        let mut erased = 0;
        for r in &rows {
            let account: i64 = r.try_get("id")?;
            let users = sqlx::query("SELECT id FROM web_users WHERE account_id = $1 ORDER BY id")
                .bind(account)
                .fetch_all(&self.read)
                .await?;
            for u in &users {
                self.erase_customer(u.try_get("id")?, "system", reason, now)
                    .await?;
            }
            let mut conn = self.write_conn(crate::Durability::Full).await?;
            let mut tx = crate::begin_write(&mut conn).await?;
            sqlx::query(
                "UPDATE accounts SET email = $1, name = $2, identification = NULL, optout_line = NULL, \
                 record_erased_at = $3 WHERE id = $4",
            )
            .bind(format!("erased-account-{account}@invalid"))
            .bind(crate::privacy::ERASED)
            .bind(now)
            .bind(account)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE billing_accounts SET customer_name = NULL, customer_address = NULL, \
                 customer_ico = NULL, customer_dic = NULL WHERE account_id = $1",
            )
            .bind(account)
            .execute(&mut *tx)
            .await?;
            crate::audit::record(
                &mut tx,
                &crate::audit::AuditEntry::new(
                    "system",
                    "retention.erase_customer",
                    format!("account:{account}"),
                    reason,
                )
                .details(format!("web_users={}", users.len())),
                now,
            )
            .await?;
            tx.commit().await?;
            erased += 1;
        }
        Ok((erased, held as u64))
    }

    /// Per category: what is stored, the oldest, and how much a hold keeps past its period.
    pub async fn retention_report(&self, now: i64) -> Result<Vec<RetentionLine>> {
        let mut out = Vec::new();
        for p in POLICIES {
            let (stored, oldest) = match p.category {
                Category::TrafficData => self.count_oldest("messages", "created_at").await?,
                Category::InboundMessages => {
                    self.count_oldest("inbound_messages", "received_at").await?
                }
                Category::LoginAttempts => self.count_oldest("web_login_attempts", "at").await?,
                Category::SessionsAndTokens => {
                    self.count_oldest("web_sessions", "expires_at").await?
                }
                Category::SupportTickets => self.count_oldest("tickets", "resolved_at").await?,
                Category::DataRequests => self.count_oldest("data_requests", "closed_at").await?,
                Category::CustomerRecord => {
                    self.count_oldest_where(
                        "accounts",
                        "contract_ended_at",
                        "record_erased_at IS NULL",
                    )
                    .await?
                }
                Category::Invoices => self.count_oldest("invoices", "created_at").await?,
                Category::ConsentData => self.count_oldest("consents", "at").await?,
                Category::AuditLog => self.count_oldest("audit_log", "at").await?,
                Category::FormerCustomerMarketing => {
                    self.count_oldest_where(
                        "accounts",
                        "contract_ended_at",
                        "contract_ended_at IS NOT NULL AND marketing_ended_at IS NULL AND record_erased_at IS NULL",
                    )
                    .await?
                }
            };
            let mut held = 0;
            if let (Category::CustomerRecord, Some(cutoff)) = (p.category, p.period.cutoff(now)) {
                held += sqlx::query(&format!(
                    "SELECT COUNT(*) AS n {ACCOUNT_PAST} AND {ACCOUNT_HELD}"
                ))
                .bind(cutoff)
                .fetch_one(&self.read)
                .await?
                .try_get::<i64, _>("n")?;
            }
            if let Some(cutoff) = p.period.cutoff(now) {
                for s in SWEEPS.iter().filter(|s| s.category == p.category) {
                    if !s.held.is_empty() {
                        let sql = format!("SELECT COUNT(*) AS n {} AND {}", s.past, s.held);
                        held += sqlx::query(&sql)
                            .bind(cutoff)
                            .fetch_one(&self.read)
                            .await?
                            .try_get::<i64, _>("n")?;
                    }
                }
            }
            out.push(RetentionLine {
                category: p.category,
                stored,
                oldest,
                held,
            });
        }
        Ok(out)
    }

    /// Rows of `table` matching `filter`, and the oldest `column` among them.
    async fn count_oldest_where(
        &self,
        table: &str,
        column: &str,
        filter: &str,
    ) -> Result<(Option<i64>, Option<i64>)> {
        let sql =
            format!("SELECT COUNT(*) AS n, MIN({column}) AS oldest FROM {table} WHERE {filter}");
        let row = sqlx::query(&sql).fetch_one(&self.read).await?;
        Ok((Some(row.try_get("n")?), row.try_get("oldest")?))
    }

    async fn count_oldest(&self, table: &str, column: &str) -> Result<(Option<i64>, Option<i64>)> {
        let sql = format!("SELECT COUNT(*) AS n, MIN({column}) AS oldest FROM {table}");
        let row = sqlx::query(&sql).fetch_one(&self.read).await?;
        Ok((Some(row.try_get("n")?), row.try_get("oldest")?))
    }

    /// Puts a legal hold on a message, an account's messages or a number's messages.
    pub async fn add_legal_hold(&self, hold: &NewLegalHold<'_>, now: i64) -> Result<i64> {
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let id = insert_hold(&mut tx, self, hold, None, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Releases a hold; `false` when it was not open.
    pub async fn release_legal_hold(&self, id: i64, actor: &str, now: i64) -> Result<bool> {
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let n = sqlx::query(
            "UPDATE legal_holds SET released_at = $1 WHERE id = $2 AND released_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n > 0 {
            crate::audit::record(
                &mut tx,
                &crate::audit::AuditEntry::new(
                    actor,
                    "legal_hold.release",
                    format!("legal_hold:{id}"),
                    "released by staff",
                ),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Open legal holds, oldest first.
    pub async fn legal_holds(&self) -> Result<Vec<LegalHold>> {
        let rows = sqlx::query(
            "SELECT id, scope, target_id, number, reason, ticket_id, created_by, created_at \
             FROM legal_holds WHERE released_at IS NULL ORDER BY id",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LegalHold {
                    id: r.try_get("id")?,
                    scope: r.try_get("scope")?,
                    target_id: r.try_get("target_id")?,
                    number: r.try_get("number")?,
                    reason: r.try_get("reason")?,
                    ticket_id: r.try_get("ticket_id")?,
                    created_by: r.try_get("created_by")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }
}

/// What a new legal hold covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldTarget<'a> {
    Message(i64),
    Account(i64),
    Number(&'a str),
}

#[derive(Debug, Clone, Copy)]
pub struct NewLegalHold<'a> {
    pub target: HoldTarget<'a>,
    pub reason: &'a str,
    pub actor: &'a str,
}

pub(crate) async fn insert_hold(
    tx: &mut sqlx::AnyConnection,
    store: &Store,
    hold: &NewLegalHold<'_>,
    ticket: Option<i64>,
    now: i64,
) -> Result<i64> {
    let (scope, target_id, number, subject) = match hold.target {
        HoldTarget::Message(id) => ("message", Some(id), None, format!("message:{id}")),
        HoldTarget::Account(id) => ("account", Some(id), None, format!("account:{id}")),
        HoldTarget::Number(n) => (
            "number",
            None,
            Some(n),
            format!("number:{}", store.number_hash(n)),
        ),
    };
    let id: i64 = sqlx::query(
        "INSERT INTO legal_holds (scope, target_id, number, reason, ticket_id, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(scope)
    .bind(target_id)
    .bind(number)
    .bind(hold.reason)
    .bind(ticket)
    .bind(hold.actor)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?
    .try_get("id")?;
    crate::audit::record(
        tx,
        &crate::audit::AuditEntry::new(hold.actor, "legal_hold.add", subject, hold.reason)
            .details(format!("hold={id}")),
        now,
    )
    .await?;
    Ok(id)
}

enum Key {
    I(i64),
    S(String),
}
