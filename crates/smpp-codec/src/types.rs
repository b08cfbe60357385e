//! Bounded field types and the byte reader/writer every PDU uses.
//!
//! Invariant: a value of these types always encodes to something the spec allows:
//! a [`COctetString<MAX>`] holds at most `MAX - 1` octets and no NUL (the NUL
//! terminator counts towards `MAX`, as in the spec's tables), an [`OctetString<MAX>`]
//! holds at most `MAX` octets, a [`BoundedVec<T, MAX>`] at most `MAX` items.
//! Length fields derived from them (`sm_length`, `number_of_dests`, TLV lengths)
//! are never stored, so they cannot disagree with the data.

use std::fmt;

use thiserror::Error;

/// Why a single field could not be built or decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FieldError {
    /// The body ended before the field was complete.
    #[error("field `{field}` truncated")]
    Truncated {
        /// Field name as in the spec.
        field: &'static str,
    },
    /// A C-octet string had no NUL within its maximum size, or a value is too long.
    #[error("field `{field}` longer than its maximum of {max} octets")]
    TooLong {
        /// Field name as in the spec.
        field: &'static str,
        /// Maximum size in octets (for C-octet strings, including the NUL).
        max: usize,
    },
    /// A C-octet string value contained a NUL octet.
    #[error("field `{field}` contains a NUL octet")]
    ContainsNul {
        /// Field name as in the spec.
        field: &'static str,
    },
    /// A field had a value the spec does not define (for example a `dest_flag`).
    #[error("field `{field}` has invalid value {value}")]
    InvalidValue {
        /// Field name as in the spec.
        field: &'static str,
        /// The value found.
        value: u32,
    },
    /// Octets were left after the last field of a PDU that carries no TLVs.
    #[error("{count} unexpected octets after the last field")]
    TrailingOctets {
        /// How many octets were left.
        count: usize,
    },
}

/// A NUL-terminated ASCII-ish string of at most `MAX` octets including the NUL.
///
/// The content is kept as raw octets: peers send Latin-1 or UTF-8 in fields that the
/// spec calls ASCII, and decoding must not fail on them. [`COctetString::to_str`]
/// gives a `&str` when the octets are UTF-8.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct COctetString<const MAX: usize> {
    bytes: Vec<u8>,
}

impl<const MAX: usize> COctetString<MAX> {
    /// The empty string (encodes as a single NUL).
    pub const fn empty() -> Self {
        Self { bytes: Vec::new() }
    }

    /// Builds a value from octets without the terminator.
    ///
    /// Fails when longer than `MAX - 1` octets or when it contains a NUL.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, FieldError> {
        let bytes = bytes.into();
        if bytes.len() + 1 > MAX {
            return Err(FieldError::TooLong {
                field: "c-octet string",
                max: MAX,
            });
        }
        if bytes.contains(&0) {
            return Err(FieldError::ContainsNul {
                field: "c-octet string",
            });
        }
        Ok(Self { bytes })
    }

    /// The octets, without the NUL terminator.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The value as UTF-8 text, if it is.
    pub fn to_str(&self) -> Result<&str, std::str::Utf8Error> {
        std::str::from_utf8(&self.bytes)
    }

    /// True for the empty string.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Number of octets without the NUL terminator.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Octets this value takes on the wire (content plus NUL).
    pub fn encoded_len(&self) -> usize {
        self.bytes.len() + 1
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.bytes);
        out.push(0);
    }
}

impl<const MAX: usize> TryFrom<&str> for COctetString<MAX> {
    type Error = FieldError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::new(value.as_bytes())
    }
}

impl<const MAX: usize> TryFrom<String> for COctetString<MAX> {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value.into_bytes())
    }
}

impl<const MAX: usize> fmt::Display for COctetString<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.bytes))
    }
}

impl<const MAX: usize> fmt::Debug for COctetString<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.bytes))
    }
}

/// Raw octets of at most `MAX` octets; its length is written separately.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct OctetString<const MAX: usize> {
    bytes: Vec<u8>,
}

impl<const MAX: usize> OctetString<MAX> {
    /// The empty value.
    pub const fn empty() -> Self {
        Self { bytes: Vec::new() }
    }

    /// Builds a value; fails when longer than `MAX` octets.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, FieldError> {
        let bytes = bytes.into();
        if bytes.len() > MAX {
            return Err(FieldError::TooLong {
                field: "octet string",
                max: MAX,
            });
        }
        Ok(Self { bytes })
    }

    /// The octets.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Number of octets.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Takes the octets out.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

impl<const MAX: usize> fmt::Debug for OctetString<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(&self.bytes) {
            Ok(s) => write!(f, "{s:?}"),
            Err(_) => write!(f, "{:02x?}", self.bytes),
        }
    }
}

