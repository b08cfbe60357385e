//! The GSM 7-bit default alphabet (3GPP TS 23.038 §6.2.1): the basic table, the extension table
//! reached through the escape septet `0x1B`, and septet packing for modem PDUs.
//!
//! Septets are kept *unpacked* (one per octet) everywhere except in [`pack_septets`], because that
//! is what SMPP `data_coding` 0x00 carries.

/// The escape septet that selects the extension table for the next septet.
pub const ESCAPE: u8 = 0x1B;

/// The basic table, indexed by septet. Position `0x1B` is the escape and never decodes to itself;
/// it holds U+00A0 here only as a placeholder (23.038 asks receivers to show a space).
const BASIC: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{A0}', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// The extension table: (code after the escape, character). Each costs two septets.
const EXTENSION: [(u8, char); 10] = [
    (0x0A, '\u{0C}'), // form feed (page break)
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// How a character is written in GSM-7.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Septets {
    /// One septet from the basic table.
    Basic(u8),
    /// The escape followed by this code from the extension table.
    Extension(u8),
}

/// Marks an extension code in [`LATIN1`]; absent characters are [`NONE`].
const EXT_FLAG: u16 = 0x100;
const NONE: u16 = 0xFFFF;

/// Septet (or extension code | [`EXT_FLAG`]) for every character below U+0100, built from the
/// tables above so the two cannot disagree.
const LATIN1: [u16; 256] = {
    let mut t = [NONE; 256];
    let mut i = 0;
    while i < BASIC.len() {
        let c = BASIC[i] as usize;
        if i != ESCAPE as usize && c < 256 {
            t[c] = i as u16;
        }
        i += 1;
    }
    let mut j = 0;
    while j < EXTENSION.len() {
        let (code, c) = EXTENSION[j];
        if (c as usize) < 256 {
            t[c as usize] = code as u16 | EXT_FLAG;
        }
        j += 1;
    }
    t
};

/// Look a character up in the basic and extension tables.
pub(crate) fn lookup(c: char) -> Option<Septets> {
    if let Some(&entry) = LATIN1.get(c as usize) {
        return match entry {
            NONE => None,
            e if e & EXT_FLAG != 0 => Some(Septets::Extension(e as u8)),
            e => Some(Septets::Basic(e as u8)),
        };
    }
    // Above Latin-1 only the Greek capitals and the euro sign remain.
    match c {
        '€' => Some(Septets::Extension(0x65)),
        'Δ' => Some(Septets::Basic(0x10)),
        'Φ' => Some(Septets::Basic(0x12)),
        'Γ' => Some(Septets::Basic(0x13)),
        'Λ' => Some(Septets::Basic(0x14)),
        'Ω' => Some(Septets::Basic(0x15)),
        'Π' => Some(Septets::Basic(0x16)),
        'Ψ' => Some(Septets::Basic(0x17)),
        'Σ' => Some(Septets::Basic(0x18)),
        'Θ' => Some(Septets::Basic(0x19)),
        'Ξ' => Some(Septets::Basic(0x1A)),
        _ => None,
    }
}

/// Whether `c` can be written in GSM-7 (basic or extension table).
pub fn is_gsm7(c: char) -> bool {
    lookup(c).is_some()
}

/// Whether `c` is in the basic table (one septet, not the escape).
pub fn is_gsm7_basic(c: char) -> bool {
    matches!(lookup(c), Some(Septets::Basic(_)))
}

/// Encode `text` as unpacked septets, one per octet, with `0x1B` before each extension code.
///
/// Returns `None` if any character is in neither table.
pub fn gsm7_encode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        match lookup(c)? {
            Septets::Basic(s) => out.push(s),
            Septets::Extension(s) => out.extend_from_slice(&[ESCAPE, s]),
        }
    }
    Some(out)
}

/// Decode unpacked septets. Lossless for anything [`gsm7_encode`] produced.
///
/// For other input it follows 23.038: an escape before a code the extension table lacks shows the
/// basic character for that code; a trailing escape is dropped; octets above `0x7F` become U+FFFD.
pub fn gsm7_decode(septets: &[u8]) -> String {
    let mut out = String::with_capacity(septets.len());
    let mut iter = septets.iter().copied();
    while let Some(s) = iter.next() {
        if s == ESCAPE {
            let Some(code) = iter.next() else { break };
            match EXTENSION.iter().find(|(e, _)| *e == code) {
                Some((_, c)) => out.push(*c),
                None => out.push(basic_char(code)),
            }
        } else {
            out.push(basic_char(s));
        }
    }
    out
}

