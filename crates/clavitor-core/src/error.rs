//! The stable `CV-xxxx` error table. Codes never change meaning; new codes
//! may be added (and documented in `docs/errors.md`).

use std::fmt;

/// Every refusal a client can see. The code and message are stable API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// CV-1001: the request is malformed (bad JSON, missing field, bad name).
    BadRequest,
    /// CV-1002: owner API: no such entry or agent.
    NotFound,
    /// CV-1003: owner API: the entry changed since the revision named.
    Conflict,
    /// CV-1004: owner API: the name is already used.
    NameTaken,
    /// CV-1005: owner API reached from a non-loopback address.
    OwnerLoopbackOnly,
    /// CV-1006: a personal field was written before any personal key exists.
    NoPersonalKey,
    /// CV-1007: the request body is too large.
    PayloadTooLarge,
    /// CV-1009: the route exists but not for this HTTP method.
    MethodNotAllowed,
    /// CV-1010: the passkey is the last one that opens the vault, or the last
    /// one that unlocks the personal key while personal fields exist.
    LastPasskey,
    /// CV-1011: a new setup token for a revoked agent (revocation is final).
    AgentRevoked,
    /// CV-1008: unlocking an agent needs a passkey assertion in the web vault.
    PasskeyRequired,
    /// CV-2041: unknown or ungranted entry or field, or a personal field.
    AccessDenied,
    /// CV-2042: no field named and the entry has several candidates.
    AmbiguousField,
    /// CV-2043: injection toward a host outside the entry's patterns.
    HostNotAllowed,
    /// CV-2044: `get`/`render` of an inject-only field.
    InjectOnly,
    /// CV-2045: too many distinct names in a window.
    RateLimited,
    /// CV-2046: the agent is locked until the owner unlocks it.
    AgentLocked,
    /// CV-2047: the source address is outside the agent's allow-list.
    SourceNotAllowed,
    /// CV-2048: authentication failed.
    InvalidToken,
    /// CV-2050: the audit record could not be written; nothing is released.
    VaultUnavailable,
    /// CV-2099: an unexpected server fault (details only in the server log).
    Internal,
    /// CV-3001 (proxy): the inner Host/`:authority` differs from the CONNECT target.
    Misdirected,
    /// CV-3002 (proxy): an origin-form request addressed to the proxy itself, or a malformed
    /// proxy request.
    NotAProxyRequest,
    /// CV-3003 (proxy): a resolved value contains CR, LF, NUL or another control character, so
    /// it is never injected into a header.
    ControlBytes,
    /// CV-3004 (proxy): the upstream could not be reached or failed.
    UpstreamFailed,
    /// CV-3005 (proxy): the vault could not be reached.
    VaultUnreachable,
    /// CV-3006 (proxy): a secret-bearing request toward a loopback, private, link-local or
    /// metadata address that was not mapped with `--resolve`.
    AddressNotAllowed,
    /// CV-3007 (proxy): proxy credentials missing or wrong (`--require-auth`).
    ProxyAuthRequired,
    /// CV-3008 (proxy): the upstream answered a secret-bearing request with a content encoding
    /// the proxy cannot inspect for reflected secrets.
    UninspectableResponse,
    /// CV-3009 (proxy): a header mentions `clavitor://` but is not a well-formed reference.
    MalformedReference,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 30] = [
        ErrorCode::BadRequest,
        ErrorCode::NotFound,
        ErrorCode::Conflict,
        ErrorCode::NameTaken,
        ErrorCode::OwnerLoopbackOnly,
        ErrorCode::NoPersonalKey,
        ErrorCode::PayloadTooLarge,
        ErrorCode::PasskeyRequired,
        ErrorCode::MethodNotAllowed,
        ErrorCode::LastPasskey,
        ErrorCode::AgentRevoked,
        ErrorCode::AccessDenied,
        ErrorCode::AmbiguousField,
        ErrorCode::HostNotAllowed,
        ErrorCode::InjectOnly,
        ErrorCode::RateLimited,
        ErrorCode::AgentLocked,
        ErrorCode::SourceNotAllowed,
        ErrorCode::InvalidToken,
        ErrorCode::VaultUnavailable,
        ErrorCode::Internal,
        ErrorCode::Misdirected,
        ErrorCode::NotAProxyRequest,
        ErrorCode::ControlBytes,
        ErrorCode::UpstreamFailed,
        ErrorCode::VaultUnreachable,
        ErrorCode::AddressNotAllowed,
        ErrorCode::ProxyAuthRequired,
        ErrorCode::UninspectableResponse,
        ErrorCode::MalformedReference,
    ];

    /// The stable code, e.g. `CV-2041`.
    pub fn code(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "CV-1001",
            ErrorCode::NotFound => "CV-1002",
            ErrorCode::Conflict => "CV-1003",
            ErrorCode::NameTaken => "CV-1004",
            ErrorCode::OwnerLoopbackOnly => "CV-1005",
            ErrorCode::NoPersonalKey => "CV-1006",
            ErrorCode::PayloadTooLarge => "CV-1007",
            ErrorCode::PasskeyRequired => "CV-1008",
            ErrorCode::MethodNotAllowed => "CV-1009",
            ErrorCode::LastPasskey => "CV-1010",
            ErrorCode::AgentRevoked => "CV-1011",
            ErrorCode::AccessDenied => "CV-2041",
            ErrorCode::AmbiguousField => "CV-2042",
            ErrorCode::HostNotAllowed => "CV-2043",
            ErrorCode::InjectOnly => "CV-2044",
            ErrorCode::RateLimited => "CV-2045",
            ErrorCode::AgentLocked => "CV-2046",
            ErrorCode::SourceNotAllowed => "CV-2047",
            ErrorCode::InvalidToken => "CV-2048",
            ErrorCode::VaultUnavailable => "CV-2050",
            ErrorCode::Internal => "CV-2099",
            ErrorCode::Misdirected => "CV-3001",
            ErrorCode::NotAProxyRequest => "CV-3002",
            ErrorCode::ControlBytes => "CV-3003",
            ErrorCode::UpstreamFailed => "CV-3004",
            ErrorCode::VaultUnreachable => "CV-3005",
            ErrorCode::AddressNotAllowed => "CV-3006",
            ErrorCode::ProxyAuthRequired => "CV-3007",
            ErrorCode::UninspectableResponse => "CV-3008",
            ErrorCode::MalformedReference => "CV-3009",
        }
    }

    /// The stable one-line message shown to the client.
    pub fn message(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "Malformed request.",
            ErrorCode::NotFound => "No such entry or agent.",
            ErrorCode::Conflict => "The entry changed since that revision: reload and retry.",
            ErrorCode::NameTaken => "That name is already used.",
            ErrorCode::OwnerLoopbackOnly => "The owner API is reachable only from loopback.",
            ErrorCode::NoPersonalKey => {
                "No personal key yet: enrol a passkey in the web vault first."
            }
            ErrorCode::PayloadTooLarge => "Request too large.",
            ErrorCode::MethodNotAllowed => "Method not allowed on this route.",
            ErrorCode::AgentRevoked => {
                "That agent is revoked, for good: create a new agent (rename the old one to reuse \
                 its name)."
            }
            ErrorCode::LastPasskey => {
                "This passkey cannot be removed: it is the last one that opens the vault or \
                 unlocks your personal fields. Add another passkey first."
            }
            ErrorCode::PasskeyRequired => {
                "A passkey is enrolled: unlock the agent in the web vault with a passkey tap."
            }
            ErrorCode::AccessDenied => "Access denied.",
            ErrorCode::AmbiguousField => "Several fields could be meant: name one with --field.",
            ErrorCode::HostNotAllowed => "Host not allowed for this credential.",
            ErrorCode::InjectOnly => "Inject-only field: use it through the proxy.",
            ErrorCode::RateLimited => "Rate limit exceeded.",
            ErrorCode::AgentLocked => "Agent locked: the owner must unlock it with a passkey.",
            ErrorCode::SourceNotAllowed => "Source address not allowed.",
            ErrorCode::InvalidToken => "Invalid, expired or revoked token.",
            ErrorCode::VaultUnavailable => "Vault unavailable: the audit log cannot be written.",
            ErrorCode::Internal => "Internal error.",
            ErrorCode::Misdirected => "Misdirected request: Host differs from the CONNECT target.",
            ErrorCode::NotAProxyRequest => {
                "This is the Clavitor proxy: use it through HTTPS_PROXY, not directly."
            }
            ErrorCode::ControlBytes => "Value contains control characters: not injected.",
            ErrorCode::UpstreamFailed => "Upstream unreachable or failed.",
            ErrorCode::VaultUnreachable => "Vault unreachable.",
            ErrorCode::AddressNotAllowed => {
                "Secrets are not sent to loopback, private or metadata addresses."
            }
            ErrorCode::ProxyAuthRequired => "Proxy authentication required.",
            ErrorCode::UninspectableResponse => {
                "Upstream response encoding cannot be inspected for reflected secrets."
            }
            ErrorCode::MalformedReference => "Malformed clavitor:// reference.",
        }
    }

    /// The HTTP status the vault answers with (for the proxy's CV-30xx codes: the status the
    /// proxy answers with).
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::NotFound => 404,
            ErrorCode::Conflict
            | ErrorCode::NameTaken
            | ErrorCode::NoPersonalKey
            | ErrorCode::LastPasskey
            | ErrorCode::AgentRevoked => 409,
            ErrorCode::OwnerLoopbackOnly | ErrorCode::PasskeyRequired => 403,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::AmbiguousField => 400,
            ErrorCode::AccessDenied
            | ErrorCode::HostNotAllowed
            | ErrorCode::InjectOnly
            | ErrorCode::SourceNotAllowed => 403,
            ErrorCode::RateLimited => 429,
            ErrorCode::AgentLocked => 423,
            ErrorCode::InvalidToken => 401,
            ErrorCode::VaultUnavailable => 503,
            ErrorCode::Internal => 500,
            ErrorCode::Misdirected => 421,
            ErrorCode::NotAProxyRequest | ErrorCode::MalformedReference => 400,
            ErrorCode::ControlBytes | ErrorCode::AddressNotAllowed => 403,
            ErrorCode::UpstreamFailed
            | ErrorCode::VaultUnreachable
            | ErrorCode::UninspectableResponse => 502,
            ErrorCode::ProxyAuthRequired => 407,
        }
    }

    /// Looks a code up by its `CV-xxxx` string.
    pub fn from_code(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.code() == code)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl std::error::Error for ErrorCode {}

