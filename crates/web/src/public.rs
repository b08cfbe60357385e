//! The public site: product, how it works, prices (from the price setting), the API
//! documentation (the OpenAPI document rendered on the server), the privacy policy and contact.

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use serde_json::Value;

use crate::ctx::Ctx;
use crate::error::WebError;
use crate::i18n::{self, Lang};
use crate::layout::{self, Area};
use crate::{policy, WebState};

pub fn routes() -> Router<WebState> {
    let mut r = Router::new();
    for (key, cs, en) in i18n::PAGES {
        let handler = match *key {
            "home" => get(home),
            "how" => get(how),
            "prices" => get(prices),
            "docs" => get(docs),
            "policy" => get(privacy_policy),
            "contact" => get(contact),
            // cookies and privacy live in `consent`
            _ => continue,
        };
        r = r.route(cs, handler.clone()).route(en, handler);
    }
    r.route(
        "/en",
        get(|| async { axum::response::Redirect::permanent("/en/") }),
    )
}

async fn home(ctx: Ctx) -> Result<Response, WebError> {
    let l = ctx.lang;
    let title = l.t(
        "SMS brána pro vaše aplikace",
        "An SMS gateway for your applications",
    );
    let body = html! {
        h1 { (title) }
        p class="lead" { (l.t("Posílejte SMS přes HTTP API, SMPP nebo z webové aplikace. Doručenky v reálném čase, kredit předem, ochrana osobních údajů zabudovaná přímo v kódu.",
                              "Send SMS over an HTTP API, SMPP or from the web app. Delivery reports in real time, prepaid credit, privacy built into the code.")) }
        p {
            a class="button" href=(ctx.app_link("/app/register")) { (l.t("Založit účet", "Create an account")) }
            " "
            a class="button secondary" href=(i18n::path("docs", l)) { (l.t("Dokumentace API", "API documentation")) }
        }
        div class="cards" {
            div class="card" { h2 { "HTTP API" } p { (l.t("Jedna zpráva nebo tisíce příjemců v jednom požadavku, plánované odeslání, idempotence, stav s historií.", "One message or thousands of recipients per request, scheduled sending, idempotency, status with history.")) } }
            div class="card" { h2 { "SMPP" } p { (l.t("Doručování přes SMPP v3.4 s doručenkami a příchozími zprávami.", "Delivery over SMPP v3.4 with delivery receipts and inbound messages.")) } }
            div class="card" { h2 { (l.t("Správné kódování", "Correct encoding")) } p { (l.t("GSM 03.38 i UCS-2, přesný počet částí a cena ještě před odesláním.", "GSM 03.38 and UCS-2, the exact part count and price before you send.")) } }
            div class="card" { h2 { (l.t("Soukromí", "Privacy")) } p { (l.t("Souhlasy, jejich odvolání a Blacklist vynucuje kód, ne disciplína.", "Consents, their withdrawal and the Blacklist are enforced by code, not by discipline.")) } }
        }
    };
    Ok(ctx.html(layout::page(&ctx, Area::Public, title, body)))
}

async fn how(ctx: Ctx) -> Result<Response, WebError> {
    let l = ctx.lang;
    let title = l.t("Jak to funguje", "How it works");
    let body = html! {
        h1 { (title) }
        ol {
            li { (l.t("Zaregistrujte se a ověřte e-mail.", "Register and verify your e-mail.")) }
            li { (l.t("Dobijte kredit bankovním převodem.", "Top up credit by bank transfer.")) }
            li { (l.t("Vytvořte API klíč (zobrazí se jen jednou) nebo posílejte z aplikace.", "Create an API key (shown only once) or send from the app.")) }
            li { (l.t("Zprávu uložíme dřív, než odpovíme 202; pak ji doručíme operátorovi a sledujeme doručenku.", "We store a message before we answer 202; then we hand it to a carrier and follow its delivery receipt.")) }
            li { (l.t("Stav zprávy vidíte v aplikaci i přes API; odpovědi příjemců najdete v příchozích zprávách.", "You see a message's status in the app and over the API; recipients' replies arrive in the inbound messages.")) }
        }
        h2 { (l.t("Příklad", "Example")) }
        pre { code { "curl -X POST https://www.apisendsms.com/v1/messages \\\n  -H 'Authorization: Bearer ask_...' \\\n  -d '{\"to\": \"+420777123456\", \"text\": \"Dobrý den\"}'" } }
    };
    Ok(ctx.html(layout::page(&ctx, Area::Public, title, body)))
}

