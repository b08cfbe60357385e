//! The customer app: dashboard (credit, messages today, delivery rate, the last 30 days as an
//! inline SVG chart), sending (encoding, parts and price while typing, and a Preview button for
//! browsers without JavaScript), messages with filters and status history, inbound messages,
//! API keys (shown once, revocable) and the TOTP second factor.
//!
//! Sending goes through `api::messages::accept`, the one way into the queue of every edge, so
//! the rules, credit, the queue and the delivery reports are those of `POST /v1/messages`;
//! the form only checks the numbers first to name a wrong one.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use domain::{MessageId, MessageStatus, Money};
use maud::{html, Markup};
use serde::Deserialize;
use sms::{Encoding, Msisdn, SenderId, TextOptions};
use store::{MessageFilter, WebUser};

use crate::ctx::Ctx;
use crate::error::WebError;
use crate::forms::{opt, ticked};
use crate::i18n::Lang;
use crate::layout::{self, field, Area};
use crate::{prague, security, WebState};

const DAY_US: i64 = 86_400_000_000;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/app/", get(dashboard))
        .route(
            "/app",
            get(|| async { axum::response::Redirect::permanent("/app/") }),
        )
        .route("/app/send", get(send_page).post(send))
        .route("/app/send/preview", post(preview_json))
        .route("/app/messages", get(messages))
        .route("/app/messages/{id}", get(message))
        .route("/app/inbound", get(inbound))
        .route("/app/keys", get(keys).post(create_key))
        .route("/app/keys/{id}/revoke", post(revoke_key))
        .route("/app/security", get(security_page).post(security_submit))
}

fn status_name(l: Lang, s: MessageStatus) -> &'static str {
    match s {
        MessageStatus::Scheduled => l.t("naplánováno", "scheduled"),
        MessageStatus::Queued => l.t("ve frontě", "queued"),
        MessageStatus::Sending => l.t("odesílá se", "sending"),
        MessageStatus::Sent => l.t("odesláno", "sent"),
        MessageStatus::Delivered => l.t("doručeno", "delivered"),
        MessageStatus::Undeliverable => l.t("nedoručitelné", "undeliverable"),
        MessageStatus::Expired => l.t("vypršelo", "expired"),
        MessageStatus::Rejected => l.t("odmítnuto", "rejected"),
        MessageStatus::Failed => l.t("selhalo", "failed"),
        MessageStatus::Cancelled => l.t("zrušeno", "cancelled"),
        MessageStatus::Blocked => l.t("blokováno", "blocked"),
    }
}

const STATUSES: [MessageStatus; 11] = [
    MessageStatus::Scheduled,
    MessageStatus::Queued,
    MessageStatus::Sending,
    MessageStatus::Sent,
    MessageStatus::Delivered,
    MessageStatus::Undeliverable,
    MessageStatus::Expired,
    MessageStatus::Rejected,
    MessageStatus::Failed,
    MessageStatus::Cancelled,
    MessageStatus::Blocked,
];

fn status_cell(l: Lang, s: MessageStatus) -> Markup {
    html! { span class=(format!("status status-{}", s.as_str())) data-status=(s.as_str()) { (status_name(l, s)) } }
}

/// Messages per day for the last `days` days as bars, ending today.
pub fn chart_svg(l: Lang, per_day: &[(i64, i64)], today: i64, days: i64) -> Markup {
    let width = 600i64;
    let height = 160i64;
    let bar_w = width / days;
    let max = per_day.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let first = today - days + 1;
    let total: i64 = per_day
        .iter()
        .filter(|(d, _)| *d >= first)
        .map(|(_, n)| n)
        .sum();
    let label = format!(
        "{} {total}",
        l.t(
            "Zprávy za posledních 30 dní, celkem",
            "Messages in the last 30 days, in total"
        )
    );
    html! {
        svg class="chart" viewBox=(format!("0 0 {width} {}", height + 20)) role="img" aria-label=(label) xmlns="http://www.w3.org/2000/svg" {
            title { (label) }
            line x1="0" y1=(height) x2=(width) y2=(height) {}
            @for i in 0..days {
                @let day = first + i;
                @let n = per_day.iter().find(|(d, _)| *d == day).map(|(_, n)| *n).unwrap_or(0);
                @let h = n * (height - 10) / max;
                rect x=(i * bar_w + 1) y=(height - h) width=(bar_w - 2) height=(h) {
                    title { (n) }
                }
            }
            text x="0" y=(height + 15) { "−30" }
            text x=(width - 30) y=(height + 15) { (l.t("dnes", "today")) }
        }
    }
}

