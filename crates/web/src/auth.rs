//! Registration, e-mail verification, sign-in and sign-out, the TOTP step, password reset.
//!
//! - Registration takes identification and contact data (a person, or a business with IČO and
//!   DIČ), a declared date of birth (18+ only, clause 11, computed on the Prague date), the
//!   terms and privacy acknowledgement, and an optional marketing consent in its own unticked
//!   box, recorded as a consent record. It creates the account and its first user.
//! - Sign-in: a limit of attempts per address and minute, and a lockout of the e-mail after
//!   `lockout_after` failures within `lockout_window_s`. A wrong password and an unknown e-mail
//!   look and take the same. The session id is new at every sign-in.
//! - E-mails go to the outbox table (and, by default, the log) when no SMTP is configured.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Form, Router};
use maud::{html, Markup};
use serde::Deserialize;
use store::{NewWebUser, StoreError};
use time::Date;

use crate::consent::MARKETING_TEXT_VERSION;
use crate::ctx::Ctx;
use crate::error::WebError;
use crate::forms::{opt, ticked};
use crate::i18n::{self, Lang};
use crate::layout::{self, field, Area};
use crate::{prague, security, WebState};

/// Versions of the texts a registration agrees to, stored with the user.
pub const TERMS_VERSION: &str = "terms-2022-01+privacy-2022-01";
pub const AGE_TEXT_VERSION: &str = "age-18-2022-01";
const MIN_PASSWORD: usize = 10;
const TOKEN_HOURS: i64 = 24;
const HOUR_US: i64 = 3_600_000_000;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/app/register", get(register_page).post(register))
        .route("/app/verify", get(verify))
        .route("/app/login", get(login_page).post(login))
        .route("/app/login/totp", get(totp_page).post(totp_submit))
        .route("/app/logout", axum::routing::post(logout))
        .route("/app/reset", get(reset_page).post(reset_request))
        .route(
            "/app/reset/confirm",
            get(reset_confirm_page).post(reset_confirm),
        )
}

#[derive(Deserialize, Default, Clone)]
pub struct RegisterForm {
    csrf: String,
    kind: Option<String>,
    full_name: Option<String>,
    company: Option<String>,
    ico: Option<String>,
    dic: Option<String>,
    address: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    birth_date: Option<String>,
    password: Option<String>,
    lang: Option<String>,
    terms: Option<String>,
    marketing: Option<String>,
}

/// Whether an IČO (8 digits) has the right check digit.
pub fn ico_valid(ico: &str) -> bool {
    let d: Vec<u32> = ico.chars().filter_map(|c| c.to_digit(10)).collect();
    if d.len() != 8 || ico.len() != 8 {
        return false;
    }
    let sum: u32 = d[..7].iter().zip((2..=8).rev()).map(|(x, w)| x * w).sum();
    (11 - sum % 11) % 10 == d[7]
}

/// A Czech DIČ: `CZ` and 8 to 10 digits.
pub fn dic_valid(dic: &str) -> bool {
    dic.strip_prefix("CZ")
        .is_some_and(|n| (8..=10).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()))
}

