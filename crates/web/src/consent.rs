//! Consent, as clauses 7.1 and 9 of the privacy policy describe it: the cookie banner's choice
//! (five categories; only necessary cookies before a choice), the cookie statement with the
//! list of cookies (from [`COOKIES`]) and the settings, and the page `/osobni-udaje/` that
//! lists a person's consents with a one-click withdrawal.
//!
//! Every choice becomes consent records (`consents`: subject, purpose, text version, channel,
//! source, time, withdrawal); the `consent` cookie only remembers it in the browser.

use axum::extract::Query;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup};
use serde::Deserialize;

use crate::ctx::Ctx;
use crate::error::WebError;
use crate::forms::ticked;
use crate::i18n::{self, Lang};
use crate::layout::{self, Area};
use crate::{prague, security, WebState};

/// The wording of the cookie consent the records refer to (the policy of 1 January 2022).
pub const COOKIE_TEXT_VERSION: &str = "cookies-2022-01";
/// The wording of the marketing consent at registration.
pub const MARKETING_TEXT_VERSION: &str = "marketing-2022-01";
/// How long the browser remembers the choice (six months), in seconds.
const CHOICE_MAX_AGE: i64 = 183 * 24 * 3600;

/// The categories of clause 9 that need consent, in the order of the cookie's flags.
pub const OPTIONAL: [&str; 4] = ["preferences", "statistics", "marketing", "unclassified"];

/// A cookie category of clause 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Necessary,
    Preferences,
    Statistics,
    Marketing,
    Unclassified,
}

impl Category {
    pub const ALL: [Category; 5] = [
        Category::Necessary,
        Category::Preferences,
        Category::Statistics,
        Category::Marketing,
        Category::Unclassified,
    ];
    pub fn key(self) -> &'static str {
        match self {
            Category::Necessary => "necessary",
            Category::Preferences => "preferences",
            Category::Statistics => "statistics",
            Category::Marketing => "marketing",
            Category::Unclassified => "unclassified",
        }
    }
    pub fn name(self, l: Lang) -> &'static str {
        match self {
            Category::Necessary => l.t("Nutné", "Necessary"),
            Category::Preferences => l.t("Preferenční", "Preferences"),
            Category::Statistics => l.t("Statistické", "Statistics"),
            Category::Marketing => l.t("Marketingové", "Marketing"),
            Category::Unclassified => l.t("Neklasifikované", "Unclassified"),
        }
    }
    /// The description from clause 9.
    pub fn description(self, l: Lang) -> &'static str {
        match self {
            Category::Necessary => l.t(
                "Nutné cookies pomáhají, aby byla webová stránka použitelná tak, že umožní základní funkce jako navigace stránky a přístup k zabezpečeným sekcím webové stránky. Webová stránka nemůže správně fungovat bez těchto cookies.",
                "Necessary cookies help make the website usable by enabling basic functions such as page navigation and access to secure areas of the website. The website cannot function properly without these cookies.",
            ),
            Category::Preferences => l.t(
                "Preferenční cookies umožňují, aby si webová stránka zapamatovala informace, které mění, jak se webová stránka chová nebo jak vypadá. Je to například preferovaný jazyk nebo region, kde se nacházíte.",
                "Preference cookies let the website remember information that changes how the website behaves or looks, for example your preferred language or the region you are in.",
            ),
            Category::Statistics => l.t(
                "Statistické cookies nám pomáhají, abychom porozuměli, jak návštěvníci používají webové stránky. Anonymně sbírají a sdělují informace.",
                "Statistics cookies help us understand how visitors use the website. They collect and report information anonymously.",
            ),
            Category::Marketing => l.t(
                "Marketingové cookies jsou používány pro sledování návštěvníků na webových stránkách. Záměrem je zobrazování reklamy, která je relevantní a zajímavá pro jednotlivého uživatele a tímto hodnotnější pro vydavatele a inzerenty třetích stran.",
                "Marketing cookies are used to track visitors across websites. The intention is to display ads that are relevant and engaging for the individual user and thereby more valuable to publishers and third-party advertisers.",
            ),
            Category::Unclassified => l.t(
                "Neklasifikované cookies jsou cookies, které máme v procesu klasifikování společně s poskytovateli jednotlivých cookies.",
                "Unclassified cookies are cookies that we are in the process of classifying together with the providers of the individual cookies.",
            ),
        }
    }
}

