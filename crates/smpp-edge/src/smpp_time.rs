//! SMPP time fields (v3.4 section 7.1.1): `YYMMDDhhmmsstnnp`, 16 characters.
//!
//! `p` is `+` or `-` for an absolute time `nn` quarter hours ahead of or behind UTC (`t` is
//! tenths of a second), or `R` for a time relative to now (`YY` years, `MM` months, `DD` days…;
//! a relative year counts 365 days and a month 30, as SMSCs commonly do).

use time::{Date, Month, PrimitiveDateTime, Time};

const US_PER_SECOND: i64 = 1_000_000;

/// A malformed time field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadTime;

/// Parses a time field into UTC microseconds; `Ok(None)` for the empty field.
pub fn parse(field: &[u8], now_us: i64) -> Result<Option<i64>, BadTime> {
    if field.is_empty() {
        return Ok(None);
    }
    if field.len() != 16 || !field[..15].iter().all(u8::is_ascii_digit) {
        return Err(BadTime);
    }
    let num = |i: usize| i64::from(field[i] - b'0') * 10 + i64::from(field[i + 1] - b'0');
    let (yy, mo, dd, hh, mi, ss) = (num(0), num(2), num(4), num(6), num(8), num(10));
    let tenths = i64::from(field[12] - b'0');
    let quarters = num(13);
    match field[15] {
        b'R' => {
            let seconds = ((yy * 365 + mo * 30 + dd) * 24 + hh) * 3600 + mi * 60 + ss;
            Ok(Some(now_us.saturating_add(seconds * US_PER_SECOND)))
        }
        sign @ (b'+' | b'-') => {
            if quarters > 48 {
                return Err(BadTime);
            }
            let month =
                Month::try_from(u8::try_from(mo).map_err(|_| BadTime)?).map_err(|_| BadTime)?;
            let date =
                Date::from_calendar_date(2000 + yy as i32, month, dd as u8).map_err(|_| BadTime)?;
            let clock = Time::from_hms(hh as u8, mi as u8, ss as u8).map_err(|_| BadTime)?;
            let local = PrimitiveDateTime::new(date, clock)
                .assume_utc()
                .unix_timestamp();
            let offset = quarters * 15 * 60;
            // Local time = UTC + offset for '+', so UTC = local - offset.
            let utc = if sign == b'+' {
                local - offset
            } else {
                local + offset
            };
            Ok(Some(utc * US_PER_SECOND + tenths * 100_000))
        }
        _ => Err(BadTime),
    }
}

/// An absolute time in UTC for `query_sm_resp`'s `final_date`.
pub fn format(us: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(us.div_euclid(US_PER_SECOND))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:02}{:02}{:02}{:02}{:02}{:02}000+",
        t.year() % 100,
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000 * US_PER_SECOND;

    #[test]
    fn empty_is_none_and_relative_adds_to_now() {
        assert_eq!(parse(b"", NOW), Ok(None));
        assert_eq!(
            parse(b"000001020304000R", NOW),
            Ok(Some(
                NOW + (24 * 3600 + 2 * 3600 + 3 * 60 + 4) * US_PER_SECOND
            ))
        );
    }

    #[test]
    fn absolute_times_honour_the_offset() {
        // 2026-11-29 12:00:00 UTC, written as UTC, as Prague (+1 h = 4 quarters) and as -2 h.
        let utc = 1_795_953_600 * US_PER_SECOND;
        assert_eq!(parse(b"261129120000000+", NOW), Ok(Some(utc)));
        assert_eq!(parse(b"261129130000004+", NOW), Ok(Some(utc)));
        assert_eq!(parse(b"261129100000008-", NOW), Ok(Some(utc)));
        assert_eq!(parse(b"261129120000500+", NOW), Ok(Some(utc + 500_000)));
        assert_eq!(format(utc), "261129120000000+");
    }

    #[test]
    fn malformed_fields_are_refused() {
        for bad in [
            &b"2611291200"[..],
            b"261329120000000+",
            b"261129250000000+",
            b"261129120000049+",
            b"26112912000000X+",
            b"261129120000000?",
        ] {
            assert_eq!(
                parse(bad, NOW),
                Err(BadTime),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
