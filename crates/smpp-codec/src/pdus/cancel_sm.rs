//! `cancel_sm` (4.9); its response has no body.

use super::Body;
use crate::types::{Address, FieldError, MessageId, Reader, ServiceType};

/// `cancel_sm`: cancel one pending message, or all matching source/destination/service type.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct CancelSm {
    pub service_type: ServiceType,
    pub message_id: MessageId,
    pub source_addr_ton: u8,
    pub source_addr_npi: u8,
    pub source_addr: Address,
    pub dest_addr_ton: u8,
    pub dest_addr_npi: u8,
    pub destination_addr: Address,
}

impl Body for CancelSm {
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        let b = CancelSm {
            service_type: r.cstr("service_type")?,
            message_id: r.cstr("message_id")?,
            source_addr_ton: r.u8("source_addr_ton")?,
            source_addr_npi: r.u8("source_addr_npi")?,
            source_addr: r.cstr("source_addr")?,
            dest_addr_ton: r.u8("dest_addr_ton")?,
            dest_addr_npi: r.u8("dest_addr_npi")?,
            destination_addr: r.cstr("destination_addr")?,
        };
        r.finish()?;
        Ok(b)
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        self.service_type.encode(out);
        self.message_id.encode(out);
        out.extend_from_slice(&[self.source_addr_ton, self.source_addr_npi]);
        self.source_addr.encode(out);
        out.extend_from_slice(&[self.dest_addr_ton, self.dest_addr_npi]);
        self.destination_addr.encode(out);
    }
}
