//! Output formats: detection by file name and the per-format lexers that decide
//! how a value is written where each reference stands.

use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::str::FromStr;

use crate::plan::{Lexer, Plan};

mod dotenv;
mod ini;
mod json;
mod toml;
mod yaml;

/// The syntax a template is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Json,
    Yaml,
    Toml,
    /// `.env` files as read by `dotenvy` (and `docker compose`-style loaders).
    Env,
    /// INI as read by `rust-ini` with its default options (quotes and escapes on).
    Ini,
    /// Values substituted verbatim.
    Raw,
}

impl Format {
    pub const ALL: [Format; 6] = [
        Format::Json,
        Format::Yaml,
        Format::Toml,
        Format::Env,
        Format::Ini,
        Format::Raw,
    ];

    /// The `--format` spelling.
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Yaml => "yaml",
            Format::Toml => "toml",
            Format::Env => "env",
            Format::Ini => "ini",
            Format::Raw => "raw",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown `--format` name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown format `{0}` (expected json, yaml, toml, env, ini or raw)")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "json" => Ok(Format::Json),
            "yaml" | "yml" => Ok(Format::Yaml),
            "toml" => Ok(Format::Toml),
            "env" | "dotenv" => Ok(Format::Env),
            "ini" | "cfg" | "conf" => Ok(Format::Ini),
            "raw" | "text" | "txt" => Ok(Format::Raw),
            _ => Err(UnknownFormat(s.to_string())),
        }
    }
}

/// Picks the format from a file name: `.json`; `.yaml`/`.yml`; `.toml`; `.env`,
/// `.env.*` (`.env.local`) and `*.env`; `.ini`/`.cfg`/`.conf`; anything else is
/// [`Format::Raw`]. A trailing `.tpl`, `.tmpl` or `.template` is looked through
/// (`app.json.tpl` is JSON). Case-insensitive.
pub fn detect_format(path: &Path) -> Format {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return Format::Raw;
    };
    let mut name = name.to_ascii_lowercase();
    for suffix in [".tpl", ".tmpl", ".template"] {
        if let Some(stem) = name.strip_suffix(suffix) {
            name = stem.to_string();
            break;
        }
    }
    if name == ".env" || name.starts_with(".env.") {
        return Format::Env;
    }
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("json") => Format::Json,
        Some("yaml" | "yml") => Format::Yaml,
        Some("toml") => Format::Toml,
        Some("env") => Format::Env,
        Some("ini" | "cfg" | "conf") => Format::Ini,
        _ => Format::Raw,
    }
}

/// Runs the lexer of `format` over `text` whose references are at `spans`.
pub(crate) fn plan_for(format: Format, text: &str, spans: &[Range<usize>]) -> Plan {
    let mut lx = Lexer::new(text, spans);
    match format {
        Format::Json => self::json::plan(&mut lx),
        Format::Yaml => self::yaml::plan(&mut lx),
        Format::Toml => self::toml::plan(&mut lx),
        Format::Env => self::dotenv::plan(&mut lx),
        Format::Ini => self::ini::plan(&mut lx),
        Format::Raw => {
            for i in 0..spans.len() {
                lx.edit_ref(i, Box::new(|v| Ok(v.to_string())));
            }
        }
    }
    lx.finish()
}

/// `\u`-style hex of a code point, upper case, at least `width` digits.
pub(crate) fn hex(c: char, width: usize) -> String {
    format!("{:0width$X}", u32::from(c))
}
