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

include!(concat!(env!("OUT_DIR"), "/openapi_fragments.rs"));

/// The OpenAPI document: `openapi/00-base.json` with the `paths` and `components` of every other
/// fragment in `openapi/` merged in (file name order). A path or component defined twice is a
/// build mistake, caught by the tests below.
pub fn openapi_document() -> Result<serde_json::Value, String> {
    let mut fragments = OPENAPI_FRAGMENTS.iter();
    let (_, base) = fragments.next().ok_or("no OpenAPI fragments")?;
    let mut doc: serde_json::Value =
        serde_json::from_str(base).map_err(|e| format!("00-base.json: {e}"))?;
    for (name, text) in fragments {
        let part: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("{name}: {e}"))?;
        for (section, target) in [("paths", "/paths"), ("schemas", "/components/schemas")] {
            let source = match section {
                "paths" => part.get("paths"),
                _ => part.pointer("/components/schemas"),
            };
            let Some(source) = source.and_then(|v| v.as_object()) else {
                continue;
            };
            let target = doc
                .pointer_mut(target)
                .and_then(|v| v.as_object_mut())
                .ok_or("00-base.json lacks paths or components.schemas")?;
            for (key, value) in source {
                if target.insert(key.clone(), value.clone()).is_some() {
                    return Err(format!("{name}: {section} entry {key} is defined twice"));
                }
            }
        }
    }
    Ok(doc)
}

static OPENAPI: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    openapi_document()
        .and_then(|d| serde_json::to_string(&d).map_err(|e| e.to_string()))
        .unwrap_or_else(|e| panic!("the OpenAPI fragments do not merge: {e}"))
});

/// `GET /openapi.json`
pub async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        OPENAPI.as_str(),
    )
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("resource")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    match (k.as_str(), v) {
                        ("$ref", serde_json::Value::String(r)) => out.push(r),
                        _ => refs(v, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn fragments_merge_and_every_reference_resolves() {
        let doc = openapi_document().unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        assert!(doc["paths"]
            .as_object()
            .unwrap()
            .contains_key("/v1/messages"));
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(!found.is_empty());
        for r in found {
            let pointer = r.strip_prefix('#').expect("only local references");
            assert!(doc.pointer(pointer).is_some(), "unresolved reference {r}");
        }
    }
}
