//! Round-trip property tests over every PDU type, and no-panic tests over arbitrary bytes.

use proptest::collection::vec;
use proptest::prelude::*;

use crate::tlv::tag;
use crate::*;

fn cstr<const MAX: usize>() -> impl Strategy<Value = COctetString<MAX>> {
    vec(1u8..=255, 0..MAX).prop_map(|v| COctetString::new(v).unwrap())
}

fn octets<const MAX: usize>(max: usize) -> impl Strategy<Value = OctetString<MAX>> {
    vec(any::<u8>(), 0..=max.min(MAX)).prop_map(|v| OctetString::new(v).unwrap())
}

fn tlv() -> impl Strategy<Value = Tlv> {
    let b = any::<u8>;
    let w = any::<u16>;
    prop_oneof![
        b().prop_map(Tlv::DestAddrSubunit),
        b().prop_map(Tlv::DestNetworkType),
        b().prop_map(Tlv::DestBearerType),
        w().prop_map(Tlv::DestTelematicsId),
        b().prop_map(Tlv::SourceAddrSubunit),
        b().prop_map(Tlv::SourceNetworkType),
        b().prop_map(Tlv::SourceBearerType),
        b().prop_map(Tlv::SourceTelematicsId),
        any::<u32>().prop_map(Tlv::QosTimeToLive),
        b().prop_map(Tlv::PayloadType),
        cstr::<256>().prop_map(Tlv::AdditionalStatusInfoText),
        cstr::<65>().prop_map(Tlv::ReceiptedMessageId),
        b().prop_map(Tlv::MsMsgWaitFacilities),
        b().prop_map(Tlv::PrivacyIndicator),
        octets::<23>(23).prop_map(Tlv::SourceSubaddress),
        octets::<23>(23).prop_map(Tlv::DestSubaddress),
        w().prop_map(Tlv::UserMessageReference),
        b().prop_map(Tlv::UserResponseCode),
        w().prop_map(Tlv::SourcePort),
        w().prop_map(Tlv::DestinationPort),
        w().prop_map(Tlv::SarMsgRefNum),
        b().prop_map(Tlv::LanguageIndicator),
        b().prop_map(Tlv::SarTotalSegments),
        b().prop_map(Tlv::SarSegmentSeqnum),
        b().prop_map(Tlv::ScInterfaceVersion),
        b().prop_map(Tlv::CallbackNumPresInd),
        octets::<65>(65).prop_map(Tlv::CallbackNumAtag),
        b().prop_map(Tlv::NumberOfMessages),
        octets::<19>(19).prop_map(Tlv::CallbackNum),
        b().prop_map(Tlv::DpfResult),
        b().prop_map(Tlv::SetDpf),
        b().prop_map(Tlv::MsAvailabilityStatus),
        (b(), w()).prop_map(|(network_type, error_code)| Tlv::NetworkErrorCode {
            network_type,
            error_code
        }),
        octets::<65535>(600).prop_map(Tlv::MessagePayload),
        b().prop_map(Tlv::DeliveryFailureReason),
        b().prop_map(Tlv::MoreMessagesToSend),
        proptest::sample::select(MessageState::ALL.to_vec()).prop_map(Tlv::MessageState),
        b().prop_map(Tlv::UssdServiceOp),
        b().prop_map(Tlv::DisplayTime),
        w().prop_map(Tlv::SmsSignal),
        b().prop_map(Tlv::MsValidity),
        Just(Tlv::AlertOnMessageDelivery),
        b().prop_map(Tlv::ItsReplyType),
        (b(), b()).prop_map(|(session_number, sequence_number)| Tlv::ItsSessionInfo {
            session_number,
            sequence_number
        }),
        (
            w().prop_filter("unknown tag", |t| !tag::KNOWN.contains(t)),
            octets::<65535>(100)
        )
            .prop_map(|(tag, value)| Tlv::Other { tag, value }),
    ]
}

fn tlvs() -> impl Strategy<Value = Vec<Tlv>> {
    vec(tlv(), 0..4)
}

