//! SIGKILL during a stream of writes loses no acknowledged write and leaves
//! an intact database and audit chain. 50 rounds here; `cargo xtask soak`
//! runs more (CLAVITOR_SOAK_ROUNDS).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use clavitor_client::VaultClient;
use clavitor_core::Secret;
use clavitor_core::api::{EntryCreate, FieldSpec};
use common::Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_write() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let rounds: usize = std::env::var("CLAVITOR_SOAK_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(50);
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let log = tmp.path().join("serve.log");
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    for round in 0..rounds {
        let mut server = Server::start(&data, &log, "warn");
        let owner =
            VaultClient::new(&server.url, Some(Secret::new(common::owner_token(&data)))).unwrap();
        // Everything acknowledged before this round must still be there.
        let names: std::collections::HashSet<String> = owner
            .entries()
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        for n in acked.lock().unwrap().iter() {
            assert!(
                names.contains(n),
                "round {round}: acknowledged entry {n} lost"
            );
        }
        let v = owner.audit_verify().await.unwrap();
        assert!(v.ok, "round {round}: audit chain broken: {v:?}");

        let writer = {
            let acked = acked.clone();
            let owner = owner.clone();
            tokio::spawn(async move {
                for i in 0.. {
                    let name = format!("r{round}-e{i}");
                    let req = EntryCreate {
                        name: name.clone(),
                        fields: vec![FieldSpec {
                            label: "password".into(),
                            value: Some(format!("v{i}")),
                            ..FieldSpec::default()
                        }],
                        ..EntryCreate::default()
                    };
                    match owner.create_entry(&req).await {
                        Ok(_) => acked.lock().unwrap().push(name),
                        Err(_) => break,
                    }
                }
            })
        };
        // Kill at a different point of the stream each round.
        tokio::time::sleep(Duration::from_millis(20 + (round as u64 * 37) % 150)).await;
        server.kill9();
        writer.await.unwrap();
    }
    let server = Server::start(&data, &log, "warn");
    let owner =
        VaultClient::new(&server.url, Some(Secret::new(common::owner_token(&data)))).unwrap();
    let count = owner.entries().await.unwrap().len();
    assert!(count >= acked.lock().unwrap().len());
    assert!(
        acked.lock().unwrap().len() > rounds,
        "the writer made progress"
    );
    drop(server);
    let c = rusqlite::Connection::open(data.join("vault.db")).unwrap();
    let check: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}
