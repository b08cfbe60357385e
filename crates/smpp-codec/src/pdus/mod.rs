//! PDU bodies, one file per operation (SMPP v3.4 chapter 4).

mod alert_notification;
mod bind;
mod cancel_sm;
mod data_sm;
mod query_sm;
mod replace_sm;
mod submit_multi;
mod submit_sm;

pub use alert_notification::AlertNotification;
pub use bind::{Bind, BindResp, Outbind};
pub use cancel_sm::CancelSm;
pub use data_sm::{DataSm, DataSmResp};
pub use query_sm::{QuerySm, QuerySmResp};
pub use replace_sm::ReplaceSm;
pub use submit_multi::{
    DestAddress, DestAddresses, SubmitMulti, SubmitMultiResp, UnsuccessSme, UnsuccessSmes,
};
pub use submit_sm::{DeliverSm, DeliverSmResp, MessageIdResp, SubmitSm, SubmitSmResp};

use crate::command_id::CommandId;
use crate::types::{FieldError, Reader};

/// Encoding and decoding of a body (everything after the 16-octet header).
pub(crate) trait Body: Sized {
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, FieldError>;
    fn encode_body(&self, out: &mut Vec<u8>);
}

/// The body of a PDU; the variant determines the `command_id`.
///
/// Responses whose body is empty on the wire (allowed when `command_status` is
/// non-zero) decode to the body type's `Default`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs, clippy::large_enum_variant)]
pub enum PduBody {
    GenericNack,
    BindReceiver(Bind),
    BindReceiverResp(BindResp),
    BindTransmitter(Bind),
    BindTransmitterResp(BindResp),
    BindTransceiver(Bind),
    BindTransceiverResp(BindResp),
    Outbind(Outbind),
    Unbind,
    UnbindResp,
    SubmitSm(SubmitSm),
    SubmitSmResp(SubmitSmResp),
    SubmitMulti(SubmitMulti),
    SubmitMultiResp(SubmitMultiResp),
    DeliverSm(DeliverSm),
    DeliverSmResp(DeliverSmResp),
    DataSm(DataSm),
    DataSmResp(DataSmResp),
    QuerySm(QuerySm),
    QuerySmResp(QuerySmResp),
    CancelSm(CancelSm),
    CancelSmResp,
    ReplaceSm(ReplaceSm),
    ReplaceSmResp,
    EnquireLink,
    EnquireLinkResp,
    AlertNotification(AlertNotification),
}

impl PduBody {
    /// The `command_id` this body is sent with.
    pub fn command_id(&self) -> CommandId {
        use PduBody as B;
        match self {
            B::GenericNack => CommandId::GenericNack,
            B::BindReceiver(_) => CommandId::BindReceiver,
            B::BindReceiverResp(_) => CommandId::BindReceiverResp,
            B::BindTransmitter(_) => CommandId::BindTransmitter,
            B::BindTransmitterResp(_) => CommandId::BindTransmitterResp,
            B::BindTransceiver(_) => CommandId::BindTransceiver,
            B::BindTransceiverResp(_) => CommandId::BindTransceiverResp,
            B::Outbind(_) => CommandId::Outbind,
            B::Unbind => CommandId::Unbind,
            B::UnbindResp => CommandId::UnbindResp,
            B::SubmitSm(_) => CommandId::SubmitSm,
            B::SubmitSmResp(_) => CommandId::SubmitSmResp,
            B::SubmitMulti(_) => CommandId::SubmitMulti,
            B::SubmitMultiResp(_) => CommandId::SubmitMultiResp,
            B::DeliverSm(_) => CommandId::DeliverSm,
            B::DeliverSmResp(_) => CommandId::DeliverSmResp,
            B::DataSm(_) => CommandId::DataSm,
            B::DataSmResp(_) => CommandId::DataSmResp,
            B::QuerySm(_) => CommandId::QuerySm,
            B::QuerySmResp(_) => CommandId::QuerySmResp,
            B::CancelSm(_) => CommandId::CancelSm,
            B::CancelSmResp => CommandId::CancelSmResp,
            B::ReplaceSm(_) => CommandId::ReplaceSm,
            B::ReplaceSmResp => CommandId::ReplaceSmResp,
            B::EnquireLink => CommandId::EnquireLink,
            B::EnquireLinkResp => CommandId::EnquireLinkResp,
            B::AlertNotification(_) => CommandId::AlertNotification,
        }
    }

