//! The privacy subcommands (`audit`, `retention`, `privacy`) and the daily retention job of
//! `serve`.
//!
//! - `audit verify` recomputes the audit log's hash chain and exits non-zero naming the first
//!   bad entry; `audit list` prints entries.
//! - `retention run [--dry-run] [--now TIME]` enforces the retention policies once (`--now`
//!   moves the clock, for tests and for checking what a later run would do); `retention report`
//!   prints what is kept per category and the open legal holds; `retention hold`/`release`.
//! - `privacy ...`: data-subject requests filed by staff (with identity verification by a code
//!   to the registered e-mail), their deadlines, the access archive, erasure, objections,
//!   tickets, lawful requests and the operator's marketing e-mails.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use domain::retention::Enforcement;
use domain::{AccountId, IdGenerator};
use sha2::{Digest, Sha256};
use store::{CodeCheck, HoldTarget, NewDataRequest, NewLegalHold, RequestKind, Store};
use tokio_util::sync::CancellationToken;

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Verify the hash chain; exit status 1 and the first bad entry when it is broken.
    Verify,
    /// Print entries, newest first.
    List {
        /// Only entries of this subject or actor (e.g. user:12, dsr:5).
        #[arg(long)]
        filter: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

#[derive(Subcommand, Debug)]
pub enum RetentionCommand {
    /// Delete what is past its retention period (except what a legal hold keeps).
    Run {
        /// Count only; delete nothing.
        #[arg(long)]
        dry_run: bool,
        /// The clock of the run (RFC 3339), default now.
        #[arg(long)]
        now: Option<String>,
        /// Rows per transaction.
        #[arg(long, default_value_t = 1000)]
        batch: u32,
    },
    /// Per category: what is kept, why, until when, and what holds keep past the period.
    Report,
    /// Put a legal hold on a message, an account's or a number's traffic data.
    Hold {
        #[arg(long, conflicts_with_all = ["account", "number"])]
        message: Option<i64>,
        #[arg(long, conflicts_with = "number")]
        account: Option<i64>,
        #[arg(long)]
        number: Option<String>,
        #[arg(long)]
        reason: String,
    },
    /// Release a legal hold.
    Release {
        #[arg(long)]
        id: i64,
    },
}

#[derive(Subcommand, Debug)]
pub enum PrivacyCommand {
    /// File a data-subject request for a web user (by e-mail); a code goes to their e-mail
    /// unless --verified says how the identity was checked otherwise.
    FileRequest {
        #[arg(long)]
        email: String,
        /// access, portability, rectification, erasure, restriction, objection, withdrawal
        #[arg(long)]
        kind: String,
        #[arg(long, default_value = "")]
        details: String,
        /// How staff verified the identity (e.g. "id card seen at the office").
        #[arg(long)]
        verified: Option<String>,
    },
    /// Check the one-time code the subject received.
    VerifyRequest {
        #[arg(long)]
        id: i64,
        #[arg(long)]
        code: String,
    },
    /// Requests with their deadlines (soonest first); --overdue: only those past it.
    Requests {
        #[arg(long)]
        overdue: bool,
    },
    /// Extend a request's deadline by two months (within the first month, once, with reasons).
    Extend {
        #[arg(long)]
        id: i64,
        #[arg(long)]
        reason: String,
    },
    /// Write the access / portability archive of a verified request (zip) and close it.
    Export {
        #[arg(long)]
        id: i64,
        #[arg(long)]
        out: PathBuf,
    },
    /// Carry out a verified erasure request and close it with the answer.
    Erase {
        #[arg(long)]
        id: i64,
    },
    /// Close a request with an answer (or refuse it).
    Close {
        #[arg(long)]
        id: i64,
        #[arg(long)]
        answer: String,
        #[arg(long)]
        refuse: bool,
    },
    /// A recipient's objection to commercial messages: from one account or all.
    Object {
        #[arg(long)]
        number: String,
        #[arg(long)]
        account: Option<i64>,
    },
    /// Export a number's traffic data for an authority (JSON on stdout), audited.
    LawfulRequest {
        #[arg(long)]
        number: String,
        /// RFC 3339
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        #[arg(long)]
        reference: String,
    },
    /// Resolve a support ticket (releases its legal holds).
    ResolveTicket {
        #[arg(long)]
        id: i64,
    },
    /// Send the operator's marketing e-mail (or newsletter) to everyone with a live consent to
    /// it, each with the signed one-click withdrawal link; the e-mails go to the outbox.
    SendMarketing {
        /// marketing_email or newsletter
        #[arg(long)]
        purpose: String,
        #[arg(long)]
        subject: String,
        /// A file with the text (UTF-8).
        #[arg(long)]
        body_file: PathBuf,
        /// The site's address for the withdrawal links, e.g. https://www.apisendsms.com.
        #[arg(long)]
        origin: String,
    },
}

fn parse_time(s: &str) -> anyhow::Result<i64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .with_context(|| format!("{s:?} is not an RFC 3339 time"))?;
    Ok((t.unix_timestamp_nanos() / 1000) as i64)
}

