//! Postpaid accounts, monthly invoicing, reminders and notices on SQLite and PostgreSQL; and a
//! property test that concurrent statement imports, sending and credit-limit changes never make
//! the ledger disagree with the balances (nor the credit limit with its ledger entries).

use billing::calendar::Month;
use billing::{InvoicePolicy, Invoicing, Supplier};
use chrono::NaiveDate;
use domain::{AccountId, MessageId, MessageStatus, Money};
use payments::{Amount, Direction, Format, Statement, Transaction, VariableSymbol};
use proptest::prelude::*;
use store::{
    ImportSource, NewDelivery, NewMessage, NewWebhook, OutboxMail, SendResult, Store, StoreError,
    StoreOptions, Submission, SubmitOutcome,
};
use testkit::{backends, TestDb};

const SECOND: i64 = 1_000_000;
const DAY: i64 = 86_400 * SECOND;
/// 2027-01-15, after the months the tests invoice.
const T0: i64 = 1_800_000_000 * SECOND;

fn november() -> Month {
    Month::parse("2026-11").unwrap()
}

/// An instant inside November 2026 (Prague).
fn in_november(day: i64) -> i64 {
    november().bounds_us().0 + day * DAY + 3600 * SECOND
}

async fn each_backend<F, Fut>(test: F)
where
    F: Fn(Store) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for backend in backends().await {
        let db = TestDb::new(backend).await;
        let store = Store::connect(&db.url, StoreOptions::default())
            .await
            .expect("connect");
        test(store.clone()).await;
        store.close().await;
    }
}

async fn account(store: &Store, id: i64, credit: i64) -> AccountId {
    let a = AccountId::new(id);
    store
        .create_account(
            a,
            &format!("a{id}@example.com"),
            &format!("Customer {id}"),
            Money::from_hundredths(credit),
            0,
        )
        .await
        .expect("account");
    a
}

fn policy(invoicing: Invoicing) -> InvoicePolicy {
    let mut p = InvoicePolicy::with_supplier(Supplier::default());
    p.invoicing = invoicing;
    p
}

fn payment(bank_ref: &str, halere: i64, vs: &str, day: u32) -> Transaction {
    Transaction {
        bank_ref: bank_ref.into(),
        direction: Direction::Credit,
        reversal: false,
        amount: Amount::from_halere(halere),
        currency: "CZK".into(),
        booking_date: NaiveDate::from_ymd_opt(2026, 11, day).unwrap(),
        value_date: None,
        vs: Some(VariableSymbol::parse(vs).unwrap()),
        ss: None,
        ks: None,
        counter_account: Some("19-2000145399/0800".into()),
        counter_name: Some("Jan Novák".into()),
        message: None,
        status_booked: true,
    }
}

fn reversal(bank_ref: &str, halere: i64, vs: &str, day: u32) -> Transaction {
    Transaction {
        direction: Direction::Debit,
        reversal: true,
        ..payment(bank_ref, halere, vs, day)
    }
}

fn statement(transactions: Vec<Transaction>) -> Statement {
    Statement {
        format: Format::FioJson,
        account: Some("CZ7920100000002000000000".into()),
        statement_id: Some("1".into()),
        transactions,
    }
}

fn source() -> ImportSource<'static> {
    ImportSource {
        name: "test",
        sha256: "00",
    }
}

async fn vs_of(store: &Store, a: AccountId) -> String {
    store.billing_account(a, T0).await.unwrap().variable_symbol
}

fn message(a: AccountId, id: i64, price: i64, at: i64) -> Submission {
    Submission {
        account: a,
        submission_id: id,
        idempotency: None,
        messages: vec![NewMessage {
            id: MessageId::new(id),
            to: "+420777000001".into(),
            sender: "ACME".into(),
            body: "x".into(),
            encoding: "gsm7",
            parts: 1,
            price: Money::from_hundredths(price),
            status: MessageStatus::Queued,
            client_ref: None,
            scheduled_at: None,
            due_at: at,
            expires_at: at + 3600 * SECOND,
        }],
        response: String::new(),
        now: at,
        smpp: None,
        marketing: false,
        device: None,
    }
}

