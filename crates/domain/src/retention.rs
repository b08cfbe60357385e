//! Retention (seed clause 4): how long each category of personal data is kept, on which legal
//! basis, and from which event the period runs. The policies are data ([`POLICIES`]); the store's
//! retention job enforces those marked [`Enforcement::Delete`] and reports every one.
//!
//! Time is UTC microseconds; a period of months is counted on the UTC calendar (the 29th of
//! November less six months is the 29th of May; a day that the target month lacks becomes its
//! last day).

/// A category of personal data with its own retention rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// Messages sent through the service and their status events (traffic data).
    TrafficData,
    /// Messages received from recipients (traffic data of inbound messages).
    InboundMessages,
    /// Sign-in attempts (security records).
    LoginAttempts,
    /// Expired web sessions and one-time tokens.
    SessionsAndTokens,
    /// Resolved support tickets and their conversation.
    SupportTickets,
    /// Closed data-subject requests (proof that they were answered).
    DataRequests,
    /// The customer record: identification, contact, services, communication.
    CustomerRecord,
    /// Invoices and the contracts behind them.
    Invoices,
    /// Marketing to former customers: it ends, with their marketing consents, a year after
    /// the contract.
    FormerCustomerMarketing,
    /// Data processed on consent, and the consent records.
    ConsentData,
    /// The audit log.
    AuditLog,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::TrafficData => "traffic_data",
            Category::InboundMessages => "inbound_messages",
            Category::LoginAttempts => "login_attempts",
            Category::SessionsAndTokens => "sessions_and_tokens",
            Category::SupportTickets => "support_tickets",
            Category::DataRequests => "data_requests",
            Category::CustomerRecord => "customer_record",
            Category::Invoices => "invoices",
            Category::FormerCustomerMarketing => "former_customer_marketing",
            Category::ConsentData => "consent_data",
            Category::AuditLog => "audit_log",
        }
    }
}

/// How long data is kept after its start event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Days(u32),
    Months(u32),
    Years(u32),
    /// As long as the consent stands; a withdrawal ends it at once.
    UntilWithdrawal,
}

/// The event from which the period runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartEvent {
    MessageCreated,
    MessageReceived,
    Attempted,
    Expired,
    TicketResolved,
    RequestClosed,
    ContractEnded,
    Issued,
    Withdrawn,
    Recorded,
}

impl StartEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            StartEvent::MessageCreated => "message_created",
            StartEvent::MessageReceived => "message_received",
            StartEvent::Attempted => "attempted",
            StartEvent::Expired => "expired",
            StartEvent::TicketResolved => "ticket_resolved",
            StartEvent::RequestClosed => "request_closed",
            StartEvent::ContractEnded => "contract_ended",
            StartEvent::Issued => "issued",
            StartEvent::Withdrawn => "withdrawn",
            StartEvent::Recorded => "recorded",
        }
    }
}

/// What the retention job does with data past its period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enforcement {
    /// Deleted in batches by the job (unless a legal hold covers it).
    Delete,
    /// Reported only: the data must stay (the audit log, invoices until their ten years are
    /// over, handled by staff) or only a withdrawal ends it (consents).
    ReportOnly,
}

/// One retention rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    pub category: Category,
    /// What the category holds, in Czech and English.
    pub data: (&'static str, &'static str),
    /// The legal basis and the law behind the period, in Czech and English.
    pub legal_basis: (&'static str, &'static str),
    pub period: Period,
    pub start: StartEvent,
    pub enforcement: Enforcement,
}

