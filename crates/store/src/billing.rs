//! Billing data of accounts: price lists and the prices in force, the account's variable
//! symbol and invoice details, the low-credit threshold, payment requests (top-ups), and the
//! gap-free counters that number variable symbols and invoice series.

use billing::PriceEntry;
use domain::{AccountId, Money};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{Backend, Durability, Result, Store, StoreError};

/// Variable symbols are numbered from here: eight digits, no leading zero to lose.
const FIRST_VARIABLE_SYMBOL: i64 = 10_000_001;

/// The billing details of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingAccount {
    pub account: AccountId,
    /// Unique to the account and never changed.
    pub variable_symbol: String,
    pub customer_name: Option<String>,
    pub customer_address: Option<String>,
    pub customer_ico: Option<String>,
    pub customer_dic: Option<String>,
    pub low_credit: Option<Money>,
    pub low_credit_notified_at: Option<i64>,
    /// A postpaid account may spend down to `-credit_limit` and is invoiced monthly for usage.
    pub postpaid: bool,
    /// The credit line of a postpaid account (zero for a prepaid one).
    pub credit_limit: Money,
}

/// The customer's details printed on invoices; `None` leaves a field empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerDetails {
    pub name: Option<String>,
    pub address: Option<String>,
    pub ico: Option<String>,
    pub dic: Option<String>,
}

/// A new price list version.
#[derive(Debug, Clone)]
pub struct NewPriceList {
    /// `None` for the public list, else the account's own prices.
    pub account: Option<AccountId>,
    pub name: String,
    pub valid_from: i64,
    pub valid_until: Option<i64>,
    pub entries: Vec<PriceEntry>,
}

/// The price lists in force for an account at one time.
#[derive(Debug, Clone, Default)]
pub struct PricesInForce {
    pub account: Vec<PriceEntry>,
    pub public: Vec<PriceEntry>,
    /// The next time a list that concerns the account starts or ends: until then these
    /// prices hold (unless staff add a list).
    pub next_change: Option<i64>,
}

/// A payment request as it was shown to the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopUp {
    pub id: i64,
    pub account: AccountId,
    pub amount: Money,
    pub variable_symbol: String,
    pub iban: String,
    /// YYYY-MM-DD.
    pub due_date: String,
    pub spayd: String,
    pub created_at: i64,
}

/// What the caller fills in for a new [`TopUp`]; the store adds id and variable symbol.
#[derive(Debug, Clone)]
pub struct NewTopUp {
    pub account: AccountId,
    pub amount: Money,
    pub iban: String,
    pub due_date: String,
}

const BILLING_COLUMNS: &str = "account_id, variable_symbol, customer_name, customer_address, \
     customer_ico, customer_dic, low_credit_cents, low_credit_notified_at, postpaid, credit_limit_cents";

fn billing_from_row(r: &AnyRow) -> Result<BillingAccount> {
    Ok(BillingAccount {
        account: AccountId::new(r.try_get("account_id")?),
        variable_symbol: r.try_get("variable_symbol")?,
        customer_name: r.try_get("customer_name")?,
        customer_address: r.try_get("customer_address")?,
        customer_ico: r.try_get("customer_ico")?,
        customer_dic: r.try_get("customer_dic")?,
        low_credit: r
            .try_get::<Option<i64>, _>("low_credit_cents")?
            .map(Money::from_hundredths),
        low_credit_notified_at: r.try_get("low_credit_notified_at")?,
        postpaid: r.try_get::<i64, _>("postpaid")? != 0,
        credit_limit: Money::from_hundredths(r.try_get("credit_limit_cents")?),
    })
}

fn top_up_from_row(r: &AnyRow) -> Result<TopUp> {
    Ok(TopUp {
        id: r.try_get("id")?,
        account: AccountId::new(r.try_get("account_id")?),
        amount: Money::from_hundredths(r.try_get("amount_cents")?),
        variable_symbol: r.try_get("variable_symbol")?,
        iban: r.try_get("iban")?,
        due_date: r.try_get("due_date")?,
        spayd: r.try_get("spayd")?,
        created_at: r.try_get("created_at")?,
    })
}

