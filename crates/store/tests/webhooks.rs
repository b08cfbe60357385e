//! The event feed and webhook deliveries, on SQLite and on PostgreSQL.

use std::time::Duration;

use domain::{AccountId, MessageId, MessageStatus, Money};
use sqlx::Connection;
use store::{
    AttemptResult, DeliveryState, FeedEventKind, FeedSource, GapTracker, NewDelivery, NewInbound,
    NewMessage, NewWebhook, Store, StoreOptions, Submission, SubmitOutcome,
};
use testkit::{backends, Backend, TestDb};

const SECOND: i64 = 1_000_000;
const T0: i64 = 1_800_000_000 * SECOND;
const CONSUMER: &str = "test.message_events";

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

/// Account 1 with messages 100 and 101 accepted (one `queued` event each).
async fn account_with_two_messages(store: &Store) -> AccountId {
    let a = AccountId::new(1);
    store
        .create_account(a, "a@example.com", "Test", Money::from_hundredths(1000), T0)
        .await
        .unwrap();
    let message = |id: i64| NewMessage {
        id: MessageId::new(id),
        to: format!("+420777000{id}"),
        sender: "ACME".into(),
        body: "hello".into(),
        encoding: "gsm7",
        parts: 1,
        price: Money::from_hundredths(90),
        status: MessageStatus::Queued,
        client_ref: Some(format!("ref-{id}")),
        scheduled_at: None,
        due_at: T0,
        expires_at: T0 + 3600 * SECOND,
    };
    let outcome = store
        .submit(Submission {
            account: a,
            submission_id: 1,
            idempotency: None,
            messages: vec![message(100), message(101)],
            response: "r".into(),
            smpp: None,
            marketing: false,
            device: None,
            now: T0,
        })
        .await
        .unwrap();
    assert_eq!(outcome, SubmitOutcome::Accepted);
    a
}

fn grace() -> GapTracker {
    GapTracker::new(Duration::from_secs(5))
}

