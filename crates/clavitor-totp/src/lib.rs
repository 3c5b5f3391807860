//! One-time codes for Clavitor: RFC 4226 HOTP, RFC 6238 TOTP, and lenient
//! reading of the `otpauth://` URIs and base32 secrets people paste.
//!
//! The vault stores a TOTP seed as a canonical `otpauth://totp/` URI
//! ([`TotpParams::to_uri`]) and hands agents only the current code
//! ([`TotpParams::code_at`]), never the seed.
//!
//! ```
//! use clavitor_totp::{parse, Algorithm};
//!
//! let p = parse("otpauth://totp/ACME%20Co:john@example.com?secret=JBSWY3DPEHPK3PXP&issuer=ACME%20Co").unwrap();
//! assert_eq!(p.issuer(), Some("ACME Co"));
//! assert_eq!(p.account(), Some("john@example.com"));
//! assert_eq!((p.algorithm(), p.digits(), p.period()), (Algorithm::Sha1, 6, 30));
//!
//! let code = p.code_at(1_700_000_000);          // no clock read: time is a parameter
//! assert_eq!(code.len(), 6);
//! assert_eq!(p.seconds_left(1_700_000_000), 10); // 1_700_000_000 % 30 == 20
//! let (_code, _left) = p.now();                  // the one convenience that reads the clock
//! ```
//!
//! # What [`parse`] accepts
//!
//! * A **bare base32 secret**: any case, spaces (or `-`) anywhere, with or
//!   without `=` / `%3D` padding, any length, including 80-bit secrets
//!   (16 symbols) and lengths that are not a multiple of 8 (leftover bits
//!   that do not fill a byte are dropped, as authenticator apps do). It gets
//!   the defaults: SHA1, 6 digits, 30 seconds.
//! * An **`otpauth://totp/LABEL?PARAMS` URI** (scheme and type in any case):
//!   * `secret` (required): base32, read as above;
//!   * `algorithm`: `SHA1`, `SHA256`, `SHA512` in any case, also `SHA-256`;
//!   * `digits`: 6, 7 or 8 (default 6);
//!   * `period`: seconds, any whole number above 0 (default 30);
//!   * `issuer`: optional; it wins over an issuer in the label;
//!   * the label, URL-decoded (`%20`, `%3A`, …): `Issuer:account`,
//!     `Issuer: account` or just `account`;
//!   * parameter names in any case; empty `algorithm`, `digits`, `period`
//!     or `issuer` values mean "default"; unknown parameters (`image`, …)
//!     are ignored.
//!
//! Anything else is a [`TotpError`]: a missing, empty or non-base32 secret;
//! digits outside 6–8 or not a number; a period of 0, negative or too large
//! for 64 bits; an unknown algorithm; an `otpauth://hotp/` URI (counter-based
//! codes are not supported) or any other type; a known parameter given twice.
//! Parsing never panics, and no error message contains the secret.
//!
//! # Codes
//!
//! [`TotpParams::code_at`] computes `HOTP(secret, floor(unix_secs / period))`
//! with T0 = 0 (RFC 6238), on `u64` throughout: correct past 2^31 seconds and
//! free of overflow up to `u64::MAX`. A code changes exactly when
//! `unix_secs % period == 0`; [`TotpParams::seconds_left`] is then `period`.
//! The plain [`hotp`] function is public for counter-based use and tests.
//!
//! # Secrets
//!
//! The key lives in a [`TotpSecret`], which prints as `[REDACTED]` and is
//! zeroised on drop; [`TotpParams`]'s `Debug` therefore never shows it.
//! [`TotpParams::to_uri`] returns a [`clavitor_core::Secret`] for the same
//! reason.

mod otp;
mod parse;

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use clavitor_core::Secret;
use data_encoding::BASE32_NOPAD;
use zeroize::Zeroizing;

pub use otp::{Algorithm, MAX_HOTP_DIGITS, hotp};
pub use parse::parse;

