//! Recipients' protection in the store, on SQLite and PostgreSQL: every source of a Blacklist
//! entry, enforcement at submission and at the dispatcher's claim, imports, commercial messages
//! and erasure.

use domain::optout::Keyword;
use domain::{AccountId, MessageId, MessageStatus, Money};
use store::{
    Basis, BlockReason, Contact, EntryKind, ImportReject, ImportRow, NewMessage, Removal, Scope,
    Source, Store, StoreOptions, Submission, SubmitOutcome,
};
use testkit::{backends, TestDb};

const SECOND: i64 = 1_000_000;
const T0: i64 = 1_800_000_000 * SECOND;
const A_NUMBER: &str = "+420777123456";

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

async fn account(store: &Store, id: i64) -> AccountId {
    let a = AccountId::new(id);
    store
        .create_account(
            a,
            &format!("a{id}@example.com"),
            "Test",
            Money::from_hundredths(10_000),
            T0,
        )
        .await
        .expect("account");
    a
}

fn message(id: i64, to: &str, due: i64) -> NewMessage {
    NewMessage {
        id: MessageId::new(id),
        to: to.into(),
        sender: "ACME".into(),
        body: format!("Hello {to}"),
        encoding: "gsm7",
        parts: 1,
        price: Money::from_hundredths(90),
        status: if due > T0 {
            MessageStatus::Scheduled
        } else {
            MessageStatus::Queued
        },
        client_ref: None,
        scheduled_at: (due > T0).then_some(due),
        due_at: due,
        expires_at: due + 3600 * SECOND,
    }
}

async fn send(store: &Store, a: AccountId, id: i64, to: &str, marketing: bool) {
    let s = Submission {
        account: a,
        submission_id: id + 1_000_000,
        idempotency: None,
        messages: vec![message(id, to, T0)],
        response: format!("{{\"to\":\"{to}\"}}"),
        now: T0,
        marketing,
        device: None,
        smpp: None,
    };
    assert_eq!(store.submit(s).await.unwrap(), SubmitOutcome::Accepted);
}

async fn status(store: &Store, a: AccountId, id: i64) -> (MessageStatus, Option<String>, i64) {
    let m = store
        .get_message(a, MessageId::new(id))
        .await
        .unwrap()
        .unwrap();
    (m.status, m.status_reason, m.price.hundredths())
}

async fn assert_balance(store: &Store, a: AccountId, available: i64, reserved: i64) {
    let b = store.balance(a).await.unwrap().unwrap();
    assert_eq!(
        (b.available.hundredths(), b.reserved.hundredths()),
        (available, reserved)
    );
    assert!(store.ledger_consistent(a).await.unwrap());
}

