//! The gateway delivering over real SMPP to the SMSC simulator running as its own process.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::{backends, App, Options, SimProcess};

#[tokio::test]
async fn messages_are_delivered_over_smpp_and_replies_reach_the_inbox() {
    for backend in backends().await {
        let sim = SimProcess::start(&["--receipt-delay-ms", "30"]);
        let app = App::spawn_with(
            backend,
            Options {
                connectors_toml: Some(sim.connectors_toml()),
                ..Options::default()
            },
        )
        .await;
        let long = "Příliš žluťoučký kůň úpěl ďábelské ódy. ".repeat(4);
        let r = app
            .post(
                "/v1/messages",
                &json!({"to": ["+420777123456", "+420602000001"], "text": long, "from": "ACME"}),
            )
            .await;
        assert_eq!(r.status, 202, "{}", r.text);
        assert_eq!(r.body["messages"][0]["encoding"], "ucs2");
        assert_eq!(r.body["messages"][0]["parts"], 3);
        for m in r.body["messages"].as_array().unwrap() {
            let done = app
                .wait_for_status(
                    m["id"].as_str().unwrap(),
                    "delivered",
                    Duration::from_secs(30),
                )
                .await;
            assert_eq!(done["history"].as_array().unwrap().len(), 4);
        }
        let stats = sim.stats().await;
        assert_eq!(stats["unique"], 6, "{stats}");
        let start = Instant::now();
        loop {
            let m = app
                .send(reqwest::Method::GET, "/metrics", None, None)
                .await
                .text;
            if m.contains("apisendsms_connector_up{connector=\"smsc\"} 1") {
                assert!(
                    m.contains("apisendsms_connector_window_in_use{connector=\"smsc\"}"),
                    "{m}"
                );
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no connector state in /metrics: {m}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(stats["concatenated_parts"], 6, "{stats}");
        assert_eq!(
            stats["receipts_sent"], 2,
            "one receipt per message: {stats}"
        );

        // A reply from the first recipient belongs to this account.
        assert_eq!(
            sim.inject_mo("420777123456", "4209000", "Díky, STOP").await,
            200
        );
        let start = Instant::now();
        let inbox = loop {
            let inbox = app.get("/v1/inbound").await.body;
            if !inbox["messages"].as_array().unwrap().is_empty() {
                break inbox;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the reply never arrived"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(inbox["messages"][0]["from"], "+420777123456");
        assert_eq!(inbox["messages"][0]["text"], "Díky, STOP");
        assert_eq!(inbox["messages"][0]["connector"], "smsc");
        let m = app
            .send(reqwest::Method::GET, "/metrics", None, None)
            .await
            .text;
        assert!(m.contains("apisendsms_inbound_total 1"), "{m}");
    }
}

#[tokio::test]
async fn carrier_outcomes_become_message_statuses() {
    let backend = backends().await[0];
    let sim = SimProcess::start(&[
        "--receipt-delay-ms",
        "10",
        "--delivered",
        "0",
        "--undeliverable",
        "1",
    ]);
    let app = App::spawn_with(
        backend,
        Options {
            connectors_toml: Some(sim.connectors_toml()),
            ..Options::default()
        },
    )
    .await;
    let r = app
        .post("/v1/messages", &json!({"to": "+420777123456", "text": "x"}))
        .await;
    let id = r.body["messages"][0]["id"].as_str().unwrap().to_owned();
    let m = app
        .wait_for_status(&id, "undeliverable", Duration::from_secs(30))
        .await;
    assert!(
        m["status_reason"].as_str().unwrap().contains("UNDELIV"),
        "{m}"
    );
    // Sent means charged, whatever the handset did.
    assert_eq!(app.get("/v1/balance").await.body["available_czk"], "999.10");
}
