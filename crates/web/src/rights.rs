//! A customer's rights beyond the request form (issue 6): rectification (the customer corrects
//! their details in the privacy centre, or the DPO applies a rectification request), restriction
//! of processing (granted on a request, lifted as a recorded step; what it stops is in
//! `store::restriction`), and the end of the contract (the customer closes the account).
//!
//! Every change goes through the store's audited functions; staff views of a customer's details
//! are audited before they are shown.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use store::{PersonalDetails, RequestKind, Restriction, StoreError, WebUser};

use crate::ctx::{Ctx, Duty};
use crate::error::WebError;
use crate::i18n::Lang;
use crate::layout::{self, field, Area};
use crate::{prague, WebState};

/// The details form's fields, as posted.
#[derive(Deserialize)]
pub struct DetailsForm {
    csrf: String,
    full_name: String,
    email: String,
    company: Option<String>,
    ico: Option<String>,
    dic: Option<String>,
    address: String,
    phone: Option<String>,
    billing_name: Option<String>,
    billing_address: Option<String>,
    billing_ico: Option<String>,
    billing_dic: Option<String>,
}

impl DetailsForm {
    fn details(&self) -> PersonalDetails {
        PersonalDetails {
            full_name: self.full_name.clone(),
            email: self.email.clone(),
            company: self.company.clone(),
            ico: self.ico.clone(),
            dic: self.dic.clone(),
            address: self.address.clone(),
            phone: self.phone.clone(),
            billing_name: self.billing_name.clone(),
            billing_address: self.billing_address.clone(),
            billing_ico: self.billing_ico.clone(),
            billing_dic: self.billing_dic.clone(),
        }
    }
}

/// The current details of a user and their account's invoice details.
async fn current_details(state: &WebState, user: &WebUser) -> Result<PersonalDetails, WebError> {
    let b = state
        .store()
        .billing_account(user.account, store::now_us())
        .await?;
    Ok(PersonalDetails {
        full_name: user.full_name.clone(),
        email: user.email.clone(),
        company: user.company.clone(),
        ico: user.ico.clone(),
        dic: user.dic.clone(),
        address: user.address.clone(),
        phone: user.phone.clone(),
        billing_name: b.customer_name,
        billing_address: b.customer_address,
        billing_ico: b.customer_ico,
        billing_dic: b.customer_dic,
    })
}

fn details_fields(l: Lang, d: &PersonalDetails) -> Markup {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    html! {
        (field("full_name", l.t("Jméno a příjmení", "Full name"), html! { input type="text" id="full_name" name="full_name" value=(d.full_name) required autocomplete="name"; }, None))
        (field("email", "E-mail", html! { input type="email" id="email" name="email" value=(d.email) required autocomplete="email"; }, Some(l.t("Nový e-mail je třeba znovu ověřit odkazem, který na něj pošleme.", "A new e-mail must be confirmed again by the link we send to it."))))
        (field("phone", l.t("Telefon", "Phone"), html! { input type="tel" id="phone" name="phone" value=(opt(&d.phone)) autocomplete="tel"; }, None))
        (field("address", l.t("Adresa", "Address"), html! { input type="text" id="address" name="address" value=(d.address) required; }, None))
        (field("company", l.t("Firma", "Company"), html! { input type="text" id="company" name="company" value=(opt(&d.company)); }, None))
        (field("ico", l.t("IČO", "Company ID (IČO)"), html! { input type="text" id="ico" name="ico" value=(opt(&d.ico)); }, None))
        (field("dic", l.t("DIČ", "VAT ID (DIČ)"), html! { input type="text" id="dic" name="dic" value=(opt(&d.dic)); }, None))
        (field("billing_name", l.t("Fakturační jméno", "Invoice name"), html! { input type="text" id="billing_name" name="billing_name" value=(opt(&d.billing_name)); }, None))
        (field("billing_address", l.t("Fakturační adresa", "Invoice address"), html! { input type="text" id="billing_address" name="billing_address" value=(opt(&d.billing_address)); }, None))
        (field("billing_ico", l.t("Fakturační IČO", "Invoice company ID"), html! { input type="text" id="billing_ico" name="billing_ico" value=(opt(&d.billing_ico)); }, None))
        (field("billing_dic", l.t("Fakturační DIČ", "Invoice VAT ID"), html! { input type="text" id="billing_dic" name="billing_dic" value=(opt(&d.billing_dic)); }, None))
    }
}

