//! The request context of a page: its language, the signed-in user, the CSRF token and the
//! visitor's cookie choice, read from the request; and the responses that set the cookies.
//!
//! Cookies (the list shown to visitors is [`crate::consent::COOKIES`]):
//! - `sid` (necessary): the session id; the database keeps its SHA-256.
//! - `csrf` (necessary): a random token every form repeats (double submit); with
//!   `SameSite=Lax` a form posted from another site carries neither.
//! - `consent` (necessary): the cookie choice, `v1.<visitor id>.<four flags>`.
//! - `lang` (preferences): the language last chosen; set only with consent to preferences.
//!
//! All are `HttpOnly`, `SameSite=Lax`, `Path=/`, and `Secure` when served over TLS.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::Markup;
use store::WebUser;

use crate::consent::Choice;
use crate::error::WebError;
use crate::i18n::Lang;
use crate::security;
use crate::WebState;

/// Everything a handler needs to know about the request besides its own input.
pub struct Ctx {
    pub lang: Lang,
    /// Path of the request, for the language switch and the active navigation link.
    pub path: String,
    /// `scheme://host` the visitor used, for links in e-mails.
    pub origin: String,
    pub user: Option<WebUser>,
    /// The session id's hash when the visitor has a session (in any stage).
    pub session_hash: Option<String>,
    /// The session's stage: "password" while a TOTP code is due, "full" when signed in.
    pub session_stage: Option<String>,
    pub csrf: String,
    csrf_is_new: bool,
    /// The visitor's cookie choice; `None` until made (the banner shows).
    pub choice: Option<Choice>,
    /// The client address, for the sign-in rate limit.
    pub ip: String,
    secure: bool,
    set_cookies: Vec<String>,
}

fn cookie_value<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

impl FromRequestParts<WebState> for Ctx {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, WebError> {
        let now = store::now_us();
        let path = parts.uri.path().to_owned();
        let query_lang = parts.uri.query().and_then(|q| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == "lang")
                .and_then(|(_, v)| Lang::parse(v))
        });
        let session_hash = cookie_value(parts, "sid")
            .filter(|s| s.len() == 64)
            .map(security::token_hash);
        let mut user = None;
        let mut session_stage = None;
        if let Some(h) = &session_hash {
            if let Some(s) = state.store().web_session(h, now).await? {
                session_stage = Some(s.stage.clone());
                user = Some(s.user);
            }
        }
        let session_hash = session_stage.as_ref().and(session_hash);
        let choice = cookie_value(parts, "consent").and_then(Choice::parse);
        let cookie_lang = cookie_value(parts, "lang").and_then(Lang::parse);
        let lang = if path == "/en" || path.starts_with("/en/") {
            Lang::En
        } else if crate::i18n::PAGES.iter().any(|(_, cs, _)| *cs == path) {
            Lang::Cs
        } else if let Some(l) = query_lang {
            l
        } else if let Some(u) = user
            .as_ref()
            .filter(|_| session_stage.as_deref() == Some("full"))
        {
            Lang::parse(&u.lang).unwrap_or(Lang::Cs)
        } else {
            cookie_lang
                .filter(|_| choice.is_some_and(|c| c.preferences))
                .unwrap_or(Lang::Cs)
        };
        let (csrf, csrf_is_new) = match cookie_value(parts, "csrf").filter(|t| t.len() == 64) {
            Some(t) => (t.to_owned(), false),
            None => (security::random_token(), true),
        };
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        let secure = state.secure_cookies();
        let origin = format!("{}://{host}", if secure { "https" } else { "http" });
        let ip = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .unwrap_or_else(|| "unknown".to_owned());
        let mut ctx = Ctx {
            lang,
            path,
            origin,
            user,
            session_hash,
            session_stage,
            csrf,
            csrf_is_new,
            choice,
            ip,
            secure,
            set_cookies: Vec::new(),
        };
        if ctx.csrf_is_new {
            let c = ctx.cookie("csrf", &ctx.csrf.clone(), None);
            ctx.set_cookies.push(c);
        }
        // The language is remembered only with consent to preference cookies.
        if ctx.choice.is_some_and(|c| c.preferences) && cookie_lang != Some(ctx.lang) {
            let is_public = crate::i18n::PAGES
                .iter()
                .any(|(_, cs, en)| *cs == ctx.path || *en == ctx.path);
            if is_public || query_lang.is_some() {
                let c = ctx.cookie("lang", ctx.lang.code(), Some(365 * 24 * 3600));
                ctx.set_cookies.push(c);
            }
        }
        Ok(ctx)
    }
}

impl Ctx {
    /// The signed-in user (a session past every sign-in step).
    pub fn signed_in(&self) -> Option<&WebUser> {
        self.user
            .as_ref()
            .filter(|_| self.session_stage.as_deref() == Some("full"))
    }

    /// The signed-in user, or a redirect to the sign-in page.
    pub fn require_user(&self) -> Result<&WebUser, WebError> {
        self.signed_in().ok_or(WebError::SignInRequired)
    }

