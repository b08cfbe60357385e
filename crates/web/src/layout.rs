//! The frame of every page: head, header with navigation and language switch, footer with the
//! links to the cookie list and settings (clause 9), and the cookie banner until a choice.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::assets::{CSS_PATH, JS_PATH};
use crate::ctx::{Ctx, Duty};
use crate::i18n::{self, Lang};

/// Which navigation a page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    Public,
    App,
    Staff,
}

/// A whole page.
pub fn page(ctx: &Ctx, area: Area, title: &str, body: Markup) -> Markup {
    page_with(ctx, area, title, false, body)
}

/// A whole page; `script` loads the page script (the send form's live preview).
pub fn page_with(ctx: &Ctx, area: Area, title: &str, script: bool, body: Markup) -> Markup {
    let l = ctx.lang;
    html! {
        (DOCTYPE)
        html lang=(l.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " – ApiSendSMS" }
                meta name="description" content=(l.t("ApiSendSMS: SMS brána s API, SMPP a webovou aplikací. Ochrana soukromí zabudovaná v kódu.", "ApiSendSMS: an SMS gateway with an API, SMPP and a web app. Privacy built into the code."));
                link rel="stylesheet" href=(CSS_PATH);
                link rel="icon" href="/favicon.svg" type="image/svg+xml";
                @if script {
                    script src=(JS_PATH) defer {}
                }
            }
            body {
                a class="skip" href="#main" { (l.t("Přeskočit na obsah", "Skip to content")) }
                // First in the page, in the flow: it covers nothing and is reached first.
                @if ctx.choice.is_none() {
                    (banner(ctx))
                }
                (header(ctx, area))
                main id="main" { (body) }
                (footer(ctx))
            }
        }
    }
}

fn nav_link(ctx: &Ctx, href: &str, label: &str) -> Markup {
    let bare = href.split('?').next().unwrap_or(href);
    let current = ctx.path == bare;
    html! {
        li {
            @if current { a href=(href) aria-current="page" { (label) } }
            @else { a href=(href) { (label) } }
        }
    }
}

fn header(ctx: &Ctx, area: Area) -> Markup {
    let l = ctx.lang;
    let home = i18n::path("home", l);
    html! {
        header class="site" {
            div class="bar" {
                a class="logo" href=(home) { "ApiSendSMS" }
                nav aria-label=(l.t("Hlavní navigace", "Main navigation")) {
                    ul {
                        @match area {
                            Area::Public => {
                                (nav_link(ctx, i18n::path("how", l), l.t("Jak to funguje", "How it works")))
                                (nav_link(ctx, i18n::path("prices", l), l.t("Ceník", "Prices")))
                                (nav_link(ctx, i18n::path("docs", l), l.t("API", "API")))
                                (nav_link(ctx, i18n::path("contact", l), l.t("Kontakt", "Contact")))
                            }
                            Area::App => {
                                (nav_link(ctx, &ctx.app_link("/app/"), l.t("Přehled", "Dashboard")))
                                (nav_link(ctx, &ctx.app_link("/app/send"), l.t("Odeslat SMS", "Send SMS")))
                                (nav_link(ctx, &ctx.app_link("/app/messages"), l.t("Zprávy", "Messages")))
                                (nav_link(ctx, &ctx.app_link("/app/inbound"), l.t("Příchozí", "Inbound")))
                                (nav_link(ctx, &ctx.app_link("/app/contacts"), l.t("Kontakty", "Contacts")))
                                (nav_link(ctx, &ctx.app_link("/app/blacklist"), "Blacklist"))
                                (nav_link(ctx, &ctx.app_link("/app/keys"), l.t("API klíče", "API keys")))
                                (nav_link(ctx, &ctx.app_link("/app/smpp"), "SMPP"))
                                (nav_link(ctx, &ctx.app_link("/app/webhooks"), "Webhooks"))
                                (nav_link(ctx, &ctx.app_link("/app/devices"), l.t("Zařízení", "Devices")))
                                (nav_link(ctx, &ctx.app_link("/app/credit"), l.t("Kredit", "Credit")))
                                (nav_link(ctx, &ctx.app_link("/app/invoices"), l.t("Faktury", "Invoices")))
                                (nav_link(ctx, &ctx.app_link("/app/security"), l.t("Zabezpečení", "Security")))
                                (nav_link(ctx, &ctx.app_link("/app/privacy"), l.t("Soukromí", "Privacy")))
                                (nav_link(ctx, &ctx.app_link("/app/tickets"), l.t("Podpora", "Support")))
                            }
                            Area::Staff => {
                                @if ctx.may(Duty::Customers) {
                                    (nav_link(ctx, &ctx.app_link("/admin/"), l.t("Zákazníci", "Customers")))
                                    (nav_link(ctx, &ctx.app_link("/admin/messages"), l.t("Hledání zpráv", "Message search")))
                                }
                                @if ctx.may(Duty::Operations) {
                                    (nav_link(ctx, &ctx.app_link("/admin/connectors"), l.t("Konektory", "Connectors")))
                                }
                                @if ctx.may(Duty::Payments) {
                                    (nav_link(ctx, &ctx.app_link("/admin/payments"), l.t("Platby", "Payments")))
                                    (nav_link(ctx, &ctx.app_link("/admin/debtors"), l.t("Dlužníci", "Debtors")))
                                }
                                @if ctx.may(Duty::Privacy) {
                                    (nav_link(ctx, &ctx.app_link("/admin/recipients"), l.t("Žádosti příjemců", "Recipients' requests")))
                                    (nav_link(ctx, &ctx.app_link("/admin/dsr"), l.t("Žádosti GDPR", "GDPR requests")))
                                    (nav_link(ctx, &ctx.app_link("/admin/retention"), l.t("Doby uložení", "Retention")))
                                    (nav_link(ctx, &ctx.app_link("/admin/processing"), l.t("Zpracování", "Processing")))
                                    (nav_link(ctx, &ctx.app_link("/admin/lawful-requests"), l.t("Žádosti orgánů", "Lawful requests")))
                                }
                                @if ctx.may(Duty::Marketing) {
                                    (nav_link(ctx, &ctx.app_link("/admin/marketing"), l.t("Obchodní sdělení", "Marketing e-mails")))
                                }
                                @if ctx.may(Duty::Tickets) {
                                    (nav_link(ctx, &ctx.app_link("/admin/tickets"), l.t("Požadavky", "Tickets")))
                                }
                                @if ctx.may(Duty::Audit) {
                                    (nav_link(ctx, &ctx.app_link("/admin/audit"), l.t("Auditní záznam", "Audit log")))
                                }
                            }
                        }
                        @if let Some(u) = ctx.signed_in() {
                            @if area == Area::Public {
                                (nav_link(ctx, &ctx.app_link("/app/"), l.t("Aplikace", "App")))
                            }
                            @if u.role != "customer" && area != Area::Staff {
                                (nav_link(ctx, &ctx.app_link("/admin/"), l.t("Back office", "Back office")))
                            }
                            li {
                                form class="inline" method="post" action="/app/logout" {
                                    input type="hidden" name="csrf" value=(ctx.csrf);
                                    button type="submit" class="secondary" { (l.t("Odhlásit", "Sign out")) }
                                }
                            }
                        } @else {
                            (nav_link(ctx, &ctx.app_link("/app/login"), l.t("Přihlášení", "Sign in")))
                            (nav_link(ctx, &ctx.app_link("/app/register"), l.t("Registrace", "Register")))
                        }
                        li {
                            a href=(i18n::counterpart(&ctx.path, l)) lang=(l.other().code()) hreflang=(l.other().code()) {
                                (l.t("English", "Česky"))
                            }
                        }
                    }
                }
            }
        }
    }
}