/// One cookie of the site, as the cookie list shows it.
pub struct CookieInfo {
    pub name: &'static str,
    pub provider: &'static str,
    pub purpose_cs: &'static str,
    pub purpose_en: &'static str,
    pub category: Category,
    pub lifetime_cs: &'static str,
    pub lifetime_en: &'static str,
}

/// Every cookie this site sets. The browser tests check the cookie jar against this list.
pub const COOKIES: &[CookieInfo] = &[
    CookieInfo {
        name: "csrf",
        provider: "ApiSendSMS",
        purpose_cs: "Ochrana formulářů proti podvržení požadavku z jiného webu (CSRF).",
        purpose_en: "Protects forms against requests forged by another site (CSRF).",
        category: Category::Necessary,
        lifetime_cs: "do zavření prohlížeče",
        lifetime_en: "until the browser closes",
    },
    CookieInfo {
        name: "consent",
        provider: "ApiSendSMS",
        purpose_cs: "Pamatuje si Vaši volbu cookies, aby se lišta neukazovala znovu.",
        purpose_en: "Remembers your cookie choice so that the banner does not show again.",
        category: Category::Necessary,
        lifetime_cs: "6 měsíců",
        lifetime_en: "6 months",
    },
    CookieInfo {
        name: "sid",
        provider: "ApiSendSMS",
        purpose_cs: "Přihlášení do zákaznické aplikace.",
        purpose_en: "Keeps you signed in to the customer app.",
        category: Category::Necessary,
        lifetime_cs: "do zavření prohlížeče, nejdéle 12 hodin",
        lifetime_en: "until the browser closes, at most 12 hours",
    },
    CookieInfo {
        name: "lang",
        provider: "ApiSendSMS",
        purpose_cs: "Pamatuje si zvolený jazyk webu.",
        purpose_en: "Remembers the language you chose.",
        category: Category::Preferences,
        lifetime_cs: "1 rok",
        lifetime_en: "1 year",
    },
];

/// A visitor's cookie choice as the `consent` cookie keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    /// The random id of the visitor's consent records (`visitor:<id>`).
    visitor: [u8; 16],
    pub preferences: bool,
    pub statistics: bool,
    pub marketing: bool,
    pub unclassified: bool,
}

impl Choice {
    /// `v1.<16 hex>.<4 flags>`
    pub fn parse(s: &str) -> Option<Choice> {
        let mut it = s.split('.');
        if it.next()? != "v1" {
            return None;
        }
        let visitor = it.next()?;
        let flags = it.next()?.as_bytes();
        if it.next().is_some()
            || visitor.len() != 16
            || !visitor.bytes().all(|b| b.is_ascii_hexdigit())
            || flags.len() != 4
            || !flags.iter().all(|f| *f == b'0' || *f == b'1')
        {
            return None;
        }
        let mut v = [0u8; 16];
        v.copy_from_slice(visitor.as_bytes());
        Some(Choice {
            visitor: v,
            preferences: flags[0] == b'1',
            statistics: flags[1] == b'1',
            marketing: flags[2] == b'1',
            unclassified: flags[3] == b'1',
        })
    }
    fn new(visitor: &str) -> Choice {
        let mut v = [b'0'; 16];
        for (i, b) in visitor.bytes().take(16).enumerate() {
            v[i] = b;
        }
        Choice {
            visitor: v,
            preferences: false,
            statistics: false,
            marketing: false,
            unclassified: false,
        }
    }
    pub fn visitor(&self) -> &str {
        std::str::from_utf8(&self.visitor).unwrap_or("0000000000000000")
    }
    pub fn subject(&self) -> String {
        format!("visitor:{}", self.visitor())
    }
    pub fn get(&self, purpose: &str) -> bool {
        match purpose {
            "preferences" => self.preferences,
            "statistics" => self.statistics,
            "marketing" => self.marketing,
            "unclassified" => self.unclassified,
            _ => false,
        }
    }
    fn set(&mut self, purpose: &str, on: bool) {
        match purpose {
            "preferences" => self.preferences = on,
            "statistics" => self.statistics = on,
            "marketing" => self.marketing = on,
            "unclassified" => self.unclassified = on,
            _ => {}
        }
    }
    pub fn encode(&self) -> String {
        let f = |b: bool| if b { '1' } else { '0' };
        format!(
            "v1.{}.{}{}{}{}",
            self.visitor(),
            f(self.preferences),
            f(self.statistics),
            f(self.marketing),
            f(self.unclassified)
        )
    }
}

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/cookies/", get(cookies_page))
        .route("/en/cookies/", get(cookies_page))
        .route("/cookies/consent", post(save_choice))
        .route("/osobni-udaje/", get(privacy_page))
        .route("/en/privacy/", get(privacy_page))
        .route("/osobni-udaje/odvolat", post(withdraw))
        .route("/osobni-udaje/odvolat-vse", post(withdraw_all))
}