async fn prices(State(state): State<WebState>, ctx: Ctx) -> Result<Response, WebError> {
    let l = ctx.lang;
    let pricing = &state.api().pricing;
    let title = l.t("Ceník", "Prices");
    let rows: Vec<(u32, String)> = [1u32, 2, 3, 5, 10]
        .iter()
        .map(|p| {
            (
                *p,
                pricing.price(*p).map(|m| m.to_string()).unwrap_or_default(),
            )
        })
        .collect();
    let body = html! {
        h1 { (title) }
        p class="lead" {
            (l.t("Platíte jen za odeslané části zprávy: ", "You pay only for the parts sent: "))
            strong { (pricing.per_part().to_string()) " Kč" }
            (l.t(" za část do všech sítí.", " per part to every network."))
        }
        div class="table-wrap" {
            table {
                caption { (l.t("Cena podle počtu částí", "Price by number of parts")) }
                thead { tr {
                    th scope="col" { (l.t("Části", "Parts")) }
                    th scope="col" { (l.t("Znaků GSM-7", "GSM-7 characters")) }
                    th scope="col" { (l.t("Znaků s diakritikou (UCS-2)", "Characters with diacritics (UCS-2)")) }
                    th scope="col" { (l.t("Cena (Kč)", "Price (CZK)")) }
                } }
                tbody {
                    @for (parts, price) in &rows {
                        tr {
                            td { (parts) }
                            td { @if *parts == 1 { "160" } @else { (parts * 153) } }
                            td { @if *parts == 1 { "70" } @else { (parts * 67) } }
                            td { (price) }
                        }
                    }
                }
            }
        }
        p { (l.t("Kredit se při přijetí zprávy rezervuje, při odeslání účtuje a při selhání vrací. Ceny jsou uvedeny bez DPH.",
                 "Credit is reserved when a message is accepted, charged when it is sent and returned when it fails. Prices exclude VAT.")) }
    };
    Ok(ctx.html(layout::page(&ctx, Area::Public, title, body)))
}

async fn contact(ctx: Ctx) -> Result<Response, WebError> {
    let l = ctx.lang;
    let title = l.t("Kontakt", "Contact");
    let body = html! {
        h1 { (title) }
        address {
            "WTI LLC o.z., " (l.t("odštěpný závod", "branch office")) br;
            "Světova 523/1, 180 00 " (l.t("Praha 8 – Libeň", "Prague 8 – Libeň")) br;
            (l.t("IČ", "Company ID")) ": 09828397" br;
            (l.t("Datová schránka", "Data box")) ": u9d5r2x" br;
            (l.t("Telefon", "Telephone")) ": " a href="tel:+420777166238" { "+420\u{a0}777\u{a0}166\u{a0}238" } br;
            "E-mail: " a href="mailto:info@ApiSendSMS.com" { "info@ApiSendSMS.com" }
        }
        p { (l.t("Zapsáno v obchodním rejstříku vedeném Městským soudem v Praze, oddíl A, vložka 79642.", "Registered in the Commercial Register kept by the Municipal Court in Prague, section A, insert 79642.")) }
        p { (l.t("Pověřence pro ochranu osobních údajů zastihnete na stejném e-mailu nebo dopisem na uvedenou adresu.", "You can reach our data protection officer at the same e-mail or by letter to the address above.")) }
    };
    Ok(ctx.html(layout::page(&ctx, Area::Public, title, body)))
}

async fn privacy_policy(ctx: Ctx) -> Result<Response, WebError> {
    let l = ctx.lang;
    let (title, markup) = policy::render(l);
    let body = html! {
        @if l == Lang::En {
            p class="notice" { "This is a translation; the Czech version is the binding one: " a href=(i18n::path("policy", Lang::Cs)) lang="cs" hreflang="cs" { "Zásady ochrany soukromí" } "." }
        }
        (markup)
    };
    Ok(ctx.html(layout::page(&ctx, Area::Public, &title, body)))
}

async fn docs(ctx: Ctx) -> Result<Response, WebError> {
    let l = ctx.lang;
    let doc = api::openapi_document().map_err(|e| anyhow::anyhow!("OpenAPI: {e}"))?;
    let title = l.t("Dokumentace API", "API documentation");
    let body = html! {
        h1 { (title) }
        p class="lead" { (doc.pointer("/info/description").and_then(Value::as_str).unwrap_or("")) }
        p {
            (l.t("Strojově čitelný dokument: ", "Machine-readable document: "))
            a href="/openapi.json" { "/openapi.json" }
            " (OpenAPI " (doc.get("openapi").and_then(Value::as_str).unwrap_or("")) ")"
        }
        h2 { (l.t("Operace", "Operations")) }
        (operations(l, &doc))
        h2 { (l.t("Datové typy", "Schemas")) }
        (schemas(l, &doc))
    };
    Ok(ctx.html(layout::page(&ctx, Area::Public, title, body)))
}

