//! The agent's configuration: one JSON file, `agent.json`, mode 0600, in the
//! config directory (`--config-dir`, `CLAVITOR_CONFIG_DIR`, else the XDG config
//! dir `clavitor/`), mode 0700. It holds the agent credential, so the CLI
//! refuses a file that other users can read, naming the fix. Written
//! atomically: a temporary file in the same directory, fsync, rename.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use clavitor_core::Secret;
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use crate::exit::{Failure, Result};

pub const CONFIG_FILE: &str = "agent.json";
/// Subdirectory of the config dir holding the proxy's CA.
pub const PROXY_DIR: &str = "proxy";

/// The config directory in use.
pub fn config_dir(flag: Option<&Path>) -> Result<PathBuf> {
    if let Some(dir) = flag {
        return Ok(dir.to_path_buf());
    }
    directories::BaseDirs::new()
        .map(|d| d.config_dir().join("clavitor"))
        .ok_or_else(|| {
            Failure::local("cannot find a home directory: set CLAVITOR_CONFIG_DIR or --config-dir")
        })
}

/// What `init` stores. No `Debug`: it holds the credential.
#[derive(Serialize, Deserialize)]
pub struct AgentConfig {
    pub vault_url: String,
    /// SHA-256 (hex) of the vault's certificate, when the setup token carried one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
    pub vault_id: String,
    pub agent: String,
    pub agent_id: String,
    /// Agent expiry, milliseconds since the epoch; `None` = no expiry.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// When `init` ran, milliseconds since the epoch.
    pub enrolled_at: i64,
    credential: String,
}

impl AgentConfig {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        vault_url: String,
        pin: Option<String>,
        vault_id: String,
        agent: String,
        agent_id: String,
        expires_at: Option<i64>,
        enrolled_at: i64,
        credential: &Secret,
    ) -> AgentConfig {
        AgentConfig {
            vault_url,
            pin,
            vault_id,
            agent,
            agent_id,
            expires_at,
            enrolled_at,
            credential: credential.expose().to_string(),
        }
    }

    pub fn credential(&self) -> Secret {
        Secret::new(self.credential.clone())
    }
}

impl Drop for AgentConfig {
    fn drop(&mut self) {
        self.credential.zeroize();
    }
}

pub fn config_path(dir: &Path) -> PathBuf {
    dir.join(CONFIG_FILE)
}

fn fix_init() -> &'static str {
    "run `echo \"$CLAVITOR_TOKEN\" | clavitor-cli init` with a setup token from the vault owner"
}

/// Loads the configuration, refusing a file others can read.
pub fn load(dir: &Path) -> Result<AgentConfig> {
    let path = config_path(dir);
    let mut file = match fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Failure::local(format!(
                "not initialised: {} does not exist; {}",
                path.display(),
                fix_init()
            )));
        }
        Err(e) => {
            return Err(Failure::local(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    let meta = file
        .metadata()
        .map_err(|e| Failure::local(format!("cannot read {}: {e}", path.display())))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Failure::local(format!(
            "{} holds the agent credential but other users can access it (mode {mode:04o}); \
             fix it with `chmod 600 {}`",
            path.display(),
            path.display()
        )));
    }
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(|e| Failure::local(format!("cannot read {}: {e}", path.display())))?;
    let parsed = serde_json::from_str::<AgentConfig>(&text);
    // The text holds the credential: clear it before it is freed.
    text.zeroize();
    parsed.map_err(|_| {
        Failure::local(format!(
            "{} is damaged; re-initialise with `clavitor-cli init --force` and a new setup token",
            path.display()
        ))
    })
}

/// Whether a configuration file exists (without reading it).
pub fn exists(dir: &Path) -> bool {
    fs::symlink_metadata(config_path(dir)).is_ok()
}

/// Creates the config dir (0700) if needed; refuses one that others can access.
pub fn ensure_dir(dir: &Path) -> Result<()> {
    match fs::metadata(dir) {
        Ok(meta) => {
            if !meta.is_dir() {
                return Err(Failure::local(format!(
                    "{} is not a directory",
                    dir.display()
                )));
            }
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(Failure::local(format!(
                    "the config directory {} is accessible by other users (mode {mode:04o}); \
                     fix it with `chmod 700 {}`",
                    dir.display(),
                    dir.display()
                )));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Failure::local(format!("cannot create {}: {e}", dir.display()))),
        Err(e) => Err(Failure::local(format!("cannot use {}: {e}", dir.display()))),
    }
}

/// Writes the configuration atomically with mode 0600.
pub fn save(dir: &Path, config: &AgentConfig) -> Result<PathBuf> {
    ensure_dir(dir)?;
    let path = config_path(dir);
    let mut json = serde_json::to_vec_pretty(config)
        .map_err(|e| Failure::local(format!("cannot encode the configuration: {e}")))?;
    json.push(b'\n');
    let result = write_atomic(&path, &json);
    json.zeroize();
    result?;
    Ok(path)
}

/// Writes `bytes` to `path` through a 0600 temporary file in the same
/// directory (created with O_EXCL, so never through a planted symlink),
/// fsyncs it and renames it over `path` (which replaces a symlink rather than
/// following it), then fsyncs the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let io = |e: std::io::Error| Failure::local(format!("cannot write {}: {e}", path.display()));
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .permissions(fs::Permissions::from_mode(0o600))
        .tempfile_in(&dir)
        .map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    if let Ok(d) = fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
