//! QR Platba: the Short Payment Descriptor (SPAYD) `SPD*1.0*KEY:VALUE*...` and its QR code.
//!
//! Character set: the format is ISO-8859-1, but a QR reader may decode byte-mode data as UTF-8.
//! Every value is therefore reduced to printable ASCII, which reads the same either way: letters
//! with diacritics from Latin-1 and Latin Extended-A (all of Czech and Slovak) lose the diacritic
//! (`Příliš žluťoučký` -> `Prilis zlutoucky`), and any other character outside printable ASCII is
//! refused with [`SpaydError::Unrepresentable`]. A `*` inside a value is written `%2A`. Length
//! limits (`MSG` 60, `RN` 35) count characters before escaping.

use crate::{Amount, Iban, VariableSymbol};
use chrono::{Datelike, NaiveDate};
use std::fmt;

/// Why a SPAYD value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpaydError {
    #[error("{key}: character {ch:?} cannot be written in ISO-8859-1 ASCII form")]
    Unrepresentable { key: &'static str, ch: char },
    #[error("{key}: {len} characters, at most {max} allowed")]
    TooLong {
        key: &'static str,
        len: usize,
        max: usize,
    },
    #[error("AM: {0} is negative or has more than 10 digits before the decimal point")]
    AmountOutOfRange(Amount),
    #[error("CC: {0:?} is not a three-letter ISO 4217 code")]
    Currency(String),
    #[error("BIC {0:?} must be 8 or 11 letters and digits")]
    Bic(String),
    #[error("{key}: {value:?} must be 1 to 10 digits")]
    Symbol { key: &'static str, value: String },
    #[error("QR code: {0}")]
    Qr(String),
}

/// A QR Platba payment request. `ACC` is required; everything else is optional, `CC` defaults
/// to `CZK`. Each setter checks its value, so a built `Spayd` always renders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spayd {
    acc: Iban,
    bic: Option<String>,
    am: Option<Amount>,
    cc: String,
    dt: Option<NaiveDate>,
    msg: Option<String>,
    x_vs: Option<VariableSymbol>,
    x_ss: Option<String>,
    x_ks: Option<String>,
    rn: Option<String>,
}

impl Spayd {
    /// A payment request to `acc` in CZK.
    pub fn new(acc: Iban) -> Spayd {
        Spayd {
            acc,
            bic: None,
            am: None,
            cc: "CZK".to_owned(),
            dt: None,
            msg: None,
            x_vs: None,
            x_ss: None,
            x_ks: None,
            rn: None,
        }
    }

