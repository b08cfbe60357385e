//! Recipient phone numbers in E.164.

use std::fmt;
use std::str::FromStr;
use std::sync::Once;

use phonenumber::country;
use phonenumber::metadata::DATABASE;

/// Why a phone number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// Nothing but whitespace was given.
    #[error("the phone number is empty")]
    Empty,
    /// The default region is not an ISO 3166 code the numbering plan knows.
    #[error("unknown region {0:?}")]
    UnknownRegion(String),
    /// The input is not a valid phone number; the text says why.
    #[error("invalid phone number: {0}")]
    Invalid(String),
}

/// The longest input [`Msisdn::parse`] looks at; people write numbers with spaces, dashes and
/// brackets, but never this many.
const MAX_INPUT_LEN: usize = 64;

/// How many compiled regular expressions libphonenumber keeps. Its default, 100, is exhausted by
/// about ten countries (each needs ten or more); past that every parse recompiles and takes
/// milliseconds instead of microseconds. 1024 covers ~90 countries at ~60 KiB per expression.
const REGEX_CACHE_CAPACITY: usize = 1024;

static CONFIGURE_METADATA: Once = Once::new();

/// Enlarge the process-wide regex cache of libphonenumber's metadata, once.
fn configure_metadata() {
    CONFIGURE_METADATA.call_once(|| {
        // A poisoned lock only means another parse panicked; the cache is still usable.
        let cache = DATABASE.cache();
        let mut cache = cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.capacity() < REGEX_CACHE_CAPACITY {
            cache.set_capacity(REGEX_CACHE_CAPACITY);
        }
    });
}

/// A phone number in E.164 (`+420777123456`), parsed once.
///
/// Invariant: the field matches `^\+[1-9][0-9]{6,14}$`; when built by [`Msisdn::parse`] the
/// number is also valid in the numbering plan.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Msisdn(String);

impl Msisdn {
    /// Parse a number the way people write it: `+420 777 123 456`, `00420777123456`, `777123456`
    /// or `(777) 123-456` (the last two with `default_region` `"CZ"`). The number must be valid in
    /// libphonenumber's metadata for its region (any type: mobile, fixed line...), and must not
    /// carry an extension.
    ///
    /// The first call loads libphonenumber's metadata (about 150 ms); see [`Msisdn::preload`].
    pub fn parse(input: &str, default_region: &str) -> Result<Msisdn, NumberError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(NumberError::Empty);
        }
        if input.len() > MAX_INPUT_LEN {
            return Err(NumberError::Invalid(format!(
                "longer than {MAX_INPUT_LEN} bytes"
            )));
        }
        if input.chars().any(|c| c.is_alphabetic()) {
            // Reject letters ourselves: the parser would read "ext", "tel:" and vanity letters.
            return Err(NumberError::Invalid("contains letters".into()));
        }
        let region = parse_region(default_region)?;
        configure_metadata();
        let number = phonenumber::parse(Some(region), input)
            .map_err(|e| NumberError::Invalid(e.to_string()))?;
        if number.extension().is_some() {
            return Err(NumberError::Invalid("has an extension".into()));
        }
        if !number.is_valid() {
            return Err(NumberError::Invalid(
                "not a valid number in its numbering plan".into(),
            ));
        }
        let e164 = number.format().mode(phonenumber::Mode::E164).to_string();
        Msisdn::from_e164(&e164)
    }

    /// Load the numbering plan metadata now (about 150 ms) rather than on the first request, and
    /// compile the expressions for `region`'s numbers. Call at startup; harmless to call again.
    pub fn preload(region: &str) {
        configure_metadata();
        if let Ok(id) = parse_region(region) {
            if let Some(example) = DATABASE
                .by_id(id.as_ref())
                .and_then(|meta| meta.descriptors().mobile())
                .and_then(|mobile| mobile.example())
            {
                let _ = Msisdn::parse(example, region);
            }
        }
    }

    /// Read back a stored E.164 value, checking only its form `^\+[1-9][0-9]{6,14}$`.
    pub fn from_e164(s: &str) -> Result<Msisdn, NumberError> {
        if s.is_empty() {
            return Err(NumberError::Empty);
        }
        let Some(digits) = s.strip_prefix('+') else {
            return Err(NumberError::Invalid("E.164 must start with +".into()));
        };
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NumberError::Invalid("E.164 must be digits after +".into()));
        }
        if !(7..=15).contains(&digits.len()) {
            return Err(NumberError::Invalid("E.164 has 7 to 15 digits".into()));
        }
        if digits.starts_with('0') {
            return Err(NumberError::Invalid(
                "E.164 country code cannot start with 0".into(),
            ));
        }
        Ok(Msisdn(s.to_owned()))
    }

    /// E.164 with the plus: `+420777123456`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits without the plus, as SMPP addresses carry them (TON 1, NPI 1): `420777123456`.
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }
}

