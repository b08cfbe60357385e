//! Restriction of processing (Art. 18, seed clause 7.5) and rectification (Art. 16, clause 7.2)
//! of a customer's data (issue 6).
//!
//! While a restriction stands, the customer's data are stored and nothing else processes them
//! but what clause 7.5 allows. The code enforces it where the operator would process them:
//! - staff views of the customer's personal data (the back office's customer list) show them
//!   to the DPO only; other staff see that processing is restricted;
//! - marketing to the customer stops (the audience of marketing e-mails leaves them out, and a
//!   campaign queued meanwhile skips them).
//!
//! What clause 7.5 allows goes on: the service the customer uses and pays for (sending,
//! invoices, the customer's own access to their data, support they ask for) is processing with
//! their consent, and debt collection (the debtor lists) is the defence of legal claims.
//! Granting and lifting are each audited; lifting needs a reason.
//!
//! Rectification changes the customer's identification, contact and invoice details, by the
//! customer in the app or by staff on a request; the audit entry names the fields changed,
//! never their values.

use domain::AccountId;
use sqlx::Row;

use crate::audit::{self, AuditEntry};
use crate::{Result, Store, StoreError};

/// A standing restriction of processing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restriction {
    pub id: i64,
    pub user_id: i64,
    pub account: AccountId,
    pub request_id: Option<i64>,
    pub reason: String,
    pub created_by: String,
    pub created_at: i64,
}

/// A customer's details as they should be: the web user's identification and contact data
/// and the account's invoice details. Empty optional fields are stored as NULL.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PersonalDetails {
    pub full_name: String,
    pub email: String,
    pub company: Option<String>,
    pub ico: Option<String>,
    pub dic: Option<String>,
    pub address: String,
    pub phone: Option<String>,
    pub billing_name: Option<String>,
    pub billing_address: Option<String>,
    pub billing_ico: Option<String>,
    pub billing_dic: Option<String>,
}

/// What a rectification changed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rectified {
    /// Names of the fields changed.
    pub fields: Vec<&'static str>,
    /// The e-mail changed: the new address must be confirmed before the next sign-in.
    pub email_changed: bool,
}

fn restriction_from_row(r: &sqlx::any::AnyRow) -> Result<Restriction> {
    Ok(Restriction {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        account: AccountId::new(r.try_get("account_id")?),
        request_id: r.try_get("request_id")?,
        reason: r.try_get("reason")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
    })
}

const RESTRICTION_COLUMNS: &str =
    "id, user_id, account_id, request_id, reason, created_by, created_at";

