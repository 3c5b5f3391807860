-- Every secret or name is stored encrypted by the vault before it reaches
-- this schema; columns here hold ciphertext, blind indexes, hashes and times.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

CREATE TABLE entries (
    id         TEXT PRIMARY KEY,
    name_index BLOB UNIQUE,            -- NULL once deleted, so the name can be reused
    rev        INTEGER NOT NULL,
    deleted    INTEGER NOT NULL DEFAULT 0,
    body       BLOB NOT NULL,          -- sealed snapshot of the head revision
    updated_at INTEGER NOT NULL
);

CREATE TABLE entry_revisions (
    entry_id   TEXT NOT NULL,
    rev        INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    tombstone  INTEGER NOT NULL DEFAULT 0,
    body       BLOB NOT NULL,
    PRIMARY KEY (entry_id, rev)
);

CREATE TABLE agents (
    id                   TEXT PRIMARY KEY,
    name_index           BLOB NOT NULL UNIQUE,
    body                 BLOB NOT NULL,   -- sealed: name, grants, limits, allow-list
    state                TEXT NOT NULL,   -- active | locked | revoked
    credential_hash      BLOB UNIQUE,
    setup_hash           BLOB UNIQUE,
    setup_expires_at     INTEGER,
    expires_at           INTEGER,
    created_at           INTEGER NOT NULL,
    last_used_at         INTEGER,
    use_count            INTEGER NOT NULL DEFAULT 0,
    violation_started_at INTEGER
);

-- Latest access time per (agent, normalised name): a name is in a sliding
-- window when its latest access falls inside it.
CREATE TABLE rate_events (
    agent_id   TEXT NOT NULL,
    name_index BLOB NOT NULL,
    at         INTEGER NOT NULL,
    PRIMARY KEY (agent_id, name_index)
);

CREATE TABLE audit (
    seq       INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    body      BLOB NOT NULL,
    prev_hash BLOB NOT NULL,
    hash      BLOB NOT NULL
);
