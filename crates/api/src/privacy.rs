//! Privacy over the API (`/v1/privacy/...`), and the answers to access and portability requests.
//!
//! - A customer records a recipient's objection to its commercial messages, and opens and
//!   follows support tickets (questions, complaints about a message or a bill, data requests).
//! - The operator's staff (accounts with the `staff` flag, acting as the DPO over the API)
//!   verify the audit log, run and read the retention job, and export a number's traffic data
//!   for an authority's lawful request (audited with its reference).
//! - [`access_archive`] builds the zip of an access or portability answer: the person's data as
//!   JSON and CSV and the Art. 15 information ([`article15_text`]) from the record of processing.

use std::io::Write;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use domain::processing::{PURPOSES, RECIPIENTS};
use domain::retention::{Enforcement, Period, POLICIES};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sms::Msisdn;
use store::{DataTable, NewTicket, TicketKind};

use crate::error::ApiError;
use crate::state::{AppState, Authenticated};
use crate::timefmt::{parse_rfc3339, to_rfc3339};

/// The Art. 15 information in Czech (`cs`) or English: purposes and legal bases, categories,
/// recipients and transfers to the USA with their safeguards, retention, the rights, the right
/// to complain to ÚOOÚ, the source, and that no decisions are automated.
pub fn article15_text(lang: &str) -> String {
    let cs = lang == "cs";
    let pick = |t: (&'static str, &'static str)| if cs { t.0 } else { t.1 };
    let mut s = String::new();
    let h = |s: &mut String, cs_text: &str, en_text: &str| {
        s.push_str(if cs { cs_text } else { en_text });
        s.push('\n');
    };
    h(
        &mut s,
        "INFORMACE PODLE ČL. 15 GDPR",
        "INFORMATION UNDER ART. 15 GDPR",
    );
    h(&mut s, "Správce: WTI LLC prostřednictvím WTI LLC o.z., IČ 09828397, Světova 523/1, 180 00 Praha 8.", "Controller: WTI LLC through WTI LLC o.z., Company ID 09828397, Světova 523/1, 180 00 Prague 8.");
    s.push('\n');
    h(
        &mut s,
        "1. Účely a právní základy zpracování",
        "1. Purposes and legal bases of processing",
    );
    for p in PURPOSES {
        s.push_str(&format!("- {}: {}\n", pick(p.text), pick(p.basis.text())));
    }
    s.push('\n');
    h(&mut s, "2. Kategorie osobních údajů: viz soubory v tomto archivu (data.json, *.csv): identifikační a kontaktní údaje, údaje o službách a vyúčtování, provozní údaje zpráv, komunikace, souhlasy.", "2. Categories of personal data: see the files in this archive (data.json, *.csv): identification and contact data, services and billing, traffic data of messages, communication, consents.");
    s.push('\n');
    h(
        &mut s,
        "3. Příjemci a předání mimo EU",
        "3. Recipients and transfers outside the EU",
    );
    for r in RECIPIENTS {
        let role = if r.processor {
            if cs {
                "zpracovatel"
            } else {
                "processor"
            }
        } else if cs {
            "příjemce"
        } else {
            "recipient"
        };
        s.push_str(&format!("- {} ({role})", pick(r.text)));
        if let Some(t) = r.transfer {
            s.push_str(&format!("; {}", pick(t)));
        }
        s.push('\n');
    }
    s.push('\n');
    h(&mut s, "4. Doba uložení", "4. Retention");
    for p in POLICIES {
        let period = match p.period {
            Period::Days(d) => format!("{d} {}", if cs { "dní" } else { "days" }),
            Period::Months(m) => format!("{m} {}", if cs { "měsíců" } else { "months" }),
            Period::Years(y) => format!("{y} {}", if cs { "let" } else { "years" }),
            Period::UntilWithdrawal => (if cs {
                "do odvolání souhlasu"
            } else {
                "until the consent is withdrawn"
            })
            .to_owned(),
        };
        s.push_str(&format!(
            "- {}: {period}; {}\n",
            pick(p.data),
            pick(p.legal_basis)
        ));
    }
    s.push('\n');
    h(&mut s, "5. Vaše práva: přístup, oprava, výmaz, omezení zpracování, přenositelnost, námitka (proti přímému marketingu vždy), odvolání souhlasu kdykoli a zdarma.", "5. Your rights: access, rectification, erasure, restriction, portability, objection (always against direct marketing), withdrawal of consent at any time and free of charge.");
    h(&mut s, "6. Máte právo podat stížnost u Úřadu pro ochranu osobních údajů (ÚOOÚ), Pplk. Sochora 27, 170 00 Praha 7, www.uoou.cz.", "6. You have the right to lodge a complaint with the Office for Personal Data Protection (ÚOOÚ), Pplk. Sochora 27, 170 00 Prague 7, www.uoou.gov.cz.");
    h(&mut s, "7. Zdroj: údaje jsme získali od Vás (registrace, používání služby); čísla příjemců od zákazníka, který jim posílá zprávy.", "7. Source: we obtained the data from you (registration, use of the service); recipients' numbers from the customer who sends them messages.");
    h(
        &mut s,
        "8. Automatizované rozhodování ani profilování neprovádíme (čl. 7.6 zásad).",
        "8. We make no automated decisions and no profiling (clause 7.6 of the rules).",
    );
    s
}

