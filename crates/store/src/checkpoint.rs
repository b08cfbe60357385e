//! WAL checkpoints of a SQLite database, beside the writer.
//!
//! SQLite's automatic checkpoint runs inside the commit that pushed the write-ahead log past its
//! limit: the writer's round copies every page the log holds into the database file and fsyncs
//! it, and each submission waiting on that round waited 10 to 20 ms longer (p99 of a
//! single-message POST went from 11 ms to 16 ms). Here a connection of its own does a passive
//! checkpoint every [`EVERY`], which copies what no reader still needs while the writer goes on
//! appending. The writer keeps its automatic checkpoint (`wal_autocheckpoint`): by then nearly
//! all of the log is copied and it has little left to do, and only a checkpoint run between
//! two of the writer's transactions lets the log start again from its beginning (a checkpoint
//! beside a busy writer never sees the log whole, and the file would grow without end).

use std::time::{Duration, Instant};

use sqlx::any::AnyConnectOptions;
use sqlx::{AnyConnection, AnyPool, ConnectOptions, Row};

/// How often the log is checkpointed.
pub(crate) const EVERY: Duration = Duration::from_millis(50);

/// Checkpoints the database of `options` until `write` (the write pool) is closed.
pub(crate) fn spawn(options: AnyConnectOptions, write: AnyPool) {
    tokio::spawn(async move {
        let mut conn: Option<AnyConnection> = None;
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if write.is_closed() {
                break;
            }
            if conn.is_none() {
                match options.connect().await {
                    Ok(c) => conn = Some(c),
                    Err(e) => {
                        tracing::warn!(error = %e, "the checkpoint connection could not open");
                        continue;
                    }
                }
            }
            let Some(c) = conn.as_mut() else { continue };
            if let Err(e) = checkpoint(c).await {
                // A connection that failed is opened afresh at the next tick.
                tracing::warn!(error = %e, "WAL checkpoint failed");
                conn = None;
            }
        }
    });
}

/// One passive checkpoint: copies the log's pages that no reader still needs into the database
/// file, waiting for nobody.
async fn checkpoint(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    let started = Instant::now();
    let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(conn)
        .await?;
    let (busy, log, done): (i64, i64, i64) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    tracing::debug!(
        us = started.elapsed().as_micros() as u64,
        busy,
        log,
        done,
        "checkpoint"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use domain::{AccountId, Money};
    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::{ConnectOptions, Connection};
    use testkit::TestDb;

    use crate::{Store, StoreOptions};

    /// Accounts in the database file itself: an immutable open reads the file alone and
    /// ignores the write-ahead log, so it sees only what a checkpoint copied there (`None`
    /// while not even the table is there).
    async fn accounts_in_file(url: &str) -> Option<i64> {
        let path = url.trim_start_matches("sqlite://");
        let mut conn = SqliteConnectOptions::from_str(&format!("sqlite://{path}?immutable=1"))
            .expect("options")
            .read_only(true)
            .connect()
            .await
            .expect("immutable open");
        let n = sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
            .fetch_one(&mut conn)
            .await
            .ok();
        conn.close().await.expect("close");
        n
    }

    /// Writes far below the automatic checkpoint's threshold reach the database file within a
    /// few of the checkpointer's periods, while the store stays open.
    #[tokio::test]
    async fn the_checkpointer_copies_the_log_into_the_database_file() {
        let db = TestDb::new(testkit::Backend::Sqlite).await;
        let store = Store::connect(&db.url, StoreOptions::default())
            .await
            .expect("connect");
        for id in 1..=3 {
            store
                .create_account(
                    AccountId::new(id),
                    &format!("a{id}@example.com"),
                    "A",
                    Money::ZERO,
                    0,
                )
                .await
                .expect("account");
        }
        let deadline = std::time::Instant::now() + super::EVERY * 20;
        let mut seen = None;
        while seen != Some(3) && std::time::Instant::now() < deadline {
            tokio::time::sleep(super::EVERY / 2).await;
            seen = accounts_in_file(&db.url).await;
        }
        assert_eq!(
            seen,
            Some(3),
            "the accounts are still only in the write-ahead log"
        );
        store.close().await;
    }
}
