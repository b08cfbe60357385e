//! The audit log (clause 12, issue 6): who did what to which personal data, when and why.
//!
//! Every entry is written by [`record`] inside the transaction of the change it describes, so an
//! entry exists exactly when its change was committed. The table is append-only (triggers) and
//! hash-chained: an entry's hash is SHA-256 over the previous entry's hash and the entry's
//! canonical content. [`Store::verify_audit_log`] recomputes the chain and names the first entry
//! that does not match, so an edited, inserted or deleted entry is found.
//!
//! Appends are serialised by the one-row chain head `audit_chain`, updated first in [`record`]:
//! on PostgreSQL the `UPDATE` takes the row lock (as `SELECT ... FOR UPDATE` would) until the
//! transaction ends, so the next append waits and reads the committed head; on SQLite the write
//! lock does the same.
//!
//! Entries name people by id (`user:12`, `account:7`) or by the keyed hash of a number
//! (`number:<hash>`), never by an e-mail or a number in clear, so an erasure finds nothing to
//! scrub here.

use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::{Result, Store};

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Who: `user:ID` (a person in the web), `account:ID` (over the API), `recipient` (an SMS
    /// reply), `cli`, `system`.
    pub actor: String,
    /// What, as `area.verb`: `staff.view_messages`, `consent.withdraw`, `blacklist.add`...
    pub action: String,
    /// Whose data: `user:ID`, `account:ID`, `number:HASH`, `dsr:ID`, `ticket:ID`, `invoice:ID`.
    pub subject: String,
    /// Why: the reason given, or the rule that made it happen.
    pub reason: String,
    /// Anything else worth keeping, as `key=value` pairs.
    pub details: String,
}

impl AuditEntry {
    pub fn new(
        actor: impl Into<String>,
        action: impl Into<String>,
        subject: impl Into<String>,
        reason: impl Into<String>,
    ) -> AuditEntry {
        AuditEntry {
            actor: actor.into(),
            action: action.into(),
            subject: subject.into(),
            reason: reason.into(),
            details: String::new(),
        }
    }

    pub fn details(mut self, details: impl Into<String>) -> AuditEntry {
        self.details = details.into();
        self
    }
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: i64,
    pub at: i64,
    pub entry: AuditEntry,
    pub prev_hash: String,
    pub hash: String,
}

/// Why verification failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditBreak {
    /// The first entry that does not verify (for a deleted tail: the first missing id).
    pub id: i64,
    pub problem: String,
}

impl std::fmt::Display for AuditBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "audit entry {}: {}", self.id, self.problem)
    }
}

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditVerification {
    pub entries: i64,
    pub first_break: Option<AuditBreak>,
}

