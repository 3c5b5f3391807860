//! Personal tier: values sealed to the owner's public key (DESIGN.md §4).
//!
//! Anyone the owner allows (web vault, owner CLI, importers) can *write* a
//! personal value knowing only the owner's public key; only the owner's
//! browser, holding the private key, can *read* it. The server never sees the
//! private key or the plaintext.
//!
//! # Suite
//!
//! HPKE, RFC 9180, **base mode** (mode 0), single-shot (one message per
//! encapsulation, sequence number 0):
//!
//! | part | algorithm | id |
//! |---|---|---|
//! | KEM | DHKEM(P-256, HKDF-SHA256) | `0x0010` |
//! | KDF | HKDF-SHA256 | `0x0001` |
//! | AEAD | AES-256-GCM | `0x0002` |
//!
//! The AEAD's associated data is **empty**: everything that binds a value to
//! its place is in the HPKE `info` (below), which feeds the key schedule, so a
//! blob copied to another vault, entry, field or revision fails to open.
//!
//! # `info` bytes (the browser's JavaScript must build exactly these)
//!
//! ```text
//! info = "clavitor/personal/v1"            20 bytes of ASCII, no terminator
//!     || u16be(len(vault_id)) || vault_id  UTF-8 bytes; len counts bytes
//!     || u16be(len(entry_id)) || entry_id
//!     || u16be(len(field_id)) || field_id
//!     || u64be(revision)                   8 bytes, big-endian
//! ```
//!
//! Every id is its UTF-8 encoding (`new TextEncoder().encode(id)` in
//! JavaScript), preceded by its length in bytes as a 2-byte big-endian
//! integer; no normalisation, no terminator. Ids may be empty (length 0) but
//! not longer than [`MAX_ID_LEN`] bytes: [`seal`] refuses such a context and
//! [`open`] fails on it. Example: vault `v`, entry `e1`, field `f`, revision
//! 258 give
//! `"clavitor/personal/v1" 00 01 76 00 02 65 31 00 01 66 00 00 00 00 00 00 01 02`.
//!
//! # Blob layout
//!
//! ```text
//! blob = version (1 byte, 0x01)
//!     || enc (65 bytes: the ephemeral P-256 public key, uncompressed SEC1, 0x04 || X || Y)
//!     || ct  (AES-256-GCM ciphertext of the plaintext, same length, followed by the 16-byte tag)
//! ```
//!
//! So `blob.len() == 82 + plaintext.len()` ([`OVERHEAD`]). An empty plaintext
//! is allowed. Any other version byte, a shorter blob, an invalid `enc`, a
//! wrong key, a wrong context or any modified byte all give the same
//! [`PersonalError::Open`].
//!
//! # Keys
//!
//! The public key is the 65-byte uncompressed SEC1 point (WebCrypto
//! `exportKey("raw", ecdhPublicKey)`); its text form is base64url without
//! padding. The private key is the 32-byte big-endian scalar (the JWK `d`
//! member, base64url-decoded); it is needed in Rust only by tests playing the
//! browser's part.

use core::convert::Infallible;
use core::fmt;

use hpke::aead::AesGcm256;
use hpke::kdf::HkdfSha256;
use hpke::kem::DhP256HkdfSha256;
use hpke::rand_core::{TryCryptoRng, TryRng};
use hpke::{Deserializable, Kem as KemTrait, OpModeR, OpModeS, Serializable};
use zeroize::Zeroizing;

type Kem = DhP256HkdfSha256;
type Kdf = HkdfSha256;
type Aead = AesGcm256;
type EncappedKey = <Kem as KemTrait>::EncappedKey;

/// The version byte that starts every blob this module writes.
pub const BLOB_VERSION: u8 = 1;
/// Length of the encapsulated key (`enc`) in a blob.
pub const ENC_LEN: usize = 65;
/// Length of the AES-GCM tag at the end of a blob.
pub const TAG_LEN: usize = 16;
/// Bytes a blob adds to its plaintext: version, `enc` and tag.
pub const OVERHEAD: usize = 1 + ENC_LEN + TAG_LEN;
/// The fixed prefix of every `info`, naming the format and its version.
pub const INFO_LABEL: &[u8] = b"clavitor/personal/v1";
/// The longest id (in UTF-8 bytes) a context may carry.
pub const MAX_ID_LEN: usize = 1024;
/// The HPKE suite: (KEM, KDF, AEAD) identifiers from RFC 9180.
pub const SUITE: (u16, u16, u16) = (0x0010, 0x0001, 0x0002);

const SCALAR_LEN: usize = 32;
const HEADER_LEN: usize = 1 + ENC_LEN;

