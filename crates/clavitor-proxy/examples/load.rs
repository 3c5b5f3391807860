//! A small HTTPS load generator that can go through an HTTP CONNECT proxy, for the proxy
//! benchmark (`cargo xtask bench proxy`): N keep-alive HTTP/1.1 connections for D seconds.
//!
//! ```text
//! cargo run --release -p clavitor-proxy --example load -- \
//!     --url https://api.bench.test/ --connect 127.0.0.1:8443 --cacert nginx-ca.pem \
//!     [--proxy 127.0.0.1:19830] [--header "Authorization: Bearer clavitor://Bench/key"] \
//!     --connections 16 --seconds 10
//! ```
//!
//! Without `--proxy`, `--connect` says where to connect directly (no DNS). Prints one JSON
//! line: `{"requests":N,"errors":E,"rps":R,"p50_us":P,"p99_us":Q}`.
//!
//! With `--stream 1` each connection sends one request and holds its streamed answer (e.g.
//! SSE) open until the end: `requests` counts the streams still open and delivering at the
//! end, `errors` the streams that failed, `rps` the body chunks received per second and the
//! percentiles are times to the first chunk. An extra `"peak_open"` counts streams open at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Options {
    url: http::Uri,
    connect: Option<SocketAddr>,
    proxy: Option<SocketAddr>,
    cacert: Vec<String>,
    headers: Vec<(String, String)>,
    connections: usize,
    seconds: u64,
    stream: bool,
}

fn options() -> Options {
    let mut o = Options {
        url: "https://localhost/".parse().unwrap(),
        connect: None,
        proxy: None,
        cacert: Vec::new(),
        headers: Vec::new(),
        connections: 1,
        seconds: 5,
        stream: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().expect("flag needs a value");
        match flag.as_str() {
            "--url" => o.url = value.parse().expect("--url"),
            "--connect" => o.connect = Some(value.parse().expect("--connect ADDR:PORT")),
            "--proxy" => o.proxy = Some(value.parse().expect("--proxy ADDR:PORT")),
            "--cacert" => o.cacert.push(value),
            "--header" => {
                let (k, v) = value.split_once(':').expect("--header 'K: V'");
                o.headers.push((k.trim().to_owned(), v.trim().to_owned()));
            }
            "--connections" => o.connections = value.parse().expect("--connections N"),
            "--seconds" => o.seconds = value.parse().expect("--seconds N"),
            "--stream" => o.stream = value != "0",
            other => panic!("unknown flag {other}"),
        }
    }
    o
}

