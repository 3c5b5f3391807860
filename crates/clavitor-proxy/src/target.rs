//! The CONNECT target (host and port) and address classification.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use http::uri::Authority;

use crate::config::normalize_host;

/// A host (lower case, IPv6 without brackets) and port.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Target {
    pub host: String,
    pub port: u16,
}

impl Target {
    /// Parses `host[:port]`, using `default_port` when absent.
    pub(crate) fn from_authority(authority: &Authority, default_port: u16) -> Option<Target> {
        let host = normalize_host(authority.host());
        if host.is_empty() {
            return None;
        }
        Some(Target {
            host,
            port: authority.port_u16().unwrap_or(default_port),
        })
    }

    pub(crate) fn parse(text: &str, default_port: u16) -> Option<Target> {
        let authority: Authority = text.parse().ok()?;
        Target::from_authority(&authority, default_port)
    }

    /// `host:port`, bracketing IPv6 literals (URI authority form).
    pub(crate) fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.authority())
    }
}

/// Whether secrets may be sent to this address without an explicit `--resolve` mapping:
/// not loopback, private, link-local (cloud metadata), shared, unspecified, multicast or
/// reserved.
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local, incl. fd00:ec2::254 metadata
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (first == 0x2001 && ip.segments()[1] == 0x0db8) // documentation
        || (first == 0 && ip.to_ipv4().is_some_and(|v4| !is_public_v4(v4)))) // v4-compatible
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_addresses() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "::",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["1.1.1.1", "8.8.8.8", "2606:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn targets() {
        let t = Target::parse("API.OpenAI.test", 443).unwrap();
        assert_eq!(t.authority(), "api.openai.test:443");
        let t = Target::parse("[::1]:8443", 443).unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 8443));
        assert_eq!(t.authority(), "[::1]:8443");
    }
}
