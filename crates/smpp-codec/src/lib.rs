//! SMPP v3.4 protocol data units: encode and decode, no I/O.
//!
//! # Layout
//! - [`types`]: bounded field types ([`COctetString`], [`OctetString`], [`BoundedVec`]);
//!   no value of them can encode a length the spec forbids.
//! - [`pdus`]: one module per operation; [`PduBody`] is the enum of all of them.
//! - [`tlv`]: optional parameters as the typed [`Tlv`] enum; unknown tags are kept raw.
//! - [`Pdu`], [`check`] and [`decode`]: framing in two passes, as a connection uses it:
//!   `check` says whether a whole PDU is buffered (`Ok(None)` means "read more"),
//!   `decode` turns exactly that frame into a [`Pdu`].
//! - [`CommandStatus`]: error codes, with [`CommandStatus::is_temporary`].
//! - [`receipt`]: delivery receipt text and TLVs.
//!
//! Boundary: this crate knows bytes and SMPP fields only, nothing of sockets,
//! sessions, accounts or message text encodings.
//!
//! ```
//! use smpp_codec::{decode, Pdu, PduBody};
//! let bytes = Pdu::new(1, PduBody::EnquireLink).to_bytes();
//! assert_eq!(bytes, [0, 0, 0, 16, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 1]);
//! assert_eq!(decode(&bytes).unwrap().body, PduBody::EnquireLink);
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod command_id;
mod message_state;
mod pdu;
pub mod pdus;
pub mod receipt;
mod status;
pub mod tlv;
pub mod types;

#[cfg(test)]
mod tests;

pub use command_id::CommandId;
pub use message_state::{MessageState, UnknownMessageState};
pub use pdu::{check, decode, DecodeError, DecodeErrorKind, FrameError, Pdu, HEADER_LEN};
pub use pdus::*;
pub use receipt::{DeliveryReceipt, ReceiptDate};
pub use status::CommandStatus;
pub use tlv::{Tlv, TlvsExt};
pub use types::{
    Address, AddressRange, BoundedVec, COctetString, FieldError, LongAddress, MessageId,
    OctetString, Password, ServiceType, ShortMessage, SmppTime, SystemId, SystemType,
};

/// `interface_version` for SMPP v3.4.
pub const INTERFACE_VERSION_34: u8 = 0x34;

/// Bits of `esm_class` (section 5.2.12).
pub mod esm_class {
    /// Mask of the message-type bits (2-5).
    pub const MESSAGE_TYPE_MASK: u8 = 0x3C;
    /// Message type: SMSC delivery receipt.
    pub const DELIVERY_RECEIPT: u8 = 0x04;
    /// Message type: SME delivery acknowledgement.
    pub const DELIVERY_ACK: u8 = 0x08;
    /// Message type: SME manual/user acknowledgement.
    pub const MANUAL_ACK: u8 = 0x10;
    /// Message type: intermediate delivery notification.
    pub const INTERMEDIATE_NOTIFICATION: u8 = 0x20;
    /// GSM feature: user data begins with a UDH (concatenated parts use this).
    pub const UDHI: u8 = 0x40;
    /// GSM feature: reply path.
    pub const REPLY_PATH: u8 = 0x80;
    /// Messaging mode: store and forward.
    pub const STORE_AND_FORWARD: u8 = 0x03;
}

/// Values of `registered_delivery` (section 5.2.17).
pub mod registered_delivery {
    /// No receipt.
    pub const NONE: u8 = 0x00;
    /// Receipt on success or failure.
    pub const ON_FINAL: u8 = 0x01;
    /// Receipt on failure only.
    pub const ON_FAILURE: u8 = 0x02;
    /// Mask of the SMSC-receipt bits.
    pub const SMSC_RECEIPT_MASK: u8 = 0x03;
}
