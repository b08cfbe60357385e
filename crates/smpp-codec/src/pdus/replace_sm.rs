//! `replace_sm` (4.10); its response has no body.

use super::Body;
use crate::types::{put_sm, Address, FieldError, MessageId, Reader, ShortMessage, SmppTime};

/// `replace_sm`: replace a previously submitted, still pending message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct ReplaceSm {
    pub message_id: MessageId,
    pub source_addr_ton: u8,
    pub source_addr_npi: u8,
    pub source_addr: Address,
    pub schedule_delivery_time: SmppTime,
    pub validity_period: SmppTime,
    pub registered_delivery: u8,
    pub sm_default_msg_id: u8,
    /// New user data; `sm_length` is derived from it.
    pub short_message: ShortMessage,
}

impl Body for ReplaceSm {
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        let message_id = r.cstr("message_id")?;
        let source_addr_ton = r.u8("source_addr_ton")?;
        let source_addr_npi = r.u8("source_addr_npi")?;
        let source_addr = r.cstr("source_addr")?;
        let schedule_delivery_time = r.cstr("schedule_delivery_time")?;
        let validity_period = r.cstr("validity_period")?;
        let registered_delivery = r.u8("registered_delivery")?;
        let sm_default_msg_id = r.u8("sm_default_msg_id")?;
        let sm_length = r.u8("sm_length")? as usize;
        let short_message = r.octets(sm_length, "short_message")?;
        r.finish()?;
        Ok(ReplaceSm {
            message_id,
            source_addr_ton,
            source_addr_npi,
            source_addr,
            schedule_delivery_time,
            validity_period,
            registered_delivery,
            sm_default_msg_id,
            short_message,
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        self.message_id.encode(out);
        out.extend_from_slice(&[self.source_addr_ton, self.source_addr_npi]);
        self.source_addr.encode(out);
        self.schedule_delivery_time.encode(out);
        self.validity_period.encode(out);
        out.extend_from_slice(&[self.registered_delivery, self.sm_default_msg_id]);
        put_sm(out, &self.short_message);
    }
}
