//! Sealed rows of the store's `web_state` table: each value is JSON sealed
//! under the info key, bound to its vault, kind and key.

use clavitor_crypto::envelope;
use clavitor_store::Tx;
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::error::VaultError;
use crate::sealer::Sealer;

/// Enrolled passkeys, keyed by credential id (base64url).
pub const PASSKEY: &str = "passkey";
/// Ceremonies in flight, keyed by a random ceremony id.
pub const CEREMONY: &str = "ceremony";
/// Sessions, keyed by the base64url SHA-256 of the session token.
pub const SESSION: &str = "session";
/// The one-time setup link: one row under [`SETUP_KEY`].
pub const SETUP: &str = "setup";
pub const SETUP_KEY: &str = "link";

fn aad(sealer: &Sealer, kind: &str, key: &str) -> Vec<u8> {
    let mut out = b"clavitor/web/v1\0".to_vec();
    for part in [sealer.vault_id.as_str(), kind, key] {
        out.extend_from_slice(part.as_bytes());
        out.push(0);
    }
    out
}

pub fn put<T: Serialize>(
    tx: &mut dyn Tx,
    sealer: &Sealer,
    kind: &str,
    key: &str,
    value: &T,
    expires_at: Option<i64>,
) -> Result<(), VaultError> {
    let json = Zeroizing::new(serde_json::to_vec(value).map_err(|_| VaultError::Corrupt)?);
    let sealed = envelope::seal(&sealer.keys().info, &aad(sealer, kind, key), &json);
    tx.web_put(kind, key, &sealed, expires_at)?;
    Ok(())
}

fn open<T: DeserializeOwned>(
    sealer: &Sealer,
    kind: &str,
    key: &str,
    sealed: &[u8],
) -> Result<T, VaultError> {
    let json = envelope::open(&sealer.keys().info, &aad(sealer, kind, key), sealed)
        .map_err(|_| VaultError::Corrupt)?;
    serde_json::from_slice(&json).map_err(|_| VaultError::Corrupt)
}

pub fn get<T: DeserializeOwned>(
    tx: &mut dyn Tx,
    sealer: &Sealer,
    kind: &str,
    key: &str,
    now: i64,
) -> Result<Option<T>, VaultError> {
    match tx.web_get(kind, key, now)? {
        Some(sealed) => open(sealer, kind, key, &sealed).map(Some),
        None => Ok(None),
    }
}

/// Reads and deletes in one step: what single-use state needs.
pub fn take<T: DeserializeOwned>(
    tx: &mut dyn Tx,
    sealer: &Sealer,
    kind: &str,
    key: &str,
    now: i64,
) -> Result<Option<T>, VaultError> {
    let value = get(tx, sealer, kind, key, now)?;
    tx.web_delete(kind, key)?;
    Ok(value)
}

pub fn list<T: DeserializeOwned>(
    tx: &mut dyn Tx,
    sealer: &Sealer,
    kind: &str,
    now: i64,
) -> Result<Vec<(String, T)>, VaultError> {
    tx.web_list(kind, now)?
        .into_iter()
        .map(|(key, sealed)| open(sealer, kind, &key, &sealed).map(|v| (key, v)))
        .collect()
}
