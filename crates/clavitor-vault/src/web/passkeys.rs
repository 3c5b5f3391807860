//! The owner's passkeys: list, rename, remove. (Adding one is a
//! registration ceremony, [`super::ceremony`], behind a step-up assertion.)
//!
//! Removal needs a fresh assertion started for that removal, and is refused
//! with CV-1010 when it would lock the owner out: the last passkey of all,
//! or the last one holding a wrap of the personal key while any personal
//! field exists (the recovery code alone is not enough to sign in). The
//! removed credential's wrap and its other sessions go with it.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Extension, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clavitor_core::{ErrorCode, Tier};
use clavitor_store::Tx;
use serde::{Deserialize, Serialize};

use super::Web;
use super::ceremony::{self, ACTOR, AssertionFinish, Purpose, StoredPasskey};
use super::session::{self, SessionRow, Stage};
use super::stash;
use crate::audit::{self, AuditEvent};
use crate::error::VaultError;
use crate::extract::ApiJson;
use crate::owner::respond;
use crate::sealer::Sealer;
use crate::state::Vault;

pub fn routes() -> Router<Arc<Vault>> {
    Router::new()
        .route("/v1/web/passkeys", get(list))
        .route("/v1/web/passkey/rename", post(rename))
        .route("/v1/web/passkey/remove", post(remove))
}

/// Longest passkey name kept.
const NAME_MAX: usize = 64;

#[derive(Serialize)]
struct PasskeyView {
    id: String,
    name: String,
    prf: bool,
    created_at: i64,
    last_used_at: Option<i64>,
    /// Whether the current session was opened with this passkey.
    current: bool,
}

async fn list(
    State(vault): State<Arc<Vault>>,
    Extension(web): Extension<Arc<Web>>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let s = match session::require(&vault, &web, &headers, &method, Stage::Owner).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let now = vault.now();
    respond(
        vault
            .run(move |tx, sealer| {
                Ok(ceremony::passkeys(tx, sealer, now)?
                    .into_iter()
                    .map(|(id, p)| PasskeyView {
                        current: s.row.credential.as_deref() == Some(id.as_str()),
                        id,
                        name: p.name,
                        prf: p.prf,
                        created_at: p.created_at,
                        last_used_at: p.last_used_at,
                    })
                    .collect::<Vec<_>>())
            })
            .await,
    )
}

#[derive(Deserialize)]
struct Rename {
    id: String,
    name: String,
}

/// A display name: trimmed, no control characters, at most 64 characters.
fn clean_name(name: &str) -> Option<String> {
    let name: String = name.trim().chars().take(NAME_MAX).collect();
    (!name.is_empty() && !name.chars().any(char::is_control)).then_some(name)
}

async fn rename(
    State(vault): State<Arc<Vault>>,
    Extension(web): Extension<Arc<Web>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    headers: HeaderMap,
    ApiJson(req): ApiJson<Rename>,
) -> Response {
    if let Err(res) = session::require(&vault, &web, &headers, &method, Stage::Owner).await {
        return res;
    }
    let now = vault.now();
    let result = vault
        .run(move |tx, sealer| {
            let mut event = AuditEvent::new(ACTOR, "passkey.rename");
            event.source = Some(peer.ip().to_string());
            let stored: Option<StoredPasskey> =
                stash::get(tx, sealer, stash::PASSKEY, &req.id, now)?;
            let found = stored.is_some();
            let (Some(name), Some(mut stored)) = (clean_name(&req.name), stored) else {
                let code = if found {
                    ErrorCode::BadRequest
                } else {
                    ErrorCode::NotFound
                };
                audit::append(tx, sealer, now, &event.refused(code.code()))?;
                return Err(code.into());
            };
            event.entry = Some(format!("passkey:{} -> {name}", stored.name));
            stored.name = name;
            stash::put(tx, sealer, stash::PASSKEY, &req.id, &stored, None)?;
            audit::append(tx, sealer, now, &event)?;
            Ok(serde_json::json!({"ok": true}))
        })
        .await;
    respond(result)
}

#[derive(Deserialize)]
struct Remove {
    id: String,
    #[serde(flatten)]
    assertion: AssertionFinish,
}

