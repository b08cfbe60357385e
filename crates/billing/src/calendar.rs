//! The civil date in Europe/Prague of a UTC instant.
//!
//! Central European Time is UTC+1; summer time (UTC+2) runs from 01:00 UTC on the last Sunday of
//! March to 01:00 UTC on the last Sunday of October (EU rule since 1996). Dates printed on tax
//! documents are Prague dates.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Weekday};

/// The date in Prague at `us` microseconds since the Unix epoch (UTC).
pub fn prague_date(us: i64) -> NaiveDate {
    let utc = DateTime::from_timestamp_micros(us)
        .unwrap_or_default()
        .naive_utc();
    let year = utc.year();
    let start = last_sunday(year, 3)
        .and_hms_opt(1, 0, 0)
        .expect("valid time");
    let end = last_sunday(year, 10)
        .and_hms_opt(1, 0, 0)
        .expect("valid time");
    let offset = if utc >= start && utc < end { 2 } else { 1 };
    (utc + Duration::hours(offset)).date()
}

fn last_sunday(year: i32, month: u32) -> NaiveDate {
    let first_next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    }
    .expect("valid date");
    let mut d = first_next - Duration::days(1);
    while d.weekday() != Weekday::Sun {
        d -= Duration::days(1);
    }
    d
}

/// `YYYY-MM-DD`.
pub fn iso(date: NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day())
}

/// `D. M. YYYY`, as Czech documents write dates.
pub fn czech(date: NaiveDate) -> String {
    format!("{}. {}. {}", date.day(), date.month(), date.year())
}

/// Parses `YYYY-MM-DD`.
pub fn parse_iso(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let s = &text[r];
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(text: &str) -> i64 {
        let (d, t) = text.split_once(' ').unwrap();
        let (h, m) = t.split_once(':').unwrap();
        parse_iso(d)
            .unwrap()
            .and_hms_opt(h.parse().unwrap(), m.parse().unwrap(), 0)
            .unwrap()
            .and_utc()
            .timestamp_micros()
    }

    #[test]
    fn prague_dates_follow_summer_time() {
        for (utc, prague) in [
            ("2026-11-29 22:59", "2026-11-29"),
            ("2026-11-29 23:00", "2026-11-30"),
            ("2026-07-01 21:59", "2026-07-01"),
            ("2026-07-01 22:00", "2026-07-02"),
            // Summer time 2026: 29 March to 25 October.
            ("2026-03-28 23:00", "2026-03-29"),
            ("2026-10-24 22:00", "2026-10-25"),
            ("2026-12-31 23:30", "2027-01-01"),
        ] {
            assert_eq!(iso(prague_date(us(utc))), prague, "{utc}");
        }
        assert_eq!(
            czech(NaiveDate::from_ymd_opt(2026, 3, 5).unwrap()),
            "5. 3. 2026"
        );
        assert_eq!(parse_iso("2026-03-05"), NaiveDate::from_ymd_opt(2026, 3, 5));
        assert_eq!(parse_iso("2026-02-30"), None);
        assert_eq!(parse_iso("2026-3-05"), None);
    }
}
