//! Operator endpoints under `/v1/admin`, behind the admin token.

use axum::extract::State;
use axum::Json;

use crate::state::{Admin, AppState};

/// `GET /v1/admin/connectors`: every connector's live state.
pub async fn connectors(State(state): State<AppState>, _admin: Admin) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "connectors": state.connectors() }))
}
