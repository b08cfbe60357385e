//! A driver for GSM modems in PDU mode (3GPP TS 27.005 / 27.007 AT commands) over any byte
//! stream: a serial port, a pseudo-terminal, or an in-memory pipe in tests.
//!
//! A reader task turns the bytes into [`Event`]s: lines, the `> ` prompt of `AT+CMGS`, and
//! unsolicited result codes ([`Urc`]: `+CMTI` new message, `+CDS` status report, `+CDSI`
//! stored status report, `RDY` after a reset). Commands run one at a time with a timeout;
//! unsolicited codes that arrive meanwhile are kept for [`Modem::next_urc`].

use std::collections::VecDeque;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::pdu;

#[derive(Debug, thiserror::Error)]
pub enum AtError {
    #[error("the modem did not answer {0:?} in time")]
    Timeout(String),
    /// `ERROR`, `+CMS ERROR: n` or `+CME ERROR: n`, as the modem said it.
    #[error("the modem refused {command:?}: {answer}")]
    Refused { command: String, answer: String },
    #[error("the modem connection closed")]
    Closed,
    #[error("modem I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("unexpected answer to {command:?}: {answer:?}")]
    Unexpected { command: String, answer: String },
    #[error(transparent)]
    Pdu(#[from] pdu::PduError),
}

impl AtError {
    /// A refusal by the network or the SIM for this message (not a broken modem).
    pub fn is_refusal(&self) -> bool {
        matches!(self, AtError::Refused { .. } | AtError::Pdu(_))
    }
}

/// Unsolicited result codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Urc {
    /// `+CMTI: "SM",3`: a message was stored at this index.
    NewMessage { index: u32 },
    /// `+CDS: <len>` and the PDU: a status report routed straight to us.
    StatusReport { pdu: Vec<u8> },
    /// `+CDSI: "SR",5`: a status report was stored at this index.
    StoredReport { index: u32 },
    /// The modem (re)started.
    Ready,
}

#[derive(Debug)]
enum Event {
    Line(String),
    Prompt,
    Urc(Urc),
}

/// A message read from the modem's storage (`AT+CMGR` / `AT+CMGL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub index: u32,
    /// 0 received unread, 1 received read, 2 stored unsent, 3 stored sent.
    pub stat: u8,
    /// The PDU with its service centre address.
    pub pdu: Vec<u8>,
}

/// Timeouts of the driver.
#[derive(Debug, Clone)]
pub struct Timeouts {
    pub command: Duration,
    /// From `AT+CMGS` to `+CMGS:` (the network may take a while).
    pub send: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            command: Duration::from_secs(5),
            send: Duration::from_secs(60),
        }
    }
}

pub struct Modem {
    events: mpsc::Receiver<Event>,
    writer: Box<dyn AsyncWrite + Send + Unpin>,
    pending: VecDeque<Urc>,
    timeouts: Timeouts,
}

fn is_final(line: &str) -> bool {
    line == "OK"
        || line == "ERROR"
        || line.starts_with("+CMS ERROR")
        || line.starts_with("+CME ERROR")
        || line == "NO CARRIER"
}

fn index_after_comma(line: &str) -> Option<u32> {
    line.rsplit(',').next()?.trim().parse().ok()
}