/// What can go wrong with personal-tier keys and blobs.
///
/// Opening has exactly one error, [`PersonalError::Open`], whatever the cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PersonalError {
    /// A key's bytes or text are not a valid P-256 key of the expected form.
    #[error("invalid personal key")]
    InvalidKey,
    /// An id in the context is longer than [`MAX_ID_LEN`] bytes.
    #[error("invalid personal context")]
    InvalidContext,
    /// The system RNG failed, or encryption failed.
    #[error("the personal value could not be sealed")]
    Seal,
    /// The blob cannot be opened with this key and context.
    #[error("the personal value cannot be opened")]
    Open,
}

/// The owner's personal public key: an uncompressed P-256 point.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonalPublicKey(<Kem as KemTrait>::PublicKey);

impl PersonalPublicKey {
    /// Length of the encoding: `0x04 || X || Y`.
    pub const LEN: usize = ENC_LEN;

    /// Parses the 65-byte uncompressed SEC1 encoding; refuses compressed
    /// points, the point at infinity and points not on the curve.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PersonalError> {
        if bytes.len() != Self::LEN || bytes[0] != 0x04 {
            return Err(PersonalError::InvalidKey);
        }
        <Kem as KemTrait>::PublicKey::from_bytes(bytes)
            .map(Self)
            .map_err(|_| PersonalError::InvalidKey)
    }

    /// The 65-byte uncompressed SEC1 encoding.
    pub fn to_bytes(&self) -> [u8; ENC_LEN] {
        let mut out = [0u8; ENC_LEN];
        self.0.write_exact(&mut out);
        out
    }

    /// [`Self::to_bytes`] as base64url without padding.
    pub fn to_base64url(&self) -> String {
        data_encoding::BASE64URL_NOPAD.encode(&self.to_bytes())
    }

    /// Parses [`Self::to_base64url`] output.
    pub fn from_base64url(text: &str) -> Result<Self, PersonalError> {
        let bytes = data_encoding::BASE64URL_NOPAD
            .decode(text.as_bytes())
            .map_err(|_| PersonalError::InvalidKey)?;
        Self::from_bytes(&bytes)
    }
}

impl fmt::Debug for PersonalPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PersonalPublicKey")
            .field(&self.to_base64url())
            .finish()
    }
}

impl serde::Serialize for PersonalPublicKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_base64url())
    }
}

impl<'de> serde::Deserialize<'de> for PersonalPublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(deserializer)?;
        Self::from_base64url(&text).map_err(serde::de::Error::custom)
    }
}

/// The owner's personal private key (a P-256 scalar). Zeroized on drop (the
/// underlying `p256::SecretKey` is); `Debug` prints `[REDACTED]`.
#[derive(Clone)]
pub struct PersonalPrivateKey(<Kem as KemTrait>::PrivateKey);

impl PersonalPrivateKey {
    /// Length of the scalar encoding.
    pub const LEN: usize = SCALAR_LEN;

    /// A fresh key pair from the operating system's RNG (RFC 9180
    /// `DeriveKeyPair` over 32 random bytes).
    pub fn generate() -> Result<(PersonalPrivateKey, PersonalPublicKey), PersonalError> {
        let mut ikm = Zeroizing::new([0u8; SCALAR_LEN]);
        getrandom::fill(ikm.as_mut()).map_err(|_| PersonalError::Seal)?;
        let (sk, pk) = Kem::derive_keypair(ikm.as_ref());
        Ok((PersonalPrivateKey(sk), PersonalPublicKey(pk)))
    }

    /// Parses the 32-byte big-endian scalar; refuses zero and values not
    /// below the group order.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PersonalError> {
        <Kem as KemTrait>::PrivateKey::from_bytes(bytes)
            .map(Self)
            .map_err(|_| PersonalError::InvalidKey)
    }

    /// The 32-byte big-endian scalar (zeroized when dropped).
    pub fn to_bytes(&self) -> Zeroizing<[u8; SCALAR_LEN]> {
        let mut out = Zeroizing::new([0u8; SCALAR_LEN]);
        self.0.write_exact(out.as_mut());
        out
    }

    /// The matching public key.
    pub fn public_key(&self) -> PersonalPublicKey {
        PersonalPublicKey(Kem::sk_to_pk(&self.0))
    }
}

impl fmt::Debug for PersonalPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PersonalPrivateKey([REDACTED])")
    }
}

/// Where a personal value belongs; bound into the HPKE `info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PersonalContext<'a> {
    pub vault_id: &'a str,
    pub entry_id: &'a str,
    pub field_id: &'a str,
    /// The revision in which the value was written.
    pub revision: u64,
}

