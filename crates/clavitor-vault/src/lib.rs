//! The Clavitor vault server as a library: [`app`] builds the router from a
//! [`Vault`] state; [`DataDir`] opens the data directory it runs on.
//!
//! * Agent API (`/v1/agent/…`): capability only — one named entry per
//!   request, never a listing. See [`agent`].
//! * Owner API (`/v1/owner/…`): owner token, loopback only; the same
//!   operations behind a passkey session at `/v1/web/…`. See `owner`.
//! * Policy ([`policy`]): grants, host binding, rate limits and lockdown.
//! * Audit ([`audit`]): written before any value is released, hash-chained.

pub mod agent;
mod agent_api;
pub mod agents;
pub mod audit;
pub mod datadir;
pub mod entries;
pub mod error;
mod extract;
pub mod model;
mod owner;
pub mod personal;
pub mod policy;
pub mod sealer;
pub mod state;
pub mod tls;
pub mod web;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;

pub use datadir::{DataDir, DataDirError};
pub use error::VaultError;
pub use state::{Clock, Vault, system_clock};

/// Meta key set once the web vault enrols a passkey (DESIGN.md §7).
pub const PASSKEYS_ENROLLED: &str = "passkeys_enrolled";

/// Largest request body accepted.
const BODY_LIMIT: usize = 1024 * 1024;

/// The vault's router. Serve it with `into_make_service_with_connect_info::<SocketAddr>()`.
pub fn app(vault: Arc<Vault>) -> Router {
    Router::new()
        .route("/v1/health", axum::routing::get(health))
        .merge(agent_api::routes())
        .merge(owner::routes())
        .merge(web::routes(&vault))
        .fallback(not_found)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        // Method, path, status and latency only: never headers or bodies.
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(|req: &axum::http::Request<_>| {
                    tracing::debug_span!("request", method = %req.method(), path = %req.uri().path())
                })
                .on_request(())
                .on_response(
                    tower_http::trace::DefaultOnResponse::new().level(tracing::Level::DEBUG),
                ),
        )
        .with_state(vault)
}

async fn health() -> axum::response::Response {
    extract::json(&serde_json::json!({"ok": true}))
}

async fn wrong_method() -> axum::response::Response {
    error::refusal(clavitor_core::ErrorCode::MethodNotAllowed)
}

async fn not_found() -> axum::response::Response {
    error::refusal(clavitor_core::ErrorCode::NotFound)
}
