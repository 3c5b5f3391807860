//! Seals and opens everything the vault stores, binding each ciphertext to
//! its place (vault, row id, revision) so rows cannot be swapped.

use clavitor_core::{Tier, normalize_name};
use clavitor_crypto::envelope::{self, FieldContext};
use clavitor_crypto::{DerivedKeys, SymmetricKey, b64, unb64};
use serde::{Serialize, de::DeserializeOwned};
use zeroize::Zeroizing;

use crate::error::VaultError;

#[derive(Clone)]
pub struct Sealer {
    pub vault_id: String,
    keys: DerivedKeys,
}

fn context(parts: &[&str], number: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        out.extend_from_slice(p.as_bytes());
        out.push(0);
    }
    out.extend_from_slice(&number.to_be_bytes());
    out
}

impl Sealer {
    pub fn new(vault_id: String, keys: DerivedKeys) -> Self {
        Sealer { vault_id, keys }
    }

    pub fn keys(&self) -> &DerivedKeys {
        &self.keys
    }

    fn seal_json<T: Serialize>(&self, aad: &[u8], value: &T) -> Vec<u8> {
        let json = Zeroizing::new(serde_json::to_vec(value).unwrap_or_default());
        envelope::seal(&self.keys.info, aad, &json)
    }

    fn open_json<T: DeserializeOwned>(&self, aad: &[u8], sealed: &[u8]) -> Result<T, VaultError> {
        let json = envelope::open(&self.keys.info, aad, sealed).map_err(|_| VaultError::Corrupt)?;
        serde_json::from_slice(&json).map_err(|_| VaultError::Corrupt)
    }

    pub fn seal_entry<T: Serialize>(&self, entry_id: &str, rev: u64, body: &T) -> Vec<u8> {
        let aad = context(&["clavitor/entry/v1", &self.vault_id, entry_id], rev);
        self.seal_json(&aad, body)
    }

    pub fn open_entry<T: DeserializeOwned>(
        &self,
        entry_id: &str,
        rev: u64,
        sealed: &[u8],
    ) -> Result<T, VaultError> {
        let aad = context(&["clavitor/entry/v1", &self.vault_id, entry_id], rev);
        self.open_json(&aad, sealed)
    }

    pub fn seal_agent<T: Serialize>(&self, agent_id: &str, body: &T) -> Vec<u8> {
        self.seal_json(
            &context(&["clavitor/agent/v1", &self.vault_id, agent_id], 0),
            body,
        )
    }

    pub fn open_agent<T: DeserializeOwned>(
        &self,
        agent_id: &str,
        sealed: &[u8],
    ) -> Result<T, VaultError> {
        self.open_json(
            &context(&["clavitor/agent/v1", &self.vault_id, agent_id], 0),
            sealed,
        )
    }

    pub fn seal_audit<T: Serialize>(&self, seq: i64, body: &T) -> Vec<u8> {
        self.seal_json(
            &context(&["clavitor/audit/v1", &self.vault_id], seq as u64),
            body,
        )
    }

    pub fn open_audit<T: DeserializeOwned>(
        &self,
        seq: i64,
        sealed: &[u8],
    ) -> Result<T, VaultError> {
        self.open_json(
            &context(&["clavitor/audit/v1", &self.vault_id], seq as u64),
            sealed,
        )
    }

    fn tier_key(&self, tier: Tier) -> Result<&SymmetricKey, VaultError> {
        match tier {
            Tier::Info => Ok(&self.keys.info),
            Tier::Shared => Ok(&self.keys.shared),
            // Personal values are HPKE blobs the server cannot open.
            Tier::Personal => Err(VaultError::Corrupt),
        }
    }

    /// Seals an info or shared field value; returns base64url.
    pub fn seal_field(
        &self,
        entry_id: &str,
        field_id: &str,
        tier: Tier,
        rev: u64,
        plaintext: &[u8],
    ) -> Result<String, VaultError> {
        let ctx = FieldContext {
            vault_id: &self.vault_id,
            entry_id,
            field_id,
            tier,
            revision: rev,
        };
        Ok(b64(&envelope::seal(
            self.tier_key(tier)?,
            &ctx.aad(),
            plaintext,
        )))
    }

    /// Opens an info or shared field value.
    pub fn open_field(
        &self,
        entry_id: &str,
        field_id: &str,
        tier: Tier,
        rev: u64,
        value_b64: &str,
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let ctx = FieldContext {
            vault_id: &self.vault_id,
            entry_id,
            field_id,
            tier,
            revision: rev,
        };
        let sealed = unb64(value_b64).ok_or(VaultError::Corrupt)?;
        envelope::open(self.tier_key(tier)?, &ctx.aad(), &sealed).map_err(|_| VaultError::Corrupt)
    }

    pub fn entry_index(&self, name: &str) -> Vec<u8> {
        self.keys
            .blind_index("entry", normalize_name(name).as_str())
            .to_vec()
    }

    /// Agents are told apart by their audit slug (`cli:deploy-agent`), so
    /// two agents can never appear under one actor name.
    pub fn agent_index(&self, name: &str) -> Vec<u8> {
        let slug = crate::model::agent_slug(normalize_name(name).as_str());
        self.keys.blind_index("agent", &slug).to_vec()
    }
}
