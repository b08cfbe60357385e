//! The event feed: message status changes and inbound messages, read in commit order with a
//! persisted cursor per consumer (`feed_cursors`).
//!
//! Two sources, each an append-only table with a sequence id:
//! - [`FeedSource::MessageEvents`]: `message_events` (AUTOINCREMENT / BIGSERIAL), joined with
//!   `messages` for the account, the recipient and the client reference.
//! - [`FeedSource::Inbound`]: `inbound_feed`, filled by a trigger on `inbound_messages`. The
//!   inbound id itself is a time-ordered snowflake made on many nodes, so "every id above the
//!   cursor" would miss a message stored late with an earlier timestamp; the trigger gives every
//!   stored inbound message a sequence number like `message_events` has.
//!
//! # Gaps (PostgreSQL)
//!
//! On PostgreSQL a sequence hands out ids when rows are inserted, not when they commit: a
//! transaction holding id 7 may commit after the one holding id 8. A reader that saw 8 and moved
//! its cursor to 8 would never see 7. So the cursor never moves past a missing id until that gap
//! has been seen for longer than a grace period ([`GapTracker`], a few seconds: far longer than
//! any of our write transactions). A gap still open after that is an id that was never
//! committed (a rolled-back insert, sequence values lost in a crash) and is skipped; a
//! transaction that takes longer than the grace period to commit loses its events to the feed,
//! which is the documented bound of this design. On SQLite there is one writer and ids commit
//! in order; the same code runs and simply never waits.
//!
//! Moving the cursor is the caller's job ([`Store::advance_feed`]), in one transaction with
//! what it does with the events, compared against the position it read from, so that two
//! readers (two nodes) never both act on one batch.

use domain::{AccountId, MessageId};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{Result, Store};

/// Where a feed reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedSource {
    MessageEvents,
    Inbound,
}

/// One event of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEvent {
    /// The sequence id in its source.
    pub seq: i64,
    pub kind: FeedEventKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedEventKind {
    /// A message changed status. `account` is `None` when the message row is gone.
    MessageStatus {
        message_id: MessageId,
        account: Option<AccountId>,
        status: String,
        reason: Option<String>,
        at: i64,
        to: Option<String>,
        client_ref: Option<String>,
    },
    /// An inbound message was stored. `account` is `None` when nobody wrote to the sender.
    Inbound {
        inbound_id: i64,
        account: Option<AccountId>,
        from: String,
        to: String,
        body: String,
        connector: String,
        received_at: i64,
    },
}

impl FeedEvent {
    pub fn account(&self) -> Option<AccountId> {
        match &self.kind {
            FeedEventKind::MessageStatus { account, .. }
            | FeedEventKind::Inbound { account, .. } => *account,
        }
    }
}

/// What one read of the feed returned: the events after `from`, in order, up to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedBatch {
    /// The cursor position the read started from.
    pub from: i64,
    /// Where the cursor may move once the events are handled (== `from` when nothing is safe).
    pub to: i64,
    pub events: Vec<FeedEvent>,
}

/// Remembers since when each missing id has been seen missing. Kept in memory by the reader:
/// after a restart gaps are timed anew, which only delays, never skips.
#[derive(Debug, Clone)]
pub struct GapTracker {
    grace_us: i64,
    /// Missing ranges (first id, last id, first seen at).
    seen: Vec<(i64, i64, i64)>,
}

impl GapTracker {
    pub fn new(grace: std::time::Duration) -> Self {
        Self {
            grace_us: i64::try_from(grace.as_micros()).unwrap_or(i64::MAX),
            seen: Vec::new(),
        }
    }

    /// Given the ids read after `position` (ascending), how many may be taken and the position
    /// after them. Stops before the first gap younger than the grace period.
    pub fn advance(&mut self, position: i64, ids: &[i64], now: i64) -> (usize, i64) {
        let mut pos = position;
        let mut taken = 0;
        for &id in ids {
            if id > pos + 1 {
                let since = self.first_seen(pos + 1, id - 1, now);
                if now - since < self.grace_us {
                    break;
                }
                tracing::warn!(
                    from = pos + 1,
                    to = id - 1,
                    "feed: ids never committed within the grace period; skipping them"
                );
            }
            pos = id;
            taken += 1;
        }
        self.seen.retain(|&(_, last, _)| last > pos);
        (taken, pos)
    }

    /// [`GapTracker::advance`] for ids known to be every id from `position + 1` to `last`:
    /// nothing is missing, so the cursor may move to `last`.
    pub fn advance_contiguous(&mut self, position: i64, last: i64) -> (usize, i64) {
        let last = last.max(position);
        self.seen.retain(|&(_, l, _)| l > last);
        (usize::try_from(last - position).unwrap_or(usize::MAX), last)
    }

