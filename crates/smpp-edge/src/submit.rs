//! `submit_sm` into the queue, concatenated parts joined first; `query_sm`; `cancel_sm`.

use api::error::ApiError;
use api::messages::Intake;
use domain::{AccountId, MessageId, MessageStatus};
use smpp::codec::{
    esm_class, registered_delivery, CancelSm, CommandStatus, MessageState, QuerySm, QuerySmResp,
    SubmitSm, SubmitSmResp, TlvsExt,
};
use store::{ReceiptMode, SmppOrigin};
use tracing::{debug, warn};

use crate::{smpp_time, Edge};

/// Concatenated messages waiting for their other parts.
pub(crate) type Partials = sms::Reassembler<PartKey, PartMeta>;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct PartKey {
    credential_id: i64,
    source: Vec<u8>,
    dest: Vec<u8>,
    reference: u16,
    total: u8,
}

/// Everything of a submit but its text.
#[derive(Debug, Clone)]
struct Envelope {
    from: Option<String>,
    to: String,
    origin: Option<SmppOrigin>,
    scheduled_at: Option<i64>,
    validity_s: Option<u64>,
    marketing: bool,
}

/// What a concatenated message keeps while its parts arrive.
pub(crate) struct PartMeta {
    id: MessageId,
    account: AccountId,
    envelope: Envelope,
    data_coding: u8,
}

/// An address as text: `+digits` for an international number (TON 1), otherwise as given.
fn address(ton: u8, addr: &[u8]) -> String {
    let text = String::from_utf8_lossy(addr).trim().to_owned();
    if ton == 1 && !text.is_empty() && !text.starts_with('+') {
        format!("+{text}")
    } else {
        text
    }
}

/// How an API refusal reads in SMPP.
fn status_of(e: &ApiError) -> CommandStatus {
    match e.slug() {
        "invalid-number" | "invalid-recipients" => CommandStatus::ESME_RINVDSTADR,
        "invalid-sender" => CommandStatus::ESME_RINVSRCADR,
        "text-too-long" | "invalid-text" => CommandStatus::ESME_RINVMSGLEN,
        "invalid-time" => CommandStatus::ESME_RINVSCHED,
        "invalid-validity" => CommandStatus::ESME_RINVEXPIRY,
        "rate-limited" => CommandStatus::ESME_RTHROTTLED,
        "insufficient-credit" | "marketing-requirements" | "account-closed" => {
            CommandStatus::ESME_RSUBMITFAIL
        }
        _ => CommandStatus::ESME_RSYSERR,
    }
}

/// Whether `data_coding` carries text we can read.
fn is_text(data_coding: u8) -> bool {
    match data_coding {
        0x00 | 0x01 | 0x03 | 0x08 => true,
        0x10..=0x3F => (data_coding >> 2) & 0x03 != 1,
        0xF0..=0xFF => data_coding & 0x04 == 0,
        _ => false,
    }
}

/// Whether the submit carries the commercial-message TLV with a non-zero value.
fn is_marketing(sm: &SubmitSm, tag: u16) -> bool {
    sm.tlvs
        .other(tag)
        .and_then(|v| v.first())
        .is_some_and(|&b| b != 0)
}

/// The concatenation of a part from SAR TLVs.
fn sar(sm: &SubmitSm) -> Option<sms::ConcatInfo> {
    sm.tlvs
        .sar()
        .map(|(reference, total, seq)| sms::ConcatInfo {
            reference,
            total,
            seq,
        })
}