    /// Adds the BIC written after the IBAN as `ACC:IBAN+BIC`.
    pub fn with_bic(mut self, bic: &str) -> Result<Spayd, SpaydError> {
        let bic = bic.to_ascii_uppercase();
        if !(bic.len() == 8 || bic.len() == 11) || !bic.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(SpaydError::Bic(bic));
        }
        self.bic = Some(bic);
        Ok(self)
    }

    /// `AM`: must be non-negative with at most 10 digits before the decimal point.
    pub fn with_amount(mut self, amount: Amount) -> Result<Spayd, SpaydError> {
        if amount.is_negative() || amount.halere() >= 10_000_000_000 * 100 {
            return Err(SpaydError::AmountOutOfRange(amount));
        }
        self.am = Some(amount);
        Ok(self)
    }

    /// `CC`: three ASCII letters, upper-cased.
    pub fn with_currency(mut self, code: &str) -> Result<Spayd, SpaydError> {
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(SpaydError::Currency(code.to_owned()));
        }
        self.cc = code.to_ascii_uppercase();
        Ok(self)
    }

    /// `DT`: due date, written `YYYYMMDD`.
    pub fn with_due_date(mut self, date: NaiveDate) -> Spayd {
        self.dt = Some(date);
        self
    }

    /// `MSG`: message for the recipient, at most 60 characters.
    pub fn with_message(mut self, message: &str) -> Result<Spayd, SpaydError> {
        self.msg = Some(checked_text("MSG", message, 60)?);
        Ok(self)
    }

    /// `RN`: recipient name, at most 35 characters.
    pub fn with_recipient_name(mut self, name: &str) -> Result<Spayd, SpaydError> {
        self.rn = Some(checked_text("RN", name, 35)?);
        Ok(self)
    }

    /// `X-VS`: the variable symbol (written without leading zeros).
    pub fn with_variable_symbol(mut self, vs: VariableSymbol) -> Spayd {
        self.x_vs = Some(vs);
        self
    }

    /// `X-SS`: specific symbol, 1 to 10 digits.
    pub fn with_specific_symbol(mut self, ss: &str) -> Result<Spayd, SpaydError> {
        self.x_ss = Some(checked_symbol("X-SS", ss)?);
        Ok(self)
    }

    /// `X-KS`: constant symbol, 1 to 10 digits (conventionally 4).
    pub fn with_constant_symbol(mut self, ks: &str) -> Result<Spayd, SpaydError> {
        self.x_ks = Some(checked_symbol("X-KS", ks)?);
        Ok(self)
    }

    /// `(KEY, VALUE)` pairs, values already escaped, keys in alphabetical order (the order the
    /// CRC32 is computed over; it is also a valid order to write them in).
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut acc = self.acc.as_str().to_owned();
        if let Some(bic) = &self.bic {
            acc.push('+');
            acc.push_str(bic);
        }
        let mut pairs = vec![("ACC", acc)];
        if let Some(am) = self.am {
            pairs.push(("AM", am.to_string()));
        }
        pairs.push(("CC", self.cc.clone()));
        if let Some(dt) = self.dt {
            pairs.push((
                "DT",
                format!("{:04}{:02}{:02}", dt.year(), dt.month(), dt.day()),
            ));
        }
        if let Some(msg) = &self.msg {
            pairs.push(("MSG", escape(msg)));
        }
        if let Some(rn) = &self.rn {
            pairs.push(("RN", escape(rn)));
        }
        if let Some(ks) = &self.x_ks {
            pairs.push(("X-KS", ks.clone()));
        }
        if let Some(ss) = &self.x_ss {
            pairs.push(("X-SS", ss.clone()));
        }
        if let Some(vs) = &self.x_vs {
            pairs.push(("X-VS", vs.as_str().to_owned()));
        }
        pairs.sort_by(|a, b| a.0.cmp(b.0));
        pairs
    }

    /// The descriptor followed by `*CRC32:XXXXXXXX` (IEEE CRC-32, upper-case hex, over the
    /// descriptor with its keys in alphabetical order).
    pub fn to_string_with_crc(&self) -> String {
        let body = self.to_string();
        let crc = crc32fast::hash(body.as_bytes());
        format!("{body}*CRC32:{crc:08X}")
    }
}

impl fmt::Display for Spayd {
    /// The descriptor without a CRC32: `SPD*1.0*ACC:...*CC:CZK`, keys in alphabetical order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SPD*1.0")?;
        for (key, value) in self.pairs() {
            write!(f, "*{key}:{value}")?;
        }
        Ok(())
    }
}

fn escape(value: &str) -> String {
    value.replace('*', "%2A")
}

fn checked_symbol(key: &'static str, value: &str) -> Result<String, SpaydError> {
    if value.is_empty() || value.len() > 10 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SpaydError::Symbol {
            key,
            value: value.to_owned(),
        });
    }
    Ok(value.to_owned())
}

fn checked_text(key: &'static str, value: &str, max: usize) -> Result<String, SpaydError> {
    let text = transliterate(key, value)?;
    let len = text.chars().count();
    if len > max {
        return Err(SpaydError::TooLong { key, len, max });
    }
    Ok(text)
}

