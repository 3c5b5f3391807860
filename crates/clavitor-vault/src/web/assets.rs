//! The web vault's static assets, embedded in the binary, served with a
//! strict CSP (no inline script, `frame-ancestors 'none'`) and no caching.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Extension, Path};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::RustEmbed;

use super::Web;
use crate::state::Vault;

#[derive(RustEmbed)]
#[folder = "assets/web/"]
struct Assets;

/// The policy of every web vault response.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

/// Pages of the single-page app: each serves `index.html`.
const PAGES: &[&str] = &[
    "/",
    "/setup",
    "/login",
    "/entries",
    "/agents",
    "/audit",
    "/passkeys",
];

pub fn routes() -> Router<Arc<Vault>> {
    let mut router = Router::new().route("/assets/{*path}", get(asset));
    for page in PAGES {
        router = router.route(page, get(index));
    }
    router.layer(axum::middleware::map_response(security_headers))
}

/// When the public URL cannot host passkeys, the pages explain why.
pub fn disabled_routes(problem: String) -> Router<Arc<Vault>> {
    let body = format!(
        "The Clavitor web vault is disabled: {problem}.\n\
         The owner CLI (clavitor entry/agent/audit) works as usual.\n"
    );
    let mut router = Router::new();
    for page in PAGES {
        let body = body.clone();
        router = router.route(
            page,
            get(move || async move { (StatusCode::SERVICE_UNAVAILABLE, body).into_response() }),
        );
    }
    router.layer(axum::middleware::map_response(security_headers))
}

/// Headers on every web response (pages, assets and the `/v1/web` API).
pub async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    res
}

/// The app shell. A request on another host name than the web origin's
/// (`127.0.0.1` for `localhost`) is redirected there: passkeys are bound
/// to the origin's host name.
async fn index(
    Extension(web): Extension<Arc<Web>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let expected = web
        .origin
        .split_once("://")
        .map(|(_, authority)| authority)
        .unwrap_or_default();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !host.eq_ignore_ascii_case(expected) {
        let location = format!("{}{}", web.origin, uri.path());
        if let Ok(v) = HeaderValue::from_str(&location) {
            let mut res = StatusCode::SEE_OTHER.into_response();
            res.headers_mut().insert(header::LOCATION, v);
            return res;
        }
    }
    serve("index.html")
}

async fn asset(Path(path): Path<String>) -> Response {
    serve(&path)
}

fn serve(path: &str) -> Response {
    let Some(file) = Assets::get(path) else {
        return crate::error::refusal(clavitor_core::ErrorCode::NotFound);
    };
    let mime = match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") | Some("mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    };
    let mut res = file.data.into_owned().into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    res
}
