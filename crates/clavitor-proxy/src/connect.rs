//! One CONNECT tunnel: passthrough, or TLS termination with a leaf for the CONNECT host and an
//! HTTP/1.1 or HTTP/2 server (ALPN) whose requests are checked, injected and forwarded.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use http::{HeaderValue, Request, Response, StatusCode, Version, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::upgrade::Upgraded;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio_rustls::TlsAcceptor;

use crate::body::{IdleBody, ProxyBody};
use crate::config::ProxyConfig;
use crate::inject::{Injected, inject, strip_hop_by_hop};
use crate::leaf::LeafCache;
use crate::pipe::pipe;
use crate::redact::{ContentCoding, NeedleCache, Needles, redact_body, restrict_accept_encoding};
use crate::refusal::Refusal;
use crate::target::Target;
use crate::upstream::{Upstream, is_address_refused};
use crate::vault::SharedVault;
use crate::websocket;

/// At most this many reflections of one response are reported to the vault (each is logged).
const MAX_REFLECTION_REPORTS: usize = 16;

pub(crate) struct State {
    pub config: ProxyConfig,
    pub leaves: LeafCache,
    pub vault: SharedVault,
    pub upstream: Upstream,
    pub needles: NeedleCache,
}

/// Runs one tunnel after the client received `200` to its CONNECT.
pub(crate) async fn tunnel(state: Arc<State>, upgraded: Upgraded, target: Target) {
    let io = TokioIo::new(upgraded);
    let idle = state.config.idle_timeout;
    if state
        .config
        .passthrough
        .iter()
        .any(|p| p.matches(&target.host, target.port))
    {
        tracing::debug!(%target, "passthrough tunnel");
        match state.upstream.tcp(&target).await {
            Ok(tcp) => pipe(io, tcp, idle).await,
            Err(err) => tracing::info!(%target, error = %err, "passthrough connect failed"),
        }
        return;
    }
    let server_config = match state.leaves.server_config(&target.host) {
        Ok(config) => config,
        Err(err) => {
            tracing::warn!(%target, error = %err, "cannot issue a leaf certificate");
            return;
        }
    };
    let accept = TlsAcceptor::from(server_config).accept(io);
    let tls = match tokio::time::timeout(state.config.connect_timeout, accept).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(err)) => {
            tracing::info!(
                %target,
                error = %err,
                "client TLS handshake failed (does the client trust the Clavitor CA? eval \"$(clavitor-cli env)\")"
            );
            return;
        }
        Err(_) => {
            tracing::info!(%target, "client TLS handshake timed out");
            return;
        }
    };
    let service = service_fn(move |req| {
        let state = state.clone();
        let target = target.clone();
        async move { Ok::<_, Infallible>(handle_inner(state, target, req).await) }
    });
    let builder = auto::Builder::new(TokioExecutor::new());
    if let Err(err) = builder
        .serve_connection_with_upgrades(TokioIo::new(tls), service)
        .await
    {
        tracing::debug!(error = %err, "intercepted connection ended with an error");
    }
}

/// Whether the inner request addresses exactly the CONNECT target (Host and/or `:authority`).
fn addresses_target(req: &Request<Incoming>, target: &Target) -> bool {
    let mut seen = false;
    if let Some(authority) = req.uri().authority() {
        seen = true;
        if Target::from_authority(authority, 443).as_ref() != Some(target) {
            return false;
        }
    }
    let mut hosts = req.headers().get_all(header::HOST).iter();
    if let Some(host) = hosts.next() {
        seen = true;
        let parsed = host.to_str().ok().and_then(|h| Target::parse(h, 443));
        if parsed.as_ref() != Some(target) || hosts.next().is_some() {
            return false;
        }
    }
    seen
}

