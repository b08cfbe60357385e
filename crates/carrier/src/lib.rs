//! Carrier connectors: [`SmppCarrier`] delivers messages to an SMSC over SMPP v3.4.
//!
//! # Layout
//! - `config`: [`SmppCarrierConfig`], read by the gateway from its settings file, and how it
//!   becomes the `smpp` client's settings.
//! - `submit`: one [`workers::OutboundMessage`] to `submit_sm` PDUs (encoding, concatenation by
//!   UDH, SAR TLVs or `message_payload`, the deduplication TLV). Pure.
//! - `deliver`: one inbound `deliver_sm` to a [`workers::ConnectorEvent`]: a delivery receipt
//!   or a mobile-originated message with its text decoded. Pure.
//! - `carrier`: [`SmppCarrier`], the [`workers::Connector`] that owns an `smpp::client::Client`
//!   and a task forwarding what the SMSC delivers.
//!
//! Boundary: this crate knows SMPP and SMS encodings; it knows nothing of storage beyond the
//! `store::Receipt` it emits, nor of routing, accounts or prices.
//!
//! Invariant: a `deliver_sm` is acknowledged with `ESME_ROK` only after its event is queued
//! (or when it carries nothing to report); otherwise it is refused temporarily so the SMSC
//! delivers it again.

#![forbid(unsafe_code)]

mod carrier;
mod config;
mod deliver;
mod submit;

pub use carrier::{CarrierState, SmppCarrier};
pub use config::{BindMode, ConcatMode, ConfigError, SmppCarrierConfig};
