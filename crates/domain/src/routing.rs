//! The route table: which connector carries a message, by the destination's E.164 prefix.
//!
//! The longest matching prefix wins; among routes with the same prefix the lower `priority`
//! number is tried first, and the others are the failover order.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Digits of the E.164 number without '+', e.g. "420" or "42077"; empty matches everything.
    pub prefix: String,
    pub connector: String,
    pub priority: u32,
}

#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    /// Sorted by prefix length descending, then priority ascending.
    routes: Vec<Route>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RouteError {
    #[error("route prefix {0:?} must be digits only")]
    BadPrefix(String),
}

impl RouteTable {
    pub fn new(mut routes: Vec<Route>) -> Result<Self, RouteError> {
        for r in &routes {
            if !r.prefix.bytes().all(|b| b.is_ascii_digit()) {
                return Err(RouteError::BadPrefix(r.prefix.clone()));
            }
        }
        routes.sort_by(|a, b| {
            b.prefix
                .len()
                .cmp(&a.prefix.len())
                .then(a.priority.cmp(&b.priority))
        });
        Ok(Self { routes })
    }

    /// The connectors to try for `digits` (the number without '+'), best first. Only the
    /// routes of the longest matching prefix are returned, then shorter prefixes as further
    /// fallbacks.
    pub fn candidates<'a>(&'a self, digits: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let mut seen = Vec::new();
        self.routes
            .iter()
            .filter(move |r| digits.starts_with(r.prefix.as_str()))
            .filter_map(move |r| {
                if seen.contains(&r.connector.as_str()) {
                    None
                } else {
                    seen.push(r.connector.as_str());
                    Some(r.connector.as_str())
                }
            })
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RouteTable {
        let r = |p: &str, c: &str, prio| Route {
            prefix: p.into(),
            connector: c.into(),
            priority: prio,
        };
        RouteTable::new(vec![
            r("", "world", 0),
            r("420", "cz-main", 0),
            r("420", "cz-backup", 1),
            r("42077", "cz-mobile", 0),
        ])
        .unwrap()
    }

    fn check(number: &str, expected: &[&str]) {
        let t = table();
        let got: Vec<&str> = t.candidates(number).collect();
        assert_eq!(got, expected, "number {number}");
    }

    #[test]
    fn longest_prefix_first_then_priority_then_shorter() {
        check(
            "420777123456",
            &["cz-mobile", "cz-main", "cz-backup", "world"],
        );
        check("420602123456", &["cz-main", "cz-backup", "world"]);
        check("421905123456", &["world"]);
    }

    #[test]
    fn refuses_non_digit_prefixes() {
        let bad = RouteTable::new(vec![Route {
            prefix: "+420".into(),
            connector: "x".into(),
            priority: 0,
        }]);
        assert_eq!(bad.unwrap_err(), RouteError::BadPrefix("+420".into()));
    }
}
