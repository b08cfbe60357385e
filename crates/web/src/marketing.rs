//! The operator's marketing e-mails and newsletters (issue 6, seed clauses 7.1 and 8), in the
//! back office (`/admin/marketing`, the [`Duty::Marketing`]) and from the command line
//! (`apisendsms privacy send-marketing`), both through [`send`].
//!
//! An e-mail goes only to a subject with a live consent to its purpose, through the mail outbox,
//! and ends with the signed one-click withdrawal link of [`crate::privacy::withdrawal_link`]:
//! the page it opens withdraws the consent with one button, without signing in, at once and for
//! free.

use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Form, Router};
use domain::consent::ConsentPurpose;
use domain::IdGenerator;
use maud::html;
use serde::Deserialize;
use store::{Campaign, NewCampaign, OutboxMail, Store};

use crate::ctx::{Ctx, Duty};
use crate::error::WebError;
use crate::i18n::Lang;
use crate::layout::{self, field, Area};
use crate::{prague, WebState};

pub fn routes() -> Router<WebState> {
    Router::new().route("/admin/marketing", get(page).post(submit))
}

/// The purposes an operator's marketing e-mail is sent under.
pub const PURPOSES: [ConsentPurpose; 2] =
    [ConsentPurpose::MarketingEmail, ConsentPurpose::Newsletter];

/// The text of one e-mail: the campaign's text, then why it came and the withdrawal link.
pub fn mail_body(lang: &str, body: &str, link: &str) -> String {
    let l = Lang::parse(lang).unwrap_or(Lang::Cs);
    format!(
        "{}\n\n--\n{}\n{}\n{link}\n\nWTI LLC o.z., IČ 09828397, Světova 523/1, 180 00 Praha 8\n",
        body.trim_end(),
        l.t(
            "Tento e-mail dostáváte, protože jste udělili souhlas se zasíláním obchodních sdělení.",
            "You receive this e-mail because you consented to commercial messages.",
        ),
        l.t(
            "Souhlas odvoláte jedním kliknutím, zdarma a s okamžitou platností:",
            "Withdraw the consent with one click, free of charge and with immediate effect:",
        ),
    )
}

/// Sends a campaign: an e-mail with its withdrawal link to everyone with a live consent to
/// `purpose` (checked again as the e-mails are queued). `origin` is the site's `scheme://host`
/// for the links.
#[allow(clippy::too_many_arguments)]
pub async fn send(
    store: &Store,
    ids: &IdGenerator,
    origin: &str,
    purpose: ConsentPurpose,
    subject: &str,
    body: &str,
    actor: &str,
    now: i64,
) -> store::Result<Campaign> {
    let audience = store.marketing_audience(purpose).await?;
    let mails: Vec<(String, OutboxMail)> = audience
        .into_iter()
        .map(|r| {
            let link = crate::privacy::withdrawal_link(origin, store, &r.subject, purpose);
            let mail = OutboxMail {
                to: r.email,
                subject: subject.to_owned(),
                body: mail_body(&r.lang, body, &link),
            };
            (r.subject, mail)
        })
        .collect();
    store
        .send_campaign(
            &NewCampaign {
                id: ids.next(),
                purpose,
                subject,
                body,
                actor,
            },
            &mails,
            now,
        )
        .await
}

fn purpose_name(l: Lang, p: ConsentPurpose) -> &'static str {
    match p {
        ConsentPurpose::Newsletter => l.t("Newsletter", "Newsletter"),
        _ => l.t("Obchodní sdělení e-mailem", "Commercial messages by e-mail"),
    }
}

#[derive(Deserialize)]
pub struct Notice {
    sent: Option<i64>,
    skipped: Option<i64>,
    error: Option<String>,
}