/// Whether any entry holds a personal field.
fn personal_fields_exist(tx: &mut dyn Tx, sealer: &Sealer) -> Result<bool, VaultError> {
    Ok(crate::entries::list(tx, sealer)?
        .iter()
        .any(|e| e.fields.iter().any(|f| f.tier == Tier::Personal)))
}

/// The credential a personal-key wrap belongs to, for passkey wraps.
fn wrap_credential(w: &serde_json::Value) -> Option<&str> {
    (w.get("kind")?.as_str()? == "passkey")
        .then(|| w.get("credential")?.as_str())
        .flatten()
}

/// Removes passkey `id` and what hangs on it, or refuses with CV-1010.
fn remove_in(
    tx: &mut dyn Tx,
    sealer: &Sealer,
    id: &str,
    current_session: &str,
    now: i64,
) -> Result<String, VaultError> {
    let all = ceremony::passkeys(tx, sealer, now)?;
    let Some((_, removed)) = all.iter().find(|(k, _)| k == id) else {
        return Err(ErrorCode::NotFound.into());
    };
    if all.len() == 1 {
        return Err(ErrorCode::LastPasskey.into());
    }
    let mut key = crate::personal::get(tx, sealer)?;
    let holds_wrap = key.wraps.iter().any(|w| wrap_credential(w) == Some(id));
    let others_unlock = key
        .wraps
        .iter()
        .any(|w| wrap_credential(w).is_some_and(|c| c != id && all.iter().any(|(k, _)| k == c)));
    // A passkey that unlocks nothing (no PRF, a lost security key) can
    // always go, as long as another passkey still signs in.
    if holds_wrap && !others_unlock && personal_fields_exist(tx, sealer)? {
        return Err(ErrorCode::LastPasskey.into());
    }
    if key.public_key.is_some() {
        key.wraps.retain(|w| wrap_credential(w) != Some(id));
        crate::personal::set(tx, sealer, &key)?;
    }
    tx.web_delete(stash::PASSKEY, id)?;
    // Sessions opened with the removed passkey end (but the one asking).
    for (key, _) in tx.web_list(stash::SESSION, now)? {
        if key == current_session {
            continue;
        }
        let row: Option<SessionRow> = stash::get(tx, sealer, stash::SESSION, &key, now)?;
        if row.is_some_and(|r| r.credential.as_deref() == Some(id)) {
            tx.web_delete(stash::SESSION, &key)?;
        }
    }
    Ok(removed.name.clone())
}

async fn remove(
    State(vault): State<Arc<Vault>>,
    Extension(web): Extension<Arc<Web>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    headers: HeaderMap,
    ApiJson(req): ApiJson<Remove>,
) -> Response {
    let s = match session::require(&vault, &web, &headers, &method, Stage::Owner).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let expected = Purpose::Manage {
        session: s.key.clone(),
        action: format!("remove:{}", req.id),
    };
    let AssertionFinish {
        ceremony: id,
        credential,
    } = req.assertion;
    if let Err(e) = ceremony::finish_assertion(&vault, &web, id, &credential, &expected).await {
        let target = Some(format!("passkey-id:{}", req.id));
        ceremony::audit_only(&vault, peer, "passkey.remove", target, Some(e.code())).await;
        return e.into_response();
    }
    let now = vault.now();
    let target = req.id;
    let current = s.key;
    let result = vault
        .run(move |tx, sealer| {
            let mut event = AuditEvent::new(ACTOR, "passkey.remove");
            event.source = Some(peer.ip().to_string());
            match remove_in(tx, sealer, &target, &current, now) {
                Ok(name) => {
                    event.entry = Some(format!("passkey:{name}"));
                    audit::append(tx, sealer, now, &event)?;
                    Ok(serde_json::json!({"ok": true}))
                }
                Err(VaultError::Refused(code)) => {
                    // remove_in refuses before writing; the record stays.
                    audit::append(tx, sealer, now, &event.refused(code.code()))?;
                    Err(code.into())
                }
                Err(e) => Err(e),
            }
        })
        .await;
    respond(result)
}
