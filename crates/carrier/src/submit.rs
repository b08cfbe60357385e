//! From an [`OutboundMessage`] to the `submit_sm` PDUs that carry it.
//!
//! - The stored body is what is sent (the API already transliterated it when asked), so it is
//!   analysed again with transliteration off; GSM-7 goes as unpacked septets with
//!   `data_coding` 0x00, anything else as UTF-16BE with 0x08.
//! - Parts are cut for an 8-bit-reference header, the header the API counts parts (and prices)
//!   with. The reference comes from the message id, so a resent message reuses it.
//! - Only the last part asks for a delivery receipt; its SMSC id is the one returned, so the
//!   receipt matches what the store records.
//! - The deduplication TLV ([`GATEWAY_MESSAGE_ID_TAG`]) carries the message id, followed by
//!   `.N` (the 1-based part number) when there are several parts, so every part is unique
//!   and a resent part is recognised.

use smpp::codec::{
    esm_class, registered_delivery, Address, FieldError, OctetString, ShortMessage, SubmitSm, Tlv,
};
use smpp::sim::GATEWAY_MESSAGE_ID_TAG;
use sms::{
    analyse, split, ConcatRef, Msisdn, NumberError, SenderId, SenderIdError, TextError, TextOptions,
};
use workers::OutboundMessage;

use crate::config::ConcatMode;

/// The parts every message may take at most (one-octet counters).
const MAX_PARTS: u32 = 255;

/// What [`build`] needs from the carrier's settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BuildOptions {
    pub concat: ConcatMode,
    pub register_delivery: bool,
    pub send_message_id_tlv: bool,
}

