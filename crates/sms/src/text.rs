//! Deciding how a text is sent: encoding, optional transliteration, units and part count.

use crate::gsm7::gsm7_encode;
use crate::segment::{boundaries, ConcatRef};
use crate::transliterate::transliterate;

/// The alphabet a message is sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// GSM 03.38 default alphabet with its extension table (SMPP `data_coding` 0x00).
    Gsm7,
    /// UTF-16 big-endian (SMPP `data_coding` 0x08).
    Ucs2,
}

/// How [`analyse`] may treat a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextOptions {
    /// Replace characters GSM-7 lacks ("smart encoding") when that makes the whole text GSM-7.
    pub allow_transliteration: bool,
    /// Most segments the sender accepts. At most 255 are ever possible (one-octet counters).
    pub max_parts: u32,
    /// The concatenation header the parts will carry; it decides the capacity of each part.
    pub concat: ConcatRef,
}

impl Default for TextOptions {
    fn default() -> Self {
        TextOptions {
            allow_transliteration: false,
            max_parts: 10,
            concat: ConcatRef::Eight,
        }
    }
}

/// Why a text cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// The text has no characters. (A text of only spaces is accepted; whether it makes sense is
    /// the caller's policy.)
    #[error("the text is empty")]
    Empty,
    /// The text needs more segments than allowed.
    #[error("the text needs {parts} parts, at most {max_parts} allowed")]
    TooLong { parts: u32, max_parts: u32 },
    /// A control character handsets do not display: C0 controls other than tab, line feed, form
    /// feed and carriage return, DEL, and C1 controls. Refused rather than sent as garbage.
    #[error("control character U+{:04X} at position {position}", u32::from(*character))]
    ControlCharacter {
        character: char,
        /// Index in characters (not bytes) from the start of the text.
        position: usize,
    },
}

/// The most parts a concatenated message can have: TOTAL and SEQ are one octet each.
const PART_LIMIT: u32 = 255;

/// Encoded text, kept so [`crate::split`] does not encode twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Units {
    /// Unpacked septets, escapes included.
    Gsm7(Vec<u8>),
    /// UTF-16 code units.
    Ucs2(Vec<u16>),
}

/// The result of analysing a text: what would be sent.
///
/// Invariant: `parts` is the number of segments [`crate::split`] produces for the concatenation
/// header given in the options, and it is within `1..=max_parts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analysis {
    encoding: Encoding,
    parts: u32,
    characters: u32,
    units: Units,
    text_sent: String,
    transliterated: bool,
}

impl Analysis {
    /// The alphabet the text is sent in.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Number of SMS segments.
    pub fn parts(&self) -> u32 {
        self.parts
    }

    /// User-visible characters (Unicode scalar values) of [`Analysis::text_sent`].
    pub fn characters(&self) -> u32 {
        self.characters
    }

    /// Septets for GSM-7 (an extension character counts 2), UTF-16 code units for UCS-2.
    pub fn units(&self) -> u32 {
        self.units.len() as u32
    }

    /// The text after optional transliteration.
    pub fn text_sent(&self) -> &str {
        &self.text_sent
    }

    /// Whether transliteration changed the text.
    pub fn transliterated(&self) -> bool {
        self.transliterated
    }

    pub(crate) fn encoded(&self) -> &Units {
        &self.units
    }
}

