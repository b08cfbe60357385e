//! The life of a message.
//!
//! ```text
//! scheduled -> queued -> sending -> sent -> delivered | undeliverable | expired | rejected
//!     \           \          \-> failed | rejected | queued (retry, in-doubt after restart)
//!      \-> cancelled, expired, blocked (before anything is sent)
//! ```

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    Scheduled,
    Queued,
    Sending,
    Sent,
    Delivered,
    Undeliverable,
    Expired,
    Rejected,
    Failed,
    Cancelled,
    Blocked,
}

impl MessageStatus {
    pub const ALL: [MessageStatus; 11] = [
        Self::Scheduled,
        Self::Queued,
        Self::Sending,
        Self::Sent,
        Self::Delivered,
        Self::Undeliverable,
        Self::Expired,
        Self::Rejected,
        Self::Failed,
        Self::Cancelled,
        Self::Blocked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Queued => "queued",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Undeliverable => "undeliverable",
            Self::Expired => "expired",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Blocked => "blocked",
        }
    }

    /// No further change will come.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Delivered
                | Self::Undeliverable
                | Self::Expired
                | Self::Rejected
                | Self::Failed
                | Self::Cancelled
                | Self::Blocked
        )
    }

    /// The customer may still cancel.
    pub fn is_cancellable(self) -> bool {
        matches!(self, Self::Scheduled | Self::Queued)
    }

    /// Whether a message in this state was handed to a carrier, so its price is charged.
    pub fn is_charged(self) -> bool {
        matches!(
            self,
            Self::Sent | Self::Delivered | Self::Undeliverable | Self::Expired
        )
    }

    /// Whether the state machine allows `self -> next`.
    pub fn can_become(self, next: MessageStatus) -> bool {
        use MessageStatus::*;
        matches!(
            (self, next),
            (Scheduled, Queued | Sending | Cancelled | Expired | Blocked)
                | (Queued, Sending | Cancelled | Expired | Blocked)
                | (
                    Sending,
                    Sent | Failed | Rejected | Queued | Delivered | Undeliverable | Expired
                )
                | (Sent, Delivered | Undeliverable | Expired | Rejected)
        )
    }
}

impl fmt::Display for MessageStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown message status {0:?}")]
pub struct UnknownStatus(pub String);

impl FromStr for MessageStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for st in MessageStatus::ALL {
            assert_eq!(st.as_str().parse::<MessageStatus>().unwrap(), st);
            assert_eq!(serde_json_like(st), st.as_str());
        }
        assert!("lost".parse::<MessageStatus>().is_err());
    }

    fn serde_json_like(st: MessageStatus) -> String {
        st.to_string()
    }

    #[test]
    fn final_states_go_nowhere() {
        for from in MessageStatus::ALL.into_iter().filter(|s| s.is_final()) {
            for to in MessageStatus::ALL {
                assert!(!from.can_become(to), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn only_waiting_messages_can_be_cancelled() {
        let cancellable: Vec<_> = MessageStatus::ALL
            .into_iter()
            .filter(|s| s.is_cancellable())
            .collect();
        assert_eq!(
            cancellable,
            [MessageStatus::Scheduled, MessageStatus::Queued]
        );
        for st in cancellable {
            assert!(st.can_become(MessageStatus::Cancelled));
        }
    }
}
