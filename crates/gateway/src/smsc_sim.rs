//! `apisendsms smsc-sim`: the SMSC simulator as a process, with a small HTTP control port for
//! scripted MO messages and counters.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use smpp::sim::{OutcomeShares, Sim, SimConfig};

#[derive(clap::Args, Debug)]
pub struct SimArgs {
    /// SMPP listen address.
    #[arg(long, default_value = "127.0.0.1:2775")]
    pub listen: SocketAddr,
    /// HTTP control address: `POST /mo {"from","to","text"}`, `GET /stats`.
    #[arg(long)]
    pub control: Option<SocketAddr>,
    /// Accept only this system_id (with --password); any bind otherwise.
    #[arg(long, requires = "password")]
    pub system_id: Option<String>,
    #[arg(long, env = "APISENDSMS_SIM_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Delay between submit_sm_resp and the delivery receipt.
    #[arg(long, default_value_t = 100)]
    pub receipt_delay_ms: u64,
    /// Receipt outcome weights.
    #[arg(long, default_value_t = 1000)]
    pub delivered: u32,
    #[arg(long, default_value_t = 0)]
    pub undeliverable: u32,
    #[arg(long, default_value_t = 0)]
    pub expired: u32,
    #[arg(long, default_value_t = 0)]
    pub rejected: u32,
    /// Answer ESME_RTHROTTLED above this many submits per second.
    #[arg(long)]
    pub throttle_per_second: Option<u32>,
    /// Probability (0..1) of dropping the session after a submit.
    #[arg(long, default_value_t = 0.0)]
    pub disconnect_probability: f64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

impl SimArgs {
    pub fn config(&self) -> SimConfig {
        SimConfig {
            credentials: self.system_id.clone().zip(self.password.clone()),
            receipt_delay: Duration::from_millis(self.receipt_delay_ms),
            outcomes: OutcomeShares {
                delivered: self.delivered,
                undeliverable: self.undeliverable,
                expired: self.expired,
                rejected: self.rejected,
            },
            seed: self.seed,
            throttle_per_second: self.throttle_per_second,
            disconnect_probability: self.disconnect_probability,
            ..SimConfig::default()
        }
    }
}

#[derive(Deserialize)]
struct Mo {
    from: String,
    to: String,
    text: String,
}

async fn inject(
    State(sim): State<Sim>,
    Json(mo): Json<Mo>,
) -> (StatusCode, Json<serde_json::Value>) {
    match sim.inject_mo(&mo.from, &mo.to, &mo.text).await {
        Ok(status) => (StatusCode::OK, Json(json!({"command_status": status.0}))),
        Err(e) => (StatusCode::CONFLICT, Json(json!({"error": e.to_string()}))),
    }
}

async fn stats(State(sim): State<Sim>) -> Json<serde_json::Value> {
    let s = sim.stats();
    Json(json!({
        "submitted": s.submitted,
        "unique": s.unique,
        "duplicates": s.duplicates,
        "throttled": s.throttled,
        "concatenated_parts": s.concatenated_parts,
        "receipts_sent": s.receipts_sent,
        "mo_sent": s.mo_sent,
        "disconnects": s.disconnects,
        "bound_sessions": sim.bound_sessions(),
    }))
}

pub async fn run(args: SimArgs) -> anyhow::Result<()> {
    let sim = Sim::new(args.config());
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    println!("smsc-sim listening on {}", listener.local_addr()?);
    if let Some(control) = args.control {
        let app = Router::new()
            .route("/mo", post(inject))
            .route("/stats", get(stats))
            .with_state(sim.clone());
        let l = tokio::net::TcpListener::bind(control)
            .await
            .with_context(|| format!("binding {control}"))?;
        println!("smsc-sim control on http://{}", l.local_addr()?);
        tokio::spawn(async move { axum::serve(l, app).await });
    }
    sim.run(listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await;
    tracing::info!(stats = ?sim.stats(), "smsc-sim stopped");
    Ok(())
}
