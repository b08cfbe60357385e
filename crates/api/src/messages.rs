//! `/v1/messages`: send, preview, read, list, cancel.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use domain::{MessageId, MessageStatus, Money};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use sms::{Encoding, Msisdn, SenderId, TextError, TextOptions};
use store::{CancelOutcome, MessageFilter, MessageRecord, NewMessage, Submission, SubmitOutcome};

use crate::error::ApiError;
use crate::paging::Page;
use crate::state::{AppState, Authenticated};
use crate::timefmt::{parse_rfc3339, to_rfc3339};

const MAX_CLIENT_REF: usize = 128;
const MAX_IDEMPOTENCY_KEY: usize = 255;
/// How far ahead a message may be scheduled.
const MAX_SCHEDULE_AHEAD_US: i64 = 366 * 24 * 3600 * 1_000_000;

#[derive(Deserialize)]
#[serde(untagged)]
enum Recipients {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendRequest {
    #[serde(default)]
    to: Option<Recipients>,
    /// A contact list id: one message per contact, `{name}`-style fields filled in.
    #[serde(default)]
    to_list: Option<serde_json::Value>,
    /// A commercial message: must meet the rules, goes only to numbers with a recorded basis.
    #[serde(default)]
    marketing: bool,
    text: String,
    from: Option<String>,
    scheduled_at: Option<String>,
    validity_s: Option<u64>,
    client_ref: Option<String>,
    #[serde(default)]
    allow_transliteration: bool,
    /// "device" (the account's own phones and modems) or "carrier"; the account's setting
    /// when absent.
    #[serde(default)]
    route: Option<Route>,
    /// Text encrypted end to end for the account's devices.
    #[serde(default)]
    e2e: Option<E2e>,
}

/// The channel a message leaves by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Route {
    Carrier,
    Device,
}

/// Text encrypted end to end between the customer and its devices: the server relays the
/// ciphertext and never sees the text, so the customer states how many parts it will take
/// (and pays for them); `text` is then ignored.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct E2e {
    pub ciphertext: String,
    pub parts: u32,
}

/// What the server keeps as the text of an end-to-end encrypted message.
pub const E2E_PLACEHOLDER: &str = "[end-to-end encrypted]";

/// Longest accepted ciphertext (base64 of ten UCS-2 parts with nonce, keys and tag).
const MAX_CIPHERTEXT: usize = 4096;

#[derive(Serialize)]
struct Accepted<'a> {
    id: MessageId,
    to: &'a str,
    status: MessageStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_reason: Option<&'static str>,
    encoding: &'a str,
    parts: u32,
    price_czk: Money,
}

#[derive(Serialize)]
struct SendResponse<'a> {
    messages: Vec<Accepted<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<serde_json::Value>,
}

/// Reads a JSON body, turning every failure into a problem the client can act on.
pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
) -> Result<(T, Bytes), ApiError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large("the request body is over the size limit")
        } else {
            ApiError::malformed(rejection.body_text())
        }
    })?;
    let value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::malformed(format!("invalid JSON: {e}")))?;
    Ok((value, body))
}

fn text_error(e: TextError) -> ApiError {
    let slug = match e {
        TextError::TooLong { .. } => "text-too-long",
        _ => "invalid-text",
    };
    ApiError::invalid(slug, "text", e.to_string())
}

fn now_us() -> i64 {
    store::now_us()
}

/// `POST /v1/messages`
pub async fn send(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = send_inner(&state, account, &headers, body).await;
    let status = match &result {
        Ok(r) => r.status(),
        Err(e) => e.status(),
    };
    state
        .metrics()
        .submit_responses
        .get_or_create(&crate::metrics::StatusLabel {
            status: status.as_u16(),
        })
        .inc();
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn send_inner(
    state: &AppState,
    account: domain::AccountId,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    state.check_rate(account)?;
    let (req, raw): (SendRequest, Bytes) = parse_body(body)?;

    let idempotency = match headers.get("idempotency-key") {
        None => None,
        Some(v) => {
            let key = v
                .to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY)
                .ok_or_else(|| {
                    ApiError::invalid(
                        "invalid-idempotency-key",
                        "Idempotency-Key",
                        format!("the Idempotency-Key header must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"),
                    )
                })?;
            Some(store::Idempotency {
                key: key.to_owned(),
                request_hash: hex::encode(Sha256::digest(&raw)),
            })
        }
    };
    let scheduled_at = match &req.scheduled_at {
        None => None,
        Some(s) => Some(parse_rfc3339(s).ok_or_else(|| {
            ApiError::invalid(
                "invalid-time",
                "scheduled_at",
                "scheduled_at must be an RFC 3339 time",
            )
        })?),
    };
    let intake = Intake {
        recipients: match req.to {
            Some(Recipients::One(n)) => vec![n],
            Some(Recipients::Many(v)) => v,
            None => Vec::new(),
        },
        to_list: req
            .to_list
            .as_ref()
            .map(crate::contacts::list_id)
            .transpose()?,
        marketing: req.marketing,
        text: req.text,
        from: req.from,
        scheduled_at,
        validity_s: req.validity_s,
        client_ref: req.client_ref,
        allow_transliteration: req.allow_transliteration,
        message_id: None,
        route: req.route,
        e2e: req.e2e,
    };
    let accepted = accept(state, account, intake, idempotency, None).await?;
    Ok(json_response(StatusCode::ACCEPTED, accepted.body))
}

