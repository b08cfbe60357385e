//! International bank account numbers (ISO 13616), checked with mod 97, and Czech domestic
//! account numbers (`19-2000145399/0800`) converted to them.

use std::fmt;
use std::str::FromStr;

/// A syntactically valid IBAN whose check digits pass mod 97, stored in electronic form
/// (upper case, no spaces).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Iban(String);

/// Why a text is not an [`Iban`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IbanError {
    #[error("IBAN {0:?} must be 15 to 34 letters and digits")]
    Length(String),
    #[error("IBAN {0:?} must start with a two-letter country code and two check digits")]
    Prefix(String),
    #[error("IBAN {0:?} contains a character other than a letter or digit")]
    Character(String),
    #[error("IBAN {iban:?} for country {country} must have {expected} characters")]
    CountryLength {
        iban: String,
        country: String,
        expected: usize,
    },
    #[error("IBAN {0:?} fails the mod 97 check")]
    Checksum(String),
    #[error("Czech account number {0:?} is not of the form [prefix-]number/bank")]
    CzechSyntax(String),
    #[error("Czech account number {0:?} fails the weighted mod 11 check")]
    CzechChecksum(String),
}

/// Lengths for the countries whose accounts this service is likely to see; other countries are
/// checked only against the general 15..=34 range.
const COUNTRY_LENGTHS: &[(&str, usize)] = &[
    ("AT", 20),
    ("CZ", 24),
    ("DE", 22),
    ("GB", 22),
    ("HU", 28),
    ("PL", 28),
    ("SK", 24),
];

impl Iban {
    /// Parses an IBAN in electronic (`CZ6508000000192000145399`) or print form (groups of four
    /// separated by spaces); lower case letters are accepted and upper-cased.
    pub fn parse(text: &str) -> Result<Iban, IbanError> {
        let compact: String = text
            .chars()
            .filter(|c| *c != ' ')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if !compact.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(IbanError::Character(text.to_owned()));
        }
        if !(15..=34).contains(&compact.len()) {
            return Err(IbanError::Length(text.to_owned()));
        }
        let b = compact.as_bytes();
        if !(b[0].is_ascii_uppercase()
            && b[1].is_ascii_uppercase()
            && b[2].is_ascii_digit()
            && b[3].is_ascii_digit())
        {
            return Err(IbanError::Prefix(text.to_owned()));
        }
        let country = &compact[..2];
        if let Some((_, expected)) = COUNTRY_LENGTHS.iter().find(|(c, _)| *c == country) {
            if compact.len() != *expected {
                return Err(IbanError::CountryLength {
                    iban: text.to_owned(),
                    country: country.to_owned(),
                    expected: *expected,
                });
            }
        }
        if mod97(&compact[4..], &compact[..4]) != 1 {
            return Err(IbanError::Checksum(text.to_owned()));
        }
        Ok(Iban(compact))
    }

    /// Builds the IBAN of a Czech domestic account written `[prefix-]number/bank`, e.g.
    /// `19-2000145399/0800`, after checking the weighted mod 11 rule on prefix and number.
    pub fn from_czech_account(text: &str) -> Result<Iban, IbanError> {
        let syntax = || IbanError::CzechSyntax(text.to_owned());
        let (account, bank) = text.trim().split_once('/').ok_or_else(syntax)?;
        let (prefix, number) = account.split_once('-').unwrap_or(("", account));
        let digits = |s: &str, max: usize| s.len() <= max && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(prefix, 6)
            || number.is_empty()
            || !digits(number, 10)
            || bank.len() != 4
            || !digits(bank, 4)
        {
            return Err(syntax());
        }
        let prefix = format!("{prefix:0>6}");
        let number = format!("{number:0>10}");
        if number.bytes().all(|b| b == b'0') {
            return Err(syntax());
        }
        if !weighted_mod11(&prefix) || !weighted_mod11(&number) {
            return Err(IbanError::CzechChecksum(text.to_owned()));
        }
        let bban = format!("{bank}{prefix}{number}");
        let check = 98 - mod97(&bban, "CZ00");
        Iban::parse(&format!("CZ{check:02}{bban}"))
    }

    /// The IBAN in electronic form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The two-letter country code.
    pub fn country(&self) -> &str {
        &self.0[..2]
    }
}

/// Weights of the Czech account number check (right-aligned).
fn weighted_mod11(digits: &str) -> bool {
    const WEIGHTS: [u32; 10] = [6, 3, 7, 9, 10, 5, 8, 4, 2, 1];
    let start = WEIGHTS.len() - digits.len();
    let sum: u32 = digits
        .bytes()
        .zip(&WEIGHTS[start..])
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    sum.is_multiple_of(11)
}

/// `(rest ++ head)` read as a number with letters A=10..Z=35, modulo 97.
fn mod97(rest: &str, head: &str) -> u32 {
    let mut remainder: u32 = 0;
    for b in rest.bytes().chain(head.bytes()) {
        if b.is_ascii_digit() {
            remainder = (remainder * 10 + u32::from(b - b'0')) % 97;
        } else {
            let v = u32::from(b - b'A') + 10;
            remainder = (remainder * 100 + v) % 97;
        }
    }
    remainder
}

impl fmt::Display for Iban {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Iban {
    type Err = IbanError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Iban::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn valid_ibans() {
        for text in [
            "CZ5855000000001265098001",
            "CZ65 0800 0000 1920 0014 5399",
            "cz6508000000192000145399",
            "DE89370400440532013000",
            "GB82WEST12345698765432",
            "SK3112000000198742637541",
        ] {
            assert!(Iban::parse(text).is_ok(), "{text}");
        }
        assert_eq!(
            Iban::parse("CZ65 0800 0000 1920 0014 5399")
                .unwrap()
                .as_str(),
            "CZ6508000000192000145399"
        );
    }

    #[test]
    fn invalid_ibans() {
        assert!(matches!(
            Iban::parse("CZ5855000000001265098002"),
            Err(IbanError::Checksum(_))
        ));
        assert!(matches!(
            Iban::parse("CZ585500000000126509800"),
            Err(IbanError::CountryLength { .. })
        ));
        assert!(matches!(
            Iban::parse("CZ58-5500000000126509800"),
            Err(IbanError::Character(_))
        ));
        assert!(matches!(
            Iban::parse("5855000000001265098001CZ"),
            Err(IbanError::Prefix(_))
        ));
        assert!(matches!(Iban::parse("CZ58"), Err(IbanError::Length(_))));
        assert!(matches!(Iban::parse("CZ58ž"), Err(IbanError::Character(_))));
    }

    #[test]
    fn czech_accounts() {
        assert_eq!(
            Iban::from_czech_account("19-2000145399/0800")
                .unwrap()
                .as_str(),
            "CZ6508000000192000145399"
        );
        assert_eq!(
            Iban::from_czech_account("1265098001/5500")
                .unwrap()
                .as_str(),
            "CZ5855000000001265098001"
        );
        assert!(matches!(
            Iban::from_czech_account("19-2000145398/0800"),
            Err(IbanError::CzechChecksum(_))
        ));
        assert!(matches!(
            Iban::from_czech_account("2000145399"),
            Err(IbanError::CzechSyntax(_))
        ));
        assert!(matches!(
            Iban::from_czech_account("x/0800"),
            Err(IbanError::CzechSyntax(_))
        ));
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = Iban::parse(&s);
            let _ = Iban::from_czech_account(&s);
        }
    }
}
