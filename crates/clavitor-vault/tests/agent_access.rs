//! The agent API against a real vault: grants, CV-2041 indistinguishability,
//! revocation, single-use setup tokens, hostile names.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use clavitor_core::Secret;
use clavitor_core::api::{AgentCreate, Channel, EntryCreate, FieldSpec, GrantSpec, PersonalKey};
use common::{TestVault, code};

/// Status, headers (without `date`) and body of a raw agent read.
async fn raw_read(
    url: &str,
    credential: &str,
    body: serde_json::Value,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let res = reqwest::Client::new()
        .post(format!("{url}/v1/agent/read"))
        .bearer_auth(credential)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let mut headers: Vec<(String, String)> = res
        .headers()
        .iter()
        .filter(|(k, _)| k.as_str() != "date")
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
        .collect();
    headers.sort();
    (status, headers, res.bytes().await.unwrap().to_vec())
}

async fn enrolled_credential(v: &TestVault, name: &str, entries: &[&str]) -> String {
    let token = v
        .owner()
        .create_agent(&AgentCreate {
            name: name.into(),
            grants: entries
                .iter()
                .map(|e| GrantSpec {
                    entry: (*e).into(),
                    fields: None,
                })
                .collect(),
            rate_minute: Some(100),
            rate_hour: Some(1000),
            ..AgentCreate::default()
        })
        .await
        .unwrap()
        .token;
    v.anonymous()
        .enroll(&Secret::new(token))
        .await
        .unwrap()
        .credential
}

#[tokio::test]
async fn every_cause_of_access_denied_is_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    let (sk, pk) = clavitor_crypto::personal::PersonalPrivateKey::generate().unwrap();
    drop(sk);
    v.owner()
        .set_personal_key(&PersonalKey {
            public_key: Some(pk.to_base64url()),
            ..PersonalKey::default()
        })
        .await
        .unwrap();
    let vault_id = v.owner().personal_key().await.unwrap().vault_id;
    let blob = clavitor_crypto::personal::seal(
        &pk,
        &clavitor_crypto::personal::PersonalContext {
            vault_id: &vault_id,
            entry_id: "e_github01",
            field_id: "f_recovery",
            revision: 1,
        },
        b"recovery-canary",
    )
    .unwrap();
    v.owner()
        .create_entry(&EntryCreate {
            id: Some("e_github01".into()),
            name: "GitHub".into(),
            fields: vec![
                FieldSpec {
                    label: "password".into(),
                    value: Some("gh-pass".into()),
                    ..FieldSpec::default()
                },
                FieldSpec {
                    id: Some("f_recovery".into()),
                    label: "recovery_codes".into(),
                    sealed: Some(clavitor_crypto::b64(&blob)),
                    ..FieldSpec::default()
                },
            ],
            ..EntryCreate::default()
        })
        .await
        .unwrap();
    v.add("Stripe API", &[("key", "sk_live_x")]).await;
    let cred = enrolled_credential(&v, "Codex", &["GitHub"]).await;

    let ok = raw_read(
        &v.url,
        &cred,
        serde_json::json!({"entry": "GitHub", "field": "password"}),
    )
    .await;
    assert_eq!(ok.0, 200);
    assert!(String::from_utf8_lossy(&ok.2).contains("gh-pass"));

    let cases = [
        serde_json::json!({"entry": "Stripe API", "field": "key"}), // not granted
        serde_json::json!({"entry": "Nope", "field": "key"}),       // no such entry
        serde_json::json!({"entry": "GitHub", "field": "nosuchfield"}), // no such field
        serde_json::json!({"entry": "GitHub", "field": "recovery_codes"}), // personal
    ];
    let mut answers = Vec::new();
    for body in cases {
        answers.push(raw_read(&v.url, &cred, body).await);
    }
    for a in &answers {
        assert_eq!(a, &answers[0]);
    }
    assert_eq!(answers[0].0, 403);
    assert_eq!(
        answers[0].2,
        br#"{"code":"CV-2041","message":"Access denied."}"#.to_vec()
    );
    v.stop().await;
}

#[tokio::test]
async fn revocation_refuses_the_very_next_request_and_setup_tokens_work_once() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    v.add("GitHub", &[("password", "pw")]).await;
    let token = v
        .owner()
        .create_agent(&AgentCreate {
            name: "Codex".into(),
            grants: vec![GrantSpec {
                entry: "GitHub".into(),
                fields: None,
            }],
            ..AgentCreate::default()
        })
        .await
        .unwrap()
        .token;
    let agent = v.enroll(&token).await.unwrap();
    // Second use of the same setup token: refused.
    let again = v.enroll(&token).await.err().unwrap();
    assert_eq!(code(&again), "CV-2048");
    assert_eq!(
        agent
            .read("GitHub", None, Channel::Cli)
            .await
            .unwrap()
            .value,
        "pw"
    );
    v.owner().revoke_agent("Codex").await.unwrap();
    let refused = agent
        .read("GitHub", None, Channel::Cli)
        .await
        .err()
        .unwrap();
    assert_eq!(code(&refused), "CV-2048");
    // A revoked agent gets no new token either, and the owner is told why.
    assert_eq!(
        code(&v.owner().agent_token("Codex").await.err().unwrap()),
        "CV-1011"
    );
    // Both refusals are audited.
    let audit = v.owner().audit(Some("Codex"), None, None).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|r| r.action == "enroll" && r.reason.as_deref() == Some("CV-2048"))
    );
    v.stop().await;
}

