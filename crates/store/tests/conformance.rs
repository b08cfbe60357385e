//! The storage conformance suite: every test runs on SQLite and on PostgreSQL.

use domain::{AccountId, MessageId, MessageStatus, Money};
use store::{
    CancelOutcome, Idempotency, MessageFilter, NewMessage, Receipt, SendResult, Store,
    StoreOptions, Submission, SubmitOutcome,
};
use testkit::{backends, TestDb};

const SECOND: i64 = 1_000_000;
const T0: i64 = 1_800_000_000 * SECOND;

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
            "Test",
            Money::from_hundredths(credit),
            T0,
        )
        .await
        .expect("account");
    a
}

fn message(id: i64, to: &str, price: i64, due: i64) -> NewMessage {
    NewMessage {
        id: MessageId::new(id),
        to: to.into(),
        sender: "ACME".into(),
        body: "hello".into(),
        encoding: "gsm7",
        parts: 1,
        price: Money::from_hundredths(price),
        status: MessageStatus::Queued,
        client_ref: None,
        scheduled_at: None,
        due_at: due,
        expires_at: due + 3600 * SECOND,
    }
}

fn submission(
    account: AccountId,
    sub: i64,
    messages: Vec<NewMessage>,
    key: Option<&str>,
) -> Submission {
    Submission {
        account,
        submission_id: sub,
        idempotency: key.map(|k| Idempotency {
            key: k.into(),
            request_hash: format!("hash-{sub}"),
        }),
        messages,
        response: format!("response {sub}"),
        marketing: false,
        device: None,
        now: T0,
        smpp: None,
    }
}

/// Accepts messages 100 and 101 (0.90 CZK each, due at T0) for account `a`.
async fn accept_two(store: &Store, a: AccountId) {
    let two = vec![
        message(100, "+420777000001", 90, T0),
        message(101, "+420777000002", 90, T0),
    ];
    assert_eq!(
        store.submit(submission(a, 1, two, None)).await.unwrap(),
        SubmitOutcome::Accepted
    );
}

async fn assert_balance(store: &Store, a: AccountId, available: i64, reserved: i64) {
    let b = store.balance(a).await.unwrap().unwrap();
    assert_eq!(
        (b.available.hundredths(), b.reserved.hundredths()),
        (available, reserved)
    );
    assert!(
        store.ledger_consistent(a).await.unwrap(),
        "ledger sums differ from the balance"
    );
}

