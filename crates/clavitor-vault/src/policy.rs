//! Access policy: sliding-window rate limits with lockdown (DESIGN.md §7),
//! host binding (§3) and source allow-lists.

use std::net::IpAddr;

use clavitor_store::{AgentRow, StoreError, Tx};

use crate::model::{AgentBody, state};

pub const MINUTE_MS: i64 = 60_000;
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
/// A second violation this soon after the previous one locks the agent.
pub const LOCK_WINDOW_MS: i64 = 2 * HOUR_MS;

/// The result of counting a name against an agent's windows.
#[derive(Debug, PartialEq, Eq)]
pub enum RateOutcome {
    Allowed,
    /// Refused; the flag says whether this refusal locked the agent.
    Refused {
        locked: bool,
    },
}

/// Counts `name_index` for `agent` at `now`, or refuses it (not counted) when
/// it would be one name too many in the last minute or hour. A refusal opens
/// a violation unless one opened less than a minute ago; a new violation less
/// than two hours after the previous one locks the agent. Updates `agent`
/// in place; the caller persists it in the same transaction.
pub fn count_name(
    tx: &mut dyn Tx,
    agent: &mut AgentRow,
    body: &AgentBody,
    name_index: &[u8],
    now: i64,
) -> Result<RateOutcome, StoreError> {
    tx.rate_prune(now - HOUR_MS)?;
    let minute = tx.rate_names_since(&agent.id, now - MINUTE_MS)?;
    let hour = tx.rate_names_since(&agent.id, now - HOUR_MS)?;
    let too_many = |window: &[Vec<u8>], limit: u32| {
        !window.iter().any(|n| n == name_index) && window.len() >= limit as usize
    };
    if too_many(&minute, body.rate_minute) || too_many(&hour, body.rate_hour) {
        let locked = open_violation(agent, now);
        return Ok(RateOutcome::Refused { locked });
    }
    tx.rate_touch(&agent.id, name_index, now)?;
    Ok(RateOutcome::Allowed)
}

/// Records a refusal; returns whether the agent is now locked.
fn open_violation(agent: &mut AgentRow, now: i64) -> bool {
    match agent.violation_started_at {
        // Part of the burst that opened the current violation.
        Some(start) if now - start < MINUTE_MS => false,
        Some(start) if now - start < LOCK_WINDOW_MS => {
            agent.violation_started_at = Some(now);
            agent.state = state::LOCKED.to_string();
            true
        }
        _ => {
            agent.violation_started_at = Some(now);
            false
        }
    }
}

/// Whether `source` is inside the agent's allow-list (empty list: anywhere).
pub fn source_allowed(ips: &[String], source: IpAddr) -> bool {
    if ips.is_empty() {
        return true;
    }
    let source = canonical_ip(source);
    ips.iter().any(|spec| {
        if let Ok(net) = spec.parse::<ipnet::IpNet>() {
            net.contains(&source)
        } else if let Ok(ip) = spec.parse::<IpAddr>() {
            canonical_ip(ip) == source
        } else {
            false
        }
    })
}

fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Checks an allow-list entry when an agent is created or edited.
pub fn valid_ip_spec(spec: &str) -> bool {
    spec.parse::<ipnet::IpNet>().is_ok() || spec.parse::<IpAddr>().is_ok()
}

/// A host pattern: `api.openai.com`, `*.github.com` (exactly one label),
/// optionally `:port` (default 443).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    wildcard: bool,
    host: String,
    port: u16,
}

