//! `message_state` values (section 5.2.28) and their delivery-receipt spellings.

use std::fmt;
use std::str::FromStr;

/// State of a short message, as in `query_sm_resp`, the `message_state` TLV and
/// the `stat:` field of a delivery receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MessageState {
    /// `ENROUTE`: in transit.
    Enroute = 1,
    /// `DELIVRD`: delivered to the handset.
    Delivered = 2,
    /// `EXPIRED`: validity period passed.
    Expired = 3,
    /// `DELETED`: deleted (for example by `cancel_sm`).
    Deleted = 4,
    /// `UNDELIV`: undeliverable.
    Undeliverable = 5,
    /// `ACCEPTD`: accepted on behalf of the subscriber.
    Accepted = 6,
    /// `UNKNOWN`: invalid state.
    Unknown = 7,
    /// `REJECTD`: rejected.
    Rejected = 8,
}

impl MessageState {
    /// Every state, in wire-value order.
    pub const ALL: [MessageState; 8] = [
        Self::Enroute,
        Self::Delivered,
        Self::Expired,
        Self::Deleted,
        Self::Undeliverable,
        Self::Accepted,
        Self::Unknown,
        Self::Rejected,
    ];

    /// The state for a wire value, if defined.
    pub fn from_u8(v: u8) -> Option<Self> {
        Self::ALL.iter().copied().find(|s| *s as u8 == v)
    }

    /// The wire value.
    pub const fn value(self) -> u8 {
        self as u8
    }

    /// The seven-letter spelling used in receipt text (`DELIVRD`, `UNDELIV`, ...).
    pub const fn receipt_code(self) -> &'static str {
        match self {
            Self::Enroute => "ENROUTE",
            Self::Delivered => "DELIVRD",
            Self::Expired => "EXPIRED",
            Self::Deleted => "DELETED",
            Self::Undeliverable => "UNDELIV",
            Self::Accepted => "ACCEPTD",
            Self::Unknown => "UNKNOWN",
            Self::Rejected => "REJECTD",
        }
    }

    /// True for states after which nothing more will happen to the message.
    pub const fn is_final(self) -> bool {
        !matches!(self, Self::Enroute)
    }
}

/// The text was not a known state spelling.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown message state `{0}`")]
pub struct UnknownMessageState(pub String);

impl FromStr for MessageState {
    type Err = UnknownMessageState;

    /// Accepts the receipt codes case-insensitively, and the long names some SMSCs
    /// write (`DELIVERED`, `UNDELIVERABLE`, `ACCEPTED`, `REJECTED`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let upper = s.trim().to_ascii_uppercase();
        let state = match upper.as_str() {
            "ENROUTE" => Self::Enroute,
            "DELIVRD" | "DELIVERED" => Self::Delivered,
            "EXPIRED" => Self::Expired,
            "DELETED" => Self::Deleted,
            "UNDELIV" | "UNDELIVERABLE" => Self::Undeliverable,
            "ACCEPTD" | "ACCEPTED" => Self::Accepted,
            "UNKNOWN" => Self::Unknown,
            "REJECTD" | "REJECTED" => Self::Rejected,
            _ => return Err(UnknownMessageState(s.to_owned())),
        };
        Ok(state)
    }
}

impl fmt::Display for MessageState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.receipt_code())
    }
}
