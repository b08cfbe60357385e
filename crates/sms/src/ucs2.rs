//! UCS-2 as SMSCs use it today: UTF-16 big-endian (SMPP `data_coding` 0x08), so characters outside
//! the Basic Multilingual Plane travel as surrogate pairs.

/// Encode `text` as UTF-16 big-endian bytes.
pub fn ucs2_encode(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

/// Decode UTF-16 big-endian bytes. Unpaired surrogates become U+FFFD, and so does a trailing odd
/// byte.
pub fn ucs2_decode(bytes: &[u8]) -> String {
    let units = bytes.chunks(2).map(|pair| match *pair {
        [hi, lo] => u16::from_be_bytes([hi, lo]),
        _ => 0xFFFD,
    });
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(bytes: &[u8], expected: &str) {
        assert_eq!(ucs2_decode(bytes), expected, "decoding {bytes:02X?}");
    }

    #[test]
    fn decode_vectors() {
        check(&[], "");
        check(&[0x00, 0x41, 0x01, 0x0D], "Ač");
        check(&[0xD8, 0x3D, 0xDE, 0x00], "😀");
        // Unpaired surrogates and an odd trailing byte.
        check(&[0xD8, 0x3D, 0x00, 0x41], "\u{FFFD}A");
        check(&[0xDE, 0x00], "\u{FFFD}");
        check(&[0x00, 0x41, 0x00], "A\u{FFFD}");
    }

    #[test]
    fn encode_is_big_endian_utf16() {
        assert_eq!(
            ucs2_encode("Ač😀"),
            [0x00, 0x41, 0x01, 0x0D, 0xD8, 0x3D, 0xDE, 0x00]
        );
        let text = "Příliš žluťoučký kůň 😀";
        assert_eq!(ucs2_decode(&ucs2_encode(text)), text);
    }
}
