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

/// The first instant (UTC microseconds) of a Prague date: its midnight in Prague.
pub fn prague_midnight_us(date: NaiveDate) -> i64 {
    let midnight = date.and_hms_opt(0, 0, 0).expect("valid time").and_utc();
    // Prague is UTC+1 or UTC+2; of the two candidates the later one whose previous
    // microsecond is still the day before is midnight.
    for offset in [1, 2] {
        let us = (midnight - Duration::hours(offset)).timestamp_micros();
        if prague_date(us) == date && prague_date(us - 1) < date {
            return us;
        }
    }
    (midnight - Duration::hours(1)).timestamp_micros()
}

/// A calendar month (`2026-11`): the unit of monthly invoicing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    month: u32,
}

impl Month {
    /// The month a date is in.
    pub fn of(date: NaiveDate) -> Month {
        Month {
            year: date.year(),
            month: date.month(),
        }
    }

    /// Parses `YYYY-MM`.
    pub fn parse(text: &str) -> Option<Month> {
        let (y, m) = text.split_once('-')?;
        if y.len() != 4 || m.len() != 2 {
            return None;
        }
        let year: i32 = y.parse().ok()?;
        let month: u32 = m.parse().ok()?;
        NaiveDate::from_ymd_opt(year, month, 1).map(Month::of)
    }

    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("valid month")
    }

    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub fn previous(self) -> Month {
        if self.month == 1 {
            Month {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Month {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    pub fn last_day(self) -> NaiveDate {
        self.next().first_day() - Duration::days(1)
    }

    /// `[start, end)` of the month in Prague as UTC microseconds.
    pub fn bounds_us(self) -> (i64, i64) {
        (
            prague_midnight_us(self.first_day()),
            prague_midnight_us(self.next().first_day()),
        )
    }

    /// `MM/YYYY`, as Czech documents name a month.
    pub fn czech(self) -> String {
        format!("{:02}/{}", self.month, self.year)
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
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

    #[test]
    fn months_start_at_prague_midnight() {
        // Winter: midnight in Prague is 23:00 UTC the day before; summer: 22:00.
        let nov = Month::parse("2026-11").unwrap();
        assert_eq!(
            nov.bounds_us(),
            (us("2026-10-31 23:00"), us("2026-11-30 23:00"))
        );
        let jul = Month::parse("2026-07").unwrap();
        assert_eq!(
            jul.bounds_us(),
            (us("2026-06-30 22:00"), us("2026-07-31 22:00"))
        );
        // March: starts in winter time, ends in summer time.
        let mar = Month::parse("2026-03").unwrap();
        assert_eq!(
            mar.bounds_us(),
            (us("2026-02-28 23:00"), us("2026-03-31 22:00"))
        );
        assert_eq!(
            Month::parse("2026-12").unwrap().next().to_string(),
            "2027-01"
        );
        assert_eq!(
            Month::parse("2027-01").unwrap().previous().to_string(),
            "2026-12"
        );
        assert_eq!(nov.last_day(), parse_iso("2026-11-30").unwrap());
        assert_eq!(nov.czech(), "11/2026");
        assert_eq!(Month::parse("2026-13"), None);
        assert_eq!(Month::parse("26-11"), None);
        let (start, end) = nov.bounds_us();
        assert_eq!(prague_date(start), nov.first_day());
        assert_eq!(prague_date(end - 1), nov.last_day());
    }
}
