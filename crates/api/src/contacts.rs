//! `/v1/contact-lists`: lists of recipients, their CSV imports (streamed, with progress and a
//! report of refused rows) and sending to a list with `{name}`-style fields in the text.

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};
use sms::{Msisdn, TextOptions};
use store::{Basis, Contact, ImportRecord, ImportReject, ImportRow, NewMessage};

use crate::csv::CsvReader;
use crate::error::ApiError;
use crate::paging::Page;
use crate::state::{AppState, Authenticated};
use crate::timefmt::to_rfc3339;

/// Rows per committed import batch (progress advances by this much).
const IMPORT_BATCH: usize = 5000;
const MAX_LIST_NAME: usize = 200;
/// Contacts read per query when sending to a list.
const SEND_PAGE: u32 = 10_000;

fn list_json(l: &store::ContactList) -> Value {
    json!({
        "id": l.id.to_string(),
        "name": l.name,
        "contacts": l.contacts,
        "created_at": to_rfc3339(l.created_at),
    })
}

fn import_json(list: i64, r: &ImportRecord) -> Value {
    json!({
        "id": r.id.to_string(),
        "list_id": list.to_string(),
        "basis": r.basis.map(Basis::as_str),
        "status": r.status.as_str(),
        "rows_read": r.rows_read,
        "imported": r.imported,
        "duplicates": r.duplicates,
        "rejected": r.rejected,
        "blocked": r.blocked,
        "error": r.error,
        "created_at": to_rfc3339(r.created_at),
        "updated_at": to_rfc3339(r.updated_at),
    })
}

fn reject_json(r: &ImportReject) -> Value {
    json!({"row": r.row, "value": r.value, "reason": r.reason})
}

fn parse_id(raw: &str, what: &str) -> Result<i64, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found(what))
}

