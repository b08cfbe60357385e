//! Payment symbols: the variable symbol (VS) that ties a payment to a customer, and the
//! `/VS/.../SS/.../KS/...` forms found in remittance text.

use std::fmt;
use std::str::FromStr;

/// A variable symbol: 1 to 10 decimal digits, stored without leading zeros so that the ABO
/// padding (`0000012345`) and the customer's form (`12345`) compare equal. A VS of only zeros is
/// kept as `0`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VariableSymbol(String);

/// Why a text is not a [`VariableSymbol`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VariableSymbolError {
    #[error("variable symbol is empty")]
    Empty,
    #[error("variable symbol {0:?} has more than 10 digits")]
    TooLong(String),
    #[error("variable symbol {0:?} contains a character other than a digit")]
    NotDigits(String),
}

impl VariableSymbol {
    /// Parses 1 to 10 ASCII digits; leading zeros are dropped.
    pub fn parse(text: &str) -> Result<VariableSymbol, VariableSymbolError> {
        if text.is_empty() {
            return Err(VariableSymbolError::Empty);
        }
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(VariableSymbolError::NotDigits(text.to_owned()));
        }
        if text.len() > 10 {
            return Err(VariableSymbolError::TooLong(text.to_owned()));
        }
        let trimmed = text.trim_start_matches('0');
        Ok(VariableSymbol(if trimmed.is_empty() {
            "0".to_owned()
        } else {
            trimmed.to_owned()
        }))
    }

    /// The digits without leading zeros.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the symbol is `0`, which statements use for "no symbol".
    pub fn is_zero(&self) -> bool {
        self.0 == "0"
    }
}

impl fmt::Display for VariableSymbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for VariableSymbol {
    type Err = VariableSymbolError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        VariableSymbol::parse(s)
    }
}

impl TryFrom<&str> for VariableSymbol {
    type Error = VariableSymbolError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        VariableSymbol::parse(s)
    }
}

/// Finds a variable symbol in free remittance text.
///
/// Understands `/VS/1234567890/SS/.../KS/...` (payments from abroad) and `VS:123`, `VS: 123`,
/// `VS 123`, `vs=123`, `VS.123`, case-insensitively. `VS` must not be glued to a preceding letter
/// or digit, and the digits must end at a non-digit (a run of 11 digits is not a VS). A VS of only
/// zeros counts as none. The first match wins.
pub fn vs_from_remittance(text: &str) -> Option<VariableSymbol> {
    symbol_after_tag(text, "VS", 10)
        .and_then(|d| VariableSymbol::parse(d).ok())
        .filter(|vs| !vs.is_zero())
}

/// The specific symbol (`SS`, up to 10 digits) in remittance text, leading zeros dropped.
pub(crate) fn ss_from_remittance(text: &str) -> Option<String> {
    symbol_after_tag(text, "SS", 10).and_then(normalise_ss)
}

/// The constant symbol (`KS`, up to 10 digits though normally 4) in remittance text, as written.
pub(crate) fn ks_from_remittance(text: &str) -> Option<String> {
    symbol_after_tag(text, "KS", 10).and_then(normalise_ks)
}

/// A specific symbol without leading zeros; `None` when it is all zeros.
pub(crate) fn normalise_ss(digits: &str) -> Option<String> {
    let trimmed = digits.trim_start_matches('0');
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// A constant symbol as written (they are conventionally 4 digits, `0308`); `None` when all zeros.
pub(crate) fn normalise_ks(digits: &str) -> Option<String> {
    (!digits.bytes().all(|b| b == b'0')).then(|| digits.to_owned())
}

/// The digits following `tag` and a separator (`/`, `:`, `=`, `.`, spaces), at most `max` of them.
fn symbol_after_tag<'a>(text: &'a str, tag: &str, max: usize) -> Option<&'a str> {
    let bytes = text.as_bytes();
    let tag = tag.as_bytes();
    let mut start = 0;
    while start + tag.len() <= bytes.len() {
        let at = start;
        start += 1;
        if !bytes[at..at + tag.len()].eq_ignore_ascii_case(tag) {
            continue;
        }
        if at > 0 && bytes[at - 1].is_ascii_alphanumeric() {
            continue;
        }
        let mut i = at + tag.len();
        let sep_start = i;
        while i < bytes.len() && matches!(bytes[i], b'/' | b':' | b'=' | b'.' | b' ' | b'\t') {
            i += 1;
        }
        if i == sep_start || i - sep_start > 3 {
            continue;
        }
        let digits_start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let len = i - digits_start;
        if len == 0 || len > max {
            continue;
        }
        // Reached only through ASCII bytes, so these are char boundaries.
        return Some(&text[digits_start..i]);
    }
    None
}

