//! The owner API behind a web session (`/v1/web/…`): the same logic as the
//! owner-token API (`entries`, `agents`, `audit`, `personal`), audited as
//! `owner:web`. Safe methods read; every state-changing call is a POST that
//! passed the session's origin and CSRF checks.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Extension, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clavitor_core::api::{
    AgentCreate, AgentEdit, AgentName, AuditRecord, EntryCreate, EntryDelete, EntryEdit,
    PersonalKey, Verification,
};
use clavitor_core::{ErrorCode, FieldKind, Tier};
use clavitor_store::Tx;
use serde::{Deserialize, Serialize};

use super::Web;
use super::ceremony::{self, ACTOR, AssertionFinish, Purpose};
use super::session::{self, Session, Stage};
use crate::audit::{self, AuditEvent};
use crate::error::VaultError;
use crate::extract::{ApiJson, json};
use crate::sealer::Sealer;
use crate::state::Vault;
use crate::{agents, entries};

pub fn routes() -> Router<Arc<Vault>> {
    Router::new()
        .route("/v1/web/entries", get(list_entries).post(create_entry))
        .route("/v1/web/entry", get(show_entry))
        .route("/v1/web/entry/reveal", post(reveal_shared))
        .route("/v1/web/entry/totp", post(totp_codes))
        .route("/v1/web/entry/personal", post(reveal_personal))
        .route("/v1/web/entry/edit", post(edit_entry))
        .route("/v1/web/entry/delete", post(delete_entry))
        .route("/v1/web/entry/history", get(entry_history))
        .route("/v1/web/agents", get(list_agents).post(create_agent))
        .route("/v1/web/agent/edit", post(edit_agent))
        .route("/v1/web/agent/revoke", post(revoke_agent))
        .route("/v1/web/agent/token", post(agent_token))
        .route("/v1/web/agent/unlock", post(unlock_agent))
        .route("/v1/web/audit", get(audit_list))
        .route("/v1/web/audit/verify", get(audit_verify))
        .route("/v1/web/audit.csv", get(audit_csv))
        .route(
            "/v1/web/personal-key",
            get(personal_key).post(add_personal_wrap),
        )
}

pub(crate) fn respond<T: Serialize>(result: Result<T, VaultError>) -> Response {
    match result {
        Ok(v) => json(&v),
        Err(e) => e.into_response(),
    }
}

/// The owner session of this request, or the refusal to send.
macro_rules! owner {
    ($vault:expr, $web:expr, $headers:expr, $method:expr) => {
        match session::require(&$vault, &$web, &$headers, &$method, Stage::Owner).await {
            Ok(s) => s,
            Err(res) => return res,
        }
    };
}

/// Runs an owner operation and its `owner:web` audit record in one
/// transaction; a refusal is audited (in its own transaction) too.
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
    let target = entry.clone();
    let result = vault
        .run(move |tx, sealer| {
            let r = op(tx, sealer, now)?;
            let mut event = AuditEvent::new(ACTOR, action);
            event.entry = target;
            event.source = Some(peer.ip().to_string());
            audit::append(tx, sealer, now, &event)?;
            Ok(r)
        })
        .await;
    if let Err(e) = &result
        && !matches!(e, VaultError::Store(_))
    {
        ceremony::audit_only(vault, peer, action, entry, Some(e.code())).await;
    }
    result
}

// ---- entries ----------------------------------------------------------------

async fn list_entries(
    State(v): State<Arc<Vault>>,
    Extension(w): Extension<Arc<Web>>,
    m: Method,
    h: HeaderMap,
) -> Response {
    owner!(v, w, h, m);
    respond(v.run(|tx, s| entries::list(tx, s)).await)
}

async fn create_entry(
    State(v): State<Arc<Vault>>,
    Extension(w): Extension<Arc<Web>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    m: Method,
    h: HeaderMap,
    ApiJson(req): ApiJson<EntryCreate>,
) -> Response {
    owner!(v, w, h, m);
    let name = Some(req.name.clone());
    respond(
        audited(&v, peer, "entry.create", name, move |tx, s, now| {
            entries::create(tx, s, &req, now)
        })
        .await,
    )
}

