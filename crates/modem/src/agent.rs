//! The reference device agent: `apisendsms agent --server URL --credential FILE --modem DEV`.
//! It talks the device protocol to the server and drives a GSM modem in PDU mode.
//!
//! Everything it learns is appended to a journal (fsynced) before it tells the server, so a
//! restart resumes where it stopped: assigned messages are sent, reports the server did not
//! confirm are repeated, and a message whose `AT+CMGS` was in progress when the agent stopped
//! is reported failed "in doubt" rather than sent a second time.
//!
//! With an end-to-end key (`--e2e-key`), the agent opens the ciphertext of encrypted
//! assignments with [`devices::e2e`]; the journal keeps the ciphertext, and the text is opened
//! again just before sending. Without a key, or when no block opens with it, an encrypted
//! assignment is reported `failed` and never sent.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use devices::e2e::DeviceKey;
use devices::protocol::{DeviceFrame, ServerFrame};
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::at::{AtError, Modem, Timeouts, Urc};
use crate::pdu::{self, Deliver, Outcome, StatusReport};

/// What `apisendsms agent pair` writes and the agent reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CredentialFile {
    pub server: String,
    pub device_id: String,
    pub credential: String,
}

#[derive(Debug)]
pub struct AgentConfig {
    /// `http://host:port` or `https://host` of the gateway.
    pub server: String,
    pub credential: PathBuf,
    pub modem: PathBuf,
    /// The journal; beside the credential file when not given.
    pub journal: Option<PathBuf>,
    /// The service centre for submits; the SIM's default when `None`.
    pub smsc: Option<String>,
    /// The device's end-to-end key, to open encrypted assignments.
    pub e2e_key: Option<DeviceKey>,
}

