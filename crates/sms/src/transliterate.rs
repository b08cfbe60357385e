//! "Smart encoding": replacing characters GSM-7 lacks with the nearest ones it has.

use unicode_normalization::char::{canonical_combining_class, decompose_compatible};
use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

use crate::gsm7::is_gsm7;

/// Replace characters GSM-7 lacks by near equivalents it has, leaving the rest alone.
///
/// The text is first composed (NFC), so `e` + combining acute becomes `é`. Then, per character:
/// GSM-7 characters are kept (`é`, `É`, `Ä`, `ñ`, `ü`, `Ø`, `€`...); typographic quotes, dashes,
/// the ellipsis, unusual spaces and a few symbols are mapped by a table; zero-width characters and
/// the soft hyphen are dropped; anything else is decomposed (NFKD) and its combining marks dropped
/// (`č` → `c`, `ů` → `u`, `ﬁ` → `fi`). A character whose decomposition is still not GSM-7 (Cyrillic,
/// CJK, emoji) is kept as it was, so the result may still need UCS-2.
pub fn transliterate(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut scratch = String::new();
    if is_nfc_quick(text.chars()) == IsNormalized::Yes {
        for c in text.chars() {
            push_replacement(c, &mut out, &mut scratch);
        }
    } else {
        for c in text.nfc() {
            push_replacement(c, &mut out, &mut scratch);
        }
    }
    out
}

/// Push the replacement for `c` onto `out`; `scratch` is a reused buffer.
fn push_replacement(c: char, out: &mut String, scratch: &mut String) {
    if is_gsm7(c) {
        out.push(c);
        return;
    }
    if let Some(s) = table(c) {
        out.push_str(s);
        return;
    }
    scratch.clear();
    let mut ok = true;
    decompose_compatible(c, |d| {
        if !ok || canonical_combining_class(d) != 0 {
            return;
        }
        if is_gsm7(d) {
            scratch.push(d);
        } else if let Some(s) = table(d) {
            scratch.push_str(s);
        } else {
            ok = false;
        }
    });
    if ok && !scratch.is_empty() {
        out.push_str(scratch);
    } else {
        out.push(c);
    }
}

/// Replacements that decomposition does not give.
fn table(c: char) -> Option<&'static str> {
    Some(match c {
        // Quotes and apostrophes.
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' | '\u{2035}' | '`'
        | '\u{B4}' | '\u{2039}' | '\u{203A}' | '\u{2BC}' => "'",
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' | '\u{AB}' | '\u{BB}' => {
            "\""
        }
        // Hyphens, dashes, minus.
        '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2015}'
        | '\u{2212}' => "-",
        '\u{2026}' => "...",
        // Spaces; tab becomes a space.
        '\t' | '\u{A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => " ",
        // Invisible characters.
        '\u{AD}' | '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' => "",
        // Letters without a canonical decomposition.
        'ç' => "c",
        'Ł' => "L",
        'ł' => "l",
        'Đ' => "D",
        'đ' | 'ð' => "d",
        'Ð' => "D",
        'Œ' => "OE",
        'œ' => "oe",
        'Þ' => "Th",
        'þ' => "th",
        'ı' => "i",
        'ħ' => "h",
        'Ħ' => "H",
        'ŧ' => "t",
        'ĸ' => "k",
        'Ŋ' => "N",
        'ŋ' => "n",
        'Ŧ' => "T",
        // Greek capitals that look like Latin ones (the rest of the capitals are GSM-7).
        'Α' => "A",
        'Β' => "B",
        'Ε' => "E",
        'Ζ' => "Z",
        'Η' => "H",
        'Ι' => "I",
        'Κ' => "K",
        'Μ' => "M",
        'Ν' => "N",
        'Ο' => "O",
        'Ρ' => "P",
        'Τ' => "T",
        'Υ' => "Y",
        'Χ' => "X",
        // Symbols.
        '\u{2022}' | '\u{2023}' | '\u{2043}' => "-",
        '\u{B7}' => ".",
        '\u{A9}' => "(c)",
        '\u{AE}' => "(R)",
        '\u{2122}' => "TM",
        '\u{D7}' => "x",
        '\u{F7}' => "/",
        '\u{2044}' => "/",
        '\u{B0}' => "o",
        '\u{2116}' => "No",
        '\u{2190}' => "<-",
        '\u{2192}' => "->",
        '\u{2264}' => "<=",
        '\u{2265}' => ">=",
        '\u{2260}' => "!=",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gsm7::gsm7_encode;

    fn check(input: &str, expected: &str) {
        assert_eq!(transliterate(input), expected, "transliterating {input:?}");
    }

    #[test]
    fn vectors() {
        check(
            "Příliš žluťoučký kůň úpěl ďábelské ódy",
            "Prilis zlutoucky kun upel dabelské ody",
        );
        check(
            "PŘÍLIŠ ŽLUŤOUČKÝ KŮŇ ÚPĚL ĎÁBELSKÉ ÓDY",
            "PRILIS ZLUTOUCKY KUN UPEL DABELSKÉ ODY",
        );
        // GSM-7 letters are kept, not stripped.
        check(
            "é É Ä Ö Ñ Ü ä ö ñ ü à è ù ì ò Å å Ø ø Æ æ ß Ç",
            "é É Ä Ö Ñ Ü ä ö ñ ü à è ù ì ò Å å Ø ø Æ æ ß Ç",
        );
        check("€[]{}", "€[]{}");
        // Combining marks compose first, so é stays é.
        check("e\u{301}", "é");
        check("c\u{30C}", "c");
        check("ç Ç", "c Ç");
        check(
            "‘quoted’ “double” „Czech“ «guillemets»",
            "'quoted' \"double\" \"Czech\" \"guillemets\"",
        );
        check("a – b — c − d", "a - b - c - d");
        check("wait…", "wait...");
        check("1\u{A0}000\u{202F}Kč", "1 000 Kc");
        check("soft\u{AD}hyphen\u{200B}", "softhyphen");
        check("ﬁne ½", "fine 1/2");
        check("Łódź Œuvre straße", "Lodz OEuvre straße");
        check("© ™ ®", "(c) TM (R)");
        check("ＡＢＣ１", "ABC1");
        check("x²", "x2");
        // Nothing close in GSM-7: left alone.
        check("Привет 😀 中文", "Привет 😀 中文");
        check("", "");
    }

    #[test]
    fn latin_letters_become_gsm7() {
        // Every precomposed Latin letter in Latin-1 Supplement and Latin Extended-A transliterates.
        for c in ('\u{C0}'..='\u{17F}').filter(|c| c.is_alphabetic()) {
            let out = transliterate(&c.to_string());
            assert!(gsm7_encode(&out).is_some(), "{c:?} -> {out:?}");
        }
    }
}
