//! The web vault's own owner routes (`/v1/web/…`), next to the operations it
//! shares with the owner CLI ([`crate::owner::shared_routes`]): shared
//! reveal by POST, live TOTP codes, the personal reveal and the agent unlock
//! bound to a passkey assertion, the audit CSV and personal-key wraps.
//! Audited as `owner:web`; every state-changing call is a POST that passed
//! the session's origin and CSRF checks.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Extension, Query};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clavitor_core::api::{AuditRecord, PersonalKey};
use clavitor_core::{ErrorCode, FieldKind, Tier};
use clavitor_store::Tx;
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::PublicKeyCredential;

use super::Web;
use super::ceremony::{self, AssertionFinish, Purpose};
use super::session::SessionRow;
use super::stash;
use crate::agents;
use crate::entries;
use crate::error::{VaultError, refusal};
use crate::extract::ApiJson;
use crate::owner::Access::{Read, Write};
use crate::owner::entries::{NameQuery, view};
use crate::owner::{self, AuditQuery, Authorized, Gate, Owner, OwnerAuth, respond};
use crate::sealer::Sealer;
use crate::state::Vault;

pub fn routes(web: Arc<Web>) -> Router<Arc<Vault>> {
    owner::shared_routes("/v1/web")
        .route("/v1/web/entry/reveal", post(reveal_shared))
        .route("/v1/web/entry/totp", post(totp_codes))
        .route("/v1/web/entry/personal", post(reveal_personal))
        .route("/v1/web/agent/unlock", post(unlock_agent))
        .route("/v1/web/audit.csv", get(audit_csv))
        .route("/v1/web/personal-key", post(add_personal_wrap))
        .layer(Extension(Gate::Web(web)))
}

/// The session of an authorized web owner (these routes sit behind the web
/// gate only).
fn session_key(o: &Authorized) -> Result<String, ErrorCode> {
    match &o.auth {
        OwnerAuth::Web(s) => Ok(s.key.clone()),
        OwnerAuth::Cli => Err(ErrorCode::Internal),
    }
}

/// The id `find` looks up, or the refusal.
async fn id_of<F>(o: &Authorized, find: F) -> Result<String, Response>
where
    F: FnOnce(&mut dyn Tx, &Sealer) -> Result<String, VaultError> + Send + 'static,
{
    o.vault.run(find).await.map_err(IntoResponse::into_response)
}

/// Finishes the passkey assertion of a step-up started for `expected`; a
/// failed one is audited as `action` on `target`, then refused.
async fn step_up(
    o: &Authorized,
    web: &Web,
    (ceremony, credential): (String, &PublicKeyCredential),
    expected: &Purpose,
    action: &'static str,
    target: Option<String>,
) -> Result<(), Response> {
    match ceremony::finish_assertion(&o.vault, web, ceremony, credential, expected).await {
        Ok(_) => Ok(()),
        Err(e) => {
            ceremony::audit_only(&o.vault, o.peer, action, target, Some(e.code())).await;
            Err(e.into_response())
        }
    }
}

