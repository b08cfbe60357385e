//! SMS text and addresses: everything about a message that can be decided without sending it.
//!
//! - [`analyse`] decides how a text travels: GSM 03.38 7-bit or UCS-2 (UTF-16BE), optional
//!   transliteration ("smart encoding"), how many units and segments it takes.
//! - [`split`] cuts the analysed text into [`Part`]s with concatenation headers, ready for an
//!   SMPP `submit_sm` or a modem PDU; [`pack_septets`] packs GSM-7 for the latter.
//! - [`Msisdn`] is a recipient number in E.164, [`SenderId`] the sender shown on the handset.
//!
//! Layout: `gsm7` (alphabet tables and packing), `ucs2`, `transliterate`, `text` (analysis),
//! `segment` (splitting and user data headers), `msisdn`, `sender_id`.
//!
//! Invariant: the part count [`Analysis::parts`] reports is the number of parts [`split`]
//! produces for the same concatenation header; a part never separates the halves of a GSM-7
//! escape sequence or a UTF-16 surrogate pair.
//!
//! Boundary: no I/O, no SMPP PDUs, no accounts or prices; this crate only knows characters,
//! octets and numbering plans.

#![forbid(unsafe_code)]

mod gsm7;
mod msisdn;
mod segment;
mod sender_id;
mod text;
mod transliterate;
mod ucs2;
mod user_data;

pub use gsm7::{
    gsm7_decode, gsm7_encode, is_gsm7, pack_septets, pack_septets_with_fill, unpack_septets,
};
pub use msisdn::{Msisdn, NumberError};
pub use segment::{split, ConcatRef, Part};
pub use sender_id::{SenderId, SenderIdError};
pub use text::{analyse, Analysis, Encoding, TextError, TextOptions};
pub use transliterate::transliterate;
pub use ucs2::{ucs2_decode, ucs2_encode};
pub use user_data::{decode_user_data, split_udh, ConcatInfo, Joined, Reassembler};
