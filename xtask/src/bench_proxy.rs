//! `cargo xtask bench proxy`: the injection proxy against DESIGN.md §12, in one run, against
//! the same local TLS upstream (nginx with a test CA generated here) and the same load
//! generator (`clavitor-proxy`'s `load` example, HTTP/1.1 keep-alive, CONNECT-capable):
//!
//! - (a) direct to nginx;
//! - (b) through the proxy, no reference;
//! - (c) through the proxy, one injected header, resolved by a real `clavitor serve` (agent
//!   enrolled with a setup token; every request is a vault injection call with its durable
//!   audit record);
//! - (c') the same through a proxy with a static in-memory vault (no vault call, no audit),
//!   to show what the proxy itself costs;
//! - (d) through mitmproxy (`mitmdump` with a small addon doing the same substitution);
//! - the proxy's peak RSS with 100 concurrent SSE streams (a small Python TLS SSE upstream),
//!   each carrying an injected header (so the redacting body path is active).
//!
//! Each load phase runs a few seconds at 1 connection (p50/p99 latency) and 16 connections
//! (requests/s). nginx and mitmproxy are installed when missing (apt-get, pip). A benchmark,
//! never a test: it does not run in CI. `CLAVITOR_BENCH_SECONDS` changes the phase length.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::table::Table;
use anyhow::{Context, bail};

const HOST: &str = "api.bench.test";
const SSE_HOST: &str = "sse.bench.test";
const SECRET: &str = "sk-bench-4f1d2c3b5a69788796a5b4c3d2e1f0a9";
const REFERENCE_HEADER: &str = "Authorization: Bearer clavitor://Bench/key";
const SSE_STREAMS: usize = 100;

