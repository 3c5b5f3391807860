//! Clavitor's cryptography, without I/O.
//!
//! * [`keys`]: the root key and the keys HKDF derives from it (info tier,
//!   shared tier wrapping, blind index of names, audit chain).
//! * [`envelope`]: AES-256-GCM envelopes: every value under its own random data
//!   key, wrapped by a tier key, with associated data binding where it belongs.
//! * [`token`]: setup tokens, agent credentials and owner tokens, with a
//!   recognisable prefix and a checksum; only their SHA-256 is ever stored.
//! * [`personal`]: HPKE sealing of personal fields to the owner's public key.

pub mod envelope;
pub mod keys;
pub mod personal;
pub mod token;

pub use envelope::{EnvelopeError, FieldContext};
pub use keys::{DerivedKeys, KeyError, RootKey, SymmetricKey};

/// Fills a buffer from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The OS RNG failing is unrecoverable for a vault; getrandom documents it
    // as practically impossible on Linux once booted.
    if getrandom::fill(&mut buf).is_err() {
        panic_rng();
    }
    buf
}

#[cold]
fn panic_rng() -> ! {
    #[allow(clippy::panic)]
    {
        panic!("the operating system's random number generator failed")
    }
}

/// base64url without padding, the one text encoding of binary values we use.
pub fn b64(bytes: &[u8]) -> String {
    data_encoding::BASE64URL_NOPAD.encode(bytes)
}

/// Decodes [`b64`] output.
pub fn unb64(text: &str) -> Option<Vec<u8>> {
    data_encoding::BASE64URL_NOPAD.decode(text.as_bytes()).ok()
}
