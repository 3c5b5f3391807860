//! The Claude Code skill installed by `init`: `~/.claude/skills/clavitor/SKILL.md`.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use crate::cli::SkillTarget;
use crate::config::write_atomic;
use crate::exit::{Failure, Result};

pub const SKILL: &str = include_str!("skill.md");

/// What happened to the skill.
pub enum Installed {
    Written(PathBuf),
    UpToDate(PathBuf),
    Skipped,
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// Installs the skill when asked, or when `~/.claude` exists; rewrites it only
/// when its content differs (idempotent).
pub fn install(target: Option<SkillTarget>) -> Result<Installed> {
    if target == Some(SkillTarget::None) {
        return Ok(Installed::Skipped);
    }
    let explicit = target == Some(SkillTarget::ClaudeCode);
    let Some(home) = home() else {
        return if explicit {
            Err(Failure::local(
                "cannot install the Claude Code skill: HOME is not set",
            ))
        } else {
            Ok(Installed::Skipped)
        };
    };
    let claude = home.join(".claude");
    if !explicit && !claude.is_dir() {
        return Ok(Installed::Skipped);
    }
    write_skill(&claude.join("skills").join("clavitor"))
}

fn write_skill(dir: &Path) -> Result<Installed> {
    let path = dir.join("SKILL.md");
    if fs::read_to_string(&path).is_ok_and(|t| t == SKILL) {
        return Ok(Installed::UpToDate(path));
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
        .map_err(|e| Failure::local(format!("cannot create {}: {e}", dir.display())))?;
    write_atomic(&path, SKILL.as_bytes())?;
    Ok(Installed::Written(path))
}
