//! Price lists: a price per segment by destination prefix.
//!
//! The price of a message is its number of segments (whatever the encoding) times the price per
//! segment for its destination. The account's own list is searched first, then the public list,
//! each by the longest prefix of the destination's E.164 digits; with no match the flat default
//! applies. Which list versions are in force at the time of acceptance is the caller's choice
//! (the store picks them); this module only looks up.

use domain::Money;

/// Where a price came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriceSource {
    /// The account's own price list.
    Account,
    /// The public price list.
    Public,
    /// No list had the destination: the configured flat price.
    Default,
}

impl PriceSource {
    pub fn as_str(self) -> &'static str {
        match self {
            PriceSource::Account => "account",
            PriceSource::Public => "public",
            PriceSource::Default => "default",
        }
    }
}

/// One row of a price list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceEntry {
    /// E.164 digits without '+'; "" matches every destination.
    pub prefix: String,
    pub per_segment: Money,
}

/// The prices in force for one account at one time.
#[derive(Debug, Clone)]
pub struct PriceBook {
    account: Vec<PriceEntry>,
    public: Vec<PriceEntry>,
    default: Money,
}

impl PriceBook {
    /// `account` and `public` in any order; `default` applies when neither list matches.
    pub fn new(account: Vec<PriceEntry>, public: Vec<PriceEntry>, default: Money) -> PriceBook {
        let sort = |mut v: Vec<PriceEntry>| {
            // Longest prefix first: the first match is the longest.
            v.sort_by(|a, b| {
                b.prefix
                    .len()
                    .cmp(&a.prefix.len())
                    .then(a.prefix.cmp(&b.prefix))
            });
            v
        };
        PriceBook {
            account: sort(account),
            public: sort(public),
            default,
        }
    }

    /// Only the flat price.
    pub fn flat(default: Money) -> PriceBook {
        PriceBook::new(Vec::new(), Vec::new(), default)
    }

    /// The price per segment to `to` (E.164, with or without '+') and where it came from.
    pub fn per_segment(&self, to: &str) -> (Money, PriceSource) {
        let digits = to.strip_prefix('+').unwrap_or(to);
        let find = |list: &[PriceEntry]| {
            list.iter()
                .find(|e| digits.starts_with(e.prefix.as_str()))
                .map(|e| e.per_segment)
        };
        if let Some(p) = find(&self.account) {
            return (p, PriceSource::Account);
        }
        if let Some(p) = find(&self.public) {
            return (p, PriceSource::Public);
        }
        (self.default, PriceSource::Default)
    }

    /// The price of a message of `parts` segments to `to`, or `None` on overflow.
    pub fn price(&self, to: &str, parts: u32) -> Option<Money> {
        self.per_segment(to).0.checked_mul(i64::from(parts))
    }

    pub fn account_entries(&self) -> &[PriceEntry] {
        &self.account
    }
    pub fn public_entries(&self) -> &[PriceEntry] {
        &self.public
    }
    pub fn default_price(&self) -> Money {
        self.default
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(prefix: &str, h: i64) -> PriceEntry {
        PriceEntry {
            prefix: prefix.into(),
            per_segment: Money::from_hundredths(h),
        }
    }

    fn check(book: &PriceBook, to: &str, expected: (i64, PriceSource)) {
        let (m, s) = book.per_segment(to);
        assert_eq!((m.hundredths(), s), expected, "{to}");
    }

    #[test]
    fn longest_prefix_wins_and_the_account_list_first() {
        let book = PriceBook::new(
            vec![e("42060", 50)],
            vec![e("", 200), e("420", 90), e("4206", 80), e("421", 120)],
            Money::from_hundredths(100),
        );
        check(&book, "+420601123456", (50, PriceSource::Account));
        check(&book, "+420777123456", (90, PriceSource::Public));
        check(&book, "420612345678", (80, PriceSource::Public));
        check(&book, "+421901123456", (120, PriceSource::Public));
        check(&book, "+4915112345678", (200, PriceSource::Public));
        let flat = PriceBook::flat(Money::from_hundredths(90));
        check(&flat, "+420777123456", (90, PriceSource::Default));
        assert_eq!(
            book.price("+420777123456", 3),
            Some(Money::from_hundredths(270))
        );
        assert_eq!(
            PriceBook::flat(Money::from_hundredths(i64::MAX)).price("+1", 2),
            None
        );
    }
}
