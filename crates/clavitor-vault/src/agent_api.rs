//! Agent routes (`/v1/agent/…`). There is deliberately no route that lists,
//! searches or counts anything.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::{get, post};
use clavitor_core::ErrorCode;
use clavitor_core::api::{
    EnrollRequest, InjectRequest, InjectResponse, ReadRequest, ReadResponse, ReflectionReport,
    TotpRequest, TotpResponse, WhoAmI,
};
use clavitor_store::Store;

use crate::agent::{AgentCall, Ask, Channel, Released, authenticate};
use crate::agents;
use crate::audit::{self, AuditEvent};
use crate::error::{VaultError, refusal};
use crate::extract::{ApiJson, json};
use crate::state::Vault;

pub fn routes() -> Router<Arc<Vault>> {
    Router::new()
        .route("/v1/agent/enroll", post(enroll))
        .route("/v1/agent/read", post(read))
        .route("/v1/agent/totp", post(totp))
        .route("/v1/agent/inject", post(inject))
        .route("/v1/agent/reflected", post(reflected))
        .route("/v1/agent/whoami", get(whoami))
        // Agent requests are small; a tight limit bounds what they can log.
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
}

/// The SHA-256 of the bearer credential (of an empty string when absent:
/// it matches nothing and takes the same path as a wrong one).
fn credential_hash(headers: &HeaderMap) -> [u8; 32] {
    clavitor_crypto::token::hash(crate::extract::bearer(headers))
}

async fn call(
    vault: &Vault,
    headers: &HeaderMap,
    peer: SocketAddr,
    ch: Channel,
    ask: Ask,
) -> Result<Released, Response> {
    let call = AgentCall {
        sealer: vault.sealer.clone(),
        credential_hash: credential_hash(headers),
        source: peer.ip(),
        channel: ch,
        ask,
        now: vault.now(),
    };
    let outcome = vault
        .store
        .run(Box::new(move |tx| call.run(tx)))
        .await
        .map_err(|e| VaultError::Store(e).into_response())?;
    outcome.map_err(refusal)
}

async fn read(
    State(vault): State<Arc<Vault>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<ReadRequest>,
) -> Response {
    let ask = Ask::Read {
        entry: req.entry,
        field: req.field,
    };
    match call(&vault, &headers, peer, req.channel, ask).await {
        Ok(Released::Value { field, value }) => json(&ReadResponse {
            field,
            value: value.expose().to_string(),
            seconds_left: None,
        }),
        Ok(Released::Code {
            field,
            code,
            seconds_left,
        }) => json(&ReadResponse {
            field,
            value: code.expose().to_string(),
            seconds_left: Some(seconds_left),
        }),
        Err(res) => res,
    }
}

async fn totp(
    State(vault): State<Arc<Vault>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<TotpRequest>,
) -> Response {
    let ask = Ask::Totp { entry: req.entry };
    match call(&vault, &headers, peer, req.channel, ask).await {
        Ok(Released::Code {
            field,
            code,
            seconds_left,
        }) => json(&TotpResponse {
            field,
            code: code.expose().to_string(),
            seconds_left,
        }),
        Ok(Released::Value { .. }) => refusal(ErrorCode::AccessDenied),
        Err(res) => res,
    }
}

async fn inject(
    State(vault): State<Arc<Vault>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<InjectRequest>,
) -> Response {
    let ask = Ask::Inject {
        entry: req.entry,
        field: req.field,
        host: req.host,
        port: req.port,
        https: req.scheme.eq_ignore_ascii_case("https"),
    };
    match call(&vault, &headers, peer, Channel::Proxy, ask).await {
        Ok(Released::Value { value, .. }) | Ok(Released::Code { code: value, .. }) => {
            json(&InjectResponse {
                value: value.expose().to_string(),
            })
        }
        Err(res) => res,
    }
}

/// Authenticates a request that names no entry and checks the allow-list;
/// every refusal is audited like any other attempt.
fn authenticate_audited(
    tx: &mut dyn clavitor_store::Tx,
    sealer: &crate::sealer::Sealer,
    hash: &[u8; 32],
    peer: SocketAddr,
    actor_channel: &str,
    action: &str,
    now: i64,
) -> Result<Result<crate::agent::Authenticated, ErrorCode>, clavitor_store::StoreError> {
    let mut event = AuditEvent::new(format!("{actor_channel}:unknown"), action);
    event.source = Some(peer.ip().to_string());
    let outcome = match authenticate(tx, sealer, hash, now)? {
        Ok(agent) => {
            event.actor = format!("{actor_channel}:{}", agent.body.slug());
            if crate::policy::source_allowed(&agent.body.ips, peer.ip()) {
                Ok(agent)
            } else {
                Err(ErrorCode::SourceNotAllowed)
            }
        }
        Err(code) => Err(code),
    };
    if let Err(code) = &outcome {
        audit::append(tx, sealer, now, &event.refused(code.code()))?;
    }
    Ok(outcome)
}

/// The proxy reports an injected value echoed back by an upstream.
async fn reflected(
    State(vault): State<Arc<Vault>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<ReflectionReport>,
) -> Response {
    let hash = credential_hash(&headers);
    let now = vault.now();
    let result = vault
        .run(move |tx, sealer| {
            let agent = match authenticate_audited(tx, sealer, &hash, peer, "proxy", "inject", now)?
            {
                Ok(a) => a,
                Err(code) => return Ok(Err(code)),
            };
            let mut event = AuditEvent::new(format!("proxy:{}", agent.body.slug()), "inject");
            event.entry = Some(
                req.entry
                    .chars()
                    .take(200)
                    .filter(|c| !c.is_control())
                    .collect(),
            );
            event.field = Some(
                req.field
                    .chars()
                    .take(200)
                    .filter(|c| !c.is_control())
                    .collect(),
            );
            event.host = Some(format!(
                "{}:{}",
                req.host
                    .chars()
                    .take(253)
                    .filter(|c| !c.is_control())
                    .collect::<String>(),
                req.port
            ));
            event.source = Some(peer.ip().to_string());
            // The request went through; the echo was replaced before the agent saw it.
            event.outcome = "redacted".into();
            event.reason = Some("reflected".into());
            audit::append(tx, sealer, now, &event)?;
            Ok(Ok(()))
        })
        .await;
    match result {
        Ok(Ok(())) => json(&serde_json::json!({"ok": true})),
        Ok(Err(code)) => refusal(code),
        Err(e) => e.into_response(),
    }
}

async fn whoami(
    State(vault): State<Arc<Vault>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let hash = credential_hash(&headers);
    let now = vault.now();
    let result = vault
        .run(move |tx, sealer| {
            Ok(
                authenticate_audited(tx, sealer, &hash, peer, "cli", "whoami", now)?.map(|a| {
                    WhoAmI {
                        agent: a.body.name,
                        agent_id: a.row.id,
                        vault_id: sealer.vault_id.clone(),
                        state: a.row.state,
                        expires_at: a.row.expires_at,
                    }
                }),
            )
        })
        .await;
    match result {
        Ok(Ok(who)) => json(&who),
        Ok(Err(code)) => refusal(code),
        Err(e) => e.into_response(),
    }
}

async fn enroll(
    State(vault): State<Arc<Vault>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(req): ApiJson<EnrollRequest>,
) -> Response {
    let now = vault.now();
    let result = vault
        .run(move |tx, sealer| agents::enroll(tx, sealer, &req.token, peer.ip(), now))
        .await;
    match result {
        Ok(Ok(res)) => json(&res),
        Ok(Err(code)) => refusal(code),
        Err(e) => e.into_response(),
    }
}
