//! `/v1/inbound`: messages recipients sent back (replies, opt-out keywords).

use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::paging::Page;
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
    let page = Page::parse(q.limit, q.cursor.as_deref())?;
    let items = state
        .store()
        .list_inbound(account, page.before, page.limit)
        .await?;
    let next_cursor = page.next_cursor(items.len(), items.last().map(|m| m.id));
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
