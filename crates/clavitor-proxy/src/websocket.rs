//! WebSocket (HTTP/1.1 upgrade): the handshake is forwarded on a fresh HTTP/1.1 upstream
//! connection, the upstream's own answer (101 with its subprotocol and extensions, or any
//! refusal) is relayed, and after a 101 bytes are piped both ways with an idle timeout.
//!
//! When the handshake carried injected values, the server→client direction is parsed frame by
//! frame and every echoed value is redacted (see `ws_frames`); client→server frames pass
//! untouched. Such a handshake is sent without `Sec-WebSocket-Extensions`, so the upstream
//! cannot negotiate permessage-deflate (or any extension that would hide a value from the
//! redactor); an upstream that answers with an extension anyway is refused (CV-3008). Handshakes
//! without injected values keep their extensions and are piped byte for byte.

use std::sync::Arc;

use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use crate::body::{ProxyBody, empty};
use crate::connect::{State, redact_headers, reporter, to_client};
use crate::inject::Injected;
use crate::pipe::{pipe, pipe_transform};
use crate::refusal::Refusal;
use crate::target::Target;
use crate::upstream::ConnectError;
use crate::ws_frames::FrameRedactor;

pub(crate) async fn relay(
    state: Arc<State>,
    target: Target,
    mut parts: http::request::Parts,
    injected: Vec<Injected>,
    client_upgrade: OnUpgrade,
) -> Response<ProxyBody> {
    let connector = if injected.is_empty() {
        &state.upstream.upgrade_open
    } else {
        &state.upstream.upgrade_secret
    };
    let io = match connector.connect(&parts.uri).await {
        Ok(io) => io,
        Err(ConnectError::AddressRefused) => return Refusal::AddressNotAllowed.response(),
        Err(err) => {
            tracing::info!(%target, error = %err, "websocket upstream connect failed");
            return Refusal::UpstreamFailed.response();
        }
    };
    let (mut sender, conn) = match hyper::client::conn::http1::handshake(io).await {
        Ok(pair) => pair,
        Err(_) => return Refusal::UpstreamFailed.response(),
    };
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    let host = if target.port == 443 {
        target.host.clone()
    } else {
        target.authority()
    };
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    parts.uri = match path.parse() {
        Ok(uri) => uri,
        Err(_) => return Refusal::NotAProxyRequest.response(),
    };
    if let Ok(host) = HeaderValue::from_str(&host) {
        parts.headers.insert(header::HOST, host);
    }
    if !injected.is_empty() {
        parts.headers.remove(header::SEC_WEBSOCKET_EXTENSIONS);
    }
    let mut resp = match sender
        .send_request(Request::from_parts(parts, empty()))
        .await
    {
        Ok(resp) => resp,
        Err(err) => {
            tracing::info!(%target, error = %err, "websocket handshake failed upstream");
            return Refusal::UpstreamFailed.response();
        }
    };
    if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
        return to_client(&state, &target, resp, injected);
    }
    let values: Vec<&[u8]> = injected
        .iter()
        .map(|i| i.value.expose().as_bytes())
        .collect();
    let needles = state.needles.get(&values);
    if needles.is_some()
        && resp
            .headers()
            .contains_key(header::SEC_WEBSOCKET_EXTENSIONS)
    {
        tracing::warn!(%target, "refused: websocket extension negotiated without being offered");
        return Refusal::UninspectableResponse.response();
    }
    let upstream_upgrade = hyper::upgrade::on(&mut resp);
    let idle = state.config.idle_timeout;
    let (mut parts, _body) = resp.into_parts();
    crate::inject::strip_hop_by_hop(&mut parts.headers, true);
    let Some(needles) = needles else {
        tokio::spawn(async move {
            match tokio::try_join!(client_upgrade, upstream_upgrade) {
                Ok((client, upstream)) => {
                    pipe(TokioIo::new(client), TokioIo::new(upstream), idle).await
                }
                Err(err) => tracing::debug!(error = %err, "websocket upgrade failed"),
            }
        });
        return Response::from_parts(parts, empty());
    };
    let report = reporter(&state, &target, &injected);
    redact_headers(&mut parts.headers, &needles, report.as_ref());
    tokio::spawn(async move {
        let (client, upstream) = match tokio::try_join!(client_upgrade, upstream_upgrade) {
            Ok(pair) => pair,
            Err(err) => {
                tracing::debug!(error = %err, "websocket upgrade failed");
                return;
            }
        };
        let mut frames = FrameRedactor::new(needles);
        let mut hits = Vec::new();
        let mut redact = |input: &[u8], out: &mut Vec<u8>| {
            let ok = match frames.push(input, out, &mut hits) {
                Ok(()) => true,
                Err(err) => {
                    tracing::info!(%target, error = %err, "websocket closed: server frames cannot be inspected");
                    false
                }
            };
            for hit in hits.drain(..) {
                report(hit);
            }
            ok
        };
        pipe_transform(
            TokioIo::new(client),
            TokioIo::new(upstream),
            idle,
            Some(&mut redact),
        )
        .await;
    });
    Response::from_parts(parts, empty())
}
