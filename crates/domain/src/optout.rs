//! Opt-out keywords in replies and the rules of commercial messages (DOMAIN.md "Opt-out and
//! commercial messages").
//!
//! A reply is a keyword only when it is a single word: "stop" and " STOP! " are opt-outs,
//! "STOP PLEASE" is not. The lists are configurable; the defaults are the ones DOMAIN.md names.

/// What a reply asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    /// No more messages from the account the reply went to.
    OptOut,
    /// No more messages from anyone sending through this operator.
    OptOutAll,
    /// Messages again, where the recipient's own reply had stopped them.
    OptIn,
}

/// The configurable keyword lists, compared case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keywords {
    pub opt_out: Vec<String>,
    pub opt_out_all: Vec<String>,
    pub opt_in: Vec<String>,
}

impl Default for Keywords {
    fn default() -> Self {
        let list = |s: &[&str]| s.iter().map(|k| (*k).to_owned()).collect();
        Self {
            opt_out: list(&[
                "STOP",
                "UNSUBSCRIBE",
                "CANCEL",
                "END",
                "QUIT",
                "REVOKE",
                "OPTOUT",
                "ODHLASIT",
            ]),
            opt_out_all: list(&["STOPALL"]),
            opt_in: list(&["START", "UNSTOP", "YES"]),
        }
    }
}

impl Keywords {
    /// The keyword a reply consists of, if it is a single word on the lists.
    pub fn classify(&self, body: &str) -> Option<Keyword> {
        let word = body
            .trim()
            .trim_matches(|c: char| c.is_ascii_punctuation() || c.is_whitespace());
        if word.is_empty() || word.contains(char::is_whitespace) {
            return None;
        }
        let is = |list: &[String]| list.iter().any(|k| k.eq_ignore_ascii_case(word));
        if is(&self.opt_out_all) {
            Some(Keyword::OptOutAll)
        } else if is(&self.opt_out) {
            Some(Keyword::OptOut)
        } else if is(&self.opt_in) {
            Some(Keyword::OptIn)
        } else {
            None
        }
    }
}

/// A requirement of a commercial message that its text does not meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// "OS" or "obchodní sdělení".
    CommercialMark,
    /// The sender's identification (the account's text, or a name with an IČO).
    SenderIdentification,
    /// A way to refuse further messages (the account's opt-out line or an opt-out keyword).
    OptOutInstruction,
}

impl Missing {
    pub fn slug(self) -> &'static str {
        match self {
            Self::CommercialMark => "commercial-mark",
            Self::SenderIdentification => "sender-identification",
            Self::OptOutInstruction => "opt-out-instruction",
        }
    }

    pub fn explain(self) -> &'static str {
        match self {
            Self::CommercialMark => "the mark \"OS\" or \"obchodní sdělení\"",
            Self::SenderIdentification => {
                "the sender's identification (the account's identification text, or the business name with its IČO)"
            }
            Self::OptOutInstruction => {
                "an instruction to refuse further messages (the account's opt-out line, or e.g. \"STOP\")"
            }
        }
    }
}

/// What a commercial message needs beyond its text: the account's stored texts.
#[derive(Debug, Clone, Default)]
pub struct CommercialRules<'a> {
    pub identification: Option<&'a str>,
    pub optout_line: Option<&'a str>,
    pub keywords: Option<&'a Keywords>,
}

/// What `text` lacks to be sent as a commercial message; empty when it complies.
pub fn commercial_requirements(text: &str, rules: &CommercialRules<'_>) -> Vec<Missing> {
    let mut missing = Vec::new();
    let lower = text.to_lowercase();
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let marked = words.contains(&"OS")
        || lower.contains("obchodní sdělení")
        || lower.contains("obchodni sdeleni");
    if !marked {
        missing.push(Missing::CommercialMark);
    }
    let has_ico = {
        let l = lower.replace('č', "c");
        l.match_indices("ico").any(|(i, _)| {
            let digits: String = l[i + 3..]
                .chars()
                .skip_while(|c| *c == ':' || c.is_whitespace())
                .take_while(|c| c.is_ascii_digit())
                .collect();
            digits.len() == 8
        })
    };
    let identified = has_ico
        || rules
            .identification
            .is_some_and(|id| !id.trim().is_empty() && lower.contains(&id.trim().to_lowercase()));
    if !identified {
        missing.push(Missing::SenderIdentification);
    }
    let default_keywords = Keywords::default();
    let keywords = rules.keywords.unwrap_or(&default_keywords);
    let instructs = rules
        .optout_line
        .is_some_and(|l| !l.trim().is_empty() && lower.contains(&l.trim().to_lowercase()))
        || words.iter().any(|w| {
            keywords
                .opt_out
                .iter()
                .chain(&keywords.opt_out_all)
                .any(|k| k.eq_ignore_ascii_case(w))
        });
    if !instructs {
        missing.push(Missing::OptOutInstruction);
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(body: &str, expected: Option<Keyword>) {
        assert_eq!(Keywords::default().classify(body), expected, "{body:?}");
    }

    #[test]
    fn single_word_keywords_only() {
        check("STOP", Some(Keyword::OptOut));
        check("  stop! ", Some(Keyword::OptOut));
        check("Odhlasit", Some(Keyword::OptOut));
        check("STOPALL", Some(Keyword::OptOutAll));
        check("start", Some(Keyword::OptIn));
        check("UNSTOP", Some(Keyword::OptIn));
        check("STOP PLEASE", None);
        check("Díky, STOP", None);
        check("", None);
        check("HELP", None);
    }

    #[test]
    fn configured_lists_replace_the_defaults() {
        let k = Keywords {
            opt_out: vec!["KONEC".into()],
            opt_out_all: vec![],
            opt_in: vec![],
        };
        assert_eq!(k.classify("konec"), Some(Keyword::OptOut));
        assert_eq!(k.classify("STOP"), None);
    }

    #[test]
    fn commercial_messages_name_what_is_missing() {
        let rules = CommercialRules {
            identification: Some("ACME s.r.o."),
            optout_line: Some("Odhlášení: SMS ODHLASIT na 9000"),
            keywords: None,
        };
        assert_eq!(
            commercial_requirements("Sleva 20 % jen dnes!", &rules),
            vec![
                Missing::CommercialMark,
                Missing::SenderIdentification,
                Missing::OptOutInstruction
            ]
        );
        assert!(commercial_requirements(
            "OS: Sleva 20 %. ACME s.r.o. Odhlášení: SMS ODHLASIT na 9000",
            &rules
        )
        .is_empty());
        assert!(commercial_requirements(
            "Obchodní sdělení: sleva. Pekárna Novák, IČO 12345678. Odpovězte STOP.",
            &CommercialRules::default()
        )
        .is_empty());
        // "os" inside a word is not the mark; an IČO needs eight digits.
        assert_eq!(
            commercial_requirements("Kosmetika, IČO 1234, STOP", &CommercialRules::default()),
            vec![Missing::CommercialMark, Missing::SenderIdentification]
        );
    }
}
