//! Lawful requests in the back office (`/admin/lawful-requests`, seed clause 5): staff with the
//! DPO's duty export the traffic data of a number over a period for an authority, with the
//! request's reference, through the same function as the API (`api::privacy::lawful_export`),
//! which audits the export; the page lists past exports from the audit log. Other staff get 403.

use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use maud::html;
use serde::Deserialize;

use crate::ctx::{Ctx, Duty};
use crate::error::WebError;
use crate::layout::{self, field, Area};
use crate::{prague, WebState};

pub fn routes() -> Router<WebState> {
    Router::new().route("/admin/lawful-requests", get(page).post(export))
}

/// The audit action of an export.
const ACTION: &str = "lawful_request.export";

#[derive(Deserialize)]
pub struct Notice {
    error: Option<String>,
}

/// `from=… to=… rows=…` of an export's audit entry, shown as local times.
fn period_of(details: &str) -> (String, String, String) {
    let get = |key: &str| {
        details
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(key))
            .unwrap_or("")
            .to_owned()
    };
    let time = |v: String| v.parse::<i64>().map(prague::format).unwrap_or(v);
    (time(get("from=")), time(get("to=")), get("rows="))
}

async fn page(
    State(state): State<WebState>,
    ctx: Ctx,
    Query(q): Query<Notice>,
) -> Result<Response, WebError> {
    ctx.require_duty(Duty::Privacy)?;
    let l = ctx.lang;
    let past = state.store().audit_entries_of_action(ACTION, 200).await?;
    let title = l.t("Žádosti orgánů veřejné moci", "Lawful requests");
    let body = html! {
        h1 { (title) }
        p { (l.t("Provozní údaje čísla za období pro orgán veřejné moci (čl. 5 zásad). Každý export se zapíše do auditního záznamu s číslem jednacím žádosti.",
                 "The traffic data of a number over a period for an authority (clause 5 of the rules). Every export is written to the audit log with the request's reference.")) }
        @match q.error.as_deref() {
            Some("number") => { (layout::notice("error", l.t("Číslo není platné.", "The number is not valid."))) }
            Some(_) => { (layout::notice("error", l.t("Vyplňte číslo jednací a platné období (od je dříve než do).", "Fill in the reference and a valid period (from before to)."))) }
            None => {}
        }
        form method="post" action=(ctx.app_link("/admin/lawful-requests")) {
            input type="hidden" name="csrf" value=(ctx.csrf);
            (field("number", l.t("Telefonní číslo", "Phone number"), html! { input type="tel" id="number" name="number" required; }, None))
            (field("from", l.t("Od (včetně)", "From (inclusive)"), html! { input type="date" id="from" name="from" required; }, None))
            (field("to", l.t("Do (včetně)", "To (inclusive)"), html! { input type="date" id="to" name="to" required; }, None))
            (field("reference", l.t("Číslo jednací žádosti", "The request's reference"), html! { input type="text" id="reference" name="reference" required maxlength="200"; }, None))
            button type="submit" { (l.t("Exportovat (JSON)", "Export (JSON)")) }
        }
        h2 { (l.t("Dosavadní exporty", "Past exports")) }
        @if past.is_empty() { p data-empty="exports" { (l.t("Zatím žádné.", "None yet.")) } } @else {
            div class="table-wrap" {
                table {
                    caption { (l.t("Nejnovější první; číslo je v záznamu jen jako otisk", "Newest first; the number is kept only as a keyed hash")) }
                    thead { tr {
                        th scope="col" { (l.t("Čas", "Time")) } th scope="col" { (l.t("Kdo", "Who")) }
                        th scope="col" { (l.t("Číslo jednací", "Reference")) } th scope="col" { (l.t("Od", "From")) }
                        th scope="col" { (l.t("Do", "To")) } th scope="col" { (l.t("Záznamů", "Rows")) }
                    } }
                    tbody {
                        @for r in &past {
                            @let (from, to, rows) = period_of(&r.entry.details);
                            tr data-export=(r.id) {
                                td { (prague::format(r.at)) } td { (r.entry.actor) } td { (r.entry.reason) }
                                td { (from) } td { (to) } td { (rows) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(ctx.html(layout::page(&ctx, Area::Staff, title, body)))
}

#[derive(Deserialize)]
pub struct ExportForm {
    csrf: String,
    number: String,
    from: String,
    to: String,
    reference: String,
}

fn parse_date(s: &str) -> Option<time::Date> {
    let f = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s.trim(), &f).ok()
}

async fn export(
    State(state): State<WebState>,
    ctx: Ctx,
    Form(f): Form<ExportForm>,
) -> Result<Response, WebError> {
    let staff = ctx.require_duty(Duty::Privacy)?;
    ctx.check_csrf(&f.csrf)?;
    let Ok(number) = sms::Msisdn::parse(&f.number, &state.api().default_region) else {
        return Ok(ctx.redirect(&ctx.app_link("/admin/lawful-requests?error=number")));
    };
    let reference = f.reference.trim();
    let period = match (
        parse_date(&f.from),
        parse_date(&f.to).and_then(|d| d.next_day()),
    ) {
        (Some(from), Some(to)) if from < to => {
            Some((prague::start_of_day(from), prague::start_of_day(to)))
        }
        _ => None,
    };
    let (Some((from, to)), false) = (period, reference.is_empty()) else {
        return Ok(ctx.redirect(&ctx.app_link("/admin/lawful-requests?error=form")));
    };
    let answer = api::privacy::lawful_export(
        state.store(),
        &number,
        from,
        to,
        reference,
        &format!("user:{}", staff.id),
        store::now_us(),
    )
    .await?;
    let file: String = reference
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let mut resp = answer.to_string().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"provozni-udaje-{file}.json\""
    )) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}
