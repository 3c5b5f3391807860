//! Encryption at rest (DESIGN.md §4): what a stolen database reveals.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use clavitor_core::Tier;
use clavitor_core::api::{Channel, EntryCreate, FieldSpec, PersonalKey};
use clavitor_crypto::personal::{self, PersonalContext, PersonalPrivateKey};
use common::{TestVault, code, contains, data_bytes};
use rusqlite::Connection;

const CANARY: &str = "canary-Zq7Xw3-secret";
const NAME_CANARY: &str = "CanaryEntryName-8812";

#[tokio::test]
async fn canary_values_and_names_never_reach_the_database_or_wal() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    v.add(
        NAME_CANARY,
        &[("password", CANARY), ("username", "canary-user-info")],
    )
    .await;
    let agent = v.agent("CanaryAgent-Name", &[NAME_CANARY], None).await;
    assert_eq!(
        agent
            .read(NAME_CANARY, None, Channel::Cli)
            .await
            .unwrap()
            .value,
        CANARY
    );
    // Read it through both the WAL and, after a checkpoint, the main file.
    for (file, bytes) in data_bytes(&v.dir) {
        for needle in [
            CANARY,
            NAME_CANARY,
            "canary-user-info",
            "CanaryAgent-Name",
            "canaryagent-name",
        ] {
            assert!(
                !contains(&bytes, needle.as_bytes()),
                "{needle} found in {file}"
            );
        }
    }
    v.stop().await;
    let c = Connection::open(dir.path().join("data/vault.db")).unwrap();
    c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
    drop(c);
    for (file, bytes) in data_bytes(&dir.path().join("data")) {
        assert!(!contains(&bytes, CANARY.as_bytes()), "found in {file}");
        assert!(!contains(&bytes, NAME_CANARY.as_bytes()), "found in {file}");
    }
}

#[tokio::test]
async fn without_the_key_file_the_database_yields_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    v.add(NAME_CANARY, &[("password", CANARY)]).await;
    v.stop().await;
    let data = dir.path().join("data");
    std::fs::remove_file(data.join("vault.key")).unwrap();
    // The server refuses to start (and does not make a new key beside the old data).
    let err = clavitor_vault::DataDir::open(&data)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("restore vault.key"), "{err}");
    assert!(!data.join("vault.key").exists());
    // A wrong key is detected, not silently used.
    std::fs::write(data.join("vault.key"), [7u8; 32]).unwrap();
    let mut perm = std::fs::metadata(data.join("vault.key"))
        .unwrap()
        .permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o600);
    std::fs::set_permissions(data.join("vault.key"), perm).unwrap();
    let err = clavitor_vault::DataDir::open(&data)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("does not match"), "{err}");
    // Every stored cell is ciphertext, an index, a hash or a number.
    let c = Connection::open(data.join("vault.db")).unwrap();
    let mut stmt = c.prepare("SELECT body FROM entries UNION ALL SELECT body FROM entry_revisions UNION ALL SELECT body FROM audit UNION ALL SELECT body FROM agents").unwrap();
    let bodies: Vec<Vec<u8>> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(!bodies.is_empty());
    for b in bodies {
        assert_eq!(b[0], 1, "envelope version byte");
        assert!(std::str::from_utf8(&b).is_err() || !b.iter().all(u8::is_ascii_graphic));
    }
}

#[tokio::test]
async fn a_body_moved_to_another_row_does_not_open() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    v.add("Alpha", &[("password", "alpha-secret")]).await;
    v.add("Beta", &[("password", "beta-secret")]).await;
    let agent = v.agent("Codex", &["Alpha", "Beta"], None).await;
    v.stop().await;
    let c = Connection::open(dir.path().join("data/vault.db")).unwrap();
    // Give Beta's row Alpha's sealed body (same revision number).
    let ids: Vec<String> = c
        .prepare("SELECT id FROM entries ORDER BY updated_at, id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let alpha_body: Vec<u8> = c
        .query_row("SELECT body FROM entries WHERE id = ?1", [&ids[0]], |r| {
            r.get(0)
        })
        .unwrap();
    c.execute(
        "UPDATE entries SET body = ?1 WHERE id = ?2",
        rusqlite::params![alpha_body, ids[1]],
    )
    .unwrap();
    drop(c);
    let v = v_restart(dir.path()).await;
    let agent = agent_on(&v, agent);
    let a = agent.read("Alpha", None, Channel::Cli).await;
    let b = agent.read("Beta", None, Channel::Cli).await;
    // One of the two rows is Beta's; whichever was swapped must not open.
    let (opened, refused): (Vec<_>, Vec<_>) = [a, b].into_iter().partition(Result::is_ok);
    assert_eq!(opened.len(), 1, "exactly the untouched entry still opens");
    assert_eq!(code(refused[0].as_ref().err().unwrap()), "CV-2041");
    v.stop().await;
}