fn anchor(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// `#/components/schemas/Message` -> a link to the schema's section.
fn schema_ref(v: &Value) -> Markup {
    if let Some(r) = v.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or(r);
        return html! { a href=(format!("#schema-{}", anchor(name))) { code { (name) } } };
    }
    if let Some(items) = v.get("items") {
        return html! { "array of " (schema_ref(items)) };
    }
    let ty = v.get("type").and_then(Value::as_str).unwrap_or("object");
    let format = v.get("format").and_then(Value::as_str);
    html! { code { (ty) @if let Some(f) = format { " (" (f) ")" } } }
}

fn operations(l: Lang, doc: &Value) -> Markup {
    let empty = serde_json::Map::new();
    let paths = doc
        .get("paths")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    html! {
        @for (path, item) in paths {
            @for method in ["get", "post", "put", "patch", "delete"] {
                @if let Some(op) = item.get(method) {
                    section class="card" id=(format!("op-{method}-{}", anchor(path))) {
                        h3 { code { (method.to_uppercase()) " " (path) } }
                        @if let Some(s) = op.get("summary").and_then(Value::as_str) { p { strong { (s) } } }
                        @if let Some(d) = op.get("description").and_then(Value::as_str) { p { (d) } }
                        @if let Some(params) = op.get("parameters").and_then(Value::as_array) {
                            div class="table-wrap" {
                                table {
                                    caption { (l.t("Parametry", "Parameters")) }
                                    thead { tr { th scope="col" { (l.t("Název", "Name")) } th scope="col" { (l.t("Kde", "In")) } th scope="col" { (l.t("Typ", "Type")) } th scope="col" { (l.t("Popis", "Description")) } } }
                                    tbody {
                                        @for p in params {
                                            tr {
                                                td { code { (p.get("name").and_then(Value::as_str).unwrap_or("")) } @if p.get("required").and_then(Value::as_bool) == Some(true) { " *" } }
                                                td { (p.get("in").and_then(Value::as_str).unwrap_or("")) }
                                                td { @if let Some(s) = p.get("schema") { (schema_ref(s)) } }
                                                td { (p.get("description").and_then(Value::as_str).unwrap_or("")) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                        @if let Some(s) = op.pointer("/requestBody/content/application~1json/schema") {
                            p { (l.t("Tělo požadavku: ", "Request body: ")) (schema_ref(s)) }
                        }
                        @if let Some(responses) = op.get("responses").and_then(Value::as_object) {
                            ul {
                                @for (code, r) in responses {
                                    li {
                                        code { (code) } " "
                                        @if let Some(d) = r.get("description").and_then(Value::as_str) { (d) }
                                        @else if r.get("$ref").is_some() { "problem+json" }
                                        @if let Some(s) = r.pointer("/content/application~1json/schema") { " – " (schema_ref(s)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn schemas(l: Lang, doc: &Value) -> Markup {
    let empty = serde_json::Map::new();
    let schemas = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    html! {
        @for (name, s) in schemas {
            section id=(format!("schema-{}", anchor(name))) {
                h3 { code { (name) } }
                @if let Some(d) = s.get("description").and_then(Value::as_str) { p { (d) } }
                @if let Some(props) = s.get("properties").and_then(Value::as_object) {
                    @let required: Vec<&str> = s.get("required").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
                    div class="table-wrap" {
                        table {
                            caption { (l.t("Pole", "Fields")) " " (name) }
                            thead { tr { th scope="col" { (l.t("Pole", "Field")) } th scope="col" { (l.t("Typ", "Type")) } th scope="col" { (l.t("Popis", "Description")) } } }
                            tbody {
                                @for (field, p) in props {
                                    tr {
                                        td { code { (field) } @if required.contains(&field.as_str()) { " *" } }
                                        td { (schema_ref(p)) }
                                        td { (p.get("description").and_then(Value::as_str).unwrap_or("")) }
                                    }
                                }
                            }
                        }
                    }
                } @else {
                    p { (schema_ref(s))
                        @if let Some(e) = s.get("enum").and_then(Value::as_array) {
                            ": " @for (i, v) in e.iter().enumerate() { @if i > 0 { ", " } code { (v.as_str().unwrap_or("")) } }
                        }
                    }
                }
            }
        }
    }
}
