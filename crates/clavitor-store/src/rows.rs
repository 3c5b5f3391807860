//! Plain rows exchanged with the store. Bodies are ciphertext.

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryRow {
    pub id: String,
    /// `None` for a deleted entry.
    pub name_index: Option<Vec<u8>>,
    pub rev: u64,
    pub deleted: bool,
    pub body: Vec<u8>,
    pub updated_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevisionRow {
    pub entry_id: String,
    pub rev: u64,
    pub created_at: i64,
    pub tombstone: bool,
    pub body: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentRow {
    pub id: String,
    pub name_index: Vec<u8>,
    pub body: Vec<u8>,
    pub state: String,
    pub credential_hash: Option<Vec<u8>>,
    pub setup_hash: Option<Vec<u8>>,
    pub setup_expires_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub use_count: i64,
    pub violation_started_at: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRow {
    pub seq: i64,
    pub at: i64,
    pub body: Vec<u8>,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}
