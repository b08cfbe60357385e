//! From an inbound `deliver_sm` to what the gateway is told.
//!
//! - A delivery receipt (the `esm_class` receipt type, or a `receipted_message_id` TLV) with a
//!   final state becomes a [`store::Receipt`]; `ACCEPTD` and `ENROUTE` are intermediate and
//!   reported as nothing.
//! - A plain message (message type 0) is a mobile-originated SMS: its user data header, if
//!   any, is dropped and the text decoded by `data_coding`. The parts of a concatenated MO
//!   message ([`mo_part`]) are joined by the carrier before they are reported.
//! - Anything else (SME acknowledgements) is acknowledged and ignored.

use domain::MessageStatus;
use smpp::codec::{esm_class, DeliverSm, DeliveryReceipt, MessageState, TlvsExt};
use workers::connector::InboundSms;
use workers::ConnectorEvent;

/// What a `deliver_sm` amounts to.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// Report this, then acknowledge.
    Event(ConnectorEvent),
    /// Acknowledge without reporting; the text says why (for the log).
    Nothing(&'static str),
}

/// Classifies one `deliver_sm`; `receipt` is what the client parsed from it.
pub(crate) fn classify(
    connector: &str,
    sm: &DeliverSm,
    receipt: Option<&DeliveryReceipt>,
    now_us: i64,
) -> Inbound {
    if let Some(receipt) = receipt {
        return receipt_event(connector, receipt);
    }
    if sm.esm_class & esm_class::MESSAGE_TYPE_MASK != 0 {
        return Inbound::Nothing("not a message or a delivery receipt");
    }
    Inbound::Event(ConnectorEvent::Inbound(InboundSms {
        connector: connector.to_owned(),
        from: address(sm.source_addr_ton, sm.source_addr.as_bytes()),
        to: address(sm.dest_addr_ton, sm.destination_addr.as_bytes()),
        text: message_text(sm),
        smsc_id: None,
        received_at: now_us,
    }))
}

fn receipt_event(connector: &str, receipt: &DeliveryReceipt) -> Inbound {
    let Some(smsc_id) = receipt.id.clone() else {
        return Inbound::Nothing("delivery receipt without a message id");
    };
    let Some(state) = receipt.stat else {
        return Inbound::Nothing("delivery receipt without a state");
    };
    let Some(status) = status_of(state) else {
        return Inbound::Nothing("intermediate delivery receipt");
    };
    let reason = (status != MessageStatus::Delivered).then(|| match &receipt.err {
        Some(err) => format!("{} err:{err}", state.receipt_code()),
        None => state.receipt_code().to_owned(),
    });
    Inbound::Event(ConnectorEvent::Receipt(store::Receipt {
        connector: connector.to_owned(),
        smsc_id,
        status,
        reason,
    }))
}

/// The message status a final receipt state means; `None` for intermediate states.
pub(crate) fn status_of(state: MessageState) -> Option<MessageStatus> {
    match state {
        MessageState::Delivered => Some(MessageStatus::Delivered),
        MessageState::Undeliverable | MessageState::Deleted | MessageState::Unknown => {
            Some(MessageStatus::Undeliverable)
        }
        MessageState::Expired => Some(MessageStatus::Expired),
        MessageState::Rejected => Some(MessageStatus::Rejected),
        MessageState::Accepted | MessageState::Enroute => None,
    }
}