#[tokio::test]
async fn submit_reserves_credit_and_replays_by_idempotency_key() {
    each_backend(|store| async move {
        let a = account(&store, 1, 1000).await;
        let s = submission(
            a,
            10,
            vec![
                message(100, "+420777000001", 90, T0),
                message(101, "+420777000002", 90, T0),
            ],
            Some("k"),
        );
        assert_eq!(store.submit(s).await.unwrap(), SubmitOutcome::Accepted);
        assert_balance(&store, a, 820, 180).await;

        let again = submission(
            a,
            10,
            vec![message(102, "+420777000001", 90, T0)],
            Some("k"),
        );
        assert_eq!(
            store.submit(again).await.unwrap(),
            SubmitOutcome::Replayed {
                response: "response 10".into()
            }
        );
        let other_body = submission(
            a,
            11,
            vec![message(103, "+420777000001", 90, T0)],
            Some("k"),
        );
        assert_eq!(
            store.submit(other_body).await.unwrap(),
            SubmitOutcome::IdempotencyMismatch
        );
        assert_balance(&store, a, 820, 180).await;
        let all = store
            .list_messages(
                a,
                &MessageFilter {
                    limit: 100,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(all.len(), 2);
    })
    .await;
}

#[tokio::test]
async fn a_submission_the_credit_cannot_cover_stores_nothing() {
    each_backend(|store| async move {
        let a = account(&store, 1, 100).await;
        let s = submission(
            a,
            10,
            vec![
                message(100, "+420777000001", 90, T0),
                message(101, "+420777000002", 90, T0),
            ],
            Some("k"),
        );
        assert_eq!(
            store.submit(s).await.unwrap(),
            SubmitOutcome::InsufficientCredit {
                available: Money::from_hundredths(100),
                required: Money::from_hundredths(180)
            }
        );
        assert!(store
            .get_message(a, MessageId::new(100))
            .await
            .unwrap()
            .is_none());
        assert_balance(&store, a, 100, 0).await;
        // The key was not spent on the refused request.
        let s = submission(
            a,
            11,
            vec![message(102, "+420777000001", 90, T0)],
            Some("k"),
        );
        assert_eq!(store.submit(s).await.unwrap(), SubmitOutcome::Accepted);
    })
    .await;
}

#[tokio::test]
async fn sent_then_delivered_charges_once_and_keeps_history() {
    each_backend(|store| async move {
        let a = account(&store, 1, 1000).await;
        store
            .submit(submission(
                a,
                1,
                vec![message(100, "+420777000001", 90, T0)],
                None,
            ))
            .await
            .unwrap();
        let claimed = store
            .claim_due(7, T0 + 1, T0 + 60 * SECOND, 10)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].attempts, 1);
        // Nothing else is due: a second claim finds nothing.
        assert!(store
            .claim_due(7, T0 + 2, T0 + 60 * SECOND, 10)
            .await
            .unwrap()
            .is_empty());
        let sent = SendResult::Sent {
            id: MessageId::new(100),
            account: a,
            price: Money::from_hundredths(90),
            connector: "c".into(),
            smsc_id: "s1".into(),
        };
        store
            .record_results(vec![sent.clone()], T0 + 3)
            .await
            .unwrap();
        // A repeated result changes nothing and charges nothing twice.
        store.record_results(vec![sent], T0 + 4).await.unwrap();
        assert_balance(&store, a, 910, 0).await;
        let receipt = Receipt {
            connector: "c".into(),
            smsc_id: "s1".into(),
            status: MessageStatus::Delivered,
            reason: None,
        };
        assert_eq!(
            store
                .apply_receipts(std::slice::from_ref(&receipt), T0 + 5)
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            store.apply_receipts(&[receipt], T0 + 6).await.unwrap(),
            0,
            "a duplicate receipt changes nothing"
        );
        let m = store
            .get_message(a, MessageId::new(100))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(m.status, MessageStatus::Delivered);
        let history: Vec<_> = store
            .message_events(MessageId::new(100))
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.status)
            .collect();
        use MessageStatus::*;
        assert_eq!(history, [Queued, Sending, Sent, Delivered]);
    })
    .await;
}

#[tokio::test]
async fn a_receipt_before_the_submit_response_is_kept_and_applied_later() {
    each_backend(|store| async move {
        let a = account(&store, 1, 1000).await;
        store
            .submit(submission(
                a,
                1,
                vec![message(100, "+420777000001", 90, T0)],
                None,
            ))
            .await
            .unwrap();
        store.claim_due(1, T0, T0 + 60 * SECOND, 10).await.unwrap();
        let early = Receipt {
            connector: "c".into(),
            smsc_id: "s1".into(),
            status: MessageStatus::Undeliverable,
            reason: Some("UNDELIV".into()),
        };
        assert_eq!(store.apply_receipts(&[early], T0 + 1).await.unwrap(), 0);
        store
            .record_results(
                vec![SendResult::Sent {
                    id: MessageId::new(100),
                    account: a,
                    price: Money::from_hundredths(90),
                    connector: "c".into(),
                    smsc_id: "s1".into(),
                }],
                T0 + 2,
            )
            .await
            .unwrap();
        assert_eq!(
            store
                .match_pending_receipts(T0 + 3, T0 - SECOND)
                .await
                .unwrap(),
            1
        );
        let m = store
            .get_message(a, MessageId::new(100))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(m.status, MessageStatus::Undeliverable);
        assert_eq!(
            store
                .match_pending_receipts(T0 + 4, T0 - SECOND)
                .await
                .unwrap(),
            0
        );
    })
    .await;
}

