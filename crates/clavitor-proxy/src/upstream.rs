//! The upstream side: a connector that resolves (through `--resolve` first), refuses
//! non-public addresses for secret-bearing requests, and speaks verified TLS (platform roots
//! plus `--upstream-ca`) with ALPN h2/http1.1; and pooled hyper clients on top of it.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::ClientConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::body::ProxyBody;
use crate::config::{ProxyConfig, normalize_host};
use crate::target::{Target, is_public};

#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    #[error("secret-bearing request toward a non-public address")]
    AddressRefused,
    #[error("cannot resolve upstream host")]
    Resolve,
    #[error("upstream connect timed out")]
    Timeout,
    #[error("upstream connect failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("bad upstream URI")]
    BadUri,
}

#[derive(Debug, thiserror::Error)]
pub enum UpstreamSetupError {
    #[error("{path}: cannot read upstream CA: {reason}")]
    UpstreamCa { path: String, reason: String },
    #[error("TLS setup failed: {0}")]
    Tls(#[from] rustls::Error),
}

struct Shared {
    resolve: HashMap<(String, u16), SocketAddr>,
    connect_timeout: Duration,
}

/// Connects to one upstream. `restricted` connectors (for secret-bearing requests) refuse
/// loopback/private/link-local/metadata addresses unless the host:port was mapped.
#[derive(Clone)]
pub(crate) struct Connector {
    shared: Arc<Shared>,
    tls: TlsConnector,
    restricted: bool,
}

pub(crate) type UpstreamClient = Client<Connector, ProxyBody>;

/// Everything the proxy needs to talk to upstreams.
pub(crate) struct Upstream {
    /// Pooled client for requests without injected values.
    pub open: UpstreamClient,
    /// Pooled client for secret-bearing requests (restricted addresses).
    pub secret: UpstreamClient,
    /// HTTP/1.1-only connectors for upgrades (WebSocket), open and restricted.
    pub upgrade_open: Connector,
    pub upgrade_secret: Connector,
    shared: Arc<Shared>,
}

impl Upstream {
    pub(crate) fn new(config: &ProxyConfig) -> Result<Upstream, UpstreamSetupError> {
        let mut extra = Vec::new();
        for path in &config.upstream_ca_files {
            extra.extend(load_pem_certs(path)?);
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier = Arc::new(rustls_platform_verifier::Verifier::new_with_extra_roots(
            extra,
            provider.clone(),
        )?);
        let tls = |alpn: &[&[u8]]| -> Result<TlsConnector, UpstreamSetupError> {
            let mut cfg = ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()?
                .dangerous()
                .with_custom_certificate_verifier(verifier.clone())
                .with_no_client_auth();
            cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
            Ok(TlsConnector::from(Arc::new(cfg)))
        };
        let tls_any = tls(&[b"h2", b"http/1.1"])?;
        let tls_h1 = tls(&[b"http/1.1"])?;
        let shared = Arc::new(Shared {
            resolve: config
                .resolve
                .iter()
                .map(|r| ((r.host.clone(), r.port), r.addr))
                .collect(),
            connect_timeout: config.connect_timeout,
        });
        let connector = |tls: &TlsConnector, restricted| Connector {
            shared: shared.clone(),
            tls: tls.clone(),
            restricted,
        };
        let client = |c: Connector| {
            Client::builder(TokioExecutor::new())
                .timer(TokioTimer::new())
                .pool_timer(TokioTimer::new())
                .pool_idle_timeout(Duration::from_secs(30))
                .pool_max_idle_per_host(64)
                .build(c)
        };
        Ok(Upstream {
            open: client(connector(&tls_any, false)),
            secret: client(connector(&tls_any, true)),
            upgrade_open: connector(&tls_h1, false),
            upgrade_secret: connector(&tls_h1, true),
            shared,
        })
    }

    /// Plain TCP to a target (passthrough tunnels; no secrets, no restriction).
    pub(crate) async fn tcp(&self, target: &Target) -> Result<TcpStream, ConnectError> {
        let addrs = resolve(&self.shared, &target.host, target.port, false).await?;
        tcp_connect(&addrs, self.shared.connect_timeout).await
    }
}

fn load_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, UpstreamSetupError> {
    let err = |reason: String| UpstreamSetupError::UpstreamCa {
        path: path.display().to_string(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err("no certificate in file".into()));
    }
    Ok(certs)
}

async fn resolve(
    shared: &Shared,
    host: &str,
    port: u16,
    restricted: bool,
) -> Result<Vec<SocketAddr>, ConnectError> {
    if let Some(addr) = shared.resolve.get(&(host.to_owned(), port)) {
        return Ok(vec![*addr]);
    }
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|_| ConnectError::Resolve)?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(ConnectError::Resolve);
    }
    if restricted && addrs.iter().any(|a| !is_public(a.ip())) {
        return Err(ConnectError::AddressRefused);
    }
    Ok(addrs)
}

