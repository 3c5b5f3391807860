//! Project tasks: `cargo xtask test | bench | soak | walkthrough`.
//!
//! `cargo xtask test` is the one test command (README, `.ci/run`): it
//! installs what the tests need, checks formatting and lints, builds every
//! binary and runs the whole suite.

mod bench;
mod bench_cli;
mod bench_proxy;
mod deps;
mod docs;
mod soak;
mod table;
mod walkthrough;

use std::process::Command;

use anyhow::{Context, bail};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let task = args.first().map(String::as_str).unwrap_or("help");
    match task {
        "test" => test(),
        "bench" => bench::run(&args[1..]),
        "soak" => soak::run(&args[1..]),
        "docs" => docs::run(),
        "walkthrough" => walkthrough::run(),
        _ => {
            eprintln!(
                "usage: cargo xtask <task>\n\n  test    fmt check, clippy -D warnings, the whole test suite (what CI runs)\n  bench   every benchmark in one table (`bench vault|cli|proxy` for one)\n  soak    kill -9 durability soak of the vault (`soak [ROUNDS]`)\n  walkthrough  the user guide, run for real and checked\n  docs    regenerate docs/cli.md from --help"
            );
            if task == "help" {
                Ok(())
            } else {
                bail!("unknown task `{task}`")
            }
        }
    }
}

/// Runs a command from the workspace root, failing on a non-zero exit.
pub fn run(program: &str, args: &[&str]) -> anyhow::Result<()> {
    eprintln!("$ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .current_dir(root())
        .status()
        .with_context(|| format!("cannot start {program}"))?;
    if !status.success() {
        bail!("`{program} {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

pub fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_else(|| ".".into())
}

fn test() -> anyhow::Result<()> {
    deps::ensure()?;
    run("cargo", &["fmt", "--all", "--", "--check"])?;
    run(
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    // Integration tests drive the real binaries: build them first.
    run("cargo", &["build", "--workspace", "--bins"])?;
    run("cargo", &["test", "--workspace", "--no-fail-fast"])?;
    // The web vault in Debian's headless Chromium, and the JS crypto vectors.
    run("node", &["--test", "e2e/"])?;
    walkthrough::run()?;
    Ok(())
}