#[tokio::test]
async fn a_new_setup_token_replaces_the_old_credential() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    v.add("GitHub", &[("password", "pw")]).await;
    let first = v.agent("Codex", &["GitHub"], None).await;
    let token = v.owner().agent_token("Codex").await.unwrap().token;
    let second = v.enroll(&token).await.unwrap();
    assert_eq!(
        second
            .read("GitHub", None, Channel::Cli)
            .await
            .unwrap()
            .value,
        "pw"
    );
    assert_eq!(
        code(
            &first
                .read("GitHub", None, Channel::Cli)
                .await
                .err()
                .unwrap()
        ),
        "CV-2048"
    );
    v.stop().await;
}

#[tokio::test]
async fn hostile_names_are_stored_matched_and_refused_by_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    let long = "L".repeat(10 * 1024);
    let names = [
        "Quote \"double\" and 'single'",
        "100% _under_ back\\slash",
        "a/b/c",
        "Caf\u{e9} Cr\u{e8}me",
        long.as_str(),
    ];
    for (i, n) in names.iter().enumerate() {
        v.add(n, &[("password", &format!("pw{i}"))]).await;
    }
    let agent = v.agent("Codex", &names, Some((100, 1000))).await;
    for (i, n) in names.iter().enumerate() {
        assert_eq!(
            agent.read(n, None, Channel::Cli).await.unwrap().value,
            format!("pw{i}")
        );
    }
    // NFD spelling, other case, extra spaces: the same name.
    let nfd = "  CAFE\u{301} CRE\u{300}ME ";
    assert_eq!(
        agent.read(nfd, None, Channel::Cli).await.unwrap().value,
        "pw3"
    );
    // The same name again (any spelling) is taken.
    let dup = v
        .owner()
        .create_entry(&EntryCreate {
            name: nfd.into(),
            ..EntryCreate::default()
        })
        .await
        .err()
        .unwrap();
    assert_eq!(code(&dup), "CV-1004");
    // LIKE-style wildcards and near names match nothing.
    for probe in [
        "100%",
        "100% _under_ back",
        "a/b",
        "a%",
        "_",
        "Caf",
        &long[..long.len() - 1],
    ] {
        assert_eq!(
            code(&agent.read(probe, None, Channel::Cli).await.err().unwrap()),
            "CV-2041",
            "{probe}"
        );
    }
    // Names beyond the limit are a clean error, not a crash.
    let huge = "x".repeat(20 * 1024);
    let err = v
        .owner()
        .create_entry(&EntryCreate {
            name: huge,
            ..EntryCreate::default()
        })
        .await
        .err()
        .unwrap();
    assert_eq!(code(&err), "CV-1001");
    v.stop().await;
}

#[tokio::test]
async fn totp_gives_codes_never_the_seed() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    let seed = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    v.owner()
        .create_entry(&EntryCreate {
            name: "GitHub".into(),
            fields: vec![FieldSpec {
                label: "totp".into(),
                value: Some(seed.into()),
                ..FieldSpec::default()
            }],
            ..EntryCreate::default()
        })
        .await
        .unwrap();
    let agent = v.agent("Codex", &["GitHub"], None).await;
    let res = agent.totp("GitHub", Channel::Cli).await.unwrap();
    let expected = clavitor_totp::parse(seed)
        .unwrap()
        .code_at((common::T0 / 1000) as u64);
    assert_eq!(res.code, expected);
    let read = agent
        .read("GitHub", Some("totp"), Channel::Cli)
        .await
        .unwrap();
    assert_eq!(read.value, expected);
    assert!(!read.value.contains(seed));
    v.stop().await;
}

#[tokio::test]
async fn injection_is_host_bound() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    v.owner()
        .create_entry(&EntryCreate {
            name: "OpenAI".into(),
            hosts: vec!["api.openai.com".into()],
            fields: vec![FieldSpec {
                label: "key".into(),
                value: Some("sk-x".into()),
                inject_only: true,
                ..FieldSpec::default()
            }],
            ..EntryCreate::default()
        })
        .await
        .unwrap();
    v.add("NoHosts", &[("key", "k")]).await;
    let agent = v
        .agent("Codex", &["OpenAI", "NoHosts"], Some((100, 1000)))
        .await;
    let ok = agent
        .inject("OpenAI", "key", "api.openai.com", 443, "https")
        .await
        .unwrap();
    assert_eq!(ok.expose(), "sk-x");
    for (host, port, scheme) in [
        ("api.openai.com.evil.test", 443, "https"),
        ("api.openai.com.", 443, "https"),
        ("evil.test", 443, "https"),
        ("104.18.7.192", 443, "https"),
        ("api.openai.com", 8443, "https"),
        ("api.openai.com", 443, "http"),
    ] {
        let err = agent
            .inject("OpenAI", "key", host, port, scheme)
            .await
            .err()
            .unwrap();
        assert_eq!(code(&err), "CV-2043", "{host}:{port} {scheme}");
    }
    assert_eq!(
        code(
            &agent
                .inject("NoHosts", "key", "x.test", 443, "https")
                .await
                .err()
                .unwrap()
        ),
        "CV-2043"
    );
    // Inject-only: not readable with get.
    assert_eq!(
        code(
            &agent
                .read("OpenAI", Some("key"), Channel::Cli)
                .await
                .err()
                .unwrap()
        ),
        "CV-2044"
    );
    v.stop().await;
}