#[tokio::test]
async fn every_source_of_an_entry_blocks_at_no_charge() {
    each_backend(|store| async move {
        let a = account(&store, 1).await;
        let b = account(&store, 2).await;
        // The API (account scope): only that account is blocked.
        assert!(store
            .add_to_blacklist(
                10,
                Scope::Account(a),
                A_NUMBER,
                EntryKind::OptOut,
                Source::Api,
                T0
            )
            .await
            .unwrap());
        send(&store, a, 100, A_NUMBER, false).await;
        send(&store, b, 101, A_NUMBER, false).await;
        let (st, reason, price) = status(&store, a, 100).await;
        assert_eq!((st, price), (MessageStatus::Blocked, 0));
        assert_eq!(reason.as_deref(), Some(BlockReason::OptedOut.text()));
        assert_eq!(status(&store, b, 101).await.0, MessageStatus::Queued);
        assert_balance(&store, a, 10_000, 0).await;
        assert_balance(&store, b, 9_910, 90).await;

        // A STOP reply to account b (account scope), STOPALL (global) from another number.
        store
            .apply_keywords(
                &[
                    (11, A_NUMBER.into(), Some(b), Keyword::OptOut),
                    (12, "+420777000002".into(), None, Keyword::OptOutAll),
                ],
                T0,
            )
            .await
            .unwrap();
        // The queued message to b ended blocked at once, its reservation released.
        assert_eq!(status(&store, b, 101).await.0, MessageStatus::Blocked);
        assert_balance(&store, b, 10_000, 0).await;
        send(&store, a, 102, "+420777000002", false).await;
        assert_eq!(
            status(&store, a, 102).await.1.as_deref(),
            Some(BlockReason::OptedOutAll.text())
        );
        // The customer cannot lift what the recipient asked for; the recipient's START can.
        assert_eq!(
            store.remove_from_blacklist(b, A_NUMBER).await.unwrap(),
            Removal::FromRecipient
        );
        store
            .apply_keywords(&[(13, A_NUMBER.into(), Some(b), Keyword::OptIn)], T0)
            .await
            .unwrap();
        send(&store, b, 103, A_NUMBER, false).await;
        assert_eq!(status(&store, b, 103).await.0, MessageStatus::Queued);
        // START does not lift an entry the customer made.
        store
            .apply_keywords(&[(14, A_NUMBER.into(), Some(a), Keyword::OptIn)], T0)
            .await
            .unwrap();
        assert_eq!(
            store.block_reason(a, A_NUMBER).await.unwrap(),
            Some(BlockReason::OptedOut)
        );
        assert_eq!(
            store.remove_from_blacklist(a, A_NUMBER).await.unwrap(),
            Removal::Removed
        );
        assert_eq!(store.block_reason(a, A_NUMBER).await.unwrap(), None);

        // Staff restriction (global): kept, shown as restricted, never sent to.
        store
            .add_to_blacklist(
                15,
                Scope::Global,
                "+420777000003",
                EntryKind::Restricted,
                Source::Staff,
                T0,
            )
            .await
            .unwrap();
        send(&store, b, 104, "+420777000003", false).await;
        assert_eq!(
            status(&store, b, 104).await.1.as_deref(),
            Some(BlockReason::Restricted.text())
        );
        let entries = store.blacklist_entries("+420777000003").await.unwrap();
        assert_eq!(entries[0].kind, EntryKind::Restricted);
        assert_eq!(entries[0].number.as_deref(), Some("+420777000003"));
        assert!(store.lift_restriction("+420777000003").await.unwrap());
        assert_eq!(store.block_reason(b, "+420777000003").await.unwrap(), None);

        let listed = store.list_blacklist(a, None, 100).await.unwrap();
        assert!(listed.is_empty(), "{listed:?}");
        let listed = store.list_blacklist(b, None, 100).await.unwrap();
        assert!(listed.is_empty(), "START removed b's entry: {listed:?}");
    })
    .await;
}

#[tokio::test]
async fn a_scheduled_message_to_a_number_blocked_later_is_ended_at_once() {
    each_backend(|store| async move {
        let a = account(&store, 1).await;
        let s = Submission {
            account: a,
            submission_id: 1,
            idempotency: None,
            messages: vec![
                message(100, A_NUMBER, T0 + 60 * SECOND),
                message(101, "+420777000002", T0 + 60 * SECOND),
            ],
            response: String::new(),
            now: T0,
            marketing: false,
            device: None,
            smpp: None,
        };
        assert_eq!(store.submit(s).await.unwrap(), SubmitOutcome::Accepted);
        assert_balance(&store, a, 9_820, 180).await;
        store
            .add_to_blacklist(
                10,
                Scope::Account(a),
                A_NUMBER,
                EntryKind::OptOut,
                Source::Api,
                T0,
            )
            .await
            .unwrap();
        assert_eq!(status(&store, a, 100).await.0, MessageStatus::Blocked);
        assert_balance(&store, a, 9_910, 90).await;
        let claimed = store
            .claim_due(1, T0 + 61 * SECOND, T0 + 400 * SECOND, 100)
            .await
            .unwrap();
        let ids: Vec<i64> = claimed.iter().map(|c| c.id.get()).collect();
        assert_eq!(ids, vec![101]);
    })
    .await;
}

