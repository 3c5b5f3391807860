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
    /// Reads VALUE for `label`. An empty value is refused: it is almost
    /// always an empty stdin or file, not an intended empty secret.
    pub fn value_for(&mut self, label: &str, raw: &str) -> anyhow::Result<Secret> {
        let v = self.value(label, raw)?;
        if v.expose().is_empty() {
            bail!("the value of `{label}` is empty (nothing on stdin, or an empty file)");
        }
        Ok(v)
    }

    fn value(&mut self, label: &str, raw: &str) -> anyhow::Result<Secret> {
        if raw == "-" && std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            if self.stdin_used {
                bail!("only one value can be read from stdin (`-`); use @PATH for the others");
            }
            self.stdin_used = true;
            let v = rpassword::prompt_password(format!("{label} (input hidden): "))
                .context("cannot read the value from the terminal")?;
            return Ok(Secret::new(v));
        }
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
            let label: String = raw.chars().take(40).collect();
            bail!("expected LABEL=VALUE, e.g. `{label}=-` to read the value from stdin");
        };
        if label.trim().is_empty() {
            bail!("a field label is empty in LABEL=VALUE");
        }
        let label = label.trim().to_string();
        let value = self.value_for(&label, value)?;
        Ok((label, value))
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
        let v = r.value_for("x", &format!("@{}", p.display())).unwrap();
        assert_eq!(v.expose(), "abc\n");
        let (l, v) = r.pair("password=x=y").unwrap();
        assert_eq!((l.as_str(), v.expose()), ("password", "x=y"));
        assert!(r.pair("novalue").is_err());
        std::fs::write(&p, "\n").unwrap();
        assert!(
            r.pair(&format!("password=@{}", p.display())).is_err(),
            "empty refused"
        );
    }
}
