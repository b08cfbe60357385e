//! Contact lists: recipients per account with a name, custom fields and the declared basis for
//! commercial messages, filled by streamed CSV imports whose progress and refused rows are kept.
//!
//! An import commits batch by batch; each batch checks its numbers against the Blacklist (one
//! statement per thousand numbers), refuses the blocked ones with their reason, and merges the
//! rest into the list (a number already there is a duplicate, not an error).

use domain::AccountId;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::blacklist::{block_for, entries_for, BlockReason};
use crate::{sql, Result, Store, StoreError};

/// The basis on which an account may send commercial messages to a contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// The recipient consented.
    Consent,
    /// An existing customer (Act 480/2004 § 7(3)).
    Customer,
}

impl Basis {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Consent => "consent",
            Self::Customer => "customer",
        }
    }
    pub fn parse(s: &str) -> Option<Basis> {
        match s {
            "consent" => Some(Self::Consent),
            "customer" => Some(Self::Customer),
            _ => None,
        }
    }
}

fn basis_column(r: &AnyRow) -> Result<Option<Basis>> {
    let b: Option<String> = r.try_get("basis")?;
    b.map(|b| Basis::parse(&b).ok_or_else(|| StoreError::Corrupt(format!("basis {b:?}"))))
        .transpose()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactList {
    pub id: i64,
    pub account: AccountId,
    pub name: String,
    pub contacts: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// E.164.
    pub number: String,
    pub name: Option<String>,
    /// Custom fields as a JSON object, as the API gave them.
    pub fields: Option<String>,
    pub basis: Option<Basis>,
}

/// One valid row of an upload.
#[derive(Debug, Clone)]
pub struct ImportRow {
    /// 1-based line of the data (the header is row 0).
    pub row: i64,
    pub contact: Contact,
}

/// A row an import refused, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReject {
    pub row: i64,
    /// The value as written (`None` for a number whose data was erased).
    pub value: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportStatus {
    Running,
    Done,
    Failed,
}

impl ImportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRecord {
    pub id: i64,
    pub list_id: i64,
    pub basis: Option<Basis>,
    pub status: ImportStatus,
    pub rows_read: i64,
    pub imported: i64,
    pub duplicates: i64,
    pub rejected: i64,
    pub blocked: i64,
    pub error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

fn import_from_row(r: &AnyRow) -> Result<ImportRecord> {
    let status: String = r.try_get("status")?;
    Ok(ImportRecord {
        id: r.try_get("id")?,
        list_id: r.try_get("list_id")?,
        basis: basis_column(r)?,
        status: match status.as_str() {
            "running" => ImportStatus::Running,
            "done" => ImportStatus::Done,
            "failed" => ImportStatus::Failed,
            other => return Err(StoreError::Corrupt(format!("import status {other:?}"))),
        },
        rows_read: r.try_get("rows_read")?,
        imported: r.try_get("imported")?,
        duplicates: r.try_get("duplicates")?,
        rejected: r.try_get("rejected")?,
        blocked: r.try_get("blocked")?,
        error: r.try_get("error")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

const IMPORT_COLUMNS: &str =
    "id, list_id, basis, status, rows_read, imported, duplicates, rejected, blocked, \
     error, created_at, updated_at";

fn list_from_row(r: &AnyRow) -> Result<ContactList> {
    Ok(ContactList {
        id: r.try_get("id")?,
        account: AccountId::new(r.try_get("account_id")?),
        name: r.try_get("name")?,
        contacts: r.try_get("n")?,
        created_at: r.try_get("created_at")?,
    })
}

const LIST_SELECT: &str = "SELECT l.id, l.account_id, l.name, l.created_at, \
     CAST((SELECT COUNT(*) FROM contacts c WHERE c.list_id = l.id) AS BIGINT) AS n FROM contact_lists l";

/// What one import batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    pub imported: u64,
    pub duplicates: u64,
    pub blocked: u64,
}

impl Store {
    pub async fn create_contact_list(
        &self,
        id: i64,
        account: AccountId,
        name: &str,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO contact_lists (id, account_id, name, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(account.get())
        .bind(name)
        .bind(now)
        .execute(&mut *self.write_conn(crate::Durability::Full).await?)
        .await?;
        Ok(())
    }

    /// The account's lists, newest first, below the cursor id `before`.
    pub async fn contact_lists(
        &self,
        account: AccountId,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<ContactList>> {
        let sql = format!(
            "{LIST_SELECT} WHERE l.account_id = $1 AND l.id < $2 ORDER BY l.id DESC LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(account.get())
            .bind(before.unwrap_or(i64::MAX))
            .bind(i64::from(limit.clamp(1, 1000)))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(list_from_row).collect()
    }

    pub async fn contact_list(&self, account: AccountId, id: i64) -> Result<Option<ContactList>> {
        let sql = format!("{LIST_SELECT} WHERE l.account_id = $1 AND l.id = $2");
        let row = sqlx::query(&sql)
            .bind(account.get())
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(list_from_row).transpose()
    }

    pub async fn rename_contact_list(
        &self,
        account: AccountId,
        id: i64,
        name: &str,
    ) -> Result<bool> {
        let done =
            sqlx::query("UPDATE contact_lists SET name = $1 WHERE id = $2 AND account_id = $3")
                .bind(name)
                .bind(id)
                .bind(account.get())
                .execute(&mut *self.write_conn(crate::Durability::Full).await?)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes a list with its contacts and import reports.
    pub async fn delete_contact_list(&self, account: AccountId, id: i64) -> Result<bool> {
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let owned = sqlx::query("SELECT id FROM contact_lists WHERE id = $1 AND account_id = $2")
            .bind(id)
            .bind(account.get())
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !owned {
            return Ok(false);
        }
        sqlx::query("DELETE FROM contacts WHERE list_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "DELETE FROM contact_import_rejects WHERE import_id IN (SELECT id FROM contact_imports WHERE list_id = $1)",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM contact_imports WHERE list_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM contact_lists WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Contacts of a list ordered by number, after the number `after`.
    pub async fn contacts(
        &self,
        list_id: i64,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Contact>> {
        let rows = sqlx::query(
            "SELECT number, name, fields, basis FROM contacts WHERE list_id = $1 AND number > $2 \
             ORDER BY number LIMIT $3",
        )
        .bind(list_id)
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit.clamp(1, 100_000)))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Contact {
                    number: r.try_get("number")?,
                    name: r.try_get("name")?,
                    fields: r.try_get("fields")?,
                    basis: basis_column(r)?,
                })
            })
            .collect()
    }

    pub async fn delete_contact(&self, list_id: i64, number: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM contacts WHERE list_id = $1 AND number = $2")
            .bind(list_id)
            .bind(number)
            .execute(&mut *self.write_conn(crate::Durability::Full).await?)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Records the start of an import into a list of the account.
    pub async fn start_import(
        &self,
        id: i64,
        account: AccountId,
        list_id: i64,
        basis: Option<Basis>,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO contact_imports (id, list_id, account_id, basis, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'running', $5, $5)",
        )
        .bind(id)
        .bind(list_id)
        .bind(account.get())
        .bind(basis.map(Basis::as_str))
        .bind(now)
        .execute(&mut *self.write_conn(crate::Durability::Full).await?)
        .await?;
        Ok(())
    }

    /// Commits one batch of an import: the valid rows (distinct numbers) go into the list unless
    /// blocked for the account; refused rows are recorded; the counters advance.
    #[allow(clippy::too_many_arguments)]
    pub async fn import_batch(
        &self,
        import_id: i64,
        account: AccountId,
        list_id: i64,
        rows: &[ImportRow],
        rejects: &[ImportReject],
        rows_read: i64,
        now: i64,
    ) -> Result<BatchOutcome> {
        let hashes: Vec<String> = rows
            .iter()
            .map(|r| self.key.hash(&r.contact.number))
            .collect();
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let refs: Vec<&str> = hashes.iter().map(String::as_str).collect();
        let blocks = entries_for(self.backend, &mut tx, &refs).await?;
        let mut keep: Vec<&ImportRow> = Vec::with_capacity(rows.len());
        let mut refused: Vec<ImportReject> = rejects.to_vec();
        let mut outcome = BatchOutcome::default();
        for (row, hash) in rows.iter().zip(&hashes) {
            match block_for(&blocks, hash, account) {
                None => keep.push(row),
                Some(reason) => {
                    outcome.blocked += 1;
                    refused.push(ImportReject {
                        row: row.row,
                        value: (reason != BlockReason::Erased).then(|| row.contact.number.clone()),
                        reason: reason.text().to_owned(),
                    });
                }
            }
        }
        for chunk in keep.chunks(500) {
            let sql = format!(
                "INSERT INTO contacts (list_id, account_id, number, name, fields, basis, created_at) VALUES {} \
                 ON CONFLICT (list_id, number) DO NOTHING RETURNING number",
                sql::rows(self.backend, 1, chunk.len(), 7)
            );
            let mut q = sqlx::query(&sql);
            for r in chunk {
                q = q
                    .bind(list_id)
                    .bind(account.get())
                    .bind(r.contact.number.as_str())
                    .bind(r.contact.name.as_deref())
                    .bind(r.contact.fields.as_deref())
                    .bind(r.contact.basis.map(Basis::as_str))
                    .bind(now);
            }
            let inserted = q.fetch_all(&mut *tx).await?.len() as u64;
            outcome.imported += inserted;
            outcome.duplicates += chunk.len() as u64 - inserted;
        }
        for chunk in refused.chunks(1000) {
            let sql = format!(
                "INSERT INTO contact_import_rejects (import_id, row_number, value, reason) VALUES {} \
                 ON CONFLICT (import_id, row_number) DO NOTHING",
                sql::rows(self.backend, 1, chunk.len(), 4)
            );
            let mut q = sqlx::query(&sql);
            for r in chunk {
                q = q
                    .bind(import_id)
                    .bind(r.row)
                    .bind(r.value.as_deref())
                    .bind(r.reason.as_str());
            }
            q.execute(&mut *tx).await?;
        }
        sqlx::query(
            "UPDATE contact_imports SET rows_read = $1, imported = imported + $2, duplicates = duplicates + $3, \
             rejected = rejected + $4, blocked = blocked + $5, updated_at = $6 WHERE id = $7",
        )
        .bind(rows_read)
        .bind(outcome.imported as i64)
        .bind(outcome.duplicates as i64)
        .bind(rejects.len() as i64)
        .bind(outcome.blocked as i64)
        .bind(now)
        .bind(import_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Ends an import: `Done`, or `Failed` with the reason.
    pub async fn finish_import(&self, import_id: i64, error: Option<&str>, now: i64) -> Result<()> {
        let status = if error.is_some() {
            ImportStatus::Failed
        } else {
            ImportStatus::Done
        };
        sqlx::query(
            "UPDATE contact_imports SET status = $1, error = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(status.as_str())
        .bind(error)
        .bind(now)
        .bind(import_id)
        .execute(&mut *self.write_conn(crate::Durability::Full).await?)
        .await?;
        Ok(())
    }

    /// Marks imports still `running` but untouched since `before` as failed (their upload
    /// ended with the process that took it); what they committed stays. Returns how many.
    pub async fn fail_interrupted_imports(&self, before: i64, now: i64) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE contact_imports SET status = 'failed', \
             error = 'interrupted: the upload ended with the server; the rows up to rows_read were kept', \
             updated_at = $1 WHERE status = 'running' AND updated_at < $2",
        )
        .bind(now)
        .bind(before)
        .execute(&mut *self.write_conn(crate::Durability::Full).await?)
        .await?;
        Ok(done.rows_affected())
    }

    pub async fn contact_import(
        &self,
        account: AccountId,
        list_id: i64,
        import_id: i64,
    ) -> Result<Option<ImportRecord>> {
        let sql = format!(
            "SELECT {IMPORT_COLUMNS} FROM contact_imports WHERE id = $1 AND list_id = $2 AND account_id = $3"
        );
        let row = sqlx::query(&sql)
            .bind(import_id)
            .bind(list_id)
            .bind(account.get())
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(import_from_row).transpose()
    }

    /// The imports of a list, newest first.
    pub async fn contact_imports(
        &self,
        account: AccountId,
        list_id: i64,
    ) -> Result<Vec<ImportRecord>> {
        let sql = format!(
            "SELECT {IMPORT_COLUMNS} FROM contact_imports WHERE list_id = $1 AND account_id = $2 \
             ORDER BY id DESC LIMIT 100"
        );
        let rows = sqlx::query(&sql)
            .bind(list_id)
            .bind(account.get())
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(import_from_row).collect()
    }

    /// The refused rows of an import in row order, after row `after`.
    pub async fn import_rejects(
        &self,
        import_id: i64,
        after: i64,
        limit: u32,
    ) -> Result<Vec<ImportReject>> {
        let rows = sqlx::query(
            "SELECT row_number, value, reason FROM contact_import_rejects WHERE import_id = $1 \
             AND row_number > $2 ORDER BY row_number LIMIT $3",
        )
        .bind(import_id)
        .bind(after)
        .bind(i64::from(limit.clamp(1, 1000)))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ImportReject {
                    row: r.try_get("row_number")?,
                    value: r.try_get("value")?,
                    reason: r.try_get("reason")?,
                })
            })
            .collect()
    }

    /// The account's identification and default opt-out line for commercial messages.
    pub async fn marketing_texts(
        &self,
        account: AccountId,
    ) -> Result<(Option<String>, Option<String>)> {
        let row = sqlx::query("SELECT identification, optout_line FROM accounts WHERE id = $1")
            .bind(account.get())
            .fetch_optional(&self.read)
            .await?;
        match row {
            None => Ok((None, None)),
            Some(r) => Ok((r.try_get("identification")?, r.try_get("optout_line")?)),
        }
    }

    pub async fn set_marketing_texts(
        &self,
        account: AccountId,
        identification: Option<&str>,
        optout_line: Option<&str>,
    ) -> Result<()> {
        sqlx::query("UPDATE accounts SET identification = $1, optout_line = $2 WHERE id = $3")
            .bind(identification)
            .bind(optout_line)
            .bind(account.get())
            .execute(&mut *self.write_conn(crate::Durability::Full).await?)
            .await?;
        Ok(())
    }

    /// Whether the account is the operator's staff (may erase and restrict recipients).
    pub async fn is_staff(&self, account: AccountId) -> Result<bool> {
        let row = sqlx::query("SELECT staff FROM accounts WHERE id = $1")
            .bind(account.get())
            .fetch_optional(&self.read)
            .await?;
        Ok(match row {
            Some(r) => r.try_get::<i64, _>("staff")? != 0,
            None => false,
        })
    }

    pub async fn set_staff(&self, account: AccountId, staff: bool) -> Result<()> {
        sqlx::query("UPDATE accounts SET staff = $1 WHERE id = $2")
            .bind(i64::from(staff))
            .bind(account.get())
            .execute(&mut *self.write_conn(crate::Durability::Full).await?)
            .await?;
        Ok(())
    }
}
