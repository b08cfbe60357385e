//! Storage of apisendsms on SQLite or PostgreSQL, chosen by the database URL.
//!
//! One code path serves both backends through sqlx's `Any` driver; the few statements whose
//! SQL differs (claiming work with `FOR UPDATE SKIP LOCKED`) are chosen by [`Backend`] in one
//! place. Each backend has its own migration tree under `migrations/`.
//!
//! Writes of accepted messages go through a group-commit writer ([`Store::submit`]): requests
//! that arrive together share one transaction, so one fsync makes many `202 Accepted` answers
//! durable. The dispatcher's claims and results, the delivery receipts and the periodic upkeep
//! ride in the same rounds (`Store::write_op`). Messages that can go at once are claimed by the
//! round that stores them and handed to the dispatcher in memory ([`Store::hand_off_fresh`]).
//! On SQLite the write-ahead log is checkpointed beside the writer (`checkpoint`). On SQLite every write uses a single connection (SQLite has one
//! writer anyway); reads use a separate pool.
//!
//! Invariant: `accounts.balance_cents` and `accounts.reserved_cents` always equal the sums of
//! `ledger_entries`, which is append-only (triggers refuse UPDATE and DELETE).
//! Boundary: this crate knows SQL and nothing of HTTP, JSON or SMPP.
#![forbid(unsafe_code)]

mod accounts;
pub mod audit;
mod bank;
mod billing;
mod blacklist;
mod campaigns;
mod checkpoint;
mod contacts;
mod contracts;
mod credit;
mod devices;
mod dispatch;
pub mod feed;
mod inbound;
mod invoices;
mod invoicing;
mod messages;
mod privacy;
mod restriction;
mod retention;
mod smpp;
mod sql;
mod tickets;
mod web;
mod webhooks;
mod writer;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, Executor};

pub use accounts::Balance;
pub use bank::{BankTransaction, Debtor, ImportReport, ImportSource, PairingDecision};
pub use billing::{BillingAccount, CustomerDetails, NewPriceList, NewTopUp, PricesInForce, TopUp};
pub use blacklist::{
    BlacklistEntry, BlacklistKey, BlockReason, EntryKind, Erasure, Removal, Scope, Source,
    ERASED_MARKER,
};
pub use campaigns::{Campaign, MarketingRecipient, NewCampaign};
pub use contacts::{
    Basis, BatchOutcome, Contact, ContactList, ImportRecord, ImportReject, ImportRow, ImportStatus,
};
pub use credit::{CreditView, LedgerRow, OutboxMail};
pub use devices::{
    Assignment, AssignmentState, DeviceRecord, DeviceRouting, NewDevice, OfflineFallback,
};
pub use dispatch::{Claimed, Receipt, SendResult};
pub use feed::{FeedBatch, FeedEvent, FeedEventKind, FeedSource, GapTracker};
pub use inbound::{InboundRecord, NewInbound};
pub use invoices::InvoiceRecord;
pub use invoicing::{PostpaidDebtor, UsageInvoice};
pub use messages::{
    CancelOutcome, DeviceChannel, Idempotency, MessageEvent, MessageFilter, MessageRecord,
    NewMessage, Submission, SubmitOutcome,
};
pub use privacy::{
    CodeCheck, CustomerErasure, DataRequest, DataTable, NewConsent, NewDataRequest, RequestKind,
    CODE_REDACTED, ERASED,
};
pub use restriction::{PersonalDetails, Rectified, Restriction};
pub use retention::{
    CategoryRun, HoldTarget, LegalHold, NewLegalHold, RetentionLine, RetentionRun,
};
pub use smpp::{OwedReceipt, PendingMo, ReceiptMode, SmppCredential, SmppOrigin};
pub use tickets::{NewTicket, Ticket, TicketKind, TicketMessage};
pub use web::{
    ApiKeyRecord, AuditRow, ConsentRecord, CustomerRow, DashboardStats, NewWebUser, WebSession,
    WebUser,
};
pub use webhooks::{
    AttemptRecord, AttemptResult, DeliveryRecord, DeliveryState, DueDelivery, NewDelivery,
    NewWebhook, WebhookRecord,
};

