//! Accepted messages: the group-committed submission, reads for the API, cancellation.

use domain::{AccountId, MessageId, MessageStatus, Money};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::accounts::ledger_entry;
use crate::{writer, BlockReason, Result, Store, StoreError};

/// One message to one recipient, validated and priced by the caller.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub id: MessageId,
    /// E.164, e.g. "+420777123456".
    pub to: String,
    pub sender: String,
    /// The text as it will be sent (after any transliteration).
    pub body: String,
    pub encoding: &'static str,
    pub parts: u32,
    pub price: Money,
    /// `Scheduled` or `Queued`.
    pub status: MessageStatus,
    pub client_ref: Option<String>,
    pub scheduled_at: Option<i64>,
    pub due_at: i64,
    pub expires_at: i64,
}

/// The idempotency key of a submission and a hash of the request it came with.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub key: String,
    pub request_hash: String,
}

/// Everything one API request (or one SMPP submit) asks to accept, all or nothing.
#[derive(Debug, Clone)]
pub struct Submission {
    pub account: AccountId,
    pub submission_id: i64,
    pub idempotency: Option<Idempotency>,
    pub messages: Vec<NewMessage>,
    /// The answer to store for a replay of the same idempotency key.
    pub response: String,
    pub now: i64,
    /// Set when the submission came over SMPP and asked for delivery receipts.
    pub smpp: Option<crate::SmppOrigin>,
    /// Commercial messages: sent only to numbers the account has a recorded basis for.
    pub marketing: bool,
    /// Set when the messages go through the account's own devices instead of a carrier.
    pub device: Option<DeviceChannel>,
}

/// A submission routed to the account's own devices (phones, GSM modems).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceChannel {
    /// Text encrypted end to end for the devices (opaque here; relayed as it is).
    pub ciphertext: Option<String>,
}