/// The concatenation of an MO part (user data header or SAR TLVs) and its user data without the
/// header; `None` for a message in one piece, a receipt, or anything else.
pub(crate) fn mo_part(sm: &DeliverSm) -> Option<(MoKey, sms::ConcatInfo, Vec<u8>)> {
    if sm.esm_class & esm_class::MESSAGE_TYPE_MASK != 0 || sm.tlvs.receipted_message_id().is_some()
    {
        return None;
    }
    let data = match sm.tlvs.message_payload() {
        Some(payload) if sm.short_message.is_empty() => payload,
        _ => sm.short_message.as_bytes(),
    };
    let (info, body) = if sm.esm_class & esm_class::UDHI != 0 {
        let (info, body) = sms::split_udh(data)?;
        (info?, body)
    } else {
        let (reference, total, seq) = sm.tlvs.sar()?;
        (
            sms::ConcatInfo {
                reference,
                total,
                seq,
            },
            data,
        )
    };
    (info.total > 1).then(|| {
        let key = MoKey {
            from: address(sm.source_addr_ton, sm.source_addr.as_bytes()),
            to: address(sm.dest_addr_ton, sm.destination_addr.as_bytes()),
            reference: info.reference,
            total: info.total,
        };
        (key, info, body.to_vec())
    })
}

/// Names one concatenated MO message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct MoKey {
    pub from: String,
    pub to: String,
    reference: u16,
    total: u8,
}

/// An address as text: E.164 with '+' for an international number (TON 1) of digits,
/// otherwise as received.
fn address(ton: u8, addr: &[u8]) -> String {
    let text = String::from_utf8_lossy(addr).into_owned();
    if ton == 1 && !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        format!("+{text}")
    } else {
        text
    }
}

/// The user data (from `short_message`, or `message_payload` when that is empty) without its
/// header, decoded.
fn message_text(sm: &DeliverSm) -> String {
    let data = match sm.tlvs.message_payload() {
        Some(payload) if sm.short_message.is_empty() => payload,
        _ => sm.short_message.as_bytes(),
    };
    let data = if sm.esm_class & esm_class::UDHI != 0 {
        strip_udh(data)
    } else {
        data
    };
    sms::decode_user_data(sm.data_coding, data)
}