async fn dashboard(State(state): State<WebState>, ctx: Ctx) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    let l = ctx.lang;
    let now = store::now_us();
    let offset = prague::offset_s(now) * 1_000_000;
    let today_start = prague::start_of_today(now);
    let stats = state
        .store()
        .dashboard_stats(user.account, today_start, today_start - 29 * DAY_US, offset)
        .await?;
    // The customer's balance: negative while a postpaid account uses its credit line.
    let balance = state
        .store()
        .credit_view(user.account)
        .await?
        .map(|c| store::Balance {
            available: c.balance,
            reserved: c.reserved,
        })
        .unwrap_or(store::Balance {
            available: Money::from_hundredths(0),
            reserved: Money::from_hundredths(0),
        });
    let rate = (stats.final_30d > 0).then(|| stats.delivered_30d * 1000 / stats.final_30d);
    let today_day = (now + offset).div_euclid(DAY_US);
    let title = l.t("Přehled", "Dashboard");
    let body = html! {
        h1 { (title) }
        p { (user.full_name) @if let Some(c) = &user.company { ", " (c) } }
        div class="cards" {
            div class="card" { h2 { (l.t("Kredit", "Credit")) } p class="figure" data-figure="credit" { (balance.available.to_string()) " Kč" }
                p class="hint" { (l.t("Rezervováno pro zprávy ve frontě: ", "Reserved for queued messages: ")) (balance.reserved.to_string()) " Kč" } }
            div class="card" { h2 { (l.t("Zprávy dnes", "Messages today")) } p class="figure" data-figure="today" { (stats.messages_today) } }
            div class="card" { h2 { (l.t("Doručenost (30 dní)", "Delivery rate (30 days)")) }
                p class="figure" data-figure="rate" { @if let Some(r) = rate { (r / 10) "," (r % 10) " %" } @else { "–" } }
                p class="hint" { (stats.delivered_30d) " / " (stats.final_30d) " " (l.t("s konečným stavem", "with a final status")) } }
        }
        h2 { (l.t("Posledních 30 dní", "The last 30 days")) }
        (chart_svg(l, &stats.per_day, today_day, 30))
        p { a class="button" href=(ctx.app_link("/app/send")) { (l.t("Odeslat SMS", "Send SMS")) } }
    };
    Ok(ctx.html(layout::page(&ctx, Area::App, title, body)))
}

#[derive(Deserialize, Default)]
pub struct SendForm {
    csrf: String,
    to: Option<String>,
    from: Option<String>,
    text: Option<String>,
    allow_transliteration: Option<String>,
    action: Option<String>,
    /// A contact list to send to instead of `to`.
    list: Option<String>,
    /// A commercial message (the rules of `"marketing": true`).
    marketing: Option<String>,
    /// Add the "OS:" mark, the account's identification and its opt-out line.
    append_marketing: Option<String>,
}

impl SendForm {
    fn list_id(&self) -> Option<i64> {
        opt(&self.list).and_then(|l| l.parse().ok())
    }
}

/// The text to send: the form's text, with the marks of a commercial message added when asked.
fn composed_text(f: &SendForm, texts: &(Option<String>, Option<String>)) -> String {
    let text = f.text.clone().unwrap_or_default();
    if !(ticked(&f.marketing) && ticked(&f.append_marketing)) {
        return text;
    }
    let mut out = format!("OS: {}", text.trim_end());
    for t in [&texts.0, &texts.1].into_iter().flatten() {
        if !t.trim().is_empty() && !out.contains(t.trim()) {
            out.push('\n');
            out.push_str(t.trim());
        }
    }
    out
}

/// The analysis of a form's text, or why it cannot be sent.
struct Preview {
    encoding: Encoding,
    parts: u32,
    characters: u32,
    transliterated: bool,
    price_each: Money,
}

fn analyse(state: &WebState, f: &SendForm, text: &str) -> Result<Preview, String> {
    let opts = TextOptions {
        allow_transliteration: ticked(&f.allow_transliteration),
        max_parts: state.api().max_parts,
        ..TextOptions::default()
    };
    let a = sms::analyse(text, &opts).map_err(|e| e.to_string())?;
    let price_each = state
        .api()
        .pricing
        .price(a.parts())
        .ok_or_else(|| "the price overflows".to_owned())?;
    Ok(Preview {
        encoding: a.encoding(),
        parts: a.parts(),
        characters: a.characters(),
        transliterated: a.transliterated(),
        price_each,
    })
}

