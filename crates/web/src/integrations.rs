//! Integrations in the customer app: SMPP credentials (the password shown once, revocable) and
//! webhooks (the signing secret shown once; every delivery with its attempts).
//!
//! Both go through the API's own functions (`api::smpp_credentials::create`,
//! `api::webhooks::register`), so the rules are those of `/v1/smpp-credentials` and
//! `/v1/webhooks`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup};
use serde::Deserialize;
use store::WebUser;

use crate::ctx::Ctx;
use crate::error::WebError;
use crate::layout::{self, field, Area};
use crate::{prague, WebState};

/// Deliveries shown on a webhook's page.
const DELIVERIES_PAGE: u32 = 50;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/app/smpp", get(smpp).post(smpp_create))
        .route("/app/smpp/{id}/revoke", post(smpp_revoke))
        .route("/app/webhooks", get(webhooks).post(webhook_create))
        .route("/app/webhooks/{id}", get(webhook))
        .route("/app/webhooks/{id}/delete", post(webhook_delete))
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

// ---- SMPP credentials ----

async fn smpp_view(
    state: &WebState,
    ctx: &Ctx,
    user: &WebUser,
    new: Option<(&str, &str)>,
) -> Result<Markup, WebError> {
    let l = ctx.lang;
    let all = state.store().list_smpp_credentials(user.account).await?;
    let title = l.t("SMPP přístupy", "SMPP credentials");
    let body = html! {
        h1 { (title) }
        p { (l.t("Se SMPP přístupem se Váš systém připojí k naší SMPP bráně (SMPP 3.4, bind jako transmitter, receiver nebo transceiver) a posílá zprávy jako přes API: se stejným kreditem, ceníkem a Blacklistem. Doručenky a odpovědi přicházejí jako deliver_sm.",
                 "With an SMPP credential your system binds to our SMPP server (SMPP 3.4, as transmitter, receiver or transceiver) and sends messages as through the API: with the same credit, prices and Blacklist. Receipts and replies arrive as deliver_sm.")) }
        @if let Some((system_id, password)) = new {
            div class="notice ok" role="status" {
                p { strong { (l.t("Nový přístup – heslo si zkopírujte teď, znovu už jej neuvidíte:", "New credential – copy the password now, you will not see it again:")) } }
                dl class="facts" {
                    dt { "system_id" } dd class="secret" id="new-system-id" { (system_id) }
                    dt { (l.t("heslo", "password")) } dd class="secret" id="new-smpp-password" { (password) }
                }
            }
        }
        form method="post" action=(ctx.app_link("/app/smpp")) {
            input type="hidden" name="csrf" value=(ctx.csrf);
            button type="submit" { (l.t("Vytvořit nový přístup", "Create a new credential")) }
        }
        @if all.is_empty() {
            p { (l.t("Zatím žádné přístupy.", "No credentials yet.")) }
        } @else {
            div class="table-wrap" {
                table {
                    caption { (l.t("Přístupy (hesla uchováváme jen jako otisk)", "Credentials (passwords are kept only as hashes)")) }
                    thead { tr {
                        th scope="col" { "system_id" }
                        th scope="col" { (l.t("Vytvořen", "Created")) }
                        th scope="col" { (l.t("Stav", "Status")) }
                        th scope="col" { span class="skip" { (l.t("Akce", "Action")) } }
                    } }
                    tbody {
                        @for c in &all {
                            tr {
                                td { code { (c.system_id) } }
                                td { (prague::format(c.created_at)) }
                                td { @if let Some(r) = c.revoked_at { (l.t("zneplatněn ", "revoked ")) (prague::format(r)) } @else { (l.t("platný", "active")) } }
                                td {
                                    @if c.revoked_at.is_none() {
                                        (layout::button_form(ctx, &format!("/app/smpp/{}/revoke", c.id), &[], l.t("Zneplatnit", "Revoke"), "danger"))
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

async fn smpp(State(state): State<WebState>, ctx: Ctx) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    let page = smpp_view(&state, &ctx, user, None).await?;
    Ok(ctx.html(page))
}

async fn smpp_create(
    State(state): State<WebState>,
    ctx: Ctx,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    ctx.check_csrf(&f.csrf)?;
    let new = api::smpp_credentials::create(state.store(), state.ids().next(), user.account)
        .await
        .map_err(|e| anyhow::anyhow!("creating an SMPP credential: {}", e.detail()))?;
    // Shown in this answer only (not after a redirect): the password is never stored in clear.
    let page = smpp_view(
        &state,
        &ctx,
        user,
        Some((&new.credential.system_id, &new.password)),
    )
    .await?;
    Ok(ctx.html(page))
}

async fn smpp_revoke(
    State(state): State<WebState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    ctx.check_csrf(&f.csrf)?;
    if !state
        .store()
        .revoke_smpp_credential(user.account, id, store::now_us())
        .await?
    {
        return Err(WebError::NotFound);
    }
    Ok(ctx.redirect(&ctx.app_link("/app/smpp")))
}

// ---- webhooks ----

fn event_label(l: crate::i18n::Lang, event: &str) -> String {
    let what = match event {
        "message.status" => l.t("změna stavu zprávy", "a message's status changes"),
        "inbound" => l.t("příchozí zpráva", "an inbound message"),
        "credit.low" => l.t(
            "kredit klesl pod nastavenou hranici",
            "the credit fell under the threshold",
        ),
        "invoice.overdue" => l.t(
            "upomínka faktury po splatnosti",
            "a reminder of an overdue invoice",
        ),
        _ => "",
    };
    if what.is_empty() {
        event.to_owned()
    } else {
        format!("{event} ({what})")
    }
}

#[derive(Default)]
pub struct WebhookForm {
    csrf: String,
    url: String,
    /// The ticked event types (a form repeats the field once per box).
    events: Vec<String>,
}

impl WebhookForm {
    /// The fields of a form whose `events` boxes repeat the name.
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut f = Self::default();
        for (k, v) in pairs {
            match k.as_str() {
                "csrf" => f.csrf = v,
                "url" => f.url = v,
                "events" => f.events.push(v),
                _ => {}
            }
        }
        f
    }
}

async fn webhooks_view(
    state: &WebState,
    ctx: &Ctx,
    user: &WebUser,
    form: Option<&WebhookForm>,
    notice: Option<(&str, &str)>,
    secret: Option<&str>,
) -> Result<Markup, WebError> {
    let l = ctx.lang;
    let hooks = state.store().list_webhooks(user.account).await?;
    let title = "Webhooks";
    // A new form ticks the message events; the billing events are chosen on purpose.
    let ticked = |e: &str| match form {
        Some(f) => f.events.iter().any(|x| x == e),
        None => e == "message.status" || e == "inbound",
    };
    let body = html! {
        h1 { (title) }
        p { (l.t("Na zadanou adresu pošleme POST s JSON událostí, podepsaný HMAC-SHA256 (hlavička X-Apisendsms-Signature: v1=HMAC(tajemství, „čas.tělo“)). Nepovedené doručení opakujeme nejméně den.",
                 "We POST the event as JSON to the URL, signed with HMAC-SHA256 (header X-Apisendsms-Signature: v1=HMAC(secret, \"timestamp.body\")). A failed delivery is retried for at least a day.")) }
        @if let Some((kind, text)) = notice { (layout::notice(kind, text)) }
        @if let Some(s) = secret {
            div class="notice ok" role="status" {
                p { strong { (l.t("Podpisové tajemství – zkopírujte si jej teď, znovu už jej neuvidíte:", "Signing secret – copy it now, you will not see it again:")) } }
                p class="secret" id="new-webhook-secret" { (s) }
            }
        }
        form class="stack" method="post" action=(ctx.app_link("/app/webhooks")) {
            input type="hidden" name="csrf" value=(ctx.csrf);
            (field("wh-url", l.t("Adresa (https://…)", "URL (https://…)"),
                html! { input type="url" id="wh-url" name="url" required maxlength="2000" value=(form.map(|f| f.url.as_str()).unwrap_or("")); }, None))
            fieldset {
                legend { (l.t("Události", "Events")) }
                @for e in api::webhooks::EVENT_TYPES {
                    div class="check" {
                        input type="checkbox" id=(format!("ev-{}", e.replace('.', "-"))) name="events" value=(e) checked[ticked(e)];
                        label for=(format!("ev-{}", e.replace('.', "-"))) { (event_label(l, e)) }
                    }
                }
            }
            div { button type="submit" { (l.t("Přidat webhook", "Add the webhook")) } }
        }
        @if hooks.is_empty() {
            p { (l.t("Zatím žádné webhooky.", "No webhooks yet.")) }
        } @else {
            div class="table-wrap" {
                table {
                    caption { (l.t("Webhooky", "Webhooks")) }
                    thead { tr {
                        th scope="col" { (l.t("Adresa", "URL")) }
                        th scope="col" { (l.t("Události", "Events")) }
                        th scope="col" { (l.t("Vytvořen", "Created")) }
                    } }
                    tbody {
                        @for w in &hooks {
                            tr {
                                td { a href=(ctx.app_link(&format!("/app/webhooks/{}", w.id))) { (w.url) } }
                                td { (w.events.join(", ")) }
                                td { (prague::format(w.created_at)) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(ctx, Area::App, title, body))
}

async fn webhooks(State(state): State<WebState>, ctx: Ctx) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    let page = webhooks_view(&state, &ctx, user, None, None, None).await?;
    Ok(ctx.html(page))
}

async fn webhook_create(
    State(state): State<WebState>,
    ctx: Ctx,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let f = WebhookForm::from_pairs(pairs);
    let user = ctx.require_user()?;
    ctx.check_csrf(&f.csrf)?;
    match api::webhooks::register(state.api_state(), user.account, &f.url, &f.events).await {
        Ok((_, secret)) => {
            let page = webhooks_view(&state, &ctx, user, None, None, Some(&secret)).await?;
            Ok(ctx.html_status(StatusCode::CREATED, page))
        }
        Err(e) if e.status().is_client_error() || e.status().as_u16() == 503 => {
            let page = webhooks_view(
                &state,
                &ctx,
                user,
                Some(&f),
                Some(("error", e.detail())),
                None,
            )
            .await?;
            Ok(ctx.html_status(StatusCode::UNPROCESSABLE_ENTITY, page))
        }
        Err(e) => Err(anyhow::anyhow!("registering a webhook: {}", e.detail()).into()),
    }
}

async fn webhook(
    State(state): State<WebState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    let l = ctx.lang;
    let w = state
        .store()
        .get_webhook(user.account, id)
        .await?
        .ok_or(WebError::NotFound)?;
    let deliveries = state
        .store()
        .list_deliveries(user.account, w.id, None, DELIVERIES_PAGE)
        .await?;
    let ids: Vec<i64> = deliveries.iter().map(|d| d.id).collect();
    let attempts = state.store().delivery_attempts(&ids).await?;
    let title = l.t("Webhook", "Webhook");
    let body = html! {
        h1 { (title) }
        dl class="facts" {
            dt { (l.t("Adresa", "URL")) } dd { (w.url) }
            dt { (l.t("Události", "Events")) } dd { (w.events.join(", ")) }
            dt { (l.t("Vytvořen", "Created")) } dd { (prague::format(w.created_at)) }
        }
        h2 { (l.t("Doručení", "Deliveries")) }
        @if deliveries.is_empty() {
            p { (l.t("Zatím žádná doručení.", "No deliveries yet.")) }
        } @else {
            div class="table-wrap" {
                table id="deliveries" {
                    caption { (l.t("Posledních 50 doručení a jejich pokusy", "The last 50 deliveries and their attempts")) }
                    thead { tr {
                        th scope="col" { (l.t("Vytvořeno", "Created")) }
                        th scope="col" { (l.t("Událost", "Event")) }
                        th scope="col" { (l.t("Stav", "Status")) }
                        th scope="col" { (l.t("Pokusy", "Attempts")) }
                        th scope="col" { (l.t("Další pokus", "Next attempt")) }
                    } }
                    tbody {
                        @for d in &deliveries {
                            tr {
                                td { (prague::format(d.created_at)) }
                                td { (d.event_type) }
                                td { (d.status) }
                                td {
                                    ul class="plain" {
                                        @for a in attempts.iter().filter(|a| a.delivery_id == d.id) {
                                            li {
                                                (prague::format(a.at)) " · "
                                                @if let Some(code) = a.status_code { "HTTP " (code) } @else { (l.t("bez odpovědi", "no answer")) }
                                                " · " (a.duration_us / 1000) " ms"
                                                @if let Some(e) = &a.error { " · " (e) }
                                            }
                                        }
                                    }
                                }
                                td { @if let Some(t) = d.next_attempt_at { (prague::format(t)) } }
                            }
                        }
                    }
                }
            }
        }
        h2 { (l.t("Smazat", "Delete")) }
        (layout::button_form(&ctx, &format!("/app/webhooks/{}/delete", w.id), &[], l.t("Smazat webhook", "Delete the webhook"), "danger"))
    };
    Ok(ctx.html(layout::page(&ctx, Area::App, title, body)))
}

async fn webhook_delete(
    State(state): State<WebState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    ctx.check_csrf(&f.csrf)?;
    if !state
        .store()
        .delete_webhook(user.account, id, store::now_us())
        .await?
    {
        return Err(WebError::NotFound);
    }
    Ok(ctx.redirect(&ctx.app_link("/app/webhooks")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_with_repeated_boxes_keeps_every_event() {
        let pairs = vec![
            ("csrf".to_owned(), "t".to_owned()),
            ("url".to_owned(), "https://example.cz/h".to_owned()),
            ("events".to_owned(), "message.status".to_owned()),
            ("events".to_owned(), "inbound".to_owned()),
        ];
        let f = WebhookForm::from_pairs(pairs);
        assert_eq!(f.csrf, "t");
        assert_eq!(f.url, "https://example.cz/h");
        assert_eq!(f.events, vec!["message.status", "inbound"]);
        assert!(WebhookForm::from_pairs(vec![]).events.is_empty());
    }
}