async fn owned_list(
    state: &AppState,
    account: domain::AccountId,
    raw: &str,
) -> Result<store::ContactList, ApiError> {
    let id = parse_id(raw, "contact list")?;
    state
        .store()
        .contact_list(account, id)
        .await?
        .ok_or_else(|| ApiError::not_found("contact list"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListBody {
    name: String,
}

fn list_name(body: Result<Bytes, BytesRejection>) -> Result<String, ApiError> {
    let (b, _): (ListBody, _) = crate::messages::parse_body(body)?;
    let name = b.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > MAX_LIST_NAME {
        return Err(ApiError::invalid(
            "invalid-name",
            "name",
            format!("name must have 1 to {MAX_LIST_NAME} characters"),
        ));
    }
    Ok(name)
}

/// `POST /v1/contact-lists`
pub async fn create(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let name = list_name(body)?;
    let id = state.ids().next();
    state
        .store()
        .create_contact_list(id, account, &name, store::now_us())
        .await?;
    let list = state
        .store()
        .contact_list(account, id)
        .await?
        .ok_or_else(|| ApiError::internal(&"a created list is missing"))?;
    Ok((StatusCode::CREATED, Json(list_json(&list))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `GET /v1/contact-lists`
pub async fn list(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::malformed(e.body_text()))?;
    let page = Page::parse(q.limit, q.cursor.as_deref())?;
    let lists = state
        .store()
        .contact_lists(account, page.before, page.limit)
        .await?;
    let next_cursor = page.next_cursor(lists.len(), lists.last().map(|l| l.id));
    Ok(Json(json!({
        "contact_lists": lists.iter().map(list_json).collect::<Vec<_>>(),
        "next_cursor": next_cursor,
    })))
}

/// `GET /v1/contact-lists/{id}`
pub async fn get_one(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(list_json(&owned_list(&state, account, &id).await?)))
}

/// `PATCH /v1/contact-lists/{id}`: renames the list.
pub async fn rename(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let list = owned_list(&state, account, &id).await?;
    let name = list_name(body)?;
    state
        .store()
        .rename_contact_list(account, list.id, &name)
        .await?;
    Ok(Json(list_json(&owned_list(&state, account, &id).await?)))
}

/// `DELETE /v1/contact-lists/{id}`: the list, its contacts and its import reports.
pub async fn delete(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let list = owned_list(&state, account, &id).await?;
    state.store().delete_contact_list(account, list.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactsQuery {
    limit: Option<u32>,
    /// The last number of the previous page.
    cursor: Option<String>,
}

fn contact_json(c: &Contact) -> Value {
    let fields: Value = c
        .fields
        .as_deref()
        .and_then(|f| serde_json::from_str(f).ok())
        .unwrap_or(Value::Object(Default::default()));
    json!({"number": c.number, "name": c.name, "fields": fields, "basis": c.basis.map(Basis::as_str)})
}

/// `GET /v1/contact-lists/{id}/contacts?limit=&cursor=`, by number.
pub async fn contacts(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    Path(id): Path<String>,
    query: Result<Query<ContactsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::malformed(e.body_text()))?;
    let list = owned_list(&state, account, &id).await?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid(
            "invalid-limit",
            "limit",
            "limit must be between 1 and 1000",
        ));
    }
    let items = state
        .store()
        .contacts(list.id, q.cursor.as_deref(), limit)
        .await?;
    let next_cursor = (items.len() == limit as usize)
        .then(|| items.last().map(|c| c.number.clone()))
        .flatten();
    Ok(Json(json!({
        "contacts": items.iter().map(contact_json).collect::<Vec<_>>(),
        "next_cursor": next_cursor,
    })))
}

/// `DELETE /v1/contact-lists/{id}/contacts/{number}`
pub async fn delete_contact(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    Path((id, number)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let list = owned_list(&state, account, &id).await?;
    let number = Msisdn::parse(&number, &state.settings().default_region)
        .map_err(|e| ApiError::invalid("invalid-number", "number", e.to_string()))?;
    if state
        .store()
        .delete_contact(list.id, number.as_str())
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("contact"))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// `consent` or `customer`: the basis for commercial messages the uploader declares.
    basis: Option<String>,
}

/// The columns of an upload, from its header line.
struct Columns {
    number: usize,
    name: Option<usize>,
    /// (index, header) of the custom fields.
    fields: Vec<(usize, String)>,
}

const NUMBER_HEADERS: &[&str] = &[
    "number",
    "phone",
    "mobile",
    "msisdn",
    "tel",
    "telefon",
    "telefonní číslo",
    "číslo",
    "cislo",
];
const NAME_HEADERS: &[&str] = &["name", "jméno", "jmeno"];

fn columns(header: &[String]) -> Result<Columns, ApiError> {
    let norm: Vec<String> = header.iter().map(|h| h.trim().to_lowercase()).collect();
    let find = |names: &[&str]| norm.iter().position(|h| names.contains(&h.as_str()));
    let number = find(NUMBER_HEADERS).ok_or_else(|| {
        ApiError::invalid(
            "invalid-csv",
            "body",
            "the first line must name the columns, one of them `number` (or phone, telefon)",
        )
    })?;
    let name = find(NAME_HEADERS);
    let fields = header
        .iter()
        .enumerate()
        .filter(|(i, h)| *i != number && Some(*i) != name && !h.trim().is_empty())
        .map(|(i, h)| (i, h.trim().to_owned()))
        .collect();
    Ok(Columns {
        number,
        name,
        fields,
    })
}

/// One import in progress: turns records into rows and commits them batch by batch.
struct Import<'a> {
    state: &'a AppState,
    account: domain::AccountId,
    list: i64,
    id: i64,
    basis: Option<Basis>,
    columns: Option<Columns>,
    rows: Vec<ImportRow>,
    rejects: Vec<ImportReject>,
    rows_read: i64,
}

impl Import<'_> {
    fn take(&mut self, row: u64, fields: Vec<String>) -> Result<(), ApiError> {
        let row = i64::try_from(row).unwrap_or(i64::MAX);
        let Some(cols) = &self.columns else {
            self.columns = Some(columns(&fields)?);
            return Ok(());
        };
        self.rows_read = row;
        let raw = fields.get(cols.number).map(|s| s.trim()).unwrap_or("");
        let number = match Msisdn::parse(raw, &self.state.settings().default_region) {
            Ok(n) => n,
            Err(e) => {
                self.rejects.push(ImportReject {
                    row,
                    value: Some(raw.chars().take(100).collect()),
                    reason: e.to_string(),
                });
                return Ok(());
            }
        };
        let name = cols
            .name
            .and_then(|i| fields.get(i))
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        let custom: serde_json::Map<String, Value> = cols
            .fields
            .iter()
            .filter_map(|(i, h)| {
                fields
                    .get(*i)
                    .map(|v| (h.clone(), Value::String(v.trim().to_owned())))
            })
            .collect();
        self.rows.push(ImportRow {
            row,
            contact: Contact {
                number: number.as_str().to_owned(),
                name,
                fields: (!custom.is_empty()).then(|| Value::Object(custom).to_string()),
                basis: self.basis,
            },
        });
        Ok(())
    }

    async fn commit(&mut self) -> Result<(), ApiError> {
        if self.rows.is_empty() && self.rejects.is_empty() {
            return Ok(());
        }
        self.state
            .store()
            .import_batch(
                self.id,
                self.account,
                self.list,
                &self.rows,
                &self.rejects,
                self.rows_read,
                store::now_us(),
            )
            .await?;
        self.rows.clear();
        self.rejects.clear();
        Ok(())
    }

    async fn run<S, E>(&mut self, mut stream: S) -> Result<(), ApiError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let mut csv = CsvReader::new();
        let mut records: Vec<(u64, Vec<String>)> = Vec::new();
        let mut done = false;
        while !done {
            match stream.next().await {
                Some(Ok(chunk)) => csv
                    .feed(&chunk, &mut |r, f| records.push((r, f)))
                    .map_err(|e| ApiError::invalid("invalid-csv", "body", e.to_string()))?,
                Some(Err(e)) => {
                    return Err(ApiError::malformed(format!("the upload broke off: {e}")))
                }
                None => {
                    csv.finish(&mut |r, f| records.push((r, f)))
                        .map_err(|e| ApiError::invalid("invalid-csv", "body", e.to_string()))?;
                    done = true;
                }
            }
            for (row, fields) in records.drain(..) {
                self.take(row, fields)?;
                if self.rows.len() + self.rejects.len() >= IMPORT_BATCH {
                    self.commit().await?;
                }
            }
        }
        if self.columns.is_none() {
            return Err(ApiError::invalid(
                "invalid-csv",
                "body",
                "the upload is empty",
            ));
        }
        self.commit().await
    }
}