    fn first_seen(&mut self, first: i64, last: i64, now: i64) -> i64 {
        let earliest = self
            .seen
            .iter()
            .filter(|&&(f, l, _)| f <= last && l >= first)
            .map(|&(_, _, at)| at)
            .min();
        match earliest {
            Some(at) => at,
            None => {
                self.seen.push((first, last, now));
                now
            }
        }
    }
}

const MESSAGE_EVENTS_SQL: &str =
    "SELECT e.id, e.message_id, e.status, e.reason, e.at, m.account_id, \
     m.to_number, m.client_ref FROM message_events e LEFT JOIN messages m ON m.id = e.message_id \
     WHERE e.id > $1 ORDER BY e.id LIMIT $2";

const INBOUND_SQL: &str =
    "SELECT f.id, f.inbound_id, i.account_id, i.from_number, i.to_number, i.body, \
     i.connector, i.received_at FROM inbound_feed f JOIN inbound_messages i ON i.id = f.inbound_id \
     WHERE f.id > $1 ORDER BY f.id LIMIT $2";

fn event_from_row(source: FeedSource, r: &AnyRow) -> Result<FeedEvent> {
    let seq = r.try_get("id")?;
    let kind = match source {
        FeedSource::MessageEvents => FeedEventKind::MessageStatus {
            message_id: MessageId::new(r.try_get("message_id")?),
            account: r
                .try_get::<Option<i64>, _>("account_id")?
                .map(AccountId::new),
            status: r.try_get("status")?,
            reason: r.try_get("reason")?,
            at: r.try_get("at")?,
            to: r.try_get("to_number")?,
            client_ref: r.try_get("client_ref")?,
        },
        FeedSource::Inbound => FeedEventKind::Inbound {
            inbound_id: r.try_get("inbound_id")?,
            account: r
                .try_get::<Option<i64>, _>("account_id")?
                .map(AccountId::new),
            from: r.try_get("from_number")?,
            to: r.try_get("to_number")?,
            body: r.try_get("body")?,
            connector: r.try_get("connector")?,
            received_at: r.try_get("received_at")?,
        },
    };
    Ok(FeedEvent { seq, kind })
}

impl Store {
    /// The consumer's cursor, created at 0 on first use.
    pub async fn feed_position(&self, consumer: &str) -> Result<i64> {
        let select = "SELECT position FROM feed_cursors WHERE consumer = $1";
        if let Some(row) = sqlx::query(select)
            .bind(consumer)
            .fetch_optional(&self.read)
            .await?
        {
            return Ok(row.try_get("position")?);
        }
        let mut conn = self.write_conn(crate::Durability::Relaxed).await?;
        sqlx::query(
            "INSERT INTO feed_cursors (consumer, position, updated_at) VALUES ($1, 0, $2) \
             ON CONFLICT (consumer) DO NOTHING",
        )
        .bind(consumer)
        .bind(crate::now_us())
        .execute(&mut *conn)
        .await?;
        let row = sqlx::query(select)
            .bind(consumer)
            .fetch_one(&mut *conn)
            .await?;
        Ok(row.try_get("position")?)
    }

    /// Reads up to `limit` events after the consumer's cursor, stopping before a gap that
    /// `gaps` does not yet allow to skip. Does not move the cursor.
    pub async fn read_feed(
        &self,
        source: FeedSource,
        consumer: &str,
        limit: u32,
        gaps: &mut GapTracker,
        now: i64,
    ) -> Result<FeedBatch> {
        let from = self.feed_position(consumer).await?;
        let sql = match source {
            FeedSource::MessageEvents => MESSAGE_EVENTS_SQL,
            FeedSource::Inbound => INBOUND_SQL,
        };
        // Read on the write side, where the cursor lives and every commit is already visible.
        let rows = sqlx::query(sql)
            .bind(from)
            .bind(i64::from(limit.clamp(1, 10_000)))
            .fetch_all(&self.write)
            .await?;
        let mut events = rows
            .iter()
            .map(|r| event_from_row(source, r))
            .collect::<Result<Vec<_>>>()?;
        let ids: Vec<i64> = events.iter().map(|e| e.seq).collect();
        let (taken, to) = gaps.advance(from, &ids, now);
        events.truncate(taken);
        Ok(FeedBatch { from, to, events })
    }

