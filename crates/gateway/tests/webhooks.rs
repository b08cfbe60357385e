//! Webhooks through the real binary: a local receiver gets signed, verifiable deliveries of
//! message status changes and inbound messages, retried until it answers 2xx.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use support::{backends, App, Backend, Options, SimProcess};

/// A key with letters, so that no settings parser takes it for a number.
const SECRETS_KEY: &str = "ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01";

#[derive(Clone, Debug)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

/// An HTTP endpoint on a random loopback port. `/ok` answers 204; `/flaky` answers 500 to the
/// first two attempts of each delivery and 204 to the third.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    tries: Arc<Mutex<HashMap<String, u32>>>,
}

async fn hook(State(r): State<Receiver>, uri: Uri, headers: HeaderMap, body: Bytes) -> StatusCode {
    let delivery = headers
        .get("x-apisendsms-delivery")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    r.got.lock().unwrap().push(Received {
        path: uri.path().to_owned(),
        headers,
        body,
    });
    let n = {
        let mut tries = r.tries.lock().unwrap();
        let n = tries.entry(delivery).or_default();
        *n += 1;
        *n
    };
    match uri.path() {
        "/flaky" if n <= 2 => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::NO_CONTENT,
    }
}

impl Receiver {
    async fn start() -> (Receiver, String) {
        let r = Receiver::default();
        let app = axum::Router::new()
            .fallback(axum::routing::post(hook))
            .with_state(r.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (r, base)
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until `done` holds for what arrived.
    async fn wait_for(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let got = self.received();
            if done(&got) {
                return got;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{what} never arrived; got {:?}",
                got.iter()
                    .map(|r| String::from_utf8_lossy(&r.body).into_owned())
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Checks the signature headers the way a receiver would, independently of the server's code.
fn verify(secret: &str, r: &Received) -> Value {
    let header = |name: &str| {
        r.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name}"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    let timestamp: i64 = header("x-apisendsms-timestamp").parse().unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!((now - timestamp).abs() < 300, "stale timestamp {timestamp}");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(&r.body);
    let expected = format!("v1={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(header("x-apisendsms-signature"), expected);
    assert!(!header("x-apisendsms-delivery").is_empty());
    assert_eq!(header("content-type"), "application/json");
    serde_json::from_slice(&r.body).unwrap()
}

fn webhooks_toml() -> &'static str {
    "\n[webhooks]\nretry_schedule_s = [0.3, 0.3]\npoll_ms = 50\ntimeout_ms = 2000\nallow_private_targets = true\n"
}

fn env(backend: Backend) -> Vec<(&'static str, String)> {
    let mut env = vec![("APISENDSMS_RATE_LIMIT_PER_SECOND", "0".to_owned())];
    // SQLite uses the key file next to its database; PostgreSQL needs the key configured.
    if backend == Backend::Postgres {
        env.push(("APISENDSMS_SECRETS_KEY", SECRETS_KEY.to_owned()));
    }
    env
}

/// The webhook's deliveries once `done` holds for them (30 s at most).
async fn deliveries_when(app: &App, id: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let page = app.get(&format!("/v1/webhooks/{id}/deliveries")).await;
        assert_eq!(page.status, 200, "{}", page.text);
        let all = page.body["deliveries"].as_array().unwrap();
        if done(all) {
            return all.clone();
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{}", page.text);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn create_hook(app: &App, url: &str, events: &[&str]) -> (String, String) {
    let r = app
        .post("/v1/webhooks", &json!({"url": url, "events": events}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let secret = r.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    (r.body["id"].as_str().unwrap().to_owned(), secret)
}

#[tokio::test]
async fn status_changes_and_inbound_messages_arrive_signed() {
    let sim = SimProcess::start(&[]);
    for backend in backends().await {
        let (receiver, base) = Receiver::start().await;
        let app = App::spawn_with(
            backend,
            Options {
                connectors_toml: Some(format!("{}{}", sim.connectors_toml(), webhooks_toml())),
                env: env(backend),
                ..Options::default()
            },
        )
        .await;
        if backend == Backend::Sqlite {
            let key_file = std::path::Path::new(app.db.url.trim_start_matches("sqlite://"))
                .with_file_name("secrets.key");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600, "{}", key_file.display());
            }
        }

        // Validation, with the offending field.
        for (body, field) in [
            (
                json!({"url": "ftp://example.com/x", "events": ["inbound"]}),
                "url",
            ),
            (json!({"url": "not a url", "events": ["inbound"]}), "url"),
            (
                json!({"url": "https://example.com/x", "events": []}),
                "events",
            ),
            (
                json!({"url": "https://example.com/x", "events": ["message.sent"]}),
                "events",
            ),
        ] {
            let r = app.post("/v1/webhooks", &body).await;
            r.assert_problem(
                422,
                if field == "url" {
                    "invalid-url"
                } else {
                    "invalid-events"
                },
            );
            assert_eq!(r.body["field"], field);
        }
        app.post("/v1/webhooks", &json!({"url": "https://example.com/x"}))
            .await
            .assert_problem(400, "malformed-request");

        let (id, secret) =
            create_hook(&app, &format!("{base}/ok"), &["message.status", "inbound"]).await;
        let listed = app.get("/v1/webhooks").await;
        assert_eq!(listed.body["webhooks"][0]["id"], id.as_str());
        assert!(
            listed.body["webhooks"][0].get("secret").is_none(),
            "the secret is shown once"
        );
        let one = app.get(&format!("/v1/webhooks/{id}")).await;
        assert_eq!(one.status, 200);
        assert_eq!(one.body["events"], json!(["message.status", "inbound"]));
        assert!(!app.get("/v1/webhooks").await.text.contains(&secret[6..]));

        // Another account's webhook does not exist for this one.
        let (_, other_key) = app.create_account("other@example.com", "10.00");
        for path in [
            format!("/v1/webhooks/{id}"),
            format!("/v1/webhooks/{id}/deliveries"),
        ] {
            app.send(reqwest::Method::GET, &path, Some(&other_key), None)
                .await
                .assert_problem(404, "not-found");
        }
        app.send(
            reqwest::Method::DELETE,
            &format!("/v1/webhooks/{id}"),
            Some(&other_key),
            None,
        )
        .await
        .assert_problem(404, "not-found");

        let r = app
            .post(
                "/v1/messages",
                &json!({"to": "+420777123456", "text": "Hello", "client_ref": "order-7"}),
            )
            .await;
        assert_eq!(r.status, 202, "{}", r.text);
        let message_id = r.body["messages"][0]["id"].as_str().unwrap().to_owned();
        app.wait_for_status(&message_id, "delivered", Duration::from_secs(20))
            .await;
        assert_eq!(sim.inject_mo("420777123456", "4209000", "STOP").await, 200);

        let got = receiver
            .wait_for("three statuses and the reply", |got| got.len() >= 4)
            .await;
        let events: Vec<Value> = got.iter().map(|r| verify(&secret, r)).collect();
        let mut statuses: Vec<&str> = events
            .iter()
            .filter(|e| e["type"] == "message.status")
            .map(|e| {
                assert_eq!(e["data"]["message_id"], message_id.as_str());
                assert_eq!(e["data"]["to"], "+420777123456");
                assert_eq!(e["data"]["client_ref"], "order-7");
                e["data"]["status"].as_str().unwrap()
            })
            .collect();
        statuses.sort_unstable();
        assert_eq!(statuses, ["delivered", "queued", "sent"]);
        let inbound: Vec<&Value> = events.iter().filter(|e| e["type"] == "inbound").collect();
        assert_eq!(inbound.len(), 1, "{events:?}");
        assert_eq!(inbound[0]["data"]["from"], "+420777123456");
        assert_eq!(inbound[0]["data"]["text"], "STOP");
        assert!(got.iter().all(|r| r.path == "/ok"));

        // The deliveries, each delivered at the first attempt.
        let deliveries = deliveries_when(&app, &id, |all| {
            all.len() == 4 && all.iter().all(|d| d["status"] == "delivered")
        })
        .await;
        for d in &deliveries {
            assert_eq!(d["attempt_count"], 1, "{d}");
            assert_eq!(d["attempts"][0]["status_code"], 204, "{d}");
        }
        let limited = app
            .get(&format!("/v1/webhooks/{id}/deliveries?limit=3"))
            .await;
        assert_eq!(limited.body["deliveries"].as_array().unwrap().len(), 3);
        let cursor = limited.body["next_cursor"].as_str().unwrap();
        let rest = app
            .get(&format!(
                "/v1/webhooks/{id}/deliveries?limit=3&cursor={cursor}"
            ))
            .await;
        assert_eq!(rest.body["deliveries"].as_array().unwrap().len(), 1);

        // Deleted: gone from the list, and no more deliveries.
        assert_eq!(app.delete(&format!("/v1/webhooks/{id}")).await.status, 204);
        app.get(&format!("/v1/webhooks/{id}"))
            .await
            .assert_problem(404, "not-found");
        assert!(app.get("/v1/webhooks").await.body["webhooks"]
            .as_array()
            .unwrap()
            .is_empty());
        let before = receiver.received().len();
        // Another number: the STOP above put +420777123456 on the account's Blacklist.
        let r = app
            .post(
                "/v1/messages",
                &json!({"to": "+420777123457", "text": "Again"}),
            )
            .await;
        let again = r.body["messages"][0]["id"].as_str().unwrap().to_owned();
        app.wait_for_status(&again, "delivered", Duration::from_secs(20))
            .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(receiver.received().len(), before);
    }
}

#[tokio::test]
async fn a_failing_receiver_gets_the_delivery_on_the_third_attempt() {
    for backend in backends().await {
        let (receiver, base) = Receiver::start().await;
        let app = App::spawn_with(
            backend,
            Options {
                connectors_toml: Some(format!(
                    "[[connectors]]\nkind = \"sim\"\nname = \"sim\"\nreceipt_delay_ms = 20\n\n\
                     [[routes]]\nprefix = \"\"\nconnector = \"sim\"\n{}",
                    webhooks_toml()
                )),
                env: env(backend),
                ..Options::default()
            },
        )
        .await;
        let (id, secret) = create_hook(&app, &format!("{base}/flaky"), &["message.status"]).await;
        let r = app
            .post(
                "/v1/messages",
                &json!({"to": "+420777123456", "text": "Hi"}),
            )
            .await;
        assert_eq!(r.status, 202, "{}", r.text);

        let deliveries = deliveries_when(&app, &id, |all| {
            all.len() == 3 && all.iter().all(|d| d["status"] == "delivered")
        })
        .await;
        for d in &deliveries {
            assert_eq!(d["attempt_count"], 3, "{d}");
            let codes: Vec<&Value> = d["attempts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| &a["status_code"])
                .collect();
            assert_eq!(codes, [&json!(500), &json!(500), &json!(204)], "{d}");
            assert_eq!(d["last_status_code"], 204);
            assert!(d["delivered_at"].is_string());
        }
        // Every attempt of a delivery carries the same delivery id, each signed.
        let got = receiver.received();
        assert_eq!(got.len(), 9);
        let mut per_delivery: HashMap<String, usize> = HashMap::new();
        for r in &got {
            verify(&secret, r);
            let d = r.headers["x-apisendsms-delivery"]
                .to_str()
                .unwrap()
                .to_owned();
            *per_delivery.entry(d).or_default() += 1;
        }
        assert!(per_delivery.values().all(|n| *n == 3), "{per_delivery:?}");

        let m = app
            .send(reqwest::Method::GET, "/metrics", None, None)
            .await
            .text;
        assert!(m.contains("apisendsms_webhook_deliveries_total 3"), "{m}");
        assert!(
            m.contains("apisendsms_webhook_attempts_total{outcome=\"retry\"} 6"),
            "{m}"
        );
        assert!(
            m.contains("apisendsms_webhook_attempts_total{outcome=\"delivered\"} 3"),
            "{m}"
        );
    }
}

#[tokio::test]
async fn by_default_nothing_is_posted_to_the_services_own_network() {
    let backend = Backend::Sqlite;
    let (receiver, base) = Receiver::start().await;
    let port = base.rsplit(':').next().unwrap().to_owned();
    let app = App::spawn_with(
        backend,
        Options {
            connectors_toml: Some(
                "[[connectors]]\nkind = \"sim\"\nname = \"sim\"\nreceipt_delay_ms = 20\n\n\
                 [[routes]]\nprefix = \"\"\nconnector = \"sim\"\n\n\
                 [webhooks]\nretry_schedule_s = [0.2]\npoll_ms = 50\ntimeout_ms = 2000\n"
                    .to_owned(),
            ),
            env: env(backend),
            ..Options::default()
        },
    )
    .await;
    // The same receiver by address and by a name that resolves to loopback only.
    let (by_ip, _) = create_hook(&app, &format!("{base}/ok"), &["message.status"]).await;
    let (by_name, _) = create_hook(
        &app,
        &format!("http://localhost:{port}/ok"),
        &["message.status"],
    )
    .await;
    let r = app
        .post(
            "/v1/messages",
            &json!({"to": "+420777123456", "text": "Hi"}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);

    for id in [by_ip, by_name] {
        let deliveries = deliveries_when(&app, &id, |all| {
            !all.is_empty() && all.iter().all(|d| d["status"] == "failed")
        })
        .await;
        for d in &deliveries {
            assert_eq!(d["attempt_count"], 2, "{d}");
            for a in d["attempts"].as_array().unwrap() {
                assert!(a["status_code"].is_null(), "{d}");
                let error = a["error"].as_str().unwrap_or("");
                assert!(error.contains("not a public address"), "{d}");
            }
        }
    }
    assert!(
        receiver.received().is_empty(),
        "the receiver on loopback was reached"
    );
}

#[tokio::test]
async fn postgres_without_a_secrets_key_refuses_webhooks() {
    if !backends().await.contains(&Backend::Postgres) {
        return;
    }
    let app = App::spawn(Backend::Postgres).await;
    app.post(
        "/v1/webhooks",
        &json!({"url": "https://example.com/x", "events": ["inbound"]}),
    )
    .await
    .assert_problem(503, "unavailable");
}
