//! `query_sm` (4.8) and its response.

use super::Body;
use crate::types::{Address, FieldError, MessageId, Reader, SmppTime};

/// `query_sm`: ask the state of a previously submitted message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct QuerySm {
    pub message_id: MessageId,
    pub source_addr_ton: u8,
    pub source_addr_npi: u8,
    pub source_addr: Address,
}

impl Body for QuerySm {
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        let b = QuerySm {
            message_id: r.cstr("message_id")?,
            source_addr_ton: r.u8("source_addr_ton")?,
            source_addr_npi: r.u8("source_addr_npi")?,
            source_addr: r.cstr("source_addr")?,
        };
        r.finish()?;
        Ok(b)
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        self.message_id.encode(out);
        out.extend_from_slice(&[self.source_addr_ton, self.source_addr_npi]);
        self.source_addr.encode(out);
    }
}

/// `query_sm_resp`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuerySmResp {
    /// The queried message.
    pub message_id: MessageId,
    /// When it reached a final state, or empty.
    pub final_date: SmppTime,
    /// Raw `message_state`; see [`MessageState::from_u8`](crate::MessageState::from_u8).
    pub message_state: u8,
    /// Network error code, 0 if none.
    pub error_code: u8,
}

impl Body for QuerySmResp {
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        let b = QuerySmResp {
            message_id: r.cstr("message_id")?,
            final_date: r.cstr("final_date")?,
            message_state: r.u8("message_state")?,
            error_code: r.u8("error_code")?,
        };
        r.finish()?;
        Ok(b)
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        self.message_id.encode(out);
        self.final_date.encode(out);
        out.extend_from_slice(&[self.message_state, self.error_code]);
    }
}
