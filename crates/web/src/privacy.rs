//! Privacy in the web (issue 6): the customer's privacy centre (`/app/privacy`: consents to
//! commercial messages and the newsletter, data requests, the download of an access archive)
//! and support tickets (`/app/tickets`); the signed one-click withdrawal link of e-mails
//! (`/odvolat-souhlas`); and the back office's data requests with their deadlines
//! (`/admin/dsr`), retention report (`/admin/retention`), tickets (`/admin/tickets`) and the
//! record of processing (`/admin/processing`).
//!
//! Staff views of personal data are written to the audit log before they are shown; acting on a
//! data request, the retention report and the record of processing need the `dpo` (or `admin`)
//! role.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use domain::consent::{check_age, ConsentPurpose};
use domain::processing::{PURPOSES, RECIPIENTS};
use domain::retention::{policy, Enforcement, Period};
use maud::{html, Markup};
use serde::Deserialize;
use store::{NewConsent, NewDataRequest, NewTicket, RequestKind, TicketKind, WebUser};

use crate::ctx::{Ctx, Duty};
use crate::error::WebError;
use crate::i18n::Lang;
use crate::layout::{self, field, Area};
use crate::{prague, WebState};

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/app/privacy", get(centre))
        .route("/app/privacy/consent", post(set_consent))
        .route("/app/privacy/requests", post(file_request))
        .route("/app/privacy/requests/{id}/archive", get(own_archive))
        .route("/app/tickets", get(tickets).post(open_ticket))
        .route("/app/tickets/{id}", get(ticket).post(reply))
        .route("/odvolat-souhlas", get(link_page).post(link_withdraw))
        .route("/admin/dsr", get(admin_requests).post(admin_file))
        .route("/admin/dsr/{id}/verify", post(admin_verify))
        .route("/admin/dsr/{id}/extend", post(admin_extend))
        .route("/admin/dsr/{id}/close", post(admin_close))
        .route("/admin/dsr/{id}/erase", post(admin_erase))
        .route("/admin/dsr/{id}/archive", get(admin_archive))
        .route(
            "/admin/dsr/{id}/restrict",
            post(crate::rights::admin_restrict),
        )
        .route(
            "/admin/dsr/{id}/rectify",
            get(crate::rights::admin_rectify_form).post(crate::rights::admin_rectify),
        )
        .route(
            "/admin/restrictions/{id}/lift",
            post(crate::rights::admin_lift),
        )
        .route("/app/privacy/details", post(crate::rights::own_details))
        .route("/app/privacy/close", post(crate::rights::close_own_account))
        .route("/admin/retention", get(admin_retention))
        .route("/admin/tickets", get(admin_tickets))
        .route("/admin/tickets/{id}", get(admin_ticket).post(admin_reply))
        .route("/admin/tickets/{id}/resolve", post(admin_resolve))
        .route("/admin/processing", get(admin_processing))
}

/// Marketing purposes a customer manages in the privacy centre.
const CENTRE_PURPOSES: [ConsentPurpose; 4] = [
    ConsentPurpose::MarketingEmail,
    ConsentPurpose::MarketingSms,
    ConsentPurpose::MarketingPhone,
    ConsentPurpose::Newsletter,
];

/// The wording of each consent as shown; its version is stored with the record.
const CONSENT_TEXT_VERSION: &str = "marketing-2026-01";
const AGE_TEXT_VERSION: &str = "age-2026-01";

fn purpose_name(l: Lang, p: ConsentPurpose) -> &'static str {
    match p {
        ConsentPurpose::MarketingEmail => {
            l.t("Obchodní sdělení e-mailem", "Commercial messages by e-mail")
        }
        ConsentPurpose::MarketingSms => l.t("Obchodní sdělení SMS", "Commercial messages by SMS"),
        ConsentPurpose::MarketingPhone => l.t("Obchodní nabídky telefonem", "Offers by phone"),
        ConsentPurpose::Newsletter => l.t("Newsletter (od 16 let)", "Newsletter (16 and over)"),
        _ => l.t("Cookies", "Cookies"),
    }
}

fn kind_name(l: Lang, k: RequestKind) -> &'static str {
    match k {
        RequestKind::Access => l.t("Přístup (kopie údajů)", "Access (a copy of the data)"),
        RequestKind::Portability => l.t("Přenositelnost", "Portability"),
        RequestKind::Rectification => l.t("Oprava", "Rectification"),
        RequestKind::Erasure => l.t("Výmaz", "Erasure"),
        RequestKind::Restriction => l.t("Omezení zpracování", "Restriction"),
        RequestKind::Objection => l.t("Námitka", "Objection"),
        RequestKind::Withdrawal => l.t("Odvolání souhlasu", "Withdrawal of consent"),
    }
}

fn ticket_kind_name(l: Lang, k: TicketKind) -> &'static str {
    match k {
        TicketKind::Question => l.t("Dotaz", "Question"),
        TicketKind::ComplaintMessage => l.t("Reklamace zprávy", "Complaint about a message"),
        TicketKind::ComplaintBill => l.t("Reklamace vyúčtování", "Complaint about a bill"),
        TicketKind::DataRequest => l.t("Osobní údaje", "Personal data"),
    }
}

/// Staff who may act on data requests and see the retention report: the privacy duty (`dpo`
/// or `admin`).
fn require_dpo(ctx: &Ctx) -> Result<&WebUser, WebError> {
    ctx.require_duty(Duty::Privacy)
}

fn today_prague() -> (i64, u32, u32) {
    let d = prague::today(store::now_us());
    (
        i64::from(d.year()),
        u32::from(u8::from(d.month())),
        u32::from(d.day()),
    )
}

#[derive(Deserialize)]
pub struct Notice {
    done: Option<String>,
    error: Option<String>,
}

