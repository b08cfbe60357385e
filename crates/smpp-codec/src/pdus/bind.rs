//! `bind_transmitter`, `bind_receiver`, `bind_transceiver` (4.1), their responses, and `outbind` (4.1.7).

use super::Body;
use crate::tlv::{decode_tlvs, encode_tlvs, Tlv};
use crate::types::{AddressRange, FieldError, Password, Reader, SystemId, SystemType};

/// Body shared by the three bind requests; the [`PduBody`](crate::PduBody) variant says which.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bind {
    /// The ESME's identity.
    pub system_id: SystemId,
    /// Its password.
    pub password: Password,
    /// Type of ESME, often empty.
    pub system_type: SystemType,
    /// SMPP version: `0x34` for v3.4.
    pub interface_version: u8,
    /// TON of `address_range`.
    pub addr_ton: u8,
    /// NPI of `address_range`.
    pub addr_npi: u8,
    /// Addresses served by a receiver (a regular expression by convention), often empty.
    pub address_range: AddressRange,
}

impl Body for Bind {
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        let b = Bind {
            system_id: r.cstr("system_id")?,
            password: r.cstr("password")?,
            system_type: r.cstr("system_type")?,
            interface_version: r.u8("interface_version")?,
            addr_ton: r.u8("addr_ton")?,
            addr_npi: r.u8("addr_npi")?,
            address_range: r.cstr("address_range")?,
        };
        r.finish()?;
        Ok(b)
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        self.system_id.encode(out);
        self.password.encode(out);
        self.system_type.encode(out);
        out.extend_from_slice(&[self.interface_version, self.addr_ton, self.addr_npi]);
        self.address_range.encode(out);
    }
}

/// Body shared by the three bind responses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BindResp {
    /// The SMSC's identity.
    pub system_id: SystemId,
    /// Optional `sc_interface_version`.
    pub tlvs: Vec<Tlv>,
}

impl Body for BindResp {
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        Ok(BindResp {
            system_id: r.cstr("system_id")?,
            tlvs: decode_tlvs(r)?,
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        self.system_id.encode(out);
        encode_tlvs(&self.tlvs, out);
    }
}

/// `outbind`: the SMSC asks the ESME to bind as a receiver.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outbind {
    /// The SMSC's identity.
    pub system_id: SystemId,
    /// Password the ESME checks.
    pub password: Password,
}

impl Body for Outbind {
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        let b = Outbind {
            system_id: r.cstr("system_id")?,
            password: r.cstr("password")?,
        };
        r.finish()?;
        Ok(b)
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        self.system_id.encode(out);
        self.password.encode(out);
    }
}
