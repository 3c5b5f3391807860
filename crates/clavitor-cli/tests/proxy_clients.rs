//! Full-system proxy tests (issue 4, DESIGN.md §10): a real `clavitor serve`, an agent enrolled
//! with `clavitor-cli init`, `clavitor-cli proxy` with `--resolve` and `--upstream-ca` toward a
//! TLS test upstream of our own (`fixtures/tls_echo_upstream.py`, certificates from the
//! `openssl` CLI), and real clients configured only by the output of `clavitor-cli env`:
//! curl (HTTP/1.1 and HTTP/2), Python `requests` and `httpx`, Node `https` and `fetch`
//! (`fixtures/node_client.js`: Node 20 ignores HTTPS_PROXY, see there).
//!
//! Each client sends `Authorization: Bearer clavitor://OpenAI/key`: the upstream receives the
//! real key, the client's output never holds it (the echo comes back `[REDACTED]`). An ungranted
//! reference is refused with 403 / `x-clavitor-error: CV-2041` and nothing reaches the upstream.
//! The audit shows the injections and reflections by `proxy:codex`.
//!
//! External tools: `python3` (with `requests` and `httpx`: `python3 -m pip install requests
//! httpx`), `openssl`, `curl`; `node` when installed (skipped with a note otherwise).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

/// The real key: must reach the upstream, never a client's output or the proxy's output.
const KEY: &str = "sk-proj-canary-4b9e2f7a1c6d8e03";
const UNGRANTED_KEY: &str = "sk-ant-ungranted-0c1d2e3f5a7b";
const HOST: &str = "api.openai.test";
const AUTH: &str = "Bearer clavitor://OpenAI/key";
const UNGRANTED: &str = "Bearer clavitor://Anthropic/key";
/// Bound for any one external command.
const STEP: Duration = Duration::from_secs(60);

/// Kills and reaps a child process when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Out {
    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn drain<R: Read + Send + 'static>(mut r: R) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Runs `cmd` to completion within `limit` (killed and failed otherwise).
