//! Optional parameters (TLVs, section 5.3).
//!
//! Known tags decode into typed [`Tlv`] variants. A tag this crate does not know,
//! or a known tag whose value does not have the size the spec gives it, is kept
//! as [`Tlv::Other`] with its raw value and re-encoded unchanged.

use crate::message_state::MessageState;
use crate::types::{put_u16, COctetString, FieldError, MessageId, OctetString, Reader};

/// TLV tag values (section 5.3.2).
#[allow(missing_docs)]
pub mod tag {
    pub const DEST_ADDR_SUBUNIT: u16 = 0x0005;
    pub const DEST_NETWORK_TYPE: u16 = 0x0006;
    pub const DEST_BEARER_TYPE: u16 = 0x0007;
    pub const DEST_TELEMATICS_ID: u16 = 0x0008;
    pub const SOURCE_ADDR_SUBUNIT: u16 = 0x000D;
    pub const SOURCE_NETWORK_TYPE: u16 = 0x000E;
    pub const SOURCE_BEARER_TYPE: u16 = 0x000F;
    pub const SOURCE_TELEMATICS_ID: u16 = 0x0010;
    pub const QOS_TIME_TO_LIVE: u16 = 0x0017;
    pub const PAYLOAD_TYPE: u16 = 0x0019;
    pub const ADDITIONAL_STATUS_INFO_TEXT: u16 = 0x001D;
    pub const RECEIPTED_MESSAGE_ID: u16 = 0x001E;
    pub const MS_MSG_WAIT_FACILITIES: u16 = 0x0030;
    pub const PRIVACY_INDICATOR: u16 = 0x0201;
    pub const SOURCE_SUBADDRESS: u16 = 0x0202;
    pub const DEST_SUBADDRESS: u16 = 0x0203;
    pub const USER_MESSAGE_REFERENCE: u16 = 0x0204;
    pub const USER_RESPONSE_CODE: u16 = 0x0205;
    pub const SOURCE_PORT: u16 = 0x020A;
    pub const DESTINATION_PORT: u16 = 0x020B;
    pub const SAR_MSG_REF_NUM: u16 = 0x020C;
    pub const LANGUAGE_INDICATOR: u16 = 0x020D;
    pub const SAR_TOTAL_SEGMENTS: u16 = 0x020E;
    pub const SAR_SEGMENT_SEQNUM: u16 = 0x020F;
    pub const SC_INTERFACE_VERSION: u16 = 0x0210;
    pub const CALLBACK_NUM_PRES_IND: u16 = 0x0302;
    pub const CALLBACK_NUM_ATAG: u16 = 0x0303;
    pub const NUMBER_OF_MESSAGES: u16 = 0x0304;
    pub const CALLBACK_NUM: u16 = 0x0381;
    pub const DPF_RESULT: u16 = 0x0420;
    pub const SET_DPF: u16 = 0x0421;
    pub const MS_AVAILABILITY_STATUS: u16 = 0x0422;
    pub const NETWORK_ERROR_CODE: u16 = 0x0423;
    pub const MESSAGE_PAYLOAD: u16 = 0x0424;
    pub const DELIVERY_FAILURE_REASON: u16 = 0x0425;
    pub const MORE_MESSAGES_TO_SEND: u16 = 0x0426;
    pub const MESSAGE_STATE: u16 = 0x0427;
    pub const USSD_SERVICE_OP: u16 = 0x0501;
    pub const DISPLAY_TIME: u16 = 0x1201;
    pub const SMS_SIGNAL: u16 = 0x1203;
    pub const MS_VALIDITY: u16 = 0x1204;
    pub const ALERT_ON_MESSAGE_DELIVERY: u16 = 0x130C;
    pub const ITS_REPLY_TYPE: u16 = 0x1380;
    pub const ITS_SESSION_INFO: u16 = 0x1383;

