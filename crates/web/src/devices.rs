//! Devices in the customer app: the account's own phones and GSM modems with their live state
//! (online, last seen, queue, signal, battery, the last 24 hours against the daily limit),
//! adding one (its one-time pairing code and QR code, shown once), revoking one (cut off at
//! once through the hub), and the account's channel and offline policy.
//!
//! Every change goes through the functions behind `/v1/devices` and `/v1/account/devices`
//! (`devices::http::add_device`, `devices::Hub::revoke`, `devices::http::set_routing`), so the
//! rules are theirs.

use ::devices::http::{DeviceState, NewDeviceRequest, Pairing, RoutingRequest};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup};
use serde::Deserialize;
use store::{OfflineFallback, WebUser};

use crate::ctx::Ctx;
use crate::error::WebError;
use crate::i18n::Lang;
use crate::layout::{self, field, Area};
use crate::{prague, WebState};

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/app/devices", get(page).post(add))
        .route("/app/devices/{id}/revoke", post(revoke))
        .route("/app/devices/routing", post(routing))
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

#[derive(Deserialize)]
pub struct AddForm {
    csrf: String,
    name: String,
    per_minute: String,
    per_day: String,
}

#[derive(Deserialize)]
pub struct RoutingForm {
    csrf: String,
    route: String,
    offline_wait_s: String,
    offline_fallback: String,
}

/// What the page shows besides the devices: the answer to the last form.
#[derive(Default)]
struct Outcome<'a> {
    /// A device just added, with its code (shown only in this answer).
    pairing: Option<&'a Pairing>,
    notice: Option<(&'a str, &'a str)>,
    /// The add form as sent, when it was refused.
    add: Option<&'a AddForm>,
}

fn status_label(l: Lang, d: &DeviceState) -> &'static str {
    match d.status() {
        "revoked" => l.t("zneplatněno", "revoked"),
        "paired" => l.t("spárováno", "paired"),
        _ => l.t("čeká na spárování", "awaiting pairing"),
    }
}

/// `AT+CSQ` 0-31 as dBm (-113 + 2 × CSQ); 99 is unknown.
fn signal_text(l: Lang, csq: Option<i64>) -> String {
    match csq {
        Some(q @ 0..=31) => format!("{q}/31 ({} dBm)", -113 + 2 * q),
        Some(_) | None => l.t("neznámý", "unknown").to_owned(),
    }
}

/// The inline SVG of a QR code, without the XML declaration an HTML page must not carry.
fn inline_svg(svg: &str) -> Markup {
    let svg = svg.split_once("?>").map_or(svg, |(_, s)| s);
    layout::trusted_svg(svg.to_owned())
}

