//! The group-commit writer: one task takes the submissions that arrived together and commits
//! them in one transaction. If that transaction fails, each submission is retried alone, so one
//! bad submission cannot fail the others.

use domain::Money;
use sqlx::{AnyPool, Row};
use tokio::sync::{mpsc, oneshot};

use crate::messages::{insert_event_rows, EventRow, Submission, SubmitOutcome};
use crate::{Backend, Result};

pub(crate) struct Job {
    pub submission: Submission,
    pub reply: oneshot::Sender<Result<SubmitOutcome>>,
}

pub(crate) fn spawn(_backend: Backend, pool: AnyPool, max_group: usize) -> mpsc::Sender<Job> {
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
            let subs: Vec<&Submission> = group.iter().map(|j| &j.submission).collect();
            match commit_group(&pool, &subs).await {
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
                        let result = commit_group(&pool, &[&job.submission])
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

async fn commit_group(pool: &AnyPool, subs: &[&Submission]) -> Result<Vec<SubmitOutcome>> {
    let mut tx = pool.begin().await?;
    let mut outcomes = Vec::with_capacity(subs.len());
    let mut accepted: Vec<&Submission> = Vec::with_capacity(subs.len());
    for sub in subs {
        let outcome = accept_one(&mut tx, sub).await?;
        if outcome == SubmitOutcome::Accepted {
            accepted.push(sub);
        }
        outcomes.push(outcome);
    }
    insert_messages(&mut tx, &accepted).await?;
    tx.commit().await?;
    Ok(outcomes)
}

/// Idempotency and credit for one submission, inside the group's transaction.
async fn accept_one(conn: &mut sqlx::AnyConnection, sub: &Submission) -> Result<SubmitOutcome> {
    let account = sub.account.get();
    if let Some(idem) = &sub.idempotency {
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (account_id, key, request_hash, response, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id, key) DO NOTHING",
        )
        .bind(account)
        .bind(&idem.key)
        .bind(&idem.request_hash)
        .bind(&sub.response)
        .bind(sub.now)
        .execute(&mut *conn)
        .await?;
        if inserted.rows_affected() == 0 {
            let row = sqlx::query("SELECT request_hash, response FROM idempotency_keys WHERE account_id = $1 AND key = $2")
                .bind(account)
                .bind(&idem.key)
                .fetch_one(&mut *conn)
                .await?;
            let hash: String = row.try_get("request_hash")?;
            return Ok(if hash == idem.request_hash {
                SubmitOutcome::Replayed {
                    response: row.try_get("response")?,
                }
            } else {
                SubmitOutcome::IdempotencyMismatch
            });
        }
    }
    let total = sub
        .total_price()
        .unwrap_or(Money::from_hundredths(i64::MAX))
        .hundredths();
    if total > 0 {
        let reserved = sqlx::query(
            "UPDATE accounts SET balance_cents = balance_cents - $1, reserved_cents = reserved_cents + $1 \
             WHERE id = $2 AND balance_cents >= $1",
        )
        .bind(total)
        .bind(account)
        .execute(&mut *conn)
        .await?;
        if reserved.rows_affected() == 0 {
            if let Some(idem) = &sub.idempotency {
                sqlx::query("DELETE FROM idempotency_keys WHERE account_id = $1 AND key = $2")
                    .bind(account)
                    .bind(&idem.key)
                    .execute(&mut *conn)
                    .await?;
            }
            let available = sqlx::query("SELECT balance_cents FROM accounts WHERE id = $1")
                .bind(account)
                .fetch_optional(&mut *conn)
                .await?
                .map(|r| r.try_get::<i64, _>("balance_cents"))
                .transpose()?
                .unwrap_or(0);
            return Ok(SubmitOutcome::InsufficientCredit {
                available: Money::from_hundredths(available),
                required: Money::from_hundredths(total),
            });
        }
        sqlx::query(
            "INSERT INTO ledger_entries (account_id, kind, available_delta, reserved_delta, reference, created_at) \
             VALUES ($1, 'reserve', $2, $3, $4, $5)",
        )
        .bind(account)
        .bind(-total)
        .bind(total)
        .bind(format!("submission {} ({} messages)", sub.submission_id, sub.messages.len()))
        .bind(sub.now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(SubmitOutcome::Accepted)
}

const COLS: usize = 16;
const ROWS_PER_INSERT: usize = 500;

async fn insert_messages(conn: &mut sqlx::AnyConnection, subs: &[&Submission]) -> Result<()> {
    let rows: Vec<(&Submission, &crate::NewMessage)> = subs
        .iter()
        .flat_map(|s| s.messages.iter().map(move |m| (*s, m)))
        .collect();
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO messages (id, account_id, submission_id, to_number, sender, body, encoding, parts, \
             price_cents, status, client_ref, scheduled_at, due_at, expires_at, created_at, updated_at) VALUES {}",
            crate::values_placeholders(chunk.len(), COLS)
        );
        let mut q = sqlx::query(&sql);
        for (s, m) in chunk {
            q = q
                .bind(m.id.get())
                .bind(s.account.get())
                .bind(s.submission_id)
                .bind(m.to.clone())
                .bind(m.sender.clone())
                .bind(m.body.clone())
                .bind(m.encoding)
                .bind(i64::from(m.parts))
                .bind(m.price.hundredths())
                .bind(m.status.as_str())
                .bind(m.client_ref.clone())
                .bind(m.scheduled_at)
                .bind(m.due_at)
                .bind(m.expires_at)
                .bind(s.now)
                .bind(s.now);
        }
        q.execute(&mut *conn).await?;
    }
    let events: Vec<EventRow<'_>> = rows
        .iter()
        .map(|(s, m)| (m.id.get(), m.status, None, s.now))
        .collect();
    insert_event_rows(conn, &events).await?;
    Ok(())
}