/// What is wrong with a registration, field by field; empty when it can be stored.
fn validate(f: &RegisterForm, today: Date) -> Vec<(&'static str, &'static str, &'static str)> {
    let mut e = Vec::new();
    let business = f.kind.as_deref() == Some("business");
    if opt(&f.full_name).is_none() {
        e.push((
            "full_name",
            "Vyplňte jméno a příjmení.",
            "Enter your full name.",
        ));
    }
    if business {
        if opt(&f.company).is_none() {
            e.push((
                "company",
                "Vyplňte obchodní firmu.",
                "Enter the company name.",
            ));
        }
        if !opt(&f.ico).is_some_and(|i| ico_valid(&i)) {
            e.push((
                "ico",
                "IČO musí mít 8 číslic se správnou kontrolní číslicí.",
                "The IČO must be 8 digits with a valid check digit.",
            ));
        }
        if let Some(d) = opt(&f.dic) {
            if !dic_valid(&d) {
                e.push((
                    "dic",
                    "DIČ má tvar CZ a 8 až 10 číslic.",
                    "The DIČ is CZ followed by 8 to 10 digits.",
                ));
            }
        }
    }
    if opt(&f.address).is_none() {
        e.push(("address", "Vyplňte adresu.", "Enter your address."));
    }
    let email = opt(&f.email).unwrap_or_default();
    if !(email.contains('@') && email.len() <= 254 && !email.contains(char::is_whitespace)) {
        e.push((
            "email",
            "Zadejte platný e-mail.",
            "Enter a valid e-mail address.",
        ));
    }
    match opt(&f.birth_date).and_then(|d| {
        Date::parse(
            &d,
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .ok()
    }) {
        None => e.push((
            "birth_date",
            "Zadejte datum narození.",
            "Enter your date of birth.",
        )),
        Some(b) if b > today || prague::age_on(b, today) > 120 => e.push((
            "birth_date",
            "Datum narození není platné.",
            "The date of birth is not valid.",
        )),
        Some(b) if prague::age_on(b, today) < 18 => e.push((
            "birth_date",
            "Služby ApiSendSMS jsou určeny jen osobám starším 18 let.",
            "ApiSendSMS services are only for persons aged 18 or over.",
        )),
        Some(_) => {}
    }
    if f.password.as_deref().map_or(0, |p| p.chars().count()) < MIN_PASSWORD {
        e.push((
            "password",
            "Heslo musí mít alespoň 10 znaků.",
            "The password must have at least 10 characters.",
        ));
    }
    if !ticked(&f.terms) {
        e.push(("terms", "Bez souhlasu s podmínkami a seznámení se zásadami ochrany soukromí nelze účet založit.", "An account needs the terms accepted and the privacy policy acknowledged."));
    }
    e
}

fn register_form(ctx: &Ctx, f: &RegisterForm, errors: &[(&str, &str, &str)]) -> Markup {
    let l = ctx.lang;
    let err = |name: &str| {
        errors
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, cs, en)| l.t(cs, en))
    };
    let val = |v: &Option<String>| v.clone().unwrap_or_default();
    let business = f.kind.as_deref() == Some("business");
    let text = |id: &'static str,
                label: &str,
                ty: &str,
                value: String,
                required: bool,
                autocomplete: &str| {
        let e = err(id);
        field(
            id,
            label,
            html! {
                input type=(ty) id=(id) name=(id) value=(value) required[required] autocomplete=(autocomplete)
                    aria-invalid=[e.map(|_| "true")] aria-describedby=[e.map(|_| format!("{id}-error"))];
                @if let Some(e) = e { span class="errors" id=(format!("{id}-error")) { (e) } }
            },
            None,
        )
    };
    html! {
        @if !errors.is_empty() {
            (layout::notice("error", l.t("Formulář obsahuje chyby, opravte prosím označená pole.", "The form has errors; please correct the marked fields.")))
        }
        form class="stack" method="post" action="/app/register" novalidate {
            input type="hidden" name="csrf" value=(ctx.csrf);
            (layout::lang_field(l))
            fieldset {
                legend { (l.t("Registruji se jako", "I am registering as")) }
                div class="check" {
                    input type="radio" id="kind-person" name="kind" value="person" checked[!business];
                    label for="kind-person" { (l.t("fyzická osoba", "a natural person")) }
                }
                div class="check" {
                    input type="radio" id="kind-business" name="kind" value="business" checked[business];
                    label for="kind-business" { (l.t("podnikatel nebo firma (IČO, DIČ)", "a business (IČO, DIČ)")) }
                }
            }
            (text("full_name", l.t("Jméno a příjmení", "Full name"), "text", val(&f.full_name), true, "name"))
            (text("company", l.t("Obchodní firma (pro podnikatele)", "Company name (businesses)"), "text", val(&f.company), false, "organization"))
            (text("ico", l.t("IČO (pro podnikatele)", "IČO, company ID (businesses)"), "text", val(&f.ico), false, "off"))
            (text("dic", l.t("DIČ (nepovinné)", "DIČ, VAT ID (optional)"), "text", val(&f.dic), false, "off"))
            (text("address", l.t("Adresa (trvalý pobyt nebo sídlo)", "Address (residence or registered office)"), "text", val(&f.address), true, "address-line1"))
            (text("email", "E-mail", "email", val(&f.email), true, "email"))
            (text("phone", l.t("Telefon (nepovinný)", "Telephone (optional)"), "tel", val(&f.phone), false, "tel"))
            (text("birth_date", l.t("Datum narození (služba je jen pro osoby od 18 let)", "Date of birth (the service is for persons aged 18 or over)"), "date", val(&f.birth_date), true, "bday"))
            (text("password", l.t("Heslo (alespoň 10 znaků)", "Password (at least 10 characters)"), "password", String::new(), true, "new-password"))
            div class="check" {
                input type="checkbox" id="terms" name="terms" value="on" required checked[ticked(&f.terms)];
                label for="terms" {
                    (l.t("Souhlasím s obchodními podmínkami a potvrzuji, že jsem se seznámil(a) se ", "I accept the terms of service and confirm that I have read the "))
                    a href=(i18n::path("policy", l)) { (l.t("zásadami ochrany soukromí", "privacy policy")) }
                    "."
                }
            }
            @if let Some(e) = err("terms") { span class="errors" { (e) } }
            div class="check" {
                input type="checkbox" id="marketing" name="marketing" value="on" checked[ticked(&f.marketing)];
                label for="marketing" { (l.t("Chci dostávat obchodní sdělení (nepovinné; souhlas mohu kdykoli odvolat).", "I want to receive commercial messages (optional; I can withdraw this consent at any time).")) }
            }
            button type="submit" { (l.t("Založit účet", "Create the account")) }
        }
    }
}