async fn view(
    state: &WebState,
    ctx: &Ctx,
    user: &WebUser,
    out: Outcome<'_>,
) -> Result<Markup, WebError> {
    let l = ctx.lang;
    let hub = state.devices().ok_or(WebError::NotFound)?;
    let all = ::devices::http::device_states(hub, user.account)
        .await
        .map_err(|e| anyhow::anyhow!("reading devices: {}", e.detail()))?;
    let routing = state.store().device_routing(user.account).await?;
    let title = l.t("Zařízení", "Devices");
    let add = out.add;
    let body = html! {
        h1 { (title) }
        p { (l.t("Zprávy můžete posílat i přes vlastní SIM karty: telefon s aplikací nebo GSM modem s programem apisendsms agent. Zařízení si zprávy vyzvedává přes zabezpečené spojení a hlásí, co se s nimi stalo.",
                 "You can also send through your own SIM cards: a phone with the app or a GSM modem with apisendsms agent. The device collects the messages over a secure connection and reports what became of them.")) }
        @if let Some((kind, text)) = out.notice { (layout::notice(kind, text)) }
        @if let Some(p) = out.pairing {
            section class="notice ok" id="pairing" aria-labelledby="pairing-title" {
                h2 id="pairing-title" { (l.t("Spárujte zařízení „", "Pair the device “")) (p.name) (l.t("“", "”")) }
                p { strong { (l.t("Párovací kód platí jednou a do ", "The pairing code works once, until ")) (prague::format(p.expires_at)) (l.t("; znovu jej neuvidíte:", "; you will not see it again:")) } }
                p class="secret" id="pairing-code" { (p.code) }
                div class="payment" {
                    div id="pairing-qr" role="img" aria-label=(l.t("QR kód pro spárování", "QR code for pairing")) { (inline_svg(&p.qr_svg)) }
                    div {
                        p { (l.t("V aplikaci telefonu naskenujte QR kód, nebo zadejte kód. QR kód obsahuje adresu brány a kód:", "Scan the QR code in the phone's app, or type the code. The QR code holds the gateway's address and the code:")) }
                        p { code id="pairing-link" { (p.link) } }
                        p { (l.t("GSM modem spárujete příkazem:", "Pair a GSM modem with:")) }
                        pre { code { "apisendsms agent --server " (ctx.origin) " --credential modem.json --pair " (p.code) } }
                    }
                }
            }
        }
        h2 { (l.t("Vaše zařízení", "Your devices")) }
        @if all.is_empty() {
            p id="no-devices" { (l.t("Zatím žádná zařízení.", "No devices yet.")) }
        } @else {
            div class="table-wrap" {
                table id="devices" {
                    caption { (l.t("Zařízení a jejich stav teď (časy v Praze)", "Devices and their state now (Prague time)")) }
                    thead { tr {
                        th scope="col" { (l.t("Název", "Name")) }
                        th scope="col" { (l.t("Stav", "Status")) }
                        th scope="col" { (l.t("Spojení", "Connection")) }
                        th scope="col" { (l.t("Naposledy", "Last seen")) }
                        th scope="col" { (l.t("Ve frontě", "Queued")) }
                        th scope="col" { (l.t("Signál", "Signal")) }
                        th scope="col" { (l.t("Baterie", "Battery")) }
                        th scope="col" { (l.t("Za 24 h / limit", "Last 24 h / limit")) }
                        th scope="col" { (l.t("Za minutu nejvýš", "Per minute at most")) }
                        th scope="col" { span class="skip" { (l.t("Akce", "Action")) } }
                    } }
                    tbody {
                        @for d in &all {
                            tr data-device=(d.record.id) {
                                td { (d.record.name) @if let Some(m) = &d.record.model { br; small { (m) } } }
                                td data-field="status" { (status_label(l, d)) }
                                td data-field="online" {
                                    @if d.live.is_some() { span class="status status-delivered" { (l.t("online", "online")) } }
                                    @else { span class="status status-failed" { (l.t("offline", "offline")) } }
                                }
                                td { @if let Some(t) = d.record.last_seen_at { (prague::format(t)) } @else { "–" } }
                                td data-field="queue" { (d.queue) }
                                td { (signal_text(l, d.signal())) }
                                td { @if let Some(b) = d.battery() { (b) " %" } @else { "–" } }
                                td data-field="day" { (d.last_24h) " / " (d.record.per_day) }
                                td { (d.record.per_minute) }
                                td {
                                    @if d.record.revoked_at.is_none() {
                                        (layout::button_form(ctx, &format!("/app/devices/{}/revoke", d.record.id), &[], l.t("Zneplatnit", "Revoke"), "danger"))
                                    } @else if let Some(r) = d.record.revoked_at {
                                        (prague::format(r))
                                    }
                                }
                            }
                        }
                    }
                }
            }
            p { a href=(ctx.app_link("/app/devices")) { (l.t("Obnovit", "Refresh")) } }
        }
        h2 { (l.t("Přidat zařízení", "Add a device")) }
        form class="stack" method="post" action=(ctx.app_link("/app/devices")) {
            input type="hidden" name="csrf" value=(ctx.csrf);
            (field("device-name", l.t("Název", "Name"),
                html! { input type="text" id="device-name" name="name" required maxlength="100" value=(add.map_or("", |f| f.name.as_str())); }, None))
            (field("per-minute", l.t("Nejvýš zpráv za minutu", "Most messages per minute"),
                html! { input type="number" id="per-minute" name="per_minute" min="1" max="600" required aria-describedby="per-minute-hint"
                    value=(add.map_or(::devices::http::DEFAULT_PER_MINUTE.to_string(), |f| f.per_minute.clone())); },
                Some(l.t("Operátoři i telefony počet SMS omezují; 1 až 600.", "Operators and phones limit how many SMS go out; 1 to 600."))))
            (field("per-day", l.t("Nejvýš zpráv za 24 hodin", "Most messages per 24 hours"),
                html! { input type="number" id="per-day" name="per_day" min="1" max="100000" required
                    value=(add.map_or(::devices::http::DEFAULT_PER_DAY.to_string(), |f| f.per_day.clone())); }, None))
            div { button type="submit" { (l.t("Přidat a ukázat párovací kód", "Add and show the pairing code")) } }
        }
        h2 { (l.t("Kudy posílat", "Which way to send")) }
        p { (l.t("Platí pro zprávy, které si cestu neurčí samy (v API \"route\").", "For messages that do not choose their own way (\"route\" in the API).")) }
        form class="stack" method="post" action=(ctx.app_link("/app/devices/routing")) {
            input type="hidden" name="csrf" value=(ctx.csrf);
            fieldset {
                legend { (l.t("Cesta", "Route")) }
                div class="check" {
                    input type="radio" id="route-carrier" name="route" value="carrier" checked[!routing.device_by_default];
                    label for="route-carrier" { (l.t("přes operátora (naše SMS brána)", "through the carrier (our SMS gateway)")) }
                }
                div class="check" {
                    input type="radio" id="route-device" name="route" value="device" checked[routing.device_by_default];
                    label for="route-device" { (l.t("přes moje zařízení (střídají se)", "through my devices (taking turns)")) }
                }
            }
            (field("offline-wait", l.t("Jak dlouho čekat na zařízení (sekundy)", "How long to wait for a device (seconds)"),
                html! { input type="number" id="offline-wait" name="offline_wait_s" min="0" max="604800" required value=(routing.offline_wait_s); }, None))
            fieldset {
                legend { (l.t("Když žádné zařízení zprávu nepřevezme včas", "When no device takes the message in time")) }
                div class="check" {
                    input type="radio" id="fallback-fail" name="offline_fallback" value="fail" checked[routing.offline_fallback == OfflineFallback::Fail];
                    label for="fallback-fail" { (l.t("zpráva selže", "the message fails")) }
                }
                div class="check" {
                    input type="radio" id="fallback-carrier" name="offline_fallback" value="carrier" checked[routing.offline_fallback == OfflineFallback::Carrier];
                    label for="fallback-carrier" { (l.t("pošle se přes operátora", "it goes through the carrier")) }
                }
            }
            div { button type="submit" { (l.t("Uložit", "Save")) } }
        }
    };
    Ok(layout::page(ctx, Area::App, title, body))
}