pub fn run(t: &mut Table) -> anyhow::Result<()> {
    let seconds: u64 = std::env::var("CLAVITOR_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let root = crate::root();
    let nginx = ensure_nginx()?;
    let mitmdump = ensure_mitmproxy();
    which("openssl").context("the proxy benchmark needs the openssl CLI")?;
    which("python3").context("the proxy benchmark needs python3 (SSE upstream)")?;
    crate::run(
        "cargo",
        &[
            "build",
            "--release",
            "--quiet",
            "-p",
            "clavitor",
            "-p",
            "clavitor-proxy",
            "--bins",
            "--examples",
        ],
    )?;
    let release = root.join("target").join("release");
    let bins = Bins {
        clavitor: release.join("clavitor"),
        proxy: release.join("examples").join("bench_proxy"),
        load: release.join("examples").join("load"),
    };

    let dir = TempDir::new(&root.join("target").join("bench-proxy"))?;
    let d = dir.path();
    let mut procs = Procs::default();

    // ---- upstreams: nginx (TLS, keep-alive) and a Python SSE server, same test CA.
    make_certs(d)?;
    let nginx_port = free_port()?;
    write_nginx_conf(d, nginx_port)?;
    procs.spawn(
        "nginx",
        Command::new(&nginx)
            .args(["-p", &s(d), "-c", &s(&d.join("nginx.conf"))])
            .args(["-e", &s(&d.join("nginx-error.log"))]),
        d,
    )?;
    wait_port(nginx_port, "nginx")?;
    let sse_port = free_port()?;
    std::fs::write(d.join("sse.py"), SSE_SERVER)?;
    procs.spawn(
        "sse",
        Command::new("python3").args([
            &s(&d.join("sse.py")),
            &sse_port.to_string(),
            &s(&d.join("leaf.pem")),
            &s(&d.join("leaf.key")),
        ]),
        d,
    )?;
    wait_port(sse_port, "SSE upstream")?;

    // ---- the real vault: entry bound to the bench hosts, two enrolled agents.
    let vault_port = free_port()?;
    let vault_url = format!("http://127.0.0.1:{vault_port}");
    let data_dir = d.join("vault-data");
    std::fs::DirBuilder::new().mode(0o700).create(&data_dir)?;
    procs.spawn(
        "clavitor serve",
        Command::new(&bins.clavitor)
            .args(["serve", "--data-dir", &s(&data_dir)])
            .args(["--listen", &format!("127.0.0.1:{vault_port}")]),
        d,
    )?;
    wait_port(vault_port, "clavitor serve")?;
    let owner = |args: &[&str]| -> anyhow::Result<String> {
        let out = Command::new(&bins.clavitor)
            .args(["--vault", &vault_url, "--data-dir", &s(&data_dir)])
            .args(args)
            .output()
            .context("cannot run the owner CLI")?;
        if !out.status.success() {
            bail!(
                "clavitor {} failed: {}",
                args.first().copied().unwrap_or(""),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    owner(&[
        "entry",
        "add",
        "Bench",
        "--field",
        &format!("key={SECRET}"),
        "--host",
        HOST,
        "--host",
        SSE_HOST,
    ])?;
    for agent in ["BenchLoad", "BenchSse"] {
        let token = owner(&["agent", "create", agent, "--entry", "Bench"])?;
        std::fs::write(d.join(format!("{agent}.token")), token)?;
    }

    // ---- proxies: real vault (b, c), static vault (c'), mitmproxy (d).
    let resolve = [
        format!("{HOST}:443:127.0.0.1:{nginx_port}"),
        format!("{SSE_HOST}:443:127.0.0.1:{sse_port}"),
    ];
    let proxy_args = |port: u16, ca_dir: &str| -> Vec<String> {
        let mut a = vec![
            "--listen".into(),
            format!("127.0.0.1:{port}"),
            "--ca-dir".into(),
            s(&d.join(ca_dir)),
            "--upstream-ca".into(),
            s(&d.join("ca.pem")),
        ];
        for r in &resolve {
            a.extend(["--resolve".into(), r.clone()]);
        }
        a
    };
    let real_port = free_port()?;
    let mut args = proxy_args(real_port, "proxy-ca");
    args.extend([
        "--vault".into(),
        vault_url.clone(),
        "--setup-token-file".into(),
        s(&d.join("BenchLoad.token")),
    ]);
    let bundle = procs.spawn_proxy("proxy (real vault)", &bins.proxy, &args, d)?;
    let static_port = free_port()?;
    let mut args = proxy_args(static_port, "proxy-ca");
    args.extend(["--secret".into(), format!("Bench/key={SECRET}")]);
    procs.spawn_proxy("proxy (static vault)", &bins.proxy, &args, d)?;
    let mitm = match &mitmdump {
        Some(mitmdump) => match start_mitmproxy(&mut procs, mitmdump, d, nginx_port) {
            Ok(m) => Some(m),
            Err(err) => {
                eprintln!("mitmproxy could not start, (d) skipped: {err:#}");
                None
            }
        },
        None => None,
    };

    // ---- load phases.
    let load = |label: &str, via: Via, secret: bool, connections: usize| {
        let mut args: Vec<String> = vec![
            "--url".into(),
            format!("https://{HOST}/{}", if secret { "check" } else { "" }),
            "--connections".into(),
            connections.to_string(),
            "--seconds".into(),
            seconds.to_string(),
        ];
        match via {
            Via::Direct => args.extend([
                "--connect".into(),
                format!("127.0.0.1:{nginx_port}"),
                "--cacert".into(),
                s(&d.join("ca.pem")),
            ]),
            Via::Proxy(port, ref cacert) => args.extend([
                "--proxy".into(),
                format!("127.0.0.1:{port}"),
                "--cacert".into(),
                s(cacert),
            ]),
        }
        if secret {
            args.extend(["--header".into(), REFERENCE_HEADER.into()]);
        }
        run_load(&bins.load, label, &args)
    };
    let direct = || Via::Direct;
    let real = || Via::Proxy(real_port, bundle.clone());
    let stat = || Via::Proxy(static_port, bundle.clone());
    let a1 = load("(a) direct, 1 conn", direct(), false, 1)?;
    let a16 = load("(a) direct, 16 conns", direct(), false, 16)?;
    let b1 = load("(b) proxy, no reference, 1 conn", real(), false, 1)?;
    let b16 = load("(b) proxy, no reference, 16 conns", real(), false, 16)?;
    let c1 = load("(c) proxy + real vault, 1 conn", real(), true, 1)?;
    let c16 = load("(c) proxy + real vault, 16 conns", real(), true, 16)?;
    let cs1 = load("(c') proxy + static vault, 1 conn", stat(), true, 1)?;
    let cs16 = load("(c') proxy + static vault, 16 conns", stat(), true, 16)?;
    let (d1, d16) = match &mitm {
        Some((port, ca)) => (
            Some(load(
                "(d) mitmproxy, 1 conn",
                Via::Proxy(*port, ca.clone()),
                true,
                1,
            )?),
            Some(load(
                "(d) mitmproxy, 16 conns",
                Via::Proxy(*port, ca.clone()),
                true,
                16,
            )?),
        ),
        None => (None, None),
    };

    // ---- memory: a fresh proxy (real vault), 100 concurrent SSE streams with injection.
    let sse_proxy_port = free_port()?;
    let mut args = proxy_args(sse_proxy_port, "proxy-ca");
    args.extend([
        "--vault".into(),
        vault_url.clone(),
        "--setup-token-file".into(),
        s(&d.join("BenchSse.token")),
    ]);
    procs.spawn_proxy("proxy (SSE)", &bins.proxy, &args, d)?;
    let sse_pid = procs.last_pid();
    let idle_rss = proc_status_kb(sse_pid, "VmRSS:")?;
    let sse_args: Vec<String> = vec![
        "--url".into(),
        format!("https://{SSE_HOST}/events"),
        "--proxy".into(),
        format!("127.0.0.1:{sse_proxy_port}"),
        "--cacert".into(),
        s(&bundle),
        "--header".into(),
        REFERENCE_HEADER.into(),
        "--connections".into(),
        SSE_STREAMS.to_string(),
        "--seconds".into(),
        (seconds + 2).to_string(),
        "--stream".into(),
        "1".into(),
    ];
    let sse = run_load(&bins.load, "SSE streams through the proxy", &sse_args)?;
    let peak_rss = proc_status_kb(sse_pid, "VmHWM:")?;
    let peak_open = sse.extra("peak_open").unwrap_or(0.0);

    // ---- the table.
    t.section("Proxy (cargo xtask bench proxy)");
    t.info("(a) direct: p50 @1 conn", us(a1.p50), &a1);
    t.info("(a) direct: p99 @1 conn", us(a1.p99), &a1);
    t.info("(a) direct: rps @16 conns", rps(a16.rps), &a16);
    t.check(
        "(b) proxy, no reference: p50 @1",
        us(b1.p50),
        &format!("{} (a)", us(a1.p50)),
        b1.p50 / a1.p50,
        "<= 2x",
        b1.p50 <= 2.0 * a1.p50,
        &b1,
    );
    t.info("(b) proxy, no reference: p99 @1", us(b1.p99), &b1);
    t.check(
        "(b) proxy, no reference: rps @16",
        rps(b16.rps),
        &format!("{} (a)", rps(a16.rps)),
        b16.rps / a16.rps,
        ">= 0.35x",
        b16.rps >= 0.35 * a16.rps,
        &b16,
    );
    t.check(
        "(c) 1 injected header, real vault: p50 @1",
        us(c1.p50),
        &format!("{} (a)", us(a1.p50)),
        c1.p50 / a1.p50,
        "<= 5x",
        c1.p50 <= 5.0 * a1.p50,
        &c1,
    );
    t.info("(c) 1 injected header, real vault: p99 @1", us(c1.p99), &c1);
    match &d16 {
        Some(d16) => t.check(
            "(c) 1 injected header, real vault: rps @16",
            rps(c16.rps),
            &format!("{} (d)", rps(d16.rps)),
            c16.rps / d16.rps,
            ">= 20x",
            c16.rps >= 20.0 * d16.rps,
            &c16,
        ),
        None => t.info(
            "(c) 1 injected header, real vault: rps @16",
            rps(c16.rps),
            &c16,
        ),
    }
    t.ratio(
        "(c) vs direct: rps @16",
        rps(c16.rps),
        &format!("{} (a)", rps(a16.rps)),
        c16.rps / a16.rps,
        &c16,
    );
    t.ratio(
        "(c') static vault, no audit: p50 @1",
        us(cs1.p50),
        &format!("{} (a)", us(a1.p50)),
        cs1.p50 / a1.p50,
        &cs1,
    );
    t.ratio(
        "(c') static vault, no audit: rps @16",
        rps(cs16.rps),
        &format!("{} (a)", rps(a16.rps)),
        cs16.rps / a16.rps,
        &cs16,
    );
    if let (Some(d1), Some(d16)) = (&d1, &d16) {
        t.ratio(
            "(d) mitmproxy + addon: p50 @1",
            us(d1.p50),
            &format!("{} (a)", us(a1.p50)),
            d1.p50 / a1.p50,
            d1,
        );
        t.ratio(
            "(d) mitmproxy + addon: rps @16",
            rps(d16.rps),
            &format!("{} (a)", rps(a16.rps)),
            d16.rps / a16.rps,
            d16,
        );
    } else {
        t.row("(d) mitmproxy + addon", "skipped", "", "", "", "");
    }
    let mb = |kb: u64| kb as f64 / 1024.0;
    t.check(
        &format!("proxy peak RSS, {SSE_STREAMS} SSE streams"),
        format!("{:.1} MB", mb(peak_rss)),
        &format!("{:.1} MB idle", mb(idle_rss)),
        mb(peak_rss) / mb(idle_rss).max(0.001),
        "< 50 MB",
        mb(peak_rss) < 50.0,
        &sse,
    );
    t.note(format!(
        "SSE: {} streams open at once (peak), {} still streaming at the end, {} failed; first event p50 {}",
        peak_open,
        sse.requests,
        sse.errors,
        us(sse.p50)
    ));
    t.note(format!(
        "phases of {seconds} s; nginx {}; load: clavitor-proxy example `load` (HTTP/1.1 keep-alive); \
         (c) = real `clavitor serve` on {} (injection call + durable audit per request)",
        nginx_version(&nginx),
        s(&data_dir)
    ));
    drop(procs);
    Ok(())
}

// ------------------------------------------------------------------ results

#[derive(Clone, Debug, Default)]
struct LoadResult {
    requests: f64,
    errors: f64,
    rps: f64,
    p50: f64,
    p99: f64,
    raw: String,
}

impl LoadResult {
    fn extra(&self, key: &str) -> Option<f64> {
        json_number(&self.raw, key)
    }
}

fn json_number(line: &str, key: &str) -> Option<f64> {
    let at = line.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = &line[at..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

enum Via {
    Direct,
    Proxy(u16, PathBuf),
}

struct Bins {
    clavitor: PathBuf,
    proxy: PathBuf,
    load: PathBuf,
}

fn run_load(load: &Path, label: &str, args: &[String]) -> anyhow::Result<LoadResult> {
    let out = Command::new(load)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", load.display()))?;
    let line = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !out.status.success() || !line.starts_with('{') {
        bail!(
            "{label}: load generator failed ({}): {}{}",
            out.status,
            line,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let num = |k: &str| json_number(&line, k).unwrap_or(0.0);
    let r = LoadResult {
        requests: num("requests"),
        errors: num("errors"),
        rps: num("rps"),
        p50: num("p50_us"),
        p99: num("p99_us"),
        raw: line.clone(),
    };
    eprintln!("{label:<40} {line}");
    if r.requests == 0.0 {
        bail!("{label}: no successful request ({line})");
    }
    Ok(r)
}

fn us(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.1} ms", v / 1000.0)
    } else {
        format!("{v:.0} µs")
    }
}

fn rps(v: f64) -> String {
    format!("{v:.0} req/s")
}

/// Rows of this benchmark carry the load generator's error count as a note.
impl Table {
    fn note_errors(&mut self, label: &str, r: &LoadResult) {
        if r.errors > 0.0 {
            self.note(format!(
                "{label}: {} errors out of {} requests",
                r.errors, r.requests
            ));
        }
    }

    fn info(&mut self, label: &str, value: String, r: &LoadResult) {
        self.row(label, &value, "", "", "", "");
        self.note_errors(label, r);
    }

    fn ratio(&mut self, label: &str, value: String, base: &str, ratio: f64, r: &LoadResult) {
        self.row(label, &value, base, &format!("{ratio:.2}x"), "", "");
        self.note_errors(label, r);
    }

    #[allow(clippy::too_many_arguments)]
    fn check(
        &mut self,
        label: &str,
        value: String,
        base: &str,
        ratio: f64,
        target: &str,
        met: bool,
        r: &LoadResult,
    ) {
        let verdict = if met { "met" } else { "MISSED" };
        self.row(
            label,
            &value,
            base,
            &format!("{ratio:.2}x"),
            target,
            verdict,
        );
        self.note_errors(label, r);
    }
}

// ------------------------------------------------------------------ processes

/// Child processes started by this benchmark; stopped (SIGTERM by PID, then SIGKILL) on drop.
#[derive(Default)]
struct Procs {
    children: Vec<(String, Child)>,
}

impl Procs {
    fn spawn(&mut self, name: &str, cmd: &mut Command, dir: &Path) -> anyhow::Result<()> {
        let log = std::fs::File::create(dir.join(format!("{}.log", name.replace(' ', "-"))))?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        self.children.push((name.to_owned(), child));
        Ok(())
    }

    /// Starts the `bench_proxy` example; returns the CA bundle path it prints.
    fn spawn_proxy(
        &mut self,
        name: &str,
        bin: &Path,
        args: &[String],
        dir: &Path,
    ) -> anyhow::Result<PathBuf> {
        let log = std::fs::File::create(dir.join(format!("{}.log", name.replace(' ', "-"))))?;
        let mut child = Command::new(bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        let stdout = child.stdout.take();
        self.children.push((name.to_owned(), child));
        let stdout = stdout.context("no stdout")?;
        let mut bundle = None;
        for line in BufReader::new(stdout).lines() {
            let line = line?;
            if let Some(path) = line.strip_prefix("bundle ") {
                bundle = Some(PathBuf::from(path));
                break;
            }
        }
        bundle.with_context(|| format!("{name} exited before listening (see its log)"))
    }

    fn last_pid(&self) -> u32 {
        self.children.last().map_or(0, |(_, c)| c.id())
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        for (_, child) in self.children.iter_mut().rev() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
        }
        for (name, child) in self.children.iter_mut().rev() {
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) => break,
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(50))
                    }
                    _ => {
                        eprintln!("{name} did not stop on SIGTERM: killing it");
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                }
            }
        }
    }
}

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(parent: &Path) -> anyhow::Result<TempDir> {
        std::fs::create_dir_all(parent)?;
        let path = parent.join(format!("run-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        Ok(TempDir(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("CLAVITOR_BENCH_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_port(port: u16, what: &str) -> anyhow::Result<()> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("{what} did not start listening on port {port}")
}

fn proc_status_kb(pid: u32, key: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {key} in /proc/{pid}/status"))
}

fn which(program: &str) -> anyhow::Result<PathBuf> {
    let out = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()?;
    let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !out.status.success() || path.is_empty() {
        bail!("{program} not found");
    }
    Ok(PathBuf::from(path))
}

// ------------------------------------------------------------------ tools

fn ensure_nginx() -> anyhow::Result<PathBuf> {
    if let Ok(p) = which("nginx").or_else(|_| {
        let p = PathBuf::from("/usr/sbin/nginx");
        if p.exists() { Ok(p) } else { bail!("none") }
    }) {
        return Ok(p);
    }
    eprintln!("nginx not found: installing it (apt-get install -y nginx-light)");
    for package in ["nginx-light", "nginx"] {
        let ok = Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends", package])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            break;
        }
    }
    let p = PathBuf::from("/usr/sbin/nginx");
    if p.exists() {
        Ok(p)
    } else {
        bail!("nginx is needed: install it (apt-get install nginx-light)")
    }
}

/// `mitmdump` from the Python scripts directory, installed with pip when missing.
fn ensure_mitmproxy() -> Option<PathBuf> {
    let scripts = || -> Option<PathBuf> {
        let out = Command::new("python3")
            .args([
                "-c",
                "import sysconfig; print(sysconfig.get_path('scripts'))",
            ])
            .output()
            .ok()?;
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        let bin = dir.join("mitmdump");
        bin.exists().then_some(bin)
    };
    if let Some(bin) = scripts() {
        return Some(bin);
    }
    eprintln!("mitmdump not found: installing mitmproxy (python3 -m pip install mitmproxy)");
    let _ = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "mitmproxy"])
        .status();
    let found = scripts();
    if found.is_none() {
        eprintln!("mitmproxy unavailable: (d) and the c/d ratio are skipped");
    }
    found
}

fn nginx_version(nginx: &Path) -> String {
    Command::new(nginx)
        .arg("-v")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stderr)
                .trim()
                .trim_start_matches("nginx version: ")
                .to_owned()
        })
        .unwrap_or_default()
}