fn run_bounded(cmd: &mut Command, limit: Duration) -> Out {
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {shown}: {e}"));
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{shown} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Out {
        code: status.code(),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

fn require(program: &str, args: &[&str], hint: &str) {
    let ok = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "{program} {args:?} failed: {hint}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Standard base64, to check no encoded form of the key reaches a client.
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

// ---------------------------------------------------------------- upstream

/// The TLS test upstream: test CA and leaf for api.openai.test (openssl), Python server.
struct Upstream {
    dir: tempfile::TempDir,
    port: u16,
    _child: Running,
}

impl Upstream {
    fn start() -> Upstream {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let openssl = |args: &[&str]| {
            let out = run_bounded(Command::new("openssl").current_dir(d).args(args), STEP);
            assert_eq!(out.code, Some(0), "openssl {args:?}: {}", out.all());
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=Clavitor proxy_clients test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        openssl(&[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            &format!("/CN={HOST}"),
        ]);
        std::fs::write(
            d.join("leaf.ext"),
            format!(
                "subjectAltName=DNS:{HOST}\nbasicConstraints=critical,CA:FALSE\n\
                 keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n\
                 subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
            ),
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
        ]);
        let log = std::fs::File::create(d.join("upstream.stderr")).unwrap();
        let child = Command::new("python3")
            .arg(fixtures().join("tls_echo_upstream.py"))
            .args(["leaf.pem", "leaf.key", "port", "requests.jsonl"])
            .current_dir(d)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        let child = Running(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        let port = loop {
            if let Ok(text) = std::fs::read_to_string(d.join("port")) {
                break text.trim().parse().unwrap();
            }
            assert!(
                Instant::now() < deadline,
                "the test upstream did not start: {}",
                std::fs::read_to_string(d.join("upstream.stderr")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        Upstream {
            dir,
            port,
            _child: child,
        }
    }

    fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The authorization values of the requests that reached the upstream at exactly `path`.
    fn auth_at(&self, path: &str) -> Vec<String> {
        let text =
            std::fs::read_to_string(self.dir.path().join("requests.jsonl")).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|r| r["path"] == path)
            .map(|r| {
                r["headers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|h| h[0] == "authorization")
                    .map(|h| h[1].as_str().unwrap().to_string())
                    .unwrap_or_default()
            })
            .collect()
    }
}

// ---------------------------------------------------------------- proxy

/// `clavitor-cli proxy` for `agent`, mapped to the upstream; its stderr is collected.
struct Proxy {
    port: u16,
    output: Arc<Mutex<String>>,
    _child: Running,
}

impl Proxy {
    fn start(agent: &Agent, upstream: &Upstream) -> Proxy {
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new(cli_bin())
                .args(["proxy", "--listen", &format!("127.0.0.1:{port}")])
                .args([
                    "--resolve",
                    &format!("{HOST}:443:127.0.0.1:{}", upstream.port),
                ])
                .arg("--upstream-ca")
                .arg(upstream.ca())
                .env("HOME", agent.home.path())
                .env("CLAVITOR_CONFIG_DIR", agent.config_dir())
                .env("RUST_LOG", "trace")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stderr = BufReader::new(child.stderr.take().unwrap());
            let child = Running(child);
            let mut first = String::new();
            let _ = stderr.read_line(&mut first);
            if !first.contains("listening on") {
                continue; // the port was taken meanwhile (or a failure, seen on the last try)
            }
            let output = Arc::new(Mutex::new(first));
            let sink = output.clone();
            // Keep reading for the proxy's whole life (a closed pipe would fail its writes).
            std::thread::spawn(move || {
                let mut line = String::new();
                while stderr.read_line(&mut line).unwrap_or(0) > 0 {
                    sink.lock().unwrap().push_str(&line);
                    line.clear();
                }
            });
            return Proxy {
                port,
                output,
                _child: child,
            };
        }
        panic!("clavitor-cli proxy did not start");
    }
}

/// The client environment as `clavitor-cli env --proxy URL` prints it.
fn client_env(agent: &Agent, proxy: &Proxy) -> Vec<(String, String)> {
    let url = format!("http://127.0.0.1:{}", proxy.port);
    let (code, text, stderr) = agent.run(&["env", "--proxy", &url]);
    assert_eq!(code, 0, "{stderr}");
    let vars: Vec<(String, String)> = text
        .lines()
        .map(|line| {
            let rest = line.strip_prefix("export ").expect(line);
            let (name, value) = rest.split_once('=').expect(line);
            let value = value
                .strip_prefix('\'')
                .unwrap()
                .strip_suffix('\'')
                .unwrap();
            assert!(!value.contains('\''), "{line}");
            (name.to_string(), value.to_string())
        })
        .collect();
    for name in [
        "HTTPS_PROXY",
        "SSL_CERT_FILE",
        "REQUESTS_CA_BUNDLE",
        "NODE_EXTRA_CA_CERTS",
    ] {
        assert!(
            vars.iter().any(|(n, _)| n == name),
            "{name} missing: {text}"
        );
    }
    assert!(vars.contains(&("HTTPS_PROXY".into(), url)), "{text}");
    vars
}

/// Runs a client with only the proxy environment from `env` (inherited proxy settings removed).
fn client(program: &str, args: &[&str], env: &[(String, String)], home: &Path) -> Out {
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(home).env("HOME", home);
    for var in [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "NODE_EXTRA_CA_CERTS",
        "NODE_OPTIONS",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    run_bounded(&mut cmd, STEP)
}

// ---------------------------------------------------------------- checks

/// The request reached the upstream exactly once, with the real key; the client saw the echo
/// redacted and never the key (plain or base64).
fn assert_injected_and_redacted(name: &str, out: &Out, upstream: &Upstream, path: &str) {
    let all = out.all();
    assert_eq!(out.code, Some(0), "{name}: {all}");
    assert_eq!(
        upstream.auth_at(path),
        vec![format!("Bearer {KEY}")],
        "{name}: the upstream must receive the real key once"
    );
    assert!(
        !all.contains(KEY),
        "{name}: the key reached the client: {all}"
    );
    for encoded in [
        base64(KEY.as_bytes()),
        base64(format!("Bearer {KEY}").as_bytes()),
    ] {
        assert!(!all.contains(&encoded), "{name}: base64 key: {all}");
    }
    assert!(
        all.contains("authorization: Bearer [REDACTED]\n"),
        "{name}: echoed header not redacted: {all}"
    );
    let b64_line = all
        .lines()
        .find(|l| l.starts_with("b64 authorization: "))
        .unwrap_or_else(|| panic!("{name}: no b64 echo: {all}"));
    assert!(b64_line.contains("[REDACTED]"), "{name}: {b64_line}");
}

/// The ungranted reference was refused by the vault (CV-2041) and nothing reached the upstream.
fn assert_refused(name: &str, all: &str, upstream: &Upstream, path: &str) {
    assert!(
        upstream.auth_at(path).is_empty(),
        "{name}: a refused request reached the upstream"
    );
    assert!(all.contains("403"), "{name}: {all}");
    assert!(
        all.to_ascii_lowercase()
            .contains("x-clavitor-error: cv-2041"),
        "{name}: {all}"
    );
    assert!(!all.contains(KEY) && !all.contains(UNGRANTED_KEY), "{name}");
}

fn url(path: &str) -> String {
    format!("https://{HOST}{path}")
}

fn python_script(library: &str) -> String {
    format!(
        r#"
import sys
import {library}
r = {library}.get(sys.argv[1], headers={{"Authorization": sys.argv[2]}}, timeout=30)
print(r.status_code)
print("x-echo-auth: " + r.headers.get("x-echo-auth", ""))
print("x-clavitor-error: " + r.headers.get("x-clavitor-error", ""))
print(r.text)
"#
    )
}

fn audit_rows(vault: &Vault) -> Vec<serde_json::Value> {
    vault
        .owner(&["audit", "--json"])
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

// ---------------------------------------------------------------- the test

#[test]
fn real_clients_through_clavitor_cli_proxy() {
    let started = Instant::now();
    require("python3", &["--version"], "python3 is needed");
    require("openssl", &["version"], "openssl is needed");
    require("curl", &["--version"], "curl is needed");
    require(
        "python3",
        &["-c", "import requests, httpx"],
        "install them: python3 -m pip install requests httpx",
    );
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());

    let vault = Vault::start();
    vault.owner(&[
        "entry",
        "add",
        "OpenAI",
        "--field",
        &format!("key={KEY}"),
        "--host",
        HOST,
        "--inject-only",
        "key",
    ]);
    vault.owner(&[
        "entry",
        "add",
        "Anthropic",
        "--field",
        &format!("key={UNGRANTED_KEY}"),
        "--host",
        HOST,
        "--inject-only",
        "key",
    ]);
    let token = vault.create_agent("Codex", &["--entry", "OpenAI"]);
    let agent = Agent::new();
    agent.init(&token);
    let upstream = Upstream::start();
    let proxy = Proxy::start(&agent, &upstream);
    let env = client_env(&agent, &proxy);
    let home = agent.home.path();
    let auth_header = format!("Authorization: {AUTH}");
    let ungranted_header = format!("Authorization: {UNGRANTED}");
    let mut injected = 0;
    let mut refused = 0;

    // curl, HTTP/1.1 and HTTP/2 toward the proxy (ALPN), headers included in the output.
    for (flag, tag) in [("--http1.1", "curl-h1"), ("--http2", "curl-h2")] {
        let path = format!("/echo?{tag}");
        let out = client(
            "curl",
            &[
                "-sS",
                "-i",
                "--max-time",
                "30",
                flag,
                "-H",
                &auth_header,
                &url(&path),
            ],
            &env,
            home,
        );
        assert_injected_and_redacted(tag, &out, &upstream, &path);
        let status_line = if flag == "--http2" {
            "HTTP/2 200"
        } else {
            "HTTP/1.1 200"
        };
        // The first status line is the proxy's answer to CONNECT, then the response itself.
        assert!(
            out.stdout.starts_with("HTTP/1.1 200")
                && out.stdout.contains(&format!("\r\n\r\n{status_line}")),
            "{tag}: {}",
            out.stdout
        );
        assert!(
            out.stdout.contains("x-echo-auth: Bearer [REDACTED]\r\n"),
            "{tag}: {}",
            out.stdout
        );
        injected += 1;
        let path = format!("/echo?{tag}-ungranted");
        let out = client(
            "curl",
            &[
                "-sS",
                "-i",
                "--max-time",
                "30",
                flag,
                "-H",
                &ungranted_header,
                &url(&path),
            ],
            &env,
            home,
        );
        assert_eq!(out.code, Some(0), "{}", out.all());
        assert_refused(&format!("{tag} ungranted"), &out.all(), &upstream, &path);
        refused += 1;
    }

    // curl, server-sent events: each event echoes the key, each arrives redacted.
    let out = client(
        "curl",
        &[
            "-sS",
            "-N",
            "--max-time",
            "30",
            "-H",
            &auth_header,
            &url("/sse?curl"),
        ],
        &env,
        home,
    );
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert_eq!(upstream.auth_at("/sse?curl"), vec![format!("Bearer {KEY}")]);
    for i in 0..3 {
        assert!(
            out.stdout
                .contains(&format!("data: event {i} Bearer [REDACTED]\n\n")),
            "{}",
            out.stdout
        );
    }
    assert!(!out.all().contains(KEY));
    injected += 1;

    // Python requests and httpx (both honour HTTPS_PROXY; requests trusts REQUESTS_CA_BUNDLE,
    // httpx SSL_CERT_FILE).
    for library in ["requests", "httpx"] {
        let script = python_script(library);
        let path = format!("/echo?{library}");
        let out = client("python3", &["-c", &script, &url(&path), AUTH], &env, home);
        assert_injected_and_redacted(library, &out, &upstream, &path);
        assert!(out.stdout.starts_with("200\n"), "{library}: {}", out.stdout);
        assert!(
            out.stdout.contains("x-echo-auth: Bearer [REDACTED]\n"),
            "{library}: {}",
            out.stdout
        );
        injected += 1;
        let path = format!("/echo?{library}-ungranted");
        let out = client(
            "python3",
            &["-c", &script, &url(&path), UNGRANTED],
            &env,
            home,
        );
        assert_eq!(out.code, Some(0), "{}", out.all());
        assert!(out.stdout.starts_with("403\n"), "{}", out.stdout);
        assert_refused(
            &format!("{library} ungranted"),
            &out.stdout,
            &upstream,
            &path,
        );
        refused += 1;
    }

    // Node https (CONNECT agent) and fetch (undici Agent with a CONNECT hook): see the fixture.
    if node {
        let script = fixtures().join("node_client.js");
        let script = script.to_str().unwrap();
        for mode in ["https", "fetch"] {
            let name = format!("node {mode}");
            let path = format!("/echo?node-{mode}");
            let out = client("node", &[script, mode, &url(&path), AUTH], &env, home);
            assert_injected_and_redacted(&name, &out, &upstream, &path);
            assert!(out.stdout.starts_with("200\n"), "{name}: {}", out.stdout);
            assert!(
                out.stdout.contains("x-echo-auth: Bearer [REDACTED]\n"),
                "{name}: {}",
                out.stdout
            );
            injected += 1;
            let path = format!("/echo?node-{mode}-ungranted");
            let out = client("node", &[script, mode, &url(&path), UNGRANTED], &env, home);
            assert_eq!(out.code, Some(0), "{}", out.all());
            assert!(out.stdout.starts_with("403\n"), "{}", out.stdout);
            assert_refused(&name, &out.stdout, &upstream, &path);
            refused += 1;
        }
    } else {
        eprintln!("node not installed: the Node https and fetch clients were skipped");
    }

    // The audit: every injection and refusal by proxy:codex, and the reflections reported
    // (asynchronously, so wait for them a little).
    let deadline = Instant::now() + Duration::from_secs(10);
    let rows = loop {
        let rows = audit_rows(&vault);
        let reflected = rows.iter().filter(|r| r["reason"] == "reflected").count();
        if reflected >= injected || Instant::now() > deadline {
            break rows;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let all_rows = serde_json::to_string_pretty(&rows).unwrap();
    let by_proxy = |entry: &str, outcome: &str, reason: Option<&str>| {
        rows.iter()
            .filter(|r| {
                r["action"] == "inject"
                    && r["actor"] == "proxy:codex"
                    && r["entry"] == entry
                    && r["outcome"] == outcome
                    && reason.is_none_or(|reason| r["reason"] == reason)
            })
            .count()
    };
    assert_eq!(by_proxy("OpenAI", "ok", None), injected, "{all_rows}");
    assert_eq!(
        by_proxy("Anthropic", "refused", Some("CV-2041")),
        refused,
        "{all_rows}"
    );
    let reflected: Vec<_> = rows.iter().filter(|r| r["reason"] == "reflected").collect();
    assert!(reflected.len() >= injected, "{all_rows}");
    for r in reflected {
        assert_eq!(r["actor"], "proxy:codex", "{r}");
        assert_eq!(r["action"], "inject", "{r}");
        assert_eq!(r["entry"], "OpenAI", "{r}");
        assert_eq!(r["field"], "key", "{r}");
        assert_eq!(r["host"], format!("{HOST}:443"), "{r}");
        assert_eq!(r["outcome"], "redacted", "{r}");
    }
    assert!(!all_rows.contains(KEY));

    let proxy_output = proxy.output.lock().unwrap().clone();
    assert!(
        !proxy_output.contains(KEY),
        "the key appeared in the proxy's output"
    );
    // The proxy's log (at trace here) says why each refusal happened.
    assert!(
        proxy_output.contains("refused: Access denied."),
        "the proxy logs its refusals: {proxy_output}"
    );
    eprintln!(
        "{injected} injected and {refused} refused requests through clavitor-cli proxy in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
