//! The group-commit writer: one task takes the submissions that arrived together and commits
//! them in one transaction. If that transaction fails, each submission is retried alone, so one
//! bad submission cannot fail the others.
//!
//! A group costs a fixed number of statements whatever its size: the idempotency keys and the
//! balances are read once, every submission is decided in memory in arrival order (all or
//! nothing each), and the results are written with one statement per table (per chunk of rows).
//!
//! The Blacklist is enforced here, the one place every sending path writes through: the group's
//! number hashes (computed by the callers, off this task) are looked up once, and a message whose
//! recipient is blocked for its account, or a commercial message to a number without a recorded
//! basis, is stored `blocked` with the reason, at no charge and reserving nothing.

use std::collections::HashMap;

use domain::{MessageStatus, Money};
use sqlx::{AnyPool, Row};
use tokio::sync::{mpsc, oneshot};

use crate::blacklist::{block_for, entries_for, numbers_with_basis, BlockReason, ERASED_MARKER};
use crate::messages::{insert_event_rows, EventRow, Submission, SubmitOutcome};
use crate::{sql, Backend, Result, StoreError};

pub(crate) struct Job {
    pub submission: Submission,
    /// The Blacklist hash of each message's number, in message order.
    pub hashes: Vec<String>,
    pub reply: oneshot::Sender<Result<Decided>>,
}

/// A submission's outcome and, when accepted, why each message is blocked.
pub(crate) type Decided = (SubmitOutcome, Blocked);

/// How often a group is decided again when another writer inserted one of its idempotency keys
/// between our read and our insert (PostgreSQL with several nodes).
const KEY_RACE_RETRIES: usize = 5;

pub(crate) fn spawn(backend: Backend, pool: AnyPool, max_group: usize) -> mpsc::Sender<Job> {
    let (tx, mut rx) = mpsc::channel::<Job>(max_group * 4);
    tokio::spawn(async move {
        let mut group: Vec<Job> = Vec::with_capacity(max_group);
        while let Some(first) = rx.recv().await {
            group.push(first);
            while group.len() < max_group {
                match rx.try_recv() {
                    Ok(job) => group.push(job),
                    Err(_) => break,
                }
            }
            let subs: Vec<(&Submission, &[String])> = group
                .iter()
                .map(|j| (&j.submission, j.hashes.as_slice()))
                .collect();
            match commit_group(backend, &pool, &subs).await {
                Ok(outcomes) => {
                    for (job, outcome) in group.drain(..).zip(outcomes) {
                        let _ = job.reply.send(Ok(outcome));
                    }
                }
                Err(err) if group.len() == 1 => {
                    let job = group.pop().expect("one job");
                    let _ = job.reply.send(Err(err));
                }
                Err(err) => {
                    tracing::warn!(error = %err, size = group.len(), "group commit failed; committing one by one");
                    for job in group.drain(..) {
                        let one = [(&job.submission, job.hashes.as_slice())];
                        let result = commit_group(backend, &pool, &one)
                            .await
                            .map(|mut v| v.pop().expect("one outcome"));
                        let _ = job.reply.send(result);
                    }
                }
            }
        }
    });
    tx
}

async fn commit_group(
    backend: Backend,
    pool: &AnyPool,
    subs: &[(&Submission, &[String])],
) -> Result<Vec<Decided>> {
    let mut conn = crate::write_conn(backend, pool, crate::Durability::Full).await?;
    for _ in 0..KEY_RACE_RETRIES {
        let mut tx = crate::begin_write(&mut conn).await?;
        if let Some(outcomes) = write_group(backend, &mut tx, subs).await? {
            tx.commit().await?;
            return Ok(outcomes);
        }
        // Dropping the transaction rolls it back; the next round reads the new keys.
    }
    Err(StoreError::Conflict(
        "an idempotency key written concurrently",
    ))
}

/// Why each message of a submission is blocked (`None`: it may be sent), in message order.
type Blocked = Vec<Option<BlockReason>>;

/// What the group decided for one submission that reserves credit.
struct Reserve<'a> {
    sub: &'a Submission,
    total: i64,
}

