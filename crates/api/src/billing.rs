//! Credit and billing resources: the prices in force, payment requests (top-ups) with their QR
//! Platba code, invoices as JSON and PDF, the low-credit threshold and the customer's invoice
//! details. Also the price lookup that `messages` charges at acceptance.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use billing::{InvoiceDocument, InvoicePolicy, PriceBook, Supplier};
use domain::{AccountId, Money};
use serde::Deserialize;
use serde_json::json;
use store::{CustomerDetails, InvoiceRecord, NewTopUp, TopUp};

use crate::error::ApiError;
use crate::paging::Page;
use crate::state::{AppState, Authenticated};
use crate::timefmt::to_rfc3339;

/// What the billing resources need from the settings.
#[derive(Debug, Clone)]
pub struct BillingSettings {
    /// How documents are issued (staff pairing in the back office issues them).
    pub policy: InvoicePolicy,
    /// The operator: the payee of top-ups (IBAN, BIC) and the supplier on invoices.
    pub supplier: Supplier,
    /// Days from a payment request to its due date.
    pub top_up_due_days: u32,
    pub min_top_up: Money,
    pub max_top_up: Money,
}

impl Default for BillingSettings {
    fn default() -> Self {
        Self {
            policy: InvoicePolicy::with_supplier(Supplier::default()),
            supplier: Supplier::default(),
            top_up_due_days: 14,
            min_top_up: Money::from_hundredths(10_000),
            max_top_up: Money::from_hundredths(100_000_000),
        }
    }
}

/// How long the prices of an account are reused without asking the database (a new price
/// list version that staff add takes at most this long to apply; a version's start or end is
/// honoured exactly).
const PRICE_CACHE_TTL: Duration = Duration::from_secs(5);

/// A cached price book: when it was read, the time (UTC microseconds) it holds until, the book.
type CachedPrices = (Instant, i64, Arc<PriceBook>);

/// Per-account price books, each valid until its expiry.
#[derive(Default)]
pub(crate) struct PriceCache(Mutex<HashMap<AccountId, CachedPrices>>);

/// The prices of one account at one time; see [`price_book`].
pub(crate) struct Prices(Arc<PriceBook>);

impl Prices {
    /// The price of a message of `parts` segments to `to` (E.164).
    pub(crate) fn price(&self, to: &str, parts: u32) -> Result<Money, ApiError> {
        self.0
            .price(to, parts)
            .ok_or_else(|| ApiError::invalid("text-too-long", "text", "the price overflows"))
    }
}

/// The prices in force for `account` at `now` (UTC microseconds): its own list, the public
/// list, and the flat price of the settings when neither has the destination.
pub(crate) async fn price_book(
    state: &AppState,
    account: AccountId,
    now: i64,
) -> Result<Prices, ApiError> {
    let cache = &state.price_cache().0;
    if let Some((fetched, until, book)) = cache.lock().expect("price cache").get(&account) {
        if fetched.elapsed() < PRICE_CACHE_TTL && now < *until {
            return Ok(Prices(book.clone()));
        }
    }
    let lists = state.store().prices_in_force(account, now).await?;
    let book = Arc::new(PriceBook::new(
        lists.account,
        lists.public,
        state.settings().pricing.per_part(),
    ));
    let mut cache = cache.lock().expect("price cache");
    if cache.len() > 100_000 {
        cache.clear();
    }
    cache.insert(
        account,
        (
            Instant::now(),
            lists.next_change.unwrap_or(i64::MAX),
            book.clone(),
        ),
    );
    Ok(Prices(book))
}

fn now_us() -> i64 {
    store::now_us()
}

fn parse_json<T: serde::de::DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let bytes = body.map_err(|e| ApiError::malformed(e.body_text()))?;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::malformed(format!("invalid JSON: {e}")))
}

