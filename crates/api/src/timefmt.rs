//! RFC 3339 in and out. Stored times are UTC microseconds; the API speaks RFC 3339 in UTC.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub fn to_rfc3339(us: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_normalises_offsets() {
        let us = parse_rfc3339("2026-11-29T10:00:00+01:00").unwrap();
        assert_eq!(to_rfc3339(us), "2026-11-29T09:00:00Z");
        assert_eq!(parse_rfc3339("2026-11-29T09:00:00.5Z"), Some(us + 500_000));
        assert_eq!(parse_rfc3339("tomorrow"), None);
        assert_eq!(parse_rfc3339("2026-11-29 09:00"), None);
    }
}
