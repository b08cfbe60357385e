//! The end of a customer's contract (issue 6, seed clause 4): the start event of two retention
//! periods, the customer record's 10 years and marketing to the former customer's 1 year.
//!
//! Closing an account (by the customer or by staff) records the end on the account
//! (`contract_ended_at`) and in the audit log, in one transaction, and revokes its API keys: the
//! service ends with the contract. Reopening clears the end (a new contract runs) and is
//! audited too. The retention job ([`crate::retention`]) acts on the recorded end.

use domain::AccountId;
use sqlx::Row;

use crate::audit::{self, AuditEntry};
use crate::{Result, Store};

impl Store {
    /// Ends the account's contract now. `false` when there is no such account or it is closed.
    pub async fn close_account(
        &self,
        account: AccountId,
        actor: &str,
        reason: &str,
        now: i64,
    ) -> Result<bool> {
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let n = sqlx::query(
            "UPDATE accounts SET contract_ended_at = $1 WHERE id = $2 AND contract_ended_at IS NULL \
             AND record_erased_at IS NULL",
        )
        .bind(now)
        .bind(account.get())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        let keys = sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(account.get())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        audit::record(
            &mut tx,
            &AuditEntry::new(actor, "contract.end", format!("account:{account}"), reason)
                .details(format!("api_keys_revoked={keys}")),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Reopens a closed account: its contract runs again and the recorded end is cleared.
    /// `false` when it is not closed, or the retention job already erased its record.
    pub async fn reopen_account(
        &self,
        account: AccountId,
        actor: &str,
        reason: &str,
        now: i64,
    ) -> Result<bool> {
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let n = sqlx::query(
            "UPDATE accounts SET contract_ended_at = NULL, marketing_ended_at = NULL WHERE id = $1 \
             AND contract_ended_at IS NOT NULL AND record_erased_at IS NULL",
        )
        .bind(account.get())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        audit::record(
            &mut tx,
            &AuditEntry::new(
                actor,
                "contract.reopen",
                format!("account:{account}"),
                reason,
            ),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// When the account's contract ended (`None` while it runs).
    pub async fn contract_ended_at(&self, account: AccountId) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT contract_ended_at FROM accounts WHERE id = $1")
            .bind(account.get())
            .fetch_optional(&self.read)
            .await?;
        Ok(match row {
            Some(r) => r.try_get("contract_ended_at")?,
            None => None,
        })
    }
}
