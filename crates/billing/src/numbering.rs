//! Invoice numbers: a series per document kind and year, numbered 1, 2, 3 ... without gaps.
//!
//! The store allocates the sequence number inside the transaction that issues the document, so
//! a rolled-back issue leaves no gap; this module only names series and formats numbers.

use serde::{Deserialize, Serialize};

/// How the numbers of one series look: `prefix`, the year, the sequence zero-padded to `digits`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesRule {
    pub prefix: String,
    pub digits: u8,
}

impl SeriesRule {
    pub fn new(prefix: &str, digits: u8) -> SeriesRule {
        SeriesRule {
            prefix: prefix.to_owned(),
            digits,
        }
    }

    /// The series the documents of `year` belong to, e.g. `FV2026`.
    pub fn series(&self, year: i32) -> String {
        format!("{}{year}", self.prefix)
    }

    /// The document number, e.g. `FV2026000042`.
    pub fn number(&self, year: i32, seq: i64) -> String {
        format!(
            "{}{:0width$}",
            self.series(year),
            seq,
            width = usize::from(self.digits)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_sort_like_their_sequence() {
        let rule = SeriesRule::new("FV", 6);
        assert_eq!(rule.series(2026), "FV2026");
        assert_eq!(rule.number(2026, 42), "FV2026000042");
        let mut numbers: Vec<String> = (1..=120).map(|n| rule.number(2026, n)).collect();
        let sorted = {
            let mut s = numbers.clone();
            s.sort();
            s
        };
        assert_eq!(numbers, sorted);
        numbers.dedup();
        assert_eq!(numbers.len(), 120);
    }
}
