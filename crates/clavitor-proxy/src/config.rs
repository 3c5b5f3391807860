//! Proxy configuration: what `clavitor-cli proxy` flags map to.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// Default listen address (DESIGN.md §10).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:1983";

/// Everything the listener needs besides the CA and the vault.
#[derive(Clone, Debug)]
pub struct ProxyConfig {
    /// `--listen` (default `127.0.0.1:1983`).
    pub listen: SocketAddr,
    /// Must be true to listen on a non-loopback address (the CLI's explicit "force").
    pub allow_non_loopback: bool,
    /// `--passthrough HOST_PATTERN`: hosts tunnelled untouched (no interception, no injection).
    pub passthrough: Vec<HostPattern>,
    /// `--resolve HOST:PORT:ADDR`: connect to ADDR for HOST:PORT. Mapped hosts may receive
    /// secrets even when ADDR is loopback or private.
    pub resolve: Vec<ResolveRule>,
    /// `--upstream-ca PEM`: extra roots trusted for upstream TLS, on top of the platform roots.
    pub upstream_ca_files: Vec<PathBuf>,
    /// `--require-auth`: proxy credentials clients must send (`Proxy-Authorization: Basic`).
    pub require_auth: Option<ProxyCredentials>,
    /// Idle timeout of streams (bodies, tunnels, WebSockets); not a total timeout.
    pub idle_timeout: Duration,
    /// Timeout for establishing an upstream TCP + TLS connection.
    pub connect_timeout: Duration,
    /// Maximum number of cached leaf certificates.
    pub leaf_cache_size: usize,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 1983)),
            allow_non_loopback: false,
            passthrough: Vec::new(),
            resolve: Vec::new(),
            upstream_ca_files: Vec::new(),
            require_auth: None,
            idle_timeout: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(15),
            leaf_cache_size: 1024,
        }
    }
}

/// Credentials for `--require-auth`.
#[derive(Clone)]
pub struct ProxyCredentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for ProxyCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyCredentials")
            .field("username", &self.username)
            .field("password", &"[REDACTED]")
            .finish()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("invalid --resolve {0:?}: expected HOST:PORT:ADDR or HOST:PORT:ADDR:ADDRPORT")]
    Resolve(String),
    #[error("invalid host pattern {0:?}: expected host, *.domain, optionally :port")]
    Pattern(String),
}

/// One `--resolve HOST:PORT:ADDR` mapping (curl syntax). `ADDR` may carry its own port
/// (`127.0.0.1:8443`, `[::1]:8443`); without one, `PORT` is used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolveRule {
    pub host: String,
    pub port: u16,
    pub addr: SocketAddr,
}

impl FromStr for ResolveRule {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, ConfigError> {
        let bad = || ConfigError::Resolve(s.to_owned());
        let (host, rest) = s.split_once(':').ok_or_else(bad)?;
        let (port, addr) = rest.split_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        let host = normalize_host(host);
        if host.is_empty() {
            return Err(bad());
        }
        let addr = if let Ok(ip) = addr.trim_matches(['[', ']']).parse::<IpAddr>() {
            SocketAddr::new(ip, port)
        } else {
            addr.parse::<SocketAddr>().map_err(|_| bad())?
        };
        Ok(ResolveRule { host, port, addr })
    }
}

/// `--passthrough` pattern: `example.com`, `*.example.com` (exactly one label), optional `:port`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPattern {
    host: String,
    wildcard: bool,
    port: Option<u16>,
}

impl HostPattern {
    pub fn matches(&self, host: &str, port: u16) -> bool {
        if self.port.is_some_and(|p| p != port) {
            return false;
        }
        let host = normalize_host(host);
        if self.wildcard {
            match host.split_once('.') {
                Some((label, rest)) => !label.is_empty() && rest == self.host,
                None => false,
            }
        } else {
            host == self.host
        }
    }
}

impl FromStr for HostPattern {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, ConfigError> {
        let bad = || ConfigError::Pattern(s.to_owned());
        let (host, port) = match s.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(p.parse::<u16>().map_err(|_| bad())?)),
            _ => (s, None),
        };
        let (wildcard, host) = match host.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, host),
        };
        let host = normalize_host(host);
        if host.is_empty() || host.contains('*') {
            return Err(bad());
        }
        Ok(HostPattern {
            host,
            wildcard,
            port,
        })
    }
}

/// Lower case, without IPv6 brackets.
pub(crate) fn normalize_host(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_rules() {
        let r: ResolveRule = "api.openai.test:443:127.0.0.1:8443".parse().unwrap();
        assert_eq!(r.host, "api.openai.test");
        assert_eq!(r.port, 443);
        assert_eq!(r.addr, "127.0.0.1:8443".parse().unwrap());
        let r: ResolveRule = "API.x:443:10.0.0.1".parse().unwrap();
        assert_eq!(r.host, "api.x");
        assert_eq!(r.addr, "10.0.0.1:443".parse().unwrap());
        let r: ResolveRule = "x:443:[::1]:9".parse().unwrap();
        assert_eq!(r.addr, "[::1]:9".parse().unwrap());
        let r: ResolveRule = "x:443:::1".parse().unwrap();
        assert_eq!(r.addr, "[::1]:443".parse().unwrap());
        assert!("x:443".parse::<ResolveRule>().is_err());
        assert!("x:http:1.2.3.4".parse::<ResolveRule>().is_err());
    }

    #[test]
    fn patterns() {
        let p: HostPattern = "*.github.com".parse().unwrap();
        assert!(p.matches("api.github.com", 443));
        assert!(p.matches("API.GitHub.com", 8443));
        assert!(!p.matches("github.com", 443));
        assert!(!p.matches("a.b.github.com", 443));
        let p: HostPattern = "example.com:8443".parse().unwrap();
        assert!(p.matches("example.com", 8443));
        assert!(!p.matches("example.com", 443));
        assert!("*.*.x".parse::<HostPattern>().is_err());
    }
}
