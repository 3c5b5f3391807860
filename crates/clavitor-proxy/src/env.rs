//! The shell exports a client needs to use the proxy (`clavitor-cli env`).
//!
//! - `HTTPS_PROXY`/`https_proxy`: curl, Python (requests, httpx, urllib), git, Go, Rust reqwest.
//! - `SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE`, `CURL_CA_BUNDLE`, `GIT_SSL_CAINFO`: the *combined*
//!   bundle (system roots + our CA) because these variables replace the system roots.
//! - `NODE_EXTRA_CA_CERTS`: our CA alone (Node adds it to its bundled roots).
//! - `NODE_USE_ENV_PROXY=1`: Node only honours `HTTPS_PROXY` with it, and only from Node 24.5
//!   (and 22.21) on, for both `fetch` and `https`. Node 20 and older 22.x ignore proxy variables
//!   entirely: there a client needs undici's `EnvHttpProxyAgent` (`setGlobalDispatcher(new
//!   EnvHttpProxyAgent())`, npm `undici`) for `fetch`, or `global-agent`/a CONNECT agent for
//!   `https`.
//! - `NO_PROXY`/`no_proxy`: loopback, so the vault on 127.0.0.1:1984 is never proxied.

use std::fmt::Write;

use crate::ca::Ca;

/// Shell syntax for [`env_exports`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

impl std::str::FromStr for Shell {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "bash" | "sh" => Ok(Shell::Bash),
            "zsh" => Ok(Shell::Zsh),
            "fish" => Ok(Shell::Fish),
            other => Err(format!(
                "unknown shell {other:?}: expected bash, zsh or fish"
            )),
        }
    }
}

const NO_PROXY: &str = "localhost,127.0.0.1,::1";

/// The variables, in order, for a proxy at `proxy_url` (e.g. `http://localhost:1983`).
pub fn env_vars(proxy_url: &str, ca: &Ca) -> Vec<(&'static str, String)> {
    let bundle = ca.bundle_path().display().to_string();
    let cert = ca.cert_path().display().to_string();
    vec![
        ("HTTPS_PROXY", proxy_url.to_owned()),
        ("https_proxy", proxy_url.to_owned()),
        ("SSL_CERT_FILE", bundle.clone()),
        ("REQUESTS_CA_BUNDLE", bundle.clone()),
        ("CURL_CA_BUNDLE", bundle.clone()),
        ("GIT_SSL_CAINFO", bundle),
        ("NODE_EXTRA_CA_CERTS", cert),
        ("NODE_USE_ENV_PROXY", "1".to_owned()),
        ("NO_PROXY", NO_PROXY.to_owned()),
        ("no_proxy", NO_PROXY.to_owned()),
    ]
}

/// The exports as text for `shell`, one per line, values single-quoted.
pub fn env_exports(shell: Shell, proxy_url: &str, ca: &Ca) -> String {
    let mut out = String::new();
    for (name, value) in env_vars(proxy_url, ca) {
        let quoted = quote(shell, &value);
        let _ = match shell {
            Shell::Bash | Shell::Zsh => writeln!(out, "export {name}={quoted}"),
            Shell::Fish => writeln!(out, "set -gx {name} {quoted};"),
        };
    }
    out
}

fn quote(shell: Shell, value: &str) -> String {
    match shell {
        Shell::Bash | Shell::Zsh => format!("'{}'", value.replace('\'', r"'\''")),
        Shell::Fish => format!("'{}'", value.replace('\\', r"\\").replace('\'', r"\'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_for_each_shell() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::load_or_create(&dir.path().join("it's")).unwrap();
        let bash = env_exports(Shell::Bash, "http://localhost:1983", &ca);
        assert!(bash.contains("export HTTPS_PROXY='http://localhost:1983'\n"));
        assert!(bash.contains("export NODE_EXTRA_CA_CERTS='"));
        assert!(bash.contains(r"it'\''s/ca-bundle.pem'"));
        let fish = env_exports(Shell::Fish, "http://localhost:1983", &ca);
        assert!(fish.contains("set -gx SSL_CERT_FILE '"));
        assert!(fish.contains(r"it\'s/ca-bundle.pem';"));
    }
}
