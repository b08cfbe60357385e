//! The Blacklist: who must not get messages, and why.
//!
//! Two scopes: an account's (the recipient opted out of that customer) and the global one
//! (account id 0: the recipient asked the operator for no messages at all, the recipient's data
//! is restricted, or it was erased). Entries are found by [`BlacklistKey::hash`] of the E.164
//! number, an HMAC-SHA256 under a key from the configuration that the database never holds; the
//! number is kept in clear beside it only until the recipient is erased.
//!
//! Enforcement lives in the writer (a submission's blocked recipients are stored `blocked`, at
//! no charge) and in the dispatcher's claim (a queued message whose number became blocked is
//! ended `blocked` and its reservation released): every sending path goes through both.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use domain::optout::Keyword;
use domain::{AccountId, MessageStatus};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use sqlx::Row;

use crate::accounts::ledger_entry;
use crate::messages::insert_events;
use crate::{sql, Backend, Result, Store, StoreError};

/// The secret key of the Blacklist's number hashes. Not `Debug`-printable.
#[derive(Clone)]
pub struct BlacklistKey(Vec<u8>);

impl std::fmt::Debug for BlacklistKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlacklistKey(***)")
    }
}

impl BlacklistKey {
    /// A key from configuration: at least 16 bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<BlacklistKey> {
        let bytes = bytes.into();
        if bytes.len() < 16 {
            return Err(StoreError::Corrupt(
                "the blacklist key must have at least 16 bytes".into(),
            ));
        }
        Ok(BlacklistKey(bytes))
    }

    /// A random key (tests, in-memory databases).
    pub fn generate() -> BlacklistKey {
        BlacklistKey(rand::random::<[u8; 32]>().to_vec())
    }

    /// Reads the key file, or creates it with a random key (owner-only permissions).
    pub fn load_or_create(path: &Path) -> Result<BlacklistKey> {
        let io = |source: std::io::Error| StoreError::CreateDir {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let bytes = hex::decode(text.trim()).map_err(|e| {
                    StoreError::Corrupt(format!("key file {} is not hex: {e}", path.display()))
                })?;
                BlacklistKey::new(bytes)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = BlacklistKey::generate();
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(io)?;
                }
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
                let mut f = opts.open(path).map_err(io)?;
                std::io::Write::write_all(&mut f, hex::encode(&key.0).as_bytes()).map_err(io)?;
                f.sync_all().map_err(io)?;
                Ok(key)
            }
            Err(e) => Err(io(e)),
        }
    }

    /// The lookup key of an E.164 number: hex HMAC-SHA256.
    pub fn hash(&self, number: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(number.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// Whose messages an entry stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Account(AccountId),
    Global,
}

impl Scope {
    fn column(self) -> i64 {
        match self {
            Scope::Account(a) => a.get(),
            Scope::Global => 0,
        }
    }
    fn from_column(v: i64) -> Scope {
        if v == 0 {
            Scope::Global
        } else {
            Scope::Account(AccountId::new(v))
        }
    }
}

/// Why a number is on the Blacklist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// The recipient (or the customer on their behalf) refused messages.
    OptOut,
    /// Processing restricted (GDPR Art. 18): kept, never sent to.
    Restricted,
    /// The recipient's data was erased; only the hash remains.
    Erased,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OptOut => "opt_out",
            Self::Restricted => "restricted",
            Self::Erased => "erased",
        }
    }
    pub(crate) fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "opt_out" => Self::OptOut,
            "restricted" => Self::Restricted,
            "erased" => Self::Erased,
            other => return Err(StoreError::Corrupt(format!("blacklist kind {other:?}"))),
        })
    }
}

