//! Lenient reading of `otpauth://totp/` URIs and bare base32 secrets.

use std::borrow::Cow;

use url::Url;
use zeroize::Zeroizing;

use crate::{Algorithm, DEFAULT_DIGITS, DEFAULT_PERIOD, TotpError, TotpParams, TotpSecret};

/// Reads TOTP parameters from an `otpauth://totp/…` URI or a bare base32
/// secret (which gets the defaults: SHA1, 6 digits, 30 s).
///
/// See the [crate documentation](crate) for everything that is accepted.
/// Never panics; errors never contain the secret.
///
/// ```
/// let p = clavitor_totp::parse("jbsw y3dp ehpk 3pxp").unwrap();
/// assert_eq!(p.digits(), 6);
/// assert_eq!(p.secret().expose(), b"Hello!\xde\xad\xbe\xef");
/// ```
pub fn parse(input: &str) -> Result<TotpParams, TotpError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(TotpError::Empty);
    }
    let is_uri = input
        .get(..8)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("otpauth:"));
    if is_uri {
        parse_uri(input)
    } else {
        let secret = decode_base32(input)?;
        TotpParams::new(secret, Algorithm::default(), DEFAULT_DIGITS, DEFAULT_PERIOD)
    }
}

/// The query parameters we understand, each at most once.
#[derive(Default)]
struct Query<'a> {
    secret: Option<Zeroizing<String>>,
    issuer: Option<Cow<'a, str>>,
    algorithm: Option<Cow<'a, str>>,
    digits: Option<Cow<'a, str>>,
    period: Option<Cow<'a, str>>,
}

fn set_once<T>(slot: &mut Option<T>, value: T, name: &'static str) -> Result<(), TotpError> {
    if slot.is_some() {
        return Err(TotpError::DuplicateParameter(name));
    }
    *slot = Some(value);
    Ok(())
}