    /// Like [`Store::read_feed`] for a consumer with nothing to do with the events: reads only
    /// their ids (no join, nothing decoded, on the read side) and returns an empty batch whose
    /// `to` is where the cursor may move. The gaps are handled as in `read_feed`.
    pub async fn skim_feed(
        &self,
        source: FeedSource,
        consumer: &str,
        limit: u32,
        gaps: &mut GapTracker,
        now: i64,
    ) -> Result<FeedBatch> {
        let from = self.feed_position(consumer).await?;
        let limit = i64::from(limit.clamp(1, 100_000));
        let table = match source {
            FeedSource::MessageEvents => "message_events",
            FeedSource::Inbound => "inbound_feed",
        };
        // How many ids follow and the last of them, in one row: when they are every id after
        // the cursor (no gap, as SQLite's single writer leaves them) the ids are not needed.
        let span = sqlx::query(&format!(
            "SELECT COUNT(*) AS n, MAX(id) AS last FROM \
             (SELECT id FROM {table} WHERE id > $1 ORDER BY id LIMIT $2) AS s"
        ))
        .bind(from)
        .bind(limit)
        .fetch_one(&self.read)
        .await?;
        let n: i64 = span.try_get("n")?;
        let last: Option<i64> = span.try_get("last")?;
        let to = match last {
            None => from,
            Some(last) if last - from == n => gaps.advance_contiguous(from, last).1,
            Some(_) => {
                let ids = sqlx::query_scalar::<_, i64>(&format!(
                    "SELECT id FROM {table} WHERE id > $1 ORDER BY id LIMIT $2"
                ))
                .bind(from)
                .bind(limit)
                .fetch_all(&self.read)
                .await?;
                gaps.advance(from, &ids, now).1
            }
        };
        Ok(FeedBatch {
            from,
            to,
            events: Vec::new(),
        })
    }

    /// Moves the consumer's cursor from `from` to `to` alone (nothing else to write). Returns
    /// false when another reader moved it first.
    /// It rides in the writer's next round rather than taking the write connection.
    pub async fn advance_feed(&self, consumer: &str, from: i64, to: i64) -> Result<bool> {
        let consumer = consumer.to_owned();
        self.write_op(crate::Durability::Relaxed, move |tx| {
            Box::pin(async move { move_cursor(tx, &consumer, from, to).await })
        })
        .await
    }
}

/// Compare-and-set of a cursor inside the caller's transaction.
pub(crate) async fn move_cursor(
    conn: &mut sqlx::AnyConnection,
    consumer: &str,
    from: i64,
    to: i64,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE feed_cursors SET position = $1, updated_at = $2 WHERE consumer = $3 AND position = $4",
    )
    .bind(to)
    .bind(crate::now_us())
    .bind(consumer)
    .bind(from)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::GapTracker;
    use std::time::Duration;

    const S: i64 = 1_000_000;

    #[test]
    fn contiguous_ids_are_all_taken() {
        let mut g = GapTracker::new(Duration::from_secs(5));
        assert_eq!(g.advance(0, &[1, 2, 3], 0), (3, 3));
        assert_eq!(g.advance(3, &[], 0), (0, 3));
    }

    #[test]
    fn a_young_gap_stops_the_cursor_and_an_old_one_is_skipped() {
        let mut g = GapTracker::new(Duration::from_secs(5));
        // 3 is missing: take 1 and 2 only.
        assert_eq!(g.advance(0, &[1, 2, 4, 5], 10 * S), (2, 2));
        // Still missing 4 s later: wait.
        assert_eq!(g.advance(2, &[4, 5], 14 * S), (0, 2));
        // 3 committed meanwhile: everything goes.
        let mut filled = g.clone();
        assert_eq!(filled.advance(2, &[3, 4, 5], 14 * S), (3, 5));
        // Never committed: skipped once the grace period is over.
        assert_eq!(g.advance(2, &[4, 5], 15 * S), (2, 5));
        assert!(g.seen.is_empty());
    }

    #[test]
    fn contiguous_ids_advance_like_reading_them() {
        let mut read = GapTracker::new(Duration::from_secs(5));
        assert_eq!(read.advance(0, &[4], 0), (0, 0));
        let mut counted = read.clone();
        assert_eq!(read.advance(0, &[1, 2, 3, 4, 5], S), (5, 5));
        assert_eq!(counted.advance_contiguous(0, 5), (5, 5));
        assert_eq!(read.seen, counted.seen);
        assert!(counted.seen.is_empty());
        assert_eq!(counted.advance_contiguous(5, 5), (0, 5));
    }

    #[test]
    fn a_partly_filled_gap_keeps_its_age() {
        let mut g = GapTracker::new(Duration::from_secs(5));
        assert_eq!(g.advance(0, &[4], 0), (0, 0));
        // 2 arrived; 1 and 3 are missing since t=0.
        assert_eq!(g.advance(0, &[2, 4], 3 * S), (0, 0));
        assert_eq!(g.advance(0, &[2, 4], 5 * S), (2, 4));
    }
}