fn blank_to_none(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl Store {
    /// Restricts the processing of a customer's data, granting their request `request` (or
    /// staff's decision with `reason`). `None` when there is no such user; a standing
    /// restriction is returned as it is.
    pub async fn restrict_processing(
        &self,
        user_id: i64,
        request: Option<i64>,
        reason: &str,
        actor: &str,
        now: i64,
    ) -> Result<Option<i64>> {
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let Some(account) = sqlx::query("SELECT account_id FROM web_users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get::<i64, _>("account_id"))
            .transpose()?
        else {
            return Ok(None);
        };
        let standing = sqlx::query(
            "SELECT id FROM processing_restrictions WHERE user_id = $1 AND lifted_at IS NULL",
        )
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(r) = standing {
            return Ok(Some(r.try_get("id")?));
        }
        let id: i64 = sqlx::query(
            "INSERT INTO processing_restrictions (user_id, account_id, request_id, reason, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(user_id)
        .bind(account)
        .bind(request)
        .bind(reason)
        .bind(actor)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        audit::record(
            &mut tx,
            &AuditEntry::new(
                actor,
                "restriction.grant",
                format!("user:{user_id}"),
                reason,
            )
            .details(format!(
                "restriction={id} account={account} request={}",
                request.map_or("-".to_owned(), |r| r.to_string())
            )),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    /// Lifts a standing restriction, with the reason (the subject was told beforehand, Art.
    /// 18(3)). `false` when it is not standing or no reason is given.
    pub async fn lift_processing_restriction(
        &self,
        id: i64,
        reason: &str,
        actor: &str,
        now: i64,
    ) -> Result<bool> {
        if reason.trim().is_empty() {
            return Ok(false);
        }
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let row = sqlx::query(
            "UPDATE processing_restrictions SET lifted_at = $1, lifted_by = $2, lift_reason = $3 \
             WHERE id = $4 AND lifted_at IS NULL RETURNING user_id",
        )
        .bind(now)
        .bind(actor)
        .bind(reason.trim())
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        let user: i64 = row.try_get("user_id")?;
        audit::record(
            &mut tx,
            &AuditEntry::new(
                actor,
                "restriction.lift",
                format!("user:{user}"),
                reason.trim(),
            )
            .details(format!("restriction={id}")),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Standing restrictions, oldest first.
    pub async fn restrictions(&self) -> Result<Vec<Restriction>> {
        let sql = format!(
            "SELECT {RESTRICTION_COLUMNS} FROM processing_restrictions WHERE lifted_at IS NULL ORDER BY id"
        );
        let rows = sqlx::query(&sql).fetch_all(&self.read).await?;
        rows.iter().map(restriction_from_row).collect()
    }

    /// The standing restriction of an account's data, if any.
    pub async fn restriction_of(&self, account: AccountId) -> Result<Option<Restriction>> {
        let sql = format!(
            "SELECT {RESTRICTION_COLUMNS} FROM processing_restrictions WHERE account_id = $1 \
             AND lifted_at IS NULL ORDER BY id LIMIT 1"
        );
        let row = sqlx::query(&sql)
            .bind(account.get())
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(restriction_from_row).transpose()
    }

    /// Corrects a customer's details (`reason`: `app` when the customer does it, `dsr:ID` for
    /// staff acting on a request). Only changed fields are written; a new e-mail must be
    /// confirmed again. `None` when there is no such user; a `Conflict` when the e-mail is
    /// another account's.
    pub async fn rectify(
        &self,
        user_id: i64,
        d: &PersonalDetails,
        actor: &str,
        reason: &str,
        now: i64,
    ) -> Result<Option<Rectified>> {
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let Some(u) = sqlx::query(
            "SELECT account_id, email, full_name, company, ico, dic, address, phone FROM web_users WHERE id = $1",
        )
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(None);
        };
        let account: i64 = u.try_get("account_id")?;
        let old_email: String = u.try_get("email")?;
        let email = d.email.trim().to_lowercase();
        let mut out = Rectified::default();
        if email != old_email {
            let taken: i64 = sqlx::query(
                "SELECT (SELECT COUNT(*) FROM accounts WHERE email = $1 AND id <> $2) + \
                        (SELECT COUNT(*) FROM web_users WHERE email = $1 AND id <> $3) AS n",
            )
            .bind(email.as_str())
            .bind(account)
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
            if taken > 0 {
                return Err(StoreError::Conflict("an account with this e-mail"));
            }
            sqlx::query("UPDATE web_users SET email = $1, email_verified_at = NULL WHERE id = $2")
                .bind(email.as_str())
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE accounts SET email = $1 WHERE id = $2 AND email = $3")
                .bind(email.as_str())
                .bind(account)
                .bind(old_email.as_str())
                .execute(&mut *tx)
                .await?;
            out.fields.push("email");
            out.email_changed = true;
        }
        let required = [
            ("full_name", d.full_name.trim()),
            ("address", d.address.trim()),
        ];
        for (col, new) in required {
            let old: String = u.try_get(col)?;
            if !new.is_empty() && new != old {
                let sql = format!("UPDATE web_users SET {col} = $1 WHERE id = $2");
                sqlx::query(&sql)
                    .bind(new)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                if col == "full_name" {
                    // A person's account is named after them.
                    sqlx::query("UPDATE accounts SET name = $1 WHERE id = $2 AND name = $3")
                        .bind(new)
                        .bind(account)
                        .bind(old.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
                out.fields.push(col);
            }
        }
        let optional = [
            ("company", blank_to_none(&d.company)),
            ("ico", blank_to_none(&d.ico)),
            ("dic", blank_to_none(&d.dic)),
            ("phone", blank_to_none(&d.phone)),
        ];
        for (col, new) in optional {
            let old: Option<String> = u.try_get(col)?;
            if set_if_changed(
                &mut tx,
                "web_users",
                "id",
                user_id,
                col,
                old.as_deref(),
                new,
            )
            .await?
            {
                out.fields.push(col);
            }
        }
        crate::billing::ensure_billing_account(&mut tx, AccountId::new(account), now).await?;
        let b = sqlx::query(
            "SELECT customer_name, customer_address, customer_ico, customer_dic FROM billing_accounts WHERE account_id = $1",
        )
        .bind(account)
        .fetch_one(&mut *tx)
        .await?;
        let billing = [
            (
                "customer_name",
                "billing_name",
                blank_to_none(&d.billing_name),
            ),
            (
                "customer_address",
                "billing_address",
                blank_to_none(&d.billing_address),
            ),
            ("customer_ico", "billing_ico", blank_to_none(&d.billing_ico)),
            ("customer_dic", "billing_dic", blank_to_none(&d.billing_dic)),
        ];
        for (col, field, new) in billing {
            let old: Option<String> = b.try_get(col)?;
            let changed = set_if_changed(
                &mut tx,
                "billing_accounts",
                "account_id",
                account,
                col,
                old.as_deref(),
                new,
            )
            .await?;
            if changed {
                out.fields.push(field);
            }
        }
        if !out.fields.is_empty() {
            audit::record(
                &mut tx,
                &AuditEntry::new(actor, "dsr.rectify", format!("user:{user_id}"), reason)
                    .details(format!("fields={}", out.fields.join(","))),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(Some(out))
    }
}

/// Sets `col` of the `table` row whose `key_col` is `key` to `new` when it is not `old` already
/// (the names are this module's constants); true when it changed.
async fn set_if_changed(
    conn: &mut sqlx::AnyConnection,
    table: &str,
    key_col: &str,
    key: i64,
    col: &str,
    old: Option<&str>,
    new: Option<&str>,
) -> Result<bool> {
    if new == old {
        return Ok(false);
    }
    let sql = format!("UPDATE {table} SET {col} = $1 WHERE {key_col} = $2");
    sqlx::query(&sql)
        .bind(new)
        .bind(key)
        .execute(&mut *conn)
        .await?;
    Ok(true)
}
