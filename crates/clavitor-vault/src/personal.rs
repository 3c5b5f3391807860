//! The owner's personal public key and wrapped private-key blobs. The server
//! keeps them for the browser and the owner CLI; it can open nothing with them.

use clavitor_core::ErrorCode;
use clavitor_core::api::PersonalKey;
use clavitor_store::Tx;

use crate::error::VaultError;
use crate::sealer::Sealer;

const META_KEY: &str = "personal_key";

pub fn get(tx: &mut dyn Tx, sealer: &Sealer) -> Result<PersonalKey, VaultError> {
    let mut key = match tx.meta_get(META_KEY)? {
        Some(bytes) => serde_json::from_slice(&bytes).map_err(|_| VaultError::Corrupt)?,
        None => PersonalKey::default(),
    };
    key.vault_id = sealer.vault_id.clone();
    Ok(key)
}

/// Stores the key. The public key, once set, never changes (personal values
/// are sealed to it); the wrapped blobs may be replaced.
pub fn set(tx: &mut dyn Tx, sealer: &Sealer, new: &PersonalKey) -> Result<(), VaultError> {
    let public = new.public_key.as_deref().ok_or(ErrorCode::BadRequest)?;
    let bytes = clavitor_crypto::unb64(public).ok_or(ErrorCode::BadRequest)?;
    if clavitor_crypto::personal::PersonalPublicKey::from_bytes(&bytes).is_err() {
        return Err(ErrorCode::BadRequest.into());
    }
    let current = get(tx, sealer)?;
    if current.public_key.as_deref().is_some_and(|k| k != public) {
        return Err(ErrorCode::Conflict.into());
    }
    let stored = PersonalKey {
        vault_id: sealer.vault_id.clone(),
        public_key: Some(public.to_string()),
        wraps: new.wraps.clone(),
    };
    tx.meta_set(META_KEY, &serde_json::to_vec(&stored).unwrap_or_default())?;
    Ok(())
}
