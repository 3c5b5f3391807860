//! `cargo xtask walkthrough`: the user's integration guide
//! (`seed/integration-guide.txt`, DESIGN.md §1), run for real.
//!
//! In a fresh temporary directory it starts `clavitor serve`, adds the
//! guide's entries with the owner CLI, creates the agents "Codex" and
//! "Deploy", and drives `clavitor-cli` as each agent would (its own config
//! dir and HOME): `init`, `get`, `totp`, `render`, the HTTPS proxy in front of
//! a local TLS stand-in for `api.openai.com` (`xtask/walkthrough/
//! openai_standin.py`, certificates made with the `openssl` CLI), the
//! refusals, then `clavitor audit` and `clavitor audit verify`. Every step is
//! printed like a terminal session and checked; any difference from the
//! expected result fails the run (non-zero exit). Child processes are killed
//! by PID on every exit path; the whole run is bounded in time.
//!
//! External tools: `python3`, `openssl`, `curl` (installed by `cargo xtask
//! test`). All values are fake.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, anyhow, bail};

/// The whole run, after the build.
const BUDGET: Duration = Duration::from_secs(60);
/// One foreground command, or waiting for a background one to be ready.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);

// Obviously fake values. The password holds characters that JSON must escape.
const GITHUB_USER: &str = "octocat";
const GITHUB_PASSWORD: &str = "fake-gh-pw \"walkthrough\" #1";
const TOTP_SEED: &str = "JBSWY3DPEHPK3PXP";
const RECOVERY_CODES: &str = "FAKE-RC-1111 FAKE-RC-2222 FAKE-RC-3333";
const OPENAI_KEY: &str = "sk-FAKE-walkthrough-0123456789abcdefABCDEF";
const AWS_ACCESS_KEY: &str = "AKIAFAKEWALKTHROUGH0";
const AWS_SECRET_KEY: &str = "fake/AWS+secret/walkthrough0000000000000";
const DB_URL: &str = "postgres://deploy:fake-db-pw@db.internal:5432/prod";
const CARD_NUMBER: &str = "4111111111111111";
const CVV: &str = "123";

const DENIED: &str = "clavitor-cli: CV-2041: Access denied.\n";

pub fn run() -> anyhow::Result<()> {
    crate::run(
        "cargo",
        &["build", "--bins", "-p", "clavitor", "-p", "clavitor-cli"],
    )?;
    let bins = target_dir().join("debug");
    for tool in ["python3", "openssl", "curl"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool} >/dev/null 2>&1")])
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            bail!("the walkthrough needs `{tool}` on PATH (`cargo xtask test` installs it)");
        }
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "clavitor-walkthrough-{}-{nanos:x}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut walk = Walk {
        dir: dir.clone(),
        bins,
        started: Instant::now(),
        background: Vec::new(),
        steps: 0,
        agent_output: String::new(),
        vault_url: String::new(),
    };
    let result = walk.guide();
    walk.stop_background();
    match result {
        Ok(()) => {
            say(&format!(
                "\n# walkthrough passed: {} steps in {:.1} s",
                walk.steps,
                walk.started.elapsed().as_secs_f64()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            Ok(())
        }
        Err(e) => {
            for log in ["serve.log", "proxy.log", "standin.log"] {
                if let Ok(text) = std::fs::read_to_string(dir.join(log))
                    && !text.trim().is_empty()
                {
                    eprintln!("--- {log} (last lines) ---\n{}", tail(&text, 15));
                }
            }
            eprintln!(
                "walkthrough: FAILED (working directory kept: {})",
                dir.display()
            );
            Err(e)
        }
    }
}

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if Path::new(&d).is_absolute() => PathBuf::from(d),
        Some(d) => crate::root().join(d),
        None => crate::root().join("target"),
    }
}

/// Prints one line of the session (stdout; a closed pipe is not an error).
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Quotes one word for a POSIX shell, only when needed.
fn sh_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

fn shown<S: AsRef<str>>(program: &str, args: &[S]) -> String {
    let mut s = program.to_string();
    for a in args {
        s.push(' ');
        s.push_str(&sh_quote(a.as_ref()));
    }
    s
}

/// Splits a command line on whitespace (for arguments without spaces).
fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

/// base64url without padding (RFC 4648 §5).
fn b64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut s = String::new();
    for chunk in bytes.chunks(3) {
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let n = (u32::from(chunk[0]) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        for i in 0..=chunk.len() {
            s.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    s
}

/// Parses `clavitor-cli env` (bash syntax: `export NAME='value'`).
fn parse_exports(text: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut vars = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let body = line
            .strip_prefix("export ")
            .ok_or_else(|| anyhow!("not an export line: {line:?}"))?;
        let (name, value) = body
            .split_once('=')
            .ok_or_else(|| anyhow!("not an assignment: {line:?}"))?;
        let value = match value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
            Some(inner) => inner.replace(r"'\''", "'"),
            None => value.to_string(),
        };
        vars.push((name.to_string(), value));
    }
    Ok(vars)
}

/// One row of `clavitor audit`, cut at the header's column positions.
#[derive(Debug, PartialEq, Eq)]
struct AuditRow {
    action: String,
    entry: String,
    actor: String,
    outcome: String,
}

