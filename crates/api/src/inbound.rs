//! `/v1/inbound`: messages recipients sent back (replies, opt-out keywords).

use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::state::{AppState, Authenticated};
use crate::timefmt::to_rfc3339;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `GET /v1/inbound?limit=&cursor=`, newest first.
pub async fn list(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    query: Result<Query<InboundQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::malformed(e.body_text()))?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid(
            "invalid-limit",
            "limit",
            "limit must be between 1 and 1000",
        ));
    }
    let before = q
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<i64>().map_err(|_| {
                ApiError::invalid("invalid-cursor", "cursor", "not a cursor from this API")
            })
        })
        .transpose()?;
    let items = state.store().list_inbound(account, before, limit).await?;
    let next_cursor = (items.len() == limit as usize)
        .then(|| items.last().map(|m| m.id.to_string()))
        .flatten();
    Ok(Json(json!({
        "messages": items.iter().map(|m| json!({
            "id": m.id.to_string(),
            "from": m.from,
            "to": m.to,
            "text": m.body,
            "connector": m.connector,
            "received_at": to_rfc3339(m.received_at),
        })).collect::<Vec<_>>(),
        "next_cursor": next_cursor,
    })))
}
