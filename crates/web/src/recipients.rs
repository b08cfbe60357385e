//! Recipients in the customer app: contact lists with their CSV uploads (streamed, so a million
//! rows take bounded memory; the upload's progress while it runs and a report of every refused
//! row after), the account's Blacklist, and the texts of commercial messages (identification and
//! opt-out line). In the back office: a recipient's request to the operator (erasure,
//! restriction, a block of all messages).
//!
//! Every change goes through the same functions as the API (`api::contacts`, `api::blacklist`),
//! so the rules are those of `/v1/contact-lists` and `/v1/blacklist`.

use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup};
use serde::Deserialize;
use store::{Basis, BlacklistEntry, EntryKind, ImportRecord, ImportStatus, Scope, Source};

use crate::ctx::{Ctx, Duty};
use crate::error::WebError;
use crate::forms::opt;
use crate::i18n::Lang;
use crate::layout::{self, field, Area};
use crate::{prague, WebState};

/// Contacts shown per page of a list.
const CONTACTS_PAGE: u32 = 100;
/// Blacklist entries shown per page.
const BLACKLIST_PAGE: u32 = 100;
/// The largest upload the form takes (the API's import has no limit but the stream's).
const MAX_UPLOAD: usize = 512 * 1024 * 1024;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/app/contacts", get(lists).post(create_list))
        .route("/app/contacts/{id}", get(list_page))
        .route(
            "/app/contacts/{id}/import",
            post(upload).layer(DefaultBodyLimit::max(MAX_UPLOAD)),
        )
        .route("/app/contacts/{id}/imports/{import}", get(import_page))
        .route("/app/contacts/{id}/delete", post(delete_list))
        .route("/app/contacts/{id}/remove", post(remove_contact))
        .route("/app/blacklist", get(blacklist).post(blacklist_add))
        .route("/app/blacklist/remove", post(blacklist_remove))
        .route("/app/marketing", post(marketing_texts))
        .route("/admin/recipients", get(staff_page).post(staff_act))
}

fn basis_name(l: Lang, b: Option<Basis>) -> &'static str {
    match b {
        Some(Basis::Consent) => l.t("souhlas", "consent"),
        Some(Basis::Customer) => l.t("stávající zákazníci", "existing customers"),
        None => l.t("neuveden", "none declared"),
    }
}

fn import_status(l: Lang, s: ImportStatus) -> &'static str {
    match s {
        ImportStatus::Running => l.t("probíhá", "running"),
        ImportStatus::Done => l.t("hotovo", "done"),
        ImportStatus::Failed => l.t("selhal", "failed"),
    }
}

/// An API refusal shown on the page (its text names what is wrong); a server fault is an error.
fn refusal(e: api::error::ApiError) -> Result<String, WebError> {
    if e.status().is_client_error() {
        Ok(e.detail().to_owned())
    } else {
        Err(anyhow::anyhow!("{}", e.detail()).into())
    }
}

async fn owned_list(
    state: &WebState,
    account: domain::AccountId,
    id: i64,
) -> Result<store::ContactList, WebError> {
    state
        .store()
        .contact_list(account, id)
        .await?
        .ok_or(WebError::NotFound)
}

// ---- contact lists ----