/// Decides and writes the group; `None` when another writer inserted one of the group's
/// idempotency keys meanwhile (the caller rolls back and tries again).
async fn write_group(
    backend: Backend,
    conn: &mut sqlx::AnyConnection,
    group: &[(&Submission, &[String])],
) -> Result<Option<Vec<Decided>>> {
    let subs: Vec<&Submission> = group.iter().map(|(s, _)| *s).collect();
    let subs = subs.as_slice();
    let mut known_keys = existing_keys(backend, conn, subs).await?;
    let mut balances = balances_for_update(backend, conn, subs).await?;
    let blocked = blocked_messages(backend, conn, group).await?;

    let mut outcomes = Vec::with_capacity(subs.len());
    let mut accepted: Vec<(&Submission, &Blocked)> = Vec::with_capacity(subs.len());
    let mut reserves: Vec<Reserve<'_>> = Vec::with_capacity(subs.len());
    let mut new_keys: Vec<(&Submission, String)> = Vec::new();
    for (sub, blocked) in subs.iter().zip(&blocked) {
        let account = sub.account.get();
        if let Some(idem) = &sub.idempotency {
            if let Some((hash, response)) = known_keys.get(&(account, idem.key.clone())) {
                outcomes.push((
                    if *hash == idem.request_hash {
                        SubmitOutcome::Replayed {
                            response: response.clone(),
                        }
                    } else {
                        SubmitOutcome::IdempotencyMismatch
                    },
                    Vec::new(),
                ));
                continue;
            }
        }
        let total = sub
            .messages
            .iter()
            .zip(blocked)
            .filter(|(_, b)| b.is_none())
            .try_fold(Money::ZERO, |acc, (m, _)| acc.checked_add(m.price))
            .unwrap_or(Money::from_hundredths(i64::MAX))
            .hundredths();
        if total > 0 {
            match balances.get_mut(&account) {
                Some(balance) if *balance >= total => *balance -= total,
                other => {
                    let available = other.map_or(0, |b| *b);
                    outcomes.push((
                        SubmitOutcome::InsufficientCredit {
                            available: Money::from_hundredths(available),
                            required: Money::from_hundredths(total),
                        },
                        Vec::new(),
                    ));
                    continue;
                }
            }
            reserves.push(Reserve { sub, total });
        }
        if let Some(idem) = &sub.idempotency {
            let response = without_erased_numbers(sub, blocked);
            known_keys.insert(
                (account, idem.key.clone()),
                (idem.request_hash.clone(), response.clone()),
            );
            new_keys.push((sub, response));
        }
        accepted.push((sub, blocked));
        outcomes.push((SubmitOutcome::Accepted, blocked.clone()));
    }

    if !insert_keys(backend, conn, &new_keys).await? {
        return Ok(None);
    }
    reserve_credit(backend, conn, &reserves).await?;
    insert_messages(backend, conn, &accepted).await?;
    let accepted: Vec<&Submission> = accepted.iter().map(|(s, _)| *s).collect();
    crate::smpp::insert_receipt_requests(backend, conn, &accepted).await?;
    Ok(Some(outcomes))
}

/// Which messages of each submission are blocked: one Blacklist lookup for the whole group and,
/// when the group has commercial messages, one lookup of the contacts' recorded basis.
async fn blocked_messages(
    backend: Backend,
    conn: &mut sqlx::AnyConnection,
    group: &[(&Submission, &[String])],
) -> Result<Vec<Blocked>> {
    let hashes: Vec<&str> = group
        .iter()
        .flat_map(|(_, h)| h.iter().map(String::as_str))
        .collect();
    let blocks = entries_for(backend, conn, &hashes).await?;
    let mut numbers: Vec<&str> = group
        .iter()
        .filter(|(s, _)| s.marketing)
        .flat_map(|(s, _)| s.messages.iter().map(|m| m.to.as_str()))
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    let with_basis = numbers_with_basis(backend, conn, &numbers).await?;
    Ok(group
        .iter()
        .map(|(s, hashes)| {
            s.messages
                .iter()
                .zip(hashes.iter())
                .map(|(m, h)| {
                    block_for(&blocks, h, s.account).or_else(|| {
                        (s.marketing && !with_basis.contains(&(s.account.get(), m.to.clone())))
                            .then_some(BlockReason::NoMarketingBasis)
                    })
                })
                .collect()
        })
        .collect())
}