/// The user data after its header (whose first octet is the header's length).
fn strip_udh(data: &[u8]) -> &[u8] {
    match data.first() {
        Some(&len) => data.get(usize::from(len) + 1..).unwrap_or_default(),
        None => data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smpp::codec::{OctetString, ShortMessage, Tlv};

    #[test]
    fn receipt_states_map_to_statuses() {
        use MessageState::*;
        let check = |state: MessageState, expected: Option<MessageStatus>| {
            assert_eq!(status_of(state), expected, "{state:?}");
        };
        check(Delivered, Some(MessageStatus::Delivered));
        check(Undeliverable, Some(MessageStatus::Undeliverable));
        check(Deleted, Some(MessageStatus::Undeliverable));
        check(Unknown, Some(MessageStatus::Undeliverable));
        check(Expired, Some(MessageStatus::Expired));
        check(Rejected, Some(MessageStatus::Rejected));
        check(Accepted, None);
        check(Enroute, None);
    }

    fn receipt(stat: Option<MessageState>, err: Option<&str>) -> DeliveryReceipt {
        DeliveryReceipt {
            id: Some("0000000042".into()),
            stat,
            err: err.map(Into::into),
            ..DeliveryReceipt::default()
        }
    }

    #[test]
    fn receipts_become_events_with_reasons() {
        let sm = DeliverSm {
            esm_class: esm_class::DELIVERY_RECEIPT,
            ..DeliverSm::default()
        };
        let undeliv = receipt(Some(MessageState::Undeliverable), Some("001"));
        let Inbound::Event(ConnectorEvent::Receipt(r)) = classify("op", &sm, Some(&undeliv), 0)
        else {
            panic!("a receipt");
        };
        assert_eq!(r.connector, "op");
        assert_eq!(r.smsc_id, "0000000042");
        assert_eq!(r.status, MessageStatus::Undeliverable);
        assert_eq!(r.reason.as_deref(), Some("UNDELIV err:001"));

        let delivered = receipt(Some(MessageState::Delivered), Some("000"));
        let Inbound::Event(ConnectorEvent::Receipt(r)) = classify("op", &sm, Some(&delivered), 0)
        else {
            panic!("a receipt");
        };
        assert_eq!((r.status, r.reason), (MessageStatus::Delivered, None));

        for nothing in [
            receipt(Some(MessageState::Enroute), None),
            receipt(None, None),
            DeliveryReceipt::default(),
        ] {
            assert!(matches!(
                classify("op", &sm, Some(&nothing), 0),
                Inbound::Nothing(_)
            ));
        }
    }

    fn mo(sm: DeliverSm) -> InboundSms {
        match classify("op", &sm, None, 7) {
            Inbound::Event(ConnectorEvent::Inbound(m)) => m,
            other => panic!("not an MO: {other:?}"),
        }
    }

    #[test]
    fn mo_messages_are_decoded() {
        let m = mo(DeliverSm {
            source_addr_ton: 1,
            source_addr: "420777123456".try_into().unwrap(),
            destination_addr: "90210".try_into().unwrap(),
            short_message: ShortMessage::new(&b"STOP"[..]).unwrap(),
            ..DeliverSm::default()
        });
        assert_eq!(
            m,
            InboundSms {
                connector: "op".into(),
                from: "+420777123456".into(),
                to: "90210".into(),
                text: "STOP".into(),
                smsc_id: None,
                received_at: 7,
            }
        );

        // A part of a concatenated UCS-2 message: the header goes.
        let mut data = vec![5, 0, 3, 9, 2, 1];
        data.extend(sms::ucs2_encode("Příliš"));
        let m = mo(DeliverSm {
            source_addr_ton: 5,
            source_addr: "Shop".try_into().unwrap(),
            esm_class: esm_class::UDHI,
            data_coding: 8,
            short_message: ShortMessage::new(data).unwrap(),
            ..DeliverSm::default()
        });
        assert_eq!((m.from.as_str(), m.text.as_str()), ("Shop", "Příliš"));

        // A long text in message_payload.
        let long = "x".repeat(300);
        let m = mo(DeliverSm {
            tlvs: vec![Tlv::MessagePayload(
                OctetString::new(long.clone().into_bytes()).unwrap(),
            )],
            ..DeliverSm::default()
        });
        assert_eq!(m.text, long);
    }

    #[test]
    fn acknowledgements_are_ignored() {
        let sm = DeliverSm {
            esm_class: esm_class::DELIVERY_ACK,
            ..DeliverSm::default()
        };
        assert!(matches!(classify("op", &sm, None, 0), Inbound::Nothing(_)));
    }

    #[test]
    fn a_truncated_header_leaves_no_text() {
        assert_eq!(strip_udh(&[5, 0, 3]), b"");
        assert_eq!(strip_udh(&[]), b"");
    }

    #[test]
    fn concatenated_mo_parts_are_recognised() {
        let mut sm = DeliverSm {
            source_addr_ton: 1,
            source_addr: "420777123456".try_into().unwrap(),
            destination_addr: "4209000".try_into().unwrap(),
            esm_class: esm_class::UDHI,
            short_message: ShortMessage::new(vec![5, 0, 3, 7, 2, 1, b'h', b'i']).unwrap(),
            ..DeliverSm::default()
        };
        let (key, info, data) = mo_part(&sm).expect("a part");
        assert_eq!(key.from, "+420777123456");
        assert_eq!((info.reference, info.total, info.seq), (7, 2, 1));
        assert_eq!(data, b"hi");

        // The same with SAR TLVs and no header.
        sm.esm_class = 0;
        sm.short_message = ShortMessage::new(b"yo".to_vec()).unwrap();
        sm.tlvs = vec![
            Tlv::SarMsgRefNum(7),
            Tlv::SarTotalSegments(2),
            Tlv::SarSegmentSeqnum(2),
        ];
        let (key2, info, data) = mo_part(&sm).expect("a SAR part");
        assert_eq!(key2, key);
        assert_eq!(info.seq, 2);
        assert_eq!(data, b"yo");

        // A message in one piece, and a receipt, are not parts.
        sm.tlvs.clear();
        assert!(mo_part(&sm).is_none());
        sm.esm_class = esm_class::DELIVERY_RECEIPT;
        assert!(mo_part(&sm).is_none());
    }
}
