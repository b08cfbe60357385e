//! GSM modems: the reference device agent and what it needs.
//!
//! - [`pdu`]: SMS-SUBMIT, SMS-DELIVER and SMS-STATUS-REPORT PDUs (3GPP TS 23.040), no I/O.
//! - [`at`]: the AT command driver in PDU mode (3GPP TS 27.005), over any byte stream.
//! - [`sim`]: a modem simulator speaking the same dialect, with errors, silence, resets and
//!   inbound messages on demand; [`serve_pty`] puts it on a pseudo-terminal.
//! - [`tty`]: raw serial lines and pseudo-terminals.
//! - [`agent`]: `apisendsms agent`, the device protocol on one side and the modem on the other.
//!
//! Boundary: knows the device protocol's frames and the modem; nothing of the store or HTTP
//! routes (the agent is a client of the gateway like any phone app).
#![forbid(unsafe_code)]

pub mod agent;
pub mod at;
pub mod pdu;
pub mod sim;
pub mod tty;

use tokio::io::AsyncBufReadExt;

/// Runs the simulator on a new pseudo-terminal until stdin closes. Prints
/// `modem-sim listening on <path>` and then one JSON line per event on stdout; reads commands
/// on stdin, one per line: `receive <from> <text>`, `fail-next <cms code>`, `silent-next <n>`.
pub async fn serve_pty(
    config: sim::SimConfig,
    link: Option<std::path::PathBuf>,
) -> std::io::Result<()> {
    let pty = tty::open_pty()?;
    let shown = match &link {
        Some(l) => {
            let _ = std::fs::remove_file(l);
            std::os::unix::fs::symlink(&pty.path, l)?;
            l.clone()
        }
        None => pty.path.clone(),
    };
    println!("modem-sim listening on {}", shown.display());
    let (sim, control, mut events) = sim::Sim::new(config);
    let tty::Line { reader, writer } = pty.master;
    tokio::spawn(sim.run(reader, writer));
    tokio::spawn(async move {
        while let Some(e) = events.recv().await {
            let line = match e {
                sim::SimEvent::Sent {
                    reference,
                    to,
                    text,
                    concat,
                } => serde_json::json!({
                    "event": "sent", "reference": reference, "to": to, "text": text,
                    "part": concat.map(|c| c.2), "of": concat.map(|c| c.1),
                }),
                sim::SimEvent::Reported { reference, status } => {
                    serde_json::json!({"event": "reported", "reference": reference, "status": status})
                }
                sim::SimEvent::Received { index, from } => {
                    serde_json::json!({"event": "received", "index": index, "from": from})
                }
                sim::SimEvent::Reset => serde_json::json!({"event": "reset"}),
            };
            println!("{line}");
        }
    });
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let line = line.trim();
        let (cmd, rest) = line.split_once(' ').unwrap_or((line, ""));
        match cmd {
            "receive" => match rest.split_once(' ') {
                Some((from, text)) => control.receive(from, text),
                None => eprintln!("usage: receive <from> <text>"),
            },
            "fail-next" => match rest.trim().parse() {
                Ok(code) => control.fail_next(code),
                Err(_) => eprintln!("usage: fail-next <cms error code>"),
            },
            "silent-next" => match rest.trim().parse() {
                Ok(n) => control.silent_next(n),
                Err(_) => eprintln!("usage: silent-next <commands>"),
            },
            "" => {}
            other => eprintln!("unknown command {other:?}: receive, fail-next, silent-next"),
        }
    }
    if let Some(l) = link {
        let _ = std::fs::remove_file(l);
    }
    Ok(())
}
