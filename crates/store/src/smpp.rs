//! What the customer-facing SMPP server keeps: credentials (argon2 hashes, never passwords),
//! the delivery receipts it owes to customers' binds, and which inbound messages it has pushed.
//!
//! A receipt request is written with its message in the submission's transaction (see
//! [`crate::Submission::smpp`]), so an accepted `submit_sm` with `registered_delivery` always
//! gets its receipt, even across a crash: receipts are owed until [`Store::mark_receipts_sent`].

use domain::{AccountId, MessageId, MessageStatus};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{sql, Result, Store, StoreError};

/// A customer's SMPP login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmppCredential {
    pub id: i64,
    pub account: AccountId,
    pub system_id: String,
    /// argon2id, PHC string.
    pub password_hash: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// Which receipts a submit asked for (`registered_delivery` bits 0-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptMode {
    /// Every final outcome (value 1).
    Final,
    /// Failures only (value 2).
    FailureOnly,
}

impl ReceiptMode {
    fn code(self) -> i64 {
        match self {
            ReceiptMode::Final => 1,
            ReceiptMode::FailureOnly => 2,
        }
    }
}

/// The SMPP origin of a submission that wants a receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmppOrigin {
    pub credential_id: i64,
    pub mode: ReceiptMode,
    /// The addresses as the customer gave them; a receipt swaps them back.
    pub source_addr: String,
    pub dest_addr: String,
}

/// A receipt ready to go to a customer's bind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwedReceipt {
    pub message_id: MessageId,
    pub credential_id: i64,
    pub source_addr: String,
    pub dest_addr: String,
    pub status: MessageStatus,
    pub status_reason: Option<String>,
    pub submitted_at: i64,
    pub done_at: i64,
    /// The first characters of the text, as receipts carry them.
    pub text: String,
    /// The customer asked for failures only: a delivered message gets no receipt.
    pub failure_only: bool,
}

/// An inbound message waiting for a bind of its account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingMo {
    pub inbound_id: i64,
    pub account: AccountId,
    pub from: String,
    pub to: String,
    pub body: String,
}

