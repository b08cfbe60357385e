//! SMPP v3.4 sessions on tokio, on top of [`smpp_codec`].
//!
//! # Layout
//! - [`connection`]: [`Connection`] owns a stream's read buffer and writer and moves
//!   whole PDUs: `read_pdu` (`Ok(None)` = clean close) and `write_pdu`.
//! - [`client`]: the ESME side. [`client::Client`] is a cloneable handle to a background
//!   task that binds, reconnects with backoff, keeps the window, sends `enquire_link`,
//!   caps throughput, and retries throttled submits. Inbound `deliver_sm` arrive as
//!   [`client::Event`]s on a channel and are answered by their owner.
//! - [`server`]: the SMSC side. A session runner that asks a [`server::SessionHandler`]
//!   to authorise binds and to handle requests, can push `deliver_sm` to bound receivers
//!   through a [`server::SessionHandle`], and a `run(listener, handler, shutdown)` with
//!   a connection limit and graceful shutdown.
//! - [`sim`]: an SMSC simulator built on [`server`], for tests and local development.
//!
//! Every session accepts any `AsyncRead + AsyncWrite` stream, so tests run in memory.
//!
//! Boundary: this crate knows SMPP sessions, not messages, accounts or storage; the
//! gateway maps its own types to PDUs.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
pub mod connection;
pub mod server;
pub mod sim;

pub use connection::{ConnError, Connection, DEFAULT_MAX_PDU_LEN};
pub use smpp_codec as codec;

/// Sequence numbers run from 1 to 0x7FFF_FFFF and wrap (section 5.1.4 of the spec).
#[derive(Debug, Clone)]
pub(crate) struct Sequence(u32);

impl Sequence {
    pub(crate) fn new() -> Self {
        Sequence(0)
    }

    pub(crate) fn next(&mut self) -> u32 {
        self.0 = if self.0 >= 0x7FFF_FFFF { 1 } else { self.0 + 1 };
        self.0
    }
}