async fn page(
    State(state): State<WebState>,
    ctx: Ctx,
    Query(q): Query<Notice>,
) -> Result<Response, WebError> {
    ctx.require_duty(Duty::Marketing)?;
    let l = ctx.lang;
    let mut audience = Vec::new();
    for p in PURPOSES {
        audience.push((p, state.store().marketing_audience(p).await?.len()));
    }
    let campaigns = state.store().campaigns(100).await?;
    let title = l.t("Obchodní sdělení e-mailem", "Marketing e-mails");
    let body = html! {
        h1 { (title) }
        @if let Some(sent) = q.sent {
            (layout::notice("ok", &format!("{} {sent}; {} {}", l.t("Odesláno e-mailů:", "E-mails sent:"),
                l.t("vynecháno (souhlas mezitím odvolán):", "left out (consent withdrawn meanwhile):"), q.skipped.unwrap_or(0))))
        }
        @if q.error.is_some() { (layout::notice("error", l.t("Vyplňte předmět i text.", "Fill in the subject and the text."))) }
        p { (l.t("Zpráva odejde jen těm, kdo mají k účelu platný souhlas (a nemají omezené zpracování). Každý e-mail končí odkazem, kterým příjemce souhlas jedním kliknutím odvolá.",
                 "The e-mail goes only to those with a live consent to the purpose (and no restriction of processing). Each e-mail ends with a link that withdraws the consent with one click.")) }
        ul {
            @for (p, n) in &audience {
                li data-audience=(p.as_str()) { (purpose_name(l, *p)) ": " strong { (n) } }
            }
        }
        form method="post" action=(ctx.app_link("/admin/marketing")) {
            input type="hidden" name="csrf" value=(ctx.csrf);
            (field("purpose", l.t("Účel", "Purpose"), html! {
                select id="purpose" name="purpose" {
                    @for p in PURPOSES { option value=(p.as_str()) { (purpose_name(l, p)) } }
                }
            }, None))
            (field("subject", l.t("Předmět", "Subject"), html! { input type="text" id="subject" name="subject" required maxlength="200"; }, None))
            (field("body", l.t("Text (odkaz k odvolání souhlasu se připojí sám)", "Text (the withdrawal link is added)"), html! { textarea id="body" name="body" rows="8" required {} }, None))
            button type="submit" { (l.t("Odeslat", "Send")) }
        }
        h2 { (l.t("Odeslaná sdělení", "Sent")) }
        @if campaigns.is_empty() { p { (l.t("Zatím nic.", "Nothing yet.")) } } @else {
            div class="table-wrap" {
                table {
                    caption { (l.t("Nejnovější první", "Newest first")) }
                    thead { tr {
                        th scope="col" { (l.t("Čas", "Time")) } th scope="col" { (l.t("Účel", "Purpose")) }
                        th scope="col" { (l.t("Předmět", "Subject")) } th scope="col" { (l.t("Kdo", "Who")) }
                        th scope="col" { (l.t("Odesláno", "Sent")) } th scope="col" { (l.t("Vynecháno", "Left out")) }
                    } }
                    tbody {
                        @for c in &campaigns {
                            tr data-campaign=(c.id) {
                                td { (prague::format(c.created_at)) }
                                td { (ConsentPurpose::parse(&c.purpose).map_or(c.purpose.as_str(), |p| purpose_name(l, p))) }
                                td { (c.subject) } td { (c.created_by) } td { (c.sent) } td { (c.skipped) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(ctx.html(layout::page(&ctx, Area::Staff, title, body)))
}

#[derive(Deserialize)]
pub struct CampaignForm {
    csrf: String,
    purpose: String,
    subject: String,
    body: String,
}

async fn submit(
    State(state): State<WebState>,
    ctx: Ctx,
    Form(f): Form<CampaignForm>,
) -> Result<Response, WebError> {
    let staff = ctx.require_duty(Duty::Marketing)?;
    ctx.check_csrf(&f.csrf)?;
    let purpose = ConsentPurpose::parse(&f.purpose)
        .filter(|p| PURPOSES.contains(p))
        .ok_or(WebError::NotFound)?;
    if f.subject.trim().is_empty() || f.body.trim().is_empty() {
        return Ok(ctx.redirect(&ctx.app_link("/admin/marketing?error=1")));
    }
    let c = send(
        state.store(),
        state.ids(),
        &ctx.origin,
        purpose,
        f.subject.trim(),
        &f.body,
        &format!("user:{}", staff.id),
        store::now_us(),
    )
    .await?;
    Ok(ctx.redirect(&ctx.app_link(&format!(
        "/admin/marketing?sent={}&skipped={}",
        c.sent, c.skipped
    ))))
}