async fn v_restart(parent: &std::path::Path) -> TestVault {
    TestVault::start(parent).await
}

/// The same agent credential against a restarted vault on a new port.
fn agent_on(v: &TestVault, old: clavitor_client::VaultClient) -> clavitor_client::VaultClient {
    old.with_base_url(&v.url)
}

#[tokio::test]
async fn personal_values_are_only_hpke_ciphertext_and_no_server_path_opens_them() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    let owner = v.owner();
    // No personal key yet: a personal field cannot be stored.
    let err = owner
        .create_entry(&EntryCreate {
            name: "Visa".into(),
            fields: vec![FieldSpec {
                label: "card_number".into(),
                value: Some("4111".into()),
                ..FieldSpec::default()
            }],
            ..EntryCreate::default()
        })
        .await
        .err()
        .unwrap();
    assert_eq!(code(&err), "CV-1006");
    // The browser's role: a key pair whose private half never leaves the test.
    let (sk, pk) = PersonalPrivateKey::generate().unwrap();
    owner
        .set_personal_key(&PersonalKey {
            public_key: Some(pk.to_base64url()),
            ..PersonalKey::default()
        })
        .await
        .unwrap();
    let vault_id = owner.personal_key().await.unwrap().vault_id;
    let ctx = PersonalContext {
        vault_id: &vault_id,
        entry_id: "e_visa0001",
        field_id: "f_card0001",
        revision: 1,
    };
    let blob = personal::seal(&pk, &ctx, CANARY.as_bytes()).unwrap();
    owner
        .create_entry(&EntryCreate {
            id: Some("e_visa0001".into()),
            name: "Visa".into(),
            fields: vec![
                FieldSpec {
                    id: Some("f_card0001".into()),
                    label: "card_number".into(),
                    sealed: Some(clavitor_crypto::b64(&blob)),
                    ..FieldSpec::default()
                },
                FieldSpec {
                    label: "holder".into(),
                    value: Some("A. Owner".into()),
                    ..FieldSpec::default()
                },
            ],
            ..EntryCreate::default()
        })
        .await
        .unwrap();
    // The owner API hands back only the ciphertext, which the test opens.
    let view = owner.entry("Visa", true).await.unwrap();
    let card = view
        .fields
        .iter()
        .find(|f| f.label == "card_number")
        .unwrap();
    assert_eq!(card.tier, Tier::Personal);
    assert!(card.value.is_none());
    let sealed = clavitor_crypto::unb64(card.sealed.as_deref().unwrap()).unwrap();
    assert_eq!(
        &personal::open(&sk, &ctx, &sealed).unwrap()[..],
        CANARY.as_bytes()
    );
    // No agent path yields it, even granted the whole entry.
    let agent = v.agent("Deploy", &["Visa"], Some((100, 1000))).await;
    for field in [Some("card_number"), None] {
        let res = agent.read("Visa", field, Channel::Cli).await;
        if let Ok(r) = &res {
            assert_ne!(r.value, CANARY);
        }
    }
    assert_eq!(
        code(
            &agent
                .read("Visa", Some("card_number"), Channel::Cli)
                .await
                .err()
                .unwrap()
        ),
        "CV-2041"
    );
    assert_eq!(
        code(
            &agent
                .inject("Visa", "card_number", "x.test", 443, "https")
                .await
                .err()
                .unwrap()
        ),
        "CV-2041"
    );
    for (file, bytes) in data_bytes(&v.dir) {
        assert!(!contains(&bytes, CANARY.as_bytes()), "found in {file}");
    }
    // The public key cannot be swapped under existing personal values.
    let (_, other) = PersonalPrivateKey::generate().unwrap();
    let err = owner
        .set_personal_key(&PersonalKey {
            public_key: Some(other.to_base64url()),
            ..PersonalKey::default()
        })
        .await
        .err()
        .unwrap();
    assert_eq!(code(&err), "CV-1003");
    v.stop().await;
}
