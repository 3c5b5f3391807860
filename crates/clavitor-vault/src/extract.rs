//! Request extractors whose rejections are CV-coded refusals.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use clavitor_core::ErrorCode;
use serde::de::DeserializeOwned;

use crate::error::refusal;

/// JSON body; a malformed or oversized body is CV-1001 / CV-1007.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::BytesRejection(r)) if r.status().as_u16() == 413 => {
                Err(refusal(ErrorCode::PayloadTooLarge))
            }
            Err(_) => Err(refusal(ErrorCode::BadRequest)),
        }
    }
}

/// A JSON response with `Cache-Control: no-store`.
pub fn json<T: serde::Serialize>(value: &T) -> Response {
    let mut res = axum::Json(value).into_response();
    res.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    res
}

/// The bearer credential of a request, `""` when absent. The scheme is
/// matched case-insensitively (RFC 9110).
pub fn bearer(headers: &axum::http::HeaderMap) -> &str {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .unwrap_or("")
}
