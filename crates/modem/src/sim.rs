//! A GSM modem simulator speaking the AT dialect the driver uses, over any byte stream (a
//! pseudo-terminal in `apisendsms modem-sim`, an in-memory pipe in tests).
//!
//! It sends nothing anywhere: every SMS-SUBMIT it takes is reported as a [`SimEvent::Sent`],
//! followed (when a status report was asked for) by a `+CDS` report after a delay. On demand
//! it receives messages (stored, announced with `+CMTI`), refuses the next submits with a
//! `+CMS ERROR`, stays silent (to exercise timeouts) or restarts (`AT+CFUN=1,1`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::pdu::{self, Deliver, StatusReport, Submit, Timestamp, UserData};

#[derive(Debug, Clone)]
pub struct SimConfig {
    /// How long the "network" takes to take a message.
    pub send_delay: Duration,
    /// How long until the status report of a sent message.
    pub report_delay: Duration,
    /// Destinations ending in these digits are never delivered (report status 0x41).
    pub undeliverable_suffix: Option<String>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            send_delay: Duration::from_millis(50),
            report_delay: Duration::from_millis(100),
            undeliverable_suffix: None,
        }
    }
}

/// What the simulator did, for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimEvent {
    /// One SMS-SUBMIT taken.
    Sent {
        reference: u8,
        to: String,
        text: String,
        /// (reference, total, seq) of a concatenated part.
        concat: Option<(u16, u8, u8)>,
    },
    /// A status report was emitted.
    Reported {
        reference: u8,
        status: u8,
    },
    /// An inbound message was stored at this index.
    Received {
        index: u32,
        from: String,
    },
    Reset,
}

#[derive(Default)]
struct Shared {
    fail_next: Vec<u16>,
    silent_next: u32,
    storage: BTreeMap<u32, (u8, String)>,
    inbound_pending: Vec<(String, String)>,
}

/// Steers a running simulator.
#[derive(Clone)]
pub struct SimControl {
    shared: Arc<Mutex<Shared>>,
    wake: mpsc::UnboundedSender<()>,
}

impl SimControl {
    /// The SIM receives `text` from `from` (split into parts as a network would).
    pub fn receive(&self, from: &str, text: &str) {
        self.shared
            .lock()
            .expect("sim")
            .inbound_pending
            .push((from.to_owned(), text.to_owned()));
        let _ = self.wake.send(());
    }

    /// The next submits are refused with these `+CMS ERROR` codes, one each.
    pub fn fail_next(&self, code: u16) {
        self.shared.lock().expect("sim").fail_next.push(code);
    }

    /// The next `n` commands get no answer at all.
    pub fn silent_next(&self, n: u32) {
        self.shared.lock().expect("sim").silent_next += n;
    }

    /// How many messages are stored.
    pub fn stored(&self) -> usize {
        self.shared.lock().expect("sim").storage.len()
    }
}

/// A simulated modem on one stream.
pub struct Sim {
    config: SimConfig,
    shared: Arc<Mutex<Shared>>,
    wake: mpsc::UnboundedReceiver<()>,
    events: mpsc::UnboundedSender<SimEvent>,
}

impl Sim {
    pub fn new(config: SimConfig) -> (Sim, SimControl, mpsc::UnboundedReceiver<SimEvent>) {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (wake_tx, wake) = mpsc::unbounded_channel();
        let (events, events_rx) = mpsc::unbounded_channel();
        (
            Sim {
                config,
                shared: shared.clone(),
                wake,
                events,
            },
            SimControl {
                shared,
                wake: wake_tx,
            },
            events_rx,
        )
    }