impl<'a> PersonalContext<'a> {
    pub const fn new(
        vault_id: &'a str,
        entry_id: &'a str,
        field_id: &'a str,
        revision: u64,
    ) -> Self {
        PersonalContext {
            vault_id,
            entry_id,
            field_id,
            revision,
        }
    }

    /// The HPKE `info`, encoded as described in the [module docs](self).
    ///
    /// Only meaningful for a context whose ids are at most [`MAX_ID_LEN`]
    /// bytes long ([`seal`] and [`open`] check this first).
    pub fn info(&self) -> Vec<u8> {
        let ids = [self.vault_id, self.entry_id, self.field_id];
        let mut out = Vec::with_capacity(
            INFO_LABEL.len() + ids.iter().map(|id| 2 + id.len()).sum::<usize>() + 8,
        );
        out.extend_from_slice(INFO_LABEL);
        for id in ids {
            let len = u16::try_from(id.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(id.as_bytes());
        }
        out.extend_from_slice(&self.revision.to_be_bytes());
        out
    }

    fn is_valid(&self) -> bool {
        [self.vault_id, self.entry_id, self.field_id]
            .iter()
            .all(|id| id.len() <= MAX_ID_LEN)
    }
}

/// Seals `plaintext` to the owner's public key for the place `ctx` names.
/// Returns the blob described in the [module docs](self).
pub fn seal(
    pk: &PersonalPublicKey,
    ctx: &PersonalContext<'_>,
    plaintext: &[u8],
) -> Result<Vec<u8>, PersonalError> {
    if !ctx.is_valid() {
        return Err(PersonalError::InvalidContext);
    }
    // The ephemeral key is RFC 9180 DeriveKeyPair(ikm) over 32 fresh random
    // bytes; drawing them here keeps an RNG failure an error, not a panic.
    let mut ikm = Zeroizing::new([0u8; SCALAR_LEN]);
    getrandom::fill(ikm.as_mut()).map_err(|_| PersonalError::Seal)?;
    let (enc, ct) = seal_with_ikm(pk, &ctx.info(), &[], plaintext, ikm.as_ref())?;
    let mut blob = Vec::with_capacity(HEADER_LEN + ct.len());
    blob.push(BLOB_VERSION);
    blob.extend_from_slice(&enc);
    blob.extend_from_slice(&ct);
    Ok(blob)
}

/// Opens a blob made by [`seal`] for the same place. Every failure is
/// [`PersonalError::Open`].
pub fn open(
    sk: &PersonalPrivateKey,
    ctx: &PersonalContext<'_>,
    blob: &[u8],
) -> Result<Zeroizing<Vec<u8>>, PersonalError> {
    if !ctx.is_valid() || blob.len() < OVERHEAD || blob[0] != BLOB_VERSION {
        return Err(PersonalError::Open);
    }
    let (enc, ct) = blob[1..].split_at(ENC_LEN);
    open_raw(sk, &ctx.info(), &[], enc, ct)
}

/// HPKE base-mode single-shot open with explicit `info` and `aad`.
fn open_raw(
    sk: &PersonalPrivateKey,
    info: &[u8],
    aad: &[u8],
    enc: &[u8],
    ct: &[u8],
) -> Result<Zeroizing<Vec<u8>>, PersonalError> {
    let enc = EncappedKey::from_bytes(enc).map_err(|_| PersonalError::Open)?;
    hpke::single_shot_open::<Aead, Kdf, Kem>(&OpModeR::Base, &sk.0, &enc, info, ct, aad)
        .map(Zeroizing::new)
        .map_err(|_| PersonalError::Open)
}

/// HPKE base-mode single-shot seal whose ephemeral key is
/// `DeriveKeyPair(ikm_e)`: the only source of randomness, so that the RFC 9180
/// test vectors (which give `ikmE`) can be reproduced exactly.
fn seal_with_ikm(
    pk: &PersonalPublicKey,
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
    ikm_e: &[u8],
) -> Result<([u8; ENC_LEN], Vec<u8>), PersonalError> {
    let mut rng = IkmRng {
        ikm: ikm_e,
        pos: 0,
        overrun: false,
    };
    let (enc, ct) = hpke::single_shot_seal_with_rng::<Aead, Kdf, Kem>(
        &OpModeS::Base,
        &pk.0,
        info,
        plaintext,
        aad,
        &mut rng,
    )
    .map_err(|_| PersonalError::Seal)?;
    // hpke draws exactly Nsk = 32 bytes for the ephemeral key; anything else
    // means the ephemeral key was not what we supplied.
    if rng.overrun || rng.pos != ikm_e.len() {
        return Err(PersonalError::Seal);
    }
    let mut enc_bytes = [0u8; ENC_LEN];
    enc.write_exact(&mut enc_bytes);
    Ok((enc_bytes, ct))
}

/// A "random" source that hands out the given bytes once, then zeros (and
/// records that it ran dry, which [`seal_with_ikm`] turns into an error).
struct IkmRng<'a> {
    ikm: &'a [u8],
    pos: usize,
    overrun: bool,
}