fn show_time(us: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| us.to_string())
}

pub async fn audit(store: &Store, command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Verify => {
            let v = store.verify_audit_log().await?;
            match v.first_break {
                None => {
                    println!("{}", serde_json::json!({"ok": true, "entries": v.entries}));
                    Ok(())
                }
                Some(b) => {
                    println!(
                        "{}",
                        serde_json::json!({"ok": false, "entries_verified": v.entries,
                            "first_bad_entry": b.id, "problem": b.problem})
                    );
                    anyhow::bail!("the audit log is broken at {b}")
                }
            }
        }
        AuditCommand::List { filter, limit } => {
            for r in store.audit_entries(None, filter.as_deref(), limit).await? {
                println!(
                    "{}",
                    serde_json::json!({"id": r.id, "at": show_time(r.at), "actor": r.entry.actor,
                        "action": r.entry.action, "subject": r.entry.subject,
                        "reason": r.entry.reason, "details": r.entry.details})
                );
            }
            Ok(())
        }
    }
}

pub async fn retention(store: &Store, command: RetentionCommand) -> anyhow::Result<()> {
    match command {
        RetentionCommand::Run {
            dry_run,
            now,
            batch,
        } => {
            let clock = match now {
                Some(s) => parse_time(&s)?,
                None => store::now_us(),
            };
            let run = store.run_retention(clock, dry_run, batch).await?;
            let cats: serde_json::Map<String, serde_json::Value> = run
                .categories
                .iter()
                .map(|c| {
                    (
                        c.category.as_str().to_owned(),
                        serde_json::json!({"deleted": c.deleted, "held": c.held}),
                    )
                })
                .collect();
            println!(
                "{}",
                serde_json::json!({"run": run.id, "clock": show_time(run.clock), "dry_run": run.dry_run, "categories": cats})
            );
            Ok(())
        }
        RetentionCommand::Report => {
            let now = store::now_us();
            for l in store.retention_report(now).await? {
                let p = domain::retention::policy(l.category);
                println!(
                    "{}",
                    serde_json::json!({
                        "category": l.category.as_str(),
                        "why": p.legal_basis.1,
                        "period": format!("{:?}", p.period),
                        "from": p.start.as_str(),
                        "enforced": p.enforcement == Enforcement::Delete,
                        "stored": l.stored,
                        "oldest": l.oldest.map(show_time),
                        "oldest_kept_until": l.oldest.and_then(|o| p.period.due(o)).map(show_time),
                        "held_past_period": l.held,
                    })
                );
            }
            for h in store.legal_holds().await? {
                println!(
                    "{}",
                    serde_json::json!({"legal_hold": h.id, "scope": h.scope, "target": h.target_id,
                        "number": h.number, "reason": h.reason, "ticket": h.ticket_id, "since": show_time(h.created_at)})
                );
            }
            Ok(())
        }
        RetentionCommand::Hold {
            message,
            account,
            number,
            reason,
        } => {
            let target = match (message, account, number.as_deref()) {
                (Some(m), _, _) => HoldTarget::Message(m),
                (_, Some(a), _) => HoldTarget::Account(a),
                (_, _, Some(n)) => HoldTarget::Number(n),
                _ => anyhow::bail!("name --message, --account or --number"),
            };
            anyhow::ensure!(!reason.trim().is_empty(), "--reason must say why");
            let id = store
                .add_legal_hold(
                    &NewLegalHold {
                        target,
                        reason: reason.trim(),
                        actor: "cli",
                    },
                    store::now_us(),
                )
                .await?;
            println!("{}", serde_json::json!({"legal_hold": id}));
            Ok(())
        }
        RetentionCommand::Release { id } => {
            anyhow::ensure!(
                store.release_legal_hold(id, "cli", store::now_us()).await?,
                "no open legal hold {id}"
            );
            println!("{}", serde_json::json!({"released": id}));
            Ok(())
        }
    }
}

