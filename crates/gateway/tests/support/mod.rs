//! Starts the real `apisendsms` binary on a random port against a fresh database and talks to
//! it over HTTP.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
pub use testkit::{backends, Backend, TestDb};

pub mod browser;

pub struct App {
    pub base: String,
    /// The customer SMPP server's address, when `APISENDSMS_SMPP_LISTEN` turned it on.
    pub smpp: Option<String>,
    pub key: String,
    pub account: String,
    pub client: reqwest::Client,
    pub db: TestDb,
    config: PathBuf,
    env: Vec<(String, String)>,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

pub struct Options {
    pub credit: &'static str,
    pub receipt_delay_ms: u64,
    pub env: Vec<(&'static str, String)>,
    /// Connectors and routes in TOML; the in-process simulated carrier when `None`.
    pub connectors_toml: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            credit: "1000.00",
            receipt_delay_ms: 20,
            env: vec![("APISENDSMS_RATE_LIMIT_PER_SECOND", "0".into())],
            connectors_toml: None,
        }
    }
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_apisendsms")
}

impl App {
    pub async fn spawn(backend: Backend) -> App {
        App::spawn_with(backend, Options::default()).await
    }

    pub async fn spawn_with(backend: Backend, opts: Options) -> App {
        let db = TestDb::new(backend).await;
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("apisendsms.toml");
        let connectors = opts.connectors_toml.unwrap_or_else(|| {
            format!(
                "[[connectors]]\nkind = \"sim\"\nname = \"sim\"\nreceipt_delay_ms = {}\n\n\
                 [[routes]]\nprefix = \"\"\nconnector = \"sim\"\n",
                opts.receipt_delay_ms
            )
        });
        std::fs::write(&config, connectors).unwrap();
        let env: Vec<(String, String)> = opts
            .env
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        let mut app = App {
            base: String::new(),
            smpp: None,
            key: String::new(),
            account: String::new(),
            client: reqwest::Client::new(),
            db,
            config,
            env,
            child: None,
            _dir: dir,
        };
        let (account, key) = app.create_account("customer@example.com", opts.credit);
        app.account = account;
        app.key = key;
        app.start();
        app
    }

    fn command(&self) -> Command {
        let mut c = Command::new(bin());
        c.arg("--config")
            .arg(&self.config)
            .arg("--database-url")
            .arg(&self.db.url)
            .env("APISENDSMS_LOG", "warn")
            .env("APISENDSMS_BLACKLIST_KEY", "test-blacklist-key-0123456789")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        c
    }

