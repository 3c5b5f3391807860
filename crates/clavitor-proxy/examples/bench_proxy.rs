//! Runs the proxy standalone with a static in-memory vault, for benchmarks (`cargo xtask bench
//! proxy`) and manual experiments. Not the product: `clavitor-cli proxy` uses the real vault.
//!
//! ```text
//! cargo run --release -p clavitor-proxy --example bench_proxy -- \
//!     --listen 127.0.0.1:19830 --ca-dir /tmp/clavitor-bench-ca \
//!     --resolve api.bench.test:443:127.0.0.1:8443 --upstream-ca /tmp/nginx-ca.pem \
//!     --secret Bench/key=sk-bench-value
//! ```
//!
//! Prints `listening ADDR` and `bundle PATH` (the CA bundle for the load generator), then
//! serves until killed. `--secret ENTRY/FIELD=VALUE` may repeat; values are released toward
//! any host (this stand-in vault does no host binding, no audit).
//!
//! With `--vault URL --setup-token-file PATH` the proxy uses the real vault instead, exactly as
//! `clavitor-cli proxy` does: it enrols with the setup token (as `clavitor-cli init` would) and
//! resolves every reference through the agent's injection call (grant, host binding, rate
//! limits and the durable audit record included), reporting reflections as `reflected`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use clavitor_client::{ClientError, VaultClient};
use clavitor_core::api::ReflectionReport;
use clavitor_core::{ErrorCode, Secret};
use clavitor_proxy::{Ca, ProxyConfig, ProxyVaultError, Vault};

struct StaticVault(HashMap<(String, String), String>);

impl Vault for StaticVault {
    async fn resolve(
        &self,
        entry: &str,
        field: &str,
        _host: &str,
        _port: u16,
    ) -> Result<Secret, ProxyVaultError> {
        self.0
            .get(&(entry.to_owned(), field.to_owned()))
            .map(|v| Secret::new(v.clone()))
            .ok_or(ProxyVaultError::Refused(ErrorCode::AccessDenied))
    }

    async fn report_reflection(&self, _entry: &str, _field: &str, _host: &str, _port: u16) {}
}

/// The real vault, through the agent API (what `clavitor-cli proxy` does).
struct RealVault(VaultClient);

impl Vault for RealVault {
    async fn resolve(
        &self,
        entry: &str,
        field: &str,
        host: &str,
        port: u16,
    ) -> Result<Secret, ProxyVaultError> {
        match self.0.inject(entry, field, host, port, "https").await {
            Ok(value) => Ok(value),
            Err(ClientError::Refused { code, .. }) => Err(ProxyVaultError::Refused(
                ErrorCode::from_code(&code).unwrap_or(ErrorCode::AccessDenied),
            )),
            Err(_) => Err(ProxyVaultError::Unreachable),
        }
    }

    async fn report_reflection(&self, entry: &str, field: &str, host: &str, port: u16) {
        let report = ReflectionReport {
            entry: entry.to_owned(),
            field: field.to_owned(),
            host: host.to_owned(),
            port,
        };
        let _ = self.0.report_reflection(&report).await;
    }
}

async fn enroll(vault_url: &str, token_file: &PathBuf) -> VaultClient {
    let token = std::fs::read_to_string(token_file).expect("--setup-token-file");
    let anonymous = VaultClient::new(vault_url, None).expect("vault URL");
    let enrolled = anonymous
        .enroll(&Secret::new(token.trim().to_owned()))
        .await
        .expect("enrol with the setup token");
    VaultClient::new(vault_url, Some(Secret::new(enrolled.credential))).expect("vault URL")
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut config = ProxyConfig::default();
    let mut ca_dir = std::env::temp_dir().join("clavitor-bench-ca");
    let mut secrets = HashMap::new();
    let mut vault_url = None;
    let mut token_file = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().expect("flag needs a value");
        match flag.as_str() {
            "--listen" => config.listen = value.parse().expect("--listen ADDR"),
            "--ca-dir" => ca_dir = PathBuf::from(value),
            "--resolve" => config.resolve.push(value.parse().expect("--resolve")),
            "--upstream-ca" => config.upstream_ca_files.push(PathBuf::from(value)),
            "--passthrough" => config
                .passthrough
                .push(value.parse().expect("--passthrough")),
            "--secret" => {
                let (reference, secret) = value.split_once('=').expect("ENTRY/FIELD=VALUE");
                let (entry, field) = reference.rsplit_once('/').expect("ENTRY/FIELD=VALUE");
                secrets.insert((entry.to_owned(), field.to_owned()), secret.to_owned());
            }
            "--vault" => vault_url = Some(value),
            "--setup-token-file" => token_file = Some(PathBuf::from(value)),
            other => panic!("unknown flag {other}"),
        }
    }
    let ca = Arc::new(Ca::load_or_create(&ca_dir).expect("CA"));
    let proxy = match (vault_url, token_file) {
        (Some(url), Some(token_file)) => {
            let client = enroll(&url, &token_file).await;
            println!("vault {url}");
            clavitor_proxy::Proxy::bind(config, ca.clone(), Arc::new(RealVault(client))).await
        }
        (None, None) => {
            clavitor_proxy::Proxy::bind(config, ca.clone(), Arc::new(StaticVault(secrets))).await
        }
        _ => panic!("--vault and --setup-token-file go together"),
    }
    .expect("bind");
    println!("listening {}", proxy.local_addr());
    println!("bundle {}", ca.bundle_path().display());
    proxy.run(std::future::pending()).await.expect("run");
}