/// The privacy centre's sections on the customer's details and the end of the contract.
pub(crate) async fn centre_sections(
    state: &WebState,
    ctx: &Ctx,
    user: &WebUser,
) -> Result<Markup, WebError> {
    let l = ctx.lang;
    let d = current_details(state, user).await?;
    let ended = state.store().contract_ended_at(user.account).await?;
    let restricted = state.store().restriction_of(user.account).await?;
    Ok(html! {
        h2 id="your-details" { (l.t("Vaše údaje", "Your details")) }
        p { (l.t("Nepřesné údaje opravíte sami; změna platí hned a zaznamená se (co se změnilo, ne hodnoty).", "Correct inaccurate details yourself; the change applies at once and is recorded (what changed, not the values).")) }
        @if let Some(r) = &restricted {
            (layout::notice("ok", &format!("{} {}", l.t("Zpracování Vašich údajů je omezeno od", "Processing of your data is restricted since"), prague::format(r.created_at))))
        }
        form method="post" action=(ctx.app_link("/app/privacy/details")) {
            input type="hidden" name="csrf" value=(ctx.csrf);
            (details_fields(l, &d))
            button type="submit" { (l.t("Uložit opravu", "Save the correction")) }
        }
        h2 id="contract" { (l.t("Ukončení smlouvy", "Ending the contract")) }
        @if let Some(at) = ended {
            p data-contract-ended=(at) { (l.t("Smlouva skončila ", "The contract ended on ")) (prague::format(at)) ". "
                (l.t("Faktury zůstávají ke stažení. Zákaznický záznam smažeme 10 let po konci smlouvy, obchodní sdělení končí po roce.", "Invoices stay available. We erase the customer record 10 years after the contract's end; marketing ends after a year.")) }
        } @else {
            p { (l.t("Zrušením účtu končí smlouva: API klíče přestanou platit, faktury zůstanou ke stažení. Zbylý kredit Vám na žádost vrátíme.", "Closing the account ends the contract: API keys stop working, invoices stay available. We refund remaining credit on request.")) }
            form method="post" action=(ctx.app_link("/app/privacy/close")) {
                input type="hidden" name="csrf" value=(ctx.csrf);
                div class="check" {
                    input type="checkbox" id="confirm" name="confirm" value="1" required;
                    label for="confirm" { (l.t("Ano, chci ukončit smlouvu a zrušit účet.", "Yes, I want to end the contract and close the account.")) }
                }
                button type="submit" class="danger" { (l.t("Zrušit účet", "Close the account")) }
            }
        }
    })
}

/// The customer corrects their own details.
pub async fn own_details(
    State(state): State<WebState>,
    ctx: Ctx,
    Form(f): Form<DetailsForm>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    ctx.check_csrf(&f.csrf)?;
    let actor = format!("user:{}", user.id);
    let done = match state
        .store()
        .rectify(user.id, &f.details(), &actor, "app", store::now_us())
        .await
    {
        Ok(Some(r)) if r.email_changed => {
            crate::auth::send_link(&state, &ctx, user.id, f.email.trim(), "verify_email").await?;
            "details-email"
        }
        Ok(_) => "details",
        Err(StoreError::Conflict(_)) => {
            return Ok(ctx.redirect(&ctx.app_link("/app/privacy?error=email")))
        }
        Err(e) => return Err(e.into()),
    };
    Ok(ctx.redirect(&ctx.app_link(&format!("/app/privacy?done={done}#your-details"))))
}

#[derive(Deserialize)]
pub struct CloseForm {
    csrf: String,
    confirm: Option<String>,
}

/// The customer closes the account: the contract ends now.
pub async fn close_own_account(
    State(state): State<WebState>,
    ctx: Ctx,
    Form(f): Form<CloseForm>,
) -> Result<Response, WebError> {
    let user = ctx.require_user()?;
    ctx.check_csrf(&f.csrf)?;
    if f.confirm.as_deref() != Some("1") {
        return Ok(ctx.redirect(&ctx.app_link("/app/privacy?error=confirm#contract")));
    }
    state
        .store()
        .close_account(
            user.account,
            &format!("user:{}", user.id),
            "closed by the customer",
            store::now_us(),
        )
        .await?;
    Ok(ctx.redirect(&ctx.app_link("/app/privacy?done=closed#contract")))
}