async fn tcp_connect(addrs: &[SocketAddr], timeout: Duration) -> Result<TcpStream, ConnectError> {
    let mut last = ConnectError::Resolve;
    for addr in addrs {
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Ok(Err(e)) => last = ConnectError::Io(e),
            Err(_) => last = ConnectError::Timeout,
        }
    }
    Err(last)
}

impl Connector {
    pub(crate) async fn connect(&self, uri: &Uri) -> Result<UpstreamIo, ConnectError> {
        let host = normalize_host(uri.host().ok_or(ConnectError::BadUri)?);
        let https = uri.scheme_str() == Some("https");
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let addrs = resolve(&self.shared, &host, port, self.restricted).await?;
        let tcp = tcp_connect(&addrs, self.shared.connect_timeout).await?;
        if !https {
            return Ok(UpstreamIo::Plain(TokioIo::new(tcp)));
        }
        let name = ServerName::try_from(host).map_err(|_| ConnectError::BadUri)?;
        let tls = tokio::time::timeout(self.shared.connect_timeout, self.tls.connect(name, tcp))
            .await
            .map_err(|_| ConnectError::Timeout)??;
        Ok(UpstreamIo::Tls(Box::new(TokioIo::new(tls))))
    }
}

impl tower_service::Service<Uri> for Connector {
    type Response = UpstreamIo;
    type Error = ConnectError;
    type Future = Pin<Box<dyn Future<Output = Result<UpstreamIo, ConnectError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), ConnectError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { this.connect(&uri).await })
    }
}

/// A connection to an upstream, plain or TLS.
pub(crate) enum UpstreamIo {
    Plain(TokioIo<TcpStream>),
    Tls(Box<TokioIo<TlsStream<TcpStream>>>),
}

impl Connection for UpstreamIo {
    fn connected(&self) -> Connected {
        match self {
            UpstreamIo::Plain(_) => Connected::new(),
            UpstreamIo::Tls(tls) => {
                let (_, session) = tls.inner().get_ref();
                if session.alpn_protocol() == Some(b"h2") {
                    Connected::new().negotiated_h2()
                } else {
                    Connected::new()
                }
            }
        }
    }
}

impl hyper::rt::Read for UpstreamIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            UpstreamIo::Plain(io) => Pin::new(io).poll_read(cx, buf),
            UpstreamIo::Tls(io) => Pin::new(io.as_mut()).poll_read(cx, buf),
        }
    }
}

impl hyper::rt::Write for UpstreamIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            UpstreamIo::Plain(io) => Pin::new(io).poll_write(cx, buf),
            UpstreamIo::Tls(io) => Pin::new(io.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            UpstreamIo::Plain(io) => Pin::new(io).poll_flush(cx),
            UpstreamIo::Tls(io) => Pin::new(io.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            UpstreamIo::Plain(io) => Pin::new(io).poll_shutdown(cx),
            UpstreamIo::Tls(io) => Pin::new(io.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            UpstreamIo::Plain(io) => Pin::new(io).poll_write_vectored(cx, bufs),
            UpstreamIo::Tls(io) => Pin::new(io.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            UpstreamIo::Plain(io) => io.is_write_vectored(),
            UpstreamIo::Tls(io) => io.is_write_vectored(),
        }
    }
}

/// Whether a client error comes from the address restriction.
pub(crate) fn is_address_refused(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(err);
    while let Some(e) = current {
        if matches!(
            e.downcast_ref::<ConnectError>(),
            Some(ConnectError::AddressRefused)
        ) {
            return true;
        }
        current = e.source();
    }
    false
}
