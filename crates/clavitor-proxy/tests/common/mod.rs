//! Test harness: a TLS upstream of our own, an in-test `Vault`, the proxy, log capture and a
//! small client that goes through the proxy.
//!
//! `TestVault` stands in for the real vault only at library level (grant + exact host:port
//! binding); the full-system tests with the real vault and `clavitor-cli proxy` are in
//! `crates/clavitor-cli/tests/proxy_clients.rs`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use clavitor_core::{ErrorCode, Secret};
use clavitor_proxy::{Ca, Proxy, ProxyConfig, ProxyVaultError, Vault};
use futures_util::{SinkExt, StreamExt};
use http::{Request, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// The canary secret: must reach the upstream, never the client or the logs.
pub const CANARY: &str = "sk-canary-7f3a9c1e5b2d4f60";
pub const EVIL: &str = "abc\r\nX-Evil: 1";
pub const HOST: &str = "api.openai.test";

// ---------------------------------------------------------------- logs

static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

#[derive(Clone)]
struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Whether [`init`] installs the TRACE capture (the upload test turns it off).
pub static CAPTURE_LOGS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Installs the crypto provider and a TRACE-level subscriber capturing every log line.
pub fn init() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    if !CAPTURE_LOGS.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = LogWriter(buf.clone());
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .try_init();
        buf
    });
}

pub fn logs() -> String {
    String::from_utf8_lossy(&LOGS.get().unwrap().lock().unwrap()).into_owned()
}

// ---------------------------------------------------------------- vault

/// A value and the (host, port) pairs it may be injected toward (port 0: any).
type Binding = (String, Vec<(String, u16)>);

#[derive(Default)]
pub struct TestVault {
    /// (entry, field) lower-cased -> (value, allowed (host, port)).
    entries: HashMap<(String, String), Binding>,
    pub resolves: Mutex<Vec<(String, String, String, u16)>>,
    pub reflections: Mutex<Vec<(String, String, String, u16)>>,
}

impl TestVault {
    pub fn new() -> TestVault {
        let mut v = TestVault::default();
        v.add("OpenAI", "key", CANARY, &[(HOST, 443)]);
        v.add("Evil", "key", EVIL, &[(HOST, 443)]);
        v.add("Loop", "key", "loopback-secret-123", &[("localhost", 0)]);
        v.add(
            "Mapped IP",
            "token",
            "mapped-ip-secret-456",
            &[("127.0.0.1", 0)],
        );
        v
    }

    fn add(&mut self, entry: &str, field: &str, value: &str, hosts: &[(&str, u16)]) {
        self.entries.insert(
            (entry.to_lowercase(), field.to_lowercase()),
            (
                value.to_owned(),
                hosts.iter().map(|(h, p)| (h.to_string(), *p)).collect(),
            ),
        );
    }
}

impl Vault for TestVault {
    async fn resolve(
        &self,
        entry: &str,
        field: &str,
        host: &str,
        port: u16,
    ) -> Result<Secret, ProxyVaultError> {
        self.resolves.lock().unwrap().push((
            entry.to_owned(),
            field.to_owned(),
            host.to_owned(),
            port,
        ));
        let Some((value, hosts)) = self
            .entries
            .get(&(entry.to_lowercase(), field.to_lowercase()))
        else {
            return Err(ProxyVaultError::Refused(ErrorCode::AccessDenied));
        };
        if hosts
            .iter()
            .any(|(h, p)| h == host && (*p == 0 || *p == port))
        {
            Ok(Secret::new(value.clone()))
        } else {
            Err(ProxyVaultError::Refused(ErrorCode::HostNotAllowed))
        }
    }

    async fn report_reflection(&self, entry: &str, field: &str, host: &str, port: u16) {
        self.reflections.lock().unwrap().push((
            entry.to_owned(),
            field.to_owned(),
            host.to_owned(),
            port,
        ));
    }
}

// ---------------------------------------------------------------- upstream

#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub version: http::Version,
    pub headers: Vec<(String, String)>,
}

pub struct Upstream {
    pub addr: SocketAddr,
    /// An HTTP/1.1-only server that answers one request per connection without announcing
    /// `Connection: close`, then closes it: pooled connections to it go stale.
    pub stale_addr: SocketAddr,
    pub stale_connections: Arc<std::sync::atomic::AtomicUsize>,
    pub ca_path: PathBuf,
    pub log: Arc<Mutex<Vec<Recorded>>>,
    _dir: tempfile::TempDir,
}

