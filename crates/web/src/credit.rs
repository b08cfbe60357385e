//! The customer's credit and invoices: `/app/credit` (balance, postpaid terms, the ledger, a
//! top-up form answered with the payment details and the QR Platba code, the low-credit
//! threshold) and `/app/invoices` (the documents with their PDF).
//!
//! Top-ups go through `api::billing::request_top_up` and PDFs through
//! `api::billing::printable_invoice`, so the web and the API issue the same requests and print
//! the same documents (a usage invoice still owed carries its QR code).

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use domain::{AccountId, Money};
use maud::{html, Markup};
use serde::Deserialize;
use store::TopUp;

use crate::ctx::Ctx;
use crate::error::WebError;
use crate::i18n::Lang;
use crate::layout::{self, field, Area};
use crate::{prague, WebState};

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/app/credit", get(credit))
        .route("/app/credit/top-up", post(top_up))
        .route("/app/credit/low-credit", post(low_credit))
        .route("/app/top-ups/{file}", get(top_up_qr))
        .route("/app/invoices", get(invoices))
        .route("/app/invoices/{file}", get(invoice_pdf))
}

/// An amount typed by a person: `500`, `500.50` or `500,50`.
pub(crate) fn parse_amount(text: &str) -> Option<Money> {
    let t = text.trim().replace(' ', "").replace(',', ".");
    Money::parse(&t).ok().filter(|m| !m.is_negative())
}

fn kind_name(l: Lang, kind: &str) -> &'static str {
    match kind {
        "topup" => l.t("Dobití", "Top-up"),
        "reserve" => l.t("Rezervace", "Reserved"),
        "charge" => l.t("Účtováno", "Charged"),
        "release" => l.t("Uvolněno", "Released"),
        "adjustment" => l.t("Úprava", "Adjustment"),
        _ => l.t("Jiné", "Other"),
    }
}

#[derive(Deserialize, Default)]
pub struct CreditQuery {
    top_up: Option<i64>,
}

/// The payment details of a top-up with its QR code.
fn payment_request(l: Lang, ctx: &Ctx, t: &TopUp) -> Markup {
    let date = billing::calendar::parse_iso(&t.due_date)
        .map(billing::calendar::czech)
        .unwrap_or_else(|| t.due_date.clone());
    html! {
        section class="card" aria-labelledby="payment-request" id="payment" {
            h2 id="payment-request" { (l.t("Platební údaje", "Payment details")) }
            div class="payment" {
                img class="qr" width="240" height="240"
                    src=(ctx.app_link(&format!("/app/top-ups/{}.png", t.id)))
                    alt=(l.t("QR Platba: naskenujte v bankovní aplikaci", "QR Platba: scan it in your banking app"));
                dl {
                    dt { (l.t("Účet (IBAN)", "Account (IBAN)")) } dd data-field="iban" { (t.iban) }
                    dt { (l.t("Variabilní symbol", "Variable symbol")) } dd data-field="vs" { (t.variable_symbol) }
                    dt { (l.t("Částka", "Amount")) } dd data-field="amount" { (t.amount.to_string()) " Kč" }
                    dt { (l.t("Splatnost", "Due date")) } dd data-field="due" { (date) }
                }
            }
            p class="hint" { (l.t("Kredit připíšeme, jakmile platba s tímto variabilním symbolem dorazí na náš účet; fakturu pak najdete mezi fakturami.",
                "The credit is added once a payment with this variable symbol reaches our account; the invoice then appears among your invoices.")) }
        }
    }
}

