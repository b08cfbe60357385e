//! Recipient phone numbers in E.164.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, LazyLock, Once, PoisonError, RwLock};

use phonenumber::country;
use phonenumber::metadata::{Descriptor, Metadata, DATABASE};
use regex::{Regex, RegexBuilder};

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
        if let Some(valid) = canonical_e164(input, region) {
            return Ok(valid);
        }
        libphonenumber(input, region)
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

/// [`Msisdn::parse`] by libphonenumber alone (the input checked for emptiness and letters).
fn libphonenumber(input: &str, region: country::Id) -> Result<Msisdn, NumberError> {
    configure_metadata();
    let number =
        phonenumber::parse(Some(region), input).map_err(|e| NumberError::Invalid(e.to_string()))?;
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

/// The numbering plan of one country code, compiled for [`canonical_e164`]: what
/// libphonenumber's `number_type` checks, with our own compiled expressions.
struct Plan {
    general: Pattern,
    types: Vec<Pattern>,
}

/// One descriptor of the plan: its possible lengths and its national number pattern, which
/// libphonenumber matches from the number's first digit (not necessarily to its last).
struct Pattern {
    lengths: Vec<u16>,
    re: Regex,
}

impl Pattern {
    fn new(desc: &Descriptor) -> Option<Pattern> {
        Some(Pattern {
            lengths: desc.possible_length().to_vec(),
            re: anchored(desc.national_number().as_str())?,
        })
    }

    fn is_match(&self, national: &str) -> bool {
        let len = u16::try_from(national.len()).unwrap_or(u16::MAX);
        (self.lengths.is_empty() || self.lengths.contains(&len)) && self.re.is_match(national)
    }
}

/// `pattern` matched at the start of the text only, with the flags libphonenumber compiles its
/// metadata with (extended mode: whitespace in the pattern is ignored).
fn anchored(pattern: &str) -> Option<Regex> {
    RegexBuilder::new(&format!("^(?:{pattern}\n)"))
        .ignore_whitespace(true)
        .build()
        .ok()
}

impl Plan {
    fn new(meta: &Metadata) -> Option<Plan> {
        let d = meta.descriptors();
        let types = [
            d.premium_rate(),
            d.toll_free(),
            d.shared_cost(),
            d.voip(),
            d.personal_number(),
            d.pager(),
            d.uan(),
            d.voicemail(),
            d.fixed_line(),
            d.mobile(),
        ];
        Some(Plan {
            general: Pattern::new(d.general())?,
            types: types
                .into_iter()
                .flatten()
                .map(Pattern::new)
                .collect::<Option<_>>()?,
        })
    }

    /// libphonenumber's `number_type(..) != Unknown`.
    fn is_valid(&self, national: &str) -> bool {
        self.general.is_match(national) && self.types.iter().any(|t| t.is_match(national))
    }
}

/// What the fast path knows of a default region: `None` if its numbers need libphonenumber's
/// national prefix handling, else its international dialling prefix, if any (matched at the
/// start). Behind an `Arc`: a cloned `Regex` starts with an empty match cache of its own, which
/// its first match fills again (4 µs a number instead of 0.6 µs).
type Home = Option<Option<Arc<Regex>>>;

/// What the fast path knows of a country code.
#[derive(Clone)]
enum Code {
    /// No region has it.
    Unknown,
    /// Several regions share it, or it is non-geographic: the slow path decides.
    Slow,
    /// One region has it: its plan.
    Fast(Arc<Plan>),
}

#[derive(Default)]
struct FastPath {
    homes: RwLock<HashMap<country::Id, Home>>,
    codes: RwLock<HashMap<u16, Code>>,
}

static FAST_PATH: LazyLock<FastPath> = LazyLock::new(FastPath::default);

/// The value for `key`, made by `make` the first time (two threads may both make it; the first
/// stored is kept).
fn cached<K: std::hash::Hash + Eq + Copy, V: Clone>(
    map: &RwLock<HashMap<K, V>>,
    key: K,
    make: impl FnOnce() -> V,
) -> V {
    if let Some(v) = map.read().unwrap_or_else(PoisonError::into_inner).get(&key) {
        return v.clone();
    }
    let v = make();
    map.write()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(key)
        .or_insert(v)
        .clone()
}

/// The fast path of [`Msisdn::parse`] for what an API client usually sends: a number already in
/// E.164 (`+` and digits only). libphonenumber takes 3.6-5.9 µs for it on one thread (criterion
/// bench `msisdn`), more when threads contend: every match goes through its shared regex cache
/// behind one lock. The same checks with expressions compiled here take 0.6 µs.
///
/// Answers `Some` only when the number is valid and the slow path would give the same E.164;
/// everything else (another form, a leading zero, a country code shared by several regions, a
/// default region with national prefix rules, an invalid number: its error is libphonenumber's)
/// returns `None` and goes the slow path. `fast_path_agrees_with_libphonenumber` compares both.
fn canonical_e164(input: &str, region: country::Id) -> Option<Msisdn> {
    let digits = input.strip_prefix('+')?;
    if !(7..=15).contains(&digits.len())
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || digits.starts_with('0')
    {
        return None;
    }
    let idd = cached(&FAST_PATH.homes, region, || {
        let meta = DATABASE.by_id(region.as_ref())?;
        if meta.national_prefix().is_some()
            || meta.national_prefix_for_parsing().is_some()
            || meta.national_prefix_transform_rule().is_some()
        {
            return None;
        }
        match meta.international_prefix() {
            Some(idd) => Some(Some(Arc::new(anchored(idd.as_str())?))),
            None => Some(None),
        }
    })?;
    if idd.is_some_and(|idd| idd.is_match(digits)) {
        return None;
    }
    // libphonenumber's country code: the shortest prefix of one to three digits it knows.
    let (code, national) = (1..=3).find_map(|len| {
        let code: u16 = digits[..len].parse().ok()?;
        match country_code(code) {
            Code::Unknown => None,
            known => Some((known, &digits[len..])),
        }
    })?;
    let Code::Fast(plan) = code else {
        return None;
    };
    if national.starts_with('0') {
        return None;
    }
    plan.is_valid(national).then(|| Msisdn(input.to_owned()))
}

/// What the fast path knows of `code`, looked up in the metadata once.
fn country_code(code: u16) -> Code {
    cached(&FAST_PATH.codes, code, || match DATABASE.region(&code) {
        None => Code::Unknown,
        Some(regions) => match regions.as_slice() {
            [only] if *only != "001" => DATABASE
                .by_id(*only)
                .and_then(Plan::new)
                .map_or(Code::Slow, |plan| Code::Fast(Arc::new(plan))),
            _ => Code::Slow,
        },
    })
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

    /// Inputs for the fast path's comparison: every example number of every region's plan as
    /// E.164, each with its last digit changed, dropped and doubled, and pseudo-random digits
    /// after every country code at every national length from 4 to 13.
    fn e164_samples() -> Vec<String> {
        let mut out = Vec::new();
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for meta in DATABASE.iter() {
            let code = meta.country_code();
            let d = meta.descriptors();
            let descs = [
                Some(d.general()),
                d.fixed_line(),
                d.mobile(),
                d.toll_free(),
                d.premium_rate(),
                d.shared_cost(),
                d.personal_number(),
                d.voip(),
                d.pager(),
                d.uan(),
                d.voicemail(),
            ];
            for example in descs.into_iter().flatten().filter_map(Descriptor::example) {
                let full = format!("+{code}{example}");
                let stem = &full[..full.len() - 1];
                out.push(full.clone());
                out.push(format!("{stem}{}", next() % 10));
                out.push(stem.to_owned());
                out.push(format!("{full}{}", next() % 10));
            }
            for len in 4..=13 {
                for _ in 0..6 {
                    let national: String = (0..len)
                        .map(|_| char::from(b'0' + (next() % 10) as u8))
                        .collect();
                    out.push(format!("+{code}{national}"));
                }
            }
        }
        out
    }

    #[test]
    fn fast_path_agrees_with_libphonenumber() {
        let samples = e164_samples();
        for default in ["CZ", "SK", "GB", "US", "DE", "IT", "RU", "BR"] {
            let region = parse_region(default).unwrap();
            let mut answered = 0;
            for input in &samples {
                if let Some(fast) = canonical_e164(input, region) {
                    answered += 1;
                    assert_eq!(
                        libphonenumber(input, region).as_ref(),
                        Ok(&fast),
                        "{input:?} with default region {default}"
                    );
                }
            }
            // The comparison must not be empty where the fast path applies.
            if default == "CZ" {
                assert!(
                    answered > 2000,
                    "fast path answered {answered} of {}",
                    samples.len()
                );
            }
        }
    }

    #[test]
    fn fast_path_takes_only_canonical_numbers_it_can_answer() {
        let cz = parse_region("CZ").unwrap();
        let fast = |input| canonical_e164(input, cz).map(|m| m.0);
        assert_eq!(fast("+420777123456").as_deref(), Some("+420777123456"));
        assert_eq!(fast("+421905123456").as_deref(), Some("+421905123456"));
        assert_eq!(fast("+4915123456789").as_deref(), Some("+4915123456789"));
        // Another form, an invalid number, a shared country code, a leading zero: the slow path.
        for input in [
            "+420 777 123 456",
            "777123456",
            "00420777123456",
            "+420123456789",
            "+12015550123",
            "+447911123456",
            "+390612345678",
            "+4207771234567",
        ] {
            assert_eq!(fast(input), None, "{input}");
        }
        // And it answers the same through Msisdn::parse.
        check(
            "+420123456789",
            "CZ",
            Err(NumberError::Invalid(
                "not a valid number in its numbering plan".into(),
            )),
        );
        // A default region with national prefix rules never takes it.
        assert_eq!(
            canonical_e164("+421905123456", parse_region("SK").unwrap()),
            None
        );
    }
}