#[tokio::test]
async fn the_claim_blocks_what_slipped_past_the_writer() {
    for backend in backends().await {
        let db = TestDb::new(backend).await;
        let store = Store::connect(&db.url, StoreOptions::default())
            .await
            .expect("connect");
        let a = account(&store, 1).await;
        send(&store, a, 100, A_NUMBER, false).await;
        send(&store, a, 101, "+420777000002", false).await;
        // An entry committed by another node while the message was being written: straight
        // into the table, so nothing but the claim can stop the message.
        sqlx::any::install_default_drivers();
        let raw = sqlx::AnyPool::connect(&db.url).await.unwrap();
        sqlx::query(
            "INSERT INTO blacklist (id, account_id, number_hash, number, kind, source, created_at) \
             VALUES (10, 0, $1, $2, 'opt_out', 'recipient', $3)",
        )
        .bind(store.number_hash(A_NUMBER))
        .bind(A_NUMBER)
        .bind(T0)
        .execute(&raw)
        .await
        .unwrap();
        raw.close().await;
        assert_eq!(status(&store, a, 100).await.0, MessageStatus::Queued);
        let claimed = store
            .claim_due(1, T0, T0 + 300 * SECOND, 100)
            .await
            .unwrap();
        let ids: Vec<i64> = claimed.iter().map(|c| c.id.get()).collect();
        assert_eq!(ids, vec![101]);
        let (st, reason, price) = status(&store, a, 100).await;
        assert_eq!((st, price), (MessageStatus::Blocked, 0));
        assert_eq!(reason.as_deref(), Some(BlockReason::OptedOutAll.text()));
        let history = store.message_events(MessageId::new(100)).await.unwrap();
        assert_eq!(history.last().unwrap().status, MessageStatus::Blocked);
        assert_balance(&store, a, 9_910, 90).await;
        store.close().await;
    }
}

fn row(row: i64, number: &str, basis: Option<Basis>) -> ImportRow {
    ImportRow {
        row,
        contact: Contact {
            number: number.into(),
            name: Some(format!("Name {row}")),
            fields: Some("{\"city\":\"Brno\"}".into()),
            basis,
        },
    }
}