/// The entry's hash: SHA-256 over the previous hash and each field, every field preceded by
/// its length so that no two different entries share a canonical form.
pub fn entry_hash(prev_hash: &str, id: i64, at: i64, e: &AuditEntry) -> String {
    let mut h = Sha256::new();
    h.update(b"apisendsms-audit-v1\n");
    for field in [
        prev_hash,
        &id.to_string(),
        &at.to_string(),
        &e.actor,
        &e.action,
        &e.subject,
        &e.reason,
        &e.details,
    ] {
        h.update(field.len().to_string().as_bytes());
        h.update(b":");
        h.update(field.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

/// Appends an entry in the caller's transaction; returns its id.
pub async fn record(tx: &mut sqlx::AnyConnection, entry: &AuditEntry, now: i64) -> Result<i64> {
    // Taking the head first serialises appends (see the module documentation). RETURNING
    // gives the new id and the hash not yet replaced: the previous entry's.
    let head = sqlx::query(
        "UPDATE audit_chain SET last_id = last_id + 1 WHERE id = 1 RETURNING last_id, last_hash",
    )
    .fetch_one(&mut *tx)
    .await?;
    let id: i64 = head.try_get("last_id")?;
    let prev: String = head.try_get("last_hash")?;
    let hash = entry_hash(&prev, id, now, entry);
    sqlx::query(
        "INSERT INTO audit_log (id, at, actor, action, subject, reason, details, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id)
    .bind(now)
    .bind(entry.actor.as_str())
    .bind(entry.action.as_str())
    .bind(entry.subject.as_str())
    .bind(entry.reason.as_str())
    .bind(entry.details.as_str())
    .bind(prev.as_str())
    .bind(hash.as_str())
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE audit_chain SET last_hash = $1 WHERE id = 1")
        .bind(hash.as_str())
        .execute(&mut *tx)
        .await?;
    Ok(id)
}

fn record_from_row(r: &sqlx::any::AnyRow) -> Result<AuditRecord> {
    Ok(AuditRecord {
        id: r.try_get("id")?,
        at: r.try_get("at")?,
        entry: AuditEntry {
            actor: r.try_get("actor")?,
            action: r.try_get("action")?,
            subject: r.try_get("subject")?,
            reason: r.try_get("reason")?,
            details: r.try_get("details")?,
        },
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

const COLUMNS: &str = "id, at, actor, action, subject, reason, details, prev_hash, hash";

impl Store {
    /// Records one entry in a transaction of its own (for reads, which change nothing else).
    pub async fn audit(&self, entry: &AuditEntry, now: i64) -> Result<i64> {
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let id = record(&mut tx, entry, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Entries newest first, below the id `before`, optionally of one subject or actor.
    pub async fn audit_entries(
        &self,
        before: Option<i64>,
        filter: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AuditRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_log WHERE id < $1 AND ($2 = '' OR subject = $2 OR actor = $2) \
             ORDER BY id DESC LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(before.unwrap_or(i64::MAX))
            .bind(filter.unwrap_or(""))
            .bind(i64::from(limit.clamp(1, 1000)))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(record_from_row).collect()
    }

    /// Entries of one action (`lawful_request.export`...), newest first.
    pub async fn audit_entries_of_action(
        &self,
        action: &str,
        limit: u32,
    ) -> Result<Vec<AuditRecord>> {
        let sql =
            format!("SELECT {COLUMNS} FROM audit_log WHERE action = $1 ORDER BY id DESC LIMIT $2");
        let rows = sqlx::query(&sql)
            .bind(action)
            .bind(i64::from(limit.clamp(1, 1000)))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(record_from_row).collect()
    }

    /// Recomputes the whole chain, in pages, and names the first entry that breaks it.
    pub async fn verify_audit_log(&self) -> Result<AuditVerification> {
        let mut conn = self.read.acquire().await?;
        let head = sqlx::query("SELECT last_id, last_hash FROM audit_chain WHERE id = 1")
            .fetch_one(&mut *conn)
            .await?;
        let head_id: i64 = head.try_get("last_id")?;
        let head_hash: String = head.try_get("last_hash")?;
        let mut expected_id = 1;
        let mut prev = GENESIS.to_owned();
        let sql = format!("SELECT {COLUMNS} FROM audit_log WHERE id >= $1 ORDER BY id LIMIT 1000");
        let fail = |id: i64, problem: String, entries: i64| AuditVerification {
            entries,
            first_break: Some(AuditBreak { id, problem }),
        };
        loop {
            let rows = sqlx::query(&sql)
                .bind(expected_id)
                .fetch_all(&mut *conn)
                .await?;
            if rows.is_empty() {
                break;
            }
            for r in &rows {
                let rec = record_from_row(r)?;
                let n = expected_id - 1;
                if rec.id != expected_id {
                    return Ok(fail(
                        expected_id,
                        format!("missing (the next entry is {})", rec.id),
                        n,
                    ));
                }
                if rec.prev_hash != prev {
                    return Ok(fail(
                        rec.id,
                        "its previous hash does not match the entry before it".into(),
                        n,
                    ));
                }
                if entry_hash(&prev, rec.id, rec.at, &rec.entry) != rec.hash {
                    return Ok(fail(
                        rec.id,
                        "its content does not match its hash (changed)".into(),
                        n,
                    ));
                }
                prev = rec.hash;
                expected_id += 1;
            }
        }
        let n = expected_id - 1;
        if n < head_id {
            return Ok(fail(
                n + 1,
                format!("missing: the chain head says {head_id} entries, {n} are there"),
                n,
            ));
        }
        if n > head_id || prev != head_hash {
            return Ok(fail(
                n,
                "the last entry does not match the chain head (added outside the log)".into(),
                n,
            ));
        }
        Ok(AuditVerification {
            entries: n,
            first_break: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_changes_the_hash() {
        let e = AuditEntry::new("user:1", "staff.view", "user:2", "support").details("x=1");
        let base = entry_hash(GENESIS, 1, 5, &e);
        let variants = [
            entry_hash("1", 1, 5, &e),
            entry_hash(GENESIS, 2, 5, &e),
            entry_hash(GENESIS, 1, 6, &e),
            entry_hash(
                GENESIS,
                1,
                5,
                &AuditEntry {
                    actor: "user:3".into(),
                    ..e.clone()
                },
            ),
            entry_hash(
                GENESIS,
                1,
                5,
                &AuditEntry {
                    action: "x".into(),
                    ..e.clone()
                },
            ),
            entry_hash(
                GENESIS,
                1,
                5,
                &AuditEntry {
                    subject: "x".into(),
                    ..e.clone()
                },
            ),
            entry_hash(
                GENESIS,
                1,
                5,
                &AuditEntry {
                    reason: "x".into(),
                    ..e.clone()
                },
            ),
            entry_hash(
                GENESIS,
                1,
                5,
                &AuditEntry {
                    details: "".into(),
                    ..e.clone()
                },
            ),
        ];
        for v in variants {
            assert_ne!(v, base);
        }
        // Moving text from one field to the next is a different entry.
        let a = AuditEntry::new("ab", "c", "s", "r");
        let b = AuditEntry::new("a", "bc", "s", "r");
        assert_ne!(entry_hash(GENESIS, 1, 1, &a), entry_hash(GENESIS, 1, 1, &b));
    }
}
