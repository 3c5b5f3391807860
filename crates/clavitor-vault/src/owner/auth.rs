//! Who the owner is on this request, and the audited run of an owner
//! operation under that identity.
//!
//! A mount says which credential it accepts ([`Gate`], layered as an
//! extension): `/v1/owner/…` the owner token from loopback, `/v1/web/…` a
//! passkey session (with the origin and CSRF checks on state-changing
//! methods). [`Owner`] captures the request; the check runs when the handler
//! asks for it, after the body and query were parsed.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use clavitor_core::ErrorCode;
use clavitor_store::Tx;
use serde::Serialize;

use crate::audit::{self, AuditEvent};
use crate::error::{VaultError, refusal};
use crate::extract::json;
use crate::sealer::Sealer;
use crate::state::Vault;
use crate::web::Web;
use crate::web::session::{self, Session, Stage};

/// The credential a mount accepts.
#[derive(Clone)]
pub(crate) enum Gate {
    /// The owner token, from a loopback address only.
    Cli,
    /// An owner-stage web session.
    Web(Arc<Web>),
}

/// How the owner authenticated this request.
pub(crate) enum OwnerAuth {
    Cli,
    Web(Session),
}

impl OwnerAuth {
    /// The audit actor of this owner.
    pub fn actor(&self) -> &'static str {
        match self {
            OwnerAuth::Cli => "owner:cli",
            OwnerAuth::Web(_) => crate::web::ceremony::ACTOR,
        }
    }
}

/// An owner request, not yet authenticated: call [`Owner::authorize`] (or
/// [`Owner::run`], which does) before anything else.
pub(crate) struct Owner {
    vault: Arc<Vault>,
    gate: Gate,
    peer: SocketAddr,
    headers: HeaderMap,
    method: Method,
}

impl FromRequestParts<Arc<Vault>> for Owner {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        vault: &Arc<Vault>,
    ) -> Result<Self, Self::Rejection> {
        let ConnectInfo(peer) = ConnectInfo::<SocketAddr>::from_request_parts(parts, vault)
            .await
            .map_err(IntoResponse::into_response)?;
        let Some(gate) = parts.extensions.get::<Gate>().cloned() else {
            tracing::error!("owner route mounted without a gate");
            return Err(refusal(ErrorCode::Internal));
        };
        Ok(Owner {
            vault: vault.clone(),
            gate,
            peer,
            headers: parts.headers.clone(),
            method: parts.method.clone(),
        })
    }
}

impl Owner {
    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// Whether this request came through the owner-token mount.
    pub fn is_cli(&self) -> bool {
        matches!(self.gate, Gate::Cli)
    }

    /// Checks the credential. A refused owner token is audited (as
    /// `owner:unknown`); a refused web session is not.
    pub async fn authorize(self) -> Result<Authorized, Response> {
        let auth = match &self.gate {
            Gate::Cli => match token_check(&self.vault, &self.headers, self.peer) {
                Ok(()) => OwnerAuth::Cli,
                Err(code) => return Err(refuse_audited(&self.vault, self.peer, code).await),
            },
            Gate::Web(web) => OwnerAuth::Web(
                session::require(&self.vault, web, &self.headers, &self.method, Stage::Owner)
                    .await?,
            ),
        };
        Ok(Authorized {
            vault: self.vault,
            peer: self.peer,
            auth,
        })
    }

    /// [`Owner::authorize`], then [`Authorized::run`].
    pub async fn run<R, F>(
        self,
        access: Access,
        action: &'static str,
        entry: Option<String>,
        op: F,
    ) -> Result<R, Response>
    where
        R: Send + 'static,
        F: FnOnce(&mut dyn Tx, &Sealer, i64) -> Result<R, VaultError> + Send + 'static,
    {
        let owner = self.authorize().await?;
        owner
            .run(access, action, entry, op)
            .await
            .map_err(IntoResponse::into_response)
    }
}

/// What an operation does, which decides whether the web vault audits it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Audited from the owner CLI; the web vault's page loads are not.
    Read,
    /// Always audited.
    Write,
}

/// An authenticated owner.
pub(crate) struct Authorized {
    pub vault: Arc<Vault>,
    pub peer: SocketAddr,
    pub auth: OwnerAuth,
}

impl Authorized {
    /// Runs an owner operation and its audit record (a refusal's included)
    /// in one transaction; a web [`Access::Read`] without a record.
    pub async fn run<R, F>(
        &self,
        access: Access,
        action: &'static str,
        entry: Option<String>,
        op: F,
    ) -> Result<R, VaultError>
    where
        R: Send + 'static,
        F: FnOnce(&mut dyn Tx, &Sealer, i64) -> Result<R, VaultError> + Send + 'static,
    {
        let now = self.vault.now();
        if access == Access::Read && matches!(self.auth, OwnerAuth::Web(_)) {
            return self.vault.run(move |tx, sealer| op(tx, sealer, now)).await;
        }
        let actor = self.auth.actor();
        let source = Some(self.peer.ip().to_string());
        self.vault
            .run(move |tx, sealer| {
                let result = op(tx, sealer, now);
                let mut event = AuditEvent::new(actor, action);
                event.entry = entry;
                event.source = source;
                if let Err(e) = &result {
                    if let VaultError::Store(_) = e {
                        return result;
                    }
                    event = event.refused(e.code().code());
                }
                audit::append(tx, sealer, now, &event)?;
                result
            })
            .await
    }
}

/// The JSON answer, or the refusal.
pub(crate) fn respond<T: Serialize, E: IntoResponse>(result: Result<T, E>) -> Response {
    match result {
        Ok(v) => json(&v),
        Err(e) => e.into_response(),
    }
}

/// Checks the owner token and the loopback rule.
fn token_check(vault: &Vault, headers: &HeaderMap, peer: SocketAddr) -> Result<(), ErrorCode> {
    if !is_loopback(peer.ip()) {
        return Err(ErrorCode::OwnerLoopbackOnly);
    }
    let bearer = crate::extract::bearer(headers);
    if !bearer.is_empty()
        && clavitor_crypto::token::hashes_equal(
            &clavitor_crypto::token::hash(bearer),
            &vault.owner_token_hash,
        )
    {
        Ok(())
    } else {
        Err(ErrorCode::InvalidToken)
    }
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        IpAddr::V4(v4) => v4.is_loopback(),
    }
}

/// Refuses, and audits as `owner:unknown`, a request without the owner
/// token or from a non-loopback address.
async fn refuse_audited(vault: &Vault, peer: SocketAddr, code: ErrorCode) -> Response {
    let now = vault.now();
    let written = vault
        .run(move |tx, sealer| {
            let mut event = AuditEvent::new("owner:unknown", "owner.auth");
            event.source = Some(peer.ip().to_string());
            audit::append(tx, sealer, now, &event.refused(code.code()))?;
            Ok(())
        })
        .await;
    match written {
        Ok(()) => refusal(code),
        Err(e) => e.into_response(),
    }
}