async fn register_page(ctx: Ctx) -> Result<Response, WebError> {
    let l = ctx.lang;
    let title = l.t("Registrace", "Registration");
    let body = html! {
        h1 { (title) }
        (register_form(&ctx, &RegisterForm::default(), &[]))
    };
    Ok(ctx.html(layout::page(&ctx, Area::Public, title, body)))
}

async fn register(
    State(state): State<WebState>,
    mut ctx: Ctx,
    Form(f): Form<RegisterForm>,
) -> Result<Response, WebError> {
    ctx.check_csrf(&f.csrf)?;
    if let Some(l) = f.lang.as_deref().and_then(Lang::parse) {
        ctx.lang = l;
    }
    let l = ctx.lang;
    let now = store::now_us();
    let mut errors = validate(&f, prague::today(now));
    let title = l.t("Registrace", "Registration");
    if errors.is_empty() {
        let password_hash = security::hash_password(f.password.clone().unwrap_or_default()).await?;
        let business = f.kind.as_deref() == Some("business");
        let full_name = opt(&f.full_name).unwrap_or_default();
        let company = opt(&f.company).filter(|_| business);
        let email = opt(&f.email).unwrap_or_default().to_lowercase();
        let user_id = state.ids().next();
        let new = NewWebUser {
            id: user_id,
            account: domain::AccountId::new(state.ids().next()),
            account_name: company.clone().unwrap_or_else(|| full_name.clone()),
            email: email.clone(),
            password_hash,
            kind: if business { "business" } else { "person" }.into(),
            full_name,
            company,
            ico: opt(&f.ico).filter(|_| business),
            dic: opt(&f.dic).filter(|_| business),
            address: opt(&f.address).unwrap_or_default(),
            phone: opt(&f.phone),
            birth_date: opt(&f.birth_date).unwrap_or_default(),
            age_text_version: AGE_TEXT_VERSION.into(),
            terms_version: TERMS_VERSION.into(),
            lang: l.code().into(),
            credit: state.signup_credit(),
        };
        match state.store().create_web_user(&new, now).await {
            Ok(()) => {
                let subject = format!("user:{user_id}");
                state
                    .store()
                    .record_consents(
                        &subject,
                        &[("marketing_email", ticked(&f.marketing))],
                        MARKETING_TEXT_VERSION,
                        "web",
                        "registration",
                        now,
                    )
                    .await?;
                send_link(&state, &ctx, user_id, &email, "verify_email").await?;
                let body = html! {
                    h1 { (l.t("Ověřte svůj e-mail", "Verify your e-mail")) }
                    (layout::notice("ok", l.t("Účet je založen. Poslali jsme Vám e-mail s odkazem pro ověření adresy; po ověření se můžete přihlásit.",
                                              "The account is created. We sent you an e-mail with a link to verify the address; once verified, you can sign in.")))
                };
                return Ok(ctx.html(layout::page(&ctx, Area::Public, title, body)));
            }
            Err(StoreError::Conflict(_)) => errors.push((
                "email",
                "Účet s tímto e-mailem už existuje.",
                "An account with this e-mail already exists.",
            )),
            Err(e) => return Err(e.into()),
        }
    }
    let body = html! {
        h1 { (title) }
        (register_form(&ctx, &f, &errors))
    };
    Ok(ctx.html_status(
        StatusCode::UNPROCESSABLE_ENTITY,
        layout::page(&ctx, Area::Public, title, body),
    ))
}