/// Reduces `value` to printable ASCII (see the module documentation).
fn transliterate(key: &'static str, value: &str) -> Result<String, SpaydError> {
    let mut out = String::with_capacity(value.len());
    for ch in value.chars() {
        if (' '..='~').contains(&ch) {
            out.push(ch);
        } else if let Some(base) = base_letter(ch) {
            out.push(base);
        } else {
            return Err(SpaydError::Unrepresentable { key, ch });
        }
    }
    Ok(out)
}

/// The letter without its diacritic, for Latin-1 and Latin Extended-A letters.
fn base_letter(ch: char) -> Option<char> {
    let base = match ch {
        'À'..='Å' | 'Ā' | 'Ă' | 'Ą' => 'A',
        'à'..='å' | 'ā' | 'ă' | 'ą' => 'a',
        'Ç' | 'Ć' | 'Ĉ' | 'Ċ' | 'Č' => 'C',
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => 'c',
        'Ď' | 'Đ' | 'Ð' => 'D',
        'ď' | 'đ' | 'ð' => 'd',
        'È'..='Ë' | 'Ē' | 'Ĕ' | 'Ė' | 'Ę' | 'Ě' => 'E',
        'è'..='ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => 'e',
        'Ĝ' | 'Ğ' | 'Ġ' | 'Ģ' => 'G',
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => 'g',
        'Ĥ' | 'Ħ' => 'H',
        'ĥ' | 'ħ' => 'h',
        'Ì'..='Ï' | 'Ĩ' | 'Ī' | 'Ĭ' | 'Į' | 'İ' => 'I',
        'ì'..='ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => 'i',
        'Ĵ' => 'J',
        'ĵ' => 'j',
        'Ķ' => 'K',
        'ķ' | 'ĸ' => 'k',
        'Ĺ' | 'Ļ' | 'Ľ' | 'Ŀ' | 'Ł' => 'L',
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => 'l',
        'Ñ' | 'Ń' | 'Ņ' | 'Ň' | 'Ŋ' => 'N',
        'ñ' | 'ń' | 'ņ' | 'ň' | 'ŉ' | 'ŋ' => 'n',
        'Ò'..='Ö' | 'Ø' | 'Ō' | 'Ŏ' | 'Ő' => 'O',
        'ò'..='ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => 'o',
        'Ŕ' | 'Ŗ' | 'Ř' => 'R',
        'ŕ' | 'ŗ' | 'ř' => 'r',
        'Ś' | 'Ŝ' | 'Ş' | 'Š' => 'S',
        'ś' | 'ŝ' | 'ş' | 'š' | 'ß' => 's',
        'Ţ' | 'Ť' | 'Ŧ' => 'T',
        'ţ' | 'ť' | 'ŧ' => 't',
        'Ù'..='Ü' | 'Ũ' | 'Ū' | 'Ŭ' | 'Ů' | 'Ű' | 'Ų' => 'U',
        'ù'..='ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => 'u',
        'Ŵ' => 'W',
        'ŵ' => 'w',
        'Ý' | 'Ŷ' | 'Ÿ' => 'Y',
        'ý' | 'ÿ' | 'ŷ' => 'y',
        'Ź' | 'Ż' | 'Ž' => 'Z',
        'ź' | 'ż' | 'ž' => 'z',
        _ => return None,
    };
    Some(base)
}

