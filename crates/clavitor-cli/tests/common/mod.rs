//! Test harness: a real `clavitor serve` on 127.0.0.1 with a free port and a
//! temporary data dir, the owner CLI against it, and agents with their own
//! config dir and HOME.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use clavitor_client::VaultClient;
use clavitor_core::Secret;
use tempfile::TempDir;

pub const SEED: &str = "JBSWY3DPEHPK3PXP";

/// `target/debug/clavitor`, next to this test's own `deps/` directory; built
/// on demand (cargo builds a sibling package's binary only for its own tests).
pub fn clavitor_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    let bin = dir.join("clavitor");
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "clavitor"])
            .status()
            .unwrap();
        assert!(status.success(), "cargo build -p clavitor failed");
    }
    assert!(bin.exists(), "{} is missing", bin.display());
    bin
}

pub fn cli_bin() -> &'static str {
    env!("CARGO_BIN_EXE_clavitor-cli")
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

pub struct Vault {
    pub data: TempDir,
    pub url: String,
    pub port: u16,
    child: Child,
}

impl Drop for Vault {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Vault {
    pub fn start() -> Vault {
        let bin = clavitor_bin();
        for _ in 0..5 {
            let data = tempfile::tempdir().unwrap();
            let port = free_port();
            let log = std::fs::File::create(data.path().join("serve.log")).unwrap();
            let mut child = Command::new(&bin)
                .args([
                    "serve",
                    "--listen",
                    &format!("127.0.0.1:{port}"),
                    "--data-dir",
                ])
                .arg(data.path().join("data"))
                .env_remove("CLAVITOR_DATA_DIR")
                .env_remove("CLAVITOR_PUBLIC_URL")
                .stdout(Stdio::piped())
                .stderr(Stdio::from(log))
                .spawn()
                .unwrap();
            let mut line = String::new();
            let mut out = BufReader::new(child.stdout.take().unwrap());
            let _ = out.read_line(&mut line);
            if line.contains("listening") {
                // Keep draining stdout so the server never blocks on it.
                std::thread::spawn(move || {
                    let mut sink = String::new();
                    while out.read_line(&mut sink).unwrap_or(0) > 0 {
                        sink.clear();
                    }
                });
                return Vault {
                    data,
                    url: format!("http://127.0.0.1:{port}"),
                    port,
                    child,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("clavitor serve did not start");
    }

    pub fn data_dir(&self) -> PathBuf {
        self.data.path().join("data")
    }

    /// Runs the owner CLI; panics unless it succeeds; returns stdout.
    pub fn owner(&self, args: &[&str]) -> String {
        let out = Command::new(clavitor_bin())
            .arg("--data-dir")
            .arg(self.data_dir())
            .arg("--vault")
            .arg(&self.url)
            .args(args)
            .env_remove("CLAVITOR_OWNER_TOKEN")
            .env_remove("CLAVITOR_VAULT")
            .env_remove("CLAVITOR_DATA_DIR")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "clavitor {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// A setup token for a new agent (generous rate limit unless `args` sets one).
    pub fn create_agent(&self, name: &str, args: &[&str]) -> String {
        let mut all = vec!["agent", "create", name];
        all.extend_from_slice(args);
        if !args.contains(&"--rate") {
            all.extend_from_slice(&["--rate", "100/min,1000/h"]);
        }
        self.owner(&all).trim().to_string()
    }

    /// The owner API client (owner token from the data dir).
    pub fn owner_client(&self) -> VaultClient {
        let token = std::fs::read_to_string(self.data_dir().join("owner.token")).unwrap();
        VaultClient::new(&self.url, Some(Secret::new(token.trim().to_string()))).unwrap()
    }

    /// Gives the vault a personal key so personal fields can be stored.
    pub fn set_personal_key(&self) {
        let client = self.owner_client();
        block_on(async {
            let mut key = client.personal_key().await.unwrap();
            let (_private, public) =
                clavitor_crypto::personal::PersonalPrivateKey::generate().unwrap();
            key.public_key = Some(public.to_base64url());
            client.set_personal_key(&key).await.unwrap();
        });
    }

    /// Adds an entry with shared fields holding exactly `fields` (through the owner API,
    /// so any value, control characters included, arrives unchanged).
    pub fn add_shared(&self, name: &str, fields: &[(&str, &str)]) {
        use clavitor_core::api::{EntryCreate, FieldSpec};
        let client = self.owner_client();
        let req = EntryCreate {
            name: name.to_string(),
            fields: fields
                .iter()
                .map(|(label, value)| FieldSpec {
                    label: label.to_string(),
                    tier: Some(clavitor_core::Tier::Shared),
                    value: Some(value.to_string()),
                    ..FieldSpec::default()
                })
                .collect(),
            ..EntryCreate::default()
        };
        block_on(client.create_entry(&req)).unwrap();
    }
}

/// One agent machine: its own config dir and HOME.
pub struct Agent {
    pub home: TempDir,
}

impl Agent {
    pub fn new() -> Agent {
        Agent {
            home: tempfile::tempdir().unwrap(),
        }
    }

    pub fn config_dir(&self) -> PathBuf {
        self.home.path().join("config").join("clavitor")
    }

    pub fn config_file(&self) -> PathBuf {
        self.config_dir().join("agent.json")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.home.path().join(name)
    }

    /// `clavitor-cli` with this agent's environment (no proxies, no inherited config).
    pub fn cmd(&self) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::new(cli_bin());
        cmd.current_dir(self.home.path())
            .env("HOME", self.home.path())
            .env("CLAVITOR_CONFIG_DIR", self.config_dir())
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("HTTPS_PROXY")
            .env_remove("HTTP_PROXY")
            .env_remove("ALL_PROXY")
            .env_remove("https_proxy")
            .env_remove("http_proxy")
            .env_remove("all_proxy");
        cmd
    }

    /// `echo "$TOKEN" | clavitor-cli init`, asserting success.
    pub fn init(&self, token: &str) -> String {
        let out = self
            .cmd()
            .arg("init")
            .write_stdin(format!("{token}\n"))
            .assert()
            .success();
        String::from_utf8(out.get_output().stdout.clone()).unwrap()
    }

    /// Runs `clavitor-cli ARGS`; returns (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.cmd().args(args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

/// A vault with the guide's entries and an enrolled agent "Codex" granted GitHub and OpenAI.
pub fn guide_setup() -> (Vault, Agent) {
    let vault = Vault::start();
    vault.owner(&[
        "entry",
        "add",
        "GitHub",
        "--field",
        "username=octocat",
        "--field",
        "password=gh-pass-Ω\"'\\",
        "--totp",
        SEED,
    ]);
    vault.owner(&[
        "entry",
        "add",
        "OpenAI",
        "--field",
        "key=sk-openai-test",
        "--host",
        "api.openai.com",
        "--inject-only",
        "key",
    ]);
    vault.owner(&[
        "entry",
        "add",
        "Stripe API",
        "--field",
        "key=sk_live_stripe",
    ]);
    let token = vault.create_agent("Codex", &["--entry", "GitHub", "--entry", "OpenAI"]);
    let agent = Agent::new();
    agent.init(&token);
    (vault, agent)
}

pub const GITHUB_PASSWORD: &str = "gh-pass-Ω\"'\\";

pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Replaces run-specific text (temp paths, ports, ids, times) for snapshots.
pub fn normalise(text: &str, vault: Option<&Vault>, agent: Option<&Agent>) -> String {
    let mut t = text.to_string();
    if let Some(a) = agent {
        t = t.replace(&a.home.path().display().to_string(), "[HOME]");
    }
    if let Some(v) = vault {
        t = t.replace(&v.port.to_string(), "[PORT]");
    }
    t
}
