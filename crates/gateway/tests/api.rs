//! The HTTP API through the real binary, on SQLite and on PostgreSQL.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::{backends, App, Options};

fn ids(r: &Value) -> Vec<String> {
    r["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_message_goes_from_queued_to_delivered_and_is_charged() {
    for backend in backends().await {
        let app = App::spawn(backend).await;
        let r = app
            .post("/v1/messages", &json!({"to": "+420 777 123 456", "text": "Hello {world}", "from": "ACME", "client_ref": "order-1"}))
            .await;
        assert_eq!(r.status, 202, "{}", r.text);
        let m = &r.body["messages"][0];
        assert_eq!(m["to"], "+420777123456");
        assert_eq!(m["status"], "queued");
        assert_eq!(m["encoding"], "gsm7");
        assert_eq!(m["parts"], 1);
        assert_eq!(m["price_czk"], "0.90");
        let id = m["id"].as_str().unwrap();
        let done = app
            .wait_for_status(id, "delivered", Duration::from_secs(20))
            .await;
        let history: Vec<&str> = done["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["status"].as_str().unwrap())
            .collect();
        assert_eq!(history, ["queued", "sending", "sent", "delivered"]);
        assert_eq!(done["client_ref"], "order-1");
        assert_eq!(done["from"], "ACME");
        let b = app.get("/v1/balance").await;
        assert_eq!(
            b.body,
            json!({"available_czk": "999.10", "reserved_czk": "0.00", "currency": "CZK"})
        );
    }
}

#[tokio::test]
async fn encoding_and_parts_follow_gsm_03_38() {
    for backend in backends().await {
        let app = App::spawn(backend).await;
        let check = |text: String, translit: bool, encoding: &'static str, parts: u64| {
            let app = &app;
            async move {
                let r = app
                    .post(
                        "/v1/messages/preview",
                        &json!({"text": text, "allow_transliteration": translit}),
                    )
                    .await;
                assert_eq!(r.status, 200, "{}", r.text);
                assert_eq!(
                    (
                        r.body["encoding"].as_str().unwrap(),
                        r.body["parts"].as_u64().unwrap()
                    ),
                    (encoding, parts),
                    "{text}"
                );
                r.body
            }
        };
        check("A".repeat(160), false, "gsm7", 1).await;
        check("A".repeat(161), false, "gsm7", 2).await;
        check("€".repeat(80), false, "gsm7", 1).await;
        check("€".repeat(81), false, "gsm7", 2).await;
        check("č".repeat(70), false, "ucs2", 1).await;
        check("č".repeat(71), false, "ucs2", 2).await;
        check("č".repeat(135), false, "ucs2", 3).await;
        let t = check("Příliš žluťoučký kůň".into(), true, "gsm7", 1).await;
        assert_eq!(t["text_sent"], "Prilis zlutoucky kun");
        // Sent messages carry the transliterated text.
        let r = app
            .post(
                "/v1/messages",
                &json!({"to": "+420777123456", "text": "Děkujeme", "allow_transliteration": true}),
            )
            .await;
        assert_eq!(r.body["messages"][0]["encoding"], "gsm7");
        let id = r.body["messages"][0]["id"].as_str().unwrap();
        assert_eq!(
            app.get(&format!("/v1/messages/{id}")).await.body["text"],
            "Dekujeme"
        );
    }
}

#[tokio::test]
async fn a_batch_sends_the_valid_numbers_and_reports_the_rest() {
    for backend in backends().await {
        let app = App::spawn(backend).await;
        let r = app
            .post(
                "/v1/messages",
                &json!({"to": ["+420777000001", "777000002", "not a number", "+1"], "text": "Hi"}),
            )
            .await;
        assert_eq!(r.status, 202, "{}", r.text);
        assert_eq!(ids(&r.body).len(), 2);
        assert_eq!(r.body["messages"][1]["to"], "+420777000002");
        let errors = r.body["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0]["index"], 2);
        assert_eq!(errors[1]["to"], "+1");
        let none = app
            .post("/v1/messages", &json!({"to": ["x", "y"], "text": "Hi"}))
            .await;
        none.assert_problem(422, "invalid-number");
        assert_eq!(none.body["field"], "to");
        assert_eq!(none.body["errors"].as_array().unwrap().len(), 2);
        let many: Vec<String> = (0..10_001).map(|i| format!("+42077{i:07}")).collect();
        app.post("/v1/messages", &json!({"to": many, "text": "Hi"}))
            .await
            .assert_problem(422, "invalid-recipients");
        let empty: Vec<String> = Vec::new();
        app.post("/v1/messages", &json!({"to": empty, "text": "Hi"}))
            .await
            .assert_problem(422, "invalid-recipients");
    }
}

#[tokio::test]
async fn bad_input_gets_a_clear_problem_and_stores_nothing() {
    for backend in backends().await {
        let app = App::spawn(backend).await;
        let raw = app
            .client
            .post(app.url("/v1/messages"))
            .bearer_auth(&app.key)
            .header("content-type", "application/json")
            .body("{\"to\": \"+420777123456\", \"text\": ")
            .send()
            .await
            .unwrap();
        assert_eq!(raw.status(), 400);
        assert_eq!(raw.headers()["content-type"], "application/problem+json");
        app.post(
            "/v1/messages",
            &json!({"to": "+420777123456", "txt": "typo"}),
        )
        .await
        .assert_problem(400, "malformed-request");
        app.post("/v1/messages", &json!({"to": 420777123456u64, "text": "x"}))
            .await
            .assert_problem(400, "malformed-request");
        let r = app
            .post(
                "/v1/messages",
                &json!({"to": "+420777123456", "text": "x", "from": "WAY TOO LONG SENDER"}),
            )
            .await;
        r.assert_problem(422, "invalid-sender");
        assert_eq!(r.body["field"], "from");
        let r = app
            .post(
                "/v1/messages",
                &json!({"to": "+420777123456", "text": "A".repeat(153 * 10 + 1)}),
            )
            .await;
        r.assert_problem(422, "text-too-long");
        assert_eq!(r.body["field"], "text");
        app.post("/v1/messages", &json!({"to": "+420777123456", "text": ""}))
            .await
            .assert_problem(422, "invalid-text");
        let r = app
            .post(
                "/v1/messages",
                &json!({"to": "+420777123456", "text": "x", "scheduled_at": "tomorrow"}),
            )
            .await;
        r.assert_problem(422, "invalid-time");
        assert_eq!(r.body["field"], "scheduled_at");
        app.post(
            "/v1/messages",
            &json!({"to": "+420777123456", "text": "x", "validity_s": 5}),
        )
        .await
        .assert_problem(422, "invalid-validity");

        app.get("/v1/messages?limit=0")
            .await
            .assert_problem(422, "invalid-limit");
        app.get("/v1/messages?status=lost")
            .await
            .assert_problem(422, "invalid-status");
        app.get("/v1/messages?cursor=abc")
            .await
            .assert_problem(422, "invalid-cursor");
        app.get("/v1/nothing-here")
            .await
            .assert_problem(404, "not-found");
        // Last: the server answers 413 before reading the whole body and closes the connection.
        let r = app
            .post(
                "/v1/messages",
                &json!({"to": "+420777123456", "text": "x".repeat(2_000_000)}),
            )
            .await;
        r.assert_problem(413, "body-too-large");
        let app = support::reconnect(app);
        let list = app.get("/v1/messages").await;
        assert!(
            list.body["messages"].as_array().unwrap().is_empty(),
            "nothing was stored: {}",
            list.text
        );
        assert_eq!(
            app.get("/v1/balance").await.body["available_czk"],
            "1000.00"
        );
    }
}

#[tokio::test]
async fn keys_are_checked_and_accounts_are_isolated() {
    for backend in backends().await {
        let app = App::spawn(backend).await;
        let body = json!({"to": "+420777123456", "text": "x"});
        app.send(reqwest::Method::POST, "/v1/messages", None, Some(&body))
            .await
            .assert_problem(401, "unauthorized");
        app.send(
            reqwest::Method::POST,
            "/v1/messages",
            Some("ask_wrong"),
            Some(&body),
        )
        .await
        .assert_problem(401, "unauthorized");
        app.send(reqwest::Method::GET, "/v1/balance", Some(""), None)
            .await
            .assert_problem(401, "unauthorized");
        let id = ids(&app.post("/v1/messages", &body).await.body).remove(0);
        let (_, other_key) = app.create_account("other@example.com", "10.00");
        let other = |m: reqwest::Method, p: String| {
            let app = &app;
            let key = other_key.clone();
            async move { app.send(m, &p, Some(&key), None).await }
        };
        other(reqwest::Method::GET, format!("/v1/messages/{id}"))
            .await
            .assert_problem(404, "not-found");
        other(reqwest::Method::DELETE, format!("/v1/messages/{id}"))
            .await
            .assert_problem(404, "not-found");
        let list = other(reqwest::Method::GET, "/v1/messages".into()).await;
        assert!(list.body["messages"].as_array().unwrap().is_empty());
        assert_eq!(
            other(reqwest::Method::GET, "/v1/balance".into()).await.body["available_czk"],
            "10.00"
        );
    }
}

#[tokio::test]
async fn a_batch_the_credit_cannot_cover_is_refused_whole() {
    for backend in backends().await {
        let app = App::spawn_with(
            backend,
            Options {
                credit: "1.00",
                ..Options::default()
            },
        )
        .await;
        let r = app
            .post(
                "/v1/messages",
                &json!({"to": ["+420777000001", "+420777000002"], "text": "x"}),
            )
            .await;
        r.assert_problem(402, "insufficient-credit");
        assert!(app.get("/v1/messages").await.body["messages"]
            .as_array()
            .unwrap()
            .is_empty());
        assert_eq!(app.get("/v1/balance").await.body["available_czk"], "1.00");
        assert_eq!(
            app.post("/v1/messages", &json!({"to": "+420777000001", "text": "x"}))
                .await
                .status,
            202
        );
    }
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_answer() {
    for backend in backends().await {
        let app = App::spawn(backend).await;
        let body = json!({"to": ["+420777000001", "+420777000002"], "text": "once"});
        let send = |b: Value, key: &'static str| {
            let app = &app;
            async move {
                app.client
                    .post(app.url("/v1/messages"))
                    .bearer_auth(&app.key)
                    .header("Idempotency-Key", key)
                    .json(&b)
                    .send()
                    .await
                    .unwrap()
            }
        };
        let first = send(body.clone(), "order-42").await;
        assert_eq!(first.status(), 202);
        let first: Value = first.json().await.unwrap();
        let second: Value = send(body.clone(), "order-42").await.json().await.unwrap();
        assert_eq!(first, second);
        assert_eq!(
            app.get("/v1/messages").await.body["messages"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        let changed = send(json!({"to": "+420777000003", "text": "other"}), "order-42").await;
        assert_eq!(changed.status(), 409);
        assert_eq!(app.get("/v1/balance").await.body["available_czk"], "998.20");
    }
}

#[tokio::test]
async fn scheduled_messages_wait_and_can_be_cancelled() {
    for backend in backends().await {
        let app = App::spawn(backend).await;
        let r = app
            .post("/v1/messages", &json!({"to": "+420777000001", "text": "later", "scheduled_at": "2099-01-01T10:00:00+01:00"}))
            .await;
        r.assert_problem(422, "invalid-time");
        let at = support::rfc3339_in_days(30);
        let at = at.as_str();
        let r = app
            .post(
                "/v1/messages",
                &json!({"to": "+420777000001", "text": "later", "scheduled_at": at}),
            )
            .await;
        assert_eq!(r.status, 202, "{}", r.text);
        assert_eq!(r.body["messages"][0]["status"], "scheduled");
        let id = ids(&r.body).remove(0);
        let m = app.get(&format!("/v1/messages/{id}")).await.body;
        assert_eq!(m["scheduled_at"], at);
        assert_eq!(app.get("/v1/balance").await.body["reserved_czk"], "0.90");
        let c = app.delete(&format!("/v1/messages/{id}")).await;
        assert_eq!(c.status, 200);
        assert_eq!(c.body["status"], "cancelled");
        app.delete(&format!("/v1/messages/{id}"))
            .await
            .assert_problem(409, "not-cancellable");
        app.delete("/v1/messages/12345")
            .await
            .assert_problem(404, "not-found");
        app.delete("/v1/messages/nope")
            .await
            .assert_problem(404, "not-found");
        assert_eq!(
            app.get("/v1/balance").await.body,
            json!({"available_czk": "1000.00", "reserved_czk": "0.00", "currency": "CZK"})
        );
        // A time in the past means now.
        let r = app.post("/v1/messages", &json!({"to": "+420777000001", "text": "now", "scheduled_at": "2020-01-01T00:00:00Z"})).await;
        assert_eq!(r.body["messages"][0]["status"], "queued");
        app.wait_for_status(
            r.body["messages"][0]["id"].as_str().unwrap(),
            "delivered",
            Duration::from_secs(20),
        )
        .await;
    }
}

#[tokio::test]
async fn the_list_filters_and_pages_with_a_cursor() {
    for backend in backends().await {
        let app = App::spawn(backend).await;
        let numbers: Vec<String> = (0..7).map(|i| format!("+42077700000{i}")).collect();
        let r = app
            .post(
                "/v1/messages",
                &json!({"to": numbers, "text": "x", "scheduled_at": support::rfc3339_in_days(30)}),
            )
            .await;
        let mut sent = ids(&r.body);
        sent.reverse();
        let mut seen = Vec::new();
        let mut path = "/v1/messages?limit=3".to_owned();
        loop {
            let page = app.get(&path).await.body;
            seen.extend(ids(&page));
            match page["next_cursor"].as_str() {
                Some(c) => path = format!("/v1/messages?limit=3&cursor={c}"),
                None => break,
            }
        }
        assert_eq!(seen, sent);
        let one = app
            .get("/v1/messages?to=777000003&status=scheduled")
            .await
            .body;
        assert_eq!(ids(&one).len(), 1);
        assert_eq!(one["messages"][0]["to"], "+420777000003");
        assert!(ids(&app.get("/v1/messages?status=delivered").await.body).is_empty());
        assert!(ids(&app
            .get("/v1/messages?since=2099-01-01T00:00:00Z")
            .await
            .body)
        .is_empty());
        assert_eq!(
            ids(&app
                .get("/v1/messages?until=2099-01-01T00:00:00Z")
                .await
                .body)
            .len(),
            7
        );
    }
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after() {
    let backend = backends().await[0];
    let app = App::spawn_with(
        backend,
        Options {
            env: vec![
                ("APISENDSMS_RATE_LIMIT_PER_SECOND", "1".into()),
                ("APISENDSMS_RATE_LIMIT_BURST", "2".into()),
            ],
            ..Options::default()
        },
    )
    .await;
    let body = json!({"to": "+420777000001", "text": "x"});
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let r = app.post("/v1/messages", &body).await;
        if r.status == 429 {
            r.assert_problem(429, "rate-limited");
            assert!(r.headers.get("retry-after").is_some());
        }
        statuses.push(r.status);
    }
    assert_eq!(&statuses[..2], [202, 202]);
    assert!(statuses[2..].iter().all(|s| *s == 429), "{statuses:?}");
}

#[tokio::test]
async fn health_metrics_and_openapi_are_served() {
    for backend in backends().await {
        let app = App::spawn(backend).await;
        let h = app.send(reqwest::Method::GET, "/healthz", None, None).await;
        assert_eq!((h.status, h.body.clone()), (200, json!({"status": "ok"})));
        app.post("/v1/messages", &json!({"to": "+420777000001", "text": "x"}))
            .await;
        let m = app.send(reqwest::Method::GET, "/metrics", None, None).await;
        assert_eq!(m.status, 200);
        assert!(
            m.text.contains("apisendsms_messages_accepted_total 1"),
            "{}",
            m.text
        );
        assert!(m
            .text
            .contains("apisendsms_submit_responses_total{status=\"202\"} 1"));
        let doc = app
            .send(reqwest::Method::GET, "/openapi.json", None, None)
            .await
            .body;
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        for path in [
            "/v1/messages",
            "/v1/messages/preview",
            "/v1/messages/{id}",
            "/v1/balance",
            "/healthz",
            "/metrics",
        ] {
            assert!(doc["paths"][path].is_object(), "{path} is not documented");
        }
    }
}

#[tokio::test]
async fn sigterm_stops_cleanly() {
    let backend = backends().await[0];
    let mut app = App::spawn(backend).await;
    let r = app
        .post("/v1/messages", &json!({"to": "+420777000001", "text": "x"}))
        .await;
    assert_eq!(r.status, 202);
    assert!(app.terminate().success());
    app.start();
    let id = ids(&r.body).remove(0);
    app.wait_for_status(&id, "delivered", Duration::from_secs(20))
        .await;
}

#[tokio::test]
async fn a_scheduled_message_goes_out_at_its_time() {
    for backend in backends().await {
        let app = App::spawn(backend).await;
        let at = time::OffsetDateTime::now_utc() + time::Duration::seconds(2);
        let at = at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let r = app
            .post(
                "/v1/messages",
                &json!({"to": "+420777000001", "text": "on time", "scheduled_at": at}),
            )
            .await;
        assert_eq!(r.body["messages"][0]["status"], "scheduled");
        let id = r.body["messages"][0]["id"].as_str().unwrap().to_owned();
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert_eq!(
            app.get(&format!("/v1/messages/{id}")).await.body["status"],
            "scheduled",
            "not before its time"
        );
        let m = app
            .wait_for_status(&id, "delivered", Duration::from_secs(20))
            .await;
        let sending_at = m["history"][1]["at"].as_str().unwrap();
        assert!(
            sending_at >= at.as_str(),
            "sent at {sending_at}, scheduled for {at}"
        );
    }
}
