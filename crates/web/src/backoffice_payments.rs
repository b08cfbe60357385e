//! The back office's billing pages: `/admin/payments` (a bank statement upload answered with
//! the import report, the queue of unpaired payments with pair and reject forms, the decision
//! log), `/admin/debtors`, and `/admin/credit` (an account's postpaid option and credit limit).
//!
//! Staff whose role carries payments (`billing`, `admin`) see and act on them; each view is
//! audited (payments name their payers). Imports and decisions go through the same store calls as the CLI
//! (`apisendsms payments ...`), so both log the same way.

use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use domain::AccountId;
use maud::{html, Markup};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use store::{ImportReport, ImportSource, WebUser};

use crate::credit::parse_amount;
use crate::ctx::{Ctx, Duty};
use crate::error::WebError;
use crate::forms::ticked;
use crate::layout::{self, field, Area};
use crate::{prague, WebState};

/// The largest statement file accepted by the upload.
const MAX_STATEMENT_BYTES: usize = 20 * 1024 * 1024;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/admin/payments", get(payments))
        .route(
            "/admin/payments/import",
            post(import).layer(DefaultBodyLimit::max(MAX_STATEMENT_BYTES + 64 * 1024)),
        )
        .route("/admin/payments/{id}/pair", post(pair))
        .route("/admin/payments/{id}/reject", post(reject))
        .route("/admin/debtors", get(debtors))
        .route("/admin/credit", get(credit_terms).post(set_credit_terms))
}

/// A staff member whose role carries payments (billing, admin).
fn require_billing(ctx: &Ctx) -> Result<&WebUser, WebError> {
    ctx.require_duty(Duty::Payments)
}

