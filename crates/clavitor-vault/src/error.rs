//! The vault's error type and its HTTP form.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use clavitor_core::ErrorCode;
use clavitor_core::error::ErrorBody;
use clavitor_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// A refusal with a stable code, shown to the client as is.
    #[error("{0}")]
    Refused(ErrorCode),
    /// The store failed: nothing was released (CV-2050).
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A stored ciphertext did not open (wrong key file, tampering).
    #[error("a stored record could not be decrypted")]
    Corrupt,
}

impl From<ErrorCode> for VaultError {
    fn from(code: ErrorCode) -> Self {
        VaultError::Refused(code)
    }
}

impl VaultError {
    pub fn code(&self) -> ErrorCode {
        match self {
            VaultError::Refused(code) => *code,
            VaultError::Store(_) => ErrorCode::VaultUnavailable,
            VaultError::Corrupt => ErrorCode::Internal,
        }
    }
}

/// The one way refusals leave the vault: same status, headers and body for
/// the same code, whatever the cause.
pub fn refusal(code: ErrorCode) -> Response {
    let status = StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::FORBIDDEN);
    let body = serde_json::to_vec(&ErrorBody::from(code)).unwrap_or_default();
    let mut res = (status, body).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

impl IntoResponse for VaultError {
    fn into_response(self) -> Response {
        match &self {
            VaultError::Refused(_) => {}
            // Internal detail goes to the log once; the client gets the code.
            other => tracing::error!(error = %other, "request failed"),
        }
        refusal(self.code())
    }
}
