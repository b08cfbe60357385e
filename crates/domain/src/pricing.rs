//! The price of a message. For now one price per part for every destination; per-destination
//! price lists replace [`FlatPricing`] when billing lands.

use crate::Money;

#[derive(Debug, Clone, Copy)]
pub struct FlatPricing {
    per_part: Money,
}

impl FlatPricing {
    pub fn new(per_part: Money) -> Self {
        Self { per_part }
    }

    pub fn per_part(&self) -> Money {
        self.per_part
    }

    /// The price of a message of `parts` segments, or `None` on overflow.
    pub fn price(&self, parts: u32) -> Option<Money> {
        self.per_part.checked_mul(i64::from(parts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_is_per_part() {
        let p = FlatPricing::new(Money::from_hundredths(90));
        assert_eq!(p.price(1), Some(Money::from_hundredths(90)));
        assert_eq!(p.price(3), Some(Money::from_hundredths(270)));
        assert_eq!(
            FlatPricing::new(Money::from_hundredths(i64::MAX)).price(2),
            None
        );
    }
}
