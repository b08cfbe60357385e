//! Customers' own phones and GSM modems as a delivery channel.
//!
//! - [`protocol`]: the JSON frames devices and the server exchange (`docs/device-protocol.md`).
//! - [`hub`]: the devices connected to this node; assignments, reports, inbound messages.
//! - [`DeviceConnector`]: the [`workers::Connector`] the dispatcher sends `route = device`
//!   messages through: round-robin over the account's online devices under their per-minute
//!   and per-day limits, the account's offline policy when none can take a message.
//! - [`http`]: `/v1/devices` (pairing, live state, revocation), the pairing exchange, the
//!   WebSocket and the long-poll fallback; the functions the web app shares with it.
//! - [`e2e`]: the end-to-end encryption of a message's text between customer and device (the
//!   gateway only relays the ciphertext and holds no key).
//!
//! Invariant: an assignment is stored before a device hears of it and a report is stored before
//! the device is told so; both sides repeat until answered and recognise repeats by message id.
//! Boundary: speaks the device protocol and HTTP to devices; the rules of a submission stay in
//! `api::messages::accept` and the Blacklist is checked at acceptance and at the claim.
#![forbid(unsafe_code)]

pub mod e2e;
pub mod http;
pub mod hub;
pub mod metrics;
pub mod protocol;

use std::sync::Arc;

use async_trait::async_trait;
use workers::{Connector, Delivery, OutboundMessage};

pub use hub::{Hub, HubConfig, CONNECTOR};
pub use metrics::DeviceMetrics;

/// The dispatcher's way to the hub.
pub struct DeviceConnector {
    hub: Arc<Hub>,
}

impl DeviceConnector {
    pub fn new(hub: Arc<Hub>) -> Self {
        Self { hub }
    }

    pub fn hub(&self) -> &Hub {
        &self.hub
    }
}

#[async_trait]
impl Connector for DeviceConnector {
    fn name(&self) -> &str {
        CONNECTOR
    }

    fn is_up(&self) -> bool {
        self.hub.any_online()
    }

    fn load(&self) -> workers::ConnectorLoad {
        workers::ConnectorLoad {
            window_in_use: self.hub.awaiting_ack(),
            ..workers::ConnectorLoad::default()
        }
    }

    async fn submit(&self, message: &OutboundMessage) -> Delivery {
        match self.hub.submit(message).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(message_id = %message.id, error = %e, "device route failed");
                Delivery::Temporary {
                    reason: format!("device route: {e}"),
                }
            }
        }
    }
}