/// `GET /v1/prices`
pub async fn prices(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
) -> Result<Json<serde_json::Value>, ApiError> {
    let book = price_book(&state, account, now_us()).await?.0;
    let entries = |list: &[billing::PriceEntry], source: &str| -> Vec<serde_json::Value> {
        list.iter()
            .map(|e| json!({"prefix": e.prefix, "price_czk": e.per_segment, "source": source}))
            .collect()
    };
    let mut list = entries(book.account_entries(), "account");
    list.extend(entries(book.public_entries(), "public"));
    Ok(Json(json!({
        "currency": "CZK",
        "unit": "segment",
        "default_price_czk": book.default_price(),
        "prices": list,
        "rule": "the account's own prices first, then the public list, each by the longest prefix of the E.164 number; otherwise the default price. A message costs its segments times the price.",
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TopUpRequest {
    amount_czk: Money,
}

fn top_up_json(t: &TopUp, bic: &str) -> serde_json::Value {
    json!({
        "id": t.id,
        "amount_czk": t.amount,
        "currency": "CZK",
        "iban": t.iban,
        "bic": (!bic.is_empty()).then_some(bic),
        "variable_symbol": t.variable_symbol,
        "due_date": t.due_date,
        "spayd": t.spayd,
        "qr_svg": format!("/v1/top-ups/{}/qr.svg", t.id),
        "qr_png": format!("/v1/top-ups/{}/qr.png", t.id),
        "created_at": to_rfc3339(t.created_at),
    })
}

/// The QR Platba string of a payment request (a top-up or an invoice that is due).
pub fn spayd(
    supplier: &Supplier,
    amount: Money,
    due: chrono::NaiveDate,
    vs: &str,
) -> Result<String, String> {
    let iban = payments::Iban::parse(&supplier.iban).map_err(|e| format!("operator IBAN: {e}"))?;
    let mut s = payments::Spayd::new(iban)
        .with_amount(payments::Amount::from_halere(amount.hundredths()))
        .map_err(|e| e.to_string())?
        .with_due_date(due)
        .with_variable_symbol(payments::VariableSymbol::parse(vs).map_err(|e| e.to_string())?)
        .with_message("Kredit SMS")
        .map_err(|e| e.to_string())?;
    if !supplier.bic.is_empty() {
        s = s.with_bic(&supplier.bic).map_err(|e| e.to_string())?;
    }
    Ok(s.to_string_with_crc())
}

/// Creates a payment request of `amount` for the account: its variable symbol, the operator's
/// IBAN, a due date and the QR Platba string. The one way to a top-up for the API and the web.
pub async fn request_top_up(
    state: &AppState,
    account: AccountId,
    amount: Money,
) -> Result<TopUp, ApiError> {
    let s = &state.settings().billing;
    if amount < s.min_top_up || amount > s.max_top_up {
        return Err(ApiError::invalid(
            "invalid-amount",
            "amount_czk",
            format!(
                "a top-up is between {} and {} CZK",
                s.min_top_up, s.max_top_up
            ),
        ));
    }
    let now = now_us();
    let due =
        billing::calendar::prague_date(now) + chrono::Duration::days(i64::from(s.top_up_due_days));
    let new = NewTopUp {
        account,
        amount,
        iban: s.supplier.iban.clone(),
        due_date: billing::calendar::iso(due),
    };
    let supplier = s.supplier.clone();
    Ok(state
        .store()
        .create_top_up(&new, |vs| spayd(&supplier, new.amount, due, vs), now)
        .await?)
}

/// `POST /v1/top-ups`
pub async fn create_top_up(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let req: TopUpRequest = parse_json(body)?;
    let top_up = request_top_up(&state, account, req.amount_czk).await?;
    let body = top_up_json(&top_up, &state.settings().billing.supplier.bic);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

fn parse_id(raw: &str, what: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().map_err(|_| ApiError::not_found(what))
}

async fn own_top_up(state: &AppState, account: AccountId, raw: &str) -> Result<TopUp, ApiError> {
    state
        .store()
        .get_top_up(account, parse_id(raw, "top-up")?)
        .await?
        .ok_or_else(|| ApiError::not_found("top-up"))
}

/// `GET /v1/top-ups/{id}`
pub async fn get_top_up(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let t = own_top_up(&state, account, &id).await?;
    Ok(Json(top_up_json(
        &t,
        &state.settings().billing.supplier.bic,
    )))
}

/// `GET /v1/top-ups/{id}/qr.svg`
pub async fn top_up_qr(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let t = own_top_up(&state, account, &id).await?;
    let svg = payments::spayd_qr_svg(&t.spayd).map_err(|e| ApiError::internal(&e))?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}

/// Pixels per QR module of the PNG image (about 300 px for a payment request).
const QR_PNG_SCALE: u32 = 6;

/// `GET /v1/top-ups/{id}/qr.png`
pub async fn top_up_qr_png(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let t = own_top_up(&state, account, &id).await?;
    let png = payments::spayd_qr_png(&t.spayd, QR_PNG_SCALE).map_err(|e| ApiError::internal(&e))?;
    Ok(([(header::CONTENT_TYPE, "image/png")], png).into_response())
}

/// The invoice's document as printed: with the due date and, while an amount is owed, the QR
/// Platba code of that amount.
pub async fn printable_invoice(
    state: &AppState,
    account: AccountId,
    invoice: InvoiceRecord,
) -> Result<InvoiceDocument, ApiError> {
    let mut doc = invoice.document;
    if let Some((due, owed)) = state
        .store()
        .invoice_payment_due(account, invoice.id)
        .await?
    {
        let supplier = &state.settings().billing.supplier;
        doc.payment_qr = Some(
            spayd(supplier, owed, due, &doc.variable_symbol).map_err(|e| ApiError::internal(&e))?,
        );
    }
    Ok(doc)
}

/// The PDF of a printable invoice.
pub async fn invoice_pdf(doc: InvoiceDocument) -> Result<Vec<u8>, ApiError> {
    tokio::task::spawn_blocking(move || billing::invoice::render_pdf(&doc))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|e| ApiError::internal(&e))
}

/// `GET /v1/account/credit`: the balance as the customer sees it (negative while a postpaid
/// account uses its credit line), what is reserved, the credit terms and what can be spent.
pub async fn credit(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
) -> Result<Json<serde_json::Value>, ApiError> {
    let c = state
        .store()
        .credit_view(account)
        .await?
        .ok_or_else(|| ApiError::not_found("account"))?;
    let b = state.store().billing_account(account, now_us()).await?;
    Ok(Json(json!({
        "balance_czk": c.balance,
        "reserved_czk": c.reserved,
        "postpaid": c.postpaid,
        "credit_limit_czk": c.credit_limit,
        "spendable_czk": c.spendable,
        "low_credit_threshold_czk": b.low_credit,
        "variable_symbol": b.variable_symbol,
    })))
}

#[derive(Deserialize)]
pub struct InvoiceListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

fn invoice_json(i: &InvoiceRecord) -> serde_json::Value {
    let d: &InvoiceDocument = &i.document;
    let date = |x: chrono::NaiveDate| billing::calendar::iso(x);
    json!({
        "id": i.id,
        "number": d.number,
        "kind": d.kind.as_str(),
        "corrects": d.corrects,
        "issue_date": date(d.issue_date),
        "taxable_supply_date": date(d.taxable_date),
        "payment_date": d.payment_date.map(date),
        "supplier": {
            "name": d.supplier.name,
            "address": d.supplier.address,
            "ico": d.supplier.ico,
            "dic": (!d.supplier.dic.is_empty()).then_some(&d.supplier.dic),
            "register": d.supplier.register,
            "iban": d.supplier.iban,
        },
        "customer": {
            "name": d.customer_name,
            "address": d.customer_address,
            "ico": d.customer_ico,
            "dic": d.customer_dic,
        },
        "lines": [{
            "description": d.description,
            "quantity": d.quantity,
            "unit_price_czk": d.unit_price,
            "discount_czk": d.discount,
        }],
        "base_czk": d.base,
        "vat_rate_percent": d.vat_rate.percent_text(),
        "vat_czk": d.vat,
        "total_czk": d.total,
        "currency": d.currency,
        "variable_symbol": d.variable_symbol,
        "due_date": d.due_date.map(date),
        "pdf": format!("/v1/invoices/{}.pdf", i.id),
        "created_at": to_rfc3339(i.created_at),
    })
}

/// `GET /v1/invoices`
pub async fn list_invoices(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    query: Result<Query<InvoiceListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::malformed(e.body_text()))?;
    let page = Page::parse(q.limit, q.cursor.as_deref())?;
    let invoices = state
        .store()
        .list_invoices(account, page.before, page.limit)
        .await?;
    let next = page.next_cursor(invoices.len(), invoices.last().map(|i| i.id));
    Ok(Json(json!({
        "invoices": invoices.iter().map(invoice_json).collect::<Vec<_>>(),
        "next_cursor": next,
    })))
}

/// `GET /v1/invoices/{id}` (JSON) and `GET /v1/invoices/{id}.pdf`.
pub async fn get_invoice(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let (id, pdf) = match raw.strip_suffix(".pdf") {
        Some(id) => (id, true),
        None => (raw.as_str(), false),
    };
    let invoice = state
        .store()
        .get_invoice(account, parse_id(id, "invoice")?)
        .await?
        .ok_or_else(|| ApiError::not_found("invoice"))?;
    if !pdf {
        return Ok(Json(invoice_json(&invoice)).into_response());
    }
    let number = invoice.document.number.clone();
    let doc = printable_invoice(&state, account, invoice).await?;
    let bytes = invoice_pdf(doc).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{number}.pdf\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LowCreditRequest {
    /// `null` turns the notice off.
    threshold_czk: Option<Money>,
}

/// `PUT /v1/account/low-credit`
pub async fn set_low_credit(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let req: LowCreditRequest = parse_json(body)?;
    if req.threshold_czk.is_some_and(Money::is_negative) {
        return Err(ApiError::invalid(
            "invalid-amount",
            "threshold_czk",
            "the threshold cannot be negative",
        ));
    }
    let b = state
        .store()
        .set_low_credit(account, req.threshold_czk, now_us())
        .await?;
    Ok(Json(json!({ "threshold_czk": b.low_credit })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BillingDetailsRequest {
    name: Option<String>,
    address: Option<String>,
    ico: Option<String>,
    dic: Option<String>,
}

fn billing_json(b: &store::BillingAccount) -> serde_json::Value {
    json!({
        "variable_symbol": b.variable_symbol,
        "name": b.customer_name,
        "address": b.customer_address,
        "ico": b.customer_ico,
        "dic": b.customer_dic,
        "low_credit_threshold_czk": b.low_credit,
    })
}

/// `GET /v1/account/billing`
pub async fn get_billing(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
) -> Result<Json<serde_json::Value>, ApiError> {
    let b = state.store().billing_account(account, now_us()).await?;
    Ok(Json(billing_json(&b)))
}

/// `PUT /v1/account/billing`: the customer's details printed on invoices issued from now on.
pub async fn set_billing(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let req: BillingDetailsRequest = parse_json(body)?;
    let clean = |v: Option<String>, field: &'static str, max: usize| {
        let v = v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        match &v {
            Some(s) if s.chars().count() > max => Err(ApiError::invalid(
                "invalid-billing-details",
                field,
                format!("{field} has at most {max} characters"),
            )),
            _ => Ok(v),
        }
    };
    let ico = clean(req.ico, "ico", 8)?;
    if ico
        .as_deref()
        .is_some_and(|i| !i.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(ApiError::invalid(
            "invalid-billing-details",
            "ico",
            "an IČO is up to 8 digits",
        ));
    }
    let details = CustomerDetails {
        name: clean(req.name, "name", 200)?,
        address: clean(req.address, "address", 300)?,
        ico,
        dic: clean(req.dic, "dic", 14)?,
    };
    let now = now_us();
    state
        .store()
        .set_customer_details(account, &details, now)
        .await?;
    let b = state.store().billing_account(account, now).await?;
    Ok(Json(billing_json(&b)))
}
