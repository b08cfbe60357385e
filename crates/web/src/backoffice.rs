//! The back office for staff (each page needs a duty of the role, see `ctx::Duty`): customers, message search across
//! accounts, the connectors' live state, and the audit log. Every view of personal data is
//! recorded in the audit log (`audit_log`, hash-chained) before it is shown (clause 12).

use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
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
        .route("/admin/messages", get(messages))
        .route("/admin/connectors", get(connectors))
        .route("/admin/audit", get(audit))
}

#[derive(Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
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
                } }
                tbody {
                    @for c in &rows {
                        @if restricted.contains(&c.account) {
                            tr data-restricted=(c.account) {
                                td { (c.account) }
                                td colspan="6" { (l.t("Zpracování omezeno – údaje vidí jen pověřenec.", "Processing restricted – only the DPO sees the data.")) }
                            }
                        } @else {
                            tr {
                                td { (c.account) } td { (c.name) } td { (c.email) }
                                td { (c.balance.to_string()) } td { (c.reserved.to_string()) }
                                td { (c.users) } td { (prague::format(c.created_at)) }
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
