//! Runs the SMSC simulator on an address until Ctrl-C.
//!
//! `cargo run -p smpp --example smsc_sim -- 127.0.0.1:2775`

use smpp::sim::{self, SimConfig};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:2775".into());
    let listener = TcpListener::bind(&addr).await?;
    println!("SMSC simulator on {}", listener.local_addr()?);
    sim::run(listener, SimConfig::default(), async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await;
    Ok(())
}
