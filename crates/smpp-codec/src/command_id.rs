//! `command_id` values of SMPP v3.4 (section 5.1.2.1).

/// The operation a PDU carries. Responses have bit 31 set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
#[allow(missing_docs)]
pub enum CommandId {
    GenericNack = 0x8000_0000,
    BindReceiver = 0x0000_0001,
    BindReceiverResp = 0x8000_0001,
    BindTransmitter = 0x0000_0002,
    BindTransmitterResp = 0x8000_0002,
    QuerySm = 0x0000_0003,
    QuerySmResp = 0x8000_0003,
    SubmitSm = 0x0000_0004,
    SubmitSmResp = 0x8000_0004,
    DeliverSm = 0x0000_0005,
    DeliverSmResp = 0x8000_0005,
    Unbind = 0x0000_0006,
    UnbindResp = 0x8000_0006,
    ReplaceSm = 0x0000_0007,
    ReplaceSmResp = 0x8000_0007,
    CancelSm = 0x0000_0008,
    CancelSmResp = 0x8000_0008,
    BindTransceiver = 0x0000_0009,
    BindTransceiverResp = 0x8000_0009,
    Outbind = 0x0000_000B,
    EnquireLink = 0x0000_0015,
    EnquireLinkResp = 0x8000_0015,
    SubmitMulti = 0x0000_0021,
    SubmitMultiResp = 0x8000_0021,
    AlertNotification = 0x0000_0102,
    DataSm = 0x0000_0103,
    DataSmResp = 0x8000_0103,
}

impl CommandId {
    /// All command ids, for tests and tables.
    pub const ALL: [CommandId; 27] = [
        Self::GenericNack,
        Self::BindReceiver,
        Self::BindReceiverResp,
        Self::BindTransmitter,
        Self::BindTransmitterResp,
        Self::QuerySm,
        Self::QuerySmResp,
        Self::SubmitSm,
        Self::SubmitSmResp,
        Self::DeliverSm,
        Self::DeliverSmResp,
        Self::Unbind,
        Self::UnbindResp,
        Self::ReplaceSm,
        Self::ReplaceSmResp,
        Self::CancelSm,
        Self::CancelSmResp,
        Self::BindTransceiver,
        Self::BindTransceiverResp,
        Self::Outbind,
        Self::EnquireLink,
        Self::EnquireLinkResp,
        Self::SubmitMulti,
        Self::SubmitMultiResp,
        Self::AlertNotification,
        Self::DataSm,
        Self::DataSmResp,
    ];

    /// The wire value.
    pub const fn value(self) -> u32 {
        self as u32
    }

    /// The command id for a wire value, if SMPP v3.4 defines it.
    pub fn from_u32(v: u32) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.value() == v)
    }

    /// True for responses (bit 31 set), including `generic_nack`.
    pub const fn is_response(self) -> bool {
        self.value() & 0x8000_0000 != 0
    }

    /// The response id that answers this request; `None` for responses and for
    /// `outbind` and `alert_notification`, which have no response.
    pub fn response(self) -> Option<Self> {
        if self.is_response() {
            return None;
        }
        Self::from_u32(self.value() | 0x8000_0000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_pair_with_requests() {
        assert_eq!(
            CommandId::SubmitSm.response(),
            Some(CommandId::SubmitSmResp)
        );
        assert_eq!(CommandId::Outbind.response(), None);
        assert_eq!(CommandId::AlertNotification.response(), None);
        assert_eq!(CommandId::from_u32(0x15), Some(CommandId::EnquireLink));
        assert_eq!(CommandId::from_u32(0x16), None);
    }
}