    /// Serves the stream until it closes.
    pub async fn run<R, W>(mut self, mut reader: R, writer: W)
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Vec<u8>>();
        tokio::spawn(async move {
            let mut writer = writer;
            while let Some(bytes) = out_rx.recv().await {
                if writer.write_all(&bytes).await.is_err() || writer.flush().await.is_err() {
                    return;
                }
            }
        });
        let mut state = Session {
            echo: true,
            cnmi: false,
            store_reports: false,
            next_mr: 0,
            out: out_tx,
        };
        let mut line: Vec<u8> = Vec::new();
        let mut pdu_len: Option<usize> = None;
        let mut chunk = [0u8; 512];
        loop {
            let n = tokio::select! {
                r = reader.read(&mut chunk) => match r {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                },
                Some(()) = self.wake.recv() => {
                    self.deliver_inbound(&state);
                    continue;
                }
            };
            for &b in &chunk[..n] {
                match (pdu_len, b) {
                    (Some(len), 0x1A) => {
                        pdu_len = None;
                        let hex = String::from_utf8_lossy(&line).trim().to_owned();
                        line.clear();
                        self.submit(&mut state, &hex, len).await;
                    }
                    (Some(_), 0x1B) => {
                        pdu_len = None;
                        line.clear();
                        state.send("\r\nOK\r\n");
                    }
                    (Some(_), b'\r' | b'\n') => {}
                    (None, b'\r') => {
                        let cmd = String::from_utf8_lossy(&line).trim().to_owned();
                        line.clear();
                        if cmd.is_empty() {
                            continue;
                        }
                        if state.echo {
                            state.send(&format!("{cmd}\r"));
                        }
                        pdu_len = self.command(&mut state, &cmd);
                    }
                    // ESC outside a PDU is ignored, as modems do.
                    (None, b'\n' | 0x1B) => {}
                    (_, b) => line.push(b),
                }
            }
        }
    }

    fn silent(&self) -> bool {
        let mut s = self.shared.lock().expect("sim");
        if s.silent_next > 0 {
            s.silent_next -= 1;
            true
        } else {
            false
        }
    }

    /// Runs a command line; returns the announced length when a PDU follows (`AT+CMGS`).
    fn command(&self, state: &mut Session, cmd: &str) -> Option<usize> {
        if self.silent() {
            return None;
        }
        let upper = cmd.to_ascii_uppercase();
        let ok = "\r\nOK\r\n";
        match upper.as_str() {
            "AT" | "AT+CMEE=1" | "AT+CMGF=0" => state.send(ok),
            "ATE0" => {
                state.echo = false;
                state.send(ok);
            }
            "ATE1" => {
                state.echo = true;
                state.send(ok);
            }
            "AT+CMGF=1" => state.send("\r\n+CMS ERROR: 303\r\n"),
            "AT+CGMM" => state.send("\r\nAPISENDSMS-MODEM-SIM\r\n\r\nOK\r\n"),
            "AT+CSQ" => state.send("\r\n+CSQ: 21,0\r\n\r\nOK\r\n"),
            "AT+CBC" => state.send("\r\n+CBC: 0,87,4100\r\n\r\nOK\r\n"),
            "AT+CFUN=1,1" => {
                state.send(ok);
                state.echo = true;
                state.cnmi = false;
                state.store_reports = false;
                let _ = self.events.send(SimEvent::Reset);
                let out = state.out.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    let _ = out.send(b"\r\nRDY\r\n".to_vec());
                });
            }
            "AT+CMGL=4" => {
                let mut answer = String::from("\r\n");
                for (i, (stat, pdu)) in &self.shared.lock().expect("sim").storage {
                    answer.push_str(&format!(
                        "+CMGL: {i},{stat},,{}\r\n{pdu}\r\n",
                        pdu.len() / 2 - 1
                    ));
                }
                answer.push_str("\r\nOK\r\n");
                state.send(&answer);
            }
            _ if upper.starts_with("AT+CNMI=") => {
                state.cnmi = true;
                // The fourth field (ds) 2: status reports are stored and announced with +CDSI.
                state.store_reports = upper[8..].split(',').nth(3).map(str::trim) == Some("2");
                state.send(ok);
                self.deliver_inbound(state);
            }
            _ if upper.starts_with("AT+CMGS=") => match upper[8..].parse::<usize>() {
                Ok(len) if (7..=175).contains(&len) => {
                    state.send("\r\n> ");
                    return Some(len);
                }
                _ => state.send("\r\n+CMS ERROR: 304\r\n"),
            },
            _ if upper.starts_with("AT+CMGR=") => {
                let index = upper[8..].parse::<u32>().ok();
                let mut shared = self.shared.lock().expect("sim");
                match index.and_then(|i| shared.storage.get_mut(&i)) {
                    Some((stat, pdu)) => {
                        state.send(&format!(
                            "\r\n+CMGR: {stat},,{}\r\n{pdu}\r\n\r\nOK\r\n",
                            pdu.len() / 2 - 1
                        ));
                        if *stat == 0 {
                            *stat = 1;
                        }
                    }
                    None => state.send("\r\n+CMS ERROR: 321\r\n"),
                }
            }
            _ if upper.starts_with("AT+CMGD=") => {
                let index = upper[8..]
                    .split(',')
                    .next()
                    .and_then(|i| i.parse::<u32>().ok());
                match index {
                    Some(i) => {
                        self.shared.lock().expect("sim").storage.remove(&i);
                        state.send(ok);
                    }
                    None => state.send("\r\n+CMS ERROR: 321\r\n"),
                }
            }
            _ if upper.starts_with("AT+CSMS=") || upper.starts_with("AT+CPMS=") => state.send(ok),
            _ => state.send("\r\nERROR\r\n"),
        }
        None
    }

    async fn submit(&self, state: &mut Session, hex: &str, len: usize) {
        tokio::time::sleep(self.config.send_delay).await;
        let failure = self.shared.lock().expect("sim").fail_next.pop();
        if let Some(code) = failure {
            state.send(&format!("\r\n+CMS ERROR: {code}\r\n"));
            return;
        }
        let parsed = pdu::from_hex(hex).and_then(|bytes| {
            let (_, tpdu) = pdu::strip_smsc(&bytes)?;
            if tpdu.len() != len {
                return Err(pdu::PduError::Truncated(tpdu.len()));
            }
            Submit::decode(tpdu)
        });
        let submit = match parsed {
            Ok(s) => s,
            Err(_) => {
                state.send("\r\n+CMS ERROR: 304\r\n");
                return;
            }
        };
        let mr = state.next_mr;
        state.next_mr = state.next_mr.wrapping_add(1);
        let concat = submit
            .user_data
            .concat()
            .map(|c| (c.reference, c.total, c.seq));
        let _ = self.events.send(SimEvent::Sent {
            reference: mr,
            to: submit.destination.clone(),
            text: submit.user_data.text(),
            concat,
        });
        state.send(&format!("\r\n+CMGS: {mr}\r\n\r\nOK\r\n"));
        if submit.status_report {
            let undeliverable = self
                .config
                .undeliverable_suffix
                .as_deref()
                .is_some_and(|s| submit.destination.ends_with(s));
            let status = if undeliverable { 0x41 } else { 0x00 };
            let now = Timestamp::from_unix(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs() as i64)
                    .unwrap_or(0),
            );
            let report = StatusReport {
                reference: mr,
                recipient: submit.destination,
                submitted: now,
                discharged: now,
                status,
            };
            let out = state.out.clone();
            let events = self.events.clone();
            let delay = self.config.report_delay;
            let stored = state.store_reports.then(|| self.shared.clone());
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                if let Ok(tpdu) = report.encode() {
                    let pdu = pdu::with_default_smsc(&tpdu);
                    let announce = match stored {
                        // Kept until deleted, so a client that dies before handling it finds
                        // it again.
                        Some(shared) => {
                            let mut shared = shared.lock().expect("sim");
                            let index =
                                (1..).find(|i| !shared.storage.contains_key(i)).unwrap_or(1);
                            shared.storage.insert(index, (0, pdu));
                            format!("\r\n+CDSI: \"SR\",{index}\r\n")
                        }
                        None => format!("\r\n+CDS: {}\r\n{pdu}\r\n", tpdu.len()),
                    };
                    let _ = out.send(announce.into_bytes());
                    let _ = events.send(SimEvent::Reported {
                        reference: mr,
                        status,
                    });
                }
            });
        }
    }

    /// Stores the messages received meanwhile and announces them (once `AT+CNMI` asked).
    fn deliver_inbound(&self, state: &Session) {
        if !state.cnmi {
            return;
        }
        let mut shared = self.shared.lock().expect("sim");
        let pending = std::mem::take(&mut shared.inbound_pending);
        for (from, text) in pending {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            let reference = (now & 0xFF) as u8;
            let Ok(parts) = pdu::submits_for(&from, &text, reference, 10) else {
                continue;
            };
            for p in parts {
                let d = Deliver {
                    originator: from.clone(),
                    timestamp: Timestamp::from_unix(now),
                    user_data: UserData {
                        alphabet: p.user_data.alphabet,
                        header: p.user_data.header,
                        payload: p.user_data.payload,
                    },
                };
                let Ok(tpdu) = d.encode() else { continue };
                let index = (1..).find(|i| !shared.storage.contains_key(i)).unwrap_or(1);
                shared
                    .storage
                    .insert(index, (0, pdu::with_default_smsc(&tpdu)));
                state.send(&format!("\r\n+CMTI: \"SM\",{index}\r\n"));
                let _ = self.events.send(SimEvent::Received {
                    index,
                    from: from.clone(),
                });
            }
        }
    }
}

