//! `submit_sm` (4.4), `deliver_sm` (4.6) and their responses. The two requests
//! share one layout; they are distinct types so a value says which way it travels.

use super::Body;
use crate::tlv::{decode_tlvs, encode_tlvs, Tlv};
use crate::types::{
    put_sm, Address, FieldError, MessageId, Reader, ServiceType, ShortMessage, SmppTime,
};

macro_rules! short_message_pdu {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            /// SMS application service, usually empty.
            pub service_type: ServiceType,
            /// TON of `source_addr`.
            pub source_addr_ton: u8,
            /// NPI of `source_addr`.
            pub source_addr_npi: u8,
            /// Originator address.
            pub source_addr: Address,
            /// TON of `destination_addr`.
            pub dest_addr_ton: u8,
            /// NPI of `destination_addr`.
            pub dest_addr_npi: u8,
            /// Recipient address.
            pub destination_addr: Address,
            /// Message mode and type; see [`esm_class`](crate::esm_class).
            pub esm_class: u8,
            /// GSM TP-PID.
            pub protocol_id: u8,
            /// Priority level.
            pub priority_flag: u8,
            /// Absolute or relative time, or empty for immediate delivery.
            pub schedule_delivery_time: SmppTime,
            /// Expiry time, or empty for the SMSC default.
            pub validity_period: SmppTime,
            /// Receipt request; see [`registered_delivery`](crate::registered_delivery).
            pub registered_delivery: u8,
            /// Replace an existing message with the same source, destination and service type.
            pub replace_if_present_flag: u8,
            /// Character set of the user data.
            pub data_coding: u8,
            /// Index of a canned message, 0 if not used.
            pub sm_default_msg_id: u8,
            /// User data (up to 254 octets); `sm_length` is derived from it.
            pub short_message: ShortMessage,
            /// Optional parameters.
            pub tlvs: Vec<Tlv>,
        }

        impl Body for $name {
            fn decode_body(r: &mut Reader<'_>) -> Result<Self, FieldError> {
                let service_type = r.cstr("service_type")?;
                let source_addr_ton = r.u8("source_addr_ton")?;
                let source_addr_npi = r.u8("source_addr_npi")?;
                let source_addr = r.cstr("source_addr")?;
                let dest_addr_ton = r.u8("dest_addr_ton")?;
                let dest_addr_npi = r.u8("dest_addr_npi")?;
                let destination_addr = r.cstr("destination_addr")?;
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
                Ok(Self {
                    service_type,
                    source_addr_ton,
                    source_addr_npi,
                    source_addr,
                    dest_addr_ton,
                    dest_addr_npi,
                    destination_addr,
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
                out.extend_from_slice(&[self.dest_addr_ton, self.dest_addr_npi]);
                self.destination_addr.encode(out);
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
    };
}

short_message_pdu!(
    /// `submit_sm`: an ESME submits a short message to the SMSC.
    SubmitSm
);
short_message_pdu!(
    /// `deliver_sm`: the SMSC delivers a mobile-originated message or a delivery receipt
    /// (`esm_class` bit 0x04) to an ESME.
    DeliverSm
);

impl DeliverSm {
    /// True when `esm_class` marks this as an SMSC delivery receipt.
    pub fn is_delivery_receipt(&self) -> bool {
        self.esm_class & crate::esm_class::MESSAGE_TYPE_MASK == crate::esm_class::DELIVERY_RECEIPT
    }
}

/// A response body holding only a `message_id` (`submit_sm_resp`, `deliver_sm_resp`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageIdResp {
    /// The SMSC's id for the message (empty in `deliver_sm_resp` and on errors).
    pub message_id: MessageId,
}

impl Body for MessageIdResp {
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        let b = MessageIdResp {
            message_id: r.cstr("message_id")?,
        };
        r.finish()?;
        Ok(b)
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        self.message_id.encode(out);
    }
}

/// `submit_sm_resp`.
pub type SubmitSmResp = MessageIdResp;
/// `deliver_sm_resp`.
pub type DeliverSmResp = MessageIdResp;
