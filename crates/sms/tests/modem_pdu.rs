//! The public API used the way a modem connector builds TP-User-Data: header octets, then the
//! septets packed after enough fill bits to reach a septet boundary.

use sms::{
    analyse, gsm7_decode, pack_septets_with_fill, split, unpack_septets, ConcatRef, Encoding,
    TextOptions,
};

/// TP-User-Data and TP-User-Data-Length (in septets) for one GSM-7 part.
fn user_data(udh: Option<&[u8]>, septets: &[u8]) -> (Vec<u8>, usize) {
    let udh = udh.unwrap_or_default();
    let header_bits = udh.len() * 8;
    let fill = (7 - header_bits % 7) % 7;
    let mut out = udh.to_vec();
    out.extend(pack_septets_with_fill(septets, fill as u8));
    (out, (header_bits + fill) / 7 + septets.len())
}

#[test]
fn concatenated_gsm7_parts_fit_140_octets_and_unpack() {
    let text = format!("{}€ end", "Dobrý den, ".repeat(20));
    let opts = TextOptions {
        allow_transliteration: true,
        ..TextOptions::default()
    };
    let analysis = analyse(&text, &opts).unwrap();
    assert_eq!(analysis.encoding(), Encoding::Gsm7);
    assert!(analysis.text_sent().starts_with("Dobry den, "));

    let parts = split(&analysis, 0x2A, ConcatRef::Eight);
    assert_eq!(parts.len() as u32, analysis.parts());
    assert_eq!(parts.len(), 2);

    let mut septets = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let udh = part.udh.as_deref().unwrap();
        assert_eq!(udh, [0x05, 0x00, 0x03, 0x2A, 2, i as u8 + 1]);
        let (ud, udl) = user_data(Some(udh), &part.payload);
        assert!(ud.len() <= 140, "{} octets", ud.len());
        assert!(udl <= 160, "{udl} septets");
        // A receiver skips the header and its fill bits, then unpacks.
        septets.extend(unpack_septets(&ud[udh.len()..], part.payload.len(), 1));
    }
    assert_eq!(gsm7_decode(&septets), analysis.text_sent());
}

#[test]
fn single_part_has_no_header_and_no_fill() {
    let analysis = analyse("hellohello", &TextOptions::default()).unwrap();
    let parts = split(&analysis, 0, ConcatRef::Sixteen);
    assert_eq!(parts.len(), 1);
    let (ud, udl) = user_data(parts[0].udh.as_deref(), &parts[0].payload);
    assert_eq!(ud, [0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37]);
    assert_eq!(udl, 10);
}
