//! The listener: plain HTTP/1.1 proxy protocol toward clients (CONNECT, absolute-form plain
//! HTTP), optional proxy authentication, refusal of origin-form requests to the proxy itself.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use http::{Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::body::{ProxyBody, empty};
use crate::ca::Ca;
use crate::config::ProxyConfig;
use crate::connect::{State, forward, tunnel};
use crate::inject::{has_references, strip_hop_by_hop};
use crate::leaf::LeafCache;
use crate::refusal::Refusal;
use crate::target::Target;
use crate::upstream::{Upstream, UpstreamSetupError};
use crate::vault::{SharedVault, Vault};

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("refusing to listen on non-loopback address {0} without an explicit override")]
    NonLoopback(SocketAddr),
    #[error(transparent)]
    Upstream(#[from] UpstreamSetupError),
}

/// A bound proxy, ready to [`run`](Proxy::run).
pub struct Proxy {
    listener: TcpListener,
    state: Arc<State>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("listen", &self.listener.local_addr().ok())
            .finish()
    }
}

impl Proxy {
    /// Binds the listener (loopback only unless `config.allow_non_loopback`) and prepares the
    /// upstream clients (platform roots plus `config.upstream_ca_files`).
    pub async fn bind<V: Vault>(
        config: ProxyConfig,
        ca: Arc<Ca>,
        vault: Arc<V>,
    ) -> Result<Proxy, ProxyError> {
        if !config.listen.ip().is_loopback() && !config.allow_non_loopback {
            return Err(ProxyError::NonLoopback(config.listen));
        }
        let upstream = Upstream::new(&config)?;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ProxyError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let vault: SharedVault = vault;
        let state = Arc::new(State {
            leaves: LeafCache::new(ca, config.leaf_cache_size),
            config,
            vault,
            upstream,
            needles: crate::redact::NeedleCache::new(64),
        });
        Ok(Proxy { listener, state })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or(self.state.config.listen)
    }

    /// Accepts clients until `shutdown` completes. Connections in flight are not awaited.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), ProxyError> {
        tokio::pin!(shutdown);
        loop {
            let (tcp, peer) = tokio::select! {
                () = &mut shutdown => return Ok(()),
                accepted = self.listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(err) => {
                        tracing::warn!(error = %err, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = tcp.set_nodelay(true);
            let state = self.state.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let state = state.clone();
                    async move { Ok::<_, Infallible>(handle_outer(state, peer, req).await) }
                });
                if let Err(err) = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .with_upgrades()
                    .await
                {
                    tracing::debug!(error = %err, "client connection ended with an error");
                }
            });
        }
    }
}

/// Binds and runs the proxy until `shutdown` completes.
pub async fn serve<V: Vault>(
    config: ProxyConfig,
    ca: Arc<Ca>,
    vault: Arc<V>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ProxyError> {
    let proxy = Proxy::bind(config, ca, vault).await?;
    tracing::info!(listen = %proxy.local_addr(), "clavitor proxy listening");
    proxy.run(shutdown).await
}

fn authorized(state: &State, req: &Request<Incoming>) -> bool {
    let Some(creds) = &state.config.require_auth else {
        return true;
    };
    let expected =
        data_encoding::BASE64.encode(format!("{}:{}", creds.username, creds.password).as_bytes());
    req.headers()
        .get(header::PROXY_AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("basic")
                .then(|| token.trim().to_owned())
        })
        .is_some_and(|token| constant_time_eq(token.as_bytes(), expected.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn handle_outer(
    state: Arc<State>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Response<ProxyBody> {
    if !authorized(&state, &req) {
        tracing::info!(%peer, "refused: proxy authentication required");
        return Refusal::ProxyAuthRequired.response();
    }
    if req.method() == Method::CONNECT {
        let Some(target) = req
            .uri()
            .authority()
            .and_then(|a| Target::from_authority(a, 443))
        else {
            return Refusal::NotAProxyRequest.response();
        };
        tracing::debug!(%peer, %target, "CONNECT");
        tokio::spawn(async move {
            match hyper::upgrade::on(req).await {
                Ok(upgraded) => tunnel(state, upgraded, target).await,
                Err(err) => tracing::debug!(error = %err, "CONNECT upgrade failed"),
            }
        });
        let mut resp = Response::new(empty());
        *resp.status_mut() = StatusCode::OK;
        return resp;
    }
    if req.uri().scheme_str() == Some("http") {
        return plain_http(state, req).await;
    }
    Refusal::NotAProxyRequest.response()
}

/// Absolute-form `http://` request: forwarded untouched when it carries no reference; a
/// reference over plain HTTP is refused (CV-2043) and nothing is sent.
async fn plain_http(state: Arc<State>, req: Request<Incoming>) -> Response<ProxyBody> {
    let Some(target) = req
        .uri()
        .authority()
        .and_then(|a| Target::from_authority(a, 80))
    else {
        return Refusal::NotAProxyRequest.response();
    };
    if has_references(req.headers()) {
        tracing::info!(%target, "refused: reference over plain HTTP");
        return Refusal::Vault(clavitor_core::ErrorCode::HostNotAllowed).response();
    }
    let (mut parts, body) = req.into_parts();
    parts.headers.remove(header::HOST);
    strip_hop_by_hop(&mut parts.headers, false);
    forward(state, target, parts, body, Vec::new()).await
}
