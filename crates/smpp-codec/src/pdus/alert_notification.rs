//! `alert_notification` (4.12); it has no response.

use super::Body;
use crate::tlv::{decode_tlvs, encode_tlvs, Tlv};
use crate::types::{FieldError, LongAddress, Reader};

/// `alert_notification`: a mobile subscriber became available.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct AlertNotification {
    pub source_addr_ton: u8,
    pub source_addr_npi: u8,
    pub source_addr: LongAddress,
    pub esme_addr_ton: u8,
    pub esme_addr_npi: u8,
    pub esme_addr: LongAddress,
    /// Optional `ms_availability_status`.
    pub tlvs: Vec<Tlv>,
}

impl Body for AlertNotification {
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        Ok(AlertNotification {
            source_addr_ton: r.u8("source_addr_ton")?,
            source_addr_npi: r.u8("source_addr_npi")?,
            source_addr: r.cstr("source_addr")?,
            esme_addr_ton: r.u8("esme_addr_ton")?,
            esme_addr_npi: r.u8("esme_addr_npi")?,
            esme_addr: r.cstr("esme_addr")?,
            tlvs: decode_tlvs(r)?,
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[self.source_addr_ton, self.source_addr_npi]);
        self.source_addr.encode(out);
        out.extend_from_slice(&[self.esme_addr_ton, self.esme_addr_npi]);
        self.esme_addr.encode(out);
        encode_tlvs(&self.tlvs, out);
    }
}