fn basic_char(s: u8) -> char {
    match BASIC.get(usize::from(s)) {
        Some(_) if s == ESCAPE => ' ',
        Some(&c) => c,
        None => char::REPLACEMENT_CHARACTER,
    }
}

/// Pack septets into octets, least significant bit first (3GPP TS 23.038 §6.1.2.1.1).
///
/// Bits above the seventh in each input octet are ignored. The spare bits of the last octet are
/// zero; use the user data length (in septets) to know where the text ends.
pub fn pack_septets(septets: &[u8]) -> Vec<u8> {
    pack_septets_with_fill(septets, 0)
}

/// Pack septets after `fill_bits` zero bits, so the text starts on a septet boundary after a user
/// data header: with a UDH of `n` octets, `fill_bits = (7 - (n * 8) % 7) % 7` (for the usual 6-octet
/// concatenation header, 1). Any fill works; 0..=6 are the meaningful values.
pub fn pack_septets_with_fill(septets: &[u8], fill_bits: u8) -> Vec<u8> {
    let total_bits = usize::from(fill_bits) + septets.len() * 7;
    let mut out = Vec::with_capacity(total_bits.div_ceil(8));
    let mut acc: u32 = 0;
    let mut bits = u32::from(fill_bits);
    // Whole zero octets for a fill of 8 or more.
    while bits >= 8 {
        out.push(0);
        bits -= 8;
    }
    for &s in septets {
        acc |= u32::from(s & 0x7F) << bits;
        bits += 7;
        while bits >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            bits -= 8;
        }
    }
    if bits > 0 {
        out.push(acc as u8);
    }
    out
}