/// A message to an erased recipient keeps neither the number nor the text.
fn erased_or(blocked: Option<BlockReason>, value: &str) -> &str {
    match blocked {
        Some(BlockReason::Erased) => ERASED_MARKER,
        _ => value,
    }
}

/// The response kept for replays, without the numbers of erased recipients.
fn without_erased_numbers(sub: &Submission, blocked: &Blocked) -> String {
    let mut response = sub.response.clone();
    for (m, b) in sub.messages.iter().zip(blocked) {
        if *b == Some(BlockReason::Erased) {
            response = response.replace(m.to.as_str(), ERASED_MARKER);
        }
    }
    response
}

/// (account id, key) -> (request hash, stored response)
type KnownKeys = HashMap<(i64, String), (String, String)>;

/// The idempotency keys of the group that are already stored, with their hash and response.
async fn existing_keys(
    backend: Backend,
    conn: &mut sqlx::AnyConnection,
    subs: &[&Submission],
) -> Result<KnownKeys> {
    let mut wanted: Vec<(i64, &str)> = subs
        .iter()
        .filter_map(|s| {
            s.idempotency
                .as_ref()
                .map(|i| (s.account.get(), i.key.as_str()))
        })
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut known = HashMap::new();
    for chunk in wanted.chunks(1000) {
        let sql = format!(
            "SELECT k.account_id, k.key, k.request_hash, k.response FROM idempotency_keys k \
             JOIN (VALUES {}) AS v ON k.account_id = v.column1 AND k.key = v.column2",
            sql::rows(backend, 1, chunk.len(), 2)
        );
        let mut q = sqlx::query(&sql);
        for (account, key) in chunk {
            q = q.bind(*account).bind(*key);
        }
        for row in q.fetch_all(&mut *conn).await? {
            known.insert(
                (row.try_get("account_id")?, row.try_get("key")?),
                (row.try_get("request_hash")?, row.try_get("response")?),
            );
        }
    }
    Ok(known)
}

/// The available balance of every account in the group, locked for this transaction on
/// PostgreSQL (SQLite has a single writer).
async fn balances_for_update(
    backend: Backend,
    conn: &mut sqlx::AnyConnection,
    subs: &[&Submission],
) -> Result<HashMap<i64, i64>> {
    let mut ids: Vec<i64> = subs.iter().map(|s| s.account.get()).collect();
    ids.sort_unstable();
    ids.dedup();
    let lock = match backend {
        Backend::Sqlite => "",
        Backend::Postgres => "FOR UPDATE",
    };
    let mut balances = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(1000) {
        let list = sql::list(backend, 1, chunk.len());
        let sql = format!(
            "SELECT id, balance_cents FROM accounts WHERE id IN ({list}) ORDER BY id {lock}"
        );
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(*id);
        }
        for row in q.fetch_all(&mut *conn).await? {
            balances.insert(row.try_get("id")?, row.try_get("balance_cents")?);
        }
    }
    Ok(balances)
}

