//! The embedded SQLite backend with a group-committing writer thread.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use tokio::sync::oneshot;

use crate::rows::{AgentRow, AuditRow, EntryRow, RevisionRow};
use crate::{Store, StoreError, Tx, Unit};

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/sqlite/0001_initial.sql")),
    (2, include_str!("../migrations/sqlite/0002_web.sql")),
];

/// Largest number of units sharing one commit.
const MAX_BATCH: usize = 256;

type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
/// A unit of work as the writer thread sees it: given a transaction view
/// (or `None` when no transaction could be opened) it does its work and
/// says whether to keep it, returning how to answer once the commit is known.
type Job = Box<dyn FnOnce(Option<&mut dyn Tx>) -> (bool, Completion) + Send>;

/// SQLite in WAL mode with `synchronous=FULL`, served by one writer thread.
#[derive(Clone)]
pub struct SqliteStore {
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteStore")
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database and applies embedded migrations.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Database(format!(
                "journal_mode is {mode}, not wal"
            )));
        }
        conn.execute_batch(
            "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA secure_delete=ON;",
        )?;
        migrate(&mut conn)?;
        let (jobs, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("clavitor-store".into())
            .spawn(move || writer_loop(conn, rx))
            .map_err(|e| StoreError::Database(e.to_string()))?;
        Ok(SqliteStore { jobs })
    }
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let latest = MIGRATIONS.last().map(|m| m.0).unwrap_or(0);
    if current > latest {
        return Err(StoreError::TooNew(current));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
    }
    Ok(())
}

fn writer_loop(mut conn: Connection, rx: mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        run_batch(&mut conn, batch);
    }
}

fn run_batch(conn: &mut Connection, batch: Vec<Job>) {
    let mut tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            tracing::error!(error = %e, "cannot begin a transaction");
            for job in batch {
                let (_, done) = job(None);
                done(Err(StoreError::Database(e.to_string())));
            }
            return;
        }
    };
    let completions: Vec<Completion> = batch
        .into_iter()
        .map(|job| run_in_savepoint(&mut tx, job))
        .collect();
    let outcome = tx.commit().map_err(StoreError::from);
    if let Err(e) = &outcome {
        tracing::error!(error = %e, "commit failed");
    }
    for done in completions {
        done(match &outcome {
            Ok(()) => Ok(()),
            Err(e) => Err(StoreError::Database(e.to_string())),
        });
    }
}

fn run_in_savepoint(tx: &mut Transaction<'_>, job: Job) -> Completion {
    let sp = match tx.savepoint() {
        Ok(sp) => sp,
        Err(e) => {
            tracing::error!(error = %e, "cannot open a savepoint");
            let (_, done) = job(None);
            return Box::new(move |_| done(Err(StoreError::Database(e.to_string()))));
        }
    };
    let (keep, done) = job(Some(&mut SqliteTx { conn: &sp }));
    if !keep {
        // Dropping a savepoint rolls it back (rusqlite's default).
        drop(sp);
        return done;
    }
    match sp.commit() {
        Ok(()) => done,
        Err(e) => Box::new(move |_| done(Err(StoreError::Database(e.to_string())))),
    }
}

impl Store for SqliteStore {
    async fn run<R: Send + 'static>(&self, unit: Unit<R>) -> Result<R, StoreError> {
        let (reply, answer) = oneshot::channel::<Result<R, StoreError>>();
        let job: Job = Box::new(move |tx: Option<&mut dyn Tx>| {
            let result = match tx {
                Some(tx) => unit(tx),
                None => Err(StoreError::Closed),
            };
            let keep = result.is_ok();
            let done: Completion = Box::new(move |commit: Result<(), StoreError>| {
                let _ = reply.send(commit.and(result));
            });
            (keep, done)
        });
        self.jobs.send(job).map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

struct SqliteTx<'c> {
    conn: &'c Connection,
}

fn entry_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EntryRow> {
    Ok(EntryRow {
        id: r.get(0)?,
        name_index: r.get(1)?,
        rev: r.get::<_, i64>(2)? as u64,
        deleted: r.get::<_, i64>(3)? != 0,
        body: r.get(4)?,
        updated_at: r.get(5)?,
    })
}

const ENTRY_COLS: &str = "id, name_index, rev, deleted, body, updated_at";
const AGENT_COLS: &str = "id, name_index, body, state, credential_hash, setup_hash, \
    setup_expires_at, expires_at, created_at, last_used_at, use_count, violation_started_at";

