//! The PDU: header plus body, framing check, encode and decode.

use thiserror::Error;

use crate::command_id::CommandId;
use crate::pdus::PduBody;
use crate::status::CommandStatus;
use crate::types::{put_u32, FieldError};

/// Size of the header: `command_length`, `command_id`, `command_status`, `sequence_number`.
pub const HEADER_LEN: usize = 16;

/// A whole SMPP PDU. `command_length` and `command_id` are derived when encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdu {
    /// 0 in requests; the result in responses.
    pub command_status: CommandStatus,
    /// Correlates a response with its request.
    pub sequence_number: u32,
    /// The operation and its fields.
    pub body: PduBody,
}

/// The buffered bytes cannot start a valid PDU; the connection should be closed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FrameError {
    /// `command_length` is smaller than the header.
    #[error("command_length {0} is smaller than the 16-octet header")]
    Invalid(u32),
    /// `command_length` exceeds the configured maximum.
    #[error("command_length {len} exceeds the maximum of {max}")]
    TooLong {
        /// Declared length.
        len: u32,
        /// Configured maximum.
        max: u32,
    },
}

/// What was wrong with a framed PDU.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeErrorKind {
    /// Fewer than 16 octets.
    #[error("frame of {0} octets is shorter than the header")]
    TooShort(usize),
    /// `command_length` does not match the frame size.
    #[error("command_length {declared} but the frame has {actual} octets")]
    LengthMismatch {
        /// Declared length.
        declared: u32,
        /// Frame size.
        actual: usize,
    },
    /// `command_id` is not defined by SMPP v3.4.
    #[error("unknown command_id 0x{0:08X}")]
    UnknownCommandId(u32),
    /// A field of the body was malformed.
    #[error(transparent)]
    Field(#[from] FieldError),
}

/// A framed PDU that could not be decoded.
///
/// Carries `command_id` and `sequence_number` when the header could be read, so a
/// session can answer with `generic_nack` (or the right response) on the same sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "cannot decode PDU (command_id {command_id:08X?}, sequence_number {sequence_number:?}): {kind}"
)]
pub struct DecodeError {
    /// Raw `command_id`, when the header was complete.
    pub command_id: Option<u32>,
    /// `sequence_number`, when the header was complete.
    pub sequence_number: Option<u32>,
    /// The failure.
    pub kind: DecodeErrorKind,
}

impl DecodeError {
    /// The `command_status` to answer with in `generic_nack` (or in the response).
    pub fn status(&self) -> CommandStatus {
        match &self.kind {
            DecodeErrorKind::UnknownCommandId(_) => CommandStatus::ESME_RINVCMDID,
            DecodeErrorKind::TooShort(_) | DecodeErrorKind::LengthMismatch { .. } => {
                CommandStatus::ESME_RINVCMDLEN
            }
            DecodeErrorKind::Field(f) => match f {
                FieldError::Truncated {
                    field: "sm_length" | "short_message",
                }
                | FieldError::TooLong {
                    field: "short_message",
                    ..
                } => CommandStatus::ESME_RINVMSGLEN,
                FieldError::TooLong {
                    field: "source_addr",
                    ..
                } => CommandStatus::ESME_RINVSRCADR,
                FieldError::TooLong {
                    field: "destination_addr",
                    ..
                } => CommandStatus::ESME_RINVDSTADR,
                FieldError::TooLong {
                    field: "message_id",
                    ..
                } => CommandStatus::ESME_RINVMSGID,
                FieldError::TooLong {
                    field: "system_id", ..
                } => CommandStatus::ESME_RINVSYSID,
                FieldError::TooLong {
                    field: "password", ..
                } => CommandStatus::ESME_RINVPASWD,
                FieldError::InvalidValue {
                    field: "dest_flag", ..
                } => CommandStatus::ESME_RINVDESTFLAG,
                FieldError::Truncated {
                    field: "tlv tag" | "tlv length" | "tlv value",
                } => CommandStatus::ESME_RINVOPTPARSTREAM,
                _ => CommandStatus::ESME_RINVCMDLEN,
            },
        }
    }