/// SHA-256 of a one-time code, as stored.
pub fn code_hash(code: &str) -> String {
    hex::encode(Sha256::digest(code.trim().as_bytes()))
}

pub async fn privacy(
    store: &Store,
    ids: &IdGenerator,
    region: &str,
    command: PrivacyCommand,
) -> anyhow::Result<()> {
    let now = store::now_us();
    match command {
        PrivacyCommand::FileRequest {
            email,
            kind,
            details,
            verified,
        } => {
            let kind = RequestKind::parse(&kind).with_context(|| {
                format!("--kind {kind:?}: access, portability, rectification, erasure, restriction, objection or withdrawal")
            })?;
            let user = store
                .web_user_by_email(email.trim().to_lowercase().as_str())
                .await?
                .with_context(|| format!("no web user with the e-mail {email}"))?;
            let id = ids.next();
            store
                .file_data_request(
                    &NewDataRequest {
                        id,
                        kind,
                        user_id: user.id,
                        details,
                        lang: user.lang.clone(),
                        filed_by: "cli".into(),
                        verified_by: verified.map(|v| format!("staff: {v}")),
                    },
                    now,
                )
                .await?;
            let r = store
                .data_request(id)
                .await?
                .context("the request just filed")?;
            if !r.is_verified() {
                let code = format!("{:06}", rand_code());
                store
                    .set_request_code(
                        id,
                        &code_hash(&code),
                        "code_email",
                        now + 24 * 3_600_000_000,
                        now,
                    )
                    .await?;
                let (subject, body) = if user.lang == "cs" {
                    ("Ověření žádosti o osobní údaje", format!("Kód pro ověření Vaší žádosti č. {id}: {code}\nPlatí 24 hodin. Pokud jste žádost nepodali, zprávu ignorujte."))
                } else {
                    ("Verifying your personal data request", format!("The code verifying your request no. {id}: {code}\nValid for 24 hours. If you did not make the request, ignore this message."))
                };
                store.push_email(&user.email, subject, &body, now).await?;
            }
            println!(
                "{}",
                serde_json::json!({"request": id, "kind": kind.as_str(), "status": r.status,
                    "due": show_time(r.due_at), "code_sent_to_email": !r.is_verified()})
            );
            Ok(())
        }
        PrivacyCommand::VerifyRequest { id, code } => {
            match store
                .verify_request_code(id, &code_hash(&code), now)
                .await?
            {
                CodeCheck::Verified => {
                    println!("{}", serde_json::json!({"request": id, "verified": true}));
                    Ok(())
                }
                CodeCheck::Wrong => anyhow::bail!("the code is wrong"),
                CodeCheck::NotLive => {
                    anyhow::bail!("no live code for request {id} (expired, used up or verified)")
                }
            }
        }
        PrivacyCommand::Requests { overdue } => {
            for r in store.data_requests(None, overdue).await? {
                if overdue && !r.is_overdue(now) {
                    continue;
                }
                println!(
                    "{}",
                    serde_json::json!({"request": r.id, "kind": r.kind.as_str(), "user": r.user_id,
                        "status": r.status, "received": show_time(r.received_at), "due": show_time(r.due_at),
                        "overdue": r.is_overdue(now), "extended": r.extension_reason, "closed": r.closed_at.map(show_time)})
                );
            }
            Ok(())
        }
        PrivacyCommand::Extend { id, reason } => {
            anyhow::ensure!(
                store.extend_data_request(id, &reason, "cli", now).await?,
                "request {id} cannot be extended: closed, already extended, past its first month, or no reason given"
            );
            let r = store.data_request(id).await?.context("request")?;
            println!(
                "{}",
                serde_json::json!({"request": id, "due": show_time(r.due_at)})
            );
            Ok(())
        }
        PrivacyCommand::Export { id, out } => {
            let r = open_verified(store, id).await?;
            anyhow::ensure!(
                matches!(r.kind, RequestKind::Access | RequestKind::Portability),
                "request {id} is a {} request, not access or portability",
                r.kind.as_str()
            );
            let user = r.user_id.context("the request names no user")?;
            let tables = store.subject_data(user).await?;
            let zip = api::privacy::access_archive(&tables, &r.lang)?;
            std::fs::write(&out, &zip).with_context(|| format!("writing {}", out.display()))?;
            store
                .close_data_request(
                    id,
                    false,
                    &format!("archive of {} tables handed over", tables.len()),
                    "cli",
                    now,
                )
                .await?;
            println!(
                "{}",
                serde_json::json!({"request": id, "archive": out, "bytes": zip.len()})
            );
            Ok(())
        }
        PrivacyCommand::Erase { id } => {
            let r = open_verified(store, id).await?;
            anyhow::ensure!(
                r.kind == RequestKind::Erasure,
                "request {id} is not an erasure request"
            );
            let user = r.user_id.context("the request names no user")?;
            let e = store
                .erase_customer(user, "cli", &format!("dsr:{id}"), now)
                .await?
                .with_context(|| format!("no user {user}"))?;
            let answer = web::privacy::erasure_answer(&e, &r.lang);
            store
                .close_data_request(id, false, &answer, "cli", now)
                .await?;
            println!("{}", serde_json::json!({"request": id, "answer": answer}));
            Ok(())
        }
        PrivacyCommand::Close { id, answer, refuse } => {
            anyhow::ensure!(
                store
                    .close_data_request(id, refuse, &answer, "cli", now)
                    .await?,
                "request {id} is closed already or not verified"
            );
            println!("{}", serde_json::json!({"request": id, "closed": true}));
            Ok(())
        }
        PrivacyCommand::Object { number, account } => {
            let n = sms::Msisdn::parse(&number, region)
                .map_err(|e| anyhow::anyhow!("{number:?}: {e}"))?;
            let stopped = store
                .object_to_marketing(n.as_str(), account.map(AccountId::new), "staff", "cli", now)
                .await?;
            println!(
                "{}",
                serde_json::json!({"number": n.as_str(), "stopped_messages": stopped})
            );
            Ok(())
        }
        PrivacyCommand::LawfulRequest {
            number,
            from,
            to,
            reference,
        } => {
            anyhow::ensure!(!reference.trim().is_empty(), "--reference is required");
            let n = sms::Msisdn::parse(&number, region)
                .map_err(|e| anyhow::anyhow!("{number:?}: {e}"))?;
            let answer = api::privacy::lawful_export(
                store,
                &n,
                parse_time(&from)?,
                parse_time(&to)?,
                reference.trim(),
                "cli",
                now,
            )
            .await?;
            println!("{answer}");
            Ok(())
        }
        PrivacyCommand::SendMarketing {
            purpose,
            subject,
            body_file,
            origin,
        } => {
            let purpose = domain::consent::ConsentPurpose::parse(&purpose)
                .filter(|p| web::marketing::PURPOSES.contains(p))
                .with_context(|| format!("--purpose {purpose:?}: marketing_email or newsletter"))?;
            let body = std::fs::read_to_string(&body_file)
                .with_context(|| format!("reading {}", body_file.display()))?;
            anyhow::ensure!(
                !subject.trim().is_empty() && !body.trim().is_empty(),
                "the subject and the text must not be empty"
            );
            let c = web::marketing::send(
                store,
                ids,
                origin.trim_end_matches('/'),
                purpose,
                subject.trim(),
                &body,
                "cli",
                now,
            )
            .await?;
            println!(
                "{}",
                serde_json::json!({"campaign": c.id.to_string(), "sent": c.sent, "skipped": c.skipped})
            );
            Ok(())
        }
        PrivacyCommand::ResolveTicket { id } => {
            anyhow::ensure!(
                store.resolve_ticket(id, "cli", now).await?,
                "no open ticket {id}"
            );
            println!("{}", serde_json::json!({"ticket": id, "resolved": true}));
            Ok(())
        }
    }
}

async fn open_verified(store: &Store, id: i64) -> anyhow::Result<store::DataRequest> {
    let r = store
        .data_request(id)
        .await?
        .with_context(|| format!("no request {id}"))?;
    anyhow::ensure!(r.closed_at.is_none(), "request {id} is closed");
    anyhow::ensure!(
        r.is_verified(),
        "request {id}: the identity is not verified yet; nothing is released before it is"
    );
    Ok(r)
}

fn rand_code() -> u32 {
    use rand::Rng;
    rand::thread_rng().gen_range(0..1_000_000)
}

/// Runs the retention job once a day until shutdown (first run a minute after start).
pub async fn daily_retention(store: Store, shutdown: CancellationToken) {
    let mut wait = Duration::from_secs(60);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = match store.run_retention(store::now_us(), false, 1000).await {
            Ok(run) => {
                tracing::info!(run = run.id, categories = ?run.categories, "retention run");
                Duration::from_secs(24 * 3600)
            }
            Err(e) => {
                tracing::error!(error = %e, "retention run failed; retrying in an hour");
                Duration::from_secs(3600)
            }
        };
    }
}
