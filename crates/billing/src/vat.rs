//! VAT: rates as data with the date from which each applies, and the split of an amount into
//! tax base and VAT in CZK rounded to hundredths, half away from zero.
//!
//! The 21 % standard rate is configuration, not code (DOMAIN.md: "unconfirmed").

use chrono::NaiveDate;
use domain::Money;
use serde::{Deserialize, Serialize};

/// A VAT rate in basis points: 2100 = 21 %.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct VatRate(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VatError {
    #[error("VAT rate {0:?} is not a percentage such as \"21\" or \"12.5\"")]
    Rate(String),
    #[error("VAT rate date {0:?} is not YYYY-MM-DD")]
    Date(String),
    #[error("no VAT rate is configured")]
    NoRates,
    #[error("no VAT rate applies on {0}")]
    NoneOn(NaiveDate),
}

impl VatRate {
    pub fn from_basis_points(bp: i64) -> VatRate {
        VatRate(bp)
    }

    /// Parses "21", "12.5", "0" (at most two decimals, 0 to 100).
    pub fn parse_percent(text: &str) -> Result<VatRate, VatError> {
        let m = Money::parse(text).map_err(|_| VatError::Rate(text.to_owned()))?;
        if m.is_negative() || m.hundredths() > 10_000 {
            return Err(VatError::Rate(text.to_owned()));
        }
        Ok(VatRate(m.hundredths()))
    }

    pub fn basis_points(self) -> i64 {
        self.0
    }

    /// "21" or "12.5".
    pub fn percent_text(self) -> String {
        let whole = self.0 / 100;
        match self.0 % 100 {
            0 => whole.to_string(),
            f if f % 10 == 0 => format!("{whole}.{}", f / 10),
            f => format!("{whole}.{f:02}"),
        }
    }
}

/// Tax base + VAT = total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VatSplit {
    pub base: Money,
    pub vat: Money,
    pub total: Money,
}

/// `n * num / den` rounded to the nearest integer, halves away from zero.
fn div_round(n: i128, den: i128) -> i128 {
    let q = n / den;
    let r = n % den;
    if 2 * r.abs() >= den.abs() {
        q + n.signum() * den.signum()
    } else {
        q
    }
}

impl VatRate {
    /// Splits an amount that includes VAT (a payment received): VAT = total × rate / (100 % +
    /// rate), rounded; base = total − VAT (§ 37(2) of the VAT Act, "shora").
    pub fn split_gross(self, total: Money) -> VatSplit {
        let t = i128::from(total.hundredths());
        let vat = div_round(t * i128::from(self.0), 10_000 + i128::from(self.0));
        let vat = i64::try_from(vat).expect("VAT is smaller than the total");
        VatSplit {
            base: Money::from_hundredths(total.hundredths() - vat),
            vat: Money::from_hundredths(vat),
            total,
        }
    }

    /// Adds VAT to a tax base ("zdola"): VAT = base × rate, rounded; `None` on overflow.
    pub fn add_to_net(self, base: Money) -> Option<VatSplit> {
        let vat = div_round(i128::from(base.hundredths()) * i128::from(self.0), 10_000);
        let vat = Money::from_hundredths(i64::try_from(vat).ok()?);
        Some(VatSplit {
            base,
            vat,
            total: base.checked_add(vat)?,
        })
    }
}

/// One configured rate: from `valid_from` (YYYY-MM-DD) on, `percent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VatRateSetting {
    pub valid_from: String,
    pub percent: String,
}

/// The standard rates over time; the latest one whose start is on or before a date applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VatRates(Vec<(NaiveDate, VatRate)>);

impl VatRates {
    pub fn new(mut rates: Vec<(NaiveDate, VatRate)>) -> Result<VatRates, VatError> {
        if rates.is_empty() {
            return Err(VatError::NoRates);
        }
        rates.sort();
        Ok(VatRates(rates))
    }