type Addr = (u8, u8, Address);

fn addr() -> impl Strategy<Value = Addr> {
    (any::<u8>(), any::<u8>(), cstr::<21>())
}

fn long_addr() -> impl Strategy<Value = (u8, u8, LongAddress)> {
    (any::<u8>(), any::<u8>(), cstr::<65>())
}

macro_rules! sm_strategy {
    ($fn:ident, $ty:ident) => {
        fn $fn() -> impl Strategy<Value = $ty> {
            (
                (cstr::<6>(), addr(), addr(), any::<[u8; 4]>()),
                (
                    cstr::<17>(),
                    cstr::<17>(),
                    any::<[u8; 3]>(),
                    octets::<254>(254),
                    tlvs(),
                ),
            )
                .prop_map(
                    |((service_type, src, dst, f), (sched, validity, g, short_message, tlvs))| {
                        $ty {
                            service_type,
                            source_addr_ton: src.0,
                            source_addr_npi: src.1,
                            source_addr: src.2,
                            dest_addr_ton: dst.0,
                            dest_addr_npi: dst.1,
                            destination_addr: dst.2,
                            esm_class: f[0],
                            protocol_id: f[1],
                            priority_flag: f[2],
                            schedule_delivery_time: sched,
                            validity_period: validity,
                            registered_delivery: f[3],
                            replace_if_present_flag: g[0],
                            data_coding: g[1],
                            sm_default_msg_id: g[2],
                            short_message,
                            tlvs,
                        }
                    },
                )
        }
    };
}

sm_strategy!(submit_sm, SubmitSm);
sm_strategy!(deliver_sm, DeliverSm);

fn bind() -> impl Strategy<Value = Bind> {
    (
        cstr::<16>(),
        cstr::<9>(),
        cstr::<13>(),
        any::<[u8; 3]>(),
        cstr::<41>(),
    )
        .prop_map(
            |(system_id, password, system_type, f, address_range)| Bind {
                system_id,
                password,
                system_type,
                interface_version: f[0],
                addr_ton: f[1],
                addr_npi: f[2],
                address_range,
            },
        )
}

fn bind_resp() -> impl Strategy<Value = BindResp> {
    (cstr::<16>(), tlvs()).prop_map(|(system_id, tlvs)| BindResp { system_id, tlvs })
}

fn message_id_resp() -> impl Strategy<Value = MessageIdResp> {
    cstr::<65>().prop_map(|message_id| MessageIdResp { message_id })
}

fn dest_address() -> impl Strategy<Value = DestAddress> {
    prop_oneof![
        addr().prop_map(|(t, n, a)| DestAddress::Sme {
            dest_addr_ton: t,
            dest_addr_npi: n,
            destination_addr: a
        }),
        cstr::<21>().prop_map(|dl_name| DestAddress::DistributionList { dl_name }),
    ]
}

fn submit_multi() -> impl Strategy<Value = SubmitMulti> {
    (
        (
            cstr::<6>(),
            addr(),
            vec(dest_address(), 0..6),
            any::<[u8; 4]>(),
        ),
        (
            cstr::<17>(),
            cstr::<17>(),
            any::<[u8; 3]>(),
            octets::<254>(254),
            tlvs(),
        ),
    )
        .prop_map(
            |((service_type, src, dests, f), (sched, validity, g, short_message, tlvs))| {
                SubmitMulti {
                    service_type,
                    source_addr_ton: src.0,
                    source_addr_npi: src.1,
                    source_addr: src.2,
                    dest_addresses: BoundedVec::new(dests).unwrap(),
                    esm_class: f[0],
                    protocol_id: f[1],
                    priority_flag: f[2],
                    schedule_delivery_time: sched,
                    validity_period: validity,
                    registered_delivery: f[3],
                    replace_if_present_flag: g[0],
                    data_coding: g[1],
                    sm_default_msg_id: g[2],
                    short_message,
                    tlvs,
                }
            },
        )
}