/// The choice form: in the banner (compact: the categories behind "Choose") and on the
/// cookie settings page.
pub fn choice_form(ctx: &Ctx, source: &str, compact: bool) -> Markup {
    let l = ctx.lang;
    let current = ctx.choice;
    let boxes = html! {
        fieldset {
            legend { (l.t("Kategorie cookies", "Cookie categories")) }
            @for c in Category::ALL {
                @let id = format!("{source}-{}", c.key());
                div class="check" {
                    @if c == Category::Necessary {
                        input type="checkbox" id=(id) checked disabled;
                    } @else if current.is_some_and(|ch| ch.get(c.key())) {
                        input type="checkbox" id=(id) name=(c.key()) value="on" checked;
                    } @else {
                        input type="checkbox" id=(id) name=(c.key()) value="on";
                    }
                    label for=(id) {
                        (c.name(l))
                        @if c == Category::Necessary { " (" (l.t("vždy", "always")) ")" }
                    }
                }
            }
        }
    };
    html! {
        form method="post" action="/cookies/consent" class=[(!compact).then_some("stack")] {
            input type="hidden" name="csrf" value=(ctx.csrf);
            input type="hidden" name="return_to" value=(ctx.path);
            input type="hidden" name="source" value=(source);
            @if compact {
                div class="actions" {
                    button type="submit" name="choice" value="all" { (l.t("Přijmout vše", "Accept all")) }
                    button type="submit" name="choice" value="none" { (l.t("Odmítnout vše", "Reject all")) }
                }
                details {
                    summary { (l.t("Vybrat", "Choose")) }
                    (boxes)
                    button type="submit" name="choice" value="custom" class="secondary" { (l.t("Uložit výběr", "Save my choice")) }
                }
            } @else {
                (boxes)
                div class="actions" {
                    button type="submit" name="choice" value="custom" { (l.t("Uložit výběr", "Save my choice")) }
                    button type="submit" name="choice" value="all" class="secondary" { (l.t("Přijmout vše", "Accept all")) }
                    button type="submit" name="choice" value="none" class="secondary" { (l.t("Odmítnout vše", "Reject all")) }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct ChoiceForm {
    csrf: String,
    choice: String,
    return_to: Option<String>,
    source: Option<String>,
    preferences: Option<String>,
    statistics: Option<String>,
    marketing: Option<String>,
    unclassified: Option<String>,
}

/// A path on this site to go back to; anything else goes home.
fn local_path(p: Option<&str>) -> String {
    match p {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => p.to_owned(),
        _ => "/".to_owned(),
    }
}

async fn save_choice(
    axum::extract::State(state): axum::extract::State<WebState>,
    mut ctx: Ctx,
    Form(f): Form<ChoiceForm>,
) -> Result<Response, WebError> {
    ctx.check_csrf(&f.csrf)?;
    let visitor = ctx
        .choice
        .map(|c| c.visitor().to_owned())
        .unwrap_or_else(security::random_id);
    let mut choice = Choice::new(&visitor);
    let all = match f.choice.as_str() {
        "all" => Some(true),
        "none" => Some(false),
        _ => None,
    };
    choice.preferences = all.unwrap_or_else(|| ticked(&f.preferences));
    choice.statistics = all.unwrap_or_else(|| ticked(&f.statistics));
    choice.marketing = all.unwrap_or_else(|| ticked(&f.marketing));
    choice.unclassified = all.unwrap_or_else(|| ticked(&f.unclassified));
    let source = match f.source.as_deref() {
        Some("banner") => "cookie-banner",
        Some("privacy") => "privacy-page",
        _ => "cookie-settings",
    };
    let choices: Vec<(&str, bool)> = OPTIONAL.iter().map(|p| (*p, choice.get(p))).collect();
    state
        .store()
        .record_consents(
            &choice.subject(),
            &choices,
            COOKIE_TEXT_VERSION,
            "web",
            source,
            store::now_us(),
        )
        .await?;
    ctx.set_cookie("consent", &choice.encode(), Some(CHOICE_MAX_AGE));
    if !choice.preferences {
        ctx.clear_cookie("lang");
    }
    Ok(ctx.redirect(&local_path(f.return_to.as_deref())))
}

async fn cookies_page(ctx: Ctx) -> Result<Response, WebError> {
    let l = ctx.lang;
    let title = l.t("Prohlášení o cookies", "Cookie statement");
    let body = html! {
        h1 { (title) }
        p { (l.t("Cookies jsou malé textové soubory, které se Vám při návštěvě webových stránek uloží v počítači nebo mobilním zařízení. Nezabírají moc místa a po vypršení platnosti se automaticky vymažou. Některé cookies vyprší po skončení internetové relace, zatímco jiné budou na určitou dobu uloženy.",
                 "Cookies are small text files that websites store on your computer or mobile device when you visit them. They take up little space and are deleted automatically when they expire. Some cookies expire when the browsing session ends, while others are stored for a certain time.")) }
        p { (l.t("Dle platných právních předpisů můžeme ukládat cookies na Vašem zařízení, pokud jsou nezbytně nutné pro provoz webové stránky. Pro všechny ostatní typy cookies potřebujeme Vaše povolení. Dokud se nerozhodnete, ukládáme jen nutné cookies.",
                 "Under the applicable law we may store cookies on your device if they are strictly necessary for the operation of the website. For all other types of cookies we need your permission. Until you decide, we store only necessary cookies.")) }
        h2 { (l.t("Druhy cookies", "Types of cookies")) }
        dl {
            @for c in Category::ALL {
                dt { strong { (c.name(l)) } }
                dd { (c.description(l)) }
            }
        }
        h2 id="seznam" { (l.t("Seznam cookies", "Cookie list")) }
        div class="table-wrap" {
            table {
                caption { (l.t("Cookies, které tento web používá", "Cookies this site uses")) }
                thead { tr {
                    th scope="col" { (l.t("Název", "Name")) }
                    th scope="col" { (l.t("Poskytovatel", "Provider")) }
                    th scope="col" { (l.t("Účel", "Purpose")) }
                    th scope="col" { (l.t("Kategorie", "Category")) }
                    th scope="col" { (l.t("Doba platnosti", "Lifetime")) }
                } }
                tbody {
                    @for c in COOKIES {
                        tr {
                            td { code { (c.name) } }
                            td { (c.provider) }
                            td { (l.t(c.purpose_cs, c.purpose_en)) }
                            td { (c.category.name(l)) }
                            td { (l.t(c.lifetime_cs, c.lifetime_en)) }
                        }
                    }
                }
            }
        }
        p { (l.t("Statistické, marketingové ani neklasifikované cookies tento web nyní nepoužívá; pokud je začne používat, objeví se v tomto seznamu a vyžádáme si Váš souhlas.",
                 "This site currently uses no statistics, marketing or unclassified cookies; should it start to, they will appear in this list and we will ask for your consent.")) }
        h2 id="nastaveni" { (l.t("Nastavení cookies", "Cookie settings")) }
        @if let Some(c) = ctx.choice {
            p { (l.t("Vaše současná volba je uložena. Změnit ji můžete zde kdykoli; změna se zaznamená jako nový souhlas nebo jeho odvolání.",
                     "Your current choice is stored. You can change it here at any time; the change is recorded as a new consent or its withdrawal."))
                " " span class="hint" { (l.t("Identifikátor záznamu: ", "Record identifier: ")) code { (c.visitor()) } } }
        } @else {
            p { (l.t("Zatím jste se nerozhodli: ukládáme jen nutné cookies.", "You have not decided yet: we store only necessary cookies.")) }
        }
        (choice_form(&ctx, "settings", false))
        p { (l.t("Prohlížeč můžete také nastavit tak, aby cookies odstraňoval nebo bránil jejich ukládání.", "You can also set your browser to delete cookies or prevent them from being stored.")) }
    };
    Ok(ctx.html(layout::page(&ctx, Area::Public, title, body)))
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

fn subjects(ctx: &Ctx) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(c) = ctx.choice {
        v.push(c.subject());
    }
    if let Some(u) = ctx.signed_in() {
        v.push(format!("user:{}", u.id));
    }
    v
}

fn purpose_name(l: Lang, purpose: &str) -> String {
    match purpose {
        "marketing_email" => l
            .t(
                "Obchodní sdělení (e-mail, SMS)",
                "Commercial messages (e-mail, SMS)",
            )
            .to_owned(),
        p => Category::ALL
            .iter()
            .find(|c| c.key() == p)
            .map(|c| format!("{} {}", l.t("Cookies:", "Cookies:"), c.name(l)))
            .unwrap_or_else(|| p.to_owned()),
    }
}

async fn privacy_page(
    axum::extract::State(state): axum::extract::State<WebState>,
    ctx: Ctx,
    Query(q): Query<DoneQuery>,
) -> Result<Response, WebError> {
    let l = ctx.lang;
    let records = state.store().consents_of(&subjects(&ctx)).await?;
    let any_live = records
        .iter()
        .any(|r| r.granted && r.withdrawn_at.is_none());
    let title = l.t("Osobní údaje a souhlasy", "Personal data and consents");
    let body = html! {
        h1 { (title) }
        @if q.done.as_deref() == Some("1") {
            (layout::notice("ok", l.t("Souhlas byl odvolán. Odvolání je zaznamenáno.", "The consent was withdrawn. The withdrawal is recorded.")))
        }
        p class="lead" { (l.t("Máte právo nám poskytnutý souhlas se zpracováním osobních údajů kdykoliv odvolat. Odvolání souhlasu je bezplatné.",
                              "You have the right to withdraw any consent to the processing of personal data you have given us at any time. Withdrawing consent is free of charge.")) }
        p { (l.t("Odvoláním souhlasu se nic nemění na tom, že až do odvolání byly údaje zpracovávány oprávněně. Odvolání nemá vliv na zpracování na jiném právním základě (např. plnění smlouvy nebo právní povinnosti).",
                 "Withdrawing consent does not change the fact that the data were processed lawfully until then. It does not affect processing on another legal basis (such as performing a contract or a legal obligation).")) }
        h2 { (l.t("Vaše souhlasy", "Your consents")) }
        @if records.is_empty() {
            p { (l.t("Z tohoto prohlížeče ani k Vašemu účtu nemáme zaznamenán žádný souhlas.", "We have no consent recorded from this browser or for your account.")) }
        } @else {
            div class="table-wrap" {
                table {
                    caption { (l.t("Záznamy o souhlasech, nejnovější první", "Consent records, newest first")) }
                    thead { tr {
                        th scope="col" { (l.t("Účel", "Purpose")) }
                        th scope="col" { (l.t("Rozhodnutí", "Decision")) }
                        th scope="col" { (l.t("Verze textu", "Text version")) }
                        th scope="col" { (l.t("Kanál a zdroj", "Channel and source")) }
                        th scope="col" { (l.t("Čas", "Time")) }
                        th scope="col" { (l.t("Odvoláno", "Withdrawn")) }
                        th scope="col" { span class="skip" { (l.t("Akce", "Action")) } }
                    } }
                    tbody {
                        @for r in &records {
                            tr {
                                td { (purpose_name(l, &r.purpose)) }
                                td { @if r.granted { (l.t("udělen", "given")) } @else { (l.t("odmítnut", "refused")) } }
                                td { code { (r.text_version) } }
                                td { (r.channel) " / " (r.source) }
                                td { (prague::format(r.at)) }
                                td { @if let Some(w) = r.withdrawn_at { (prague::format(w)) } @else { "–" } }
                                td {
                                    @if r.granted && r.withdrawn_at.is_none() {
                                        form class="inline" method="post" action="/osobni-udaje/odvolat" {
                                            input type="hidden" name="csrf" value=(ctx.csrf);
                                            input type="hidden" name="id" value=(r.id);
                                            (layout::lang_field(l))
                                            button type="submit" class="danger" { (l.t("Odvolat", "Withdraw")) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if any_live {
                form method="post" action="/osobni-udaje/odvolat-vse" {
                    input type="hidden" name="csrf" value=(ctx.csrf);
                    (layout::lang_field(l))
                    button type="submit" class="danger" { (l.t("Odvolat všechny souhlasy", "Withdraw every consent")) }
                }
            }
        }
        h2 { (l.t("Cookies", "Cookies")) }
        p {
            (l.t("Rozsah cookies můžete změnit v ", "You can change which cookies we use in the "))
            a href=(format!("{}#nastaveni", i18n::path("cookies", l))) { (l.t("nastavení cookies", "cookie settings")) }
            "."
        }
        h2 { (l.t("Další práva", "Other rights")) }
        p { (l.t("Právo na opravu, výmaz, přístup, omezení zpracování, přenositelnost a právo vznést námitku uplatníte na info@ApiSendSMS.com. Stížnost můžete podat u Úřadu pro ochranu osobních údajů (www.uoou.cz).",
                 "You can exercise the rights to rectification, erasure, access, restriction of processing, portability and to object at info@ApiSendSMS.com. You may lodge a complaint with the Czech Office for Personal Data Protection (www.uoou.cz).")) }
        p { a href=(i18n::path("policy", l)) { (l.t("Zásady ochrany soukromí", "Privacy policy")) } }
    };
    Ok(ctx.html(layout::page(&ctx, Area::Public, title, body)))
}

#[derive(Deserialize)]
pub struct WithdrawForm {
    csrf: String,
    id: Option<i64>,
    lang: Option<String>,
}

fn back_to_privacy(lang: Option<&str>) -> String {
    let l = lang.and_then(Lang::parse).unwrap_or(Lang::Cs);
    format!("{}?done=1", i18n::path("privacy", l))
}

async fn withdraw(
    axum::extract::State(state): axum::extract::State<WebState>,
    mut ctx: Ctx,
    Form(f): Form<WithdrawForm>,
) -> Result<Response, WebError> {
    ctx.check_csrf(&f.csrf)?;
    let id = f.id.ok_or(WebError::NotFound)?;
    let withdrawn = state
        .store()
        .withdraw_consent(id, &subjects(&ctx), store::now_us())
        .await?
        .ok_or(WebError::NotFound)?;
    if let Some(mut c) = ctx.choice {
        if withdrawn.subject == c.subject() {
            c.set(&withdrawn.purpose, false);
            ctx.set_cookie("consent", &c.encode(), Some(CHOICE_MAX_AGE));
            if withdrawn.purpose == "preferences" {
                ctx.clear_cookie("lang");
            }
        }
    }
    Ok(ctx.redirect(&back_to_privacy(f.lang.as_deref())))
}

async fn withdraw_all(
    axum::extract::State(state): axum::extract::State<WebState>,
    mut ctx: Ctx,
    Form(f): Form<WithdrawForm>,
) -> Result<Response, WebError> {
    ctx.check_csrf(&f.csrf)?;
    let subjects = subjects(&ctx);
    let now = store::now_us();
    for r in state.store().consents_of(&subjects).await? {
        if r.granted && r.withdrawn_at.is_none() {
            state.store().withdraw_consent(r.id, &subjects, now).await?;
        }
    }
    if let Some(c) = ctx.choice {
        let cleared = Choice::new(c.visitor());
        ctx.set_cookie("consent", &cleared.encode(), Some(CHOICE_MAX_AGE));
        ctx.clear_cookie("lang");
    }
    Ok(ctx.redirect(&back_to_privacy(f.lang.as_deref())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_choice_cookie_round_trips_and_refuses_junk() {
        let mut c = Choice::new("0123456789abcdef");
        c.statistics = true;
        assert_eq!(c.encode(), "v1.0123456789abcdef.0100");
        assert_eq!(Choice::parse(&c.encode()), Some(c));
        assert_eq!(c.subject(), "visitor:0123456789abcdef");
        for bad in [
            "",
            "v2.0123456789abcdef.0100",
            "v1.0123456789abcdeg.0100",
            "v1.0123456789abcdef.010",
            "v1.0123456789abcdef.0102",
            "v1.0123456789abcdef.0100.x",
        ] {
            assert_eq!(Choice::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_local_paths_are_returned_to() {
        assert_eq!(local_path(Some("/cenik/")), "/cenik/");
        assert_eq!(local_path(Some("//evil.example/")), "/");
        assert_eq!(local_path(Some("https://evil.example/")), "/");
        assert_eq!(local_path(None), "/");
    }

    #[test]
    fn every_cookie_is_in_a_category_and_necessary_ones_come_first() {
        let names: Vec<_> = COOKIES.iter().map(|c| c.name).collect();
        for n in ["csrf", "consent", "sid", "lang"] {
            assert!(names.contains(&n), "{n}");
        }
        assert_eq!(
            COOKIES
                .iter()
                .find(|c| c.name == "lang")
                .map(|c| c.category),
            Some(Category::Preferences)
        );
    }
}