    pub fn from_settings(settings: &[VatRateSetting]) -> Result<VatRates, VatError> {
        let rates = settings
            .iter()
            .map(|s| {
                let date = crate::calendar::parse_iso(&s.valid_from)
                    .ok_or_else(|| VatError::Date(s.valid_from.clone()))?;
                Ok((date, VatRate::parse_percent(&s.percent)?))
            })
            .collect::<Result<Vec<_>, VatError>>()?;
        VatRates::new(rates)
    }

    /// The rate that applies on `date` (the date of the taxable supply).
    pub fn on(&self, date: NaiveDate) -> Result<VatRate, VatError> {
        self.0
            .iter()
            .rev()
            .find(|(from, _)| *from <= date)
            .map(|(_, r)| *r)
            .ok_or(VatError::NoneOn(date))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(h: i64) -> Money {
        Money::from_hundredths(h)
    }

    #[test]
    fn splits_round_half_away_from_zero() {
        let r = VatRate::parse_percent("21").unwrap();
        // 500.00 incl. 21 %: VAT 86.776... -> 86.78, base 413.22.
        assert_eq!(
            r.split_gross(m(50_000)),
            VatSplit {
                base: m(41_322),
                vat: m(8_678),
                total: m(50_000)
            }
        );
        // 121.00 incl. 21 %: exactly 21.00.
        assert_eq!(r.split_gross(m(12_100)).vat, m(2_100));
        // 0.01 incl. 21 %: 0.0017 -> 0.00.
        assert_eq!(r.split_gross(m(1)).vat, m(0));
        // A credit note: negative amounts round symmetrically.
        assert_eq!(r.split_gross(m(-50_000)).vat, m(-8_678));
        // 413.22 + 21 % = 86.7762 -> 86.78.
        assert_eq!(r.add_to_net(m(41_322)).unwrap().total, m(50_000));
        // Half a haléř goes up: 0.50 * 21 % ... 2.50 * 10 % = 0.25; 0.05 * 10 % = 0.005 -> 0.01.
        let ten = VatRate::parse_percent("10").unwrap();
        assert_eq!(ten.add_to_net(m(5)).unwrap().vat, m(1));
        assert_eq!(ten.add_to_net(m(-5)).unwrap().vat, m(-1));
        assert_eq!(
            VatRate::parse_percent("0").unwrap().split_gross(m(700)).vat,
            m(0)
        );
    }

    #[test]
    fn rates_are_data_with_dates() {
        let rates = VatRates::from_settings(&[
            VatRateSetting {
                valid_from: "2013-01-01".into(),
                percent: "21".into(),
            },
            VatRateSetting {
                valid_from: "2030-01-01".into(),
                percent: "22.5".into(),
            },
        ])
        .unwrap();
        let d = |y, mo, da| NaiveDate::from_ymd_opt(y, mo, da).unwrap();
        assert_eq!(rates.on(d(2026, 11, 29)).unwrap().basis_points(), 2100);
        assert_eq!(rates.on(d(2030, 1, 1)).unwrap().percent_text(), "22.5");
        assert_eq!(
            rates.on(d(2012, 12, 31)),
            Err(VatError::NoneOn(d(2012, 12, 31)))
        );
        assert!(VatRate::parse_percent("101").is_err());
        assert!(VatRate::parse_percent("-1").is_err());
        assert!(VatRate::parse_percent("21%").is_err());
        assert_eq!(VatRates::new(vec![]), Err(VatError::NoRates));
    }

    proptest! {
        #[test]
        fn base_plus_vat_is_the_total(total in -10_000_000_000i64..10_000_000_000, bp in 0i64..=10_000) {
            let s = VatRate(bp).split_gross(m(total));
            prop_assert_eq!(s.base.hundredths() + s.vat.hundredths(), total);
            // The VAT is within half a haléř of the exact value.
            let exact = total as f64 * bp as f64 / (10_000 + bp) as f64;
            prop_assert!((s.vat.hundredths() as f64 - exact).abs() <= 0.5 + 1e-6);
        }
    }
}
