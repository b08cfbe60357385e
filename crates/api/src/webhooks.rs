//! `/v1/webhooks`: the account's webhook endpoints and the deliveries made to them.
//!
//! The signing secret (`whsec_...`) is answered once, when the webhook is created; the service
//! keeps it encrypted (see `webhooks::secrets`) to sign every delivery.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use store::{NewWebhook, WebhookRecord};

use crate::error::ApiError;
use crate::paging::Page;
use crate::state::{AppState, Authenticated};
use crate::timefmt::to_rfc3339;

pub use ::webhooks::EVENT_TYPES;

const MAX_URL: usize = 2000;
/// Webhooks per account that are not deleted.
const MAX_WEBHOOKS: usize = 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    url: String,
    events: Vec<String>,
}

fn webhook_json(w: &WebhookRecord) -> serde_json::Value {
    json!({
        "id": w.id.to_string(),
        "url": w.url,
        "events": w.events,
        "created_at": to_rfc3339(w.created_at),
    })
}

/// An http or https URL with a host and no credentials.
fn parse_url(raw: &str) -> Result<String, ApiError> {
    let bad = |detail: &str| ApiError::invalid("invalid-url", "url", detail.to_owned());
    if raw.len() > MAX_URL {
        return Err(bad("the URL is longer than 2000 characters"));
    }
    let url = url::Url::parse(raw.trim()).map_err(|e| bad(&format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("the URL must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("the URL has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "the URL must not carry credentials; verify the signature instead",
        ));
    }
    Ok(url.to_string())
}

fn parse_events(raw: &[String]) -> Result<Vec<String>, ApiError> {
    let mut events = Vec::new();
    for e in raw {
        if !::webhooks::EVENT_TYPES.contains(&e.as_str()) {
            return Err(ApiError::invalid(
                "invalid-events",
                "events",
                format!(
                    "unknown event type {e:?}; known: {}",
                    ::webhooks::EVENT_TYPES.join(", ")
                ),
            ));
        }
        if !events.contains(e) {
            events.push(e.clone());
        }
    }
    if events.is_empty() {
        return Err(ApiError::invalid(
            "invalid-events",
            "events",
            "name at least one event type",
        ));
    }
    Ok(events)
}

fn parse_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found("webhook"))
}

/// Registers a webhook for the account after checking its URL and event types; answers the
/// record and its signing secret, which is shown only once (the service keeps it encrypted).
pub async fn register(
    state: &AppState,
    account: domain::AccountId,
    raw_url: &str,
    raw_events: &[String],
) -> Result<(WebhookRecord, String), ApiError> {
    let url = parse_url(raw_url)?;
    let events = parse_events(raw_events)?;
    let key = state.webhook_key().ok_or_else(|| {
        ApiError::unavailable(
            "webhooks are not configured on this server: it has no secrets key \
             (APISENDSMS_SECRETS_KEY)",
        )
    })?;
    if state.store().list_webhooks(account).await?.len() >= MAX_WEBHOOKS {
        return Err(ApiError::conflict(
            "too-many-webhooks",
            format!("an account can have at most {MAX_WEBHOOKS} webhooks; delete one first"),
        ));
    }
    let id = state.ids().next();
    let secret = ::webhooks::generate_secret();
    let w = NewWebhook {
        id,
        account,
        url,
        events,
        secret: key.encrypt(id, &secret),
        now: store::now_us(),
    };
    state.store().create_webhook(&w).await?;
    let record = WebhookRecord {
        id,
        account,
        url: w.url,
        events: w.events,
        secret: String::new(),
        created_at: w.now,
    };
    Ok((record, secret))
}

/// `POST /v1/webhooks` {url, events} -> 201 with the secret, shown only now.
pub async fn create(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    state.check_rate(account)?;
    let (req, _): (CreateRequest, _) = crate::messages::parse_body(body)?;
    let (record, secret) = register(&state, account, &req.url, &req.events).await?;
    let mut body = webhook_json(&record);
    body["secret"] = json!(secret);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `GET /v1/webhooks`
pub async fn list(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
) -> Result<Json<serde_json::Value>, ApiError> {
    let hooks = state.store().list_webhooks(account).await?;
    Ok(Json(
        json!({"webhooks": hooks.iter().map(webhook_json).collect::<Vec<_>>()}),
    ))
}

/// `GET /v1/webhooks/{id}`
pub async fn get_one(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let w = state
        .store()
        .get_webhook(account, parse_id(&id)?)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))?;
    Ok(Json(webhook_json(&w)))
}

/// `DELETE /v1/webhooks/{id}` -> 204; deliveries not yet made fail.
pub async fn delete(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state
        .store()
        .delete_webhook(account, parse_id(&id)?, store::now_us())
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("webhook"))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `GET /v1/webhooks/{id}/deliveries?limit=&cursor=`, newest first, each with its attempts.
pub async fn deliveries(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    Path(id): Path<String>,
    query: Result<Query<DeliveriesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::malformed(e.body_text()))?;
    let page = Page::parse(q.limit, q.cursor.as_deref())?;
    let id = parse_id(&id)?;
    // A deleted webhook's deliveries stay readable; another account's webhook is not found.
    let items = state
        .store()
        .list_deliveries(account, id, page.before, page.limit)
        .await?;
    if items.is_empty() && state.store().get_webhook(account, id).await?.is_none() {
        return Err(ApiError::not_found("webhook"));
    }
    let ids: Vec<i64> = items.iter().map(|d| d.id).collect();
    let attempts = state.store().delivery_attempts(&ids).await?;
    let next_cursor = page.next_cursor(items.len(), items.last().map(|d| d.id));
    let deliveries: Vec<_> = items
        .iter()
        .map(|d| {
            let payload: serde_json::Value =
                serde_json::from_str(&d.payload).unwrap_or(serde_json::Value::Null);
            json!({
                "id": d.id.to_string(),
                "event_type": d.event_type,
                "status": d.status,
                "attempt_count": d.attempts,
                "next_attempt_at": d.next_attempt_at.map(to_rfc3339),
                "last_status_code": d.last_status_code,
                "last_error": d.last_error,
                "created_at": to_rfc3339(d.created_at),
                "delivered_at": d.delivered_at.map(to_rfc3339),
                "payload": payload,
                "attempts": attempts.iter().filter(|a| a.delivery_id == d.id).map(|a| json!({
                    "at": to_rfc3339(a.at),
                    "duration_ms": a.duration_us / 1000,
                    "status_code": a.status_code,
                    "error": a.error,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(
        json!({"deliveries": deliveries, "next_cursor": next_cursor}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_with_a_host_and_no_credentials() {
        assert_eq!(
            parse_url("https://example.com/hook?x=1").unwrap(),
            "https://example.com/hook?x=1"
        );
        assert!(parse_url("http://127.0.0.1:8080/h").is_ok());
        for bad in [
            "ftp://example.com/",
            "javascript:alert(1)",
            "example.com/hook",
            "https://user:pw@example.com/",
            "",
        ] {
            assert_eq!(
                parse_url(bad).unwrap_err().status(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "{bad}"
            );
        }
        assert!(parse_url(&format!("https://example.com/{}", "a".repeat(2000))).is_err());
    }

    #[test]
    fn events_are_known_types_without_repeats() {
        let v = |s: &[&str]| s.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            parse_events(&v(&["inbound", "inbound", "message.status"])).unwrap(),
            v(&["inbound", "message.status"])
        );
        assert!(parse_events(&v(&[])).is_err());
        assert!(parse_events(&v(&["message.sent"])).is_err());
    }
}
