//! The writer: one task takes the write work that arrived together and commits it in one
//! transaction (a round). A round holds the submissions of that moment (group commit) and the
//! dispatcher's and connectors' own writes (claims, carriers' answers, delivery receipts), so one
//! commit, and one fsync, makes all of them durable, and they do not queue for the write
//! connection one after another.
//!
//! Each write in a round runs inside a savepoint: one that fails is rolled back alone and its
//! caller gets the error, the rest commit. If the submissions fail together, or the commit
//! fails, each submission is retried alone, so one bad submission cannot fail the others.
//!
//! A group costs a fixed number of statements whatever its size: the idempotency keys and the
//! balances are read once, every submission is decided in memory in arrival order (all or
//! nothing each), and the results are written with one statement per table (per chunk of rows).
//!
//! The Blacklist is enforced here, the one place every sending path writes through: the group's
//! number hashes (computed by the callers, off this task) are looked up once, and a message whose
//! recipient is blocked for its account, or a commercial message to a number without a recorded
//! basis, is stored `blocked` with the reason, at no charge and reserving nothing.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use domain::{MessageStatus, Money};
use futures::future::BoxFuture;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Row};
use tokio::sync::{mpsc, oneshot};

use crate::blacklist::{
    block_for, entries_for, numbers_with_basis, BlockReason, Blocks, EntryKind, ERASED_MARKER,
};
use crate::dispatch::Claimed;
use crate::messages::{push_event_rows, EventRow, Submission, SubmitOutcome};
use crate::sql::Batch;
use crate::{sql, Backend, Durability, Result, StoreError};

/// Work for the writer. Submissions are most of it, so they are not boxed.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Job {
    Submit(SubmitJob),
    Op(Op),
    /// From now on, hand fresh messages to this dispatcher ([`Store::hand_off_fresh`]).
    HandOff(HandOff),
}

/// Where the writer hands the messages it may claim at once: those of its submissions that
/// are due now, go to a carrier and are not blocked. They are stored `sending`, claimed by
/// `node` as a claim would, and given to the dispatcher after the commit, so nobody reads
/// them back from the database to send them. When the dispatcher's queue is full they are
/// stored `queued` as before, for its claims.
pub(crate) struct HandOff {
    pub node: i64,
    /// How long the claim holds, in microseconds.
    pub lease_us: i64,
    pub tx: mpsc::Sender<Vec<Claimed>>,
    /// Woken when a group stored messages due now that it did not hand over.
    pub wake: std::sync::Arc<tokio::sync::Notify>,
}

/// A group's claim of its fresh messages: the node and the end of the lease.
#[derive(Clone, Copy)]
struct Direct {
    node: i64,
    claimed_until: i64,
}

pub(crate) struct SubmitJob {
    pub submission: Submission,
    /// The Blacklist hash of each message's number, in message order.
    pub hashes: Vec<String>,
    pub reply: oneshot::Sender<Result<Decided>>,
}

/// Tells an operation's caller how its round ended: `Ok` when it committed.
type Finish = Box<dyn FnOnce(std::result::Result<(), &StoreError>) + Send>;

type Run = Box<dyn for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, (bool, Finish)> + Send>;

/// A write run inside a round: its statements, then (after the commit) its answer.
pub(crate) struct Op {
    durability: Durability,
    run: Run,
    /// Answers the caller when the round failed before the operation ran.
    abort: Finish,
}

impl Op {
    /// An operation whose result reaches `reply` once its round committed.
    pub(crate) fn new<T, F>(durability: Durability, f: F, reply: oneshot::Sender<Result<T>>) -> Op
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        let slot = std::sync::Arc::new(std::sync::Mutex::new(Some(reply)));
        let answer = {
            let slot = slot.clone();
            move |result: Result<T>| {
                if let Some(reply) = slot.lock().expect("reply slot").take() {
                    let _ = reply.send(result);
                }
            }
        };
        let abort_answer = answer.clone();
        Op {
            durability,
            run: Box::new(move |conn| {
                Box::pin(async move {
                    let result = f(conn).await;
                    let ok = result.is_ok();
                    let finish: Finish = Box::new(move |committed| {
                        answer(match committed {
                            Ok(()) => result,
                            Err(e) => result.and(Err(StoreError::RoundFailed(e.to_string()))),
                        })
                    });
                    (ok, finish)
                })
            }),
            abort: Box::new(move |committed| {
                if let Err(e) = committed {
                    abort_answer(Err(StoreError::RoundFailed(e.to_string())));
                }
            }),
        }
    }
}

/// A submission's outcome and, when accepted, why each message is blocked.
pub(crate) type Decided = (SubmitOutcome, Blocked);

/// How often a group is decided again when another writer inserted one of its idempotency keys
/// between our read and our insert (PostgreSQL with several nodes).
const KEY_RACE_RETRIES: usize = 5;

/// Most operations (other than submissions) in one round.
const MAX_OPS: usize = 64;