fn parse_uri(input: &str) -> Result<TotpParams, TotpError> {
    // `url::ParseError` never echoes its input, but we do not keep it anyway.
    let url = Url::parse(input).map_err(|_| TotpError::InvalidUri)?;
    match url.host_str() {
        Some(kind) if kind.eq_ignore_ascii_case("totp") => {}
        Some(kind) if kind.eq_ignore_ascii_case("hotp") => return Err(TotpError::HotpUnsupported),
        _ => return Err(TotpError::UnsupportedType),
    }

    let mut query = Query::default();
    for (key, value) in url.query_pairs() {
        match key.trim().to_ascii_lowercase().as_str() {
            "secret" => set_once(
                &mut query.secret,
                Zeroizing::new(value.into_owned()),
                "secret",
            )?,
            "issuer" => set_once(&mut query.issuer, value, "issuer")?,
            "algorithm" => set_once(&mut query.algorithm, value, "algorithm")?,
            "digits" => set_once(&mut query.digits, value, "digits")?,
            "period" => set_once(&mut query.period, value, "period")?,
            // image, counter, color, … : not ours to judge.
            _ => {}
        }
    }

    let secret = query.secret.ok_or(TotpError::MissingSecret)?;
    let secret = decode_base32(&secret)?;
    let algorithm = match non_empty(query.algorithm.as_deref()) {
        Some(name) => Algorithm::from_name(name).ok_or(TotpError::UnknownAlgorithm)?,
        None => Algorithm::default(),
    };
    let digits = match non_empty(query.digits.as_deref()) {
        Some(d) => d.parse::<u32>().map_err(|_| TotpError::InvalidDigits)?,
        None => DEFAULT_DIGITS,
    };
    let period = match non_empty(query.period.as_deref()) {
        Some(p) => p.parse::<u64>().map_err(|_| TotpError::InvalidPeriod)?,
        None => DEFAULT_PERIOD,
    };

    let issuer_param = non_empty(query.issuer.as_deref()).map(str::to_owned);
    let label = percent_decode(url.path().strip_prefix('/').unwrap_or(url.path()));
    let (label_issuer, account) = split_label(&label, issuer_param.as_deref());

    Ok(TotpParams::new(secret, algorithm, digits, period)?
        .with_label(issuer_param.or(label_issuer), account))
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// Splits a decoded label `Issuer:account` (or `Issuer: account`, or just
/// `account`). When the `issuer` parameter is known and the label starts
/// with it, that prefix is removed whole, so issuers containing `:` work.
fn split_label(label: &str, issuer_param: Option<&str>) -> (Option<String>, Option<String>) {
    let label = label.trim();
    if let Some(rest) = issuer_param
        .and_then(|issuer| label.strip_prefix(issuer))
        .and_then(|rest| rest.strip_prefix(':'))
    {
        return (None, Some(rest.to_owned()));
    }
    match label.split_once(':') {
        Some((issuer, account)) => (Some(issuer.to_owned()), Some(account.to_owned())),
        None => (None, Some(label.to_owned())),
    }
}

/// Decodes `%XX` escapes; anything malformed is kept literally. Invalid
/// UTF-8 becomes U+FFFD.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', hi, lo]) => hex_value(*hi).zip(hex_value(*lo)),
            _ => None,
        };
        match escaped {
            Some((hi, lo)) => {
                out.push(hi << 4 | lo);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// RFC 4648 base32, read the way authenticator apps read it: any case,
/// whitespace and `-` ignored, trailing `=` (or `%3D`) padding optional,
/// any length (leftover bits that do not fill a byte are dropped).
pub(crate) fn decode_base32(input: &str) -> Result<TotpSecret, TotpError> {
    let mut symbols = Zeroizing::new(Vec::with_capacity(input.len()));
    let mut chars = input.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == '%'
            && input
                .get(i + 1..i + 3)
                .is_some_and(|hex| hex.eq_ignore_ascii_case("3D"))
        {
            symbols.push(b'=');
            chars.nth(1);
        } else if c.is_whitespace() || c == '-' {
            continue;
        } else if c.is_ascii() {
            symbols.push(c.to_ascii_uppercase() as u8);
        } else {
            return Err(TotpError::InvalidSecret);
        }
    }
    while symbols.last() == Some(&b'=') {
        symbols.pop();
    }
    if symbols.is_empty() {
        return Err(TotpError::EmptySecret);
    }

    let mut out = Zeroizing::new(Vec::with_capacity(symbols.len() * 5 / 8));
    let mut buffer: u32 = 0;
    let mut bits: u32 = 0;
    for &symbol in symbols.iter() {
        let value = match symbol {
            b'A'..=b'Z' => symbol - b'A',
            b'2'..=b'7' => symbol - b'2' + 26,
            _ => return Err(TotpError::InvalidSecret),
        };
        buffer = (buffer << 5) | u32::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    if out.is_empty() {
        return Err(TotpError::EmptySecret);
    }
    Ok(TotpSecret::new(std::mem::take(&mut *out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_lengths_and_leftover_bits() {
        let decode = |s: &str| decode_base32(s).map(|s| s.expose().to_vec());
        assert_eq!(decode("MY").unwrap(), b"f");
        assert_eq!(decode("MZXQ").unwrap(), b"fo");
        assert_eq!(decode("MZXW6").unwrap(), b"foo");
        assert_eq!(decode("MZXW6YQ").unwrap(), b"foob");
        assert_eq!(decode("MZXW6YTB").unwrap(), b"fooba");
        assert_eq!(decode("MZXW6YTBOI======").unwrap(), b"foobar");
        // A dangling symbol that does not complete a byte is dropped.
        assert_eq!(decode("MZXW6YTBOIA").unwrap(), b"foobar");
        assert_eq!(decode("A"), Err(TotpError::EmptySecret));
        assert_eq!(decode("=="), Err(TotpError::EmptySecret));
        assert_eq!(decode("MZ=XW"), Err(TotpError::InvalidSecret));
        assert_eq!(decode("MZ1XW"), Err(TotpError::InvalidSecret));
        assert_eq!(decode("MZXÄW"), Err(TotpError::InvalidSecret));
        assert_eq!(decode("MY%3d%3D").unwrap(), b"f");
        assert_eq!(decode("MY%3"), Err(TotpError::InvalidSecret));
    }

    #[test]
    fn percent_decoding_is_lenient() {
        assert_eq!(percent_decode("ACME%20Co%3Ajohn"), "ACME Co:john");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("caf%C3%A9"), "café");
        assert_eq!(percent_decode("%FF"), "\u{FFFD}");
    }

    #[test]
    fn label_split() {
        let own = |s: &str| Some(s.to_owned());
        assert_eq!(split_label("Acme:bob", None), (own("Acme"), own("bob")));
        assert_eq!(split_label("bob", None), (None, own("bob")));
        assert_eq!(split_label("A:B:bob", Some("A:B")), (None, own("bob")));
        assert_eq!(
            split_label("Other:bob", Some("Acme")),
            (own("Other"), own("bob"))
        );
    }
}