/// Why a message cannot be put into PDUs; sending it again would not help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BuildError {
    #[error("invalid destination: {0}")]
    Destination(#[from] NumberError),
    #[error("invalid sender: {0}")]
    Sender(#[from] SenderIdError),
    #[error("text cannot be sent: {0}")]
    Text(#[from] TextError),
    #[error("{field} does not fit SMPP: {source}")]
    Field {
        field: &'static str,
        source: FieldError,
    },
}

fn field(field: &'static str) -> impl FnOnce(FieldError) -> BuildError {
    move |source| BuildError::Field { field, source }
}

/// The concatenation reference of a message: its id mixed (splitmix64 finaliser) so that
/// consecutive ids, which differ in few low bits, get unrelated references.
pub(crate) fn reference(id: domain::MessageId) -> u16 {
    let mut z = id.get() as u64;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    z as u16
}

/// The `submit_sm`s for `message`, in sending order. The last one is the one that asks for a
/// receipt (when receipts are wanted).
pub(crate) fn build(
    message: &OutboundMessage,
    options: &BuildOptions,
) -> Result<Vec<SubmitSm>, BuildError> {
    let to = Msisdn::from_e164(&message.to)?;
    let sender = SenderId::parse(&message.sender)?;
    let concat = ConcatRef::Eight;
    let analysis = analyse(
        &message.body,
        &TextOptions {
            allow_transliteration: false,
            max_parts: MAX_PARTS,
            concat,
        },
    )?;
    let reference = reference(message.id);
    let parts = split(&analysis, reference, concat);
    let (source_addr_ton, source_addr_npi) = sender.ton_npi();
    let template = SubmitSm {
        source_addr_ton,
        source_addr_npi,
        source_addr: Address::try_from(sender.as_str()).map_err(field("source_addr"))?,
        dest_addr_ton: 1,
        dest_addr_npi: 1,
        destination_addr: Address::try_from(to.digits()).map_err(field("destination_addr"))?,
        data_coding: analysis.encoding().data_coding(),
        ..SubmitSm::default()
    };
    let dedup = |suffix: Option<usize>| -> Result<Option<Tlv>, BuildError> {
        if !options.send_message_id_tlv {
            return Ok(None);
        }
        let value = match suffix {
            Some(n) => format!("{}.{n}", message.id),
            None => message.id.to_string(),
        };
        Ok(Some(Tlv::Other {
            tag: GATEWAY_MESSAGE_ID_TAG,
            value: OctetString::new(value.into_bytes()).map_err(field("message id TLV"))?,
        }))
    };

    if options.concat == ConcatMode::Payload && parts.len() > 1 {
        let payload: Vec<u8> = parts.into_iter().flat_map(|p| p.payload).collect();
        let mut sm = template;
        sm.tlvs.push(Tlv::MessagePayload(
            OctetString::new(payload).map_err(field("message_payload"))?,
        ));
        sm.tlvs.extend(dedup(None)?);
        return Ok(vec![with_receipt(sm, options)]);
    }

    let total = parts.len();
    let mut pdus = Vec::with_capacity(total);
    for (index, part) in parts.into_iter().enumerate() {
        let seq = index + 1;
        let mut sm = template.clone();
        if total == 1 {
            sm.short_message = ShortMessage::new(part.payload).map_err(field("short_message"))?;
        } else if options.concat == ConcatMode::Sar {
            sm.short_message = ShortMessage::new(part.payload).map_err(field("short_message"))?;
            // `analyse` refuses texts of more than 255 parts.
            let total = u8::try_from(total).unwrap_or(u8::MAX);
            let seq = u8::try_from(seq).unwrap_or(u8::MAX);
            sm.tlvs.extend([
                Tlv::SarMsgRefNum(reference),
                Tlv::SarTotalSegments(total),
                Tlv::SarSegmentSeqnum(seq),
            ]);
        } else {
            sm.esm_class |= esm_class::UDHI;
            sm.short_message =
                ShortMessage::new(part.short_message()).map_err(field("short_message"))?;
        }
        sm.tlvs.extend(dedup((total > 1).then_some(seq))?);
        pdus.push(if seq == total {
            with_receipt(sm, options)
        } else {
            sm
        });
    }
    Ok(pdus)
}

fn with_receipt(mut sm: SubmitSm, options: &BuildOptions) -> SubmitSm {
    if options.register_delivery {
        sm.registered_delivery = registered_delivery::ON_FINAL;
    }
    sm
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{AccountId, MessageId};
    use smpp::codec::TlvsExt;

    fn message(body: &str) -> OutboundMessage {
        OutboundMessage {
            id: MessageId::new(123_456_789),
            account: AccountId::new(1),
            to: "+420777123456".into(),
            sender: "Info".into(),
            body: body.into(),
            encoding: "gsm7".into(),
            parts: 1,
            expires_at: 0,
        }
    }

    fn options(concat: ConcatMode) -> BuildOptions {
        BuildOptions {
            concat,
            register_delivery: true,
            send_message_id_tlv: true,
        }
    }

    fn dedup_value(sm: &SubmitSm) -> Option<String> {
        sm.tlvs
            .other(GATEWAY_MESSAGE_ID_TAG)
            .map(|v| String::from_utf8(v.to_vec()).unwrap())
    }

    #[test]
    fn single_gsm7_part() {
        let pdus = build(&message("Hello {you}"), &options(ConcatMode::Udh)).unwrap();
        assert_eq!(pdus.len(), 1);
        let sm = &pdus[0];
        assert_eq!((sm.source_addr_ton, sm.source_addr_npi), (5, 0));
        assert_eq!(sm.source_addr.as_bytes(), b"Info");
        assert_eq!((sm.dest_addr_ton, sm.dest_addr_npi), (1, 1));
        assert_eq!(sm.destination_addr.as_bytes(), b"420777123456");
        assert_eq!(sm.data_coding, 0x00);
        assert_eq!(sm.esm_class, 0);
        assert_eq!(sm.registered_delivery, 1);
        // GSM-7 unpacked septets: '{' is escape + 0x28.
        assert_eq!(&sm.short_message.as_bytes()[..7], b"Hello \x1b");
        assert_eq!(dedup_value(sm).as_deref(), Some("123456789"));
        assert!(sm.validity_period.is_empty());
    }

    #[test]
    fn long_ucs2_with_udh_asks_a_receipt_on_the_last_part_only() {
        let body = "Příliš žluťoučký kůň úpěl ďábelské ódy. ".repeat(4);
        let pdus = build(&message(&body), &options(ConcatMode::Udh)).unwrap();
        assert_eq!(pdus.len(), 3);
        let r = reference(MessageId::new(123_456_789)).to_be_bytes()[1];
        for (i, sm) in pdus.iter().enumerate() {
            assert_eq!(sm.data_coding, 0x08);
            assert_eq!(sm.esm_class, esm_class::UDHI);
            let udh = &sm.short_message.as_bytes()[..6];
            assert_eq!(udh, [5, 0, 3, r, 3, i as u8 + 1]);
            assert_eq!(sm.registered_delivery, u8::from(i == 2));
            assert_eq!(dedup_value(sm), Some(format!("123456789.{}", i + 1)));
        }
        let text: Vec<u8> = pdus
            .iter()
            .flat_map(|sm| sm.short_message.as_bytes()[6..].to_vec())
            .collect();
        assert_eq!(sms::ucs2_decode(&text), body);
    }

    #[test]
    fn sar_parts_carry_tlvs_and_no_header() {
        let body = "a".repeat(200);
        let pdus = build(&message(&body), &options(ConcatMode::Sar)).unwrap();
        assert_eq!(pdus.len(), 2);
        let r = reference(MessageId::new(123_456_789));
        for (i, sm) in pdus.iter().enumerate() {
            assert_eq!(sm.esm_class, 0);
            assert_eq!(sm.short_message.len(), if i == 0 { 153 } else { 47 });
            assert!(sm.tlvs.contains(&Tlv::SarMsgRefNum(r)));
            assert!(sm.tlvs.contains(&Tlv::SarTotalSegments(2)));
            assert!(sm.tlvs.contains(&Tlv::SarSegmentSeqnum(i as u8 + 1)));
        }
    }

    #[test]
    fn payload_mode_sends_one_pdu() {
        let body = "a".repeat(200);
        let pdus = build(&message(&body), &options(ConcatMode::Payload)).unwrap();
        assert_eq!(pdus.len(), 1);
        let sm = &pdus[0];
        assert!(sm.short_message.is_empty());
        assert_eq!(sm.tlvs.message_payload(), Some(body.as_bytes()));
        assert_eq!(sm.registered_delivery, 1);
        assert_eq!(dedup_value(sm).as_deref(), Some("123456789"));
        // A short text still goes in short_message.
        let pdus = build(&message("hi"), &options(ConcatMode::Payload)).unwrap();
        assert_eq!(pdus[0].short_message.as_bytes(), b"hi");
    }

    #[test]
    fn options_turn_off_receipts_and_the_tlv() {
        let opts = BuildOptions {
            concat: ConcatMode::Udh,
            register_delivery: false,
            send_message_id_tlv: false,
        };
        let pdus = build(&message("hi"), &opts).unwrap();
        assert_eq!(pdus[0].registered_delivery, 0);
        assert!(pdus[0].tlvs.is_empty());
    }

    #[test]
    fn numeric_senders_and_bad_input() {
        let mut m = message("hi");
        m.sender = "+420777000111".into();
        let sm = &build(&m, &options(ConcatMode::Udh)).unwrap()[0];
        assert_eq!((sm.source_addr_ton, sm.source_addr_npi), (1, 1));
        assert_eq!(sm.source_addr.as_bytes(), b"420777000111");
        m.sender = "1234".into();
        let sm = &build(&m, &options(ConcatMode::Udh)).unwrap()[0];
        assert_eq!((sm.source_addr_ton, sm.source_addr_npi), (3, 0));

        let check = |edit: fn(&mut OutboundMessage)| {
            let mut m = message("hi");
            edit(&mut m);
            build(&m, &options(ConcatMode::Udh)).unwrap_err()
        };
        assert!(matches!(
            check(|m| m.to = "777".into()),
            BuildError::Destination(_)
        ));
        assert!(matches!(
            check(|m| m.sender = "".into()),
            BuildError::Sender(_)
        ));
        assert!(matches!(check(|m| m.body = "".into()), BuildError::Text(_)));
    }

    #[test]
    fn references_are_stable_and_spread() {
        let a = reference(MessageId::new(1 << 22));
        assert_eq!(a, reference(MessageId::new(1 << 22)));
        let low_bytes: std::collections::HashSet<u8> = (0..64)
            .map(|ms| reference(MessageId::new(ms << 22)).to_be_bytes()[1])
            .collect();
        assert!(low_bytes.len() > 40, "{}", low_bytes.len());
    }
}