/// Every retention rule of the service: the one place where they are declared.
pub const POLICIES: &[RetentionPolicy] = &[
    RetentionPolicy {
        category: Category::TrafficData,
        data: ("Provozní údaje odeslaných zpráv (číslo, text, stavy)", "Traffic data of sent messages (number, text, states)"),
        legal_basis: (
            "Zákonná povinnost: § 90 odst. 3, 4 a § 97 odst. 3 zákona č. 127/2005 Sb.; déle jen po dobu reklamace nebo sporu",
            "Legal obligation: § 90(3),(4) and § 97(3) of Act 127/2005; longer only while a complaint or dispute is open",
        ),
        period: Period::Months(6),
        start: StartEvent::MessageCreated,
        enforcement: Enforcement::Delete,
    },
    RetentionPolicy {
        category: Category::InboundMessages,
        data: ("Přijaté zprávy od příjemců", "Messages received from recipients"),
        legal_basis: (
            "Zákonná povinnost: § 97 odst. 3 zákona č. 127/2005 Sb.",
            "Legal obligation: § 97(3) of Act 127/2005",
        ),
        period: Period::Months(6),
        start: StartEvent::MessageReceived,
        enforcement: Enforcement::Delete,
    },
    RetentionPolicy {
        category: Category::LoginAttempts,
        data: ("Pokusy o přihlášení (e-mail, IP adresa)", "Sign-in attempts (e-mail, IP address)"),
        legal_basis: (
            "Oprávněný zájem: zabezpečení účtů",
            "Legitimate interest: securing the accounts",
        ),
        period: Period::Days(90),
        start: StartEvent::Attempted,
        enforcement: Enforcement::Delete,
    },
    RetentionPolicy {
        category: Category::SessionsAndTokens,
        data: ("Vypršelé relace a jednorázové odkazy", "Expired sessions and one-time links"),
        legal_basis: ("Plnění smlouvy: přihlášení", "Performance of the contract: signing in"),
        period: Period::Days(30),
        start: StartEvent::Expired,
        enforcement: Enforcement::Delete,
    },
    RetentionPolicy {
        category: Category::SupportTickets,
        data: ("Vyřešené požadavky podpory a jejich konverzace", "Resolved support tickets and their conversation"),
        legal_basis: (
            "Oprávněný zájem: důkazy pro případ sporu (promlčecí lhůta 3 roky)",
            "Legitimate interest: evidence in case of a dispute (3-year limitation period)",
        ),
        period: Period::Years(3),
        start: StartEvent::TicketResolved,
        enforcement: Enforcement::Delete,
    },
    RetentionPolicy {
        category: Category::DataRequests,
        data: ("Uzavřené žádosti subjektů údajů", "Closed data-subject requests"),
        legal_basis: (
            "Zákonná povinnost: prokázání souladu (čl. 5 odst. 2 GDPR)",
            "Legal obligation: demonstrating compliance (Art. 5(2) GDPR)",
        ),
        period: Period::Years(3),
        start: StartEvent::RequestClosed,
        enforcement: Enforcement::Delete,
    },
    RetentionPolicy {
        category: Category::CustomerRecord,
        data: ("Zákaznický záznam: identifikační a kontaktní údaje, služby, komunikace", "Customer record: identification and contact data, services, communication"),
        legal_basis: (
            "Oprávněný zájem a zákonné povinnosti; 10 let od konce poslední smlouvy",
            "Legitimate interest and legal obligations; 10 years from the end of the last contract",
        ),
        period: Period::Years(10),
        start: StartEvent::ContractEnded,
        enforcement: Enforcement::Delete,
    },
    RetentionPolicy {
        category: Category::Invoices,
        data: ("Faktury a daňové doklady", "Invoices and tax documents"),
        legal_basis: (
            "Zákonná povinnost: § 35 odst. 2 zákona č. 235/2004 Sb. o DPH",
            "Legal obligation: § 35(2) of Act 235/2004 on VAT",
        ),
        period: Period::Years(10),
        start: StartEvent::Issued,
        enforcement: Enforcement::ReportOnly,
    },
    RetentionPolicy {
        category: Category::FormerCustomerMarketing,
        data: (
            "Oslovování bývalých zákazníků (jejich souhlasy s obchodními sděleními skončí)",
            "Marketing to former customers (their marketing consents end)",
        ),
        legal_basis: (
            "Oprávněný zájem (čl. 8 zásad říká 10 let; platí kratší, bezpečnější lhůta)",
            "Legitimate interest (clause 8 of the rules says 10 years; the shorter, safer period applies)",
        ),
        period: Period::Years(1),
        start: StartEvent::ContractEnded,
        enforcement: Enforcement::Delete,
    },
    RetentionPolicy {
        category: Category::ConsentData,
        data: ("Údaje zpracovávané na základě souhlasu", "Data processed on consent"),
        legal_basis: ("Souhlas, do jeho odvolání", "Consent, until it is withdrawn"),
        period: Period::UntilWithdrawal,
        start: StartEvent::Withdrawn,
        enforcement: Enforcement::ReportOnly,
    },
    RetentionPolicy {
        category: Category::AuditLog,
        data: ("Auditní záznam", "Audit log"),
        legal_basis: (
            "Zákonná povinnost: prokázání souladu a zabezpečení (čl. 5 odst. 2 a čl. 32 GDPR)",
            "Legal obligation: demonstrating compliance and security (Art. 5(2) and 32 GDPR)",
        ),
        period: Period::Years(10),
        start: StartEvent::Recorded,
        enforcement: Enforcement::ReportOnly,
    },
];