/// A request to send one text to recipients, from any edge (HTTP, SMPP), before validation.
#[derive(Debug, Clone, Default)]
pub struct Intake {
    /// Numbers as the customer wrote them.
    pub recipients: Vec<String>,
    pub text: String,
    /// Sender id; the configured default when `None`.
    pub from: Option<String>,
    /// UTC microseconds; a past time means now.
    pub scheduled_at: Option<i64>,
    pub validity_s: Option<u64>,
    pub client_ref: Option<String>,
    pub allow_transliteration: bool,
    /// An id chosen beforehand (the SMPP server answers the first parts of a concatenated
    /// message with it); only with one recipient.
    pub message_id: Option<MessageId>,
    /// Instead of `recipients`: a contact list of the account.
    pub to_list: Option<i64>,
    /// A commercial message (rules checked here; recipients without a basis are blocked).
    pub marketing: bool,
    /// The channel; the account's setting when `None`.
    pub route: Option<Route>,
    /// Encrypted text for the account's devices instead of `text`.
    pub e2e: Option<E2e>,
}

/// Whether the submission goes through the account's own devices, checked: a device route
/// needs a device, end-to-end encrypted text needs the device route and is never marketing.
async fn device_channel(
    state: &AppState,
    account: domain::AccountId,
    req: &Intake,
) -> Result<Option<store::DeviceChannel>, ApiError> {
    let to_device = match req.route {
        Some(r) => r == Route::Device,
        None => state.devices_by_default(account).await?,
    };
    if let Some(e) = &req.e2e {
        let problem = if !to_device {
            Some("end-to-end encrypted text goes only through devices: set \"route\": \"device\"")
        } else if req.marketing {
            Some("commercial messages cannot be end-to-end encrypted: their content must be checkable")
        } else if e.ciphertext.is_empty() || e.ciphertext.len() > MAX_CIPHERTEXT {
            Some("e2e.ciphertext must be 1 to 4096 characters")
        } else if !(1..=state.settings().max_parts).contains(&e.parts) {
            Some("e2e.parts must be between 1 and the most parts a message may have")
        } else if req.to_list.is_some() {
            Some("end-to-end encrypted text cannot be personalised for a contact list")
        } else {
            None
        };
        if let Some(detail) = problem {
            return Err(ApiError::invalid("invalid-e2e", "e2e", detail));
        }
    }
    if !to_device {
        return Ok(None);
    }
    if state.store().live_device_count(account).await? == 0 {
        return Err(ApiError::invalid(
            "no-device",
            "route",
            "the account has no device: pair one with POST /v1/devices, or send by carrier",
        ));
    }
    Ok(Some(store::DeviceChannel {
        ciphertext: req.e2e.as_ref().map(|e| e.ciphertext.clone()),
    }))
}

/// What [`accept`] stored.
#[derive(Debug, Clone)]
pub struct AcceptedSubmission {
    /// The ids of the messages created, in recipient order (empty for a replay).
    pub ids: Vec<MessageId>,
    /// The JSON answer of `POST /v1/messages`.
    pub body: String,
}

