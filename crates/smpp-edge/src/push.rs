//! Pushes owed delivery receipts and inbound messages to customers' receiving binds, and
//! closes the sessions of revoked credentials.

use std::time::{Duration, Instant};

use domain::MessageStatus;
use futures::future::join_all;
use smpp::codec::tlv::TlvValue;
use smpp::codec::{esm_class, DeliverSm, DeliveryReceipt, ReceiptDate, ShortMessage, Tlv};
use store::{OwedReceipt, PendingMo};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::{submit, Edge, Receivers};

const BATCH: u32 = 500;
const CREDENTIAL_CHECK: Duration = Duration::from_secs(2);

pub(crate) async fn run(edge: Edge, shutdown: CancellationToken) {
    let mut last_check = Instant::now();
    loop {
        let busy = match round(&edge).await {
            Ok(n) => n >= BATCH as usize,
            Err(e) => {
                warn!(error = %e, "pushing receipts to SMPP customers failed; retrying");
                false
            }
        };
        submit::flush_stale(&edge).await;
        if last_check.elapsed() >= CREDENTIAL_CHECK {
            last_check = Instant::now();
            check_credentials(&edge).await;
        }
        if busy {
            if shutdown.is_cancelled() {
                return;
            }
            continue;
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = edge.woken() => {}
            _ = tokio::time::sleep(edge.config().poll_interval) => {}
        }
    }
}

/// One pass; returns how many receipts and inbound messages it handled.
async fn round(edge: &Edge) -> Result<usize, store::StoreError> {
    let receivers = edge.receivers();
    if receivers.is_empty() {
        return Ok(0);
    }
    let store = edge.state().store();
    let credentials: Vec<i64> = receivers.iter().map(|r| r.credential_id).collect();
    let owed = store.owed_receipts(&credentials, BATCH).await?;
    let mut handled = owed.len();
    let results = join_all(owed.iter().map(|r| push_receipt(edge, &receivers, r))).await;
    let done: Vec<domain::MessageId> = owed
        .iter()
        .zip(results)
        .filter(|(_, ok)| *ok)
        .map(|(r, _)| r.message_id)
        .collect();
    store.mark_receipts_sent(&done, store::now_us()).await?;

    let mut accounts: Vec<domain::AccountId> = receivers.iter().map(|r| r.account).collect();
    accounts.sort_unstable_by_key(|a| a.get());
    accounts.dedup();
    let since =
        store::now_us() - i64::try_from(edge.config().mo_max_age.as_micros()).unwrap_or(i64::MAX);
    let pending = store.pending_mo(&accounts, since, BATCH).await?;
    handled += pending.len();
    for mo in &pending {
        let Some(target) = receivers.iter().find(|r| r.account == mo.account) else {
            continue;
        };
        let Some(session) = edge.pick_receiver(&target.system_id) else {
            continue;
        };
        match session.deliver(mo_pdu(mo)).await {
            Ok(status) if status.is_ok() => {
                store
                    .mark_mo_pushed(mo.inbound_id, target.credential_id, store::now_us())
                    .await?;
            }
            Ok(status) => debug!(%status, "customer refused an inbound message; will retry"),
            Err(e) => debug!(error = %e, "inbound message not pushed; will retry"),
        }
    }
    Ok(handled)
}

/// Sends one receipt; true when it is done with (delivered, or not wanted).
async fn push_receipt(edge: &Edge, receivers: &[Receivers], r: &OwedReceipt) -> bool {
    if r.failure_only && r.status == MessageStatus::Delivered {
        return true;
    }
    let Some(target) = receivers
        .iter()
        .find(|x| x.credential_id == r.credential_id)
    else {
        return false;
    };
    let Some(session) = edge.pick_receiver(&target.system_id) else {
        return false;
    };
    match session.deliver(receipt_pdu(r)).await {
        Ok(status) if status.is_ok() => true,
        Ok(status) => {
            debug!(%status, id = %r.message_id, "customer refused a receipt; will retry");
            false
        }
        Err(e) => {
            debug!(error = %e, id = %r.message_id, "receipt not pushed; will retry");
            false
        }
    }
}

/// TON/NPI for an address: international number, or alphanumeric.
fn ton_npi(addr: &str) -> (u8, u8) {
    let digits = addr.strip_prefix('+').unwrap_or(addr);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        (1, 1)
    } else {
        (5, 0)
    }
}