fn agent_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AgentRow> {
    Ok(AgentRow {
        id: r.get(0)?,
        name_index: r.get(1)?,
        body: r.get(2)?,
        state: r.get(3)?,
        credential_hash: r.get(4)?,
        setup_hash: r.get(5)?,
        setup_expires_at: r.get(6)?,
        expires_at: r.get(7)?,
        created_at: r.get(8)?,
        last_used_at: r.get(9)?,
        use_count: r.get(10)?,
        violation_started_at: r.get(11)?,
    })
}

fn audit_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRow> {
    Ok(AuditRow {
        seq: r.get(0)?,
        at: r.get(1)?,
        body: r.get(2)?,
        prev_hash: r.get(3)?,
        hash: r.get(4)?,
    })
}

impl SqliteTx<'_> {
    fn one<T>(
        &self,
        sql: &str,
        args: impl rusqlite::Params,
        map: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Option<T>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(sql)?
            .query_row(args, map)
            .optional()?)
    }

    fn all<T>(
        &self,
        sql: &str,
        args: impl rusqlite::Params,
        map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(args, map)?;
        Ok(rows.collect::<Result<Vec<T>, _>>()?)
    }
}

impl Tx for SqliteTx<'_> {
    fn meta_get(&mut self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.one("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
            r.get(0)
        })
    }

    fn meta_set(&mut self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![key, value])?;
        Ok(())
    }

    fn entry_by_index(&mut self, name_index: &[u8]) -> Result<Option<EntryRow>, StoreError> {
        let sql = format!("SELECT {ENTRY_COLS} FROM entries WHERE name_index = ?1 AND deleted = 0");
        self.one(&sql, params![name_index], entry_row)
    }

    fn entry_id_by_index(&mut self, name_index: &[u8]) -> Result<Option<String>, StoreError> {
        self.one(
            "SELECT id FROM entries WHERE name_index = ?1 AND deleted = 0",
            params![name_index],
            |r| r.get(0),
        )
    }

    fn entry_by_id(&mut self, id: &str) -> Result<Option<EntryRow>, StoreError> {
        let sql = format!("SELECT {ENTRY_COLS} FROM entries WHERE id = ?1");
        self.one(&sql, params![id], entry_row)
    }

    fn entries(&mut self) -> Result<Vec<EntryRow>, StoreError> {
        let sql = format!("SELECT {ENTRY_COLS} FROM entries WHERE deleted = 0 ORDER BY id");
        self.all(&sql, [], entry_row)
    }

    fn entry_write(
        &mut self,
        row: &EntryRow,
        expected_rev: Option<u64>,
        tombstone: bool,
    ) -> Result<bool, StoreError> {
        let rev = row.rev as i64;
        let deleted = i64::from(row.deleted);
        match expected_rev {
            None => {
                self.conn
                    .prepare_cached(&format!(
                        "INSERT INTO entries ({ENTRY_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                    ))?
                    .execute(params![
                        row.id,
                        row.name_index,
                        rev,
                        deleted,
                        row.body,
                        row.updated_at
                    ])?;
            }
            Some(expected) => {
                let changed = self
                    .conn
                    .prepare_cached(
                        "UPDATE entries SET name_index = ?2, rev = ?3, deleted = ?4, body = ?5, \
                         updated_at = ?6 WHERE id = ?1 AND rev = ?7 AND deleted = 0",
                    )?
                    .execute(params![
                        row.id,
                        row.name_index,
                        rev,
                        deleted,
                        row.body,
                        row.updated_at,
                        expected as i64
                    ])?;
                if changed == 0 {
                    return Ok(false);
                }
            }
        }
        self.conn
            .prepare_cached(
                "INSERT INTO entry_revisions (entry_id, rev, created_at, tombstone, body) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                row.id,
                rev,
                row.updated_at,
                i64::from(tombstone),
                row.body
            ])?;
        Ok(true)
    }

    fn entry_revisions(&mut self, id: &str) -> Result<Vec<RevisionRow>, StoreError> {
        self.all(
            "SELECT entry_id, rev, created_at, tombstone, body FROM entry_revisions \
             WHERE entry_id = ?1 ORDER BY rev",
            params![id],
            |r| {
                Ok(RevisionRow {
                    entry_id: r.get(0)?,
                    rev: r.get::<_, i64>(1)? as u64,
                    created_at: r.get(2)?,
                    tombstone: r.get::<_, i64>(3)? != 0,
                    body: r.get(4)?,
                })
            },
        )
    }

    fn agent_by_id(&mut self, id: &str) -> Result<Option<AgentRow>, StoreError> {
        self.one(
            &format!("SELECT {AGENT_COLS} FROM agents WHERE id = ?1"),
            params![id],
            agent_row,
        )
    }

    fn agent_by_index(&mut self, name_index: &[u8]) -> Result<Option<AgentRow>, StoreError> {
        let sql = format!("SELECT {AGENT_COLS} FROM agents WHERE name_index = ?1");
        self.one(&sql, params![name_index], agent_row)
    }

    fn agent_by_credential(&mut self, hash: &[u8]) -> Result<Option<AgentRow>, StoreError> {
        let sql = format!("SELECT {AGENT_COLS} FROM agents WHERE credential_hash = ?1");
        self.one(&sql, params![hash], agent_row)
    }

    fn agent_by_setup(&mut self, hash: &[u8]) -> Result<Option<AgentRow>, StoreError> {
        let sql = format!("SELECT {AGENT_COLS} FROM agents WHERE setup_hash = ?1");
        self.one(&sql, params![hash], agent_row)
    }

    fn agents(&mut self) -> Result<Vec<AgentRow>, StoreError> {
        self.all(
            &format!("SELECT {AGENT_COLS} FROM agents ORDER BY created_at, id"),
            [],
            agent_row,
        )
    }

    fn agent_put(&mut self, a: &AgentRow) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(&format!(
                "INSERT OR REPLACE INTO agents ({AGENT_COLS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
            ))?
            .execute(params![
                a.id,
                a.name_index,
                a.body,
                a.state,
                a.credential_hash,
                a.setup_hash,
                a.setup_expires_at,
                a.expires_at,
                a.created_at,
                a.last_used_at,
                a.use_count,
                a.violation_started_at
            ])?;
        Ok(())
    }

    fn rate_names_since(&mut self, agent_id: &str, since: i64) -> Result<Vec<Vec<u8>>, StoreError> {
        self.all(
            "SELECT name_index FROM rate_events WHERE agent_id = ?1 AND at >= ?2",
            params![agent_id, since],
            |r| r.get(0),
        )
    }

    fn rate_touch(&mut self, agent_id: &str, name_index: &[u8], at: i64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO rate_events (agent_id, name_index, at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (agent_id, name_index) DO UPDATE SET at = MAX(at, excluded.at)",
            )?
            .execute(params![agent_id, name_index, at])?;
        Ok(())
    }

    fn rate_prune(&mut self, before: i64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("DELETE FROM rate_events WHERE at < ?1")?
            .execute(params![before])?;
        Ok(())
    }

    fn audit_last(&mut self) -> Result<Option<AuditRow>, StoreError> {
        self.one(
            "SELECT seq, at, body, prev_hash, hash FROM audit ORDER BY seq DESC LIMIT 1",
            [],
            audit_row,
        )
    }

    fn audit_append(&mut self, a: &AuditRow) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO audit (seq, at, body, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![a.seq, a.at, a.body, a.prev_hash, a.hash])?;
        Ok(())
    }

    fn audit_page(&mut self, after_seq: i64, limit: u32) -> Result<Vec<AuditRow>, StoreError> {
        self.all(
            "SELECT seq, at, body, prev_hash, hash FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            params![after_seq, limit],
            audit_row,
        )
    }

    fn web_get(&mut self, kind: &str, key: &str, now: i64) -> Result<Option<Vec<u8>>, StoreError> {
        self.one(
            "SELECT value FROM web_state WHERE kind = ?1 AND key = ?2 \
             AND (expires_at IS NULL OR expires_at > ?3)",
            params![kind, key, now],
            |r| r.get(0),
        )
    }

    fn web_put(
        &mut self,
        kind: &str,
        key: &str,
        value: &[u8],
        expires_at: Option<i64>,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO web_state (kind, key, value, expires_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value, \
                 expires_at = excluded.expires_at",
            )?
            .execute(params![kind, key, value, expires_at])?;
        Ok(())
    }

    fn web_delete(&mut self, kind: &str, key: &str) -> Result<bool, StoreError> {
        let n = self
            .conn
            .prepare_cached("DELETE FROM web_state WHERE kind = ?1 AND key = ?2")?
            .execute(params![kind, key])?;
        Ok(n > 0)
    }

    fn web_list(&mut self, kind: &str, now: i64) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.all(
            "SELECT key, value FROM web_state WHERE kind = ?1 \
             AND (expires_at IS NULL OR expires_at > ?2) ORDER BY key",
            params![kind, now],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    fn web_prune(&mut self, now: i64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "DELETE FROM web_state WHERE expires_at IS NOT NULL AND expires_at <= ?1",
            )?
            .execute(params![now])?;
        Ok(())
    }
}
