//! Times are stored as UTC microseconds and shown in Europe/Prague (CET, CEST from the last
//! Sunday of March 01:00 UTC to the last Sunday of October 01:00 UTC, the EU rule).

use time::{Date, Month, OffsetDateTime, Weekday};

const US: i64 = 1_000_000;

fn last_sunday(year: i32, month: Month) -> Date {
    let mut d = Date::from_calendar_date(year, month, month.length(year)).expect("valid date");
    while d.weekday() != Weekday::Sunday {
        d = d.previous_day().expect("valid date");
    }
    d
}

/// The offset of Prague from UTC, in seconds, at a UTC instant.
pub fn offset_s(utc_us: i64) -> i64 {
    let Ok(t) = OffsetDateTime::from_unix_timestamp(utc_us.div_euclid(US)) else {
        return 3600;
    };
    let year = t.year();
    let start = last_sunday(year, Month::March)
        .with_hms(1, 0, 0)
        .expect("valid time")
        .assume_utc();
    let end = last_sunday(year, Month::October)
        .with_hms(1, 0, 0)
        .expect("valid time")
        .assume_utc();
    if t >= start && t < end {
        7200
    } else {
        3600
    }
}

/// The local date and time at a UTC instant.
pub fn local(utc_us: i64) -> OffsetDateTime {
    let secs = utc_us.div_euclid(US) + offset_s(utc_us);
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `29. 11. 2026 14:05` — the local time of a stored instant.
pub fn format(utc_us: i64) -> String {
    let t = local(utc_us);
    format!(
        "{}. {}. {} {:02}:{:02}",
        t.day(),
        u8::from(t.month()),
        t.year(),
        t.hour(),
        t.minute()
    )
}

/// Today's date in Prague.
pub fn today(now_us: i64) -> Date {
    local(now_us).date()
}

/// The UTC instant (µs) at which today's local day began.
pub fn start_of_today(now_us: i64) -> i64 {
    let t = local(now_us);
    let since_midnight =
        i64::from(t.hour()) * 3600 + i64::from(t.minute()) * 60 + i64::from(t.second());
    (now_us.div_euclid(US) - since_midnight) * US
}

/// The UTC instant (µs) at which a local day begins in Prague.
pub fn start_of_day(d: Date) -> i64 {
    let midnight_utc = d.midnight().assume_utc().unix_timestamp() * US;
    midnight_utc - offset_s(midnight_utc) * US
}

/// Whole years between a date of birth and a day.
pub fn age_on(birth: Date, day: Date) -> i32 {
    let mut years = day.year() - birth.year();
    if (u8::from(day.month()), day.day()) < (u8::from(birth.month()), birth.day()) {
        years -= 1;
    }
    years
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    fn us(t: OffsetDateTime) -> i64 {
        t.unix_timestamp() * US
    }

    #[test]
    fn summer_and_winter_time() {
        // 2026: CEST from 29 March 01:00 UTC to 25 October 01:00 UTC.
        assert_eq!(offset_s(us(datetime!(2026-03-29 00:59 UTC))), 3600);
        assert_eq!(offset_s(us(datetime!(2026-03-29 01:00 UTC))), 7200);
        assert_eq!(offset_s(us(datetime!(2026-10-25 00:59 UTC))), 7200);
        assert_eq!(offset_s(us(datetime!(2026-10-25 01:00 UTC))), 3600);
        assert_eq!(
            format(us(datetime!(2026-07-01 22:30 UTC))),
            "2. 7. 2026 00:30"
        );
        assert_eq!(
            format(us(datetime!(2026-11-29 09:05 UTC))),
            "29. 11. 2026 10:05"
        );
    }

    #[test]
    fn the_local_day_starts_at_local_midnight() {
        let now = us(datetime!(2026-07-01 22:30 UTC));
        assert_eq!(start_of_today(now), us(datetime!(2026-07-01 22:00 UTC)));
        assert_eq!(today(now), date!(2026 - 07 - 02));
    }

    #[test]
    fn age_counts_whole_years() {
        assert_eq!(age_on(date!(2008 - 11 - 29), date!(2026 - 11 - 29)), 18);
        assert_eq!(age_on(date!(2008 - 11 - 30), date!(2026 - 11 - 29)), 17);
        assert_eq!(age_on(date!(2008 - 02 - 29), date!(2026 - 02 - 28)), 17);
        assert_eq!(age_on(date!(2008 - 02 - 29), date!(2026 - 03 - 01)), 18);
    }
}