async fn credit_page(
    state: &WebState,
    ctx: &Ctx,
    account: AccountId,
    shown: Option<&TopUp>,
    error: Option<&str>,
) -> Result<Markup, WebError> {
    let l = ctx.lang;
    let now = store::now_us();
    let credit = state
        .store()
        .credit_view(account)
        .await?
        .ok_or(WebError::NotFound)?;
    let billing = state.store().billing_account(account, now).await?;
    let ledger = state.store().ledger(account, None, 50).await?;
    let s = &state.api().billing;
    let title = l.t("Kredit", "Credit");
    let body = html! {
        h1 { (title) }
        @if let Some(e) = error { (layout::notice("error", e)) }
        div class="cards" {
            div class="card" {
                h2 { (l.t("Zůstatek", "Balance")) }
                p class="figure" data-figure="balance" { (credit.balance.to_string()) " Kč" }
                p class="hint" { (l.t("Rezervováno pro zprávy ve frontě: ", "Reserved for queued messages: ")) (credit.reserved.to_string()) " Kč" }
            }
            @if credit.postpaid {
                div class="card" {
                    h2 { (l.t("Úvěrový limit (postpaid)", "Credit limit (postpaid)")) }
                    p class="figure" data-figure="limit" { (credit.credit_limit.to_string()) " Kč" }
                    p class="hint" { (l.t("Lze ještě utratit: ", "Can still be spent: ")) (credit.spendable.to_string()) " Kč. "
                        (l.t("Spotřebu fakturujeme měsíčně.", "Usage is invoiced monthly.")) }
                }
            }
            div class="card" {
                h2 { (l.t("Variabilní symbol", "Variable symbol")) }
                p class="figure" { (billing.variable_symbol) }
                p class="hint" { (l.t("Uvádějte jej u každé platby.", "Give it with every payment.")) }
            }
        }
        @if let Some(t) = shown { (payment_request(l, ctx, t)) }
        h2 { (l.t("Dobít kredit", "Top up")) }
        form class="stack" method="post" action=(ctx.app_link("/app/credit/top-up")) {
            input type="hidden" name="csrf" value=(ctx.csrf);
            (field("amount", l.t("Částka v Kč", "Amount in CZK"),
                html! { input type="text" inputmode="decimal" id="amount" name="amount" required aria-describedby="amount-hint" placeholder="500"; },
                Some(&format!("{} {} – {} Kč", l.t("Od – do:", "From – to:"), s.min_top_up, s.max_top_up))))
            button type="submit" { (l.t("Vytvořit platbu s QR kódem", "Create a payment with a QR code")) }
        }
        h2 { (l.t("Upozornění na nízký kredit", "Low credit notice")) }
        form class="stack" method="post" action=(ctx.app_link("/app/credit/low-credit")) {
            input type="hidden" name="csrf" value=(ctx.csrf);
            (field("threshold", l.t("Upozornit, když zůstatek klesne pod (Kč)", "Tell me when the balance falls below (CZK)"),
                html! { input type="text" inputmode="decimal" id="threshold" name="threshold" aria-describedby="threshold-hint"
                    value=(billing.low_credit.map(|m| m.to_string()).unwrap_or_default()); },
                Some(l.t("Prázdné = bez upozornění. Pošleme e-mail a webhook credit.low, jednou při každém poklesu.",
                         "Empty = no notice. We send an e-mail and the credit.low webhook, once each time it falls."))))
            button type="submit" { (l.t("Uložit", "Save")) }
        }
        h2 { (l.t("Pohyby kreditu", "Credit movements")) }
        @if ledger.is_empty() { p { (l.t("Zatím žádné pohyby.", "No movements yet.")) } }
        @else {
            div class="table-wrap" {
                table {
                    caption { (l.t("Posledních 50 pohybů, nejnovější první", "The last 50 movements, newest first")) }
                    thead { tr {
                        th scope="col" { (l.t("Čas", "Time")) } th scope="col" { (l.t("Druh", "Kind")) }
                        th scope="col" { (l.t("Zůstatek ±", "Balance ±")) } th scope="col" { (l.t("Rezervace ±", "Reserved ±")) }
                        th scope="col" { (l.t("Popis", "Description")) }
                    } }
                    tbody {
                        @for e in &ledger {
                            tr {
                                td { (prague::format(e.created_at)) } td { (kind_name(l, &e.kind)) }
                                td { (e.available_delta.to_string()) } td { (e.reserved_delta.to_string()) }
                                td { (e.reference) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(ctx, Area::App, title, body))
}

async fn credit(
    State(state): State<WebState>,
    ctx: Ctx,
    Query(q): Query<CreditQuery>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    let shown = match q.top_up {
        Some(id) => state.store().get_top_up(user.account, id).await?,
        None => None,
    };
    let page = credit_page(&state, &ctx, user.account, shown.as_ref(), None).await?;
    Ok(ctx.html(page))
}

#[derive(Deserialize)]
pub struct TopUpForm {
    csrf: String,
    amount: String,
}

async fn top_up(
    State(state): State<WebState>,
    ctx: Ctx,
    Form(f): Form<TopUpForm>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    ctx.check_csrf(&f.csrf)?;
    let l = ctx.lang;
    let (st, cx, account) = (&state, &ctx, user.account);
    let refused = move |msg: String| async move {
        let page = credit_page(st, cx, account, None, Some(&msg)).await?;
        Ok::<_, WebError>(cx.html_status(StatusCode::UNPROCESSABLE_ENTITY, page))
    };
    let Some(amount) = parse_amount(&f.amount) else {
        return refused(
            l.t(
                "Částka není číslo, např. 500 nebo 500,50.",
                "The amount is not a number such as 500 or 500.50.",
            )
            .to_owned(),
        )
        .await;
    };
    match api::billing::request_top_up(state.api_state(), user.account, amount).await {
        Ok(t) => Ok(ctx.redirect(&ctx.app_link(&format!("/app/credit?top_up={}#payment", t.id)))),
        Err(e) if e.status().is_client_error() => refused(e.detail().to_owned()).await,
        Err(e) => Err(anyhow::anyhow!("a web top-up: {}", e.detail()).into()),
    }
}

#[derive(Deserialize)]
pub struct LowCreditForm {
    csrf: String,
    threshold: Option<String>,
}

async fn low_credit(
    State(state): State<WebState>,
    ctx: Ctx,
    Form(f): Form<LowCreditForm>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    ctx.check_csrf(&f.csrf)?;
    let l = ctx.lang;
    let text = f.threshold.as_deref().map(str::trim).unwrap_or("");
    let threshold = if text.is_empty() {
        None
    } else {
        match parse_amount(text) {
            Some(m) => Some(m),
            None => {
                let msg = l.t(
                    "Hranice není částka, např. 100 nebo 100,50.",
                    "The threshold is not an amount such as 100 or 100.50.",
                );
                let page = credit_page(&state, &ctx, user.account, None, Some(msg)).await?;
                return Ok(ctx.html_status(StatusCode::UNPROCESSABLE_ENTITY, page));
            }
        }
    };
    state
        .store()
        .set_low_credit(user.account, threshold, store::now_us())
        .await?;
    Ok(ctx.redirect(&ctx.app_link("/app/credit")))
}

/// `/app/top-ups/{id}.png`: the QR Platba code of the customer's own top-up.
async fn top_up_qr(
    State(state): State<WebState>,
    ctx: Ctx,
    Path(file): Path<String>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    let id: i64 = file
        .strip_suffix(".png")
        .and_then(|s| s.parse().ok())
        .ok_or(WebError::NotFound)?;
    let t = state
        .store()
        .get_top_up(user.account, id)
        .await?
        .ok_or(WebError::NotFound)?;
    let png = payments::spayd_qr_png(&t.spayd, 6).map_err(|e| anyhow::anyhow!("QR code: {e}"))?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "private, max-age=3600"),
        ],
        png,
    )
        .into_response())
}

async fn invoices(State(state): State<WebState>, ctx: Ctx) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    let l = ctx.lang;
    let list = state.store().list_invoices(user.account, None, 200).await?;
    let usage = state.store().usage_invoices(user.account).await?;
    let title = l.t("Faktury", "Invoices");
    let body = html! {
        h1 { (title) }
        @if list.is_empty() { p { (l.t("Zatím žádné doklady.", "No documents yet.")) } }
        @else {
            div class="table-wrap" {
                table {
                    caption { (l.t("Daňové doklady, nejnovější první", "Tax documents, newest first")) }
                    thead { tr {
                        th scope="col" { (l.t("Číslo", "Number")) } th scope="col" { (l.t("Druh", "Kind")) }
                        th scope="col" { (l.t("Vystaveno", "Issued")) } th scope="col" { (l.t("Předmět", "Subject")) }
                        th scope="col" { (l.t("Celkem", "Total")) } th scope="col" { (l.t("Splatnost / k úhradě", "Due / owed")) }
                        th scope="col" { "PDF" }
                    } }
                    tbody {
                        @for i in &list {
                            @let d = &i.document;
                            @let due = usage.iter().find(|u| u.invoice_id == i.id);
                            tr data-invoice=(d.number) {
                                td { (d.number) }
                                td { @if d.kind == billing::InvoiceKind::Invoice { (l.t("faktura", "invoice")) } @else { (l.t("opravný doklad", "credit note")) } }
                                td { (billing::calendar::czech(d.issue_date)) }
                                td { (d.description) }
                                td { (d.total.to_string()) " Kč" }
                                td {
                                    @if let Some(u) = due {
                                        (billing::calendar::czech(u.due_date)) " / "
                                        @if u.outstanding.hundredths() > 0 { strong { (u.outstanding.to_string()) " Kč" } } @else { (l.t("zaplaceno", "paid")) }
                                    } @else { "–" }
                                }
                                td { a href=(format!("/app/invoices/{}.pdf", i.id)) download=(format!("{}.pdf", d.number)) { (l.t("Stáhnout", "Download")) span class="skip" { " " (d.number) } } }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(ctx.html(layout::page(&ctx, Area::App, title, body)))
}

/// `/app/invoices/{id}.pdf`
async fn invoice_pdf(
    State(state): State<WebState>,
    ctx: Ctx,
    Path(file): Path<String>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    let id: i64 = file
        .strip_suffix(".pdf")
        .and_then(|s| s.parse().ok())
        .ok_or(WebError::NotFound)?;
    let invoice = state
        .store()
        .get_invoice(user.account, id)
        .await?
        .ok_or(WebError::NotFound)?;
    let number = invoice.document.number.clone();
    let pdf = async {
        let doc = api::billing::printable_invoice(state.api_state(), user.account, invoice).await?;
        api::billing::invoice_pdf(doc).await
    }
    .await
    .map_err(|e| anyhow::anyhow!("invoice PDF: {}", e.detail()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{number}.pdf\""),
            ),
        ],
        pdf,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_as_people_type_them() {
        for (text, want) in [
            ("500", Some(50_000)),
            ("500,50", Some(50_050)),
            (" 1 000.5 ", Some(100_050)),
            ("abc", None),
            ("-5", None),
        ] {
            assert_eq!(parse_amount(text).map(Money::hundredths), want, "{text}");
        }
    }
}
