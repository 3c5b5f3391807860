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
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

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

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut config = ProxyConfig::default();
    let mut ca_dir = std::env::temp_dir().join("clavitor-bench-ca");
    let mut secrets = HashMap::new();
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
            other => panic!("unknown flag {other}"),
        }
    }
    let ca = Arc::new(Ca::load_or_create(&ca_dir).expect("CA"));
    let proxy = clavitor_proxy::Proxy::bind(config, ca.clone(), Arc::new(StaticVault(secrets)))
        .await
        .expect("bind");
    println!("listening {}", proxy.local_addr());
    println!("bundle {}", ca.bundle_path().display());
    proxy.run(std::future::pending()).await.expect("run");
}