#[derive(Deserialize)]
struct NameQuery {
    name: String,
}

async fn show_entry(
    State(v): State<Arc<Vault>>,
    Extension(w): Extension<Arc<Web>>,
    m: Method,
    h: HeaderMap,
    Query(q): Query<NameQuery>,
) -> Response {
    owner!(v, w, h, m);
    respond(
        v.run(move |tx, s| {
            let (row, body) = entries::find(tx, s, &q.name)?;
            Ok(entries::view(
                s,
                &row.id,
                row.rev,
                row.updated_at,
                &body,
                false,
            ))
        })
        .await,
    )
}

/// Shared values of one entry: an access, audited as `reveal`.
async fn reveal_shared(
    State(v): State<Arc<Vault>>,
    Extension(w): Extension<Arc<Web>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    m: Method,
    h: HeaderMap,
    ApiJson(q): ApiJson<NameQuery>,
) -> Response {
    owner!(v, w, h, m);
    let name = q.name.clone();
    respond(
        audited(&v, peer, "reveal", Some(q.name), move |tx, s, _| {
            let (row, body) = entries::find(tx, s, &name)?;
            Ok(entries::view(
                s,
                &row.id,
                row.rev,
                row.updated_at,
                &body,
                true,
            ))
        })
        .await,
    )
}

#[derive(Serialize)]
struct TotpCode {
    field: String,
    code: String,
    seconds_left: u64,
    period: u64,
}

/// Live codes of an entry's TOTP fields (the seed stays on the server).
async fn totp_codes(
    State(v): State<Arc<Vault>>,
    Extension(w): Extension<Arc<Web>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    m: Method,
    h: HeaderMap,
    ApiJson(q): ApiJson<NameQuery>,
) -> Response {
    owner!(v, w, h, m);
    let name = q.name.clone();
    respond(
        audited(&v, peer, "totp", Some(q.name), move |tx, s, now| {
            let (row, body) = entries::find(tx, s, &name)?;
            let secs = (now / 1000).max(0) as u64;
            let mut out = Vec::new();
            for f in body
                .fields
                .iter()
                .filter(|f| f.kind == FieldKind::Totp && f.tier != Tier::Personal)
            {
                let plain = s.open_field(&row.id, &f.id, f.tier, f.sealed_rev, &f.value)?;
                let text = std::str::from_utf8(&plain).map_err(|_| VaultError::Corrupt)?;
                let params = clavitor_totp::parse(text).map_err(|_| VaultError::Corrupt)?;
                out.push(TotpCode {
                    field: f.label.clone(),
                    code: params.code_at(secs).to_string(),
                    seconds_left: params.seconds_left(secs),
                    period: params.period(),
                });
            }
            Ok(out)
        })
        .await,
    )
}

#[derive(Deserialize)]
struct RevealPersonal {
    name: String,
    ceremony: String,
    credential: webauthn_rs::prelude::PublicKeyCredential,
}

