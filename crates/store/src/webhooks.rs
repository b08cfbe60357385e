//! Webhooks: the customers' endpoints, the deliveries owed to them and every HTTP attempt.
//!
//! The fan-out ([`Store::fan_out`]) creates deliveries and moves a feed cursor in one
//! transaction, so a crash neither loses nor duplicates an event; `UNIQUE (webhook_id,
//! event_key)` makes a repeated batch harmless as well. Senders claim due deliveries
//! ([`Store::claim_deliveries`]) with a lease: a sender that dies mid-attempt leaves the delivery
//! to be tried again when the lease ends.
//!
//! The signing secret is stored as the caller gives it (encrypted by the webhooks crate); this
//! module never sees it in clear.

use domain::AccountId;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{Backend, Result, Store};

/// A webhook to create.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub id: i64,
    pub account: AccountId,
    pub url: String,
    /// Event types, e.g. `["message.status", "inbound"]`.
    pub events: Vec<String>,
    /// The encrypted signing secret.
    pub secret: String,
    pub now: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRecord {
    pub id: i64,
    pub account: AccountId,
    pub url: String,
    pub events: Vec<String>,
    /// The encrypted signing secret.
    pub secret: String,
    pub created_at: i64,
}

/// A delivery the fan-out creates.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub id: i64,
    pub webhook_id: i64,
    pub account: AccountId,
    pub event_type: String,
    /// Names the event for deduplication, e.g. `message_event:42`.
    pub event_key: String,
    pub payload: String,
}

/// A delivery claimed for sending.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub id: i64,
    pub webhook_id: i64,
    pub url: String,
    /// The encrypted signing secret.
    pub secret: String,
    pub payload: String,
    /// Attempts made before this one.
    pub attempts: u32,
    /// The webhook was deleted after the delivery was created.
    pub webhook_deleted: bool,
}

/// What became of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Delivered,
    /// Try again at this time.
    Retry(i64),
    Failed,
}

/// One HTTP attempt to record.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    pub delivery_id: i64,
    pub at: i64,
    pub duration_us: i64,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub state: DeliveryState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub id: i64,
    pub webhook_id: i64,
    pub event_type: String,
    pub payload: String,
    pub status: String,
    pub attempts: u32,
    pub next_attempt_at: Option<i64>,
    pub last_status_code: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    pub delivery_id: i64,
    pub at: i64,
    pub duration_us: i64,
    pub status_code: Option<u16>,
    pub error: Option<String>,
}

const WEBHOOK_COLUMNS: &str = "id, account_id, url, events, secret, created_at";

fn webhook_from_row(r: &AnyRow) -> Result<WebhookRecord> {
    let events: String = r.try_get("events")?;
    Ok(WebhookRecord {
        id: r.try_get("id")?,
        account: AccountId::new(r.try_get("account_id")?),
        url: r.try_get("url")?,
        events: events
            .split(',')
            .filter(|e| !e.is_empty())
            .map(str::to_owned)
            .collect(),
        secret: r.try_get("secret")?,
        created_at: r.try_get("created_at")?,
    })
}

fn to_u32(v: i64) -> Result<u32> {
    u32::try_from(v).map_err(|_| crate::StoreError::Corrupt(format!("count {v} out of range")))
}

fn status_code(v: Option<i64>) -> Result<Option<u16>> {
    v.map(|c| u16::try_from(c).map_err(|_| crate::StoreError::Corrupt(format!("HTTP status {c}"))))
        .transpose()
}

fn delivery_from_row(r: &AnyRow) -> Result<DeliveryRecord> {
    let status: String = r.try_get("status")?;
    let next: i64 = r.try_get("next_attempt_at")?;
    Ok(DeliveryRecord {
        id: r.try_get("id")?,
        webhook_id: r.try_get("webhook_id")?,
        event_type: r.try_get("event_type")?,
        payload: r.try_get("payload")?,
        next_attempt_at: (status == "pending").then_some(next),
        status,
        attempts: to_u32(r.try_get("attempts")?)?,
        last_status_code: status_code(r.try_get("last_status_code")?)?,
        last_error: r.try_get("last_error")?,
        created_at: r.try_get("created_at")?,
        delivered_at: r.try_get("delivered_at")?,
    })
}