impl Upstream {
    pub fn requests_to(&self, path_prefix: &str) -> Vec<Recorded> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path.starts_with(path_prefix))
            .cloned()
            .collect()
    }
}

type UBody = BoxBody<Bytes, Infallible>;

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<UBody> {
    let mut r = Response::new(Full::new(body.into()).boxed());
    *r.status_mut() = status;
    r
}

/// A TLS upstream (its own test CA; SANs for the test hosts and 127.0.0.1), HTTP/1.1 + h2.
pub async fn start_upstream() -> Upstream {
    let dir = tempfile::tempdir().unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "test upstream CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let ca_path = dir.path().join("upstream-ca.pem");
    std::fs::write(&ca_path, ca_cert.pem()).unwrap();

    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf_params = CertificateParams::new(vec![
        HOST.to_owned(),
        "other.test".to_owned(),
        "api.openai.test.evil.test".to_owned(),
        "localhost".to_owned(),
        "stale.test".to_owned(),
    ])
    .unwrap();
    leaf_params
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    let config = |alpn: &[&[u8]]| {
        let mut config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
            )
            .unwrap();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        tokio_rustls::TlsAcceptor::from(Arc::new(config))
    };
    let acceptor = config(&[b"h2", b"http/1.1"]);
    let (stale_addr, stale_connections) = start_stale_server(config(&[b"http/1.1"])).await;

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let log = log2.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = service_fn(move |req| {
                    let log = log.clone();
                    async move { Ok::<_, Infallible>(route(req, log).await) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection_with_upgrades(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    Upstream {
        addr,
        stale_addr,
        stale_connections,
        ca_path,
        log,
        _dir: dir,
    }
}

async fn start_stale_server(
    acceptor: tokio_rustls::TlsAcceptor,
) -> (SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count2 = count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let n = count2.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => head.extend_from_slice(&buf[..k]),
                    }
                }
                let body = format!("conn {n}");
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(resp.as_bytes()).await;
                let _ = tls.flush().await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                // Close without warning (no close_notify, like a server dropping idle sockets).
                drop(tls);
            });
        }
    });
    (addr, count)
}

fn git_pkt(line: &str) -> String {
    format!("{:04x}{line}", line.len() + 4)
}