/// `'delivered', 'undeliverable', ...`: the final statuses, for an `IN (...)` list.
fn final_states() -> String {
    MessageStatus::ALL
        .into_iter()
        .filter(|s| s.is_final())
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn credential_from_row(r: &AnyRow) -> Result<SmppCredential> {
    Ok(SmppCredential {
        id: r.try_get("id")?,
        account: AccountId::new(r.try_get("account_id")?),
        system_id: r.try_get("system_id")?,
        password_hash: r.try_get("password_hash")?,
        created_at: r.try_get("created_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

/// The receipt requests of the accepted submissions that came over SMPP, as statements of the
/// writer's batch.
pub(crate) fn push_receipt_requests(
    batch: &mut crate::sql::Batch<'_>,
    subs: &[&crate::Submission],
) {
    let backend = batch.backend();
    let rows: Vec<(&crate::Submission, &SmppOrigin, MessageId)> = subs
        .iter()
        .filter_map(|s| s.smpp.as_ref().map(|o| (*s, o)))
        .flat_map(|(s, o)| s.messages.iter().map(move |m| (s, o, m.id)))
        .collect();
    batch.expect(rows.len() as u64);
    for chunk in rows.chunks(500) {
        batch.push(&format!(
            "INSERT INTO smpp_receipts (message_id, credential_id, mode, source_addr, dest_addr, submitted_at) VALUES {}",
            sql::rows(backend, 1, chunk.len(), 6)
        ));
        for (s, o, id) in chunk {
            batch
                .bind(id.get())
                .bind(o.credential_id)
                .bind(o.mode.code())
                .bind(o.source_addr.clone())
                .bind(o.dest_addr.clone())
                .bind(s.now);
        }
    }
}

impl Store {
    /// Stores a new credential; `system_id` must be unique.
    pub async fn create_smpp_credential(&self, c: &SmppCredential) -> Result<()> {
        let done = sqlx::query(
            "INSERT INTO smpp_credentials (id, account_id, system_id, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (system_id) DO NOTHING",
        )
        .bind(c.id)
        .bind(c.account.get())
        .bind(c.system_id.as_str())
        .bind(c.password_hash.as_str())
        .bind(c.created_at)
        .execute(&mut *self.write_conn(crate::Durability::Full).await?)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(
                "an SMPP credential with this system_id",
            ));
        }
        Ok(())
    }

    /// The live (not revoked) credential with this `system_id`.
    pub async fn smpp_credential(&self, system_id: &str) -> Result<Option<SmppCredential>> {
        let row = sqlx::query(
            "SELECT id, account_id, system_id, password_hash, created_at, revoked_at \
             FROM smpp_credentials WHERE system_id = $1 AND revoked_at IS NULL",
        )
        .bind(system_id)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(credential_from_row).transpose()
    }

    /// The account's credentials, newest first (revoked ones included).
    pub async fn list_smpp_credentials(&self, account: AccountId) -> Result<Vec<SmppCredential>> {
        let rows = sqlx::query(
            "SELECT id, account_id, system_id, password_hash, created_at, revoked_at \
             FROM smpp_credentials WHERE account_id = $1 ORDER BY id DESC",
        )
        .bind(account.get())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(credential_from_row).collect()
    }

    /// Revokes one credential of the account; false when it has no such live credential.
    pub async fn revoke_smpp_credential(
        &self,
        account: AccountId,
        id: i64,
        now: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE smpp_credentials SET revoked_at = $1 \
             WHERE id = $2 AND account_id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .bind(account.get())
        .execute(&mut *self.write_conn(crate::Durability::Full).await?)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Receipts owed to these credentials whose messages reached a final state, oldest first.
    /// A `FailureOnly` request for a delivered message is included too (`failure_only`): the
    /// caller marks it sent without sending it.
    pub async fn owed_receipts(&self, credentials: &[i64], limit: u32) -> Result<Vec<OwedReceipt>> {
        if credentials.is_empty() {
            return Ok(Vec::new());
        }
        let backend = self.backend();
        let sql = format!(
            "SELECT r.message_id, r.credential_id, r.mode, r.source_addr, r.dest_addr, r.submitted_at, \
                    m.status, m.status_reason, m.updated_at, m.body \
             FROM smpp_receipts r JOIN messages m ON m.id = r.message_id \
             WHERE r.sent_at IS NULL AND r.credential_id IN ({}) AND m.status IN ({}) \
             ORDER BY r.message_id LIMIT {}",
            sql::list(backend, 1, credentials.len()),
            final_states(),
            limit.clamp(1, 10_000)
        );
        let mut q = sqlx::query(&sql);
        for c in credentials {
            q = q.bind(*c);
        }
        let rows = q.fetch_all(&self.read).await?;
        rows.iter()
            .map(|r| {
                let status: String = r.try_get("status")?;
                let body: String = r.try_get("body")?;
                Ok(OwedReceipt {
                    message_id: MessageId::new(r.try_get("message_id")?),
                    credential_id: r.try_get("credential_id")?,
                    source_addr: r.try_get("source_addr")?,
                    dest_addr: r.try_get("dest_addr")?,
                    status: status
                        .parse()
                        .map_err(|e| StoreError::Corrupt(format!("{e}")))?,
                    status_reason: r.try_get("status_reason")?,
                    submitted_at: r.try_get("submitted_at")?,
                    done_at: r.try_get("updated_at")?,
                    text: body.chars().take(20).collect(),
                    failure_only: r.try_get::<i64, _>("mode")? == 2,
                })
            })
            .collect()
    }

    /// Records receipts as delivered to the customer (or not wanted).
    pub async fn mark_receipts_sent(&self, ids: &[MessageId], now: i64) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let backend = self.backend();
        let mut conn = self.write_conn(crate::Durability::Relaxed).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        for chunk in ids.chunks(500) {
            let sql = format!(
                "UPDATE smpp_receipts SET sent_at = {} WHERE message_id IN ({})",
                sql::param(backend, 1),
                sql::list(backend, 2, chunk.len())
            );
            let mut q = sqlx::query(&sql).bind(now);
            for id in chunk {
                q = q.bind(id.get());
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Inbound messages of these accounts, received since `since`, not yet pushed over SMPP.
    pub async fn pending_mo(
        &self,
        accounts: &[AccountId],
        since: i64,
        limit: u32,
    ) -> Result<Vec<PendingMo>> {
        if accounts.is_empty() {
            return Ok(Vec::new());
        }
        let backend = self.backend();
        let sql = format!(
            "SELECT i.id, i.account_id, i.from_number, i.to_number, i.body FROM inbound_messages i \
             WHERE i.account_id IN ({}) AND i.received_at >= {} \
               AND NOT EXISTS (SELECT 1 FROM smpp_mo_pushed p WHERE p.inbound_id = i.id) \
             ORDER BY i.id LIMIT {}",
            sql::list(backend, 1, accounts.len()),
            sql::param(backend, accounts.len() + 1),
            limit.clamp(1, 10_000)
        );
        let mut q = sqlx::query(&sql);
        for a in accounts {
            q = q.bind(a.get());
        }
        let rows = q.bind(since).fetch_all(&self.read).await?;
        rows.iter()
            .map(|r| {
                Ok(PendingMo {
                    inbound_id: r.try_get("id")?,
                    account: AccountId::new(r.try_get("account_id")?),
                    from: r.try_get("from_number")?,
                    to: r.try_get("to_number")?,
                    body: r.try_get("body")?,
                })
            })
            .collect()
    }

    /// Records that an inbound message reached a bind of this credential.
    pub async fn mark_mo_pushed(
        &self,
        inbound_id: i64,
        credential_id: i64,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO smpp_mo_pushed (inbound_id, credential_id, pushed_at) VALUES ($1, $2, $3) \
             ON CONFLICT (inbound_id) DO NOTHING",
        )
        .bind(inbound_id)
        .bind(credential_id)
        .bind(now)
        .execute(&mut *self.write_conn(crate::Durability::Relaxed).await?)
        .await?;
        Ok(())
    }
}