    /// The response body answering `request`, with default fields: what a peer sends
    /// with a non-zero `command_status`. `None` for responses, `outbind` and
    /// `alert_notification`, which are not answered.
    pub fn default_response(request: CommandId) -> Option<PduBody> {
        use CommandId as C;
        use PduBody as B;
        Some(match request {
            C::BindReceiver => B::BindReceiverResp(BindResp::default()),
            C::BindTransmitter => B::BindTransmitterResp(BindResp::default()),
            C::BindTransceiver => B::BindTransceiverResp(BindResp::default()),
            C::Unbind => B::UnbindResp,
            C::SubmitSm => B::SubmitSmResp(SubmitSmResp::default()),
            C::SubmitMulti => B::SubmitMultiResp(SubmitMultiResp::default()),
            C::DeliverSm => B::DeliverSmResp(DeliverSmResp::default()),
            C::DataSm => B::DataSmResp(DataSmResp::default()),
            C::QuerySm => B::QuerySmResp(QuerySmResp::default()),
            C::CancelSm => B::CancelSmResp,
            C::ReplaceSm => B::ReplaceSmResp,
            C::EnquireLink => B::EnquireLinkResp,
            _ => return None,
        })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        use PduBody as B;
        match self {
            B::GenericNack
            | B::Unbind
            | B::UnbindResp
            | B::CancelSmResp
            | B::ReplaceSmResp
            | B::EnquireLink
            | B::EnquireLinkResp => {}
            B::BindReceiver(b) | B::BindTransmitter(b) | B::BindTransceiver(b) => {
                b.encode_body(out)
            }
            B::BindReceiverResp(b) | B::BindTransmitterResp(b) | B::BindTransceiverResp(b) => {
                b.encode_body(out)
            }
            B::Outbind(b) => b.encode_body(out),
            B::SubmitSm(b) => b.encode_body(out),
            B::SubmitSmResp(b) | B::DeliverSmResp(b) => b.encode_body(out),
            B::SubmitMulti(b) => b.encode_body(out),
            B::SubmitMultiResp(b) => b.encode_body(out),
            B::DeliverSm(b) => b.encode_body(out),
            B::DataSm(b) => b.encode_body(out),
            B::DataSmResp(b) => b.encode_body(out),
            B::QuerySm(b) => b.encode_body(out),
            B::QuerySmResp(b) => b.encode_body(out),
            B::CancelSm(b) => b.encode_body(out),
            B::ReplaceSm(b) => b.encode_body(out),
            B::AlertNotification(b) => b.encode_body(out),
        }
    }

    pub(crate) fn decode(id: CommandId, body: &[u8]) -> Result<PduBody, FieldError> {
        fn req<T: Body>(body: &[u8]) -> Result<T, FieldError> {
            T::decode_body(&mut Reader::new(body))
        }
        fn resp<T: Body + Default>(body: &[u8]) -> Result<T, FieldError> {
            if body.is_empty() {
                Ok(T::default())
            } else {
                T::decode_body(&mut Reader::new(body))
            }
        }
        fn empty(body: &[u8], b: PduBody) -> Result<PduBody, FieldError> {
            Reader::new(body).finish()?;
            Ok(b)
        }
        use CommandId as C;
        use PduBody as B;
        Ok(match id {
            C::GenericNack => empty(body, B::GenericNack)?,
            C::BindReceiver => B::BindReceiver(req(body)?),
            C::BindReceiverResp => B::BindReceiverResp(resp(body)?),
            C::BindTransmitter => B::BindTransmitter(req(body)?),
            C::BindTransmitterResp => B::BindTransmitterResp(resp(body)?),
            C::BindTransceiver => B::BindTransceiver(req(body)?),
            C::BindTransceiverResp => B::BindTransceiverResp(resp(body)?),
            C::Outbind => B::Outbind(req(body)?),
            C::Unbind => empty(body, B::Unbind)?,
            C::UnbindResp => empty(body, B::UnbindResp)?,
            C::SubmitSm => B::SubmitSm(req(body)?),
            C::SubmitSmResp => B::SubmitSmResp(resp(body)?),
            C::SubmitMulti => B::SubmitMulti(req(body)?),
            C::SubmitMultiResp => B::SubmitMultiResp(resp(body)?),
            C::DeliverSm => B::DeliverSm(req(body)?),
            C::DeliverSmResp => B::DeliverSmResp(resp(body)?),
            C::DataSm => B::DataSm(req(body)?),
            C::DataSmResp => B::DataSmResp(resp(body)?),
            C::QuerySm => B::QuerySm(req(body)?),
            C::QuerySmResp => B::QuerySmResp(resp(body)?),
            C::CancelSm => B::CancelSm(req(body)?),
            C::CancelSmResp => empty(body, B::CancelSmResp)?,
            C::ReplaceSm => B::ReplaceSm(req(body)?),
            C::ReplaceSmResp => empty(body, B::ReplaceSmResp)?,
            C::EnquireLink => empty(body, B::EnquireLink)?,
            C::EnquireLinkResp => empty(body, B::EnquireLinkResp)?,
            C::AlertNotification => B::AlertNotification(req(body)?),
        })
    }
}