/// A person's data as JSON: `{table: [{column: value}]}`.
pub fn tables_json(tables: &[DataTable]) -> Value {
    let mut out = Map::new();
    for t in tables {
        let rows: Vec<Value> = t
            .rows
            .iter()
            .map(|r| {
                let mut o = Map::new();
                for (c, v) in t.columns.iter().zip(r) {
                    o.insert(c.clone(), v.clone().map_or(Value::Null, Value::String));
                }
                Value::Object(o)
            })
            .collect();
        out.insert(t.name.clone(), Value::Array(rows));
    }
    Value::Object(out)
}

/// One table as CSV (RFC 4180: fields with a comma, quote or line break are quoted).
pub fn table_csv(t: &DataTable) -> String {
    fn field(s: &str) -> String {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    }
    let mut s = t
        .columns
        .iter()
        .map(|c| field(c))
        .collect::<Vec<_>>()
        .join(",");
    s.push_str("\r\n");
    for r in &t.rows {
        s.push_str(
            &r.iter()
                .map(|v| v.as_deref().map(field).unwrap_or_default())
                .collect::<Vec<_>>()
                .join(","),
        );
        s.push_str("\r\n");
    }
    s
}

/// The zip of an access or portability answer: `data.json`, one CSV per table, and the Art. 15
/// information in the request's language.
pub fn access_archive(tables: &[DataTable], lang: &str) -> std::io::Result<Vec<u8>> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let io = |e: zip::result::ZipError| std::io::Error::other(e.to_string());
    zip.start_file("data.json", opts).map_err(io)?;
    zip.write_all(
        serde_json::to_string_pretty(&tables_json(tables))
            .map_err(std::io::Error::other)?
            .as_bytes(),
    )?;
    for t in tables {
        zip.start_file(format!("csv/{}.csv", t.name), opts)
            .map_err(io)?;
        zip.write_all(table_csv(t).as_bytes())?;
    }
    let info = if lang == "cs" {
        "informace-cl15.txt"
    } else {
        "article-15-information.txt"
    };
    zip.start_file(info, opts).map_err(io)?;
    zip.write_all(article15_text(lang).as_bytes())?;
    Ok(zip.finish().map_err(io)?.into_inner())
}

async fn require_staff(state: &AppState, account: domain::AccountId) -> Result<(), ApiError> {
    if state.store().is_staff(account).await? {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "only the operator's staff (DPO) may do this",
        ))
    }
}

fn parse_number(state: &AppState, raw: &str) -> Result<Msisdn, ApiError> {
    Msisdn::parse(raw, &state.settings().default_region)
        .map_err(|e| ApiError::invalid("invalid-number", "number", e.to_string()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ObjectionBody {
    number: String,
    #[serde(default)]
    scope: Option<String>,
}

/// `POST /v1/privacy/objections`: the recipient objected to commercial messages or withdrew
/// consent to them. Scope `account` (default): from this account; `global` (staff): from all.
/// Queued and scheduled commercial messages to the number end `blocked` at once.
pub async fn object(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (b, _): (ObjectionBody, _) = crate::messages::parse_body(body)?;
    let n = parse_number(&state, &b.number)?;
    let scope = match b.scope.as_deref().unwrap_or("account") {
        "account" => Some(account),
        "global" => {
            require_staff(&state, account).await?;
            None
        }
        _ => {
            return Err(ApiError::invalid(
                "invalid-scope",
                "scope",
                "scope is \"account\" or \"global\"",
            ))
        }
    };
    let stopped = state
        .store()
        .object_to_marketing(
            n.as_str(),
            scope,
            "api",
            &format!("account:{account}"),
            store::now_us(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "number": n.as_str(),
            "scope": if scope.is_some() { "account" } else { "global" },
            "stopped_messages": stopped,
        })),
    ))
}