/// The back office's list of standing restrictions, with the form that lifts one.
pub(crate) fn restrictions_section(ctx: &Ctx, list: &[Restriction]) -> Markup {
    let l = ctx.lang;
    html! {
        h2 id="restrictions" { (l.t("Omezení zpracování", "Restrictions of processing")) }
        p class="hint" { (l.t("Po dobu omezení vidí údaje zákazníka v back office jen pověřenec a zákazník nedostává obchodní sdělení.", "While restricted, only the DPO sees the customer's data in the back office and the customer receives no marketing.")) }
        @if list.is_empty() { p { (l.t("Žádná omezení.", "No restrictions.")) } } @else {
            div class="table-wrap" {
                table {
                    caption { (l.t("Platná omezení", "Standing restrictions")) }
                    thead { tr {
                        th scope="col" { "#" } th scope="col" { (l.t("Uživatel", "User")) } th scope="col" { (l.t("Účet", "Account")) }
                        th scope="col" { (l.t("Žádost", "Request")) } th scope="col" { (l.t("Od", "Since")) } th scope="col" { (l.t("Zrušit", "Lift")) }
                    } }
                    tbody {
                        @for r in list {
                            tr data-restriction=(r.id) {
                                td { (r.id) } td { (r.user_id) } td { (r.account) }
                                td { (r.request_id.map(|x| x.to_string()).unwrap_or_default()) } td { (prague::format(r.created_at)) }
                                td {
                                    form class="inline" method="post" action=(ctx.app_link(&format!("/admin/restrictions/{}/lift", r.id))) {
                                        input type="hidden" name="csrf" value=(ctx.csrf);
                                        label for=(format!("lift-{}", r.id)) { (l.t("Důvod", "Reason")) }
                                        input type="text" id=(format!("lift-{}", r.id)) name="reason" required;
                                        button type="submit" class="secondary" { (l.t("Zrušit omezení", "Lift")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// A verified restriction request is granted: processing of the subject's data is restricted
/// from now on, and the request answered.
pub async fn admin_restrict(
    State(state): State<WebState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    let staff = ctx.require_duty(Duty::Privacy)?;
    ctx.check_csrf(&f.csrf)?;
    let r = state
        .store()
        .data_request(id)
        .await?
        .ok_or(WebError::NotFound)?;
    let (Some(user), RequestKind::Restriction, true, None) =
        (r.user_id, r.kind, r.is_verified(), r.closed_at)
    else {
        return Ok(ctx.redirect(&ctx.app_link("/admin/dsr?error=1")));
    };
    let actor = format!("user:{}", staff.id);
    let now = store::now_us();
    state
        .store()
        .restrict_processing(user, Some(id), &format!("dsr:{id}"), &actor, now)
        .await?
        .ok_or(WebError::NotFound)?;
    let l = Lang::parse(&r.lang).unwrap_or(Lang::Cs);
    let answer = l.t(
        "Zpracování Vašich údajů jsme omezili: jen je uchováváme, nikdo kromě pověřence je nevidí a obchodní sdělení Vám neposíláme. Před zrušením omezení Vás upozorníme.",
        "We restricted the processing of your data: we only store it, nobody but the DPO sees it, and we send you no marketing. We will tell you before the restriction is lifted.",
    );
    state
        .store()
        .close_data_request(id, false, answer, &actor, now)
        .await?;
    Ok(ctx.redirect(&ctx.app_link("/admin/dsr?done=restricted#restrictions")))
}

#[derive(Deserialize)]
pub struct LiftForm {
    csrf: String,
    reason: String,
}

/// Lifts a restriction, with the reason.
pub async fn admin_lift(
    State(state): State<WebState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Form(f): Form<LiftForm>,
) -> Result<Response, WebError> {
    let staff = ctx.require_duty(Duty::Privacy)?;
    ctx.check_csrf(&f.csrf)?;
    let ok = state
        .store()
        .lift_processing_restriction(
            id,
            f.reason.trim(),
            &format!("user:{}", staff.id),
            store::now_us(),
        )
        .await?;
    Ok(ctx.redirect(&ctx.app_link(if ok {
        "/admin/dsr?done=lifted#restrictions"
    } else {
        "/admin/dsr?error=1"
    })))
}

/// The open, verified rectification request `id` and its subject.
async fn rectification(state: &WebState, id: i64) -> Result<Option<WebUser>, WebError> {
    let r = state
        .store()
        .data_request(id)
        .await?
        .ok_or(WebError::NotFound)?;
    let (Some(user), RequestKind::Rectification, true, None) =
        (r.user_id, r.kind, r.is_verified(), r.closed_at)
    else {
        return Ok(None);
    };
    Ok(state.store().web_user(user).await?)
}

#[derive(Deserialize)]
pub struct RectifyQuery {
    error: Option<String>,
}

/// The DPO sees the subject's details (audited) to apply a rectification request.
pub async fn admin_rectify_form(
    State(state): State<WebState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<RectifyQuery>,
) -> Result<Response, WebError> {
    let staff = ctx.require_duty(Duty::Privacy)?;
    let Some(user) = rectification(&state, id).await? else {
        return Ok(ctx.redirect(&ctx.app_link("/admin/dsr?error=1")));
    };
    state
        .store()
        .audit_read(
            &format!("user:{}", staff.id),
            "staff.view_customer",
            &format!("user:{}", user.id),
            &format!("dsr:{id}"),
            store::now_us(),
        )
        .await?;
    let l = ctx.lang;
    let r = state.store().data_request(id).await?;
    let d = current_details(&state, &user).await?;
    let title = format!(
        "{} {id}",
        l.t("Oprava údajů, žádost", "Rectification, request")
    );
    let body = html! {
        h1 { (title) }
        @if q.error.is_some() { (layout::notice("error", l.t("Tento e-mail patří jinému účtu.", "That e-mail belongs to another account."))) }
        @if let Some(r) = &r { p { strong { (l.t("Žádost: ", "Request: ")) } (r.details) } }
        form method="post" action=(ctx.app_link(&format!("/admin/dsr/{id}/rectify"))) {
            input type="hidden" name="csrf" value=(ctx.csrf);
            (details_fields(l, &d))
            button type="submit" { (l.t("Opravit a vyřídit žádost", "Correct and close the request")) }
        }
    };
    Ok(ctx.html(layout::page(&ctx, Area::Staff, &title, body)))
}

/// The DPO applies a rectification request; the request is answered with the fields changed.
pub async fn admin_rectify(
    State(state): State<WebState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Form(f): Form<DetailsForm>,
) -> Result<Response, WebError> {
    let staff = ctx.require_duty(Duty::Privacy)?;
    ctx.check_csrf(&f.csrf)?;
    let Some(user) = rectification(&state, id).await? else {
        return Ok(ctx.redirect(&ctx.app_link("/admin/dsr?error=1")));
    };
    let actor = format!("user:{}", staff.id);
    let now = store::now_us();
    let done = match state
        .store()
        .rectify(user.id, &f.details(), &actor, &format!("dsr:{id}"), now)
        .await
    {
        Ok(Some(r)) => r,
        Ok(None) => return Err(WebError::NotFound),
        Err(StoreError::Conflict(_)) => {
            return Ok(ctx.redirect(&ctx.app_link(&format!("/admin/dsr/{id}/rectify?error=email"))))
        }
        Err(e) => return Err(e.into()),
    };
    if done.email_changed {
        crate::auth::send_link(&state, &ctx, user.id, f.email.trim(), "verify_email").await?;
    }
    let l = Lang::parse(&user.lang).unwrap_or(Lang::Cs);
    let answer = if done.fields.is_empty() {
        l.t(
            "Vaše údaje byly přesné; nic jsme neměnili.",
            "Your data were accurate; we changed nothing.",
        )
        .to_owned()
    } else {
        format!(
            "{} {}",
            l.t("Opravili jsme:", "We corrected:"),
            done.fields.join(", ")
        )
    };
    state
        .store()
        .close_data_request(id, false, &answer, &actor, now)
        .await?;
    Ok(ctx.redirect(&ctx.app_link("/admin/dsr?done=rectified")))
}