/// Accepts, sends and charges one message at `at`; false when refused for credit.
async fn send(store: &Store, a: AccountId, id: i64, price: i64, at: i64) -> bool {
    match store.submit(message(a, id, price, at)).await.unwrap() {
        SubmitOutcome::Accepted => {}
        SubmitOutcome::InsufficientCredit { .. } => return false,
        other => panic!("unexpected {other:?}"),
    }
    let claimed = store
        .claim_due(1, at + 1, at + 60 * SECOND, 10)
        .await
        .unwrap();
    let results: Vec<SendResult> = claimed
        .iter()
        .map(|c| SendResult::Sent {
            id: c.id,
            account: c.account,
            price: c.price,
            connector: "sim".into(),
            smsc_id: format!("s{}", c.id.get()),
        })
        .collect();
    store.record_results(results, at + 2).await.unwrap();
    true
}

#[tokio::test]
async fn a_postpaid_account_spends_down_to_its_limit_and_no_further() {
    each_backend(|store| async move {
        let a = account(&store, 1, 1_000).await;
        let view = store
            .set_postpaid(a, true, Money::from_hundredths(5_000), T0)
            .await
            .unwrap();
        assert!(view.postpaid);
        assert_eq!(view.balance.hundredths(), 1_000);
        assert_eq!(view.spendable.hundredths(), 6_000);
        assert!(send(&store, a, 1, 4_000, T0).await);
        assert!(send(&store, a, 2, 2_000, T0).await);
        let view = store.credit_view(a).await.unwrap().unwrap();
        assert_eq!(view.balance.hundredths(), -5_000, "down to -limit");
        assert!(!send(&store, a, 3, 1, T0).await, "refused beyond the limit");
        assert!(store.ledger_consistent(a).await.unwrap());
        // The limit cannot drop below what is used, nor can the account become prepaid.
        let err = store
            .set_postpaid(a, true, Money::from_hundredths(4_000), T0)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Billing(_)), "{err}");
        assert!(store.set_postpaid(a, false, Money::ZERO, T0).await.is_err());
        // A higher limit gives room at once.
        store
            .set_postpaid(a, true, Money::from_hundredths(8_000), T0)
            .await
            .unwrap();
        assert!(send(&store, a, 4, 2_500, T0).await);
        let view = store.credit_view(a).await.unwrap().unwrap();
        assert_eq!(view.balance.hundredths(), -7_500);
        assert_eq!(view.credit_limit.hundredths(), 8_000);
        assert!(store.ledger_consistent(a).await.unwrap());
        let b = store.billing_account(a, T0).await.unwrap();
        assert!(b.postpaid);
        assert_eq!(b.credit_limit.hundredths(), 8_000);
        // Credit-line adjustments appear in the ledger.
        let ledger = store.ledger(a, None, 100).await.unwrap();
        let line: i64 = ledger
            .iter()
            .filter(|e| e.reference.starts_with("credit line"))
            .map(|e| e.available_delta.hundredths())
            .sum();
        assert_eq!(line, 8_000);
        assert!(store
            .set_postpaid(a, true, Money::from_hundredths(-1), T0)
            .await
            .is_err());
    })
    .await;
}

