//! Delivery receipts: the conventional text of SMPP v3.4 appendix B and its TLV form.
//!
//! ```text
//! id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E text:...
//! ```
//!
//! Parsing is tolerant: keys are case-insensitive, any field may be missing, dates
//! may carry seconds (12 digits), and `submit_date` / `done_date` spellings are accepted.
//! When a `deliver_sm` also carries `receipted_message_id` and `message_state`, those
//! TLVs win over the text.

use std::fmt;

use crate::message_state::MessageState;
use crate::pdus::DeliverSm;
use crate::tlv::{Tlv, TlvsExt};
use crate::types::MessageId;

/// A receipt date, `YYMMDDhhmm` or `YYMMDDhhmmss`. Only digits are checked, not the calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub struct ReceiptDate {
    pub year: u8,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    /// Present when the SMSC sent 12 digits.
    pub second: Option<u8>,
}

impl ReceiptDate {
    /// Parses 10 or 12 ASCII digits.
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if !(b.len() == 10 || b.len() == 12) || !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let two = |i: usize| (b[i] - b'0') * 10 + (b[i + 1] - b'0');
        Some(ReceiptDate {
            year: two(0),
            month: two(2),
            day: two(4),
            hour: two(6),
            minute: two(8),
            second: (b.len() == 12).then(|| two(10)),
        })
    }
}

impl fmt::Display for ReceiptDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02}{:02}{:02}{:02}{:02}",
            self.year, self.month, self.day, self.hour, self.minute
        )?;
        if let Some(s) = self.second {
            write!(f, "{s:02}")?;
        }
        Ok(())
    }
}

/// A delivery receipt, from text, TLVs or both. Every field is optional because
/// SMSCs leave fields out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReceipt {
    /// The SMSC message id the receipt is about (`id:` or `receipted_message_id`).
    pub id: Option<String>,
    /// Number of messages submitted (`sub:`).
    pub sub: Option<u32>,
    /// Number delivered (`dlvrd:`).
    pub dlvrd: Option<u32>,
    /// `submit date:`.
    pub submit_date: Option<ReceiptDate>,
    /// `done date:`.
    pub done_date: Option<ReceiptDate>,
    /// `stat:` or the `message_state` TLV.
    pub stat: Option<MessageState>,
    /// `err:`, network-specific, kept as text.
    pub err: Option<String>,
    /// `text:`, the first characters of the original message (to the end of the input).
    pub text: Option<String>,
}

/// The input contained none of the receipt keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a delivery receipt: no `id:`/`stat:`-style fields found")]
pub struct NotAReceipt;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    Id,
    Sub,
    Dlvrd,
    SubmitDate,
    DoneDate,
    Stat,
    Err,
    Text,
}

const KEYS: [(&str, Key); 8] = [
    ("id", Key::Id),
    ("sub", Key::Sub),
    ("dlvrd", Key::Dlvrd),
    ("submit date", Key::SubmitDate),
    ("done date", Key::DoneDate),
    ("stat", Key::Stat),
    ("err", Key::Err),
    ("text", Key::Text),
];

/// If a key followed by `:` starts at `at`, returns it and the index after the colon.
fn key_at(b: &[u8], at: usize) -> Option<(Key, usize)> {
    'keys: for (name, key) in KEYS {
        let mut i = at;
        for &k in name.as_bytes() {
            let c = *b.get(i)?;
            let ok = if k == b' ' {
                c == b' ' || c == b'_'
            } else {
                c.eq_ignore_ascii_case(&k)
            };
            if !ok {
                continue 'keys;
            }
            i += 1;
        }
        if b.get(i) == Some(&b':') {
            return Some((key, i + 1));
        }
    }
    None
}

impl DeliveryReceipt {
    /// Parses receipt text. Fails only when no key at all is found.
    pub fn parse(text: &str) -> Result<Self, NotAReceipt> {
        let b = text.as_bytes();
        // (key, start of key, start of value)
        let mut found: Vec<(Key, usize, usize)> = Vec::new();
        let mut i = 0;
        while i < b.len() {
            let at_word_start = i == 0 || b[i - 1].is_ascii_whitespace();
            if at_word_start {
                if let Some((key, value_at)) = key_at(b, i) {
                    found.push((key, i, value_at));
                    if key == Key::Text {
                        break;
                    }
                    i = value_at;
                    continue;
                }
            }
            i += 1;
        }
        if found.is_empty() {
            return Err(NotAReceipt);
        }
        let mut r = DeliveryReceipt::default();
        for (n, &(key, _, value_at)) in found.iter().enumerate() {
            let end = found.get(n + 1).map_or(b.len(), |next| next.1);
            // Key and value boundaries sit next to ASCII octets, so they are char boundaries.
            let raw = text.get(value_at..end).unwrap_or("");
            let value = if key == Key::Text {
                raw.trim_start_matches(' ').trim_end_matches(['\r', '\n'])
            } else {
                raw.trim()
            };
            match key {
                Key::Id => r.id = Some(value.to_owned()).filter(|v| !v.is_empty()),
                Key::Sub => r.sub = value.parse().ok(),
                Key::Dlvrd => r.dlvrd = value.parse().ok(),
                Key::SubmitDate => r.submit_date = ReceiptDate::parse(value),
                Key::DoneDate => r.done_date = ReceiptDate::parse(value),
                Key::Stat => r.stat = value.parse().ok(),
                Key::Err => r.err = Some(value.to_owned()).filter(|v| !v.is_empty()),
                Key::Text => r.text = Some(value.to_owned()),
            }
        }
        Ok(r)
    }

