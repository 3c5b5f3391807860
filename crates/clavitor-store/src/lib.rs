//! Clavitor's persistence. It sees only ciphertext, blind indexes and hashes.
//!
//! The vault talks to a [`Store`] through [`Tx`], one transaction's worth of
//! row operations. [`SqliteStore`] is the embedded default; a PostgreSQL
//! backend implements the same two traits.
//!
//! SQLite runs in WAL mode with `synchronous=FULL`, so an acknowledged write
//! survives a crash or power loss. All work goes through one writer thread
//! that *group-commits*: requests that arrive while a commit is in flight are
//! run in the next transaction, each inside its own savepoint, and share one
//! fsync. Because every unit runs serially, a unit's reads and writes (rate
//! windows, audit record, value fetch) are atomic with respect to all others.

mod rows;
mod sqlite;

pub use rows::{AgentRow, AuditRow, EntryRow, RevisionRow};
pub use sqlite::SqliteStore;

use std::future::Future;

/// A storage failure. The vault answers CV-2050 (nothing released) or CV-2099.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(String),
    #[error("the database is in use by another Clavitor server")]
    Locked,
    #[error("the storage worker has stopped")]
    Closed,
    #[error("the database schema is newer than this program (version {0})")]
    TooNew(i64),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

/// A unit of work run inside one transaction (in its own savepoint). An
/// `Err` rolls back everything this unit wrote.
pub type Unit<R> = Box<dyn FnOnce(&mut dyn Tx) -> Result<R, StoreError> + Send>;

/// A database the vault can run units of work against.
pub trait Store: Send + Sync + 'static {
    /// Runs `unit` atomically; resolves only once its writes are durable.
    fn run<R: Send + 'static>(
        &self,
        unit: Unit<R>,
    ) -> impl Future<Output = Result<R, StoreError>> + Send;
}

/// Row operations available inside a transaction.
pub trait Tx {
    // --- meta -------------------------------------------------------------
    fn meta_get(&mut self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    fn meta_set(&mut self, key: &str, value: &[u8]) -> Result<(), StoreError>;

    // --- entries ----------------------------------------------------------
    /// The live entry whose name has this blind index.
    fn entry_by_index(&mut self, name_index: &[u8]) -> Result<Option<EntryRow>, StoreError>;
    fn entry_by_id(&mut self, id: &str) -> Result<Option<EntryRow>, StoreError>;
    /// The id of the live entry with this blind index, without its body
    /// (so refusals cost the same whatever the entry's size).
    fn entry_id_by_index(&mut self, name_index: &[u8]) -> Result<Option<String>, StoreError>;
    /// Every live entry.
    fn entries(&mut self) -> Result<Vec<EntryRow>, StoreError>;
    /// Inserts or replaces an entry's head and appends the revision.
    /// Returns `false` (writing nothing) when `expected_rev` is not the head.
    fn entry_write(
        &mut self,
        row: &EntryRow,
        expected_rev: Option<u64>,
        tombstone: bool,
    ) -> Result<bool, StoreError>;
    fn entry_revisions(&mut self, id: &str) -> Result<Vec<RevisionRow>, StoreError>;

    // --- agents -----------------------------------------------------------
    fn agent_by_id(&mut self, id: &str) -> Result<Option<AgentRow>, StoreError>;
    fn agent_by_index(&mut self, name_index: &[u8]) -> Result<Option<AgentRow>, StoreError>;
    fn agent_by_credential(&mut self, hash: &[u8]) -> Result<Option<AgentRow>, StoreError>;
    fn agent_by_setup(&mut self, hash: &[u8]) -> Result<Option<AgentRow>, StoreError>;
    fn agents(&mut self) -> Result<Vec<AgentRow>, StoreError>;
    fn agent_put(&mut self, row: &AgentRow) -> Result<(), StoreError>;

    // --- rate windows -----------------------------------------------------
    /// Blind indexes of names this agent used at or after `since` (epoch ms).
    fn rate_names_since(&mut self, agent_id: &str, since: i64) -> Result<Vec<Vec<u8>>, StoreError>;
    fn rate_touch(&mut self, agent_id: &str, name_index: &[u8], at: i64) -> Result<(), StoreError>;
    fn rate_prune(&mut self, before: i64) -> Result<(), StoreError>;

    // --- audit ------------------------------------------------------------
    fn audit_last(&mut self) -> Result<Option<AuditRow>, StoreError>;
    fn audit_append(&mut self, row: &AuditRow) -> Result<(), StoreError>;
    /// Records in sequence order, starting after `after_seq`, at most `limit`.
    fn audit_page(&mut self, after_seq: i64, limit: u32) -> Result<Vec<AuditRow>, StoreError>;

    // --- owner web vault (passkeys, ceremonies, sessions) -----------------
    /// The value stored under `(kind, key)`, unless it expired at or before `now`.
    fn web_get(&mut self, kind: &str, key: &str, now: i64) -> Result<Option<Vec<u8>>, StoreError>;
    /// Inserts or replaces `(kind, key)`; `expires_at` in epoch ms, `None` for never.
    fn web_put(
        &mut self,
        kind: &str,
        key: &str,
        value: &[u8],
        expires_at: Option<i64>,
    ) -> Result<(), StoreError>;
    /// Deletes `(kind, key)`; `true` when a row was there (expired or not).
    fn web_delete(&mut self, kind: &str, key: &str) -> Result<bool, StoreError>;
    /// Every live `(key, value)` of `kind`, ordered by key.
    fn web_list(&mut self, kind: &str, now: i64) -> Result<Vec<(String, Vec<u8>)>, StoreError>;
    /// Deletes every row that expired at or before `now`.
    fn web_prune(&mut self, now: i64) -> Result<(), StoreError>;
}