fn submit_multi_resp() -> impl Strategy<Value = SubmitMultiResp> {
    (
        cstr::<65>(),
        vec((addr(), any::<u32>()), 0..5).prop_map(|v| {
            v.into_iter()
                .map(|((t, n, a), s)| UnsuccessSme {
                    dest_addr_ton: t,
                    dest_addr_npi: n,
                    destination_addr: a,
                    error_status_code: CommandStatus(s),
                })
                .collect::<Vec<_>>()
        }),
    )
        .prop_map(|(message_id, smes)| SubmitMultiResp {
            message_id,
            unsuccess_smes: BoundedVec::new(smes).unwrap(),
        })
}

fn data_sm() -> impl Strategy<Value = DataSm> {
    (
        cstr::<6>(),
        long_addr(),
        long_addr(),
        any::<[u8; 3]>(),
        tlvs(),
    )
        .prop_map(|(service_type, src, dst, f, tlvs)| DataSm {
            service_type,
            source_addr_ton: src.0,
            source_addr_npi: src.1,
            source_addr: src.2,
            dest_addr_ton: dst.0,
            dest_addr_npi: dst.1,
            destination_addr: dst.2,
            esm_class: f[0],
            registered_delivery: f[1],
            data_coding: f[2],
            tlvs,
        })
}

fn body() -> impl Strategy<Value = PduBody> {
    use PduBody as B;
    prop_oneof![
        Just(B::GenericNack),
        bind().prop_map(B::BindReceiver),
        bind_resp().prop_map(B::BindReceiverResp),
        bind().prop_map(B::BindTransmitter),
        bind_resp().prop_map(B::BindTransmitterResp),
        bind().prop_map(B::BindTransceiver),
        bind_resp().prop_map(B::BindTransceiverResp),
        (cstr::<16>(), cstr::<9>()).prop_map(|(system_id, password)| B::Outbind(Outbind {
            system_id,
            password
        })),
        Just(B::Unbind),
        Just(B::UnbindResp),
        submit_sm().prop_map(B::SubmitSm),
        message_id_resp().prop_map(B::SubmitSmResp),
        submit_multi().prop_map(B::SubmitMulti),
        submit_multi_resp().prop_map(B::SubmitMultiResp),
        deliver_sm().prop_map(B::DeliverSm),
        message_id_resp().prop_map(B::DeliverSmResp),
        data_sm().prop_map(B::DataSm),
        (cstr::<65>(), tlvs())
            .prop_map(|(message_id, tlvs)| B::DataSmResp(DataSmResp { message_id, tlvs })),
        (cstr::<65>(), addr()).prop_map(|(message_id, s)| B::QuerySm(QuerySm {
            message_id,
            source_addr_ton: s.0,
            source_addr_npi: s.1,
            source_addr: s.2,
        })),
        (cstr::<65>(), cstr::<17>(), any::<[u8; 2]>()).prop_map(|(message_id, final_date, f)| {
            B::QuerySmResp(QuerySmResp {
                message_id,
                final_date,
                message_state: f[0],
                error_code: f[1],
            })
        }),
        (cstr::<6>(), cstr::<65>(), addr(), addr()).prop_map(|(service_type, message_id, s, d)| {
            B::CancelSm(CancelSm {
                service_type,
                message_id,
                source_addr_ton: s.0,
                source_addr_npi: s.1,
                source_addr: s.2,
                dest_addr_ton: d.0,
                dest_addr_npi: d.1,
                destination_addr: d.2,
            })
        }),
        Just(B::CancelSmResp),
        (
            cstr::<65>(),
            addr(),
            cstr::<17>(),
            cstr::<17>(),
            any::<[u8; 2]>(),
            octets::<254>(254)
        )
            .prop_map(|(message_id, s, sched, validity, f, short_message)| {
                B::ReplaceSm(ReplaceSm {
                    message_id,
                    source_addr_ton: s.0,
                    source_addr_npi: s.1,
                    source_addr: s.2,
                    schedule_delivery_time: sched,
                    validity_period: validity,
                    registered_delivery: f[0],
                    sm_default_msg_id: f[1],
                    short_message,
                })
            }),
        Just(B::ReplaceSmResp),
        Just(B::EnquireLink),
        Just(B::EnquireLinkResp),
        (long_addr(), long_addr(), tlvs()).prop_map(|(s, e, tlvs)| {
            B::AlertNotification(AlertNotification {
                source_addr_ton: s.0,
                source_addr_npi: s.1,
                source_addr: s.2,
                esme_addr_ton: e.0,
                esme_addr_npi: e.1,
                esme_addr: e.2,
                tlvs,
            })
        }),
    ]
}

