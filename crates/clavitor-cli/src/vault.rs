//! The vault client for this agent, built from the configuration.

use clavitor_client::VaultClient;

use crate::config::AgentConfig;
use crate::exit::Result;

/// A client of the configured vault carrying the agent credential; pinned to
/// the vault's certificate when `init` recorded a pin.
pub fn client(config: &AgentConfig) -> Result<VaultClient> {
    connect(
        &config.vault_url,
        config.pin.as_deref(),
        Some(config.credential()),
    )
}

/// A client of `url`, pinned when `pin` is given and the URL is HTTPS.
pub fn connect(
    url: &str,
    pin: Option<&str>,
    bearer: Option<clavitor_core::Secret>,
) -> Result<VaultClient> {
    let client = match pin {
        Some(pin) if url.starts_with("https://") => VaultClient::new_pinned(url, bearer, pin)?,
        _ => VaultClient::new(url, bearer)?,
    };
    Ok(client)
}