impl Store {
    pub async fn create_webhook(&self, w: &NewWebhook) -> Result<()> {
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        sqlx::query(
            "INSERT INTO webhooks (id, account_id, url, events, secret, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(w.id)
        .bind(w.account.get())
        .bind(w.url.as_str())
        .bind(w.events.join(","))
        .bind(w.secret.as_str())
        .bind(w.now)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// The account's webhooks that are not deleted, newest first.
    pub async fn list_webhooks(&self, account: AccountId) -> Result<Vec<WebhookRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE account_id = $1 AND deleted_at IS NULL \
             ORDER BY id DESC"
        ))
        .bind(account.get())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(webhook_from_row).collect()
    }

    /// The account's webhook `id`, unless deleted. Another account's webhook is `None`.
    pub async fn get_webhook(&self, account: AccountId, id: i64) -> Result<Option<WebhookRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1 AND account_id = $2 \
             AND deleted_at IS NULL"
        ))
        .bind(id)
        .bind(account.get())
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(webhook_from_row).transpose()
    }

    /// Deletes the account's webhook; its pending deliveries fail when next due. Returns false
    /// when there is no such webhook.
    pub async fn delete_webhook(&self, account: AccountId, id: i64, now: i64) -> Result<bool> {
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let done = sqlx::query(
            "UPDATE webhooks SET deleted_at = $1 WHERE id = $2 AND account_id = $3 \
             AND deleted_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .bind(account.get())
        .execute(&mut *conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The webhooks (not deleted) of these accounts.
    pub async fn webhooks_of(&self, accounts: &[AccountId]) -> Result<Vec<WebhookRecord>> {
        let mut out = Vec::new();
        for chunk in accounts.chunks(500) {
            let sql = format!(
                "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE deleted_at IS NULL AND account_id IN ({})",
                crate::sql::list(self.backend, 1, chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for a in chunk {
                q = q.bind(a.get());
            }
            for r in q.fetch_all(&self.write).await? {
                out.push(webhook_from_row(&r)?);
            }
        }
        Ok(out)
    }

    /// Whether any account has a webhook (deleted ones aside).
    pub async fn any_webhooks(&self) -> Result<bool> {
        Ok(
            sqlx::query("SELECT id FROM webhooks WHERE deleted_at IS NULL LIMIT 1")
                .fetch_optional(&self.read)
                .await?
                .is_some(),
        )
    }

    /// Creates `deliveries` (each at most once per webhook and event) and moves the cursor of
    /// `consumer` from `from` to `to`, in one transaction (a savepoint in the writer's round).
    /// Returns false, and writes nothing, when another reader moved the cursor first.
    pub async fn fan_out(
        &self,
        consumer: &str,
        from: i64,
        to: i64,
        deliveries: Vec<NewDelivery>,
        now: i64,
    ) -> Result<bool> {
        let backend = self.backend;
        let consumer = consumer.to_owned();
        self.write_op(crate::Durability::Relaxed, move |tx| {
            Box::pin(async move {
                // The cursor first: on PostgreSQL a second node blocks here and then finds it
                // moved. Nothing else is written then.
                if !crate::feed::move_cursor(&mut *tx, &consumer, from, to).await? {
                    return Ok(false);
                }
                insert_deliveries(backend, tx, &deliveries, now).await?;
                Ok(true)
            })
        })
        .await
    }

    /// Claims up to `limit` due deliveries until `lease_until`.
    pub async fn claim_deliveries(
        &self,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> Result<Vec<DueDelivery>> {
        let lock = match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        };
        let mut conn = self.write_conn(crate::Durability::Relaxed).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let ids: Vec<i64> = sqlx::query(&format!(
            "SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1 \
             ORDER BY next_attempt_at, id LIMIT $2 {lock}"
        ))
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<std::result::Result<_, _>>()?;
        if ids.is_empty() {
            tx.commit().await?;
            return Ok(Vec::new());
        }
        let sql = format!(
            "UPDATE webhook_deliveries SET next_attempt_at = {} WHERE id IN ({})",
            crate::sql::param(self.backend, 1),
            crate::sql::list(self.backend, 2, ids.len())
        );
        let mut q = sqlx::query(&sql).bind(lease_until);
        for id in &ids {
            q = q.bind(*id);
        }
        q.execute(&mut *tx).await?;
        let list = crate::sql::list(self.backend, 1, ids.len());
        let sql = format!(
            "SELECT d.id, d.webhook_id, d.payload, d.attempts, w.url, w.secret, w.deleted_at \
             FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.id IN ({list}) \
             ORDER BY d.id"
        );
        let mut q = sqlx::query(&sql);
        for id in &ids {
            q = q.bind(*id);
        }
        let rows = q.fetch_all(&mut *tx).await?;
        tx.commit().await?;
        rows.iter()
            .map(|r| {
                Ok(DueDelivery {
                    id: r.try_get("id")?,
                    webhook_id: r.try_get("webhook_id")?,
                    url: r.try_get("url")?,
                    secret: r.try_get("secret")?,
                    payload: r.try_get("payload")?,
                    attempts: to_u32(r.try_get("attempts")?)?,
                    webhook_deleted: r.try_get::<Option<i64>, _>("deleted_at")?.is_some(),
                })
            })
            .collect()
    }

    /// Records attempts and their outcomes.
    pub async fn record_attempts(&self, results: &[AttemptResult]) -> Result<()> {
        if results.is_empty() {
            return Ok(());
        }
        let mut conn = self.write_conn(crate::Durability::Relaxed).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        for a in results {
            sqlx::query(
                "INSERT INTO webhook_attempts (delivery_id, at, duration_us, status_code, error) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(a.delivery_id)
            .bind(a.at)
            .bind(a.duration_us)
            .bind(a.status_code.map(i64::from))
            .bind(a.error.clone())
            .execute(&mut *tx)
            .await?;
            let (status, next, delivered_at) = match a.state {
                DeliveryState::Delivered => ("delivered", a.at, Some(a.at)),
                DeliveryState::Retry(next) => ("pending", next, None),
                DeliveryState::Failed => ("failed", a.at, None),
            };
            sqlx::query(
                "UPDATE webhook_deliveries SET status = $1, next_attempt_at = $2, delivered_at = $3, \
                 attempts = attempts + 1, last_status_code = $4, last_error = $5 \
                 WHERE id = $6 AND status = 'pending'",
            )
            .bind(status)
            .bind(next)
            .bind(delivered_at)
            .bind(a.status_code.map(i64::from))
            .bind(a.error.clone())
            .bind(a.delivery_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deliveries to a webhook of the account, newest first, below the cursor id `before`.
    pub async fn list_deliveries(
        &self,
        account: AccountId,
        webhook_id: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>> {
        let rows = sqlx::query(
            "SELECT id, webhook_id, event_type, payload, status, attempts, next_attempt_at, \
             last_status_code, last_error, created_at, delivered_at FROM webhook_deliveries \
             WHERE webhook_id = $1 AND account_id = $2 AND id < $3 ORDER BY id DESC LIMIT $4",
        )
        .bind(webhook_id)
        .bind(account.get())
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit.clamp(1, 1000)))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(delivery_from_row).collect()
    }

    /// The attempts of these deliveries, oldest first.
    pub async fn delivery_attempts(&self, deliveries: &[i64]) -> Result<Vec<AttemptRecord>> {
        let mut out = Vec::new();
        for chunk in deliveries.chunks(500) {
            let sql = format!(
                "SELECT delivery_id, at, duration_us, status_code, error FROM webhook_attempts \
                 WHERE delivery_id IN ({}) ORDER BY id",
                crate::sql::list(self.backend, 1, chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&self.read).await? {
                out.push(AttemptRecord {
                    delivery_id: r.try_get("delivery_id")?,
                    at: r.try_get("at")?,
                    duration_us: r.try_get("duration_us")?,
                    status_code: status_code(r.try_get("status_code")?)?,
                    error: r.try_get("error")?,
                });
            }
        }
        Ok(out)
    }
}

/// `(p,p,p,p,p,p,'pending',0,p,p)` rows for the delivery insert.
async fn insert_deliveries(
    backend: Backend,
    conn: &mut sqlx::AnyConnection,
    deliveries: &[NewDelivery],
    now: i64,
) -> Result<()> {
    for chunk in deliveries.chunks(500) {
        let sql = format!(
            "INSERT INTO webhook_deliveries (id, webhook_id, account_id, event_type, event_key, \
             payload, status, attempts, next_attempt_at, created_at) VALUES {} \
             ON CONFLICT (webhook_id, event_key) DO NOTHING",
            delivery_rows(backend, chunk.len())
        );
        let mut q = sqlx::query(&sql);
        for d in chunk {
            q = q
                .bind(d.id)
                .bind(d.webhook_id)
                .bind(d.account.get())
                .bind(d.event_type.as_str())
                .bind(d.event_key.as_str())
                .bind(d.payload.as_str())
                .bind(now)
                .bind(now);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

fn delivery_rows(backend: Backend, rows: usize) -> String {
    let mut n = 1;
    let mut out = Vec::with_capacity(rows);
    for _ in 0..rows {
        let p: Vec<String> = (0..8).map(|i| crate::sql::param(backend, n + i)).collect();
        n += 8;
        out.push(format!(
            "({},{},{},{},{},{},'pending',0,{},{})",
            p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]
        ));
    }
    out.join(",")
}
