//! The account's own resources.

use axum::extract::State;
use axum::Json;
use serde_json::json;

use crate::error::ApiError;
use crate::state::{AppState, Authenticated};

/// `GET /v1/balance`
pub async fn balance(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
) -> Result<Json<serde_json::Value>, ApiError> {
    let b = state
        .store()
        .balance(account)
        .await?
        .ok_or_else(|| ApiError::not_found("account"))?;
    Ok(Json(json!({
        "available_czk": b.available,
        "reserved_czk": b.reserved,
        "currency": "CZK",
    })))
}
