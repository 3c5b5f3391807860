-- Owner web vault state (passkeys, ceremonies in flight, sessions, the
-- one-time setup link). `value` is sealed by the vault; `key` is an id or a
-- hash, never a secret; rows past `expires_at` (epoch ms) are dead.
CREATE TABLE web_state (
    kind       TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      BLOB NOT NULL,
    expires_at INTEGER,
    PRIMARY KEY (kind, key)
);
CREATE INDEX web_state_expiry ON web_state (expires_at);