fn percent(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn route(mut req: Request<Incoming>, log: Arc<Mutex<Vec<Recorded>>>) -> Response<UBody> {
    let path = req
        .uri()
        .path_and_query()
        .map_or("/".to_owned(), |p| p.to_string());
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    log.lock().unwrap().push(Recorded {
        method: req.method().to_string(),
        path: path.clone(),
        version: req.version(),
        headers: headers.clone(),
    });
    let query = req.uri().query().unwrap_or("").to_owned();
    match req.uri().path() {
        "/echo" => {
            let mut body = String::new();
            for (k, v) in &headers {
                body.push_str(&format!("{k}: {v}\n"));
                body.push_str(&format!(
                    "b64 {k}: {}\n",
                    data_encoding::BASE64.encode(v.as_bytes())
                ));
                body.push_str(&format!("url {k}: {}\n", percent(v)));
            }
            let mut resp = text(StatusCode::OK, body.clone());
            if let Some((_, auth)) = headers.iter().find(|(k, _)| k == "authorization") {
                resp.headers_mut()
                    .insert("x-echo-auth", auth.parse().unwrap());
            }
            if query.contains("gzip") {
                let mut enc =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                enc.write_all(body.as_bytes()).unwrap();
                let gz = enc.finish().unwrap();
                *resp.body_mut() = Full::new(Bytes::from(gz)).boxed();
                resp.headers_mut()
                    .insert(header::CONTENT_ENCODING, "gzip".parse().unwrap());
            } else if query.contains("br") {
                let mut out = Vec::new();
                {
                    let mut enc = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
                    enc.write_all(body.as_bytes()).unwrap();
                }
                *resp.body_mut() = Full::new(Bytes::from(out)).boxed();
                resp.headers_mut()
                    .insert(header::CONTENT_ENCODING, "br".parse().unwrap());
            }
            resp
        }
        "/sse" => {
            let echo = headers
                .iter()
                .find(|(k, _)| k == "authorization")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            let (tx, rx) = mpsc::channel::<Bytes>(1);
            tokio::spawn(async move {
                for i in 0..5 {
                    let event = format!("data: event {i} {echo}\n\n");
                    if tx.send(Bytes::from(event)).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            });
            let mut resp = Response::new(ChanBody(rx).boxed());
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, "text/event-stream".parse().unwrap());
            resp
        }
        "/upload" => {
            let mut body = req.into_body();
            let mut n: u64 = 0;
            while let Some(frame) = body.frame().await {
                match frame {
                    Ok(f) => {
                        if let Ok(d) = f.into_data() {
                            n += d.len() as u64;
                        }
                    }
                    Err(_) => return text(StatusCode::BAD_REQUEST, "broken upload"),
                }
            }
            text(StatusCode::OK, format!("received {n}"))
        }
        "/repo.git/info/refs" => {
            // Minimal smart-HTTP advertisement (protocol v0) for `git ls-remote`.
            let sha = "0123456789abcdef0123456789abcdef01234567";
            let body = format!(
                "{}0000{}{}0000",
                git_pkt("# service=git-upload-pack\n"),
                git_pkt(&format!("{sha} HEAD\0symref=HEAD:refs/heads/main\n")),
                git_pkt(&format!("{sha} refs/heads/main\n")),
            );
            let mut r = text(StatusCode::OK, body);
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                "application/x-git-upload-pack-advertisement"
                    .parse()
                    .unwrap(),
            );
            r.headers_mut()
                .insert(header::CACHE_CONTROL, "no-cache".parse().unwrap());
            r
        }
        "/redirect" => {
            let mut r = text(StatusCode::FOUND, "moved");
            r.headers_mut()
                .insert(header::LOCATION, "https://other.test/echo".parse().unwrap());
            r
        }
        "/ws" => {
            let key = req
                .headers()
                .get("sec-websocket-key")
                .map(|k| k.as_bytes().to_vec())
                .unwrap_or_default();
            let offered = req
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let auth = req
                .headers()
                .get(header::AUTHORIZATION)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .unwrap_or_default();
            let greet = query.contains("greet");
            let on_upgrade = hyper::upgrade::on(&mut req);
            tokio::spawn(async move {
                let Ok(upgraded) = on_upgrade.await else {
                    return;
                };
                let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
                    .max_message_size(Some(64 << 20))
                    .max_frame_size(Some(64 << 20));
                let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    tokio_tungstenite::tungstenite::protocol::Role::Server,
                    Some(config),
                )
                .await;
                if greet && ws_greet(&mut ws, &auth).await.is_err() {
                    return;
                }
                while let Some(Ok(msg)) = ws.next().await {
                    if msg.is_text() || msg.is_binary() {
                        if ws.send(msg).await.is_err() {
                            return;
                        }
                    } else if msg.is_close() {
                        return;
                    }
                }
            });
            let mut r = text(StatusCode::SWITCHING_PROTOCOLS, Bytes::new());
            let h = r.headers_mut();
            h.insert(header::UPGRADE, "websocket".parse().unwrap());
            h.insert(header::CONNECTION, "Upgrade".parse().unwrap());
            h.insert(
                "sec-websocket-accept",
                tokio_tungstenite::tungstenite::handshake::derive_accept_key(&key)
                    .parse()
                    .unwrap(),
            );
            if offered.split(',').any(|p| p.trim() == "chat.v2") {
                h.insert("sec-websocket-protocol", "chat.v2".parse().unwrap());
            }
            if query.contains("deflate") {
                // Negotiates an extension even when none was offered.
                h.insert(
                    "sec-websocket-extensions",
                    "permessage-deflate".parse().unwrap(),
                );
            }
            r
        }
        _ => text(StatusCode::NOT_FOUND, "no such test endpoint"),
    }
}

/// Size of the single-frame message `/ws?greet` sends with the authorization value inside.
pub const WS_LARGE: usize = 1 << 20;

/// What `/ws?greet` sends before echoing: the authorization value it received in a text
/// message, a binary message, a text message fragmented with the value split across fragments
/// (a ping between them), and a 1 MiB binary frame with the value in the middle.
async fn ws_greet<S>(
    ws: &mut tokio_tungstenite::WebSocketStream<S>,
    auth: &str,
) -> Result<(), tokio_tungstenite::tungstenite::Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    ws.send(Message::text(format!("hello {auth}"))).await?;
    ws.send(Message::binary(auth.as_bytes().to_vec())).await?;
    let (a, b) = auth.split_at(auth.len() / 2);
    for frame in [
        Frame::message(format!("fragmented {a}"), OpCode::Data(Data::Text), false),
        Frame::ping(Bytes::from_static(b"keepalive")),
        Frame::message(b.to_owned(), OpCode::Data(Data::Continue), false),
        Frame::message(" end", OpCode::Data(Data::Continue), true),
    ] {
        ws.send(Message::Frame(frame)).await?;
    }
    let mut large = vec![b'.'; WS_LARGE];
    let at = WS_LARGE / 2;
    large[at..at + auth.len()].copy_from_slice(auth.as_bytes());
    ws.send(Message::binary(large)).await
}