/// How long the writer keeps the write connection while work keeps coming, before it lets the
/// others who wait for it (maintenance, the command line's transactions...) have a turn.
const HOLD_AT_MOST: Duration = Duration::from_millis(50);

pub(crate) fn spawn(backend: Backend, pool: AnyPool, max_group: usize) -> mpsc::Sender<Job> {
    let (tx, rx) = mpsc::channel::<Job>(max_group * 4);
    // The writer is the one serial step of every write: it runs on a thread of its own, so
    // that each of its statements goes on as soon as the database answered, instead of waiting
    // in the runtime's queue behind request handlers.
    let thread = std::thread::Builder::new()
        .name("store-writer".into())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(run(backend, pool, max_group, rx)),
                // Without its runtime the writer never starts: every write then fails with
                // `WriterGone`, loudly, rather than waiting forever.
                Err(e) => tracing::error!(error = %e, "the store writer could not start"),
            }
        });
    if let Err(e) = thread {
        tracing::error!(error = %e, "the store writer thread could not start");
    }
    tx
}

/// Takes the jobs that arrived together and runs them as one round, until every sender is gone.
async fn run(backend: Backend, pool: AnyPool, max_group: usize, mut rx: mpsc::Receiver<Job>) {
    let mut group: Vec<SubmitJob> = Vec::with_capacity(max_group);
    let mut ops: Vec<Op> = Vec::new();
    let mut conn = WriterConn::new(backend, pool);
    let mut hand_off: Option<HandOff> = None;
    loop {
        let first = match rx.try_recv() {
            Ok(job) => job,
            Err(mpsc::error::TryRecvError::Disconnected) => break,
            Err(mpsc::error::TryRecvError::Empty) => {
                // Idle: the connection goes back to the pool until work comes.
                conn.release();
                match rx.recv().await {
                    Some(job) => job,
                    None => break,
                }
            }
        };
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Submit(s) => group.push(s),
                Job::Op(op) => ops.push(op),
                Job::HandOff(h) => hand_off = Some(h),
            }
            if group.len() < max_group && ops.len() < MAX_OPS {
                next = rx.try_recv().ok();
            }
        }
        if conn.held_longer_than(HOLD_AT_MOST) {
            conn.release();
        }
        round(&mut conn, &mut group, &mut ops, hand_off.as_ref()).await;
    }
    conn.release();
}

/// The writer's connection, kept from one round to the next while work keeps coming: handing
/// it back to the pool after every round costs a ping and a task switch before the next round
/// can start. On SQLite the `synchronous` setting is changed only when a round needs another.
struct WriterConn {
    backend: Backend,
    pool: AnyPool,
    held: Option<(PoolConnection<Any>, Instant)>,
    synchronous: Option<Durability>,
}

impl WriterConn {
    fn new(backend: Backend, pool: AnyPool) -> Self {
        Self {
            backend,
            pool,
            held: None,
            synchronous: None,
        }
    }

    /// Takes a connection from the pool when none is held.
    async fn hold(&mut self) -> Result<()> {
        if self.held.is_none() {
            self.synchronous = None;
            self.held = Some((self.pool.acquire().await?, Instant::now()));
        }
        Ok(())
    }

    /// The connection, set for `durability`.
    async fn get(&mut self, durability: Durability) -> Result<&mut AnyConnection> {
        self.hold().await?;
        let (conn, _) = self.held.as_mut().expect("held");
        if self.backend == Backend::Sqlite && self.synchronous != Some(durability) {
            self.synchronous = None;
            crate::set_synchronous(conn, durability).await?;
            self.synchronous = Some(durability);
        }
        Ok(&mut **conn)
    }

    /// Begins a round's transaction, set for `durability`, with savepoint `first` open. On
    /// SQLite one call does it all (the `synchronous` setting when this round needs another,
    /// `BEGIN IMMEDIATE`, the savepoint): one hand-over to the connection's thread instead of
    /// up to three.
    async fn begin(
        &mut self,
        durability: Durability,
        first: &str,
    ) -> Result<sqlx::Transaction<'_, Any>> {
        use sqlx::Connection;
        self.hold().await?;
        let (conn, _) = self.held.as_mut().expect("held");
        match self.backend {
            Backend::Sqlite => {
                let mut sql = String::new();
                if self.synchronous != Some(durability) {
                    sql.push_str(crate::synchronous_pragma(durability));
                    sql.push_str("; ");
                }
                sql.push_str(&format!("BEGIN IMMEDIATE; SAVEPOINT {first}"));
                // Unknown until it answered: set again by the next round if this one failed.
                self.synchronous = None;
                let tx = conn.begin_with(sql).await?;
                self.synchronous = Some(durability);
                Ok(tx)
            }
            Backend::Postgres => {
                let mut tx = conn.begin().await?;
                savepoint(&mut tx, None, first).await?;
                Ok(tx)
            }
        }
    }

    fn held_longer_than(&self, limit: Duration) -> bool {
        self.held
            .as_ref()
            .is_some_and(|(_, since)| since.elapsed() > limit)
    }

    /// Hands the connection back to the pool (which checks it before lending it again).
    fn release(&mut self) {
        self.held = None;
        self.synchronous = None;
    }
}

