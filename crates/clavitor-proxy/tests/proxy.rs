//! End-to-end tests of the proxy on loopback: real clients through `HTTPS_PROXY`, a TLS upstream
//! of our own, and an in-test vault (see `common`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use futures_util::{SinkExt, StreamExt};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const AUTH: &str = "Authorization: Bearer clavitor://OpenAI/key";

fn upstream_saw_canary(proxy: &TestProxy, path: &str) -> bool {
    proxy.upstream.requests_to(path).iter().any(|r| {
        r.headers
            .iter()
            .any(|(k, v)| k == "authorization" && v == &format!("Bearer {CANARY}"))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_http1_injects_and_redacts() {
    let proxy = start_proxy().await;
    let (code, out) = curl(
        &proxy,
        &["--http1.1", "-H", AUTH, "https://api.openai.test/echo?c1"],
    )
    .await;
    assert_eq!(code, 200, "{out}");
    assert!(upstream_saw_canary(&proxy, "/echo?c1"));
    assert!(!out.contains(CANARY), "{out}");
    assert!(out.contains("authorization: Bearer [REDACTED]"), "{out}");
    assert!(out.contains("x-echo-auth: Bearer [REDACTED]"), "{out}");
    // base64 of "Bearer <secret>": the secret sits at an offset; its characters are redacted.
    assert!(
        out.contains("b64 authorization: QmVhcmVyIH[REDACTED]\n"),
        "{out}"
    );
    assert!(
        out.contains("url authorization: Bearer%20[REDACTED]"),
        "{out}"
    );
    let upstream = proxy.upstream.requests_to("/echo?c1");
    assert_eq!(
        upstream[0].version,
        http::Version::HTTP_2,
        "h2 toward the upstream"
    );
    // Headers, body, base64 and URL-encoded forms: each occurrence reported.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let reflections = proxy.vault.reflections.lock().unwrap().clone();
    assert!(reflections.len() >= 4, "{reflections:?}");
    assert!(
        reflections
            .iter()
            .all(|r| r == &("OpenAI".into(), "key".into(), HOST.into(), 443))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_http2_injects_and_redacts() {
    let proxy = start_proxy().await;
    let (code, out) = curl(
        &proxy,
        &["--http2", "-H", AUTH, "https://api.openai.test/echo?c2"],
    )
    .await;
    assert_eq!(code, 200, "{out}");
    assert!(out.contains("\nHTTP/2 200"), "{out}");
    assert!(upstream_saw_canary(&proxy, "/echo?c2"));
    assert!(!out.contains(CANARY), "{out}");
    assert!(out.contains("[REDACTED]"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_reflections_are_redacted() {
    let proxy = start_proxy().await;
    for (query, flag) in [("gzip", "--compressed"), ("br", "--compressed")] {
        let url = format!("https://api.openai.test/echo?{query}");
        let (code, out) = curl(&proxy, &[flag, "-H", AUTH, &url]).await;
        assert_eq!(code, 200, "{out}");
        assert!(upstream_saw_canary(&proxy, &format!("/echo?{query}")));
        assert!(!out.contains(CANARY), "{out}");
        assert!(
            out.contains("authorization: Bearer [REDACTED]"),
            "{query}: {out}"
        );
        assert!(
            out.contains("b64 authorization: QmVhcmVyIH[REDACTED]\n"),
            "{query}: {out}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_references_pass_untouched() {
    let proxy = start_proxy().await;
    let (code, out) = curl(
        &proxy,
        &[
            "-H",
            "Authorization: Bearer plain-token",
            "https://api.openai.test/echo?plain",
        ],
    )
    .await;
    assert_eq!(code, 200, "{out}");
    assert!(out.contains("authorization: Bearer plain-token"), "{out}");
    assert!(proxy.vault.resolves.lock().unwrap().is_empty());
    // Redirects are relayed, never followed.
    let (code, out) = curl(&proxy, &["-H", AUTH, "https://api.openai.test/redirect"]).await;
    assert_eq!(code, 302, "{out}");
    assert!(
        proxy
            .upstream
            .requests_to("/echo")
            .iter()
            .all(|r| !r.path.contains("redirect"))
    );
    assert_eq!(proxy.upstream.requests_to("/redirect").len(), 1);
}

/// Every exfiltration attempt is refused and nothing reaches the upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exfiltration_attempts_are_refused_with_nothing_sent() {
    let proxy = start_proxy().await;
    let up = proxy.upstream.addr;
    let cases: Vec<(&str, Vec<String>, u16, &str)> = vec![
        (
            "unbound host",
            vec![
                "-H".into(),
                AUTH.into(),
                "https://other.test/echo?x1".into(),
            ],
            403,
            "CV-2043",
        ),
        (
            "Host differs from CONNECT",
            vec![
                "-H".into(),
                AUTH.into(),
                "-H".into(),
                "Host: other.test".into(),
                "https://api.openai.test/echo?x2".into(),
            ],
            421,
            "CV-3001",
        ),
        (
            "suffix domain",
            vec![
                "-H".into(),
                AUTH.into(),
                "https://api.openai.test.evil.test/echo?x3".into(),
            ],
            403,
            "CV-2043",
        ),
        (
            "trailing dot",
            vec![
                "-H".into(),
                AUTH.into(),
                "https://api.openai.test./echo?x4".into(),
            ],
            403,
            "CV-2043",
        ),
        (
            "IP literal",
            vec![
                "--noproxy".into(),
                "".into(),
                "-H".into(),
                AUTH.into(),
                format!("https://127.0.0.1:{}/echo?x5", up.port()),
            ],
            403,
            "CV-2043",
        ),
        (
            "different port",
            vec![
                "-H".into(),
                AUTH.into(),
                "https://api.openai.test:8443/echo?x6".into(),
            ],
            403,
            "CV-2043",
        ),
        (
            "plain http",
            vec![
                "--proxy".into(),
                proxy.url(),
                "-H".into(),
                AUTH.into(),
                format!("http://api.openai.test:{}/echo?x7", up.port()),
            ],
            403,
            "CV-2043",
        ),
        (
            "CRLF in the secret",
            vec![
                "-H".into(),
                "Authorization: Bearer clavitor://Evil/key".into(),
                "https://api.openai.test/echo?x8".into(),
            ],
            403,
            "CV-3003",
        ),
        (
            "ungranted entry",
            vec![
                "-H".into(),
                "Authorization: Bearer clavitor://Stripe/key".into(),
                "https://api.openai.test/echo?x9".into(),
            ],
            403,
            "CV-2041",
        ),
        (
            "malformed reference",
            vec![
                "-H".into(),
                "Authorization: Bearer clavitor://OpenAI".into(),
                "https://api.openai.test/echo?x10".into(),
            ],
            400,
            "CV-3009",
        ),
        (
            "miscased scheme",
            vec![
                "-H".into(),
                "Authorization: Bearer Clavitor://OpenAI/key".into(),
                "https://api.openai.test/echo?x10b".into(),
            ],
            400,
            "CV-3009",
        ),
        (
            "slash after the field",
            vec![
                "-H".into(),
                "Authorization: Bearer clavitor://OpenAI/key/extra".into(),
                "https://api.openai.test/echo?x10c".into(),
            ],
            400,
            "CV-3009",
        ),
        (
            "loopback without --resolve",
            vec![
                "--noproxy".into(),
                "".into(),
                "-H".into(),
                "Authorization: Bearer clavitor://Loop/key".into(),
                format!("https://localhost:{}/echo?x11", up.port()),
            ],
            403,
            "CV-3006",
        ),
    ];
    for (name, args, status, code) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (got, out) = curl(&proxy, &args).await;
        assert_eq!(got, status, "{name}: {out}");
        assert!(
            out.to_lowercase()
                .contains(&format!("x-clavitor-error: {}", code.to_lowercase())),
            "{name}: {out}"
        );
        assert!(!out.contains(CANARY), "{name}: {out}");
    }
    let log = proxy.upstream.log.lock().unwrap().clone();
    assert!(
        log.iter().all(|r| !r.path.contains("?x")),
        "something reached the upstream: {log:?}"
    );
    // The suffix domain, IP literal and port were asked for their exact host and port.
    let resolves = proxy.vault.resolves.lock().unwrap().clone();
    assert!(resolves.contains(&(
        "OpenAI".into(),
        "key".into(),
        "api.openai.test.evil.test".into(),
        443
    )));
    assert!(resolves.contains(&("OpenAI".into(), "key".into(), "127.0.0.1".into(), up.port())));
    assert!(resolves.contains(&("OpenAI".into(), "key".into(), HOST.into(), 8443)));
}

/// A mapped (`--resolve`) loopback target may receive secrets; the same host unmapped may not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_mapping_allows_loopback_targets() {
    let proxy = start_proxy().await;
    let (code, out) = curl(
        &proxy,
        &[
            "--noproxy",
            "",
            "-H",
            "Authorization: Bearer clavitor://Mapped%20IP/token",
            "https://127.0.0.1/echo?m1",
        ],
    )
    .await;
    assert_eq!(code, 200, "{out}");
    assert!(!out.contains("mapped-ip-secret-456"), "{out}");
    let seen = proxy.upstream.requests_to("/echo?m1");
    assert!(
        seen[0]
            .headers
            .iter()
            .any(|(_, v)| v == "Bearer mapped-ip-secret-456")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_secret_plain_http_is_forwarded_and_origin_form_refused() {
    let proxy = start_proxy().await;
    // A plain HTTP server on loopback.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 4096];
        let _ = s.read(&mut buf).await.unwrap();
        s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nplain")
            .await
            .unwrap();
    });
    let (code, out) = curl(
        &proxy,
        &[
            "--proxy",
            &proxy.url(),
            &format!("http://127.0.0.1:{port}/"),
        ],
    )
    .await;
    assert_eq!(code, 200, "{out}");
    assert!(out.ends_with("plain"), "{out}");
    // Origin-form request to the proxy itself.
    let (code, out) = curl(
        &proxy,
        &["--noproxy", "*", &format!("{}/echo", proxy.url())],
    )
    .await;
    assert_eq!(code, 400, "{out}");
    assert!(out.contains("x-clavitor-error: CV-3002"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_auth() {
    let proxy = start_proxy_with(|c| {
        c.require_auth = Some(clavitor_proxy::ProxyCredentials {
            username: "agent".into(),
            password: "pw".into(),
        })
    })
    .await;
    let (code, out) = curl(&proxy, &["-H", AUTH, "https://api.openai.test/echo?a1"]).await;
    assert_ne!(code, 200, "{out}");
    assert!(proxy.upstream.requests_to("/echo?a1").is_empty());
    let (code, out) = curl(
        &proxy,
        &[
            "--proxy-user",
            "agent:pw",
            "-H",
            AUTH,
            "https://api.openai.test/echo?a2",
        ],
    )
    .await;
    assert_eq!(code, 200, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_arrives_incrementally_also_when_redacting() {
    let proxy = start_proxy().await;
    for with_secret in [false, true] {
        let mut client = h1_client(&proxy).await;
        let mut req = Request::get("/sse").header("host", HOST);
        if with_secret {
            req = req.header("authorization", "Bearer clavitor://OpenAI/key");
        }
        let req = req
            .body(Empty::<Bytes>::new().map_err(|e| match e {}).boxed())
            .unwrap();
        let start = Instant::now();
        let resp = client.send_request(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let mut body = resp.into_body();
        let mut first = None;
        let mut all = String::new();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.unwrap().into_data() {
                first.get_or_insert(start.elapsed());
                all.push_str(&String::from_utf8_lossy(&data));
            }
        }
        let total = start.elapsed();
        let first = first.unwrap();
        assert!(all.contains("event 4"), "{all}");
        assert!(!all.contains(CANARY), "{all}");
        if with_secret {
            assert!(all.contains("[REDACTED]"), "{all}");
        }
        assert!(
            first < Duration::from_secs(2),
            "first event after {first:?}"
        );
        assert!(
            total - first >= Duration::from_millis(300),
            "{first:?} {total:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_relays_upstream_101_and_subprotocol() {
    let proxy = start_proxy().await;
    let tls = tunnel(&proxy, &format!("{HOST}:443"), HOST, &[b"http/1.1"]).await;
    let req = Request::get("wss://api.openai.test/ws")
        .header("host", HOST)
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header(
            "sec-websocket-key",
            tokio_tungstenite::tungstenite::handshake::client::generate_key(),
        )
        .header("sec-websocket-protocol", "chat.v1, chat.v2")
        .header("authorization", "Bearer clavitor://OpenAI/key")
        .body(())
        .unwrap();
    let (mut ws, resp) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::client_async(req, tls),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(resp.headers()["sec-websocket-protocol"], "chat.v2");
    assert!(upstream_saw_canary(&proxy, "/ws"));
    ws.send(tokio_tungstenite::tungstenite::Message::text("hello"))
        .await
        .unwrap();
    let echoed = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(echoed.into_text().unwrap().as_str(), "hello");
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

/// A WebSocket handshake for `path` through a fresh tunnel (subprotocols chat.v1, chat.v2);
/// `Err` carries the HTTP answer when the handshake is refused.
async fn ws_connect(
    proxy: &TestProxy,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<(Ws, http::Response<Option<Vec<u8>>>), http::Response<Option<Vec<u8>>>> {
    let tls = tunnel(proxy, &format!("{HOST}:443"), HOST, &[b"http/1.1"]).await;
    let mut req = Request::get(format!("wss://{HOST}{path}"))
        .header("host", HOST)
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header(
            "sec-websocket-key",
            tokio_tungstenite::tungstenite::handshake::client::generate_key(),
        )
        .header("sec-websocket-protocol", "chat.v1, chat.v2");
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(64 << 20))
        .max_frame_size(Some(64 << 20));
    let connect =
        tokio_tungstenite::client_async_with_config(req.body(()).unwrap(), tls, Some(config));
    match tokio::time::timeout(Duration::from_secs(10), connect)
        .await
        .unwrap()
    {
        Ok(pair) => Ok(pair),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(*resp),
        Err(err) => panic!("websocket handshake failed: {err}"),
    }
}

/// The next data message (pings and pongs skipped).
async fn ws_next(ws: &mut Ws) -> tokio_tungstenite::tungstenite::Message {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(20), ws.next())
            .await
            .expect("websocket message timed out")
            .expect("websocket ended")
            .expect("websocket error");
        if msg.is_text() || msg.is_binary() || msg.is_close() {
            return msg;
        }
    }
}

/// DESIGN.md §10: an injected value echoed inside WebSocket frames reaches the client as
/// [REDACTED] (text, binary, split across fragments, inside a large frame), the subprotocol
/// still works, and large fragmented client messages pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_frames_echoing_the_secret_are_redacted() {
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    let proxy = start_proxy().await;
    let (mut ws, resp) = ws_connect(
        &proxy,
        "/ws?greet",
        &[("authorization", "Bearer clavitor://OpenAI/key")],
    )
    .await
    .unwrap();
    assert_eq!(resp.headers()["sec-websocket-protocol"], "chat.v2");
    assert!(upstream_saw_canary(&proxy, "/ws?greet"));

    let hello = ws_next(&mut ws).await;
    assert_eq!(
        hello.into_text().unwrap().as_str(),
        "hello Bearer [REDACTED]"
    );
    let binary = ws_next(&mut ws).await;
    assert!(binary.is_binary());
    assert_eq!(&binary.into_data()[..], b"Bearer [REDACTED]");
    let fragmented = ws_next(&mut ws).await;
    assert_eq!(
        fragmented.into_text().unwrap().as_str(),
        "fragmented Bearer [REDACTED] end"
    );
    let large = ws_next(&mut ws).await.into_data();
    let auth_len = format!("Bearer {CANARY}").len();
    assert_eq!(large.len(), WS_LARGE - auth_len + "Bearer [REDACTED]".len());
    let text = String::from_utf8_lossy(&large);
    assert!(!text.contains(CANARY));
    assert_eq!(text.matches("Bearer [REDACTED]").count(), 1);

    // Client -> server frames pass untouched: a 3 MiB message in three fragments comes back
    // whole (echoed by the upstream as one 3 MiB frame, re-fragmented by the proxy).
    let payload: Vec<u8> = (0..3 * (1u32 << 20)).map(|i| (i % 251) as u8).collect();
    let parts: Vec<&[u8]> = payload.chunks(1 << 20).collect();
    for (i, part) in parts.iter().enumerate() {
        let opcode = if i == 0 {
            OpCode::Data(Data::Binary)
        } else {
            OpCode::Data(Data::Continue)
        };
        ws.send(Message::Frame(Frame::message(
            part.to_vec(),
            opcode,
            i == parts.len() - 1,
        )))
        .await
        .unwrap();
    }
    let echoed = ws_next(&mut ws).await;
    assert!(echoed.is_binary());
    assert!(echoed.into_data()[..] == payload[..], "3 MiB echo differs");
    ws.send(Message::text("ping me")).await.unwrap();
    assert_eq!(
        ws_next(&mut ws).await.into_text().unwrap().as_str(),
        "ping me"
    );
    ws.close(None).await.unwrap();

    tokio::time::sleep(Duration::from_millis(100)).await;
    let reflections = proxy.vault.reflections.lock().unwrap().clone();
    assert!(reflections.len() >= 4, "{reflections:?}");
    assert!(logs().contains("injected value reflected by the upstream"));
}

/// permessage-deflate would hide echoed values from the frame redactor: a secret-bearing
/// handshake is sent without `Sec-WebSocket-Extensions`; others keep it. An upstream that
/// negotiates an extension anyway is refused (CV-3008).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_extensions_are_stripped_from_secret_bearing_handshakes() {
    let proxy = start_proxy().await;
    let offer = (
        "sec-websocket-extensions",
        "permessage-deflate; client_max_window_bits",
    );
    let auth = ("authorization", "Bearer clavitor://OpenAI/key");
    let (mut ws, _) = ws_connect(&proxy, "/ws?ext-secret", &[offer, auth])
        .await
        .unwrap();
    ws.send(tokio_tungstenite::tungstenite::Message::text("x"))
        .await
        .unwrap();
    assert_eq!(ws_next(&mut ws).await.into_text().unwrap().as_str(), "x");
    let (mut ws, _) = ws_connect(&proxy, "/ws?ext-open", &[offer]).await.unwrap();
    ws.send(tokio_tungstenite::tungstenite::Message::text("y"))
        .await
        .unwrap();
    assert_eq!(ws_next(&mut ws).await.into_text().unwrap().as_str(), "y");
    let has_ext = |path: &str| {
        proxy.upstream.requests_to(path)[0]
            .headers
            .iter()
            .any(|(k, _)| k == "sec-websocket-extensions")
    };
    assert!(!has_ext("/ws?ext-secret"));
    assert!(has_ext("/ws?ext-open"));
    assert!(upstream_saw_canary(&proxy, "/ws?ext-secret"));

    let refused = ws_connect(&proxy, "/ws?deflate", &[auth])
        .await
        .unwrap_err();
    assert_eq!(refused.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(refused.headers()["x-clavitor-error"], "CV-3008");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expect_100_continue() {
    let proxy = start_proxy().await;
    let mut tls = tunnel(&proxy, &format!("{HOST}:443"), HOST, &[b"http/1.1"]).await;
    tls.write_all(
        b"POST /upload HTTP/1.1\r\nHost: api.openai.test\r\nContent-Length: 5\r\n\
          Authorization: Bearer clavitor://OpenAI/key\r\nExpect: 100-continue\r\n\r\n",
    )
    .await
    .unwrap();
    let mut buf = vec![0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(10), tls.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let head = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(head.starts_with("HTTP/1.1 100 Continue"), "{head}");
    tls.write_all(b"hello").await.unwrap();
    let mut all = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !String::from_utf8_lossy(&all).contains("received 5") && Instant::now() < deadline {
        let n = tokio::time::timeout(Duration::from_secs(10), tls.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        if n == 0 {
            break;
        }
        all.extend_from_slice(&buf[..n]);
    }
    assert!(
        String::from_utf8_lossy(&all).contains("received 5"),
        "{}",
        String::from_utf8_lossy(&all)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passthrough_hosts_are_tunnelled_untouched() {
    let proxy = start_proxy_with(|c| c.passthrough.push("other.test".parse().unwrap())).await;
    // The upstream's own certificate is presented, so the proxy CA alone cannot verify it...
    let (code, out) = curl(&proxy, &["https://other.test/echo?p1"]).await;
    assert_eq!(code, 0, "{out}");
    // ...but its own CA can, and the reference is not resolved (sent as written).
    let ca = proxy.upstream.ca_path.display().to_string();
    let (code, out) = curl(
        &proxy,
        &["--cacert", &ca, "-H", AUTH, "https://other.test/echo?p2"],
    )
    .await;
    assert_eq!(code, 200, "{out}");
    assert!(out.contains("clavitor://OpenAI/key"), "{out}");
    assert!(proxy.vault.resolves.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_pass_strict_openssl_verification() {
    let proxy = start_proxy().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = proxy.ca.cert_path().display().to_string();
    for host in [HOST, "127.0.0.1"] {
        let leaf = dir.path().join(format!("{host}.pem"));
        std::fs::write(&leaf, proxy.ca.issue_leaf_pem(host).unwrap()).unwrap();
        let leaf = leaf.display().to_string();
        for target in [&ca, &leaf] {
            let out = std::process::Command::new("openssl")
                .args([
                    "verify",
                    "-x509_strict",
                    "-purpose",
                    "sslserver",
                    "-CAfile",
                    &ca,
                    target,
                ])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{target}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let text = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in", &ca])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("prime256v1") || text.contains("P-256"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_requests_and_strict_ssl() {
    let proxy = start_proxy().await;
    let script = format!(
        r#"
import os, socket, ssl, sys
import requests
r = requests.get("https://{HOST}/echo?py1", headers={{"Authorization": "Bearer clavitor://OpenAI/key"}}, timeout=20)
print(r.status_code)
print(r.text)
# Strict X.509 verification (what Python 3.13 does by default) through a manual CONNECT.
ctx = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
ctx.verify_flags |= ssl.VERIFY_X509_STRICT
host, port = os.environ["HTTPS_PROXY"].rsplit("/", 1)[1].split(":")
s = socket.create_connection((host, int(port)), timeout=20)
s.sendall(b"CONNECT {HOST}:443 HTTP/1.1\r\nHost: {HOST}:443\r\n\r\n")
assert s.recv(4096).startswith(b"HTTP/1.1 200")
t = ctx.wrap_socket(s, server_hostname="{HOST}")
print("strict-ok", t.version())
"#
    );
    let out = run_client(&proxy, "python3", &["-c", &script]).await;
    assert!(out.status.success(), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.starts_with("200\n"), "{}", out.stdout);
    assert!(
        out.stdout.contains("authorization: Bearer [REDACTED]"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("strict-ok"), "{}", out.stdout);
    assert!(!out.stdout.contains(CANARY));
    assert!(upstream_saw_canary(&proxy, "/echo?py1"));
}

/// Python httpx, when installed (`python3 -m pip install httpx`); skipped otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_httpx_if_installed() {
    let probe = std::process::Command::new("python3")
        .args(["-c", "import httpx"])
        .output()
        .unwrap();
    if !probe.status.success() {
        eprintln!("httpx not installed: skipped (python3 -m pip install httpx)");
        return;
    }
    let proxy = start_proxy().await;
    let script = format!(
        r#"
import httpx
r = httpx.get("https://{HOST}/echo?hx1", headers={{"Authorization": "Bearer clavitor://OpenAI/key"}}, timeout=20)
print(r.status_code)
print(r.text)
"#
    );
    let out = run_client(&proxy, "python3", &["-c", &script]).await;
    assert!(out.status.success(), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.starts_with("200\n"), "{}", out.stdout);
    assert!(!out.stdout.contains(CANARY));
    assert!(upstream_saw_canary(&proxy, "/echo?hx1"));
}

/// Node: with NODE_USE_ENV_PROXY=1 (from `env`) Node >= 24.5 / 22.21 uses HTTPS_PROXY for
/// `fetch` and `https`; older Node (the machine has 20) ignores proxy variables, so the script
/// tunnels explicitly with CONNECT and relies on NODE_EXTRA_CA_CERTS for trust.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_https_through_the_proxy() {
    if std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("node not installed: skipped");
        return;
    }
    let proxy = start_proxy().await;
    let script = format!(
        r#"
const [major, minor] = process.versions.node.split('.').map(Number);
const native = major >= 25 || (major === 24 && minor >= 5) || (major === 22 && minor >= 21);
const headers = {{ authorization: 'Bearer clavitor://OpenAI/key' }};
async function viaFetch() {{
  const r = await fetch('https://{HOST}/echo?node1', {{ headers }});
  console.log(r.status); console.log(await r.text());
}}
function viaConnect() {{
  const http = require('http'), https = require('https'), tls = require('tls');
  const p = new URL(process.env.HTTPS_PROXY);
  const c = http.request({{ host: p.hostname, port: p.port, method: 'CONNECT', path: '{HOST}:443' }});
  c.on('connect', (res, socket) => {{
    const r = https.request({{ host: '{HOST}', port: 443, path: '/echo?node1', headers,
      createConnection: () => tls.connect({{ socket, servername: '{HOST}' }}) }}, (resp) => {{
      let body = ''; resp.on('data', d => body += d);
      resp.on('end', () => {{ console.log(resp.statusCode); console.log(body); socket.end(); }});
    }});
    r.end();
  }});
  c.end();
}}
if (native) viaFetch(); else viaConnect();
"#
    );
    let out = run_client(&proxy, "node", &["-e", &script]).await;
    assert!(out.status.success(), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.starts_with("200\n"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    assert!(
        out.stdout.contains("authorization: Bearer [REDACTED]"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains(CANARY));
    assert!(upstream_saw_canary(&proxy, "/echo?node1"));
}

/// The canary never appears in the proxy's logs at TRACE level (all crates, every test in this
/// binary logs into the same capture).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_never_in_trace_logs() {
    let proxy = start_proxy().await;
    for args in [
        vec!["--http2", "-H", AUTH, "https://api.openai.test/echo?gzip"],
        vec!["--http1.1", "-H", AUTH, "https://api.openai.test/echo?log"],
        vec!["-H", AUTH, "https://other.test/echo?log"],
        vec![
            "-H",
            "Authorization: Bearer clavitor://Evil/key",
            "https://api.openai.test/echo?log",
        ],
    ] {
        let (_, out) = curl(&proxy, &args).await;
        assert!(!out.contains(CANARY), "{out}");
    }
    let logs = logs();
    assert!(logs.contains("forwarding"), "trace capture is not working");
    assert!(logs.contains("TRACE"), "no trace-level lines captured");
    assert!(!logs.contains(CANARY), "canary found in logs");
    assert!(!logs.contains("X-Evil"), "control-byte value found in logs");
}

/// A pooled upstream connection closed by the server while idle is not reused for the next
/// request (and a request is retried when a reused connection turns out dead before sending).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_pooled_connection_is_recovered() {
    let proxy = start_proxy().await;
    for i in 1..=3 {
        let (code, out) = curl(&proxy, &["https://stale.test/"]).await;
        assert_eq!(code, 200, "request {i}: {out}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        proxy
            .upstream
            .stale_connections
            .load(std::sync::atomic::Ordering::SeqCst),
        3
    );
}

/// `git ls-remote` over smart HTTP with the header injected through `http.extraHeader`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_ls_remote_through_the_proxy() {
    if std::process::Command::new("git")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("git not installed: skipped");
        return;
    }
    let proxy = start_proxy().await;
    let out = run_client(
        &proxy,
        "git",
        &[
            "-c",
            "http.extraHeader=Authorization: Bearer clavitor://OpenAI/key",
            "ls-remote",
            "https://api.openai.test/repo.git",
        ],
    )
    .await;
    assert!(out.status.success(), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("refs/heads/main"), "{}", out.stdout);
    assert!(!out.stdout.contains(CANARY) && !out.stderr.contains(CANARY));
    assert!(upstream_saw_canary(&proxy, "/repo.git/info/refs"));
}
