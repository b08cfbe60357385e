//! The back office for staff (each page needs a duty of the role, see `ctx::Duty`): customers
//! (and ending or renewing a customer's contract, with the reason), message search across
//! accounts, the connectors' live state, and the audit log. Every view of personal data is
//! recorded in the audit log (`audit_log`, hash-chained) before it is shown (clause 12).

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use domain::AccountId;
use maud::html;
use serde::Deserialize;

use crate::ctx::{Ctx, Duty};
use crate::error::WebError;
use crate::layout::{self, field, Area};
use crate::{prague, WebState};

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/admin/", get(customers))
        .route(
            "/admin",
            get(|| async { axum::response::Redirect::permanent("/admin/") }),
        )
        .route("/admin/customers/{id}/{action}", post(change_contract))
        .route("/admin/messages", get(messages))
        .route("/admin/connectors", get(connectors))
        .route("/admin/audit", get(audit))
}

#[derive(Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
    /// What the last action did: `closed`, `reopened`.
    done: Option<String>,
    /// Why it did nothing: `reason`, `state`.
    error: Option<String>,
}

async fn customers(
    State(state): State<WebState>,
    ctx: Ctx,
    Query(q): Query<SearchQuery>,
) -> Result<Response, WebError> {
    let staff = ctx.require_duty(Duty::Customers)?;
    let l = ctx.lang;
    let query = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let now = store::now_us();
    state
        .store()
        .audit_staff_view(staff.id, "list_customers", query.unwrap_or("*"), now)
        .await?;
    let rows = state.store().list_customers(query, 100).await?;
    // A customer whose processing is restricted (Art. 18) is shown to the DPO only.
    let restricted: Vec<AccountId> = if ctx.may(Duty::Privacy) {
        Vec::new()
    } else {
        state
            .store()
            .restrictions()
            .await?
            .into_iter()
            .map(|r| r.account)
            .collect()
    };
    let masked = rows.iter().any(|c| restricted.contains(&c.account));
    let title = l.t("Zákazníci", "Customers");
    let body = html! {
        h1 { (title) }
        p class="hint" { (l.t("Každé zobrazení osobních údajů se zaznamenává.", "Every view of personal data is recorded.")) }
        @if masked {
            (layout::notice("error", l.t("Zpracování údajů některých zákazníků je omezeno (čl. 18 GDPR): jejich údaje vidí jen pověřenec pro ochranu osobních údajů.", "Processing of some customers' data is restricted (Art. 18 GDPR): only the data protection officer sees their data.")))
        }
        @match q.done.as_deref() {
            Some("closed") => { (layout::notice("ok", l.t("Smlouva je ukončena: klíče API účtu jsou zneplatněny a běží lhůty uchování pro bývalé zákazníky.", "The contract has ended: the account's API keys are revoked and the former-customer retention periods run."))) }
            Some("reopened") => { (layout::notice("ok", l.t("Smlouva znovu běží. Nové klíče API si zákazník vytvoří sám.", "The contract runs again. The customer creates new API keys."))) }
            _ => {}
        }
        @match q.error.as_deref() {
            Some("reason") => { (layout::notice("error", l.t("Uveďte důvod; zapíše se do auditního záznamu.", "Give the reason; it goes into the audit log."))) }
            Some("state") => { (layout::notice("error", l.t("Nic se nezměnilo: smlouva už byla v tomto stavu, nebo záznam zákazníka byl po uplynutí lhůty smazán.", "Nothing changed: the contract was already in that state, or the customer's record was erased at the end of its retention period."))) }
            _ => {}
        }
        form class="filters" method="get" action="/admin/" {
            (field("q", l.t("E-mail nebo název", "E-mail or name"), html! { input type="search" id="q" name="q" value=(query.unwrap_or("")); }, None))
            button type="submit" { (l.t("Hledat", "Search")) }
        }
        div class="table-wrap" {
            table {
                caption { (title) }
                thead { tr {
                    th scope="col" { (l.t("Účet", "Account")) } th scope="col" { (l.t("Název", "Name")) } th scope="col" { "E-mail" }
                    th scope="col" { (l.t("Kredit", "Credit")) } th scope="col" { (l.t("Rezervováno", "Reserved")) }
                    th scope="col" { (l.t("Uživatelé webu", "Web users")) } th scope="col" { (l.t("Založen", "Created")) }
                    th scope="col" { (l.t("Smlouva", "Contract")) }
                } }
                tbody {
                    @for c in &rows {
                        @if restricted.contains(&c.account) {
                            tr data-restricted=(c.account) {
                                td { (c.account) }
                                td colspan="7" { (l.t("Zpracování omezeno – údaje vidí jen pověřenec.", "Processing restricted – only the DPO sees the data.")) }
                            }
                        } @else {
                            tr {
                                td { (c.account) } td { (c.name) } td { (c.email) }
                                td { (c.balance.to_string()) } td { (c.reserved.to_string()) }
                                td { (c.users) } td { (prague::format(c.created_at)) }
                                td { (contract_cell(&ctx, c)) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(ctx.html(layout::page(&ctx, Area::Staff, title, body)))
}

/// The contract's state and the form that ends it (or renews an ended one), with the reason.
fn contract_cell(ctx: &Ctx, c: &store::CustomerRow) -> maud::Markup {
    let l = ctx.lang;
    let (action, label, button) = match c.contract_ended_at {
        None => (
            "close",
            l.t("Důvod ukončení", "Reason for ending"),
            l.t("Ukončit smlouvu", "End the contract"),
        ),
        Some(_) => (
            "reopen",
            l.t("Důvod obnovení", "Reason for renewing"),
            l.t("Obnovit smlouvu", "Renew the contract"),
        ),
    };
    let id = format!("reason-{}-{action}", c.account);
    html! {
        @match c.contract_ended_at {
            None => { span data-contract="running" { (l.t("běží", "running")) } }
            Some(at) => { span data-contract="ended" { (l.t("ukončena ", "ended ")) (prague::format(at)) } }
        }
        form class="inline" method="post" action=(ctx.app_link(&format!("/admin/customers/{}/{action}", c.account))) {
            input type="hidden" name="csrf" value=(ctx.csrf);
            input type="text" id=(id) name="reason" required maxlength="500" placeholder=(label) aria-label=(label);
            button type="submit" { (button) }
        }
    }
}

#[derive(Deserialize)]
pub struct ContractForm {
    csrf: String,
    #[serde(default)]
    reason: String,
}

/// `POST /admin/customers/{id}/close` ends the customer's contract now (as the customer can,
/// and the command line); `.../reopen` lets an ended one run again. The reason and the staff
/// member go into the audit log.
async fn change_contract(
    State(state): State<WebState>,
    ctx: Ctx,
    Path((id, action)): Path<(i64, String)>,
    Form(f): Form<ContractForm>,
) -> Result<Response, WebError> {
    let close = match action.as_str() {
        "close" => true,
        "reopen" => false,
        _ => return Err(WebError::NotFound),
    };
    let staff = ctx.require_duty(Duty::Customers)?;
    ctx.check_csrf(&f.csrf)?;
    let reason: String = f.reason.trim().chars().take(500).collect();
    if reason.is_empty() {
        return Ok(ctx.redirect(&ctx.app_link("/admin/?error=reason")));
    }
    let account = AccountId::new(id);
    let now = store::now_us();
    let changed = if close {
        state
            .store()
            .close_account(account, &staff.email, &reason, now)
            .await?
    } else {
        state
            .store()
            .reopen_account(account, &staff.email, &reason, now)
            .await?
    };
    let to = match (changed, close) {
        (false, _) => "/admin/?error=state",
        (true, true) => "/admin/?done=closed",
        (true, false) => "/admin/?done=reopened",
    };
    Ok(ctx.redirect(&ctx.app_link(to)))
}

#[derive(Deserialize)]
pub struct NumberQuery {
    to: Option<String>,
}

async fn messages(
    State(state): State<WebState>,
    ctx: Ctx,
    Query(q): Query<NumberQuery>,
) -> Result<Response, WebError> {
    let staff = ctx.require_duty(Duty::Customers)?;
    let l = ctx.lang;
    let raw = q.to.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let number = raw.map(|t| sms::Msisdn::parse(t, &state.api().default_region));
    let list = match &number {
        Some(Ok(n)) => {
            state
                .store()
                .audit_staff_view(staff.id, "search_messages", n.as_str(), store::now_us())
                .await?;
            state.store().staff_messages_to(n.as_str(), 200).await?
        }
        _ => Vec::new(),
    };
    let title = l.t("Hledání zpráv", "Message search");
    let body = html! {
        h1 { (title) }
        form class="filters" method="get" action="/admin/messages" {
            (field("to", l.t("Číslo příjemce", "Recipient number"), html! { input type="search" id="to" name="to" value=(raw.unwrap_or("")) required; }, None))
            button type="submit" { (l.t("Hledat", "Search")) }
        }
        @if matches!(number, Some(Err(_))) { (layout::notice("error", l.t("Číslo není platné.", "The number is not valid."))) }
        @if number.as_ref().is_some_and(Result::is_ok) {
            @if list.is_empty() { p { (l.t("Nic nenalezeno.", "Nothing found.")) } }
            @else {
                div class="table-wrap" {
                    table {
                        caption { (title) }
                        thead { tr {
                            th scope="col" { (l.t("Zpráva", "Message")) } th scope="col" { (l.t("Účet", "Account")) }
                            th scope="col" { (l.t("Vytvořeno", "Created")) } th scope="col" { (l.t("Stav", "Status")) }
                            th scope="col" { (l.t("Konektor", "Connector")) } th scope="col" { (l.t("Části", "Parts")) }
                        } }
                        tbody {
                            @for m in &list {
                                tr {
                                    td { (m.id) } td { (m.account) } td { (prague::format(m.created_at)) }
                                    td { (m.status.as_str()) } td { (m.connector.clone().unwrap_or_default()) } td { (m.parts) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(ctx.html(layout::page(&ctx, Area::Staff, title, body)))
}

async fn connectors(State(state): State<WebState>, ctx: Ctx) -> Result<Response, WebError> {
    ctx.require_duty(Duty::Operations)?;
    let l = ctx.lang;
    let title = l.t("Konektory", "Connectors");
    let body = html! {
        h1 { (title) }
        div class="table-wrap" {
            table {
                caption { (l.t("Stav teď", "State now")) }
                thead { tr {
                    th scope="col" { (l.t("Název", "Name")) } th scope="col" { (l.t("Stav", "State")) }
                    th scope="col" { (l.t("Okno (nevyřízené)", "Window (outstanding)")) }
                    th scope="col" { (l.t("Části za poslední sekundu", "Parts in the last second")) }
                    th scope="col" { (l.t("Části celkem", "Parts in total")) }
                } }
                tbody {
                    @for c in state.connectors() {
                        @let load = c.load();
                        tr {
                            td { (c.name()) }
                            td { @if c.is_up() { span class="status status-delivered" { (l.t("spojeno", "up")) } } @else { span class="status status-failed" { (l.t("odpojeno", "down")) } } }
                            td { (load.window_in_use) } td { (load.submitted_last_second) } td { (load.submitted_total) }
                        }
                    }
                }
            }
        }
        p { a href="/admin/connectors" { (l.t("Obnovit", "Refresh")) } }
    };
    Ok(ctx.html(layout::page(&ctx, Area::Staff, title, body)))
}

async fn audit(State(state): State<WebState>, ctx: Ctx) -> Result<Response, WebError> {
    ctx.require_duty(Duty::Audit)?;
    let l = ctx.lang;
    let rows = state.store().audit_entries(None, None, 200).await?;
    let check = state.store().verify_audit_log().await?;
    let title = l.t("Auditní záznam", "Audit log");
    let body = html! {
        h1 { (title) }
        @match &check.first_break {
            None => { (layout::notice("ok", &format!("{} {}", l.t("Řetězec otisků je neporušený; záznamů:", "The hash chain is intact; entries:"), check.entries))) }
            Some(b) => { (layout::notice("error", &format!("{} {}: {}", l.t("Řetězec je porušen u záznamu", "The chain is broken at entry"), b.id, b.problem))) }
        }
        div class="table-wrap" {
            table {
                caption { (l.t("Kdo, co, kdy a proč; nejnovější první", "Who, what, when and why; newest first")) }
                thead { tr {
                    th scope="col" { "#" } th scope="col" { (l.t("Čas", "Time")) } th scope="col" { (l.t("Kdo", "Who")) }
                    th scope="col" { (l.t("Akce", "Action")) } th scope="col" { (l.t("Čeho se týká", "Subject")) }
                    th scope="col" { (l.t("Proč", "Why")) } th scope="col" { (l.t("Podrobnosti", "Details")) }
                } }
                tbody {
                    @for r in &rows {
                        tr {
                            td { (r.id) } td { (prague::format(r.at)) } td { (r.entry.actor) } td { (r.entry.action) }
                            td { (r.entry.subject) } td { (r.entry.reason) } td { (r.entry.details) }
                        }
                    }
                }
            }
        }
    };
    Ok(ctx.html(layout::page(&ctx, Area::Staff, title, body)))
}