fn recipients(f: &SendForm) -> Vec<String> {
    f.to.as_deref()
        .unwrap_or("")
        .split([',', ';', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn preview_summary(l: Lang, p: &Preview, count: usize) -> String {
    let enc = match p.encoding {
        Encoding::Gsm7 => "GSM-7",
        Encoding::Ucs2 => "UCS-2",
    };
    let total = p
        .price_each
        .checked_mul(i64::try_from(count.max(1)).unwrap_or(1))
        .unwrap_or(p.price_each);
    let mut s = format!(
        "{} {enc} · {} {} · {} {} · {} {} Kč",
        l.t("Kódování", "Encoding"),
        p.characters,
        l.t("znaků", "characters"),
        p.parts,
        l.t("části", "parts"),
        l.t("cena", "price"),
        total
    );
    if count > 1 {
        s.push_str(&format!(" ({count} {})", l.t("příjemců", "recipients")));
    }
    if p.transliterated {
        s.push_str(l.t(" · bez diakritiky", " · diacritics removed"));
    }
    s
}

fn send_form(
    ctx: &Ctx,
    f: &SendForm,
    lists: &[store::ContactList],
    preview: Option<&str>,
    error: Option<&str>,
) -> Markup {
    let l = ctx.lang;
    let chosen = f.list_id();
    html! {
        @if let Some(e) = error { (layout::notice("error", e)) }
        form class="stack" method="post" action=(ctx.app_link("/app/send")) data-preview="/app/send/preview" {
            input type="hidden" name="csrf" value=(ctx.csrf);
            (field("to", l.t("Příjemci (telefonní čísla, oddělená čárkou nebo řádkem)", "Recipients (phone numbers, separated by commas or lines)"),
                html! { textarea id="to" name="to" rows="2" { (f.to.clone().unwrap_or_default()) } }, None))
            @if !lists.is_empty() {
                (field("list", l.t("…nebo seznam kontaktů (pole jako {name} se doplní)", "…or a contact list (fields such as {name} are filled in)"),
                    html! {
                        select id="list" name="list" {
                            option value="" { (l.t("– žádný –", "– none –")) }
                            @for list in lists {
                                option value=(list.id) selected[chosen == Some(list.id)] { (list.name) " (" (list.contacts) ")" }
                            }
                        }
                    }, None))
            }
            (field("from", l.t("Odesílatel (nepovinný)", "Sender (optional)"),
                html! { input type="text" id="from" name="from" value=(f.from.clone().unwrap_or_default()) maxlength="16"; }, None))
            (field("text", l.t("Text zprávy", "Message text"),
                html! { textarea id="text" name="text" required aria-describedby="live-preview" { (f.text.clone().unwrap_or_default()) } }, None))
            p id="live-preview" class="live" aria-live="polite" { (preview.unwrap_or("")) }
            div class="check" {
                input type="checkbox" id="allow_transliteration" name="allow_transliteration" value="on" checked[ticked(&f.allow_transliteration)];
                label for="allow_transliteration" { (l.t("Odstranit diakritiku, je-li zpráva díky tomu levnější (GSM-7)", "Remove diacritics when that makes the message cheaper (GSM-7)")) }
            }
            div class="check" {
                input type="checkbox" id="marketing" name="marketing" value="on" checked[ticked(&f.marketing)];
                label for="marketing" { (l.t("Obchodní sdělení (odejde jen příjemcům se souhlasem nebo stávajícím zákazníkům)", "Commercial message (goes only to recipients who consented or are existing customers)")) }
            }
            div class="check" {
                input type="checkbox" id="append_marketing" name="append_marketing" value="on" checked[ticked(&f.append_marketing)];
                label for="append_marketing" { (l.t("Doplnit značku OS, mou identifikaci a pokyn k odhlášení", "Add the OS mark, my identification and the opt-out instruction")) }
            }
            div {
                button type="submit" name="action" value="send" { (l.t("Odeslat", "Send")) }
                " "
                button type="submit" name="action" value="preview" class="secondary" { (l.t("Náhled ceny", "Preview the price")) }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct SendQuery {
    list: Option<String>,
}

async fn send_page(
    State(state): State<WebState>,
    ctx: Ctx,
    Query(q): Query<SendQuery>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    let l = ctx.lang;
    let lists = state
        .store()
        .contact_lists(user.account, None, 1000)
        .await?;
    let title = l.t("Odeslat SMS", "Send SMS");
    let f = SendForm {
        list: q.list,
        ..SendForm::default()
    };
    let body = html! { h1 { (title) } (send_form(&ctx, &f, &lists, None, None)) };
    Ok(ctx.html(layout::page_with(&ctx, Area::App, title, true, body)))
}

/// How many messages the form sends: the numbers typed, or the chosen list's contacts.
async fn recipient_count(
    state: &WebState,
    account: domain::AccountId,
    f: &SendForm,
) -> Result<usize, WebError> {
    Ok(match f.list_id() {
        Some(id) => state
            .store()
            .contact_list(account, id)
            .await?
            .map_or(0, |list| usize::try_from(list.contacts).unwrap_or(0)),
        None => recipients(f).len(),
    })
}

/// The live preview for the page script: the same analysis as the Preview button.
async fn preview_json(
    State(state): State<WebState>,
    ctx: Ctx,
    Form(f): Form<SendForm>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    ctx.check_csrf(&f.csrf)?;
    let texts = state.store().marketing_texts(user.account).await?;
    let count = recipient_count(&state, user.account, &f).await?;
    let summary = match analyse(&state, &f, &composed_text(&f, &texts)) {
        Ok(p) => preview_summary(ctx.lang, &p, count),
        Err(e) => e,
    };
    Ok(Json(serde_json::json!({ "summary": summary })).into_response())
}

async fn send(
    State(state): State<WebState>,
    ctx: Ctx,
    Form(f): Form<SendForm>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?.clone();
    ctx.check_csrf(&f.csrf)?;
    let l = ctx.lang;
    let title = l.t("Odeslat SMS", "Send SMS");
    let lists = state
        .store()
        .contact_lists(user.account, None, 1000)
        .await?;
    let again = |status: StatusCode, preview: Option<&str>, error: Option<&str>| {
        let body = html! { h1 { (title) } (send_form(&ctx, &f, &lists, preview, error)) };
        ctx.html_status(
            status,
            layout::page_with(&ctx, Area::App, title, true, body),
        )
    };
    let texts = state.store().marketing_texts(user.account).await?;
    let text = composed_text(&f, &texts);
    let p = match analyse(&state, &f, &text) {
        Ok(p) => p,
        Err(e) => return Ok(again(StatusCode::UNPROCESSABLE_ENTITY, None, Some(&e))),
    };
    let list = f.list_id();
    let numbers = if list.is_some() {
        Vec::new()
    } else {
        recipients(&f)
    };
    let count = recipient_count(&state, user.account, &f).await?;
    let summary = preview_summary(l, &p, count);
    if f.action.as_deref() == Some("preview") {
        return Ok(again(StatusCode::OK, Some(&summary), None));
    }
    let settings = state.api();
    let sender = match SenderId::parse(opt(&f.from).as_deref().unwrap_or(&settings.default_sender))
    {
        Ok(s) => s,
        Err(e) => {
            return Ok(again(
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&summary),
                Some(&format!("{}: {e}", l.t("Odesílatel", "Sender"))),
            ))
        }
    };
    if list.is_none() && (numbers.is_empty() || numbers.len() > settings.max_recipients) {
        return Ok(again(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(&summary),
            Some(l.t(
                "Zadejte alespoň jednoho příjemce nebo vyberte seznam.",
                "Enter at least one recipient or choose a list.",
            )),
        ));
    }
    let mut parsed = Vec::with_capacity(numbers.len());
    for n in &numbers {
        match Msisdn::parse(n, &settings.default_region) {
            Ok(m) => parsed.push(m),
            Err(e) => {
                let msg = format!("{} {n}: {e}", l.t("Neplatné číslo", "Invalid number"));
                return Ok(again(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(&summary),
                    Some(&msg),
                ));
            }
        }
    }
    let intake = api::messages::Intake {
        recipients: parsed.iter().map(|m| m.as_str().to_owned()).collect(),
        text,
        from: Some(sender.as_str().to_owned()),
        client_ref: Some("web".to_owned()),
        allow_transliteration: ticked(&f.allow_transliteration),
        to_list: list,
        marketing: ticked(&f.marketing),
        ..api::messages::Intake::default()
    };
    match api::messages::accept(state.api_state(), user.account, intake, None, None).await {
        Ok(accepted) => {
            let to = match accepted.ids.as_slice() {
                [id] => format!("/app/messages/{id}"),
                _ => "/app/messages?sent=1".to_owned(),
            };
            Ok(ctx.redirect(&ctx.app_link(&to)))
        }
        Err(e) if e.status().is_client_error() => {
            let status = StatusCode::from_u16(e.status().as_u16())
                .unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            Ok(again(status, Some(&summary), Some(e.detail())))
        }
        Err(e) => Err(anyhow::anyhow!("accepting a web submission: {}", e.detail()).into()),
    }
}

#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    to: Option<String>,
    before: Option<i64>,
    sent: Option<String>,
}

async fn messages(
    State(state): State<WebState>,
    ctx: Ctx,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    let l = ctx.lang;
    let status = q
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|s| s.parse::<MessageStatus>().ok());
    let to =
        q.to.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|t| Msisdn::parse(t, &state.api().default_region).map(|m| m.as_str().to_owned()));
    let bad_number = matches!(to, Some(Err(_)));
    let limit = 50;
    let list = if bad_number {
        Vec::new()
    } else {
        state
            .store()
            .list_messages(
                user.account,
                &MessageFilter {
                    status,
                    to: to.and_then(Result::ok),
                    before: q.before.map(MessageId::new),
                    limit,
                    ..MessageFilter::default()
                },
            )
            .await?
    };
    let next = (list.len() == limit as usize)
        .then(|| list.last().map(|m| m.id.get()))
        .flatten();
    let title = l.t("Zprávy", "Messages");
    let body = html! {
        h1 { (title) }
        @if q.sent.is_some() { (layout::notice("ok", l.t("Zprávy jsou přijaty k odeslání.", "The messages are accepted for sending."))) }
        form class="filters" method="get" action="/app/messages" {
            @if l == Lang::En { input type="hidden" name="lang" value="en"; }
            (field("f-status", l.t("Stav", "Status"), html! {
                select id="f-status" name="status" {
                    option value="" { (l.t("vše", "all")) }
                    @for s in STATUSES {
                        option value=(s.as_str()) selected[status == Some(s)] { (status_name(l, s)) }
                    }
                }
            }, None))
            (field("f-to", l.t("Příjemce", "Recipient"), html! { input type="search" id="f-to" name="to" value=(q.to.clone().unwrap_or_default()); }, None))
            button type="submit" { (l.t("Filtrovat", "Filter")) }
        }
        @if bad_number { (layout::notice("error", l.t("Číslo příjemce není platné.", "The recipient number is not valid."))) }
        @if list.is_empty() {
            p { (l.t("Žádné zprávy.", "No messages.")) }
        } @else {
            div class="table-wrap" {
                table {
                    caption { (l.t("Odeslané zprávy, nejnovější první", "Sent messages, newest first")) }
                    thead { tr {
                        th scope="col" { (l.t("Vytvořeno", "Created")) }
                        th scope="col" { (l.t("Příjemce", "Recipient")) }
                        th scope="col" { (l.t("Text", "Text")) }
                        th scope="col" { (l.t("Části", "Parts")) }
                        th scope="col" { (l.t("Cena", "Price")) }
                        th scope="col" { (l.t("Stav", "Status")) }
                    } }
                    tbody {
                        @for m in &list {
                            tr {
                                td { a href=(ctx.app_link(&format!("/app/messages/{}", m.id))) { (prague::format(m.created_at)) } }
                                td { (m.to) }
                                td { (m.body.chars().take(60).collect::<String>()) @if m.body.chars().count() > 60 { "…" } }
                                td { (m.parts) }
                                td { (m.price.to_string()) }
                                td { (status_cell(l, m.status)) }
                            }
                        }
                    }
                }
            }
            @if let Some(n) = next {
                p { a href=(ctx.app_link(&format!("/app/messages?before={n}{}{}", status.map(|s| format!("&status={}", s.as_str())).unwrap_or_default(), q.to.as_deref().map(|t| format!("&to={}", url_encode(t))).unwrap_or_default()))) { (l.t("Starší", "Older")) } }
            }
        }
    };
    Ok(ctx.html(layout::page(&ctx, Area::App, title, body)))
}

/// Percent-encodes a query value.
fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn message(
    State(state): State<WebState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    let l = ctx.lang;
    let m = state
        .store()
        .get_message(user.account, MessageId::new(id))
        .await?
        .ok_or(WebError::NotFound)?;
    let events = state.store().message_events(m.id).await?;
    let title = l.t("Zpráva", "Message");
    let body = html! {
        h1 { (title) " " (m.id) }
        dl {
            dt { (l.t("Stav", "Status")) } dd id="message-status" { (status_cell(l, m.status)) @if let Some(r) = &m.status_reason { " – " (r) } }
            dt { (l.t("Příjemce", "Recipient")) } dd { (m.to) }
            dt { (l.t("Odesílatel", "Sender")) } dd { (m.sender) }
            dt { (l.t("Text", "Text")) } dd { (m.body) }
            dt { (l.t("Kódování a části", "Encoding and parts")) } dd { (m.encoding) ", " (m.parts) }
            dt { (l.t("Cena", "Price")) } dd { (m.price.to_string()) " Kč" }
            dt { (l.t("Vytvořeno", "Created")) } dd { (prague::format(m.created_at)) }
        }
        h2 { (l.t("Historie stavů", "Status history")) }
        ol {
            @for e in &events {
                li { (prague::format(e.at)) " – " (status_cell(l, e.status)) @if let Some(r) = &e.reason { " (" (r) ")" } }
            }
        }
        p { a href=(ctx.app_link(&format!("/app/messages/{id}"))) { (l.t("Obnovit", "Refresh")) } " · " a href=(ctx.app_link("/app/messages")) { (l.t("Všechny zprávy", "All messages")) } }
    };
    Ok(ctx.html(layout::page(&ctx, Area::App, title, body)))
}

#[derive(Deserialize)]
pub struct InboundQuery {
    before: Option<i64>,
}

async fn inbound(
    State(state): State<WebState>,
    ctx: Ctx,
    Query(q): Query<InboundQuery>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    let l = ctx.lang;
    let list = state
        .store()
        .list_inbound(user.account, q.before.or(Some(i64::MAX)), 50)
        .await?;
    let title = l.t("Příchozí zprávy", "Inbound messages");
    let body = html! {
        h1 { (title) }
        p { (l.t("Odpovědi příjemců: odpověď patří účtu, který jako poslední psal na číslo odesílatele.", "Recipients' replies: a reply belongs to the account that last wrote to its sender.")) }
        @if list.is_empty() {
            p { (l.t("Žádné příchozí zprávy.", "No inbound messages.")) }
        } @else {
            div class="table-wrap" {
                table {
                    caption { (title) }
                    thead { tr { th scope="col" { (l.t("Přijato", "Received")) } th scope="col" { (l.t("Od", "From")) } th scope="col" { (l.t("Na", "To")) } th scope="col" { (l.t("Text", "Text")) } } }
                    tbody {
                        @for m in &list {
                            tr { td { (prague::format(m.received_at)) } td { (m.from) } td { (m.to) } td { (m.body) } }
                        }
                    }
                }
            }
            @if list.len() == 50 {
                @if let Some(last) = list.last() {
                    p { a href=(ctx.app_link(&format!("/app/inbound?before={}", last.id))) { (l.t("Starší", "Older")) } }
                }
            }
        }
    };
    Ok(ctx.html(layout::page(&ctx, Area::App, title, body)))
}

async fn keys_page(
    state: &WebState,
    ctx: &Ctx,
    user: &WebUser,
    new_key: Option<&str>,
) -> Result<Markup, WebError> {
    let l = ctx.lang;
    let keys = state.store().list_api_keys(user.account).await?;
    let title = l.t("API klíče", "API keys");
    let body = html! {
        h1 { (title) }
        @if let Some(k) = new_key {
            div class="notice ok" role="status" {
                p { strong { (l.t("Nový klíč – zkopírujte si jej teď, znovu už jej neuvidíte:", "New key – copy it now, you will not see it again:")) } }
                p class="secret" id="new-api-key" { (k) }
            }
        }
        form method="post" action=(ctx.app_link("/app/keys")) {
            input type="hidden" name="csrf" value=(ctx.csrf);
            button type="submit" { (l.t("Vytvořit nový klíč", "Create a new key")) }
        }
        @if keys.is_empty() {
            p { (l.t("Zatím žádné klíče.", "No keys yet.")) }
        } @else {
            div class="table-wrap" {
                table {
                    caption { (l.t("Klíče (uchováváme jen jejich otisk)", "Keys (we keep only their hash)")) }
                    thead { tr { th scope="col" { (l.t("Začátek klíče", "Key prefix")) } th scope="col" { (l.t("Vytvořen", "Created")) } th scope="col" { (l.t("Stav", "Status")) } th scope="col" { span class="skip" { (l.t("Akce", "Action")) } } } }
                    tbody {
                        @for k in &keys {
                            tr {
                                td { code { (k.prefix) "…" } }
                                td { (prague::format(k.created_at)) }
                                td { @if let Some(r) = k.revoked_at { (l.t("zneplatněn ", "revoked ")) (prague::format(r)) } @else { (l.t("platný", "active")) } }
                                td {
                                    @if k.revoked_at.is_none() {
                                        (layout::button_form(ctx, &format!("/app/keys/{}/revoke", k.id), &[], l.t("Zneplatnit", "Revoke"), "danger"))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(ctx, Area::App, title, body))
}

async fn keys(State(state): State<WebState>, ctx: Ctx) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    let page = keys_page(&state, &ctx, user, None).await?;
    Ok(ctx.html(page))
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

async fn create_key(
    State(state): State<WebState>,
    ctx: Ctx,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    ctx.check_csrf(&f.csrf)?;
    let key = api::keys::generate();
    state
        .store()
        .create_api_key(
            state.ids().next(),
            user.account,
            &api::keys::hash(&key),
            &api::keys::display_prefix(&key),
            store::now_us(),
        )
        .await?;
    // Shown in this answer only (not after a redirect): the key is never stored in clear.
    let page = keys_page(&state, &ctx, user, Some(&key)).await?;
    Ok(ctx.html(page))
}

async fn revoke_key(
    State(state): State<WebState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    ctx.check_csrf(&f.csrf)?;
    if !state
        .store()
        .revoke_api_key(user.account, id, store::now_us())
        .await?
    {
        return Err(WebError::NotFound);
    }
    Ok(ctx.redirect(&ctx.app_link("/app/keys")))
}

/// A QR code of a text as an inline SVG image.
fn qr_svg(text: &str) -> Option<Markup> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(192, 192)
        .build();
    let svg = svg
        .split_once("?>")
        .map(|(_, s)| s.to_owned())
        .unwrap_or(svg);
    let data: String = svg
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b' '
            | b'='
            | b':'
            | b'/'
            | b',' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    Some(html! { img class="qr" alt="QR" src=(format!("data:image/svg+xml,{data}")); })
}

async fn security_page(ctx: Ctx) -> Result<Response, WebError> {
    let user = ctx.require_user()?.clone();
    let page = security_view(&ctx, &user, None)?;
    Ok(ctx.html(page))
}

fn security_view(
    ctx: &Ctx,
    user: &WebUser,
    message: Option<(&str, &str)>,
) -> Result<Markup, WebError> {
    let l = ctx.lang;
    let title = l.t("Zabezpečení účtu", "Account security");
    let pending = user
        .totp_secret
        .as_deref()
        .filter(|_| user.totp_enabled_at.is_none());
    let body = html! {
        h1 { (title) }
        @if let Some((kind, m)) = message { (layout::notice(kind, m)) }
        h2 { (l.t("Dvoufázové ověření (TOTP)", "Two-step verification (TOTP)")) }
        @if user.totp_enabled_at.is_some() {
            p { (l.t("Zapnuto: při přihlášení zadáváte kód z aplikace.", "On: you enter a code from your app when you sign in.")) }
            form class="stack" method="post" action=(ctx.app_link("/app/security")) {
                input type="hidden" name="csrf" value=(ctx.csrf);
                input type="hidden" name="action" value="disable";
                (field("code", l.t("Pro vypnutí zadejte aktuální kód", "Enter a current code to turn it off"), html! { input type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code" required; }, None))
                button type="submit" class="danger" { (l.t("Vypnout", "Turn off")) }
            }
        } @else if let Some(secret) = pending {
            @let url = security::totp(secret, &user.email).map(|t| t.get_url()).unwrap_or_default();
            p { (l.t("Naskenujte kód v aplikaci (např. FreeOTP, Google Authenticator) nebo zadejte klíč ručně, pak potvrďte první kód.", "Scan the code in your app (such as FreeOTP or Google Authenticator) or enter the key by hand, then confirm the first code.")) }
            @if let Some(qr) = qr_svg(&url) { (qr) }
            p { (l.t("Klíč: ", "Key: ")) code id="totp-secret" { (secret) } }
            form class="stack" method="post" action=(ctx.app_link("/app/security")) {
                input type="hidden" name="csrf" value=(ctx.csrf);
                input type="hidden" name="action" value="confirm";
                (field("code", l.t("Kód z aplikace", "Code from the app"), html! { input type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code" required; }, None))
                button type="submit" { (l.t("Zapnout", "Turn on")) }
            }
        } @else {
            p { (l.t("Vypnuto. Zapnutím budete při přihlášení zadávat i kód z aplikace v telefonu.", "Off. Turn it on to also enter a code from an app on your phone when you sign in.")) }
            form method="post" action=(ctx.app_link("/app/security")) {
                input type="hidden" name="csrf" value=(ctx.csrf);
                input type="hidden" name="action" value="start";
                button type="submit" { (l.t("Nastavit", "Set up")) }
            }
        }
    };
    Ok(layout::page(ctx, Area::App, title, body))
}

#[derive(Deserialize)]
pub struct SecurityForm {
    csrf: String,
    action: String,
    code: Option<String>,
}

async fn security_submit(
    State(state): State<WebState>,
    ctx: Ctx,
    Form(f): Form<SecurityForm>,
) -> Result<Response, WebError> {
    let mut user = ctx.require_user()?.clone();
    ctx.check_csrf(&f.csrf)?;
    let l = ctx.lang;
    let code = f.code.unwrap_or_default();
    let message = match f.action.as_str() {
        "start" if user.totp_enabled_at.is_none() => {
            let secret = security::new_totp_secret();
            state
                .store()
                .set_web_user_totp(user.id, Some(&secret), None)
                .await?;
            user.totp_secret = Some(secret);
            None
        }
        "confirm" => match user
            .totp_secret
            .clone()
            .filter(|_| user.totp_enabled_at.is_none())
        {
            Some(s) if security::totp_ok(&s, &user.email, &code) => {
                let now = store::now_us();
                state
                    .store()
                    .set_web_user_totp(user.id, Some(&s), Some(now))
                    .await?;
                user.totp_enabled_at = Some(now);
                Some((
                    "ok",
                    l.t(
                        "Dvoufázové ověření je zapnuto.",
                        "Two-step verification is on.",
                    ),
                ))
            }
            _ => Some(("error", l.t("Kód nesouhlasí.", "The code is wrong."))),
        },
        "disable" => match user
            .totp_secret
            .clone()
            .filter(|_| user.totp_enabled_at.is_some())
        {
            Some(s) if security::totp_ok(&s, &user.email, &code) => {
                state.store().set_web_user_totp(user.id, None, None).await?;
                user.totp_secret = None;
                user.totp_enabled_at = None;
                Some((
                    "ok",
                    l.t(
                        "Dvoufázové ověření je vypnuto.",
                        "Two-step verification is off.",
                    ),
                ))
            }
            _ => Some(("error", l.t("Kód nesouhlasí.", "The code is wrong."))),
        },
        _ => None,
    };
    let page = security_view(&ctx, &user, message)?;
    Ok(ctx.html(page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_has_a_bar_per_day_and_scales_to_the_busiest() {
        let svg = chart_svg(Lang::En, &[(100, 4), (129, 8)], 129, 30).into_string();
        assert_eq!(svg.matches("<rect").count(), 30);
        assert!(svg.contains("in total 12"), "{svg}");
        // the busiest day is full height (150), the other half of it
        assert!(svg.contains("height=\"150\""));
        assert!(svg.contains("height=\"75\""));
    }

    #[test]
    fn commercial_marks_are_added_only_when_asked_and_once() {
        let texts = (
            Some("Firma s.r.o.".to_owned()),
            Some("STOP na 9000".to_owned()),
        );
        let mut f = SendForm {
            text: Some("Sleva 20 %".into()),
            marketing: Some("on".into()),
            ..SendForm::default()
        };
        assert_eq!(composed_text(&f, &texts), "Sleva 20 %");
        f.append_marketing = Some("on".into());
        assert_eq!(
            composed_text(&f, &texts),
            "OS: Sleva 20 %\nFirma s.r.o.\nSTOP na 9000"
        );
        f.text = Some("Sleva, STOP na 9000".into());
        assert_eq!(
            composed_text(&f, &texts),
            "OS: Sleva, STOP na 9000\nFirma s.r.o."
        );
        f.marketing = None;
        assert_eq!(composed_text(&f, &texts), "Sleva, STOP na 9000");
    }

    #[test]
    fn recipients_split_on_commas_and_lines() {
        let f = SendForm {
            to: Some("+420777123456, 602123456\n\n603123456;".into()),
            ..SendForm::default()
        };
        assert_eq!(
            recipients(&f),
            vec!["+420777123456", "602123456", "603123456"]
        );
    }
}
