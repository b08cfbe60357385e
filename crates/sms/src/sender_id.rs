//! The sender shown on the handset: a name ("MyShop") or a number.

use std::fmt;

use crate::gsm7::is_gsm7_basic;

/// Why a sender ID was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SenderIdError {
    /// Nothing but whitespace was given.
    #[error("the sender ID is empty")]
    Empty,
    /// An alphanumeric sender ID longer than 11 characters.
    #[error("an alphanumeric sender ID has at most 11 characters, not {0}")]
    AlphanumericTooLong(usize),
    /// A numeric sender ID longer than 15 digits.
    #[error("a numeric sender ID has at most 15 digits, not {0}")]
    NumericTooLong(usize),
    /// A character outside the printable GSM-7 basic table.
    #[error("character {0:?} cannot be used in a sender ID")]
    InvalidCharacter(char),
    /// Neither all digits nor containing a letter (e.g. `"12-34"`).
    #[error("an alphanumeric sender ID needs at least one letter")]
    NoLetter,
    /// Digits that are no international number: too short after `+`, or a long number starting
    /// with 0.
    #[error("invalid sender number: {0}")]
    InvalidNumber(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Alphanumeric,
    International,
    ShortCode,
}

/// The longest alphanumeric sender ID: 11 septets fit the 10-octet address field of TP-OA.
const MAX_ALPHANUMERIC: usize = 11;
/// The longest numeric sender ID (E.164 maximum).
const MAX_DIGITS: usize = 15;
/// Digit strings up to this long without `+` are short codes; longer ones international numbers.
const MAX_SHORT_CODE: usize = 8;

/// Sender ID: alphanumeric (1 to 11 printable GSM-7 characters, at least one letter) or numeric
/// (an international number or a short code, up to 15 digits).
///
/// Parsing rules, after trimming surrounding whitespace:
/// - `+` then digits: an international number, 7 to 15 digits, not starting with 0.
/// - digits only: up to 8 digits a short code; 9 to 15 digits an international number
///   written without `+` (it must not start with 0).
/// - otherwise alphanumeric: characters from the GSM-7 basic table other than line feed and
///   carriage return (so no extension characters such as `€` or `[`), at least one letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SenderId {
    /// International numbers without `+`; short codes and names as given.
    value: String,
    kind: Kind,
}

impl SenderId {
    /// Parse and classify a sender ID.
    pub fn parse(input: &str) -> Result<SenderId, SenderIdError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(SenderIdError::Empty);
        }
        if let Some(digits) = input.strip_prefix('+') {
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                return international(digits);
            }
        }
        if input.bytes().all(|b| b.is_ascii_digit()) {
            return if input.len() <= MAX_SHORT_CODE {
                Ok(SenderId {
                    value: input.to_owned(),
                    kind: Kind::ShortCode,
                })
            } else {
                international(input)
            };
        }
        if let Some(c) = input
            .chars()
            .find(|&c| !is_gsm7_basic(c) || matches!(c, '\n' | '\r'))
        {
            return Err(SenderIdError::InvalidCharacter(c));
        }
        let len = input.chars().count();
        if len > MAX_ALPHANUMERIC {
            return Err(SenderIdError::AlphanumericTooLong(len));
        }
        if !input.chars().any(char::is_alphabetic) {
            return Err(SenderIdError::NoLetter);
        }
        Ok(SenderId {
            value: input.to_owned(),
            kind: Kind::Alphanumeric,
        })
    }

    /// The SMPP `source_addr`: the name, the short code, or the international number's digits
    /// without `+`.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// Whether this is a name rather than a number.
    pub fn is_alphanumeric(&self) -> bool {
        self.kind == Kind::Alphanumeric
    }

    /// SMPP `source_addr_ton` and `source_addr_npi`: alphanumeric 5/0, international number 1/1,
    /// short code 3/0 (network specific).
    pub fn ton_npi(&self) -> (u8, u8) {
        match self.kind {
            Kind::Alphanumeric => (5, 0),
            Kind::International => (1, 1),
            Kind::ShortCode => (3, 0),
        }
    }
}

fn international(digits: &str) -> Result<SenderId, SenderIdError> {
    if digits.len() > MAX_DIGITS {
        return Err(SenderIdError::NumericTooLong(digits.len()));
    }
    if digits.len() < 7 {
        return Err(SenderIdError::InvalidNumber(
            "an international number has at least 7 digits",
        ));
    }
    if digits.starts_with('0') {
        return Err(SenderIdError::InvalidNumber(
            "an international number starts with its country code, not 0",
        ));
    }
    Ok(SenderId {
        value: digits.to_owned(),
        kind: Kind::International,
    })
}

/// Names as they are, international numbers with `+`.
impl fmt::Display for SenderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind == Kind::International {
            f.write_str("+")?;
        }
        f.write_str(&self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected: (SMPP address, alphanumeric, (TON, NPI)).
    fn check(input: &str, expected: Result<(&str, bool, (u8, u8)), SenderIdError>) {
        let got = SenderId::parse(input);
        let got = got
            .as_ref()
            .map(|s| (s.as_str(), s.is_alphanumeric(), s.ton_npi()))
            .map_err(Clone::clone);
        assert_eq!(got, expected, "parsing {input:?}");
    }

    #[test]
    fn vectors() {
        use SenderIdError::*;
        check("MyShop", Ok(("MyShop", true, (5, 0))));
        check(" MyShop ", Ok(("MyShop", true, (5, 0))));
        check("A", Ok(("A", true, (5, 0))));
        check("My Shop.cz", Ok(("My Shop.cz", true, (5, 0))));
        check("ABCDEFGHIJK", Ok(("ABCDEFGHIJK", true, (5, 0))));
        check("Café&Co", Ok(("Café&Co", true, (5, 0))));
        check("2FA", Ok(("2FA", true, (5, 0))));
        check("ABCDEFGHIJKL", Err(AlphanumericTooLong(12)));
        check("Žabka", Err(InvalidCharacter('Ž')));
        check("Shop€", Err(InvalidCharacter('€')));
        check("[Shop]", Err(InvalidCharacter('[')));
        check("Shop\nX", Err(InvalidCharacter('\n')));
        check("12-34", Err(NoLetter));
        check("+", Err(NoLetter));
        check("", Err(Empty));
        check("   ", Err(Empty));

        check("+420777123456", Ok(("420777123456", false, (1, 1))));
        check("420777123456", Ok(("420777123456", false, (1, 1))));
        check("+4207771", Ok(("4207771", false, (1, 1))));
        check(
            "+123456",
            Err(InvalidNumber(
                "an international number has at least 7 digits",
            )),
        );
        check(
            "00420777123456",
            Err(InvalidNumber(
                "an international number starts with its country code, not 0",
            )),
        );
        check("+1234567890123456", Err(NumericTooLong(16)));
        check("1234567890123456", Err(NumericTooLong(16)));

        check("90210", Ok(("90210", false, (3, 0))));
        check("1", Ok(("1", false, (3, 0))));
        check("12345678", Ok(("12345678", false, (3, 0))));
        check("123456789", Ok(("123456789", false, (1, 1))));
    }

    #[test]
    fn display() {
        assert_eq!(
            SenderId::parse("420777123456").unwrap().to_string(),
            "+420777123456"
        );
        assert_eq!(SenderId::parse("90210").unwrap().to_string(), "90210");
        assert_eq!(SenderId::parse("MyShop").unwrap().to_string(), "MyShop");
    }
}
