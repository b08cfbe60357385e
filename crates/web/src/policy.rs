//! The privacy policy, Czech (the seed's text) and English (its translation), kept as plain
//! text in `content/` and turned into HTML here: numbered headings (`7.` and `7.1`), list items
//! (`- `), paragraphs, `**bold**` and `<https://…>` links. The text is escaped like all input.

use maud::{html, Markup};

use crate::i18n::Lang;

const CS: &str = include_str!("../content/privacy.cs.txt");
const EN: &str = include_str!("../content/privacy.en.txt");

/// A block of the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    Title(String),
    /// Level 2 (`7.`) or 3 (`7.1`), with the clause number for the anchor.
    Heading(u8, String, String),
    Paragraph(String),
    List(Vec<String>),
}

/// The clause number a line starts with: `("7", level 2)` for `7. …`, `("7.1", 3)` for `7.1 …`.
fn heading(line: &str) -> Option<(String, u8)> {
    let (num, rest) = line.split_once(' ')?;
    if rest.is_empty() {
        return None;
    }
    let bare = num.trim_end_matches('.');
    let parts: Vec<&str> = bare.split('.').collect();
    if parts.is_empty()
        || parts.len() > 2
        || !parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 2 && p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    if parts.len() == 1 && !num.ends_with('.') {
        return None;
    }
    Some((bare.to_owned(), if parts.len() == 1 { 2 } else { 3 }))
}

/// Splits the text into blocks. A paragraph that a blank line cut in the middle of a sentence
/// (it ends without punctuation and the next starts in lower case) is joined again.
pub fn parse(text: &str) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::new();
    let mut dangling = false;
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let starts_lower = line.chars().next().is_some_and(char::is_lowercase);
        if dangling && starts_lower {
            match blocks.last_mut() {
                Some(Block::Paragraph(p)) => {
                    p.push(' ');
                    p.push_str(line);
                }
                Some(Block::List(items)) => {
                    if let Some(last) = items.last_mut() {
                        last.push(' ');
                        last.push_str(line);
                    }
                }
                _ => blocks.push(Block::Paragraph(line.to_owned())),
            }
        } else if blocks.is_empty() {
            blocks.push(Block::Title(line.to_owned()));
        } else if let Some(item) = line.strip_prefix("- ") {
            match blocks.last_mut() {
                Some(Block::List(items)) => items.push(item.to_owned()),
                _ => blocks.push(Block::List(vec![item.to_owned()])),
            }
        } else if let Some((num, level)) = heading(line) {
            blocks.push(Block::Heading(level, num, line.to_owned()));
        } else {
            blocks.push(Block::Paragraph(line.to_owned()));
        }
        let last = match blocks.last() {
            Some(Block::Paragraph(p)) => p.as_str(),
            Some(Block::List(items)) => items.last().map(String::as_str).unwrap_or(""),
            _ => ".",
        };
        dangling = !last.ends_with(['.', ':', ';', '!', '?', ')', '“', '"']);
    }
    blocks
}

/// Inline markup: `**bold**` and `<https://…>` links; everything else is text.
fn inline(text: &str) -> Markup {
    let mut parts: Vec<Markup> = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let bold = rest.find("**");
        let link = rest.find("<http");
        match (bold, link) {
            (Some(b), l) if l.is_none_or(|l| b < l) => {
                let after = &rest[b + 2..];
                if let Some(end) = after.find("**") {
                    let before = &rest[..b];
                    let inner = &after[..end];
                    parts.push(html! { (before) strong { (inner) } });
                    rest = &after[end + 2..];
                } else {
                    parts.push(html! { (rest) });
                    rest = "";
                }
            }
            (_, Some(l)) => {
                let after = &rest[l + 1..];
                if let Some(end) = after.find('>') {
                    let before = &rest[..l];
                    let url = &after[..end];
                    parts.push(html! { (before) a href=(url) { (url) } });
                    rest = &after[end + 1..];
                } else {
                    parts.push(html! { (rest) });
                    rest = "";
                }
            }
            _ => {
                parts.push(html! { (rest) });
                rest = "";
            }
        }
    }
    html! { @for p in parts { (p) } }
}

/// The policy in a language, as HTML, and its title.
pub fn render(lang: Lang) -> (String, Markup) {
    let blocks = parse(match lang {
        Lang::Cs => CS,
        Lang::En => EN,
    });
    let title = blocks
        .iter()
        .find_map(|b| match b {
            Block::Title(t) => Some(t.clone()),
            _ => None,
        })
        .unwrap_or_default();
    let markup = html! {
        article class="policy" {
            @for b in &blocks {
                @match b {
                    Block::Title(t) => h1 { (t) },
                    Block::Heading(2, num, t) => h2 id=(format!("cl-{}", num.replace('.', "-"))) { (t) },
                    Block::Heading(_, num, t) => h3 id=(format!("cl-{}", num.replace('.', "-"))) { (t) },
                    Block::Paragraph(p) => p { (inline(p)) },
                    Block::List(items) => ul { @for i in items { li { (inline(i)) } } },
                }
            }
        }
    };
    (title, markup)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_lists_and_cut_paragraphs() {
        let blocks = parse(
            "TITLE\n\n1. Who?\n\nText one.\n\n- a\n- b with **bold**\n\n7.1 Right\n\nSome cut\n\nsentence here.\n",
        );
        assert_eq!(
            blocks,
            vec![
                Block::Title("TITLE".into()),
                Block::Heading(2, "1".into(), "1. Who?".into()),
                Block::Paragraph("Text one.".into()),
                Block::List(vec!["a".into(), "b with **bold**".into()]),
                Block::Heading(3, "7.1".into(), "7.1 Right".into()),
                Block::Paragraph("Some cut sentence here.".into()),
            ]
        );
    }

    #[test]
    fn inline_markup_is_escaped() {
        let m = inline("a <b> **c** <https://x.cz/osobni-udaje/> d").into_string();
        assert_eq!(
            m,
            "a &lt;b&gt; <strong>c</strong> <a href=\"https://x.cz/osobni-udaje/\">https://x.cz/osobni-udaje/</a> d"
        );
    }

    #[test]
    fn both_languages_have_the_same_clauses() {
        let clauses = |text: &str| -> Vec<String> {
            parse(text)
                .into_iter()
                .filter_map(|b| match b {
                    Block::Heading(_, n, _) => Some(n),
                    _ => None,
                })
                .collect()
        };
        let cs = clauses(CS);
        assert!(cs.contains(&"9".to_owned()) && cs.contains(&"7.1".to_owned()));
        assert_eq!(cs.len(), 22, "{cs:?}");
        assert_eq!(cs, clauses(EN));
    }
}