async fn centre(
    State(state): State<WebState>,
    ctx: Ctx,
    Query(q): Query<Notice>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    let l = ctx.lang;
    let subject = format!("user:{}", user.id);
    let records = state
        .store()
        .consents_of(std::slice::from_ref(&subject))
        .await?;
    let live = |p: ConsentPurpose| {
        records
            .iter()
            .find(|r| r.purpose == p.as_str() && r.withdrawn_at.is_none())
            .is_some_and(|r| r.granted)
    };
    let requests = state.store().data_requests(Some(user.id), false).await?;
    let sections = crate::rights::centre_sections(&state, &ctx, user).await?;
    let title = l.t("Soukromí a osobní údaje", "Privacy and personal data");
    let body = html! {
        h1 { (title) }
        @if let Some(d) = q.done.as_deref() {
            (layout::notice("ok", match d {
                "consent" => l.t("Volba je zaznamenána a platí hned.", "Your choice is recorded and applies at once."),
                "details" => l.t("Oprava je uložena.", "The correction is saved."),
                "details-email" => l.t("Oprava je uložena. Nový e-mail potvrďte odkazem, který jsme na něj poslali; do té doby se nepřihlásíte.", "The correction is saved. Confirm the new e-mail by the link we sent to it; until then you cannot sign in."),
                "closed" => l.t("Účet je zrušen a smlouva skončila.", "The account is closed and the contract has ended."),
                _ => l.t("Žádost je přijata. Odpovíme nejpozději do měsíce.", "The request is received. We answer within a month at the latest."),
            }))
        }
        @if let Some(e) = q.error.as_deref() {
            (layout::notice("error", match e {
                "age" => l.t("Newsletter je jen pro osoby od 16 let.", "The newsletter is for persons aged 16 and over."),
                "email" => l.t("Tento e-mail už používá jiný účet.", "Another account uses this e-mail."),
                "confirm" => l.t("Zrušení účtu potvrďte zaškrtnutím.", "Tick the box to confirm closing the account."),
                _ => l.t("Žádost se nepodařilo podat; zkontrolujte formulář.", "The request could not be filed; check the form."),
            }))
        }
        h2 { (l.t("Souhlasy s obchodními sděleními", "Consents to commercial messages")) }
        p { (l.t("Souhlas můžete kdykoli a zdarma odvolat; platí to okamžitě, včetně již naplánovaných zpráv.", "You can withdraw a consent at any time, free of charge; it applies at once, including messages already scheduled.")) }
        div class="table-wrap" {
            table {
                caption { (l.t("Účely", "Purposes")) }
                thead { tr { th scope="col" { (l.t("Účel", "Purpose")) } th scope="col" { (l.t("Stav", "State")) } th scope="col" { span class="skip" { (l.t("Akce", "Action")) } } } }
                tbody {
                    @for p in CENTRE_PURPOSES {
                        @let on = live(p);
                        tr {
                            td { (purpose_name(l, p)) }
                            td { @if on { (l.t("udělen", "given")) } @else { (l.t("neudělen", "not given")) } }
                            td {
                                form class="inline" method="post" action=(ctx.app_link("/app/privacy/consent")) {
                                    input type="hidden" name="csrf" value=(ctx.csrf);
                                    input type="hidden" name="purpose" value=(p.as_str());
                                    input type="hidden" name="granted" value=(if on { "0" } else { "1" });
                                    @if on { button type="submit" class="danger" { (l.t("Odvolat", "Withdraw")) } }
                                    @else { button type="submit" class="secondary" { (l.t("Udělit", "Give")) } }
                                }
                            }
                        }
                    }
                }
            }
        }
        p { a href=(crate::i18n::path("privacy", l)) { (l.t("Všechny záznamy o souhlasech včetně cookies", "Every consent record, cookies included")) } }
        h2 { (l.t("Vaše žádosti", "Your requests")) }
        @if requests.is_empty() { p { (l.t("Žádné žádosti.", "No requests.")) } } @else {
            div class="table-wrap" {
                table {
                    caption { (l.t("Žádosti o osobní údaje", "Personal data requests")) }
                    thead { tr { th scope="col" { (l.t("Druh", "Kind")) } th scope="col" { (l.t("Podáno", "Filed")) } th scope="col" { (l.t("Lhůta", "Due")) } th scope="col" { (l.t("Stav", "State")) } th scope="col" { (l.t("Odpověď", "Answer")) } } }
                    tbody {
                        @for r in &requests {
                            tr {
                                td { (kind_name(l, r.kind)) }
                                td { (prague::format(r.received_at)) }
                                td { (prague::format(r.due_at)) }
                                td { (r.status) }
                                td {
                                    @if matches!(r.kind, RequestKind::Access | RequestKind::Portability) && r.is_verified() && r.status != "refused" {
                                        a href=(ctx.app_link(&format!("/app/privacy/requests/{}/archive", r.id))) { (l.t("Stáhnout archiv (ZIP)", "Download the archive (ZIP)")) }
                                    } @else if let Some(a) = &r.answer { (a) } @else { "–" }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { (l.t("Podat žádost", "File a request")) }
        p { (l.t("Jste přihlášeni, takže Vaši totožnost nemusíme ověřovat jinak. Kopii údajů (přístup, přenositelnost) si stáhnete hned; ostatní žádosti vyřídíme do měsíce.",
                 "You are signed in, so we need no other proof of identity. A copy of your data (access, portability) is ready to download at once; we handle the other requests within a month.")) }
        form method="post" action=(ctx.app_link("/app/privacy/requests")) {
            input type="hidden" name="csrf" value=(ctx.csrf);
            (field("kind", l.t("Druh žádosti", "Kind of request"), html! {
                select id="kind" name="kind" {
                    @for k in RequestKind::ALL { option value=(k.as_str()) { (kind_name(l, k)) } }
                }
            }, None))
            (field("details", l.t("Podrobnosti (nepovinné)", "Details (optional)"), html! { textarea id="details" name="details" rows="3" {} }, None))
            button type="submit" { (l.t("Podat žádost", "File the request")) }
        }
        (sections)
        p class="hint" { (l.t("Stížnost můžete podat u Úřadu pro ochranu osobních údajů (www.uoou.cz).", "You may lodge a complaint with the Office for Personal Data Protection (www.uoou.gov.cz).")) }
    };
    Ok(ctx.html(layout::page(&ctx, Area::App, title, body)))
}

#[derive(Deserialize)]
pub struct ConsentForm {
    csrf: String,
    purpose: String,
    granted: String,
}

async fn set_consent(
    State(state): State<WebState>,
    ctx: Ctx,
    Form(f): Form<ConsentForm>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    ctx.check_csrf(&f.csrf)?;
    let purpose = ConsentPurpose::parse(&f.purpose)
        .filter(|p| CENTRE_PURPOSES.contains(p))
        .ok_or(WebError::NotFound)?;
    let granted = f.granted == "1";
    if granted && check_age(purpose, Some(&user.birth_date), today_prague()).is_err() {
        return Ok(ctx.redirect(&ctx.app_link("/app/privacy?error=age")));
    }
    let subject = format!("user:{}", user.id);
    state
        .store()
        .record_consent(
            &NewConsent {
                subject: &subject,
                purpose,
                granted,
                text_version: CONSENT_TEXT_VERSION,
                channel: "web",
                source: "/app/privacy",
                birth_date: purpose.minimum_age().map(|_| user.birth_date.as_str()),
                age_text_version: purpose.minimum_age().map(|_| AGE_TEXT_VERSION),
                actor: &subject,
            },
            store::now_us(),
        )
        .await?;
    Ok(ctx.redirect(&ctx.app_link("/app/privacy?done=consent")))
}

#[derive(Deserialize)]
pub struct RequestForm {
    csrf: String,
    kind: String,
    details: Option<String>,
}

async fn file_request(
    State(state): State<WebState>,
    ctx: Ctx,
    Form(f): Form<RequestForm>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    ctx.check_csrf(&f.csrf)?;
    let Some(kind) = RequestKind::parse(&f.kind) else {
        return Ok(ctx.redirect(&ctx.app_link("/app/privacy?error=form")));
    };
    let id = state.ids().next();
    let now = store::now_us();
    let subject = format!("user:{}", user.id);
    state
        .store()
        .file_data_request(
            &NewDataRequest {
                id,
                kind,
                user_id: user.id,
                details: f.details.unwrap_or_default().trim().to_owned(),
                lang: ctx.lang.code().to_owned(),
                filed_by: subject.clone(),
                verified_by: Some("session".into()),
            },
            now,
        )
        .await?;
    // An objection to direct marketing is absolute (Art. 21(3)) and a withdrawal free and
    // immediate: both end every marketing purpose now, and the request is answered.
    if matches!(kind, RequestKind::Objection | RequestKind::Withdrawal) {
        let source = format!("dsr:{id}");
        for purpose in CENTRE_PURPOSES {
            state
                .store()
                .record_consent(
                    &NewConsent {
                        subject: &subject,
                        purpose,
                        granted: false,
                        text_version: CONSENT_TEXT_VERSION,
                        channel: "web",
                        source: &source,
                        birth_date: None,
                        age_text_version: None,
                        actor: &subject,
                    },
                    now,
                )
                .await?;
        }
        let answer = ctx.lang.t(
            "Veškerý marketing vůči Vám jsme ukončili s okamžitou platností.",
            "We ended all marketing to you with immediate effect.",
        );
        state
            .store()
            .close_data_request(id, false, answer, &subject, now)
            .await?;
    }
    Ok(ctx.redirect(&ctx.app_link("/app/privacy?done=request")))
}

/// The zip of a person's data, as a download; the request is closed as answered.
async fn archive_response(
    state: &WebState,
    r: &store::DataRequest,
    actor: &str,
) -> Result<Response, WebError> {
    let user = r.user_id.ok_or(WebError::NotFound)?;
    let tables = state.store().subject_data(user).await?;
    let zip = api::privacy::access_archive(&tables, &r.lang).map_err(anyhow::Error::from)?;
    let now = store::now_us();
    state
        .store()
        .audit_read(
            actor,
            "dsr.archive",
            &format!("user:{user}"),
            &format!("dsr:{}", r.id),
            now,
        )
        .await?;
    if r.closed_at.is_none() {
        state
            .store()
            .close_data_request(r.id, false, "archive downloaded", actor, now)
            .await?;
    }
    let mut resp = zip.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"osobni-udaje-{}.zip\"",
        r.id
    )) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

async fn own_archive(
    State(state): State<WebState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    let r = state
        .store()
        .data_request(id)
        .await?
        .ok_or(WebError::NotFound)?;
    if r.user_id != Some(user.id)
        || !matches!(r.kind, RequestKind::Access | RequestKind::Portability)
        || !r.is_verified()
        || r.status == "refused"
    {
        return Err(WebError::NotFound);
    }
    archive_response(&state, &r, &format!("user:{}", user.id)).await
}

fn conversation(l: Lang, msgs: &[store::TicketMessage]) -> Markup {
    html! {
        ol class="conversation" {
            @for m in msgs {
                li {
                    p class="hint" { (m.author) " · " (prague::format(m.at)) }
                    p { (m.body) }
                }
            }
        }
        @if msgs.is_empty() { p { (l.t("Žádné zprávy.", "No messages.")) } }
    }
}

fn tickets_table(ctx: &Ctx, list: &[store::Ticket], base: &str) -> Markup {
    let l = ctx.lang;
    html! {
        div class="table-wrap" {
            table {
                caption { (l.t("Požadavky, nejnovější první", "Tickets, newest first")) }
                thead { tr { th scope="col" { "#" } th scope="col" { (l.t("Druh", "Kind")) } th scope="col" { (l.t("Předmět", "Subject")) } th scope="col" { (l.t("Stav", "State")) } th scope="col" { (l.t("Změněno", "Updated")) } } }
                tbody {
                    @for t in list {
                        tr {
                            td { a href=(ctx.app_link(&format!("{base}/{}", t.id))) { (t.id) } }
                            td { (ticket_kind_name(l, t.kind)) }
                            td { (t.subject) }
                            td { (t.status) }
                            td { (prague::format(t.updated_at)) }
                        }
                    }
                }
            }
        }
    }
}

async fn tickets(
    State(state): State<WebState>,
    ctx: Ctx,
    Query(q): Query<Notice>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    let l = ctx.lang;
    let list = state.store().tickets(Some(user.account), false).await?;
    let title = l.t("Podpora", "Support");
    let body = html! {
        h1 { (title) }
        @if q.error.is_some() { (layout::notice("error", l.t("Požadavek se nepodařilo založit: vyplňte předmět a text, u reklamace zprávy její číslo z přehledu zpráv.", "The ticket could not be opened: fill in the subject and text, and for a message complaint the message's id from your messages."))) }
        @if list.is_empty() { p { (l.t("Zatím žádné požadavky.", "No tickets yet.")) } } @else { (tickets_table(&ctx, &list, "/app/tickets")) }
        h2 { (l.t("Nový požadavek", "New ticket")) }
        p { (l.t("Reklamace zadrží data, kterých se týká, dokud ji nevyřešíme.", "A complaint keeps the data it concerns until we resolve it.")) }
        form method="post" action=(ctx.app_link("/app/tickets")) {
            input type="hidden" name="csrf" value=(ctx.csrf);
            (field("kind", l.t("Druh", "Kind"), html! {
                select id="kind" name="kind" {
                    @for k in [TicketKind::Question, TicketKind::ComplaintMessage, TicketKind::ComplaintBill, TicketKind::DataRequest] {
                        option value=(k.as_str()) { (ticket_kind_name(l, k)) }
                    }
                }
            }, None))
            (field("subject", l.t("Předmět", "Subject"), html! { input type="text" id="subject" name="subject" required maxlength="200"; }, None))
            (field("message_id", l.t("Číslo zprávy (u reklamace zprávy)", "Message id (for a message complaint)"), html! { input type="text" id="message_id" name="message_id" inputmode="numeric"; }, None))
            (field("body", l.t("Text", "Text"), html! { textarea id="body" name="body" rows="5" required {} }, None))
            button type="submit" { (l.t("Odeslat", "Send")) }
        }
    };
    Ok(ctx.html(layout::page(&ctx, Area::App, title, body)))
}

#[derive(Deserialize)]
pub struct TicketForm {
    csrf: String,
    kind: String,
    subject: String,
    message_id: Option<String>,
    body: String,
}

async fn open_ticket(
    State(state): State<WebState>,
    ctx: Ctx,
    Form(f): Form<TicketForm>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    ctx.check_csrf(&f.csrf)?;
    let bad = || ctx.redirect(&ctx.app_link("/app/tickets?error=1"));
    let Some(kind) = TicketKind::parse(&f.kind) else {
        return Ok(bad());
    };
    let message_id = match crate::forms::opt(&f.message_id) {
        None => None,
        Some(m) => match m.parse::<i64>() {
            Ok(v) => Some(v),
            Err(_) => return Ok(bad()),
        },
    };
    if f.subject.trim().is_empty()
        || f.body.trim().is_empty()
        || (kind == TicketKind::ComplaintMessage && message_id.is_none())
    {
        return Ok(bad());
    }
    let id = state.ids().next();
    let t = NewTicket {
        id,
        account: user.account,
        user_id: Some(user.id),
        kind,
        subject: f.subject.trim().to_owned(),
        message_id,
        body: f.body.trim().to_owned(),
        author: format!("user:{}", user.id),
    };
    if state.store().open_ticket(&t, store::now_us()).await? {
        Ok(ctx.redirect(&ctx.app_link(&format!("/app/tickets/{id}"))))
    } else {
        Ok(bad())
    }
}

async fn ticket(
    State(state): State<WebState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    let l = ctx.lang;
    let t = state
        .store()
        .ticket(id, Some(user.account))
        .await?
        .ok_or(WebError::NotFound)?;
    let msgs = state.store().ticket_messages(id).await?;
    let title = format!("{} {}", l.t("Požadavek", "Ticket"), t.id);
    let body = html! {
        h1 { (title) }
        p { (ticket_kind_name(l, t.kind)) " · " (t.subject) " · " (t.status) }
        (conversation(l, &msgs))
        form method="post" action=(ctx.app_link(&format!("/app/tickets/{id}"))) {
            input type="hidden" name="csrf" value=(ctx.csrf);
            (field("body", l.t("Odpověď", "Reply"), html! { textarea id="body" name="body" rows="4" required {} }, None))
            button type="submit" { (l.t("Odeslat", "Send")) }
        }
        p { a href=(ctx.app_link("/app/tickets")) { (l.t("Zpět na požadavky", "Back to tickets")) } }
    };
    Ok(ctx.html(layout::page(&ctx, Area::App, &title, body)))
}

#[derive(Deserialize)]
pub struct ReplyForm {
    csrf: String,
    body: String,
}

async fn reply(
    State(state): State<WebState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Form(f): Form<ReplyForm>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    ctx.check_csrf(&f.csrf)?;
    state
        .store()
        .ticket(id, Some(user.account))
        .await?
        .ok_or(WebError::NotFound)?;
    if !f.body.trim().is_empty() {
        state
            .store()
            .reply_to_ticket(
                id,
                &format!("user:{}", user.id),
                f.body.trim(),
                store::now_us(),
            )
            .await?;
    }
    Ok(ctx.redirect(&ctx.app_link(&format!("/app/tickets/{id}"))))
}

/// The signature of a withdrawal link: a keyed hash under the service's key.
pub fn withdrawal_signature(store: &store::Store, subject: &str, purpose: &str) -> String {
    store.number_hash(&format!("withdraw-consent|{subject}|{purpose}"))
}

/// The one-click withdrawal link for a marketing e-mail.
pub fn withdrawal_link(
    origin: &str,
    store: &store::Store,
    subject: &str,
    purpose: ConsentPurpose,
) -> String {
    let sig = withdrawal_signature(store, subject, purpose.as_str());
    format!(
        "{origin}/odvolat-souhlas?s={}&p={}&sig={sig}",
        url_escape(subject),
        purpose.as_str()
    )
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Deserialize)]
pub struct LinkQuery {
    s: String,
    p: String,
    sig: String,
    done: Option<String>,
}

fn link_ok(state: &WebState, s: &str, p: &str, sig: &str) -> Option<ConsentPurpose> {
    let purpose = ConsentPurpose::parse(p)?;
    crate::security::same(&withdrawal_signature(state.store(), s, p), sig).then_some(purpose)
}

/// GET shows one button (mail scanners follow links; only a person presses it). A link whose
/// signature does not match is refused (403) and withdraws nothing.
async fn link_page(
    State(state): State<WebState>,
    ctx: Ctx,
    Query(q): Query<LinkQuery>,
) -> Result<Response, WebError> {
    let l = ctx.lang;
    let purpose = link_ok(&state, &q.s, &q.p, &q.sig).ok_or(WebError::Forbidden)?;
    let title = l.t("Odvolání souhlasu", "Withdrawing consent");
    let body = html! {
        h1 { (title) }
        @if q.done.is_some() {
            (layout::notice("ok", l.t("Souhlas je odvolán. Další zprávy tohoto druhu Vám nepošleme.", "The consent is withdrawn. We will send you no more messages of this kind.")))
        } @else {
            p { (purpose_name(l, purpose)) }
            form method="post" action="/odvolat-souhlas" {
                input type="hidden" name="csrf" value=(ctx.csrf);
                input type="hidden" name="s" value=(q.s);
                input type="hidden" name="p" value=(q.p);
                input type="hidden" name="sig" value=(q.sig);
                button type="submit" class="danger" { (l.t("Odvolat souhlas", "Withdraw consent")) }
            }
        }
    };
    Ok(ctx.html(layout::page(&ctx, Area::Public, title, body)))
}

#[derive(Deserialize)]
pub struct LinkForm {
    csrf: String,
    s: String,
    p: String,
    sig: String,
}

async fn link_withdraw(
    State(state): State<WebState>,
    ctx: Ctx,
    Form(f): Form<LinkForm>,
) -> Result<Response, WebError> {
    ctx.check_csrf(&f.csrf)?;
    let purpose = link_ok(&state, &f.s, &f.p, &f.sig).ok_or(WebError::Forbidden)?;
    state
        .store()
        .record_consent(
            &NewConsent {
                subject: &f.s,
                purpose,
                granted: false,
                text_version: CONSENT_TEXT_VERSION,
                channel: "email",
                source: "withdrawal link",
                birth_date: None,
                age_text_version: None,
                actor: "subject (signed link)",
            },
            store::now_us(),
        )
        .await?;
    Ok(ctx.redirect(&format!(
        "/odvolat-souhlas?s={}&p={}&sig={}&done=1",
        url_escape(&f.s),
        f.p,
        f.sig
    )))
}

async fn admin_requests(
    State(state): State<WebState>,
    ctx: Ctx,
    Query(q): Query<Notice>,
) -> Result<Response, WebError> {
    let staff = require_dpo(&ctx)?;
    let l = ctx.lang;
    let now = store::now_us();
    state
        .store()
        .audit_read(
            &format!("user:{}", staff.id),
            "staff.list_requests",
            "dsr:*",
            "back office view",
            now,
        )
        .await?;
    let list = state.store().data_requests(None, false).await?;
    let restrictions = state.store().restrictions().await?;
    let overdue = list.iter().filter(|r| r.is_overdue(now)).count();
    let title = l.t("Žádosti subjektů údajů", "Data-subject requests");
    let body = html! {
        h1 { (title) }
        @if let Some(d) = q.done.as_deref() { (layout::notice("ok", d)) }
        @match q.error.as_deref() {
            Some("phone") => { (layout::notice("error", l.t("Kód SMS nelze poslat: uživatel nemá registrovaný telefon, nebo není nastaven účet pro SMS s kódy (web.code_sms_account).", "The code cannot go by SMS: the user has no registered phone, or no account for code SMS is set (web.code_sms_account)."))) }
            Some(_) => { (layout::notice("error", l.t("Krok nešel provést (ověření, lhůta nebo stav žádosti).", "That step was not possible (verification, deadline or the request's state)."))) }
            None => {}
        }
        p { strong { (l.t("Po lhůtě: ", "Overdue: ")) (overdue) } " · " (l.t("Lhůta je měsíc od přijetí; prodloužit o dva měsíce lze jednou, v prvním měsíci, s odůvodněním.", "The deadline is a month from receipt; it can be extended by two months once, within the first month, with reasons.")) }
        h2 { (l.t("Přijmout žádost", "Take a request")) }
        form method="post" action=(ctx.app_link("/admin/dsr")) {
            input type="hidden" name="csrf" value=(ctx.csrf);
            (field("email", l.t("E-mail účtu žadatele", "The requester's account e-mail"), html! { input type="email" id="email" name="email" required; }, None))
            (field("kind", l.t("Druh žádosti", "Kind of request"), html! {
                select id="kind" name="kind" { @for k in RequestKind::ALL { option value=(k.as_str()) { (kind_name(l, k)) } } }
            }, None))
            (field("details", l.t("Podrobnosti", "Details"), html! { textarea id="details" name="details" rows="2" {} }, None))
            (field("verified", l.t("Jak byla ověřena totožnost (prázdné: jednorázový kód)", "How the identity was verified (empty: a one-time code)"), html! { input type="text" id="verified" name="verified"; }, None))
            (field("channel", l.t("Kód poslat", "Send the code"), html! {
                select id="channel" name="channel" {
                    option value="email" { (l.t("na registrovaný e-mail", "to the registered e-mail")) }
                    option value="phone" { (l.t("SMS na registrovaný telefon", "by SMS to the registered phone")) }
                }
            }, None))
            button type="submit" { (l.t("Přijmout", "Take")) }
        }
        div class="table-wrap" {
            table {
                caption { (l.t("Nejbližší lhůta první", "Soonest deadline first")) }
                thead { tr {
                    th scope="col" { "#" } th scope="col" { (l.t("Druh", "Kind")) } th scope="col" { (l.t("Uživatel", "User")) }
                    th scope="col" { (l.t("Ověření", "Verification")) } th scope="col" { (l.t("Lhůta", "Due")) } th scope="col" { (l.t("Stav", "State")) }
                    th scope="col" { (l.t("Akce", "Actions")) }
                } }
                tbody {
                    @for r in &list {
                        tr class=[r.is_overdue(now).then_some("overdue")] {
                            td { (r.id) } td { (kind_name(l, r.kind)) } td { (r.user_id.map(|u| u.to_string()).unwrap_or_default()) }
                            td { (r.verified_by.clone().unwrap_or_else(|| l.t("neověřeno", "not verified").to_owned())) }
                            td { (prague::format(r.due_at)) @if r.is_overdue(now) { " " strong { (l.t("po lhůtě", "overdue")) } } @if r.extension_reason.is_some() { " " (l.t("(prodlouženo)", "(extended)")) } }
                            td { (r.status) }
                            td {
                                @if r.closed_at.is_none() && !r.is_verified() {
                                    form class="inline" method="post" action=(ctx.app_link(&format!("/admin/dsr/{}/verify", r.id))) {
                                        input type="hidden" name="csrf" value=(ctx.csrf);
                                        label for=(format!("code-{}", r.id)) { (l.t("Kód od žadatele", "The requester's code")) }
                                        input type="text" id=(format!("code-{}", r.id)) name="code" inputmode="numeric" autocomplete="off" required;
                                        button type="submit" { (l.t("Ověřit", "Verify")) }
                                    }
                                }
                                @if r.closed_at.is_none() && r.is_verified() {
                                    @if matches!(r.kind, RequestKind::Access | RequestKind::Portability) {
                                        a href=(ctx.app_link(&format!("/admin/dsr/{}/archive", r.id))) { (l.t("Archiv", "Archive")) }
                                    }
                                    @if r.kind == RequestKind::Erasure {
                                        form class="inline" method="post" action=(ctx.app_link(&format!("/admin/dsr/{}/erase", r.id))) {
                                            input type="hidden" name="csrf" value=(ctx.csrf);
                                            button type="submit" class="danger" { (l.t("Provést výmaz", "Erase")) }
                                        }
                                    }
                                    @if r.kind == RequestKind::Restriction {
                                        form class="inline" method="post" action=(ctx.app_link(&format!("/admin/dsr/{}/restrict", r.id))) {
                                            input type="hidden" name="csrf" value=(ctx.csrf);
                                            button type="submit" class="danger" { (l.t("Omezit zpracování", "Restrict processing")) }
                                        }
                                    }
                                    @if r.kind == RequestKind::Rectification {
                                        a href=(ctx.app_link(&format!("/admin/dsr/{}/rectify", r.id))) { (l.t("Opravit údaje", "Correct the data")) }
                                    }
                                    form class="inline" method="post" action=(ctx.app_link(&format!("/admin/dsr/{}/close", r.id))) {
                                        input type="hidden" name="csrf" value=(ctx.csrf);
                                        label for=(format!("answer-{}", r.id)) { (l.t("Odpověď", "Answer")) }
                                        input type="text" id=(format!("answer-{}", r.id)) name="answer" required;
                                        button type="submit" { (l.t("Vyřídit", "Close")) }
                                    }
                                    @if r.extension_reason.is_none() {
                                        form class="inline" method="post" action=(ctx.app_link(&format!("/admin/dsr/{}/extend", r.id))) {
                                            input type="hidden" name="csrf" value=(ctx.csrf);
                                            label for=(format!("reason-{}", r.id)) { (l.t("Důvod prodloužení", "Reason to extend")) }
                                            input type="text" id=(format!("reason-{}", r.id)) name="reason" required;
                                            button type="submit" class="secondary" { (l.t("Prodloužit", "Extend")) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        (crate::rights::restrictions_section(&ctx, &restrictions))
    };
    Ok(ctx.html(layout::page(&ctx, Area::Staff, title, body)))
}

#[derive(Deserialize)]
pub struct StaffRequestForm {
    csrf: String,
    email: String,
    kind: String,
    details: Option<String>,
    /// How the identity was checked otherwise; empty: a code goes to the registered e-mail or,
    /// with `channel` `phone`, by SMS to the registered phone.
    verified: Option<String>,
    channel: Option<String>,
}

/// How long a code sent by e-mail and by SMS stays valid.
const EMAIL_CODE_US: i64 = 24 * 3_600_000_000;
const SMS_CODE_US: i64 = 30 * 60_000_000;

/// Sends a request's one-time code by SMS through the service's own queue (the one way in,
/// `api::messages::accept`), from the operator's account configured as `web.code_sms_account`.
/// The code is stored only as its hash; the SMS's stored text is redacted once the code is
/// spent. Nothing here logs the code. `false` when the SMS could not be accepted.
async fn send_code_sms(
    state: &WebState,
    id: i64,
    phone: &str,
    lang: &str,
    code: &str,
    now: i64,
) -> Result<bool, WebError> {
    let Some(account) = state.settings().code_sms_account else {
        return Ok(false);
    };
    state
        .store()
        .set_request_code(id, &code_hash(code), "code_phone", now + SMS_CODE_US, now)
        .await?;
    let text = if lang == "cs" {
        format!("ApiSendSMS: kod k overeni Vasi zadosti o osobni udaje: {code}. Plati 30 minut. Sdelte jej jen pracovnikovi, ktery zadost prijal.")
    } else {
        format!("ApiSendSMS: the code verifying your personal data request: {code}. Valid for 30 minutes. Give it only to the person who took your request.")
    };
    let intake = api::messages::Intake {
        recipients: vec![phone.to_owned()],
        text,
        from: state.settings().code_sms_sender.clone(),
        client_ref: Some(format!("dsr:{id}")),
        ..api::messages::Intake::default()
    };
    match api::messages::accept(
        state.api_state(),
        domain::AccountId::new(account),
        intake,
        None,
        None,
    )
    .await
    {
        Ok(accepted) => match accepted.ids.first() {
            Some(m) => {
                state.store().set_request_code_message(id, m.get()).await?;
                Ok(true)
            }
            None => Ok(false),
        },
        Err(e) if e.status().is_client_error() => {
            tracing::warn!(
                request = id,
                problem = e.detail(),
                "the code SMS was refused"
            );
            Ok(false)
        }
        Err(e) => Err(anyhow::anyhow!("sending a code SMS: {}", e.detail()).into()),
    }
}

/// SHA-256 of a one-time code, as stored.
pub(crate) fn code_hash(code: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(code.trim().as_bytes()))
}

/// Staff file a request for anyone with a web account; unless they say how they checked the
/// person's identity, a one-time code goes to the registered e-mail, and nothing is released
/// before the person gives it back.
async fn admin_file(
    State(state): State<WebState>,
    ctx: Ctx,
    Form(f): Form<StaffRequestForm>,
) -> Result<Response, WebError> {
    let staff = require_dpo(&ctx)?;
    ctx.check_csrf(&f.csrf)?;
    let email = f.email.trim().to_lowercase();
    let (Some(kind), Some(user)) = (
        RequestKind::parse(&f.kind),
        state.store().web_user_by_email(&email).await?,
    ) else {
        return Ok(ctx.redirect(&ctx.app_link("/admin/dsr?error=1")));
    };
    let now = store::now_us();
    let verified = crate::forms::opt(&f.verified).map(|v| format!("staff: {v}"));
    let send_code = verified.is_none();
    let by_phone = f.channel.as_deref() == Some("phone");
    if send_code
        && by_phone
        && (user.phone.as_deref().is_none_or(|p| p.trim().is_empty())
            || state.settings().code_sms_account.is_none())
    {
        return Ok(ctx.redirect(&ctx.app_link("/admin/dsr?error=phone")));
    }
    let id = state.ids().next();
    state
        .store()
        .file_data_request(
            &NewDataRequest {
                id,
                kind,
                user_id: user.id,
                details: f.details.unwrap_or_default().trim().to_owned(),
                lang: user.lang.clone(),
                filed_by: format!("user:{}", staff.id),
                verified_by: verified,
            },
            now,
        )
        .await?;
    if send_code && by_phone {
        let code = format!("{:06}", rand::random::<u32>() % 1_000_000);
        let phone = user.phone.clone().unwrap_or_default();
        if !send_code_sms(&state, id, &phone, &user.lang, &code, now).await? {
            return Ok(ctx.redirect(&ctx.app_link("/admin/dsr?error=phone")));
        }
    } else if send_code {
        let code = format!("{:06}", rand::random::<u32>() % 1_000_000);
        state
            .store()
            .set_request_code(
                id,
                &code_hash(&code),
                "code_email",
                now + EMAIL_CODE_US,
                now,
            )
            .await?;
        let (subject, body) = if user.lang == "cs" {
            ("Ověření žádosti o osobní údaje", format!("Kód pro ověření Vaší žádosti č. {id}: {code}\nPlatí 24 hodin. Sdělte jej pracovníkovi, který žádost přijal. Pokud jste žádost nepodali, zprávu ignorujte."))
        } else {
            ("Verifying your personal data request", format!("The code verifying your request no. {id}: {code}\nValid for 24 hours. Give it to the person who took your request. If you did not make the request, ignore this message."))
        };
        state
            .store()
            .push_email(&user.email, subject, &body, now)
            .await?;
    }
    Ok(ctx.redirect(&ctx.app_link("/admin/dsr?done=filed")))
}

#[derive(Deserialize)]
pub struct CodeForm {
    csrf: String,
    code: String,
}

async fn admin_verify(
    State(state): State<WebState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Form(f): Form<CodeForm>,
) -> Result<Response, WebError> {
    require_dpo(&ctx)?;
    ctx.check_csrf(&f.csrf)?;
    let ok = state
        .store()
        .verify_request_code(id, &code_hash(&f.code), store::now_us())
        .await?
        == store::CodeCheck::Verified;
    Ok(ctx.redirect(&ctx.app_link(if ok {
        "/admin/dsr?done=verified"
    } else {
        "/admin/dsr?error=1"
    })))
}

#[derive(Deserialize)]
pub struct TextForm {
    csrf: String,
    answer: Option<String>,
    reason: Option<String>,
}

async fn admin_extend(
    State(state): State<WebState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Form(f): Form<TextForm>,
) -> Result<Response, WebError> {
    let staff = require_dpo(&ctx)?;
    ctx.check_csrf(&f.csrf)?;
    let ok = state
        .store()
        .extend_data_request(
            id,
            f.reason.as_deref().unwrap_or("").trim(),
            &format!("user:{}", staff.id),
            store::now_us(),
        )
        .await?;
    Ok(ctx.redirect(&ctx.app_link(if ok {
        "/admin/dsr?done=extended"
    } else {
        "/admin/dsr?error=1"
    })))
}

async fn admin_close(
    State(state): State<WebState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Form(f): Form<TextForm>,
) -> Result<Response, WebError> {
    let staff = require_dpo(&ctx)?;
    ctx.check_csrf(&f.csrf)?;
    let answer = f.answer.as_deref().unwrap_or("").trim();
    let ok = !answer.is_empty()
        && state
            .store()
            .close_data_request(
                id,
                false,
                answer,
                &format!("user:{}", staff.id),
                store::now_us(),
            )
            .await?;
    Ok(ctx.redirect(&ctx.app_link(if ok {
        "/admin/dsr?done=closed"
    } else {
        "/admin/dsr?error=1"
    })))
}

async fn admin_erase(
    State(state): State<WebState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Form(f): Form<TextForm>,
) -> Result<Response, WebError> {
    let staff = require_dpo(&ctx)?;
    ctx.check_csrf(&f.csrf)?;
    let r = state
        .store()
        .data_request(id)
        .await?
        .ok_or(WebError::NotFound)?;
    let (Some(user), true, true, None) = (
        r.user_id,
        r.kind == RequestKind::Erasure,
        r.is_verified(),
        r.closed_at,
    ) else {
        return Ok(ctx.redirect(&ctx.app_link("/admin/dsr?error=1")));
    };
    let actor = format!("user:{}", staff.id);
    let now = store::now_us();
    let e = state
        .store()
        .erase_customer(user, &actor, &format!("dsr:{id}"), now)
        .await?
        .ok_or(WebError::NotFound)?;
    let answer = erasure_answer(&e, &r.lang);
    state
        .store()
        .close_data_request(id, false, &answer, &actor, now)
        .await?;
    Ok(ctx.redirect(&ctx.app_link("/admin/dsr?done=erased")))
}

/// What an erasure did, for the person: what went, and what stays and why.
pub fn erasure_answer(e: &store::CustomerErasure, lang: &str) -> String {
    let l = Lang::parse(lang).unwrap_or(Lang::Cs);
    let mut s = l
        .t(
            "Vaše osobní údaje jsme vymazali nebo anonymizovali.",
            "We erased or anonymised your personal data.",
        )
        .to_owned();
    if e.invoices_kept > 0 {
        s.push(' ');
        s.push_str(l.t(
            "Faktury uchováváme 10 let (§ 35 zákona č. 235/2004 Sb.).",
            "We keep invoices for 10 years (§ 35 of Act 235/2004).",
        ));
    }
    if e.debtor_record_kept {
        s.push(' ');
        s.push_str(l.t(
            "Identifikaci účtu uchováváme, dokud je otevřena pohledávka.",
            "We keep the account's identification while a claim is open.",
        ));
    }
    if e.messages_kept > 0 {
        s.push(' ');
        s.push_str(l.t(
            "Provozní údaje zpráv (bez textů) uchováváme 6 měsíců (zákon č. 127/2005 Sb.).",
            "We keep traffic data of messages (without texts) for 6 months (Act 127/2005).",
        ));
    }
    s
}

async fn admin_archive(
    State(state): State<WebState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let staff = require_dpo(&ctx)?;
    let r = state
        .store()
        .data_request(id)
        .await?
        .ok_or(WebError::NotFound)?;
    if !matches!(r.kind, RequestKind::Access | RequestKind::Portability) || !r.is_verified() {
        return Err(WebError::NotFound);
    }
    archive_response(&state, &r, &format!("user:{}", staff.id)).await
}

async fn admin_retention(State(state): State<WebState>, ctx: Ctx) -> Result<Response, WebError> {
    let staff = require_dpo(&ctx)?;
    let l = ctx.lang;
    let now = store::now_us();
    state
        .store()
        .audit_read(
            &format!("user:{}", staff.id),
            "staff.retention_report",
            "retention",
            "back office view",
            now,
        )
        .await?;
    let lines = state.store().retention_report(now).await?;
    let holds = state.store().legal_holds().await?;
    let pick = |t: (&'static str, &'static str)| l.t(t.0, t.1);
    let period = |p: Period| match p {
        Period::Days(d) => format!("{d} {}", l.t("dní", "days")),
        Period::Months(m) => format!("{m} {}", l.t("měsíců", "months")),
        Period::Years(y) => format!("{y} {}", l.t("let", "years")),
        Period::UntilWithdrawal => l.t("do odvolání", "until withdrawn").to_owned(),
    };
    let title = l.t("Doby uložení", "Retention");
    let body = html! {
        h1 { (title) }
        div class="table-wrap" {
            table {
                caption { (l.t("Co uchováváme, proč a do kdy", "What we keep, why and until when")) }
                thead { tr {
                    th scope="col" { (l.t("Kategorie", "Category")) } th scope="col" { (l.t("Právní základ", "Legal basis")) }
                    th scope="col" { (l.t("Doba", "Period")) } th scope="col" { (l.t("Od", "From")) } th scope="col" { (l.t("Mazání", "Deletion")) }
                    th scope="col" { (l.t("Uloženo", "Stored")) } th scope="col" { (l.t("Nejstarší do", "Oldest kept until")) } th scope="col" { (l.t("Zadrženo", "Held")) }
                } }
                tbody {
                    @for line in &lines {
                        @let p = policy(line.category);
                        tr {
                            td { (pick(p.data)) } td { (pick(p.legal_basis)) } td { (period(p.period)) } td { (p.start.as_str()) }
                            td { @if p.enforcement == Enforcement::Delete { (l.t("automaticky denně", "automatic, daily")) } @else { (l.t("jen přehled", "report only")) } }
                            td { (line.stored.map(|n| n.to_string()).unwrap_or_else(|| "–".into())) }
                            td { (line.oldest.and_then(|o| p.period.due(o)).map(prague::format).unwrap_or_else(|| "–".into())) }
                            td { (line.held) }
                        }
                    }
                }
            }
        }
        h2 { (l.t("Zákonná zadržení", "Legal holds")) }
        @if holds.is_empty() { p { (l.t("Žádná otevřená zadržení.", "No open legal holds.")) } } @else {
            div class="table-wrap" {
                table {
                    caption { (l.t("Otevřená zadržení", "Open legal holds")) }
                    thead { tr { th scope="col" { "#" } th scope="col" { (l.t("Rozsah", "Scope")) } th scope="col" { (l.t("Cíl", "Target")) } th scope="col" { (l.t("Důvod", "Reason")) } th scope="col" { (l.t("Od", "Since")) } } }
                    tbody {
                        @for h in &holds {
                            tr { td { (h.id) } td { (h.scope) } td { (h.target_id.map(|t| t.to_string()).or_else(|| h.number.clone()).unwrap_or_default()) } td { (h.reason) } td { (prague::format(h.created_at)) } }
                        }
                    }
                }
            }
        }
        p class="hint" { (l.t("Účty s otevřenou pohledávkou jsou zadrženy automaticky.", "Accounts with an open debt are held automatically.")) }
    };
    Ok(ctx.html(layout::page(&ctx, Area::Staff, title, body)))
}

async fn admin_tickets(State(state): State<WebState>, ctx: Ctx) -> Result<Response, WebError> {
    let staff = ctx.require_duty(Duty::Tickets)?;
    let l = ctx.lang;
    state
        .store()
        .audit_read(
            &format!("user:{}", staff.id),
            "staff.list_tickets",
            "ticket:*",
            "back office view",
            store::now_us(),
        )
        .await?;
    let list = state.store().tickets(None, false).await?;
    let title = l.t("Požadavky zákazníků", "Customer tickets");
    let body = html! {
        h1 { (title) }
        @if list.is_empty() { p { (l.t("Žádné požadavky.", "No tickets.")) } } @else { (tickets_table(&ctx, &list, "/admin/tickets")) }
    };
    Ok(ctx.html(layout::page(&ctx, Area::Staff, title, body)))
}

async fn admin_ticket(
    State(state): State<WebState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let staff = ctx.require_duty(Duty::Tickets)?;
    let l = ctx.lang;
    state
        .store()
        .audit_read(
            &format!("user:{}", staff.id),
            "staff.view_ticket",
            &format!("ticket:{id}"),
            "back office view",
            store::now_us(),
        )
        .await?;
    let t = state
        .store()
        .ticket(id, None)
        .await?
        .ok_or(WebError::NotFound)?;
    let msgs = state.store().ticket_messages(id).await?;
    let title = format!("{} {}", l.t("Požadavek", "Ticket"), t.id);
    let body = html! {
        h1 { (title) }
        p { (ticket_kind_name(l, t.kind)) " · " (t.subject) " · " (t.status)
            @if let Some(a) = t.account { " · " (l.t("účet ", "account ")) (a) }
            @if let Some(m) = t.message_id { " · " (l.t("zpráva ", "message ")) (m) } }
        (conversation(l, &msgs))
        form method="post" action=(ctx.app_link(&format!("/admin/tickets/{id}"))) {
            input type="hidden" name="csrf" value=(ctx.csrf);
            (field("body", l.t("Odpověď zákazníkovi", "Reply to the customer"), html! { textarea id="body" name="body" rows="4" required {} }, None))
            button type="submit" { (l.t("Odeslat", "Send")) }
        }
        @if t.status == "open" {
            form method="post" action=(ctx.app_link(&format!("/admin/tickets/{id}/resolve"))) {
                input type="hidden" name="csrf" value=(ctx.csrf);
                button type="submit" class="secondary" { (l.t("Vyřešeno (uvolní zadržení)", "Resolved (releases the holds)")) }
            }
        }
    };
    Ok(ctx.html(layout::page(&ctx, Area::Staff, &title, body)))
}

async fn admin_reply(
    State(state): State<WebState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Form(f): Form<ReplyForm>,
) -> Result<Response, WebError> {
    let staff = ctx.require_duty(Duty::Tickets)?;
    ctx.check_csrf(&f.csrf)?;
    if !f.body.trim().is_empty()
        && !state
            .store()
            .reply_to_ticket(
                id,
                &format!("staff:{}", staff.id),
                f.body.trim(),
                store::now_us(),
            )
            .await?
    {
        return Err(WebError::NotFound);
    }
    Ok(ctx.redirect(&ctx.app_link(&format!("/admin/tickets/{id}"))))
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

async fn admin_resolve(
    State(state): State<WebState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    let staff = ctx.require_duty(Duty::Tickets)?;
    ctx.check_csrf(&f.csrf)?;
    state
        .store()
        .resolve_ticket(id, &format!("user:{}", staff.id), store::now_us())
        .await?;
    Ok(ctx.redirect(&ctx.app_link(&format!("/admin/tickets/{id}"))))
}

async fn admin_processing(ctx: Ctx) -> Result<Response, WebError> {
    require_dpo(&ctx)?;
    let l = ctx.lang;
    let pick = |t: (&'static str, &'static str)| l.t(t.0, t.1);
    let title = l.t("Záznam o činnostech zpracování", "Record of processing");
    let body = html! {
        h1 { (title) }
        h2 { (l.t("Účely a právní základy", "Purposes and legal bases")) }
        div class="table-wrap" {
            table {
                caption { (l.t("Účely (čl. 2 zásad)", "Purposes (clause 2 of the rules)")) }
                thead { tr { th scope="col" { (l.t("Účel", "Purpose")) } th scope="col" { (l.t("Právní základ", "Legal basis")) } } }
                tbody { @for p in PURPOSES { tr { td { (pick(p.text)) } td { (pick(p.basis.text())) } } } }
            }
        }
        h2 { (l.t("Příjemci a zpracovatelé", "Recipients and processors")) }
        div class="table-wrap" {
            table {
                caption { (l.t("Příjemci (čl. 5 zásad)", "Recipients (clause 5 of the rules)")) }
                thead { tr { th scope="col" { (l.t("Příjemce", "Recipient")) } th scope="col" { (l.t("Role", "Role")) } th scope="col" { (l.t("Předání mimo EU", "Transfer outside the EU")) } } }
                tbody {
                    @for r in RECIPIENTS {
                        tr {
                            td { (pick(r.text)) }
                            td { @if r.processor { (l.t("zpracovatel", "processor")) } @else { (l.t("příjemce", "recipient")) } }
                            td { (r.transfer.map(pick).unwrap_or("–")) }
                        }
                    }
                }
            }
        }
    };
    Ok(ctx.html(layout::page(&ctx, Area::Staff, title, body)))
}