    /// The receipt carried by a `deliver_sm`: its text (from `short_message` or
    /// `message_payload`) with `receipted_message_id` / `message_state` TLVs taking
    /// precedence. `None` when the PDU is neither marked as a receipt nor carries
    /// `receipted_message_id`.
    pub fn from_deliver_sm(pdu: &DeliverSm) -> Option<Self> {
        let tlv_id = pdu.tlvs.receipted_message_id();
        if !pdu.is_delivery_receipt() && tlv_id.is_none() {
            return None;
        }
        let payload = pdu
            .tlvs
            .message_payload()
            .filter(|_| pdu.short_message.is_empty())
            .unwrap_or(pdu.short_message.as_bytes());
        let mut r = Self::parse(&String::from_utf8_lossy(payload)).unwrap_or_default();
        if let Some(id) = tlv_id {
            r.id = Some(id.to_string());
        }
        if let Some(state) = pdu.tlvs.message_state() {
            r.stat = Some(state);
        }
        Some(r)
    }

    /// The TLV form: `receipted_message_id` (when the id fits 64 octets) and `message_state`.
    pub fn tlvs(&self) -> Vec<Tlv> {
        let mut tlvs = Vec::with_capacity(2);
        if let Some(id) = self.id.as_deref().and_then(|i| MessageId::try_from(i).ok()) {
            tlvs.push(Tlv::ReceiptedMessageId(id));
        }
        if let Some(s) = self.stat {
            tlvs.push(Tlv::MessageState(s));
        }
        tlvs
    }
}

impl fmt::Display for DeliveryReceipt {
    /// The conventional text, with only the fields that are present.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        let mut field = |f: &mut fmt::Formatter<'_>, args: fmt::Arguments<'_>| {
            let r = write!(f, "{sep}{args}");
            sep = " ";
            r
        };
        if let Some(v) = &self.id {
            field(f, format_args!("id:{v}"))?;
        }
        if let Some(v) = self.sub {
            field(f, format_args!("sub:{v:03}"))?;
        }
        if let Some(v) = self.dlvrd {
            field(f, format_args!("dlvrd:{v:03}"))?;
        }
        if let Some(v) = self.submit_date {
            field(f, format_args!("submit date:{v}"))?;
        }
        if let Some(v) = self.done_date {
            field(f, format_args!("done date:{v}"))?;
        }
        if let Some(v) = self.stat {
            field(f, format_args!("stat:{v}"))?;
        }
        if let Some(v) = &self.err {
            field(f, format_args!("err:{v}"))?;
        }
        if let Some(v) = &self.text {
            field(f, format_args!("text:{v}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: DeliveryReceipt) {
        assert_eq!(DeliveryReceipt::parse(input).unwrap(), expected, "{input}");
    }

    fn date(s: &str) -> Option<ReceiptDate> {
        ReceiptDate::parse(s)
    }

    #[test]
    fn parses_the_conventional_form() {
        check(
            "id:0123456789 sub:001 dlvrd:001 submit date:2311291200 done date:2311291201 stat:DELIVRD err:000 text:Hello world",
            DeliveryReceipt {
                id: Some("0123456789".into()),
                sub: Some(1),
                dlvrd: Some(1),
                submit_date: date("2311291200"),
                done_date: date("2311291201"),
                stat: Some(MessageState::Delivered),
                err: Some("000".into()),
                text: Some("Hello world".into()),
            },
        );
    }

    #[test]
    fn tolerates_case_missing_fields_seconds_and_underscores() {
        check(
            "ID:abc-1 Stat:undeliv Done_Date:231129120159 Text:x id:not-a-key",
            DeliveryReceipt {
                id: Some("abc-1".into()),
                done_date: Some(ReceiptDate {
                    year: 23,
                    month: 11,
                    day: 29,
                    hour: 12,
                    minute: 1,
                    second: Some(59),
                }),
                stat: Some(MessageState::Undeliverable),
                text: Some("x id:not-a-key".into()),
                ..Default::default()
            },
        );
        check(
            "id:7 stat:EXPIRED",
            DeliveryReceipt {
                id: Some("7".into()),
                stat: Some(MessageState::Expired),
                ..Default::default()
            },
        );
    }

    #[test]
    fn rejects_plain_text() {
        assert_eq!(DeliveryReceipt::parse("hello there"), Err(NotAReceipt));
        assert_eq!(DeliveryReceipt::parse(""), Err(NotAReceipt));
    }

    #[test]
    fn formats_the_conventional_form() {
        let r = DeliveryReceipt::parse(
            "id:1 sub:001 dlvrd:000 submit date:2311291200 done date:2311291201 stat:REJECTD err:0ab text:",
        )
        .unwrap();
        assert_eq!(
            r.to_string(),
            "id:1 sub:001 dlvrd:000 submit date:2311291200 done date:2311291201 stat:REJECTD err:0ab text:"
        );
    }

    #[test]
    fn tlvs_win_over_text() {
        let pdu = DeliverSm {
            esm_class: crate::esm_class::DELIVERY_RECEIPT,
            short_message: crate::ShortMessage::new(&b"id:1 stat:ENROUTE"[..]).unwrap(),
            tlvs: vec![
                Tlv::ReceiptedMessageId("abc".try_into().unwrap()),
                Tlv::MessageState(MessageState::Delivered),
            ],
            ..Default::default()
        };
        let r = DeliveryReceipt::from_deliver_sm(&pdu).unwrap();
        assert_eq!(r.id.as_deref(), Some("abc"));
        assert_eq!(r.stat, Some(MessageState::Delivered));
        let mo = DeliverSm::default();
        assert_eq!(DeliveryReceipt::from_deliver_sm(&mo), None);
    }
}