/// Decide how `text` is sent.
///
/// GSM-7 if every character is in the GSM 03.38 tables; otherwise, when
/// [`TextOptions::allow_transliteration`] is set and the transliterated text is entirely GSM-7
/// (and not empty), GSM-7 with that text; otherwise UCS-2 with the original text.
///
/// Besides [`TextError::Empty`], [`TextError::ControlCharacter`] and the caller's part limit, a
/// text is [`TextError::TooLong`] if it would need more than 255 parts with either concatenation
/// header, so [`crate::split`] never has to count past 255 whichever header it is given.
pub fn analyse(text: &str, opts: &TextOptions) -> Result<Analysis, TextError> {
    if text.is_empty() {
        return Err(TextError::Empty);
    }
    if let Some((position, character)) = text.chars().enumerate().find(|&(_, c)| is_refused(c)) {
        return Err(TextError::ControlCharacter {
            character,
            position,
        });
    }

    let (encoding, text_sent, units) = if let Some(septets) = gsm7_encode(text) {
        (Encoding::Gsm7, text.to_owned(), Units::Gsm7(septets))
    } else {
        let replaced = opts
            .allow_transliteration
            .then(|| transliterate(text))
            .filter(|t| !t.is_empty())
            .and_then(|t| gsm7_encode(&t).map(|septets| (t, septets)));
        match replaced {
            Some((t, septets)) => (Encoding::Gsm7, t, Units::Gsm7(septets)),
            None => (
                Encoding::Ucs2,
                text.to_owned(),
                Units::Ucs2(text.encode_utf16().collect()),
            ),
        }
    };

    let max_parts = opts.max_parts.min(PART_LIMIT);
    let parts = count_parts(&units, encoding, opts.concat);
    if parts > max_parts {
        return Err(TextError::TooLong { parts, max_parts });
    }
    // The 16-bit header leaves one unit less per part; keep split() within 255 for it too.
    let parts_sixteen = count_parts(&units, encoding, ConcatRef::Sixteen);
    if parts_sixteen > PART_LIMIT {
        return Err(TextError::TooLong {
            parts: parts_sixteen,
            max_parts: PART_LIMIT,
        });
    }

    Ok(Analysis {
        encoding,
        parts,
        characters: text_sent.chars().count() as u32,
        transliterated: text_sent != text,
        units,
        text_sent,
    })
}

fn count_parts(units: &Units, encoding: Encoding, concat: ConcatRef) -> u32 {
    // Bounded by the text length; saturate rather than wrap for absurd inputs.
    u32::try_from(boundaries(units, encoding, concat).len()).unwrap_or(u32::MAX)
}

