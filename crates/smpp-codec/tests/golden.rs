//! Byte vectors written by hand from the SMPP v3.4 specification.

use smpp_codec::*;

fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

/// Encodes `pdu`, compares with `expected`, and decodes `expected` back to `pdu`.
fn check(pdu: Pdu, expected: &str) {
    let expected = hex(expected);
    assert_eq!(pdu.to_bytes(), expected, "encoding of {pdu:?}");
    assert_eq!(decode(&expected).unwrap(), pdu);
}

#[test]
fn enquire_link() {
    check(
        Pdu::new(1, PduBody::EnquireLink),
        "00000010 00000015 00000000 00000001",
    );
    check(
        Pdu::new(1, PduBody::EnquireLinkResp),
        "00000010 80000015 00000000 00000001",
    );
}

#[test]
fn bind_transmitter() {
    let bind = Bind {
        system_id: "SMPP3TEST".try_into().unwrap(),
        password: "secret08".try_into().unwrap(),
        system_type: "SUBMIT1".try_into().unwrap(),
        interface_version: 0x34,
        addr_ton: 1,
        addr_npi: 1,
        address_range: AddressRange::empty(),
    };
    check(
        Pdu::new(1, PduBody::BindTransmitter(bind)),
        "0000002F 00000002 00000000 00000001
         534D50503354455354 00
         7365637265743038 00
         5355424D495431 00
         34 01 01 00",
    );
}

#[test]
fn submit_sm() {
    let sm = SubmitSm {
        source_addr_ton: 5,
        source_addr_npi: 0,
        source_addr: "Info".try_into().unwrap(),
        dest_addr_ton: 1,
        dest_addr_npi: 1,
        destination_addr: "420777123456".try_into().unwrap(),
        registered_delivery: registered_delivery::ON_FINAL,
        short_message: ShortMessage::new(&b"Hello"[..]).unwrap(),
        ..Default::default()
    };
    check(
        Pdu::new(2, PduBody::SubmitSm(sm)),
        "00000036 00000004 00000000 00000002
         00
         05 00 496E666F 00
         01 01 343230373737313233343536 00
         00 00 00
         00
         00
         01 00 00 00
         05 48656C6C6F",
    );
}

#[test]
fn submit_sm_resp_and_deliver_sm_receipt_with_tlvs() {
    check(
        Pdu::new(
            2,
            PduBody::SubmitSmResp(SubmitSmResp {
                message_id: "abc123".try_into().unwrap(),
            }),
        ),
        "00000017 80000004 00000000 00000002 616263313233 00",
    );
    let dlr = DeliverSm {
        esm_class: esm_class::DELIVERY_RECEIPT,
        short_message: ShortMessage::new(&b"id:1 stat:DELIVRD"[..]).unwrap(),
        tlvs: vec![
            Tlv::ReceiptedMessageId("1".try_into().unwrap()),
            Tlv::MessageState(MessageState::Delivered),
        ],
        ..Default::default()
    };
    check(
        Pdu::new(9, PduBody::DeliverSm(dlr)),
        "0000003D 00000005 00000000 00000009
         00 00 00 00 00 00 00
         04 00 00 00 00 00 00 00 00
         11 69643A3120737461743A44454C49565244
         001E 0002 3100
         0427 0001 02",
    );
}

#[test]
fn error_response_without_body_decodes_to_default() {
    let pdu = decode(&hex("00000010 80000004 00000058 00000007")).unwrap();
    assert_eq!(pdu.command_status, CommandStatus::ESME_RTHROTTLED);
    assert_eq!(pdu.sequence_number, 7);
    assert_eq!(pdu.body, PduBody::SubmitSmResp(SubmitSmResp::default()));
}

#[test]
fn unknown_command_id_reports_sequence_for_generic_nack() {
    let e = decode(&hex("00000010 00000099 00000000 0000002A")).unwrap_err();
    assert_eq!(e.sequence_number, Some(42));
    assert_eq!(e.command_id, Some(0x99));
    assert_eq!(e.status(), CommandStatus::ESME_RINVCMDID);
}

#[test]
fn framing() {
    let bytes = hex("00000010 00000015 00000000 00000001 0000");
    assert_eq!(check_frame(&bytes[..3]), Ok(None));
    assert_eq!(check_frame(&bytes[..15]), Ok(None));
    assert_eq!(check_frame(&bytes), Ok(Some(16)));
    assert_eq!(check_frame(&hex("0000000F")), Err(FrameError::Invalid(15)));
    assert_eq!(
        smpp_codec::check(&hex("00010000"), 4096),
        Err(FrameError::TooLong {
            len: 65536,
            max: 4096
        })
    );
    let e = decode(&hex("00000011 00000015 00000000 00000001 00")).unwrap_err();
    assert_eq!(e.status(), CommandStatus::ESME_RINVCMDLEN);
}

fn check_frame(buf: &[u8]) -> Result<Option<usize>, FrameError> {
    smpp_codec::check(buf, 4096)
}
