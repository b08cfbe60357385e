//! Operator endpoints under `/v1/admin`, behind the admin token.

use axum::extract::State;
use axum::Json;

use crate::error::ApiError;
use crate::state::{Admin, AppState};

/// `GET /v1/admin/connectors`: every connector's live state, the device channel with its
/// devices online here and in total.
pub async fn connectors(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<serde_json::Value>, ApiError> {
    let mut connectors = state.connectors();
    for c in &mut connectors {
        if let Some(d) = &mut c.devices {
            d.total = state.store().live_device_total().await?;
        }
    }
    Ok(Json(serde_json::json!({ "connectors": connectors })))
}
