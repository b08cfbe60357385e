//! Customers' own devices, end to end with the real binaries: the gateway, `apisendsms agent`
//! and `apisendsms modem-sim` on a pseudo-terminal.

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{backends, App};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_apisendsms")
}

/// `apisendsms modem-sim` with its events collected.
struct ModemSim {
    path: String,
    events: Arc<Mutex<Vec<Value>>>,
    stdin: ChildStdin,
    child: Child,
}

impl ModemSim {
    fn start(args: &[&str]) -> ModemSim {
        let mut child = Command::new(bin())
            .arg("modem-sim")
            .args(args)
            .env("APISENDSMS_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let stdin = child.stdin.take().unwrap();
        let events = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = events.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(path) = line.strip_prefix("modem-sim listening on ") {
                    let _ = tx.send(path.to_owned());
                } else if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    sink.lock().unwrap().push(v);
                }
            }
        });
        let path = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the modem simulator did not start");
        ModemSim {
            path,
            events,
            stdin,
            child,
        }
    }

    fn command(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// How many SMS-SUBMITs went to each number.
    fn sent_by_number(&self) -> HashMap<String, usize> {
        let mut out = HashMap::new();
        for e in self.events.lock().unwrap().iter() {
            if e["event"] == "sent" {
                *out.entry(e["to"].as_str().unwrap().to_owned()).or_default() += 1;
            }
        }
        out
    }

    fn sent_texts(&self) -> Vec<String> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e["event"] == "sent")
            .map(|e| e["text"].as_str().unwrap().to_owned())
            .collect()
    }
}

impl Drop for ModemSim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Agent {
    child: Option<Child>,
}

impl Agent {
    fn start(app: &App, credential: &Path, modem: &str) -> Agent {
        Agent::start_with(app, credential, modem, &[])
    }

