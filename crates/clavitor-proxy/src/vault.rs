//! The proxy's only view of the vault.
//!
//! The caller (the agent CLI) implements [`Vault`] on top of `clavitor-client`; the proxy never
//! depends on the vault server. Every call names one entry/field and the exact host and port the
//! value would be sent to; the vault decides (grant, host binding, rate limits) and audits it as
//! `proxy:<agent>`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use clavitor_core::{ErrorCode, Secret};

/// Why the vault did not release a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProxyVaultError {
    /// The vault refused with a stable code (CV-2041, CV-2043, CV-2045, CV-2046, CV-2048,
    /// CV-2050, ...). The request is refused with the same code and never forwarded.
    #[error("{0}")]
    Refused(ErrorCode),
    /// The vault could not be reached (network error, unexpected answer).
    #[error("vault unreachable")]
    Unreachable,
}

/// The vault side of the proxy.
///
/// `entry` and `field` are the names as written in the reference (percent-decoded), `host` is
/// the CONNECT host in lower case (IPv6 without brackets) and `port` the CONNECT port. Values are
/// only ever requested for HTTPS targets.
pub trait Vault: Send + Sync + 'static {
    /// Resolves one reference for injection toward exactly `host:port` over HTTPS. The vault
    /// checks grant, host binding and rate limits, and audits the attempt as `proxy:<agent>`.
    /// A TOTP field yields the current code.
    fn resolve(
        &self,
        entry: &str,
        field: &str,
        host: &str,
        port: u16,
    ) -> impl Future<Output = Result<Secret, ProxyVaultError>> + Send;

    /// Reports that a value injected toward `host:port` came back in a response (audited with
    /// reason `reflected`). Called once per occurrence (capped per response), never awaited on
    /// the response path.
    fn report_reflection(
        &self,
        entry: &str,
        field: &str,
        host: &str,
        port: u16,
    ) -> impl Future<Output = ()> + Send;
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Object-safe twin of [`Vault`], so the proxy internals are not generic.
pub(crate) trait DynVault: Send + Sync + 'static {
    fn resolve<'a>(
        &'a self,
        entry: &'a str,
        field: &'a str,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, Result<Secret, ProxyVaultError>>;

    fn report_reflection<'a>(
        &'a self,
        entry: &'a str,
        field: &'a str,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, ()>;
}

impl<V: Vault> DynVault for V {
    fn resolve<'a>(
        &'a self,
        entry: &'a str,
        field: &'a str,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, Result<Secret, ProxyVaultError>> {
        Box::pin(Vault::resolve(self, entry, field, host, port))
    }

    fn report_reflection<'a>(
        &'a self,
        entry: &'a str,
        field: &'a str,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, ()> {
        Box::pin(Vault::report_reflection(self, entry, field, host, port))
    }
}

pub(crate) type SharedVault = Arc<dyn DynVault>;