fn footer(ctx: &Ctx) -> Markup {
    let l = ctx.lang;
    let cookies = i18n::path("cookies", l);
    html! {
        footer class="site" {
            div class="bar" {
                span { "© WTI LLC o.z., IČ 09828397" }
                a href=(format!("{cookies}#seznam")) { (l.t("Seznam cookies", "Cookie list")) }
                a href=(format!("{cookies}#nastaveni")) { (l.t("Nastavení cookies", "Cookie settings")) }
                a href=(i18n::path("policy", l)) { (l.t("Zásady ochrany soukromí", "Privacy policy")) }
                a href=(i18n::path("privacy", l)) { (l.t("Osobní údaje a souhlasy", "Personal data and consents")) }
                a href=(i18n::path("contact", l)) { (l.t("Kontakt", "Contact")) }
            }
        }
    }
}

/// The cookie banner (clause 9): accept all, reject all, or choose; a plain form.
fn banner(ctx: &Ctx) -> Markup {
    let l = ctx.lang;
    html! {
        section class="cookie-banner" aria-labelledby="cookie-banner-title" {
            div class="inner" {
                h2 id="cookie-banner-title" { (l.t("Cookies na tomto webu", "Cookies on this site")) }
                p {
                    (l.t("Nutné cookies používáme vždy: bez nich web nefunguje. Ostatní (preferenční, statistické, marketingové a neklasifikované) jen s Vaším souhlasem, který můžete kdykoli změnit v ",
                         "We always use necessary cookies: the site does not work without them. The others (preferences, statistics, marketing and unclassified) only with your consent, which you can change at any time in the "))
                    a href=(format!("{}#nastaveni", i18n::path("cookies", l))) { (l.t("nastavení cookies", "cookie settings")) }
                    "."
                }
                (crate::consent::choice_form(ctx, "banner", true))
            }
        }
    }
}

/// A notice box; `kind` is "ok" or "error".
pub fn notice(kind: &str, text: &str) -> Markup {
    let role = if kind == "error" { "alert" } else { "status" };
    html! { div class=(format!("notice {kind}")) role=(role) { (text) } }
}

/// A form of one button that posts `hidden` fields (and the CSRF token) to `action`: the
/// revoke, remove and delete buttons of tables.
pub fn button_form(
    ctx: &Ctx,
    action: &str,
    hidden: &[(&str, &str)],
    label: &str,
    class: &str,
) -> Markup {
    html! {
        form class="inline" method="post" action=(ctx.app_link(action)) {
            input type="hidden" name="csrf" value=(ctx.csrf);
            @for (name, value) in hidden {
                input type="hidden" name=(name) value=(value);
            }
            button type="submit" class=(class) { (label) }
        }
    }
}

/// A labelled input.
pub fn field(id: &str, label: &str, input: Markup, hint: Option<&str>) -> Markup {
    html! {
        div class="field" {
            label for=(id) { (label) }
            @if let Some(h) = hint { span class="hint" id=(format!("{id}-hint")) { (h) } }
            (input)
        }
    }
}

/// An inline SVG as markup (generated by our own code, never from input).
pub fn trusted_svg(svg: String) -> Markup {
    PreEscaped(svg)
}

/// The language of the page as a hidden form field.
pub fn lang_field(l: Lang) -> Markup {
    html! { input type="hidden" name="lang" value=(l.code()); }
}