    fn start_with(app: &App, credential: &Path, modem: &str, extra: &[&str]) -> Agent {
        let child = Command::new(bin())
            .args(["agent", "--server", &app.base, "--credential"])
            .arg(credential)
            .args(["--modem", modem])
            .args(extra)
            .env("APISENDSMS_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        Agent { child: Some(child) }
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Waits for the agent to exit by itself.
    fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        let child = self.child.as_mut()?;
        while start.elapsed() < timeout {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Creates a device and pairs it with `apisendsms agent --pair`; returns the device id and the
/// credential file.
async fn pair(app: &App, dir: &Path, per_minute: u32) -> (String, PathBuf) {
    let r = app
        .post(
            "/v1/devices",
            &json!({"name": "modem 1", "per_minute": per_minute}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(r.body["qr_svg"].as_str().unwrap().contains("<svg"));
    let code = r.body["pairing_code"].as_str().unwrap().to_owned();
    let id = r.body["id"].as_str().unwrap().to_owned();
    let credential = dir.join("device.json");
    let out = Command::new(bin())
        .args(["agent", "--server", &app.base, "--credential"])
        .arg(&credential)
        .args(["--pair", &code])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pairing failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The code works once.
    let again = app
        .send(
            reqwest::Method::POST,
            "/v1/devices/pair",
            None,
            Some(&json!({"code": code})),
        )
        .await;
    again.assert_problem(422, "invalid-pairing-code");
    (id, credential)
}

async fn wait_online(app: &App, id: &str, online: bool) -> Value {
    let start = Instant::now();
    loop {
        let r = app.get("/v1/devices").await;
        assert_eq!(r.status, 200, "{}", r.text);
        let d = r.body["devices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == id)
            .cloned()
            .unwrap();
        // Online counts once the agent's first status report (model, signal) is in: it
        // follows the connection by a moment.
        if d["online"] == online && (!online || !d["model"].is_null()) {
            return d;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "device never became online={online}: {d}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_final(app: &App, id: &str, timeout: Duration) -> Value {
    let start = Instant::now();
    loop {
        let r = app.get(&format!("/v1/messages/{id}")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let s = r.body["status"].as_str().unwrap();
        if !["queued", "scheduled", "sending", "sent"].contains(&s) {
            return r.body;
        }
        assert!(
            start.elapsed() < timeout,
            "message {id} still {s} after {timeout:?}: {}",
            r.text
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_goes_through_the_agent_and_the_modem_and_a_reply_comes_back() {
    for backend in backends().await {
        let app = App::spawn(backend).await;
        let dir = tempfile::tempdir().unwrap();
        // Without a device, the device route is refused with a clear error.
        let r = app
            .post(
                "/v1/messages",
                &json!({"to": "+420777000111", "text": "x", "route": "device"}),
            )
            .await;
        r.assert_problem(422, "no-device");

        let (device, credential) = pair(&app, dir.path(), 60).await;
        let mut modem = ModemSim::start(&[]);
        let mut agent = Agent::start(&app, &credential, &modem.path);
        let state = wait_online(&app, &device, true).await;
        assert_eq!(state["status"], "paired");
        assert_eq!(state["model"], "APISENDSMS-MODEM-SIM");
        assert_eq!(state["signal"], 21);

        let text = "Ahoj z vlastního modemu! ".repeat(4);
        let r = app
            .post(
                "/v1/messages",
                &json!({"to": "+420777000111", "text": text, "route": "device"}),
            )
            .await;
        assert_eq!(r.status, 202, "{}", r.text);
        let id = r.body["messages"][0]["id"].as_str().unwrap().to_owned();
        let parts = r.body["messages"][0]["parts"].as_u64().unwrap();
        assert!(parts > 1, "a concatenated message: {}", r.text);
        let m = app
            .wait_for_status(&id, "delivered", Duration::from_secs(30))
            .await;
        assert_eq!(m["status"], "delivered", "{backend:?}");
        // Every part went out once, with its concatenation header, and joins to the text.
        assert_eq!(modem.sent_texts().len() as u64, parts);
        assert_eq!(modem.sent_texts().concat(), text);

        // A reply to the modem's SIM reaches the customer.
        modem.command("receive +420777000999 Díky, dorazilo.");
        let start = Instant::now();
        loop {
            let r = app.get("/v1/inbound").await;
            assert_eq!(r.status, 200, "{}", r.text);
            let found = r.body["messages"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["from"] == "+420777000999" && m["text"] == "Díky, dorazilo.");
            if found {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no inbound message: {}",
                r.text
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        let metrics = app.send(reqwest::Method::GET, "/metrics", None, None).await;
        assert!(
            metrics
                .text
                .contains(&format!("apisendsms_device_online{{device=\"{device}\"")),
            "{}",
            metrics.text
        );

        // Revoking the device cuts the agent off at once: it is told and stops.
        let r = app.delete(&format!("/v1/devices/{device}")).await;
        assert_eq!(r.status, 204, "{}", r.text);
        let status = agent
            .wait_exit(Duration::from_secs(10))
            .expect("the revoked agent did not stop");
        assert!(!status.success());
        let state = wait_online(&app, &device, false).await;
        assert_eq!(state["status"], "revoked");
        // Its credential no longer opens a connection.
        let cred: Value = serde_json::from_slice(&std::fs::read(&credential).unwrap()).unwrap();
        let r = app
            .send(
                reqwest::Method::POST,
                "/v1/devices/poll",
                Some(cred["credential"].as_str().unwrap()),
                Some(&json!({"frames": [{"type": "hello"}]})),
            )
            .await;
        assert_eq!(r.status, 401, "{}", r.text);
        let r = app
            .post(
                "/v1/messages",
                &json!({"to": "+420777000111", "text": "x", "route": "device"}),
            )
            .await;
        r.assert_problem(422, "no-device");

        // A phone behind a proxy that passes no WebSocket: the long-poll fallback.
        long_poll_device(&app).await;
    }
}

async fn poll(app: &App, credential: &str, frames: Value, wait_s: u64) -> Vec<Value> {
    let r = app
        .send(
            reqwest::Method::POST,
            "/v1/devices/poll",
            Some(credential),
            Some(&json!({"frames": frames, "wait_s": wait_s})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["frames"].as_array().unwrap().clone()
}

async fn long_poll_device(app: &App) {
    let r = app.post("/v1/devices", &json!({"name": "phone"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let code = r.body["pairing_code"].as_str().unwrap().to_lowercase();
    let r = app
        .send(
            reqwest::Method::POST,
            "/v1/devices/pair",
            None,
            Some(&json!({"code": code})),
        )
        .await;
    assert_eq!(r.status, 200, "the code works in any case: {}", r.text);
    let credential = r.body["credential"].as_str().unwrap().to_owned();
    // Frames before a hello are refused.
    let r = app
        .send(
            reqwest::Method::POST,
            "/v1/devices/poll",
            Some(&credential),
            Some(&json!({"frames": [{"type": "heartbeat"}]})),
        )
        .await;
    r.assert_problem(409, "device-connection-closed");
    let frames = poll(
        app,
        &credential,
        json!([{"type": "hello", "model": "Phone"}]),
        0,
    )
    .await;
    assert_eq!(frames[0]["type"], "welcome", "{frames:?}");

    let r = app
        .post(
            "/v1/messages",
            &json!({"to": "+420777000222", "text": "Přes telefon", "route": "device"}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.body["messages"][0]["id"].as_str().unwrap().to_owned();
    let frames = poll(app, &credential, json!([]), 20).await;
    let assign = frames
        .iter()
        .find(|f| f["type"] == "assign")
        .unwrap_or_else(|| panic!("no assignment: {frames:?}"));
    assert_eq!(assign["id"], id.as_str());
    assert_eq!(assign["to"], "+420777000222");
    assert_eq!(assign["text"], "Přes telefon");
    let frames = poll(
        app,
        &credential,
        json!([
            {"type": "ack", "id": id},
            {"type": "sent", "id": id, "refs": [1]},
            {"type": "delivered", "id": id},
        ]),
        1,
    )
    .await;
    assert!(
        frames.iter().filter(|f| f["type"] == "confirm").count() == 2,
        "{frames:?}"
    );
    let m = wait_final(app, &id, Duration::from_secs(20)).await;
    assert_eq!(m["status"], "delivered", "{m}");

    // The Blacklist holds on the device route too: the message is stored blocked, at no
    // charge, and never assigned to the device.
    let r = app
        .post("/v1/blacklist", &json!({"number": "777 000 444"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app
        .post(
            "/v1/messages",
            &json!({"to": "+420777000444", "text": "Nechci", "route": "device"}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body["messages"][0]["status"], "blocked", "{}", r.text);
    assert_eq!(r.body["messages"][0]["price_czk"], "0.00", "{}", r.text);
    let blocked = r.body["messages"][0]["id"].as_str().unwrap().to_owned();
    let frames = poll(app, &credential, json!([]), 2).await;
    assert!(
        !frames.iter().any(|f| f["id"] == blocked.as_str()),
        "a blocked message reached the device: {frames:?}"
    );
    let m = app.get(&format!("/v1/messages/{blocked}")).await;
    assert_eq!(m.body["status"], "blocked", "{}", m.text);

    // End-to-end encrypted text is relayed as it came, priced by the parts stated.
    let e2e = json!({"ciphertext": "AXg5c2VhbGVk", "parts": 2});
    let r = app
        .post(
            "/v1/messages",
            &json!({"to": "+420777000333", "text": "", "route": "carrier", "e2e": e2e}),
        )
        .await;
    r.assert_problem(422, "invalid-e2e");
    let r = app
        .post(
            "/v1/messages",
            &json!({"to": "+420777000333", "text": "", "route": "device", "marketing": true, "e2e": e2e}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = app
        .post(
            "/v1/messages",
            &json!({"to": "+420777000333", "text": "", "route": "device", "e2e": e2e}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body["messages"][0]["parts"], 2);
    let id = r.body["messages"][0]["id"].as_str().unwrap().to_owned();
    let frames = poll(app, &credential, json!([]), 20).await;
    let assign = frames
        .iter()
        .find(|f| f["type"] == "assign")
        .unwrap_or_else(|| panic!("no assignment: {frames:?}"));
    assert_eq!(assign["id"], id.as_str());
    assert_eq!(assign["ciphertext"], "AXg5c2VhbGVk");
    assert_eq!(assign["parts"], 2);
    assert!(assign.get("text").is_none(), "{assign}");
    let m = app.get(&format!("/v1/messages/{id}")).await;
    assert_eq!(m.body["text"], "[end-to-end encrypted]");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_agent_mid_batch_accounts_for_every_message_once() {
    for backend in backends().await {
        let app = App::spawn(backend).await;
        let dir = tempfile::tempdir().unwrap();
        let (device, credential) = pair(&app, dir.path(), 600).await;
        let modem = ModemSim::start(&["--send-delay-ms", "120", "--report-delay-ms", "50"]);
        let mut agent = Agent::start(&app, &credential, &modem.path);
        wait_online(&app, &device, true).await;
        // The account sends through its devices by default.
        let r = app
            .send(
                reqwest::Method::PUT,
                "/v1/account/devices",
                Some(&app.key.clone()),
                Some(
                    &json!({"route": "device", "offline_wait_s": 600, "offline_fallback": "fail"}),
                ),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);

        let numbers: Vec<String> = (0..16).map(|i| format!("+4207770001{i:02}")).collect();
        let r = app
            .post("/v1/messages", &json!({"to": numbers, "text": "Batch"}))
            .await;
        assert_eq!(r.status, 202, "{}", r.text);
        let ids: Vec<String> = r.body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect();
        // Kill it after a few went out.
        let start = Instant::now();
        while modem.sent_texts().len() < 4 {
            assert!(start.elapsed() < Duration::from_secs(30), "nothing sent");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        agent.kill9();
        let sent_before = modem.sent_texts().len();
        assert!(
            sent_before < numbers.len(),
            "killed too late to test anything"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        let _agent = Agent::start(&app, &credential, &modem.path);

        let mut in_doubt = 0;
        for (id, number) in ids.iter().zip(&numbers) {
            let m = wait_final(&app, id, Duration::from_secs(60)).await;
            let times = modem.sent_by_number().get(number).copied().unwrap_or(0);
            assert!(times <= 1, "{number} was sent {times} times ({backend:?})");
            match m["status"].as_str().unwrap() {
                "delivered" => assert_eq!(times, 1, "{m}"),
                _ => {
                    // Only a message caught in the modem at the kill may end undecided.
                    assert!(
                        m["status_reason"]
                            .as_str()
                            .unwrap_or("")
                            .contains("in doubt"),
                        "{m}"
                    );
                    in_doubt += 1;
                }
            }
        }
        assert!(
            in_doubt <= 1,
            "at most the message in the modem at the kill is in doubt"
        );
        eprintln!(
            "{backend:?}: {} sent before the kill, {in_doubt} in doubt",
            sent_before
        );
    }
}

/// Sends `text` sealed for `key` (base64 X25519 public key) through the device route.
async fn send_sealed(app: &App, to: &str, key: &str, text: &str, parts: u32) -> String {
    let ciphertext = devices::e2e::DevicePublicKey::from_base64(key)
        .unwrap()
        .seal(text);
    let r = app
        .post(
            "/v1/messages",
            &json!({"to": to, "text": "", "route": "device",
                    "e2e": {"ciphertext": ciphertext, "parts": parts}}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    r.body["messages"][0]["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_text_is_sent_in_clear_only_by_the_agent_holding_the_key() {
    let admin_token = "adm_devices_test";
    for backend in backends().await {
        let mut opts = support::Options::default();
        opts.env.push((
            "APISENDSMS_ADMIN_TOKEN_SHA256",
            api::keys::hash(admin_token),
        ));
        let app = App::spawn_with(backend, opts).await;
        let dir = tempfile::tempdir().unwrap();
        let r = app
            .post(
                "/v1/devices",
                &json!({"name": "modem e2e", "per_minute": 60}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let device = r.body["id"].as_str().unwrap().to_owned();
        let code = r.body["pairing_code"].as_str().unwrap().to_owned();
        // The QR code holds what the agent needs: the gateway's address and the code.
        let link = r.body["pairing_link"].as_str().unwrap().to_owned();
        let expected = format!(
            "server={}",
            app.base.replace(':', "%3A").replace('/', "%2F")
        );
        assert!(link.starts_with("apisendsms://pair?"), "{link}");
        assert!(link.contains(&expected), "{link}");
        assert!(link.ends_with(&format!("&code={code}")), "{link}");

        // Pairing with the link alone (the gateway and the code in one), and --e2e-key makes
        // the device's key pair and prints its public key.
        let credential = dir.path().join("device.json");
        let key_file = dir.path().join("device.e2e");
        let out = Command::new(bin())
            .args(["agent", "--credential"])
            .arg(&credential)
            .args(["--pair-link", &link, "--e2e-key"])
            .arg(&key_file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        let public = stdout
            .lines()
            .find_map(|l| l.strip_prefix("end-to-end public key: "))
            .unwrap_or_else(|| panic!("no public key printed: {stdout}"))
            .to_owned();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the key file is private: {mode:o}");

        let modem = ModemSim::start(&[]);
        let key_arg = key_file.to_str().unwrap().to_owned();
        let mut agent = Agent::start_with(&app, &credential, &modem.path, &["--e2e-key", &key_arg]);
        wait_online(&app, &device, true).await;

        // The operator sees the device channel beside the carriers.
        let r = app
            .send(
                reqwest::Method::GET,
                "/v1/admin/connectors",
                Some(admin_token),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let channel = r.body["connectors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["kind"] == "device")
            .cloned()
            .unwrap_or_else(|| panic!("no device channel: {}", r.text));
        assert_eq!(channel["name"], "device");
        assert_eq!(channel["up"], true, "{channel}");
        assert_eq!(channel["devices"], json!({"online": 1, "total": 1}));
        assert!(
            r.body["connectors"][0].get("devices").is_none(),
            "{}",
            r.text
        );

        // The customer seals the text for the device: the gateway stores a placeholder, the
        // modem gets the clear text.
        let text = "Váš kód je 4711";
        let id = send_sealed(&app, "+420777000555", &public, text, 1).await;
        let m = app
            .wait_for_status(&id, "delivered", Duration::from_secs(30))
            .await;
        assert_eq!(m["text"], "[end-to-end encrypted]", "{m}");
        assert_eq!(modem.sent_texts(), vec![text.to_owned()]);

        // A text sealed for another device's key is not for this one: failed, never sent.
        let other = devices::e2e::DeviceKey::generate().public().to_base64();
        let id = send_sealed(&app, "+420777000556", &other, "Není pro tebe", 1).await;
        let m = wait_final(&app, &id, Duration::from_secs(30)).await;
        assert_eq!(m["status"], "undeliverable", "{m}");
        let reason = m["status_reason"].as_str().unwrap_or("");
        assert!(reason.contains("no block of the ciphertext opens"), "{m}");

        // A text longer than the parts paid for is not sent either.
        let long = "Dlouhý text, který se do jedné části nevejde. ".repeat(3);
        let id = send_sealed(&app, "+420777000557", &public, &long, 1).await;
        let m = wait_final(&app, &id, Duration::from_secs(30)).await;
        assert_eq!(m["status"], "undeliverable", "{m}");

        // The same device without its key: an encrypted message fails with a clear reason
        // and the ciphertext never reaches the modem.
        agent.kill9();
        wait_online(&app, &device, false).await;
        let _agent = Agent::start(&app, &credential, &modem.path);
        wait_online(&app, &device, true).await;
        let id = send_sealed(&app, "+420777000558", &public, "Bez klíče", 1).await;
        let m = wait_final(&app, &id, Duration::from_secs(30)).await;
        assert_eq!(m["status"], "undeliverable", "{m}");
        let reason = m["status_reason"].as_str().unwrap_or("");
        assert!(reason.contains("holds no end-to-end key"), "{m}");
        assert_eq!(
            modem.sent_texts(),
            vec![text.to_owned()],
            "only the text the agent could open went out ({backend:?})"
        );
    }
}
