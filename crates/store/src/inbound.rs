//! Mobile-originated (inbound) messages, and the opt-out replies among them.

use domain::optout::{Keyword, Keywords};
use domain::AccountId;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{now_us, Result, Store};

/// An inbound message as a connector received it.
#[derive(Debug, Clone)]
pub struct NewInbound {
    pub id: i64,
    pub connector: String,
    pub from: String,
    pub to: String,
    pub body: String,
    pub smsc_id: Option<String>,
    pub received_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundRecord {
    pub id: i64,
    pub account: Option<AccountId>,
    pub connector: String,
    pub from: String,
    pub to: String,
    pub body: String,
    pub received_at: i64,
}

fn inbound_from_row(r: &AnyRow) -> Result<InboundRecord> {
    Ok(InboundRecord {
        id: r.try_get("id")?,
        account: r
            .try_get::<Option<i64>, _>("account_id")?
            .map(AccountId::new),
        connector: r.try_get("connector")?,
        from: r.try_get("from_number")?,
        to: r.try_get("to_number")?,
        body: r.try_get("body")?,
        received_at: r.try_get("received_at")?,
    })
}

impl Store {
    /// Stores inbound messages, each assigned to the account that last sent to its sender.
    /// Returns the accounts they went to, in order.
    pub async fn store_inbound(&self, messages: &[NewInbound]) -> Result<Vec<Option<AccountId>>> {
        self.store_inbound_with_keywords(messages, None).await
    }

    /// Stores inbound messages as [`Store::store_inbound`] does and, in the same transaction,
    /// applies the single-word opt-out and opt-in replies among them (an opt-out is never stored
    /// without taking effect). A Blacklist entry made from a reply takes the reply's id.
    pub async fn store_inbound_with_keywords(
        &self,
        messages: &[NewInbound],
        keywords: Option<&Keywords>,
    ) -> Result<Vec<Option<AccountId>>> {
        let durability = if keywords.is_some() {
            crate::Durability::Full
        } else {
            crate::Durability::Relaxed
        };
        let mut conn = self.write_conn(durability).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let mut accounts = Vec::with_capacity(messages.len());
        for m in messages {
            let account: Option<i64> = sqlx::query(
                "SELECT account_id FROM messages WHERE to_number = $1 ORDER BY id DESC LIMIT 1",
            )
            .bind(m.from.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get("account_id"))
            .transpose()?;
            sqlx::query(
                "INSERT INTO inbound_messages (id, account_id, connector, from_number, to_number, body, smsc_id, received_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(m.id)
            .bind(account)
            .bind(m.connector.as_str())
            .bind(m.from.as_str())
            .bind(m.to.as_str())
            .bind(m.body.as_str())
            .bind(m.smsc_id.clone())
            .bind(m.received_at)
            .execute(&mut *tx)
            .await?;
            accounts.push(account.map(AccountId::new));
        }
        if let Some(keywords) = keywords {
            let replies: Vec<(i64, String, Option<AccountId>, Keyword)> = messages
                .iter()
                .zip(&accounts)
                .filter_map(|(m, a)| {
                    keywords
                        .classify(&m.body)
                        .map(|k| (m.id, m.from.clone(), *a, k))
                })
                .collect();
            self.apply_keywords_in(&mut tx, &replies, now_us()).await?;
        }
        tx.commit().await?;
        Ok(accounts)
    }

    /// The account's inbound messages, newest first, below the cursor id `before`.
    pub async fn list_inbound(
        &self,
        account: AccountId,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<InboundRecord>> {
        let rows = sqlx::query(
            "SELECT id, account_id, connector, from_number, to_number, body, received_at FROM inbound_messages \
             WHERE account_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
        )
        .bind(account.get())
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit.clamp(1, 1000)))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(inbound_from_row).collect()
    }
}