/// Shared values of one entry: an access, audited as `reveal`.
async fn reveal_shared(o: Owner, ApiJson(q): ApiJson<NameQuery>) -> Response {
    let name = Some(q.name.clone());
    respond(
        o.run(Write, "reveal", name, move |tx, s, _| {
            view(tx, s, &q.name, true)
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
async fn totp_codes(o: Owner, ApiJson(q): ApiJson<NameQuery>) -> Response {
    let name = Some(q.name.clone());
    respond(
        o.run(Write, "totp", name, move |tx, s, now| {
            let (row, body) = entries::find(tx, s, &q.name)?;
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
    credential: PublicKeyCredential,
}

/// Records a personal reveal: the browser proves a fresh passkey tap for
/// this entry (the PRF output that decrypts stays in the browser) and gets
/// the entry's sealed personal values back.
async fn reveal_personal(
    Extension(w): Extension<Arc<Web>>,
    o: Owner,
    ApiJson(req): ApiJson<RevealPersonal>,
) -> Result<Response, Response> {
    let o = o.authorize().await?;
    let name = req.name.clone();
    let expected = Purpose::Reveal {
        session: session_key(&o).map_err(refusal)?,
        entry: id_of(&o, move |tx, s| Ok(entries::find(tx, s, &name)?.0.id)).await?,
    };
    let target = Some(req.name.clone());
    let assertion = (req.ceremony, &req.credential);
    step_up(
        &o,
        &w,
        assertion,
        &expected,
        "personal.reveal",
        target.clone(),
    )
    .await?;
    Ok(respond(
        o.run(Write, "personal.reveal", target, move |tx, s, _| {
            view(tx, s, &req.name, false)
        })
        .await,
    ))
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
    Extension(w): Extension<Arc<Web>>,
    o: Owner,
    ApiJson(req): ApiJson<UnlockRequest>,
) -> Result<Response, Response> {
    let o = o.authorize().await?;
    let name = req.name.clone();
    let expected = Purpose::Unlock {
        session: session_key(&o).map_err(refusal)?,
        agent_id: id_of(&o, move |tx, s| Ok(agents::find(tx, s, &name)?.0.id)).await?,
    };
    let target = Some(format!("agent:{}", req.name));
    let AssertionFinish {
        ceremony: id,
        credential,
    } = req.assertion;
    step_up(
        &o,
        &w,
        (id, &credential),
        &expected,
        "agent.unlock",
        target.clone(),
    )
    .await?;
    let name = req.name;
    Ok(respond(
        o.run(Write, "agent.unlock", target, move |tx, s, _| {
            agents::unlock(tx, s, &name).map(|()| serde_json::json!({"ok": true}))
        })
        .await,
    ))
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

async fn audit_csv(o: Owner, Query(q): Query<AuditQuery>) -> Response {
    let o = match o.authorize().await {
        Ok(o) => o,
        Err(res) => return res,
    };
    match o.run(Read, "audit.read", None, owner::records(q)).await {
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

#[derive(Deserialize)]
struct AddWrap {
    /// The personal public key (base64url, 65-byte point); must equal the
    /// stored one once set.
    public_key: String,
    /// One wrapped private key: `{"v":1,"kind":"passkey"|"recovery",
    /// "credential":…,"iv":…,"ct":…}`, opaque to the server but for `kind`
    /// and `credential`, which identify the wrap.
    wrap: serde_json::Value,
    /// Replacing the recovery wrap needs a fresh assertion started with
    /// `purpose: passkey, action: replace-recovery`.
    #[serde(default)]
    step_up: Option<AssertionFinish>,
}

fn wrap_id(w: &serde_json::Value) -> (Option<&str>, Option<&str>) {
    (
        w.get("kind").and_then(|k| k.as_str()),
        w.get("credential").and_then(|k| k.as_str()),
    )
}

/// Sets the personal public key (first time) and adds one wrapped private
/// key. Adding never destroys, and a stolen session alone can neither set
/// the key nor plant a wrap:
///
/// * a passkey's wrap only for the PRF-capable passkey this session
///   registered in the last few minutes, once (never replaced); the first
///   public key only comes with such a wrap;
/// * the recovery code's wrap (`credential: "recovery"`) without a tap only
///   right after a registration while none exists; replacing it, or adding
///   it later, needs a passkey tap started with `action: replace-recovery`.
async fn add_personal_wrap(
    Extension(w): Extension<Arc<Web>>,
    o: Owner,
    ApiJson(req): ApiJson<AddWrap>,
) -> Result<Response, Response> {
    let o = o.authorize().await?;
    let session = session_key(&o).map_err(refusal)?;
    let (kind, credential) = wrap_id(&req.wrap);
    let (kind, credential) = match (kind, credential) {
        (Some(k @ ("passkey" | "recovery")), Some(c)) if req.wrap.to_string().len() <= 4096 => {
            (k.to_string(), c.to_string())
        }
        _ => return Err(refusal(ErrorCode::BadRequest)),
    };
    let mut stepped_up = false;
    if kind == "recovery"
        && let Some(a) = req.step_up.as_ref()
    {
        let expected = Purpose::Manage {
            session: session.clone(),
            action: "replace-recovery".into(),
        };
        let assertion = (a.ceremony.clone(), &a.credential);
        step_up(&o, &w, assertion, &expected, "personal-key.set", None).await?;
        stepped_up = true;
    }
    let target = Some(format!("wrap:{kind}"));
    Ok(respond(
        o.run(Write, "personal-key.set", target, move |tx, s, now| {
            let mut current = crate::personal::get(tx, s)?;
            let row: Option<SessionRow> = stash::get(tx, s, stash::SESSION, &session, now)?;
            let fresh = row
                .and_then(|r| r.registered)
                .filter(|r| now - r.at <= ceremony::CEREMONY_TTL_MS);
            let exists = current
                .wraps
                .iter()
                .any(|x| wrap_id(x) == (Some(kind.as_str()), Some(credential.as_str())));
            if kind == "passkey" {
                if exists {
                    return Err(ErrorCode::Conflict.into());
                }
                if fresh.is_none_or(|r| r.credential != credential) {
                    return Err(ErrorCode::PasskeyRequired.into());
                }
                let passkey: Option<ceremony::StoredPasskey> =
                    stash::get(tx, s, stash::PASSKEY, &credential, now)?;
                if !passkey.is_some_and(|p| p.prf) {
                    return Err(ErrorCode::BadRequest.into());
                }
            } else {
                if credential != "recovery" {
                    return Err(ErrorCode::BadRequest.into());
                }
                if current.public_key.is_none() {
                    return Err(ErrorCode::NoPersonalKey.into());
                }
                if !(stepped_up || (!exists && fresh.is_some())) {
                    return Err(ErrorCode::PasskeyRequired.into());
                }
            }
            current
                .wraps
                .retain(|x| wrap_id(x) != (Some(kind.as_str()), Some(credential.as_str())));
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
    ))
}