/// A VS in an end-to-end reference: the remittance forms, `VS1234`, or the whole reference being
/// 1 to 10 digits.
pub(crate) fn vs_from_reference(reference: &str) -> Option<VariableSymbol> {
    let reference = reference.trim();
    if let Some(vs) = vs_from_remittance(reference) {
        return Some(vs);
    }
    let glued = reference
        .get(..2)
        .filter(|p| p.eq_ignore_ascii_case("VS"))
        .map(|_| &reference[2..]);
    glued
        .or(Some(reference))
        .and_then(|d| VariableSymbol::parse(d).ok())
        .filter(|vs| !vs.is_zero())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn leading_zeros_are_dropped() {
        assert_eq!(
            VariableSymbol::parse("0000012345").unwrap(),
            VariableSymbol::parse("12345").unwrap()
        );
        assert_eq!(
            VariableSymbol::parse("0000012345").unwrap().as_str(),
            "12345"
        );
        assert_eq!(VariableSymbol::parse("0").unwrap().as_str(), "0");
        assert_eq!(VariableSymbol::parse("0000000000").unwrap().as_str(), "0");
        assert_eq!(
            VariableSymbol::parse("9999999999").unwrap().as_str(),
            "9999999999"
        );
    }

    #[test]
    fn refuses_bad_symbols() {
        assert_eq!(VariableSymbol::parse(""), Err(VariableSymbolError::Empty));
        assert!(matches!(
            VariableSymbol::parse("12345678901"),
            Err(VariableSymbolError::TooLong(_))
        ));
        assert!(matches!(
            VariableSymbol::parse("12a"),
            Err(VariableSymbolError::NotDigits(_))
        ));
        assert!(matches!(
            VariableSymbol::parse(" 12"),
            Err(VariableSymbolError::NotDigits(_))
        ));
        assert!(matches!(
            VariableSymbol::parse("-1"),
            Err(VariableSymbolError::NotDigits(_))
        ));
    }

    fn check(text: &str, expected: Option<&str>) {
        assert_eq!(
            vs_from_remittance(text)
                .as_ref()
                .map(VariableSymbol::as_str),
            expected,
            "{text:?}"
        );
    }

    #[test]
    fn remittance_forms() {
        check("/VS/1234567890/SS/11/KS/0308", Some("1234567890"));
        check("/vs/0000001234", Some("1234"));
        check("Platba VS:123 dekuji", Some("123"));
        check("VS: 123", Some("123"));
        check("vs 42", Some("42"));
        check("vs=77/ks=0308", Some("77"));
        check("Vs.555", Some("555"));
        check("faktura 2026001 VS 2026001", Some("2026001"));
        check("no symbol here", None);
        check("VS:", None);
        check("VS:12345678901", None);
        check("ABVS:123", None);
        check("VS123", None);
        check("/VS/0000000000", None);
        check("VSX 1 then VS 9", Some("9"));
        check("čeština VS:5 ž", Some("5"));
    }

    #[test]
    fn other_symbols() {
        assert_eq!(
            ss_from_remittance("/VS/1/SS/000099/KS/0308").as_deref(),
            Some("99")
        );
        assert_eq!(
            ks_from_remittance("/VS/1/SS/000099/KS/0308").as_deref(),
            Some("0308")
        );
        assert_eq!(ks_from_remittance("/VS/1/KS/0000"), None);
    }

    #[test]
    fn references() {
        for (reference, expected) in [
            ("VS1234", Some("1234")),
            ("/VS/1234/SS/5", Some("1234")),
            ("0001234", Some("1234")),
            ("NOTPROVIDED", None),
            ("VS", None),
            ("12345678901", None),
        ] {
            assert_eq!(
                vs_from_reference(reference)
                    .as_ref()
                    .map(VariableSymbol::as_str),
                expected,
                "{reference}"
            );
        }
    }

    proptest! {
        #[test]
        fn padding_never_matters(n in 0u64..10_000_000_000, pad in 0usize..10) {
            let plain = n.to_string();
            let padded = format!("{plain:0>width$}", width = (plain.len() + pad).min(10).max(plain.len()));
            prop_assert_eq!(VariableSymbol::parse(&plain).unwrap(), VariableSymbol::parse(&padded).unwrap());
        }

        #[test]
        fn remittance_never_panics(s in "\\PC{0,40}") {
            let _ = vs_from_remittance(&s);
            let _ = vs_from_reference(&s);
        }

        #[test]
        fn remittance_finds_embedded(n in 1u64..10_000_000_000, prefix in "[a-z ]{0,10}") {
            let text = format!("{prefix} /VS/{n}/SS/1");
            prop_assert_eq!(vs_from_remittance(&text).map(|v| v.to_string()), Some(n.to_string()));
        }
    }
}