    /// Every tag decoded into a typed variant.
    pub const KNOWN: [u16; 44] = [
        DEST_ADDR_SUBUNIT,
        DEST_NETWORK_TYPE,
        DEST_BEARER_TYPE,
        DEST_TELEMATICS_ID,
        SOURCE_ADDR_SUBUNIT,
        SOURCE_NETWORK_TYPE,
        SOURCE_BEARER_TYPE,
        SOURCE_TELEMATICS_ID,
        QOS_TIME_TO_LIVE,
        PAYLOAD_TYPE,
        ADDITIONAL_STATUS_INFO_TEXT,
        RECEIPTED_MESSAGE_ID,
        MS_MSG_WAIT_FACILITIES,
        PRIVACY_INDICATOR,
        SOURCE_SUBADDRESS,
        DEST_SUBADDRESS,
        USER_MESSAGE_REFERENCE,
        USER_RESPONSE_CODE,
        SOURCE_PORT,
        DESTINATION_PORT,
        SAR_MSG_REF_NUM,
        LANGUAGE_INDICATOR,
        SAR_TOTAL_SEGMENTS,
        SAR_SEGMENT_SEQNUM,
        SC_INTERFACE_VERSION,
        CALLBACK_NUM_PRES_IND,
        CALLBACK_NUM_ATAG,
        NUMBER_OF_MESSAGES,
        CALLBACK_NUM,
        DPF_RESULT,
        SET_DPF,
        MS_AVAILABILITY_STATUS,
        NETWORK_ERROR_CODE,
        MESSAGE_PAYLOAD,
        DELIVERY_FAILURE_REASON,
        MORE_MESSAGES_TO_SEND,
        MESSAGE_STATE,
        USSD_SERVICE_OP,
        DISPLAY_TIME,
        SMS_SIGNAL,
        MS_VALIDITY,
        ALERT_ON_MESSAGE_DELIVERY,
        ITS_REPLY_TYPE,
        ITS_SESSION_INFO,
    ];
}

/// A raw TLV value: at most 65535 octets, the limit of the 2-octet length.
pub type TlvValue = OctetString<65535>;

/// One optional parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Tlv {
    DestAddrSubunit(u8),
    DestNetworkType(u8),
    DestBearerType(u8),
    DestTelematicsId(u16),
    SourceAddrSubunit(u8),
    SourceNetworkType(u8),
    SourceBearerType(u8),
    SourceTelematicsId(u8),
    QosTimeToLive(u32),
    PayloadType(u8),
    AdditionalStatusInfoText(COctetString<256>),
    ReceiptedMessageId(MessageId),
    MsMsgWaitFacilities(u8),
    PrivacyIndicator(u8),
    SourceSubaddress(OctetString<23>),
    DestSubaddress(OctetString<23>),
    UserMessageReference(u16),
    UserResponseCode(u8),
    SourcePort(u16),
    DestinationPort(u16),
    SarMsgRefNum(u16),
    LanguageIndicator(u8),
    SarTotalSegments(u8),
    SarSegmentSeqnum(u8),
    ScInterfaceVersion(u8),
    CallbackNumPresInd(u8),
    CallbackNumAtag(OctetString<65>),
    NumberOfMessages(u8),
    CallbackNum(OctetString<19>),
    DpfResult(u8),
    SetDpf(u8),
    MsAvailabilityStatus(u8),
    /// Network type (1 GSM, 2 ANSI-136, 3 IS-95) and the network's error code.
    NetworkErrorCode {
        network_type: u8,
        error_code: u16,
    },
    /// The message text when it does not fit `short_message` (then `sm_length` is 0).
    MessagePayload(TlvValue),
    DeliveryFailureReason(u8),
    MoreMessagesToSend(u8),
    MessageState(MessageState),
    UssdServiceOp(u8),
    DisplayTime(u8),
    SmsSignal(u16),
    MsValidity(u8),
    /// Zero-length flag.
    AlertOnMessageDelivery,
    ItsReplyType(u8),
    ItsSessionInfo {
        session_number: u8,
        sequence_number: u8,
    },
    /// A vendor or unknown tag, or a known tag with a malformed value, kept as raw octets.
    Other {
        tag: u16,
        value: TlvValue,
    },
}

