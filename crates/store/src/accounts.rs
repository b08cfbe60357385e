//! Accounts, API keys and the credit ledger.

use domain::{AccountId, Money};
use sqlx::Row;

use crate::{Result, Store, StoreError};

/// Credit of an account: what can be spent and what is held for accepted messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balance {
    pub available: Money,
    pub reserved: Money,
}

impl Store {
    /// Creates an account, crediting `credit` as a top-up when above zero.
    pub async fn create_account(
        &self,
        id: AccountId,
        email: &str,
        name: &str,
        credit: Money,
        now: i64,
    ) -> Result<()> {
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let inserted = sqlx::query(
            "INSERT INTO accounts (id, email, name, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (email) DO NOTHING",
        )
        .bind(id.get())
        .bind(email)
        .bind(name)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::Conflict("an account with this e-mail"));
        }
        if credit.hundredths() > 0 {
            ledger_entry(
                &mut tx,
                id,
                "topup",
                credit.hundredths(),
                0,
                "initial credit",
                now,
            )
            .await?;
        }
        crate::audit::record(
            &mut tx,
            &crate::audit::AuditEntry::new(
                "cli",
                "account.create",
                format!("account:{id}"),
                "account created",
            ),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn account_exists(&self, id: AccountId) -> Result<bool> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM accounts WHERE id = $1")
            .bind(id.get())
            .fetch_one(&self.read)
            .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    pub async fn account_by_email(&self, email: &str) -> Result<Option<AccountId>> {
        let row = sqlx::query("SELECT id FROM accounts WHERE email = $1")
            .bind(email)
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| r.try_get::<i64, _>("id").map(AccountId::new))
            .transpose()
            .map_err(Into::into)
    }

    /// Stores an API key by its hash; the key itself is never stored.
    pub async fn create_api_key(
        &self,
        id: i64,
        account: AccountId,
        key_hash: &str,
        prefix: &str,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO api_keys (id, account_id, key_hash, prefix, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(account.get())
        .bind(key_hash)
        .bind(prefix)
        .bind(now)
        .execute(&mut *self.write_conn(crate::Durability::Full).await?)
        .await?;
        Ok(())
    }

    /// Revokes every live key of the account; returns how many.
    pub async fn revoke_api_keys(&self, account: AccountId, now: i64) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(account.get())
        .execute(&mut *self.write_conn(crate::Durability::Full).await?)
        .await?;
        Ok(done.rows_affected())
    }

    /// The account owning a live (not revoked) key with this hash.
    pub async fn account_for_key_hash(&self, key_hash: &str) -> Result<Option<AccountId>> {
        let row = sqlx::query(
            "SELECT account_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
        )
        .bind(key_hash)
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| r.try_get::<i64, _>("account_id").map(AccountId::new))
            .transpose()
            .map_err(Into::into)
    }

    pub async fn balance(&self, account: AccountId) -> Result<Option<Balance>> {
        let row = sqlx::query("SELECT balance_cents, reserved_cents FROM accounts WHERE id = $1")
            .bind(account.get())
            .fetch_optional(&self.read)
            .await?;
        match row {
            None => Ok(None),
            Some(r) => Ok(Some(Balance {
                available: Money::from_hundredths(r.try_get("balance_cents")?),
                reserved: Money::from_hundredths(r.try_get("reserved_cents")?),
            })),
        }
    }

    /// Adds credit (a bank transfer, a staff adjustment).
    pub async fn top_up(
        &self,
        account: AccountId,
        amount: Money,
        reference: &str,
        now: i64,
    ) -> Result<()> {
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        ledger_entry(
            &mut tx,
            account,
            "topup",
            amount.hundredths(),
            0,
            reference,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether the cached balance of the account equals the sums of its ledger.
    pub async fn ledger_consistent(&self, account: AccountId) -> Result<bool> {
        let row = sqlx::query(
            "SELECT a.balance_cents, a.reserved_cents, \
               CAST(COALESCE((SELECT SUM(available_delta) FROM ledger_entries WHERE account_id = a.id), 0) AS BIGINT) AS avail, \
               CAST(COALESCE((SELECT SUM(reserved_delta) FROM ledger_entries WHERE account_id = a.id), 0) AS BIGINT) AS res \
             FROM accounts a WHERE a.id = $1",
        )
        .bind(account.get())
        .fetch_one(&self.write)
        .await?;
        let b: i64 = row.try_get("balance_cents")?;
        let r: i64 = row.try_get("reserved_cents")?;
        let a: i64 = row.try_get("avail")?;
        let rs: i64 = row.try_get("res")?;
        Ok(b == a && r == rs)
    }
}

/// Appends one ledger entry and applies it to the account's cached balance.
pub(crate) async fn ledger_entry(
    conn: &mut sqlx::AnyConnection,
    account: AccountId,
    kind: &str,
    available_delta: i64,
    reserved_delta: i64,
    reference: &str,
    now: i64,
) -> Result<()> {
    let mut batch = crate::sql::Batch::new(crate::backend_of(conn));
    push_ledger_entry(
        &mut batch,
        account,
        kind.to_owned(),
        available_delta,
        reserved_delta,
        reference.to_owned(),
        now,
    );
    batch
        .execute_checked(conn, &format!("the ledger entry of account {account}"))
        .await
}

/// [`ledger_entry`] as two statements of `batch`, expected to change two rows (one if the
/// account is unknown).
pub(crate) fn push_ledger_entry(
    batch: &mut crate::sql::Batch<'_>,
    account: AccountId,
    kind: String,
    available_delta: i64,
    reserved_delta: i64,
    reference: String,
    now: i64,
) {
    let backend = batch.backend();
    let p = |n| crate::sql::param(backend, n);
    batch
        .push(&format!(
            "INSERT INTO ledger_entries (account_id, kind, available_delta, reserved_delta, reference, created_at) \
             VALUES {}",
            crate::sql::rows(backend, 1, 1, 6)
        ))
        .bind(account.get())
        .bind(kind)
        .bind(available_delta)
        .bind(reserved_delta)
        .bind(reference)
        .bind(now);
    batch
        .push(&format!(
            "UPDATE accounts SET balance_cents = balance_cents + {}, reserved_cents = reserved_cents + {} \
             WHERE id = {}",
            p(1),
            p(2),
            p(3)
        ))
        .bind(available_delta)
        .bind(reserved_delta)
        .bind(account.get())
        .expect(2);
}
