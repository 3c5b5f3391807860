//! Entries: revisions, tombstones, stale-revision conflicts, renames.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use clavitor_core::api::{Channel, EntryEdit, FieldSpec};
use common::{TestVault, code};

fn set(label: &str, value: &str) -> FieldSpec {
    FieldSpec {
        label: label.into(),
        value: Some(value.into()),
        ..FieldSpec::default()
    }
}

#[tokio::test]
async fn a_stale_revision_is_a_conflict_never_an_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    v.add("GitHub", &[("password", "one")]).await;
    let owner = v.owner();
    let rev = owner.entry("GitHub", false).await.unwrap().rev;
    // Two editors start from the same revision; the second loses.
    let first = EntryEdit {
        name: "GitHub".into(),
        rev,
        set: vec![set("password", "two")],
        ..EntryEdit::default()
    };
    let second = EntryEdit {
        name: "GitHub".into(),
        rev,
        set: vec![set("password", "three")],
        ..EntryEdit::default()
    };
    assert_eq!(owner.edit_entry(&first).await.unwrap().rev, rev + 1);
    assert_eq!(
        code(&owner.edit_entry(&second).await.err().unwrap()),
        "CV-1003"
    );
    let shown = owner.entry("GitHub", true).await.unwrap();
    assert_eq!(shown.fields[0].value.as_deref(), Some("two"));
    // Deleting from a stale revision is refused too.
    assert_eq!(
        code(&owner.delete_entry("GitHub", rev).await.err().unwrap()),
        "CV-1003"
    );
    v.stop().await;
}

#[tokio::test]
async fn history_keeps_every_revision_and_the_tombstone() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    v.add("DB", &[("dsn", "postgres://a")]).await;
    let owner = v.owner();
    owner
        .edit_entry(&EntryEdit {
            name: "DB".into(),
            rev: 1,
            rename: Some("Prod DB".into()),
            ..EntryEdit::default()
        })
        .await
        .unwrap();
    let agent = v.agent("Deploy", &["Prod DB"], None).await;
    assert_eq!(
        agent
            .read("Prod DB", None, Channel::Cli)
            .await
            .unwrap()
            .value,
        "postgres://a"
    );
    let history = owner.entry_history("Prod DB").await.unwrap();
    assert_eq!(
        history
            .iter()
            .map(|h| (h.rev, h.name.as_str()))
            .collect::<Vec<_>>(),
        vec![(1, "DB"), (2, "Prod DB")]
    );
    owner.delete_entry("Prod DB", 2).await.unwrap();
    assert_eq!(
        code(
            &agent
                .read("Prod DB", None, Channel::Cli)
                .await
                .err()
                .unwrap()
        ),
        "CV-2041"
    );
    assert_eq!(
        code(&owner.entry("Prod DB", false).await.err().unwrap()),
        "CV-1002"
    );
    // The name is free again, and the old grant does not follow it.
    v.add("Prod DB", &[("dsn", "postgres://new")]).await;
    assert_eq!(
        code(
            &agent
                .read("Prod DB", None, Channel::Cli)
                .await
                .err()
                .unwrap()
        ),
        "CV-2041"
    );
    // The tombstoned revision is still in the database.
    let c = rusqlite::Connection::open(v.dir.join("vault.db")).unwrap();
    let tombs: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM entry_revisions WHERE tombstone = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tombs, 1);
    v.stop().await;
}

#[tokio::test]
async fn narrowed_grants_and_default_fields() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    v.add(
        "AWS",
        &[
            ("access_key", "AKIA1"),
            ("secret_key", "s3cr3t"),
            ("region", "eu-west-1"),
        ],
    )
    .await;
    v.add("GitHub", &[("username", "octo"), ("password", "pw")])
        .await;
    let token = v
        .owner()
        .create_agent(&clavitor_core::api::AgentCreate {
            name: "Narrow".into(),
            grants: vec![
                clavitor_core::api::GrantSpec {
                    entry: "AWS".into(),
                    fields: Some(vec!["access_key".into()]),
                },
                clavitor_core::api::GrantSpec {
                    entry: "GitHub".into(),
                    fields: None,
                },
            ],
            rate_minute: Some(50),
            rate_hour: Some(500),
            ..Default::default()
        })
        .await
        .unwrap()
        .token;
    let agent = v.enroll(&token).await.unwrap();
    assert_eq!(
        agent
            .read("AWS", Some("access_key"), Channel::Cli)
            .await
            .unwrap()
            .value,
        "AKIA1"
    );
    assert_eq!(
        code(
            &agent
                .read("AWS", Some("secret_key"), Channel::Cli)
                .await
                .err()
                .unwrap()
        ),
        "CV-2041"
    );
    // Info fields of a narrowed grant are not readable either.
    assert_eq!(
        code(
            &agent
                .read("AWS", Some("region"), Channel::Cli)
                .await
                .err()
                .unwrap()
        ),
        "CV-2041"
    );
    // Default field: password when there is one; info fields readable by name.
    assert_eq!(
        agent
            .read("GitHub", None, Channel::Cli)
            .await
            .unwrap()
            .value,
        "pw"
    );
    assert_eq!(
        agent
            .read("GitHub", Some("username"), Channel::Cli)
            .await
            .unwrap()
            .value,
        "octo"
    );
    // Several shared fields and no password: name one.
    let full = v.agent("Full", &["AWS"], None).await;
    assert_eq!(
        code(&full.read("AWS", None, Channel::Cli).await.err().unwrap()),
        "CV-2042"
    );
    v.stop().await;
}