/// The next value of a named counter, allocated in the caller's transaction: a rollback gives
/// the number back, so a series has no gaps. On PostgreSQL the row lock orders concurrent
/// transactions; SQLite has one writer.
pub(crate) async fn next_counter(
    conn: &mut sqlx::AnyConnection,
    name: &str,
    first: i64,
) -> Result<i64> {
    sqlx::query(
        "INSERT INTO billing_counters (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(first - 1)
    .execute(&mut *conn)
    .await?;
    let row = sqlx::query(
        "UPDATE billing_counters SET value = value + 1 WHERE name = $1 RETURNING value",
    )
    .bind(name)
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get("value")?)
}

/// The account's billing row, created with a new variable symbol on first use.
pub(crate) async fn ensure_billing_account(
    conn: &mut sqlx::AnyConnection,
    account: AccountId,
    now: i64,
) -> Result<BillingAccount> {
    let sql = format!("SELECT {BILLING_COLUMNS} FROM billing_accounts WHERE account_id = $1");
    if let Some(row) = sqlx::query(&sql)
        .bind(account.get())
        .fetch_optional(&mut *conn)
        .await?
    {
        return billing_from_row(&row);
    }
    let exists = sqlx::query("SELECT id FROM accounts WHERE id = $1")
        .bind(account.get())
        .fetch_optional(&mut *conn)
        .await?;
    if exists.is_none() {
        return Err(StoreError::Billing(format!("no account {account}")));
    }
    let vs = next_counter(conn, "variable_symbol", FIRST_VARIABLE_SYMBOL).await?;
    sqlx::query(
        "INSERT INTO billing_accounts (account_id, variable_symbol, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (account_id) DO NOTHING",
    )
    .bind(account.get())
    .bind(vs.to_string())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let row = sqlx::query(&sql)
        .bind(account.get())
        .fetch_one(&mut *conn)
        .await?;
    billing_from_row(&row)
}

impl Store {
    /// The account's billing details; the first call gives the account its variable symbol.
    pub async fn billing_account(&self, account: AccountId, now: i64) -> Result<BillingAccount> {
        let sql = format!("SELECT {BILLING_COLUMNS} FROM billing_accounts WHERE account_id = $1");
        if let Some(row) = sqlx::query(&sql)
            .bind(account.get())
            .fetch_optional(&self.read)
            .await?
        {
            return billing_from_row(&row);
        }
        let mut conn = self.write_conn(Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let b = ensure_billing_account(&mut tx, account, now).await?;
        tx.commit().await?;
        Ok(b)
    }

    /// The account whose variable symbol this is (compared without leading zeros).
    pub async fn account_by_variable_symbol(&self, vs: &str) -> Result<Option<AccountId>> {
        let vs = vs.trim_start_matches('0');
        let row = sqlx::query("SELECT account_id FROM billing_accounts WHERE variable_symbol = $1")
            .bind(vs)
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| r.try_get::<i64, _>("account_id").map(AccountId::new))
            .transpose()
            .map_err(Into::into)
    }

