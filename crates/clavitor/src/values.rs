//! `LABEL=VALUE` arguments. VALUE `-` reads stdin and `@PATH` reads a file
//! (one trailing newline stripped), so secrets stay out of argv and history.

use std::io::Read;

use anyhow::{Context, bail};
use clavitor_core::Secret;

/// Reads values, allowing stdin to be consumed once.
#[derive(Default)]
pub struct ValueReader {
    stdin_used: bool,
}

fn strip_newline(mut s: String) -> String {
    if s.ends_with('\n') {
        s.pop();
        if s.ends_with('\r') {
            s.pop();
        }
    }
    s
}

impl ValueReader {
    pub fn value(&mut self, raw: &str) -> anyhow::Result<Secret> {
        if raw == "-" {
            if self.stdin_used {
                bail!("only one value can be read from stdin (`-`); use @PATH for the others");
            }
            self.stdin_used = true;
            let mut buf = String::new();
            std::io::stdin()
                .read_to_string(&mut buf)
                .context("cannot read the value from stdin")?;
            return Ok(Secret::new(strip_newline(buf)));
        }
        if let Some(path) = raw.strip_prefix('@') {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the value file {path}"))?;
            return Ok(Secret::new(strip_newline(text)));
        }
        Ok(Secret::new(raw.to_string()))
    }

    /// Splits `LABEL=VALUE` and reads VALUE.
    pub fn pair(&mut self, raw: &str) -> anyhow::Result<(String, Secret)> {
        let Some((label, value)) = raw.split_once('=') else {
            bail!(
                "expected LABEL=VALUE, got `{}`",
                raw.chars()
                    .take(40)
                    .collect::<String>()
                    .split('=')
                    .next()
                    .unwrap_or("")
            );
        };
        if label.trim().is_empty() {
            bail!("a field label is empty in LABEL=VALUE");
        }
        Ok((label.trim().to_string(), self.value(value)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_lose_one_newline() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v");
        std::fs::write(&p, "abc\n\n").unwrap();
        let mut r = ValueReader::default();
        let v = r.value(&format!("@{}", p.display())).unwrap();
        assert_eq!(v.expose(), "abc\n");
        let (l, v) = r.pair("password=x=y").unwrap();
        assert_eq!((l.as_str(), v.expose()), ("password", "x=y"));
        assert!(r.pair("novalue").is_err());
    }
}