impl Tlv {
    /// The tag this parameter is encoded with.
    pub fn tag(&self) -> u16 {
        use tag::*;
        match self {
            Tlv::DestAddrSubunit(_) => DEST_ADDR_SUBUNIT,
            Tlv::DestNetworkType(_) => DEST_NETWORK_TYPE,
            Tlv::DestBearerType(_) => DEST_BEARER_TYPE,
            Tlv::DestTelematicsId(_) => DEST_TELEMATICS_ID,
            Tlv::SourceAddrSubunit(_) => SOURCE_ADDR_SUBUNIT,
            Tlv::SourceNetworkType(_) => SOURCE_NETWORK_TYPE,
            Tlv::SourceBearerType(_) => SOURCE_BEARER_TYPE,
            Tlv::SourceTelematicsId(_) => SOURCE_TELEMATICS_ID,
            Tlv::QosTimeToLive(_) => QOS_TIME_TO_LIVE,
            Tlv::PayloadType(_) => PAYLOAD_TYPE,
            Tlv::AdditionalStatusInfoText(_) => ADDITIONAL_STATUS_INFO_TEXT,
            Tlv::ReceiptedMessageId(_) => RECEIPTED_MESSAGE_ID,
            Tlv::MsMsgWaitFacilities(_) => MS_MSG_WAIT_FACILITIES,
            Tlv::PrivacyIndicator(_) => PRIVACY_INDICATOR,
            Tlv::SourceSubaddress(_) => SOURCE_SUBADDRESS,
            Tlv::DestSubaddress(_) => DEST_SUBADDRESS,
            Tlv::UserMessageReference(_) => USER_MESSAGE_REFERENCE,
            Tlv::UserResponseCode(_) => USER_RESPONSE_CODE,
            Tlv::SourcePort(_) => SOURCE_PORT,
            Tlv::DestinationPort(_) => DESTINATION_PORT,
            Tlv::SarMsgRefNum(_) => SAR_MSG_REF_NUM,
            Tlv::LanguageIndicator(_) => LANGUAGE_INDICATOR,
            Tlv::SarTotalSegments(_) => SAR_TOTAL_SEGMENTS,
            Tlv::SarSegmentSeqnum(_) => SAR_SEGMENT_SEQNUM,
            Tlv::ScInterfaceVersion(_) => SC_INTERFACE_VERSION,
            Tlv::CallbackNumPresInd(_) => CALLBACK_NUM_PRES_IND,
            Tlv::CallbackNumAtag(_) => CALLBACK_NUM_ATAG,
            Tlv::NumberOfMessages(_) => NUMBER_OF_MESSAGES,
            Tlv::CallbackNum(_) => CALLBACK_NUM,
            Tlv::DpfResult(_) => DPF_RESULT,
            Tlv::SetDpf(_) => SET_DPF,
            Tlv::MsAvailabilityStatus(_) => MS_AVAILABILITY_STATUS,
            Tlv::NetworkErrorCode { .. } => NETWORK_ERROR_CODE,
            Tlv::MessagePayload(_) => MESSAGE_PAYLOAD,
            Tlv::DeliveryFailureReason(_) => DELIVERY_FAILURE_REASON,
            Tlv::MoreMessagesToSend(_) => MORE_MESSAGES_TO_SEND,
            Tlv::MessageState(_) => MESSAGE_STATE,
            Tlv::UssdServiceOp(_) => USSD_SERVICE_OP,
            Tlv::DisplayTime(_) => DISPLAY_TIME,
            Tlv::SmsSignal(_) => SMS_SIGNAL,
            Tlv::MsValidity(_) => MS_VALIDITY,
            Tlv::AlertOnMessageDelivery => ALERT_ON_MESSAGE_DELIVERY,
            Tlv::ItsReplyType(_) => ITS_REPLY_TYPE,
            Tlv::ItsSessionInfo { .. } => ITS_SESSION_INFO,
            Tlv::Other { tag, .. } => *tag,
        }
    }