/// Unpack `count` septets from packed octets that begin with `fill_bits` zero bits; the inverse of
/// [`pack_septets_with_fill`]. Stops early if the octets run out.
pub fn unpack_septets(packed: &[u8], count: usize, fill_bits: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let bit = usize::from(fill_bits) + i * 7;
        let (byte, shift) = (bit / 8, bit % 8);
        let Some(&lo) = packed.get(byte) else { break };
        let hi = packed.get(byte + 1).copied().unwrap_or(0);
        let word = u16::from(lo) | (u16::from(hi) << 8);
        out.push(((word >> shift) & 0x7F) as u8);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check_encode(text: &str, expected: Option<&[u8]>) {
        assert_eq!(gsm7_encode(text).as_deref(), expected, "encoding {text:?}");
    }

    #[test]
    fn encode_vectors() {
        check_encode("", Some(&[]));
        check_encode("@", Some(&[0x00]));
        check_encode("Hello", Some(&[0x48, 0x65, 0x6C, 0x6C, 0x6F]));
        check_encode("$¤£", Some(&[0x02, 0x24, 0x01]));
        check_encode("é É", Some(&[0x05, 0x20, 0x1F]));
        check_encode(
            "ÄÖÑÜ§¿äöñüà",
            Some(&[
                0x5B, 0x5C, 0x5D, 0x5E, 0x5F, 0x60, 0x7B, 0x7C, 0x7D, 0x7E, 0x7F,
            ]),
        );
        check_encode("ΔΩ_", Some(&[0x10, 0x15, 0x11]));
        check_encode("\n\r", Some(&[0x0A, 0x0D]));
        check_encode("€", Some(&[0x1B, 0x65]));
        check_encode(
            "\u{0C}^{}\\[~]|",
            Some(&[
                0x1B, 0x0A, 0x1B, 0x14, 0x1B, 0x28, 0x1B, 0x29, 0x1B, 0x2F, 0x1B, 0x3C, 0x1B, 0x3D,
                0x1B, 0x3E, 0x1B, 0x40,
            ]),
        );
        // Czech letters other than é/É are not in the alphabet.
        check_encode("č", None);
        check_encode("Příliš", None);
        // Not in the tables: backtick, small c cedilla (0x09 is the capital), NBSP, emoji.
        check_encode("`", None);
        check_encode("ç", None);
        check_encode("\u{A0}", None);
        check_encode("😀", None);
        check_encode("\u{1B}", None);
    }

    #[test]
    fn basic_table_has_127_characters_and_the_escape() {
        let encodable: Vec<char> = (0u8..128)
            .filter(|&s| s != ESCAPE)
            .map(|s| BASIC[usize::from(s)])
            .collect();
        assert_eq!(encodable.len(), 127);
        for (s, c) in (0u8..128).filter(|&s| s != ESCAPE).zip(encodable) {
            assert_eq!(gsm7_encode(&c.to_string()), Some(vec![s]), "{c:?}");
        }
    }

    /// The fast lookup agrees with a plain scan of both tables for every character that could
    /// possibly be in them.
    #[test]
    fn lookup_matches_tables() {
        fn scan(c: char) -> Option<Septets> {
            if let Some(&(code, _)) = EXTENSION.iter().find(|(_, e)| *e == c) {
                return Some(Septets::Extension(code));
            }
            (0u8..128)
                .filter(|&s| s != ESCAPE)
                .find(|&s| BASIC[usize::from(s)] == c)
                .map(Septets::Basic)
        }
        for c in ('\0'..='\u{FFFF}').chain(['\u{1F600}']) {
            assert_eq!(lookup(c), scan(c), "{c:?}");
        }
    }

    fn check_decode(septets: &[u8], expected: &str) {
        assert_eq!(gsm7_decode(septets), expected, "decoding {septets:02X?}");
    }

    #[test]
    fn decode_vectors() {
        check_decode(&[0x1B, 0x65, 0x31], "€1");
        check_decode(&[0x00, 0x02], "@$");
        // Escape before a code the extension table lacks: show the basic character.
        check_decode(&[0x1B, 0x41], "A");
        // Trailing escape is dropped; octets outside 7 bits are replaced.
        check_decode(&[0x41, 0x1B], "A");
        check_decode(&[0x80], "\u{FFFD}");
    }

    fn check_pack(septets: &[u8], fill: u8, expected: &[u8]) {
        assert_eq!(
            pack_septets_with_fill(septets, fill),
            expected,
            "packing {septets:02X?} with {fill} fill bits"
        );
        assert_eq!(unpack_septets(expected, septets.len(), fill), septets);
    }

    #[test]
    fn pack_vectors() {
        let hello = gsm7_encode("hellohello").unwrap();
        // 3GPP TS 23.038 §6.1.2.1.1 example.
        assert_eq!(
            pack_septets(&hello),
            [0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37]
        );
        check_pack(
            &hello,
            0,
            &[0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37],
        );
        check_pack(&[], 0, &[]);
        check_pack(&[], 3, &[0x00]);
        check_pack(&[0x7F], 0, &[0x7F]);
        // Eight septets fill exactly seven octets.
        check_pack(&[0x41; 8], 0, &[0xC1, 0x60, 0x30, 0x18, 0x0C, 0x06, 0x83]);
        // One fill bit, as after a 6-octet concatenation UDH: "hi" = 0x68 0x69.
        // 0x68 << 1 fills the first octet exactly; 0x69 is left alone in the second.
        check_pack(&[0x68, 0x69], 1, &[0xD0, 0x69]);
        check_pack(
            &hello,
            1,
            &[0xD0, 0x65, 0x36, 0xFB, 0x8D, 0x2E, 0xB3, 0xD9, 0x6F],
        );
        // Six fill bits: "A" lands in bits 6..13.
        check_pack(&[0x41], 6, &[0x40, 0x10]);
        // A fill of eight or more adds whole zero octets.
        check_pack(&[0x41], 8, &[0x00, 0x41]);
    }

    fn gsm7_char() -> impl Strategy<Value = char> {
        let all: Vec<char> = BASIC
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != usize::from(ESCAPE))
            .map(|(_, &c)| c)
            .chain(EXTENSION.iter().map(|&(_, c)| c))
            .collect();
        proptest::sample::select(all)
    }

    proptest! {
        #[test]
        fn gsm7_round_trip(text in proptest::collection::vec(gsm7_char(), 0..300)
            .prop_map(|v| v.into_iter().collect::<String>())) {
            let septets = gsm7_encode(&text).expect("only GSM-7 characters");
            prop_assert!(septets.iter().all(|&s| s < 0x80));
            prop_assert_eq!(gsm7_decode(&septets), text);
        }

        #[test]
        fn pack_unpack_round_trip(septets in proptest::collection::vec(0u8..0x80, 0..200), fill in 0u8..7) {
            let packed = pack_septets_with_fill(&septets, fill);
            prop_assert_eq!(packed.len(), (usize::from(fill) + septets.len() * 7).div_ceil(8));
            prop_assert_eq!(unpack_septets(&packed, septets.len(), fill), septets);
        }
    }
}
