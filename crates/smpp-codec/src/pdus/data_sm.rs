//! `data_sm` (4.7) and its response.

use super::Body;
use crate::tlv::{decode_tlvs, encode_tlvs, Tlv};
use crate::types::{FieldError, LongAddress, MessageId, Reader, ServiceType};

/// `data_sm`: message transfer with the payload in TLVs (`message_payload`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct DataSm {
    pub service_type: ServiceType,
    pub source_addr_ton: u8,
    pub source_addr_npi: u8,
    pub source_addr: LongAddress,
    pub dest_addr_ton: u8,
    pub dest_addr_npi: u8,
    pub destination_addr: LongAddress,
    pub esm_class: u8,
    pub registered_delivery: u8,
    pub data_coding: u8,
    pub tlvs: Vec<Tlv>,
}

impl Body for DataSm {
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        Ok(DataSm {
            service_type: r.cstr("service_type")?,
            source_addr_ton: r.u8("source_addr_ton")?,
            source_addr_npi: r.u8("source_addr_npi")?,
            source_addr: r.cstr("source_addr")?,
            dest_addr_ton: r.u8("dest_addr_ton")?,
            dest_addr_npi: r.u8("dest_addr_npi")?,
            destination_addr: r.cstr("destination_addr")?,
            esm_class: r.u8("esm_class")?,
            registered_delivery: r.u8("registered_delivery")?,
            data_coding: r.u8("data_coding")?,
            tlvs: decode_tlvs(r)?,
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        self.service_type.encode(out);
        out.extend_from_slice(&[self.source_addr_ton, self.source_addr_npi]);
        self.source_addr.encode(out);
        out.extend_from_slice(&[self.dest_addr_ton, self.dest_addr_npi]);
        self.destination_addr.encode(out);
        out.extend_from_slice(&[self.esm_class, self.registered_delivery, self.data_coding]);
        encode_tlvs(&self.tlvs, out);
    }
}

/// `data_sm_resp`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataSmResp {
    /// The SMSC's id for the message.
    pub message_id: MessageId,
    /// Optional parameters (`delivery_failure_reason`, `network_error_code`, ...).
    pub tlvs: Vec<Tlv>,
}

impl Body for DataSmResp {
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        Ok(DataSmResp {
            message_id: r.cstr("message_id")?,
            tlvs: decode_tlvs(r)?,
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        self.message_id.encode(out);
        encode_tlvs(&self.tlvs, out);
    }
}
