//! Installs what the tests need on a fresh machine: Debian packages (curl,
//! openssl, sqlite3, git, chromium), Python packages and the browser tests'
//! npm packages (playwright-core only: the browser is Debian's). Each step is
//! skipped when already present.

use std::process::Command;

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program} >/dev/null 2>&1")])
        .status()
        .is_ok_and(|s| s.success())
}

fn python_has(module: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .status()
        .is_ok_and(|s| s.success())
}

pub fn ensure() -> anyhow::Result<()> {
    let apt: Vec<&str> = [
        ("curl", "curl"),
        ("openssl", "openssl"),
        ("sqlite3", "sqlite3"),
    ]
    .into_iter()
    .filter(|(bin, _)| !have(bin))
    .map(|(_, pkg)| pkg)
    .collect();
    if !apt.is_empty() {
        crate::run("apt-get", &["update", "-q"])?;
        let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
        args.extend(apt);
        crate::run("apt-get", &args)?;
    }
    let py: Vec<&str> = [
        ("requests", "requests"),
        ("httpx", "httpx"),
        ("yaml", "pyyaml"),
    ]
    .into_iter()
    .filter(|(module, _)| !python_has(module))
    .map(|(_, pkg)| pkg)
    .collect();
    if !py.is_empty() {
        let mut args = vec!["-m", "pip", "install", "-q", "--disable-pip-version-check"];
        args.extend(py);
        crate::run("python3", &args)?;
    }
    if !crate::root()
        .join("e2e/node_modules/playwright-core")
        .exists()
    {
        crate::run("npm", &["ci", "--prefix", "e2e", "--no-audit", "--no-fund"])?;
    }
    Ok(())
}