/// Creates a one-time link and puts the e-mail carrying it in the outbox.
pub(crate) async fn send_link(
    state: &WebState,
    ctx: &Ctx,
    user: i64,
    email: &str,
    purpose: &str,
) -> Result<(), WebError> {
    let now = store::now_us();
    let token = security::random_token();
    state
        .store()
        .create_web_token(
            &security::token_hash(&token),
            user,
            purpose,
            now + TOKEN_HOURS * HOUR_US,
            now,
        )
        .await?;
    let l = ctx.lang;
    let (subject, path, text) = if purpose == "verify_email" {
        (
            l.t(
                "Ověření e-mailu ApiSendSMS",
                "Verify your ApiSendSMS e-mail",
            ),
            "/app/verify",
            l.t(
                "Dobrý den,\n\npro ověření e-mailu otevřete tento odkaz (platí 24 hodin):",
                "Hello,\n\nto verify your e-mail, open this link (valid for 24 hours):",
            ),
        )
    } else {
        (
            l.t("Obnovení hesla ApiSendSMS", "Reset your ApiSendSMS password"),
            "/app/reset/confirm",
            l.t("Dobrý den,\n\nnové heslo nastavíte na tomto odkazu (platí 24 hodin). Pokud jste o obnovení nežádali, e-mail ignorujte:", "Hello,\n\nset a new password at this link (valid for 24 hours). If you did not ask for it, ignore this e-mail:"),
        )
    };
    let link = format!("{}{path}?token={token}", ctx.origin);
    let body = format!("{text}\n\n{link}\n\nApiSendSMS");
    let id = state.store().push_email(email, subject, &body, now).await?;
    if state.settings().log_outbox {
        tracing::info!(outbox_id = id, %link, "e-mail kept in the outbox (no SMTP configured)");
    }
    Ok(())
}

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

async fn verify(
    State(state): State<WebState>,
    ctx: Ctx,
    Query(q): Query<TokenQuery>,
) -> Result<Response, WebError> {
    let l = ctx.lang;
    let now = store::now_us();
    let user = match q.token.as_deref() {
        Some(t) => {
            state
                .store()
                .take_web_token(&security::token_hash(t), "verify_email", now)
                .await?
        }
        None => None,
    };
    let title = l.t("Ověření e-mailu", "E-mail verification");
    let body = match user {
        Some(u) => {
            state.store().set_web_user_verified(u, now).await?;
            html! {
                h1 { (title) }
                (layout::notice("ok", l.t("E-mail je ověřen. Nyní se můžete přihlásit.", "Your e-mail is verified. You can sign in now.")))
                p { a class="button" href=(ctx.app_link("/app/login")) { (l.t("Přihlásit se", "Sign in")) } }
            }
        }
        None => html! {
            h1 { (title) }
            (layout::notice("error", l.t("Odkaz je neplatný, už byl použit, nebo vypršel.", "The link is invalid, was already used, or has expired.")))
        },
    };
    Ok(ctx.html(layout::page(&ctx, Area::Public, title, body)))
}