    /// The decoded command id, when it is one SMPP v3.4 defines.
    pub fn known_command_id(&self) -> Option<CommandId> {
        self.command_id.and_then(CommandId::from_u32)
    }
}

/// Is a whole PDU at the start of `buf`?
///
/// `Ok(None)`: not yet, read more. `Ok(Some(n))`: the first `n` octets are one PDU
/// (decode them with [`decode`]). `Err`: the stream cannot be framed; close it.
pub fn check(buf: &[u8], max_len: u32) -> Result<Option<usize>, FrameError> {
    let Some(head) = buf.get(..4) else {
        return Ok(None);
    };
    let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    if (len as usize) < HEADER_LEN {
        return Err(FrameError::Invalid(len));
    }
    if len > max_len {
        return Err(FrameError::TooLong { len, max: max_len });
    }
    if buf.len() < len as usize {
        return Ok(None);
    }
    Ok(Some(len as usize))
}

/// Decodes exactly one PDU from `frame` (as delimited by [`check`]). Never panics.
pub fn decode(frame: &[u8]) -> Result<Pdu, DecodeError> {
    if frame.len() < HEADER_LEN {
        return Err(DecodeError {
            command_id: None,
            sequence_number: None,
            kind: DecodeErrorKind::TooShort(frame.len()),
        });
    }
    let word = |i: usize| u32::from_be_bytes([frame[i], frame[i + 1], frame[i + 2], frame[i + 3]]);
    let (declared, raw_id, status, seq) = (word(0), word(4), word(8), word(12));
    let err = |kind| DecodeError {
        command_id: Some(raw_id),
        sequence_number: Some(seq),
        kind,
    };
    if declared as usize != frame.len() {
        return Err(err(DecodeErrorKind::LengthMismatch {
            declared,
            actual: frame.len(),
        }));
    }
    let id = CommandId::from_u32(raw_id)
        .ok_or_else(|| err(DecodeErrorKind::UnknownCommandId(raw_id)))?;
    let body = PduBody::decode(id, &frame[HEADER_LEN..]).map_err(|e| err(e.into()))?;
    Ok(Pdu {
        command_status: CommandStatus(status),
        sequence_number: seq,
        body,
    })
}

impl Pdu {
    /// A request (status 0) with this sequence number.
    pub fn new(sequence_number: u32, body: PduBody) -> Self {
        Pdu {
            command_status: CommandStatus::ESME_ROK,
            sequence_number,
            body,
        }
    }

    /// A PDU with an explicit status (responses).
    pub fn with_status(sequence_number: u32, command_status: CommandStatus, body: PduBody) -> Self {
        Pdu {
            command_status,
            sequence_number,
            body,
        }
    }

    /// `generic_nack` with this status.
    pub fn generic_nack(sequence_number: u32, command_status: CommandStatus) -> Self {
        Self::with_status(sequence_number, command_status, PduBody::GenericNack)
    }

    /// The `command_id` of the body.
    pub fn command_id(&self) -> CommandId {
        self.body.command_id()
    }

    /// Appends the encoded PDU to `out`, with `command_length` computed.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        put_u32(out, 0);
        put_u32(out, self.command_id().value());
        put_u32(out, self.command_status.0);
        put_u32(out, self.sequence_number);
        self.body.encode(out);
        let len = (out.len() - start) as u32;
        out[start..start + 4].copy_from_slice(&len.to_be_bytes());
    }

    /// The encoded PDU.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.encode(&mut out);
        out
    }

    /// See [`check`].
    pub fn check(buf: &[u8], max_len: u32) -> Result<Option<usize>, FrameError> {
        check(buf, max_len)
    }

    /// See [`decode`].
    pub fn decode(frame: &[u8]) -> Result<Pdu, DecodeError> {
        decode(frame)
    }
}