/// Digits of a code when the URI does not say (RFC 6238 and every app).
pub const DEFAULT_DIGITS: u32 = 6;
/// Seconds per time step when the URI does not say.
pub const DEFAULT_PERIOD: u64 = 30;
/// Accepted code lengths.
pub const DIGITS_RANGE: std::ops::RangeInclusive<u32> = 6..=8;

/// Why a TOTP secret or URI was refused. Messages never contain the secret
/// (nor any other parameter value).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TotpError {
    #[error("no TOTP secret or otpauth:// URI given")]
    Empty,
    #[error("not a valid otpauth:// URI")]
    InvalidUri,
    #[error("otpauth://hotp/ (counter-based) codes are not supported; use otpauth://totp/")]
    HotpUnsupported,
    #[error("unsupported otpauth:// type; only otpauth://totp/ is supported")]
    UnsupportedType,
    #[error("the otpauth:// URI has no secret= parameter")]
    MissingSecret,
    #[error("the TOTP secret is empty")]
    EmptySecret,
    #[error("the TOTP secret is not valid base32 (letters A-Z, digits 2-7, optional = padding)")]
    InvalidSecret,
    #[error("unknown TOTP algorithm: expected SHA1, SHA256 or SHA512")]
    UnknownAlgorithm,
    #[error("invalid TOTP digits: expected 6, 7 or 8")]
    InvalidDigits,
    #[error("invalid TOTP period: expected a whole number of seconds greater than 0")]
    InvalidPeriod,
    #[error("the otpauth:// parameter `{0}` appears more than once")]
    DuplicateParameter(&'static str),
}