/// Validates, prices and durably stores a submission: the one way into the queue for every
/// edge. Invalid numbers are refused per recipient (the valid ones still go); anything else
/// invalid refuses the whole submission.
pub async fn accept(
    state: &AppState,
    account: domain::AccountId,
    req: Intake,
    idempotency: Option<store::Idempotency>,
    smpp: Option<store::SmppOrigin>,
) -> Result<AcceptedSubmission, ApiError> {
    let settings = state.settings();
    let now = now_us();

    let opts = TextOptions {
        allow_transliteration: req.allow_transliteration,
        max_parts: settings.max_parts,
        ..TextOptions::default()
    };
    let device = device_channel(state, account, &req).await?;
    let text = if req.e2e.is_some() {
        E2E_PLACEHOLDER
    } else {
        req.text.as_str()
    };
    let analysis = sms::analyse(text, &opts).map_err(text_error)?;
    let parts = req.e2e.as_ref().map_or(analysis.parts(), |e| e.parts);
    if req.marketing {
        crate::marketing::require(state, account, &req.text).await?;
    }
    let sender = SenderId::parse(req.from.as_deref().unwrap_or(&settings.default_sender))
        .map_err(|e| ApiError::invalid("invalid-sender", "from", e.to_string()))?;
    let scheduled_at = match req.scheduled_at {
        None => None,
        Some(t) => {
            if t > now + MAX_SCHEDULE_AHEAD_US {
                return Err(ApiError::invalid(
                    "invalid-time",
                    "scheduled_at",
                    "scheduled_at may be at most one year ahead",
                ));
            }
            // A time in the past means "now".
            (t > now).then_some(t)
        }
    };
    let validity = match req.validity_s {
        None => settings.default_validity,
        Some(s) if (60..=settings.max_validity.as_secs()).contains(&s) => {
            std::time::Duration::from_secs(s)
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "invalid-validity",
                "validity_s",
                format!(
                    "validity_s must be between 60 and {}",
                    settings.max_validity.as_secs()
                ),
            ))
        }
    };
    if let Some(r) = &req.client_ref {
        if r.chars().count() > MAX_CLIENT_REF {
            return Err(ApiError::invalid(
                "invalid-client-ref",
                "client_ref",
                format!("client_ref has at most {MAX_CLIENT_REF} characters"),
            ));
        }
    }
    let recipients = req.recipients;
    if req.to_list.is_some() && !recipients.is_empty() {
        return Err(ApiError::invalid(
            "invalid-recipients",
            "to_list",
            "give either `to` or `to_list`, not both",
        ));
    }
    if req.to_list.is_none()
        && (recipients.is_empty() || recipients.len() > settings.max_recipients)
    {
        return Err(ApiError::invalid(
            "invalid-recipients",
            "to",
            format!("give 1 to {} recipients", settings.max_recipients),
        ));
    }
    let prices = crate::billing::price_book(state, account, now).await?;
    let due_at = scheduled_at.unwrap_or(now);
    let expires_at = due_at.saturating_add(i64::try_from(validity.as_micros()).unwrap_or(i64::MAX));
    let status = if scheduled_at.is_some() {
        MessageStatus::Scheduled
    } else {
        MessageStatus::Queued
    };
    let encoding = analysis.encoding();
    let encoding_name = match encoding {
        Encoding::Gsm7 => "gsm7",
        Encoding::Ucs2 => "ucs2",
    };

    let mut messages = Vec::with_capacity(recipients.len());
    let mut errors = Vec::new();
    if let Some(list) = req.to_list {
        let proto = NewMessage {
            id: MessageId::new(0),
            to: String::new(),
            sender: sender.as_str().to_owned(),
            body: String::new(),
            encoding: encoding_name,
            parts: 0,
            price: Money::ZERO,
            status,
            client_ref: req.client_ref.clone(),
            scheduled_at,
            due_at,
            expires_at,
        };
        (messages, errors) =
            crate::contacts::list_messages(state, account, list, &req.text, &opts, &prices, &proto)
                .await?;
    }
    let (recipients, parsed) = parse_numbers(recipients, &settings.default_region).await?;
    for ((index, raw_number), parsed) in recipients.iter().enumerate().zip(parsed) {
        match parsed {
            Ok(number) => messages.push(NewMessage {
                id: match req.message_id {
                    Some(id) if recipients.len() == 1 => id,
                    _ => MessageId::new(state.ids().next()),
                },
                to: number.as_str().to_owned(),
                sender: sender.as_str().to_owned(),
                body: analysis.text_sent().to_owned(),
                encoding: encoding_name,
                parts,
                price: prices.price(number.as_str(), parts)?,
                status,
                client_ref: req.client_ref.clone(),
                scheduled_at,
                due_at,
                expires_at,
            }),
            Err(e) => errors.push(json!({
                "index": index,
                "to": raw_number,
                "type": "/problems/invalid-number",
                "detail": e.to_string(),
            })),
        }
    }
    if messages.is_empty() {
        let detail = if recipients.len() == 1 && !errors.is_empty() {
            errors[0]["detail"]
                .as_str()
                .unwrap_or("invalid phone number")
                .to_owned()
        } else {
            "no recipient has a valid phone number".to_owned()
        };
        return Err(ApiError::invalid("invalid-number", "to", detail).with_errors(errors));
    }

    // What the answer says of each message; rendered from the writer's own Blacklist decisions
    // (one lookup per group there), except that a replayable answer is stored with the
    // submission and so is rendered before, from a lookup of its own.
    let summaries: Vec<Summary> = messages
        .iter()
        .map(|m| Summary {
            id: m.id,
            to: m.to.clone(),
            status: m.status,
            encoding: m.encoding,
            parts: m.parts,
            price: m.price,
        })
        .collect();
    let stored_response = match &idempotency {
        Some(_) => {
            let predicted =
                crate::blacklist::predicted_blocks(state, account, &messages, req.marketing)
                    .await?;
            render_response(&summaries, &predicted, &errors)?
        }
        None => String::new(),
    };
    let accepted = messages.len() as u64;
    let submission = Submission {
        account,
        submission_id: state.ids().next(),
        idempotency,
        messages,
        response: stored_response,
        now,
        smpp,
        marketing: req.marketing,
        device,
    };
    let (outcome, blocked) = state.store().submit_decided(submission).await?;
    match outcome {
        SubmitOutcome::Accepted => {
            state.metrics().messages_accepted.inc_by(accepted);
            Ok(AcceptedSubmission {
                ids: summaries.iter().map(|m| m.id).collect(),
                body: render_response(&summaries, &blocked, &errors)?,
            })
        }
        SubmitOutcome::Replayed { response } => Ok(AcceptedSubmission {
            ids: Vec::new(),
            body: response,
        }),
        SubmitOutcome::IdempotencyMismatch => Err(ApiError::conflict(
            "idempotency-key-reused",
            "this Idempotency-Key was used before with a different request",
        )),
        SubmitOutcome::InsufficientCredit {
            available,
            required,
        } => Err(ApiError::insufficient_credit(available, required)),
        SubmitOutcome::AccountClosed => Err(ApiError::account_closed()),
    }
}

