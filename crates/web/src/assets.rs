//! The stylesheet, the script and the icon, compiled into the binary (no CDN, nothing fetched
//! from elsewhere), served with a long cache lifetime under a path that carries a version.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::WebState;

pub const CSS_PATH: &str = "/assets/site-1.css";
pub const JS_PATH: &str = "/assets/app-1.js";

const CSS: &str = include_str!("../assets/site.css");
const JS: &str = include_str!("../assets/app.js");
const FAVICON: &str = include_str!("../assets/favicon.svg");

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
}

pub fn routes() -> Router<WebState> {
    Router::new()
        .route(
            CSS_PATH,
            get(|| async { asset("text/css; charset=utf-8", CSS) }),
        )
        .route(
            JS_PATH,
            get(|| async { asset("text/javascript; charset=utf-8", JS) }),
        )
        .route(
            "/favicon.svg",
            get(|| async { asset("image/svg+xml", FAVICON) }),
        )
        .route(
            "/favicon.ico",
            get(|| async { asset("image/svg+xml", FAVICON) }),
        )
}

pub async fn robots() -> impl IntoResponse {
    asset(
        "text/plain; charset=utf-8",
        "User-agent: *\nDisallow: /app/\nDisallow: /admin/\n",
    )
}
