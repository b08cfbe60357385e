//! Support tickets (clause 12): a question, a complaint about a message or a bill, or a data
//! request, with its conversation. A complaint puts a legal hold on the data it concerns (the
//! message, or for a bill the account's traffic data) until it is resolved.

use domain::AccountId;
use sqlx::Row;

use crate::audit::{self, AuditEntry};
use crate::retention::{insert_hold, HoldTarget, NewLegalHold};
use crate::{Result, Store, StoreError};

/// The type of a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketKind {
    Question,
    ComplaintMessage,
    ComplaintBill,
    DataRequest,
}

impl TicketKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TicketKind::Question => "question",
            TicketKind::ComplaintMessage => "complaint_message",
            TicketKind::ComplaintBill => "complaint_bill",
            TicketKind::DataRequest => "data_request",
        }
    }

    pub fn parse(s: &str) -> Option<TicketKind> {
        Some(match s {
            "question" => TicketKind::Question,
            "complaint_message" => TicketKind::ComplaintMessage,
            "complaint_bill" => TicketKind::ComplaintBill,
            "data_request" => TicketKind::DataRequest,
            _ => return None,
        })
    }

    pub fn is_complaint(self) -> bool {
        matches!(
            self,
            TicketKind::ComplaintMessage | TicketKind::ComplaintBill
        )
    }
}

/// A new ticket with its first message.
#[derive(Debug, Clone)]
pub struct NewTicket {
    pub id: i64,
    pub account: AccountId,
    pub user_id: Option<i64>,
    pub kind: TicketKind,
    pub subject: String,
    /// The message a complaint is about (required for [`TicketKind::ComplaintMessage`]).
    pub message_id: Option<i64>,
    pub body: String,
    /// Who wrote it: `user:ID`.
    pub author: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub id: i64,
    pub account: Option<AccountId>,
    pub user_id: Option<i64>,
    pub kind: TicketKind,
    pub subject: String,
    pub message_id: Option<i64>,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub resolved_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketMessage {
    pub id: i64,
    pub author: String,
    pub body: String,
    pub at: i64,
}

const COLUMNS: &str = "id, account_id, user_id, kind, subject, message_id, status, created_at, updated_at, resolved_at";

fn ticket_from_row(r: &sqlx::any::AnyRow) -> Result<Ticket> {
    let kind: String = r.try_get("kind")?;
    Ok(Ticket {
        id: r.try_get("id")?,
        account: r
            .try_get::<Option<i64>, _>("account_id")?
            .map(AccountId::new),
        user_id: r.try_get("user_id")?,
        kind: TicketKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("ticket kind {kind:?}")))?,
        subject: r.try_get("subject")?,
        message_id: r.try_get("message_id")?,
        status: r.try_get("status")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        resolved_at: r.try_get("resolved_at")?,
    })
}

impl Store {
    /// Opens a ticket; a complaint puts its legal hold in the same transaction. A complaint
    /// about a message must name one of the account's messages: `false` when it does not.
    pub async fn open_ticket(&self, t: &NewTicket, now: i64) -> Result<bool> {
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        if let Some(m) = t.message_id {
            let n: i64 =
                sqlx::query("SELECT COUNT(*) AS n FROM messages WHERE id = $1 AND account_id = $2")
                    .bind(m)
                    .bind(t.account.get())
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get("n")?;
            if n == 0 {
                return Ok(false);
            }
        } else if t.kind == TicketKind::ComplaintMessage {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO tickets (id, account_id, user_id, kind, subject, message_id, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8)",
        )
        .bind(t.id)
        .bind(t.account.get())
        .bind(t.user_id)
        .bind(t.kind.as_str())
        .bind(t.subject.as_str())
        .bind(t.message_id)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        insert_message(&mut tx, t.id, &t.author, &t.body, now).await?;
        let target = match (t.kind, t.message_id) {
            (TicketKind::ComplaintMessage, Some(m)) => Some(HoldTarget::Message(m)),
            (TicketKind::ComplaintBill, _) => Some(HoldTarget::Account(t.account.get())),
            _ => None,
        };
        if let Some(target) = target {
            let reason = format!("complaint ticket {}", t.id);
            insert_hold(
                &mut tx,
                self,
                &NewLegalHold {
                    target,
                    reason: &reason,
                    actor: &t.author,
                },
                Some(t.id),
                now,
            )
            .await?;
        }
        audit::record(
            &mut tx,
            &AuditEntry::new(
                t.author.as_str(),
                "ticket.open",
                format!("ticket:{}", t.id),
                t.kind.as_str(),
            )
            .details(format!("account={}", t.account)),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Adds a message to a ticket's conversation (reopening a resolved one).
    pub async fn reply_to_ticket(
        &self,
        id: i64,
        author: &str,
        body: &str,
        now: i64,
    ) -> Result<bool> {
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let n = sqlx::query("UPDATE tickets SET updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        insert_message(&mut tx, id, author, body, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Resolves a ticket and releases the holds it put; `false` when it was not open.
    pub async fn resolve_ticket(&self, id: i64, actor: &str, now: i64) -> Result<bool> {
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let n = sqlx::query(
            "UPDATE tickets SET status = 'resolved', resolved_at = $1, updated_at = $1 \
             WHERE id = $2 AND status = 'open'",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        let released = sqlx::query(
            "UPDATE legal_holds SET released_at = $1 WHERE ticket_id = $2 AND released_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        audit::record(
            &mut tx,
            &AuditEntry::new(actor, "ticket.resolve", format!("ticket:{id}"), "resolved")
                .details(format!("holds_released={released}")),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A ticket, when `account` is given only if it is that account's.
    pub async fn ticket(&self, id: i64, account: Option<AccountId>) -> Result<Option<Ticket>> {
        let sql =
            format!("SELECT {COLUMNS} FROM tickets WHERE id = $1 AND ($2 = 0 OR account_id = $2)");
        let row = sqlx::query(&sql)
            .bind(id)
            .bind(account.map_or(0, AccountId::get))
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(ticket_from_row).transpose()
    }

    /// Tickets, newest first: of one account, or (staff) all, optionally only open ones.
    pub async fn tickets(
        &self,
        account: Option<AccountId>,
        open_only: bool,
    ) -> Result<Vec<Ticket>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM tickets WHERE ($1 = 0 OR account_id = $1) AND ($2 = 0 OR status = 'open') \
             ORDER BY id DESC LIMIT 500"
        );
        let rows = sqlx::query(&sql)
            .bind(account.map_or(0, AccountId::get))
            .bind(i64::from(open_only))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(ticket_from_row).collect()
    }

    /// A ticket's conversation, oldest first.
    pub async fn ticket_messages(&self, id: i64) -> Result<Vec<TicketMessage>> {
        let rows = sqlx::query(
            "SELECT id, author, body, at FROM ticket_messages WHERE ticket_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TicketMessage {
                    id: r.try_get("id")?,
                    author: r.try_get("author")?,
                    body: r.try_get("body")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }
}

async fn insert_message(
    tx: &mut sqlx::AnyConnection,
    ticket: i64,
    author: &str,
    body: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO ticket_messages (ticket_id, author, body, at) VALUES ($1, $2, $3, $4)",
    )
    .bind(ticket)
    .bind(author)
    .bind(body)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