#[tokio::test]
async fn failures_release_and_retries_requeue() {
    each_backend(|store| async move {
        let a = account(&store, 1, 1000).await;
        accept_two(&store, a).await;
        store.claim_due(1, T0, T0 + 60 * SECOND, 10).await.unwrap();
        store
            .record_results(
                vec![
                    SendResult::Failed {
                        id: MessageId::new(100),
                        account: a,
                        price: Money::from_hundredths(90),
                        status: MessageStatus::Rejected,
                        reason: "ESME_RINVDSTADR".into(),
                    },
                    SendResult::Retry {
                        id: MessageId::new(101),
                        reason: "throttled".into(),
                        retry_at: T0 + 10 * SECOND,
                    },
                ],
                T0 + 1,
            )
            .await
            .unwrap();
        assert_balance(&store, a, 910, 90).await;
        assert!(
            store
                .claim_due(1, T0 + 5 * SECOND, T0 + 60 * SECOND, 10)
                .await
                .unwrap()
                .is_empty(),
            "not due yet"
        );
        let again = store
            .claim_due(1, T0 + 11 * SECOND, T0 + 60 * SECOND, 10)
            .await
            .unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].attempts, 2);
    })
    .await;
}

#[tokio::test]
async fn validity_ends_in_expiry_with_the_price_released() {
    each_backend(|store| async move {
        let a = account(&store, 1, 1000).await;
        let mut m = message(100, "+420777000001", 90, T0 + 10 * SECOND);
        m.expires_at = T0 + 20 * SECOND;
        m.status = MessageStatus::Scheduled;
        store.submit(submission(a, 1, vec![m], None)).await.unwrap();
        assert_eq!(store.expire_due(T0 + 19 * SECOND, 100).await.unwrap(), 0);
        // Past its validity it is neither claimed nor kept.
        assert!(store
            .claim_due(1, T0 + 21 * SECOND, T0 + 60 * SECOND, 10)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(store.expire_due(T0 + 21 * SECOND, 100).await.unwrap(), 1);
        assert_eq!(
            store
                .get_message(a, MessageId::new(100))
                .await
                .unwrap()
                .unwrap()
                .status,
            MessageStatus::Expired
        );
        assert_balance(&store, a, 1000, 0).await;
    })
    .await;
}

#[tokio::test]
async fn in_doubt_messages_are_queued_again_after_a_restart_or_a_lost_lease() {
    each_backend(|store| async move {
        let a = account(&store, 1, 1000).await;
        accept_two(&store, a).await;
        let first = store.claim_due(1, T0, T0 + 60 * SECOND, 1).await.unwrap();
        let second = store.claim_due(2, T0, T0 + 30 * SECOND, 1).await.unwrap();
        assert_ne!(
            first[0].id, second[0].id,
            "two nodes never claim the same message"
        );
        assert_eq!(store.requeue_in_doubt(1, T0 + SECOND).await.unwrap(), 1);
        assert_eq!(
            store
                .recover_expired_leases(T0 + 29 * SECOND)
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            store
                .recover_expired_leases(T0 + 31 * SECOND)
                .await
                .unwrap(),
            1
        );
        let ids: Vec<_> = store
            .claim_due(3, T0 + 32 * SECOND, T0 + 90 * SECOND, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.id.get())
            .collect();
        assert_eq!(ids.len(), 2);
        assert_balance(&store, a, 820, 180).await;
    })
    .await;
}

#[tokio::test]
async fn cancel_releases_and_only_waiting_messages_cancel() {
    each_backend(|store| async move {
        let a = account(&store, 1, 1000).await;
        let b = account(&store, 2, 1000).await;
        store
            .submit(submission(
                a,
                1,
                vec![
                    message(100, "+420777000001", 90, T0 + 3600 * SECOND),
                    message(101, "+420777000002", 90, T0),
                ],
                None,
            ))
            .await
            .unwrap();
        assert_eq!(
            store
                .cancel_message(b, MessageId::new(100), T0)
                .await
                .unwrap(),
            CancelOutcome::NotFound,
            "another account's message"
        );
        assert_eq!(
            store
                .cancel_message(a, MessageId::new(100), T0)
                .await
                .unwrap(),
            CancelOutcome::Cancelled
        );
        assert_eq!(
            store
                .cancel_message(a, MessageId::new(100), T0)
                .await
                .unwrap(),
            CancelOutcome::NotCancellable(MessageStatus::Cancelled)
        );
        store.claim_due(1, T0, T0 + 60 * SECOND, 10).await.unwrap();
        assert_eq!(
            store
                .cancel_message(a, MessageId::new(101), T0)
                .await
                .unwrap(),
            CancelOutcome::NotCancellable(MessageStatus::Sending)
        );
        assert_balance(&store, a, 910, 90).await;
    })
    .await;
}

#[tokio::test]
async fn the_ledger_refuses_updates_and_deletes() {
    for backend in backends().await {
        let db = TestDb::new(backend).await;
        let store = Store::connect(&db.url, StoreOptions::default())
            .await
            .unwrap();
        account(&store, 1, 500).await;
        store.close().await;
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
        assert!(
            sqlx::query("UPDATE ledger_entries SET available_delta = 1000000")
                .execute(&pool)
                .await
                .is_err()
        );
        assert!(sqlx::query("DELETE FROM ledger_entries")
            .execute(&pool)
            .await
            .is_err());
        pool.close().await;
    }
}

#[tokio::test]
async fn concurrent_submissions_keep_the_ledger_exact() {
    each_backend(|store| async move {
        let a = account(&store, 1, 50 * 90).await;
        let mut tasks = Vec::new();
        for i in 0..80i64 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .submit(submission(
                        a,
                        1000 + i,
                        vec![message(10_000 + i, "+420777000001", 90, T0)],
                        None,
                    ))
                    .await
                    .unwrap()
            }));
        }
        let mut accepted = 0;
        for t in tasks {
            if t.await.unwrap() == SubmitOutcome::Accepted {
                accepted += 1;
            }
        }
        assert_eq!(accepted, 50, "exactly what the credit covers");
        assert_balance(&store, a, 0, 50 * 90).await;
    })
    .await;
}

