//! The real `clavitor` binary serving a real data dir on 127.0.0.1.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_clavitor")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Server {
    pub child: Child,
    pub url: String,
    pub data: PathBuf,
    pub log: PathBuf,
}

impl Server {
    /// Starts `clavitor serve` on `data`, logging (at `rust_log`) to `log`.
    pub fn start(data: &Path, log: &Path, rust_log: &str) -> Server {
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let child = Command::new(bin())
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(data)
            .env("RUST_LOG", rust_log)
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .unwrap();
        let s = Server {
            child,
            url,
            data: data.to_path_buf(),
            log: log.to_path_buf(),
        };
        s.wait_ready();
        s
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(self.url.trim_start_matches("http://")).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "server did not start; log: {}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    /// The owner CLI pointed at this server.
    /// Runs `clavitor ARGS` against this server (no stdin): exit code, stdout, stderr.
    pub fn owner(&self, args: &[&str]) -> (i32, String, String) {
        let mut c = self.cli();
        c.args(args);
        run(c, "")
    }

    pub fn cli(&self) -> Command {
        let mut c = Command::new(bin());
        c.env("CLAVITOR_VAULT", &self.url)
            .env("CLAVITOR_DATA_DIR", &self.data)
            .env_remove("CLAVITOR_OWNER_TOKEN");
        c
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }

    pub fn terminate(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub fn owner_token(data: &Path) -> String {
    std::fs::read_to_string(data.join("owner.token"))
        .unwrap()
        .trim()
        .to_string()
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Runs a command with stdin, returning (exit code, stdout, stderr).
pub fn run(mut cmd: Command, stdin: &str) -> (i32, String, String) {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
