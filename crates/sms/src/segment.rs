//! Cutting an analysed text into SMS segments with concatenation headers (3GPP TS 23.040
//! §9.2.3.24.1 and §9.2.3.24.8).
//!
//! Invariant: the same function decides the segment boundaries for [`crate::analyse`] (which only
//! counts them) and for [`split`], so the part count promised to a customer is the count sent.

use std::ops::Range;

use crate::gsm7::ESCAPE;
use crate::text::{Analysis, Encoding, Units};

/// The concatenation information element to put in each part's user data header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConcatRef {
    /// 8-bit reference: `05 00 03 REF TOTAL SEQ` (6 octets).
    Eight,
    /// 16-bit reference: `06 08 04 REFHI REFLO TOTAL SEQ` (7 octets).
    Sixteen,
}

impl ConcatRef {
    /// The user data header for part `seq` (1-based) of `total`. An 8-bit reference keeps only the
    /// low byte of `reference`.
    pub fn udh(self, reference: u16, total: u8, seq: u8) -> Vec<u8> {
        let [hi, lo] = reference.to_be_bytes();
        match self {
            ConcatRef::Eight => vec![0x05, 0x00, 0x03, lo, total, seq],
            ConcatRef::Sixteen => vec![0x06, 0x08, 0x04, hi, lo, total, seq],
        }
    }

    /// Length of the header in octets, including its length octet.
    pub const fn udh_len(self) -> usize {
        match self {
            ConcatRef::Eight => 6,
            ConcatRef::Sixteen => 7,
        }
    }
}

impl Encoding {
    /// Units (septets or UTF-16 code units) that fit in a message sent as one segment.
    pub const fn single_capacity(self) -> usize {
        match self {
            Encoding::Gsm7 => 160,
            Encoding::Ucs2 => 70,
        }
    }

    /// Units that fit in one segment of a concatenated message: 140 octets less the header, for
    /// GSM-7 rounded down to whole septets after the header's fill bits.
    pub const fn part_capacity(self, concat: ConcatRef) -> usize {
        match (self, concat) {
            (Encoding::Gsm7, ConcatRef::Eight) => 153,
            (Encoding::Gsm7, ConcatRef::Sixteen) => 152,
            (Encoding::Ucs2, ConcatRef::Eight) => 67,
            (Encoding::Ucs2, ConcatRef::Sixteen) => 66,
        }
    }

    /// The SMPP `data_coding` value for this encoding.
    pub const fn data_coding(self) -> u8 {
        match self {
            Encoding::Gsm7 => 0x00,
            Encoding::Ucs2 => 0x08,
        }
    }
}

/// One SMS segment ready for an SMPP `submit_sm` or a modem PDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The user data header (with its length octet) when the message has more than one part.
    pub udh: Option<Vec<u8>>,
    /// GSM-7: unpacked septets, one per octet, escapes included (`data_coding` 0x00).
    /// UCS-2: UTF-16 big-endian bytes (`data_coding` 0x08).
    pub payload: Vec<u8>,
}

impl Part {
    /// Header followed by payload, as SMPP's `short_message` carries it (set the UDHI bit 0x40 in
    /// `esm_class` when [`Part::udh`] is present).
    pub fn short_message(&self) -> Vec<u8> {
        let udh = self.udh.as_deref().unwrap_or_default();
        [udh, &self.payload].concat()
    }
}

/// Cut the analysed text into parts, each with a concatenation header carrying `reference` when
/// there is more than one. A text that fits one segment gives one part with no header.
///
/// With the `concat` used for [`crate::analyse`], `split(..).len() == analysis.parts()`.
pub fn split(analysis: &Analysis, reference: u16, concat: ConcatRef) -> Vec<Part> {
    let units = analysis.encoded();
    let ranges = boundaries(units, analysis.encoding(), concat);
    if ranges.len() == 1 {
        return vec![Part {
            udh: None,
            payload: units.payload(ranges[0].clone()),
        }];
    }
    // `analyse` refuses texts that need more than 255 parts with either reference size.
    let total = u8::try_from(ranges.len()).unwrap_or(u8::MAX);
    ranges
        .into_iter()
        .zip(1..=u8::MAX)
        .map(|(range, seq)| Part {
            udh: Some(concat.udh(reference, total, seq)),
            payload: units.payload(range),
        })
        .collect()
}

/// The unit ranges of each segment. One range if the whole text fits a single segment (an empty
/// text is one empty segment); otherwise ranges of at most the part capacity that never end between
/// the two halves of an escape sequence or a surrogate pair.
pub(crate) fn boundaries(
    units: &Units,
    encoding: Encoding,
    concat: ConcatRef,
) -> Vec<Range<usize>> {
    let len = units.len();
    if len <= encoding.single_capacity() {
        return std::iter::once(0..len).collect();
    }
    let capacity = encoding.part_capacity(concat);
    let mut ranges = Vec::with_capacity(len / capacity + 1);
    let mut start = 0;
    while start < len {
        let mut end = start;
        while end < len {
            let width = units.width_at(end);
            if end + width - start > capacity {
                break;
            }
            end += width;
        }
        ranges.push(start..end);
        start = end;
    }
    ranges
}

