//! `apisendsms agent` (the reference device agent for a GSM modem) and `apisendsms modem-sim`
//! (a simulated modem on a pseudo-terminal).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

#[derive(clap::Args, Debug)]
pub struct AgentArgs {
    /// The gateway, e.g. https://sms.example.com (or the one named by --pair-link).
    #[arg(long, required_unless_present = "pair_link")]
    pub server: Option<String>,
    /// The credential file (written by --pair, read otherwise).
    #[arg(long)]
    pub credential: PathBuf,
    /// The modem's serial device, e.g. /dev/ttyUSB0.
    #[arg(long, required_unless_present_any = ["pair", "pair_link"])]
    pub modem: Option<PathBuf>,
    /// Exchange this pairing code for a credential first (then run if --modem is given).
    #[arg(long, conflicts_with = "pair_link")]
    pub pair: Option<String>,
    /// Pair with the link of the pairing QR code (`apisendsms://pair?server=...&code=...`):
    /// the gateway and the code in one.
    #[arg(long)]
    pub pair_link: Option<String>,
    /// The journal of work in progress (default: beside the credential file).
    #[arg(long)]
    pub journal: Option<PathBuf>,
    /// The service centre number for submits (default: the SIM's).
    #[arg(long)]
    pub smsc: Option<String>,
    /// The device's end-to-end key, to send messages the customer encrypted for it
    /// (docs/device-protocol.md). Made with a new key pair when the file does not exist; its
    /// public key is printed for the customer's client. Without it, an encrypted message is
    /// reported failed.
    #[arg(long)]
    pub e2e_key: Option<PathBuf>,
}

pub async fn agent(args: AgentArgs) -> anyhow::Result<()> {
    let e2e_key = match &args.e2e_key {
        Some(file) => {
            let (key, made) = modem::agent::e2e_key(file)?;
            if made {
                println!("new end-to-end key written to {}", file.display());
            }
            println!("end-to-end public key: {}", key.public().to_base64());
            Some(key)
        }
        None => None,
    };
    let (server, code) = match &args.pair_link {
        Some(link) => {
            let (server, code) = modem::agent::pairing_link(link)?;
            if let Some(given) = &args.server {
                anyhow::ensure!(
                    given.trim_end_matches('/') == server.trim_end_matches('/'),
                    "--server {given} is not the gateway of the pairing link ({server})"
                );
            }
            (server, Some(code))
        }
        None => (
            args.server.clone().context("--server is needed")?,
            args.pair.clone(),
        ),
    };
    if let Some(code) = &code {
        let cred = modem::agent::pair(&server, code, &args.credential).await?;
        println!(
            "paired as device {}; credential written to {}",
            cred.device_id,
            args.credential.display()
        );
    }
    let Some(modem) = args.modem else {
        return Ok(());
    };
    let result = modem::agent::run(modem::agent::AgentConfig {
        server,
        credential: args.credential,
        modem,
        journal: args.journal,
        smsc: args.smsc,
        e2e_key,
    })
    .await;
    // A read of the serial line may still be waiting on a blocking thread, which the runtime
    // would wait for: end the process here.
    match result {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!("Error: {e:#}");
            std::process::exit(1)
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct ModemSimArgs {
    /// Also make this path a symbolic link to the pseudo-terminal.
    #[arg(long)]
    pub link: Option<PathBuf>,
    /// Time the simulated network takes to accept a message.
    #[arg(long, default_value_t = 50)]
    pub send_delay_ms: u64,
    /// Time until a sent message's status report.
    #[arg(long, default_value_t = 100)]
    pub report_delay_ms: u64,
    /// Destinations ending with these digits are reported undeliverable.
    #[arg(long)]
    pub undeliverable_suffix: Option<String>,
}

pub async fn modem_sim(args: ModemSimArgs) -> anyhow::Result<()> {
    modem::serve_pty(
        modem::sim::SimConfig {
            send_delay: Duration::from_millis(args.send_delay_ms),
            report_delay: Duration::from_millis(args.report_delay_ms),
            undeliverable_suffix: args.undeliverable_suffix,
        },
        args.link,
    )
    .await
    .context("the modem simulator")?;
    // The pseudo-terminal's reader may still be waiting on a blocking thread.
    std::process::exit(0)
}