fn parse_audit(text: &str) -> anyhow::Result<Vec<AuditRow>> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    if !header.starts_with("# TIME") {
        bail!("the audit table has no `# TIME ACTION ENTRY ACTOR OUTCOME FROM` header");
    }
    let col = |name: &str| {
        header
            .find(name)
            .ok_or_else(|| anyhow!("the audit header has no {name} column: {header:?}"))
    };
    let (action, entry, actor, outcome, from) = (
        col("ACTION")?,
        col("ENTRY")?,
        col("ACTOR")?,
        col("OUTCOME")?,
        col("FROM")?,
    );
    let mut rows = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let cell = |a: usize, b: usize| {
            line.get(a..b.min(line.len()))
                .map(|s| s.trim().to_string())
                .ok_or_else(|| anyhow!("audit row not aligned with the header: {line:?}"))
        };
        rows.push(AuditRow {
            action: cell(action, entry)?,
            entry: cell(entry, actor)?,
            actor: cell(actor, outcome)?,
            outcome: cell(outcome, from)?,
        });
    }
    Ok(rows)
}

/// What one command did.
struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Out {
    fn describe(&self) -> String {
        let code = self
            .code
            .map_or_else(|| "killed by a signal".to_string(), |c| format!("exit {c}"));
        format!("{code}, stdout {:?}, stderr {:?}", self.stdout, self.stderr)
    }
}

