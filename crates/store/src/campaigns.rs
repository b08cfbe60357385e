//! The operator's own marketing e-mails and newsletters (issue 6, seed clauses 7.1 and 8).
//!
//! An e-mail goes only to a subject with a live, granted consent to the purpose
//! (`marketing_email` or `newsletter`) whose processing is not restricted; the audience is read
//! first so that the caller can write each e-mail (with its signed withdrawal link), then every
//! consent is checked again in the transaction that queues the e-mails, so a withdrawal made in
//! between stops that e-mail. The campaign, its e-mails in the outbox and its audit entry are
//! one transaction.

use domain::consent::ConsentPurpose;
use sqlx::Row;

use crate::audit::{self, AuditEntry};
use crate::credit::{push_mail, OutboxMail};
use crate::{Result, Store};

/// Whom a marketing e-mail may go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketingRecipient {
    /// The consent's subject (`user:ID`).
    pub subject: String,
    pub email: String,
    pub lang: String,
}

/// A campaign being sent.
#[derive(Debug, Clone)]
pub struct NewCampaign<'a> {
    pub id: i64,
    pub purpose: ConsentPurpose,
    pub subject: &'a str,
    pub body: &'a str,
    /// Who sends it: `user:ID` (staff) or `cli`.
    pub actor: &'a str,
}

/// A campaign as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Campaign {
    pub id: i64,
    pub purpose: String,
    pub subject: String,
    pub created_by: String,
    pub created_at: i64,
    /// E-mails queued.
    pub sent: i64,
    /// Subjects of the audience whose consent was gone (or processing restricted) at sending.
    pub skipped: i64,
}

/// The condition that the web user `u` may receive marketing of purpose `$1`: a live, granted
/// consent, a confirmed address, and no restriction of processing.
const MAY_RECEIVE: &str = "EXISTS (SELECT 1 FROM consents c WHERE c.subject = 'user:' || CAST(u.id AS TEXT) \
       AND c.purpose = $1 AND c.granted = 1 AND c.withdrawn_at IS NULL) \
     AND u.email_verified_at IS NOT NULL \
     AND NOT EXISTS (SELECT 1 FROM processing_restrictions r WHERE r.user_id = u.id AND r.lifted_at IS NULL)";

impl Store {
    /// Everyone a marketing e-mail of `purpose` may go to now.
    pub async fn marketing_audience(
        &self,
        purpose: ConsentPurpose,
    ) -> Result<Vec<MarketingRecipient>> {
        let sql = format!(
            "SELECT u.id, u.email, u.lang FROM web_users u WHERE {MAY_RECEIVE} ORDER BY u.id"
        );
        let rows = sqlx::query(&sql)
            .bind(purpose.as_str())
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(MarketingRecipient {
                    subject: format!("user:{}", r.try_get::<i64, _>("id")?),
                    email: r.try_get("email")?,
                    lang: r.try_get("lang")?,
                })
            })
            .collect()
    }

    /// Queues a campaign's e-mails (`mails`: the consent subject and its e-mail) and records
    /// the campaign. A subject whose consent was withdrawn (or whose processing was restricted)
    /// since the audience was read gets nothing.
    pub async fn send_campaign(
        &self,
        c: &NewCampaign<'_>,
        mails: &[(String, OutboxMail)],
        now: i64,
    ) -> Result<Campaign> {
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let check = format!(
            "SELECT COUNT(*) AS n FROM web_users u WHERE {MAY_RECEIVE} AND 'user:' || CAST(u.id AS TEXT) = $2"
        );
        let (mut sent, mut skipped) = (0i64, 0i64);
        for (subject, mail) in mails {
            let live: i64 = sqlx::query(&check)
                .bind(c.purpose.as_str())
                .bind(subject.as_str())
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
            if live == 0 {
                skipped += 1;
                continue;
            }
            push_mail(&mut tx, mail, now).await?;
            sent += 1;
        }
        sqlx::query(
            "INSERT INTO marketing_campaigns (id, purpose, subject, body, created_by, created_at, sent, skipped) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(c.id)
        .bind(c.purpose.as_str())
        .bind(c.subject)
        .bind(c.body)
        .bind(c.actor)
        .bind(now)
        .bind(sent)
        .bind(skipped)
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            &AuditEntry::new(
                c.actor,
                "marketing.send",
                format!("campaign:{}", c.id),
                c.purpose.as_str(),
            )
            .details(format!("sent={sent} skipped={skipped}")),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Campaign {
            id: c.id,
            purpose: c.purpose.as_str().to_owned(),
            subject: c.subject.to_owned(),
            created_by: c.actor.to_owned(),
            created_at: now,
            sent,
            skipped,
        })
    }

    /// Campaigns sent, newest first.
    pub async fn campaigns(&self, limit: u32) -> Result<Vec<Campaign>> {
        let rows = sqlx::query(
            "SELECT id, purpose, subject, created_by, created_at, sent, skipped FROM marketing_campaigns \
             ORDER BY created_at DESC, id DESC LIMIT $1",
        )
        .bind(i64::from(limit.clamp(1, 1000)))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Campaign {
                    id: r.try_get("id")?,
                    purpose: r.try_get("purpose")?,
                    subject: r.try_get("subject")?,
                    created_by: r.try_get("created_by")?,
                    created_at: r.try_get("created_at")?,
                    sent: r.try_get("sent")?,
                    skipped: r.try_get("skipped")?,
                })
            })
            .collect()
    }
}