/// The database behind a [`Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database URL must start with sqlite: or postgres:, got {0:?}")]
    UnsupportedUrl(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("could not create the database directory {path}: {source}")]
    CreateDir {
        path: String,
        source: std::io::Error,
    },
    #[error("the storage writer has stopped")]
    WriterGone,
    #[error("the write transaction failed: {0}")]
    RoundFailed(String),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("billing: {0}")]
    Billing(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Tuning of the storage layer.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Connections for reads (and for writes on PostgreSQL).
    pub max_connections: u32,
    /// How many submissions one group commit takes at most.
    pub max_group: usize,
    /// The key of the Blacklist's number hashes. `None`: on SQLite a key file beside the
    /// database (`<db>.blacklist-key`, created once); on PostgreSQL or in memory a random key
    /// for this process only (a warning says so: set one in production).
    pub blacklist_key: Option<BlacklistKey>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 8,
            max_group: 512,
            blacklist_key: None,
        }
    }
}

/// The storage handle; cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    write: AnyPool,
    read: AnyPool,
    writer: tokio::sync::mpsc::Sender<writer::Job>,
    key: std::sync::Arc<BlacklistKey>,
}

static MIGRATOR_SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static MIGRATOR_POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Opens (and for SQLite creates) the database, applies migrations and starts the writer.
    pub async fn connect(url: &str, opts: StoreOptions) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        };
        let key = match opts.blacklist_key {
            Some(k) => k,
            None => default_blacklist_key(backend, url)?,
        };
        let (write, read) = match backend {
            Backend::Sqlite => {
                let url = sqlite_url_with_create(url)?;
                let options = AnyConnectOptions::from_str(&url)?;
                // Only this process writes through the one write connection; it is not
                // pinged before each transaction (a round trip each time). Its page cache
                // keeps SQLite's default size: every commit scans the cache's hash table
                // (`pcache1TruncateUnsafe`), and with a 64 MiB cache that scan took 8% of the
                // write connection's time; the pages it reads are in the OS's cache anyway.
                // The checkpointer copies its log into the database file beside it.
                let write = AnyPoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .test_before_acquire(false)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                                 PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; \
                                 PRAGMA temp_store = MEMORY; \
                                 PRAGMA wal_autocheckpoint = 10000;",
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .connect_with(options.clone())
                    .await?;
                let read = AnyPoolOptions::new()
                    .max_connections(opts.max_connections)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute("PRAGMA busy_timeout = 10000; PRAGMA query_only = ON;")
                                .await?;
                            Ok(())
                        })
                    })
                    .connect_lazy_with(options.clone());
                if !url.contains(":memory:") {
                    checkpoint::spawn(options, write.clone());
                }
                (write, read)
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(opts.max_connections)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(url)
                    .await?;
                (pool.clone(), pool)
            }
        };
        match backend {
            Backend::Sqlite => MIGRATOR_SQLITE.run(&write).await?,
            Backend::Postgres => MIGRATOR_POSTGRES.run(&write).await?,
        }
        let writer = writer::spawn(backend, write.clone(), opts.max_group);
        Ok(Store {
            backend,
            write,
            read,
            writer,
            key: std::sync::Arc::new(key),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    /// The write connection, set for `durability`. Every write transaction takes its
    /// connection here, so the setting never leaks from one transaction to the next.
    pub(crate) async fn write_conn(&self, durability: Durability) -> Result<PoolConnection<Any>> {
        write_conn(self.backend, &self.write, durability).await
    }

    /// Runs `f` inside the writer's next round (one transaction with the other writes that
    /// arrived together) and answers once that round committed.
    pub(crate) async fn write_op<T, F>(&self, durability: Durability, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut sqlx::AnyConnection) -> futures::future::BoxFuture<'c, Result<T>>
            + Send
            + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.writer
            .send(writer::Job::Op(writer::Op::new(durability, f, tx)))
            .await
            .map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Closes the pools after the writer drained what it was given.
    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

/// Begins a write transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`),
/// waiting up to the busy timeout while another process writes (the command line beside a
/// running server), where a deferred transaction that read first would fail at its first write
/// with `SQLITE_BUSY_SNAPSHOT` instead of waiting.
/// The database behind a connection.
pub(crate) fn backend_of(conn: &sqlx::AnyConnection) -> Backend {
    if conn.backend_name() == <sqlx::Sqlite as sqlx::Database>::NAME {
        Backend::Sqlite
    } else {
        Backend::Postgres
    }
}

pub(crate) async fn begin_write(
    conn: &mut sqlx::AnyConnection,
) -> Result<sqlx::Transaction<'_, Any>> {
    use sqlx::Connection;
    match backend_of(conn) {
        Backend::Sqlite => Ok(conn.begin_with("BEGIN IMMEDIATE").await?),
        Backend::Postgres => Ok(conn.begin().await?),
    }
}

/// How a write transaction commits on SQLite (PostgreSQL always commits durably).
///
/// `Full` fsyncs the WAL at commit: used for everything a person or a bank is told about
/// (accepted submissions, cancellations, accounts, credit). `Relaxed` (`synchronous = NORMAL`)
/// skips that fsync: still durable when the process crashes, and at a power loss only the last
/// of these transactions can be lost. Used for the dispatcher's claims and results and for
/// connector events, whose loss the queue recovers from: a lost claim or result puts the message
/// back in `sending`, and it is sent again with the same id (which a deduplicating SMSC sends
/// once); the next `Full` commit makes every earlier one durable too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    Full,
    Relaxed,
}

