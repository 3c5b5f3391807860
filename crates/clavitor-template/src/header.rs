//! Substitution into one HTTP header value, for the injection proxy.

use std::collections::HashMap;

use clavitor_core::reference::{ReferenceError, find_references};
use clavitor_core::{Reference, Secret};

use crate::resolve::{ResolveError, Resolver};

/// Why a header value could not be substituted. Names the reference as written,
/// never the value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("{reference}: {error}")]
    BadReference {
        reference: String,
        error: ReferenceError,
    },
    #[error("{reference}: {error}")]
    Unresolved {
        reference: String,
        error: ResolveError,
    },
    /// The value holds a control character (CR, LF, NUL, tab, DEL or any other
    /// Unicode control): injecting it could split or smuggle headers.
    #[error("{reference}: the value contains a control character and cannot be sent in a header")]
    UnsafeValue { reference: String },
}

/// Whether `value` contains anything that looks like a reference (well-formed or
/// not): the proxy passes such headers to [`substitute_header_value`] and leaves
/// all others untouched.
pub fn contains_reference(value: &str) -> bool {
    !find_references(value).is_empty()
}

/// Replaces every reference in a header value by its value, raw (no escaping: a
/// header has no quoting). Each distinct reference is resolved once. The first
/// failure, in order, is returned; a malformed reference is an error, never sent
/// through. A resolved value containing any control character — including tab,
/// which some servers fold or split on — is refused with
/// [`HeaderError::UnsafeValue`].
pub fn substitute_header_value(
    value: &str,
    resolver: &mut impl Resolver,
) -> Result<String, HeaderError> {
    let mut cache: HashMap<Reference, Secret> = HashMap::new();
    let mut out = String::with_capacity(value.len());
    let mut copied = 0;
    for found in find_references(value) {
        let written = value[found.span.clone()].to_string();
        let reference = found.result.map_err(|error| HeaderError::BadReference {
            reference: written.clone(),
            error,
        })?;
        let secret = match cache.get(&reference) {
            Some(secret) => secret.clone(),
            None => {
                let secret =
                    resolver
                        .resolve(&reference)
                        .map_err(|error| HeaderError::Unresolved {
                            reference: written.clone(),
                            error,
                        })?;
                cache.insert(reference, secret.clone());
                secret
            }
        };
        if secret.expose().chars().any(char::is_control) {
            return Err(HeaderError::UnsafeValue { reference: written });
        }
        out.push_str(&value[copied..found.span.start]);
        out.push_str(secret.expose());
        copied = found.span.end;
    }
    out.push_str(&value[copied..]);
    Ok(out)
}