#[tokio::test]
async fn the_cursor_is_persisted_and_moves_only_by_compare_and_set() {
    each_backend(|store| async move {
        let a = account_with_two_messages(&store).await;
        let mut gaps = grace();
        let batch = store
            .read_feed(FeedSource::MessageEvents, CONSUMER, 100, &mut gaps, T0)
            .await
            .unwrap();
        assert_eq!(batch.from, 0);
        assert_eq!(batch.events.len(), 2);
        assert_eq!(batch.to, batch.events[1].seq);
        match &batch.events[0].kind {
            FeedEventKind::MessageStatus {
                message_id,
                account,
                status,
                to,
                client_ref,
                ..
            } => {
                assert_eq!(*message_id, MessageId::new(100));
                assert_eq!(*account, Some(a));
                assert_eq!(status, "queued");
                assert_eq!(to.as_deref(), Some("+420777000100"));
                assert_eq!(client_ref.as_deref(), Some("ref-100"));
            }
            other => panic!("{other:?}"),
        }
        // Reading does not move the cursor.
        let again = store
            .read_feed(FeedSource::MessageEvents, CONSUMER, 100, &mut gaps, T0)
            .await
            .unwrap();
        assert_eq!(again, batch);
        assert!(store
            .advance_feed(CONSUMER, batch.from, batch.to)
            .await
            .unwrap());
        // A second reader that read the same batch finds the cursor moved.
        assert!(!store
            .advance_feed(CONSUMER, batch.from, batch.to)
            .await
            .unwrap());
        // A new reader (a restart) continues where the cursor is.
        let after = store
            .read_feed(FeedSource::MessageEvents, CONSUMER, 100, &mut grace(), T0)
            .await
            .unwrap();
        assert_eq!(
            (after.from, after.to, after.events.len()),
            (batch.to, batch.to, 0)
        );
        // Other consumers have their own cursor.
        let other = store
            .read_feed(FeedSource::MessageEvents, "other", 1, &mut grace(), T0)
            .await
            .unwrap();
        assert_eq!(other.events.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn inbound_messages_are_read_in_the_order_they_were_stored() {
    each_backend(|store| async move {
        let a = account_with_two_messages(&store).await;
        let inbound = |id: i64, from: &str| NewInbound {
            id,
            connector: "smsc".into(),
            from: from.into(),
            to: "4209000".into(),
            body: format!("reply {id}"),
            smsc_id: None,
            received_at: T0 + id,
        };
        // A later-stored message with an earlier snowflake id still comes after.
        store
            .store_inbound(&[inbound(900, "+420777000100")])
            .await
            .unwrap();
        store
            .store_inbound(&[inbound(800, "+420999999999")])
            .await
            .unwrap();
        let batch = store
            .read_feed(FeedSource::Inbound, "test.inbound", 100, &mut grace(), T0)
            .await
            .unwrap();
        let got: Vec<(i64, Option<AccountId>)> = batch
            .events
            .iter()
            .map(|e| match &e.kind {
                FeedEventKind::Inbound {
                    inbound_id,
                    account,
                    ..
                } => (*inbound_id, *account),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(got, [(900, Some(a)), (800, None)]);
    })
    .await;
}

fn delivery(id: i64, webhook_id: i64, a: AccountId, key: &str) -> NewDelivery {
    NewDelivery {
        id,
        webhook_id,
        account: a,
        event_type: "message.status".into(),
        event_key: key.into(),
        payload: format!("{{\"key\":\"{key}\"}}"),
    }
}

#[tokio::test]
async fn fan_out_creates_each_delivery_once_with_the_cursor_move() {
    each_backend(|store| async move {
        let a = account_with_two_messages(&store).await;
        store
            .create_webhook(&NewWebhook {
                id: 7,
                account: a,
                url: "https://example.com/h".into(),
                events: vec!["message.status".into(), "inbound".into()],
                secret: "sealed".into(),
                now: T0,
            })
            .await
            .unwrap();
        let hooks = store.webhooks_of(&[a, AccountId::new(2)]).await.unwrap();
        assert_eq!(hooks.len(), 1);
        assert_eq!(hooks[0].events, ["message.status", "inbound"]);
        let batch = store
            .read_feed(FeedSource::MessageEvents, CONSUMER, 100, &mut grace(), T0)
            .await
            .unwrap();
        let made: Vec<_> = batch
            .events
            .iter()
            .enumerate()
            .map(|(i, e)| delivery(1000 + i as i64, 7, a, &format!("message_event:{}", e.seq)))
            .collect();
        assert!(store
            .fan_out(CONSUMER, batch.from, batch.to, made.clone(), T0)
            .await
            .unwrap());
        // The same batch again (a second node, or a retry after a lost answer): nothing.
        assert!(!store
            .fan_out(CONSUMER, batch.from, batch.to, made.clone(), T0)
            .await
            .unwrap());
        // Even with the cursor right, the same events make no second delivery.
        let renumbered: Vec<_> = made
            .iter()
            .map(|d| NewDelivery {
                id: d.id + 100,
                ..d.clone()
            })
            .collect();
        assert!(store
            .fan_out(CONSUMER, batch.to, batch.to, renumbered.clone(), T0)
            .await
            .unwrap());
        let listed = store.list_deliveries(a, 7, None, 100).await.unwrap();
        assert_eq!(
            listed.iter().map(|d| d.id).collect::<Vec<_>>(),
            [1001, 1000]
        );
        assert!(listed
            .iter()
            .all(|d| d.status == "pending" && d.attempts == 0));
        // Another account sees none of them.
        assert!(store
            .list_deliveries(AccountId::new(2), 7, None, 100)
            .await
            .unwrap()
            .is_empty());
    })
    .await;
}

#[tokio::test]
async fn deliveries_are_claimed_with_a_lease_retried_and_delivered() {
    each_backend(|store| async move {
        let a = account_with_two_messages(&store).await;
        store
            .create_webhook(&NewWebhook {
                id: 7,
                account: a,
                url: "https://example.com/h".into(),
                events: vec!["message.status".into()],
                secret: "sealed".into(),
                now: T0,
            })
            .await
            .unwrap();
        assert_eq!(store.feed_position(CONSUMER).await.unwrap(), 0);
        assert!(store
            .fan_out(CONSUMER, 0, 0, vec![delivery(1000, 7, a, "k1")], T0)
            .await
            .unwrap());
        let claimed = store
            .claim_deliveries(T0, T0 + 40 * SECOND, 10)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(
            (claimed[0].url.as_str(), claimed[0].secret.as_str()),
            ("https://example.com/h", "sealed")
        );
        assert_eq!(claimed[0].attempts, 0);
        assert!(!claimed[0].webhook_deleted);
        // Claimed: nobody else takes it until the lease ends.
        assert!(store
            .claim_deliveries(T0 + SECOND, T0 + SECOND, 10)
            .await
            .unwrap()
            .is_empty());
        store
            .record_attempts(&[AttemptResult {
                delivery_id: 1000,
                at: T0 + SECOND,
                duration_us: 1500,
                status_code: Some(500),
                error: Some("HTTP 500".into()),
                state: DeliveryState::Retry(T0 + 10 * SECOND),
            }])
            .await
            .unwrap();
        assert!(store
            .claim_deliveries(T0 + 9 * SECOND, T0 + 50 * SECOND, 10)
            .await
            .unwrap()
            .is_empty());
        let again = store
            .claim_deliveries(T0 + 10 * SECOND, T0 + 50 * SECOND, 10)
            .await
            .unwrap();
        assert_eq!(again[0].attempts, 1);
        store
            .record_attempts(&[AttemptResult {
                delivery_id: 1000,
                at: T0 + 11 * SECOND,
                duration_us: 900,
                status_code: Some(204),
                error: None,
                state: DeliveryState::Delivered,
            }])
            .await
            .unwrap();
        let d = &store.list_deliveries(a, 7, None, 10).await.unwrap()[0];
        assert_eq!(
            (d.status.as_str(), d.attempts, d.last_status_code),
            ("delivered", 2, Some(204))
        );
        assert_eq!(d.delivered_at, Some(T0 + 11 * SECOND));
        assert_eq!(d.next_attempt_at, None);
        let attempts = store.delivery_attempts(&[1000]).await.unwrap();
        assert_eq!(
            attempts
                .iter()
                .map(|a| (a.status_code, a.error.as_deref()))
                .collect::<Vec<_>>(),
            [(Some(500), Some("HTTP 500")), (Some(204), None)]
        );
        // Nothing more to send; a deleted webhook is reported with its deliveries.
        assert!(store
            .claim_deliveries(T0 + 100 * SECOND, T0 + 200 * SECOND, 10)
            .await
            .unwrap()
            .is_empty());
        assert!(store.delete_webhook(a, 7, T0).await.unwrap());
        assert!(!store.delete_webhook(a, 7, T0).await.unwrap());
        assert!(store.get_webhook(a, 7).await.unwrap().is_none());
        assert!(store
            .fan_out(CONSUMER, 0, 0, vec![delivery(1001, 7, a, "k2")], T0)
            .await
            .unwrap());
        let late = store
            .claim_deliveries(T0 + 100 * SECOND, T0 + 200 * SECOND, 10)
            .await
            .unwrap();
        assert!(late[0].webhook_deleted);
    })
    .await;
}

/// Inserts one `message_events` row for message 100 on `conn`; returns its id.
async fn insert_event(conn: &mut sqlx::PgConnection, status: &str) -> i64 {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO message_events (message_id, status, at) VALUES (100, $1, $2) RETURNING id",
    )
    .bind(status)
    .bind(T0)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    id
}

/// Skims the message events at `at`: where the cursor was and where it may move.
async fn skim(store: &Store, gaps: &mut GapTracker, at: i64) -> (i64, i64) {
    let skim = store
        .skim_feed(FeedSource::MessageEvents, CONSUMER, 100, gaps, at)
        .await
        .unwrap();
    (skim.from, skim.to)
}

/// PostgreSQL: a transaction that took id N and commits after the one that took N+1 is not
/// skipped; one that never commits is skipped once the grace period is over.
#[tokio::test]
async fn an_out_of_order_commit_is_not_skipped() {
    if !backends().await.contains(&Backend::Postgres) {
        return;
    }
    let db = TestDb::new(Backend::Postgres).await;
    let store = Store::connect(&db.url, StoreOptions::default())
        .await
        .unwrap();
    account_with_two_messages(&store).await;
    let mut gaps = grace();
    let first = store
        .read_feed(FeedSource::MessageEvents, CONSUMER, 100, &mut gaps, T0)
        .await
        .unwrap();
    assert!(store
        .advance_feed(CONSUMER, first.from, first.to)
        .await
        .unwrap());
    let start = first.to;

    let mut slow = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let mut fast = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let mut slow_tx = slow.begin().await.unwrap();
    let n = insert_event(&mut slow_tx, "sent").await;
    let n1 = insert_event(&mut fast, "delivered").await; // autocommit
    assert_eq!(n1, n + 1);

    // N+1 is visible, N is not yet: the cursor must stay before N.
    let batch = store
        .read_feed(
            FeedSource::MessageEvents,
            CONSUMER,
            100,
            &mut gaps,
            T0 + SECOND,
        )
        .await
        .unwrap();
    assert_eq!((batch.from, batch.to), (start, start));
    assert!(batch.events.is_empty());
    // A skim (ids not read when they follow without a gap) stops at the gap too.
    assert_eq!(
        skim(&store, &mut grace(), T0 + SECOND).await,
        (start, start)
    );

    slow_tx.commit().await.unwrap();
    assert_eq!(
        skim(&store, &mut grace(), T0 + 2 * SECOND).await,
        (start, n1)
    );
    let batch = store
        .read_feed(
            FeedSource::MessageEvents,
            CONSUMER,
            100,
            &mut gaps,
            T0 + 2 * SECOND,
        )
        .await
        .unwrap();
    assert_eq!(
        batch.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [n, n1]
    );
    assert!(store
        .advance_feed(CONSUMER, batch.from, batch.to)
        .await
        .unwrap());

    // An id taken by a transaction that rolls back is waited for, then skipped.
    let mut tx = slow.begin().await.unwrap();
    let lost = insert_event(&mut tx, "sent").await;
    tx.rollback().await.unwrap();
    let after = insert_event(&mut fast, "delivered").await;
    assert_eq!(after, lost + 1);
    let mut gaps = grace();
    let waiting = store
        .read_feed(
            FeedSource::MessageEvents,
            CONSUMER,
            100,
            &mut gaps,
            T0 + 10 * SECOND,
        )
        .await
        .unwrap();
    assert!(waiting.events.is_empty());
    let waiting = store
        .read_feed(
            FeedSource::MessageEvents,
            CONSUMER,
            100,
            &mut gaps,
            T0 + 14 * SECOND,
        )
        .await
        .unwrap();
    assert!(waiting.events.is_empty());
    let mut skim_gaps = grace();
    for at in [T0 + 10 * SECOND, T0 + 14 * SECOND] {
        let (from, to) = skim(&store, &mut skim_gaps, at).await;
        assert_eq!(to, from, "the skim waits for the rolled-back id");
    }
    assert_eq!(
        skim(&store, &mut skim_gaps, T0 + 15 * SECOND).await.1,
        after
    );
    let skipped = store
        .read_feed(
            FeedSource::MessageEvents,
            CONSUMER,
            100,
            &mut gaps,
            T0 + 15 * SECOND,
        )
        .await
        .unwrap();
    assert_eq!(
        skipped.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [after]
    );
    assert_eq!(skipped.to, after);
    store.close().await;
}
