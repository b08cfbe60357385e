//! `/v1/blacklist` (an account's own opt-out list) and `/v1/recipients/*`, the operator staff's
//! actions on a recipient's request: erasure (GDPR Art. 17), restriction (Art. 18) and a look
//! at a number's entries.
//!
//! Staff are accounts with the `staff` flag (set by `apisendsms accounts create --staff`); their
//! API keys may call `/v1/recipients/*`, every other key gets 403.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use sms::Msisdn;
use store::{BlacklistEntry, EntryKind, Removal, Scope, Source};

use crate::error::ApiError;
use crate::paging::Page;
use crate::state::{AppState, Authenticated};
use crate::timefmt::to_rfc3339;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NumberBody {
    number: String,
}

fn number(state: &AppState, raw: &str) -> Result<Msisdn, ApiError> {
    Msisdn::parse(raw, &state.settings().default_region)
        .map_err(|e| ApiError::invalid("invalid-number", "number", e.to_string()))
}

fn body_number(state: &AppState, body: Result<Bytes, BytesRejection>) -> Result<Msisdn, ApiError> {
    let (b, _): (NumberBody, _) = crate::messages::parse_body(body)?;
    number(state, &b.number)
}

fn entry_json(e: &BlacklistEntry) -> Value {
    json!({
        "id": e.id.to_string(),
        "number": e.number,
        "erased": e.number.is_none(),
        "scope": match e.scope { Scope::Global => "global", Scope::Account(_) => "account" },
        "kind": e.kind.as_str(),
        "source": e.source.as_str(),
        "created_at": to_rfc3339(e.created_at),
    })
}

/// A number in any form a person writes it, as E.164 (the account's default region).
pub fn parse_number(state: &AppState, raw: &str) -> Result<Msisdn, ApiError> {
    number(state, raw)
}

/// Puts `n` on the account's own Blacklist; `false` when it was already there.
pub async fn add_number(
    state: &AppState,
    account: domain::AccountId,
    n: &Msisdn,
    source: Source,
) -> Result<bool, ApiError> {
    Ok(state
        .store()
        .add_to_blacklist(
            state.ids().next(),
            Scope::Account(account),
            n.as_str(),
            EntryKind::OptOut,
            source,
            store::now_us(),
        )
        .await?)
}

/// `POST /v1/blacklist` `{"number": "..."}`: the account stops sending to the number.
pub async fn add(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let n = body_number(&state, body)?;
    let added = add_number(&state, account, &n, Source::Api).await?;
    let status = if added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(json!({"number": n.as_str(), "blacklisted": true})),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `GET /v1/blacklist`: the account's entries, newest first.
pub async fn list(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::malformed(e.body_text()))?;
    let page = Page::parse(q.limit, q.cursor.as_deref())?;
    let items = state
        .store()
        .list_blacklist(account, page.before, page.limit)
        .await?;
    let next_cursor = page.next_cursor(items.len(), items.last().map(|e| e.id));
    Ok(Json(json!({
        "entries": items.iter().map(entry_json).collect::<Vec<_>>(),
        "next_cursor": next_cursor,
    })))
}

/// `DELETE /v1/blacklist/{number}`: lifts the account's own entry; one the recipient made (an
/// opt-out reply) only the recipient can lift.
pub async fn remove(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    let n = number(&state, &raw)?;
    match state
        .store()
        .remove_from_blacklist(account, n.as_str())
        .await?
    {
        Removal::Removed => Ok(StatusCode::NO_CONTENT),
        Removal::NotFound => Err(ApiError::not_found("blacklist entry")),
        Removal::FromRecipient => Err(ApiError::conflict(
            "opted-out-by-recipient",
            "the recipient opted out by a reply; only their own opt-in reply (START) lifts it",
        )),
    }
}

/// Which of the messages the store will block, for the response (the store decides again).
pub(crate) async fn predicted_blocks(
    state: &AppState,
    account: domain::AccountId,
    messages: &[store::NewMessage],
    marketing: bool,
) -> Result<Vec<Option<store::BlockReason>>, ApiError> {
    let numbers: Vec<&str> = messages.iter().map(|m| m.to.as_str()).collect();
    Ok(state
        .store()
        .block_reasons(account, &numbers, marketing)
        .await?)
}