struct Session {
    echo: bool,
    cnmi: bool,
    store_reports: bool,
    next_mr: u8,
    out: mpsc::UnboundedSender<Vec<u8>>,
}

impl Session {
    fn send(&self, s: &str) {
        let _ = self.out.send(s.as_bytes().to_vec());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::at::{Modem, Timeouts, Urc};

    async fn pair(config: SimConfig) -> (Modem, SimControl, mpsc::UnboundedReceiver<SimEvent>) {
        let (a, b) = tokio::io::duplex(8192);
        let (sim, control, events) = Sim::new(config);
        let (br, bw) = tokio::io::split(b);
        tokio::spawn(sim.run(br, bw));
        let (ar, aw) = tokio::io::split(a);
        let modem = Modem::new(
            ar,
            aw,
            Timeouts {
                command: Duration::from_millis(500),
                send: Duration::from_secs(2),
            },
        );
        (modem, control, events)
    }

    #[tokio::test]
    async fn the_driver_sends_through_the_simulator_and_gets_a_status_report() {
        let (mut m, _control, mut events) = pair(SimConfig::default()).await;
        m.init().await.unwrap();
        let parts = pdu::submits_for("+420777000111", &"Ahoj ".repeat(40), 9, 10).unwrap();
        assert_eq!(parts.len(), 2);
        let mut refs = Vec::new();
        for p in &parts {
            let (hex, len) = p.to_modem(None).unwrap();
            refs.push(m.send_pdu(&hex, len).await.unwrap());
        }
        assert_eq!(refs, vec![0, 1]);
        let mut reported = Vec::new();
        while reported.len() < 2 {
            match m.next_urc().await.unwrap() {
                Urc::StoredReport { index } => {
                    let pdu = m.read(index).await.unwrap().pdu;
                    m.delete(index).await.unwrap();
                    let (_, tpdu) = pdu::strip_smsc(&pdu).unwrap();
                    let r = StatusReport::decode(tpdu).unwrap();
                    assert_eq!(r.outcome(), pdu::Outcome::Delivered);
                    reported.push(r.reference);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        reported.sort_unstable();
        assert_eq!(reported, refs);
        let mut texts = String::new();
        for _ in 0..2 {
            if let Some(SimEvent::Sent { text, .. }) = events.recv().await {
                texts.push_str(&text);
            }
        }
        assert_eq!(texts, "Ahoj ".repeat(40));
    }

    #[tokio::test]
    async fn inbound_errors_silence_and_reset() {
        let (mut m, control, _events) = pair(SimConfig::default()).await;
        m.init().await.unwrap();
        control.receive("+420777000222", "STOP");
        let Urc::NewMessage { index } = m.next_urc().await.unwrap() else {
            panic!("expected +CMTI")
        };
        let stored = m.read(index).await.unwrap();
        let (_, tpdu) = pdu::strip_smsc(&stored.pdu).unwrap();
        let d = Deliver::decode(tpdu).unwrap();
        assert_eq!(
            (d.originator.as_str(), d.user_data.text().as_str()),
            ("+420777000222", "STOP")
        );
        assert_eq!(m.list().await.unwrap().len(), 1);
        m.delete(index).await.unwrap();
        assert_eq!(control.stored(), 0);

        control.fail_next(38);
        let (hex, len) = pdu::submits_for("+420777000111", "x", 1, 1).unwrap()[0]
            .to_modem(None)
            .unwrap();
        let e = m.send_pdu(&hex, len).await.unwrap_err();
        assert!(e.to_string().contains("+CMS ERROR: 38"), "{e}");

        control.silent_next(1);
        assert!(matches!(
            m.signal().await,
            Err(crate::at::AtError::Timeout(_))
        ));
        m.reset().await.unwrap();
        assert_eq!(m.signal().await.unwrap(), 21);
    }
}