    /// Appends tag, length and value.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u16(out, self.tag());
        let len_at = out.len();
        put_u16(out, 0);
        let start = out.len();
        match self {
            Tlv::DestAddrSubunit(v)
            | Tlv::DestNetworkType(v)
            | Tlv::DestBearerType(v)
            | Tlv::SourceAddrSubunit(v)
            | Tlv::SourceNetworkType(v)
            | Tlv::SourceBearerType(v)
            | Tlv::SourceTelematicsId(v)
            | Tlv::PayloadType(v)
            | Tlv::MsMsgWaitFacilities(v)
            | Tlv::PrivacyIndicator(v)
            | Tlv::UserResponseCode(v)
            | Tlv::LanguageIndicator(v)
            | Tlv::SarTotalSegments(v)
            | Tlv::SarSegmentSeqnum(v)
            | Tlv::ScInterfaceVersion(v)
            | Tlv::CallbackNumPresInd(v)
            | Tlv::NumberOfMessages(v)
            | Tlv::DpfResult(v)
            | Tlv::SetDpf(v)
            | Tlv::MsAvailabilityStatus(v)
            | Tlv::DeliveryFailureReason(v)
            | Tlv::MoreMessagesToSend(v)
            | Tlv::UssdServiceOp(v)
            | Tlv::DisplayTime(v)
            | Tlv::MsValidity(v)
            | Tlv::ItsReplyType(v) => out.push(*v),
            Tlv::DestTelematicsId(v)
            | Tlv::UserMessageReference(v)
            | Tlv::SourcePort(v)
            | Tlv::DestinationPort(v)
            | Tlv::SarMsgRefNum(v)
            | Tlv::SmsSignal(v) => put_u16(out, *v),
            Tlv::QosTimeToLive(v) => out.extend_from_slice(&v.to_be_bytes()),
            Tlv::AdditionalStatusInfoText(s) => s.encode(out),
            Tlv::ReceiptedMessageId(s) => s.encode(out),
            Tlv::SourceSubaddress(v) | Tlv::DestSubaddress(v) => {
                out.extend_from_slice(v.as_bytes())
            }
            Tlv::CallbackNumAtag(v) => out.extend_from_slice(v.as_bytes()),
            Tlv::CallbackNum(v) => out.extend_from_slice(v.as_bytes()),
            Tlv::NetworkErrorCode {
                network_type,
                error_code,
            } => {
                out.push(*network_type);
                put_u16(out, *error_code);
            }
            Tlv::MessagePayload(v) | Tlv::Other { value: v, .. } => {
                out.extend_from_slice(v.as_bytes())
            }
            Tlv::MessageState(s) => out.push(s.value()),
            Tlv::AlertOnMessageDelivery => {}
            Tlv::ItsSessionInfo {
                session_number,
                sequence_number,
            } => {
                out.push(*session_number);
                out.push(*sequence_number);
            }
        }
        // Every value type above is bounded by 65535 octets.
        let len = (out.len() - start) as u16;
        out[len_at..len_at + 2].copy_from_slice(&len.to_be_bytes());
    }

    /// Reads one TLV. Only a truncated TLV is an error; odd values become [`Tlv::Other`].
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Tlv, FieldError> {
        let tag = r.u16("tlv tag")?;
        let len = r.u16("tlv length")? as usize;
        let value = r.take(len, "tlv value")?;
        Ok(Self::typed(tag, value).unwrap_or_else(|| Tlv::Other {
            tag,
            // `len` came from a u16, so it fits.
            value: TlvValue::new(value.to_vec()).unwrap_or_default(),
        }))
    }

    fn typed(tag: u16, v: &[u8]) -> Option<Tlv> {
        use tag::*;
        let u8v = || (v.len() == 1).then(|| v[0]);
        let u16v = || (v.len() == 2).then(|| u16::from_be_bytes([v[0], v[1]]));
        let tlv = match tag {
            DEST_ADDR_SUBUNIT => Tlv::DestAddrSubunit(u8v()?),
            DEST_NETWORK_TYPE => Tlv::DestNetworkType(u8v()?),
            DEST_BEARER_TYPE => Tlv::DestBearerType(u8v()?),
            DEST_TELEMATICS_ID => Tlv::DestTelematicsId(u16v()?),
            SOURCE_ADDR_SUBUNIT => Tlv::SourceAddrSubunit(u8v()?),
            SOURCE_NETWORK_TYPE => Tlv::SourceNetworkType(u8v()?),
            SOURCE_BEARER_TYPE => Tlv::SourceBearerType(u8v()?),
            SOURCE_TELEMATICS_ID => Tlv::SourceTelematicsId(u8v()?),
            QOS_TIME_TO_LIVE => {
                let b: [u8; 4] = v.try_into().ok()?;
                Tlv::QosTimeToLive(u32::from_be_bytes(b))
            }
            PAYLOAD_TYPE => Tlv::PayloadType(u8v()?),
            ADDITIONAL_STATUS_INFO_TEXT => Tlv::AdditionalStatusInfoText(c_value(v)?),
            RECEIPTED_MESSAGE_ID => Tlv::ReceiptedMessageId(c_value(v)?),
            MS_MSG_WAIT_FACILITIES => Tlv::MsMsgWaitFacilities(u8v()?),
            PRIVACY_INDICATOR => Tlv::PrivacyIndicator(u8v()?),
            SOURCE_SUBADDRESS => Tlv::SourceSubaddress(OctetString::new(v).ok()?),
            DEST_SUBADDRESS => Tlv::DestSubaddress(OctetString::new(v).ok()?),
            USER_MESSAGE_REFERENCE => Tlv::UserMessageReference(u16v()?),
            USER_RESPONSE_CODE => Tlv::UserResponseCode(u8v()?),
            SOURCE_PORT => Tlv::SourcePort(u16v()?),
            DESTINATION_PORT => Tlv::DestinationPort(u16v()?),
            SAR_MSG_REF_NUM => Tlv::SarMsgRefNum(u16v()?),
            LANGUAGE_INDICATOR => Tlv::LanguageIndicator(u8v()?),
            SAR_TOTAL_SEGMENTS => Tlv::SarTotalSegments(u8v()?),
            SAR_SEGMENT_SEQNUM => Tlv::SarSegmentSeqnum(u8v()?),
            SC_INTERFACE_VERSION => Tlv::ScInterfaceVersion(u8v()?),
            CALLBACK_NUM_PRES_IND => Tlv::CallbackNumPresInd(u8v()?),
            CALLBACK_NUM_ATAG => Tlv::CallbackNumAtag(OctetString::new(v).ok()?),
            NUMBER_OF_MESSAGES => Tlv::NumberOfMessages(u8v()?),
            CALLBACK_NUM => Tlv::CallbackNum(OctetString::new(v).ok()?),
            DPF_RESULT => Tlv::DpfResult(u8v()?),
            SET_DPF => Tlv::SetDpf(u8v()?),
            MS_AVAILABILITY_STATUS => Tlv::MsAvailabilityStatus(u8v()?),
            NETWORK_ERROR_CODE => {
                if v.len() != 3 {
                    return None;
                }
                Tlv::NetworkErrorCode {
                    network_type: v[0],
                    error_code: u16::from_be_bytes([v[1], v[2]]),
                }
            }
            MESSAGE_PAYLOAD => Tlv::MessagePayload(TlvValue::new(v).ok()?),
            DELIVERY_FAILURE_REASON => Tlv::DeliveryFailureReason(u8v()?),
            MORE_MESSAGES_TO_SEND => Tlv::MoreMessagesToSend(u8v()?),
            MESSAGE_STATE => Tlv::MessageState(MessageState::from_u8(u8v()?)?),
            USSD_SERVICE_OP => Tlv::UssdServiceOp(u8v()?),
            DISPLAY_TIME => Tlv::DisplayTime(u8v()?),
            SMS_SIGNAL => Tlv::SmsSignal(u16v()?),
            MS_VALIDITY => Tlv::MsValidity(u8v()?),
            ALERT_ON_MESSAGE_DELIVERY if v.is_empty() => Tlv::AlertOnMessageDelivery,
            ITS_REPLY_TYPE => Tlv::ItsReplyType(u8v()?),
            ITS_SESSION_INFO => {
                if v.len() != 2 {
                    return None;
                }
                Tlv::ItsSessionInfo {
                    session_number: v[0],
                    sequence_number: v[1],
                }
            }
            _ => return None,
        };
        Some(tlv)
    }
}