/// Lists longer than this are parsed on the blocking pool.
const PARSE_INLINE_AT_MOST: usize = 16;

/// The recipients and each one parsed to E.164. A number takes some 15 µs to check against the
/// numbering plan, so a list of 10,000 would hold a runtime worker, and every task waiting for
/// it (the writer's rounds among them), for 150 ms: long lists are parsed on the blocking pool.
async fn parse_numbers(
    recipients: Vec<String>,
    region: &str,
) -> Result<(Vec<String>, Vec<Result<Msisdn, sms::NumberError>>), ApiError> {
    fn parse_all(recipients: &[String], region: &str) -> Vec<Result<Msisdn, sms::NumberError>> {
        recipients
            .iter()
            .map(|r| Msisdn::parse(r, region))
            .collect()
    }
    if recipients.len() <= PARSE_INLINE_AT_MOST {
        let parsed = parse_all(&recipients, region);
        return Ok((recipients, parsed));
    }
    let region = region.to_owned();
    tokio::task::spawn_blocking(move || {
        let parsed = parse_all(&recipients, &region);
        (recipients, parsed)
    })
    .await
    .map_err(|e| ApiError::internal(&e))
}

/// A stored message as the answer describes it.
struct Summary {
    id: MessageId,
    to: String,
    status: MessageStatus,
    encoding: &'static str,
    parts: u32,
    price: Money,
}

/// The JSON answer of an accepted submission: a blocked message says why and costs nothing.
fn render_response(
    messages: &[Summary],
    blocked: &[Option<store::BlockReason>],
    errors: &[serde_json::Value],
) -> Result<String, ApiError> {
    let response = SendResponse {
        messages: messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let b = blocked.get(i).copied().flatten();
                Accepted {
                    id: m.id,
                    to: &m.to,
                    status: if b.is_some() {
                        MessageStatus::Blocked
                    } else {
                        m.status
                    },
                    status_reason: b.map(store::BlockReason::text),
                    encoding: m.encoding,
                    parts: m.parts,
                    price_czk: if b.is_some() { Money::ZERO } else { m.price },
                }
            })
            .collect(),
        errors: errors.to_vec(),
    };
    serde_json::to_string(&response).map_err(|e| ApiError::internal(&e))
}