/// The basis for commercial messages an uploader declares: `consent`, `customer` or none.
pub fn parse_basis(raw: Option<&str>) -> Result<Option<Basis>, ApiError> {
    match raw {
        None | Some("") | Some("none") => Ok(None),
        Some(b) => Basis::parse(b).map(Some).ok_or_else(|| {
            ApiError::invalid(
                "invalid-basis",
                "basis",
                "basis must be `consent` (the recipients agreed) or `customer` (existing customers)",
            )
        }),
    }
}

/// A finished import: its record and the first refused rows.
pub struct ImportDone {
    pub record: ImportRecord,
    pub rejects: Vec<ImportReject>,
}

/// Imports a CSV upload, read from `stream` as it arrives, into the account's list `list`: rows
/// are committed batch by batch (the import's progress), so memory stays bounded whatever the
/// size. The one way an upload becomes contacts, for the API and the web app alike.
pub async fn import_stream<S, E>(
    state: &AppState,
    account: domain::AccountId,
    list: i64,
    basis: Option<Basis>,
    stream: S,
) -> Result<ImportDone, ApiError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let import_id = state.ids().next();
    state
        .store()
        .start_import(import_id, account, list, basis, store::now_us())
        .await?;
    let mut import = Import {
        state,
        account,
        list,
        id: import_id,
        basis,
        columns: None,
        rows: Vec::new(),
        rejects: Vec::new(),
        rows_read: 0,
    };
    let outcome = import.run(stream).await;
    let error = outcome.as_ref().err().map(|e| e.detail().to_owned());
    state
        .store()
        .finish_import(import_id, error.as_deref(), store::now_us())
        .await?;
    outcome?;
    let record = state
        .store()
        .contact_import(account, list, import_id)
        .await?
        .ok_or_else(|| ApiError::internal(&"a finished import is missing"))?;
    let rejects = state.store().import_rejects(import_id, 0, 100).await?;
    Ok(ImportDone { record, rejects })
}

/// `POST /v1/contact-lists/{id}/import?basis=consent|customer`, a CSV body (streamed).
pub async fn import(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    Path(id): Path<String>,
    query: Result<Query<ImportQuery>, axum::extract::rejection::QueryRejection>,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Query(q) = query.map_err(|e| ApiError::malformed(e.body_text()))?;
    let list = owned_list(&state, account, &id).await?;
    let basis = parse_basis(q.basis.as_deref())?;
    let done = import_stream(&state, account, list.id, basis, body.into_data_stream()).await?;
    let mut body = import_json(list.id, &done.record);
    body["rejects"] = done.rejects.iter().map(reject_json).collect();
    Ok((StatusCode::CREATED, Json(body)))
}

