//! kill -9 in the middle of work loses no accepted message and duplicates none.

mod support;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use support::{backends, App, Options, SimProcess};

/// All message ids of the account, walking the cursor.
async fn all_messages(app: &App) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut path = "/v1/messages?limit=1000".to_owned();
    loop {
        let page = app.get(&path).await;
        assert_eq!(page.status, 200, "{}", page.text);
        for m in page.body["messages"].as_array().unwrap() {
            out.push((
                m["id"].as_str().unwrap().to_owned(),
                m["status"].as_str().unwrap().to_owned(),
            ));
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/messages?limit=1000&cursor={c}"),
            None => return out,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_sending_loses_and_duplicates_nothing() {
    for backend in backends().await {
        crash_under_load(backend, None).await;
    }
}

/// Over SMPP the simulator is a separate process that outlives the crash: it shows that a
/// message resent after the restart reaches the SMSC as the same message (TLV 0x1501), so each
/// accepted message is sent once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_sending_over_smpp_sends_each_message_once() {
    for backend in backends().await {
        let sim = SimProcess::start(&["--receipt-delay-ms", "20"]);
        let stored = crash_under_load(backend, Some(sim.connectors_toml())).await;
        let stats = sim.stats().await;
        assert_eq!(
            stats["unique"], stored as u64,
            "each stored message reached the SMSC once: {stats}"
        );
        eprintln!("{backend:?} over SMPP: simulator {stats}");
    }
}

/// Sends under load, kills the gateway with SIGKILL, restarts it and checks every accepted
/// message; returns how many messages are stored.
async fn crash_under_load(backend: support::Backend, connectors_toml: Option<String>) -> usize {
    let mut app = App::spawn_with(
        backend,
        Options {
            credit: "100000.00",
            connectors_toml,
            ..Options::default()
        },
    )
    .await;
    let accepted = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = Vec::new();
    for c in 0..16 {
        let (client, url, key) = (
            reqwest::Client::new(),
            app.url("/v1/messages"),
            app.key.clone(),
        );
        let (accepted, stop) = (accepted.clone(), stop.clone());
        clients.push(tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    n += 1;
                    let body = json!({"to": [format!("+42077{c:02}{n:05}"), format!("+42060{c:02}{n:05}")], "text": "crash test"});
                    let Ok(r) = client.post(&url).bearer_auth(&key).json(&body).send().await else { break };
                    if r.status() != 202 {
                        break;
                    }
                    let Ok(v) = r.json::<serde_json::Value>().await else { break };
                    let mut acc = accepted.lock().unwrap();
                    for m in v["messages"].as_array().unwrap() {
                        acc.push(m["id"].as_str().unwrap().to_owned());
                    }
                }
            }));
    }
    // Let the dispatcher and the receipts run under load, then kill without warning.
    let start = Instant::now();
    while accepted.lock().unwrap().len() < 600 && start.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.kill9();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    let accepted: Vec<String> = accepted.lock().unwrap().clone();
    assert!(
        accepted.len() >= 600,
        "the load did not run: {} accepted",
        accepted.len()
    );

    app.start();
    // Everything accepted leaves queued and sending.
    let start = Instant::now();
    let stored = loop {
        let stored = all_messages(&app).await;
        if stored.iter().all(|(_, s)| s == "sent" || s == "delivered") {
            break stored;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "messages stuck after restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let stored_ids: HashSet<&str> = stored.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(stored_ids.len(), stored.len(), "a message is stored twice");
    for id in &accepted {
        assert!(
            stored_ids.contains(id.as_str()),
            "accepted message {id} was lost"
        );
    }
    // Requests in flight at the kill may have committed without their answer arriving.
    assert!(
        stored.len() <= accepted.len() + 16 * 2,
        "{} stored, {} accepted",
        stored.len(),
        accepted.len()
    );
    // Each message was charged exactly once.
    let balance = app.get("/v1/balance").await.body;
    let spent = stored.len() as i64 * 90;
    let expected = format!(
        "{}.{:02}",
        (10_000_000 - spent) / 100,
        (10_000_000 - spent) % 100
    );
    assert_eq!(balance["available_czk"], expected.as_str());
    assert_eq!(balance["reserved_czk"], "0.00");
    eprintln!(
        "{backend:?}: {} accepted before kill -9, {} stored, all sent or delivered",
        accepted.len(),
        stored.len()
    );
    stored.len()
}
