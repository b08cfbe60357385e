//! Commercial messages (`"marketing": true`): the account's identification text and default
//! opt-out line (`/v1/account/marketing`), and the check that a commercial text carries the
//! "OS" mark, the sender's identification and an opt-out instruction (else 422 naming what is
//! missing). Whether a recipient may get it at all (a recorded basis) the store decides.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::Json;
use domain::optout::{commercial_requirements, CommercialRules};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::state::{AppState, Authenticated};

const MAX_TEXT: usize = 300;

/// Refuses a commercial text that lacks what the law asks of it.
pub(crate) async fn require(
    state: &AppState,
    account: domain::AccountId,
    text: &str,
) -> Result<(), ApiError> {
    let (identification, optout_line) = state.store().marketing_texts(account).await?;
    let missing = commercial_requirements(
        text,
        &CommercialRules {
            identification: identification.as_deref(),
            optout_line: optout_line.as_deref(),
            keywords: None,
        },
    );
    if missing.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = missing.iter().map(|m| m.explain()).collect();
    Err(ApiError::invalid(
        "marketing-requirements",
        "text",
        format!("a commercial message must contain {}", names.join("; ")),
    )
    .with_errors(
        missing
            .iter()
            .map(|m| json!({"missing": m.slug(), "detail": m.explain()}))
            .collect(),
    ))
}

/// `GET /v1/account/marketing`
pub async fn get(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
) -> Result<Json<Value>, ApiError> {
    let (identification, optout_line) = state.store().marketing_texts(account).await?;
    Ok(Json(
        json!({"identification": identification, "optout_line": optout_line}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MarketingBody {
    identification: Option<String>,
    optout_line: Option<String>,
}

/// `PUT /v1/account/marketing` `{"identification": "...", "optout_line": "..."}`
pub async fn put(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let (b, _): (MarketingBody, _) = crate::messages::parse_body(body)?;
    let clean = |v: Option<String>, field: &'static str| -> Result<Option<String>, ApiError> {
        let v = v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        if v.as_ref().is_some_and(|s| s.chars().count() > MAX_TEXT) {
            return Err(ApiError::invalid(
                "invalid-text",
                field,
                format!("{field} has at most {MAX_TEXT} characters"),
            ));
        }
        Ok(v)
    };
    let identification = clean(b.identification, "identification")?;
    let optout_line = clean(b.optout_line, "optout_line")?;
    state
        .store()
        .set_marketing_texts(account, identification.as_deref(), optout_line.as_deref())
        .await?;
    Ok(Json(
        json!({"identification": identification, "optout_line": optout_line}),
    ))
}