fn login_form(ctx: &Ctx, email: &str, message: Option<&str>) -> Markup {
    let l = ctx.lang;
    html! {
        @if let Some(m) = message { (layout::notice("error", m)) }
        form class="stack" method="post" action="/app/login" {
            input type="hidden" name="csrf" value=(ctx.csrf);
            (layout::lang_field(l))
            (field("email", "E-mail", html! { input type="email" id="email" name="email" value=(email) required autocomplete="username"; }, None))
            (field("password", l.t("Heslo", "Password"), html! { input type="password" id="password" name="password" required autocomplete="current-password"; }, None))
            button type="submit" { (l.t("Přihlásit se", "Sign in")) }
        }
        p { a href=(ctx.app_link("/app/reset")) { (l.t("Zapomenuté heslo", "Forgotten password")) } }
        p { a href=(ctx.app_link("/app/register")) { (l.t("Nemáte účet? Zaregistrujte se.", "No account yet? Register.")) } }
    }
}

async fn login_page(ctx: Ctx) -> Result<Response, WebError> {
    if ctx.signed_in().is_some() {
        return Ok(ctx.redirect(&ctx.app_link("/app/")));
    }
    let l = ctx.lang;
    let title = l.t("Přihlášení", "Sign in");
    let body = html! { h1 { (title) } (login_form(&ctx, "", None)) };
    Ok(ctx.html(layout::page(&ctx, Area::Public, title, body)))
}

#[derive(Deserialize)]
pub struct LoginForm {
    csrf: String,
    email: Option<String>,
    password: Option<String>,
    lang: Option<String>,
}

/// Starts a session (a new id) and sets its cookie.
async fn start_session(
    state: &WebState,
    ctx: &mut Ctx,
    user: i64,
    stage: &str,
) -> Result<(), WebError> {
    let now = store::now_us();
    if let Some(old) = &ctx.session_hash {
        state.store().delete_web_session(old).await?;
    }
    let id = security::random_token();
    let hours = i64::try_from(state.settings().session_hours.max(1)).unwrap_or(12);
    state
        .store()
        .create_web_session(
            &security::token_hash(&id),
            user,
            stage,
            now,
            now + hours * HOUR_US,
        )
        .await?;
    ctx.set_cookie("sid", &id, None);
    Ok(())
}