/// `GET /v1/contact-lists/{id}/imports`, newest first (a running import shows its progress).
pub async fn imports(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let list = owned_list(&state, account, &id).await?;
    let items = state.store().contact_imports(account, list.id).await?;
    Ok(Json(json!({
        "imports": items.iter().map(|r| import_json(list.id, r)).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectsQuery {
    limit: Option<u32>,
    /// The last row number of the previous page.
    cursor: Option<i64>,
}

/// `GET /v1/contact-lists/{id}/imports/{import_id}?limit=&cursor=`: progress and the refused
/// rows (a page of them, by row number).
pub async fn import_status(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    Path((id, import_id)): Path<(String, String)>,
    query: Result<Query<RejectsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::malformed(e.body_text()))?;
    let list = owned_list(&state, account, &id).await?;
    let import_id = parse_id(&import_id, "import")?;
    let record = state
        .store()
        .contact_import(account, list.id, import_id)
        .await?
        .ok_or_else(|| ApiError::not_found("import"))?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let rejects = state
        .store()
        .import_rejects(import_id, q.cursor.unwrap_or(0), limit)
        .await?;
    let mut body = import_json(list.id, &record);
    body["next_cursor"] = json!((rejects.len() == limit as usize)
        .then(|| rejects.last().map(|r| r.row))
        .flatten());
    body["rejects"] = rejects.iter().map(reject_json).collect();
    Ok(Json(body))
}

/// The id in `"to_list"`: a string (as the API writes ids) or a number.
pub(crate) fn list_id(v: &Value) -> Result<i64, ApiError> {
    let id = match v {
        Value::String(s) => s.parse::<i64>().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    };
    id.ok_or_else(|| {
        ApiError::invalid(
            "invalid-list",
            "to_list",
            "to_list must be a contact list id",
        )
    })
}

/// `text` with `{name}` and `{field}` replaced from the contact (missing ones become empty).
pub(crate) fn render(text: &str, contact: &Contact) -> String {
    let fields: HashMap<String, String> = contact
        .fields
        .as_deref()
        .and_then(|f| serde_json::from_str::<HashMap<String, Value>>(f).ok())
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            (k.to_lowercase(), v)
        })
        .collect();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if !after[..close].contains('{') => {
                let key = after[..close].trim().to_lowercase();
                if key == "name" {
                    out.push_str(contact.name.as_deref().unwrap_or(""));
                } else {
                    out.push_str(fields.get(&key).map(String::as_str).unwrap_or(""));
                }
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The messages of a send to a contact list (`"to_list"` in `POST /v1/messages`): one per
/// contact, its text rendered from `text` and priced by its own parts and destination, the rest
/// as in `proto`.
/// Contacts whose rendered text cannot be sent are returned as errors with their index.
pub(crate) async fn list_messages(
    state: &AppState,
    account: domain::AccountId,
    list: i64,
    text: &str,
    opts: &TextOptions,
    prices: &crate::billing::Prices,
    proto: &NewMessage,
) -> Result<(Vec<NewMessage>, Vec<Value>), ApiError> {
    let no_list = || ApiError::invalid("invalid-list", "to_list", "no such contact list");
    let id = list;
    let list = state
        .store()
        .contact_list(account, id)
        .await?
        .ok_or_else(no_list)?;
    let max = state.settings().max_list_recipients;
    if list.contacts == 0 || list.contacts > max as i64 {
        return Err(ApiError::invalid(
            "invalid-recipients",
            "to_list",
            format!(
                "the list has {} contacts; a send takes 1 to {max}",
                list.contacts
            ),
        ));
    }
    let mut messages = Vec::with_capacity(list.contacts as usize);
    let mut errors = Vec::new();
    let mut after: Option<String> = None;
    let mut index = 0usize;
    loop {
        let page = state
            .store()
            .contacts(list.id, after.as_deref(), SEND_PAGE)
            .await?;
        for c in &page {
            let body = render(text, c);
            match sms::analyse(&body, opts) {
                Ok(a) => {
                    let price = prices.price(&c.number, a.parts())?;
                    messages.push(NewMessage {
                        id: domain::MessageId::new(state.ids().next()),
                        to: c.number.clone(),
                        body: a.text_sent().to_owned(),
                        encoding: match a.encoding() {
                            sms::Encoding::Gsm7 => "gsm7",
                            sms::Encoding::Ucs2 => "ucs2",
                        },
                        parts: a.parts(),
                        price,
                        ..proto.clone()
                    });
                }
                Err(e) => errors.push(json!({
                    "index": index,
                    "to": c.number,
                    "type": "/problems/invalid-text",
                    "detail": e.to_string(),
                })),
            }
            index += 1;
        }
        if page.len() < SEND_PAGE as usize || messages.len() + errors.len() > max {
            break;
        }
        after = page.last().map(|c| c.number.clone());
    }
    Ok((messages, errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_come_from_the_contact() {
        let c = Contact {
            number: "+420777000001".into(),
            name: Some("Jana".into()),
            fields: Some(r#"{"City":"Brno","points":12}"#.into()),
            basis: None,
        };
        let check = |t: &str, e: &str| assert_eq!(render(t, &c), e, "{t}");
        check("Hi {name}, {city}: {POINTS}", "Hi Jana, Brno: 12");
        check("{missing}!", "!");
        check("a { b } {", "a  {");
        check("{{name}}", "{Jana}");
        check("no braces", "no braces");
    }
}