/// Runs a command to completion within `timeout`, feeding `stdin`.
fn exec(mut cmd: Command, stdin: Option<&str>, timeout: Duration) -> anyhow::Result<Out> {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {program}"))?;
    let input = stdin.map(str::to_owned);
    let pipe_in = child.stdin.take();
    let writer = std::thread::spawn(move || {
        if let (Some(mut pipe), Some(input)) = (pipe_in, input) {
            let _ = pipe.write_all(input.as_bytes());
        }
    });
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out_t = reader(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err_t = reader(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("`{program}` did not finish within {} s", timeout.as_secs());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = writer.join();
    let stdout = out_t
        .join()
        .map_err(|_| anyhow!("stdout reader panicked"))?;
    let stderr = err_t
        .join()
        .map_err(|_| anyhow!("stderr reader panicked"))?;
    Ok(Out {
        code: status.code(),
        stdout,
        stderr,
    })
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Environment variables that would make the run depend on the caller's shell.
fn scrub(cmd: &mut Command) {
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let proxyish = name.to_ascii_lowercase().ends_with("_proxy");
        if proxyish
            || name.starts_with("CLAVITOR_")
            || name.starts_with("XDG_")
            || name == "RUST_LOG"
            || [
                "SSL_CERT_FILE",
                "SSL_CERT_DIR",
                "CURL_CA_BUNDLE",
                "REQUESTS_CA_BUNDLE",
                "NODE_EXTRA_CA_CERTS",
                "GIT_SSL_CAINFO",
                "CURL_HOME",
            ]
            .contains(&name.as_ref())
        {
            cmd.env_remove(name.as_ref());
        }
    }
}

struct Background {
    name: &'static str,
    child: Child,
}

/// An agent's "machine": its own config dir and HOME.
struct Agent {
    config: PathBuf,
    home: PathBuf,
}

struct Walk {
    dir: PathBuf,
    bins: PathBuf,
    started: Instant,
    background: Vec<Background>,
    steps: usize,
    /// Everything agents were shown, to check no personal value ever leaks.
    agent_output: String,
    vault_url: String,
}

impl Drop for Walk {
    fn drop(&mut self) {
        self.stop_background();
    }
}

impl Walk {
    fn stop_background(&mut self) {
        while let Some(mut bg) = self.background.pop() {
            // Child::kill signals this PID only.
            let _ = bg.child.kill();
            let _ = bg.child.wait();
        }
    }

    fn timeout(&self) -> anyhow::Result<Duration> {
        let left = BUDGET.saturating_sub(self.started.elapsed());
        if left.is_zero() {
            bail!("the walkthrough exceeded its {} s budget", BUDGET.as_secs());
        }
        Ok(left.min(STEP_TIMEOUT))
    }

    /// A command run from the working directory with a scrubbed environment.
    /// `clavitor` and `clavitor-cli` are the freshly built binaries.
    fn command(&self, program: &str) -> Command {
        let mut cmd = match program {
            "clavitor" | "clavitor-cli" => Command::new(self.bins.join(program)),
            other => Command::new(other),
        };
        cmd.current_dir(&self.dir);
        scrub(&mut cmd);
        cmd.env("HOME", self.dir.join("owner-home"));
        cmd
    }

    fn owner<S: AsRef<str>>(&self, args: &[S]) -> Command {
        let mut cmd = self.command("clavitor");
        cmd.args(args.iter().map(AsRef::as_ref))
            .env("CLAVITOR_DATA_DIR", self.dir.join("vault-data"))
            .env("CLAVITOR_VAULT", &self.vault_url);
        cmd
    }

    fn agent_cli<S: AsRef<str>>(&self, agent: &Agent, args: &[S]) -> Command {
        let mut cmd = self.command("clavitor-cli");
        cmd.args(args.iter().map(AsRef::as_ref))
            .env("CLAVITOR_CONFIG_DIR", &agent.config)
            .env("HOME", &agent.home);
        cmd
    }

    /// Prints `$ shown`, runs the command, prints its output.
    fn step(&mut self, shown: &str, cmd: Command, stdin: Option<&str>) -> anyhow::Result<Out> {
        say(&format!("$ {shown}"));
        self.steps += 1;
        let out = exec(cmd, stdin, self.timeout()?).with_context(|| format!("step `{shown}`"))?;
        for text in [&out.stdout, &out.stderr] {
            if !text.is_empty() {
                say(text.strip_suffix('\n').unwrap_or(text));
            }
        }
        match out.code {
            Some(0) => {}
            Some(c) => say(&format!("[exit {c}]")),
            None => say("[killed by a signal]"),
        }
        Ok(out)
    }

    /// An agent step: its output is remembered for the leak check.
    fn agent_step(
        &mut self,
        shown: &str,
        cmd: Command,
        stdin: Option<&str>,
    ) -> anyhow::Result<Out> {
        let out = self.step(shown, cmd, stdin)?;
        self.agent_output.push_str(&out.stdout);
        self.agent_output.push_str(&out.stderr);
        Ok(out)
    }

    /// A step that must exit 0.
    fn ok_step(&mut self, shown: &str, cmd: Command, stdin: Option<&str>) -> anyhow::Result<Out> {
        let out = self.step(shown, cmd, stdin)?;
        if out.code != Some(0) {
            return Err(differ(shown, "exit 0", &out));
        }
        Ok(out)
    }

    /// A quiet helper command (test fixtures), shown only when it fails.
    fn quiet(&self, what: &str, cmd: Command) -> anyhow::Result<Out> {
        let out = exec(cmd, None, self.timeout()?).with_context(|| what.to_string())?;
        if out.code != Some(0) {
            bail!("{what} failed: {}", out.describe());
        }
        Ok(out)
    }

    fn spawn_background(
        &mut self,
        name: &'static str,
        shown: &str,
        mut cmd: Command,
        stdout: &str,
        stderr: &str,
    ) -> anyhow::Result<()> {
        if !shown.is_empty() {
            say(&format!("$ {shown} &"));
            self.steps += 1;
        }
        let out = File::create(self.dir.join(stdout))?;
        let err = if stdout == stderr {
            out.try_clone()?
        } else {
            File::create(self.dir.join(stderr))?
        };
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        self.background.push(Background { name, child });
        Ok(())
    }

    /// Waits until `ready()` holds, failing early if background process
    /// `name` exits.
    fn wait_ready(&mut self, name: &str, mut ready: impl FnMut() -> bool) -> anyhow::Result<()> {
        let deadline = Instant::now() + self.timeout()?;
        loop {
            if ready() {
                return Ok(());
            }
            if let Some(bg) = self.background.iter_mut().find(|b| b.name == name)
                && let Some(status) = bg.child.try_wait()?
            {
                bail!("{name} exited before it was ready ({status})");
            }
            if Instant::now() >= deadline {
                bail!("{name} was not ready in time");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }

    fn write(&self, name: &str, contents: &[u8]) -> anyhow::Result<()> {
        let path = self.dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, contents).with_context(|| format!("cannot write {}", path.display()))
    }

    /// The guide, step by step.
    fn guide(&mut self) -> anyhow::Result<()> {
        say(
            "# Clavitor walkthrough: the integration guide, run for real (cargo xtask walkthrough)",
        );
        say("# Every value below is fake. Each step's result is checked.");
        say(&format!("$ cd {}", self.dir.display()));
        self.owner_setup()?;
        let (codex_token, deploy_token) = self.create_agents()?;
        self.codex(&codex_token)?;
        self.deploy(&deploy_token)?;
        // Values no agent may ever see: personal fields, an ungranted secret,
        // an inject-only key.
        for value in [CARD_NUMBER, "FAKE-RC-", AWS_SECRET_KEY, OPENAI_KEY] {
            if self.agent_output.contains(value) {
                bail!("{value:?} reached an agent's output");
            }
        }
        say("\n# ✓ no agent ever saw the card number, recovery codes, AWS secret or OpenAI key");
        self.audit()?;
        Ok(())
    }

    fn owner_setup(&mut self) -> anyhow::Result<()> {
        say("\n## Owner machine: start the vault");
        let port = free_port()?;
        let listen = format!("127.0.0.1:{port}");
        self.vault_url = format!("http://{listen}");
        let args = words(&format!("serve --listen {listen} --data-dir vault-data"));
        let mut serve = self.command("clavitor");
        serve.args(&args).env("NO_COLOR", "1");
        self.spawn_background(
            "clavitor serve",
            &shown("clavitor", &args),
            serve,
            "serve.out",
            "serve.log",
        )?;
        let dir = self.dir.clone();
        let want = format!("Clavitor vault listening on {}", self.vault_url);
        let mut seen = (String::new(), Instant::now());
        self.wait_ready("clavitor serve", || {
            // Ready once it accepts connections, wrote the owner token and
            // printed its banner, and its output has settled (100 ms).
            let out = std::fs::read_to_string(dir.join("serve.out")).unwrap_or_default();
            if out != seen.0 {
                seen = (out, Instant::now());
                return false;
            }
            seen.0.contains(&want)
                && seen.1.elapsed() > Duration::from_millis(100)
                && dir.join("vault-data/owner.token").exists()
                && TcpStream::connect(("127.0.0.1", port)).is_ok()
        })?;
        let banner = self.read("serve.out");
        say(banner.trim_end());
        if !banner.contains(&want) {
            bail!("`clavitor serve` should print {want:?}; it printed {banner:?}");
        }
        say(&format!(
            "$ export CLAVITOR_VAULT={} CLAVITOR_DATA_DIR=$PWD/vault-data",
            self.vault_url
        ));

        say("\n# In the browser, the web vault creates the owner's personal key pair when a");
        say(
            "# passkey is registered, and uploads its public half. A terminal has no passkey: the next four commands STAND IN",
        );
        say("# for that passkey enrolment: a P-256 key pair made with openssl, its public key");
        say("# (uncompressed point, base64url) PUT to the owner API with the owner token.");
        for line in [
            "ecparam -name prime256v1 -genkey -noout -out personal-key.pem",
            "ec -in personal-key.pem -pubout -outform DER -out personal-key.pub.der",
        ] {
            let args = words(line);
            let mut cmd = self.command("openssl");
            cmd.args(&args);
            self.ok_step(&shown("openssl", &args), cmd, None)?;
        }
        let der = std::fs::read(self.dir.join("personal-key.pub.der"))?;
        let point = der
            .get(der.len().saturating_sub(65)..)
            .filter(|p| p.len() == 65 && p[0] == 4)
            .ok_or_else(|| anyhow!("the DER public key does not end in an uncompressed point"))?;
        let public_key = b64url(point);
        say(&format!(
            "# public key = the last 65 bytes of personal-key.pub.der, base64url: {public_key}"
        ));

        let token = self.read("vault-data/owner.token").trim().to_string();
        let auth = format!("Authorization: Bearer {token}");
        let shown_auth = "-H \"Authorization: Bearer $(cat vault-data/owner.token)\"";
        let url = format!("{}/v1/owner/personal-key", self.vault_url);
        let mut cmd = self.command("curl");
        cmd.args(["-sS", "--fail-with-body", "-H", &auth, &url]);
        let out = self.ok_step(
            &format!("curl -sS --fail-with-body {shown_auth} {url}"),
            cmd,
            None,
        )?;
        let vault_id = json_string(&out.stdout, "vault_id")
            .ok_or_else(|| differ("GET /v1/owner/personal-key", "a vault_id", &out))?;
        if !out.stdout.contains("\"public_key\":null") {
            return Err(differ(
                "GET /v1/owner/personal-key",
                "no personal key yet (\"public_key\":null)",
                &out,
            ));
        }
        let body = format!("{{\"vault_id\":\"{vault_id}\",\"public_key\":\"{public_key}\"}}");
        let mut cmd = self.command("curl");
        cmd.args([
            "-sS",
            "--fail-with-body",
            "-X",
            "PUT",
            "-H",
            &auth,
            "-H",
            "Content-Type: application/json",
            "--data",
            &body,
            &url,
        ]);
        let out = self.ok_step(
            &format!(
                "curl -sS --fail-with-body -X PUT {shown_auth} -H 'Content-Type: application/json' --data {} {url}",
                sh_quote(&body)
            ),
            cmd,
            None,
        )?;
        if !out.stdout.contains("\"ok\":true") {
            return Err(differ("PUT /v1/owner/personal-key", "{\"ok\":true}", &out));
        }

        say(
            "\n## Owner machine: add entries (`-` reads the value from stdin, `@FILE` from a file)",
        );
        let totp_uri =
            format!("otpauth://totp/GitHub:{GITHUB_USER}?secret={TOTP_SEED}&issuer=GitHub");
        let mut args = words(&format!(
            "entry add GitHub --field username={GITHUB_USER} --field password=- --totp {totp_uri}"
        ));
        args.extend([
            "--personal".into(),
            format!("recovery_codes={RECOVERY_CODES}"),
        ]);
        self.add_entry("GitHub", &args, Some(GITHUB_PASSWORD))?;

        say(&format!(
            "$ printf '%s' {} > openai.key",
            sh_quote(OPENAI_KEY)
        ));
        self.write("openai.key", OPENAI_KEY.as_bytes())?;
        let args = words(
            "entry add OpenAI --field key=@openai.key --host api.openai.com --inject-only key",
        );
        self.add_entry("OpenAI", &args, None)?;

        let args = words(&format!(
            "entry add AWS --field access_key={AWS_ACCESS_KEY} --field secret_key=-"
        ));
        self.add_entry("AWS", &args, Some(AWS_SECRET_KEY))?;

        let args = ["entry", "add", "Prod DB", "--field", "connection_string=-"];
        self.add_entry("Prod DB", &args, Some(DB_URL))?;

        let args = words(&format!(
            "entry add Visa --personal card_number={CARD_NUMBER} --personal cvv={CVV}"
        ));
        self.add_entry("Visa", &args, None)?;
        Ok(())
    }

    fn add_entry<S: AsRef<str>>(
        &mut self,
        name: &str,
        args: &[S],
        stdin: Option<&str>,
    ) -> anyhow::Result<()> {
        let cmd = self.owner(args);
        let display = shown("clavitor", args);
        let (display, input) = match stdin {
            Some(value) => (
                format!("echo {} | {display}", sh_quote(value)),
                Some(format!("{value}\n")),
            ),
            None => (display, None),
        };
        let out = self.ok_step(&display, cmd, input.as_deref())?;
        let want = format!("Added \"{name}\"");
        if !out.stdout.contains(&want) && !out.stderr.contains(&want) {
            return Err(differ(&display, format!("a line {want:?}"), &out));
        }
        Ok(())
    }

    fn create_agents(&mut self) -> anyhow::Result<(String, String)> {
        say("\n## Owner machine: one agent per job (only the setup token goes to stdout)");
        let mut tokens = Vec::new();
        for (var, args) in [
            (
                "CODEX_TOKEN",
                [
                    "agent", "create", "Codex", "--entry", "GitHub", "--entry", "OpenAI",
                ],
            ),
            (
                "DEPLOY_TOKEN",
                [
                    "agent", "create", "Deploy", "--entry", "AWS", "--entry", "Prod DB",
                ],
            ),
        ] {
            let display = format!("{var}=$({})", shown("clavitor", &args));
            say(&format!("$ {display}"));
            self.steps += 1;
            let out = exec(self.owner(&args), None, self.timeout()?)?;
            if !out.stderr.is_empty() {
                say(out.stderr.trim_end());
            }
            let token = out.stdout.trim();
            let one_token = out.code == Some(0)
                && token.starts_with("cvt_")
                && !token.contains(char::is_whitespace)
                && out.stdout.lines().count() == 1;
            if !one_token || out.stderr.contains(token) {
                return Err(differ(
                    &display,
                    "exit 0 and only the setup token (cvt_…) on stdout",
                    &out,
                ));
            }
            tokens.push(token.to_string());
        }
        let deploy = tokens.pop().unwrap_or_default();
        let codex = tokens.pop().unwrap_or_default();
        Ok((codex, deploy))
    }

    fn agent_machine(&mut self, name: &str, token_var: &str) -> anyhow::Result<Agent> {
        let lower = name.to_ascii_lowercase();
        say(&format!(
            "\n## Agent machine \"{name}\" (its own config dir and home)"
        ));
        say(&format!(
            "$ export CLAVITOR_CONFIG_DIR=$PWD/{lower}/config HOME=$PWD/{lower}/home"
        ));
        say(&format!(
            "$ export CLAVITOR_TOKEN=\"${token_var}\"   # handed over by the owner"
        ));
        let agent = Agent {
            config: self.dir.join(&lower).join("config"),
            home: self.dir.join(&lower).join("home"),
        };
        std::fs::create_dir_all(&agent.home)?;
        Ok(agent)
    }

    fn init(&mut self, agent: &Agent, name: &str, token: &str) -> anyhow::Result<()> {
        let display = "echo \"$CLAVITOR_TOKEN\" | clavitor-cli init";
        let cmd = self.agent_cli(agent, &["init"]);
        let out = self.agent_step(display, cmd, Some(&format!("{token}\n")))?;
        if out.code != Some(0) || !format!("{}{}", out.stdout, out.stderr).contains(name) {
            return Err(differ(
                display,
                format!("exit 0, agent \"{name}\" initialised"),
                &out,
            ));
        }
        if out.stdout.contains(token) || out.stderr.contains(token) {
            return Err(differ(display, "the token is never echoed", &out));
        }
        Ok(())
    }

    /// `clavitor-cli get` that must print exactly `value`.
    fn get(&mut self, agent: &Agent, entry: &str, field: &str, value: &str) -> anyhow::Result<()> {
        let args = ["get", entry, "--field", field];
        let display = format!("clavitor-cli get \"{entry}\" --field {field}");
        let out = self.agent_step(&display, self.agent_cli(agent, &args), None)?;
        if out.code != Some(0) || out.stdout != format!("{value}\n") {
            return Err(differ(
                &display,
                format!("exit 0, stdout {:?}", format!("{value}\n")),
                &out,
            ));
        }
        Ok(())
    }

    /// `clavitor-cli get` that the vault must refuse with exactly `stderr`.
    fn refused(
        &mut self,
        agent: &Agent,
        entry: &str,
        field: &str,
        stderr: &str,
    ) -> anyhow::Result<()> {
        let args = ["get", entry, "--field", field];
        let display = format!("clavitor-cli get \"{entry}\" --field {field}");
        let out = self.agent_step(&display, self.agent_cli(agent, &args), None)?;
        if out.code != Some(1) || !out.stdout.is_empty() || out.stderr != stderr {
            return Err(differ(
                &display,
                format!("exit 1, nothing on stdout, stderr exactly {stderr:?}"),
                &out,
            ));
        }
        Ok(())
    }

    fn codex(&mut self, token: &str) -> anyhow::Result<()> {
        let codex = self.agent_machine("Codex", "CODEX_TOKEN")?;
        self.init(&codex, "Codex", token)?;
        self.get(&codex, "GitHub", "password", GITHUB_PASSWORD)?;

        let display = "clavitor-cli totp \"GitHub\"";
        let out = self.agent_step(display, self.agent_cli(&codex, &["totp", "GitHub"]), None)?;
        let code = out.stdout.trim_end_matches('\n');
        if out.code != Some(0)
            || code.len() != 6
            || !code.bytes().all(|b| b.is_ascii_digit())
            || out.stdout.len() != 7
        {
            return Err(differ(
                display,
                "exit 0, a 6-digit code and a newline",
                &out,
            ));
        }
        let expected = self.rfc6238_codes()?;
        if !expected.iter().any(|c| c == code) {
            return Err(differ(
                display,
                format!("one of the RFC 6238 codes of the seed around now: {expected:?}"),
                &out,
            ));
        }
        say("# ✓ 6 digits, and RFC 6238 for the seed (computed independently with Python)");

        let template = "{\n  \"github\": {\n    \"username\": \"clavitor://GitHub/username\",\n    \"password\": \"clavitor://GitHub/password\"\n  },\n  \"log_level\": \"info\"\n}\n";
        self.write("app.config.json", template.as_bytes())?;
        let mut cat = self.command("cat");
        cat.arg("app.config.json");
        self.ok_step("cat app.config.json", cat, None)?;
        let display = "clavitor-cli render app.config.json";
        let out = self.agent_step(
            display,
            self.agent_cli(&codex, &["render", "app.config.json"]),
            None,
        )?;
        if out.code != Some(0) || out.stdout.contains("clavitor://") {
            return Err(differ(display, "exit 0, every reference substituted", &out));
        }
        self.check_rendered_json(&out.stdout)
            .map_err(|e| differ(display, e, &out))?;
        say("# ✓ the output parses as JSON; github.username and github.password are the values");

        say("\n# The OpenAI key is inject-only: `get` refuses it, the proxy injects it.");
        self.refused(
            &codex,
            "OpenAI",
            "key",
            "clavitor-cli: CV-2044: Inject-only field: use it through the proxy.\n",
        )?;
        self.proxy(&codex)?;

        say("\n# Codex was not granted AWS:");
        self.refused(&codex, "AWS", "secret_key", DENIED)?;
        Ok(())
    }

    /// Independent TOTP codes (previous, current, next step) for the seed.
    fn rfc6238_codes(&self) -> anyhow::Result<Vec<String>> {
        const SCRIPT: &str = "import base64,hashlib,hmac,struct,sys,time\n\
            key = base64.b32decode(sys.argv[1])\n\
            now = int(time.time()) // 30\n\
            for c in (now - 1, now, now + 1):\n\
            \x20   h = hmac.new(key, struct.pack('>Q', c), hashlib.sha1).digest()\n\
            \x20   o = h[19] & 15\n\
            \x20   print('%06d' % ((struct.unpack('>I', h[o:o + 4])[0] & 0x7fffffff) % 1000000))\n";
        let mut cmd = self.command("python3");
        cmd.args(["-c", SCRIPT, TOTP_SEED]);
        let out = self.quiet("computing the expected TOTP codes", cmd)?;
        Ok(out.stdout.lines().map(str::to_string).collect())
    }

    /// Parses the rendered file with Python's json module.
    fn check_rendered_json(&self, rendered: &str) -> Result<(), String> {
        const SCRIPT: &str = "import json,os,sys\n\
            doc = json.load(sys.stdin)\n\
            gh = doc['github']\n\
            assert gh['username'] == os.environ['WANT_USER'], 'username'\n\
            assert gh['password'] == os.environ['WANT_PASSWORD'], 'password'\n\
            assert doc['log_level'] == 'info', 'log_level'\n";
        let mut cmd = self.command("python3");
        cmd.args(["-c", SCRIPT])
            .env("WANT_USER", GITHUB_USER)
            .env("WANT_PASSWORD", GITHUB_PASSWORD);
        let timeout = self.timeout().map_err(|e| e.to_string())?;
        let out = exec(cmd, Some(rendered), timeout).map_err(|e| e.to_string())?;
        if out.code == Some(0) {
            Ok(())
        } else {
            Err(format!(
                "JSON that parses and holds the GitHub username and password (python: {})",
                out.stderr.trim()
            ))
        }
    }

    /// Test CA + leaf for api.openai.com, and the TLS stand-in serving it.
    fn start_standin(&mut self) -> anyhow::Result<u16> {
        say("\n# Test fixture (not part of the guide): a local TLS stand-in for api.openai.com,");
        say("# with a leaf from a throwaway test CA (openssl). It answers /v1/models with the");
        say("# SHA-256 of the bearer token it received, never the token itself.");
        std::fs::create_dir_all(self.dir.join("standin"))?;
        let standin = self.dir.join("standin");
        let mut ca = self.command("openssl");
        ca.current_dir(&standin)
            .args(words(
                "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes",
            ))
            .args(words("-keyout ca.key -out ca.pem -days 2"))
            .args(["-subj", "/CN=Clavitor walkthrough test CA"])
            .args(words("-addext basicConstraints=critical,CA:TRUE"))
            .args(words("-addext keyUsage=critical,keyCertSign,cRLSign"));
        self.quiet("openssl: test CA", ca)?;
        let mut csr = self.command("openssl");
        csr.current_dir(&standin)
            .args(words(
                "req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes",
            ))
            .args(words(
                "-keyout leaf.key -out leaf.csr -subj /CN=api.openai.com",
            ));
        self.quiet("openssl: leaf key and request", csr)?;
        self.write(
            "standin/leaf.ext",
            b"subjectAltName=DNS:api.openai.com\n\
              basicConstraints=critical,CA:FALSE\n\
              keyUsage=critical,digitalSignature\n\
              extendedKeyUsage=serverAuth\n\
              subjectKeyIdentifier=hash\n\
              authorityKeyIdentifier=keyid\n",
        )?;
        let mut leaf = self.command("openssl");
        leaf.current_dir(&standin)
            .args(words(
                "x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial",
            ))
            .args(words("-out leaf.pem -days 2 -extfile leaf.ext"));
        self.quiet("openssl: leaf certificate", leaf)?;

        let script = crate::root().join("xtask/walkthrough/openai_standin.py");
        let mut py = self.command("python3");
        py.arg(&script)
            .args(["standin/leaf.pem", "standin/leaf.key", "standin/port"]);
        self.spawn_background(
            "openai stand-in",
            &format!(
                "python3 {} standin/leaf.pem standin/leaf.key standin/port",
                script.display()
            ),
            py,
            "standin.log",
            "standin.log",
        )?;
        let port_file = self.dir.join("standin/port");
        self.wait_ready("openai stand-in", || port_file.exists())?;
        let port: u16 = self
            .read("standin/port")
            .trim()
            .parse()
            .context("the stand-in wrote no port")?;
        say(&format!(
            "# stand-in for https://api.openai.com listening on 127.0.0.1:{port} (CA: standin/ca.pem)"
        ));
        Ok(port)
    }

    fn proxy(&mut self, codex: &Agent) -> anyhow::Result<()> {
        let standin_port = self.start_standin()?;
        say(
            "\n# The proxy, with api.openai.com mapped to the stand-in (--resolve) and its test CA",
        );
        say("# trusted upstream (--upstream-ca). Codex's key is injected for that host only.");
        let port = free_port()?;
        let listen = format!("127.0.0.1:{port}");
        let resolve = format!("api.openai.com:443:127.0.0.1:{standin_port}");
        let args = [
            "proxy",
            "--listen",
            listen.as_str(),
            "--resolve",
            resolve.as_str(),
            "--upstream-ca",
            "standin/ca.pem",
        ];
        let cmd = self.agent_cli(codex, &args);
        self.spawn_background(
            "clavitor-cli proxy",
            &shown("clavitor-cli", &args),
            cmd,
            "proxy.log",
            "proxy.log",
        )?;
        self.wait_ready("clavitor-cli proxy", || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        })?;
        let banner = self.read("proxy.log");
        say(banner.trim_end());
        self.agent_output.push_str(&banner);

        let proxy_url = format!("http://localhost:{port}");
        let args = ["env", "--proxy", proxy_url.as_str()];
        let display = shown("clavitor-cli", &args);
        let out = self.agent_step(&display, self.agent_cli(codex, &args), None)?;
        if out.code != Some(0) {
            return Err(differ(&display, "exit 0", &out));
        }
        let exports = parse_exports(&out.stdout).map_err(|e| differ(&display, e, &out))?;
        let https_proxy = exports
            .iter()
            .find(|(k, _)| k == "HTTPS_PROXY")
            .map(|(_, v)| v.as_str());
        if https_proxy != Some(proxy_url.as_str()) {
            return Err(differ(
                &display,
                format!("export HTTPS_PROXY='{proxy_url}'"),
                &out,
            ));
        }
        for var in ["SSL_CERT_FILE", "CURL_CA_BUNDLE"] {
            let ok = exports
                .iter()
                .any(|(k, v)| k == var && Path::new(v).is_file());
            if !ok {
                return Err(differ(
                    &display,
                    format!("{var} naming an existing CA bundle"),
                    &out,
                ));
            }
        }
        say(&format!("$ eval \"$({display})\""));

        let args = [
            "-sS",
            "-H",
            "Authorization: Bearer clavitor://OpenAI/key",
            "https://api.openai.com/v1/models",
        ];
        let display = shown("curl", &args);
        let mut curl = self.command("curl");
        curl.args(args).env("HOME", &codex.home);
        for (k, v) in &exports {
            curl.env(k, v);
        }
        let out = self.agent_step(&display, curl, None)?;
        if out.code != Some(0) {
            return Err(differ(
                &display,
                "exit 0 and the stand-in's model list",
                &out,
            ));
        }
        let received = json_string(&out.stdout, "received_bearer_sha256")
            .ok_or_else(|| differ(&display, "a received_bearer_sha256 from the stand-in", &out))?;

        say("\n# Did the stand-in receive the real key? Compare with the key file's hash:");
        let args = ["dgst", "-sha256", "-r", "openai.key"];
        let mut cmd = self.command("openssl");
        cmd.args(args);
        let digest = self.ok_step(&shown("openssl", &args), cmd, None)?;
        let expected = digest
            .stdout
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if expected.len() != 64 || received != expected {
            return Err(differ(
                &display,
                format!("received_bearer_sha256 = {expected} (SHA-256 of the OpenAI key)"),
                &out,
            ));
        }
        say("# ✓ the proxy injected exactly the OpenAI key; curl never held it");
        Ok(())
    }

    fn deploy(&mut self, token: &str) -> anyhow::Result<()> {
        let deploy = self.agent_machine("Deploy", "DEPLOY_TOKEN")?;
        self.init(&deploy, "Deploy", token)?;
        self.get(&deploy, "Prod DB", "connection_string", DB_URL)?;
        say("\n# Personal fields reach no agent, whatever it is granted:");
        self.refused(&deploy, "Visa", "card_number", DENIED)
    }

    fn audit(&mut self) -> anyhow::Result<()> {
        say("\n## Owner machine: the audit log");
        let out = self.ok_step("clavitor audit", self.owner(&["audit"]), None)?;
        let rows = parse_audit(&out.stdout).map_err(|e| differ("clavitor audit", e, &out))?;
        let expected: [(&str, Option<&str>, &str, &str); 10] = [
            ("enroll", None, "cli:codex", "ok"),
            ("read", Some("GitHub"), "cli:codex", "ok"),
            ("totp", Some("GitHub"), "cli:codex", "ok"),
            ("read", Some("GitHub"), "cli:codex", "ok"),
            ("read", Some("OpenAI"), "cli:codex", "refused CV-2044"),
            ("inject", Some("OpenAI"), "proxy:codex", "ok"),
            ("read", Some("AWS"), "cli:codex", "refused CV-2041"),
            ("enroll", None, "cli:deploy", "ok"),
            ("read", Some("Prod DB"), "cli:deploy", "ok"),
            ("read", Some("Visa"), "cli:deploy", "refused CV-2041"),
        ];
        // Every expected row, in this order (other rows may come between).
        let mut next = rows.iter();
        for (action, entry, actor, outcome) in &expected {
            let found = next.by_ref().any(|r| {
                r.action == *action
                    && entry.is_none_or(|e| r.entry == e)
                    && r.actor == *actor
                    && r.outcome == *outcome
            });
            if !found {
                let mut want = String::new();
                let _ = write!(
                    want,
                    "after the rows before it, a row {action} {} {actor} {outcome}",
                    entry.unwrap_or("*")
                );
                return Err(differ("clavitor audit", want, &out));
            }
        }
        for (who, entry) in [("cli:codex", "AWS"), ("cli:deploy", "Visa")] {
            if rows
                .iter()
                .any(|r| r.actor == who && r.entry == entry && r.outcome == "ok")
            {
                return Err(differ(
                    "clavitor audit",
                    format!("no successful {entry} access by {who}"),
                    &out,
                ));
            }
        }
        for secret in [
            GITHUB_PASSWORD,
            OPENAI_KEY,
            AWS_ACCESS_KEY,
            AWS_SECRET_KEY,
            DB_URL,
            CARD_NUMBER,
            RECOVERY_CODES,
        ] {
            if out.stdout.contains(secret) {
                return Err(differ("clavitor audit", "no value in the audit log", &out));
            }
        }
        say(
            "# ✓ read, totp and inject by cli:codex and proxy:codex, the three refusals, no values",
        );

        let out = self.ok_step(
            "clavitor audit verify",
            self.owner(&["audit", "verify"]),
            None,
        )?;
        if !out.stdout.contains("hash chain intact") {
            return Err(differ(
                "clavitor audit verify",
                "exit 0, \"hash chain intact\"",
                &out,
            ));
        }
        Ok(())
    }
}

/// The string value of `"key"` in a flat piece of JSON (no escapes in it).
fn json_string(json: &str, key: &str) -> Option<String> {
    let start = json.find(&format!("\"{key}\""))? + key.len() + 2;
    let rest = json[start..].trim_start().strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    let end = rest.find('"')?;
    Some(rest[..end].to_string())
}

fn differ(step: &str, expected: impl std::fmt::Display, got: &Out) -> anyhow::Error {
    anyhow!(
        "step `{step}` differs from the guide\n  expected: {expected}\n  got:      {}",
        got.describe()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_matches_rfc4648() {
        assert_eq!(b64url(b""), "");
        assert_eq!(b64url(b"f"), "Zg");
        assert_eq!(b64url(b"fo"), "Zm8");
        assert_eq!(b64url(b"foo"), "Zm9v");
        assert_eq!(b64url(b"foobar"), "Zm9vYmFy");
        assert_eq!(b64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(sh_quote("GitHub"), "GitHub");
        assert_eq!(sh_quote("Prod DB"), "'Prod DB'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
        assert_eq!(
            shown("clavitor-cli", &["get", "Prod DB"]),
            "clavitor-cli get 'Prod DB'"
        );
    }

    #[test]
    fn exports_are_parsed() {
        let vars =
            parse_exports("export HTTPS_PROXY='http://localhost:1983'\nexport X='a'\\''b'\n")
                .unwrap();
        assert_eq!(
            vars[0],
            ("HTTPS_PROXY".into(), "http://localhost:1983".into())
        );
        assert_eq!(vars[1], ("X".into(), "a'b".into()));
    }

    #[test]
    fn audit_table_is_cut_at_the_header() {
        let text = "# TIME              ACTION           ENTRY        ACTOR       OUTCOME         FROM\n\
                    2026-12-03 14:23:06 read             Prod DB      cli:deploy  refused CV-2041 127.0.0.1\n";
        let rows = parse_audit(text).unwrap();
        assert_eq!(
            rows,
            vec![AuditRow {
                action: "read".into(),
                entry: "Prod DB".into(),
                actor: "cli:deploy".into(),
                outcome: "refused CV-2041".into(),
            }]
        );
    }

    #[test]
    fn json_string_values() {
        let json = "{\n  \"received_bearer_sha256\": \"abc\",\n  \"vault_id\":\"v-1\"}";
        assert_eq!(
            json_string(json, "received_bearer_sha256").as_deref(),
            Some("abc")
        );
        assert_eq!(json_string(json, "vault_id").as_deref(), Some("v-1"));
        assert_eq!(json_string(json, "missing"), None);
    }
}