#[tokio::test]
async fn usage_is_invoiced_monthly_with_a_due_date_and_settled_by_payments() {
    each_backend(|store| async move {
        let a = account(&store, 1, 0).await;
        let other = account(&store, 2, 10_000).await;
        store
            .set_postpaid(a, true, Money::from_hundredths(100_000), in_november(0))
            .await
            .unwrap();
        assert!(send(&store, a, 1, 12_100, in_november(3)).await);
        assert!(send(&store, a, 2, 12_100, in_november(20)).await);
        assert!(send(&store, other, 3, 500, in_november(20)).await);
        // Not before the month is over.
        assert!(store
            .invoice_monthly_usage(
                november(),
                &policy(Invoicing::PerPayment),
                14,
                in_november(25)
            )
            .await
            .is_err());
        let issued = store
            .invoice_monthly_usage(november(), &policy(Invoicing::PerPayment), 14, T0)
            .await
            .unwrap();
        assert_eq!(issued.len(), 1, "only the postpaid account");
        let again = store
            .invoice_monthly_usage(november(), &policy(Invoicing::PerPayment), 14, T0)
            .await
            .unwrap();
        assert!(again.is_empty(), "never twice");
        let usage = store.usage_invoices(a).await.unwrap();
        assert_eq!(usage.len(), 1);
        let u = &usage[0];
        assert_eq!(u.number, issued[0]);
        assert_eq!(u.period, "2026-11");
        assert_eq!(u.total.hundredths(), 24_200);
        assert_eq!(u.outstanding.hundredths(), 24_200);
        let today = billing::calendar::prague_date(T0);
        assert_eq!(u.due_date, today + chrono::Duration::days(14));
        let inv = store.get_invoice(a, u.invoice_id).await.unwrap().unwrap();
        assert_eq!(inv.document.due_date, Some(u.due_date));
        assert_eq!(inv.document.total.hundredths(), 24_200);
        assert_eq!(inv.document.vat.hundredths(), 4_200);
        assert_eq!(inv.document.taxable_date, november().last_day());
        assert_eq!(
            store.invoice_payment_due(a, u.invoice_id).await.unwrap(),
            Some((u.due_date, Money::from_hundredths(24_200)))
        );
        // Usage after the month is not owed on the invoice yet.
        assert!(send(&store, a, 4, 1_000, T0).await);
        assert_eq!(
            store.usage_invoices(a).await.unwrap()[0]
                .outstanding
                .hundredths(),
            24_200
        );
        // Overdue after the due date: the debtor list shows it.
        assert!(store.postpaid_debtors(today).await.unwrap().is_empty());
        let late = u.due_date + chrono::Duration::days(1);
        let debtors = store.postpaid_debtors(late).await.unwrap();
        assert_eq!(debtors.len(), 1);
        assert_eq!(
            (debtors[0].account, debtors[0].overdue.hundredths()),
            (a, 24_200)
        );
        assert_eq!(store.overdue_usage_invoices(late).await.unwrap().len(), 1);
        // A partial payment leaves the rest owed; a payment is not invoiced again.
        let vs = vs_of(&store, a).await;
        let r = store
            .import_statement(
                &statement(vec![payment("p1", 20_000, &vs, 28)]),
                &source(),
                &policy(Invoicing::PerPayment),
                T0,
            )
            .await
            .unwrap();
        assert_eq!(r.credited, 1);
        assert!(
            r.documents.is_empty(),
            "the usage invoice was the tax document"
        );
        assert_eq!(
            store.usage_invoices(a).await.unwrap()[0]
                .outstanding
                .hundredths(),
            4_200
        );
        store
            .import_statement(
                &statement(vec![payment("p2", 4_200, &vs, 29)]),
                &source(),
                &policy(Invoicing::PerPayment),
                T0,
            )
            .await
            .unwrap();
        assert_eq!(
            store.usage_invoices(a).await.unwrap()[0]
                .outstanding
                .hundredths(),
            0
        );
        assert!(store.postpaid_debtors(late).await.unwrap().is_empty());
        assert_eq!(
            store.invoice_payment_due(a, u.invoice_id).await.unwrap(),
            None
        );
        assert!(store.ledger_consistent(a).await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn monthly_invoicing_covers_a_months_payments_once() {
    each_backend(|store| async move {
        let a = account(&store, 1, 0).await;
        let b = account(&store, 2, 0).await;
        let (va, vb) = (vs_of(&store, a).await, vs_of(&store, b).await);
        let monthly = policy(Invoicing::Monthly);
        let r = store
            .import_statement(
                &statement(vec![
                    payment("m1", 10_000, &va, 2),
                    payment("m2", 20_000, &va, 10),
                    payment("m3", 5_000, &va, 12),
                    payment("m4", 30_000, &vb, 15),
                ]),
                &source(),
                &monthly,
                T0,
            )
            .await
            .unwrap();
        assert_eq!(r.credited, 4);
        assert!(r.documents.is_empty(), "invoiced after the month");
        // m3 is reversed before the month is invoiced: it is left out, no credit note.
        let r = store
            .import_statement(
                &statement(vec![reversal("m3r", 5_000, &va, 20)]),
                &source(),
                &monthly,
                T0,
            )
            .await
            .unwrap();
        assert_eq!(r.reversed, 1);
        assert!(r.documents.is_empty());
        let issued = store
            .invoice_monthly_payments(november(), &monthly, T0)
            .await
            .unwrap();
        assert_eq!(issued.len(), 2);
        assert!(store
            .invoice_monthly_payments(november(), &monthly, T0)
            .await
            .unwrap()
            .is_empty());
        let inv_a = store.list_invoices(a, None, 10).await.unwrap();
        assert_eq!(inv_a.len(), 1);
        assert_eq!(inv_a[0].document.total.hundredths(), 30_000);
        assert_eq!(
            inv_a[0].document.payment_date,
            NaiveDate::from_ymd_opt(2026, 11, 10)
        );
        assert!(inv_a[0].document.description.contains("11/2026"));
        // One series without gaps across both accounts.
        let series = store.invoices_in_series(&inv_a[0].series).await.unwrap();
        let seqs: Vec<i64> = series.iter().map(|i| i.seq).collect();
        assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
        // m2 reversed after it was invoiced: a credit note corrects the monthly invoice.
        let r = store
            .import_statement(
                &statement(vec![reversal("m2r", 20_000, &va, 30)]),
                &source(),
                &monthly,
                T0,
            )
            .await
            .unwrap();
        assert_eq!(r.documents.len(), 1);
        let docs = store.list_invoices(a, None, 10).await.unwrap();
        let note = &docs[0].document;
        assert_eq!(note.kind, billing::InvoiceKind::CreditNote);
        assert_eq!(note.total.hundredths(), -20_000);
        assert_eq!(
            note.corrects.as_deref(),
            Some(inv_a[0].document.number.as_str())
        );
        assert!(store.ledger_consistent(a).await.unwrap());
        assert_eq!(
            store
                .balance(a)
                .await
                .unwrap()
                .unwrap()
                .available
                .hundredths(),
            10_000
        );
    })
    .await;
}

#[tokio::test]
async fn notices_are_recorded_once_with_their_mail_and_webhook_deliveries() {
    each_backend(|store| async move {
        let a = account(&store, 1, 1_000).await;
        store
            .set_postpaid(a, true, Money::from_hundredths(50_000), T0)
            .await
            .unwrap();
        store
            .set_low_credit(a, Some(Money::from_hundredths(2_000)), T0)
            .await
            .unwrap();
        // The credit line is not the customer's credit: 10.00 is under 20.00.
        let due = store.low_credit_due().await.unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].2.hundredths(), 1_000);
        store
            .create_webhook(&NewWebhook {
                id: 900,
                account: a,
                url: "https://example.com/hook".into(),
                events: vec!["credit.low".into()],
                secret: "x".into(),
                now: T0,
            })
            .await
            .unwrap();
        let mail = OutboxMail {
            to: "a1@example.com".into(),
            subject: "Low credit".into(),
            body: "...".into(),
        };
        let delivery = NewDelivery {
            id: 901,
            webhook_id: 900,
            account: a,
            event_type: "credit.low".into(),
            event_key: format!("credit.low:{a}:{T0}"),
            payload: "{}".into(),
        };
        let first = store
            .record_low_credit_notice(a, &mail, std::slice::from_ref(&delivery), T0)
            .await
            .unwrap();
        assert!(first.is_some());
        let second = store
            .record_low_credit_notice(
                a,
                &mail,
                &[NewDelivery {
                    id: 902,
                    ..delivery.clone()
                }],
                T0,
            )
            .await
            .unwrap();
        assert_eq!(second, None, "once per crossing");
        assert!(store.low_credit_due().await.unwrap().is_empty());
        let deliveries = store.list_deliveries(a, 900, None, 10).await.unwrap();
        assert_eq!(deliveries.len(), 1);
        assert_eq!(deliveries[0].event_type, "credit.low");
        // Back above the threshold, then under again: a new crossing.
        store
            .top_up(a, Money::from_hundredths(5_000), "t", T0)
            .await
            .unwrap();
        assert_eq!(store.rearm_low_credit().await.unwrap(), 1);
        assert!(send(&store, a, 1, 5_000, T0).await);
        assert_eq!(store.low_credit_due().await.unwrap().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn a_reminder_is_recorded_once_per_number() {
    each_backend(|store| async move {
        let a = account(&store, 1, 0).await;
        store
            .set_postpaid(a, true, Money::from_hundredths(100_000), in_november(0))
            .await
            .unwrap();
        assert!(send(&store, a, 1, 5_000, in_november(2)).await);
        store
            .invoice_monthly_usage(november(), &policy(Invoicing::PerPayment), 0, T0)
            .await
            .unwrap();
        let late = billing::calendar::prague_date(T0) + chrono::Duration::days(1);
        let overdue = store.overdue_usage_invoices(late).await.unwrap();
        assert_eq!(overdue.len(), 1);
        assert_eq!(overdue[0].email, "a1@example.com");
        let mail = OutboxMail {
            to: overdue[0].email.clone(),
            subject: "Overdue".into(),
            body: "...".into(),
        };
        let id = overdue[0].invoice_id;
        assert!(store
            .record_reminder(id, 0, &mail, &[], T0)
            .await
            .unwrap()
            .is_some());
        assert_eq!(
            store.record_reminder(id, 0, &mail, &[], T0).await.unwrap(),
            None
        );
        let u = &store.usage_invoices(a).await.unwrap()[0];
        assert_eq!((u.reminders, u.reminded_at), (1, Some(T0)));
    })
    .await;
}

/// One step of the property test's importer.
#[derive(Debug, Clone)]
enum Step {
    Pay(i64),
    Reverse(i64),
    Limit(i64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (1_i64..5_000).prop_map(Step::Pay),
        (1_i64..5_000).prop_map(Step::Reverse),
        (0_i64..8_000).prop_map(Step::Limit),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// Whatever mix of payments, reversals and credit-limit changes is imported while messages
    /// are sent, the balances equal the sums of the ledger and the credit limit equals the
    /// sum of its adjustments.
    #[test]
    fn concurrent_billing_and_sending_keep_the_ledger_exact(
        steps in proptest::collection::vec(step(), 1..12),
        prices in proptest::collection::vec(1_i64..2_000, 1..15),
    ) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(each_backend(|store| {
            let steps = steps.clone();
            let prices = prices.clone();
            async move {
                let a = account(&store, 1, 2_000).await;
                let vs = vs_of(&store, a).await;
                let billing = {
                    let store = store.clone();
                    tokio::spawn(async move {
                        for (n, s) in steps.iter().enumerate() {
                            let r = format!("x{n}");
                            match s {
                                Step::Pay(h) => {
                                    store.import_statement(&statement(vec![payment(&r, *h, &vs, 5)]), &source(), &policy(Invoicing::PerPayment), T0).await.unwrap();
                                }
                                Step::Reverse(h) => {
                                    store.import_statement(&statement(vec![reversal(&r, *h, &vs, 6)]), &source(), &policy(Invoicing::PerPayment), T0).await.unwrap();
                                }
                                Step::Limit(l) => {
                                    // Refused when the line in use exceeds it: fine either way.
                                    match store.set_postpaid(a, *l > 0, Money::from_hundredths(*l), T0).await {
                                        Ok(_) | Err(StoreError::Billing(_)) => {}
                                        Err(e) => panic!("{e}"),
                                    }
                                }
                            }
                            tokio::task::yield_now().await;
                        }
                    })
                };
                let sender = {
                    let store = store.clone();
                    tokio::spawn(async move {
                        for (i, p) in prices.iter().enumerate() {
                            send(&store, a, 10_000 + i as i64, *p, T0).await;
                        }
                    })
                };
                billing.await.unwrap();
                sender.await.unwrap();
                assert!(store.ledger_consistent(a).await.unwrap(), "ledger differs from the balance");
                let view = store.credit_view(a).await.unwrap().unwrap();
                let line: i64 = store
                    .ledger(a, None, 10_000)
                    .await
                    .unwrap()
                    .iter()
                    .filter(|e| e.reference.starts_with("credit line"))
                    .map(|e| e.available_delta.hundredths())
                    .sum();
                assert_eq!(line, view.credit_limit.hundredths());
                assert!(view.spendable.hundredths() >= 0);
                assert!(view.balance.hundredths() >= -view.credit_limit.hundredths());
            }
        }));
    }
}