    /// A staff member (any role but `customer`).
    pub fn require_staff(&self) -> Result<&WebUser, WebError> {
        let u = self.require_user()?;
        if u.role == "customer" {
            return Err(WebError::Forbidden);
        }
        Ok(u)
    }

    /// A staff member whose role carries `duty`.
    pub fn require_duty(&self, duty: Duty) -> Result<&WebUser, WebError> {
        let u = self.require_staff()?;
        if !duty.allowed(&u.role) {
            return Err(WebError::Forbidden);
        }
        Ok(u)
    }

    /// Whether the signed-in user's role carries `duty` (for the navigation).
    pub fn may(&self, duty: Duty) -> bool {
        self.signed_in().is_some_and(|u| duty.allowed(&u.role))
    }

    /// Refuses a form whose token is not the visitor's CSRF cookie.
    pub fn check_csrf(&self, token: &str) -> Result<(), WebError> {
        if self.csrf_is_new || !security::same(token, &self.csrf) {
            return Err(WebError::Csrf);
        }
        Ok(())
    }

    /// A `Set-Cookie` value; `max_age` `None` makes a cookie that ends with the browser.
    pub fn cookie(&self, name: &str, value: &str, max_age: Option<i64>) -> String {
        let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
        if let Some(s) = max_age {
            c.push_str(&format!("; Max-Age={s}"));
        }
        if self.secure {
            c.push_str("; Secure");
        }
        c
    }

    /// Adds a cookie to the response.
    pub fn set_cookie(&mut self, name: &str, value: &str, max_age: Option<i64>) {
        let c = self.cookie(name, value, max_age);
        self.set_cookies.push(c);
    }

    /// Removes a cookie.
    pub fn clear_cookie(&mut self, name: &str) {
        self.set_cookie(name, "", Some(0));
    }

    fn with_cookies(&self, mut response: Response) -> Response {
        for c in &self.set_cookies {
            if let Ok(v) = HeaderValue::from_str(c) {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        response
    }

    /// An HTML page.
    pub fn html(&self, markup: Markup) -> Response {
        self.html_status(StatusCode::OK, markup)
    }

    pub fn html_status(&self, status: StatusCode, markup: Markup) -> Response {
        let mut r = (status, markup.into_string()).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        self.with_cookies(r)
    }

    /// A redirect after a form (303, so the browser follows with GET).
    pub fn redirect(&self, to: &str) -> Response {
        self.with_cookies(Redirect::to(to).into_response())
    }

    /// A link to an app page in the page's language.
    pub fn app_link(&self, path: &str) -> String {
        match self.lang {
            Lang::Cs => path.to_owned(),
            Lang::En if path.contains('?') => format!("{path}&lang=en"),
            Lang::En => format!("{path}?lang=en"),
        }
    }
}

/// What a part of the back office is for; each staff role carries some of these duties
/// (`admin` all of them), so that staff see only what their work needs (GDPR Art. 32).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duty {
    /// Customers' accounts and their messages (support, billing, the DPO).
    Customers,
    /// Connectors and the service's state (support).
    Operations,
    /// Payments, invoices, debtors (billing).
    Payments,
    /// Recipients' and customers' requests, retention, lawful requests (the DPO).
    Privacy,
    /// The audit log (the DPO).
    Audit,
    /// Support tickets (support, the DPO).
    Tickets,
    /// The operator's marketing e-mails and newsletters (the administrator only: the DPO
    /// oversees marketing and does not run it, support and billing serve existing contracts).
    Marketing,
}

impl Duty {
    pub fn allowed(self, role: &str) -> bool {
        match role {
            "admin" => true,
            "support" => matches!(self, Duty::Customers | Duty::Operations | Duty::Tickets),
            "billing" => matches!(self, Duty::Customers | Duty::Payments),
            "dpo" => matches!(
                self,
                Duty::Customers | Duty::Privacy | Duty::Audit | Duty::Tickets
            ),
            _ => false,
        }
    }
}

#[cfg(test)]
mod duty_tests {
    use super::Duty;

    #[test]
    fn roles_carry_their_duties_and_customers_none() {
        assert!(Duty::Audit.allowed("admin"));
        assert!(Duty::Audit.allowed("dpo"));
        assert!(!Duty::Audit.allowed("support"));
        assert!(!Duty::Privacy.allowed("billing"));
        assert!(Duty::Payments.allowed("billing"));
        assert!(!Duty::Payments.allowed("support"));
        assert!(Duty::Operations.allowed("support"));
        assert!(Duty::Marketing.allowed("admin"));
        assert!(!Duty::Marketing.allowed("dpo"));
        for d in [
            Duty::Customers,
            Duty::Operations,
            Duty::Payments,
            Duty::Privacy,
            Duty::Audit,
            Duty::Tickets,
            Duty::Marketing,
        ] {
            assert!(!d.allowed("customer"));
            assert!(!d.allowed(""));
        }
    }
}
