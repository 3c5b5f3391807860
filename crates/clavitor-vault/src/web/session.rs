//! Owner web sessions: a random token in a `__Host-` cookie, the row keyed
//! by its hash, idle and absolute timeouts, a CSRF token per session and an
//! `Origin` check on every state-changing request.

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::Response;
use clavitor_core::ErrorCode;
use clavitor_crypto::{b64, token};
use clavitor_store::Tx;
use serde::{Deserialize, Serialize};

use super::Web;
use super::stash;
use crate::error::{VaultError, refusal};
use crate::sealer::Sealer;
use crate::state::Vault;

/// The session cookie. `__Host-` makes the browser insist on Secure, Path=/
/// and no Domain.
pub const COOKIE: &str = "__Host-clavitor";
/// The header carrying the session's CSRF token on state-changing requests.
pub const CSRF_HEADER: &str = "x-clavitor-csrf";
/// A session unused this long is over.
pub const IDLE_MS: i64 = 30 * 60 * 1000;
/// No session lasts longer than this.
pub const ABSOLUTE_MS: i64 = 12 * 60 * 60 * 1000;
/// A setup session (from the one-time link) lasts at most this long.
pub const SETUP_MS: i64 = 15 * 60 * 1000;
/// `last_seen` is rewritten at most this often.
const TOUCH_MS: i64 = 30 * 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// From the setup link: may only register the first passkey.
    Setup,
    /// After a passkey registration or login.
    Owner,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct SessionRow {
    pub stage: Stage,
    pub created_at: i64,
    pub last_seen: i64,
    pub csrf: String,
    /// The passkey that opened the session, if any.
    #[serde(default)]
    pub credential: Option<String>,
    /// The passkey last registered in this session, and when: for a few
    /// minutes it may receive the first wraps of the personal key without
    /// another tap (`web::api`).
    #[serde(default)]
    pub registered: Option<Registered>,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Registered {
    pub credential: String,
    pub at: i64,
}

impl SessionRow {
    fn expires_at(&self) -> i64 {
        let absolute = match self.stage {
            Stage::Setup => SETUP_MS,
            Stage::Owner => ABSOLUTE_MS,
        };
        (self.created_at + absolute).min(self.last_seen + IDLE_MS)
    }
}

/// A live session: its row and its key (the hash of its token).
#[derive(Clone)]
pub struct Session {
    pub key: String,
    pub row: SessionRow,
}

/// A new session's token (for the cookie) and row.
pub fn create(
    tx: &mut dyn Tx,
    sealer: &Sealer,
    stage: Stage,
    credential: Option<String>,
    now: i64,
) -> Result<(String, Session), VaultError> {
    let secret = b64(&clavitor_crypto::random_bytes::<32>());
    let key = key_of(&secret);
    let row = SessionRow {
        stage,
        created_at: now,
        last_seen: now,
        csrf: b64(&clavitor_crypto::random_bytes::<32>()),
        credential,
        registered: None,
    };
    stash::put(
        tx,
        sealer,
        stash::SESSION,
        &key,
        &row,
        Some(row.expires_at()),
    )?;
    Ok((secret, Session { key, row }))
}

/// Records that session `key` just registered passkey `credential`.
pub fn mark_registered(
    tx: &mut dyn Tx,
    sealer: &Sealer,
    key: &str,
    credential: &str,
    now: i64,
) -> Result<(), VaultError> {
    let Some(mut row) = stash::get::<SessionRow>(tx, sealer, stash::SESSION, key, now)? else {
        return Err(ErrorCode::InvalidToken.into());
    };
    row.registered = Some(Registered {
        credential: credential.to_string(),
        at: now,
    });
    let expires = row.expires_at();
    stash::put(tx, sealer, stash::SESSION, key, &row, Some(expires))
}

fn key_of(secret: &str) -> String {
    b64(&token::hash(secret))
}

/// The session token from the `Cookie` header(s).
pub fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_string())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// `Set-Cookie` for a new session (a browser-session cookie).
pub fn set_cookie(res: &mut Response, secret: &str) {
    let cookie = format!("{COOKIE}={secret}; Path=/; Secure; HttpOnly; SameSite=Strict");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_cookie(res: &mut Response) {
    res.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "__Host-clavitor=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0",
        ),
    );
}

/// State-changing requests must come from the vault's own origin: `Origin`
/// must equal it exactly, and `Sec-Fetch-Site`, when sent, must be
/// `same-origin`.
pub fn check_origin(web: &Web, headers: &HeaderMap) -> Result<(), ErrorCode> {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if origin != Some(web.origin.as_str()) {
        return Err(ErrorCode::InvalidToken);
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        None | Some("same-origin") => Ok(()),
        Some(_) => Err(ErrorCode::InvalidToken),
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD)
}

/// The live session of this request, of at least stage `need`. Unsafe
/// methods must also pass the origin and CSRF checks. Refusals are
/// CV-2048 (no or bad session) or CV-1008 (a setup session asking for
/// owner access).
pub async fn require(
    vault: &Arc<Vault>,
    web: &Web,
    headers: &HeaderMap,
    method: &Method,
    need: Stage,
) -> Result<Session, Response> {
    let secret = cookie_token(headers).ok_or_else(|| refusal(ErrorCode::InvalidToken))?;
    let csrf = if is_safe(method) {
        None
    } else {
        check_origin(web, headers).map_err(refusal)?;
        Some(
            headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string(),
        )
    };
    let key = key_of(&secret);
    let now = vault.now();
    let result = vault
        .run(move |tx, sealer| {
            let Some(mut row) = stash::get::<SessionRow>(tx, sealer, stash::SESSION, &key, now)?
            else {
                return Err(ErrorCode::InvalidToken.into());
            };
            if row.expires_at() <= now {
                tx.web_delete(stash::SESSION, &key)?;
                return Ok(None);
            }
            if let Some(csrf) = &csrf
                && !token::hashes_equal(csrf.as_bytes(), row.csrf.as_bytes())
            {
                return Err(ErrorCode::InvalidToken.into());
            }
            if now - row.last_seen >= TOUCH_MS {
                row.last_seen = now;
                stash::put(
                    tx,
                    sealer,
                    stash::SESSION,
                    &key,
                    &row,
                    Some(row.expires_at()),
                )?;
            }
            Ok(Some(Session { key, row }))
        })
        .await;
    match result {
        Ok(Some(session)) => {
            if need == Stage::Owner && session.row.stage != Stage::Owner {
                return Err(refusal(ErrorCode::PasskeyRequired));
            }
            Ok(session)
        }
        Ok(None) => Err(refusal(ErrorCode::InvalidToken)),
        Err(e) => Err(axum::response::IntoResponse::into_response(e)),
    }
}

/// Ends a session.
pub async fn end(vault: &Vault, key: String) -> Result<(), VaultError> {
    vault
        .run(move |tx, _| {
            tx.web_delete(stash::SESSION, &key)?;
            Ok(())
        })
        .await
}