    /// Runs a subcommand of the binary with this app's settings and database.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        self.command().args(args).output().unwrap()
    }

    /// Runs `accounts create`; returns (account id, API key).
    pub fn create_account(&self, email: &str, credit: &str) -> (String, String) {
        let out = self
            .command()
            .args([
                "accounts",
                "create",
                "--email",
                email,
                "--name",
                "Customer",
                "--credit-czk",
                credit,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "accounts create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).expect("accounts create prints JSON");
        (
            v["account_id"].as_str().unwrap().to_owned(),
            v["api_key"].as_str().unwrap().to_owned(),
        )
    }

    /// Starts (or restarts) the server and waits until it listens.
    pub fn start(&mut self) {
        let mut child = self
            .command()
            .args(["serve", "--http", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut smpp = None;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("SMPP server for customers on ") {
                    smpp = Some(addr.to_owned());
                }
                if let Some(addr) = line.strip_prefix("apisendsms listening on ") {
                    let _ = tx.send((addr.to_owned(), smpp.clone()));
                }
            }
        });
        (self.base, self.smpp) = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the server did not start");
        self.child = Some(child);
    }

    /// Sets an environment variable of the server and the command line (for the next start).
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
    }

    /// Kills the server with SIGKILL: no shutdown, no flush.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops the server with SIGTERM and waits for it to exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
        c.wait().unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let mut req = self.client.request(method, self.url(path));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        Reply::from(req.send().await.unwrap()).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(
            reqwest::Method::POST,
            path,
            Some(&self.key.clone()),
            Some(body),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(reqwest::Method::GET, path, Some(&self.key.clone()), None)
            .await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(reqwest::Method::DELETE, path, Some(&self.key.clone()), None)
            .await
    }

    /// Polls a message until `done` holds for its status, or panics after `timeout`.
    pub async fn wait_for_status(&self, id: &str, want: &str, timeout: Duration) -> Value {
        let start = Instant::now();
        loop {
            let r = self.get(&format!("/v1/messages/{id}")).await;
            assert_eq!(r.status, 200, "{:?}", r.body);
            if r.body["status"] == want {
                return r.body;
            }
            assert!(
                start.elapsed() < timeout,
                "message {id} is {} after {timeout:?}, wanted {want}",
                r.body["status"]
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub content_type: String,
    pub body: Value,
    pub text: String,
}

impl Reply {
    async fn from(r: reqwest::Response) -> Reply {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let content_type = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let text = r.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            content_type,
            body,
            text,
        }
    }

    /// Asserts an RFC 9457 problem with this status and type.
    pub fn assert_problem(&self, status: u16, slug: &str) {
        assert_eq!(self.status, status, "body: {}", self.text);
        assert_eq!(self.content_type, "application/problem+json");
        assert_eq!(
            self.body["type"],
            format!("/problems/{slug}"),
            "body: {}",
            self.text
        );
        assert_eq!(self.body["status"], status);
        assert!(self.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
}

/// An RFC 3339 UTC time `days` from now, whole seconds.
pub fn rfc3339_in_days(days: i64) -> String {
    let t = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap()
        + time::Duration::days(days);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// The same app with a new HTTP client (after a request the server closed the connection on).
pub fn reconnect(mut app: App) -> App {
    app.client = reqwest::Client::new();
    app
}

/// The SMSC simulator as its own process (`apisendsms smsc-sim`), with its control port.
pub struct SimProcess {
    pub smpp_port: u16,
    pub control: String,
    child: Child,
}

impl SimProcess {
    pub fn start(args: &[&str]) -> SimProcess {
        let mut child = Command::new(bin())
            .args([
                "smsc-sim",
                "--listen",
                "127.0.0.1:0",
                "--control",
                "127.0.0.1:0",
            ])
            .args(args)
            .env("APISENDSMS_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut smpp_port = None;
        let mut control = None;
        while smpp_port.is_none() || control.is_none() {
            let line = rx
                .recv_timeout(Duration::from_secs(30))
                .expect("smsc-sim did not start");
            if let Some(a) = line.strip_prefix("smsc-sim listening on ") {
                smpp_port = Some(a.rsplit(':').next().unwrap().parse().unwrap());
            } else if let Some(a) = line.strip_prefix("smsc-sim control on ") {
                control = Some(a.to_owned());
            }
        }
        SimProcess {
            smpp_port: smpp_port.unwrap(),
            control: control.unwrap(),
            child,
        }
    }

    /// Settings that route every message to this simulator over SMPP.
    pub fn connectors_toml(&self) -> String {
        format!(
            "[[connectors]]\nkind = \"smpp\"\nname = \"smsc\"\nhost = \"127.0.0.1\"\nport = {}\n\
             system_id = \"gw\"\npassword = \"pw\"\nwindow = 50\n\n\
             [[routes]]\nprefix = \"\"\nconnector = \"smsc\"\n",
            self.smpp_port
        )
    }

    pub async fn stats(&self) -> Value {
        reqwest::get(format!("{}/stats", self.control))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn inject_mo(&self, from: &str, to: &str, text: &str) -> reqwest::StatusCode {
        reqwest::Client::new()
            .post(format!("{}/mo", self.control))
            .json(&serde_json::json!({"from": from, "to": to, "text": text}))
            .send()
            .await
            .unwrap()
            .status()
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