fn openssl(dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .context("cannot run openssl")?;
    if !out.status.success() {
        bail!(
            "openssl {} failed: {}",
            args.first().copied().unwrap_or(""),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// A test CA and one leaf for both bench hosts (ECDSA P-256).
fn make_certs(d: &Path) -> anyhow::Result<()> {
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=Clavitor bench CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    )?;
    openssl(
        d,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            &format!("/CN={HOST}"),
        ],
    )?;
    std::fs::write(
        d.join("leaf.ext"),
        format!(
            "subjectAltName=DNS:{HOST},DNS:{SSE_HOST}\nbasicConstraints=critical,CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n\
             subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
        ),
    )?;
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "4242",
            "-out",
            "leaf.pem",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
        ],
    )
}

fn write_nginx_conf(d: &Path, port: u16) -> anyhow::Result<()> {
    let conf = format!(
        r#"daemon off;
master_process on;
worker_processes auto;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/nginx-body;
    keepalive_requests 10000000;
    keepalive_timeout 120s;
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name {host};
        ssl_certificate {dir}/leaf.pem;
        ssl_certificate_key {dir}/leaf.key;
        ssl_protocols TLSv1.3;
        default_type text/plain;
        location = /check {{
            if ($http_authorization != "Bearer {secret}") {{ return 401 "no secret\n"; }}
            return 200 "ok\n";
        }}
        location / {{ return 200 "ok\n"; }}
    }}
}}
"#,
        dir = s(d),
        host = HOST,
        secret = SECRET,
    );
    std::fs::write(d.join("nginx.conf"), conf)?;
    Ok(())
}