fn parse_region(region: &str) -> Result<country::Id, NumberError> {
    let upper = region.trim().to_ascii_uppercase();
    upper
        .parse::<country::Id>()
        .map_err(|_| NumberError::UnknownRegion(region.to_owned()))
}

impl fmt::Display for Msisdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses E.164 only (see [`Msisdn::from_e164`]); use [`Msisdn::parse`] for what people type.
impl FromStr for Msisdn {
    type Err = NumberError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Msisdn::from_e164(s)
    }
}

impl AsRef<str> for Msisdn {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, region: &str, expected: Result<&str, NumberError>) {
        let got = Msisdn::parse(input, region);
        assert_eq!(
            got.as_ref().map(Msisdn::as_str),
            expected.as_ref().map(|s| *s),
            "parsing {input:?} in {region}"
        );
    }

    fn invalid(input: &str, region: &str) {
        let got = Msisdn::parse(input, region);
        assert!(
            matches!(got, Err(NumberError::Invalid(_))),
            "{input:?} in {region} gave {got:?}"
        );
    }

    #[test]
    fn parses_what_people_write() {
        let ok = Ok("+420777123456");
        check("+420 777 123 456", "CZ", ok.clone());
        check("+420777123456", "CZ", ok.clone());
        check("00420777123456", "CZ", ok.clone());
        check("00420 777 123 456", "CZ", ok.clone());
        check("777123456", "CZ", ok.clone());
        check("777 123 456", "CZ", ok.clone());
        check("(777) 123-456", "CZ", ok.clone());
        check("777-123-456", "CZ", ok.clone());
        check("  +420777123456 ", "CZ", ok.clone());
        check("777123456", "cz", ok.clone());
        // A number with its country code does not depend on the default region.
        check("+420 777 123 456", "SK", ok.clone());
        check("+421 905 123 456", "CZ", Ok("+421905123456"));
        check("0905 123 456", "SK", Ok("+421905123456"));
        check("+44 7911 123456", "CZ", Ok("+447911123456"));
        check("07911 123456", "GB", Ok("+447911123456"));
        check("+1 (201) 555-0123", "CZ", Ok("+12015550123"));
        // Czech fixed lines are valid numbers too.
        check("224 123 456", "CZ", Ok("+420224123456"));
    }

    #[test]
    fn refuses_what_is_not_a_number() {
        check("", "CZ", Err(NumberError::Empty));
        check("   ", "CZ", Err(NumberError::Empty));
        check(
            "777123456",
            "XX",
            Err(NumberError::UnknownRegion("XX".into())),
        );
        invalid("12345", "CZ");
        invalid("77712345", "CZ"); // one digit short
        invalid("7771234567", "CZ"); // one digit long
        invalid("+420 123 456 789", "CZ"); // no such range
        invalid("hello", "CZ");
        invalid("777123456 ext. 12", "CZ");
        invalid("tel:+420777123456", "CZ");
        invalid("+999 777 123 456", "CZ");
        invalid(&"7".repeat(200), "CZ");
    }

    #[test]
    fn preload_enlarges_the_regex_cache() {
        Msisdn::preload("CZ");
        Msisdn::preload("not a region");
        let capacity = DATABASE.cache().lock().map(|c| c.capacity()).unwrap_or(0);
        assert!(capacity >= REGEX_CACHE_CAPACITY, "capacity {capacity}");
    }

    #[test]
    fn e164_round_trip() {
        let m = Msisdn::parse("777 123 456", "CZ").unwrap();
        assert_eq!(m.as_str(), "+420777123456");
        assert_eq!(m.digits(), "420777123456");
        assert_eq!(m.to_string(), "+420777123456");
        assert_eq!("+420777123456".parse::<Msisdn>(), Ok(m.clone()));
        assert_eq!(Msisdn::from_e164(m.as_str()), Ok(m));
    }

    fn check_e164(input: &str, ok: bool) {
        let got = Msisdn::from_e164(input);
        assert_eq!(got.is_ok(), ok, "{input:?} gave {got:?}");
        if ok {
            assert_eq!(got.unwrap().as_str(), input);
        }
    }

    #[test]
    fn e164_form() {
        check_e164("+4207771", true);
        check_e164("+123456789012345", true);
        check_e164("+1234567", true);
        check_e164("+123456", false);
        check_e164("+1234567890123456", false);
        check_e164("+0420777123456", false);
        check_e164("420777123456", false);
        check_e164("+420 777123456", false);
        check_e164("+42077712345a", false);
        check_e164("+", false);
        check_e164("", false);
        check_e164("+٤٢٠٧٧٧١٢٣", false); // non-ASCII digits
    }
}