struct ChanBody(mpsc::Receiver<Bytes>);

impl Body for ChanBody {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.get_mut()
            .0
            .poll_recv(cx)
            .map(|o| o.map(|b| Ok(Frame::data(b))))
    }
}

// ---------------------------------------------------------------- proxy

pub struct TestProxy {
    pub addr: SocketAddr,
    pub ca: Arc<Ca>,
    pub vault: Arc<TestVault>,
    pub upstream: Upstream,
    _ca_dir: tempfile::TempDir,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl TestProxy {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The client environment exactly as `clavitor-cli env` would print it.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        clavitor_proxy::env_vars(&self.url(), &self.ca)
    }
}

pub async fn start_proxy() -> TestProxy {
    start_proxy_with(|_| {}).await
}

pub async fn start_proxy_with(adjust: impl FnOnce(&mut ProxyConfig)) -> TestProxy {
    init();
    let upstream = start_upstream().await;
    let ca_dir = tempfile::tempdir().unwrap();
    let ca = Arc::new(Ca::load_or_create(&ca_dir.path().join("ca")).unwrap());
    let up = upstream.addr;
    let mut config = ProxyConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        upstream_ca_files: vec![upstream.ca_path.clone()],
        ..ProxyConfig::default()
    };
    for mapping in [
        format!("{HOST}:443:{up}"),
        format!("other.test:443:{up}"),
        format!("api.openai.test.evil.test:443:{up}"),
        format!("{HOST}:8443:{up}"),
        format!("127.0.0.1:443:{up}"),
        format!("stale.test:443:{}", upstream.stale_addr),
    ] {
        config.resolve.push(mapping.parse().unwrap());
    }
    adjust(&mut config);
    let vault = Arc::new(TestVault::new());
    let proxy = Proxy::bind(config, ca.clone(), vault.clone())
        .await
        .unwrap();
    let addr = proxy.local_addr();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(proxy.run(async move {
        let _ = rx.await;
    }));
    TestProxy {
        addr,
        ca,
        vault,
        upstream,
        _ca_dir: ca_dir,
        _shutdown: tx,
    }
}

// ---------------------------------------------------------------- clients

pub struct Output {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs an external client with the proxy environment, bounded in time.
pub async fn run_client(proxy: &TestProxy, program: &str, args: &[&str]) -> Output {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args).kill_on_drop(true);
    for var in [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in proxy.env() {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("client timed out")
        .expect("client failed to start");
    Output {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// curl through HTTPS_PROXY; returns (status code, headers + body).
pub async fn curl(proxy: &TestProxy, extra: &[&str]) -> (u16, String) {
    let mut args = vec!["-sS", "-i", "--max-time", "30", "-w", "\n@@%{http_code}"];
    args.extend_from_slice(extra);
    let out = run_client(proxy, "curl", &args).await;
    let (body, code) = out.stdout.rsplit_once("\n@@").unwrap_or((&out.stdout, "0"));
    (
        code.trim().parse().unwrap_or(0),
        format!("{body}{}", out.stderr),
    )
}

/// Opens a CONNECT tunnel through the proxy and a TLS session trusting only the proxy CA.
pub async fn tunnel(
    proxy: &TestProxy,
    authority: &str,
    sni: &str,
    alpn: &[&[u8]],
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut tcp = TcpStream::connect(proxy.addr).await.unwrap();
    tcp.write_all(format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tcp.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(proxy.ca.cert_der().to_vec()))
        .unwrap();
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    connector
        .connect(ServerName::try_from(sni.to_owned()).unwrap(), tcp)
        .await
        .unwrap()
}

/// An HTTP/1.1 client over a fresh tunnel.
pub async fn h1_client(
    proxy: &TestProxy,
) -> hyper::client::conn::http1::SendRequest<BoxBody<Bytes, std::io::Error>> {
    let tls = tunnel(proxy, &format!("{HOST}:443"), HOST, &[b"http/1.1"]).await;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

pub fn vm_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