/// Who put the entry there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A reply with an opt-out keyword.
    Recipient,
    Api,
    Web,
    Staff,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Recipient => "recipient",
            Self::Api => "api",
            Self::Web => "web",
            Self::Staff => "staff",
        }
    }
    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "recipient" => Self::Recipient,
            "api" => Self::Api,
            "web" => Self::Web,
            "staff" => Self::Staff,
            other => return Err(StoreError::Corrupt(format!("blacklist source {other:?}"))),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlacklistEntry {
    pub id: i64,
    pub scope: Scope,
    /// `None` once the recipient was erased.
    pub number: Option<String>,
    pub kind: EntryKind,
    pub source: Source,
    pub created_at: i64,
}

/// Why a message to a number is not sent: the text of its `status_reason`. Strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlockReason {
    Erased,
    Restricted,
    OptedOutAll,
    OptedOut,
    NoMarketingBasis,
}

impl BlockReason {
    pub fn text(self) -> &'static str {
        match self {
            Self::Erased => "blocked: the recipient's data was erased at their request",
            Self::Restricted => "blocked: processing of the recipient's data is restricted",
            Self::OptedOutAll => "blocked: the recipient opted out of all messages",
            Self::OptedOut => "blocked: the recipient opted out of this account's messages",
            Self::NoMarketingBasis => {
                "blocked: commercial message to a number without a recorded consent or customer relationship"
            }
        }
    }
}

/// The block that applies to `account` among a number's entries, strongest first.
fn strongest(entries: &[(i64, EntryKind)], account: i64) -> Option<BlockReason> {
    let mut best: Option<BlockReason> = None;
    for (scope, kind) in entries {
        let reason = match (*scope, kind) {
            (0, EntryKind::Erased) => BlockReason::Erased,
            (0, EntryKind::Restricted) => BlockReason::Restricted,
            (0, EntryKind::OptOut) => BlockReason::OptedOutAll,
            (a, _) if a == account => BlockReason::OptedOut,
            _ => continue,
        };
        best = Some(match best {
            Some(b) if (b as u8) <= (reason as u8) => b,
            _ => reason,
        });
    }
    best
}

/// number hash -> [(scope column, kind)]
pub(crate) type Blocks = HashMap<String, Vec<(i64, EntryKind)>>;

/// The Blacklist entries of these hashes, one statement per thousand hashes.
pub(crate) async fn entries_for(
    backend: Backend,
    conn: &mut sqlx::AnyConnection,
    hashes: &[&str],
) -> Result<Blocks> {
    let mut wanted: Vec<&str> = hashes.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    let mut found: Blocks = HashMap::new();
    for chunk in wanted.chunks(1000) {
        let sql = format!(
            "SELECT number_hash, account_id, kind FROM blacklist WHERE number_hash IN ({})",
            sql::list(backend, 1, chunk.len())
        );
        let mut q = sqlx::query(&sql);
        for h in chunk {
            q = q.bind(*h);
        }
        for row in q.fetch_all(&mut *conn).await? {
            let kind: String = row.try_get("kind")?;
            found
                .entry(row.try_get("number_hash")?)
                .or_default()
                .push((row.try_get("account_id")?, EntryKind::parse(&kind)?));
        }
    }
    Ok(found)
}

/// Whether `account` may send to the number with this hash, given the entries found.
pub(crate) fn block_for(blocks: &Blocks, hash: &str, account: AccountId) -> Option<BlockReason> {
    blocks.get(hash).and_then(|e| strongest(e, account.get()))
}

/// (account, number) of the given numbers' contacts with a recorded basis for commercial
/// messages.
pub(crate) async fn numbers_with_basis(
    backend: Backend,
    conn: &mut sqlx::AnyConnection,
    numbers: &[&str],
) -> Result<HashSet<(i64, String)>> {
    let mut with_basis = HashSet::new();
    for chunk in numbers.chunks(1000) {
        let sql = format!(
            "SELECT DISTINCT c.account_id, c.number FROM contacts c WHERE c.basis IS NOT NULL AND c.number IN ({}) \
             AND NOT EXISTS (SELECT 1 FROM marketing_objections o WHERE o.number = c.number \
             AND o.account_id IN (0, c.account_id))",
            sql::list(backend, 1, chunk.len())
        );
        let mut q = sqlx::query(&sql);
        for n in chunk {
            q = q.bind(*n);
        }
        for row in q.fetch_all(&mut *conn).await? {
            with_basis.insert((row.try_get("account_id")?, row.try_get("number")?));
        }
    }
    Ok(with_basis)
}