fn ticket_json(t: &store::Ticket) -> Value {
    json!({
        "id": t.id.to_string(),
        "kind": t.kind.as_str(),
        "subject": t.subject,
        "message_id": t.message_id.map(|m| m.to_string()),
        "status": t.status,
        "created_at": to_rfc3339(t.created_at),
        "updated_at": to_rfc3339(t.updated_at),
        "resolved_at": t.resolved_at.map(to_rfc3339),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TicketBody {
    kind: String,
    subject: String,
    body: String,
    #[serde(default)]
    message_id: Option<String>,
}

/// `POST /v1/privacy/tickets`: opens a ticket; a complaint puts a legal hold on its data.
pub async fn open_ticket(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (b, _): (TicketBody, _) = crate::messages::parse_body(body)?;
    let kind = TicketKind::parse(&b.kind).ok_or_else(|| {
        ApiError::invalid(
            "invalid-kind",
            "kind",
            "kind is question, complaint_message, complaint_bill or data_request",
        )
    })?;
    if b.subject.trim().is_empty() || b.body.trim().is_empty() {
        return Err(ApiError::invalid(
            "empty",
            "body",
            "subject and body must not be empty",
        ));
    }
    let message_id = match b.message_id.as_deref() {
        None => None,
        Some(m) => Some(m.parse::<i64>().map_err(|_| {
            ApiError::invalid(
                "invalid-message-id",
                "message_id",
                "message_id is a message's id",
            )
        })?),
    };
    if kind == TicketKind::ComplaintMessage && message_id.is_none() {
        return Err(ApiError::invalid(
            "missing-message-id",
            "message_id",
            "a complaint about a message names it",
        ));
    }
    let id = state.ids().next();
    let t = NewTicket {
        id,
        account,
        user_id: None,
        kind,
        subject: b.subject.trim().to_owned(),
        message_id,
        body: b.body,
        author: format!("account:{account}"),
    };
    if !state.store().open_ticket(&t, store::now_us()).await? {
        return Err(ApiError::not_found("message"));
    }
    let t = state
        .store()
        .ticket(id, Some(account))
        .await?
        .ok_or_else(|| ApiError::not_found("ticket"))?;
    Ok((StatusCode::CREATED, Json(ticket_json(&t))))
}

/// `GET /v1/privacy/tickets`: the account's tickets, newest first.
pub async fn tickets(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
) -> Result<Json<Value>, ApiError> {
    let list = state.store().tickets(Some(account), false).await?;
    Ok(Json(
        json!({"data": list.iter().map(ticket_json).collect::<Vec<_>>()}),
    ))
}

/// `GET /v1/privacy/tickets/{id}`: a ticket with its conversation.
pub async fn ticket(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::not_found("ticket"))?;
    let t = state
        .store()
        .ticket(id, Some(account))
        .await?
        .ok_or_else(|| ApiError::not_found("ticket"))?;
    let msgs = state.store().ticket_messages(id).await?;
    let mut v = ticket_json(&t);
    v["messages"] = msgs
        .iter()
        .map(|m| json!({"author": m.author, "body": m.body, "at": to_rfc3339(m.at)}))
        .collect();
    Ok(Json(v))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplyBody {
    body: String,
}

/// `POST /v1/privacy/tickets/{id}/messages`: adds to the conversation.
pub async fn reply(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let (b, _): (ReplyBody, _) = crate::messages::parse_body(body)?;
    let id: i64 = id.parse().map_err(|_| ApiError::not_found("ticket"))?;
    if state.store().ticket(id, Some(account)).await?.is_none() {
        return Err(ApiError::not_found("ticket"));
    }
    if b.body.trim().is_empty() {
        return Err(ApiError::invalid("empty", "body", "body must not be empty"));
    }
    state
        .store()
        .reply_to_ticket(id, &format!("account:{account}"), &b.body, store::now_us())
        .await?;
    Ok(StatusCode::CREATED)
}

/// `GET /v1/privacy/audit/verify` (staff): the audit log's chain checked end to end.
pub async fn verify_audit(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
) -> Result<Json<Value>, ApiError> {
    require_staff(&state, account).await?;
    let v = state.store().verify_audit_log().await?;
    Ok(Json(json!({
        "ok": v.first_break.is_none(),
        "entries": v.entries,
        "first_bad_entry": v.first_break.as_ref().map(|b| b.id.to_string()),
        "problem": v.first_break.as_ref().map(|b| b.problem.clone()),
    })))
}

/// `GET /v1/privacy/retention` (staff): per category what is kept, why, for how long, and
/// what legal holds keep past the period.
pub async fn retention(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
) -> Result<Json<Value>, ApiError> {
    require_staff(&state, account).await?;
    let now = store::now_us();
    let lines = state.store().retention_report(now).await?;
    let data: Vec<Value> = lines
        .iter()
        .map(|l| {
            let p = domain::retention::policy(l.category);
            json!({
                "category": l.category.as_str(),
                "legal_basis": p.legal_basis.1,
                "period": format!("{:?}", p.period),
                "start": p.start.as_str(),
                "enforced": p.enforcement == Enforcement::Delete,
                "stored": l.stored,
                "oldest": l.oldest.map(to_rfc3339),
                "oldest_due": l.oldest.and_then(|o| p.period.due(o)).map(to_rfc3339),
                "held": l.held,
            })
        })
        .collect();
    let holds: Vec<Value> = state
        .store()
        .legal_holds()
        .await?
        .iter()
        .map(|h| {
            json!({
                "id": h.id.to_string(),
                "scope": h.scope,
                "target": h.target_id.map(|t| t.to_string()).or_else(|| h.number.clone()),
                "reason": h.reason,
                "ticket_id": h.ticket_id.map(|t| t.to_string()),
                "since": to_rfc3339(h.created_at),
            })
        })
        .collect();
    Ok(Json(json!({"data": data, "legal_holds": holds})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LawfulBody {
    number: String,
    from: String,
    to: String,
    reference: String,
}

/// `POST /v1/privacy/lawful-requests` (staff): the traffic data of a number over a period for
/// an authority, audited with the request's reference.
pub async fn lawful_request(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    require_staff(&state, account).await?;
    let (b, _): (LawfulBody, _) = crate::messages::parse_body(body)?;
    let n = parse_number(&state, &b.number)?;
    let from = parse_rfc3339(&b.from)
        .ok_or_else(|| ApiError::invalid("invalid-time", "from", "from is an RFC 3339 time"))?;
    let to = parse_rfc3339(&b.to)
        .ok_or_else(|| ApiError::invalid("invalid-time", "to", "to is an RFC 3339 time"))?;
    if b.reference.trim().is_empty() {
        return Err(ApiError::invalid(
            "missing-reference",
            "reference",
            "the authority's reference is required",
        ));
    }
    let answer = lawful_export(
        state.store(),
        &n,
        from,
        to,
        b.reference.trim(),
        &format!("account:{account}"),
        store::now_us(),
    )
    .await?;
    Ok(Json(answer))
}

/// The traffic data of `number` from `from` to `to` (UTC microseconds, `to` excluded) for an
/// authority's request `reference`, audited: the one function behind the API, the back office
/// and the command line. The JSON names the number, the reference, the period and the data.
pub async fn lawful_export(
    store: &store::Store,
    number: &Msisdn,
    from: i64,
    to: i64,
    reference: &str,
    actor: &str,
    now: i64,
) -> Result<Value, store::StoreError> {
    let tables = store
        .lawful_export(number.as_str(), from, to, reference, actor, now)
        .await?;
    Ok(json!({
        "number": number.as_str(),
        "reference": reference,
        "from": to_rfc3339(from),
        "to": to_rfc3339(to),
        "data": tables_json(&tables),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> DataTable {
        DataTable {
            name: "user".into(),
            columns: vec!["id".into(), "full_name".into()],
            rows: vec![
                vec![Some("1".into()), Some("Novák, \"Jan\"".into())],
                vec![Some("2".into()), None],
            ],
        }
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        assert_eq!(
            table_csv(&table()),
            "id,full_name\r\n1,\"Novák, \"\"Jan\"\"\"\r\n2,\r\n"
        );
    }

    #[test]
    fn the_archive_holds_json_csv_and_the_information() {
        let bytes = access_archive(&[table()], "cs").unwrap();
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let names: Vec<String> = z.file_names().map(str::to_owned).collect();
        assert!(names.contains(&"data.json".to_owned()));
        assert!(names.contains(&"csv/user.csv".to_owned()));
        assert!(names.contains(&"informace-cl15.txt".to_owned()));
        let mut info = String::new();
        std::io::Read::read_to_string(&mut z.by_name("informace-cl15.txt").unwrap(), &mut info)
            .unwrap();
        assert!(info.contains("ÚOOÚ"));
        assert!(info.contains("USA"));
        assert!(info.contains("Automatizované rozhodování"));
    }

    #[test]
    fn the_information_exists_in_both_languages() {
        let en = article15_text("en");
        assert!(en.contains("standard contractual clauses"));
        assert!(en.contains("6 months"));
        assert!(en.contains("lodge a complaint"));
    }
}
