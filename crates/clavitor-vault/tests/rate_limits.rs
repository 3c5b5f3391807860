//! Rate limits and lockdown (DESIGN.md §7) against a real vault.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::AtomicI64;

use clavitor_core::api::Channel;
use common::{TestVault, code};

const MINUTE: i64 = 60_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_parallel_names_yield_exactly_three_successes() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    let names: Vec<String> = (0..50).map(|i| format!("Entry {i}")).collect();
    for n in &names {
        v.add(n, &[("password", "pw")]).await;
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let agent = v.agent("Codex", &refs, None).await;
    let mut tasks = Vec::new();
    for n in names.clone() {
        let a = agent.clone();
        tasks.push(tokio::spawn(
            async move { a.read(&n, None, Channel::Cli).await },
        ));
    }
    let mut ok = 0;
    let mut limited = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => {
                assert_eq!(code(&e), "CV-2045");
                limited += 1;
            }
        }
    }
    assert_eq!((ok, limited), (3, 47));
    // A burst is one violation: the agent is not locked.
    assert_eq!(v.owner().agent("Codex").await.unwrap().state, "active");
    v.stop().await;
}

#[tokio::test]
async fn names_already_in_the_window_stay_allowed_and_windows_slide() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    for n in ["A", "B", "C", "D"] {
        v.add(n, &[("password", n)]).await;
    }
    let agent = v.agent("Codex", &["A", "B", "C", "D"], None).await;
    for n in ["A", "B", "C"] {
        agent.read(n, None, Channel::Cli).await.unwrap();
    }
    assert_eq!(
        code(&agent.read("D", None, Channel::Cli).await.err().unwrap()),
        "CV-2045"
    );
    // Names already counted are always allowed.
    for n in ["a", "B", " c "] {
        agent.read(n, None, Channel::Cli).await.unwrap();
    }
    // Ungranted and unknown names count too: guessing is not free.
    v.advance(MINUTE + 1);
    assert_eq!(
        code(
            &agent
                .read("Unknown1", None, Channel::Cli)
                .await
                .err()
                .unwrap()
        ),
        "CV-2041"
    );
    v.stop().await;
}

#[tokio::test]
async fn second_violation_locks_and_the_lock_survives_restart_and_new_token() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(AtomicI64::new(common::T0));
    let v = TestVault::start_with_clock(dir.path(), clock.clone()).await;
    for n in ["A", "B", "C", "D", "E", "F", "G", "H"] {
        v.add(n, &[("password", n)]).await;
    }
    let agent = v
        .agent("Codex", &["A", "B", "C", "D", "E", "F", "G", "H"], None)
        .await;
    for n in ["A", "B", "C"] {
        agent.read(n, None, Channel::Cli).await.unwrap();
    }
    // First violation, with a burst inside its minute: not locked.
    for _ in 0..5 {
        assert_eq!(
            code(&agent.read("D", None, Channel::Cli).await.err().unwrap()),
            "CV-2045"
        );
    }
    v.advance(30_000);
    assert_eq!(
        code(&agent.read("E", None, Channel::Cli).await.err().unwrap()),
        "CV-2045"
    );
    assert_eq!(v.owner().agent("Codex").await.unwrap().state, "active");
    // Minutes later the minute window has room again.
    v.advance(2 * MINUTE);
    for n in ["D", "E", "F"] {
        agent.read(n, None, Channel::Cli).await.unwrap();
    }
    // Second violation within two hours of the first: locked, and the
    // refusal that locks says so.
    assert_eq!(
        code(&agent.read("G", None, Channel::Cli).await.err().unwrap()),
        "CV-2046"
    );
    assert_eq!(v.owner().agent("Codex").await.unwrap().state, "locked");
    assert_eq!(
        code(&agent.read("A", None, Channel::Cli).await.err().unwrap()),
        "CV-2046"
    );

    // The lock survives a restart…
    let v = v.restart().await;
    assert_eq!(
        code(&agent.read("A", None, Channel::Cli).await.err().unwrap()),
        "CV-2046"
    );
    // …and a new token.
    let token = v.owner().agent_token("Codex").await.unwrap().token;
    let fresh = v.enroll(&token).await.unwrap();
    assert_eq!(
        code(&fresh.read("A", None, Channel::Cli).await.err().unwrap()),
        "CV-2046"
    );
    // The owner CLI unlocks while no passkey is enrolled.
    v.owner().unlock_agent("Codex").await.unwrap();
    v.advance(2 * 60 * MINUTE + 1);
    assert_eq!(
        fresh.read("A", None, Channel::Cli).await.unwrap().value,
        "A"
    );
    v.stop().await;
}

#[tokio::test]
async fn violations_two_hours_apart_do_not_lock() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    let names: Vec<String> = (0..40).map(|i| format!("N{i}")).collect();
    for n in &names {
        v.add(n, &[("password", "x")]).await;
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let agent = v.agent("Codex", &refs, Some((1, 100))).await;
    agent.read("N0", None, Channel::Cli).await.unwrap();
    assert_eq!(
        code(&agent.read("N1", None, Channel::Cli).await.err().unwrap()),
        "CV-2045"
    );
    v.advance(2 * 60 * MINUTE + 1);
    agent.read("N2", None, Channel::Cli).await.unwrap();
    assert_eq!(
        code(&agent.read("N3", None, Channel::Cli).await.err().unwrap()),
        "CV-2045"
    );
    assert_eq!(v.owner().agent("Codex").await.unwrap().state, "active");
    v.stop().await;
}

#[tokio::test]
async fn hourly_limit_applies() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    let names: Vec<String> = (0..12).map(|i| format!("H{i}")).collect();
    for n in &names {
        v.add(n, &[("password", "x")]).await;
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let agent = v.agent("Codex", &refs, Some((3, 10))).await;
    for (i, n) in names.iter().enumerate().take(10) {
        if i > 0 && i % 3 == 0 {
            v.advance(MINUTE + 1);
        }
        agent.read(n, None, Channel::Cli).await.unwrap();
    }
    v.advance(MINUTE + 1);
    assert_eq!(
        code(&agent.read("H10", None, Channel::Cli).await.err().unwrap()),
        "CV-2045"
    );
    v.stop().await;
}
