//! The HTTP API of apisendsms, version 1.
//!
//! - [`router`] builds the axum router from an [`AppState`].
//! - [`keys`] makes and hashes API keys (the key is shown once; only its SHA-256 is stored).
//! - [`error`] is the one error type of the HTTP edge, rendered as RFC 9457 problem+json.
//! - `contacts` (lists, CSV imports via the streaming `csv` reader, sending to a list),
//!   `blacklist` (opt-outs; staff erasure and restriction) and `marketing` (commercial-message
//!   rules) protect recipients.
//! - `privacy`: objections, support tickets, the audit check, the retention report and lawful
//!   requests (`/v1/privacy/*`), and the archive of an access or portability answer.
//! - `messages`, `account` and `ops` are the resource modules; the fragments in `openapi/`
//!   (one per resource module, merged by `ops::openapi_document`) document them.
//!
//! Invariant: this is the only crate that knows the JSON wire format of the API.
//! Boundary: handlers turn request data into domain types (`Msisdn`, `SenderId`, `Money`) and
//! hand them to the store; they do not talk to carriers.
#![forbid(unsafe_code)]

mod account;
mod admin;
pub mod billing;
pub mod blacklist;
pub mod contacts;
mod csv;
pub mod error;
mod inbound;
pub mod keys;
mod marketing;
pub mod messages;
mod metrics;
mod ops;
mod paging;
pub mod privacy;
pub mod smpp_credentials;
mod state;
pub mod timefmt;
pub mod webhooks;

pub use billing::BillingSettings;
pub use metrics::ApiMetrics;
pub use ops::openapi_document;
pub use state::{
    ApiSettings, AppState, Authenticated, ConnectorStatus, ConnectorsView, DeviceChannelStatus,
};

use axum::routing::{delete, get, post, put};
use axum::Router;

/// The whole API.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/messages", post(messages::send).get(messages::list))
        .route("/v1/messages/preview", post(messages::preview))
        .route(
            "/v1/messages/{id}",
            get(messages::get_one).delete(messages::cancel),
        )
        .route("/v1/inbound", get(inbound::list))
        .route("/v1/balance", get(account::balance))
        .route(
            "/v1/smpp-credentials",
            post(smpp_credentials::create_one).get(smpp_credentials::list),
        )
        .route(
            "/v1/smpp-credentials/{id}",
            axum::routing::delete(smpp_credentials::revoke),
        )
        .route("/v1/admin/connectors", get(admin::connectors))
        .route("/v1/webhooks", post(webhooks::create).get(webhooks::list))
        .route(
            "/v1/webhooks/{id}",
            get(webhooks::get_one).delete(webhooks::delete),
        )
        .route("/v1/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route("/v1/prices", get(billing::prices))
        .route("/v1/top-ups", post(billing::create_top_up))
        .route("/v1/top-ups/{id}", get(billing::get_top_up))
        .route("/v1/top-ups/{id}/qr.svg", get(billing::top_up_qr))
        .route("/v1/top-ups/{id}/qr.png", get(billing::top_up_qr_png))
        .route("/v1/account/credit", get(billing::credit))
        .route("/v1/invoices", get(billing::list_invoices))
        .route("/v1/invoices/{id}", get(billing::get_invoice))
        .route("/v1/account/low-credit", put(billing::set_low_credit))
        .route(
            "/v1/account/billing",
            get(billing::get_billing).put(billing::set_billing),
        )
        .route(
            "/v1/contact-lists",
            post(contacts::create).get(contacts::list),
        )
        .route(
            "/v1/contact-lists/{id}",
            get(contacts::get_one)
                .patch(contacts::rename)
                .delete(contacts::delete),
        )
        .route("/v1/contact-lists/{id}/contacts", get(contacts::contacts))
        .route(
            "/v1/contact-lists/{id}/contacts/{number}",
            delete(contacts::delete_contact),
        )
        .route("/v1/contact-lists/{id}/import", post(contacts::import))
        .route("/v1/contact-lists/{id}/imports", get(contacts::imports))
        .route(
            "/v1/contact-lists/{id}/imports/{import_id}",
            get(contacts::import_status),
        )
        .route("/v1/blacklist", post(blacklist::add).get(blacklist::list))
        .route("/v1/blacklist/{number}", delete(blacklist::remove))
        .route("/v1/recipients", get(blacklist::status))
        .route("/v1/recipients/erase", post(blacklist::erase))
        .route("/v1/recipients/restrict", post(blacklist::restrict))
        .route(
            "/v1/recipients/restrict/{number}",
            delete(blacklist::unrestrict),
        )
        .route(
            "/v1/account/marketing",
            get(marketing::get).put(marketing::put),
        )
        .route("/v1/privacy/objections", post(privacy::object))
        .route(
            "/v1/privacy/tickets",
            post(privacy::open_ticket).get(privacy::tickets),
        )
        .route("/v1/privacy/tickets/{id}", get(privacy::ticket))
        .route("/v1/privacy/tickets/{id}/messages", post(privacy::reply))
        .route("/v1/privacy/audit/verify", get(privacy::verify_audit))
        .route("/v1/privacy/retention", get(privacy::retention))
        .route("/v1/privacy/lawful-requests", post(privacy::lawful_request))
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .fallback(ops::not_found)
        .with_state(state)
}