fn receipt_date(us: i64) -> ReceiptDate {
    let t = time::OffsetDateTime::from_unix_timestamp(us.div_euclid(1_000_000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    ReceiptDate {
        year: (t.year() % 100) as u8,
        month: u8::from(t.month()),
        day: t.day(),
        hour: t.hour(),
        minute: t.minute(),
        second: Some(t.second()),
    }
}

/// The receipt `deliver_sm` for a message: addresses swapped back, text form and TLVs.
pub(crate) fn receipt_pdu(r: &OwedReceipt) -> DeliverSm {
    let state = submit::message_state(r.status);
    let delivered = r.status == MessageStatus::Delivered;
    let receipt = DeliveryReceipt {
        id: Some(r.message_id.to_string()),
        sub: Some(1),
        dlvrd: Some(u32::from(delivered)),
        submit_date: Some(receipt_date(r.submitted_at)),
        done_date: Some(receipt_date(r.done_at)),
        stat: Some(state),
        err: Some(if delivered { "000" } else { "001" }.into()),
        text: Some(r.text.clone()),
    };
    let (src_ton, src_npi) = ton_npi(&r.dest_addr);
    let (dst_ton, dst_npi) = ton_npi(&r.source_addr);
    DeliverSm {
        source_addr_ton: src_ton,
        source_addr_npi: src_npi,
        source_addr: r.dest_addr.as_str().try_into().unwrap_or_default(),
        dest_addr_ton: dst_ton,
        dest_addr_npi: dst_npi,
        destination_addr: r.source_addr.as_str().try_into().unwrap_or_default(),
        esm_class: esm_class::DELIVERY_RECEIPT,
        short_message: ShortMessage::new(receipt.to_string().into_bytes()).unwrap_or_default(),
        tlvs: receipt.tlvs(),
        ..Default::default()
    }
}

/// An inbound message as `deliver_sm`: GSM 03.38 (unpacked) when the text allows, else
/// UCS-2; in `message_payload` when it is over 254 octets.
pub(crate) fn mo_pdu(mo: &PendingMo) -> DeliverSm {
    let (data_coding, data) = match sms::gsm7_encode(&mo.body) {
        Some(septets) => (0x00, septets),
        None => (0x08, sms::ucs2_encode(&mo.body)),
    };
    let (short_message, tlvs) = match ShortMessage::new(data.clone()) {
        Ok(sm) => (sm, Vec::new()),
        Err(_) => (
            ShortMessage::default(),
            vec![Tlv::MessagePayload(TlvValue::new(data).unwrap_or_default())],
        ),
    };
    let from = mo.from.strip_prefix('+').unwrap_or(&mo.from);
    let to = mo.to.strip_prefix('+').unwrap_or(&mo.to);
    let (src_ton, src_npi) = ton_npi(&mo.from);
    let (dst_ton, dst_npi) = ton_npi(&mo.to);
    DeliverSm {
        source_addr_ton: src_ton,
        source_addr_npi: src_npi,
        source_addr: from.try_into().unwrap_or_default(),
        dest_addr_ton: dst_ton,
        dest_addr_npi: dst_npi,
        destination_addr: to.try_into().unwrap_or_default(),
        data_coding,
        short_message,
        tlvs,
        ..Default::default()
    }
}

/// Closes the sessions of credentials revoked since they bound.
async fn check_credentials(edge: &Edge) {
    for r in edge.bound_system_ids() {
        match edge.state().store().smpp_credential(&r).await {
            Ok(Some(_)) => {}
            Ok(None) => edge.drop_credential(&r).await,
            Err(e) => warn!(error = %e, "checking SMPP credentials failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{AccountId, MessageId};
    use smpp::codec::TlvsExt;

    #[test]
    fn a_receipt_swaps_the_addresses_and_carries_the_outcome() {
        let r = OwedReceipt {
            message_id: MessageId::new(42),
            credential_id: 1,
            source_addr: "ACME".into(),
            dest_addr: "420777123456".into(),
            status: MessageStatus::Undeliverable,
            status_reason: None,
            submitted_at: 1_795_953_600_000_000,
            done_at: 1_795_953_660_000_000,
            text: "hello".into(),
            failure_only: false,
        };
        let pdu = receipt_pdu(&r);
        assert_eq!(pdu.source_addr.as_bytes(), b"420777123456");
        assert_eq!((pdu.source_addr_ton, pdu.source_addr_npi), (1, 1));
        assert_eq!(pdu.destination_addr.as_bytes(), b"ACME");
        assert_eq!(pdu.dest_addr_ton, 5);
        assert_eq!(pdu.esm_class, esm_class::DELIVERY_RECEIPT);
        let parsed = DeliveryReceipt::from_deliver_sm(&pdu).expect("a receipt");
        assert_eq!(parsed.id.as_deref(), Some("42"));
        assert_eq!(parsed.stat, Some(smpp::codec::MessageState::Undeliverable));
        assert_eq!(parsed.done_date, Some(receipt_date(r.done_at)));
    }

    #[test]
    fn inbound_texts_pick_their_coding_and_fit() {
        let mut mo = PendingMo {
            inbound_id: 1,
            account: AccountId::new(1),
            from: "+420777123456".into(),
            to: "+420900100".into(),
            body: "STOP".into(),
        };
        let pdu = mo_pdu(&mo);
        assert_eq!(pdu.data_coding, 0);
        assert_eq!(pdu.short_message.as_bytes(), b"STOP");
        assert_eq!(pdu.source_addr.as_bytes(), b"420777123456");
        mo.body = "Příliš žluťoučký kůň ".repeat(10);
        let pdu = mo_pdu(&mo);
        assert_eq!(pdu.data_coding, 8);
        assert!(pdu.short_message.is_empty());
        assert_eq!(
            sms::ucs2_decode(pdu.tlvs.message_payload().unwrap()),
            mo.body
        );
    }
}
