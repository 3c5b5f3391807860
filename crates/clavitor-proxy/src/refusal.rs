//! Refusals the proxy answers itself: status, `x-clavitor-error: CV-XXXX`, one-line body.
//!
//! Vault refusals carry the vault's own code ([`ErrorCode`]). Refusals decided by the proxy use
//! the CV-30xx codes below (to be listed in `docs/errors.md`); they never change meaning.

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
    pub fn code(self) -> &'static str {
        match self {
            Refusal::Vault(code) => code.code(),
            Refusal::Misdirected => "CV-3001",
            Refusal::NotAProxyRequest => "CV-3002",
            Refusal::ControlBytes => "CV-3003",
            Refusal::UpstreamFailed => "CV-3004",
            Refusal::VaultUnreachable => "CV-3005",
            Refusal::AddressNotAllowed => "CV-3006",
            Refusal::ProxyAuthRequired => "CV-3007",
            Refusal::UninspectableResponse => "CV-3008",
            Refusal::MalformedReference => "CV-3009",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Refusal::Vault(code) => code.message(),
            Refusal::Misdirected => "Misdirected request: Host differs from the CONNECT target.",
            Refusal::NotAProxyRequest => {
                "This is the Clavitor proxy: use it through HTTPS_PROXY, not directly."
            }
            Refusal::ControlBytes => "Value contains control characters: not injected.",
            Refusal::UpstreamFailed => "Upstream unreachable or failed.",
            Refusal::VaultUnreachable => "Vault unreachable.",
            Refusal::AddressNotAllowed => {
                "Secrets are not sent to loopback, private or metadata addresses."
            }
            Refusal::ProxyAuthRequired => "Proxy authentication required.",
            Refusal::UninspectableResponse => {
                "Upstream response encoding cannot be inspected for reflected secrets."
            }
            Refusal::MalformedReference => "Malformed clavitor:// reference.",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Refusal::Vault(ErrorCode::VaultUnavailable) => StatusCode::BAD_GATEWAY,
            Refusal::Vault(_) => StatusCode::FORBIDDEN,
            Refusal::Misdirected => StatusCode::MISDIRECTED_REQUEST,
            Refusal::NotAProxyRequest | Refusal::MalformedReference => StatusCode::BAD_REQUEST,
            Refusal::ControlBytes | Refusal::AddressNotAllowed => StatusCode::FORBIDDEN,
            Refusal::UpstreamFailed
            | Refusal::VaultUnreachable
            | Refusal::UninspectableResponse => StatusCode::BAD_GATEWAY,
            Refusal::ProxyAuthRequired => StatusCode::PROXY_AUTHENTICATION_REQUIRED,
        }
    }

    /// The response sent to the client.
    pub(crate) fn response(self) -> Response<ProxyBody> {
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