async fn open(
    o: &Options,
    tls: &tokio_rustls::TlsConnector,
) -> TokioIo<tokio_rustls::client::TlsStream<TcpStream>> {
    let host = o.url.host().unwrap().to_owned();
    let port = o.url.port_u16().unwrap_or(443);
    let tcp = if let Some(proxy) = o.proxy {
        let mut tcp = TcpStream::connect(proxy).await.unwrap();
        tcp.write_all(
            format!("CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            tcp.read_exact(&mut b).await.unwrap();
            head.push(b[0]);
        }
        assert!(head.starts_with(b"HTTP/1.1 200"), "CONNECT refused");
        tcp
    } else {
        let addr = o.connect.expect("--connect or --proxy");
        TcpStream::connect(addr).await.unwrap()
    };
    tcp.set_nodelay(true).unwrap();
    let name = ServerName::try_from(host).unwrap();
    TokioIo::new(tls.connect(name, tcp).await.unwrap())
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let o = Arc::new(options());
    let mut roots = rustls::RootCertStore::empty();
    for path in &o.cacert {
        for cert in CertificateDer::pem_file_iter(path).expect("--cacert") {
            let _ = roots.add(cert.expect("PEM"));
        }
    }
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config));
    if o.stream {
        return streams(o, tls).await;
    }
    let deadline = Instant::now() + Duration::from_secs(o.seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..o.connections {
        let o = o.clone();
        let tls = tls.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let host = o.url.host().unwrap().to_owned();
            let path = o
                .url
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_owned();
            // Reconnects when the server closes the connection (counted once per reconnect).
            'connection: while Instant::now() < deadline {
                let io = open(&o, &tls).await;
                let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(io).await else {
                    errors += 1;
                    continue;
                };
                tokio::spawn(conn);
                while Instant::now() < deadline {
                    let mut req = http::Request::get(path.as_str()).header("host", host.as_str());
                    for (k, v) in &o.headers {
                        req = req.header(k.as_str(), v.as_str());
                    }
                    let req = req.body(Empty::<Bytes>::new()).unwrap();
                    let t = Instant::now();
                    if sender.ready().await.is_err() {
                        continue 'connection;
                    }
                    match sender.send_request(req).await {
                        Ok(resp) => {
                            let ok = resp.status().is_success();
                            let _ = resp.into_body().collect().await;
                            if ok {
                                latencies.push(t.elapsed().as_micros() as u64);
                            } else {
                                errors += 1;
                            }
                        }
                        Err(_) => {
                            errors += 1;
                            continue 'connection;
                        }
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.unwrap();
        all.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    println!(
        "{{\"requests\":{},\"errors\":{},\"rps\":{:.0},\"p50_us\":{},\"p99_us\":{}}}",
        all.len(),
        errors,
        all.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99)
    );
}

/// `--stream`: N long-lived streamed responses held open at once until the deadline.
async fn streams(o: Arc<Options>, tls: tokio_rustls::TlsConnector) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let open_now = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(o.seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..o.connections {
        let (o, tls) = (o.clone(), tls.clone());
        let (open_now, peak) = (open_now.clone(), peak.clone());
        tasks.push(tokio::spawn(async move {
            let host = o.url.host().unwrap().to_owned();
            let path = o
                .url
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_owned();
            let t = Instant::now();
            let io = open(&o, &tls).await;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
            tokio::spawn(conn);
            let mut req = http::Request::get(path.as_str()).header("host", host.as_str());
            for (k, v) in &o.headers {
                req = req.header(k.as_str(), v.as_str());
            }
            let req = req.body(Empty::<Bytes>::new()).unwrap();
            let Ok(resp) = sender.send_request(req).await else {
                return (false, None, 0u64);
            };
            if !resp.status().is_success() {
                return (false, None, 0);
            }
            let mut body = resp.into_body();
            let mut first = None;
            let mut chunks = 0u64;
            let now = open_now.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            let alive = loop {
                match tokio::time::timeout_at(deadline.into(), body.frame()).await {
                    Err(_) => break chunks > 0,
                    Ok(Some(Ok(frame))) => {
                        if frame.is_data() {
                            first.get_or_insert_with(|| t.elapsed().as_micros() as u64);
                            chunks += 1;
                        }
                    }
                    Ok(_) => break false,
                }
            };
            open_now.fetch_sub(1, Ordering::SeqCst);
            (alive, first, chunks)
        }));
    }
    let (mut alive, mut errors, mut chunks, mut firsts) = (0u64, 0u64, 0u64, Vec::new());
    for t in tasks {
        let (ok, first, n) = t.await.unwrap();
        if ok {
            alive += 1;
        } else {
            errors += 1;
        }
        firsts.extend(first);
        chunks += n;
    }
    let elapsed = start.elapsed().as_secs_f64();
    firsts.sort_unstable();
    let pct = |p: f64| {
        firsts
            .get(((firsts.len() as f64 * p) as usize).min(firsts.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    println!(
        "{{\"requests\":{},\"errors\":{},\"rps\":{:.0},\"p50_us\":{},\"p99_us\":{},\"peak_open\":{}}}",
        alive,
        errors,
        chunks as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        peak.load(Ordering::SeqCst)
    );
}
