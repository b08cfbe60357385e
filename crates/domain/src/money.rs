//! Money in integer hundredths of CZK (haléře). Never a float.

use std::fmt;

/// An amount of CZK in hundredths. May be negative (a ledger debit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i64);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MoneyError {
    #[error("an amount is a decimal string with at most two decimals, such as \"500.00\"")]
    Format,
    #[error("the amount is too large")]
    Overflow,
}

impl Money {
    pub const ZERO: Money = Money(0);

    pub fn from_hundredths(h: i64) -> Self {
        Money(h)
    }

    pub fn hundredths(self) -> i64 {
        self.0
    }

    /// Parses "500", "500.5", "500.50", "-1.20". Rejects exponents, more than two decimals,
    /// separators and anything a float formatter would produce that is not a plain decimal.
    pub fn parse(s: &str) -> Result<Money, MoneyError> {
        let s = s.trim();
        let (neg, body) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (int, frac) = match body.split_once('.') {
            Some((i, f)) => (i, f),
            None => (body, ""),
        };
        if int.is_empty()
            || frac.len() > 2
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
            || (body.contains('.') && frac.is_empty())
        {
            return Err(MoneyError::Format);
        }
        let int: i64 = int.parse().map_err(|_| MoneyError::Overflow)?;
        let frac: i64 = match frac.len() {
            0 => 0,
            1 => frac.parse::<i64>().map_err(|_| MoneyError::Format)? * 10,
            _ => frac.parse::<i64>().map_err(|_| MoneyError::Format)?,
        };
        let h = int
            .checked_mul(100)
            .and_then(|v| v.checked_add(frac))
            .ok_or(MoneyError::Overflow)?;
        Ok(Money(if neg { -h } else { h }))
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    pub fn checked_mul(self, n: i64) -> Option<Money> {
        self.0.checked_mul(n).map(Money)
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl serde::Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Money {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Money::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(input: &str, expected: Result<i64, MoneyError>) {
        assert_eq!(
            Money::parse(input).map(Money::hundredths),
            expected,
            "input {input:?}"
        );
    }

    #[test]
    fn parses_decimal_strings() {
        check("500.00", Ok(50_000));
        check("500", Ok(50_000));
        check("1.2", Ok(120));
        check("0.05", Ok(5));
        check("-1.20", Ok(-120));
        check(" 3.10 ", Ok(310));
    }

    #[test]
    fn refuses_what_is_not_a_plain_decimal() {
        for bad in [
            "", "1.", ".5", "1.234", "1e3", "1,20", "abc", "--1", "+1", "1.2.3", "NaN",
        ] {
            check(bad, Err(MoneyError::Format));
        }
        check("99999999999999999999", Err(MoneyError::Overflow));
    }

    #[test]
    fn displays_two_decimals() {
        assert_eq!(Money::from_hundredths(120).to_string(), "1.20");
        assert_eq!(Money::from_hundredths(-5).to_string(), "-0.05");
        assert_eq!(Money::from_hundredths(0).to_string(), "0.00");
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(h in -1_000_000_000_000i64..1_000_000_000_000) {
            let m = Money::from_hundredths(h);
            prop_assert_eq!(Money::parse(&m.to_string()), Ok(m));
        }
    }
}
