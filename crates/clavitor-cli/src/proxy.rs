//! `clavitor-cli proxy`, `clavitor-cli proxy ca` and `clavitor-cli env`: thin
//! layers over the `clavitor-proxy` library, which reaches the vault only
//! through [`CliVault`] (the agent's `inject` and `reflected` calls).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clavitor_client::{ClientError, VaultClient};
use clavitor_core::api::ReflectionReport;
use clavitor_core::{ErrorCode, Secret};
use clavitor_proxy::{Ca, ProxyConfig, ProxyCredentials, ProxyVaultError, Shell, env_exports};

use crate::cli::{EnvArgs, ProxyArgs, ProxySub};
use crate::config;
use crate::exit::{Failure, Result};

/// The proxy's view of the vault: this agent's credential, channel `proxy`.
pub struct CliVault {
    client: VaultClient,
}

impl clavitor_proxy::Vault for CliVault {
    async fn resolve(
        &self,
        entry: &str,
        field: &str,
        host: &str,
        port: u16,
    ) -> std::result::Result<Secret, ProxyVaultError> {
        match self.client.inject(entry, field, host, port, "https").await {
            Ok(value) => Ok(value),
            Err(ClientError::Refused { code, .. }) => Err(ProxyVaultError::Refused(
                ErrorCode::from_code(&code).unwrap_or(ErrorCode::AccessDenied),
            )),
            Err(_) => Err(ProxyVaultError::Unreachable),
        }
    }

    async fn report_reflection(&self, entry: &str, field: &str, host: &str, port: u16) {
        let report = ReflectionReport {
            entry: entry.to_string(),
            field: field.to_string(),
            host: host.to_string(),
            port,
        };
        let _ = self.client.report_reflection(&report).await;
    }
}

pub fn ca_dir(config_dir: &Path) -> PathBuf {
    config_dir.join(config::PROXY_DIR)
}

fn load_ca(config_dir: &Path) -> Result<Ca> {
    config::ensure_dir(config_dir)?;
    Ca::load_or_create(&ca_dir(config_dir))
        .map_err(|e| Failure::local(format!("cannot load the proxy CA: {e}")))
}

pub fn run(config_dir: &Path, args: &ProxyArgs) -> Result<()> {
    if let Some(ProxySub::Ca { pem }) = &args.sub {
        let ca = load_ca(config_dir)?;
        let text = if *pem {
            ca.cert_pem().to_string()
        } else {
            format!("{}\n", ca.cert_path().display())
        };
        return crate::util::write_stdout(text.as_bytes());
    }
    let cfg = config::load(config_dir)?;
    let client = crate::vault::client(&cfg)?;
    let mut pc = ProxyConfig {
        listen: args.listen,
        allow_non_loopback: args.allow_non_loopback,
        ..ProxyConfig::default()
    };
    for p in &args.passthrough {
        pc.passthrough
            .push(p.parse().map_err(|e| Failure::local(format!("{e}")))?);
    }
    for r in &args.resolve {
        pc.resolve
            .push(r.parse().map_err(|e| Failure::local(format!("{e}")))?);
    }
    pc.upstream_ca_files = args.upstream_ca.clone();
    if args.require_auth {
        let raw = std::env::var("CLAVITOR_PROXY_AUTH").unwrap_or_default();
        let Some((username, password)) = raw.split_once(':') else {
            return Err(Failure::local(
                "--require-auth needs CLAVITOR_PROXY_AUTH=USER:PASSWORD in the environment",
            ));
        };
        pc.require_auth = Some(ProxyCredentials {
            username: username.to_string(),
            password: password.to_string(),
        });
    }
    let ca = Arc::new(load_ca(config_dir)?);
    let vault = Arc::new(CliVault { client });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::local(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(async move {
        let proxy = clavitor_proxy::Proxy::bind(pc, ca.clone(), vault)
            .await
            .map_err(|e| Failure::local(e.to_string()))?;
        let addr = proxy.local_addr();
        eprintln!(
            "clavitor-cli: proxy for agent \"{}\" listening on http://{addr} (CA: {})",
            cfg.agent,
            ca.cert_path().display()
        );
        eprintln!(
            "clavitor-cli: use it with: export HTTPS_PROXY=http://localhost:{}  (or: eval \"$(clavitor-cli env)\")",
            addr.port()
        );
        init_logs();
        proxy
            .run(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(|e| Failure::local(e.to_string()))
    })
}

/// The proxy's log on stderr: one line per refusal and upstream failure by
/// default (`RUST_LOG` overrides, e.g. `RUST_LOG=clavitor_proxy=debug`).
/// Values are never logged, at any level.
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("clavitor_proxy=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

pub fn env(config_dir: &Path, args: &EnvArgs) -> Result<()> {
    let ca = load_ca(config_dir)?;
    let shell: Shell = args.shell.parse().map_err(Failure::Local)?;
    let text = env_exports(shell, &args.proxy, &ca);
    crate::util::write_stdout(text.as_bytes())
}
