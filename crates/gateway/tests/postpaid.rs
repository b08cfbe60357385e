//! Credit through the real binary: the QR Platba code as PNG, a postpaid account set up with
//! the CLI spending down to its limit and no further, the low-credit notice as a signed
//! `credit.low` webhook (and an e-mail in the outbox) once per crossing, monthly invoicing
//! refused for a month not over.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{json, Value};
use support::{backends, App, Backend, Options};

const SECRETS_KEY: &str = "cd01cd01cd01cd01cd01cd01cd01cd01cd01cd01cd01cd01cd01cd01cd01cd01";

/// Collects the bodies POSTed to it.
#[derive(Clone, Default)]
struct Receiver(Arc<Mutex<Vec<Value>>>);

async fn hook(State(r): State<Receiver>, body: Bytes) -> StatusCode {
    r.0.lock()
        .unwrap()
        .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
    StatusCode::NO_CONTENT
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

    async fn wait_for(&self, n: usize) -> Vec<Value> {
        let start = Instant::now();
        loop {
            let got = self.0.lock().unwrap().clone();
            if got.len() >= n {
                return got;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{n} deliveries expected, got {got:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn cli_json(app: &App, args: &[&str]) -> Value {
    let out = app.cli(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the command prints JSON")
}

fn options(backend: Backend) -> Options {
    let mut env = vec![
        ("APISENDSMS_RATE_LIMIT_PER_SECOND", "0".to_owned()),
        ("APISENDSMS_BILLING__LOW_CREDIT_CHECK_S", "1".to_owned()),
    ];
    if backend == Backend::Postgres {
        env.push(("APISENDSMS_SECRETS_KEY", SECRETS_KEY.to_owned()));
    }
    Options {
        credit: "2.00",
        env,
        connectors_toml: Some(
            "[[connectors]]\nkind = \"sim\"\nname = \"sim\"\nreceipt_delay_ms = 20\n\n\
             [[routes]]\nprefix = \"\"\nconnector = \"sim\"\n\n\
             [webhooks]\nretry_schedule_s = [0.3, 0.3]\npoll_ms = 50\ntimeout_ms = 2000\nallow_private_targets = true\n"
                .into(),
        ),
        ..Options::default()
    }
}

#[tokio::test]
async fn qr_png_postpaid_limit_and_the_credit_low_webhook() {
    for backend in backends().await {
        let (receiver, base) = Receiver::start().await;
        let app = App::spawn_with(backend, options(backend)).await;

        // The payment request's QR code as PNG and SVG.
        let top_up = app
            .post("/v1/top-ups", &json!({"amount_czk": "500.00"}))
            .await;
        assert_eq!(top_up.status, 201, "{}", top_up.text);
        let png_path = top_up.body["qr_png"].as_str().unwrap().to_owned();
        let png = app
            .client
            .get(app.url(&png_path))
            .bearer_auth(&app.key)
            .send()
            .await
            .unwrap();
        assert_eq!(png.status(), 200);
        assert_eq!(png.headers()[reqwest::header::CONTENT_TYPE], "image/png");
        let bytes = png.bytes().await.unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG image");
        let (_, other_key) = app.create_account("other@example.com", "0");
        let other = app
            .send(reqwest::Method::GET, &png_path, Some(&other_key), None)
            .await;
        assert_eq!(other.status, 404, "another customer's code");

        // The webhook for credit.low; the threshold 1.00 above the credit of 2.00.
        let hook = app
            .post(
                "/v1/webhooks",
                &json!({"url": format!("{base}/low"), "events": ["credit.low"]}),
            )
            .await;
        assert_eq!(hook.status, 201, "{}", hook.text);
        let low = app
            .send(
                reqwest::Method::PUT,
                "/v1/account/low-credit",
                Some(&app.key.clone()),
                Some(&json!({"threshold_czk": "1.00"})),
            )
            .await;
        assert_eq!(low.status, 200, "{}", low.text);

        // Postpaid with a limit of 3.00: 5.00 can be spent, then nothing more.
        let r = cli_json(
            &app,
            &[
                "payments",
                "postpaid",
                "--account",
                &app.account,
                "--limit",
                "3.00",
            ],
        );
        assert_eq!(r["postpaid"], true);
        assert_eq!(r["credit_limit_czk"], "3.00");
        let credit = app.get("/v1/account/credit").await;
        assert_eq!(credit.status, 200, "{}", credit.text);
        assert_eq!(credit.body["balance_czk"], "2.00");
        assert_eq!(credit.body["spendable_czk"], "5.00");
        for i in 0..5 {
            let sent = app
                .post(
                    "/v1/messages",
                    &json!({"to": ["+420777123456"], "text": format!("message {i}")}),
                )
                .await;
            assert_eq!(sent.status, 202, "message {i}: {}", sent.text);
        }
        app.post(
            "/v1/messages",
            &json!({"to": ["+420777123456"], "text": "one too many"}),
        )
        .await
        .assert_problem(402, "insufficient-credit");
        let credit = app.get("/v1/account/credit").await;
        assert_eq!(credit.body["balance_czk"], "-2.50");
        assert_eq!(credit.body["postpaid"], true);

        // The limit cannot go below what is used.
        let out = app.cli(&["payments", "postpaid", "--account", &app.account, "--off"]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("owes"));

        // The credit fell under 1.00: one signed credit.low delivery.
        let got = receiver.wait_for(1).await;
        assert_eq!(got[0]["type"], "credit.low");
        assert_eq!(got[0]["data"]["threshold_czk"], "1.00");
        assert_eq!(got[0]["data"]["account_id"].to_string(), app.account);
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(receiver.0.lock().unwrap().len(), 1, "once per crossing");

        // A month that is not over is not invoiced; a past month with no usage issues nothing.
        let now = time::OffsetDateTime::now_utc();
        let this_month = format!("{:04}-{:02}", now.year(), u8::from(now.month()));
        let out = app.cli(&["invoices", "run-monthly", "--month", &this_month]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("not over"));
        let r = cli_json(&app, &["invoices", "run-monthly", "--month", "2020-01"]);
        assert_eq!(r["issued"], json!([]));
        let debtors = app.cli(&["payments", "debtors"]);
        assert!(debtors.status.success());

        let doc = app.get("/openapi.json").await;
        for path in ["/v1/top-ups/{id}/qr.png", "/v1/account/credit"] {
            assert!(doc.body["paths"][path].is_object(), "{path} undocumented");
        }
    }
}