fn json_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PreviewRequest {
    text: String,
    #[serde(default)]
    allow_transliteration: bool,
}

/// `POST /v1/messages/preview`
pub async fn preview(
    State(state): State<AppState>,
    Authenticated(_): Authenticated,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (req, _): (PreviewRequest, _) = parse_body(body)?;
    let opts = TextOptions {
        allow_transliteration: req.allow_transliteration,
        max_parts: state.settings().max_parts,
        ..TextOptions::default()
    };
    let a = sms::analyse(&req.text, &opts).map_err(text_error)?;
    let price = state
        .settings()
        .pricing
        .price(a.parts())
        .unwrap_or_default();
    Ok(Json(json!({
        "encoding": a.encoding(),
        "parts": a.parts(),
        "characters": a.characters(),
        "units": a.units(),
        "text_sent": a.text_sent(),
        "price_czk_per_recipient": price,
    })))
}

fn message_json(m: &MessageRecord) -> serde_json::Value {
    json!({
        "id": m.id,
        "to": m.to,
        "from": m.sender,
        "text": m.body,
        "status": m.status,
        "status_reason": m.status_reason,
        "encoding": m.encoding,
        "parts": m.parts,
        "price_czk": m.price,
        "client_ref": m.client_ref,
        "scheduled_at": m.scheduled_at.map(to_rfc3339),
        "expires_at": to_rfc3339(m.expires_at),
        "created_at": to_rfc3339(m.created_at),
        "updated_at": to_rfc3339(m.updated_at),
    })
}

fn parse_id(raw: &str) -> Result<MessageId, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found("message"))
}

/// `GET /v1/messages/{id}`, with the status history.
pub async fn get_one(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = parse_id(&id)?;
    let m = state
        .store()
        .get_message(account, id)
        .await?
        .ok_or_else(|| ApiError::not_found("message"))?;
    let history: Vec<_> = state
        .store()
        .message_events(id)
        .await?
        .into_iter()
        .map(|e| json!({"status": e.status, "reason": e.reason, "at": to_rfc3339(e.at)}))
        .collect();
    let mut body = message_json(&m);
    body["history"] = serde_json::Value::Array(history);
    Ok(Json(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    status: Option<String>,
    to: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `GET /v1/messages?status=&to=&since=&until=&limit=&cursor=`, newest first.
pub async fn list(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::malformed(e.body_text()))?;
    let time = |v: &Option<String>, field| {
        v.as_deref()
            .map(|s| {
                parse_rfc3339(s).ok_or_else(|| {
                    ApiError::invalid("invalid-time", field, "expected an RFC 3339 time")
                })
            })
            .transpose()
    };
    let page = Page::parse(q.limit, q.cursor.as_deref())?;
    let filter = MessageFilter {
        status: q
            .status
            .as_deref()
            .map(|s| {
                s.parse().map_err(|_| {
                    ApiError::invalid("invalid-status", "status", format!("unknown status {s:?}"))
                })
            })
            .transpose()?,
        to: q
            .to
            .as_deref()
            .map(|n| {
                Msisdn::parse(n, &state.settings().default_region)
                    .map(|m| m.as_str().to_owned())
                    .map_err(|e| ApiError::invalid("invalid-number", "to", e.to_string()))
            })
            .transpose()?,
        since: time(&q.since, "since")?,
        until: time(&q.until, "until")?,
        before: page.before.map(MessageId::new),
        limit: page.limit,
    };
    let messages = state.store().list_messages(account, &filter).await?;
    let next_cursor = page.next_cursor(messages.len(), messages.last().map(|m| m.id.get()));
    Ok(Json(json!({
        "messages": messages.iter().map(message_json).collect::<Vec<_>>(),
        "next_cursor": next_cursor,
    })))
}

/// `DELETE /v1/messages/{id}`: cancels a scheduled or queued message.
pub async fn cancel(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = parse_id(&id)?;
    match state.store().cancel_message(account, id, now_us()).await? {
        CancelOutcome::Cancelled => Ok(Json(json!({"id": id, "status": MessageStatus::Cancelled}))),
        CancelOutcome::NotFound => Err(ApiError::not_found("message")),
        CancelOutcome::NotCancellable(status) => Err(ApiError::conflict(
            "not-cancellable",
            format!("the message is already {status}; only scheduled or queued messages can be cancelled"),
        )),
    }
}