/// A list of at most `MAX` items, for lists whose count is a one-octet field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundedVec<T, const MAX: usize> {
    items: Vec<T>,
}

impl<T, const MAX: usize> Default for BoundedVec<T, MAX> {
    fn default() -> Self {
        Self { items: Vec::new() }
    }
}

impl<T, const MAX: usize> BoundedVec<T, MAX> {
    /// Builds a list; fails when it has more than `MAX` items.
    pub fn new(items: Vec<T>) -> Result<Self, FieldError> {
        if items.len() > MAX {
            return Err(FieldError::TooLong {
                field: "list",
                max: MAX,
            });
        }
        Ok(Self { items })
    }

    /// The items.
    pub fn as_slice(&self) -> &[T] {
        &self.items
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Takes the items out.
    pub fn into_vec(self) -> Vec<T> {
        self.items
    }
}

/// `system_id` (16 octets with NUL).
pub type SystemId = COctetString<16>;
/// `password` (9 octets with NUL).
pub type Password = COctetString<9>;
/// `system_type` (13 octets with NUL).
pub type SystemType = COctetString<13>;
/// `address_range` (41 octets with NUL).
pub type AddressRange = COctetString<41>;
/// `service_type` (6 octets with NUL).
pub type ServiceType = COctetString<6>;
/// `source_addr` / `destination_addr` in most PDUs (21 octets with NUL).
pub type Address = COctetString<21>;
/// Addresses in `data_sm` and `alert_notification` (65 octets with NUL).
pub type LongAddress = COctetString<65>;
/// `schedule_delivery_time`, `validity_period`, `final_date` (17 octets with NUL).
pub type SmppTime = COctetString<17>;
/// `message_id` (65 octets with NUL).
pub type MessageId = COctetString<65>;
/// `short_message`, at most 254 octets; `sm_length` is derived from it.
pub type ShortMessage = OctetString<254>;

/// Cursor over a PDU body. Every read is bounds-checked and returns an error, never panics.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], FieldError> {
        if self.remaining() < n {
            return Err(FieldError::Truncated { field });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, FieldError> {
        Ok(self.take(1, field)?[0])
    }

    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, FieldError> {
        let b = self.take(2, field)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, FieldError> {
        let b = self.take(4, field)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn cstr<const MAX: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<COctetString<MAX>, FieldError> {
        let rest = &self.buf[self.pos..];
        let window = &rest[..rest.len().min(MAX)];
        match window.iter().position(|&b| b == 0) {
            Some(nul) => {
                let bytes = window[..nul].to_vec();
                self.pos += nul + 1;
                Ok(COctetString { bytes })
            }
            None if rest.len() < MAX => Err(FieldError::Truncated { field }),
            None => Err(FieldError::TooLong { field, max: MAX }),
        }
    }

    pub(crate) fn octets<const MAX: usize>(
        &mut self,
        len: usize,
        field: &'static str,
    ) -> Result<OctetString<MAX>, FieldError> {
        if len > MAX {
            return Err(FieldError::TooLong { field, max: MAX });
        }
        let bytes = self.take(len, field)?.to_vec();
        Ok(OctetString { bytes })
    }

    /// Fails if octets remain; used by PDUs that carry no TLVs.
    pub(crate) fn finish(&self) -> Result<(), FieldError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(FieldError::TrailingOctets {
                count: self.remaining(),
            })
        }
    }
}

/// Writes a `u8`-length-prefixed octet string (`sm_length` + `short_message`).
pub(crate) fn put_sm(out: &mut Vec<u8>, sm: &ShortMessage) {
    // ShortMessage holds at most 254 octets, so the length fits.
    out.push(sm.len() as u8);
    out.extend_from_slice(sm.as_bytes());
}

pub(crate) fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_octet_string_bounds_include_the_nul() {
        assert!(SystemId::try_from("123456789012345").is_ok());
        assert!(SystemId::try_from("1234567890123456").is_err());
        assert!(SystemId::new(b"a\0b".to_vec()).is_err());
    }

    #[test]
    fn reader_cstr_needs_a_nul_within_max() {
        let mut r = Reader::new(b"abc\0rest");
        let s: COctetString<4> = r.cstr("f").unwrap();
        assert_eq!(s.as_bytes(), b"abc");
        let mut r = Reader::new(b"abcd\0");
        assert_eq!(
            r.cstr::<4>("f"),
            Err(FieldError::TooLong { field: "f", max: 4 })
        );
        let mut r = Reader::new(b"ab");
        assert_eq!(r.cstr::<4>("f"), Err(FieldError::Truncated { field: "f" }));
    }
}