/// Runs one round: the operations and the group in one transaction; answers everyone.
async fn round(
    conn: &mut WriterConn,
    group: &mut Vec<SubmitJob>,
    ops: &mut Vec<Op>,
    hand_off: Option<&HandOff>,
) {
    let mut pending = std::mem::take(ops).into_iter();
    let mut finishes: Vec<Finish> = Vec::new();
    let started = Instant::now();
    let n_ops = pending.len();
    // A place in the dispatcher's queue is taken before the group claims anything, so that
    // what it claims is always handed over.
    let permit = match hand_off {
        Some(h) if !group.is_empty() => h.tx.try_reserve().ok().map(|permit| {
            let direct = Direct {
                node: h.node,
                claimed_until: crate::now_us().saturating_add(h.lease_us),
            };
            (permit, direct)
        }),
        _ => None,
    };
    let direct = permit.as_ref().map(|(_, d)| *d);
    let outcome = run_round(conn, group, &mut pending, &mut finishes, direct).await;
    // How long the one serial step of every write took, and for how much work
    // (`APISENDSMS_LOG=store::writer=debug`).
    tracing::debug!(
        us = started.elapsed().as_micros() as u64,
        submissions = group.len(),
        ops = n_ops,
        "round"
    );
    match outcome {
        Ok(decided) => {
            for finish in finishes {
                finish(Ok(()));
            }
            match decided {
                Some((decided, claimed, left_due)) => {
                    if let Some((permit, _)) = permit {
                        if !claimed.is_empty() {
                            permit.send(claimed);
                        }
                    }
                    if left_due {
                        wake(hand_off);
                    }
                    for (job, d) in group.drain(..).zip(decided) {
                        let _ = job.reply.send(Ok(d));
                    }
                }
                // The operations committed; the submissions failed together: each alone.
                None => {
                    drop(permit);
                    one_by_one(conn, group).await;
                    wake(hand_off);
                }
            }
        }
        Err(err) => {
            // A connection whose round failed is not used again before the pool checked it.
            conn.release();
            for finish in finishes {
                finish(Err(&err));
            }
            for op in pending {
                (op.abort)(Err(&err));
            }
            if group.len() > 1 {
                tracing::warn!(error = %err, size = group.len(), "group commit failed; committing one by one");
                drop(permit);
                one_by_one(conn, group).await;
                wake(hand_off);
            } else if let Some(job) = group.pop() {
                let _ = job.reply.send(Err(err));
            }
        }
    }

    async fn run_round(
        conn: &mut WriterConn,
        group: &[SubmitJob],
        pending: &mut std::vec::IntoIter<Op>,
        finishes: &mut Vec<Finish>,
        direct: Option<Direct>,
    ) -> Result<Option<Written>> {
        let backend = conn.backend;
        let durability = durability_of(group, pending.as_slice());
        // The first savepoint opens with the transaction.
        let first = if pending.as_slice().is_empty() {
            "submissions"
        } else {
            "op"
        };
        let mut tx = conn.begin(durability, first).await?;
        // Each savepoint is released by the statement that opens the next one, and the last
        // by the commit: one round trip to the database per savepoint instead of two.
        let mut open: Option<&str> = None;
        for op in pending.by_ref() {
            if open.is_some() {
                savepoint(&mut tx, open.take(), "op").await?;
            }
            open = Some("op");
            let (ok, finish) = (op.run)(&mut tx).await;
            finishes.push(finish);
            if !ok {
                sqlx::raw_sql("ROLLBACK TO SAVEPOINT op")
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let decided = if group.is_empty() {
            Some((Vec::new(), Vec::new(), false))
        } else {
            let subs: Vec<(&Submission, &[String])> = group
                .iter()
                .map(|j| (&j.submission, j.hashes.as_slice()))
                .collect();
            // Without operations, the group's savepoint is the one the transaction opened.
            let open = match open {
                Some(op) => Opened::Release(op),
                None => Opened::Ready,
            };
            group_in_savepoint(backend, &mut tx, open, &subs, direct).await?
        };
        tx.commit().await?;
        Ok(decided)
    }
}

/// Tells the dispatcher that messages wait in the database.
fn wake(hand_off: Option<&HandOff>) {
    if let Some(h) = hand_off {
        h.wake.notify_one();
    }
}

/// A round with submissions, or with an operation that asks for it, commits with an fsync.
fn durability_of(group: &[SubmitJob], ops: &[Op]) -> Durability {
    if !group.is_empty() || ops.iter().any(|o| o.durability == Durability::Full) {
        Durability::Full
    } else {
        Durability::Relaxed
    }
}

/// The savepoint in force when the group starts.
#[derive(Clone, Copy)]
enum Opened<'a> {
    /// The group's own, opened with the transaction.
    Ready,
    /// An operation's, to be released by the statement that opens the group's.
    Release(&'a str),
}

/// The group inside a savepoint: `None` when it failed (rolled back; the round goes on).
/// The group's own savepoint is left for the commit to release.
async fn group_in_savepoint(
    backend: Backend,
    conn: &mut AnyConnection,
    opened: Opened<'_>,
    subs: &[(&Submission, &[String])],
    direct: Option<Direct>,
) -> Result<Option<Written>> {
    for attempt in 0..KEY_RACE_RETRIES {
        match (attempt, opened) {
            (0, Opened::Ready) => {}
            (0, Opened::Release(op)) => savepoint(&mut *conn, Some(op), "submissions").await?,
            // After a rollback to it: the savepoint afresh.
            _ => savepoint(&mut *conn, Some("submissions"), "submissions").await?,
        }
        let written = write_group(backend, conn, subs, direct).await;
        if !matches!(written, Ok(Some(_))) {
            sqlx::raw_sql("ROLLBACK TO SAVEPOINT submissions")
                .execute(&mut *conn)
                .await?;
        }
        match written {
            Ok(Some(written)) => return Ok(Some(written)),
            // Another writer inserted one of the keys: decide again with the new keys.
            Ok(None) => continue,
            Err(err) => {
                tracing::warn!(error = %err, size = subs.len(), "submissions failed together");
                return Ok(None);
            }
        }
    }
    Ok(None)
}

/// Opens savepoint `name`, releasing `release` (an earlier savepoint) in the same round trip.
async fn savepoint(conn: &mut AnyConnection, release: Option<&str>, name: &str) -> Result<()> {
    let sql = match release {
        Some(done) => format!("RELEASE SAVEPOINT {done}; SAVEPOINT {name}"),
        None => format!("SAVEPOINT {name}"),
    };
    sqlx::raw_sql(&sql).execute(conn).await?;
    Ok(())
}

/// Commits each submission in its own transaction.
async fn one_by_one(conn: &mut WriterConn, group: &mut Vec<SubmitJob>) {
    for job in group.drain(..) {
        let one = [(&job.submission, job.hashes.as_slice())];
        let result = commit_group(conn, &one)
            .await
            .map(|mut v| v.pop().expect("one outcome"));
        if result.is_err() {
            conn.release();
        }
        let _ = job.reply.send(result);
    }
}

async fn commit_group(
    writer: &mut WriterConn,
    subs: &[(&Submission, &[String])],
) -> Result<Vec<Decided>> {
    let backend = writer.backend;
    let conn = writer.get(Durability::Full).await?;
    for _ in 0..KEY_RACE_RETRIES {
        let mut tx = crate::begin_write(conn).await?;
        // Alone, the messages are stored `queued` for the dispatcher's claims.
        if let Some((outcomes, _, _)) = write_group(backend, &mut tx, subs, None).await? {
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

/// Each submission's outcome, the messages the group claimed for the dispatcher, and whether
/// it stored others due now (`queued`) for the dispatcher's claims.
type Written = (Vec<Decided>, Vec<Claimed>, bool);

/// Decides and writes the group; `None` when another writer inserted one of the group's
/// idempotency keys meanwhile (the caller rolls back and tries again). With `direct`, the
/// messages that may be sent at once are stored claimed and returned.
async fn write_group(
    backend: Backend,
    conn: &mut AnyConnection,
    group: &[(&Submission, &[String])],
    direct: Option<Direct>,
) -> Result<Option<Written>> {
    let subs: Vec<&Submission> = group.iter().map(|(s, _)| *s).collect();
    let subs = subs.as_slice();
    let mut known_keys = existing_keys(backend, conn, subs).await?;
    let hashes: Vec<&str> = group
        .iter()
        .flat_map(|(_, h)| h.iter().map(String::as_str))
        .collect();
    let (mut balances, closed, blocks) = match backend {
        Backend::Sqlite => balances_and_entries_as_json(conn, subs, &hashes).await?,
        Backend::Postgres => {
            let (balances, closed) = balances_for_update(backend, conn, subs).await?;
            (balances, closed, entries_for(backend, conn, &hashes).await?)
        }
    };
    let blocked = blocked_messages(backend, conn, group, &blocks).await?;

    let mut outcomes = Vec::with_capacity(subs.len());
    let mut accepted: Vec<(&Submission, &Blocked)> = Vec::with_capacity(subs.len());
    let mut reserves: Vec<Reserve<'_>> = Vec::with_capacity(subs.len());
    let mut new_keys: Vec<(&Submission, String)> = Vec::new();
    for (sub, blocked) in subs.iter().zip(&blocked) {
        let account = sub.account.get();
        if closed.contains(&account) {
            outcomes.push((SubmitOutcome::AccountClosed, Vec::new()));
            continue;
        }
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
    // The rest returns nothing: one batch, whose count of changed rows is checked whole.
    let mut batch = Batch::new(backend);
    reserve_credit(&mut batch, &reserves);
    let (claimed, left_due) = insert_messages(&mut batch, &accepted, direct);
    let accepted: Vec<&Submission> = accepted.iter().map(|(s, _)| *s).collect();
    crate::smpp::push_receipt_requests(&mut batch, &accepted);
    batch
        .execute_checked(conn, "a group's writes (an account gone?)")
        .await?;
    Ok(Some((outcomes, claimed, left_due)))
}

/// Which messages of each submission are blocked, given the group's Blacklist entries and,
/// when the group has commercial messages, one lookup of the contacts' recorded basis.
async fn blocked_messages(
    backend: Backend,
    conn: &mut AnyConnection,
    group: &[(&Submission, &[String])],
    blocks: &Blocks,
) -> Result<Vec<Blocked>> {
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
                    block_for(blocks, h, s.account).or_else(|| {
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
    conn: &mut AnyConnection,
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
/// PostgreSQL (SQLite has a single writer), and the accounts whose contract has ended (closed:
/// they send nothing more).
async fn balances_for_update(
    backend: Backend,
    conn: &mut AnyConnection,
    subs: &[&Submission],
) -> Result<(HashMap<i64, i64>, HashSet<i64>)> {
    let mut ids: Vec<i64> = subs.iter().map(|s| s.account.get()).collect();
    ids.sort_unstable();
    ids.dedup();
    let lock = match backend {
        Backend::Sqlite => "",
        Backend::Postgres => "FOR UPDATE",
    };
    let mut balances = HashMap::with_capacity(ids.len());
    let mut closed = HashSet::new();
    for chunk in ids.chunks(1000) {
        let list = sql::list(backend, 1, chunk.len());
        let sql = format!(
            "SELECT id, balance_cents, contract_ended_at FROM accounts WHERE id IN ({list}) \
             ORDER BY id {lock}"
        );
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(*id);
        }
        for row in q.fetch_all(&mut *conn).await? {
            let id: i64 = row.try_get("id")?;
            balances.insert(id, row.try_get("balance_cents")?);
            if row
                .try_get::<Option<i64>, _>("contract_ended_at")?
                .is_some()
            {
                closed.insert(id);
            }
        }
    }
    Ok((balances, closed))
}

/// On SQLite, the group's accounts (balance, and whether the contract ended) and the Blacklist
/// entries of its numbers, read by one statement as one JSON value: one hand-over to the
/// connection's thread instead of two, rows not handed over one by one, and a statement of
/// one shape whatever the group's size, so it stays prepared. (SQLite has one writer: the
/// balances need no lock.)
async fn balances_and_entries_as_json(
    conn: &mut AnyConnection,
    subs: &[&Submission],
    hashes: &[&str],
) -> Result<(HashMap<i64, i64>, HashSet<i64>, Blocks)> {
    let corrupt = |e: serde_json::Error| StoreError::Corrupt(e.to_string());
    let mut ids: Vec<i64> = subs.iter().map(|s| s.account.get()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut wanted: Vec<&str> = hashes.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    let json: String = sqlx::query_scalar(
        "SELECT json_array(\
           (SELECT json_group_array(json_array(id, balance_cents, contract_ended_at IS NOT NULL)) \
            FROM accounts WHERE id IN (SELECT value FROM json_each(?))), \
           (SELECT json_group_array(json_array(number_hash, account_id, kind)) \
            FROM blacklist WHERE number_hash IN (SELECT value FROM json_each(?))))",
    )
    .bind(serde_json::to_string(&ids).map_err(corrupt)?)
    .bind(serde_json::to_string(&wanted).map_err(corrupt)?)
    .fetch_one(&mut *conn)
    .await?;
    type Found = (Vec<(i64, i64, i64)>, Vec<(String, i64, String)>);
    let (accounts, entries): Found = serde_json::from_str(&json).map_err(corrupt)?;
    let mut balances = HashMap::with_capacity(accounts.len());
    let mut closed = HashSet::new();
    for (id, balance, ended) in accounts {
        balances.insert(id, balance);
        if ended != 0 {
            closed.insert(id);
        }
    }
    let mut blocks: Blocks = HashMap::new();
    for (hash, account, kind) in entries {
        blocks
            .entry(hash)
            .or_default()
            .push((account, EntryKind::parse(&kind)?));
    }
    Ok((balances, closed, blocks))
}

/// Stores the keys of the accepted submissions; `false` if one of them was stored by another
/// writer since [`existing_keys`] read them.
async fn insert_keys(
    backend: Backend,
    conn: &mut AnyConnection,
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
fn reserve_credit(batch: &mut Batch<'_>, reserves: &[Reserve<'_>]) {
    let backend = batch.backend();
    batch.expect(reserves.len() as u64);
    for chunk in reserves.chunks(1000) {
        batch.push(&format!(
            "INSERT INTO ledger_entries (account_id, kind, available_delta, reserved_delta, reference, created_at) \
             VALUES {}",
            sql::rows(backend, 1, chunk.len(), 6)
        ));
        for r in chunk {
            batch
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
    }
    let mut per_account: Vec<(i64, i64)> = Vec::new();
    for r in reserves {
        let account = r.sub.account.get();
        match per_account.iter_mut().find(|(a, _)| *a == account) {
            Some((_, sum)) => *sum += r.total,
            None => per_account.push((account, r.total)),
        }
    }
    batch.expect(per_account.len() as u64);
    for chunk in per_account.chunks(1000) {
        batch.push(&format!(
            "UPDATE accounts SET balance_cents = balance_cents - v.column2, \
             reserved_cents = reserved_cents + v.column2 \
             FROM (VALUES {}) AS v WHERE accounts.id = v.column1",
            sql::rows(backend, 1, chunk.len(), 2)
        ));
        for (account, sum) in chunk {
            batch.bind(*account).bind(*sum);
        }
    }
}

const COLS: usize = 23;
const ROWS_PER_INSERT: usize = 500;

/// Most messages a group claims for the dispatcher; the rest of a big group is stored `queued`.
/// With the dispatcher's queue of groups this bounds what waits in memory.
pub(crate) const CLAIM_AT_MOST: usize = 2_000;

/// Whether a message is for the dispatcher now: not blocked, queued, due.
fn due_now(s: &Submission, m: &crate::NewMessage, blocked: Option<BlockReason>) -> bool {
    blocked.is_none() && m.status == MessageStatus::Queued && m.due_at <= s.now
}

/// Whether a message may be claimed by its own group: [`due_now`], still valid, to a carrier.
fn claimable(s: &Submission, m: &crate::NewMessage, blocked: Option<BlockReason>) -> bool {
    due_now(s, m, blocked) && m.expires_at > s.now && s.device.is_none()
}

/// The messages and their first status as statements of `batch`; with `direct`, those that
/// are [`claimable`] are stored claimed (`sending`, after their `queued` event) and returned,
/// with whether others due now were stored `queued`.
fn insert_messages<'q>(
    batch: &mut Batch<'q>,
    subs: &[(&'q Submission, &'q Blocked)],
    direct: Option<Direct>,
) -> (Vec<Claimed>, bool) {
    let backend = batch.backend();
    let mut claims = 0;
    let rows: Vec<(&Submission, &crate::NewMessage, Option<BlockReason>, bool)> = subs
        .iter()
        .flat_map(|(s, b)| {
            s.messages
                .iter()
                .zip(b.iter())
                .map(move |(m, b)| (*s, m, *b))
        })
        .map(|(s, m, b)| {
            let claim = direct.is_some() && claims < CLAIM_AT_MOST && claimable(s, m, b);
            claims += usize::from(claim);
            (s, m, b, claim)
        })
        .collect();
    batch.expect(rows.len() as u64);
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        batch.push(&format!(
            "INSERT INTO messages (id, account_id, submission_id, to_number, sender, body, encoding, parts, \
             price_cents, status, status_reason, client_ref, scheduled_at, due_at, expires_at, created_at, \
             updated_at, marketing, route, ciphertext, attempts, claimed_by, claimed_until) VALUES {}",
            sql::rows(backend, 1, chunk.len(), COLS)
        ));
        for (s, m, blocked, claim) in chunk {
            let (price, status) = match blocked {
                None if *claim => (m.price.hundredths(), MessageStatus::Sending),
                None => (m.price.hundredths(), m.status),
                Some(_) => (0, MessageStatus::Blocked),
            };
            let claimed = direct.filter(|_| *claim);
            batch
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
                )
                .bind(i64::from(claimed.is_some()))
                .bind(claimed.map(|d| d.node))
                .bind(claimed.map(|d| d.claimed_until));
        }
    }
    let mut events: Vec<EventRow<'_>> = Vec::with_capacity(rows.len());
    let mut claimed = Vec::new();
    let mut left_due = false;
    for (s, m, blocked, claim) in &rows {
        left_due |= !*claim && due_now(s, m, *blocked);
        match blocked {
            None => events.push((m.id.get(), m.status, None, s.now)),
            Some(b) => events.push((m.id.get(), MessageStatus::Blocked, Some(b.text()), s.now)),
        }
        if *claim {
            events.push((m.id.get(), MessageStatus::Sending, None, s.now));
            claimed.push(Claimed {
                id: m.id,
                account: s.account,
                to: m.to.clone(),
                sender: m.sender.clone(),
                body: m.body.clone(),
                encoding: m.encoding.to_owned(),
                parts: m.parts,
                price: m.price,
                expires_at: m.expires_at,
                attempts: 1,
                device: false,
            });
        }
    }
    push_event_rows(batch, &events);
    (claimed, left_due)
}

#[cfg(test)]
mod tests {
    use domain::{AccountId, MessageId, MessageStatus, Money};
    use testkit::{backends, TestDb};

    use crate::{Durability, NewMessage, Store, StoreOptions, Submission, SubmitOutcome};

    const T0: i64 = 1_800_000_000_000_000;

    fn submission(account: AccountId, sub: i64, id: i64) -> Submission {
        Submission {
            account,
            submission_id: sub,
            idempotency: None,
            messages: vec![NewMessage {
                id: MessageId::new(id),
                to: format!("+42077700{id:04}"),
                sender: "ACME".into(),
                body: "hello".into(),
                encoding: "gsm7",
                parts: 1,
                price: Money::from_hundredths(90),
                status: MessageStatus::Queued,
                client_ref: None,
                scheduled_at: None,
                due_at: T0,
                expires_at: T0 + 3_600_000_000,
            }],
            response: String::new(),
            marketing: false,
            device: None,
            now: T0,
            smpp: None,
        }
    }

    async fn store_with_account(backend: testkit::Backend) -> (TestDb, Store, AccountId) {
        let db = TestDb::new(backend).await;
        let store = Store::connect(&db.url, StoreOptions::default())
            .await
            .expect("connect");
        let a = AccountId::new(1);
        store
            .create_account(a, "a@example.com", "A", Money::from_hundredths(10_000), T0)
            .await
            .expect("account");
        (db, store, a)
    }

    /// An operation failing inside a round is rolled back alone: the submissions of the same
    /// round commit.
    #[tokio::test]
    async fn a_failing_operation_does_not_fail_its_round() {
        for backend in backends().await {
            let (_db, store, a) = store_with_account(backend).await;
            let rename = |name: &'static str| {
                store.write_op(Durability::Relaxed, move |tx| {
                    Box::pin(async move {
                        sqlx::query("UPDATE accounts SET name = name || $1")
                            .bind(name)
                            .execute(&mut *tx)
                            .await?;
                        Ok(())
                    })
                })
            };
            // Sent before the writer runs again, so they share a round; the operations on
            // either side of the failing one keep their writes.
            let (first, before, failing, after, second) = tokio::join!(
                store.submit(submission(a, 1, 1)),
                rename(" before"),
                store.write_op(Durability::Relaxed, |tx| {
                    Box::pin(async move {
                        sqlx::query("INSERT INTO messages (id) VALUES (1)")
                            .execute(&mut *tx)
                            .await?;
                        Ok(())
                    })
                }),
                rename(" after"),
                store.submit(submission(a, 2, 2)),
            );
            before.unwrap();
            after.unwrap();
            let name: String = sqlx::query_scalar("SELECT name FROM accounts WHERE id = $1")
                .bind(a.get())
                .fetch_one(&store.read)
                .await
                .unwrap();
            assert!(name.ends_with(" before after"), "{name}");
            assert_eq!(first.unwrap(), SubmitOutcome::Accepted);
            assert_eq!(second.unwrap(), SubmitOutcome::Accepted);
            assert!(
                failing.is_err(),
                "the operation's own error reaches its caller"
            );
            for id in [1, 2] {
                assert!(store
                    .get_message(a, MessageId::new(id))
                    .await
                    .unwrap()
                    .is_some());
            }
            assert!(store.ledger_consistent(a).await.unwrap());
            store.close().await;
        }
    }

    /// A submission that fails (here: a message id already taken) fails alone; the operation
    /// and the other submission of its round commit.
    #[tokio::test]
    async fn a_failing_submission_fails_alone() {
        for backend in backends().await {
            let (_db, store, a) = store_with_account(backend).await;
            assert_eq!(
                store.submit(submission(a, 1, 1)).await.unwrap(),
                SubmitOutcome::Accepted
            );
            let (dup, op, good) = tokio::join!(
                store.submit(submission(a, 2, 1)),
                store.write_op(Durability::Relaxed, |tx| {
                    Box::pin(async move {
                        let n = sqlx::query("UPDATE messages SET client_ref = 'op' WHERE id = 1")
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                        Ok(n)
                    })
                }),
                store.submit(submission(a, 3, 3)),
            );
            assert!(dup.is_err(), "a duplicate message id is refused");
            assert_eq!(op.unwrap(), 1);
            assert_eq!(good.unwrap(), SubmitOutcome::Accepted);
            let one = store
                .get_message(a, MessageId::new(1))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(one.client_ref.as_deref(), Some("op"));
            assert!(store
                .get_message(a, MessageId::new(3))
                .await
                .unwrap()
                .is_some());
            let b = store.balance(a).await.unwrap().unwrap();
            assert_eq!(
                b.reserved.hundredths(),
                180,
                "two messages reserved, not three"
            );
            assert!(store.ledger_consistent(a).await.unwrap());
            store.close().await;
        }
    }

    /// A closed account sends nothing: its submission is refused in the writer, whatever edge
    /// it came through (API, SMPP, web app), and nothing is stored or reserved; reopened, it
    /// sends again.
    #[tokio::test]
    async fn a_closed_account_sends_nothing_until_reopened() {
        for backend in backends().await {
            let (_db, store, a) = store_with_account(backend).await;
            assert!(store
                .close_account(a, "test", "contract ended", T0)
                .await
                .unwrap());
            assert_eq!(
                store.submit(submission(a, 1, 1)).await.unwrap(),
                SubmitOutcome::AccountClosed,
                "{backend:?}"
            );
            assert!(store
                .get_message(a, MessageId::new(1))
                .await
                .unwrap()
                .is_none());
            let b = store.balance(a).await.unwrap().unwrap();
            assert_eq!(b.reserved.hundredths(), 0, "nothing reserved");
            assert!(store
                .reopen_account(a, "test", "came back", T0 + 1)
                .await
                .unwrap());
            assert_eq!(
                store.submit(submission(a, 2, 2)).await.unwrap(),
                SubmitOutcome::Accepted,
                "{backend:?}"
            );
            store.close().await;
        }
    }

    /// A group claims its fresh messages for the dispatcher that asked: stored `sending` for
    /// its node and handed over after the commit. When the dispatcher's queue is full they are
    /// stored `queued` and the dispatcher is woken to claim them; a scheduled message is left
    /// for the claims. A message handed over and never sent comes back at the node's restart.
    #[tokio::test]
    async fn fresh_messages_are_claimed_by_their_commit_and_handed_over() {
        use std::sync::Arc;
        use std::time::Duration;
        for backend in backends().await {
            let (_db, store, a) = store_with_account(backend).await;
            let wake = Arc::new(tokio::sync::Notify::new());
            let mut fresh = store
                .hand_off_fresh(7, Duration::from_secs(60), 1, wake.clone())
                .await
                .unwrap();
            assert_eq!(
                store.submit(submission(a, 1, 1)).await.unwrap(),
                SubmitOutcome::Accepted
            );
            let group = fresh.try_recv().expect("handed over once committed");
            assert_eq!(group.len(), 1);
            assert_eq!((group[0].id, group[0].attempts), (MessageId::new(1), 1));
            assert_eq!(group[0].body, "hello");
            let m = store
                .get_message(a, MessageId::new(1))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(m.status, MessageStatus::Sending);
            let history: Vec<MessageStatus> = store
                .message_events(MessageId::new(1))
                .await
                .unwrap()
                .iter()
                .map(|e| e.status)
                .collect();
            assert_eq!(history, [MessageStatus::Queued, MessageStatus::Sending]);
            assert!(
                store.claim_due(8, T0, T0 + 1, 10).await.unwrap().is_empty(),
                "a claim does not take a message handed over"
            );

            // The queue holds one group: the next is handed over, the one after is queued.
            store.submit(submission(a, 2, 2)).await.unwrap();
            store.submit(submission(a, 3, 3)).await.unwrap();
            tokio::time::timeout(Duration::from_secs(5), wake.notified())
                .await
                .expect("the dispatcher is woken for the queued message");
            let queued = store
                .get_message(a, MessageId::new(3))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(queued.status, MessageStatus::Queued);
            let claimed = store.claim_due(8, T0, T0 + 1, 10).await.unwrap();
            assert_eq!(claimed.iter().map(|c| c.id.get()).collect::<Vec<_>>(), [3]);

            // Message 2 is taken from the queue (and never sent: see the restart below). A big
            // group claims at most CLAIM_AT_MOST of its messages; the rest wait queued.
            let waiting = fresh.try_recv().expect("message 2 handed over");
            assert_eq!(waiting[0].id, MessageId::new(2));
            let mut big = submission(a, 5, 10_000);
            let one = big.messages[0].clone();
            big.messages = (0..super::CLAIM_AT_MOST as i64 + 1)
                .map(|i| NewMessage {
                    id: MessageId::new(10_000 + i),
                    to: format!("+4207771{i:05}"),
                    price: Money::ZERO,
                    ..one.clone()
                })
                .collect();
            store.submit(big).await.unwrap();
            let group = fresh
                .try_recv()
                .expect("the big group's claims handed over");
            assert_eq!(group.len(), super::CLAIM_AT_MOST);
            tokio::time::timeout(Duration::from_secs(5), wake.notified())
                .await
                .expect("woken for the one left queued");
            let last = MessageId::new(10_000 + super::CLAIM_AT_MOST as i64);
            let rest = store.get_message(a, last).await.unwrap().unwrap();
            assert_eq!(rest.status, MessageStatus::Queued);

            // Scheduled: not handed over, nobody woken.
            let mut later = submission(a, 4, 4);
            later.messages[0].status = MessageStatus::Scheduled;
            later.messages[0].scheduled_at = Some(T0 + 60_000_000);
            later.messages[0].due_at = T0 + 60_000_000;
            store.submit(later).await.unwrap();
            let scheduled = store
                .get_message(a, MessageId::new(4))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(scheduled.status, MessageStatus::Scheduled);
            assert!(
                tokio::time::timeout(Duration::from_millis(100), wake.notified())
                    .await
                    .is_err(),
                "nothing due was queued"
            );

            // Message 2 and the big group's claims were handed over and never sent: the node
            // stops, and they come back at its restart.
            assert_eq!(
                store.requeue_in_doubt(7, T0).await.unwrap(),
                2 + super::CLAIM_AT_MOST
            );
            let again = store.claim_due(8, T0, T0 + 1, 10).await.unwrap();
            let mut ids: Vec<i64> = again.iter().map(|c| c.id.get()).collect();
            ids.sort_unstable();
            assert_eq!(ids[..2], [1, 2]);
            assert!(store.ledger_consistent(a).await.unwrap());
            store.close().await;
        }
    }
}
