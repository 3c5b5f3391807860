//! Request preparation: hop-by-hop stripping and `clavitor://` injection into header values.

use std::collections::BTreeMap;

use clavitor_core::{ErrorCode, Reference, Secret};
use clavitor_template::{HeaderError, ResolveError, substitute_header_value};
use http::{HeaderMap, HeaderName, HeaderValue, header};

use crate::references::{find_references, mentions_scheme};
use crate::refusal::Refusal;
use crate::target::Target;
use crate::vault::SharedVault;

/// One value injected into a request (kept for response redaction and reflection reports).
pub(crate) struct Injected {
    pub entry: String,
    pub field: String,
    pub value: Secret,
}

/// Whether any header value mentions `clavitor://` (in any letter case).
pub(crate) fn has_references(headers: &HeaderMap) -> bool {
    headers.values().any(|v| mentions_scheme(v.as_bytes()))
}

/// Removes hop-by-hop and `Proxy-*` headers (and those named by `Connection`). With
/// `keep_upgrade`, `Connection: upgrade` and `Upgrade` survive (WebSocket handshakes).
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .filter(|name| !(keep_upgrade && name == header::UPGRADE))
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        header::CONNECTION,
        header::TRANSFER_ENCODING,
        header::TRAILER,
        header::PROXY_AUTHORIZATION,
        header::PROXY_AUTHENTICATE,
        HeaderName::from_static("keep-alive"),
    ] {
        headers.remove(name);
    }
    if !keep_upgrade {
        headers.remove(header::UPGRADE);
    } else {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    }
    // TE: only "trailers" is meaningful end to end (gRPC); anything else is hop-by-hop.
    if headers
        .get(header::TE)
        .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"trailers"))
    {
        headers.remove(header::TE);
    }
    let proxy_headers: Vec<HeaderName> = headers
        .keys()
        .filter(|name| name.as_str().starts_with("proxy-"))
        .cloned()
        .collect();
    for name in proxy_headers {
        headers.remove(name);
    }
}

/// Resolves every reference in the header values through the vault for exactly `target`,
/// replaces it with the value and marks the header sensitive. Nothing is changed on refusal.
/// The same reference used twice is resolved once.
pub(crate) async fn inject(
    headers: &mut HeaderMap,
    vault: &SharedVault,
    target: &Target,
) -> Result<Vec<Injected>, Refusal> {
    // Pass 1: find references (a malformed one refuses the request).
    let mut wanted: Vec<Reference> = Vec::new();
    for value in headers.values() {
        if !mentions_scheme(value.as_bytes()) {
            continue;
        }
        let text = value.to_str().map_err(|_| Refusal::MalformedReference)?;
        for found in find_references(text).map_err(|_| Refusal::MalformedReference)? {
            if !wanted.contains(&found.reference) {
                wanted.push(found.reference);
            }
        }
    }
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    // A name with a trailing dot is never a host pattern; refuse before asking the vault.
    if target.host.ends_with('.') || target.host.is_empty() {
        return Err(Refusal::Vault(ErrorCode::HostNotAllowed));
    }
    // Pass 2: resolve, one at a time, stopping at the first refusal.
    // Ordered, so the same references always give the same injected list (needle cache key).
    let mut resolved: BTreeMap<Reference, Secret> = BTreeMap::new();
    for reference in wanted {
        let secret = vault
            .resolve(
                &reference.entry,
                &reference.field,
                &target.host,
                target.port,
            )
            .await
            .map_err(Refusal::from)?;
        if secret.expose().chars().any(char::is_control) {
            tracing::warn!(%target, "refused: resolved value contains control bytes");
            return Err(Refusal::ControlBytes);
        }
        resolved.insert(reference, secret);
    }
    // Pass 3: build every new value first, then swap them in.
    let mut replacements: Vec<(HeaderName, usize, HeaderValue)> = Vec::new();
    let names: Vec<HeaderName> = headers.keys().cloned().collect();
    for name in names {
        for (index, value) in headers.get_all(&name).iter().enumerate() {
            if !mentions_scheme(value.as_bytes()) {
                continue;
            }
            let text = value.to_str().map_err(|_| Refusal::MalformedReference)?;
            // Values were resolved (and checked) above; this only substitutes them, with the
            // shared header rules (raw value, any control character refused).
            let mut lookup = |reference: &Reference| {
                resolved
                    .get(reference)
                    .cloned()
                    .ok_or_else(|| ResolveError::from(ErrorCode::MalformedReference))
            };
            let new = substitute_header_value(text, &mut lookup).map_err(|err| match err {
                HeaderError::UnsafeValue { .. } => Refusal::ControlBytes,
                HeaderError::BadReference { .. } | HeaderError::Unresolved { .. } => {
                    Refusal::MalformedReference
                }
            })?;
            let mut value = HeaderValue::from_str(&new).map_err(|_| Refusal::ControlBytes)?;
            value.set_sensitive(true);
            replacements.push((name.clone(), index, value));
        }
    }
    for name in replacements
        .iter()
        .map(|(n, _, _)| n.clone())
        .collect::<Vec<_>>()
    {
        let old: Vec<HeaderValue> = headers.get_all(&name).iter().cloned().collect();
        headers.remove(&name);
        for (index, old_value) in old.into_iter().enumerate() {
            let value = replacements
                .iter()
                .find(|(n, i, _)| *n == name && *i == index)
                .map(|(_, _, v)| v.clone())
                .unwrap_or(old_value);
            headers.append(name.clone(), value);
        }
    }
    Ok(resolved
        .into_iter()
        .map(|(reference, value)| Injected {
            entry: reference.entry,
            field: reference.field,
            value,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_hop_by_hop() {
        let mut h = HeaderMap::new();
        h.insert("connection", "keep-alive, x-private".parse().unwrap());
        h.insert("x-private", "1".parse().unwrap());
        h.insert("keep-alive", "timeout=5".parse().unwrap());
        h.insert("proxy-authorization", "Basic x".parse().unwrap());
        h.insert("proxy-foo", "1".parse().unwrap());
        h.insert("te", "gzip".parse().unwrap());
        h.insert("authorization", "Bearer x".parse().unwrap());
        strip_hop_by_hop(&mut h, false);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("authorization"));
    }
}
