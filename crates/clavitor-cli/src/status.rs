//! `clavitor-cli status`: the configuration and what the vault thinks of it. No secrets.

use std::path::Path;

use crate::config;
use crate::exit::{Failure, Result};
use crate::util::{describe_expiry, format_time};

pub async fn run(dir: &Path) -> Result<()> {
    let cfg = config::load(dir)?;
    let ca = crate::proxy::ca_dir(dir).join("ca.pem");
    let mut lines = vec![
        format!("Agent:       {} ({})", cfg.agent, cfg.agent_id),
        format!("Vault:       {} (vault {})", cfg.vault_url, cfg.vault_id),
        format!(
            "Config:      {} (enrolled {})",
            config::config_path(dir).display(),
            format_time(cfg.enrolled_at)
        ),
        format!("Expiry:      agent {}", describe_expiry(cfg.expires_at)),
    ];
    if cfg.pin.is_some() {
        lines.push("TLS:         certificate pinned by the setup token".to_string());
    }
    lines.push(if ca.is_file() {
        format!("Proxy CA:    {}", ca.display())
    } else {
        "Proxy CA:    not created yet (`clavitor-cli proxy` creates it)".to_string()
    });
    let client = crate::vault::client(&cfg)?;
    let outcome = client.whoami().await;
    let result = match outcome {
        Ok(who) => {
            lines.push(format!("State:       {} (vault reachable)", who.state));
            Ok(())
        }
        Err(e) => {
            let failure = Failure::from(e);
            let state = match &failure {
                Failure::Refused { code, message } => {
                    format!("refused by the vault: {code}: {message}")
                }
                _ => "vault unreachable".to_string(),
            };
            lines.push(format!("State:       {state}"));
            Err(failure)
        }
    };
    let mut text = lines.join("\n");
    text.push('\n');
    crate::util::write_stdout(text.as_bytes())?;
    result
}