impl Units {
    pub(crate) fn len(&self) -> usize {
        match self {
            Units::Gsm7(septets) => septets.len(),
            Units::Ucs2(code_units) => code_units.len(),
        }
    }

    /// How many units the character starting at `i` takes: 2 for an escape sequence or a
    /// surrogate pair, else 1.
    fn width_at(&self, i: usize) -> usize {
        let pair = match self {
            Units::Gsm7(s) => s[i] == ESCAPE && i + 1 < s.len(),
            Units::Ucs2(u) => {
                (0xD800..0xDC00).contains(&u[i])
                    && u.get(i + 1).is_some_and(|n| (0xDC00..0xE000).contains(n))
            }
        };
        if pair {
            2
        } else {
            1
        }
    }

    fn payload(&self, range: Range<usize>) -> Vec<u8> {
        match self {
            Units::Gsm7(septets) => septets[range].to_vec(),
            Units::Ucs2(code_units) => code_units[range]
                .iter()
                .flat_map(|u| u.to_be_bytes())
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gsm7::gsm7_decode;
    use crate::text::{analyse, TextOptions};
    use crate::ucs2::ucs2_decode;
    use proptest::prelude::*;

    #[test]
    fn udh_bytes() {
        assert_eq!(
            ConcatRef::Eight.udh(0x1234, 3, 1),
            [0x05, 0x00, 0x03, 0x34, 3, 1]
        );
        assert_eq!(
            ConcatRef::Sixteen.udh(0x1234, 3, 2),
            [0x06, 0x08, 0x04, 0x12, 0x34, 3, 2]
        );
        for concat in [ConcatRef::Eight, ConcatRef::Sixteen] {
            assert_eq!(concat.udh(7, 2, 1).len(), concat.udh_len());
        }
    }

    fn opts(concat: ConcatRef) -> TextOptions {
        TextOptions {
            max_parts: 255,
            concat,
            ..TextOptions::default()
        }
    }

    /// Split `text` and compare each part's payload length in units and its header.
    fn check(text: &str, concat: ConcatRef, expected_units: &[usize]) {
        let analysis = analyse(text, &opts(concat)).unwrap();
        let parts = split(&analysis, 0xABCD, concat);
        let per_unit = match analysis.encoding() {
            Encoding::Gsm7 => 1,
            Encoding::Ucs2 => 2,
        };
        let lens: Vec<usize> = parts.iter().map(|p| p.payload.len() / per_unit).collect();
        let start: String = text.chars().take(24).collect();
        assert_eq!(
            lens, expected_units,
            "part sizes of {start:?}... with {concat:?}"
        );
        assert_eq!(analysis.parts() as usize, parts.len());
        let total = parts.len() as u8;
        for (i, part) in parts.iter().enumerate() {
            let expected_udh = (total > 1).then(|| concat.udh(0xABCD, total, i as u8 + 1));
            assert_eq!(part.udh, expected_udh);
        }
    }

    #[test]
    fn part_sizes() {
        use ConcatRef::{Eight, Sixteen};
        check("A", Eight, &[1]);
        check(&"A".repeat(160), Eight, &[160]);
        check(&"A".repeat(161), Eight, &[153, 8]);
        check(&"A".repeat(161), Sixteen, &[152, 9]);
        check(&"A".repeat(306), Eight, &[153, 153]);
        check(&"A".repeat(307), Eight, &[153, 153, 1]);
        check(&"€".repeat(80), Eight, &[160]);
        check(&"€".repeat(81), Eight, &[152, 10]);
        // An escape that would straddle the boundary moves to the next part.
        check(
            &format!("{}€{}", "A".repeat(152), "A".repeat(10)),
            Eight,
            &[152, 12],
        );
        check(
            &format!("{}€{}", "A".repeat(151), "A".repeat(10)),
            Eight,
            &[153, 10],
        );
        check(&"č".repeat(70), Eight, &[70]);
        check(&"č".repeat(71), Eight, &[67, 4]);
        check(&"č".repeat(71), Sixteen, &[66, 5]);
        check(&"č".repeat(134), Eight, &[67, 67]);
        check(&"č".repeat(135), Eight, &[67, 67, 1]);
        // Surrogate pairs: 35 emoji are 70 units; 36 are 72, cut before the pair that would straddle.
        check(&"😀".repeat(35), Eight, &[70]);
        check(&"😀".repeat(36), Eight, &[66, 6]);
        check(&format!("č{}", "😀".repeat(35)), Eight, &[67, 4]);
    }

    #[test]
    fn single_part_has_no_header() {
        let analysis = analyse("Hello", &TextOptions::default()).unwrap();
        let parts = split(&analysis, 1, ConcatRef::Eight);
        assert_eq!(
            parts,
            [Part {
                udh: None,
                payload: b"Hello".to_vec()
            }]
        );
        assert_eq!(parts[0].short_message(), b"Hello");
    }

    #[test]
    fn short_message_is_header_then_payload() {
        let analysis = analyse(&"č".repeat(71), &TextOptions::default()).unwrap();
        let parts = split(&analysis, 0x0142, ConcatRef::Eight);
        assert_eq!(
            parts[1].short_message(),
            [0x05, 0x00, 0x03, 0x42, 2, 2, 0x01, 0x0D, 0x01, 0x0D, 0x01, 0x0D, 0x01, 0x0D]
        );
    }

    /// Characters that exercise the tricky paths: plain GSM-7, extension characters, Czech letters,
    /// characters outside the BMP, and anything at all.
    fn text() -> impl Strategy<Value = String> {
        let ch = prop_oneof![
            4 => proptest::sample::select(vec!['A', 'z', ' ', '@', 'é', '\n', 'Ø']),
            2 => proptest::sample::select(vec!['€', '[', ']', '{', '}', '\\', '^', '~', '|', '\u{0C}']),
            1 => proptest::sample::select(vec!['č', 'Ř', 'ů', '—', '“']),
            1 => proptest::char::range('\u{10000}', '\u{10FFFF}'),
            2 => any::<char>(),
        ];
        let gsm_only = proptest::sample::select(vec!['A', ' ', '€', '[', '|', 'é', '0']);
        prop_oneof![
            proptest::collection::vec(ch, 0..700).prop_map(|v| v.into_iter().collect()),
            proptest::collection::vec(gsm_only, 0..700).prop_map(|v| v.into_iter().collect()),
            any::<String>(),
        ]
    }

    proptest! {
        #[test]
        fn split_respects_limits_and_round_trips(
            text in text(),
            reference: u16,
            sixteen: bool,
            allow_transliteration: bool,
        ) {
            let concat = if sixteen { ConcatRef::Sixteen } else { ConcatRef::Eight };
            let options = TextOptions { allow_transliteration, ..opts(concat) };
            let analysis = match analyse(&text, &options) {
                Ok(a) => a,
                Err(_) => return Ok(()),
            };
            let parts = split(&analysis, reference, concat);
            prop_assert_eq!(analysis.parts() as usize, parts.len());

            let mut units = 0;
            let mut joined = Vec::new();
            for part in &parts {
                let udh_octets = part.udh.as_ref().map_or(0, Vec::len);
                let bits = match analysis.encoding() {
                    Encoding::Gsm7 => {
                        // The header is padded to a septet boundary, then 7 bits per septet.
                        prop_assert!(part.payload.iter().all(|&s| s < 0x80));
                        prop_assert_ne!(part.payload.last(), Some(&ESCAPE), "escape split off");
                        (udh_octets * 8).div_ceil(7) * 7 + part.payload.len() * 7
                    }
                    Encoding::Ucs2 => {
                        prop_assert!(part.payload.len() % 2 == 0);
                        if let [hi, lo, ..] = part.payload[..] {
                            let first = u16::from_be_bytes([hi, lo]);
                            prop_assert!(!(0xDC00..0xE000).contains(&first), "lone low surrogate");
                        }
                        (udh_octets + part.payload.len()) * 8
                    }
                };
                prop_assert!(bits <= 140 * 8, "part of {} bits", bits);
                units += match analysis.encoding() {
                    Encoding::Gsm7 => part.payload.len(),
                    Encoding::Ucs2 => part.payload.len() / 2,
                };
                joined.extend_from_slice(&part.payload);
            }
            prop_assert_eq!(units, analysis.units() as usize);
            let decoded = match analysis.encoding() {
                Encoding::Gsm7 => gsm7_decode(&joined),
                Encoding::Ucs2 => ucs2_decode(&joined),
            };
            prop_assert_eq!(decoded.as_str(), analysis.text_sent());
            prop_assert_eq!(analysis.characters() as usize, analysis.text_sent().chars().count());
            // Each part but the last decodes on its own: no pair was cut.
            for part in &parts {
                let alone = match analysis.encoding() {
                    Encoding::Gsm7 => gsm7_decode(&part.payload),
                    Encoding::Ucs2 => ucs2_decode(&part.payload),
                };
                let clean = !alone.contains(char::REPLACEMENT_CHARACTER)
                    || analysis.text_sent().contains(char::REPLACEMENT_CHARACTER);
                prop_assert!(clean, "a part decodes with a replacement character");
            }
        }
    }
}