impl TryRng for IkmRng<'_> {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut buf = [0u8; 4];
        self.try_fill_bytes(&mut buf)?;
        Ok(u32::from_le_bytes(buf))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut buf = [0u8; 8];
        self.try_fill_bytes(&mut buf)?;
        Ok(u64::from_le_bytes(buf))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        match self.ikm.get(self.pos..self.pos + dst.len()) {
            Some(src) => {
                dst.copy_from_slice(src);
                self.pos += dst.len();
            }
            None => {
                dst.fill(0);
                self.overrun = true;
            }
        }
        Ok(())
    }
}

impl TryCryptoRng for IkmRng<'_> {}

#[cfg(test)]
mod tests {
    //! Tests of the deterministic core against the RFC 9180 vectors and our own
    //! interop vector; the public API is tested in `tests/personal*.rs`.

    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        data_encoding::HEXLOWER_PERMISSIVE
            .decode(text.as_bytes())
            .unwrap()
    }

    fn field<'a>(v: &'a serde_json::Value, name: &str) -> &'a str {
        v[name].as_str().unwrap_or_else(|| panic!("missing {name}"))
    }

    #[test]
    fn single_shot_seal_matches_rfc9180_base_vector() {
        let file: serde_json::Value = serde_json::from_str(include_str!(
            "../tests/vectors/rfc9180-p256-sha256-aes256gcm.json"
        ))
        .unwrap();
        let base: Vec<&serde_json::Value> = file["vectors"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["mode"] == 0)
            .collect();
        assert_eq!(base.len(), 1);
        let v = base[0];
        let pk = PersonalPublicKey::from_bytes(&hex(field(v, "pkRm"))).unwrap();
        let first = &v["encryptions"][0];
        let (enc, ct) = seal_with_ikm(
            &pk,
            &hex(field(v, "info")),
            &hex(field(first, "aad")),
            &hex(field(first, "pt")),
            &hex(field(v, "ikmE")),
        )
        .unwrap();
        assert_eq!(enc.to_vec(), hex(field(v, "enc")));
        assert_eq!(ct, hex(field(first, "ct")));

        let sk = PersonalPrivateKey::from_bytes(&hex(field(v, "skRm"))).unwrap();
        let pt = open_raw(
            &sk,
            &hex(field(v, "info")),
            &hex(field(first, "aad")),
            &enc,
            &ct,
        )
        .unwrap();
        assert_eq!(pt.as_slice(), hex(field(first, "pt")).as_slice());
    }

    #[test]
    fn ikm_rng_refuses_to_run_dry() {
        let pk = PersonalPrivateKey::from_bytes(&[7u8; 32])
            .unwrap()
            .public_key();
        assert_eq!(
            seal_with_ikm(&pk, b"info", b"", b"pt", &[1u8; 16]),
            Err(PersonalError::Seal)
        );
        assert_eq!(
            seal_with_ikm(&pk, b"info", b"", b"pt", &[1u8; 40]),
            Err(PersonalError::Seal)
        );
    }

    #[test]
    fn clavitor_interop_vector_is_reproduced() {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../tests/vectors/clavitor-personal-v1.json"))
                .unwrap();
        for case in v["cases"].as_array().unwrap() {
            let c = &case["context"];
            let ctx = PersonalContext::new(
                field(c, "vault_id"),
                field(c, "entry_id"),
                field(c, "field_id"),
                c["revision"].as_u64().unwrap(),
            );
            assert_eq!(ctx.info(), hex(field(case, "info")));
            let sk = PersonalPrivateKey::from_bytes(&hex(field(&v, "skR"))).unwrap();
            let pk = PersonalPublicKey::from_bytes(&hex(field(&v, "pkR"))).unwrap();
            assert_eq!(sk.public_key(), pk);
            let (enc, ct) = seal_with_ikm(
                &pk,
                &ctx.info(),
                &[],
                &hex(field(case, "plaintext")),
                &hex(field(case, "ikmE")),
            )
            .unwrap();
            let mut blob = vec![BLOB_VERSION];
            blob.extend_from_slice(&enc);
            blob.extend_from_slice(&ct);
            assert_eq!(blob, hex(field(case, "blob")));
        }
    }
}
