//! Czech (the default) and English: the language of a page and its paths.

/// The language of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Cs,
    En,
}

impl Lang {
    /// Picks the Czech or the English text.
    pub fn t<'a>(self, cs: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Cs => cs,
            Lang::En => en,
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            Lang::Cs => "cs",
            Lang::En => "en",
        }
    }
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "cs" => Some(Lang::Cs),
            "en" => Some(Lang::En),
            _ => None,
        }
    }
    pub fn other(self) -> Lang {
        match self {
            Lang::Cs => Lang::En,
            Lang::En => Lang::Cs,
        }
    }
}

/// The public pages and their paths in both languages: (key, Czech path, English path).
pub const PAGES: &[(&str, &str, &str)] = &[
    ("home", "/", "/en/"),
    ("how", "/jak-to-funguje/", "/en/how-it-works/"),
    ("prices", "/cenik/", "/en/prices/"),
    ("docs", "/dokumentace-api/", "/en/api-docs/"),
    ("policy", "/zasady-ochrany-soukromi/", "/en/privacy-policy/"),
    ("cookies", "/cookies/", "/en/cookies/"),
    ("privacy", "/osobni-udaje/", "/en/privacy/"),
    ("contact", "/kontakt/", "/en/contact/"),
];

/// The path of a public page in a language.
pub fn path(key: &str, lang: Lang) -> &'static str {
    PAGES
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, cs, en)| match lang {
            Lang::Cs => *cs,
            Lang::En => *en,
        })
        .unwrap_or("/")
}

/// The same page in the other language, for the language switch.
pub fn counterpart(current_path: &str, lang: Lang) -> String {
    for (_, cs, en) in PAGES {
        if current_path == *cs {
            return (*en).to_owned();
        }
        if current_path == *en {
            return (*cs).to_owned();
        }
    }
    // App pages carry the language in the query.
    format!("{current_path}?lang={}", lang.other().code())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_has_both_paths_and_a_counterpart() {
        for (key, cs, en) in PAGES {
            assert_eq!(path(key, Lang::Cs), *cs);
            assert_eq!(path(key, Lang::En), *en);
            assert_eq!(counterpart(cs, Lang::Cs), *en);
            assert_eq!(counterpart(en, Lang::En), *cs);
            assert!(en.starts_with("/en/"));
        }
        assert_eq!(counterpart("/app/", Lang::Cs), "/app/?lang=en");
    }
}