/// The JSON body of every refusal: `{"code":"CV-2041","message":"Access denied."}`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

impl From<ErrorCode> for ErrorBody {
    fn from(code: ErrorCode) -> Self {
        ErrorBody {
            code: code.code().to_string(),
            message: code.message().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn design_table_is_exact() {
        let table = [
            (ErrorCode::AccessDenied, "CV-2041", "Access denied."),
            (
                ErrorCode::HostNotAllowed,
                "CV-2043",
                "Host not allowed for this credential.",
            ),
            (
                ErrorCode::InjectOnly,
                "CV-2044",
                "Inject-only field: use it through the proxy.",
            ),
            (ErrorCode::RateLimited, "CV-2045", "Rate limit exceeded."),
            (
                ErrorCode::AgentLocked,
                "CV-2046",
                "Agent locked: the owner must unlock it with a passkey.",
            ),
            (
                ErrorCode::SourceNotAllowed,
                "CV-2047",
                "Source address not allowed.",
            ),
            (
                ErrorCode::InvalidToken,
                "CV-2048",
                "Invalid, expired or revoked token.",
            ),
            (
                ErrorCode::VaultUnavailable,
                "CV-2050",
                "Vault unavailable: the audit log cannot be written.",
            ),
        ];
        for (code, id, msg) in table {
            assert_eq!(code.code(), id);
            assert_eq!(code.message(), msg);
            assert_eq!(ErrorCode::from_code(id), Some(code));
        }
    }

    #[test]
    fn codes_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.code()), "duplicate {}", c.code());
        }
    }
}