/// The policy of a category.
pub fn policy(category: Category) -> &'static RetentionPolicy {
    POLICIES
        .iter()
        .find(|p| p.category == category)
        .expect("every category has a policy")
}

const DAY_US: i64 = 86_400_000_000;

impl Period {
    /// The moment before which a start event must lie for its data to be past the period at
    /// `now` (both UTC microseconds); `None` for a period that only a withdrawal ends.
    pub fn cutoff(self, now: i64) -> Option<i64> {
        let months = match self {
            Period::Days(d) => return Some(now - i64::from(d) * DAY_US),
            Period::Months(m) => i64::from(m),
            Period::Years(y) => i64::from(y) * 12,
            Period::UntilWithdrawal => return None,
        };
        let days = now.div_euclid(DAY_US);
        let time_of_day = now.rem_euclid(DAY_US);
        let (y, m, d) = civil_from_days(days);
        let total = y * 12 + i64::from(m - 1) - months;
        let (ny, nm) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u32);
        let nd = d.min(days_in_month(ny, nm));
        Some(days_from_civil(ny, nm, nd) * DAY_US + time_of_day)
    }

    /// When data whose period started at `start` falls due (`None`: at withdrawal only).
    pub fn due(self, start: i64) -> Option<i64> {
        // The inverse of `cutoff`: the first moment `now` whose cutoff passes `start`.
        let months = match self {
            Period::Days(d) => return Some(start + i64::from(d) * DAY_US),
            Period::Months(m) => i64::from(m),
            Period::Years(y) => i64::from(y) * 12,
            Period::UntilWithdrawal => return None,
        };
        let days = start.div_euclid(DAY_US);
        let time_of_day = start.rem_euclid(DAY_US);
        let (y, m, d) = civil_from_days(days);
        let total = y * 12 + i64::from(m - 1) + months;
        let (ny, nm) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u32);
        let nd = d.min(days_in_month(ny, nm));
        Some(days_from_civil(ny, nm, nd) * DAY_US + time_of_day)
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i64, m: u32, d: u32, hour: i64) -> i64 {
        days_from_civil(y, m, d) * DAY_US + hour * 3_600_000_000
    }

    #[test]
    fn months_are_counted_on_the_calendar() {
        let check = |now: i64, period: Period, expected: i64| {
            assert_eq!(period.cutoff(now), Some(expected), "{period:?}");
        };
        check(at(2026, 11, 29, 12), Period::Months(6), at(2026, 5, 29, 12));
        check(at(2026, 8, 31, 0), Period::Months(6), at(2026, 2, 28, 0));
        check(at(2028, 8, 31, 0), Period::Months(6), at(2028, 2, 29, 0));
        check(at(2026, 3, 15, 0), Period::Months(6), at(2025, 9, 15, 0));
        check(at(2026, 3, 15, 0), Period::Years(10), at(2016, 3, 15, 0));
        check(at(2026, 3, 15, 0), Period::Days(30), at(2026, 2, 13, 0));
        assert_eq!(Period::UntilWithdrawal.cutoff(0), None);
    }

    #[test]
    fn due_is_the_other_side_of_the_cutoff() {
        let start = at(2026, 5, 29, 12);
        assert_eq!(Period::Months(6).due(start), Some(at(2026, 11, 29, 12)));
        assert_eq!(
            Period::Years(1).due(at(2028, 2, 29, 0)),
            Some(at(2029, 2, 28, 0))
        );
    }

    #[test]
    fn civil_dates_round_trip() {
        for z in [-800_000, -1, 0, 1, 10_957, 20_000, 2_000_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn every_category_has_one_policy() {
        for p in POLICIES {
            assert_eq!(policy(p.category), p);
            assert_eq!(
                POLICIES.iter().filter(|q| q.category == p.category).count(),
                1
            );
        }
    }
}
