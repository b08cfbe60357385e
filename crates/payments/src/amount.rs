//! Money as a whole number of hundredths of a crown (haléře); never a float.

use std::fmt;
use std::str::FromStr;

/// A sum of money in hundredths of the currency unit (for CZK: haléře).
///
/// Signed, because statement balances and Fio amounts are; the statement model itself keeps
/// [`Transaction::amount`](crate::Transaction::amount) positive and puts the sign in
/// [`Direction`](crate::Direction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(i64);

/// Why a decimal text is not an [`Amount`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("empty amount")]
    Empty,
    #[error("amount {0:?} is not a decimal number like 500.00")]
    Syntax(String),
    #[error("amount {0:?} has more than two decimal places")]
    TooPrecise(String),
    #[error("amount {0:?} is too large")]
    Overflow(String),
}

impl Amount {
    /// Zero crowns.
    pub const ZERO: Amount = Amount(0);

    /// An amount of `halere` hundredths.
    pub const fn from_halere(halere: i64) -> Amount {
        Amount(halere)
    }

    /// The amount in hundredths.
    pub const fn halere(self) -> i64 {
        self.0
    }

    /// Parses `500`, `500.5`, `500.00` or `-12.30`: an optional minus, at least one digit, and at
    /// most two decimals after a dot.
    pub fn parse(text: &str) -> Result<Amount, AmountError> {
        if text.is_empty() {
            return Err(AmountError::Empty);
        }
        let (negative, body) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (int, frac) = match body.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (body, None),
        };
        let syntax = || AmountError::Syntax(text.to_owned());
        if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
            return Err(syntax());
        }
        if let Some(f) = frac {
            if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
                return Err(syntax());
            }
            if f.len() > 2 {
                return Err(AmountError::TooPrecise(text.to_owned()));
            }
        }
        let frac = frac.unwrap_or("");
        let digits = format!("{int}{frac:0<2}");
        let magnitude =
            digits_to_i64(&digits).ok_or_else(|| AmountError::Overflow(text.to_owned()))?;
        Ok(Amount(if negative { -magnitude } else { magnitude }))
    }

    /// Converts a JSON number's text (`1500`, `-200.5`, `1.5E3`, `0.10`) to hundredths exactly,
    /// without passing through floating point. Refuses values with a non-zero third decimal.
    pub(crate) fn from_json_number(text: &str) -> Result<Amount, AmountError> {
        let syntax = || AmountError::Syntax(text.to_owned());
        let (mantissa, exponent) = match text.find(['e', 'E']) {
            Some(i) => {
                let exp_text = &text[i + 1..];
                let exp_text = exp_text.strip_prefix('+').unwrap_or(exp_text);
                let exp: i32 = exp_text.parse().map_err(|_| syntax())?;
                (&text[..i], exp)
            }
            None => (text, 0),
        };
        let (negative, body) = match mantissa.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, mantissa),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        if int.is_empty()
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
            || (body.contains('.') && frac.is_empty())
        {
            return Err(syntax());
        }
        // value = digits * 10^(exponent - frac.len()); we want value * 100.
        let mut digits: String = format!("{int}{frac}");
        let shift = i64::from(exponent) - frac.len() as i64 + 2;
        if shift >= 0 {
            if shift > 20 {
                if digits.bytes().all(|b| b == b'0') {
                    return Ok(Amount::ZERO);
                }
                return Err(AmountError::Overflow(text.to_owned()));
            }
            digits.extend(std::iter::repeat_n('0', shift as usize));
        } else {
            let cut = (-shift) as usize;
            let keep = digits.len().saturating_sub(cut);
            if !digits[keep..].bytes().all(|b| b == b'0') {
                return Err(AmountError::TooPrecise(text.to_owned()));
            }
            digits.truncate(keep);
            if digits.is_empty() {
                digits.push('0');
            }
        }
        let magnitude =
            digits_to_i64(&digits).ok_or_else(|| AmountError::Overflow(text.to_owned()))?;
        Ok(Amount(if negative { -magnitude } else { magnitude }))
    }

    /// `self + other`, or `None` on overflow.
    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }

    /// `self - other`, or `None` on overflow.
    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Amount)
    }

    /// The amount without its sign, or `None` for `i64::MIN` hundredths.
    pub fn checked_abs(self) -> Option<Amount> {
        self.0.checked_abs().map(Amount)
    }

    /// Whether the amount is below zero.
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }
}

/// Digits (already checked to be ASCII digits) to a non-negative i64, `None` on overflow.
pub(crate) fn digits_to_i64(digits: &str) -> Option<i64> {
    let mut value: i64 = 0;
    for b in digits.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
    }
    Some(value)
}

impl fmt::Display for Amount {
    /// `500.00`, `-0.05`: always two decimals, a dot, no grouping.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let magnitude = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", magnitude / 100, magnitude % 100)
    }
}

impl FromStr for Amount {
    type Err = AmountError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Amount::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_displays() {
        for (text, halere, shown) in [
            ("500.00", 50_000, "500.00"),
            ("500", 50_000, "500.00"),
            ("0.5", 50, "0.50"),
            ("-12.30", -1_230, "-12.30"),
            ("-0.05", -5, "-0.05"),
            ("0", 0, "0.00"),
            ("0007.01", 701, "7.01"),
        ] {
            let amount = Amount::parse(text).unwrap();
            assert_eq!(amount.halere(), halere, "{text}");
            assert_eq!(amount.to_string(), shown, "{text}");
        }
    }

    #[test]
    fn refuses_malformed() {
        for text in [
            "",
            "-",
            ".5",
            "5.",
            "1.234",
            "1,00",
            "+1",
            " 1",
            "1e3",
            "99999999999999999999",
        ] {
            assert!(Amount::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn json_numbers_are_exact() {
        for (text, halere) in [
            ("1500", 150_000),
            ("1500.0", 150_000),
            ("-200.5", -20_050),
            ("0.1", 10),
            ("0.29", 29),
            ("1.5E3", 150_000),
            ("1.5e-1", 15),
            ("2.50000", 250),
            ("-0", 0),
            ("0e999", 0),
        ] {
            assert_eq!(
                Amount::from_json_number(text).unwrap().halere(),
                halere,
                "{text}"
            );
        }
        for text in ["0.001", "1e-3", "abc", "1.", "-", "1e", "1e99"] {
            assert!(Amount::from_json_number(text).is_err(), "{text}");
        }
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(h in any::<i64>().prop_filter("not MIN", |h| *h != i64::MIN)) {
            let a = Amount::from_halere(h);
            prop_assert_eq!(Amount::parse(&a.to_string()).unwrap(), a);
        }

        #[test]
        fn parse_never_panics(s in ".{0,30}") {
            let _ = Amount::parse(&s);
            let _ = Amount::from_json_number(&s);
        }
    }
}
