//! Owner routes (`/v1/owner/…`): bearer owner token, loopback only.
//! Every call is audited as `owner:cli`, refusals included.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clavitor_core::ErrorCode;
use clavitor_core::api::{
    AgentCreate, AgentEdit, AgentName, AuditRecord, EntryCreate, EntryDelete, EntryEdit,
    PersonalKey, SetupTokenResponse, Verification,
};
use clavitor_store::Tx;
use serde::Deserialize;

use crate::audit::{self, AuditEvent};
use crate::error::{VaultError, refusal};
use crate::extract::{ApiJson, json};
use crate::sealer::Sealer;
use crate::state::Vault;
use crate::{agents, entries};

pub fn routes() -> Router<Arc<Vault>> {
    Router::new()
        .route("/v1/owner/entries", get(list_entries).post(create_entry))
        .route("/v1/owner/entry", get(show_entry))
        .route("/v1/owner/entry/edit", post(edit_entry))
        .route("/v1/owner/entry/delete", post(delete_entry))
        .route("/v1/owner/entry/history", get(entry_history))
        .route("/v1/owner/agents", get(list_agents).post(create_agent))
        .route("/v1/owner/agent", get(show_agent))
        .route("/v1/owner/agent/edit", post(edit_agent))
        .route("/v1/owner/agent/revoke", post(revoke_agent))
        .route("/v1/owner/agent/token", post(agent_token))
        .route("/v1/owner/agent/unlock", post(unlock_agent))
        .route("/v1/owner/audit", get(audit_list))
        .route("/v1/owner/audit/verify", get(audit_verify))
        .route(
            "/v1/owner/personal-key",
            get(personal_key).put(set_personal_key),
        )
}