    /// Sets the customer's invoice details (used on invoices issued from now on).
    pub async fn set_customer_details(
        &self,
        account: AccountId,
        details: &CustomerDetails,
        now: i64,
    ) -> Result<()> {
        let mut conn = self.write_conn(Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        ensure_billing_account(&mut tx, account, now).await?;
        sqlx::query(
            "UPDATE billing_accounts SET customer_name = $1, customer_address = $2, customer_ico = $3, \
             customer_dic = $4 WHERE account_id = $5",
        )
        .bind(details.name.as_deref())
        .bind(details.address.as_deref())
        .bind(details.ico.as_deref())
        .bind(details.dic.as_deref())
        .bind(account.get())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets (or with `None` clears) the threshold under which the customer is told the credit
    /// is low; the next notification may go out at once.
    pub async fn set_low_credit(
        &self,
        account: AccountId,
        threshold: Option<Money>,
        now: i64,
    ) -> Result<BillingAccount> {
        let mut conn = self.write_conn(Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        ensure_billing_account(&mut tx, account, now).await?;
        sqlx::query(
            "UPDATE billing_accounts SET low_credit_cents = $1, low_credit_notified_at = NULL \
             WHERE account_id = $2",
        )
        .bind(threshold.map(Money::hundredths))
        .bind(account.get())
        .execute(&mut *tx)
        .await?;
        let b = ensure_billing_account(&mut tx, account, now).await?;
        tx.commit().await?;
        Ok(b)
    }

    /// Accounts whose available credit (the customer's balance: a postpaid account's credit
    /// line not counted) is under their threshold and who were not told since it was last set
    /// or the credit last rose above it: (account, e-mail, available, threshold).
    pub async fn low_credit_due(&self) -> Result<Vec<(AccountId, String, Money, Money)>> {
        let rows = sqlx::query(
            "SELECT a.id, a.email, a.balance_cents - b.credit_limit_cents AS balance_cents, \
             b.low_credit_cents FROM billing_accounts b \
             JOIN accounts a ON a.id = b.account_id \
             WHERE b.low_credit_cents IS NOT NULL AND b.low_credit_notified_at IS NULL \
               AND a.balance_cents - b.credit_limit_cents < b.low_credit_cents ORDER BY a.id",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    AccountId::new(r.try_get("id")?),
                    r.try_get("email")?,
                    Money::from_hundredths(r.try_get("balance_cents")?),
                    Money::from_hundredths(r.try_get("low_credit_cents")?),
                ))
            })
            .collect()
    }