async fn page(State(state): State<WebState>, ctx: Ctx) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    let page = view(&state, &ctx, user, Outcome::default()).await?;
    Ok(ctx.html(page))
}

/// A number as typed, or the API's own refusal of it.
fn limit(l: Lang, value: &str, name: &str) -> Result<u32, String> {
    value.trim().parse().map_err(|_| {
        format!(
            "{name}: {}",
            l.t("zadejte celé kladné číslo", "enter a whole positive number")
        )
    })
}

async fn add(
    State(state): State<WebState>,
    ctx: Ctx,
    Form(f): Form<AddForm>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    ctx.check_csrf(&f.csrf)?;
    let l = ctx.lang;
    let req = limit(l, &f.per_minute, "per_minute").and_then(|per_minute| {
        Ok(NewDeviceRequest {
            name: f.name.clone(),
            per_minute,
            per_day: limit(l, &f.per_day, "per_day")?,
        })
    });
    let result = match req {
        Ok(req) => ::devices::http::add_device(state.api_state(), user.account, &req, &ctx.origin)
            .await
            .map_err(refusal),
        Err(detail) => Err(Ok(detail)),
    };
    match result {
        Ok(pairing) => {
            // Shown in this answer only (not after a redirect): the code is never stored in clear.
            let out = Outcome {
                pairing: Some(&pairing),
                ..Outcome::default()
            };
            let page = view(&state, &ctx, user, out).await?;
            Ok(ctx.html_status(StatusCode::CREATED, page))
        }
        Err(Ok(detail)) => {
            let out = Outcome {
                notice: Some(("error", detail.as_str())),
                add: Some(&f),
                ..Outcome::default()
            };
            let page = view(&state, &ctx, user, out).await?;
            Ok(ctx.html_status(StatusCode::UNPROCESSABLE_ENTITY, page))
        }
        Err(Err(e)) => Err(e),
    }
}

/// An API refusal to show on the page (its text names what is wrong); a server fault is an
/// error.
fn refusal(e: api::error::ApiError) -> Result<String, WebError> {
    if e.status().is_client_error() {
        Ok(e.detail().to_owned())
    } else {
        Err(anyhow::anyhow!("{}", e.detail()).into())
    }
}

async fn revoke(
    State(state): State<WebState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    ctx.check_csrf(&f.csrf)?;
    let hub = state.devices().ok_or(WebError::NotFound)?;
    let revoked = hub
        .revoke(user.account, id)
        .await
        .map_err(|e| anyhow::anyhow!("revoking a device: {e}"))?;
    if !revoked {
        return Err(WebError::NotFound);
    }
    Ok(ctx.redirect(&ctx.app_link("/app/devices")))
}

async fn routing(
    State(state): State<WebState>,
    ctx: Ctx,
    Form(f): Form<RoutingForm>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    ctx.check_csrf(&f.csrf)?;
    let l = ctx.lang;
    let result = match limit(l, &f.offline_wait_s, "offline_wait_s") {
        Ok(offline_wait_s) => {
            let req = RoutingRequest {
                route: f.route.clone(),
                offline_wait_s,
                offline_fallback: f.offline_fallback.clone(),
            };
            ::devices::http::set_routing(state.api_state(), user.account, &req)
                .await
                .map(|_| ())
                .map_err(refusal)
        }
        Err(detail) => Err(Ok(detail)),
    };
    let (status, notice) = match result {
        Ok(()) => (StatusCode::OK, ("ok", l.t("Uloženo.", "Saved.").to_owned())),
        Err(Ok(detail)) => (StatusCode::UNPROCESSABLE_ENTITY, ("error", detail)),
        Err(Err(e)) => return Err(e),
    };
    let out = Outcome {
        notice: Some((notice.0, notice.1.as_str())),
        ..Outcome::default()
    };
    let page = view(&state, &ctx, user, out).await?;
    Ok(ctx.html_status(status, page))
}