/// Starts mitmdump with the substitution addon; returns its port and CA certificate.
fn start_mitmproxy(
    procs: &mut Procs,
    mitmdump: &Path,
    d: &Path,
    nginx_port: u16,
) -> anyhow::Result<(u16, PathBuf)> {
    let addon = format!(
        r#"# The same substitution as the proxy's, as a mitmproxy addon (one reference, one header).
NEEDLE = "clavitor://Bench/key"
SECRET = "{SECRET}"

def server_connect(data):
    if data.server.address and data.server.address[0] == "{HOST}":
        data.server.address = ("127.0.0.1", {nginx_port})

def request(flow):
    value = flow.request.headers.get("authorization")
    if value and NEEDLE in value:
        flow.request.headers["authorization"] = value.replace(NEEDLE, SECRET)
"#
    );
    std::fs::write(d.join("addon.py"), addon)?;
    let port = free_port()?;
    let confdir = d.join("mitm");
    procs.spawn(
        "mitmdump",
        Command::new(mitmdump)
            .args([
                "--listen-host",
                "127.0.0.1",
                "--listen-port",
                &port.to_string(),
            ])
            .args(["--set", &format!("confdir={}", s(&confdir))])
            .args([
                "--set",
                &format!("ssl_verify_upstream_trusted_ca={}", s(&d.join("ca.pem"))),
            ])
            .args(["--set", "flow_detail=0", "-q"])
            .args(["-s", &s(&d.join("addon.py"))]),
        d,
    )?;
    wait_port(port, "mitmdump")?;
    let ca = confdir.join("mitmproxy-ca-cert.pem");
    if !ca.exists() {
        bail!("mitmdump did not write its CA");
    }
    Ok((port, ca))
}

/// A tiny TLS SSE upstream: every request gets an endless `text/event-stream`, one event per
/// 100 ms, until the client goes away.
const SSE_SERVER: &str = r#"
import asyncio, ssl, sys

port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]

async def handle(reader, writer):
    try:
        while (await reader.readline()) not in (b"\r\n", b"\n", b""):
            pass
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                     b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n")
        n = 0
        while True:
            event = b"data: tick %d\n\n" % n
            writer.write(b"%x\r\n%s\r\n" % (len(event), event))
            await writer.drain()
            n += 1
            await asyncio.sleep(0.1)
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()

async def main():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])
    server = await asyncio.start_server(handle, "127.0.0.1", port, ssl=ctx, backlog=512)
    async with server:
        await server.serve_forever()

asyncio.run(main())
"#;