impl HostPattern {
    pub fn parse(spec: &str) -> Option<HostPattern> {
        let spec = spec.trim().to_ascii_lowercase();
        let (host, port) = split_port(&spec)?;
        let (wildcard, host) = match host.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, host),
        };
        let valid = !host.is_empty()
            && !host.ends_with('.')
            && !host.starts_with('.')
            && !host.contains("..")
            && !host.contains('*')
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
        valid.then(|| HostPattern {
            wildcard,
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port,
        })
    }

    /// Exact, case-insensitive match; a trailing dot, another port or an
    /// extra label never matches, nor does anything that is not a DNS name
    /// or an IP literal.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        if port != self.port || !valid_host(host) {
            return false;
        }
        let host = host.to_ascii_lowercase();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(&host);
        if self.wildcard {
            match host
                .strip_suffix(&self.host)
                .and_then(|p| p.strip_suffix('.'))
            {
                Some(label) => !label.is_empty() && !label.contains('.'),
                None => false,
            }
        } else {
            host == self.host
        }
    }
}

/// A DNS name (labels of letters, digits and `-`, at most 253 bytes) or an
/// IP literal (IPv6 optionally in one pair of brackets).
pub fn valid_host(host: &str) -> bool {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if bare.parse::<IpAddr>().is_ok() {
        return true;
    }
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn split_port(spec: &str) -> Option<(&str, u16)> {
    if let Some(rest) = spec.strip_prefix('[') {
        // [v6]:port
        let end = rest.find(']')?;
        let after = &rest[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => 443,
            None => return None,
        };
        return Some((&spec[..end + 2], port));
    }
    match spec.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => Some((h, p.parse().ok()?)),
        Some(_) => Some((spec, 443)),
        None => Some((spec, 443)),
    }
}

/// The host pattern a URL implies (its host and port, 443 by default).
pub fn pattern_from_url(url: &str) -> Option<HostPattern> {
    let parsed = url::Url::parse(url.trim()).ok()?;
    let host = parsed.host_str()?;
    let port = parsed.port().unwrap_or(443);
    HostPattern::parse(&format!("{host}:{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> HostPattern {
        HostPattern::parse(s).unwrap()
    }

    #[test]
    fn exact_hosts() {
        assert!(p("api.openai.com").matches("api.openai.com", 443));
        assert!(p("API.openai.com").matches("api.OPENAI.com", 443));
        assert!(!p("api.openai.com").matches("api.openai.com.", 443));
        assert!(!p("api.openai.com").matches("api.openai.com.evil.test", 443));
        assert!(!p("api.openai.com").matches("evilapi.openai.com", 443));
        assert!(!p("api.openai.com").matches("api.openai.com", 8443));
        assert!(p("api.openai.com:8443").matches("api.openai.com", 8443));
        assert!(!p("api.openai.com").matches("1.2.3.4", 443));
    }

    #[test]
    fn wildcard_is_one_label() {
        assert!(p("*.github.com").matches("api.github.com", 443));
        assert!(!p("*.github.com").matches("github.com", 443));
        assert!(!p("*.github.com").matches("a.b.github.com", 443));
        assert!(!p("*.github.com").matches("evilgithub.com", 443));
    }

    #[test]
    fn bad_patterns() {
        for bad in [
            "",
            "*",
            "a..b",
            ".a",
            "a.",
            "*.*.x",
            "a b",
            "x:notaport",
            "x:70000",
        ] {
            assert!(HostPattern::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn ipv6_and_urls() {
        assert!(p("[::1]:9443").matches("::1", 9443));
        assert_eq!(
            pattern_from_url("https://api.openai.com/v1"),
            Some(p("api.openai.com"))
        );
        assert_eq!(
            pattern_from_url("https://x.test:8443/"),
            Some(p("x.test:8443"))
        );
    }

    #[test]
    fn allow_list() {
        let ips = vec!["10.0.0.0/8".to_string(), "192.0.2.7".to_string()];
        assert!(source_allowed(&ips, "10.1.2.3".parse().unwrap()));
        assert!(source_allowed(&ips, "192.0.2.7".parse().unwrap()));
        assert!(source_allowed(&ips, "::ffff:192.0.2.7".parse().unwrap()));
        assert!(!source_allowed(&ips, "127.0.0.1".parse().unwrap()));
        assert!(source_allowed(&[], "127.0.0.1".parse().unwrap()));
    }
}
