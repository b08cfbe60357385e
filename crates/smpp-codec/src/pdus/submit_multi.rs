//! `submit_multi` (4.5) and its response.

use super::Body;
use crate::status::CommandStatus;
use crate::tlv::{decode_tlvs, encode_tlvs, Tlv};
use crate::types::{
    put_sm, put_u32, Address, BoundedVec, FieldError, MessageId, Reader, ServiceType, ShortMessage,
    SmppTime,
};

/// One entry of `dest_address`: an SME address (`dest_flag` 1) or a distribution list (2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DestAddress {
    /// An SME address.
    Sme {
        /// Type of number.
        dest_addr_ton: u8,
        /// Numbering plan.
        dest_addr_npi: u8,
        /// The address.
        destination_addr: Address,
    },
    /// A distribution list name known to the SMSC.
    DistributionList {
        /// `dl_name`.
        dl_name: Address,
    },
}

/// `dest_address` list; `number_of_dests` (at most 254) is derived from it.
pub type DestAddresses = BoundedVec<DestAddress, 254>;

/// `submit_multi`: one message to several destinations.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct SubmitMulti {
    pub service_type: ServiceType,
    pub source_addr_ton: u8,
    pub source_addr_npi: u8,
    pub source_addr: Address,
    pub dest_addresses: DestAddresses,
    pub esm_class: u8,
    pub protocol_id: u8,
    pub priority_flag: u8,
    pub schedule_delivery_time: SmppTime,
    pub validity_period: SmppTime,
    pub registered_delivery: u8,
    pub replace_if_present_flag: u8,
    pub data_coding: u8,
    pub sm_default_msg_id: u8,
    pub short_message: ShortMessage,
    pub tlvs: Vec<Tlv>,
}

impl Body for SubmitMulti {
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        let service_type = r.cstr("service_type")?;
        let source_addr_ton = r.u8("source_addr_ton")?;
        let source_addr_npi = r.u8("source_addr_npi")?;
        let source_addr = r.cstr("source_addr")?;
        let n = r.u8("number_of_dests")?;
        let mut dests = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let dest = match r.u8("dest_flag")? {
                1 => DestAddress::Sme {
                    dest_addr_ton: r.u8("dest_addr_ton")?,
                    dest_addr_npi: r.u8("dest_addr_npi")?,
                    destination_addr: r.cstr("destination_addr")?,
                },
                2 => DestAddress::DistributionList {
                    dl_name: r.cstr("dl_name")?,
                },
                other => {
                    return Err(FieldError::InvalidValue {
                        field: "dest_flag",
                        value: other.into(),
                    })
                }
            };
            dests.push(dest);
        }
        let dest_addresses = BoundedVec::new(dests).map_err(|_| FieldError::InvalidValue {
            field: "number_of_dests",
            value: n.into(),
        })?;
        let esm_class = r.u8("esm_class")?;
        let protocol_id = r.u8("protocol_id")?;
        let priority_flag = r.u8("priority_flag")?;
        let schedule_delivery_time = r.cstr("schedule_delivery_time")?;
        let validity_period = r.cstr("validity_period")?;
        let registered_delivery = r.u8("registered_delivery")?;
        let replace_if_present_flag = r.u8("replace_if_present_flag")?;
        let data_coding = r.u8("data_coding")?;
        let sm_default_msg_id = r.u8("sm_default_msg_id")?;
        let sm_length = r.u8("sm_length")? as usize;
        let short_message = r.octets(sm_length, "short_message")?;
        let tlvs = decode_tlvs(r)?;
        Ok(SubmitMulti {
            service_type,
            source_addr_ton,
            source_addr_npi,
            source_addr,
            dest_addresses,
            esm_class,
            protocol_id,
            priority_flag,
            schedule_delivery_time,
            validity_period,
            registered_delivery,
            replace_if_present_flag,
            data_coding,
            sm_default_msg_id,
            short_message,
            tlvs,
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        self.service_type.encode(out);
        out.extend_from_slice(&[self.source_addr_ton, self.source_addr_npi]);
        self.source_addr.encode(out);
        // At most 254 entries.
        out.push(self.dest_addresses.len() as u8);
        for d in self.dest_addresses.as_slice() {
            match d {
                DestAddress::Sme {
                    dest_addr_ton,
                    dest_addr_npi,
                    destination_addr,
                } => {
                    out.extend_from_slice(&[1, *dest_addr_ton, *dest_addr_npi]);
                    destination_addr.encode(out);
                }
                DestAddress::DistributionList { dl_name } => {
                    out.push(2);
                    dl_name.encode(out);
                }
            }
        }
        out.extend_from_slice(&[self.esm_class, self.protocol_id, self.priority_flag]);
        self.schedule_delivery_time.encode(out);
        self.validity_period.encode(out);
        out.extend_from_slice(&[
            self.registered_delivery,
            self.replace_if_present_flag,
            self.data_coding,
            self.sm_default_msg_id,
        ]);
        put_sm(out, &self.short_message);
        encode_tlvs(&self.tlvs, out);
    }
}

/// A destination the SMSC could not accept, in `submit_multi_resp`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct UnsuccessSme {
    pub dest_addr_ton: u8,
    pub dest_addr_npi: u8,
    pub destination_addr: Address,
    /// Why this destination failed.
    pub error_status_code: CommandStatus,
}

/// `unsuccess_sme` list; `no_unsuccess` (at most 255) is derived from it.
pub type UnsuccessSmes = BoundedVec<UnsuccessSme, 255>;

/// `submit_multi_resp`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubmitMultiResp {
    /// The SMSC's id for the message.
    pub message_id: MessageId,
    /// Destinations that failed.
    pub unsuccess_smes: UnsuccessSmes,
}

impl Body for SubmitMultiResp {
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        let message_id = r.cstr("message_id")?;
        let n = r.u8("no_unsuccess")?;
        let mut smes = Vec::with_capacity(n as usize);
        for _ in 0..n {
            smes.push(UnsuccessSme {
                dest_addr_ton: r.u8("dest_addr_ton")?,
                dest_addr_npi: r.u8("dest_addr_npi")?,
                destination_addr: r.cstr("destination_addr")?,
                error_status_code: CommandStatus(r.u32("error_status_code")?),
            });
        }
        r.finish()?;
        Ok(SubmitMultiResp {
            message_id,
            // n is a u8, so at most 255 entries.
            unsuccess_smes: BoundedVec::new(smes).unwrap_or_default(),
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        self.message_id.encode(out);
        out.push(self.unsuccess_smes.len() as u8);
        for s in self.unsuccess_smes.as_slice() {
            out.extend_from_slice(&[s.dest_addr_ton, s.dest_addr_npi]);
            s.destination_addr.encode(out);
            put_u32(out, s.error_status_code.0);
        }
    }
}