async fn login(
    State(state): State<WebState>,
    mut ctx: Ctx,
    Form(f): Form<LoginForm>,
) -> Result<Response, WebError> {
    ctx.check_csrf(&f.csrf)?;
    if let Some(l) = f.lang.as_deref().and_then(Lang::parse) {
        ctx.lang = l;
    }
    let l = ctx.lang;
    let title = l.t("Přihlášení", "Sign in");
    let email = opt(&f.email).unwrap_or_default().to_lowercase();
    let now = store::now_us();
    let s = state.settings();
    let refuse = |ctx: &Ctx, status: StatusCode, msg: &str| {
        let body = html! { h1 { (title) } (login_form(ctx, &email, Some(msg))) };
        ctx.html_status(status, layout::page(ctx, Area::Public, title, body))
    };

    let from_ip = state
        .store()
        .logins_from_ip_since(&ctx.ip, now - 60_000_000)
        .await?;
    if from_ip >= i64::from(s.login_attempts_per_minute_per_ip) {
        return Ok(refuse(
            &ctx,
            StatusCode::TOO_MANY_REQUESTS,
            l.t(
                "Příliš mnoho pokusů o přihlášení. Zkuste to za minutu.",
                "Too many sign-in attempts. Try again in a minute.",
            ),
        ));
    }
    let window = i64::try_from(s.lockout_window_s).unwrap_or(900) * 1_000_000;
    let user = state.store().web_user_by_email(&email).await?;
    let locked_msg = l.t(
        "Účet je kvůli opakovaným neúspěšným pokusům dočasně zablokován. Zkuste to později nebo si obnovte heslo.",
        "The account is locked for a while after repeated failed attempts. Try later or reset your password.",
    );
    if user
        .as_ref()
        .and_then(|u| u.locked_until)
        .is_some_and(|t| t > now)
    {
        state
            .store()
            .record_login_attempt(&email, &ctx.ip, false, now)
            .await?;
        return Ok(refuse(&ctx, StatusCode::TOO_MANY_REQUESTS, locked_msg));
    }
    let ok = security::verify_password(
        f.password.clone().unwrap_or_default(),
        user.as_ref().map(|u| u.password_hash.clone()),
    )
    .await;
    state
        .store()
        .record_login_attempt(&email, &ctx.ip, ok, now)
        .await?;
    let Some(user) = user.filter(|_| ok) else {
        let failures = state
            .store()
            .failed_logins_since(&email, now - window)
            .await?;
        if failures >= i64::from(s.lockout_after) {
            if let Some(u) = state.store().web_user_by_email(&email).await? {
                state.store().lock_web_user(u.id, now + window).await?;
                tracing::warn!(
                    user = u.id,
                    failures,
                    "web sign-in locked after failed attempts"
                );
            }
            return Ok(refuse(&ctx, StatusCode::TOO_MANY_REQUESTS, locked_msg));
        }
        return Ok(refuse(
            &ctx,
            StatusCode::UNAUTHORIZED,
            l.t("Nesprávný e-mail nebo heslo.", "Wrong e-mail or password."),
        ));
    };
    if user.email_verified_at.is_none() {
        return Ok(refuse(
            &ctx,
            StatusCode::FORBIDDEN,
            l.t(
                "Nejdřív ověřte svůj e-mail odkazem, který jsme Vám poslali.",
                "First verify your e-mail with the link we sent you.",
            ),
        ));
    }
    if user.totp_enabled_at.is_some() {
        start_session(&state, &mut ctx, user.id, "password").await?;
        return Ok(ctx.redirect(&ctx.app_link("/app/login/totp")));
    }
    start_session(&state, &mut ctx, user.id, "full").await?;
    Ok(ctx.redirect(&ctx.app_link("/app/")))
}

async fn totp_page(ctx: Ctx) -> Result<Response, WebError> {
    if ctx.session_stage.as_deref() != Some("password") {
        return Ok(ctx.redirect(&ctx.app_link("/app/login")));
    }
    let l = ctx.lang;
    let title = l.t("Ověřovací kód", "Verification code");
    let body = html! {
        h1 { (title) }
        (totp_form(&ctx, None))
    };
    Ok(ctx.html(layout::page(&ctx, Area::Public, title, body)))
}

