//! Billing events for webhooks: `credit.low` when an account's credit falls under the
//! threshold its customer set (once per crossing), and `invoice.overdue` with each reminder of
//! a postpaid usage invoice not paid by its due date.
//!
//! These events are not in the message feed: the billing worker creates their deliveries in
//! the transaction that records the notice, and the [`crate::sender`] posts them like any
//! other (signed, retried). The deduplication key names the crossing or the reminder, so a
//! delivery is made at most once per webhook.

use domain::{AccountId, IdGenerator, Money};
use serde_json::json;
use store::{NewDelivery, WebhookRecord};

use crate::{EVENT_CREDIT_LOW, EVENT_INVOICE_OVERDUE};

/// What a billing event says.
#[derive(Debug, Clone)]
pub enum BillingEvent {
    /// The credit fell under the threshold (`at` is when the crossing was noticed).
    CreditLow {
        available: Money,
        threshold: Money,
        at: i64,
    },
    /// A reminder of an overdue invoice (the `reminder`-th one).
    InvoiceOverdue {
        invoice_id: i64,
        number: String,
        /// YYYY-MM-DD
        due_date: String,
        outstanding: Money,
        reminder: i64,
        at: i64,
    },
}

impl BillingEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            BillingEvent::CreditLow { .. } => EVENT_CREDIT_LOW,
            BillingEvent::InvoiceOverdue { .. } => EVENT_INVOICE_OVERDUE,
        }
    }

    fn key(&self, account: AccountId) -> String {
        match self {
            BillingEvent::CreditLow { at, .. } => format!("credit.low:{account}:{at}"),
            BillingEvent::InvoiceOverdue {
                invoice_id,
                reminder,
                ..
            } => format!("invoice.overdue:{invoice_id}:{reminder}"),
        }
    }

    fn payload(&self, account: AccountId) -> serde_json::Value {
        match self {
            BillingEvent::CreditLow {
                available,
                threshold,
                at,
            } => json!({
                "type": EVENT_CREDIT_LOW,
                "created_at": crate::fanout::rfc3339(*at),
                "data": {
                    "account_id": account.get(),
                    "available_czk": available,
                    "threshold_czk": threshold,
                },
            }),
            BillingEvent::InvoiceOverdue {
                invoice_id,
                number,
                due_date,
                outstanding,
                reminder,
                at,
            } => json!({
                "type": EVENT_INVOICE_OVERDUE,
                "created_at": crate::fanout::rfc3339(*at),
                "data": {
                    "account_id": account.get(),
                    "invoice_id": invoice_id,
                    "number": number,
                    "due_date": due_date,
                    "outstanding_czk": outstanding,
                    "reminder": reminder,
                },
            }),
        }
    }
}

/// The deliveries of one billing event of `account` to those of `hooks` that belong to the
/// account and subscribed to its type.
pub fn deliveries(
    account: AccountId,
    event: &BillingEvent,
    hooks: &[WebhookRecord],
    ids: &IdGenerator,
) -> Vec<NewDelivery> {
    let payload = event.payload(account).to_string();
    hooks
        .iter()
        .filter(|h| h.account == account && h.events.iter().any(|e| e == event.event_type()))
        .map(|h| NewDelivery {
            id: ids.next(),
            webhook_id: h.id,
            account,
            event_type: event.event_type().to_owned(),
            event_key: event.key(account),
            payload: payload.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(id: i64, account: i64, events: &[&str]) -> WebhookRecord {
        WebhookRecord {
            id,
            account: AccountId::new(account),
            url: "https://example.com/hook".into(),
            events: events.iter().map(|e| (*e).to_owned()).collect(),
            secret: String::new(),
            created_at: 0,
        }
    }

    #[test]
    fn only_subscribed_hooks_of_the_account_get_the_event() {
        let ids = IdGenerator::new(1);
        let hooks = [
            hook(1, 7, &["credit.low"]),
            hook(2, 7, &["message.status"]),
            hook(3, 8, &["credit.low"]),
        ];
        let event = BillingEvent::CreditLow {
            available: Money::from_hundredths(4_050),
            threshold: Money::from_hundredths(10_000),
            at: 1_700_000_000_000_000,
        };
        let d = deliveries(AccountId::new(7), &event, &hooks, &ids);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].webhook_id, 1);
        assert_eq!(d[0].event_type, "credit.low");
        assert_eq!(d[0].event_key, "credit.low:7:1700000000000000");
        let body: serde_json::Value = serde_json::from_str(&d[0].payload).unwrap();
        assert_eq!(body["type"], "credit.low");
        assert_eq!(body["data"]["available_czk"], "40.50");
        assert_eq!(body["data"]["threshold_czk"], "100.00");

        let overdue = BillingEvent::InvoiceOverdue {
            invoice_id: 5,
            number: "FV2026000005".into(),
            due_date: "2026-12-14".into(),
            outstanding: Money::from_hundredths(30_000),
            reminder: 2,
            at: 0,
        };
        let hooks = [hook(4, 7, &["invoice.overdue", "credit.low"])];
        let d = deliveries(AccountId::new(7), &overdue, &hooks, &ids);
        assert_eq!(d[0].event_key, "invoice.overdue:5:2");
        let body: serde_json::Value = serde_json::from_str(&d[0].payload).unwrap();
        assert_eq!(body["data"]["outstanding_czk"], "300.00");
    }
}