async fn lists_view(
    state: &WebState,
    ctx: &Ctx,
    account: domain::AccountId,
    error: Option<&str>,
) -> Result<Markup, WebError> {
    let l = ctx.lang;
    let all = state.store().contact_lists(account, None, 1000).await?;
    let title = l.t("Kontakty", "Contacts");
    let body = html! {
        h1 { (title) }
        @if let Some(e) = error { (layout::notice("error", e)) }
        form class="stack" method="post" action=(ctx.app_link("/app/contacts")) {
            input type="hidden" name="csrf" value=(ctx.csrf);
            (field("list-name", l.t("Název nového seznamu", "Name of a new list"),
                html! { input type="text" id="list-name" name="name" required maxlength="200"; }, None))
            div { button type="submit" { (l.t("Vytvořit seznam", "Create the list")) } }
        }
        @if all.is_empty() {
            p { (l.t("Zatím žádné seznamy.", "No lists yet.")) }
        } @else {
            div class="table-wrap" {
                table {
                    caption { (l.t("Seznamy kontaktů", "Contact lists")) }
                    thead { tr {
                        th scope="col" { (l.t("Název", "Name")) }
                        th scope="col" { (l.t("Kontaktů", "Contacts")) }
                        th scope="col" { (l.t("Vytvořen", "Created")) }
                    } }
                    tbody {
                        @for list in &all {
                            tr {
                                td { a href=(ctx.app_link(&format!("/app/contacts/{}", list.id))) { (list.name) } }
                                td { (list.contacts) }
                                td { (prague::format(list.created_at)) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(ctx, Area::App, title, body))
}

async fn lists(State(state): State<WebState>, ctx: Ctx) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    let page = lists_view(&state, &ctx, user.account, None).await?;
    Ok(ctx.html(page))
}

#[derive(Deserialize)]
pub struct NameForm {
    csrf: String,
    name: String,
}

async fn create_list(
    State(state): State<WebState>,
    ctx: Ctx,
    Form(f): Form<NameForm>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    ctx.check_csrf(&f.csrf)?;
    let name = f.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        let e = ctx.lang.t(
            "Název seznamu musí mít 1 až 200 znaků.",
            "A list's name has 1 to 200 characters.",
        );
        let page = lists_view(&state, &ctx, user.account, Some(e)).await?;
        return Ok(ctx.html_status(StatusCode::UNPROCESSABLE_ENTITY, page));
    }
    let id = state.ids().next();
    state
        .store()
        .create_contact_list(id, user.account, name, store::now_us())
        .await?;
    Ok(ctx.redirect(&ctx.app_link(&format!("/app/contacts/{id}"))))
}

#[derive(Deserialize)]
pub struct ListQuery {
    /// The last number of the previous page.
    after: Option<String>,
}

fn imports_table(ctx: &Ctx, list: i64, imports: &[ImportRecord]) -> Markup {
    let l = ctx.lang;
    html! {
        div class="table-wrap" {
            table {
                caption { (l.t("Nahrávání", "Uploads")) }
                thead { tr {
                    th scope="col" { (l.t("Začalo", "Started")) }
                    th scope="col" { (l.t("Stav", "Status")) }
                    th scope="col" { (l.t("Řádků přečteno", "Rows read")) }
                    th scope="col" { (l.t("Přidáno", "Added")) }
                    th scope="col" { (l.t("Duplicitní", "Duplicates")) }
                    th scope="col" { (l.t("Odmítnuto", "Refused")) }
                    th scope="col" { (l.t("Blokováno", "Blocked")) }
                } }
                tbody {
                    @for i in imports {
                        tr {
                            td { a href=(ctx.app_link(&format!("/app/contacts/{list}/imports/{}", i.id))) { (prague::format(i.created_at)) } }
                            td { (import_status(l, i.status)) }
                            td { (i.rows_read) }
                            td { (i.imported) }
                            td { (i.duplicates) }
                            td { (i.rejected) }
                            td { (i.blocked) }
                        }
                    }
                }
            }
        }
    }
}

fn upload_form(ctx: &Ctx, list: i64) -> Markup {
    let l = ctx.lang;
    html! {
        form class="stack" method="post" enctype="multipart/form-data" data-upload="1"
            data-upload-error=(l.t("Nahrávání selhalo.", "The upload failed."))
            action=(ctx.app_link(&format!("/app/contacts/{list}/import"))) {
            // First in the body: the server checks it before it reads the file.
            input type="hidden" name="csrf" value=(ctx.csrf);
            (field("basis", l.t("Právní základ pro obchodní sdělení", "Basis for commercial messages"),
                html! {
                    select id="basis" name="basis" {
                        option value="none" { (basis_name(l, None)) }
                        option value="consent" { (l.t("příjemci dali souhlas", "the recipients gave their consent")) }
                        option value="customer" { (l.t("jsou to naši stávající zákazníci", "they are our existing customers")) }
                    }
                },
                Some(l.t("Obchodní sdělení odejdou jen kontaktům s uvedeným základem.", "Commercial messages go only to contacts with a declared basis."))))
            (field("file", l.t("Soubor CSV (první řádek: number, name a další sloupce)", "CSV file (first line: number, name and further columns)"),
                html! { input type="file" id="file" name="file" accept=".csv,text/csv" required; }, None))
            progress class="upload" max="100" value="0" hidden { }
            p class="live" aria-live="polite" data-upload-status="1" { }
            div { button type="submit" { (l.t("Nahrát", "Upload")) } }
        }
    }
}

async fn list_page(
    State(state): State<WebState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    let l = ctx.lang;
    let list = owned_list(&state, user.account, id).await?;
    let contacts = state
        .store()
        .contacts(list.id, q.after.as_deref(), CONTACTS_PAGE)
        .await?;
    let imports = state.store().contact_imports(user.account, list.id).await?;
    let body = html! {
        h1 { (list.name) }
        p { (list.contacts) " " (l.t("kontaktů", "contacts")) " · "
            a href=(ctx.app_link(&format!("/app/send?list={}", list.id))) { (l.t("Odeslat seznamu", "Send to this list")) } }
        h2 { (l.t("Nahrát kontakty", "Upload contacts")) }
        (upload_form(&ctx, list.id))
        @if !imports.is_empty() { (imports_table(&ctx, list.id, &imports)) }
        h2 { (l.t("Kontakty", "Contacts")) }
        @if contacts.is_empty() {
            p { (l.t("Seznam je prázdný.", "The list is empty.")) }
        } @else {
            div class="table-wrap" {
                table {
                    caption { (l.t("Kontakty podle čísla", "Contacts by number")) }
                    thead { tr {
                        th scope="col" { (l.t("Číslo", "Number")) }
                        th scope="col" { (l.t("Jméno", "Name")) }
                        th scope="col" { (l.t("Další pole", "Other fields")) }
                        th scope="col" { (l.t("Základ", "Basis")) }
                        th scope="col" { span class="skip" { (l.t("Akce", "Action")) } }
                    } }
                    tbody {
                        @for c in &contacts {
                            tr {
                                td { (c.number) }
                                td { (c.name.as_deref().unwrap_or("")) }
                                td { code { (c.fields.as_deref().unwrap_or("")) } }
                                td { (basis_name(l, c.basis)) }
                                td {
                                    (layout::button_form(&ctx, &format!("/app/contacts/{}/remove", list.id), &[("number", &c.number)], l.t("Odebrat", "Remove"), "secondary"))
                                }
                            }
                        }
                    }
                }
            }
            @if contacts.len() == CONTACTS_PAGE as usize {
                @if let Some(last) = contacts.last() {
                    p { a href=(ctx.app_link(&format!("/app/contacts/{}?after={}", list.id, url_encode(&last.number)))) { (l.t("Další", "Next")) } }
                }
            }
        }
        h2 { (l.t("Smazat seznam", "Delete the list")) }
        (layout::button_form(&ctx, &format!("/app/contacts/{}/delete", list.id), &[], l.t("Smazat seznam i jeho kontakty", "Delete the list and its contacts"), "danger"))
    };
    Ok(ctx.html(layout::page_with(&ctx, Area::App, &list.name, true, body)))
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The multipart upload: `csrf` first, then `basis`, then `file`, whose bytes go to the import
/// as they arrive.
async fn upload(
    State(state): State<WebState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    mut form: Multipart,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?.clone();
    let l = ctx.lang;
    let list = owned_list(&state, user.account, id).await?;
    let bad = |cs: &str, en: &str| -> Result<Response, WebError> {
        let body = html! {
            h1 { (list.name) }
            (layout::notice("error", l.t(cs, en)))
            (upload_form(&ctx, list.id))
        };
        Ok(ctx.html_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            layout::page_with(&ctx, Area::App, &list.name, true, body),
        ))
    };
    let mut csrf_ok = false;
    let mut basis = None;
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(_) => {
                return bad(
                    "Nahrávání se přerušilo. Zkuste to znovu.",
                    "The upload broke off. Please try again.",
                )
            }
        };
        match field.name() {
            Some("csrf") => {
                let token = field.text().await.unwrap_or_default();
                ctx.check_csrf(&token)?;
                csrf_ok = true;
            }
            Some("basis") => {
                let raw = field.text().await.unwrap_or_default();
                basis = match api::contacts::parse_basis(Some(&raw)) {
                    Ok(b) => b,
                    Err(e) => return bad(e.detail(), e.detail()),
                };
            }
            Some("file") => {
                if !csrf_ok {
                    return Err(WebError::Csrf);
                }
                let done = match api::contacts::import_stream(
                    state.api_state(),
                    user.account,
                    list.id,
                    basis,
                    field,
                )
                .await
                {
                    Ok(done) => done,
                    Err(e) => {
                        let why = refusal(e)?;
                        return bad(&why, &why);
                    }
                };
                return Ok(ctx.redirect(&ctx.app_link(&format!(
                    "/app/contacts/{}/imports/{}",
                    list.id, done.record.id
                ))));
            }
            _ => {}
        }
    }
    if !csrf_ok {
        return Err(WebError::Csrf);
    }
    bad("Vyberte soubor CSV.", "Choose a CSV file.")
}

async fn import_page(
    State(state): State<WebState>,
    ctx: Ctx,
    Path((id, import)): Path<(i64, i64)>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    let l = ctx.lang;
    let list = owned_list(&state, user.account, id).await?;
    let record = state
        .store()
        .contact_import(user.account, list.id, import)
        .await?
        .ok_or(WebError::NotFound)?;
    let rejects = state.store().import_rejects(import, 0, 1000).await?;
    let title = l.t("Výsledek nahrávání", "Upload report");
    let body = html! {
        h1 { (title) }
        p { a href=(ctx.app_link(&format!("/app/contacts/{}", list.id))) { (list.name) } }
        @if let Some(e) = &record.error { (layout::notice("error", e)) }
        dl class="facts" {
            dt { (l.t("Stav", "Status")) } dd id="import-status" { (import_status(l, record.status)) }
            dt { (l.t("Řádků přečteno", "Rows read")) } dd id="import-rows" { (record.rows_read) }
            dt { (l.t("Přidáno", "Added")) } dd id="import-added" { (record.imported) }
            dt { (l.t("Duplicitní", "Duplicates")) } dd { (record.duplicates) }
            dt { (l.t("Odmítnuto", "Refused")) } dd id="import-refused" { (record.rejected) }
            dt { (l.t("Blokováno (na Blacklistu)", "Blocked (on the Blacklist)")) } dd id="import-blocked" { (record.blocked) }
            dt { (l.t("Právní základ", "Basis")) } dd { (basis_name(l, record.basis)) }
        }
        @if !rejects.is_empty() {
            div class="table-wrap" {
                table id="rejects" {
                    caption { (l.t("Odmítnuté řádky", "Refused rows")) }
                    thead { tr {
                        th scope="col" { (l.t("Řádek", "Row")) }
                        th scope="col" { (l.t("Hodnota", "Value")) }
                        th scope="col" { (l.t("Důvod", "Reason")) }
                    } }
                    tbody {
                        @for r in &rejects {
                            tr { td { (r.row) } td { (r.value.as_deref().unwrap_or("")) } td { (r.reason) } }
                        }
                    }
                }
            }
            @if rejects.len() == 1000 {
                p { (l.t("Zobrazeno prvních 1000 odmítnutých řádků; všechny vrací API (GET /v1/contact-lists/{id}/imports/{import_id}).",
                         "The first 1,000 refused rows are shown; the API gives all of them (GET /v1/contact-lists/{id}/imports/{import_id}).")) }
            }
        }
    };
    Ok(ctx.html(layout::page(&ctx, Area::App, title, body)))
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

async fn delete_list(
    State(state): State<WebState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    ctx.check_csrf(&f.csrf)?;
    if !state.store().delete_contact_list(user.account, id).await? {
        return Err(WebError::NotFound);
    }
    Ok(ctx.redirect(&ctx.app_link("/app/contacts")))
}

#[derive(Deserialize)]
pub struct NumberForm {
    csrf: String,
    number: String,
}

async fn remove_contact(
    State(state): State<WebState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Form(f): Form<NumberForm>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    ctx.check_csrf(&f.csrf)?;
    let list = owned_list(&state, user.account, id).await?;
    state.store().delete_contact(list.id, &f.number).await?;
    Ok(ctx.redirect(&ctx.app_link(&format!("/app/contacts/{}", list.id))))
}

// ---- the Blacklist ----

fn kind_name(l: Lang, e: &BlacklistEntry) -> &'static str {
    match e.kind {
        EntryKind::OptOut if e.scope == Scope::Global => {
            l.t("odhlášení všech zpráv", "opt-out of all messages")
        }
        EntryKind::OptOut => l.t("odhlášení", "opt-out"),
        EntryKind::Restricted => l.t("omezení zpracování", "restriction"),
        EntryKind::Erased => l.t("výmaz", "erasure"),
    }
}

fn source_name(l: Lang, s: Source) -> &'static str {
    match s {
        Source::Recipient => l.t("odpověď příjemce", "recipient's reply"),
        Source::Api => "API",
        Source::Web => l.t("web", "web"),
        Source::Staff => l.t("provozovatel", "operator"),
    }
}

async fn blacklist_view(
    state: &WebState,
    ctx: &Ctx,
    account: domain::AccountId,
    notice: Option<(&str, &str)>,
) -> Result<Markup, WebError> {
    let l = ctx.lang;
    let entries = state
        .store()
        .list_blacklist(account, None, BLACKLIST_PAGE)
        .await?;
    let (identification, optout_line) = state.store().marketing_texts(account).await?;
    let title = "Blacklist";
    let body = html! {
        h1 { (title) }
        p { (l.t("Na tato čísla Váš účet nic neodešle: zprávy dostanou stav „blokováno“ a nic se neúčtuje. Příjemce se odhlásí i sám odpovědí STOP; takové odhlášení zruší jen jeho odpověď START.",
                 "Your account sends nothing to these numbers: messages get the status “blocked” and nothing is charged. Recipients also opt out by replying STOP; only their own START reply lifts that.")) }
        @if let Some((kind, text)) = notice { (layout::notice(kind, text)) }
        form class="stack" method="post" action=(ctx.app_link("/app/blacklist")) {
            input type="hidden" name="csrf" value=(ctx.csrf);
            (field("bl-number", l.t("Telefonní číslo", "Phone number"),
                html! { input type="tel" id="bl-number" name="number" required autocomplete="off"; }, None))
            div { button type="submit" { (l.t("Přidat na Blacklist", "Add to the Blacklist")) } }
        }
        @if entries.is_empty() {
            p { (l.t("Blacklist je prázdný.", "The Blacklist is empty.")) }
        } @else {
            div class="table-wrap" {
                table id="blacklist" {
                    caption { (l.t("Čísla, na která se neposílá, nejnovější první", "Numbers not sent to, newest first")) }
                    thead { tr {
                        th scope="col" { (l.t("Číslo", "Number")) }
                        th scope="col" { (l.t("Druh", "Kind")) }
                        th scope="col" { (l.t("Zdroj", "Source")) }
                        th scope="col" { (l.t("Od", "Since")) }
                        th scope="col" { span class="skip" { (l.t("Akce", "Action")) } }
                    } }
                    tbody {
                        @for e in &entries {
                            tr {
                                td { (e.number.as_deref().unwrap_or(l.t("(vymazáno)", "(erased)"))) }
                                td { (kind_name(l, e)) }
                                td { (source_name(l, e.source)) }
                                td { (prague::format(e.created_at)) }
                                td {
                                    @if let (Some(n), true) = (&e.number, e.source != Source::Recipient) {
                                        (layout::button_form(ctx, "/app/blacklist/remove", &[("number", n)], l.t("Odebrat", "Remove"), "secondary"))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 id="marketing" { (l.t("Obchodní sdělení", "Commercial messages")) }
        p { (l.t("Zpráva označená jako obchodní sdělení musí obsahovat značku „OS“ nebo „obchodní sdělení“, Vaši identifikaci a pokyn k odhlášení. Tyto texty lze při odesílání doplnit automaticky.",
                 "A message marked as commercial must contain the mark “OS” or “obchodní sdělení”, your identification and an opt-out instruction. These texts can be added when sending.")) }
        form class="stack" method="post" action=(ctx.app_link("/app/marketing")) {
            input type="hidden" name="csrf" value=(ctx.csrf);
            (field("identification", l.t("Identifikace odesílatele", "Sender's identification"),
                html! { input type="text" id="identification" name="identification" maxlength="100" value=(identification.unwrap_or_default()); },
                Some(l.t("Např. „Firma s.r.o., IČO 12345678“", "E.g. “Firma s.r.o., IČO 12345678”"))))
            (field("optout_line", l.t("Pokyn k odhlášení", "Opt-out instruction"),
                html! { input type="text" id="optout_line" name="optout_line" maxlength="100" value=(optout_line.unwrap_or_default()); },
                Some(l.t("Např. „Odhlášení: SMS STOP na 9000“", "E.g. “Odhlášení: SMS STOP na 9000”"))))
            div { button type="submit" { (l.t("Uložit", "Save")) } }
        }
    };
    Ok(layout::page(ctx, Area::App, title, body))
}

async fn blacklist(State(state): State<WebState>, ctx: Ctx) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    let page = blacklist_view(&state, &ctx, user.account, None).await?;
    Ok(ctx.html(page))
}

async fn blacklist_add(
    State(state): State<WebState>,
    ctx: Ctx,
    Form(f): Form<NumberForm>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    ctx.check_csrf(&f.csrf)?;
    let api = state.api_state();
    let outcome = match api::blacklist::parse_number(api, &f.number) {
        Ok(n) => api::blacklist::add_number(api, user.account, &n, Source::Web)
            .await
            .map(|_| n),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(_) => Ok(ctx.redirect(&ctx.app_link("/app/blacklist"))),
        Err(e) => {
            let why = refusal(e)?;
            let page = blacklist_view(&state, &ctx, user.account, Some(("error", &why))).await?;
            Ok(ctx.html_status(StatusCode::UNPROCESSABLE_ENTITY, page))
        }
    }
}

async fn blacklist_remove(
    State(state): State<WebState>,
    ctx: Ctx,
    Form(f): Form<NumberForm>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    ctx.check_csrf(&f.csrf)?;
    let l = ctx.lang;
    let why = match state
        .store()
        .remove_from_blacklist(user.account, &f.number)
        .await?
    {
        store::Removal::Removed => return Ok(ctx.redirect(&ctx.app_link("/app/blacklist"))),
        store::Removal::NotFound => l.t(
            "Číslo na Blacklistu není.",
            "The number is not on the Blacklist.",
        ),
        store::Removal::FromRecipient => l.t(
            "Příjemce se odhlásil sám; odhlášení zruší jen jeho odpověď START.",
            "The recipient opted out by a reply; only their own START reply lifts it.",
        ),
    };
    let page = blacklist_view(&state, &ctx, user.account, Some(("error", why))).await?;
    Ok(ctx.html_status(StatusCode::CONFLICT, page))
}

#[derive(Deserialize)]
pub struct MarketingForm {
    csrf: String,
    identification: Option<String>,
    optout_line: Option<String>,
}

async fn marketing_texts(
    State(state): State<WebState>,
    ctx: Ctx,
    Form(f): Form<MarketingForm>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    ctx.check_csrf(&f.csrf)?;
    let identification = opt(&f.identification);
    let optout_line = opt(&f.optout_line);
    let too_long = [&identification, &optout_line]
        .iter()
        .any(|t| t.as_deref().is_some_and(|t| t.chars().count() > 100));
    if too_long {
        let e = ctx.lang.t(
            "Každý text má nejvýše 100 znaků.",
            "Each text has at most 100 characters.",
        );
        let page = blacklist_view(&state, &ctx, user.account, Some(("error", e))).await?;
        return Ok(ctx.html_status(StatusCode::UNPROCESSABLE_ENTITY, page));
    }
    state
        .store()
        .set_marketing_texts(
            user.account,
            identification.as_deref(),
            optout_line.as_deref(),
        )
        .await?;
    Ok(ctx.redirect(&ctx.app_link("/app/blacklist#marketing")))
}

// ---- the back office: a recipient's request to the operator ----

#[derive(Deserialize)]
pub struct StaffQuery {
    number: Option<String>,
}

async fn staff_view(
    state: &WebState,
    ctx: &Ctx,
    number: Option<&str>,
    notice: Option<(&str, String)>,
) -> Result<Markup, WebError> {
    let l = ctx.lang;
    let parsed = number.map(str::trim).filter(|n| !n.is_empty()).map(|raw| {
        api::blacklist::parse_number(state.api_state(), raw).map_err(|e| e.detail().to_owned())
    });
    let entries = match &parsed {
        Some(Ok(n)) => {
            let staff = ctx.require_duty(Duty::Privacy)?;
            state
                .store()
                .audit_staff_view(
                    staff.id,
                    "recipient.view",
                    &state.store().number_hash(n.as_str()),
                    store::now_us(),
                )
                .await?;
            Some(state.store().blacklist_entries(n.as_str()).await?)
        }
        _ => None,
    };
    let title = l.t("Žádost příjemce", "A recipient's request");
    let body = html! {
        h1 { (title) }
        p { (l.t("Výmaz (čl. 17 GDPR) smaže kontakty, texty zpráv a příchozí zprávy čísla a nahradí číslo ve všech textech; zůstane jen klíčovaný otisk čísla, který blokuje další zprávy. Omezení (čl. 18) číslo uchová, ale nic se na něj neposílá.",
                 "Erasure (GDPR Art. 17) deletes the number's contacts, message texts and inbound messages and replaces the number in every text; only a keyed hash of it stays, which blocks further messages. Restriction (Art. 18) keeps the number but nothing is sent to it.")) }
        @if let Some((kind, text)) = &notice { (layout::notice(kind, text)) }
        form class="stack" method="get" action="/admin/recipients" {
            @if l == Lang::En { input type="hidden" name="lang" value="en"; }
            (field("r-number", l.t("Telefonní číslo", "Phone number"),
                html! { input type="tel" id="r-number" name="number" required value=(number.unwrap_or("")); }, None))
            div { button type="submit" { (l.t("Vyhledat", "Look up")) } }
        }
        @match &parsed {
            Some(Err(e)) => { (layout::notice("error", e)) }
            Some(Ok(n)) => {
                h2 { (n.as_str()) }
                @if let Some(entries) = &entries {
                    @if entries.is_empty() {
                        p { (l.t("Číslo není na žádném Blacklistu.", "The number is on no Blacklist.")) }
                    } @else {
                        ul id="recipient-entries" {
                            @for e in entries {
                                li { (kind_name(l, e)) " · " (source_name(l, e.source)) " · "
                                     (match e.scope { Scope::Global => l.t("všechny účty", "all accounts"), Scope::Account(_) => l.t("jeden účet", "one account") })
                                     " · " (prague::format(e.created_at)) }
                            }
                        }
                    }
                }
                form class="stack" method="post" action=(ctx.app_link("/admin/recipients")) {
                    input type="hidden" name="csrf" value=(ctx.csrf);
                    input type="hidden" name="number" value=(n.as_str());
                    fieldset {
                        legend { (l.t("Úkon", "Action")) }
                        @for (value, cs, en) in [
                            ("block", "Neposílat žádné zprávy (od všech zákazníků)", "Send no messages at all (from any customer)"),
                            ("restrict", "Omezit zpracování", "Restrict processing"),
                            ("unrestrict", "Zrušit omezení", "Lift the restriction"),
                            ("erase", "Vymazat osobní údaje (nevratné)", "Erase the personal data (irreversible)"),
                        ] {
                            div class="check" {
                                input type="radio" id=(format!("act-{value}")) name="action" value=(value) required;
                                label for=(format!("act-{value}")) { (l.t(cs, en)) }
                            }
                        }
                    }
                    div { button type="submit" class="danger" { (l.t("Provést", "Carry out")) } }
                }
            }
            None => {}
        }
    };
    Ok(layout::page(ctx, Area::Staff, title, body))
}

async fn staff_page(
    State(state): State<WebState>,
    ctx: Ctx,
    Query(q): Query<StaffQuery>,
) -> Result<Response, WebError> {
    ctx.require_duty(Duty::Privacy)?;
    let page = staff_view(&state, &ctx, q.number.as_deref(), None).await?;
    Ok(ctx.html(page))
}

#[derive(Deserialize)]
pub struct StaffForm {
    csrf: String,
    number: String,
    action: String,
}

async fn staff_act(
    State(state): State<WebState>,
    ctx: Ctx,
    Form(f): Form<StaffForm>,
) -> Result<Response, WebError> {
    let staff = ctx.require_duty(Duty::Privacy)?.clone();
    ctx.check_csrf(&f.csrf)?;
    let l = ctx.lang;
    let api = state.api_state();
    let n = match api::blacklist::parse_number(api, &f.number) {
        Ok(n) => n,
        Err(e) => {
            let page =
                staff_view(&state, &ctx, None, Some(("error", e.detail().to_owned()))).await?;
            return Ok(ctx.html_status(StatusCode::UNPROCESSABLE_ENTITY, page));
        }
    };
    let now = store::now_us();
    let done: String = match f.action.as_str() {
        "block" | "restrict" => {
            let kind = if f.action == "block" {
                EntryKind::OptOut
            } else {
                EntryKind::Restricted
            };
            api::blacklist::block_globally(api, &n, kind, Source::Staff)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.detail()))?;
            if f.action == "block" {
                l.t(
                    "Na číslo se už nic neodešle.",
                    "Nothing will be sent to the number.",
                )
                .to_owned()
            } else {
                l.t("Zpracování je omezeno.", "Processing is restricted.")
                    .to_owned()
            }
        }
        "unrestrict" => {
            if state.store().lift_restriction(n.as_str()).await? {
                l.t("Omezení je zrušeno.", "The restriction is lifted.")
                    .to_owned()
            } else {
                l.t("Číslo omezeno nebylo.", "The number was not restricted.")
                    .to_owned()
            }
        }
        "erase" => {
            let r = api::blacklist::erase_number(api, &n)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.detail()))?;
            format!(
                "{}: {} {}, {} {}, {} {}.",
                l.t("Vymazáno", "Erased"),
                r.contacts_deleted,
                l.t("kontaktů", "contacts"),
                r.messages_anonymised,
                l.t("zpráv anonymizováno", "messages anonymised"),
                r.inbound_deleted,
                l.t("příchozích smazáno", "inbound deleted"),
            )
        }
        _ => return Err(WebError::NotFound),
    };
    state
        .store()
        .audit_staff_view(
            staff.id,
            &format!("recipient.{}", f.action),
            &state.store().number_hash(n.as_str()),
            now,
        )
        .await?;
    // After an erasure the number is not shown again (the page looks it up by hash only).
    let shown = (f.action != "erase").then(|| n.as_str().to_owned());
    let page = staff_view(&state, &ctx, shown.as_deref(), Some(("ok", done))).await?;
    Ok(ctx.html(page))
}
