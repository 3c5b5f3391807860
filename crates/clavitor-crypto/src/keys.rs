//! The root key and its derived keys (DESIGN.md §4).

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Length of every symmetric key, in bytes.
pub const KEY_LEN: usize = 32;

/// A 256-bit symmetric key. Never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SymmetricKey([u8; KEY_LEN]);

impl SymmetricKey {
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        SymmetricKey(bytes)
    }

    pub fn generate() -> Self {
        SymmetricKey(crate::random_bytes())
    }

    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// HMAC-SHA256 of `data` under this key.
    pub fn mac(&self, data: &[u8]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable_len());
        mac.update(data);
        mac.finalize().into_bytes().into()
    }
}

#[cold]
fn unreachable_len() -> ! {
    // HMAC accepts keys of any length; this branch cannot be taken.
    #[allow(clippy::panic)]
    {
        panic!("HMAC rejected a 32-byte key")
    }
}

impl std::fmt::Debug for SymmetricKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SymmetricKey([REDACTED])")
    }
}

/// Why a key file's content is not a key.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("the key file must hold exactly {KEY_LEN} bytes")]
    BadLength,
}

/// The vault's root key: 32 random bytes in `DATA_DIR/vault.key`.
pub struct RootKey(SymmetricKey);

impl RootKey {
    pub fn generate() -> Self {
        RootKey(SymmetricKey::generate())
    }

    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        let arr: [u8; KEY_LEN] = bytes.try_into().map_err(|_| KeyError::BadLength)?;
        Ok(RootKey(SymmetricKey::from_bytes(arr)))
    }

    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        self.0.as_bytes()
    }

    /// Derives the purpose keys. Each purpose gets its own HKDF `info`, so a
    /// key for one job is useless for another.
    pub fn derive(&self) -> DerivedKeys {
        let hk = Hkdf::<Sha256>::new(Some(b"clavitor/v1"), self.0.as_bytes());
        let expand = |info: &[u8]| {
            let mut okm = [0u8; KEY_LEN];
            // 32 bytes is far below HKDF-SHA256's 8160-byte limit.
            if hk.expand(info, &mut okm).is_err() {
                unreachable_len();
            }
            SymmetricKey::from_bytes(okm)
        };
        DerivedKeys {
            info: expand(b"clavitor/key/info-tier"),
            shared: expand(b"clavitor/key/shared-tier-wrap"),
            blind_index: expand(b"clavitor/key/blind-index"),
            audit: expand(b"clavitor/key/audit-chain"),
        }
    }
}

impl std::fmt::Debug for RootKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RootKey([REDACTED])")
    }
}

/// The keys derived from the root key, one per job.
#[derive(Clone, Debug)]
pub struct DerivedKeys {
    /// Wraps data keys of info-tier values and of metadata (names, audit records).
    pub info: SymmetricKey,
    /// Wraps data keys of shared-tier values.
    pub shared: SymmetricKey,
    /// HMACs normalised names into lookup keys.
    pub blind_index: SymmetricKey,
    /// Chains audit records.
    pub audit: SymmetricKey,
}

impl DerivedKeys {
    /// The lookup key of a normalised name in a namespace (`entry`, `agent`…).
    pub fn blind_index(&self, namespace: &str, normalized: &str) -> [u8; 32] {
        let mut data = Vec::with_capacity(namespace.len() + normalized.len() + 1);
        data.extend_from_slice(namespace.as_bytes());
        data.push(0);
        data.extend_from_slice(normalized.as_bytes());
        self.blind_index.mac(&data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_differ_and_are_stable() {
        let root = RootKey::from_slice(&[7u8; 32]).unwrap();
        let a = root.derive();
        let b = root.derive();
        assert_eq!(a.info.as_bytes(), b.info.as_bytes());
        let all = [&a.info, &a.shared, &a.blind_index, &a.audit];
        for (i, x) in all.iter().enumerate() {
            for y in &all[i + 1..] {
                assert_ne!(x.as_bytes(), y.as_bytes());
            }
        }
    }

    #[test]
    fn blind_index_separates_namespaces() {
        let keys = RootKey::generate().derive();
        assert_ne!(
            keys.blind_index("entry", "github"),
            keys.blind_index("agent", "github")
        );
        assert_eq!(
            keys.blind_index("entry", "github"),
            keys.blind_index("entry", "github")
        );
    }

    #[test]
    fn bad_length_is_refused() {
        assert_eq!(
            RootKey::from_slice(&[0u8; 31]).err(),
            Some(KeyError::BadLength)
        );
    }

    #[test]
    fn debug_is_redacted() {
        let root = RootKey::from_slice(&[0x41u8; 32]).unwrap();
        let text = format!("{root:?} {:?}", root.derive());
        assert!(!text.contains("65"), "{text}");
        assert!(text.contains("REDACTED"));
    }
}