/// A C-octet string TLV value. The spec requires the NUL; some SMSCs leave it out,
/// so a value without it is accepted too (and re-encoded with it).
fn c_value<const MAX: usize>(v: &[u8]) -> Option<COctetString<MAX>> {
    let content = v.strip_suffix(&[0]).unwrap_or(v);
    COctetString::new(content).ok()
}

/// Reads TLVs until the body ends.
pub(crate) fn decode_tlvs(r: &mut Reader<'_>) -> Result<Vec<Tlv>, FieldError> {
    let mut tlvs = Vec::new();
    while !r.is_empty() {
        tlvs.push(Tlv::decode(r)?);
    }
    Ok(tlvs)
}

pub(crate) fn encode_tlvs(tlvs: &[Tlv], out: &mut Vec<u8>) {
    for t in tlvs {
        t.encode(out);
    }
}

/// Look-ups over a PDU's TLV list.
pub trait TlvsExt {
    /// The first TLV with this tag.
    fn find_tag(&self, tag: u16) -> Option<&Tlv>;
    /// `receipted_message_id`, as text.
    fn receipted_message_id(&self) -> Option<&MessageId>;
    /// `message_state`.
    fn message_state(&self) -> Option<MessageState>;
    /// `message_payload`, raw octets.
    fn message_payload(&self) -> Option<&[u8]>;
    /// Raw value of a vendor or unknown TLV ([`Tlv::Other`]) with this tag.
    fn other(&self, tag: u16) -> Option<&[u8]>;
    /// The SAR TLVs of a concatenated part: (`sar_msg_ref_num`, `sar_total_segments`,
    /// `sar_segment_seqnum`), when all three are there and the part number is within 1..=total.
    fn sar(&self) -> Option<(u16, u8, u8)>;
}