#[tokio::test]
async fn the_list_filters_and_pages_newest_first() {
    each_backend(|store| async move {
        let a = account(&store, 1, 100_000).await;
        let msgs = (0..25)
            .map(|i| {
                message(
                    100 + i,
                    if i % 2 == 0 {
                        "+420777000001"
                    } else {
                        "+420777000002"
                    },
                    1,
                    T0,
                )
            })
            .collect();
        store.submit(submission(a, 1, msgs, None)).await.unwrap();
        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let page = store
                .list_messages(
                    a,
                    &MessageFilter {
                        limit: 10,
                        before,
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            seen.extend(page.iter().map(|m| m.id.get()));
            if page.len() < 10 {
                break;
            }
            before = page.last().map(|m| m.id);
        }
        assert_eq!(seen, (100..125).rev().collect::<Vec<_>>());
        let to_one = store
            .list_messages(
                a,
                &MessageFilter {
                    limit: 100,
                    to: Some("+420777000002".into()),
                    status: Some(MessageStatus::Queued),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(to_one.len(), 12);
        let none = store
            .list_messages(
                a,
                &MessageFilter {
                    limit: 100,
                    since: Some(T0 + 1),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert!(none.is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_reply_belongs_to_the_account_that_last_wrote_to_its_sender() {
    each_backend(|store| async move {
        let a = account(&store, 1, 1000).await;
        let b = account(&store, 2, 1000).await;
        store
            .submit(submission(
                a,
                1,
                vec![message(100, "+420777000001", 1, T0)],
                None,
            ))
            .await
            .unwrap();
        store
            .submit(submission(
                b,
                2,
                vec![message(200, "+420777000001", 1, T0)],
                None,
            ))
            .await
            .unwrap();
        let reply = |id: i64, from: &str| store::NewInbound {
            id,
            connector: "c".into(),
            from: from.into(),
            to: "1234".into(),
            body: "STOP".into(),
            smsc_id: None,
            received_at: T0 + id,
        };
        let owners = store
            .store_inbound(&[reply(1, "+420777000001"), reply(2, "+420999999999")])
            .await
            .unwrap();
        assert_eq!(owners, [Some(b), None]);
        let inbox = store.list_inbound(b, None, 10).await.unwrap();
        assert_eq!(inbox.len(), 1);
        assert_eq!(
            (inbox[0].from.as_str(), inbox[0].body.as_str()),
            ("+420777000001", "STOP")
        );
        assert!(store.list_inbound(a, None, 10).await.unwrap().is_empty());
    })
    .await;
}

/// A claim gives each due message back as it was stored (any text; the earliest due, at most
/// `limit`), counts the attempt, and leaves what is not due, expired or claimed already.
#[tokio::test]
async fn a_claim_returns_the_due_messages_as_stored() {
    each_backend(|store| async move {
        let a = account(&store, 1, 100_000).await;
        let texts = [
            "quote \" backslash \\ slash / tab \t",
            "line one\nline two\r\n",
            "Příliš žluťoučký kůň úpěl ďábelské ódy 😀 𝄞",
            "{\"json\": [1, 2]} ' ; -- DROP TABLE messages",
        ];
        let mut messages = Vec::new();
        for (i, text) in texts.iter().enumerate() {
            let i = i as i64;
            let mut m = message(100 + i, &format!("+42077700000{i}"), 90 + i, T0 + (3 - i));
            m.body = (*text).to_owned();
            m.sender = format!("Sender {i}");
            m.encoding = if i == 2 { "ucs2" } else { "gsm7" };
            m.parts = 1 + i as u32;
            messages.push(m);
        }
        // Not due yet, and expired: neither is claimed.
        messages.push(message(200, "+420777000009", 90, T0 + 3600 * SECOND));
        let mut expired = message(201, "+420777000008", 90, T0 - 7200 * SECOND);
        expired.expires_at = T0 - SECOND;
        messages.push(expired);
        store
            .submit(submission(a, 1, messages, None))
            .await
            .unwrap();

        let first = store
            .claim_due(1, T0 + 10, T0 + 60 * SECOND, 3)
            .await
            .unwrap();
        let mut ids: Vec<i64> = first.iter().map(|c| c.id.get()).collect();
        ids.sort_unstable();
        assert_eq!(ids, [101, 102, 103], "the earliest due, at most the limit");
        let rest = store
            .claim_due(1, T0 + 10, T0 + 60 * SECOND, 10)
            .await
            .unwrap();
        assert_eq!(rest.iter().map(|c| c.id.get()).collect::<Vec<_>>(), [100]);
        for c in first.iter().chain(&rest) {
            let i = (c.id.get() - 100) as usize;
            assert_eq!(c.account, a);
            assert_eq!(c.body, texts[i], "body of {}", c.id.get());
            assert_eq!(c.sender, format!("Sender {i}"));
            assert_eq!(c.to, format!("+42077700000{i}"));
            assert_eq!(c.encoding, if i == 2 { "ucs2" } else { "gsm7" });
            assert_eq!(c.parts, 1 + i as u32);
            assert_eq!(c.price, Money::from_hundredths(90 + i as i64));
            assert_eq!(c.expires_at, T0 + (3 - i as i64) + 3600 * SECOND);
            assert_eq!(c.attempts, 1);
            assert!(!c.device);
        }
        assert!(store
            .claim_due(1, T0 + 20, T0 + 60 * SECOND, 10)
            .await
            .unwrap()
            .is_empty());
        // A lease that ran out puts the message back; the next claim counts a second attempt.
        store
            .recover_expired_leases(T0 + 61 * SECOND)
            .await
            .unwrap();
        let again = store
            .claim_due(1, T0 + 62 * SECOND, T0 + 120 * SECOND, 10)
            .await
            .unwrap();
        assert_eq!(again.len(), 4);
        assert!(again.iter().all(|c| c.attempts == 2));
    })
    .await;
}
