//! Consent purposes and the age rules (seed clauses 7.1, 9 and 11): the newsletter needs a
//! declared age of 16, the service 18 (stricter than the Czech digital-consent age of 15),
//! computed on the Europe/Prague date the caller passes.

/// A purpose a person can consent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConsentPurpose {
    MarketingEmail,
    MarketingSms,
    MarketingPhone,
    Newsletter,
    CookiesPreferences,
    CookiesStatistics,
    CookiesMarketing,
    CookiesUnclassified,
    /// The terms of the service (a contract, recorded with the age declaration).
    Service,
}

impl ConsentPurpose {
    pub const ALL: [ConsentPurpose; 9] = [
        ConsentPurpose::MarketingEmail,
        ConsentPurpose::MarketingSms,
        ConsentPurpose::MarketingPhone,
        ConsentPurpose::Newsletter,
        ConsentPurpose::CookiesPreferences,
        ConsentPurpose::CookiesStatistics,
        ConsentPurpose::CookiesMarketing,
        ConsentPurpose::CookiesUnclassified,
        ConsentPurpose::Service,
    ];

    /// The stored name (`marketing_email` and the cookie categories are those the web already uses).
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentPurpose::MarketingEmail => "marketing_email",
            ConsentPurpose::MarketingSms => "marketing_sms",
            ConsentPurpose::MarketingPhone => "marketing_phone",
            ConsentPurpose::Newsletter => "newsletter",
            ConsentPurpose::CookiesPreferences => "preferences",
            ConsentPurpose::CookiesStatistics => "statistics",
            ConsentPurpose::CookiesMarketing => "marketing",
            ConsentPurpose::CookiesUnclassified => "unclassified",
            ConsentPurpose::Service => "service",
        }
    }

    pub fn parse(s: &str) -> Option<ConsentPurpose> {
        ConsentPurpose::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Whether the purpose is direct marketing (an objection to marketing ends them all).
    pub fn is_marketing(self) -> bool {
        matches!(
            self,
            ConsentPurpose::MarketingEmail
                | ConsentPurpose::MarketingSms
                | ConsentPurpose::MarketingPhone
                | ConsentPurpose::Newsletter
        )
    }

    /// The age a person must declare to give this consent.
    pub fn minimum_age(self) -> Option<u32> {
        match self {
            ConsentPurpose::Newsletter => Some(16),
            ConsentPurpose::Service => Some(18),
            _ => None,
        }
    }
}

/// Why an age declaration is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgeError {
    #[error("a date of birth (YYYY-MM-DD) is required")]
    Missing,
    #[error("the date of birth is not a date (YYYY-MM-DD)")]
    Invalid,
    #[error("this needs an age of at least {0}")]
    TooYoung(u32),
}

/// A date as (year, month, day).
pub type Date = (i64, u32, u32);

/// Parses `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Option<Date> {
    let mut it = s.trim().splitn(3, '-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let d: u32 = it.next()?.parse().ok()?;
    let (ry, rm, rd) =
        crate::retention::civil_from_days(crate::retention::days_from_civil(y, m, d));
    ((1900..=2200).contains(&y) && (ry, rm, rd) == (y, m, d)).then_some((y, m, d))
}

/// Full years between a birth date and `today`.
pub fn age_on(birth: Date, today: Date) -> i64 {
    let mut age = today.0 - birth.0;
    if (today.1, today.2) < (birth.1, birth.2) {
        age -= 1;
    }
    age
}

/// Checks the age declaration a purpose needs; `Ok` for purposes without an age rule.
pub fn check_age(
    purpose: ConsentPurpose,
    birth_date: Option<&str>,
    today: Date,
) -> Result<(), AgeError> {
    let Some(min) = purpose.minimum_age() else {
        return Ok(());
    };
    let birth = parse_date(birth_date.ok_or(AgeError::Missing)?).ok_or(AgeError::Invalid)?;
    if age_on(birth, today) < i64::from(min) {
        return Err(AgeError::TooYoung(min));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_checked_on_the_day() {
        let today = (2026, 11, 29);
        let check = |p, b: Option<&str>, expected: Result<(), AgeError>| {
            assert_eq!(check_age(p, b, today), expected, "{p:?} {b:?}");
        };
        check(ConsentPurpose::Newsletter, Some("2010-11-29"), Ok(()));
        check(
            ConsentPurpose::Newsletter,
            Some("2010-11-30"),
            Err(AgeError::TooYoung(16)),
        );
        check(ConsentPurpose::Service, Some("2008-11-29"), Ok(()));
        check(
            ConsentPurpose::Service,
            Some("2008-11-30"),
            Err(AgeError::TooYoung(18)),
        );
        check(ConsentPurpose::Service, None, Err(AgeError::Missing));
        check(
            ConsentPurpose::Service,
            Some("2008-02-30"),
            Err(AgeError::Invalid),
        );
        check(ConsentPurpose::MarketingSms, None, Ok(()));
    }

    #[test]
    fn purposes_round_trip() {
        for p in ConsentPurpose::ALL {
            assert_eq!(ConsentPurpose::parse(p.as_str()), Some(p));
        }
    }
}
