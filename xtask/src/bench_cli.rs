//! `cargo xtask bench cli`: `clavitor-cli get` end to end (process start to
//! value printed) against a local vault, as a ratio to spawning `true`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

const RUNS: usize = 200;

fn median_ms(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1000.0
}

fn time_runs(mut make: impl FnMut() -> Command) -> anyhow::Result<Vec<Duration>> {
    let mut out = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        let status = make()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        out.push(start.elapsed());
        if !status.success() {
            bail!("a timed run failed ({status})");
        }
    }
    Ok(out)
}

/// Runs a command to completion, returning stdout.
fn output(cmd: &mut Command, stdin: Option<&str>) -> anyhow::Result<String> {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .context("stdin")?
            .write_all(input.as_bytes())?;
    }
    drop(child.stdin.take());
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("{cmd:?} failed");
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub fn run(table: &mut crate::table::Table) -> anyhow::Result<()> {
    crate::run(
        "cargo",
        &[
            "build",
            "--release",
            "--quiet",
            "-p",
            "clavitor",
            "-p",
            "clavitor-cli",
        ],
    )?;
    let bin = crate::root().join("target/release");
    let tmp = std::env::temp_dir().join(format!("clavitor-bench-cli-{}", std::process::id()));
    let data = tmp.join("data");
    let config = tmp.join("config");
    std::fs::create_dir_all(&tmp)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let mut server = Command::new(bin.join("clavitor"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(&data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let result = (|| -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("the vault did not start");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let owner = |args: &[&str]| {
            let mut c = Command::new(bin.join("clavitor"));
            c.env("CLAVITOR_VAULT", &url)
                .env("CLAVITOR_DATA_DIR", &data)
                .args(args);
            c
        };
        output(
            &mut owner(&["entry", "add", "GitHub", "--field", "password=bench-pw"]),
            None,
        )?;
        let token = output(
            &mut owner(&[
                "agent",
                "create",
                "bench",
                "--entry",
                "GitHub",
                "--rate",
                "1000/min,100000/h",
            ]),
            None,
        )?;
        let agent = || {
            let mut c = Command::new(bin.join("clavitor-cli"));
            c.env("CLAVITOR_CONFIG_DIR", &config).env("HOME", &tmp);
            c
        };
        output(
            agent().args(["init", "--skill", "none"]),
            Some(token.trim()),
        )?;
        let value = output(agent().args(["get", "GitHub"]), None)?;
        if value != "bench-pw\n" {
            bail!("unexpected value from get");
        }
        let floor = median_ms(time_runs(|| Command::new("true"))?);
        let get = median_ms(time_runs(|| {
            let mut c = agent();
            c.args(["get", "GitHub"]);
            c
        })?);
        eprintln!(
            "agent CLI: `true` {floor:.2} ms, `clavitor-cli get` {get:.2} ms (medians of {RUNS})"
        );
        table.section("Agent CLI (cargo xtask bench cli)");
        table.row(
            "spawn `true` (median)",
            &format!("{floor:.2} ms"),
            "",
            "",
            "",
            "",
        );
        let verdict = if get < 10.0 && get / floor <= 5.0 {
            "met"
        } else {
            "MISSED"
        };
        table.row(
            "clavitor-cli get, end to end (median)",
            &format!("{get:.2} ms"),
            &format!("{floor:.2} ms (`true`)"),
            &format!("{:.2}x", get / floor),
            "< 10 ms and ≤ 5x",
            verdict,
        );
        Ok(())
    })();
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&tmp);
    result
}
