//! Refusals the proxy answers itself: status, `x-clavitor-error: CV-XXXX`, one-line body.
//!
//! Vault refusals carry the vault's own code ([`ErrorCode`]). Refusals decided by the proxy use
//! the CV-30xx codes of the same table (`clavitor_core::ErrorCode`, listed in `docs/errors.md`);
//! they never change meaning.

use bytes::Bytes;
use clavitor_core::ErrorCode;
use http::{HeaderValue, Response, StatusCode};

use crate::body::{ProxyBody, full};
use crate::vault::ProxyVaultError;

/// Why the proxy refused a request. Never carries a secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The vault refused a reference (its own code).
    Vault(ErrorCode),
    /// CV-3001 (421): the inner Host/`:authority` differs from the CONNECT target.
    Misdirected,
    /// CV-3002 (400): an origin-form request addressed to the proxy itself, or a malformed one.
    NotAProxyRequest,
    /// CV-3003 (403): a resolved value contains CR, LF, NUL or another control byte.
    ControlBytes,
    /// CV-3004 (502): the upstream could not be reached or failed.
    UpstreamFailed,
    /// CV-3005 (502): the vault could not be reached.
    VaultUnreachable,
    /// CV-3006 (403): a secret-bearing request toward a loopback, private, link-local or
    /// metadata address that was not mapped with `--resolve`.
    AddressNotAllowed,
    /// CV-3007 (407): proxy credentials missing or wrong (`--require-auth`).
    ProxyAuthRequired,
    /// CV-3008 (502): the upstream answered a secret-bearing request with a content encoding the
    /// proxy cannot inspect for reflected secrets.
    UninspectableResponse,
    /// CV-3009 (400): a header mentions `clavitor://` but is not a well-formed reference.
    MalformedReference,
}

impl Refusal {
    /// Every refusal the proxy decides itself (the vault's own codes come as [`Refusal::Vault`]).
    pub const PROXY: [Refusal; 9] = [
        Refusal::Misdirected,
        Refusal::NotAProxyRequest,
        Refusal::ControlBytes,
        Refusal::UpstreamFailed,
        Refusal::VaultUnreachable,
        Refusal::AddressNotAllowed,
        Refusal::ProxyAuthRequired,
        Refusal::UninspectableResponse,
        Refusal::MalformedReference,
    ];

    /// The entry of the CV table (`clavitor_core::ErrorCode`) this refusal answers with.
    pub fn error_code(self) -> ErrorCode {
        match self {
            Refusal::Vault(code) => code,
            Refusal::Misdirected => ErrorCode::Misdirected,
            Refusal::NotAProxyRequest => ErrorCode::NotAProxyRequest,
            Refusal::ControlBytes => ErrorCode::ControlBytes,
            Refusal::UpstreamFailed => ErrorCode::UpstreamFailed,
            Refusal::VaultUnreachable => ErrorCode::VaultUnreachable,
            Refusal::AddressNotAllowed => ErrorCode::AddressNotAllowed,
            Refusal::ProxyAuthRequired => ErrorCode::ProxyAuthRequired,
            Refusal::UninspectableResponse => ErrorCode::UninspectableResponse,
            Refusal::MalformedReference => ErrorCode::MalformedReference,
        }
    }

    /// The stable code, e.g. `CV-3001`.
    pub fn code(self) -> &'static str {
        self.error_code().code()
    }

    /// The stable one-line message.
    pub fn message(self) -> &'static str {
        self.error_code().message()
    }

    /// The status the proxy answers with: the table's for its own codes; for a vault refusal,
    /// 502 when the vault could not audit (CV-2050), else 403.
    pub fn status(self) -> StatusCode {
        match self {
            Refusal::Vault(ErrorCode::VaultUnavailable) => StatusCode::BAD_GATEWAY,
            Refusal::Vault(_) => StatusCode::FORBIDDEN,
            own => StatusCode::from_u16(own.error_code().http_status())
                .unwrap_or(StatusCode::BAD_GATEWAY),
        }
    }

    /// The response sent to the client.
    pub(crate) fn response(self) -> Response<ProxyBody> {
        tracing::info!(code = self.code(), "refused: {}", self.message());
        let body = format!("clavitor-proxy: {}: {}\n", self.code(), self.message());
        let mut response = Response::new(full(Bytes::from(body)));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert("x-clavitor-error", HeaderValue::from_static(self.code()));
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        if self == Refusal::ProxyAuthRequired {
            headers.insert(
                http::header::PROXY_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"clavitor\""),
            );
        }
        response
    }
}

impl From<ProxyVaultError> for Refusal {
    fn from(err: ProxyVaultError) -> Self {
        match err {
            ProxyVaultError::Refused(code) => Refusal::Vault(code),
            ProxyVaultError::Unreachable => Refusal::VaultUnreachable,
        }
    }
}

impl From<Refusal> for ErrorCode {
    fn from(refusal: Refusal) -> Self {
        refusal.error_code()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_codes_come_from_the_cv_table() {
        let expected = [
            (Refusal::Misdirected, "CV-3001", 421),
            (Refusal::NotAProxyRequest, "CV-3002", 400),
            (Refusal::ControlBytes, "CV-3003", 403),
            (Refusal::UpstreamFailed, "CV-3004", 502),
            (Refusal::VaultUnreachable, "CV-3005", 502),
            (Refusal::AddressNotAllowed, "CV-3006", 403),
            (Refusal::ProxyAuthRequired, "CV-3007", 407),
            (Refusal::UninspectableResponse, "CV-3008", 502),
            (Refusal::MalformedReference, "CV-3009", 400),
        ];
        assert_eq!(expected.len(), Refusal::PROXY.len());
        for ((refusal, code, status), listed) in expected.into_iter().zip(Refusal::PROXY) {
            assert_eq!(refusal, listed);
            assert_eq!(refusal.code(), code);
            assert_eq!(ErrorCode::from_code(code), Some(refusal.error_code()));
            assert_eq!(refusal.status().as_u16(), status);
            assert!(!refusal.message().is_empty());
        }
    }

    #[test]
    fn vault_refusals_keep_their_code() {
        let denied = Refusal::Vault(ErrorCode::AccessDenied);
        assert_eq!(denied.code(), "CV-2041");
        assert_eq!(denied.status(), StatusCode::FORBIDDEN);
        let unavailable = Refusal::Vault(ErrorCode::VaultUnavailable);
        assert_eq!(unavailable.status(), StatusCode::BAD_GATEWAY);
        let response = Refusal::MalformedReference.response();
        assert_eq!(response.headers()["x-clavitor-error"], "CV-3009");
    }
}
