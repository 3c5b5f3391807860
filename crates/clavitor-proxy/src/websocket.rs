//! WebSocket (HTTP/1.1 upgrade): the handshake is forwarded on a fresh HTTP/1.1 upstream
//! connection, the upstream's own answer (101 with its subprotocol and extensions, or any
//! refusal) is relayed, and after a 101 bytes are piped both ways with an idle timeout.
//!
//! Frames are not inspected: a value injected into the handshake and echoed inside WebSocket
//! frames is not redacted (headers of the handshake answer are).

use std::sync::Arc;

use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use crate::body::{ProxyBody, empty};
use crate::connect::{State, to_client};
use crate::inject::Injected;
use crate::pipe::pipe;
use crate::refusal::Refusal;
use crate::target::Target;
use crate::upstream::ConnectError;

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
    let upstream_upgrade = hyper::upgrade::on(&mut resp);
    let idle = state.config.idle_timeout;
    tokio::spawn(async move {
        match tokio::try_join!(client_upgrade, upstream_upgrade) {
            Ok((client, upstream)) => {
                pipe(TokioIo::new(client), TokioIo::new(upstream), idle).await
            }
            Err(err) => tracing::debug!(error = %err, "websocket upgrade failed"),
        }
    });
    let (mut parts, _body) = resp.into_parts();
    crate::inject::strip_hop_by_hop(&mut parts.headers, true);
    let values: Vec<&[u8]> = injected
        .iter()
        .map(|i| i.value.expose().as_bytes())
        .collect();
    if let Some(needles) = crate::redact::Needles::new(&values) {
        crate::connect::redact_headers(&mut parts.headers, &needles, &|_| {});
    }
    Response::from_parts(parts, empty())
}