#[tokio::test]
async fn agents_are_unique_by_their_audit_name() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    v.add("GitHub", &[("password", "pw")]).await;
    let create = |name: &str| clavitor_core::api::AgentCreate {
        name: name.into(),
        grants: vec![clavitor_core::api::GrantSpec {
            entry: "GitHub".into(),
            fields: None,
        }],
        ..Default::default()
    };
    v.owner().create_agent(&create("Codex 1")).await.unwrap();
    // Would share the actor `cli:codex-1` in the audit log.
    assert_eq!(
        code(
            &v.owner()
                .create_agent(&create("codex-1"))
                .await
                .err()
                .unwrap()
        ),
        "CV-1004"
    );
    // Reserved for requests the log cannot attribute.
    for reserved in ["Unknown", "unchecked"] {
        assert_eq!(
            code(
                &v.owner()
                    .create_agent(&create(reserved))
                    .await
                    .err()
                    .unwrap()
            ),
            "CV-1001"
        );
    }
    v.stop().await;
}

#[tokio::test]
async fn a_tier_change_without_the_value_is_refused_not_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    v.add("Db", &[("password", "pw"), ("host", "db.internal")])
        .await;
    let owner = v.owner();
    let before = owner.entry("Db", false).await.unwrap();
    let edit = EntryEdit {
        name: "Db".into(),
        rev: before.rev,
        set: vec![FieldSpec {
            label: "host".into(),
            tier: Some(clavitor_core::Tier::Shared),
            ..FieldSpec::default()
        }],
        ..EntryEdit::default()
    };
    assert_eq!(
        code(&owner.edit_entry(&edit).await.err().unwrap()),
        "CV-1001"
    );
    let after = owner.entry("Db", false).await.unwrap();
    assert_eq!(after.rev, before.rev, "nothing written");
    // With the value, the tier changes.
    let edit = EntryEdit {
        set: vec![FieldSpec {
            value: Some("db.internal".into()),
            ..edit.set[0].clone()
        }],
        ..edit
    };
    let changed = owner.edit_entry(&edit).await.unwrap();
    let host = changed.fields.iter().find(|f| f.label == "host").unwrap();
    assert_eq!(host.tier, clavitor_core::Tier::Shared);
    v.stop().await;
}

#[tokio::test]
async fn a_personal_value_sealed_for_another_field_id_is_a_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    v.add("Db", &[("password", "pw")]).await;
    let owner = v.owner();
    let before = owner.entry("Db", false).await.unwrap();
    // Two editors added "note" concurrently; the second's blob is bound to
    // its own field id, which the vault would replace by the first's.
    let edit = |id: &str, rev| EntryEdit {
        name: "Db".into(),
        rev,
        set: vec![FieldSpec {
            id: Some(id.into()),
            label: "note".into(),
            tier: Some(clavitor_core::Tier::Info),
            value: Some("first".into()),
            ..FieldSpec::default()
        }],
        ..EntryEdit::default()
    };
    let first = owner
        .edit_entry(&edit("f_first", before.rev))
        .await
        .unwrap();
    let sealed = EntryEdit {
        set: vec![FieldSpec {
            id: Some("f_second".into()),
            label: "note".into(),
            tier: Some(clavitor_core::Tier::Personal),
            sealed: Some("AQ".repeat(60)),
            ..FieldSpec::default()
        }],
        ..edit("f_second", first.rev)
    };
    assert_eq!(
        code(&owner.edit_entry(&sealed).await.err().unwrap()),
        "CV-1003"
    );
    assert_eq!(owner.entry("Db", false).await.unwrap().rev, first.rev);
    v.stop().await;
}

#[tokio::test]
async fn get_without_a_field_asks_for_one_when_no_secret_is_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    // Only info fields (a label outside the table is info).
    v.add(
        "AWS",
        &[("access_key_id", "AKIA"), ("secret_access_key", "wJal")],
    )
    .await;
    v.add("Solo", &[("username", "ada")]).await;
    let agent = v.agent("Codex", &["AWS", "Solo"], None).await;
    let ask = |name: &'static str| agent.read(name, None, Channel::Cli);
    // Granted, readable fields, no shared default: name one (CV-2042), not
    // a misleading "Access denied".
    assert_eq!(code(&ask("AWS").await.err().unwrap()), "CV-2042");
    assert_eq!(code(&ask("Solo").await.err().unwrap()), "CV-2042");
    let named = agent
        .read("AWS", Some("access_key_id"), Channel::Cli)
        .await
        .unwrap();
    assert_eq!(named.value, "AKIA");
    // Ungranted or unknown: still the one CV-2041.
    assert_eq!(code(&ask("Nope").await.err().unwrap()), "CV-2041");
    v.stop().await;
}
