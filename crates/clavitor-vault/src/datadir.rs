//! The data directory: `vault.db`, `vault.key`, `owner.token` and the lock
//! that keeps a second server away (DESIGN.md §4, §11).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use clavitor_crypto::RootKey;
use clavitor_crypto::token::{self, OWNER_PREFIX};
use clavitor_store::{SqliteStore, Store, Tx};
use fs2::FileExt;

use crate::sealer::Sealer;

pub const DB_FILE: &str = "vault.db";
pub const KEY_FILE: &str = "vault.key";
pub const OWNER_TOKEN_FILE: &str = "owner.token";
const LOCK_FILE: &str = "vault.lock";
const VAULT_ID_KEY: &str = "vault_id";

/// Why the data directory cannot be used. Messages name the fix.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("{path}: permissions {mode:o} let other users in; run `chmod {want:o} {path}`")]
    TooOpen { path: String, mode: u32, want: u32 },
    #[error("another Clavitor server is already using {0}")]
    InUse(String),
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("{0} is damaged: it must hold exactly 32 bytes (restore it from your backup)")]
    BadKey(String),
    #[error("the key file does not match this database (was vault.key replaced?)")]
    WrongKey,
    #[error(
        "{0} is not a valid owner token: delete it and restart `clavitor serve` to create a new one"
    )]
    BadOwnerToken(String),
    #[error(
        "vault.db holds no vault but vault.key exists: restore vault.db from your backup \
         (or move vault.key away to start a new, empty vault)"
    )]
    DatabaseMissing,
    #[error("database: {0}")]
    Store(#[from] clavitor_store::StoreError),
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> DataDirError + '_ {
    move |e| DataDirError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

fn check_private(path: &Path, want: u32) -> Result<(), DataDirError> {
    let mode = fs::metadata(path).map_err(io(path))?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(DataDirError::TooOpen {
            path: path.display().to_string(),
            mode,
            want,
        });
    }
    Ok(())
}

/// Creates a new file with mode 0600 holding `bytes`, durably.
fn create_secret_file(path: &Path, bytes: &[u8]) -> Result<(), DataDirError> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))?;
    f.write_all(bytes).map_err(io(path))?;
    f.sync_all().map_err(io(path))?;
    Ok(())
}

fn read_secret_file(path: &Path) -> Result<Vec<u8>, DataDirError> {
    check_private(path, 0o600)?;
    let mut buf = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut buf))
        .map_err(io(path))?;
    Ok(buf)
}

/// An opened, locked data directory.
pub struct DataDir {
    pub path: PathBuf,
    pub store: SqliteStore,
    pub sealer: Sealer,
    pub owner_token_hash: [u8; 32],
    /// Held for the life of the server: the lock is released when dropped.
    _lock: File,
}

impl DataDir {
    /// Opens `path`, creating the directory (0700), key, owner token and
    /// database on first use. Refuses lax permissions and a second server.
    pub async fn open(path: &Path) -> Result<DataDir, DataDirError> {
        if !path.exists() {
            fs::create_dir_all(path).map_err(io(path))?;
            fs::set_permissions(path, fs::Permissions::from_mode(0o700)).map_err(io(path))?;
        }
        check_private(path, 0o700)?;
        let lock_path = path.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        lock.try_lock_exclusive()
            .map_err(|_| DataDirError::InUse(path.display().to_string()))?;

        let key_path = path.join(KEY_FILE);
        let db_path = path.join(DB_FILE);
        let fresh = !key_path.exists();
        if fresh {
            if db_path.exists() {
                // A database without its key is unreadable; never silently
                // start a new key beside it.
                return Err(DataDirError::Io {
                    path: key_path.display().to_string(),
                    message: "missing, but vault.db exists: restore vault.key from your backup"
                        .into(),
                });
            }
            create_secret_file(&key_path, RootKey::generate().as_bytes())?;
        }
        let key_bytes = read_secret_file(&key_path)?;
        let root = RootKey::from_slice(&key_bytes)
            .map_err(|_| DataDirError::BadKey(key_path.display().to_string()))?;

        let token_path = path.join(OWNER_TOKEN_FILE);
        if !token_path.exists() {
            let t = token::random_token(OWNER_PREFIX);
            create_secret_file(&token_path, format!("{}\n", t.expose()).as_bytes())?;
        }
        let owner_token = String::from_utf8(read_secret_file(&token_path)?).unwrap_or_default();
        // An empty or damaged token file must never mean "no token needed".
        if token::check_random_token(OWNER_PREFIX, owner_token.trim()).is_err() {
            return Err(DataDirError::BadOwnerToken(
                token_path.display().to_string(),
            ));
        }
        let owner_token_hash = token::hash(owner_token.trim());

        if db_path.exists() {
            check_private(&db_path, 0o600)?;
        } else {
            create_secret_file(&db_path, b"")?;
        }
        let store = SqliteStore::open(&db_path)?;
        let keys = root.derive();
        let check = keys.info.mac(b"clavitor/key-check");
        let vault_id = store
            .run(Box::new(move |tx: &mut dyn Tx| {
                let id = match tx.meta_get(VAULT_ID_KEY)? {
                    Some(id) => String::from_utf8(id).unwrap_or_default(),
                    // A key made earlier means a vault existed: an empty
                    // database is a lost one, not a new one.
                    None if !fresh => return Ok(None),
                    None => {
                        let id = uuid::Uuid::new_v4().to_string();
                        tx.meta_set(VAULT_ID_KEY, id.as_bytes())?;
                        tx.meta_set("key_check", &check)?;
                        id
                    }
                };
                let stored_check = tx.meta_get("key_check")?;
                Ok(Some((id, stored_check.as_deref() == Some(&check[..]))))
            }))
            .await?;
        let (vault_id, key_matches) = vault_id.ok_or(DataDirError::DatabaseMissing)?;
        if !key_matches {
            return Err(DataDirError::WrongKey);
        }
        let sealer = Sealer::new(vault_id, keys);
        let audit_sealer = sealer.clone();
        store
            .run(Box::new(move |tx: &mut dyn Tx| {
                crate::audit::init(tx, &audit_sealer)
            }))
            .await?;
        Ok(DataDir {
            path: path.to_path_buf(),
            store,
            sealer,
            owner_token_hash,
            _lock: lock,
        })
    }
}
