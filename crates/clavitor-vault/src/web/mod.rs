//! The owner web vault (`/`, `/setup`, `/v1/web/…`): passkey-only owner
//! access from a browser, DESIGN.md §4–§8.
//!
//! * [`setup_link`]: while no passkey is enrolled, `clavitor serve` prints a
//!   one-time link (`/setup#TOKEN`); opening it yields a *setup* session that
//!   may only register the first passkey.
//! * Ceremonies ([`ceremony`]): WebAuthn via `webauthn-rs`, user verification
//!   required, state kept server-side (sealed, single use, 5 minutes). The
//!   PRF extension is the browser's business: the server only hands out each
//!   credential's random PRF input and never sees PRF output.
//! * Sessions ([`session`]): server-side rows keyed by the hash of a random
//!   token carried in a `__Host-` cookie (Secure, HttpOnly, SameSite=Strict,
//!   Path=/), idle and absolute timeouts; every state-changing request must
//!   carry the session's CSRF token in `x-clavitor-csrf` and an `Origin`
//!   equal to the vault's web origin.
//! * The owner API behind the session: the operations shared with the owner
//!   CLI (`crate::owner`) and the web's own ([`api`]), audited as
//!   `owner:web`.
//! * Assets ([`assets`]): embedded in the binary, strict CSP, no inline
//!   script, `frame-ancestors 'none'`, `Cache-Control: no-store`.

mod api;
mod assets;
pub mod ceremony;
mod passkeys;
pub mod session;
mod stash;

use std::sync::Arc;

use axum::Router;
use axum::extract::Extension;
use webauthn_rs::prelude::{Url, Webauthn, WebauthnBuilder};

use crate::error::VaultError;
use crate::state::Vault;

/// How long the printed setup link stays valid.
pub const SETUP_LINK_TTL_MS: i64 = 24 * 60 * 60 * 1000;

/// The web vault's identity: WebAuthn relying party and browser origin.
pub struct Web {
    pub(crate) webauthn: Webauthn,
    /// `scheme://host[:port]`, exactly as the browser sends it in `Origin`.
    pub origin: String,
    /// The WebAuthn RP ID (a domain name; `localhost` for a loopback vault).
    pub rp_id: String,
}

impl Web {
    /// Derives the web origin from the vault's public URL. A loopback IP
    /// becomes `localhost` (WebAuthn needs a domain as RP ID, and browsers
    /// treat `http://localhost` as a secure context); a non-loopback IP
    /// address cannot host passkeys.
    pub fn from_public_url(public_url: &str) -> Result<Web, String> {
        let url = Url::parse(public_url).map_err(|e| format!("bad public URL: {e}"))?;
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.to_ascii_lowercase(),
            Some(url::Host::Ipv4(ip)) if ip.is_loopback() => "localhost".into(),
            Some(url::Host::Ipv6(ip)) if ip.is_loopback() => "localhost".into(),
            Some(_) => {
                return Err(
                    "passkeys need a domain name: pass --public-url with a host name".into(),
                );
            }
            None => return Err("the public URL has no host".into()),
        };
        let origin = match url.port() {
            Some(port) => format!("{}://{host}:{port}", url.scheme()),
            None => format!("{}://{host}", url.scheme()),
        };
        let origin_url = Url::parse(&origin).map_err(|e| format!("bad origin: {e}"))?;
        let webauthn = WebauthnBuilder::new(&host, &origin_url)
            .and_then(|b| b.rp_name("Clavitor").build())
            .map_err(|e| format!("WebAuthn configuration: {e}"))?;
        Ok(Web {
            webauthn,
            origin,
            rp_id: host,
        })
    }
}

/// The web vault's routes, merged into [`crate::app`].
pub fn routes(vault: &Arc<Vault>) -> Router<Arc<Vault>> {
    let web = match Web::from_public_url(&vault.public_url) {
        Ok(web) => Arc::new(web),
        Err(problem) => {
            tracing::warn!(%problem, "owner web vault disabled");
            return assets::disabled_routes(problem);
        }
    };
    Router::new()
        .merge(assets::routes())
        .merge(ceremony::routes())
        .merge(passkeys::routes())
        .merge(api::routes(web.clone()))
        .layer(Extension(web))
}

/// A fresh one-time setup link while no passkey is enrolled (replacing any
/// earlier one), `None` once the owner has a passkey.
pub async fn setup_link(vault: &Vault) -> Result<Option<String>, VaultError> {
    let web = match Web::from_public_url(&vault.public_url) {
        Ok(web) => web,
        Err(_) => return Ok(None),
    };
    let token = clavitor_crypto::b64(&clavitor_crypto::random_bytes::<32>());
    let hash = clavitor_crypto::b64(&clavitor_crypto::token::hash(&token));
    let now = vault.now();
    let created = vault
        .run(move |tx, sealer| {
            if ceremony::any_passkey(tx, sealer, now)? {
                return Ok(false);
            }
            stash::put(
                tx,
                sealer,
                stash::SETUP,
                stash::SETUP_KEY,
                &hash,
                Some(now + SETUP_LINK_TTL_MS),
            )?;
            Ok(true)
        })
        .await?;
    Ok(created.then(|| format!("{}/setup#{token}", web.origin)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_vaults_are_served_on_localhost() {
        let web = Web::from_public_url("http://127.0.0.1:1984").unwrap();
        assert_eq!(web.origin, "http://localhost:1984");
        assert_eq!(web.rp_id, "localhost");
        let web = Web::from_public_url("http://[::1]:8080/").unwrap();
        assert_eq!(web.origin, "http://localhost:8080");
        let web = Web::from_public_url("https://Vault.Example.com").unwrap();
        assert_eq!(web.origin, "https://vault.example.com");
        assert_eq!(web.rp_id, "vault.example.com");
    }

    #[test]
    fn a_public_ip_cannot_host_passkeys() {
        assert!(Web::from_public_url("https://192.0.2.7:1984").is_err());
        assert!(Web::from_public_url("not a url").is_err());
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut h = axum::http::HeaderMap::new();
        h.append("cookie", "a=1; __Host-clavitor=abc; b=2".parse().unwrap());
        assert_eq!(session::cookie_token(&h).as_deref(), Some("abc"));
        let mut h = axum::http::HeaderMap::new();
        h.append("cookie", "clavitor=abc".parse().unwrap());
        assert_eq!(session::cookie_token(&h), None);
    }

    #[test]
    fn state_changing_requests_must_come_from_the_vault_origin() {
        let web = Web::from_public_url("http://127.0.0.1:1984").unwrap();
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut h = axum::http::HeaderMap::new();
            for (k, v) in pairs {
                h.append(*k, v.parse().unwrap());
            }
            h
        };
        assert!(
            session::check_origin(&web, &headers(&[("origin", "http://localhost:1984")])).is_ok()
        );
        assert!(session::check_origin(&web, &headers(&[])).is_err());
        assert!(
            session::check_origin(&web, &headers(&[("origin", "http://127.0.0.1:1984")])).is_err()
        );
        assert!(
            session::check_origin(&web, &headers(&[("origin", "http://evil.example")])).is_err()
        );
        assert!(
            session::check_origin(
                &web,
                &headers(&[
                    ("origin", "http://localhost:1984"),
                    ("sec-fetch-site", "cross-site")
                ])
            )
            .is_err()
        );
    }
}
