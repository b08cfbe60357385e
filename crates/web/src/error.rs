//! The one error type of the web's handlers, rendered as a small bilingual page. Causes are
//! logged, never shown.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("storage: {0}")]
    Store(#[from] store::StoreError),
    #[error("{0:#}")]
    Internal(#[from] anyhow::Error),
    #[error("sign-in required")]
    SignInRequired,
    #[error("forbidden")]
    Forbidden,
    #[error("the form's security token is missing or wrong")]
    Csrf,
    #[error("not found")]
    NotFound,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, cs, en) = match &self {
            WebError::SignInRequired => return Redirect::to("/app/login").into_response(),
            WebError::Forbidden => (
                StatusCode::FORBIDDEN,
                "K této stránce nemáte přístup.",
                "You have no access to this page.",
            ),
            WebError::Csrf => (
                StatusCode::FORBIDDEN,
                "Formulář vypršel nebo nepochází z tohoto webu. Načtěte stránku znovu a odešlete jej ještě jednou.",
                "The form expired or did not come from this site. Reload the page and send it again.",
            ),
            WebError::NotFound => (
                StatusCode::NOT_FOUND,
                "Stránka nebyla nalezena.",
                "Page not found.",
            ),
            WebError::Store(_) | WebError::Internal(_) => {
                tracing::error!(error = %self, "web request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Něco se pokazilo. Zkuste to prosím znovu.",
                    "Something went wrong. Please try again.",
                )
            }
        };
        let page = html! {
            (maud::DOCTYPE)
            html lang="cs" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { "ApiSendSMS – " (status.as_u16()) }
                    link rel="stylesheet" href=(crate::assets::CSS_PATH);
                    link rel="icon" href="/favicon.svg" type="image/svg+xml";
                }
                body {
                    main class="narrow" {
                        h1 { (status.as_u16()) }
                        p { (cs) }
                        p lang="en" { (en) }
                        p { a href="/" { "ApiSendSMS" } }
                    }
                }
            }
        };
        let mut r = (status, page.into_string()).into_response();
        r.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("text/html; charset=utf-8"),
        );
        r
    }
}
