//! WebAuthn ceremonies: setup-link exchange, passkey registration, login and
//! step-up assertions bound to one action (agent unlock, personal reveal).
//!
//! Every ceremony's state is stored server-side (sealed, 5 minutes) under a
//! random id and is *consumed* in its own committed transaction before the
//! browser's answer is verified, so a challenge can be answered once, and a
//! failed answer cannot be retried. A step-up ceremony records what it was
//! started for (the agent's id, the session); finishing it for anything
//! else is refused.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Extension, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clavitor_core::ErrorCode;
use clavitor_crypto::b64;
use clavitor_store::Tx;
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Uuid,
};

use super::Web;
use super::session::{self, Session, Stage};
use super::stash;
use crate::audit::{self, AuditEvent};
use crate::error::{VaultError, refusal};
use crate::extract::{ApiJson, json};
use crate::sealer::Sealer;
use crate::state::Vault;

/// How long a started ceremony can be finished.
pub const CEREMONY_TTL_MS: i64 = 5 * 60 * 1000;
/// The actor of every web audit record.
pub const ACTOR: &str = "owner:web";

/// An enrolled passkey.
#[derive(Clone, Serialize, Deserialize)]
pub struct StoredPasskey {
    pub passkey: Passkey,
    pub name: String,
    /// This credential's PRF input (base64url, 32 random bytes): not secret,
    /// handed to the browser at every assertion.
    pub prf_salt: String,
    /// Whether the browser reported PRF support at registration.
    pub prf: bool,
    pub created_at: i64,
    #[serde(default)]
    pub last_used_at: Option<i64>,
}

/// What a ceremony was started for.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Purpose {
    Register {
        session: String,
        name: String,
        prf_salt: String,
    },
    Login,
    Unlock {
        session: String,
        agent_id: String,
    },
    Reveal {
        session: String,
        entry: String,
    },
    /// Managing passkeys: `add`, `remove:<credential id>`, or
    /// `replace-recovery` (the recovery code's wrap of the personal key).
    Manage {
        session: String,
        action: String,
    },
}

#[derive(Serialize, Deserialize)]
struct CeremonyRow {
    purpose: Purpose,
    #[serde(default)]
    registration: Option<PasskeyRegistration>,
    #[serde(default)]
    authentication: Option<PasskeyAuthentication>,
}

pub fn routes() -> Router<Arc<Vault>> {
    Router::new()
        .route("/v1/web/session", get(session_info))
        .route("/v1/web/setup", post(setup_exchange))
        .route("/v1/web/logout", post(logout))
        .route("/v1/web/passkeys/register/start", post(register_start))
        .route("/v1/web/passkeys/register/finish", post(register_finish))
        .route("/v1/web/login/start", post(login_start))
        .route("/v1/web/login/finish", post(login_finish))
        .route("/v1/web/assert/start", post(assert_start))
}

/// Whether any passkey is enrolled.
pub fn any_passkey(tx: &mut dyn Tx, _sealer: &Sealer, now: i64) -> Result<bool, VaultError> {
    Ok(!tx.web_list(stash::PASSKEY, now)?.is_empty())
}

pub(super) fn passkeys(
    tx: &mut dyn Tx,
    sealer: &Sealer,
    now: i64,
) -> Result<Vec<(String, StoredPasskey)>, VaultError> {
    stash::list(tx, sealer, stash::PASSKEY, now)
}

/// The WebAuthn user handle of this vault's owner: stable, derived from the
/// vault id.
fn owner_handle(sealer: &Sealer) -> Uuid {
    let digest = clavitor_crypto::token::hash(&format!("clavitor/web-user/v1/{}", sealer.vault_id));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes)
}

fn new_ceremony_id() -> String {
    b64(&clavitor_crypto::random_bytes::<18>())
}

/// Audits one web action (its own transaction, for refusals that happen
/// outside a unit of work).
pub(crate) async fn audit_only(
    vault: &Vault,
    peer: SocketAddr,
    action: &'static str,
    entry: Option<String>,
    refused: Option<ErrorCode>,
) {
    let now = vault.now();
    let result = vault
        .run(move |tx, sealer| {
            let mut event = AuditEvent::new(ACTOR, action);
            event.entry = entry;
            event.source = Some(peer.ip().to_string());
            if let Some(code) = refused {
                event = event.refused(code.code());
            }
            audit::append(tx, sealer, now, &event)?;
            Ok(())
        })
        .await;
    if let Err(e) = result {
        tracing::error!(error = %e, "web audit record failed");
    }
}