/// Renders a SPAYD string as an SVG QR code, error correction level M, each character written as
/// one ISO-8859-1 byte (QR byte mode's default). Fails on a character above U+00FF or on data
/// too long for a QR code.
pub fn spayd_qr_svg(spayd: &str) -> Result<String, SpaydError> {
    let code = qr_code(spayd)?;
    Ok(code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

fn qr_code(spayd: &str) -> Result<qrcode::QrCode, SpaydError> {
    let mut bytes = Vec::with_capacity(spayd.len());
    for ch in spayd.chars() {
        let code = u32::from(ch);
        if code > 0xFF {
            return Err(SpaydError::Unrepresentable { key: "SPD", ch });
        }
        bytes.push(code as u8);
    }
    qrcode::QrCode::with_error_correction_level(&bytes, qrcode::EcLevel::M)
        .map_err(|e| SpaydError::Qr(e.to_string()))
}

/// Modules of white border around a QR code (the specification's quiet zone).
const QUIET_ZONE: usize = 4;

/// Renders a SPAYD string as a PNG QR code (8-bit greyscale), `scale` pixels per module
/// (at least 1) with the four-module quiet zone; same rules as [`spayd_qr_svg`].
pub fn spayd_qr_png(spayd: &str, scale: u32) -> Result<Vec<u8>, SpaydError> {
    let code = qr_code(spayd)?;
    let modules = code.width();
    let colors = code.to_colors();
    let scale = scale.max(1) as usize;
    let side = (modules + 2 * QUIET_ZONE) * scale;
    let mut pixels = vec![0xFF_u8; side * side];
    for (i, color) in colors.iter().enumerate() {
        if *color != qrcode::Color::Dark {
            continue;
        }
        let (mx, my) = (i % modules + QUIET_ZONE, i / modules + QUIET_ZONE);
        for y in my * scale..(my + 1) * scale {
            pixels[y * side + mx * scale..y * side + (mx + 1) * scale].fill(0);
        }
    }
    let side = u32::try_from(side).map_err(|_| SpaydError::Qr("image too large".into()))?;
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let png_err = |e: png::EncodingError| SpaydError::Qr(e.to_string());
    let mut writer = encoder.write_header().map_err(png_err)?;
    writer.write_image_data(&pixels).map_err(png_err)?;
    writer.finish().map_err(png_err)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn iban() -> Iban {
        Iban::parse("CZ5855000000001265098001").unwrap()
    }

    #[test]
    fn crc_vector_from_the_specification() {
        let spayd = Spayd::new(iban())
            .with_amount(Amount::parse("100.00").unwrap())
            .unwrap();
        assert_eq!(
            spayd.to_string_with_crc(),
            "SPD*1.0*ACC:CZ5855000000001265098001*AM:100.00*CC:CZK*CRC32:AAD80227"
        );
    }

    #[test]
    fn all_keys_sorted_and_escaped() {
        let spayd = Spayd::new(iban())
            .with_bic("gibaczpx")
            .unwrap()
            .with_amount(Amount::parse("500").unwrap())
            .unwrap()
            .with_due_date(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap())
            .with_message("Kredit *SMS* – dobití")
            .unwrap_err();
        assert_eq!(
            spayd,
            SpaydError::Unrepresentable {
                key: "MSG",
                ch: '–'
            }
        );

        let spayd = Spayd::new(iban())
            .with_bic("GIBACZPX")
            .unwrap()
            .with_amount(Amount::parse("500").unwrap())
            .unwrap()
            .with_due_date(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap())
            .with_message("Kredit *SMS* dobití účtu")
            .unwrap()
            .with_recipient_name("Příliš žluťoučký kůň s.r.o.")
            .unwrap()
            .with_variable_symbol(VariableSymbol::parse("0012345").unwrap())
            .with_specific_symbol("77")
            .unwrap()
            .with_constant_symbol("0308")
            .unwrap();
        assert_eq!(
            spayd.to_string(),
            "SPD*1.0*ACC:CZ5855000000001265098001+GIBACZPX*AM:500.00*CC:CZK*DT:20261201\
             *MSG:Kredit %2ASMS%2A dobiti uctu*RN:Prilis zlutoucky kun s.r.o.*X-KS:0308*X-SS:77*X-VS:12345"
        );
        let with_crc = spayd.to_string_with_crc();
        let crc = crc32fast::hash(spayd.to_string().as_bytes());
        assert!(with_crc.ends_with(&format!("*CRC32:{crc:08X}")));
    }

    #[test]
    fn limits() {
        assert!(matches!(
            Spayd::new(iban()).with_message(&"x".repeat(61)),
            Err(SpaydError::TooLong {
                key: "MSG",
                len: 61,
                max: 60
            })
        ));
        assert!(Spayd::new(iban()).with_message(&"č".repeat(60)).is_ok());
        assert!(matches!(
            Spayd::new(iban()).with_amount(Amount::from_halere(-1)),
            Err(SpaydError::AmountOutOfRange(_))
        ));
        assert!(Spayd::new(iban())
            .with_amount(Amount::from_halere(999_999_999_999))
            .is_ok());
        assert!(Spayd::new(iban())
            .with_amount(Amount::from_halere(1_000_000_000_000))
            .is_err());
        assert!(Spayd::new(iban()).with_currency("EU").is_err());
        assert!(Spayd::new(iban())
            .with_specific_symbol("12345678901")
            .is_err());
        assert!(Spayd::new(iban()).with_constant_symbol("03a8").is_err());
        assert!(Spayd::new(iban()).with_bic("GIBA").is_err());
        assert!(Spayd::new(iban()).with_message("line\nbreak").is_err());
        assert!(Spayd::new(iban()).with_message("😀").is_err());
    }

    #[test]
    fn qr_svg_renders() {
        let spayd = Spayd::new(iban())
            .with_amount(Amount::parse("100.00").unwrap())
            .unwrap();
        let svg = spayd_qr_svg(&spayd.to_string_with_crc()).unwrap();
        assert!(svg.contains("<svg"));
        assert!(svg.contains("</svg>"));
        assert!(spayd_qr_svg("SPD*1.0*MSG:Ř").is_err());
        assert!(matches!(
            spayd_qr_svg(&"9".repeat(8000)),
            Err(SpaydError::Qr(_))
        ));
    }

    #[test]
    fn qr_png_renders_the_modules_of_the_code() {
        let text = Spayd::new(iban())
            .with_amount(Amount::parse("100.00").unwrap())
            .unwrap()
            .to_string_with_crc();
        let png_bytes = spayd_qr_png(&text, 4).unwrap();
        assert_eq!(&png_bytes[..8], b"\x89PNG\r\n\x1a\n");
        let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        let code = qr_code(&text).unwrap();
        let modules = code.width();
        assert_eq!(info.width as usize, (modules + 8) * 4);
        assert_eq!(info.width, info.height);
        // Every module's pixels match the code; the quiet zone is white.
        let side = info.width as usize;
        for (i, color) in code.to_colors().iter().enumerate() {
            let (x, y) = ((i % modules + 4) * 4 + 1, (i / modules + 4) * 4 + 2);
            let dark = buf[y * side + x] == 0;
            assert_eq!(dark, *color == qrcode::Color::Dark, "module {i}");
        }
        assert!(buf[..side * 16].iter().all(|&p| p == 0xFF));
        assert!(spayd_qr_png("SPD*1.0*MSG:Ř", 4).is_err());
    }

    proptest! {
        #[test]
        fn values_never_break_the_frame(msg in "\\PC{0,60}") {
            if let Ok(spayd) = Spayd::new(iban()).with_message(&msg) {
                let text = spayd.to_string_with_crc();
                prop_assert!(text.is_ascii());
                // Exactly the keys we set: ACC, CC, MSG, CRC32 after the header.
                prop_assert_eq!(text.split('*').count(), 6);
            }
        }

        #[test]
        fn amount_matches_the_regex(h in 0i64..1_000_000_000_000) {
            let spayd = Spayd::new(iban()).with_amount(Amount::from_halere(h)).unwrap();
            let text = spayd.to_string();
            let am = text.split('*').find_map(|p| p.strip_prefix("AM:")).unwrap();
            let (int, frac) = am.split_once('.').unwrap();
            prop_assert!(int.len() <= 10 && int.bytes().all(|b| b.is_ascii_digit()));
            prop_assert!(frac.len() == 2 && frac.bytes().all(|b| b.is_ascii_digit()));
        }
    }
}