async fn require_staff(state: &AppState, account: domain::AccountId) -> Result<(), ApiError> {
    if state.store().is_staff(account).await? {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "only the operator's staff may act on a recipient's data",
        ))
    }
}

/// The ways the number may be written elsewhere, for the erasure sweep: its digits without the
/// plus and, for Czech and Slovak numbers, the nine national digits.
fn written_forms(n: &Msisdn) -> Vec<String> {
    let digits = n.digits();
    let mut forms = vec![digits.to_owned()];
    if digits.starts_with("420") || digits.starts_with("421") {
        forms.push(digits[3..].to_owned());
    }
    forms
}

/// Erases everything about `n` (its contacts, message texts, inbound messages, the number in
/// every text column); what remains is a Blacklist entry holding only its keyed hash.
pub async fn erase_number(state: &AppState, n: &Msisdn) -> Result<store::Erasure, ApiError> {
    Ok(state
        .store()
        .erase_recipient(
            state.ids().next(),
            n.as_str(),
            &written_forms(n),
            store::now_us(),
        )
        .await?)
}

/// Blocks `n` for every account: `Restricted` (Art. 18: kept, never sent to) or `OptOut`
/// (the recipient asked the operator for no messages at all).
pub async fn block_globally(
    state: &AppState,
    n: &Msisdn,
    kind: EntryKind,
    source: Source,
) -> Result<(), ApiError> {
    state
        .store()
        .add_to_blacklist(
            state.ids().next(),
            Scope::Global,
            n.as_str(),
            kind,
            source,
            store::now_us(),
        )
        .await?;
    Ok(())
}

/// `POST /v1/recipients/erase` `{"number": "..."}` (staff): erases everything about the number;
/// a Blacklist entry holding only its keyed hash keeps blocking it.
pub async fn erase(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    require_staff(&state, account).await?;
    let n = body_number(&state, body)?;
    let report = erase_number(&state, &n).await?;
    tracing::info!(staff_account = %account, "recipient erased");
    Ok(Json(json!({
        "erased": true,
        "contacts_deleted": report.contacts_deleted,
        "messages_anonymised": report.messages_anonymised,
        "messages_blocked": report.messages_blocked,
        "inbound_deleted": report.inbound_deleted,
        "other_rows_scrubbed": report.other_rows_scrubbed,
    })))
}

/// `POST /v1/recipients/restrict` `{"number": "..."}` (staff): kept, never sent to.
pub async fn restrict(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    require_staff(&state, account).await?;
    let n = body_number(&state, body)?;
    block_globally(&state, &n, EntryKind::Restricted, Source::Staff).await?;
    Ok(Json(json!({"number": n.as_str(), "restricted": true})))
}

/// `DELETE /v1/recipients/restrict/{number}` (staff): lifts the restriction.
pub async fn unrestrict(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    require_staff(&state, account).await?;
    let n = number(&state, &raw)?;
    if state.store().lift_restriction(n.as_str()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("restriction"))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberQuery {
    number: String,
}

/// `GET /v1/recipients?number=` (staff): the number's entries in every scope.
pub async fn status(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    query: Result<Query<NumberQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::malformed(e.body_text()))?;
    require_staff(&state, account).await?;
    let n = number(&state, &q.number)?;
    let entries = state.store().blacklist_entries(n.as_str()).await?;
    let has = |k: EntryKind| {
        entries
            .iter()
            .any(|e| e.kind == k && e.scope == Scope::Global)
    };
    Ok(Json(json!({
        "restricted": has(EntryKind::Restricted),
        "erased": has(EntryKind::Erased),
        "entries": entries.iter().map(entry_json).collect::<Vec<_>>(),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_forms_for_erasure() {
        let n = Msisdn::from_e164("+420777123456").unwrap();
        assert_eq!(written_forms(&n), vec!["420777123456", "777123456"]);
    }
}