/// What the payments page says above its lists.
enum Outcome<'a> {
    None,
    Imported(&'a ImportReport),
    Done(&'a str),
    Error(&'a str),
}

#[derive(Deserialize, Default)]
pub struct PaymentsQuery {
    paired: Option<i64>,
    rejected: Option<i64>,
}

async fn payments_page(
    state: &WebState,
    ctx: &Ctx,
    staff: &WebUser,
    outcome: Outcome<'_>,
) -> Result<Markup, WebError> {
    let l = ctx.lang;
    let now = store::now_us();
    state
        .store()
        .audit_staff_view(staff.id, "view_payments", "unpaired", now)
        .await?;
    let unpaired = state.store().unpaired_payments().await?;
    let decisions = state.store().recent_pairing_decisions(50).await?;
    let title = l.t("Platby", "Payments");
    let body = html! {
        h1 { (title) }
        @match outcome {
            Outcome::None => {}
            Outcome::Done(text) => { (layout::notice("ok", text)) }
            Outcome::Error(text) => { (layout::notice("error", text)) }
            Outcome::Imported(r) => {
                section class="notice ok" role="status" aria-labelledby="import-report" id="report" {
                    h2 id="import-report" { (l.t("Výpis načten", "Statement imported")) }
                    dl {
                        dt { (l.t("Zaúčtované pohyby", "Booked movements")) } dd data-report="transactions" { (r.transactions) }
                        dt { (l.t("Již načtené dříve", "Imported before")) } dd data-report="duplicates" { (r.duplicates) }
                        dt { (l.t("Nezaúčtované (čekající)", "Not booked (pending)")) } dd data-report="not_booked" { (r.not_booked) }
                        dt { (l.t("Připsané platby", "Payments credited")) } dd data-report="credited" { (r.credited) " (" (r.credited_total.to_string()) " Kč)" }
                        dt { (l.t("Vrácené platby", "Reversed payments")) } dd data-report="reversed" { (r.reversed) }
                        dt { (l.t("Nespárované", "Unpaired")) } dd data-report="unpaired" { (r.unpaired) }
                        dt { (l.t("Ostatní pohyby", "Other movements")) } dd data-report="ignored" { (r.ignored) }
                        dt { (l.t("Vystavené doklady", "Documents issued")) } dd data-report="documents" { (r.documents.join(", ")) }
                    }
                }
            }
        }
        h2 { (l.t("Nahrát bankovní výpis", "Upload a bank statement")) }
        form class="stack" method="post" action=(ctx.app_link("/admin/payments/import")) enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(ctx.csrf);
            (field("statement", l.t("Soubor výpisu (ABO/GPC, camt.053 nebo Fio JSON)", "Statement file (ABO/GPC, camt.053 or Fio JSON)"),
                html! { input type="file" id="statement" name="statement" required aria-describedby="statement-hint"; },
                Some(l.t("Formát poznáme z obsahu. Vadný soubor odmítneme celý a nic se nezmění.", "The format is detected from the content. A faulty file is refused whole and nothing changes."))))
            button type="submit" { (l.t("Načíst", "Import")) }
        }
        h2 { (l.t("Nespárované platby", "Unpaired payments")) }
        @if unpaired.is_empty() { p data-empty="unpaired" { (l.t("Žádné platby nečekají.", "No payments are waiting.")) } }
        @else {
            div class="table-wrap" {
                table {
                    caption { (l.t("Čekají na rozhodnutí, nejstarší první", "Waiting for a decision, oldest first")) }
                    thead { tr {
                        th scope="col" { "#" } th scope="col" { (l.t("Datum", "Date")) } th scope="col" { (l.t("Částka", "Amount")) }
                        th scope="col" { "VS" } th scope="col" { (l.t("Protiúčet", "Counter-account")) } th scope="col" { (l.t("Zpráva", "Message")) }
                        th scope="col" { (l.t("Spárovat s účtem", "Pair with account")) } th scope="col" { (l.t("Odmítnout", "Reject")) }
                    } }
                    tbody {
                        @for t in &unpaired {
                            tr data-transaction=(t.id) {
                                td { (t.id) }
                                td { (t.booking_date) }
                                td { @if !t.credit { "−" } (t.amount.to_string()) " " (t.currency) @if t.reversal { " " (l.t("(storno)", "(reversal)")) } }
                                td { (t.variable_symbol.clone().unwrap_or_default()) }
                                td { (t.counter_account.clone().unwrap_or_default()) @if let Some(n) = &t.counter_name { br; (n) } }
                                td { (t.message.clone().unwrap_or_default()) }
                                td {
                                    form class="inline" method="post" action=(ctx.app_link(&format!("/admin/payments/{}/pair", t.id))) {
                                        input type="hidden" name="csrf" value=(ctx.csrf);
                                        label for=(format!("account-{}", t.id)) { (l.t("Účet", "Account")) }
                                        input type="number" id=(format!("account-{}", t.id)) name="account" required min="1";
                                        label for=(format!("pair-note-{}", t.id)) { (l.t("Poznámka", "Note")) }
                                        input type="text" id=(format!("pair-note-{}", t.id)) name="note";
                                        button type="submit" { (l.t("Spárovat", "Pair")) }
                                    }
                                }
                                td {
                                    form class="inline" method="post" action=(ctx.app_link(&format!("/admin/payments/{}/reject", t.id))) {
                                        input type="hidden" name="csrf" value=(ctx.csrf);
                                        label for=(format!("reject-note-{}", t.id)) { (l.t("Důvod", "Reason")) }
                                        input type="text" id=(format!("reject-note-{}", t.id)) name="note" required;
                                        button type="submit" class="danger" { (l.t("Odmítnout", "Reject")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { (l.t("Záznam rozhodnutí", "Decision log")) }
        @if decisions.is_empty() { p { (l.t("Zatím žádná rozhodnutí.", "No decisions yet.")) } }
        @else {
            div class="table-wrap" {
                table {
                    caption { (l.t("Posledních 50 rozhodnutí, nejnovější první", "The last 50 decisions, newest first")) }
                    thead { tr {
                        th scope="col" { (l.t("Čas", "Time")) } th scope="col" { (l.t("Platba", "Payment")) }
                        th scope="col" { (l.t("Rozhodnutí", "Decision")) } th scope="col" { (l.t("Účet", "Account")) }
                        th scope="col" { (l.t("Kdo", "By")) } th scope="col" { (l.t("Poznámka", "Note")) }
                    } }
                    tbody {
                        @for d in &decisions {
                            tr {
                                td { (prague::format(d.decided_at)) } td { (d.bank_transaction) }
                                td { @if d.decision == "paired" { (l.t("spárováno", "paired")) } @else { (l.t("odmítnuto", "rejected")) } }
                                td { (d.account.map(|a| a.to_string()).unwrap_or_default()) }
                                td { (d.decided_by) } td { (d.note) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(ctx, Area::Staff, title, body))
}

async fn payments(
    State(state): State<WebState>,
    ctx: Ctx,
    Query(q): Query<PaymentsQuery>,
) -> Result<Response, WebError> {
    let staff = require_billing(&ctx)?;
    let l = ctx.lang;
    let text;
    let outcome = match (q.paired, q.rejected) {
        (Some(id), _) => {
            text = format!(
                "{} {id} {}",
                l.t("Platba", "Payment"),
                l.t("spárována a připsána.", "paired and credited.")
            );
            Outcome::Done(&text)
        }
        (_, Some(id)) => {
            text = format!(
                "{} {id} {}",
                l.t("Platba", "Payment"),
                l.t("odmítnuta.", "rejected.")
            );
            Outcome::Done(&text)
        }
        _ => Outcome::None,
    };
    let page = payments_page(&state, &ctx, staff, outcome).await?;
    Ok(ctx.html(page))
}

async fn import(
    State(state): State<WebState>,
    ctx: Ctx,
    mut form: Multipart,
) -> Result<Response, WebError> {
    let staff = require_billing(&ctx)?;
    let l = ctx.lang;
    let mut csrf = None;
    let mut file: Option<(String, Vec<u8>)> = None;
    let malformed = |_| WebError::Internal(anyhow::anyhow!("reading the uploaded form"));
    while let Some(part) = form.next_field().await.map_err(malformed)? {
        match part.name() {
            Some("csrf") => csrf = Some(part.text().await.map_err(malformed)?),
            Some("statement") => {
                let name = part.file_name().unwrap_or("upload").to_owned();
                let bytes = part.bytes().await.map_err(malformed)?;
                file = Some((name, bytes.to_vec()));
            }
            _ => {}
        }
    }
    ctx.check_csrf(csrf.as_deref().unwrap_or(""))?;
    let (st, cx) = (&state, &ctx);
    let refuse = move |msg: String| async move {
        let page = payments_page(st, cx, staff, Outcome::Error(&msg)).await?;
        Ok::<_, WebError>(cx.html_status(StatusCode::UNPROCESSABLE_ENTITY, page))
    };
    let Some((name, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        return refuse(
            l.t("Vyberte soubor výpisu.", "Choose a statement file.")
                .to_owned(),
        )
        .await;
    };
    let statement = match payments::parse(&bytes) {
        Ok(s) => s,
        Err(e) => {
            return refuse(format!(
                "{name}: {e}. {}",
                l.t("Nic nebylo načteno.", "Nothing was imported.")
            ))
            .await
        }
    };
    let sha = hex::encode(Sha256::digest(&bytes));
    let source_name = format!("upload by {}: {name}", staff.email);
    let report = state
        .store()
        .import_statement(
            &statement,
            &ImportSource {
                name: &source_name,
                sha256: &sha,
            },
            &state.api().billing.policy,
            store::now_us(),
        )
        .await;
    match report {
        Ok(r) => {
            tracing::info!(
                staff = staff.id,
                import = r.import_id,
                credited = r.credited,
                "statement uploaded"
            );
            let page = payments_page(&state, &ctx, staff, Outcome::Imported(&r)).await?;
            Ok(ctx.html(page))
        }
        Err(store::StoreError::Billing(e)) => refuse(format!("{name}: {e}")).await,
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct PairForm {
    csrf: String,
    account: String,
    note: Option<String>,
}

async fn pair(
    State(state): State<WebState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Form(f): Form<PairForm>,
) -> Result<Response, WebError> {
    let staff = require_billing(&ctx)?;
    ctx.check_csrf(&f.csrf)?;
    let l = ctx.lang;
    let account = f.account.trim().parse::<i64>().ok().map(AccountId::new);
    let result = match account {
        Some(a) if state.store().account_exists(a).await? => state
            .store()
            .pair_payment(
                id,
                a,
                &staff.email,
                f.note.as_deref().unwrap_or("").trim(),
                &state.api().billing.policy,
                store::now_us(),
            )
            .await
            .map(|_| ()),
        _ => Err(store::StoreError::Billing(
            l.t("Takový účet neexistuje.", "There is no such account.")
                .to_owned(),
        )),
    };
    match result {
        Ok(()) => Ok(ctx.redirect(&ctx.app_link(&format!("/admin/payments?paired={id}")))),
        Err(store::StoreError::Billing(e)) => {
            let page = payments_page(&state, &ctx, staff, Outcome::Error(&e)).await?;
            Ok(ctx.html_status(StatusCode::UNPROCESSABLE_ENTITY, page))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct RejectForm {
    csrf: String,
    note: String,
}

async fn reject(
    State(state): State<WebState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Form(f): Form<RejectForm>,
) -> Result<Response, WebError> {
    let staff = require_billing(&ctx)?;
    ctx.check_csrf(&f.csrf)?;
    let l = ctx.lang;
    let note = f.note.trim();
    let result = if note.is_empty() {
        Err(store::StoreError::Billing(
            l.t(
                "Uveďte důvod odmítnutí.",
                "Give the reason for the rejection.",
            )
            .to_owned(),
        ))
    } else {
        state
            .store()
            .reject_payment(id, &staff.email, note, store::now_us())
            .await
    };
    match result {
        Ok(()) => Ok(ctx.redirect(&ctx.app_link(&format!("/admin/payments?rejected={id}")))),
        Err(store::StoreError::Billing(e)) => {
            let page = payments_page(&state, &ctx, staff, Outcome::Error(&e)).await?;
            Ok(ctx.html_status(StatusCode::UNPROCESSABLE_ENTITY, page))
        }
        Err(e) => Err(e.into()),
    }
}

async fn debtors(State(state): State<WebState>, ctx: Ctx) -> Result<Response, WebError> {
    let staff = require_billing(&ctx)?;
    let l = ctx.lang;
    let now = store::now_us();
    state
        .store()
        .audit_staff_view(staff.id, "view_debtors", "*", now)
        .await?;
    let reversals = state.store().debtors().await?;
    let postpaid = state
        .store()
        .postpaid_debtors(billing::calendar::prague_date(now))
        .await?;
    let title = l.t("Dlužníci", "Debtors");
    let body = html! {
        h1 { (title) }
        h2 { (l.t("Postpaid: faktury po splatnosti", "Postpaid: invoices past due")) }
        @if postpaid.is_empty() { p data-empty="postpaid" { (l.t("Nikdo.", "Nobody.")) } }
        @else {
            div class="table-wrap" {
                table {
                    caption { (l.t("Největší dluh první", "Largest debt first")) }
                    thead { tr {
                        th scope="col" { (l.t("Účet", "Account")) } th scope="col" { (l.t("Název", "Name")) } th scope="col" { "E-mail" }
                        th scope="col" { (l.t("Po splatnosti", "Overdue")) } th scope="col" { (l.t("Nejstarší splatnost", "Oldest due date")) }
                        th scope="col" { (l.t("Faktur", "Invoices")) }
                    } }
                    tbody {
                        @for d in &postpaid {
                            tr data-debtor=(d.account) {
                                td { a href=(ctx.app_link(&format!("/admin/credit?account={}", d.account))) { (d.account) } }
                                td { (d.name) } td { (d.email) }
                                td { (d.overdue.to_string()) " Kč" } td { (billing::calendar::czech(d.oldest_due)) } td { (d.invoices) }
                            }
                        }
                    }
                }
            }
        }
        h2 { (l.t("Vrácené platby nekryté kreditem", "Reversed payments the credit did not cover")) }
        @if reversals.is_empty() { p data-empty="reversals" { (l.t("Nikdo.", "Nobody.")) } }
        @else {
            div class="table-wrap" {
                table {
                    caption { (l.t("Největší dluh první", "Largest debt first")) }
                    thead { tr {
                        th scope="col" { (l.t("Účet", "Account")) } th scope="col" { (l.t("Název", "Name")) } th scope="col" { "E-mail" }
                        th scope="col" { (l.t("Dluh", "Owed")) } th scope="col" { (l.t("Od", "Since")) }
                    } }
                    tbody {
                        @for d in &reversals {
                            tr {
                                td { a href=(ctx.app_link(&format!("/admin/credit?account={}", d.account))) { (d.account) } }
                                td { (d.name) } td { (d.email) }
                                td { (d.owed.to_string()) " Kč" } td { (prague::format(d.since)) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(ctx.html(layout::page(&ctx, Area::Staff, title, body)))
}

#[derive(Deserialize, Default)]
pub struct AccountQuery {
    account: Option<String>,
}

async fn credit_terms_page(
    state: &WebState,
    ctx: &Ctx,
    staff: &WebUser,
    account: Option<AccountId>,
    notice: Option<(&str, &str)>,
) -> Result<Markup, WebError> {
    let l = ctx.lang;
    let view = match account {
        Some(a) => {
            state
                .store()
                .audit_staff_view(staff.id, "view_credit", &a.to_string(), store::now_us())
                .await?;
            state.store().credit_view(a).await?
        }
        None => None,
    };
    let usage = match (account, &view) {
        (Some(a), Some(_)) => state.store().usage_invoices(a).await?,
        _ => Vec::new(),
    };
    let title = l.t("Kredit a postpaid", "Credit and postpaid");
    let body = html! {
        h1 { (title) }
        @if let Some((kind, text)) = notice { (layout::notice(kind, text)) }
        form class="filters" method="get" action="/admin/credit" {
            (field("account", l.t("Číslo účtu", "Account number"), html! {
                input type="number" id="account" name="account" min="1" required value=(account.map(|a| a.to_string()).unwrap_or_default());
            }, None))
            button type="submit" { (l.t("Zobrazit", "Show")) }
        }
        @if account.is_some() && view.is_none() { (layout::notice("error", l.t("Takový účet neexistuje.", "There is no such account."))) }
        @if let (Some(a), Some(v)) = (account, view) {
            div class="cards" {
                div class="card" { h2 { (l.t("Zůstatek", "Balance")) } p class="figure" data-figure="balance" { (v.balance.to_string()) " Kč" } }
                div class="card" { h2 { (l.t("Úvěrový limit", "Credit limit")) } p class="figure" data-figure="limit" { (v.credit_limit.to_string()) " Kč" }
                    p class="hint" { @if v.postpaid { "postpaid" } @else { (l.t("předplacený (prepaid)", "prepaid")) } } }
            }
            form class="stack" method="post" action=(ctx.app_link("/admin/credit")) {
                input type="hidden" name="csrf" value=(ctx.csrf);
                input type="hidden" name="account" value=(a);
                div class="field" {
                    label {
                        @if v.postpaid { input type="checkbox" name="postpaid" value="1" checked; } @else { input type="checkbox" name="postpaid" value="1"; }
                        " " (l.t("Postpaid: smí čerpat do záporu až do limitu, spotřeba se fakturuje měsíčně", "Postpaid: may go negative down to the limit, usage is invoiced monthly"))
                    }
                }
                (field("limit", l.t("Úvěrový limit (Kč)", "Credit limit (CZK)"), html! {
                    input type="text" inputmode="decimal" id="limit" name="limit" value=(v.credit_limit.to_string());
                }, None))
                button type="submit" { (l.t("Uložit", "Save")) }
            }
            @if !usage.is_empty() {
                h2 { (l.t("Faktury za spotřebu", "Usage invoices")) }
                div class="table-wrap" {
                    table {
                        caption { (l.t("Nejnovější první", "Newest first")) }
                        thead { tr {
                            th scope="col" { (l.t("Číslo", "Number")) } th scope="col" { (l.t("Období", "Period")) }
                            th scope="col" { (l.t("Celkem", "Total")) } th scope="col" { (l.t("Splatnost", "Due")) }
                            th scope="col" { (l.t("K úhradě", "Owed")) } th scope="col" { (l.t("Upomínky", "Reminders")) }
                        } }
                        tbody {
                            @for u in &usage {
                                tr { td { (u.number) } td { (u.period) } td { (u.total.to_string()) } td { (billing::calendar::czech(u.due_date)) }
                                     td { (u.outstanding.to_string()) } td { (u.reminders) } }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(ctx, Area::Staff, title, body))
}

async fn credit_terms(
    State(state): State<WebState>,
    ctx: Ctx,
    Query(q): Query<AccountQuery>,
) -> Result<Response, WebError> {
    let staff = require_billing(&ctx)?;
    let account = q
        .account
        .as_deref()
        .and_then(|a| a.trim().parse::<i64>().ok())
        .map(AccountId::new);
    let page = credit_terms_page(&state, &ctx, staff, account, None).await?;
    Ok(ctx.html(page))
}

#[derive(Deserialize)]
pub struct CreditTermsForm {
    csrf: String,
    account: i64,
    postpaid: Option<String>,
    limit: Option<String>,
}

async fn set_credit_terms(
    State(state): State<WebState>,
    ctx: Ctx,
    Form(f): Form<CreditTermsForm>,
) -> Result<Response, WebError> {
    let staff = require_billing(&ctx)?;
    ctx.check_csrf(&f.csrf)?;
    let l = ctx.lang;
    let account = AccountId::new(f.account);
    let postpaid = ticked(&f.postpaid);
    let limit = match f.limit.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Some(domain::Money::ZERO),
        Some(text) => parse_amount(text),
    };
    let result = match limit {
        None => Err(l
            .t(
                "Limit není částka, např. 5000 nebo 5000,00.",
                "The limit is not an amount such as 5000 or 5000.00.",
            )
            .to_owned()),
        Some(limit) => match state
            .store()
            .set_postpaid(account, postpaid, limit, store::now_us())
            .await
        {
            Ok(_) => Ok(()),
            Err(store::StoreError::Billing(e)) => Err(e),
            Err(e) => return Err(e.into()),
        },
    };
    let (status, notice) = match &result {
        Ok(()) => {
            tracing::info!(staff = staff.id, %account, postpaid, "credit terms changed");
            (StatusCode::OK, ("ok", l.t("Uloženo.", "Saved.")))
        }
        Err(e) => (StatusCode::UNPROCESSABLE_ENTITY, ("error", e.as_str())),
    };
    let page = credit_terms_page(&state, &ctx, staff, Some(account), Some(notice)).await?;
    Ok(ctx.html_status(status, page))
}