impl TlvsExt for [Tlv] {
    fn find_tag(&self, tag: u16) -> Option<&Tlv> {
        self.iter().find(|t| t.tag() == tag)
    }

    fn receipted_message_id(&self) -> Option<&MessageId> {
        self.iter().find_map(|t| match t {
            Tlv::ReceiptedMessageId(id) => Some(id),
            _ => None,
        })
    }

    fn message_state(&self) -> Option<MessageState> {
        self.iter().find_map(|t| match t {
            Tlv::MessageState(s) => Some(*s),
            _ => None,
        })
    }

    fn message_payload(&self) -> Option<&[u8]> {
        self.iter().find_map(|t| match t {
            Tlv::MessagePayload(p) => Some(p.as_bytes()),
            _ => None,
        })
    }

    fn other(&self, tag: u16) -> Option<&[u8]> {
        self.iter().find_map(|t| match t {
            Tlv::Other { tag: t, value } if *t == tag => Some(value.as_bytes()),
            _ => None,
        })
    }

    fn sar(&self) -> Option<(u16, u8, u8)> {
        let reference = self.iter().find_map(|t| match t {
            Tlv::SarMsgRefNum(r) => Some(*r),
            _ => None,
        })?;
        let total = self.iter().find_map(|t| match t {
            Tlv::SarTotalSegments(n) => Some(*n),
            _ => None,
        })?;
        let seq = self.iter().find_map(|t| match t {
            Tlv::SarSegmentSeqnum(n) => Some(*n),
            _ => None,
        })?;
        (1..=total)
            .contains(&seq)
            .then_some((reference, total, seq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(bytes: &[u8]) -> (Tlv, Vec<u8>) {
        let mut r = Reader::new(bytes);
        let tlv = Tlv::decode(&mut r).unwrap();
        assert!(r.is_empty());
        let mut out = Vec::new();
        tlv.encode(&mut out);
        (tlv, out)
    }

    #[test]
    fn known_tags_decode_typed() {
        let (t, out) = roundtrip(&[0x04, 0x27, 0x00, 0x01, 0x02]);
        assert_eq!(t, Tlv::MessageState(MessageState::Delivered));
        assert_eq!(out, [0x04, 0x27, 0x00, 0x01, 0x02]);
        let (t, _) = roundtrip(&[0x00, 0x1E, 0x00, 0x04, b'a', b'b', b'c', 0]);
        assert_eq!(t, Tlv::ReceiptedMessageId("abc".try_into().unwrap()));
        let (t, _) = roundtrip(&[0x02, 0x0C, 0x00, 0x02, 0x12, 0x34]);
        assert_eq!(t, Tlv::SarMsgRefNum(0x1234));
    }

    #[test]
    fn receipted_message_id_without_nul_is_accepted() {
        let (t, out) = roundtrip(&[0x00, 0x1E, 0x00, 0x03, b'a', b'b', b'c']);
        assert_eq!(t, Tlv::ReceiptedMessageId("abc".try_into().unwrap()));
        assert_eq!(out, [0x00, 0x1E, 0x00, 0x04, b'a', b'b', b'c', 0]);
    }

    #[test]
    fn unknown_and_malformed_tags_are_kept_raw() {
        let bytes = [0x15, 0x01, 0x00, 0x03, b'x', b'y', b'z'];
        let (t, out) = roundtrip(&bytes);
        assert_eq!(t.tag(), 0x1501);
        assert_eq!(out, bytes);
        // message_state with two octets is not a valid message_state
        let bytes = [0x04, 0x27, 0x00, 0x02, 0x00, 0x02];
        let (t, out) = roundtrip(&bytes);
        assert!(matches!(t, Tlv::Other { tag: 0x0427, .. }));
        assert_eq!(out, bytes);
    }

    #[test]
    fn truncated_tlv_is_an_error() {
        let mut r = Reader::new(&[0x04, 0x27, 0x00, 0x02, 0x00]);
        assert!(Tlv::decode(&mut r).is_err());
    }
}
