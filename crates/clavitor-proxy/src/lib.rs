//! Clavitor's local HTTPS injection proxy (DESIGN.md §10) as a library.
//!
//! The agent CLI (`clavitor-cli proxy`, `clavitor-cli env`) is a thin layer over:
//!
//! - [`Ca::load_or_create`]: the per-install CA (ECDSA P-256) and the combined CA bundle;
//! - [`env_exports`]: the shell exports a client needs to go through the proxy;
//! - [`ProxyConfig`] and [`serve`] (or [`Proxy::bind`] + [`Proxy::run`]): the listener;
//! - [`Vault`]: the only way the proxy reaches the vault (implemented by the caller on top of
//!   `clavitor-client`), so the proxy never depends on the vault server.
//!
//! Per CONNECT the proxy terminates TLS with a leaf for the CONNECT host (unless passthrough),
//! checks that every inner request targets exactly that host and port, resolves `clavitor://`
//! references in header values through [`Vault::resolve`] for that host and port, forwards the
//! request over verified TLS, and redacts any injected value the upstream echoes back.

mod body;
mod ca;
mod config;
mod connect;
mod env;
mod inject;
mod leaf;
mod listener;
mod pipe;
mod redact;
mod references;
mod refusal;
mod target;
mod upstream;
mod vault;
mod websocket;
mod ws_frames;

pub use ca::{Ca, CaError};
pub use config::{
    ConfigError, DEFAULT_LISTEN, HostPattern, ProxyConfig, ProxyCredentials, ResolveRule,
};
pub use env::{Shell, env_exports, env_vars};
pub use listener::{Proxy, ProxyError, serve};
pub use refusal::Refusal;
pub use upstream::UpstreamSetupError;
pub use vault::{ProxyVaultError, Vault};