pub(crate) async fn submit(
    edge: &Edge,
    credential_id: i64,
    account: AccountId,
    sm: SubmitSm,
) -> Result<SubmitSmResp, CommandStatus> {
    let state = edge.state();
    state
        .check_rate(account)
        .map_err(|_| CommandStatus::ESME_RTHROTTLED)?;
    if !is_text(sm.data_coding) {
        // Binary and 8-bit data: this gateway stores and bills texts.
        return Err(CommandStatus::ESME_RSUBMITFAIL);
    }
    let now = store::now_us();
    let scheduled_at = smpp_time::parse(sm.schedule_delivery_time.as_bytes(), now)
        .map_err(|_| CommandStatus::ESME_RINVSCHED)?;
    let validity_s = match smpp_time::parse(sm.validity_period.as_bytes(), now)
        .map_err(|_| CommandStatus::ESME_RINVEXPIRY)?
    {
        None => None,
        Some(until) => {
            let from = scheduled_at.unwrap_or(now).max(now);
            Some(
                u64::try_from((until - from) / 1_000_000)
                    .map_err(|_| CommandStatus::ESME_RINVEXPIRY)?,
            )
        }
    };
    let mode = match sm.registered_delivery & registered_delivery::SMSC_RECEIPT_MASK {
        registered_delivery::ON_FINAL => Some(ReceiptMode::Final),
        registered_delivery::ON_FAILURE => Some(ReceiptMode::FailureOnly),
        _ => None,
    };
    let source = sm.source_addr.as_bytes().to_vec();
    let dest = sm.destination_addr.as_bytes().to_vec();
    let envelope = Envelope {
        from: (!source.is_empty()).then(|| address(sm.source_addr_ton, &source)),
        to: address(sm.dest_addr_ton, &dest),
        origin: mode.map(|mode| SmppOrigin {
            credential_id,
            mode,
            source_addr: String::from_utf8_lossy(&source).into_owned(),
            dest_addr: String::from_utf8_lossy(&dest).into_owned(),
        }),
        scheduled_at,
        validity_s,
        marketing: is_marketing(&sm, edge.config().marketing_tlv),
    };

    let data = match sm.tlvs.message_payload() {
        Some(payload) if sm.short_message.is_empty() => payload,
        _ => sm.short_message.as_bytes(),
    };
    let (concat, body) = if sm.esm_class & esm_class::UDHI != 0 {
        sms::split_udh(data).ok_or(CommandStatus::ESME_RINVESMCLASS)?
    } else {
        (sar(&sm), data)
    };
    let Some(concat) = concat.filter(|c| c.total > 1) else {
        let text = sms::decode_user_data(sm.data_coding, body);
        return store_message(edge, account, None, envelope, text).await;
    };

    // One part of several: keep it until the message is complete.
    let key = PartKey {
        credential_id,
        source,
        dest,
        reference: concat.reference,
        total: concat.total,
    };
    let joined = {
        let mut partials = edge.inner.partials.lock().expect("partials");
        let joined = partials.offer(key.clone(), concat, body, || PartMeta {
            id: MessageId::new(state.ids().next()),
            account,
            envelope: envelope.clone(),
            data_coding: sm.data_coding,
        });
        match joined {
            Some(joined) => joined,
            None => {
                let meta = partials.meta_mut(&key).expect("kept until complete");
                if concat.seq == 1 {
                    // The first part's envelope is the message's (receipt request included).
                    meta.envelope = envelope;
                }
                let id = meta.id;
                debug!(%id, seq = concat.seq, total = concat.total, "part of a concatenated message kept");
                return Ok(SubmitSmResp {
                    message_id: id.to_string().as_str().try_into().unwrap_or_default(),
                });
            }
        }
    };
    let meta = joined.meta;
    let text = sms::decode_user_data(meta.data_coding, &joined.data);
    store_message(edge, meta.account, Some(meta.id), meta.envelope, text).await
}

async fn store_message(
    edge: &Edge,
    account: AccountId,
    id: Option<MessageId>,
    envelope: Envelope,
    text: String,
) -> Result<SubmitSmResp, CommandStatus> {
    let intake = Intake {
        recipients: vec![envelope.to],
        text,
        from: envelope.from,
        scheduled_at: envelope.scheduled_at,
        validity_s: envelope.validity_s,
        client_ref: None,
        allow_transliteration: false,
        message_id: id,
        to_list: None,
        marketing: envelope.marketing,
        ..Intake::default()
    };
    match api::messages::accept(edge.state(), account, intake, None, envelope.origin).await {
        Ok(accepted) => {
            let id = accepted
                .ids
                .first()
                .copied()
                .ok_or(CommandStatus::ESME_RSYSERR)?;
            Ok(SubmitSmResp {
                message_id: id.to_string().as_str().try_into().unwrap_or_default(),
            })
        }
        Err(e) => {
            debug!(problem = e.slug(), detail = e.detail(), "submit_sm refused");
            Err(status_of(&e))
        }
    }
}

/// Stores the concatenated messages whose parts stopped coming, with the text that arrived.
pub(crate) async fn flush_stale(edge: &Edge) {
    let timeout = edge.config().reassembly_timeout;
    let stale = edge
        .inner
        .partials
        .lock()
        .expect("partials")
        .take_expired(timeout);
    for joined in stale {
        let meta = joined.meta;
        warn!(id = %meta.id, missing = joined.missing, "concatenated message incomplete after the timeout; sending the parts that arrived");
        let text = sms::decode_user_data(meta.data_coding, &joined.data);
        if let Err(status) =
            store_message(edge, meta.account, Some(meta.id), meta.envelope, text).await
        {
            warn!(id = %meta.id, %status, "incomplete concatenated message refused");
        }
    }
}

fn parse_id(id: &[u8]) -> Result<MessageId, CommandStatus> {
    std::str::from_utf8(id)
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .map(MessageId::new)
        .ok_or(CommandStatus::ESME_RINVMSGID)
}