/// Splits the modem's bytes into events.
async fn read_events<R: AsyncRead + Unpin>(mut reader: R, tx: mpsc::Sender<Event>) {
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut chunk = [0u8; 512];
    // After `+CDS: n` the next line is the report's PDU.
    let mut cds_next = false;
    loop {
        let n = match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        loop {
            if let Some(pos) = buf.iter().position(|&b| b == b'\n' || b == b'\r') {
                let line: Vec<u8> = buf.drain(..=pos).collect();
                let line = String::from_utf8_lossy(&line[..line.len() - 1])
                    .trim()
                    .to_owned();
                if line.is_empty() {
                    continue;
                }
                let event = if cds_next {
                    cds_next = false;
                    match pdu::from_hex(&line) {
                        Ok(pdu) => Event::Urc(Urc::StatusReport { pdu }),
                        Err(_) => Event::Line(line),
                    }
                } else if line.starts_with("+CMTI:") {
                    match index_after_comma(&line) {
                        Some(index) => Event::Urc(Urc::NewMessage { index }),
                        None => Event::Line(line),
                    }
                } else if line.starts_with("+CDSI:") {
                    match index_after_comma(&line) {
                        Some(index) => Event::Urc(Urc::StoredReport { index }),
                        None => Event::Line(line),
                    }
                } else if line.starts_with("+CDS:") {
                    cds_next = true;
                    continue;
                } else if line == ">" {
                    // The prompt with something after it in the same read.
                    Event::Prompt
                } else if line == "RDY" || line == "+CFUN: 1" {
                    Event::Urc(Urc::Ready)
                } else {
                    Event::Line(line)
                };
                if tx.send(event).await.is_err() {
                    return;
                }
            } else {
                if buf.starts_with(b">") {
                    buf.clear();
                    if tx.send(Event::Prompt).await.is_err() {
                        return;
                    }
                }
                break;
            }
        }
    }
}

impl Modem {
    /// Starts the driver on a stream's two halves.
    pub fn new<R, W>(reader: R, writer: W, timeouts: Timeouts) -> Modem
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (tx, events) = mpsc::channel(256);
        tokio::spawn(read_events(reader, tx));
        Modem {
            events,
            writer: Box::new(writer),
            pending: VecDeque::new(),
            timeouts,
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), AtError> {
        self.writer.write_all(bytes).await?;
        self.writer.flush().await?;
        Ok(())
    }

