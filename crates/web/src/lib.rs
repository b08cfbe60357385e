//! The web of apisendsms: the public site (Czech at `/`, English under `/en/`), the cookie
//! consent of the privacy policy's clause 9, registration and sign-in, the customer app
//! (`/app/`) and the staff back office (`/admin/`). Pages are rendered on the server with maud
//! (compile-checked, auto-escaping); the stylesheet, the script and the icon are compiled into
//! the binary; every form works without JavaScript.
//!
//! Layout, one module per area so that later areas slot in beside them:
//! - [`ctx`]: the request context (language, session, CSRF token, cookie choice) and responses;
//! - [`layout`]: the frame of every page (header, navigation, footer, cookie banner);
//! - [`public`]: product, how it works, prices, API documentation, contact, the policy;
//! - [`consent`]: the cookie banner, the cookie list and settings, `/osobni-udaje/`;
//! - [`auth`]: registration, e-mail verification, sign-in (rate limit, lockout, TOTP), reset;
//! - [`app`]: the customer app; [`backoffice`]: the staff pages;
//! - [`credit`]: the customer's credit, top-ups and invoices; [`backoffice_payments`]: the staff's
//!   statement upload, unpaired payments, debtors and credit terms;
//! - `devices`: the customer's own phones and modems (pairing, live state, revocation, the
//!   account's channel), through the functions of `/v1/devices` and the device hub;
//! - [`privacy`]: the privacy centre, data requests, tickets, retention and lawful requests;
//!   [`marketing`]: the operator's marketing e-mails with their one-click withdrawal link.
//!
//! Boundary: the web talks to the store and the text rules of `sms`; it never talks to
//! carriers and knows no JSON of the API except the OpenAPI document it renders.
#![forbid(unsafe_code)]

pub mod app;
mod assets;
pub mod auth;
pub mod backoffice;
pub mod backoffice_payments;
pub mod consent;
pub mod credit;
pub mod ctx;
mod devices;
mod error;
mod forms;
mod i18n;
mod integrations;
mod lawful;
pub mod layout;
pub mod marketing;
mod policy;
mod prague;
pub mod privacy;
pub mod public;
mod recipients;
mod rights;
mod security;

use std::sync::{Arc, OnceLock};

use axum::routing::get;
use axum::Router;
use domain::{IdGenerator, Money};
use serde::{Deserialize, Serialize};
use store::Store;
use workers::Connector;

pub use error::WebError;

/// Settings of the web (the `[web]` table of the settings file).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebSettings {
    /// Serve the site and the app at all.
    pub enabled: bool,
    /// Credit given to a new account at registration, e.g. "50.00" (default none).
    pub signup_credit_czk: String,
    /// Failed sign-ins of one e-mail within `lockout_window_s` that lock it for as long.
    pub lockout_after: u32,
    pub lockout_window_s: u64,
    /// Sign-in attempts from one address within a minute before it is told to wait.
    pub login_attempts_per_minute_per_ip: u32,
    /// How long a sign-in lasts.
    pub session_hours: u64,
    /// Without SMTP, an e-mail is kept in the outbox table; with this on (the default for
    /// development) its text, links included, is also written to the log.
    pub log_outbox: bool,
    /// The operator's own account whose queue carries one-time codes by SMS (the identity
    /// check of a data request filed by staff); without it codes go by e-mail only.
    pub code_sms_account: Option<i64>,
    /// The sender id of those SMS (the default sender when unset).
    pub code_sms_sender: Option<String>,
}

impl Default for WebSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            signup_credit_czk: "0".into(),
            lockout_after: 5,
            lockout_window_s: 900,
            login_attempts_per_minute_per_ip: 30,
            session_hours: 12,
            log_outbox: true,
            code_sms_account: None,
            code_sms_sender: None,
        }
    }
}

/// What the pages need; cheap to clone.
#[derive(Clone)]
pub struct WebState {
    inner: Arc<Inner>,
}

struct Inner {
    api: api::AppState,
    settings: WebSettings,
    signup_credit: Money,
    connectors: Vec<Arc<dyn Connector>>,
    secure_cookies: bool,
    devices: OnceLock<Arc<::devices::Hub>>,
}

impl WebState {
    /// The web shares the API's state: its store, id generator, settings, and its one way
    /// into the queue (`api::messages::accept`). `secure_cookies` is true over TLS.
    pub fn new(
        api: api::AppState,
        settings: WebSettings,
        connectors: Vec<Arc<dyn Connector>>,
        secure_cookies: bool,
    ) -> anyhow::Result<Self> {
        let signup_credit = Money::parse(&settings.signup_credit_czk)
            .map_err(|e| anyhow::anyhow!("web.signup_credit_czk: {e}"))?;
        anyhow::ensure!(
            !signup_credit.is_negative(),
            "web.signup_credit_czk cannot be negative"
        );
        Ok(Self {
            inner: Arc::new(Inner {
                api,
                settings,
                signup_credit,
                connectors,
                secure_cookies,
                devices: OnceLock::new(),
            }),
        })
    }
    pub fn store(&self) -> &Store {
        self.inner.api.store()
    }
    pub(crate) fn ids(&self) -> &IdGenerator {
        self.inner.api.ids()
    }
    pub(crate) fn settings(&self) -> &WebSettings {
        &self.inner.settings
    }
    pub(crate) fn api(&self) -> &api::ApiSettings {
        self.inner.api.settings()
    }
    pub(crate) fn api_state(&self) -> &api::AppState {
        &self.inner.api
    }
    pub(crate) fn signup_credit(&self) -> Money {
        self.inner.signup_credit
    }
    pub(crate) fn connectors(&self) -> &[Arc<dyn Connector>] {
        &self.inner.connectors
    }
    pub(crate) fn secure_cookies(&self) -> bool {
        self.inner.secure_cookies
    }
    /// Gives the pages this node's device hub (live state, revocation that cuts a device off).
    pub fn set_devices(&self, hub: Arc<::devices::Hub>) {
        let _ = self.inner.devices.set(hub);
    }
    /// The device hub; without one the devices page is not served.
    pub(crate) fn devices(&self) -> Option<&::devices::Hub> {
        self.inner.devices.get().map(|h| &**h)
    }
}

/// Every page of the site, the app and the back office.
pub fn router(state: WebState) -> Router {
    Router::new()
        .merge(assets::routes())
        .merge(public::routes())
        .merge(consent::routes())
        .merge(auth::routes())
        .merge(app::routes())
        .merge(backoffice::routes())
        .merge(recipients::routes())
        .merge(integrations::routes())
        .merge(privacy::routes())
        .merge(marketing::routes())
        .merge(lawful::routes())
        .merge(credit::routes())
        .merge(devices::routes())
        .merge(backoffice_payments::routes())
        .route("/robots.txt", get(assets::robots))
        .layer(axum::middleware::from_fn(security::headers))
        .with_state(state)
}
