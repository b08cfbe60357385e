//! Health, metrics, the OpenAPI document and the fallback.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

/// `GET /healthz`: 200 when the database answers.
pub async fn healthz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    match state.store().ping().await {
        Ok(()) => Ok(Json(json!({"status": "ok"}))),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            Err(ApiError::unavailable("the database does not answer"))
        }
    }
}

/// `GET /metrics` in the Prometheus / OpenMetrics text format.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut out = String::new();
    let encoded = {
        let registry = state.registry().lock().expect("metrics registry");
        prometheus_client::encoding::text::encode(&mut out, &registry)
    };
    match encoded {
        Ok(()) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            out,
        )
            .into_response(),
        Err(e) => ApiError::internal(&e).into_response(),
    }
}

pub const OPENAPI: &str = include_str!("../openapi.json");

/// `GET /openapi.json`
pub async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("resource")
}
