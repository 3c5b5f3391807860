//! Small helpers: time and output.

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::exit::{Failure, Result};

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `2026-03-08T10:23:14Z` from epoch milliseconds.
pub fn format_time(ms: i64) -> String {
    match u64::try_from(ms) {
        Ok(ms) => {
            humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
        }
        Err(_) => ms.to_string(),
    }
}

/// "expires 2026-03-08T10:23:14Z" / "expired …" / "never expires".
pub fn describe_expiry(expires_at: Option<i64>) -> String {
    match expires_at {
        None => "never expires".to_string(),
        Some(at) if at <= now_ms() => format!("expired {}", format_time(at)),
        Some(at) => format!("expires {}", format_time(at)),
    }
}

/// Writes to stdout in one go; a closed pipe is not an error worth a message.
pub fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::local(format!("cannot write to stdout: {e}"))),
    }
}
