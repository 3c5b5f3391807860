//! Tokens (DESIGN.md §5).
//!
//! Every token is `PREFIX` + base64url(payload) + base64url(first 4 bytes of
//! SHA-256(prefix || payload)): the prefix lets secret scanners find leaks and
//! the checksum catches truncation and typos before any network call.
//!
//! * `cvt_` setup token: JSON payload with the vault URL, optional certificate
//!   pin, agent id and a 256-bit secret. Shown once, single use.
//! * `cva_` agent credential: 256 random bits.
//! * `cvo_` owner token: 256 random bits.
//!
//! The vault stores only [`hash`] of a token and compares in constant time.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use clavitor_core::Secret;

pub const SETUP_PREFIX: &str = "cvt_";
pub const AGENT_PREFIX: &str = "cva_";
pub const OWNER_PREFIX: &str = "cvo_";
const CHECK_CHARS: usize = 6;

/// Why a token string was refused locally.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("not a Clavitor token of the expected kind (it should start with {0})")]
    WrongPrefix(&'static str),
    #[error("the token is damaged or truncated (checksum mismatch): copy it again in full")]
    Checksum,
    #[error("the token's content is not readable: copy it again in full")]
    Malformed,
}

fn checksum(prefix: &str, body: &str) -> String {
    let mut h = Sha256::new();
    h.update(prefix.as_bytes());
    h.update(body.as_bytes());
    crate::b64(&h.finalize()[..4])
}

fn wrap(prefix: &str, payload: &[u8]) -> Secret {
    let body = crate::b64(payload);
    let check = checksum(prefix, &body);
    Secret::new(format!("{prefix}{body}{check}"))
}

fn unwrap_checked(prefix: &'static str, token: &str) -> Result<Zeroizing<Vec<u8>>, TokenError> {
    let token = token.trim();
    let rest = token
        .strip_prefix(prefix)
        .ok_or(TokenError::WrongPrefix(prefix))?;
    if rest.len() <= CHECK_CHARS || !rest.is_ascii() {
        return Err(TokenError::Malformed);
    }
    let (body, check) = rest.split_at(rest.len() - CHECK_CHARS);
    let expected = checksum(prefix, body);
    if !bool::from(expected.as_bytes().ct_eq(check.as_bytes())) {
        return Err(TokenError::Checksum);
    }
    crate::unb64(body)
        .map(Zeroizing::new)
        .ok_or(TokenError::Malformed)
}

/// SHA-256 of a token string: what the vault stores.
pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.trim().as_bytes()).into()
}

/// Constant-time equality of two hashes.
pub fn hashes_equal(a: &[u8], b: &[u8]) -> bool {
    bool::from(a.ct_eq(b))
}

/// A fresh random token with the given prefix (`cva_`, `cvo_`).
pub fn random_token(prefix: &str) -> Secret {
    wrap(prefix, &crate::random_bytes::<32>())
}

/// Checks a random token's prefix and checksum.
pub fn check_random_token(prefix: &'static str, token: &str) -> Result<(), TokenError> {
    let bytes = unwrap_checked(prefix, token)?;
    if bytes.len() == 32 {
        Ok(())
    } else {
        Err(TokenError::Malformed)
    }
}

/// The content of a setup token.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SetupToken {
    /// Format version.
    pub v: u8,
    /// The vault's URL as the agent machine should reach it.
    pub url: String,
    /// SHA-256 of the vault certificate (hex), when it is self-signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
    /// The agent this token enrols.
    pub agent: String,
    /// 256-bit secret, base64url.
    pub secret: String,
}

impl std::fmt::Debug for SetupToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetupToken")
            .field("url", &self.url)
            .field("pin", &self.pin)
            .field("agent", &self.agent)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

impl SetupToken {
    /// A new token for `agent` at `url` with a fresh secret.
    pub fn new(url: &str, pin: Option<String>, agent: &str) -> Self {
        SetupToken {
            v: 1,
            url: url.to_string(),
            pin,
            agent: agent.to_string(),
            secret: crate::b64(&crate::random_bytes::<32>()),
        }
    }

    /// The `cvt_…` string shown to the owner.
    pub fn encode(&self) -> Secret {
        let json = Zeroizing::new(serde_json::to_vec(self).unwrap_or_default());
        wrap(SETUP_PREFIX, &json)
    }

    /// Parses a `cvt_…` string, checking prefix and checksum.
    pub fn decode(token: &str) -> Result<SetupToken, TokenError> {
        let json = unwrap_checked(SETUP_PREFIX, token)?;
        let parsed: SetupToken =
            serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
        if parsed.v != 1 || parsed.url.is_empty() || parsed.agent.is_empty() {
            return Err(TokenError::Malformed);
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_token_round_trip() {
        let t = SetupToken::new("http://127.0.0.1:1984", None, "agent-1");
        let text = t.encode();
        assert!(text.expose().starts_with("cvt_"));
        assert_eq!(SetupToken::decode(text.expose()).unwrap(), t);
        assert!(!format!("{t:?}").contains(&t.secret));
    }

    #[test]
    fn truncation_and_typos_are_caught() {
        let text = SetupToken::new("http://x", None, "a").encode();
        let s = text.expose();
        for n in 0..s.len() {
            assert!(SetupToken::decode(&s[..n]).is_err(), "prefix of len {n}");
        }
        let mut chars: Vec<char> = s.chars().collect();
        let i = chars.len() / 2;
        chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
        let typo: String = chars.into_iter().collect();
        assert_eq!(SetupToken::decode(&typo), Err(TokenError::Checksum));
        assert_eq!(
            SetupToken::decode("cva_abc"),
            Err(TokenError::WrongPrefix("cvt_"))
        );
    }

    #[test]
    fn random_tokens() {
        let a = random_token(AGENT_PREFIX);
        let b = random_token(AGENT_PREFIX);
        assert_ne!(a.expose(), b.expose());
        assert!(check_random_token(AGENT_PREFIX, a.expose()).is_ok());
        assert!(check_random_token(OWNER_PREFIX, a.expose()).is_err());
        assert!(hashes_equal(&hash(a.expose()), &hash(a.expose())));
        assert!(!hashes_equal(&hash(a.expose()), &hash(b.expose())));
    }
}
