//! The RFC 4226 HOTP core: HMAC, dynamic truncation, decimal code.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha512};

/// The HMAC hash function of a one-time password (RFC 6238 §1.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// HMAC-SHA-1, the default and by far the most common.
    #[default]
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

impl Algorithm {
    /// The canonical `otpauth://` spelling: `SHA1`, `SHA256` or `SHA512`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
            Algorithm::Sha512 => "SHA512",
        }
    }

    /// Reads an algorithm name leniently: any case, with or without a `-`
    /// or `_` (`sha1`, `SHA-256`, `Sha512`, `HmacSHA1`). Unknown names give
    /// `None`.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        let compact: String = name
            .trim()
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | ' '))
            .collect::<String>()
            .to_ascii_uppercase();
        let compact = compact.strip_prefix("HMAC").unwrap_or(&compact);
        match compact {
            "SHA1" => Some(Algorithm::Sha1),
            "SHA256" => Some(Algorithm::Sha256),
            "SHA512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The most digits [`hotp`] produces: dynamic truncation yields a 31-bit
/// number, which has at most 10 decimal digits.
pub const MAX_HOTP_DIGITS: u32 = 10;

/// RFC 4226 HOTP: the `digits`-long decimal code of `key` at `counter`,
/// zero-padded on the left.
///
/// `digits` is clamped to `1..=10` (the truncated value has 31 bits), so
/// this never panics. TOTP is `hotp(key, unix_secs / period, ...)`.
///
/// ```
/// use clavitor_totp::{hotp, Algorithm};
/// // RFC 4226 Appendix D, counter 0.
/// assert_eq!(hotp(b"12345678901234567890", 0, 6, Algorithm::Sha1), "755224");
/// ```
pub fn hotp(key: &[u8], counter: u64, digits: u32, alg: Algorithm) -> String {
    let binary = match alg {
        Algorithm::Sha1 => dynamic_truncation::<Hmac<Sha1>>(key, counter),
        Algorithm::Sha256 => dynamic_truncation::<Hmac<Sha256>>(key, counter),
        Algorithm::Sha512 => dynamic_truncation::<Hmac<Sha512>>(key, counter),
    };
    let digits = digits.clamp(1, MAX_HOTP_DIGITS);
    let code = u64::from(binary) % 10u64.pow(digits);
    format!("{code:0width$}", width = digits as usize)
}

/// HMAC of the big-endian counter, then RFC 4226 §5.3 dynamic truncation to
/// a 31-bit number.
fn dynamic_truncation<M: Mac + KeyInit>(key: &[u8], counter: u64) -> u32 {
    let Ok(mut mac) = <M as KeyInit>::new_from_slice(key) else {
        // HMAC hashes or pads keys of any length; this error cannot happen.
        unreachable!("HMAC accepts keys of any length")
    };
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    // The digest is at least 20 bytes and offset + 4 <= 15 + 4 < 20.
    let offset = usize::from(hash[hash.len() - 1] & 0x0f);
    let word = [
        hash[offset],
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ];
    u32::from_be_bytes(word) & 0x7fff_ffff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names() {
        for (name, alg) in [
            ("SHA1", Algorithm::Sha1),
            ("sha1", Algorithm::Sha1),
            ("Sha-1", Algorithm::Sha1),
            ("HmacSHA1", Algorithm::Sha1),
            ("sha256", Algorithm::Sha256),
            ("Sha256", Algorithm::Sha256),
            ("SHA-256", Algorithm::Sha256),
            ("sha512", Algorithm::Sha512),
            ("SHA512", Algorithm::Sha512),
            (" sha_512 ", Algorithm::Sha512),
        ] {
            assert_eq!(Algorithm::from_name(name), Some(alg), "{name}");
        }
        for bad in ["", "md5", "sha384", "sha3-256", "HMAC", "1"] {
            assert_eq!(Algorithm::from_name(bad), None, "{bad}");
        }
        assert_eq!(Algorithm::Sha256.to_string(), "SHA256");
    }

    #[test]
    fn digits_are_clamped_not_panicking() {
        let key = b"12345678901234567890";
        assert_eq!(hotp(key, 0, 0, Algorithm::Sha1), "4");
        // 1284755224 is the RFC 4226 truncated value for counter 0.
        assert_eq!(hotp(key, 0, 10, Algorithm::Sha1), "1284755224");
        assert_eq!(hotp(key, 0, u32::MAX, Algorithm::Sha1), "1284755224");
        // Counter 2 truncates to 137359152: 9 digits, padded to 10.
        assert_eq!(hotp(key, 2, 10, Algorithm::Sha1), "0137359152");
    }

    #[test]
    fn empty_and_long_keys() {
        // Keys longer than the hash block are hashed first; neither panics.
        assert_eq!(hotp(&[], 1, 6, Algorithm::Sha1).len(), 6);
        assert_eq!(hotp(&[7u8; 300], u64::MAX, 8, Algorithm::Sha512).len(), 8);
    }
}
