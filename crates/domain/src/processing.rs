//! The record of processing (Art. 30 GDPR) as data: the purposes of seed clause 2 with their
//! legal bases, and the recipients and processors of clause 5 with transfers outside the EU.
//! Shown to the DPO and used in the Art. 15 answer of an access request. Texts are (cs, en).

/// A legal basis of Art. 6(1) GDPR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegalBasis {
    Contract,
    LegalObligation,
    LegitimateInterest,
    Consent,
}

impl LegalBasis {
    pub fn text(self) -> (&'static str, &'static str) {
        match self {
            LegalBasis::Contract => (
                "plnění smlouvy (čl. 6 odst. 1 písm. b)",
                "performance of a contract (Art. 6(1)(b))",
            ),
            LegalBasis::LegalObligation => (
                "právní povinnost (čl. 6 odst. 1 písm. c)",
                "legal obligation (Art. 6(1)(c))",
            ),
            LegalBasis::LegitimateInterest => (
                "oprávněný zájem (čl. 6 odst. 1 písm. f)",
                "legitimate interest (Art. 6(1)(f))",
            ),
            LegalBasis::Consent => ("souhlas (čl. 6 odst. 1 písm. a)", "consent (Art. 6(1)(a))"),
        }
    }
}

/// A purpose of processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purpose {
    pub key: &'static str,
    pub text: (&'static str, &'static str),
    pub basis: LegalBasis,
}

/// A category of recipients (clause 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recipient {
    pub key: &'static str,
    pub text: (&'static str, &'static str),
    /// Whether a processor (acting on our instructions) rather than a recipient in its own right.
    pub processor: bool,
    /// Transfer outside the EU and its safeguard, if any.
    pub transfer: Option<(&'static str, &'static str)>,
}

pub const PURPOSES: &[Purpose] = &[
    Purpose {
        key: "identification",
        text: (
            "identifikace zákazníka při uzavírání smlouvy nebo registraci",
            "identification of the customer when concluding the contract or registering",
        ),
        basis: LegalBasis::Contract,
    },
    Purpose {
        key: "support",
        text: (
            "zákaznická podpora včetně vyřizování reklamací",
            "customer support, including handling complaints",
        ),
        basis: LegalBasis::Contract,
    },
    Purpose {
        key: "account",
        text: (
            "provoz a správa zákaznického účtu",
            "operation and administration of the customer account",
        ),
        basis: LegalBasis::Contract,
    },
    Purpose {
        key: "payments",
        text: (
            "výzvy k platbě, evidence kreditů a párování plateb",
            "payment requests, records of credit and matching payments",
        ),
        basis: LegalBasis::Contract,
    },
    Purpose {
        key: "billing",
        text: (
            "vyúčtování služeb a rozeslání vyúčtování",
            "billing for services and sending the bills",
        ),
        basis: LegalBasis::Contract,
    },
    Purpose {
        key: "tax_accounting",
        text: (
            "plnění povinností z daňových předpisů a zákona o účetnictví",
            "obligations under tax law and the Accounting Act",
        ),
        basis: LegalBasis::LegalObligation,
    },
    Purpose {
        key: "authorities",
        text: (
            "součinnost s orgány činnými v trestním řízení a dalšími orgány veřejné moci",
            "cooperation with law enforcement and other public authorities",
        ),
        basis: LegalBasis::LegalObligation,
    },
    Purpose {
        key: "traffic_data",
        text: (
            "uchování provozních údajů (zákon č. 127/2005 Sb.)",
            "keeping traffic data (Act 127/2005)",
        ),
        basis: LegalBasis::LegalObligation,
    },
    Purpose {
        key: "customer_marketing",
        text: (
            "oslovování stávajících zákazníků v rámci přímého marketingu",
            "direct marketing to existing customers",
        ),
        basis: LegalBasis::LegitimateInterest,
    },
    Purpose {
        key: "debtors",
        text: (
            "evidence dlužníků a vymáhání pohledávek",
            "records of debtors and recovery of receivables",
        ),
        basis: LegalBasis::LegitimateInterest,
    },
    Purpose {
        key: "evidence",
        text: (
            "zajištění důkazů pro případ sporu",
            "securing evidence in case of a dispute",
        ),
        basis: LegalBasis::LegitimateInterest,
    },
    Purpose {
        key: "consented_marketing",
        text: (
            "marketing osobám, které k tomu daly souhlas (e-mail, SMS, telefon), a cookies",
            "marketing to persons who consented (e-mail, SMS, phone), and cookies",
        ),
        basis: LegalBasis::Consent,
    },
];

const US_SAFEGUARD: (&str, &str) = (
    "USA: mateřská společnost WTI LLC; předání podle standardních smluvních doložek EU (čl. 46 GDPR)",
    "USA: the parent company WTI LLC; transfer under the EU standard contractual clauses (Art. 46 GDPR)",
);

pub const RECIPIENTS: &[Recipient] = &[
    Recipient { key: "operations", text: ("osoby zajišťující technický provoz služby a provozovatelé technologií", "persons ensuring the technical operation of the service and operators of technologies"), processor: true, transfer: Some(US_SAFEGUARD) },
    Recipient { key: "it_security", text: ("poskytovatelé služeb IT bezpečnosti", "providers of IT security services"), processor: true, transfer: None },
    Recipient { key: "partners", text: ("obchodní partneři, přes které nakupujete naše služby", "business partners through whom you buy our services"), processor: false, transfer: None },
    Recipient { key: "payment_gateways", text: ("poskytovatelé platebních bran", "providers of payment gateways"), processor: true, transfer: None },
    Recipient { key: "banks", text: ("banky, pro účely inkasa pohledávek", "banks, for collecting receivables"), processor: false, transfer: None },
    Recipient { key: "lawyers", text: ("právní poradci, pro účely vymáhání pohledávek", "legal advisers, for recovering receivables"), processor: false, transfer: None },
    Recipient { key: "analytics_accounting", text: ("zpracovatelé statistik, průzkumů trhu, reklamních kampaní, účetnictví a daní", "providers of statistics, market research, advertising campaigns, accounting and tax returns"), processor: true, transfer: None },
    Recipient { key: "advertising", text: ("provozovatelé reklamních systémů a cílení obsahu", "operators of advertising systems and content targeting"), processor: true, transfer: Some(US_SAFEGUARD) },
    Recipient { key: "authorities", text: ("orgány veřejné moci (policie, zpravodajské služby, ČNB) v rozsahu stanoveném zákonem", "public authorities (police, intelligence services, the Czech National Bank) as the law lays down"), processor: false, transfer: None },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique() {
        let mut keys: Vec<_> = PURPOSES.iter().map(|p| p.key).collect();
        keys.extend(RECIPIENTS.iter().map(|r| r.key));
        let n = keys.len();
        keys.sort_unstable();
        keys.dedup();
        // "authorities" is both a purpose and a recipient; every other key is unique.
        assert_eq!(keys.len(), n - 1);
    }
}