/// What [`Store::erase_recipient`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Erasure {
    pub contacts_deleted: u64,
    pub messages_anonymised: u64,
    pub messages_blocked: u64,
    pub inbound_deleted: u64,
    /// Other rows in whose texts the number was replaced by the marker.
    pub other_rows_scrubbed: u64,
}

/// What replaces an erased number and the texts of messages to it.
pub const ERASED_MARKER: &str = "[erased]";

fn entry_from_row(r: &sqlx::any::AnyRow) -> Result<BlacklistEntry> {
    let kind: String = r.try_get("kind")?;
    let source: String = r.try_get("source")?;
    Ok(BlacklistEntry {
        id: r.try_get("id")?,
        scope: Scope::from_column(r.try_get("account_id")?),
        number: r.try_get("number")?,
        kind: EntryKind::parse(&kind)?,
        source: Source::parse(&source)?,
        created_at: r.try_get("created_at")?,
    })
}

/// Result of removing an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    Removed,
    NotFound,
    /// The recipient opted out; only their own opt-in reply lifts it.
    FromRecipient,
}

impl Store {
    /// The keyed hash of an E.164 number.
    pub fn number_hash(&self, number: &str) -> String {
        self.key.hash(number)
    }

    /// Adds an entry; `false` when the same entry was there already.
    pub async fn add_to_blacklist(
        &self,
        id: i64,
        scope: Scope,
        number: &str,
        kind: EntryKind,
        source: Source,
        now: i64,
    ) -> Result<bool> {
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let added = insert_entry(&mut tx, self, id, scope, number, kind, source, now).await?;
        if added && kind != EntryKind::Erased {
            self.block_queued(&mut tx, scope, number, now).await?;
        }
        if added {
            self.audit_blacklist(
                &mut tx,
                source.as_str(),
                "blacklist.add",
                scope,
                number,
                kind.as_str(),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(added)
    }

    /// Ends the queued and scheduled messages to `number` that `scope` now blocks, releasing
    /// their reservations, so the block applies at once (the claim checks again anyway).
    async fn block_queued(
        &self,
        conn: &mut sqlx::AnyConnection,
        scope: Scope,
        number: &str,
        now: i64,
    ) -> Result<u64> {
        let hash = self.key.hash(number);
        let blocks = entries_for(self.backend, conn, &[hash.as_str()]).await?;
        let rows = match scope {
            Scope::Account(a) => {
                sqlx::query(
                    "SELECT id, account_id, price_cents FROM messages WHERE to_number = $1 \
                 AND account_id = $2 AND status IN ('queued', 'scheduled')",
                )
                .bind(number)
                .bind(a.get())
                .fetch_all(&mut *conn)
                .await?
            }
            Scope::Global => {
                sqlx::query(
                    "SELECT id, account_id, price_cents FROM messages WHERE to_number = $1 \
                 AND status IN ('queued', 'scheduled')",
                )
                .bind(number)
                .fetch_all(&mut *conn)
                .await?
            }
        };
        let mut ended = Vec::with_capacity(rows.len());
        for r in &rows {
            let account = AccountId::new(r.try_get("account_id")?);
            if let Some(reason) = block_for(&blocks, &hash, account) {
                ended.push((r.try_get("id")?, account, r.try_get("price_cents")?, reason));
            }
        }
        end_blocked(self.backend, conn, &ended, now).await?;
        Ok(ended.len() as u64)
    }

    /// Removes an account's opt-out entry for `number` unless the recipient made it.
    pub async fn remove_from_blacklist(&self, account: AccountId, number: &str) -> Result<Removal> {
        let hash = self.key.hash(number);
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let row = sqlx::query(
            "SELECT source FROM blacklist WHERE number_hash = $1 AND account_id = $2 AND kind = 'opt_out'",
        )
        .bind(hash.as_str())
        .bind(account.get())
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else {
            return Ok(Removal::NotFound);
        };
        let source: String = row.try_get("source")?;
        if Source::parse(&source)? == Source::Recipient {
            return Ok(Removal::FromRecipient);
        }
        let mut tx = crate::begin_write(&mut conn).await?;
        sqlx::query(
            "DELETE FROM blacklist WHERE number_hash = $1 AND account_id = $2 AND kind = 'opt_out'",
        )
        .bind(hash.as_str())
        .bind(account.get())
        .execute(&mut *tx)
        .await?;
        self.audit_blacklist(
            &mut tx,
            &format!("account:{account}"),
            "blacklist.remove",
            Scope::Account(account),
            number,
            "opt_out",
            crate::now_us(),
        )
        .await?;
        tx.commit().await?;
        Ok(Removal::Removed)
    }

    /// The account's own entries, newest first, below the cursor id `before`.
    pub async fn list_blacklist(
        &self,
        account: AccountId,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<BlacklistEntry>> {
        let rows = sqlx::query(
            "SELECT id, account_id, number, kind, source, created_at FROM blacklist \
             WHERE account_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
        )
        .bind(account.get())
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit.clamp(1, 1000)))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// Every entry of a number in every scope (staff).
    pub async fn blacklist_entries(&self, number: &str) -> Result<Vec<BlacklistEntry>> {
        let rows = sqlx::query(
            "SELECT id, account_id, number, kind, source, created_at FROM blacklist \
             WHERE number_hash = $1 ORDER BY id",
        )
        .bind(self.key.hash(number))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// Whether `account` may send to `number` now, and if not, why (ignoring commercial rules).
    pub async fn block_reason(
        &self,
        account: AccountId,
        number: &str,
    ) -> Result<Option<BlockReason>> {
        let hash = self.key.hash(number);
        let mut conn = self.read.acquire().await?;
        let blocks = entries_for(self.backend, &mut conn, &[hash.as_str()]).await?;
        Ok(block_for(&blocks, &hash, account))
    }

    /// What the writer will decide for these recipients of `account`, read ahead so an API
    /// response can say which are blocked (the writer decides again when it stores them).
    pub async fn block_reasons(
        &self,
        account: AccountId,
        numbers: &[&str],
        marketing: bool,
    ) -> Result<Vec<Option<BlockReason>>> {
        let hashes: Vec<String> = numbers.iter().map(|n| self.key.hash(n)).collect();
        let refs: Vec<&str> = hashes.iter().map(String::as_str).collect();
        let mut conn = self.read.acquire().await?;
        let blocks = entries_for(self.backend, &mut conn, &refs).await?;
        let with_basis = if marketing {
            numbers_with_basis(self.backend, &mut conn, numbers).await?
        } else {
            HashSet::new()
        };
        Ok(numbers
            .iter()
            .zip(&hashes)
            .map(|(n, h)| {
                block_for(&blocks, h, account).or_else(|| {
                    (marketing && !with_basis.contains(&(account.get(), (*n).to_owned())))
                        .then_some(BlockReason::NoMarketingBasis)
                })
            })
            .collect())
    }

    /// Lifts a restriction; `false` if there was none.
    pub async fn lift_restriction(&self, number: &str) -> Result<bool> {
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let done = sqlx::query(
            "DELETE FROM blacklist WHERE number_hash = $1 AND account_id = 0 AND kind = 'restricted'",
        )
        .bind(self.key.hash(number))
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() > 0 {
            self.audit_blacklist(
                &mut tx,
                "staff",
                "blacklist.lift_restriction",
                Scope::Global,
                number,
                "restricted",
                crate::now_us(),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Applies opt-out and opt-in replies: (new entry id, sender's number, the account the reply
    /// was assigned to, keyword). An opt-out needs the account (`STOPALL` does not); an opt-in
    /// removes only entries the recipient made, in that account's scope and the global one.
    pub async fn apply_keywords(
        &self,
        replies: &[(i64, String, Option<AccountId>, Keyword)],
        now: i64,
    ) -> Result<()> {
        if replies.is_empty() {
            return Ok(());
        }
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        self.apply_keywords_in(&mut tx, replies, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The audit entry of a Blacklist change; the number is named by its keyed hash.
    #[allow(clippy::too_many_arguments)]
    async fn audit_blacklist(
        &self,
        tx: &mut sqlx::AnyConnection,
        actor: &str,
        action: &str,
        scope: Scope,
        number: &str,
        kind: &str,
        now: i64,
    ) -> Result<()> {
        let scope = match scope {
            Scope::Global => "global".to_owned(),
            Scope::Account(a) => format!("account:{a}"),
        };
        crate::audit::record(
            tx,
            &crate::audit::AuditEntry::new(
                actor,
                action,
                format!("number:{}", self.key.hash(number)),
                kind,
            )
            .details(format!("scope={scope}")),
            now,
        )
        .await?;
        Ok(())
    }

    pub(crate) async fn apply_keywords_in(
        &self,
        tx: &mut sqlx::AnyConnection,
        replies: &[(i64, String, Option<AccountId>, Keyword)],
        now: i64,
    ) -> Result<()> {
        for (id, number, account, keyword) in replies {
            match (keyword, account) {
                (Keyword::OptOut, Some(a)) => {
                    let scope = Scope::Account(*a);
                    if insert_entry(
                        tx,
                        self,
                        *id,
                        scope,
                        number,
                        EntryKind::OptOut,
                        Source::Recipient,
                        now,
                    )
                    .await?
                    {
                        self.block_queued(tx, scope, number, now).await?;
                        self.audit_blacklist(
                            tx,
                            "recipient",
                            "blacklist.add",
                            scope,
                            number,
                            "opt_out",
                            now,
                        )
                        .await?;
                    }
                }
                (Keyword::OptOut, None) => {
                    tracing::info!("an opt-out reply matched no account; nothing to stop");
                }
                (Keyword::OptOutAll, _) => {
                    if insert_entry(
                        tx,
                        self,
                        *id,
                        Scope::Global,
                        number,
                        EntryKind::OptOut,
                        Source::Recipient,
                        now,
                    )
                    .await?
                    {
                        self.block_queued(tx, Scope::Global, number, now).await?;
                        self.audit_blacklist(
                            tx,
                            "recipient",
                            "blacklist.add",
                            Scope::Global,
                            number,
                            "opt_out",
                            now,
                        )
                        .await?;
                    }
                }
                (Keyword::OptIn, account) => {
                    sqlx::query(
                        "DELETE FROM blacklist WHERE number_hash = $1 AND kind = 'opt_out' \
                         AND source = 'recipient' AND (account_id = 0 OR account_id = $2)",
                    )
                    .bind(self.key.hash(number))
                    .bind(account.map_or(-1, |a| a.get()))
                    .execute(&mut *tx)
                    .await?;
                    let scope = account.map_or(Scope::Global, Scope::Account);
                    self.audit_blacklist(
                        tx,
                        "recipient",
                        "blacklist.opt_in",
                        scope,
                        number,
                        "opt_out",
                        now,
                    )
                    .await?;
                }
            }
        }
        Ok(())
    }

    /// Erases a recipient: every trace of the number goes (contacts, its inbound messages, the
    /// clear number in Blacklist entries, import reports), texts of messages to it are replaced
    /// by [`ERASED_MARKER`], any text mentioning it in `forms` (the E.164 number and how else
    /// it may be written) has it replaced, queued messages to it are blocked, and a global
    /// `erased` entry keeps only the hash so the block still works.
    pub async fn erase_recipient(
        &self,
        id: i64,
        number: &str,
        forms: &[String],
        now: i64,
    ) -> Result<Erasure> {
        let mut report = Erasure::default();
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        insert_entry(
            &mut tx,
            self,
            id,
            Scope::Global,
            number,
            EntryKind::Erased,
            Source::Staff,
            now,
        )
        .await?;
        report.messages_blocked = self
            .block_queued(&mut tx, Scope::Global, number, now)
            .await?;
        sqlx::query("UPDATE blacklist SET number = NULL WHERE number_hash = $1")
            .bind(self.key.hash(number))
            .execute(&mut *tx)
            .await?;
        report.contacts_deleted = sqlx::query("DELETE FROM contacts WHERE number = $1")
            .bind(number)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        report.inbound_deleted = sqlx::query("DELETE FROM inbound_messages WHERE from_number = $1")
            .bind(number)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        report.messages_anonymised = sqlx::query(
            "UPDATE messages SET to_number = $1, body = $1, client_ref = NULL WHERE to_number = $2",
        )
        .bind(ERASED_MARKER)
        .bind(number)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        report.other_rows_scrubbed = scrub(self.backend, &mut tx, number, forms).await?;
        self.audit_blacklist(
            &mut tx,
            "staff",
            "blacklist.erase",
            Scope::Global,
            number,
            "erased",
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(report)
    }
}

impl Store {
    /// Where `needle` occurs in any text column of any table: (table, column, rows). Shows that
    /// an erasure left nothing behind.
    pub async fn find_text(&self, needle: &str) -> Result<Vec<(String, String, i64)>> {
        let mut conn = self.read.acquire().await?;
        let mut found = Vec::new();
        for col in text_columns(self.backend, &mut conn).await? {
            let sql = format!(
                "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM \"{}\" WHERE {} LIKE $1",
                col.table,
                col.as_text()
            );
            let n: i64 = sqlx::query(&sql)
                .bind(format!("%{}%", like_escape(needle)))
                .fetch_one(&mut *conn)
                .await?
                .try_get("n")?;
            if n > 0 {
                found.push((col.table, col.column, n));
            }
        }
        Ok(found)
    }
}

/// Columns the erasure sweep leaves alone: keyed or one-way hashes and ciphertexts, which a
/// replacement would only corrupt. The append-only ledger and audit log are left alone whole
/// (their references name submissions, messages and keyed hashes, never numbers).
const SKIP_SCRUB: &[(&str, &str)] = &[
    ("blacklist", "number_hash"),
    ("api_keys", "key_hash"),
    ("webhooks", "secret"),
    ("smpp_credentials", "password_hash"),
];
const SKIP_TABLES: &[&str] = &["ledger_entries", "audit_log"];

fn like_escape(s: &str) -> String {
    // Numbers contain no LIKE wildcards; keep it that way for anything else.
    s.replace(['%', '_'], "")
}

/// Replaces the number, as written in any of `forms`, by [`ERASED_MARKER`] in every text
/// column of every table (found from the schema, so tables added later are covered too): one
/// statement, one scan, per table. Returns the rows changed.
async fn scrub(
    backend: Backend,
    conn: &mut sqlx::AnyConnection,
    number: &str,
    forms: &[String],
) -> Result<u64> {
    // Only digits with an optional plus: safe to write into the statement as literals.
    let mut forms: Vec<&str> = forms
        .iter()
        .map(String::as_str)
        .chain([number, number.trim_start_matches('+')])
        .filter(|f| {
            f.len() >= 6
                && f.trim_start_matches('+')
                    .bytes()
                    .all(|b| b.is_ascii_digit())
                && f.bytes().filter(|b| *b == b'+').count() <= 1
        })
        .collect();
    // Longest first, so "+420…" is replaced before "420…", which it contains.
    forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    forms.dedup();
    if forms.is_empty() {
        return Ok(0);
    }
    let mut tables: Vec<(String, Vec<TextColumn>)> = Vec::new();
    for col in text_columns(backend, conn).await? {
        if SKIP_TABLES.contains(&col.table.as_str())
            || SKIP_SCRUB.contains(&(col.table.as_str(), col.column.as_str()))
        {
            continue;
        }
        match tables.iter_mut().find(|(t, _)| *t == col.table) {
            Some((_, cols)) => cols.push(col),
            None => tables.push((col.table.clone(), vec![col])),
        }
    }
    let mut rows = 0;
    for (table, cols) in tables {
        let mut sets = Vec::with_capacity(cols.len());
        let mut conds = Vec::new();
        for col in &cols {
            let mut expr = col.as_text();
            for f in &forms {
                expr = format!("REPLACE({expr}, '{f}', '{ERASED_MARKER}')");
                conds.push(format!("{} LIKE '%{f}%'", col.as_text()));
            }
            sets.push(format!(
                "\"{}\" = {}",
                col.column,
                col.stored_from_text(&expr)
            ));
        }
        let sql = format!(
            "UPDATE \"{table}\" SET {} WHERE {}",
            sets.join(", "),
            conds.join(" OR ")
        );
        rows += sqlx::query(&sql).execute(&mut *conn).await?.rows_affected();
    }
    Ok(rows)
}

/// A column that can hold text.
pub(crate) struct TextColumn {
    table: String,
    column: String,
    /// `json` or `jsonb` on PostgreSQL: compared and replaced as text, stored back cast.
    json_type: Option<String>,
}

/// Whether a column holds a hash or ciphertext that no erasure may touch.
pub(crate) fn is_hash_column(table: &str, column: &str) -> bool {
    SKIP_SCRUB.contains(&(table, column))
}

impl TextColumn {
    pub(crate) fn table_name(&self) -> &str {
        &self.table
    }
    pub(crate) fn column_name(&self) -> &str {
        &self.column
    }
    pub(crate) fn as_text(&self) -> String {
        match &self.json_type {
            None => format!("\"{}\"", self.column),
            Some(_) => format!("CAST(\"{}\" AS TEXT)", self.column),
        }
    }
    pub(crate) fn stored_from_text(&self, expr: &str) -> String {
        match &self.json_type {
            None => expr.to_owned(),
            Some(t) => format!("CAST({expr} AS {t})"),
        }
    }
}

/// Every text column (and JSON column) of every table of the application.
pub(crate) async fn text_columns(
    backend: Backend,
    conn: &mut sqlx::AnyConnection,
) -> Result<Vec<TextColumn>> {
    let rows = match backend {
        Backend::Sqlite => {
            sqlx::query(
                "SELECT m.name AS t, p.name AS c, '' AS j FROM sqlite_master m, pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite%' AND m.name NOT LIKE '\\_sqlx\\_%' ESCAPE '\\' \
                 AND (UPPER(p.type) LIKE '%TEXT%' OR UPPER(p.type) LIKE '%CHAR%' \
                      OR UPPER(p.type) LIKE '%JSON%' OR UPPER(p.type) LIKE '%CLOB%' OR p.type = '')",
            )
            .fetch_all(&mut *conn)
            .await?
        }
        Backend::Postgres => {
            sqlx::query(
                "SELECT CAST(table_name AS TEXT) AS t, CAST(column_name AS TEXT) AS c, \
                 CAST(CASE WHEN data_type IN ('json', 'jsonb') THEN data_type ELSE '' END AS TEXT) AS j \
                 FROM information_schema.columns WHERE table_schema = current_schema() \
                 AND table_name NOT LIKE '\\_sqlx\\_%' \
                 AND data_type IN ('text', 'character varying', 'character', 'json', 'jsonb')",
            )
            .fetch_all(&mut *conn)
            .await?
        }
    };
    rows.iter()
        .map(|r| {
            let j: String = r.try_get("j")?;
            Ok(TextColumn {
                table: r.try_get("t")?,
                column: r.try_get("c")?,
                json_type: (!j.is_empty()).then_some(j),
            })
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
async fn insert_entry(
    conn: &mut sqlx::AnyConnection,
    store: &Store,
    id: i64,
    scope: Scope,
    number: &str,
    kind: EntryKind,
    source: Source,
    now: i64,
) -> Result<bool> {
    let clear = (kind != EntryKind::Erased).then_some(number);
    let done = sqlx::query(
        "INSERT INTO blacklist (id, account_id, number_hash, number, kind, source, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (number_hash, account_id, kind) DO NOTHING",
    )
    .bind(id)
    .bind(scope.column())
    .bind(store.key.hash(number))
    .bind(clear)
    .bind(kind.as_str())
    .bind(source.as_str())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Ends queued messages as `blocked` and releases their reservations:
/// (message id, account, reserved price, reason).
pub(crate) async fn end_blocked(
    backend: Backend,
    conn: &mut sqlx::AnyConnection,
    ended: &[(i64, AccountId, i64, BlockReason)],
    now: i64,
) -> Result<()> {
    let mut by_reason: HashMap<BlockReason, Vec<i64>> = HashMap::new();
    let mut releases: Vec<(AccountId, i64, u32)> = Vec::new();
    for (id, account, price, reason) in ended {
        by_reason.entry(*reason).or_default().push(*id);
        match releases.iter_mut().find(|(a, _, _)| a == account) {
            Some((_, sum, n)) => {
                *sum += price;
                *n += 1;
            }
            None => releases.push((*account, *price, 1)),
        }
    }
    for (reason, ids) in &by_reason {
        for chunk in ids.chunks(1000) {
            let sql = format!(
                "UPDATE messages SET status = 'blocked', status_reason = {}, price_cents = 0, \
                 claimed_by = NULL, claimed_until = NULL, updated_at = {} WHERE id IN ({})",
                sql::param(backend, 1),
                sql::param(backend, 2),
                sql::list(backend, 3, chunk.len())
            );
            let mut q = sqlx::query(&sql).bind(reason.text()).bind(now);
            for id in chunk {
                q = q.bind(*id);
            }
            q.execute(&mut *conn).await?;
        }
        insert_events(
            conn,
            backend,
            ids,
            MessageStatus::Blocked,
            Some(reason.text()),
            now,
        )
        .await?;
    }
    for (account, amount, n) in releases {
        if amount > 0 {
            ledger_entry(
                conn,
                account,
                "release",
                amount,
                -amount,
                &format!("{n} messages blocked"),
                now,
            )
            .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_strongest_block_applies_to_the_right_account() {
        let e = [(7, EntryKind::OptOut), (0, EntryKind::Restricted)];
        assert_eq!(strongest(&e, 7), Some(BlockReason::Restricted));
        assert_eq!(strongest(&e[..1], 7), Some(BlockReason::OptedOut));
        assert_eq!(strongest(&e[..1], 8), None);
        let e = [(0, EntryKind::OptOut), (0, EntryKind::Erased)];
        assert_eq!(strongest(&e, 1), Some(BlockReason::Erased));
    }

    #[test]
    fn hashes_depend_on_the_key() {
        let a = BlacklistKey::new(*b"0123456789abcdef").unwrap();
        let b = BlacklistKey::new(*b"0123456789abcdeX").unwrap();
        assert_eq!(a.hash("+420777123456"), a.hash("+420777123456"));
        assert_ne!(a.hash("+420777123456"), b.hash("+420777123456"));
        assert_eq!(a.hash("+420777123456").len(), 64);
        assert!(BlacklistKey::new(*b"short").is_err());
    }

    #[test]
    fn key_files_are_created_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k/blacklist.key");
        let a = BlacklistKey::load_or_create(&path).unwrap();
        let b = BlacklistKey::load_or_create(&path).unwrap();
        assert_eq!(a.hash("+1"), b.hash("+1"));
    }
}
