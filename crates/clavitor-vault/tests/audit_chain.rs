//! The audit log: tamper evidence and fail-closed writes (DESIGN.md §8).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use clavitor_core::api::Channel;
use common::{TestVault, code};
use rusqlite::Connection;

/// A vault with a few audited reads, stopped; returns the temp dir.
async fn vault_with_records() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    v.add("GitHub", &[("password", "pw")]).await;
    let agent = v.agent("Codex", &["GitHub"], None).await;
    for _ in 0..5 {
        agent.read("GitHub", None, Channel::Cli).await.unwrap();
    }
    let ok = v.owner().audit_verify().await.unwrap();
    assert!(ok.ok, "{ok:?}");
    assert!(ok.records >= 8);
    v.stop().await;
    dir
}

fn db(dir: &tempfile::TempDir) -> Connection {
    Connection::open(dir.path().join("data/vault.db")).unwrap()
}

async fn verify(dir: &tempfile::TempDir) -> clavitor_core::api::Verification {
    let v = TestVault::start(dir.path()).await;
    let r = v.owner().audit_verify().await.unwrap();
    v.stop().await;
    r
}

#[tokio::test]
async fn an_edited_record_is_found() {
    let dir = vault_with_records().await;
    db(&dir)
        .execute(
            "UPDATE audit SET body = (SELECT body FROM audit WHERE seq = 4) WHERE seq = 5",
            [],
        )
        .unwrap();
    let r = verify(&dir).await;
    assert!(!r.ok);
    assert_eq!(r.broken_at, Some(5));
    assert!(r.problem.unwrap().contains("altered"));
}

#[tokio::test]
async fn an_edited_time_is_found() {
    let dir = vault_with_records().await;
    db(&dir)
        .execute("UPDATE audit SET at = at - 3600000 WHERE seq = 3", [])
        .unwrap();
    let r = verify(&dir).await;
    assert_eq!((r.ok, r.broken_at), (false, Some(3)));
}

#[tokio::test]
async fn a_deleted_record_is_found() {
    let dir = vault_with_records().await;
    db(&dir)
        .execute("DELETE FROM audit WHERE seq = 4", [])
        .unwrap();
    let r = verify(&dir).await;
    assert_eq!((r.ok, r.broken_at), (false, Some(4)));
    assert!(r.problem.unwrap().contains("missing"));
}

#[tokio::test]
async fn reordered_records_are_found() {
    let dir = vault_with_records().await;
    let c = db(&dir);
    c.execute_batch(
        "UPDATE audit SET seq = -1 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = 4; UPDATE audit SET seq = 4 WHERE seq = -1;",
    )
    .unwrap();
    drop(c);
    let r = verify(&dir).await;
    assert_eq!((r.ok, r.broken_at), (false, Some(3)));
}

#[tokio::test]
async fn truncation_is_found() {
    let dir = vault_with_records().await;
    let c = db(&dir);
    let last: i64 = c
        .query_row("SELECT MAX(seq) FROM audit", [], |r| r.get(0))
        .unwrap();
    c.execute("DELETE FROM audit WHERE seq > ?1", [last - 2])
        .unwrap();
    drop(c);
    let r = verify(&dir).await;
    assert!(!r.ok);
    assert_eq!(r.broken_at, Some(last - 1));
    assert!(r.problem.unwrap().contains("truncated"), "says where");
}

#[tokio::test]
async fn unwritable_audit_fails_closed_with_cv_2050() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    v.add("GitHub", &[("password", "canary-2050")]).await;
    let agent = v.agent("Codex", &["GitHub"], None).await;
    // Make the audit table refuse writes while the server runs (a real
    // SQLite failure inside the request's transaction).
    let c = Connection::open(dir.path().join("data/vault.db")).unwrap();
    c.execute_batch("CREATE TRIGGER no_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'audit disabled'); END;")
        .unwrap();
    let raw = reqwest::Client::new()
        .post(format!("{}/v1/agent/read", v.url))
        .json(&serde_json::json!({"entry": "GitHub"}))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 503);
    let err = agent
        .read("GitHub", None, Channel::Cli)
        .await
        .err()
        .unwrap();
    assert_eq!(code(&err), "CV-2050");
    // Nothing counted either: the rate window was rolled back with the audit.
    c.execute_batch("DROP TRIGGER no_audit;").unwrap();
    let n: i64 = c
        .query_row("SELECT COUNT(*) FROM rate_events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0);
    assert_eq!(
        agent
            .read("GitHub", None, Channel::Cli)
            .await
            .unwrap()
            .value,
        "canary-2050"
    );
    drop(c);
    v.stop().await;
}