/// Checks the owner token and the loopback rule.
fn owner(vault: &Vault, headers: &HeaderMap, peer: SocketAddr) -> Result<(), ErrorCode> {
    if !peer.ip().is_loopback() && !is_mapped_loopback(peer) {
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

fn is_mapped_loopback(peer: SocketAddr) -> bool {
    match peer.ip() {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        _ => false,
    }
}

/// Runs an owner operation and its audit record in one transaction.
async fn audited<R, F>(
    vault: &Vault,
    peer: SocketAddr,
    action: &'static str,
    entry: Option<String>,
    op: F,
) -> Result<R, VaultError>
where
    R: Send + 'static,
    F: FnOnce(&mut dyn Tx, &Sealer, i64) -> Result<R, VaultError> + Send + 'static,
{
    let now = vault.now();
    vault
        .run(move |tx, sealer| {
            let result = op(tx, sealer, now);
            let mut event = AuditEvent::new("owner:cli", action);
            event.entry = entry;
            event.source = Some(peer.ip().to_string());
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

fn respond<T: serde::Serialize>(result: Result<T, VaultError>) -> Response {
    match result {
        Ok(v) => json(&v),
        Err(e) => e.into_response(),
    }
}

/// Refuses (and audits, as `owner:unknown`) a request without the owner
/// token or from a non-loopback address.
macro_rules! owner_guard {
    ($vault:expr, $headers:expr, $peer:expr) => {
        if let Err(code) = owner(&$vault, &$headers, $peer) {
            return refuse_audited(&$vault, $peer, code).await;
        }
    };
}

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

#[derive(Deserialize)]
struct NameQuery {
    name: String,
    #[serde(default)]
    reveal: bool,
}

async fn list_entries(
    State(v): State<Arc<Vault>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
) -> Response {
    owner_guard!(v, h, peer);
    respond(
        audited(&v, peer, "entry.list", None, |tx, s, _| {
            entries::list(tx, s)
        })
        .await,
    )
}

async fn create_entry(
    State(v): State<Arc<Vault>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    ApiJson(req): ApiJson<EntryCreate>,
) -> Response {
    owner_guard!(v, h, peer);
    let name = Some(req.name.clone());
    respond(
        audited(&v, peer, "entry.create", name, move |tx, s, now| {
            entries::create(tx, s, &req, now)
        })
        .await,
    )
}

async fn show_entry(
    State(v): State<Arc<Vault>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    Query(q): Query<NameQuery>,
) -> Response {
    owner_guard!(v, h, peer);
    let show = |tx: &mut dyn Tx, s: &Sealer, reveal: bool, name: &str| {
        let (row, body) = entries::find(tx, s, name)?;
        Ok(entries::view(
            s,
            &row.id,
            row.rev,
            row.updated_at,
            &body,
            reveal,
        ))
    };
    if q.reveal {
        // Revealing shared values is an access like any other: audited.
        let name = q.name.clone();
        respond(
            audited(&v, peer, "reveal", Some(q.name), move |tx, s, _| {
                show(tx, s, true, &name)
            })
            .await,
        )
    } else {
        let name = Some(q.name.clone());
        respond(
            audited(&v, peer, "entry.show", name, move |tx, s, _| {
                show(tx, s, false, &q.name)
            })
            .await,
        )
    }
}

async fn edit_entry(
    State(v): State<Arc<Vault>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    ApiJson(req): ApiJson<EntryEdit>,
) -> Response {
    owner_guard!(v, h, peer);
    let name = Some(req.name.clone());
    respond(
        audited(&v, peer, "entry.update", name, move |tx, s, now| {
            entries::edit(tx, s, &req, now)
        })
        .await,
    )
}

async fn delete_entry(
    State(v): State<Arc<Vault>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    ApiJson(req): ApiJson<EntryDelete>,
) -> Response {
    owner_guard!(v, h, peer);
    let name = Some(req.name.clone());
    respond(
        audited(&v, peer, "entry.delete", name, move |tx, s, now| {
            entries::delete(tx, s, &req.name, req.rev, now)
                .map(|()| serde_json::json!({"ok": true}))
        })
        .await,
    )
}

async fn entry_history(
    State(v): State<Arc<Vault>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    Query(q): Query<NameQuery>,
) -> Response {
    owner_guard!(v, h, peer);
    let name = Some(q.name.clone());
    respond(
        audited(&v, peer, "entry.history", name, move |tx, s, _| {
            entries::history(tx, s, &q.name)
        })
        .await,
    )
}

async fn list_agents(
    State(v): State<Arc<Vault>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
) -> Response {
    owner_guard!(v, h, peer);
    respond(audited(&v, peer, "agent.list", None, |tx, s, _| agents::list(tx, s)).await)
}

async fn create_agent(
    State(v): State<Arc<Vault>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    ApiJson(req): ApiJson<AgentCreate>,
) -> Response {
    owner_guard!(v, h, peer);
    let (url, pin) = (v.public_url.clone(), v.pin.clone());
    let name = req.name.clone();
    let target = Some(format!("agent:{}", req.name));
    let result = audited(&v, peer, "agent.create", target, move |tx, s, now| {
        agents::create(tx, s, &req, &url, pin, now)
    })
    .await;
    tracing::info!(agent = %name, ok = result.is_ok(), "agent create");
    respond(result.map(|i| SetupTokenResponse {
        token: i.token.expose().to_string(),
        expires_at: i.expires_at,
    }))
}

async fn show_agent(
    State(v): State<Arc<Vault>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    Query(q): Query<NameQuery>,
) -> Response {
    owner_guard!(v, h, peer);
    let target = Some(format!("agent:{}", q.name));
    respond(
        audited(&v, peer, "agent.show", target, move |tx, s, _| {
            let (row, _) = agents::find(tx, s, &q.name)?;
            agents::view(s, tx, &row)
        })
        .await,
    )
}

async fn edit_agent(
    State(v): State<Arc<Vault>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    ApiJson(req): ApiJson<AgentEdit>,
) -> Response {
    owner_guard!(v, h, peer);
    respond(
        audited(
            &v,
            peer,
            "agent.update",
            Some(format!("agent:{}", req.name)),
            move |tx, s, now| {
                agents::edit(tx, s, &req, now).map(|()| serde_json::json!({"ok": true}))
            },
        )
        .await,
    )
}

async fn revoke_agent(
    State(v): State<Arc<Vault>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    ApiJson(req): ApiJson<AgentName>,
) -> Response {
    owner_guard!(v, h, peer);
    respond(
        audited(
            &v,
            peer,
            "agent.revoke",
            Some(format!("agent:{}", req.name)),
            move |tx, s, _| {
                agents::revoke(tx, s, &req.name).map(|()| serde_json::json!({"ok": true}))
            },
        )
        .await,
    )
}

async fn agent_token(
    State(v): State<Arc<Vault>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    ApiJson(req): ApiJson<AgentName>,
) -> Response {
    owner_guard!(v, h, peer);
    let (url, pin) = (v.public_url.clone(), v.pin.clone());
    let target = Some(format!("agent:{}", req.name));
    let result = audited(&v, peer, "agent.token", target, move |tx, s, now| {
        agents::new_token(tx, s, &req.name, &url, pin, now)
    })
    .await;
    respond(result.map(|i| SetupTokenResponse {
        token: i.token.expose().to_string(),
        expires_at: i.expires_at,
    }))
}

/// Unlock from the owner CLI: only while no passkey was ever enrolled
/// (DESIGN.md §7); otherwise the web vault's passkey assertion is required.
async fn unlock_agent(
    State(v): State<Arc<Vault>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    ApiJson(req): ApiJson<AgentName>,
) -> Response {
    owner_guard!(v, h, peer);
    respond(
        audited(
            &v,
            peer,
            "agent.unlock",
            Some(format!("agent:{}", req.name)),
            move |tx, s, _| {
                if tx.meta_get(crate::PASSKEYS_ENROLLED)?.is_some() {
                    return Err(ErrorCode::PasskeyRequired.into());
                }
                agents::unlock(tx, s, &req.name).map(|()| serde_json::json!({"ok": true}))
            },
        )
        .await,
    )
}

#[derive(Deserialize)]
struct AuditQuery {
    #[serde(default)]
    agent: Option<String>,
    #[serde(default)]
    entry: Option<String>,
    /// Epoch milliseconds.
    #[serde(default)]
    since: Option<i64>,
}

async fn audit_list(
    State(v): State<Arc<Vault>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> Response {
    owner_guard!(v, h, peer);
    let agent = q.agent.map(|a| crate::model::agent_slug(&a));
    let entry = q.entry.map(|e| clavitor_core::normalize_name(&e));
    let since = q.since.unwrap_or(i64::MIN);
    respond(
        audited(&v, peer, "audit.read", None, move |tx, s, _| {
            let mut out = Vec::new();
            let mut after = 0;
            loop {
                let page = audit::page(tx, s, after, 1000)?;
                let Some(last) = page.last() else { break };
                after = last.seq;
                out.extend(
                    page.into_iter()
                        .filter(|r| r.at >= since)
                        .filter(|r| {
                            agent.as_ref().is_none_or(|a| {
                                r.event.actor.split_once(':').is_some_and(|(_, n)| n == a)
                            }) && entry.as_ref().is_none_or(|e| {
                                r.event
                                    .entry
                                    .as_deref()
                                    .is_some_and(|n| clavitor_core::normalize_name(n) == *e)
                            })
                        })
                        .map(|r| AuditRecord {
                            seq: r.seq,
                            at: r.at,
                            actor: r.event.actor,
                            action: r.event.action,
                            entry: r.event.entry,
                            field: r.event.field,
                            host: r.event.host,
                            outcome: r.event.outcome,
                            reason: r.event.reason,
                            source: r.event.source,
                        }),
                );
            }
            Ok(out)
        })
        .await,
    )
}

async fn audit_verify(
    State(v): State<Arc<Vault>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
) -> Response {
    owner_guard!(v, h, peer);
    respond(
        audited(&v, peer, "audit.verify", None, |tx, s, _| {
            let r = audit::verify(tx, s)?;
            Ok(Verification {
                ok: r.ok,
                records: r.records,
                broken_at: r.broken_at,
                problem: r.problem,
            })
        })
        .await,
    )
}

async fn personal_key(
    State(v): State<Arc<Vault>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
) -> Response {
    owner_guard!(v, h, peer);
    respond(
        audited(&v, peer, "personal-key.get", None, |tx, s, _| {
            crate::personal::get(tx, s)
        })
        .await,
    )
}

async fn set_personal_key(
    State(v): State<Arc<Vault>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    ApiJson(req): ApiJson<PersonalKey>,
) -> Response {
    owner_guard!(v, h, peer);
    respond(
        audited(&v, peer, "personal-key.set", None, move |tx, s, _| {
            crate::personal::set(tx, s, &req).map(|()| serde_json::json!({"ok": true}))
        })
        .await,
    )
}
