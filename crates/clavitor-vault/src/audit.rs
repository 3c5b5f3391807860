//! The audit log: one sealed record per attempt, hash-chained (DESIGN.md §8).
//!
//! `hash[n] = HMAC(audit key, "clavitor/audit/v1" || seq || time || hash[n-1] || body)`,
//! and the meta row `audit_head` holds the last `(seq, hash)` with its own
//! MAC, so editing, deleting, reordering or truncating records is detected by
//! [`verify`] without the key leaving the server.

use clavitor_store::{AuditRow, StoreError, Tx};
use serde::{Deserialize, Serialize};

use crate::error::VaultError;
use crate::sealer::Sealer;

const HEAD_KEY: &str = "audit_head";

/// One audit record. It never holds a value.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditEvent {
    pub actor: String,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// `ok` or `refused`.
    pub outcome: String,
    /// The CV code of a refusal, or a word such as `reflected`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl AuditEvent {
    pub fn new(actor: impl Into<String>, action: impl Into<String>) -> Self {
        AuditEvent {
            actor: actor.into(),
            action: action.into(),
            entry: None,
            field: None,
            host: None,
            outcome: "ok".into(),
            reason: None,
            source: None,
        }
    }

    pub fn refused(mut self, reason: impl Into<String>) -> Self {
        self.outcome = "refused".into();
        self.reason = Some(reason.into());
        self
    }
}

/// A record as the owner sees it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditRecord {
    pub seq: i64,
    /// Milliseconds since the Unix epoch, UTC.
    pub at: i64,
    #[serde(flatten)]
    pub event: AuditEvent,
}

fn chain_hash(sealer: &Sealer, seq: i64, at: i64, prev: &[u8], body: &[u8]) -> Vec<u8> {
    let mut data = Vec::with_capacity(64 + body.len());
    data.extend_from_slice(b"clavitor/audit/v1");
    data.extend_from_slice(&seq.to_be_bytes());
    data.extend_from_slice(&at.to_be_bytes());
    data.extend_from_slice(prev);
    data.extend_from_slice(body);
    sealer.keys().audit.mac(&data).to_vec()
}

fn head_bytes(sealer: &Sealer, seq: i64, hash: &[u8]) -> Vec<u8> {
    let mut data = b"clavitor/audit-head/v1".to_vec();
    data.extend_from_slice(&seq.to_be_bytes());
    data.extend_from_slice(hash);
    let mac = sealer.keys().audit.mac(&data);
    let mut out = seq.to_be_bytes().to_vec();
    out.extend_from_slice(hash);
    out.extend_from_slice(&mac);
    out
}

const GENESIS: [u8; 32] = [0u8; 32];

/// Writes the empty chain's head when the vault is created.
pub fn init(tx: &mut dyn Tx, sealer: &Sealer) -> Result<(), StoreError> {
    if tx.meta_get(HEAD_KEY)?.is_none() {
        tx.meta_set(HEAD_KEY, &head_bytes(sealer, 0, &GENESIS))?;
    }
    Ok(())
}

/// Appends one record in the caller's transaction.
pub fn append(
    tx: &mut dyn Tx,
    sealer: &Sealer,
    at: i64,
    event: &AuditEvent,
) -> Result<(), StoreError> {
    let (seq, prev) = match tx.audit_last()? {
        Some(last) => (last.seq + 1, last.hash),
        None => (1, GENESIS.to_vec()),
    };
    let body = sealer.seal_audit(seq, event);
    let hash = chain_hash(sealer, seq, at, &prev, &body);
    tx.audit_append(&AuditRow {
        seq,
        at,
        body,
        prev_hash: prev,
        hash: hash.clone(),
    })?;
    tx.meta_set(HEAD_KEY, &head_bytes(sealer, seq, &hash))
}

/// Reads records after `after_seq` (at most `limit`), opened.
pub fn page(
    tx: &mut dyn Tx,
    sealer: &Sealer,
    after_seq: i64,
    limit: u32,
) -> Result<Vec<AuditRecord>, VaultError> {
    let rows = tx.audit_page(after_seq, limit)?;
    rows.into_iter()
        .map(|row| {
            Ok(AuditRecord {
                seq: row.seq,
                at: row.at,
                event: sealer.open_audit(row.seq, &row.body)?,
            })
        })
        .collect()
}

/// The outcome of [`verify`].
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Verification {
    pub ok: bool,
    /// Records checked.
    pub records: i64,
    /// Where the chain breaks (sequence number) and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broken_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

fn broken(records: i64, seq: i64, problem: &str) -> Verification {
    Verification {
        ok: false,
        records,
        broken_at: Some(seq),
        problem: Some(problem.to_string()),
    }
}

/// Walks the whole chain and the head.
pub fn verify(tx: &mut dyn Tx, sealer: &Sealer) -> Result<Verification, StoreError> {
    let mut expected_seq = 1i64;
    let mut prev = GENESIS.to_vec();
    let mut after = 0i64;
    loop {
        let rows = tx.audit_page(after, 1000)?;
        if rows.is_empty() {
            break;
        }
        for row in rows {
            let checked = expected_seq - 1;
            if row.seq != expected_seq {
                return Ok(broken(
                    checked,
                    expected_seq,
                    &format!("record {expected_seq} is missing (next is {})", row.seq),
                ));
            }
            if row.prev_hash != prev {
                return Ok(broken(
                    checked,
                    row.seq,
                    "record does not follow the one before it",
                ));
            }
            if chain_hash(sealer, row.seq, row.at, &row.prev_hash, &row.body) != row.hash {
                return Ok(broken(checked, row.seq, "record was altered"));
            }
            if sealer.open_audit::<AuditEvent>(row.seq, &row.body).is_err() {
                return Ok(broken(checked, row.seq, "record does not decrypt"));
            }
            prev = row.hash;
            after = row.seq;
            expected_seq += 1;
        }
    }
    let last = expected_seq - 1;
    let head = tx.meta_get(HEAD_KEY)?;
    let head_ok = head
        .as_deref()
        .is_some_and(|h| h.len() >= 8 && h == head_bytes(sealer, last, &prev).as_slice());
    if !head_ok {
        let head_seq = head
            .as_deref()
            .and_then(|h| h.get(..8))
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(i64::from_be_bytes);
        let problem = match head_seq {
            Some(s) if s > last => {
                format!("records {} to {s} were removed (log truncated)", last + 1)
            }
            _ => "the log head does not match the last record".to_string(),
        };
        return Ok(broken(last, last + 1, &problem));
    }
    Ok(Verification {
        ok: true,
        records: last,
        broken_at: None,
        problem: None,
    })
}