/// Records a personal reveal: the browser proves a fresh passkey tap for
/// this entry (the PRF output that decrypts stays in the browser) and gets
/// the entry's sealed personal values back.
async fn reveal_personal(
    State(v): State<Arc<Vault>>,
    Extension(w): Extension<Arc<Web>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    m: Method,
    h: HeaderMap,
    ApiJson(req): ApiJson<RevealPersonal>,
) -> Response {
    let s: Session = owner!(v, w, h, m);
    let name = req.name.clone();
    let entry_id = match v
        .run(move |tx, sealer| Ok(entries::find(tx, sealer, &name)?.0.id))
        .await
    {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    let expected = Purpose::Reveal {
        session: s.key,
        entry: entry_id,
    };
    if let Err(e) =
        ceremony::finish_assertion(&v, &w, req.ceremony, &req.credential, &expected).await
    {
        ceremony::audit_only(&v, peer, "personal.reveal", Some(req.name), Some(e.code())).await;
        return e.into_response();
    }
    let name = req.name.clone();
    respond(
        audited(
            &v,
            peer,
            "personal.reveal",
            Some(req.name),
            move |tx, s, _| {
                let (row, body) = entries::find(tx, s, &name)?;
                Ok(entries::view(
                    s,
                    &row.id,
                    row.rev,
                    row.updated_at,
                    &body,
                    false,
                ))
            },
        )
        .await,
    )
}

async fn edit_entry(
    State(v): State<Arc<Vault>>,
    Extension(w): Extension<Arc<Web>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    m: Method,
    h: HeaderMap,
    ApiJson(req): ApiJson<EntryEdit>,
) -> Response {
    owner!(v, w, h, m);
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
    Extension(w): Extension<Arc<Web>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    m: Method,
    h: HeaderMap,
    ApiJson(req): ApiJson<EntryDelete>,
) -> Response {
    owner!(v, w, h, m);
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
    Extension(w): Extension<Arc<Web>>,
    m: Method,
    h: HeaderMap,
    Query(q): Query<NameQuery>,
) -> Response {
    owner!(v, w, h, m);
    respond(v.run(move |tx, s| entries::history(tx, s, &q.name)).await)
}

// ---- agents -----------------------------------------------------------------

async fn list_agents(
    State(v): State<Arc<Vault>>,
    Extension(w): Extension<Arc<Web>>,
    m: Method,
    h: HeaderMap,
) -> Response {
    owner!(v, w, h, m);
    respond(v.run(|tx, s| agents::list(tx, s)).await)
}

#[derive(Serialize)]
struct TokenShown {
    token: String,
    expires_at: i64,
    /// The line to run on the agent's machine.
    init: &'static str,
}

const INIT_LINE: &str = "echo \"$CLAVITOR_TOKEN\" | clavitor-cli init";

async fn create_agent(
    State(v): State<Arc<Vault>>,
    Extension(w): Extension<Arc<Web>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    m: Method,
    h: HeaderMap,
    ApiJson(req): ApiJson<AgentCreate>,
) -> Response {
    owner!(v, w, h, m);
    let (url, pin) = (v.public_url.clone(), v.pin.clone());
    let target = Some(format!("agent:{}", req.name));
    let result = audited(&v, peer, "agent.create", target, move |tx, s, now| {
        agents::create(tx, s, &req, &url, pin, now)
    })
    .await;
    respond(result.map(|i| TokenShown {
        token: i.token.expose().to_string(),
        expires_at: i.expires_at,
        init: INIT_LINE,
    }))
}

async fn edit_agent(
    State(v): State<Arc<Vault>>,
    Extension(w): Extension<Arc<Web>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    m: Method,
    h: HeaderMap,
    ApiJson(req): ApiJson<AgentEdit>,
) -> Response {
    owner!(v, w, h, m);
    let target = Some(format!("agent:{}", req.name));
    respond(
        audited(&v, peer, "agent.update", target, move |tx, s, now| {
            agents::edit(tx, s, &req, now).map(|()| serde_json::json!({"ok": true}))
        })
        .await,
    )
}

async fn revoke_agent(
    State(v): State<Arc<Vault>>,
    Extension(w): Extension<Arc<Web>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    m: Method,
    h: HeaderMap,
    ApiJson(req): ApiJson<AgentName>,
) -> Response {
    owner!(v, w, h, m);
    let target = Some(format!("agent:{}", req.name));
    respond(
        audited(&v, peer, "agent.revoke", target, move |tx, s, _| {
            agents::revoke(tx, s, &req.name).map(|()| serde_json::json!({"ok": true}))
        })
        .await,
    )
}

async fn agent_token(
    State(v): State<Arc<Vault>>,
    Extension(w): Extension<Arc<Web>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    m: Method,
    h: HeaderMap,
    ApiJson(req): ApiJson<AgentName>,
) -> Response {
    owner!(v, w, h, m);
    let (url, pin) = (v.public_url.clone(), v.pin.clone());
    let target = Some(format!("agent:{}", req.name));
    let result = audited(&v, peer, "agent.token", target, move |tx, s, now| {
        agents::new_token(tx, s, &req.name, &url, pin, now)
    })
    .await;
    respond(result.map(|i| TokenShown {
        token: i.token.expose().to_string(),
        expires_at: i.expires_at,
        init: INIT_LINE,
    }))
}

#[derive(Deserialize)]
struct UnlockRequest {
    name: String,
    #[serde(flatten)]
    assertion: AssertionFinish,
}

/// Unlocks a locked agent with a fresh passkey assertion started for this
/// agent in this session (`/v1/web/assert/start` with `purpose: unlock`).
async fn unlock_agent(
    State(v): State<Arc<Vault>>,
    Extension(w): Extension<Arc<Web>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    m: Method,
    h: HeaderMap,
    ApiJson(req): ApiJson<UnlockRequest>,
) -> Response {
    let s: Session = owner!(v, w, h, m);
    let target = Some(format!("agent:{}", req.name));
    let name = req.name.clone();
    let agent_id = match v
        .run(move |tx, sealer| Ok(agents::find(tx, sealer, &name)?.0.id))
        .await
    {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    let expected = Purpose::Unlock {
        session: s.key,
        agent_id,
    };
    let AssertionFinish {
        ceremony: id,
        credential,
    } = req.assertion;
    if let Err(e) = ceremony::finish_assertion(&v, &w, id, &credential, &expected).await {
        ceremony::audit_only(&v, peer, "agent.unlock", target, Some(e.code())).await;
        return e.into_response();
    }
    let name = req.name;
    respond(
        audited(&v, peer, "agent.unlock", target, move |tx, s, _| {
            agents::unlock(tx, s, &name).map(|()| serde_json::json!({"ok": true}))
        })
        .await,
    )
}

// ---- audit ------------------------------------------------------------------

#[derive(Deserialize, Default)]
struct AuditQuery {
    #[serde(default)]
    agent: Option<String>,
    #[serde(default)]
    entry: Option<String>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    outcome: Option<String>,
    /// Epoch milliseconds, inclusive.
    #[serde(default)]
    since: Option<i64>,
    /// Epoch milliseconds, exclusive.
    #[serde(default)]
    until: Option<i64>,
}

fn nonempty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

async fn records(vault: &Vault, q: AuditQuery) -> Result<Vec<AuditRecord>, VaultError> {
    let agent = nonempty(q.agent).map(|a| crate::model::agent_slug(&a));
    let entry = nonempty(q.entry).map(|e| clavitor_core::normalize_name(&e));
    let action = nonempty(q.action);
    let outcome = nonempty(q.outcome);
    let since = q.since.unwrap_or(i64::MIN);
    let until = q.until.unwrap_or(i64::MAX);
    vault
        .run(move |tx, s| {
            let mut out = Vec::new();
            let mut after = 0;
            loop {
                let page = audit::page(tx, s, after, 1000)?;
                let Some(last) = page.last() else { break };
                after = last.seq;
                out.extend(
                    page.into_iter()
                        .filter(|r| r.at >= since && r.at < until)
                        .filter(|r| {
                            agent.as_ref().is_none_or(|a| {
                                r.event.actor.split_once(':').is_some_and(|(_, n)| n == a)
                            })
                        })
                        .filter(|r| {
                            entry.as_ref().is_none_or(|e| {
                                r.event
                                    .entry
                                    .as_deref()
                                    .is_some_and(|n| clavitor_core::normalize_name(n) == *e)
                            })
                        })
                        .filter(|r| action.as_ref().is_none_or(|a| r.event.action == *a))
                        .filter(|r| outcome.as_ref().is_none_or(|o| r.event.outcome == *o))
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
        .await
}

async fn audit_list(
    State(v): State<Arc<Vault>>,
    Extension(w): Extension<Arc<Web>>,
    m: Method,
    h: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> Response {
    owner!(v, w, h, m);
    respond(records(&v, q).await)
}

async fn audit_verify(
    State(v): State<Arc<Vault>>,
    Extension(w): Extension<Arc<Web>>,
    m: Method,
    h: HeaderMap,
) -> Response {
    owner!(v, w, h, m);
    respond(
        v.run(|tx, s| {
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

/// `YYYY-MM-DD HH:MM:SS` UTC, as `clavitor audit` prints it.
fn format_time(ms: i64) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// One CSV cell (RFC 4180 quoting, as the `csv` crate writes it).
fn cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) || text.starts_with(' ') || text.ends_with(' ') {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The same columns and format as `clavitor audit --csv`.
fn to_csv(records: &[AuditRecord]) -> String {
    let mut out = String::from("seq,time,action,entry,actor,outcome,reason,field,host,from\n");
    for r in records {
        let cells = [
            r.seq.to_string(),
            format_time(r.at),
            r.action.clone(),
            r.entry.clone().unwrap_or_default(),
            r.actor.clone(),
            r.outcome.clone(),
            r.reason.clone().unwrap_or_default(),
            r.field.clone().unwrap_or_default(),
            r.host.clone().unwrap_or_default(),
            r.source.clone().unwrap_or_default(),
        ];
        let line: Vec<String> = cells.iter().map(|c| cell(c)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

async fn audit_csv(
    State(v): State<Arc<Vault>>,
    Extension(w): Extension<Arc<Web>>,
    m: Method,
    h: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> Response {
    owner!(v, w, h, m);
    match records(&v, q).await {
        Ok(list) => {
            let mut res = to_csv(&list).into_response();
            let headers = res.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            );
            headers.insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"clavitor-audit.csv\""),
            );
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        Err(e) => e.into_response(),
    }
}

// ---- personal key -------------------------------------------------------------

async fn personal_key(
    State(v): State<Arc<Vault>>,
    Extension(w): Extension<Arc<Web>>,
    m: Method,
    h: HeaderMap,
) -> Response {
    owner!(v, w, h, m);
    respond(v.run(|tx, s| crate::personal::get(tx, s)).await)
}

#[derive(Deserialize)]
struct AddWrap {
    /// The personal public key (base64url, 65-byte point); must equal the
    /// stored one once set.
    public_key: String,
    /// One wrapped private key: `{"v":1,"kind":"passkey"|"recovery",
    /// "credential":…,"iv":…,"ct":…}`, opaque to the server but for `kind`
    /// and `credential`, which identify the wrap it replaces.
    wrap: serde_json::Value,
}

fn wrap_id(w: &serde_json::Value) -> (Option<&str>, Option<&str>) {
    (
        w.get("kind").and_then(|k| k.as_str()),
        w.get("credential").and_then(|k| k.as_str()),
    )
}

/// Sets the personal public key (first time) and adds or replaces one
/// wrapped private key.
async fn add_personal_wrap(
    State(v): State<Arc<Vault>>,
    Extension(w): Extension<Arc<Web>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    m: Method,
    h: HeaderMap,
    ApiJson(req): ApiJson<AddWrap>,
) -> Response {
    owner!(v, w, h, m);
    let (kind, _) = wrap_id(&req.wrap);
    if !matches!(kind, Some("passkey" | "recovery")) || req.wrap.to_string().len() > 4096 {
        return crate::error::refusal(ErrorCode::BadRequest);
    }
    respond(
        audited(&v, peer, "personal-key.set", None, move |tx, s, _| {
            let mut current = crate::personal::get(tx, s)?;
            let id = wrap_id(&req.wrap);
            current.wraps.retain(|w| wrap_id(w) != id);
            current.wraps.push(req.wrap.clone());
            let next = PersonalKey {
                vault_id: current.vault_id,
                public_key: Some(req.public_key.clone()),
                wraps: current.wraps,
            };
            crate::personal::set(tx, s, &next)?;
            Ok(serde_json::json!({"ok": true}))
        })
        .await,
    )
}
