//! Billing storage on SQLite and PostgreSQL: price lists, statement import and pairing,
//! invoices and their numbering, and the ledger staying the sum of its entries while payments
//! and sending run at the same time.

use billing::{InvoicePolicy, PriceEntry, Supplier};
use chrono::NaiveDate;
use domain::{AccountId, MessageId, MessageStatus, Money};
use payments::{Amount, Direction, Format, Statement, Transaction, VariableSymbol};
use store::{
    CustomerDetails, ImportSource, NewMessage, NewPriceList, SendResult, Store, StoreError,
    StoreOptions, Submission, SubmitOutcome,
};
use testkit::{backends, TestDb};

const SECOND: i64 = 1_000_000;
const T0: i64 = 1_800_000_000 * SECOND;

async fn each_backend<F, Fut>(test: F)
where
    F: Fn(Store, String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for backend in backends().await {
        let db = TestDb::new(backend).await;
        let store = Store::connect(&db.url, StoreOptions::default())
            .await
            .expect("connect");
        test(store.clone(), db.url.clone()).await;
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
            T0,
        )
        .await
        .expect("account");
    a
}

fn policy() -> InvoicePolicy {
    InvoicePolicy::with_supplier(Supplier::default())
}

fn payment(bank_ref: &str, halere: i64, vs: Option<&str>) -> Transaction {
    Transaction {
        bank_ref: bank_ref.into(),
        direction: Direction::Credit,
        reversal: false,
        amount: Amount::from_halere(halere),
        currency: "CZK".into(),
        booking_date: NaiveDate::from_ymd_opt(2026, 11, 27).unwrap(),
        value_date: None,
        vs: vs.map(|v| VariableSymbol::parse(v).unwrap()),
        ss: None,
        ks: None,
        counter_account: Some("19-2000145399/0800".into()),
        counter_name: Some("Jan Novák".into()),
        message: None,
        status_booked: true,
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

async fn available(store: &Store, a: AccountId) -> i64 {
    let b = store.balance(a).await.unwrap().unwrap();
    assert!(store.ledger_consistent(a).await.unwrap(), "ledger differs");
    b.available.hundredths()
}

#[tokio::test]
async fn prices_in_force_take_the_latest_version_and_the_account_list() {
    each_backend(|store, _| async move {
        let a = account(&store, 1, 0).await;
        let b = account(&store, 2, 0).await;
        let entry = |p: &str, h| PriceEntry {
            prefix: p.into(),
            per_segment: Money::from_hundredths(h),
        };
        let list = |account, from, until, entries| NewPriceList {
            account,
            name: "list".into(),
            valid_from: from,
            valid_until: until,
            entries,
        };
        store
            .create_price_list(
                &list(None, T0, None, vec![entry("420", 90), entry("", 200)]),
                T0,
            )
            .await
            .unwrap();
        store
            .create_price_list(&list(None, T0 + 100, None, vec![entry("420", 85)]), T0)
            .await
            .unwrap();
        store
            .create_price_list(
                &list(Some(a), T0, Some(T0 + 50), vec![entry("42060", 50)]),
                T0,
            )
            .await
            .unwrap();
        let at = |t| store.prices_in_force(a, t);
        assert!(at(T0 - 1).await.unwrap().public.is_empty());
        let p = at(T0 + 10).await.unwrap();
        assert_eq!(p.public.len(), 2);
        assert_eq!(p.account, vec![entry("42060", 50)]);
        assert_eq!(p.next_change, Some(T0 + 50));
        let p = at(T0 + 100).await.unwrap();
        assert_eq!(p.public, vec![entry("420", 85)]);
        assert!(p.account.is_empty(), "the account list ended at T0+50");
        assert_eq!(p.next_change, None);
        let p = store.prices_in_force(b, T0 + 10).await.unwrap();
        assert!(p.account.is_empty(), "another account's list never applies");
        let err = store
            .create_price_list(&list(None, T0, None, vec![entry("4x", 1)]), T0)
            .await;
        assert!(matches!(err, Err(StoreError::Billing(_))), "{err:?}");
        let err = store
            .create_price_list(
                &list(None, T0, None, vec![entry("4", 1), entry("4", 2)]),
                T0,
            )
            .await;
        assert!(matches!(err, Err(StoreError::Billing(_))), "{err:?}");
    })
    .await;
}

#[tokio::test]
async fn variable_symbols_are_unique_and_stable() {
    each_backend(|store, _| async move {
        let a = account(&store, 1, 0).await;
        let b = account(&store, 2, 0).await;
        let va = vs_of(&store, a).await;
        assert_eq!(vs_of(&store, a).await, va);
        assert_ne!(vs_of(&store, b).await, va);
        assert_eq!(
            store
                .account_by_variable_symbol(&format!("00{va}"))
                .await
                .unwrap(),
            Some(a)
        );
    })
    .await;
}

#[tokio::test]
async fn duplicate_and_overlapping_statements_credit_once() {
    each_backend(|store, _| async move {
        let a = account(&store, 1, 0).await;
        let vs = vs_of(&store, a).await;
        let padded = format!("{vs:0>10}");
        let first = statement(vec![
            payment("1001", 50_000, Some(&padded)),
            payment("1002", 12_100, Some(&vs)),
        ]);
        let r = store
            .import_statement(&first, &source(), &policy(), T0)
            .await
            .unwrap();
        assert_eq!((r.transactions, r.credited, r.duplicates), (2, 2, 0));
        assert_eq!(r.credited_total, Money::from_hundredths(62_100));
        assert_eq!(available(&store, a).await, 62_100);

        let again = store
            .import_statement(&first, &source(), &policy(), T0)
            .await
            .unwrap();
        assert_eq!((again.credited, again.duplicates), (0, 2));
        assert!(again.documents.is_empty());
        assert_eq!(available(&store, a).await, 62_100);

        // Overlaps the first: 1002 again, 1003 new (VS only in the remittance text).
        let mut third = payment("1003", 1_000, None);
        third.message = Some(format!("/VS/{vs}/SS/1"));
        let overlapping = statement(vec![payment("1002", 12_100, Some(&vs)), third]);
        let r = store
            .import_statement(&overlapping, &source(), &policy(), T0)
            .await
            .unwrap();
        assert_eq!((r.credited, r.duplicates), (1, 1));
        assert_eq!(available(&store, a).await, 63_100);

        let invoices = store.list_invoices(a, None, 100).await.unwrap();
        assert_eq!(invoices.len(), 3, "one invoice per paid payment");
        let first_invoice = invoices.last().unwrap();
        let d = &first_invoice.document;
        assert_eq!(d.number, "FV2027000001");
        assert_eq!((d.base.hundredths(), d.vat.hundredths()), (41_322, 8_678));
        assert_eq!(d.total.hundredths(), 50_000);
        assert_eq!(d.variable_symbol, vs);
        assert_eq!(d.customer_name, "Customer 1");
        assert_eq!(
            d.taxable_date,
            NaiveDate::from_ymd_opt(2026, 11, 27).unwrap()
        );
        assert_eq!(
            store
                .get_invoice(a, first_invoice.id)
                .await
                .unwrap()
                .as_ref(),
            Some(first_invoice)
        );
        let other = account(&store, 2, 0).await;
        assert_eq!(
            store.get_invoice(other, first_invoice.id).await.unwrap(),
            None
        );
    })
    .await;
}

#[tokio::test]
async fn a_reversed_payment_takes_the_credit_back_with_a_credit_note() {
    each_backend(|store, _| async move {
        let a = account(&store, 1, 0).await;
        let vs = vs_of(&store, a).await;
        store
            .import_statement(
                &statement(vec![payment("2001", 30_000, Some(&vs))]),
                &source(),
                &policy(),
                T0,
            )
            .await
            .unwrap();
        assert_eq!(available(&store, a).await, 30_000);
        let mut reversal = payment("2002", 30_000, Some(&vs));
        reversal.direction = Direction::Debit;
        reversal.reversal = true;
        let r = store
            .import_statement(
                &statement(vec![reversal]),
                &source(),
                &policy(),
                T0 + SECOND,
            )
            .await
            .unwrap();
        assert_eq!(r.reversed, 1);
        assert_eq!(r.documents, vec!["DB2027000001".to_owned()]);
        assert_eq!(available(&store, a).await, 0);
        let docs = store.list_invoices(a, None, 10).await.unwrap();
        let note = &docs[0].document;
        assert_eq!(note.corrects.as_deref(), Some("FV2027000001"));
        assert_eq!(note.total.hundredths(), -30_000);
        assert_eq!(note.base.hundredths() + note.vat.hundredths(), -30_000);

        // A reversal larger than the credit left takes what there is and records the rest.
        store
            .import_statement(
                &statement(vec![payment("2003", 10_000, Some(&vs))]),
                &source(),
                &policy(),
                T0,
            )
            .await
            .unwrap();
        let msg = NewMessage {
            id: MessageId::new(1),
            to: "+420777000001".into(),
            sender: "ACME".into(),
            body: "x".into(),
            encoding: "gsm7",
            parts: 1,
            price: Money::from_hundredths(4_000),
            status: MessageStatus::Queued,
            client_ref: None,
            scheduled_at: None,
            due_at: T0,
            expires_at: T0 + 3600 * SECOND,
        };
        let sub = Submission {
            account: a,
            submission_id: 1,
            idempotency: None,
            messages: vec![msg],
            response: String::new(),
            now: T0,
            smpp: None,
            marketing: false,
            device: None,
        };
        assert_eq!(store.submit(sub).await.unwrap(), SubmitOutcome::Accepted);
        let mut reversal = payment("2004", 10_000, Some(&vs));
        reversal.direction = Direction::Debit;
        reversal.reversal = true;
        store
            .import_statement(&statement(vec![reversal]), &source(), &policy(), T0)
            .await
            .unwrap();
        assert_eq!(available(&store, a).await, 0);
        let b = store.balance(a).await.unwrap().unwrap();
        assert_eq!(
            b.reserved.hundredths(),
            4_000,
            "reserved credit is not taken"
        );
        let debtors = store.debtors().await.unwrap();
        assert_eq!(debtors.len(), 1);
        assert_eq!(
            (debtors[0].account, debtors[0].owed.hundredths()),
            (a, 4_000)
        );

        // The next payment settles the debt first.
        store
            .import_statement(
                &statement(vec![payment("2005", 5_000, Some(&vs))]),
                &source(),
                &policy(),
                T0,
            )
            .await
            .unwrap();
        assert_eq!(available(&store, a).await, 1_000);
        assert!(store.debtors().await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn unpaired_payments_wait_for_staff_and_decisions_are_logged() {
    each_backend(|store, url| async move {
        let a = account(&store, 1, 0).await;
        store
            .set_customer_details(
                a,
                &CustomerDetails {
                    name: Some("Žluťoučký kůň s.r.o.".into()),
                    address: Some("Praha".into()),
                    ico: Some("12345678".into()),
                    dic: Some("CZ12345678".into()),
                },
                T0,
            )
            .await
            .unwrap();
        let r = store
            .import_statement(
                &statement(vec![
                    payment("3001", 20_000, Some("999")),
                    payment("3002", 5_000, None),
                    {
                        let mut debit = payment("3003", 100, None);
                        debit.direction = Direction::Debit;
                        debit
                    },
                ]),
                &source(),
                &policy(),
                T0,
            )
            .await
            .unwrap();
        assert_eq!((r.unpaired, r.ignored, r.credited), (2, 1, 0));
        let queue = store.unpaired_payments().await.unwrap();
        assert_eq!(queue.len(), 2);
        assert_eq!(queue[0].variable_symbol.as_deref(), Some("999"));

        let doc = store
            .pair_payment(
                queue[0].id,
                a,
                "staff:jana",
                "customer wrote the wrong VS",
                &policy(),
                T0,
            )
            .await
            .unwrap();
        assert!(doc.is_some());
        assert_eq!(available(&store, a).await, 20_000);
        store
            .reject_payment(queue[1].id, "staff:jana", "unknown payer, refund", T0)
            .await
            .unwrap();
        assert!(store.unpaired_payments().await.unwrap().is_empty());
        let err = store
            .pair_payment(queue[1].id, a, "staff:petr", "again", &policy(), T0)
            .await;
        assert!(matches!(err, Err(StoreError::Billing(_))), "{err:?}");
        let log = store.pairing_log(queue[0].id).await.unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(
            (
                log[0].decision.as_str(),
                log[0].decided_by.as_str(),
                log[0].account
            ),
            ("paired", "staff:jana", Some(a))
        );
        assert_eq!(
            store.pairing_log(queue[1].id).await.unwrap()[0].decision,
            "rejected"
        );
        let invoice = &store.list_invoices(a, None, 1).await.unwrap()[0];
        assert_eq!(invoice.document.customer_name, "Žluťoučký kůň s.r.o.");
        assert_eq!(invoice.document.customer_dic.as_deref(), Some("CZ12345678"));

        // Issued documents and the decision log never change.
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
            .await
            .unwrap();
        for sql in [
            "UPDATE invoices SET total_cents = 1",
            "DELETE FROM invoices",
            "UPDATE payment_pairing_log SET note = 'x'",
            "DELETE FROM payment_pairing_log",
        ] {
            assert!(
                sqlx::query(sql).execute(&mut conn).await.is_err(),
                "{sql} was allowed"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_failing_import_changes_nothing() {
    each_backend(|store, _| async move {
        let a = account(&store, 1, 0).await;
        let vs = vs_of(&store, a).await;
        // No VAT rate applies before 2030: issuing the invoice of the second movement fails
        // after the first was recorded.
        let mut strict = policy();
        strict.vat_rates = billing::VatRates::new(vec![(
            NaiveDate::from_ymd_opt(2030, 1, 1).unwrap(),
            billing::VatRate::from_basis_points(2100),
        )])
        .unwrap();
        let s = statement(vec![
            payment("4001", 100, None),
            payment("4002", 100, Some(&vs)),
        ]);
        let err = store.import_statement(&s, &source(), &strict, T0).await;
        assert!(matches!(err, Err(StoreError::Billing(_))), "{err:?}");
        assert!(store.unpaired_payments().await.unwrap().is_empty());
        assert_eq!(available(&store, a).await, 0);
        // The same statement imports whole afterwards, numbering from 1.
        let r = store
            .import_statement(&s, &source(), &policy(), T0)
            .await
            .unwrap();
        assert_eq!((r.unpaired, r.credited), (1, 1));
        assert_eq!(r.documents, vec!["FV2027000001".to_owned()]);
    })
    .await;
}

#[tokio::test]
async fn concurrent_imports_number_invoices_without_gaps() {
    each_backend(|store, _| async move {
        let mut accounts = Vec::new();
        for i in 1..=4 {
            let a = account(&store, i, 0).await;
            accounts.push((a, vs_of(&store, a).await));
        }
        let mut tasks = Vec::new();
        for (n, (_, vs)) in accounts.iter().enumerate() {
            let store = store.clone();
            let vs = vs.clone();
            tasks.push(tokio::spawn(async move {
                for k in 0..5 {
                    let s = statement(vec![payment(&format!("5{n}{k}"), 1_000, Some(&vs))]);
                    store
                        .import_statement(&s, &source(), &policy(), T0)
                        .await
                        .unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let series = store.invoices_in_series("FV2027").await.unwrap();
        let seqs: Vec<i64> = series.iter().map(|i| i.seq).collect();
        assert_eq!(seqs, (1..=20).collect::<Vec<_>>());
        for (a, _) in &accounts {
            assert_eq!(available(&store, *a).await, 5_000);
        }
    })
    .await;
}

/// Payments, reversals and sending interleave at random; afterwards the balance equals the sum
/// of its ledger entries, nothing went negative and no movement was invoiced twice.
#[tokio::test]
async fn concurrent_import_and_sending_keep_the_ledger_exact() {
    each_backend(|store, _| async move {
        let a = account(&store, 1, 10_000).await;
        let vs = vs_of(&store, a).await;
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let importer = {
            let store = store.clone();
            let vs = vs.clone();
            let plan: Vec<(u64, u64)> = (0..20).map(|_| (next() % 3, next() % 5_000 + 1)).collect();
            tokio::spawn(async move {
                let mut refs = 0;
                for (kind, amount) in plan {
                    refs += 1;
                    // Each statement repeats the previous movement (overlap) and adds one.
                    let mut t = payment(&format!("6{refs}"), amount as i64, Some(&vs));
                    if kind == 2 {
                        t.direction = Direction::Debit;
                        t.reversal = true;
                    }
                    let prev = payment(&format!("6{}", refs - 1), 1, Some(&vs));
                    let s = statement(if refs > 1 { vec![prev, t] } else { vec![t] });
                    store
                        .import_statement(&s, &source(), &policy(), T0)
                        .await
                        .unwrap();
                    tokio::task::yield_now().await;
                }
            })
        };
        let sender = {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..40_i64 {
                    let sub = Submission {
                        account: a,
                        submission_id: i,
                        idempotency: None,
                        messages: vec![NewMessage {
                            id: MessageId::new(1_000 + i),
                            to: "+420777000001".into(),
                            sender: "ACME".into(),
                            body: "x".into(),
                            encoding: "gsm7",
                            parts: 1,
                            price: Money::from_hundredths(300),
                            status: MessageStatus::Queued,
                            client_ref: None,
                            scheduled_at: None,
                            due_at: T0,
                            expires_at: T0 + 3600 * SECOND,
                        }],
                        response: String::new(),
                        now: T0,
                        smpp: None,
                        marketing: false,
                        device: None,
                    };
                    store.submit(sub).await.unwrap();
                    let claimed = store
                        .claim_due(1, T0 + 1, T0 + 60 * SECOND, 10)
                        .await
                        .unwrap();
                    let results: Vec<SendResult> = claimed
                        .iter()
                        .map(|c| {
                            if c.id.get() % 3 == 0 {
                                SendResult::Failed {
                                    id: c.id,
                                    account: c.account,
                                    price: c.price,
                                    status: MessageStatus::Failed,
                                    reason: "test".into(),
                                }
                            } else {
                                SendResult::Sent {
                                    id: c.id,
                                    account: c.account,
                                    price: c.price,
                                    connector: "sim".into(),
                                    smsc_id: format!("s{}", c.id.get()),
                                }
                            }
                        })
                        .collect();
                    store.record_results(results, T0 + 2).await.unwrap();
                }
            })
        };
        importer.await.unwrap();
        sender.await.unwrap();
        let b = store.balance(a).await.unwrap().unwrap();
        assert!(
            store.ledger_consistent(a).await.unwrap(),
            "ledger differs from the balance"
        );
        assert!(b.available.hundredths() >= 0 && b.reserved.hundredths() >= 0);
        // No movement was recorded twice.
        let invoices = store.list_invoices(a, None, 1000).await.unwrap();
        let mut numbers: Vec<&str> = invoices
            .iter()
            .map(|i| i.document.number.as_str())
            .collect();
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(numbers.len(), invoices.len());
    })
    .await;
}

#[tokio::test]
async fn low_credit_notices_go_out_once_until_the_credit_recovers() {
    each_backend(|store, _| async move {
        let a = account(&store, 1, 10_000).await;
        let vs = vs_of(&store, a).await;
        assert!(store.low_credit_due().await.unwrap().is_empty());
        store
            .set_low_credit(a, Some(Money::from_hundredths(20_000)), T0)
            .await
            .unwrap();
        let due = store.low_credit_due().await.unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(
            (due[0].0, due[0].2.hundredths(), due[0].3.hundredths()),
            (a, 10_000, 20_000)
        );
        store.mark_low_credit_notified(a, T0).await.unwrap();
        assert!(store.low_credit_due().await.unwrap().is_empty());
        assert_eq!(store.rearm_low_credit().await.unwrap(), 0, "still low");
        store
            .import_statement(
                &statement(vec![payment("7001", 50_000, Some(&vs))]),
                &source(),
                &policy(),
                T0,
            )
            .await
            .unwrap();
        assert_eq!(store.rearm_low_credit().await.unwrap(), 1);
        assert!(
            store.low_credit_due().await.unwrap().is_empty(),
            "above the threshold"
        );
        store.set_low_credit(a, None, T0).await.unwrap();
        assert_eq!(store.billing_account(a, T0).await.unwrap().low_credit, None);
    })
    .await;
}