    /// Re-arms the low-credit notice of accounts whose credit is back at or above their
    /// threshold; returns how many.
    pub async fn rearm_low_credit(&self) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE billing_accounts SET low_credit_notified_at = NULL \
             WHERE low_credit_notified_at IS NOT NULL AND low_credit_cents IS NOT NULL \
               AND low_credit_cents <= (SELECT a.balance_cents FROM accounts a WHERE a.id = billing_accounts.account_id) \
                 - credit_limit_cents",
        )
        .execute(&mut *self.write_conn(Durability::Full).await?)
        .await?;
        Ok(done.rows_affected())
    }

    /// Records that the low-credit notice went out.
    pub async fn mark_low_credit_notified(&self, account: AccountId, now: i64) -> Result<()> {
        sqlx::query(
            "UPDATE billing_accounts SET low_credit_notified_at = $1 WHERE account_id = $2",
        )
        .bind(now)
        .bind(account.get())
        .execute(&mut *self.write_conn(Durability::Full).await?)
        .await?;
        Ok(())
    }

    /// Stores a price list version with its entries; returns its id.
    pub async fn create_price_list(&self, list: &NewPriceList, now: i64) -> Result<i64> {
        if let Some(bad) = list
            .entries
            .iter()
            .find(|e| !e.prefix.bytes().all(|b| b.is_ascii_digit()) || e.per_segment.is_negative())
        {
            return Err(StoreError::Billing(format!(
                "price list entry {:?} {}: a prefix is E.164 digits and a price is not negative",
                bad.prefix, bad.per_segment
            )));
        }
        let mut conn = self.write_conn(Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let row = sqlx::query(
            "INSERT INTO price_lists (account_id, name, valid_from, valid_until, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(list.account.map(AccountId::get))
        .bind(list.name.as_str())
        .bind(list.valid_from)
        .bind(list.valid_until)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get("id")?;
        for e in &list.entries {
            let done = sqlx::query(
                "INSERT INTO price_list_entries (price_list_id, prefix, per_segment_cents) VALUES ($1, $2, $3) \
                 ON CONFLICT (price_list_id, prefix) DO NOTHING",
            )
            .bind(id)
            .bind(e.prefix.as_str())
            .bind(e.per_segment.hundredths())
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Billing(format!(
                    "prefix {:?} appears twice in the price list",
                    e.prefix
                )));
            }
        }
        tx.commit().await?;
        Ok(id)
    }

    /// The account's own list and the public list in force at `at`: of the versions valid then,
    /// the one with the latest start.
    pub async fn prices_in_force(&self, account: AccountId, at: i64) -> Result<PricesInForce> {
        let rows = sqlx::query(
            "SELECT l.account_id, e.prefix, e.per_segment_cents FROM price_list_entries e \
             JOIN price_lists l ON l.id = e.price_list_id \
             WHERE l.id IN ( \
               SELECT (SELECT p.id FROM price_lists p \
                        WHERE p.valid_from <= $1 AND (p.valid_until IS NULL OR p.valid_until > $2) \
                          AND p.account_id IS NULL ORDER BY p.valid_from DESC, p.id DESC LIMIT 1) \
               UNION ALL \
               SELECT (SELECT p.id FROM price_lists p \
                        WHERE p.valid_from <= $3 AND (p.valid_until IS NULL OR p.valid_until > $4) \
                          AND p.account_id = $5 ORDER BY p.valid_from DESC, p.id DESC LIMIT 1))",
        )
        .bind(at)
        .bind(at)
        .bind(at)
        .bind(at)
        .bind(account.get())
        .fetch_all(&self.read)
        .await?;
        let next = sqlx::query(
            "SELECT MIN(t) AS t FROM ( \
               SELECT valid_from AS t FROM price_lists WHERE valid_from > $1 \
                 AND (account_id IS NULL OR account_id = $2) \
               UNION ALL \
               SELECT valid_until AS t FROM price_lists WHERE valid_until > $3 \
                 AND (account_id IS NULL OR account_id = $4)) AS changes",
        )
        .bind(at)
        .bind(account.get())
        .bind(at)
        .bind(account.get())
        .fetch_one(&self.read)
        .await?;
        let mut prices = PricesInForce {
            next_change: next.try_get("t")?,
            ..PricesInForce::default()
        };
        for r in rows {
            let entry = PriceEntry {
                prefix: r.try_get("prefix")?,
                per_segment: Money::from_hundredths(r.try_get("per_segment_cents")?),
            };
            match r.try_get::<Option<i64>, _>("account_id")? {
                Some(_) => prices.account.push(entry),
                None => prices.public.push(entry),
            }
        }
        Ok(prices)
    }

    /// Stores a payment request with the account's variable symbol; `spayd` builds the QR
    /// Platba string from that symbol (an error refuses the request).
    pub async fn create_top_up<F>(&self, new: &NewTopUp, spayd: F, now: i64) -> Result<TopUp>
    where
        F: FnOnce(&str) -> std::result::Result<String, String> + Send,
    {
        let mut conn = self.write_conn(Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let billing = ensure_billing_account(&mut tx, new.account, now).await?;
        let spayd = spayd(&billing.variable_symbol).map_err(StoreError::Billing)?;
        let row = sqlx::query(
            "INSERT INTO top_ups (account_id, amount_cents, variable_symbol, iban, due_date, spayd, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             RETURNING id, account_id, amount_cents, variable_symbol, iban, due_date, spayd, created_at",
        )
        .bind(new.account.get())
        .bind(new.amount.hundredths())
        .bind(billing.variable_symbol.as_str())
        .bind(new.iban.as_str())
        .bind(new.due_date.as_str())
        .bind(spayd.as_str())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let top_up = top_up_from_row(&row)?;
        tx.commit().await?;
        Ok(top_up)
    }

    pub async fn get_top_up(&self, account: AccountId, id: i64) -> Result<Option<TopUp>> {
        let row = sqlx::query(
            "SELECT id, account_id, amount_cents, variable_symbol, iban, due_date, spayd, created_at \
             FROM top_ups WHERE id = $1 AND account_id = $2",
        )
        .bind(id)
        .bind(account.get())
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(top_up_from_row).transpose()
    }
}

/// `FOR UPDATE` on PostgreSQL, nothing on SQLite (one writer).
pub(crate) fn for_update(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "",
        Backend::Postgres => "FOR UPDATE",
    }
}