fn is_refused(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\u{0C}' | '\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> TextOptions {
        TextOptions::default()
    }

    /// The start of a long text and its length, for assertion messages.
    fn preview(text: &str) -> String {
        let start: String = text.chars().take(24).collect();
        format!("{start:?} ({} chars)", text.chars().count())
    }

    fn translit() -> TextOptions {
        TextOptions {
            allow_transliteration: true,
            ..TextOptions::default()
        }
    }

    /// (encoding, parts, characters, units, text sent)
    type Expected<'a> = (Encoding, u32, u32, u32, &'a str);

    fn check(text: &str, opts: TextOptions, expected: Expected<'_>) {
        let a = analyse(text, &opts).unwrap_or_else(|e| panic!("{}: {e}", preview(text)));
        let got = (
            a.encoding(),
            a.parts(),
            a.characters(),
            a.units(),
            a.text_sent(),
        );
        assert_eq!(got, expected, "analysing {}", preview(text));
    }

    #[test]
    fn domain_vectors() {
        use Encoding::{Gsm7, Ucs2};
        let a160 = "A".repeat(160);
        let a161 = "A".repeat(161);
        check(&a160, opts(), (Gsm7, 1, 160, 160, &a160));
        check(&a161, opts(), (Gsm7, 2, 161, 161, &a161));
        let e80 = "€".repeat(80);
        let e81 = "€".repeat(81);
        check(&e80, opts(), (Gsm7, 1, 80, 160, &e80));
        check(&e81, opts(), (Gsm7, 2, 81, 162, &e81));
        for (n, parts) in [(70, 1), (71, 2), (134, 2), (135, 3)] {
            let c = "č".repeat(n);
            check(&c, opts(), (Ucs2, parts, n as u32, n as u32, &c));
        }
    }

    #[test]
    fn czech() {
        use Encoding::{Gsm7, Ucs2};
        let czech = "Příliš žluťoučký kůň";
        check(czech, opts(), (Ucs2, 1, 20, 20, czech));
        check(czech, translit(), (Gsm7, 1, 20, 20, "Prilis zlutoucky kun"));
        check("Élé", opts(), (Gsm7, 1, 3, 3, "Élé"));
        // Transliteration that leaves a non-GSM character keeps the original text in UCS-2.
        check("Příliš 😀", translit(), (Ucs2, 1, 8, 9, "Příliš 😀"));
        check("Привет", translit(), (Ucs2, 1, 6, 6, "Привет"));
    }

    #[test]
    fn other_vectors() {
        use Encoding::{Gsm7, Ucs2};
        check("Hi\tthere", opts(), (Ucs2, 1, 8, 8, "Hi\tthere"));
        check("Hi\tthere", translit(), (Gsm7, 1, 8, 8, "Hi there"));
        check("😀", opts(), (Ucs2, 1, 1, 2, "😀"));
        check("   ", opts(), (Gsm7, 1, 3, 3, "   "));
        check("[x]", opts(), (Gsm7, 1, 3, 5, "[x]"));
        // Transliteration is only used when needed.
        check("plain", translit(), (Gsm7, 1, 5, 5, "plain"));
        // A text that transliterates to nothing is sent as it is.
        check("\u{200B}", translit(), (Ucs2, 1, 1, 1, "\u{200B}"));
        // The 16-bit header shrinks parts by one unit.
        let sixteen = TextOptions {
            concat: ConcatRef::Sixteen,
            ..opts()
        };
        let a305 = "A".repeat(305);
        check(&a305, opts(), (Gsm7, 2, 305, 305, &a305));
        check(&a305, sixteen, (Gsm7, 3, 305, 305, &a305));
    }

    #[test]
    fn transliteration_flag() {
        assert!(analyse("čau", &translit()).unwrap().transliterated());
        assert!(!analyse("cau", &translit()).unwrap().transliterated());
        assert!(!analyse("čau", &opts()).unwrap().transliterated());
    }

    fn check_err(text: &str, opts: TextOptions, expected: TextError) {
        let got = analyse(text, &opts).map(|a| a.parts());
        assert_eq!(got, Err(expected), "analysing {}", preview(text));
    }

    #[test]
    fn errors() {
        check_err("", opts(), TextError::Empty);
        check_err(
            &"A".repeat(1531),
            opts(),
            TextError::TooLong {
                parts: 11,
                max_parts: 10,
            },
        );
        check_err(
            "A",
            TextOptions {
                max_parts: 0,
                ..opts()
            },
            TextError::TooLong {
                parts: 1,
                max_parts: 0,
            },
        );
        let nul = TextError::ControlCharacter {
            character: '\0',
            position: 2,
        };
        check_err("ab\0", opts(), nul.clone());
        check_err("ab\0", translit(), nul);
        check_err(
            "č\u{1B}",
            opts(),
            TextError::ControlCharacter {
                character: '\u{1B}',
                position: 1,
            },
        );
        check_err(
            "\u{85}",
            opts(),
            TextError::ControlCharacter {
                character: '\u{85}',
                position: 0,
            },
        );
    }

    #[test]
    fn part_limit_is_255_for_both_headers() {
        let many = TextOptions {
            max_parts: 1000,
            ..opts()
        };
        let many_sixteen = TextOptions {
            concat: ConcatRef::Sixteen,
            ..many
        };
        let longest = "A".repeat(255 * 152);
        assert_eq!(analyse(&longest, &many).unwrap().parts(), 254);
        assert_eq!(analyse(&longest, &many_sixteen).unwrap().parts(), 255);
        // 255 parts with an 8-bit header, but 256 with a 16-bit one.
        check_err(
            &"A".repeat(255 * 153),
            many,
            TextError::TooLong {
                parts: 257,
                max_parts: 255,
            },
        );
        check_err(
            &"A".repeat(255 * 153 + 1),
            many,
            TextError::TooLong {
                parts: 256,
                max_parts: 255,
            },
        );
    }

    #[test]
    fn serde_names_are_lowercase() {
        use serde::de::{value::StrDeserializer, Deserialize, IntoDeserializer};
        fn from(name: &str) -> Result<Encoding, serde::de::value::Error> {
            let de: StrDeserializer<'_, serde::de::value::Error> = name.into_deserializer();
            Encoding::deserialize(de)
        }
        assert_eq!(from("gsm7"), Ok(Encoding::Gsm7));
        assert_eq!(from("ucs2"), Ok(Encoding::Ucs2));
        assert!(from("Gsm7").is_err());
    }
}