/// The SMPP message state of a status.
pub(crate) fn message_state(status: MessageStatus) -> MessageState {
    match status {
        MessageStatus::Scheduled
        | MessageStatus::Queued
        | MessageStatus::Sending
        | MessageStatus::Sent => MessageState::Enroute,
        MessageStatus::Delivered => MessageState::Delivered,
        MessageStatus::Expired => MessageState::Expired,
        MessageStatus::Cancelled => MessageState::Deleted,
        MessageStatus::Undeliverable | MessageStatus::Failed => MessageState::Undeliverable,
        MessageStatus::Rejected | MessageStatus::Blocked => MessageState::Rejected,
    }
}

pub(crate) async fn query(
    edge: &Edge,
    account: AccountId,
    q: QuerySm,
) -> Result<QuerySmResp, CommandStatus> {
    let id = parse_id(q.message_id.as_bytes())?;
    let m = edge
        .state()
        .store()
        .get_message(account, id)
        .await
        .map_err(|_| CommandStatus::ESME_RSYSERR)?
        .ok_or(CommandStatus::ESME_RQUERYFAIL)?;
    let final_date = if m.status.is_final() {
        smpp_time::format(m.updated_at)
    } else {
        String::new()
    };
    Ok(QuerySmResp {
        message_id: q.message_id,
        final_date: final_date.as_str().try_into().unwrap_or_default(),
        message_state: message_state(m.status).value(),
        error_code: 0,
    })
}

pub(crate) async fn cancel(
    edge: &Edge,
    account: AccountId,
    c: CancelSm,
) -> Result<(), CommandStatus> {
    let id = parse_id(c.message_id.as_bytes())?;
    match edge
        .state()
        .store()
        .cancel_message(account, id, store::now_us())
        .await
    {
        Ok(store::CancelOutcome::Cancelled) => Ok(()),
        Ok(_) => Err(CommandStatus::ESME_RCANCELFAIL),
        Err(_) => Err(CommandStatus::ESME_RSYSERR),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smpp::codec::Tlv;

    #[test]
    fn addresses_and_codings() {
        assert_eq!(address(1, b"420777123456"), "+420777123456");
        assert_eq!(address(1, b"+420777123456"), "+420777123456");
        assert_eq!(address(5, b"ACME"), "ACME");
        assert_eq!(address(0, b"777123456"), "777123456");
        for dc in [0x00, 0x01, 0x03, 0x08, 0x18, 0xF0] {
            assert!(is_text(dc), "{dc:#x}");
        }
        for dc in [0x02, 0x04, 0x14, 0xF4] {
            assert!(!is_text(dc), "{dc:#x}");
        }
    }

    #[test]
    fn the_marketing_tlv_marks_a_commercial_message() {
        let mut sm = SubmitSm::default();
        assert!(!is_marketing(&sm, 0x1502));
        sm.tlvs.push(Tlv::Other {
            tag: 0x1502,
            value: smpp::codec::tlv::TlvValue::new(vec![1]).unwrap(),
        });
        assert!(is_marketing(&sm, 0x1502));
        assert!(!is_marketing(&sm, 0x1503));
        sm.tlvs[0] = Tlv::Other {
            tag: 0x1502,
            value: smpp::codec::tlv::TlvValue::new(vec![0]).unwrap(),
        };
        assert!(!is_marketing(&sm, 0x1502));
    }

    #[test]
    fn sar_tlvs_describe_a_part() {
        let mut sm = SubmitSm::default();
        assert_eq!(sar(&sm), None);
        sm.tlvs = vec![
            Tlv::SarMsgRefNum(7),
            Tlv::SarTotalSegments(2),
            Tlv::SarSegmentSeqnum(2),
        ];
        assert_eq!(
            sar(&sm),
            Some(sms::ConcatInfo {
                reference: 7,
                total: 2,
                seq: 2
            })
        );
        sm.tlvs[2] = Tlv::SarSegmentSeqnum(3);
        assert_eq!(sar(&sm), None);
    }

    #[test]
    fn every_status_has_a_message_state() {
        for s in MessageStatus::ALL {
            let state = message_state(s);
            assert_eq!(state.is_final(), s.is_final(), "{s:?}");
        }
    }

    #[test]
    fn refusals_read_as_smpp_statuses() {
        assert_eq!(
            status_of(&ApiError::account_closed()),
            CommandStatus::ESME_RSUBMITFAIL
        );
        assert_eq!(
            status_of(&ApiError::insufficient_credit(
                domain::Money::ZERO,
                domain::Money::from_hundredths(90)
            )),
            CommandStatus::ESME_RSUBMITFAIL
        );
        assert_eq!(
            status_of(&ApiError::invalid("invalid-number", "to", "bad")),
            CommandStatus::ESME_RINVDSTADR
        );
        assert_eq!(
            status_of(&ApiError::internal(&"boom")),
            CommandStatus::ESME_RSYSERR
        );
    }
}
