//! Envelope encryption (DESIGN.md §4).
//!
//! Every value is sealed with AES-256-GCM under its own random data key; the
//! data key is wrapped (AES-256-GCM) by a tier key. Both layers carry the same
//! associated data, which binds the value to where it belongs, so a
//! ciphertext moved to another row fails to open.
//!
//! Layout: `version (1) || wrap nonce (12) || wrapped data key (48) || nonce (12) || ciphertext+tag`.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use clavitor_core::Tier;
use zeroize::Zeroizing;

use crate::keys::SymmetricKey;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const WRAPPED_LEN: usize = 32 + 16;
const HEADER_LEN: usize = 1 + NONCE_LEN + WRAPPED_LEN + NONCE_LEN;

/// The only error opening an envelope can give: which check failed is not said.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the ciphertext cannot be opened")]
pub struct EnvelopeError;

/// Where a field value belongs; bound into its associated data.
#[derive(Clone, Copy, Debug)]
pub struct FieldContext<'a> {
    pub vault_id: &'a str,
    pub entry_id: &'a str,
    pub field_id: &'a str,
    pub tier: Tier,
    /// The revision in which the value was written.
    pub revision: u64,
}

impl FieldContext<'_> {
    /// The associated data: an unambiguous NUL-separated encoding (ids never
    /// contain NUL) with the format version first.
    pub fn aad(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for part in [
            "clavitor/field/v1",
            self.vault_id,
            self.entry_id,
            self.field_id,
            self.tier.as_str(),
        ] {
            out.extend_from_slice(part.as_bytes());
            out.push(0);
        }
        out.extend_from_slice(&self.revision.to_be_bytes());
        out
    }
}

fn cipher(key: &[u8; 32]) -> Aes256Gcm {
    // A 32-byte slice is always a valid AES-256 key.
    Aes256Gcm::new_from_slice(key).unwrap_or_else(|_| unreachable_key())
}

#[cold]
fn unreachable_key() -> ! {
    #[allow(clippy::panic)]
    {
        panic!("AES-256-GCM rejected a 32-byte key")
    }
}

/// Seals `plaintext` under a fresh data key wrapped by `wrapping_key`.
pub fn seal(wrapping_key: &SymmetricKey, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let data_key = Zeroizing::new(crate::random_bytes::<32>());
    let wrap_nonce = crate::random_bytes::<NONCE_LEN>();
    let nonce = crate::random_bytes::<NONCE_LEN>();
    let encrypt = |key: &[u8; 32], nonce: &[u8; NONCE_LEN], msg: &[u8]| {
        cipher(key)
            .encrypt(&Nonce::from(*nonce), Payload { msg, aad })
            // Encryption fails only for inputs beyond 64 GiB.
            .unwrap_or_else(|_| unreachable_key())
    };
    let wrapped = encrypt(wrapping_key.as_bytes(), &wrap_nonce, data_key.as_slice());
    let body = encrypt(&data_key, &nonce, plaintext);
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.push(VERSION);
    out.extend_from_slice(&wrap_nonce);
    out.extend_from_slice(&wrapped);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&body);
    out
}

fn nonce_of(bytes: &[u8]) -> Result<aes_gcm::Nonce<aes_gcm::aead::consts::U12>, EnvelopeError> {
    Nonce::try_from(bytes).map_err(|_| EnvelopeError)
}

/// Opens an envelope made by [`seal`] with the same key and associated data.
pub fn open(
    wrapping_key: &SymmetricKey,
    aad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
    if sealed.len() < HEADER_LEN + 16 || sealed[0] != VERSION {
        return Err(EnvelopeError);
    }
    let (wrap_nonce, rest) = sealed[1..].split_at(NONCE_LEN);
    let (wrapped, rest) = rest.split_at(WRAPPED_LEN);
    let (nonce, body) = rest.split_at(NONCE_LEN);
    let data_key = Zeroizing::new(
        cipher(wrapping_key.as_bytes())
            .decrypt(&nonce_of(wrap_nonce)?, Payload { msg: wrapped, aad })
            .map_err(|_| EnvelopeError)?,
    );
    let data_key: &[u8; 32] = data_key.as_slice().try_into().map_err(|_| EnvelopeError)?;
    cipher(data_key)
        .decrypt(&nonce_of(nonce)?, Payload { msg: body, aad })
        .map(Zeroizing::new)
        .map_err(|_| EnvelopeError)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx<'a>(entry: &'a str, field: &'a str, rev: u64) -> FieldContext<'a> {
        FieldContext {
            vault_id: "v1",
            entry_id: entry,
            field_id: field,
            tier: Tier::Shared,
            revision: rev,
        }
    }

    #[test]
    fn round_trip() {
        let key = SymmetricKey::generate();
        let aad = ctx("e1", "f1", 3).aad();
        let sealed = seal(&key, &aad, b"canary-secret");
        assert_eq!(
            open(&key, &aad, &sealed).unwrap().as_slice(),
            b"canary-secret"
        );
    }

    #[test]
    fn moved_ciphertext_fails() {
        let key = SymmetricKey::generate();
        let sealed = seal(&key, &ctx("e1", "f1", 3).aad(), b"x");
        for other in [
            ctx("e2", "f1", 3),
            ctx("e1", "f2", 3),
            ctx("e1", "f1", 4),
            FieldContext {
                tier: Tier::Info,
                ..ctx("e1", "f1", 3)
            },
            FieldContext {
                vault_id: "v2",
                ..ctx("e1", "f1", 3)
            },
        ] {
            assert_eq!(open(&key, &other.aad(), &sealed), Err(EnvelopeError));
        }
    }

    #[test]
    fn wrong_key_tamper_and_truncation_fail() {
        let key = SymmetricKey::generate();
        let aad = ctx("e", "f", 1).aad();
        let sealed = seal(&key, &aad, b"value");
        assert!(open(&SymmetricKey::generate(), &aad, &sealed).is_err());
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert!(open(&key, &aad, &bad).is_err(), "byte {i}");
        }
        for n in 0..sealed.len() {
            assert!(open(&key, &aad, &sealed[..n]).is_err());
        }
    }

    #[test]
    fn ambiguous_ids_do_not_collide() {
        assert_ne!(ctx("ab", "c", 1).aad(), ctx("a", "bc", 1).aad());
    }
}