fn totp_form(ctx: &Ctx, message: Option<&str>) -> Markup {
    let l = ctx.lang;
    html! {
        @if let Some(m) = message { (layout::notice("error", m)) }
        form class="stack" method="post" action="/app/login/totp" {
            input type="hidden" name="csrf" value=(ctx.csrf);
            (field("code", l.t("Kód z aplikace (6 číslic)", "Code from your app (6 digits)"),
                html! { input type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code" required pattern="[0-9 ]{6,7}"; }, None))
            button type="submit" { (l.t("Ověřit", "Verify")) }
        }
    }
}

#[derive(Deserialize)]
pub struct CodeForm {
    csrf: String,
    code: Option<String>,
}

async fn totp_submit(
    State(state): State<WebState>,
    mut ctx: Ctx,
    Form(f): Form<CodeForm>,
) -> Result<Response, WebError> {
    ctx.check_csrf(&f.csrf)?;
    let (Some(user), Some("password")) = (ctx.user.clone(), ctx.session_stage.as_deref()) else {
        return Ok(ctx.redirect("/app/login"));
    };
    let l = ctx.lang;
    let now = store::now_us();
    let code = f.code.unwrap_or_default();
    let ok = user
        .totp_secret
        .as_deref()
        .is_some_and(|s| security::totp_ok(s, &user.email, &code));
    state
        .store()
        .record_login_attempt(&user.email, &ctx.ip, ok, now)
        .await?;
    if !ok {
        let window = i64::try_from(state.settings().lockout_window_s).unwrap_or(900) * 1_000_000;
        let failures = state
            .store()
            .failed_logins_since(&user.email, now - window)
            .await?;
        if failures >= i64::from(state.settings().lockout_after) {
            state.store().lock_web_user(user.id, now + window).await?;
            if let Some(h) = &ctx.session_hash {
                state.store().delete_web_session(h).await?;
            }
            ctx.clear_cookie("sid");
            return Ok(ctx.redirect("/app/login"));
        }
        let title = l.t("Ověřovací kód", "Verification code");
        let body = html! { h1 { (title) } (totp_form(&ctx, Some(l.t("Kód nesouhlasí.", "The code is wrong.")))) };
        return Ok(ctx.html_status(
            StatusCode::UNAUTHORIZED,
            layout::page(&ctx, Area::Public, title, body),
        ));
    }
    start_session(&state, &mut ctx, user.id, "full").await?;
    Ok(ctx.redirect(&ctx.app_link("/app/")))
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(state): State<WebState>,
    mut ctx: Ctx,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    ctx.check_csrf(&f.csrf)?;
    if let Some(h) = &ctx.session_hash {
        state.store().delete_web_session(h).await?;
    }
    ctx.clear_cookie("sid");
    Ok(ctx.redirect(i18n::path("home", ctx.lang)))
}

async fn reset_page(ctx: Ctx) -> Result<Response, WebError> {
    let l = ctx.lang;
    let title = l.t("Obnovení hesla", "Password reset");
    let body = html! {
        h1 { (title) }
        form class="stack" method="post" action="/app/reset" {
            input type="hidden" name="csrf" value=(ctx.csrf);
            (layout::lang_field(l))
            (field("email", "E-mail", html! { input type="email" id="email" name="email" required autocomplete="email"; }, None))
            button type="submit" { (l.t("Poslat odkaz", "Send the link")) }
        }
    };
    Ok(ctx.html(layout::page(&ctx, Area::Public, title, body)))
}

async fn reset_request(
    State(state): State<WebState>,
    mut ctx: Ctx,
    Form(f): Form<LoginForm>,
) -> Result<Response, WebError> {
    ctx.check_csrf(&f.csrf)?;
    if let Some(l) = f.lang.as_deref().and_then(Lang::parse) {
        ctx.lang = l;
    }
    let l = ctx.lang;
    let email = opt(&f.email).unwrap_or_default().to_lowercase();
    if let Some(u) = state.store().web_user_by_email(&email).await? {
        send_link(&state, &ctx, u.id, &u.email, "reset_password").await?;
    }
    let title = l.t("Obnovení hesla", "Password reset");
    // The same answer whether or not the e-mail is known.
    let body = html! {
        h1 { (title) }
        (layout::notice("ok", l.t("Pokud u nás účet s tímto e-mailem existuje, poslali jsme na něj odkaz pro nastavení nového hesla.",
                                  "If an account with this e-mail exists, we sent it a link to set a new password.")))
    };
    Ok(ctx.html(layout::page(&ctx, Area::Public, title, body)))
}

async fn reset_confirm_page(ctx: Ctx, Query(q): Query<TokenQuery>) -> Result<Response, WebError> {
    let l = ctx.lang;
    let title = l.t("Nové heslo", "New password");
    let body = html! {
        h1 { (title) }
        form class="stack" method="post" action="/app/reset/confirm" {
            input type="hidden" name="csrf" value=(ctx.csrf);
            input type="hidden" name="token" value=(q.token.unwrap_or_default());
            (field("password", l.t("Nové heslo (alespoň 10 znaků)", "New password (at least 10 characters)"),
                html! { input type="password" id="password" name="password" required autocomplete="new-password" minlength="10"; }, None))
            button type="submit" { (l.t("Nastavit heslo", "Set the password")) }
        }
    };
    Ok(ctx.html(layout::page(&ctx, Area::Public, title, body)))
}

#[derive(Deserialize)]
pub struct ResetForm {
    csrf: String,
    token: Option<String>,
    password: Option<String>,
}

async fn reset_confirm(
    State(state): State<WebState>,
    ctx: Ctx,
    Form(f): Form<ResetForm>,
) -> Result<Response, WebError> {
    ctx.check_csrf(&f.csrf)?;
    let l = ctx.lang;
    let title = l.t("Nové heslo", "New password");
    let password = f.password.unwrap_or_default();
    if password.chars().count() < MIN_PASSWORD {
        let body = html! { h1 { (title) } (layout::notice("error", l.t("Heslo musí mít alespoň 10 znaků. Otevřete odkaz z e-mailu znovu.", "The password must have at least 10 characters. Open the link from the e-mail again."))) };
        return Ok(ctx.html_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            layout::page(&ctx, Area::Public, title, body),
        ));
    }
    let now = store::now_us();
    let user = state
        .store()
        .take_web_token(
            &security::token_hash(f.token.as_deref().unwrap_or("")),
            "reset_password",
            now,
        )
        .await?;
    let Some(user) = user else {
        let body = html! { h1 { (title) } (layout::notice("error", l.t("Odkaz je neplatný, už byl použit, nebo vypršel.", "The link is invalid, was already used, or has expired."))) };
        return Ok(ctx.html_status(
            StatusCode::BAD_REQUEST,
            layout::page(&ctx, Area::Public, title, body),
        ));
    };
    let hash = security::hash_password(password).await?;
    state.store().set_web_user_password(user, &hash).await?;
    state.store().delete_web_sessions_of(user).await?;
    // Following the link proves the mailbox too.
    state.store().set_web_user_verified(user, now).await?;
    let body = html! {
        h1 { (title) }
        (layout::notice("ok", l.t("Heslo je změněno a všechna přihlášení ukončena. Přihlaste se novým heslem.", "The password is changed and every session ended. Sign in with the new password.")))
        p { a class="button" href=(ctx.app_link("/app/login")) { (l.t("Přihlásit se", "Sign in")) } }
    };
    Ok(ctx.html(layout::page(&ctx, Area::Public, title, body)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn form(birth: &str) -> RegisterForm {
        RegisterForm {
            csrf: String::new(),
            kind: Some("person".into()),
            full_name: Some("Jana Nováková".into()),
            address: Some("Světova 1, Praha".into()),
            email: Some("jana@example.cz".into()),
            birth_date: Some(birth.into()),
            password: Some("dlouhé heslo 123".into()),
            terms: Some("on".into()),
            ..RegisterForm::default()
        }
    }

    #[test]
    fn only_adults_register() {
        let today = date!(2026 - 11 - 29);
        assert!(validate(&form("2008-11-29"), today).is_empty());
        let young = validate(&form("2008-11-30"), today);
        assert_eq!(young.len(), 1);
        assert_eq!(young[0].0, "birth_date");
        assert_eq!(validate(&form("2030-01-01"), today)[0].0, "birth_date");
        assert_eq!(validate(&form("not a date"), today)[0].0, "birth_date");
    }

    #[test]
    fn terms_are_required_and_businesses_need_a_valid_ico() {
        let today = date!(2026 - 11 - 29);
        let mut f = form("1990-01-01");
        f.terms = None;
        assert_eq!(validate(&f, today)[0].0, "terms");
        let mut b = form("1990-01-01");
        b.kind = Some("business".into());
        b.company = Some("ACME s.r.o.".into());
        b.ico = Some("09828397".into());
        b.dic = Some("CZ09828397".into());
        assert!(validate(&b, today).is_empty());
        b.ico = Some("09828398".into());
        assert_eq!(validate(&b, today)[0].0, "ico");
    }

    #[test]
    fn ico_and_dic_checks() {
        assert!(ico_valid("09828397"));
        assert!(ico_valid("25596641"));
        assert!(!ico_valid("25596642"));
        assert!(!ico_valid("1234567"));
        assert!(dic_valid("CZ25596641"));
        assert!(!dic_valid("25596641"));
        assert!(!dic_valid("CZ1234"));
    }
}