/// Stores the keys of the accepted submissions; `false` if one of them was stored by another
/// writer since [`existing_keys`] read them.
async fn insert_keys(
    backend: Backend,
    conn: &mut sqlx::AnyConnection,
    subs: &[(&Submission, String)],
) -> Result<bool> {
    for chunk in subs.chunks(1000) {
        let sql = format!(
            "INSERT INTO idempotency_keys (account_id, key, request_hash, response, created_at) \
             VALUES {} ON CONFLICT (account_id, key) DO NOTHING RETURNING key",
            sql::rows(backend, 1, chunk.len(), 5)
        );
        let mut q = sqlx::query(&sql);
        for (sub, response) in chunk {
            let idem = sub.idempotency.as_ref().expect("only keyed submissions");
            q = q
                .bind(sub.account.get())
                .bind(idem.key.as_str())
                .bind(idem.request_hash.as_str())
                .bind(response.as_str())
                .bind(sub.now);
        }
        if q.fetch_all(&mut *conn).await?.len() != chunk.len() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Moves the reserved totals from available to reserved: one ledger entry per submission and
/// one update per account, so the balances stay the sums of the ledger.
async fn reserve_credit(
    backend: Backend,
    conn: &mut sqlx::AnyConnection,
    reserves: &[Reserve<'_>],
) -> Result<()> {
    if reserves.is_empty() {
        return Ok(());
    }
    for chunk in reserves.chunks(1000) {
        let sql = format!(
            "INSERT INTO ledger_entries (account_id, kind, available_delta, reserved_delta, reference, created_at) \
             VALUES {}",
            sql::rows(backend, 1, chunk.len(), 6)
        );
        let mut q = sqlx::query(&sql);
        for r in chunk {
            q = q
                .bind(r.sub.account.get())
                .bind("reserve")
                .bind(-r.total)
                .bind(r.total)
                .bind(format!(
                    "submission {} ({} messages)",
                    r.sub.submission_id,
                    r.sub.messages.len()
                ))
                .bind(r.sub.now);
        }
        q.execute(&mut *conn).await?;
    }
    let mut per_account: Vec<(i64, i64)> = Vec::new();
    for r in reserves {
        let account = r.sub.account.get();
        match per_account.iter_mut().find(|(a, _)| *a == account) {
            Some((_, sum)) => *sum += r.total,
            None => per_account.push((account, r.total)),
        }
    }
    for chunk in per_account.chunks(1000) {
        let sql = format!(
            "UPDATE accounts SET balance_cents = balance_cents - v.column2, \
             reserved_cents = reserved_cents + v.column2 \
             FROM (VALUES {}) AS v WHERE accounts.id = v.column1",
            sql::rows(backend, 1, chunk.len(), 2)
        );
        let mut q = sqlx::query(&sql);
        for (account, sum) in chunk {
            q = q.bind(*account).bind(*sum);
        }
        let updated = q.execute(&mut *conn).await?.rows_affected();
        if updated != chunk.len() as u64 {
            return Err(StoreError::Corrupt(format!(
                "reserved credit for {} accounts, found {updated}",
                chunk.len()
            )));
        }
    }
    Ok(())
}

const COLS: usize = 20;
const ROWS_PER_INSERT: usize = 500;

async fn insert_messages(
    backend: Backend,
    conn: &mut sqlx::AnyConnection,
    subs: &[(&Submission, &Blocked)],
) -> Result<()> {
    let rows: Vec<(&Submission, &crate::NewMessage, Option<BlockReason>)> = subs
        .iter()
        .flat_map(|(s, b)| {
            s.messages
                .iter()
                .zip(b.iter())
                .map(move |(m, b)| (*s, m, *b))
        })
        .collect();
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO messages (id, account_id, submission_id, to_number, sender, body, encoding, parts, \
             price_cents, status, status_reason, client_ref, scheduled_at, due_at, expires_at, created_at, \
             updated_at, marketing, route, ciphertext) VALUES {}",
            sql::rows(backend, 1, chunk.len(), COLS)
        );
        let mut q = sqlx::query(&sql);
        for (s, m, blocked) in chunk {
            let (price, status) = match blocked {
                None => (m.price.hundredths(), m.status),
                Some(_) => (0, MessageStatus::Blocked),
            };
            q = q
                .bind(m.id.get())
                .bind(s.account.get())
                .bind(s.submission_id)
                .bind(erased_or(*blocked, m.to.as_str()))
                .bind(m.sender.as_str())
                .bind(erased_or(*blocked, m.body.as_str()))
                .bind(m.encoding)
                .bind(i64::from(m.parts))
                .bind(price)
                .bind(status.as_str())
                .bind(blocked.map(BlockReason::text))
                .bind(m.client_ref.as_deref())
                .bind(m.scheduled_at)
                .bind(m.due_at)
                .bind(m.expires_at)
                .bind(s.now)
                .bind(s.now)
                .bind(i64::from(s.marketing))
                .bind(s.device.as_ref().map(|_| "device"))
                .bind(
                    s.device
                        .as_ref()
                        .and_then(|d| d.ciphertext.as_deref())
                        .filter(|_| blocked.is_none()),
                );
        }
        q.execute(&mut *conn).await?;
    }
    let events: Vec<EventRow<'_>> = rows
        .iter()
        .map(|(s, m, blocked)| match blocked {
            None => (m.id.get(), m.status, None, s.now),
            Some(b) => (m.id.get(), MessageStatus::Blocked, Some(b.text()), s.now),
        })
        .collect();
    insert_event_rows(conn, backend, &events).await?;
    Ok(())
}