pub(crate) async fn write_conn(
    backend: Backend,
    pool: &AnyPool,
    durability: Durability,
) -> Result<PoolConnection<Any>> {
    let mut conn = pool.acquire().await?;
    if backend == Backend::Sqlite {
        set_synchronous(&mut conn, durability).await?;
    }
    Ok(conn)
}

/// Sets how the next commits of a SQLite connection reach the disk.
pub(crate) async fn set_synchronous(
    conn: &mut sqlx::AnyConnection,
    durability: Durability,
) -> Result<()> {
    conn.execute(synchronous_pragma(durability)).await?;
    Ok(())
}

/// The SQLite statement that sets the connection for `durability`.
pub(crate) fn synchronous_pragma(durability: Durability) -> &'static str {
    match durability {
        Durability::Full => "PRAGMA synchronous = FULL",
        Durability::Relaxed => "PRAGMA synchronous = NORMAL",
    }
}

/// The key when none is configured: a key file beside a SQLite database, else a random one.
fn default_blacklist_key(backend: Backend, url: &str) -> Result<BlacklistKey> {
    let path = url
        .trim_start_matches("sqlite:")
        .trim_start_matches("//")
        .split('?')
        .next()
        .unwrap_or_default();
    if backend == Backend::Sqlite && !path.is_empty() && !path.contains(":memory:") {
        return BlacklistKey::load_or_create(std::path::Path::new(&format!(
            "{path}.blacklist-key"
        )));
    }
    tracing::warn!(
        "no blacklist key configured: using a random key for this process; \
         Blacklist entries will not match after a restart"
    );
    Ok(BlacklistKey::generate())
}

/// `sqlite://./data/x.db` -> makes sure `./data` exists and asks SQLite to create the file.
fn sqlite_url_with_create(url: &str) -> Result<String> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    if path != ":memory:" && !path.is_empty() {
        if let Some(dir) = std::path::Path::new(path).parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                    path: dir.display().to_string(),
                    source,
                })?;
            }
        }
    }
    let mut out = format!("sqlite://{path}");
    match query {
        Some(q) if q.contains("mode=") => out.push_str(&format!("?{q}")),
        Some(q) => out.push_str(&format!("?{q}&mode=rwc")),
        None => out.push_str("?mode=rwc"),
    }
    Ok(out)
}

/// Current UTC time in microseconds since the Unix epoch.
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_get_create_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/db.sqlite");
        let url = format!("sqlite://{}", p.display());
        assert_eq!(
            sqlite_url_with_create(&url).unwrap(),
            format!("{url}?mode=rwc")
        );
        assert!(dir.path().join("sub").is_dir());
        assert_eq!(
            sqlite_url_with_create("sqlite::memory:?mode=memory").unwrap(),
            "sqlite://:memory:?mode=memory"
        );
    }
}