fn webauthn_refused(e: impl std::fmt::Display) -> VaultError {
    // The reason goes to the log (no secrets in it); the client gets CV-1008.
    tracing::info!(reason = %e, "passkey ceremony refused");
    VaultError::Refused(ErrorCode::PasskeyRequired)
}

// ---- session info, setup link, logout --------------------------------------

#[derive(Serialize)]
struct SessionInfo {
    /// `none`, `setup` or `owner`.
    stage: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    csrf: Option<String>,
    vault_id: String,
    passkeys: usize,
}

async fn session_info(
    State(vault): State<Arc<Vault>>,
    Extension(web): Extension<Arc<Web>>,
    headers: HeaderMap,
) -> Response {
    let now = vault.now();
    let counted = vault
        .run(move |tx, s| Ok((tx.web_list(stash::PASSKEY, now)?.len(), s.vault_id.clone())))
        .await;
    let (count, vault_id) = match counted {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let info = match session::require(&vault, &web, &headers, &Method::GET, Stage::Setup).await {
        Ok(s) => SessionInfo {
            stage: match s.row.stage {
                Stage::Setup => "setup",
                Stage::Owner => "owner",
            },
            csrf: Some(s.row.csrf),
            vault_id,
            passkeys: count,
        },
        Err(_) => SessionInfo {
            stage: "none",
            csrf: None,
            vault_id,
            passkeys: count,
        },
    };
    json(&info)
}

#[derive(Deserialize)]
struct SetupRequest {
    token: String,
}

#[derive(Serialize)]
struct Opened {
    stage: &'static str,
    csrf: String,
}

/// Exchanges the one-time setup link's token for a setup session.
async fn setup_exchange(
    State(vault): State<Arc<Vault>>,
    Extension(web): Extension<Arc<Web>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<SetupRequest>,
) -> Response {
    if let Err(code) = session::check_origin(&web, &headers) {
        return refusal(code);
    }
    let offered = b64(&clavitor_crypto::token::hash(&req.token));
    let now = vault.now();
    let result = vault
        .run(move |tx, sealer| {
            let stored: Option<String> =
                stash::get(tx, sealer, stash::SETUP, stash::SETUP_KEY, now)?;
            let valid = stored.is_some_and(|h| {
                clavitor_crypto::token::hashes_equal(h.as_bytes(), offered.as_bytes())
            });
            let mut event = AuditEvent::new(ACTOR, "setup");
            event.source = Some(peer.ip().to_string());
            if !valid || any_passkey(tx, sealer, now)? {
                audit::append(
                    tx,
                    sealer,
                    now,
                    &event.refused(ErrorCode::InvalidToken.code()),
                )?;
                // A refusal keeps the transaction's writes: the audit record stays.
                return Err(ErrorCode::InvalidToken.into());
            }
            // Single use.
            tx.web_delete(stash::SETUP, stash::SETUP_KEY)?;
            audit::append(tx, sealer, now, &event)?;
            let (secret, s) = session::create(tx, sealer, Stage::Setup, None, now)?;
            Ok((secret, s.row.csrf))
        })
        .await;
    match result {
        Ok((secret, csrf)) => {
            let mut res = json(&Opened {
                stage: "setup",
                csrf,
            });
            session::set_cookie(&mut res, &secret);
            res
        }
        Err(e) => e.into_response(),
    }
}

async fn logout(
    State(vault): State<Arc<Vault>>,
    Extension(web): Extension<Arc<Web>>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let s = match session::require(&vault, &web, &headers, &method, Stage::Setup).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    if let Err(e) = session::end(&vault, s.key).await {
        return e.into_response();
    }
    let mut res = json(&serde_json::json!({"ok": true}));
    session::clear_cookie(&mut res);
    res
}

// ---- registration -----------------------------------------------------------

#[derive(Deserialize)]
struct RegisterStart {
    #[serde(default)]
    name: Option<String>,
    /// From an owner session (adding a passkey): a fresh assertion of an
    /// enrolled passkey, started with `purpose: passkey, action: add`.
    #[serde(default)]
    step_up: Option<AssertionFinish>,
}

#[derive(Serialize)]
struct RegisterOptions {
    ceremony: String,
    /// `{"publicKey": …}` for `navigator.credentials.create`, binary fields base64url.
    options: serde_json::Value,
    /// This credential's PRF input (base64url).
    prf_salt: String,
}

async fn register_start(
    State(vault): State<Arc<Vault>>,
    Extension(web): Extension<Arc<Web>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    headers: HeaderMap,
    ApiJson(req): ApiJson<RegisterStart>,
) -> Response {
    let s = match session::require(&vault, &web, &headers, &method, Stage::Setup).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    if s.row.stage == Stage::Owner {
        // A stolen session alone must not be able to enrol the thief's passkey.
        let expected = Purpose::Manage {
            session: s.key.clone(),
            action: "add".into(),
        };
        let verified = match &req.step_up {
            Some(a) => {
                finish_assertion(&vault, &web, a.ceremony.clone(), &a.credential, &expected).await
            }
            None => Err(ErrorCode::PasskeyRequired.into()),
        };
        if let Err(e) = verified {
            audit_only(&vault, peer, "passkey.register", None, Some(e.code())).await;
            return e.into_response();
        }
    }
    let name = req
        .name
        .map(|n| n.trim().chars().take(64).collect::<String>())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "Passkey".to_string());
    let now = vault.now();
    let existing = vault
        .run(move |tx, sealer| {
            let list = passkeys(tx, sealer, now)?;
            Ok((
                owner_handle(sealer),
                list.into_iter()
                    .map(|(_, p)| p.passkey.cred_id().clone())
                    .collect::<Vec<_>>(),
            ))
        })
        .await;
    let (handle, exclude) = match existing {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    // A setup session may only enrol the first passkey.
    if s.row.stage == Stage::Setup && !exclude.is_empty() {
        return refusal(ErrorCode::InvalidToken);
    }
    let (options, state) = match web.webauthn.start_passkey_registration(
        handle,
        "owner",
        "Clavitor owner",
        Some(exclude).filter(|e| !e.is_empty()),
    ) {
        Ok(v) => v,
        Err(e) => return webauthn_refused(e).into_response(),
    };
    let ceremony = new_ceremony_id();
    let prf_salt = b64(&clavitor_crypto::random_bytes::<32>());
    let row = CeremonyRow {
        purpose: Purpose::Register {
            session: s.key,
            name,
            prf_salt: prf_salt.clone(),
        },
        registration: Some(state),
        authentication: None,
    };
    if let Err(e) = stash_ceremony(&vault, ceremony.clone(), row, now).await {
        return e.into_response();
    }
    json(&RegisterOptions {
        ceremony,
        options: serde_json::to_value(&options).unwrap_or_default(),
        prf_salt,
    })
}

/// Takes (consumes) a ceremony in its own transaction.
/// Keeps a started ceremony's state server-side until it is finished or expires.
async fn stash_ceremony(
    vault: &Vault,
    id: String,
    row: CeremonyRow,
    now: i64,
) -> Result<(), VaultError> {
    vault
        .run(move |tx, sealer| {
            stash::put(
                tx,
                sealer,
                stash::CEREMONY,
                &id,
                &row,
                Some(now + CEREMONY_TTL_MS),
            )
        })
        .await
}

async fn take_ceremony(vault: &Vault, id: String) -> Result<CeremonyRow, VaultError> {
    let now = vault.now();
    vault
        .run(move |tx, sealer| {
            tx.web_prune(now)?;
            stash::take::<CeremonyRow>(tx, sealer, stash::CEREMONY, &id, now)?
                .ok_or(ErrorCode::PasskeyRequired.into())
        })
        .await
}

#[derive(Deserialize)]
struct RegisterFinish {
    ceremony: String,
    credential: RegisterPublicKeyCredential,
    /// Whether the browser reported the PRF extension enabled (a flag, never
    /// a PRF result).
    #[serde(default)]
    prf_capable: bool,
}

async fn register_finish(
    State(vault): State<Arc<Vault>>,
    Extension(web): Extension<Arc<Web>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    headers: HeaderMap,
    ApiJson(req): ApiJson<RegisterFinish>,
) -> Response {
    let s = match session::require(&vault, &web, &headers, &method, Stage::Setup).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let row = match take_ceremony(&vault, req.ceremony).await {
        Ok(row) => row,
        Err(e) => {
            audit_only(&vault, peer, "passkey.register", None, Some(e.code())).await;
            return e.into_response();
        }
    };
    let (
        Purpose::Register {
            session: owner_session,
            name,
            prf_salt,
        },
        Some(state),
    ) = (row.purpose, row.registration)
    else {
        return refusal(ErrorCode::PasskeyRequired);
    };
    if owner_session != s.key {
        audit_only(
            &vault,
            peer,
            "passkey.register",
            None,
            Some(ErrorCode::PasskeyRequired),
        )
        .await;
        return refusal(ErrorCode::PasskeyRequired);
    }
    let passkey = match web
        .webauthn
        .finish_passkey_registration(&req.credential, &state)
    {
        Ok(p) => p,
        Err(e) => {
            let e = webauthn_refused(e);
            audit_only(&vault, peer, "passkey.register", None, Some(e.code())).await;
            return e.into_response();
        }
    };
    let now = vault.now();
    let id = b64(passkey.cred_id());
    let stored = StoredPasskey {
        passkey,
        name,
        prf_salt,
        prf: req.prf_capable,
        created_at: now,
        last_used_at: Some(now),
    };
    let was_setup = s.row.stage == Stage::Setup;
    let old_key = s.key.clone();
    let result = vault
        .run(move |tx, sealer| {
            let mut event = AuditEvent::new(ACTOR, "passkey.register");
            event.source = Some(peer.ip().to_string());
            event.entry = Some(format!("passkey:{}", stored.name));
            let refused = if tx.web_get(stash::PASSKEY, &id, now)?.is_some() {
                Some(ErrorCode::NameTaken)
            } else if was_setup && any_passkey(tx, sealer, now)? {
                Some(ErrorCode::InvalidToken)
            } else {
                None
            };
            if let Some(code) = refused {
                audit::append(tx, sealer, now, &event.refused(code.code()))?;
                return Err(code.into());
            }
            stash::put(tx, sealer, stash::PASSKEY, &id, &stored, None)?;
            tx.meta_set(crate::PASSKEYS_ENROLLED, b"1")?;
            audit::append(tx, sealer, now, &event)?;
            if was_setup {
                // The setup session becomes an owner session under a new token.
                tx.web_delete(stash::SESSION, &old_key)?;
                tx.web_delete(stash::SETUP, stash::SETUP_KEY)?;
                let (secret, s) = session::create(tx, sealer, Stage::Owner, Some(id.clone()), now)?;
                session::mark_registered(tx, sealer, &s.key, &id, now)?;
                return Ok((id, Some((secret, s.row.csrf))));
            }
            session::mark_registered(tx, sealer, &old_key, &id, now)?;
            Ok((id, None))
        })
        .await;
    match result {
        Ok((id, opened)) => {
            let csrf = opened.as_ref().map(|(_, c)| c.clone());
            let mut res = json(&serde_json::json!({"id": id, "stage": "owner", "csrf": csrf}));
            if let Some((secret, _)) = opened {
                session::set_cookie(&mut res, &secret);
            }
            res
        }
        Err(e) => e.into_response(),
    }
}

// ---- assertions -------------------------------------------------------------

#[derive(Serialize)]
struct AssertOptions {
    ceremony: String,
    /// `{"publicKey": …}` for `navigator.credentials.get`, binary fields base64url.
    options: serde_json::Value,
    /// PRF input per allowed credential id (both base64url).
    prf_salts: BTreeMap<String, String>,
}

/// Starts an assertion for `purpose` over every enrolled passkey.
async fn start_assertion(vault: &Vault, web: &Web, purpose: Purpose) -> Response {
    let now = vault.now();
    let list = match vault.run(move |tx, s| passkeys(tx, s, now)).await {
        Ok(l) => l,
        Err(e) => return e.into_response(),
    };
    if list.is_empty() {
        return refusal(ErrorCode::PasskeyRequired);
    }
    let keys: Vec<Passkey> = list.iter().map(|(_, p)| p.passkey.clone()).collect();
    let (options, state) = match web.webauthn.start_passkey_authentication(&keys) {
        Ok(v) => v,
        Err(e) => return webauthn_refused(e).into_response(),
    };
    let prf_salts = list
        .into_iter()
        .map(|(id, p)| (id, p.prf_salt))
        .collect::<BTreeMap<_, _>>();
    let ceremony = new_ceremony_id();
    let row = CeremonyRow {
        purpose,
        registration: None,
        authentication: Some(state),
    };
    if let Err(e) = stash_ceremony(vault, ceremony.clone(), row, now).await {
        return e.into_response();
    }
    json(&AssertOptions {
        ceremony,
        options: serde_json::to_value(&options).unwrap_or_default(),
        prf_salts,
    })
}

/// Consumes the ceremony, checks it was started for `expected` and
/// verifies the assertion; updates the passkey's counter. Returns the id of
/// the credential used.
pub(crate) async fn finish_assertion(
    vault: &Vault,
    web: &Web,
    ceremony: String,
    credential: &PublicKeyCredential,
    expected: &Purpose,
) -> Result<String, VaultError> {
    let row = take_ceremony(vault, ceremony).await?;
    if &row.purpose != expected {
        return Err(ErrorCode::PasskeyRequired.into());
    }
    let state = row.authentication.ok_or(ErrorCode::PasskeyRequired)?;
    let result = web
        .webauthn
        .finish_passkey_authentication(credential, &state)
        .map_err(webauthn_refused)?;
    if !result.user_verified() {
        return Err(ErrorCode::PasskeyRequired.into());
    }
    let id = b64(result.cred_id());
    let now = vault.now();
    let key = id.clone();
    vault
        .run(move |tx, sealer| {
            let mut stored: StoredPasskey = stash::get(tx, sealer, stash::PASSKEY, &key, now)?
                .ok_or(ErrorCode::PasskeyRequired)?;
            stored.passkey.update_credential(&result);
            stored.last_used_at = Some(now);
            stash::put(tx, sealer, stash::PASSKEY, &key, &stored, None)?;
            Ok(())
        })
        .await?;
    Ok(id)
}

async fn login_start(
    State(vault): State<Arc<Vault>>,
    Extension(web): Extension<Arc<Web>>,
    headers: HeaderMap,
) -> Response {
    if let Err(code) = session::check_origin(&web, &headers) {
        return refusal(code);
    }
    start_assertion(&vault, &web, Purpose::Login).await
}

#[derive(Deserialize)]
pub(crate) struct AssertionFinish {
    pub ceremony: String,
    pub credential: PublicKeyCredential,
}

async fn login_finish(
    State(vault): State<Arc<Vault>>,
    Extension(web): Extension<Arc<Web>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<AssertionFinish>,
) -> Response {
    if let Err(code) = session::check_origin(&web, &headers) {
        return refusal(code);
    }
    let id = match finish_assertion(&vault, &web, req.ceremony, &req.credential, &Purpose::Login)
        .await
    {
        Ok(id) => id,
        Err(e) => {
            audit_only(&vault, peer, "login", None, Some(e.code())).await;
            return e.into_response();
        }
    };
    let now = vault.now();
    let result = vault
        .run(move |tx, sealer| {
            let mut event = AuditEvent::new(ACTOR, "login");
            event.source = Some(peer.ip().to_string());
            audit::append(tx, sealer, now, &event)?;
            let (secret, s) = session::create(tx, sealer, Stage::Owner, Some(id), now)?;
            Ok((secret, s.row.csrf))
        })
        .await;
    match result {
        Ok((secret, csrf)) => {
            let mut res = json(&Opened {
                stage: "owner",
                csrf,
            });
            session::set_cookie(&mut res, &secret);
            res
        }
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
#[serde(tag = "purpose", rename_all = "snake_case")]
enum AssertStart {
    /// Unlock the agent called `agent`.
    Unlock { agent: String },
    /// Reveal personal fields of the entry called `entry`.
    Reveal { entry: String },
    /// Add a passkey (`add`), remove one (`remove:<credential id>`) or
    /// replace the recovery code's wrap (`replace-recovery`).
    Passkey { action: String },
}

/// Starts a step-up assertion bound to one action of this session.
async fn assert_start(
    State(vault): State<Arc<Vault>>,
    Extension(web): Extension<Arc<Web>>,
    method: Method,
    headers: HeaderMap,
    ApiJson(req): ApiJson<AssertStart>,
) -> Response {
    let s: Session = match session::require(&vault, &web, &headers, &method, Stage::Owner).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let purpose = match req {
        AssertStart::Unlock { agent } => {
            let found = vault
                .run(move |tx, sealer| Ok(crate::agents::find(tx, sealer, &agent)?.0.id))
                .await;
            match found {
                Ok(agent_id) => Purpose::Unlock {
                    session: s.key,
                    agent_id,
                },
                Err(e) => return e.into_response(),
            }
        }
        AssertStart::Reveal { entry } => {
            let found = vault
                .run(move |tx, sealer| Ok(crate::entries::find(tx, sealer, &entry)?.0.id))
                .await;
            match found {
                Ok(entry_id) => Purpose::Reveal {
                    session: s.key,
                    entry: entry_id,
                },
                Err(e) => return e.into_response(),
            }
        }
        AssertStart::Passkey { action } => {
            let valid = action == "add"
                || action == "replace-recovery"
                || action
                    .strip_prefix("remove:")
                    .is_some_and(|id| !id.is_empty() && id.len() <= 1024);
            if !valid {
                return refusal(ErrorCode::BadRequest);
            }
            Purpose::Manage {
                session: s.key,
                action,
            }
        }
    };
    start_assertion(&vault, &web, purpose).await
}