    /// The next event, keeping unsolicited codes aside.
    async fn next_event(
        &mut self,
        deadline: tokio::time::Instant,
        command: &str,
    ) -> Result<Event, AtError> {
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Err(_) => return Err(AtError::Timeout(command.to_owned())),
                Ok(None) => return Err(AtError::Closed),
                Ok(Some(Event::Urc(u))) => self.pending.push_back(u),
                Ok(Some(e)) => return Ok(e),
            }
        }
    }

    async fn collect(
        &mut self,
        command: &str,
        deadline: tokio::time::Instant,
    ) -> Result<Vec<String>, AtError> {
        let mut lines = Vec::new();
        loop {
            match self.next_event(deadline, command).await? {
                Event::Line(l) if l == "OK" => return Ok(lines),
                Event::Line(l) if is_final(&l) => {
                    return Err(AtError::Refused {
                        command: command.to_owned(),
                        answer: l,
                    })
                }
                // An echo of the command (echo still on after a reset).
                Event::Line(l) if l == command => {}
                Event::Line(l) => lines.push(l),
                Event::Prompt => {}
                Event::Urc(_) => unreachable!("kept aside by next_event"),
            }
        }
    }

    /// Runs a command; returns the lines before `OK`.
    pub async fn command(&mut self, command: &str) -> Result<Vec<String>, AtError> {
        let deadline = tokio::time::Instant::now() + self.timeouts.command;
        self.write(format!("{command}\r").as_bytes()).await?;
        self.collect(command, deadline).await
    }

    /// Discards what the modem said before (answers to commands that timed out).
    fn drain_lines(&mut self) {
        while let Ok(e) = self.events.try_recv() {
            if let Event::Urc(u) = e {
                self.pending.push_back(u);
            }
        }
    }

    /// Brings the modem to our settings: no echo, numeric errors, PDU mode, new messages and
    /// status reports stored and announced (`+CMTI`, `+CDSI`), so that one read but not yet
    /// handled when the agent stops is found again in storage.
    pub async fn init(&mut self) -> Result<(), AtError> {
        // ESC leaves a PDU prompt left open by a client that died in the middle of `AT+CMGS`;
        // what the modem still had to say to that client is read and dropped.
        self.write(b"\x1B").await?;
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.drain_lines();
        let mut alive = false;
        for _ in 0..3 {
            if self.command("AT").await.is_ok() {
                alive = true;
                break;
            }
        }
        if !alive {
            return Err(AtError::Timeout("AT".into()));
        }
        // That `OK` may have been a stale one: let the real one arrive and drop it too.
        tokio::time::sleep(Duration::from_millis(150)).await;
        self.drain_lines();
        for c in ["ATE0", "AT+CMEE=1", "AT+CMGF=0", "AT+CNMI=2,1,0,2,0"] {
            self.command(c).await?;
        }
        Ok(())
    }

    /// Restarts the modem (`AT+CFUN=1,1`) and sets it up again.
    pub async fn reset(&mut self) -> Result<(), AtError> {
        let _ = self.command("AT+CFUN=1,1").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        self.init().await
    }

    /// The model name (`AT+CGMM`).
    pub async fn model(&mut self) -> Result<String, AtError> {
        Ok(self
            .command("AT+CGMM")
            .await?
            .into_iter()
            .next()
            .unwrap_or_default())
    }

    /// Signal strength 0-31 (99: unknown), from `AT+CSQ`.
    pub async fn signal(&mut self) -> Result<u8, AtError> {
        let lines = self.command("AT+CSQ").await?;
        lines
            .iter()
            .find_map(|l| l.strip_prefix("+CSQ:"))
            .and_then(|v| v.split(',').next()?.trim().parse().ok())
            .ok_or_else(|| AtError::Unexpected {
                command: "AT+CSQ".into(),
                answer: lines.join(" "),
            })
    }

    /// Battery charge in percent, from `AT+CBC` (modems on mains power may refuse).
    pub async fn battery(&mut self) -> Result<u8, AtError> {
        let lines = self.command("AT+CBC").await?;
        lines
            .iter()
            .find_map(|l| l.strip_prefix("+CBC:"))
            .and_then(|v| v.split(',').nth(1)?.trim().parse().ok())
            .ok_or_else(|| AtError::Unexpected {
                command: "AT+CBC".into(),
                answer: lines.join(" "),
            })
    }

    /// Sends one SMS-SUBMIT PDU (`AT+CMGS`); returns the message reference the network gave.
    pub async fn send_pdu(&mut self, hex: &str, tpdu_len: usize) -> Result<u8, AtError> {
        let command = format!("AT+CMGS={tpdu_len}");
        let deadline = tokio::time::Instant::now() + self.timeouts.command;
        self.write(format!("{command}\r").as_bytes()).await?;
        loop {
            match self.next_event(deadline, &command).await? {
                Event::Prompt => break,
                Event::Line(l) if is_final(&l) => {
                    return Err(AtError::Refused { command, answer: l })
                }
                Event::Line(_) => {}
                Event::Urc(_) => unreachable!("kept aside by next_event"),
            }
        }
        self.write(format!("{hex}\x1A").as_bytes()).await?;
        let deadline = tokio::time::Instant::now() + self.timeouts.send;
        let lines = self.collect(&command, deadline).await?;
        lines
            .iter()
            .find_map(|l| l.strip_prefix("+CMGS:"))
            .and_then(|v| v.split(',').next()?.trim().parse::<u16>().ok())
            .map(|mr| (mr & 0xFF) as u8)
            .ok_or_else(|| AtError::Unexpected {
                command,
                answer: lines.join(" "),
            })
    }

    /// Reads a stored message (`AT+CMGR`).
    pub async fn read(&mut self, index: u32) -> Result<Stored, AtError> {
        let command = format!("AT+CMGR={index}");
        let lines = self.command(&command).await?;
        let stat = lines
            .iter()
            .find_map(|l| l.strip_prefix("+CMGR:"))
            .and_then(|v| v.split(',').next()?.trim().parse().ok());
        let pdu = lines.iter().rev().find_map(|l| pdu::from_hex(l).ok());
        match (stat, pdu) {
            (Some(stat), Some(pdu)) => Ok(Stored { index, stat, pdu }),
            _ => Err(AtError::Unexpected {
                command,
                answer: lines.join(" "),
            }),
        }
    }

    /// Every stored message (`AT+CMGL=4`).
    pub async fn list(&mut self) -> Result<Vec<Stored>, AtError> {
        let lines = self.command("AT+CMGL=4").await?;
        let mut out = Vec::new();
        let mut header: Option<(u32, u8)> = None;
        for l in lines {
            if let Some(v) = l.strip_prefix("+CMGL:") {
                let mut f = v.split(',').map(str::trim);
                let index = f.next().and_then(|x| x.parse().ok());
                let stat = f.next().and_then(|x| x.parse().ok());
                header = index.zip(stat);
            } else if let Some((index, stat)) = header.take() {
                if let Ok(pdu) = pdu::from_hex(&l) {
                    out.push(Stored { index, stat, pdu });
                }
            }
        }
        Ok(out)
    }

    /// Deletes a stored message (`AT+CMGD`).
    pub async fn delete(&mut self, index: u32) -> Result<(), AtError> {
        self.command(&format!("AT+CMGD={index}")).await.map(|_| ())
    }

    /// The next unsolicited result code. Cancel-safe: use it in `select!`.
    pub async fn next_urc(&mut self) -> Result<Urc, AtError> {
        if let Some(u) = self.pending.pop_front() {
            return Ok(u);
        }
        loop {
            match self.events.recv().await {
                None => return Err(AtError::Closed),
                Some(Event::Urc(u)) => return Ok(u),
                // Stray lines (late answers to commands that timed out) are dropped.
                Some(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scripted modem: answers each command line with the given bytes.
    async fn scripted(script: Vec<(&'static str, &'static str)>) -> Modem {
        let (ours, theirs) = tokio::io::duplex(4096);
        let (r, w) = tokio::io::split(ours);
        let (mut tr, mut tw) = tokio::io::split(theirs);
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut byte = [0u8; 1];
            for (expect, answer) in script {
                buf.clear();
                loop {
                    tr.read_exact(&mut byte).await.unwrap();
                    if byte[0] == b'\r' || byte[0] == 0x1A {
                        break;
                    }
                    buf.push(byte[0]);
                }
                assert_eq!(String::from_utf8_lossy(&buf), expect);
                tw.write_all(answer.as_bytes()).await.unwrap();
            }
            // Keep the stream open.
            tokio::time::sleep(Duration::from_secs(60)).await;
        });
        Modem::new(
            r,
            w,
            Timeouts {
                command: Duration::from_millis(300),
                send: Duration::from_millis(300),
            },
        )
    }

    #[tokio::test]
    async fn sends_a_pdu_and_reads_the_reference() {
        let mut m = scripted(vec![
            ("AT+CMGS=23", "\r\n> "),
            (
                "0011000B916407281553F80000AA0AE8329BFD4697D9EC37",
                "\r\n+CMTI: \"SM\",4\r\n+CMGS: 17\r\n\r\nOK\r\n",
            ),
        ])
        .await;
        let mr = m
            .send_pdu("0011000B916407281553F80000AA0AE8329BFD4697D9EC37", 23)
            .await
            .unwrap();
        assert_eq!(mr, 17);
        // The URC that came in the middle of the answer is kept.
        assert_eq!(m.next_urc().await.unwrap(), Urc::NewMessage { index: 4 });
    }

    #[tokio::test]
    async fn errors_urcs_and_timeouts() {
        let mut m = scripted(vec![
            ("AT+CMGS=10", "\r\n> "),
            ("00AA", "\r\n+CMS ERROR: 500\r\n"),
            (
                "AT+CSQ",
                "\r\n+CDS: 25\r\n0006070B911234567890F0\r\n+CSQ: 17,99\r\n\r\nOK\r\n",
            ),
            ("AT+CGMM", ""),
        ])
        .await;
        let e = m.send_pdu("00AA", 10).await.unwrap_err();
        assert!(matches!(&e, AtError::Refused { answer, .. } if answer == "+CMS ERROR: 500"));
        assert!(e.is_refusal());
        assert_eq!(m.signal().await.unwrap(), 17);
        assert!(matches!(
            m.next_urc().await.unwrap(),
            Urc::StatusReport { .. }
        ));
        assert!(matches!(m.model().await, Err(AtError::Timeout(_))));
    }
}