#[tokio::test]
async fn imports_merge_duplicates_and_report_blocked_and_bad_rows() {
    each_backend(|store| async move {
        let a = account(&store, 1).await;
        store
            .create_contact_list(50, a, "Customers", T0)
            .await
            .unwrap();
        store
            .add_to_blacklist(
                10,
                Scope::Account(a),
                "+420777000003",
                EntryKind::OptOut,
                Source::Api,
                T0,
            )
            .await
            .unwrap();
        store
            .start_import(60, a, 50, Some(Basis::Consent), T0)
            .await
            .unwrap();
        let rows = vec![
            row(1, "+420777000001", Some(Basis::Consent)),
            row(2, "+420777000002", Some(Basis::Consent)),
            row(4, "+420777000003", Some(Basis::Consent)),
        ];
        let bad = vec![ImportReject {
            row: 3,
            value: Some("12".into()),
            reason: "not a phone number".into(),
        }];
        let out = store
            .import_batch(60, a, 50, &rows, &bad, 4, T0)
            .await
            .unwrap();
        assert_eq!((out.imported, out.duplicates, out.blocked), (2, 0, 1));
        let out = store
            .import_batch(60, a, 50, &rows[..1], &[], 5, T0)
            .await
            .unwrap();
        assert_eq!((out.imported, out.duplicates), (0, 1));
        assert_eq!(store.fail_interrupted_imports(T0, T0).await.unwrap(), 0);
        store.finish_import(60, None, T0).await.unwrap();
        let rec = store.contact_import(a, 50, 60).await.unwrap().unwrap();
        assert_eq!(
            (
                rec.rows_read,
                rec.imported,
                rec.duplicates,
                rec.rejected,
                rec.blocked
            ),
            (5, 2, 1, 1, 1)
        );
        let rejects = store.import_rejects(60, 0, 100).await.unwrap();
        assert_eq!(rejects.len(), 2);
        assert_eq!(rejects[0].row, 3);
        assert_eq!(rejects[1].reason, BlockReason::OptedOut.text());
        let list = store.contact_list(a, 50).await.unwrap().unwrap();
        assert_eq!(list.contacts, 2);
        let contacts = store.contacts(50, None, 10).await.unwrap();
        assert_eq!(contacts[0].basis, Some(Basis::Consent));
        assert!(store.delete_contact_list(a, 50).await.unwrap());
        assert!(store.contact_list(a, 50).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn marketing_goes_only_to_numbers_with_a_recorded_basis() {
    each_backend(|store| async move {
        let a = account(&store, 1).await;
        store
            .create_contact_list(50, a, "Newsletter", T0)
            .await
            .unwrap();
        store
            .start_import(60, a, 50, Some(Basis::Customer), T0)
            .await
            .unwrap();
        store
            .import_batch(
                60,
                a,
                50,
                &[
                    row(1, "+420777000001", Some(Basis::Customer)),
                    row(2, "+420777000002", None),
                ],
                &[],
                2,
                T0,
            )
            .await
            .unwrap();
        send(&store, a, 100, "+420777000001", true).await;
        send(&store, a, 101, "+420777000002", true).await;
        send(&store, a, 102, "+420777000009", true).await;
        send(&store, a, 103, "+420777000009", false).await;
        assert_eq!(status(&store, a, 100).await.0, MessageStatus::Queued);
        let (st, reason, price) = status(&store, a, 101).await;
        assert_eq!((st, price), (MessageStatus::Blocked, 0));
        assert_eq!(
            reason.as_deref(),
            Some(BlockReason::NoMarketingBasis.text())
        );
        assert_eq!(status(&store, a, 102).await.0, MessageStatus::Blocked);
        assert_eq!(status(&store, a, 103).await.0, MessageStatus::Queued);
        assert_balance(&store, a, 9_820, 180).await;
    })
    .await;
}

#[tokio::test]
async fn erasure_leaves_only_the_hash_and_the_block_still_works() {
    each_backend(|store| async move {
        let a = account(&store, 1).await;
        let digits = &A_NUMBER[1..];
        let national = &A_NUMBER[4..];
        store.create_contact_list(50, a, "List", T0).await.unwrap();
        store
            .start_import(60, a, 50, Some(Basis::Consent), T0)
            .await
            .unwrap();
        store
            .import_batch(
                60,
                a,
                50,
                &[row(1, A_NUMBER, Some(Basis::Consent))],
                &[],
                1,
                T0,
            )
            .await
            .unwrap();
        store
            .add_to_blacklist(
                10,
                Scope::Account(a),
                A_NUMBER,
                EntryKind::OptOut,
                Source::Api,
                T0,
            )
            .await
            .unwrap();
        store.remove_from_blacklist(a, A_NUMBER).await.unwrap();
        send(&store, a, 100, A_NUMBER, false).await;
        // Another message that mentions the number in its text and its client reference.
        let mut other = message(101, "+420777000002", T0);
        other.body = format!("Call {national} back");
        other.client_ref = Some(format!("crm-{digits}"));
        store
            .submit(Submission {
                account: a,
                submission_id: 7,
                idempotency: Some(store::Idempotency {
                    key: "k".into(),
                    request_hash: "h".into(),
                }),
                messages: vec![other],
                response: format!("{{\"to\":\"{A_NUMBER}\"}}"),
                now: T0,
                marketing: false,
                device: None,
                smpp: None,
            })
            .await
            .unwrap();
        store
            .store_inbound(&[store::NewInbound {
                id: 900,
                connector: "sim".into(),
                from: A_NUMBER.into(),
                to: "4209000".into(),
                body: "Hi".into(),
                smsc_id: None,
                received_at: T0,
            }])
            .await
            .unwrap();
        store
            .add_to_blacklist(
                11,
                Scope::Account(a),
                A_NUMBER,
                EntryKind::OptOut,
                Source::Api,
                T0,
            )
            .await
            .unwrap();
        assert!(!store.find_text(national).await.unwrap().is_empty());

        let report = store
            .erase_recipient(12, A_NUMBER, &[national.to_owned()], T0)
            .await
            .unwrap();
        assert_eq!(report.contacts_deleted, 1);
        assert_eq!(report.inbound_deleted, 1);
        for needle in [A_NUMBER, digits, national] {
            let left = store.find_text(needle).await.unwrap();
            assert!(left.is_empty(), "{needle} still in {left:?}");
        }
        // The block still works, for every account, and the message queued before is ended.
        assert_eq!(status(&store, a, 100).await.0, MessageStatus::Blocked);
        let b = account(&store, 2).await;
        send(&store, b, 102, A_NUMBER, false).await;
        assert_eq!(
            status(&store, b, 102).await.1.as_deref(),
            Some(BlockReason::Erased.text())
        );
        // A later upload of the number is refused, and the report does not show it.
        store.create_contact_list(51, b, "Again", T0).await.unwrap();
        store.start_import(62, b, 51, None, T0).await.unwrap();
        let out = store
            .import_batch(62, b, 51, &[row(1, A_NUMBER, None)], &[], 1, T0)
            .await
            .unwrap();
        assert_eq!(out.blocked, 1);
        assert_eq!(
            store.import_rejects(62, 0, 10).await.unwrap()[0].value,
            None
        );
        assert!(store.find_text(national).await.unwrap().is_empty());
        let entries = store.blacklist_entries(A_NUMBER).await.unwrap();
        assert!(entries.iter().all(|e| e.number.is_none()));
        assert!(entries.iter().any(|e| e.kind == EntryKind::Erased));
    })
    .await;
}
