//! The owner's operations, one set of handlers behind two front doors:
//!
//! * `/v1/owner/…`: the owner token, from loopback only, audited as
//!   `owner:cli`; a refused token is audited as `owner:unknown`.
//! * `/v1/web/…`: an owner web session (origin and CSRF checks on
//!   state-changing methods), audited as `owner:web` ([`crate::web`] mounts
//!   [`shared_routes`] next to its own, passkey-bound routes).
//!
//! Every attempt that passed authentication is one audit record, written in
//! the operation's transaction, refusals included; the web vault's reads
//! (page loads) are not audited.

mod agents;
mod audit;
pub(crate) mod auth;
pub(crate) mod entries;

use std::sync::Arc;

use axum::Router;
use axum::extract::Extension;
use axum::routing::{get, post};

pub(crate) use audit::{AuditQuery, records};
pub(crate) use auth::{Access, Authorized, Gate, Owner, OwnerAuth, respond};

use crate::state::Vault;

/// The operations both front doors offer, under `prefix`. The router needs
/// a [`Gate`] extension layered over it.
pub(crate) fn shared_routes(prefix: &str) -> Router<Arc<Vault>> {
    let at = |path: &str| format!("{prefix}{path}");
    Router::new()
        .route(&at("/entries"), get(entries::list).post(entries::create))
        .route(&at("/entry"), get(entries::show))
        .route(&at("/entry/edit"), post(entries::edit))
        .route(&at("/entry/delete"), post(entries::delete))
        .route(&at("/entry/history"), get(entries::history))
        .route(&at("/agents"), get(agents::list).post(agents::create))
        .route(&at("/agent/edit"), post(agents::edit))
        .route(&at("/agent/revoke"), post(agents::revoke))
        .route(&at("/agent/token"), post(agents::token))
        .route(&at("/audit"), get(audit::list))
        .route(&at("/audit/verify"), get(audit::verify))
        .route(&at("/personal-key"), get(audit::personal_key))
}

/// The owner-token routes (`/v1/owner/…`).
pub fn routes() -> Router<Arc<Vault>> {
    shared_routes("/v1/owner")
        .route("/v1/owner/agent", get(agents::show))
        .route("/v1/owner/agent/unlock", post(agents::unlock))
        .route(
            "/v1/owner/personal-key",
            axum::routing::put(audit::set_personal_key),
        )
        .layer(Extension(Gate::Cli))
}