/// Reads the device's end-to-end key from `file` (base64 of its 32 secret bytes on one line),
/// or makes a new key pair and writes it there (mode 0600) when the file does not exist.
/// Returns the key and whether it was made now.
pub fn e2e_key(file: &Path) -> anyhow::Result<(DeviceKey, bool)> {
    match std::fs::read_to_string(file) {
        Ok(text) => {
            let key = DeviceKey::from_base64(&text)
                .with_context(|| format!("the end-to-end key in {}", file.display()))?;
            Ok((key, false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = DeviceKey::generate();
            write_private(file, format!("{}\n", key.to_base64()).as_bytes())
                .with_context(|| format!("writing {}", file.display()))?;
            Ok((key, true))
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", file.display())),
    }
}

/// The gateway and the pairing code from the link of the pairing QR code,
/// `apisendsms://pair?server=<base URL>&code=<code>` (docs/device-protocol.md).
pub fn pairing_link(link: &str) -> anyhow::Result<(String, String)> {
    let url = reqwest::Url::parse(link.trim()).context("the pairing link is not a URL")?;
    anyhow::ensure!(
        url.scheme() == "apisendsms" && url.host_str() == Some("pair"),
        "not a pairing link: it starts with apisendsms://pair?"
    );
    let (mut server, mut code) = (None, None);
    for (key, value) in url.query_pairs() {
        match &*key {
            "server" => server = Some(value.into_owned()),
            "code" => code = Some(value.into_owned()),
            _ => {}
        }
    }
    let server = server
        .filter(|s| !s.trim().is_empty())
        .context("the pairing link names no server")?;
    let code = code
        .filter(|c| !c.trim().is_empty())
        .context("the pairing link has no code")?;
    let base = reqwest::Url::parse(&server).context("the pairing link's server is not a URL")?;
    anyhow::ensure!(
        matches!(base.scheme(), "http" | "https"),
        "the pairing link's server is not an http(s) URL"
    );
    Ok((server, code))
}

/// Exchanges a pairing code for a credential and writes the credential file (mode 0600).
pub async fn pair(server: &str, code: &str, file: &Path) -> anyhow::Result<CredentialFile> {
    let url = format!("{}/v1/devices/pair", server.trim_end_matches('/'));
    let resp = reqwest::Client::new()
        .post(&url)
        .json(&serde_json::json!({ "code": code }))
        .send()
        .await
        .with_context(|| format!("reaching {url}"))?;
    let status = resp.status();
    let body: serde_json::Value = resp.json().await.context("reading the pairing answer")?;
    anyhow::ensure!(
        status.is_success(),
        "pairing refused ({status}): {}",
        body["detail"].as_str().unwrap_or("no detail")
    );
    let cred = CredentialFile {
        server: server.trim_end_matches('/').to_owned(),
        device_id: body["device_id"].as_str().unwrap_or_default().to_owned(),
        credential: body["credential"]
            .as_str()
            .context("the pairing answer has no credential")?
            .to_owned(),
    };
    write_private(file, serde_json::to_string_pretty(&cred)?.as_bytes())
        .with_context(|| format!("writing {}", file.display()))?;
    Ok(cred)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// One line of the journal.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
enum Record {
    Assigned {
        id: String,
        to: String,
        text: Option<String>,
        /// The end-to-end encrypted text, opened only to send it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ciphertext: Option<String>,
        parts: u32,
        expires_at_ms: i64,
    },
    Submitting {
        id: String,
    },
    Sent {
        id: String,
        refs: Vec<u8>,
    },
    Part {
        id: String,
        reference: u8,
        delivered: bool,
        /// TP-ST of the report (absent in journals written before it was kept).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u8>,
    },
    Final {
        id: String,
        delivered: bool,
        error: Option<String>,
    },
    Confirmed {
        id: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Assigned,
    Submitting,
    Sent,
    Final,
}

#[derive(Debug, Clone)]
struct Entry {
    to: String,
    text: Option<String>,
    ciphertext: Option<String>,
    parts: u32,
    expires_at_ms: i64,
    phase: Phase,
    refs: Vec<u8>,
    parts_done: BTreeMap<u8, bool>,
    /// TP-ST of the first part reported not delivered.
    failed_status: Option<u8>,
    delivered: bool,
    error: Option<String>,
    /// The server confirmed the latest report.
    confirmed: bool,
}

impl Entry {
    /// The outcome a sent message's part reports add up to, once they decide it: any part
    /// not delivered fails the message, every part delivered delivers it.
    fn settled(&self) -> Option<(bool, Option<String>)> {
        if self.phase != Phase::Sent || self.refs.is_empty() {
            return None;
        }
        if let Some(status) = self.failed_status {
            return Some((false, Some(format!("status report: TP-ST 0x{status:02X}"))));
        }
        self.refs
            .iter()
            .all(|r| self.parts_done.get(r) == Some(&true))
            .then_some((true, None))
    }

    /// The report that tells the server where this message stands.
    fn report(&self, id: &str) -> DeviceFrame {
        match self.phase {
            Phase::Assigned | Phase::Submitting => DeviceFrame::Ack { id: id.to_owned() },
            Phase::Sent => DeviceFrame::Sent {
                id: id.to_owned(),
                refs: self.refs.iter().map(|r| u16::from(*r)).collect(),
            },
            Phase::Final if self.delivered => DeviceFrame::Delivered { id: id.to_owned() },
            Phase::Final => DeviceFrame::Failed {
                id: id.to_owned(),
                error: self.error.clone().unwrap_or_else(|| "failed".into()),
            },
        }
    }
}

/// The journal file and the state it describes.
struct Journal {
    file: std::fs::File,
    entries: BTreeMap<String, Entry>,
}

impl Journal {
    fn open(path: &Path) -> anyhow::Result<Journal> {
        let mut entries = BTreeMap::new();
        let mut torn = false;
        if let Ok(text) = std::fs::read_to_string(path) {
            for line in text.lines() {
                // A line cut by a crash is the last one; it is ignored.
                if let Ok(r) = serde_json::from_str::<Record>(line) {
                    apply(&mut entries, r);
                }
            }
            torn = !text.is_empty() && !text.ends_with('\n');
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening the journal {}", path.display()))?;
        if torn {
            // End the cut line, so that the next record starts a line of its own.
            file.write_all(b"\n")?;
            file.sync_data()?;
        }
        Ok(Journal { file, entries })
    }

    fn append(&mut self, r: Record) -> anyhow::Result<()> {
        let mut line = serde_json::to_vec(&r)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.file.sync_data()?;
        apply(&mut self.entries, r);
        Ok(())
    }
}

fn apply(entries: &mut BTreeMap<String, Entry>, r: Record) {
    match r {
        Record::Assigned {
            id,
            to,
            text,
            ciphertext,
            parts,
            expires_at_ms,
        } => {
            entries.entry(id).or_insert(Entry {
                to,
                text,
                ciphertext,
                parts,
                expires_at_ms,
                phase: Phase::Assigned,
                refs: Vec::new(),
                parts_done: BTreeMap::new(),
                failed_status: None,
                delivered: false,
                error: None,
                confirmed: false,
            });
        }
        Record::Submitting { id } => {
            if let Some(e) = entries.get_mut(&id) {
                e.phase = Phase::Submitting;
            }
        }
        Record::Sent { id, refs } => {
            if let Some(e) = entries.get_mut(&id) {
                e.phase = Phase::Sent;
                e.refs = refs;
                e.confirmed = false;
            }
        }
        Record::Part {
            id,
            reference,
            delivered,
            status,
        } => {
            if let Some(e) = entries.get_mut(&id) {
                e.parts_done.insert(reference, delivered);
                if !delivered && e.failed_status.is_none() {
                    e.failed_status = Some(status.unwrap_or(0xFF));
                }
            }
        }
        Record::Final {
            id,
            delivered,
            error,
        } => {
            if let Some(e) = entries.get_mut(&id) {
                e.phase = Phase::Final;
                e.delivered = delivered;
                e.error = error;
                e.confirmed = false;
            }
        }
        Record::Confirmed { id } => {
            if let Some(e) = entries.get_mut(&id) {
                e.confirmed = true;
            }
        }
    }
}

/// The parts of one concatenated message received so far: the total, and by sequence number
/// the text and the storage index.
type Parts = (u8, BTreeMap<u8, (String, u32)>);

/// Inbound messages being joined and those waiting for the server's confirmation.
#[derive(Default)]
struct Inbound {
    /// (from, concat reference) -> the parts so far.
    partial: HashMap<(String, u16), Parts>,
    /// ref -> the frame and the storage indexes to delete once stored.
    ready: BTreeMap<String, (DeviceFrame, Vec<u32>)>,
}

impl Inbound {
    /// Offers a stored SMS-DELIVER; returns the ref of a message now complete.
    fn offer(&mut self, index: u32, d: Deliver) -> Option<String> {
        let text = d.user_data.text();
        let received_at_ms = d.timestamp.to_unix() * 1000;
        let (reference, indexes, text) = match d.user_data.concat() {
            None => (
                format!("{}:{}:{index}", d.originator, d.timestamp.to_unix()),
                vec![index],
                text,
            ),
            Some(c) => {
                let key = (d.originator.clone(), c.reference);
                let slot = self
                    .partial
                    .entry(key.clone())
                    .or_insert((c.total, BTreeMap::new()));
                slot.1.insert(c.seq, (text, index));
                if slot.1.len() < usize::from(slot.0) {
                    return None;
                }
                let (_, parts) = self.partial.remove(&key)?;
                let indexes = parts.values().map(|(_, i)| *i).collect();
                let text = parts.into_values().map(|(t, _)| t).collect();
                (
                    format!(
                        "{}:{}:c{}",
                        d.originator,
                        d.timestamp.to_unix(),
                        c.reference
                    ),
                    indexes,
                    text,
                )
            }
        };
        let frame = DeviceFrame::Inbound {
            reference: reference.clone(),
            from: d.originator,
            text,
            received_at_ms,
        };
        self.ready.insert(reference.clone(), (frame, indexes));
        Some(reference)
    }
}

/// Why a session with the server ended.
enum End {
    /// Reconnect after a pause.
    Lost(anyhow::Error),
    /// The server refused the credential: stop.
    Refused(String),
    /// The modem is gone: stop (the journal keeps what was in progress).
    Modem(AtError),
}

struct Agent {
    config: AgentConfig,
    credential: String,
    journal: Journal,
    modem: Modem,
    inbound: Inbound,
    model: Option<String>,
    queue: VecDeque<String>,
}

/// Runs the agent until the credential is refused or the modem fails.
pub async fn run(config: AgentConfig) -> anyhow::Result<()> {
    let cred: CredentialFile = serde_json::from_slice(
        &std::fs::read(&config.credential)
            .with_context(|| format!("reading {}", config.credential.display()))?,
    )
    .context("the credential file is not what `apisendsms agent pair` writes")?;
    let journal_path = config
        .journal
        .clone()
        .unwrap_or_else(|| config.credential.with_extension("journal"));
    let mut journal = Journal::open(&journal_path)?;
    let line = crate::tty::open_serial(&config.modem)
        .with_context(|| format!("opening the modem {}", config.modem.display()))?;
    let mut modem = Modem::new(line.reader, line.writer, Timeouts::default());
    modem.init().await.context("setting up the modem")?;
    let model = modem.model().await.ok();
    // A submit in progress when the agent stopped may or may not have reached the network.
    let in_doubt: Vec<String> = journal
        .entries
        .iter()
        .filter(|(_, e)| e.phase == Phase::Submitting)
        .map(|(id, _)| id.clone())
        .collect();
    for id in in_doubt {
        tracing::warn!(message_id = %id, "in doubt after a restart: not sent again");
        journal.append(Record::Final {
            id,
            delivered: false,
            error: Some(
                "in doubt: the agent stopped while the modem was sending it; not sent again".into(),
            ),
        })?;
    }
    // A message whose last report was journaled but not its outcome (the agent stopped
    // between the two appends).
    let settled: Vec<(String, bool, Option<String>)> = journal
        .entries
        .iter()
        .filter_map(|(id, e)| e.settled().map(|(d, err)| (id.clone(), d, err)))
        .collect();
    for (id, delivered, error) in settled {
        tracing::info!(message_id = %id, delivered, "settled after a restart from its journaled reports");
        journal.append(Record::Final {
            id,
            delivered,
            error,
        })?;
    }
    let queue = journal
        .entries
        .iter()
        .filter(|(_, e)| e.phase == Phase::Assigned)
        .map(|(id, _)| id.clone())
        .collect();
    let mut agent = Agent {
        config,
        credential: cred.credential,
        journal,
        modem,
        inbound: Inbound::default(),
        model,
        queue,
    };
    // Messages and status reports that came while the agent was away (or were read and not
    // handled when it stopped).
    for s in agent.modem.list().await.unwrap_or_default() {
        agent.stored(s.index, &s.pdu).await;
    }
    let mut pause = Duration::from_millis(500);
    loop {
        match agent.session().await {
            End::Refused(why) => anyhow::bail!("the server refused this device: {why}"),
            End::Modem(e) => return Err(e).context("the modem failed"),
            End::Lost(e) => {
                tracing::warn!(error = %format!("{e:#}"), "connection to the server lost; reconnecting");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(30));
            }
        }
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn send_frame(ws: &mut Ws, frame: &DeviceFrame) -> Result<(), End> {
    let text = serde_json::to_string(frame).map_err(|e| End::Lost(e.into()))?;
    ws.send(Message::Text(text.into()))
        .await
        .map_err(|e| End::Lost(e.into()))
}

impl Agent {
    fn ws_url(&self) -> String {
        let base = self.config.server.trim_end_matches('/');
        let base = if let Some(rest) = base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            base.to_owned()
        };
        format!("{base}/v1/devices/ws")
    }

    async fn session(&mut self) -> End {
        let mut request = match self.ws_url().into_client_request() {
            Ok(r) => r,
            Err(e) => return End::Refused(format!("bad server URL: {e}")),
        };
        match format!("Bearer {}", self.credential)
            .parse::<tokio_tungstenite::tungstenite::http::HeaderValue>()
        {
            Ok(v) => {
                request.headers_mut().insert(
                    tokio_tungstenite::tungstenite::http::header::AUTHORIZATION,
                    v,
                );
            }
            Err(_) => return End::Refused("the credential is not a valid header value".into()),
        }
        let mut ws = match tokio_tungstenite::connect_async(request).await {
            Ok((ws, _)) => {
                tracing::info!(server = %self.config.server, queued = self.queue.len(), "connected");
                ws
            }
            Err(tokio_tungstenite::tungstenite::Error::Http(resp))
                if resp.status().as_u16() == 401 =>
            {
                return End::Refused("the credential is unknown or revoked".into())
            }
            Err(e) => return End::Lost(e.into()),
        };
        match self.converse(&mut ws).await {
            Ok(()) => End::Lost(anyhow::anyhow!("the server closed the connection")),
            Err(end) => {
                let _ = ws.close(None).await;
                end
            }
        }
    }

    async fn converse(&mut self, ws: &mut Ws) -> Result<(), End> {
        let signal = self.modem.signal().await.ok();
        let battery = self.modem.battery().await.ok();
        send_frame(
            ws,
            &DeviceFrame::Hello {
                model: self.model.clone(),
                sim_slots: Some(1),
                signal,
                battery,
                app: Some(format!("apisendsms-agent {}", env!("CARGO_PKG_VERSION"))),
            },
        )
        .await?;
        // Repeat what the server has not confirmed.
        let unconfirmed: Vec<DeviceFrame> = self
            .journal
            .entries
            .iter()
            .filter(|(_, e)| !e.confirmed && matches!(e.phase, Phase::Sent | Phase::Final))
            .map(|(id, e)| e.report(id))
            .collect();
        for f in unconfirmed {
            send_frame(ws, &f).await?;
        }
        let waiting: Vec<DeviceFrame> = self
            .inbound
            .ready
            .values()
            .map(|(f, _)| f.clone())
            .collect();
        for f in waiting {
            send_frame(ws, &f).await?;
        }
        let mut heartbeat = tokio::time::interval(Duration::from_secs(30));
        heartbeat.tick().await;
        loop {
            tokio::select! {
                biased;
                incoming = ws.next() => {
                    let text = match incoming {
                        Some(Ok(Message::Text(t))) => t,
                        Some(Ok(Message::Close(_))) | None => return Ok(()),
                        Some(Ok(_)) => continue,
                        Some(Err(e)) => return Err(End::Lost(e.into())),
                    };
                    let frame: ServerFrame = serde_json::from_str(text.as_str())
                        .map_err(|e| End::Lost(anyhow::anyhow!("bad frame from the server: {e}")))?;
                    if let Some(d) = self.on_server(ws, frame).await? {
                        heartbeat = tokio::time::interval(d);
                        heartbeat.tick().await;
                    }
                }
                urc = self.modem.next_urc() => {
                    let urc = urc.map_err(End::Modem)?;
                    for f in self.on_urc(urc).await? {
                        send_frame(ws, &f).await?;
                    }
                }
                _ = heartbeat.tick() => {
                    let signal = self.modem.signal().await.ok();
                    send_frame(ws, &DeviceFrame::Heartbeat {
                        signal,
                        battery: None,
                        queue: Some(self.queue.len() as u32),
                    }).await?;
                }
                _ = std::future::ready(()), if !self.queue.is_empty() => {
                    let id = self.queue.pop_front().expect("not empty");
                    if let Some(f) = self.send_message(&id).await? {
                        send_frame(ws, &f).await?;
                    }
                }
            }
        }
    }

    /// Handles a server frame; returns a new heartbeat period when the server set one.
    async fn on_server(
        &mut self,
        ws: &mut Ws,
        frame: ServerFrame,
    ) -> Result<Option<Duration>, End> {
        let j = |e: anyhow::Error| End::Modem(AtError::Io(std::io::Error::other(e.to_string())));
        match frame {
            ServerFrame::Welcome { heartbeat_s, .. } => {
                return Ok(Some(Duration::from_secs(u64::from(heartbeat_s.max(1)))));
            }
            ServerFrame::Assign {
                id,
                to,
                text,
                ciphertext,
                parts,
                expires_at_ms,
            } => {
                if let Some(e) = self.journal.entries.get(&id) {
                    // A repeat (the ack or a report was lost): say where it stands.
                    let f = e.report(&id);
                    send_frame(ws, &f).await?;
                    return Ok(None);
                }
                // An encrypted text must open with this device's key; it is never sent as it came.
                let unreadable = match (&text, &ciphertext) {
                    (_, Some(c)) => self.open(c).err(),
                    (Some(_), None) => None,
                    (None, None) => Some("the assignment carries no text".to_owned()),
                };
                self.journal
                    .append(Record::Assigned {
                        id: id.clone(),
                        to,
                        text: if ciphertext.is_some() { None } else { text },
                        ciphertext,
                        parts,
                        expires_at_ms,
                    })
                    .map_err(j)?;
                send_frame(ws, &DeviceFrame::Ack { id: id.clone() }).await?;
                if let Some(why) = unreadable {
                    let f = self.finish(&id, false, Some(why)).map_err(j)?;
                    send_frame(ws, &f).await?;
                } else {
                    self.queue.push_back(id);
                }
            }
            ServerFrame::Confirm { id } => {
                if self.journal.entries.contains_key(&id) {
                    self.journal.append(Record::Confirmed { id }).map_err(j)?;
                }
            }
            ServerFrame::InboundStored { reference } => {
                if let Some((_, indexes)) = self.inbound.ready.remove(&reference) {
                    for i in indexes {
                        if let Err(e) = self.modem.delete(i).await {
                            tracing::warn!(index = i, error = %e, "could not delete a stored message");
                        }
                    }
                }
            }
            ServerFrame::Error { detail } => {
                if detail.contains("revoked") {
                    return Err(End::Refused(detail));
                }
                return Err(End::Lost(anyhow::anyhow!("server error: {detail}")));
            }
        }
        Ok(None)
    }

    /// The clear text of an end-to-end encrypted assignment, or why there is none.
    fn open(&self, ciphertext: &str) -> Result<String, String> {
        let key = self.config.e2e_key.as_ref().ok_or_else(|| {
            "end-to-end encrypted, and this agent holds no end-to-end key (--e2e-key)".to_owned()
        })?;
        key.open(ciphertext)
            .map_err(|e| format!("end-to-end encrypted: {e}"))
    }

    fn finish(
        &mut self,
        id: &str,
        delivered: bool,
        error: Option<String>,
    ) -> anyhow::Result<DeviceFrame> {
        tracing::info!(message_id = %id, delivered, ?error, "final");
        self.journal.append(Record::Final {
            id: id.to_owned(),
            delivered,
            error,
        })?;
        Ok(self.journal.entries[id].report(id))
    }

    /// Sends one assigned message through the modem; returns the report for the server.
    async fn send_message(&mut self, id: &str) -> Result<Option<DeviceFrame>, End> {
        let j = |e: anyhow::Error| End::Modem(AtError::Io(std::io::Error::other(e.to_string())));
        let Some(e) = self.journal.entries.get(id).cloned() else {
            return Ok(None);
        };
        if e.phase != Phase::Assigned {
            return Ok(None);
        }
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        if now_ms >= e.expires_at_ms {
            return self
                .finish(
                    id,
                    false,
                    Some("validity period ended before sending".into()),
                )
                .map(Some)
                .map_err(j);
        }
        let text = match &e.ciphertext {
            Some(c) => match self.open(c) {
                Ok(t) => t,
                Err(why) => return self.finish(id, false, Some(why)).map(Some).map_err(j),
            },
            None => e.text.clone().unwrap_or_default(),
        };
        let reference = id
            .bytes()
            .fold(0u8, |a, b| a.wrapping_mul(31).wrapping_add(b));
        let submits = match pdu::submits_for(&e.to, &text, reference, e.parts.max(1)) {
            Ok(s) => s,
            Err(err) => {
                return self
                    .finish(id, false, Some(err.to_string()))
                    .map(Some)
                    .map_err(j)
            }
        };
        self.journal
            .append(Record::Submitting { id: id.to_owned() })
            .map_err(j)?;
        let mut refs = Vec::with_capacity(submits.len());
        for s in &submits {
            let (hex, len) = match s.to_modem(self.config.smsc.as_deref()) {
                Ok(x) => x,
                Err(err) => {
                    return self
                        .finish(id, false, Some(err.to_string()))
                        .map(Some)
                        .map_err(j)
                }
            };
            match self.modem.send_pdu(&hex, len).await {
                Ok(mr) => refs.push(mr),
                Err(err) if err.is_refusal() => {
                    let why = if refs.is_empty() {
                        err.to_string()
                    } else {
                        format!("part {} of {}: {err}", refs.len() + 1, submits.len())
                    };
                    return self.finish(id, false, Some(why)).map(Some).map_err(j);
                }
                Err(AtError::Timeout(c)) => {
                    tracing::warn!(command = %c, "the modem did not answer; resetting it");
                    let f = self
                        .finish(
                            id,
                            false,
                            Some("in doubt: the modem stopped answering while sending it".into()),
                        )
                        .map_err(j)?;
                    self.modem.reset().await.map_err(End::Modem)?;
                    return Ok(Some(f));
                }
                Err(err) => return Err(End::Modem(err)),
            }
        }
        tracing::info!(message_id = %id, ?refs, "sent");
        self.journal
            .append(Record::Sent {
                id: id.to_owned(),
                refs,
            })
            .map_err(j)?;
        Ok(Some(self.journal.entries[id].report(id)))
    }

    /// Handles an unsolicited result code; returns reports for the server.
    async fn on_urc(&mut self, urc: Urc) -> Result<Vec<DeviceFrame>, End> {
        match urc {
            Urc::StatusReport { pdu } => Ok(self.status_report(&pdu).into_iter().collect()),
            Urc::StoredReport { index } | Urc::NewMessage { index } => {
                match self.modem.read(index).await {
                    Ok(s) => Ok(self.stored(s.index, &s.pdu).await.into_iter().collect()),
                    Err(e) => {
                        tracing::warn!(index, error = %e, "could not read a new message");
                        Ok(Vec::new())
                    }
                }
            }
            Urc::Ready => {
                self.modem.init().await.map_err(End::Modem)?;
                Ok(Vec::new())
            }
        }
    }

    /// Handles a stored message or status report. A report is deleted once its outcome is in
    /// the journal; a message once the server stored it.
    async fn stored(&mut self, index: u32, raw: &[u8]) -> Option<DeviceFrame> {
        let mti = pdu::strip_smsc(raw).ok()?.1.first()? & 0x03;
        if mti == 0x02 {
            let frame = self.status_report(raw);
            if let Err(e) = self.modem.delete(index).await {
                tracing::warn!(index, error = %e, "could not delete a status report");
            }
            return frame;
        }
        self.stored_message(index, raw).await
    }

    async fn stored_message(&mut self, index: u32, raw: &[u8]) -> Option<DeviceFrame> {
        let d = pdu::strip_smsc(raw).and_then(|(_, tpdu)| Deliver::decode(tpdu));
        match d {
            Ok(d) => {
                let reference = self.inbound.offer(index, d)?;
                self.inbound.ready.get(&reference).map(|(f, _)| f.clone())
            }
            Err(e) => {
                // Not an SMS-DELIVER (a stored report, a draft): leave it.
                tracing::debug!(index, error = %e, "skipping a stored message");
                None
            }
        }
    }

    fn status_report(&mut self, raw: &[u8]) -> Option<DeviceFrame> {
        let report = pdu::strip_smsc(raw)
            .and_then(|(_, tpdu)| StatusReport::decode(tpdu))
            .ok()?;
        let outcome = report.outcome();
        if outcome == Outcome::Pending {
            return None;
        }
        // The newest message still waiting for a report on this reference; failing that, the
        // newest whose report on it is journaled but whose outcome is not (the agent stopped
        // between the two), so that reading the report again finishes it.
        let sent = |e: &&Entry| e.phase == Phase::Sent && e.refs.contains(&report.reference);
        let entries = &self.journal.entries;
        let (id, repeat) = entries
            .iter()
            .rev()
            .find(|(_, e)| sent(e) && !e.parts_done.contains_key(&report.reference))
            .map(|(id, _)| (id.clone(), false))
            .or_else(|| {
                entries
                    .iter()
                    .rev()
                    .find(|(_, e)| sent(e))
                    .map(|(id, _)| (id.clone(), true))
            })?;
        let delivered = outcome == Outcome::Delivered;
        let result = (|| -> anyhow::Result<Option<DeviceFrame>> {
            if !repeat {
                self.journal.append(Record::Part {
                    id: id.clone(),
                    reference: report.reference,
                    delivered,
                    status: Some(report.status),
                })?;
            }
            match self.journal.entries[&id].settled() {
                Some((delivered, error)) => self.finish(&id, delivered, error).map(Some),
                None => Ok(None),
            }
        })();
        result.unwrap_or_else(|e| {
            tracing::error!(error = %e, "journal write failed");
            None
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_pairing_link_gives_the_server_and_the_code() {
        // The example of docs/device-protocol.md, and what the web page makes.
        assert_eq!(
            super::pairing_link(
                "apisendsms://pair?server=https%3A%2F%2Fsms.example.com&code=7K2QX-M9D4R"
            )
            .unwrap(),
            (
                "https://sms.example.com".to_owned(),
                "7K2QX-M9D4R".to_owned()
            )
        );
        let made = devices::http::pairing_link("http://127.0.0.1:8080/gw?a=b&c", "AB CD+&");
        assert_eq!(
            super::pairing_link(&made).unwrap(),
            (
                "http://127.0.0.1:8080/gw?a=b&c".to_owned(),
                "AB CD+&".to_owned()
            )
        );
        for bad in [
            "https://sms.example.com/pair?server=https%3A%2F%2Fa&code=X",
            "apisendsms://other?server=https%3A%2F%2Fa&code=X",
            "apisendsms://pair?server=https%3A%2F%2Fa",
            "apisendsms://pair?code=X",
            "apisendsms://pair?server=ftp%3A%2F%2Fa&code=X",
            "apisendsms://pair?server=&code=X",
            "not a link",
        ] {
            assert!(super::pairing_link(bad).is_err(), "{bad}");
        }
    }

    use super::*;

    #[test]
    fn the_journal_replays_to_the_same_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        {
            let mut j = Journal::open(&path).unwrap();
            for r in [
                Record::Assigned {
                    id: "1".into(),
                    to: "+420777000111".into(),
                    text: Some("a".into()),
                    ciphertext: None,
                    parts: 1,
                    expires_at_ms: i64::MAX,
                },
                Record::Assigned {
                    id: "2".into(),
                    to: "+420777000111".into(),
                    text: Some("b".into()),
                    ciphertext: None,
                    parts: 1,
                    expires_at_ms: i64::MAX,
                },
                Record::Submitting { id: "1".into() },
                Record::Sent {
                    id: "1".into(),
                    refs: vec![4],
                },
                Record::Confirmed { id: "1".into() },
                Record::Submitting { id: "2".into() },
            ] {
                j.append(r).unwrap();
            }
        }
        // A torn last line is ignored.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"k\":\"fin")
            .unwrap();
        let j = Journal::open(&path).unwrap();
        let one = &j.entries["1"];
        assert_eq!(
            (one.phase, one.confirmed, one.refs.clone()),
            (Phase::Sent, true, vec![4])
        );
        assert_eq!(j.entries["2"].phase, Phase::Submitting);
        assert_eq!(
            one.report("1"),
            DeviceFrame::Sent {
                id: "1".into(),
                refs: vec![4]
            }
        );
        // What is written after the torn line is read back, not glued to it.
        let mut j = j;
        j.append(Record::Confirmed { id: "2".into() }).unwrap();
        let j = Journal::open(&path).unwrap();
        assert!(j.entries["2"].confirmed);
    }

    #[test]
    fn part_reports_settle_a_message_once_they_decide_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let mut j = Journal::open(&path).unwrap();
        for id in ["1", "2"] {
            j.append(Record::Assigned {
                id: id.into(),
                to: "+420777000111".into(),
                text: Some("a".into()),
                ciphertext: None,
                parts: 2,
                expires_at_ms: i64::MAX,
            })
            .unwrap();
            j.append(Record::Sent {
                id: id.into(),
                refs: vec![4, 5],
            })
            .unwrap();
        }
        let part = |id: &str, reference, status: u8| Record::Part {
            id: id.into(),
            reference,
            delivered: status == 0,
            status: Some(status),
        };
        j.append(part("1", 4, 0)).unwrap();
        assert_eq!(j.entries["1"].settled(), None, "one part of two");
        j.append(part("1", 5, 0)).unwrap();
        assert_eq!(j.entries["1"].settled(), Some((true, None)));
        j.append(part("2", 5, 0x41)).unwrap();
        assert_eq!(
            j.entries["2"].settled(),
            Some((false, Some("status report: TP-ST 0x41".into()))),
            "a part not delivered decides it"
        );
        // A journal written before the status was kept still reads.
        let old = r#"{"k":"part","id":"2","reference":4,"delivered":true}"#;
        let r: Record = serde_json::from_str(old).unwrap();
        assert!(matches!(r, Record::Part { status: None, .. }));
        // Once final, nothing is left to settle.
        j.append(Record::Final {
            id: "1".into(),
            delivered: true,
            error: None,
        })
        .unwrap();
        assert_eq!(j.entries["1"].settled(), None);
    }

    #[test]
    fn concatenated_inbound_parts_are_joined_once_complete() {
        let mut inbound = Inbound::default();
        let text = "Dobrý den, ".repeat(12);
        let parts = pdu::submits_for("+420777000111", &text, 5, 10).unwrap();
        assert!(parts.len() > 1);
        let ts = pdu::Timestamp::from_unix(1_700_000_000);
        let mut done = None;
        for (i, p) in parts.iter().enumerate().rev() {
            let d = Deliver {
                originator: "+420777000111".into(),
                timestamp: ts,
                user_data: p.user_data.clone(),
            };
            assert!(done.is_none());
            done = inbound.offer(i as u32 + 1, d);
        }
        let reference = done.unwrap();
        let (frame, indexes) = &inbound.ready[&reference];
        assert_eq!(indexes.len(), parts.len());
        assert!(matches!(frame, DeviceFrame::Inbound { text: t, .. } if *t == text));
    }
}