impl Submission {
    pub fn total_price(&self) -> Option<Money> {
        self.messages
            .iter()
            .try_fold(Money::ZERO, |acc, m| acc.checked_add(m.price))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitOutcome {
    /// Committed: every message exists in the database.
    Accepted,
    /// The idempotency key was used before with the same request; here is the first answer.
    Replayed { response: String },
    /// The idempotency key was used before with a different request.
    IdempotencyMismatch,
    /// Not enough credit for the whole submission; nothing was stored.
    InsufficientCredit { available: Money, required: Money },
    /// The account was closed (its contract ended); nothing was stored.
    AccountClosed,
}

#[derive(Debug, Clone)]
pub struct MessageRecord {
    pub id: MessageId,
    pub account: AccountId,
    pub to: String,
    pub sender: String,
    pub body: String,
    pub encoding: String,
    pub parts: u32,
    pub price: Money,
    pub status: MessageStatus,
    pub status_reason: Option<String>,
    pub client_ref: Option<String>,
    pub scheduled_at: Option<i64>,
    pub expires_at: i64,
    pub connector: Option<String>,
    pub smsc_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageEvent {
    pub status: MessageStatus,
    pub reason: Option<String>,
    pub at: i64,
}

/// Filters of the message list; results are newest first.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    pub status: Option<MessageStatus>,
    pub to: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Only messages with an id below this one (the cursor).
    pub before: Option<MessageId>,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    Cancelled,
    NotFound,
    /// Too late: the message is already in this state.
    NotCancellable(MessageStatus),
}

pub(crate) const MESSAGE_COLUMNS: &str = "id, account_id, to_number, sender, body, encoding, parts, price_cents, status, \
     status_reason, client_ref, scheduled_at, expires_at, connector, smsc_id, created_at, updated_at";

pub(crate) fn message_from_row(r: &AnyRow) -> Result<MessageRecord> {
    let status: String = r.try_get("status")?;
    Ok(MessageRecord {
        id: MessageId::new(r.try_get("id")?),
        account: AccountId::new(r.try_get("account_id")?),
        to: r.try_get("to_number")?,
        sender: r.try_get("sender")?,
        body: r.try_get("body")?,
        encoding: r.try_get("encoding")?,
        parts: u32::try_from(r.try_get::<i64, _>("parts")?)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        price: Money::from_hundredths(r.try_get("price_cents")?),
        status: status
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("{e}")))?,
        status_reason: r.try_get("status_reason")?,
        client_ref: r.try_get("client_ref")?,
        scheduled_at: r.try_get("scheduled_at")?,
        expires_at: r.try_get("expires_at")?,
        connector: r.try_get("connector")?,
        smsc_id: r.try_get("smsc_id")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

impl Store {
    /// Stores a submission durably: when this returns `Accepted`, the messages are committed.
    /// Submissions arriving together share one transaction (group commit). Messages to blocked
    /// recipients are stored `blocked` with the reason and cost nothing.
    pub async fn submit(&self, submission: Submission) -> Result<SubmitOutcome> {
        Ok(self.submit_decided(submission).await?.0)
    }

    /// [`Store::submit`], also answering why each message was blocked (`None`: it will be
    /// sent), in message order, as the writer decided it; empty unless `Accepted`.
    /// A caller that answers from these decisions needs no Blacklist lookup of its own.
    pub async fn submit_decided(
        &self,
        submission: Submission,
    ) -> Result<(SubmitOutcome, Vec<Option<BlockReason>>)> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        // Hashed here, on the caller's task, not on the single writer task.
        let hashes = submission
            .messages
            .iter()
            .map(|m| self.key.hash(&m.to))
            .collect();
        self.writer
            .send(writer::Job::Submit(writer::SubmitJob {
                submission,
                hashes,
                reply: tx,
            }))
            .await
            .map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    pub async fn get_message(
        &self,
        account: AccountId,
        id: MessageId,
    ) -> Result<Option<MessageRecord>> {
        let sql =
            format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1 AND account_id = $2");
        let row = sqlx::query(&sql)
            .bind(id.get())
            .bind(account.get())
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(message_from_row).transpose()
    }

    /// The status history of a message, oldest first.
    pub async fn message_events(&self, id: MessageId) -> Result<Vec<MessageEvent>> {
        let rows = sqlx::query(
            "SELECT status, reason, at FROM message_events WHERE message_id = $1 ORDER BY id",
        )
        .bind(id.get())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                let status: String = r.try_get("status")?;
                Ok(MessageEvent {
                    status: status
                        .parse()
                        .map_err(|e| StoreError::Corrupt(format!("{e}")))?,
                    reason: r.try_get("reason")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }

    pub async fn list_messages(
        &self,
        account: AccountId,
        f: &MessageFilter,
    ) -> Result<Vec<MessageRecord>> {
        let mut sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE account_id = $1");
        let mut n = 1;
        let mut next = |cond: &str, sql: &mut String| {
            n += 1;
            sql.push_str(&format!(" AND {cond} ${n}"));
        };
        if f.status.is_some() {
            next("status =", &mut sql);
        }
        if f.to.is_some() {
            next("to_number =", &mut sql);
        }
        if f.since.is_some() {
            next("created_at >=", &mut sql);
        }
        if f.until.is_some() {
            next("created_at <", &mut sql);
        }
        if f.before.is_some() {
            next("id <", &mut sql);
        }
        sql.push_str(&format!(
            " ORDER BY id DESC LIMIT {}",
            f.limit.clamp(1, 1000)
        ));
        let mut q = sqlx::query(&sql).bind(account.get());
        if let Some(s) = f.status {
            q = q.bind(s.as_str());
        }
        if let Some(to) = &f.to {
            q = q.bind(to.clone());
        }
        if let Some(s) = f.since {
            q = q.bind(s);
        }
        if let Some(u) = f.until {
            q = q.bind(u);
        }
        if let Some(b) = f.before {
            q = q.bind(b.get());
        }
        let rows = q.fetch_all(&self.read).await?;
        rows.iter().map(message_from_row).collect()
    }

    /// Cancels a message that is still scheduled or queued and releases its reserved price.
    pub async fn cancel_message(
        &self,
        account: AccountId,
        id: MessageId,
        now: i64,
    ) -> Result<CancelOutcome> {
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let row = sqlx::query(
            "UPDATE messages SET status = 'cancelled', status_reason = 'cancelled by the customer', updated_at = $1 \
             WHERE id = $2 AND account_id = $3 AND status IN ('scheduled', 'queued') RETURNING price_cents",
        )
        .bind(now)
        .bind(id.get())
        .bind(account.get())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            drop(tx);
            return Ok(match self.get_message(account, id).await? {
                None => CancelOutcome::NotFound,
                Some(m) => CancelOutcome::NotCancellable(m.status),
            });
        };
        let price: i64 = row.try_get("price_cents")?;
        insert_events(
            &mut tx,
            self.backend,
            &[id.get()],
            MessageStatus::Cancelled,
            Some("cancelled by the customer"),
            now,
        )
        .await?;
        if price > 0 {
            ledger_entry(
                &mut tx,
                account,
                "release",
                price,
                -price,
                &format!("message {id} cancelled"),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(CancelOutcome::Cancelled)
    }
}

/// Records the same status change for many messages.
pub(crate) async fn insert_events(
    conn: &mut sqlx::AnyConnection,
    backend: crate::Backend,
    ids: &[i64],
    status: MessageStatus,
    reason: Option<&str>,
    at: i64,
) -> Result<()> {
    let rows: Vec<EventRow<'_>> = ids.iter().map(|id| (*id, status, reason, at)).collect();
    insert_event_rows(conn, backend, &rows).await
}

/// (message id, status, reason, time)
pub(crate) type EventRow<'a> = (i64, MessageStatus, Option<&'a str>, i64);

/// Records status changes, many rows per statement.
pub(crate) async fn insert_event_rows(
    conn: &mut sqlx::AnyConnection,
    backend: crate::Backend,
    rows: &[EventRow<'_>],
) -> Result<()> {
    let mut batch = crate::sql::Batch::new(backend);
    push_event_rows(&mut batch, rows);
    batch.execute_checked(conn, "the status events").await
}

/// [`insert_event_rows`] as statements of `batch` (one row added per event).
pub(crate) fn push_event_rows(batch: &mut crate::sql::Batch<'_>, rows: &[EventRow<'_>]) {
    let backend = batch.backend();
    batch.expect(rows.len() as u64);
    for chunk in rows.chunks(1000) {
        batch.push(&format!(
            "INSERT INTO message_events (message_id, status, reason, at) VALUES {}",
            crate::sql::rows(backend, 1, chunk.len(), 4)
        ));
        for (id, status, reason, at) in chunk {
            batch
                .bind(*id)
                .bind(status.as_str())
                .bind(reason.map(str::to_owned))
                .bind(*at);
        }
    }
}