fn pdu() -> impl Strategy<Value = Pdu> {
    (any::<u32>(), any::<u32>(), body())
        .prop_map(|(status, seq, body)| Pdu::with_status(seq, CommandStatus(status), body))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_pdu_round_trips(pdu in pdu()) {
        let bytes = pdu.to_bytes();
        prop_assert_eq!(check(&bytes, u32::MAX), Ok(Some(bytes.len())));
        prop_assert_eq!(check(&bytes[..bytes.len() - 1], u32::MAX), Ok(None));
        let back = decode(&bytes).unwrap();
        prop_assert_eq!(&back, &pdu);
        prop_assert_eq!(back.to_bytes(), bytes);
    }

    #[test]
    fn decode_of_arbitrary_bytes_never_panics(bytes in vec(any::<u8>(), 0..400)) {
        let _ = decode(&bytes);
        let _ = check(&bytes, 1024);
    }

    #[test]
    fn decode_of_any_body_under_a_valid_header_never_panics(
        id in proptest::sample::select(CommandId::ALL.to_vec()),
        seq in any::<u32>(),
        body in vec(any::<u8>(), 0..300),
    ) {
        let mut frame = Vec::new();
        frame.extend_from_slice(&((16 + body.len()) as u32).to_be_bytes());
        frame.extend_from_slice(&id.value().to_be_bytes());
        frame.extend_from_slice(&0u32.to_be_bytes());
        frame.extend_from_slice(&seq.to_be_bytes());
        frame.extend_from_slice(&body);
        if let Err(e) = decode(&frame) {
            prop_assert_eq!(e.sequence_number, Some(seq));
            prop_assert_eq!(e.command_id, Some(id.value()));
        }
    }

    #[test]
    fn mutated_pdus_never_panic(pdu in pdu(), at in any::<usize>(), byte in any::<u8>()) {
        let mut bytes = pdu.to_bytes();
        let i = at % bytes.len();
        bytes[i] = byte;
        let _ = decode(&bytes);
    }

    #[test]
    fn receipt_text_round_trips(
        id in "[A-Za-z0-9-]{1,20}",
        sub in proptest::option::of(0u32..1000),
        dlvrd in proptest::option::of(0u32..1000),
        submit in proptest::option::of("[0-9]{10}([0-9]{2})?"),
        done in proptest::option::of("[0-9]{10}([0-9]{2})?"),
        stat in proptest::option::of(proptest::sample::select(MessageState::ALL.to_vec())),
        err in proptest::option::of("[0-9A-Fa-f]{1,3}"),
        text in proptest::option::of(".{0,20}"),
    ) {
        let r = DeliveryReceipt {
            id: Some(id),
            sub,
            dlvrd,
            submit_date: submit.as_deref().and_then(ReceiptDate::parse),
            done_date: done.as_deref().and_then(ReceiptDate::parse),
            stat,
            err,
            text: text.map(|t| t.trim_start_matches(' ').trim_end_matches(['\r', '\n']).to_owned()),
        };
        prop_assert_eq!(DeliveryReceipt::parse(&r.to_string()).unwrap(), r);
    }

    #[test]
    fn receipt_parse_never_panics(s in ".{0,200}") {
        let _ = DeliveryReceipt::parse(&s);
    }
}

#[test]
fn default_response_matches_command_id_pairs() {
    for id in CommandId::ALL {
        assert_eq!(
            PduBody::default_response(id).map(|b| b.command_id()),
            id.response(),
            "{id:?}"
        );
    }
}
