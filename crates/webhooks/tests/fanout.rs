//! The fan-out worker against a real database, on SQLite and on PostgreSQL.

use std::sync::Arc;

use domain::{AccountId, IdGenerator, MessageId, MessageStatus, Money};
use store::{NewMessage, NewWebhook, Store, StoreOptions, Submission};
use testkit::{backends, TestDb};
use webhooks::fanout::FanOut;
use webhooks::{WebhookConfig, WebhookMetrics};

const T0: i64 = 1_800_000_000 * 1_000_000;

fn message(id: i64) -> NewMessage {
    NewMessage {
        id: MessageId::new(id),
        to: "+420777123456".into(),
        sender: "ACME".into(),
        body: "hello".into(),
        encoding: "gsm7",
        parts: 1,
        price: Money::from_hundredths(90),
        status: MessageStatus::Queued,
        client_ref: None,
        scheduled_at: None,
        due_at: T0,
        expires_at: T0 + 3_600_000_000,
    }
}

async fn store_with_account(backend: testkit::Backend) -> (TestDb, Store, AccountId) {
    let db = TestDb::new(backend).await;
    let store = Store::connect(&db.url, StoreOptions::default())
        .await
        .unwrap();
    let a = AccountId::new(1);
    store
        .create_account(a, "a@example.com", "A", Money::from_hundredths(100_000), T0)
        .await
        .unwrap();
    (db, store, a)
}

/// Submits `count` messages (ids from `1000 + sub * 100`) as submission `sub`.
async fn submit(store: &Store, account: AccountId, sub: i64, count: i64, now: i64) {
    store
        .submit(Submission {
            account,
            submission_id: sub,
            idempotency: None,
            messages: (0..count).map(|i| message(1000 + sub * 100 + i)).collect(),
            response: String::new(),
            now,
            smpp: None,
            marketing: false,
            device: None,
        })
        .await
        .unwrap();
}

/// Two nodes passing the same feed at once: every event makes one delivery per webhook.
#[tokio::test]
async fn two_fan_outs_on_one_database_make_each_delivery_once() {
    for backend in backends().await {
        let (_db, store, a) = store_with_account(backend).await;
        for (id, events) in [(7, vec!["message.status"]), (8, vec!["inbound"])] {
            store
                .create_webhook(&NewWebhook {
                    id,
                    account: a,
                    url: "http://127.0.0.1:9/h".into(),
                    events: events.into_iter().map(str::to_owned).collect(),
                    secret: "sealed".into(),
                    now: T0 - 1,
                })
                .await
                .unwrap();
        }
        for sub in 0..5 {
            submit(&store, a, sub, 40, T0).await;
        }
        let config = WebhookConfig {
            batch: 7,
            ..WebhookConfig::default()
        };
        let metrics = WebhookMetrics::default();
        let mut one = FanOut::new(
            store.clone(),
            Arc::new(IdGenerator::new(1)),
            &config,
            metrics.clone(),
        );
        let mut two = FanOut::new(
            store.clone(),
            Arc::new(IdGenerator::new(2)),
            &config,
            metrics.clone(),
        );
        let mut idle = 0;
        while idle < 3 {
            let (r1, r2) = tokio::join!(one.run_once(T0), two.run_once(T0));
            let (r1, r2) = (r1.unwrap(), r2.unwrap());
            idle = if r1.events + r2.events == 0 {
                idle + 1
            } else {
                0
            };
        }
        let made = store.list_deliveries(a, 7, None, 1000).await.unwrap();
        assert_eq!(made.len(), 200, "{backend:?}");
        let mut keys: Vec<String> = made
            .iter()
            .map(|d| {
                let p: serde_json::Value = serde_json::from_str(&d.payload).unwrap();
                p["data"]["message_id"].as_str().unwrap().to_owned()
            })
            .collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), 200);
        assert_eq!(metrics.deliveries_created.get(), 200);
        // The inbound-only webhook got none of them.
        assert!(store
            .list_deliveries(a, 8, None, 10)
            .await
            .unwrap()
            .is_empty());
        store.close().await;
    }
}

/// Without any webhook the events are skimmed: the cursor passes them unread, and a webhook
/// created afterwards gets the later events only.
#[tokio::test]
async fn without_webhooks_the_feed_is_skimmed_and_a_new_webhook_gets_later_events() {
    for backend in backends().await {
        let (_db, store, a) = store_with_account(backend).await;
        submit(&store, a, 0, 40, T0).await;
        let config = WebhookConfig {
            batch: 3,
            ..WebhookConfig::default()
        };
        let metrics = WebhookMetrics::default();
        let mut fan_out = FanOut::new(
            store.clone(),
            Arc::new(IdGenerator::new(1)),
            &config,
            metrics.clone(),
        );
        let mut skimmed = 0;
        loop {
            let r = fan_out.run_once(T0).await.unwrap();
            assert_eq!((r.events, r.deliveries), (0, 0), "{backend:?}");
            if r.skimmed == 0 {
                break;
            }
            skimmed += r.skimmed;
        }
        assert_eq!(skimmed, 40, "{backend:?}: one queued event per message");
        let position = store
            .feed_position(webhooks::fanout::CONSUMER_MESSAGE_EVENTS)
            .await
            .unwrap();
        assert!(position > 0, "{backend:?}");

        store
            .create_webhook(&NewWebhook {
                id: 7,
                account: a,
                url: "http://127.0.0.1:9/h".into(),
                events: vec!["message.status".into()],
                secret: "sealed".into(),
                now: T0 + 1,
            })
            .await
            .unwrap();
        submit(&store, a, 1, 3, T0 + 2).await;
        loop {
            let r = fan_out.run_once(T0 + 2).await.unwrap();
            assert_eq!(
                r.skimmed, 0,
                "{backend:?}: a webhook exists, nothing is skimmed"
            );
            if r.events == 0 {
                break;
            }
        }
        let made = store.list_deliveries(a, 7, None, 1000).await.unwrap();
        assert_eq!(made.len(), 3, "{backend:?}: the three later messages only");
        assert_eq!(metrics.deliveries_created.get(), 3);
        store.close().await;
    }
}