pub(crate) fn is_websocket(req: &Request<Incoming>) -> bool {
    let connection_upgrade = req
        .headers()
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    let upgrade_ws = req
        .headers()
        .get(header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    req.version() == Version::HTTP_11 && connection_upgrade && upgrade_ws
}

async fn handle_inner(
    state: Arc<State>,
    target: Target,
    mut req: Request<Incoming>,
) -> Response<ProxyBody> {
    if !addresses_target(&req, &target) {
        tracing::info!(%target, "refused: inner Host differs from the CONNECT target");
        return Refusal::Misdirected.response();
    }
    let websocket = is_websocket(&req);
    let client_upgrade = websocket.then(|| hyper::upgrade::on(&mut req));
    let (mut parts, body) = req.into_parts();
    parts.headers.remove(header::HOST);
    strip_hop_by_hop(&mut parts.headers, websocket);
    let injected = match inject(&mut parts.headers, &state.vault, &target).await {
        Ok(injected) => injected,
        Err(refusal) => {
            tracing::info!(%target, code = refusal.code(), "request refused");
            return refusal.response();
        }
    };
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let uri = match format!("https://{}{}", target.authority(), path).parse() {
        Ok(uri) => uri,
        Err(_) => return Refusal::NotAProxyRequest.response(),
    };
    tracing::debug!(%target, method = %parts.method, injected = injected.len(), "forwarding");
    parts.uri = uri;
    if let Some(client_upgrade) = client_upgrade {
        return websocket::relay(state, target, parts, injected, client_upgrade).await;
    }
    forward(state, target, parts, body, injected).await
}

/// Sends a prepared request upstream and prepares the response for the client.
pub(crate) async fn forward(
    state: Arc<State>,
    target: Target,
    mut parts: http::request::Parts,
    body: Incoming,
    injected: Vec<Injected>,
) -> Response<ProxyBody> {
    let secret = !injected.is_empty();
    if secret {
        restrict_accept_encoding(&mut parts.headers);
    }
    parts.headers.remove(header::EXPECT);
    parts.version = Version::HTTP_11;
    let idle = state.config.idle_timeout;
    let req = Request::from_parts(parts, IdleBody::new(body, idle).boxed_unsync());
    let client = if secret {
        &state.upstream.secret
    } else {
        &state.upstream.open
    };
    match client.request(req).await {
        Ok(resp) => to_client(&state, &target, resp, injected),
        Err(err) if is_address_refused(&err) => {
            tracing::warn!(%target, "refused: secret toward a non-public address");
            Refusal::AddressNotAllowed.response()
        }
        Err(err) => {
            tracing::warn!(%target, cause = %error_chain(&err), "upstream request failed");
            Refusal::UpstreamFailed.response()
        }
    }
}

/// Strips hop-by-hop headers and, when values were injected, redacts their reflections.
pub(crate) fn to_client(
    state: &Arc<State>,
    target: &Target,
    resp: Response<Incoming>,
    injected: Vec<Injected>,
) -> Response<ProxyBody> {
    let idle = state.config.idle_timeout;
    let (mut parts, body) = resp.into_parts();
    let upgrade = parts.status == StatusCode::SWITCHING_PROTOCOLS;
    strip_hop_by_hop(&mut parts.headers, upgrade);
    let values: Vec<&[u8]> = injected
        .iter()
        .map(|i| i.value.expose().as_bytes())
        .collect();
    let Some(needles) = state.needles.get(&values) else {
        return Response::from_parts(parts, IdleBody::new(body, idle).boxed_unsync());
    };
    let report = reporter(state, target, &injected);
    redact_headers(&mut parts.headers, &needles, report.as_ref());
    let Some(coding) = ContentCoding::from_headers(&parts.headers) else {
        tracing::warn!(%target, "refused: response encoding cannot be inspected");
        return Refusal::UninspectableResponse.response();
    };
    if coding != ContentCoding::Identity {
        parts.headers.remove(header::CONTENT_ENCODING);
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = redact_body(body, coding, needles, idle, report);
    Response::from_parts(parts, body)
}

pub(crate) fn redact_headers(
    headers: &mut http::HeaderMap,
    needles: &Needles,
    report: &(dyn Fn(usize) + Send + Sync),
) {
    for value in headers.values_mut() {
        let (redacted, hits) = needles.redact_all(value.as_bytes());
        if hits.is_empty() {
            continue;
        }
        for hit in hits {
            report(hit);
        }
        *value = HeaderValue::from_bytes(&redacted)
            .unwrap_or_else(|_| HeaderValue::from_static("[REDACTED]"));
    }
}

/// Reports reflections to the vault (capped per response) and logs them (names only).
pub(crate) fn reporter(
    state: &Arc<State>,
    target: &Target,
    injected: &[Injected],
) -> Arc<dyn Fn(usize) + Send + Sync> {
    let vault = state.vault.clone();
    let target = target.clone();
    let names: Vec<(String, String)> = injected
        .iter()
        .map(|i| (i.entry.clone(), i.field.clone()))
        .collect();
    let count = AtomicUsize::new(0);
    Arc::new(move |index: usize| {
        let Some((entry, field)) = names.get(index).cloned() else {
            return;
        };
        let n = count.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(%target, entry = %entry, field = %field, "injected value reflected by the upstream: redacted");
        if n >= MAX_REFLECTION_REPORTS {
            return;
        }
        let vault = vault.clone();
        let target = target.clone();
        tokio::spawn(async move {
            vault
                .report_reflection(&entry, &field, &target.host, target.port)
                .await;
        });
    })
}

/// An error and its sources, `outer: inner: …` (hyper's own text stops at
/// "client error (Connect)", which says nothing to the user).
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}