/// The raw key bytes of a TOTP seed. `Debug` prints `[REDACTED]`; the bytes
/// are zeroised on drop.
#[derive(Clone)]
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl TotpSecret {
    pub fn new(bytes: Vec<u8>) -> Self {
        TotpSecret(Zeroizing::new(bytes))
    }

    /// The key bytes; handle with care.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<u8>> for TotpSecret {
    fn from(bytes: Vec<u8>) -> Self {
        TotpSecret::new(bytes)
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// Everything needed to compute TOTP codes, plus the label. Built by
/// [`parse`] or [`TotpParams::new`], so digits are always 6–8, the period
/// above 0 and the secret non-empty.
#[derive(Clone, Debug)]
pub struct TotpParams {
    algorithm: Algorithm,
    digits: u32,
    period: u64,
    secret: TotpSecret,
    issuer: Option<String>,
    account: Option<String>,
}

impl TotpParams {
    /// Checks and assembles parameters (no issuer or account yet: see
    /// [`TotpParams::with_label`]).
    pub fn new(
        secret: impl Into<TotpSecret>,
        algorithm: Algorithm,
        digits: u32,
        period: u64,
    ) -> Result<Self, TotpError> {
        let secret = secret.into();
        if secret.is_empty() {
            return Err(TotpError::EmptySecret);
        }
        if !DIGITS_RANGE.contains(&digits) {
            return Err(TotpError::InvalidDigits);
        }
        if period == 0 {
            return Err(TotpError::InvalidPeriod);
        }
        Ok(TotpParams {
            algorithm,
            digits,
            period,
            secret,
            issuer: None,
            account: None,
        })
    }

    /// Sets issuer and account; both are trimmed and empty strings become
    /// `None`.
    pub fn with_label(mut self, issuer: Option<String>, account: Option<String>) -> Self {
        let clean = |s: Option<String>| {
            s.map(|s| s.trim().to_owned())
                .filter(|s: &String| !s.is_empty())
        };
        self.issuer = clean(issuer);
        self.account = clean(account);
        self
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub fn digits(&self) -> u32 {
        self.digits
    }

    /// Seconds per time step.
    pub fn period(&self) -> u64 {
        self.period
    }

    pub fn secret(&self) -> &TotpSecret {
        &self.secret
    }

    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    pub fn account(&self) -> Option<&str> {
        self.account.as_deref()
    }

    /// The RFC 6238 time step (HOTP counter) containing `unix_secs`.
    pub fn counter_at(&self, unix_secs: u64) -> u64 {
        unix_secs / self.period
    }

    /// The code valid at `unix_secs` (seconds since the Unix epoch, UTC).
    pub fn code_at(&self, unix_secs: u64) -> String {
        hotp(
            self.secret.expose(),
            self.counter_at(unix_secs),
            self.digits,
            self.algorithm,
        )
    }

    /// Seconds until the code of `unix_secs` expires: `period` right at a
    /// step edge, 1 in the last second of a step.
    pub fn seconds_left(&self, unix_secs: u64) -> u64 {
        self.period - unix_secs % self.period
    }

    /// The current code and its remaining seconds, from the system clock
    /// (a clock before 1970 counts as 1970).
    pub fn now(&self) -> (String, u64) {
        let unix_secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        (self.code_at(unix_secs), self.seconds_left(unix_secs))
    }

    /// The canonical `otpauth://totp/` URI, as the vault stores the seed:
    /// `otpauth://totp/Issuer:account?secret=BASE32&issuer=Issuer&algorithm=SHA1&digits=6&period=30`
    /// (label parts percent-encoded, secret upper-case base32 without
    /// padding, `issuer` omitted when unknown, the rest always present).
    /// [`parse`] reads it back to the same parameters.
    pub fn to_uri(&self) -> Secret {
        let label = match (&self.issuer, &self.account) {
            (Some(issuer), Some(account)) => {
                format!("{}:{}", encode(issuer, true), encode(account, true))
            }
            (Some(issuer), None) => format!("{}:", encode(issuer, true)),
            // A leading ':' keeps a colon inside the account from being
            // read back as an issuer separator, and keeps a label of `.` or
            // `..` from being removed as a URL dot segment.
            (None, Some(account)) if account.contains(':') || account == "." || account == ".." => {
                format!(":{}", encode(account, true))
            }
            (None, Some(account)) => encode(account, true),
            (None, None) => String::new(),
        };
        let secret = Zeroizing::new(BASE32_NOPAD.encode(self.secret.expose()));
        let mut uri = Zeroizing::new(format!("otpauth://totp/{label}?secret="));
        uri.push_str(&secret);
        if let Some(issuer) = &self.issuer {
            uri.push_str("&issuer=");
            uri.push_str(&encode(issuer, false));
        }
        uri.push_str(&format!(
            "&algorithm={}&digits={}&period={}",
            self.algorithm, self.digits, self.period
        ));
        Secret::new(std::mem::take(&mut *uri))
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters (and `@`
/// in labels, where it is allowed and common).
fn encode(s: &str, label: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || (label && b == b'@') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_validates() {
        let key = || b"12345678901234567890".to_vec();
        assert!(TotpParams::new(key(), Algorithm::Sha1, 6, 30).is_ok());
        assert!(TotpParams::new(key(), Algorithm::Sha1, 8, 1).is_ok());
        assert!(TotpParams::new(key(), Algorithm::Sha1, 8, u64::MAX).is_ok());
        assert_eq!(
            TotpParams::new(Vec::new(), Algorithm::Sha1, 6, 30).unwrap_err(),
            TotpError::EmptySecret
        );
        for digits in [0, 5, 9, 10, u32::MAX] {
            assert_eq!(
                TotpParams::new(key(), Algorithm::Sha1, digits, 30).unwrap_err(),
                TotpError::InvalidDigits
            );
        }
        assert_eq!(
            TotpParams::new(key(), Algorithm::Sha1, 6, 0).unwrap_err(),
            TotpError::InvalidPeriod
        );
    }

    #[test]
    fn encode_label_and_query() {
        assert_eq!(encode("ACME Co:x@y.z", true), "ACME%20Co%3Ax@y.z");
        assert_eq!(encode("a@b&c=d", false), "a%40b%26c%3Dd");
        assert_eq!(encode("café", false), "caf%C3%A9");
    }
}
