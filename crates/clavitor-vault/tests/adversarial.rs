//! Adversarial tests: attempts to break the promises of DESIGN.md §3–§8 and
//! §11 against a real vault (real SQLite file, real HTTP on loopback).
//!
//! Each test asserts the promised behaviour. Where the vault does not keep
//! the promise, the test stays here marked `#[ignore = "FINDING: …"]`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use clavitor_core::Secret;
use clavitor_core::api::{
    AgentCreate, AgentEdit, Channel, EntryCreate, FieldSpec, GrantSpec, PersonalKey,
    ReflectionReport,
};
use clavitor_core::{FieldKind, Tier};
use clavitor_crypto::token::SetupToken;
use common::{T0, TestVault, code};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;

// ---- helpers ---------------------------------------------------------------

/// A raw answer: status, headers (sorted, without `date`) and body.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Raw {
    fn code(&self) -> String {
        serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v["code"].as_str().map(str::to_string))
            .unwrap_or_else(|| format!("<{}: {}>", self.status, self.text()))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn send(req: reqwest::RequestBuilder) -> Raw {
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let mut headers: Vec<(String, String)> = res
        .headers()
        .iter()
        .filter(|(k, _)| k.as_str() != "date")
        .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
        .collect();
    headers.sort();
    Raw {
        status,
        headers,
        body: res.bytes().await.unwrap().to_vec(),
    }
}

/// POST a JSON body with an optional bearer.
async fn post(url: &str, path: &str, bearer: Option<&str>, body: serde_json::Value) -> Raw {
    let mut req = http().post(format!("{url}{path}")).json(&body);
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    send(req).await
}

/// POST raw bytes with a content type.
async fn post_bytes(
    url: &str,
    path: &str,
    bearer: Option<&str>,
    content_type: &str,
    body: Vec<u8>,
) -> Raw {
    let mut req = http()
        .post(format!("{url}{path}"))
        .header("content-type", content_type)
        .body(body);
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    send(req).await
}

fn owner_token(v: &TestVault) -> String {
    std::fs::read_to_string(v.dir.join("owner.token"))
        .unwrap()
        .trim()
        .to_string()
}

fn db(v: &TestVault) -> rusqlite::Connection {
    rusqlite::Connection::open(v.dir.join("vault.db")).unwrap()
}

/// Audit records in the database (read beside the server, WAL included).
fn audit_count(v: &TestVault) -> i64 {
    db(v)
        .query_row("SELECT COUNT(*) FROM audit", [], |r| r.get(0))
        .unwrap()
}

fn rate_rows(v: &TestVault) -> i64 {
    db(v)
        .query_row("SELECT COUNT(*) FROM rate_events", [], |r| r.get(0))
        .unwrap()
}

/// Creates an agent and returns (setup token).
async fn create_agent(
    v: &TestVault,
    name: &str,
    grants: Vec<GrantSpec>,
    rate: (u32, u32),
    ips: Vec<String>,
) -> String {
    v.owner()
        .create_agent(&AgentCreate {
            name: name.into(),
            grants,
            rate_minute: Some(rate.0),
            rate_hour: Some(rate.1),
            ips,
            ..AgentCreate::default()
        })
        .await
        .unwrap()
        .token
}

fn whole(entries: &[&str]) -> Vec<GrantSpec> {
    entries
        .iter()
        .map(|e| GrantSpec {
            entry: (*e).into(),
            fields: None,
        })
        .collect()
}

/// Creates and enrols an agent; returns its raw credential.
async fn credential(v: &TestVault, name: &str, grants: Vec<GrantSpec>, rate: (u32, u32)) -> String {
    let token = create_agent(v, name, grants, rate, vec![]).await;
    v.anonymous()
        .enroll(&Secret::new(token))
        .await
        .unwrap()
        .credential
}

fn field(label: &str, value: &str) -> FieldSpec {
    FieldSpec {
        label: label.into(),
        value: Some(value.into()),
        ..FieldSpec::default()
    }
}

async fn add_entry(v: &TestVault, e: EntryCreate) {
    v.owner().create_entry(&e).await.unwrap();
}

/// Sets a personal key and creates `name` (id `id`) with a shared password
/// `pw` and a personal `recovery_codes` field.
async fn add_with_personal(v: &TestVault, id: &str, name: &str, pw: &str, personal: &[u8]) {
    let (sk, pk) = clavitor_crypto::personal::PersonalPrivateKey::generate().unwrap();
    drop(sk);
    let owner = v.owner();
    if owner.personal_key().await.unwrap().public_key.is_none() {
        owner
            .set_personal_key(&PersonalKey {
                public_key: Some(pk.to_base64url()),
                ..PersonalKey::default()
            })
            .await
            .unwrap();
    }
    let key = owner.personal_key().await.unwrap();
    let pk = clavitor_crypto::personal::PersonalPublicKey::from_base64url(
        key.public_key.as_deref().unwrap(),
    )
    .unwrap();
    let blob = clavitor_crypto::personal::seal(
        &pk,
        &clavitor_crypto::personal::PersonalContext {
            vault_id: &key.vault_id,
            entry_id: id,
            field_id: "f_personal",
            revision: 1,
        },
        personal,
    )
    .unwrap();
    add_entry(
        v,
        EntryCreate {
            id: Some(id.into()),
            name: name.into(),
            fields: vec![
                field("password", pw),
                FieldSpec {
                    id: Some("f_personal".into()),
                    label: "recovery_codes".into(),
                    sealed: Some(clavitor_crypto::b64(&blob)),
                    ..FieldSpec::default()
                },
            ],
            ..EntryCreate::default()
        },
    )
    .await;
}

fn all_secrets_absent(raw: &Raw, secrets: &[&str]) {
    for s in secrets {
        assert!(
            !raw.text().contains(s),
            "secret {s:?} leaked in {}",
            raw.text()
        );
        for (_, v) in &raw.headers {
            assert!(!v.contains(s), "secret {s:?} leaked in a header");
        }
    }
}

// ---- enumeration -----------------------------------------------------------

/// Unknown entry, ungranted entry, unknown field, personal field, a field
/// outside a narrowed grant, an inject-only field of an ungranted entry,
/// a TOTP of an ungranted entry: same status, headers and body, on every
/// agent route that names an entry.
#[tokio::test]
async fn every_cv_2041_cause_is_identical_on_every_route() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    add_with_personal(
        &v,
        "e_granted1",
        "Granted",
        "pw-granted",
        b"personal-canary",
    )
    .await;
    add_entry(
        &v,
        EntryCreate {
            name: "Narrow".into(),
            hosts: vec!["api.narrow.test".into()],
            fields: vec![field("password", "pw-narrow"), field("token", "tok-narrow")],
            ..EntryCreate::default()
        },
    )
    .await;
    add_entry(
        &v,
        EntryCreate {
            name: "Hidden".into(),
            hosts: vec!["api.hidden.test".into()],
            fields: vec![
                FieldSpec {
                    inject_only: true,
                    ..field("key", "inject-only-hidden")
                },
                field("totp", "JBSWY3DPEHPK3PXP"),
            ],
            ..EntryCreate::default()
        },
    )
    .await;
    let grants = vec![
        GrantSpec {
            entry: "Granted".into(),
            fields: None,
        },
        GrantSpec {
            entry: "Narrow".into(),
            fields: Some(vec!["password".into()]),
        },
    ];
    let cred = credential(&v, "Codex", grants, (1000, 10_000)).await;
    let secrets = [
        "pw-granted",
        "pw-narrow",
        "tok-narrow",
        "inject-only-hidden",
        "JBSWY3DPEHPK3PXP",
    ];

    let read =
        |entry: &str, field: Option<&str>| serde_json::json!({"entry": entry, "field": field});
    let inject = |entry: &str, field: &str, host: &str| serde_json::json!({"entry": entry, "field": field, "host": host, "port": 443, "scheme": "https"});
    let cases: Vec<(&str, &str, serde_json::Value)> = vec![
        (
            "unknown entry",
            "/v1/agent/read",
            read("Nope", Some("password")),
        ),
        (
            "unknown entry, no field",
            "/v1/agent/read",
            read("Nope", None),
        ),
        (
            "ungranted entry",
            "/v1/agent/read",
            read("Hidden", Some("key")),
        ),
        (
            "ungranted, no field",
            "/v1/agent/read",
            read("Hidden", None),
        ),
        (
            "unknown field",
            "/v1/agent/read",
            read("Granted", Some("nope")),
        ),
        (
            "personal field",
            "/v1/agent/read",
            read("Granted", Some("recovery_codes")),
        ),
        (
            "outside narrowed grant",
            "/v1/agent/read",
            read("Narrow", Some("token")),
        ),
        (
            "ungranted totp via read",
            "/v1/agent/read",
            read("Hidden", Some("totp")),
        ),
        (
            "totp unknown",
            "/v1/agent/totp",
            serde_json::json!({"entry": "Nope"}),
        ),
        (
            "totp ungranted",
            "/v1/agent/totp",
            serde_json::json!({"entry": "Hidden"}),
        ),
        (
            "totp granted none",
            "/v1/agent/totp",
            serde_json::json!({"entry": "Granted"}),
        ),
        (
            "inject unknown",
            "/v1/agent/inject",
            inject("Nope", "key", "api.hidden.test"),
        ),
        (
            "inject-only ungranted",
            "/v1/agent/inject",
            inject("Hidden", "key", "api.hidden.test"),
        ),
        (
            "inject ungranted wrong host",
            "/v1/agent/inject",
            inject("Hidden", "key", "evil.test"),
        ),
        (
            "inject personal",
            "/v1/agent/inject",
            inject("Granted", "recovery_codes", "evil.test"),
        ),
        (
            "inject narrowed",
            "/v1/agent/inject",
            inject("Narrow", "token", "api.narrow.test"),
        ),
    ];
    let mut first: Option<Raw> = None;
    for (what, path, body) in cases {
        let r = post(&v.url, path, Some(&cred), body).await;
        assert_eq!(r.status, 403, "{what}: {}", r.text());
        assert_eq!(r.code(), "CV-2041", "{what}");
        all_secrets_absent(&r, &secrets);
        match &first {
            None => first = Some(r),
            Some(f) => assert_eq!(&r, f, "{what} differs from the first CV-2041"),
        }
    }
    // The granted path does work, so the comparisons above are meaningful.
    let ok = post(&v.url, "/v1/agent/read", Some(&cred), read("Granted", None)).await;
    assert_eq!(ok.status, 200);
    v.stop().await;
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

/// Times `n` interleaved requests per case on one keep-alive client.
async fn timings(
    url: &str,
    cred: &str,
    cases: &[serde_json::Value],
    n: usize,
) -> Vec<Vec<Duration>> {
    let client = http();
    let mut out = vec![Vec::with_capacity(n); cases.len()];
    for _ in 0..n {
        for (i, body) in cases.iter().enumerate() {
            let started = Instant::now();
            let res = client
                .post(format!("{url}/v1/agent/read"))
                .bearer_auth(cred)
                .json(body)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status().as_u16(), 403);
            let _ = res.bytes().await.unwrap();
            out[i].push(started.elapsed());
        }
    }
    out
}

/// Timing over 200 requests each: an ungranted entry whose record is large
/// must not answer measurably slower than a name that does not exist. The
/// names stay in the rate window, so an agent can repeat them at will.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ungranted_entries_are_not_distinguishable_by_timing() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    v.add("Small", &[("password", "x")]).await;
    // A large entry the agent is not granted: 12 PEM-sized fields.
    let big = "k".repeat(60 * 1024);
    let fields: Vec<(String, &str)> = (0..12)
        .map(|i| (format!("cert{i}"), big.as_str()))
        .collect();
    let refs: Vec<(&str, &str)> = fields.iter().map(|(l, v)| (l.as_str(), *v)).collect();
    v.add("Big Secret Project", &refs).await;
    let cred = credential(&v, "Codex", whole(&["Small"]), (3, 10)).await;
    let cases = [
        serde_json::json!({"entry": "No Such Entry", "field": "password"}),
        serde_json::json!({"entry": "Big Secret Project", "field": "password"}),
    ];
    // Warm up (and put both names in the window).
    let _ = timings(&v.url, &cred, &cases, 20).await;
    let t = timings(&v.url, &cred, &cases, 200).await;
    let (unknown, ungranted) = (median(t[0].clone()), median(t[1].clone()));
    eprintln!("median unknown {unknown:?}, ungranted-large {ungranted:?}");
    let slack = unknown / 10 + Duration::from_micros(150);
    assert!(
        ungranted < unknown + slack,
        "ungranted large entry answers in {ungranted:?}, unknown name in {unknown:?}"
    );
    v.stop().await;
}

/// Same check for ordinary small entries: informative, with generous slack.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_ungranted_entries_time_like_unknown_names() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    v.add("Granted", &[("password", "x")]).await;
    v.add("Other", &[("password", "y"), ("token", "z")]).await;
    let cred = credential(&v, "Codex", whole(&["Granted"]), (10, 100)).await;
    let cases = [
        serde_json::json!({"entry": "No Such Entry", "field": "password"}),
        serde_json::json!({"entry": "Other", "field": "password"}),
        serde_json::json!({"entry": "Granted", "field": "nope"}),
    ];
    let _ = timings(&v.url, &cred, &cases, 20).await;
    let t = timings(&v.url, &cred, &cases, 200).await;
    let m: Vec<Duration> = t.into_iter().map(median).collect();
    eprintln!("medians unknown/ungranted/unknown-field: {m:?}");
    let lo = *m.iter().min().unwrap();
    let hi = *m.iter().max().unwrap();
    assert!(
        hi < lo + lo / 2 + Duration::from_micros(300),
        "medians differ too much: {m:?}"
    );
    v.stop().await;
}

#[tokio::test]
async fn agent_and_owner_credentials_stay_on_their_side() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    v.add("GitHub", &[("password", "gh-secret")]).await;
    let cred = credential(&v, "Codex", whole(&["GitHub"]), (3, 10)).await;
    let owner = owner_token(&v);
    let c = http();
    // An agent credential on every owner route.
    for (m, p) in [
        ("GET", "/v1/owner/entries"),
        ("POST", "/v1/owner/entries"),
        ("GET", "/v1/owner/entry?name=GitHub&reveal=true"),
        ("POST", "/v1/owner/entry/edit"),
        ("POST", "/v1/owner/entry/delete"),
        ("GET", "/v1/owner/entry/history?name=GitHub"),
        ("GET", "/v1/owner/agents"),
        ("POST", "/v1/owner/agents"),
        ("GET", "/v1/owner/agent?name=Codex"),
        ("POST", "/v1/owner/agent/edit"),
        ("POST", "/v1/owner/agent/revoke"),
        ("POST", "/v1/owner/agent/token"),
        ("POST", "/v1/owner/agent/unlock"),
        ("GET", "/v1/owner/audit"),
        ("GET", "/v1/owner/audit/verify"),
        ("GET", "/v1/owner/personal-key"),
        ("PUT", "/v1/owner/personal-key"),
    ] {
        let method = reqwest::Method::from_bytes(m.as_bytes()).unwrap();
        let r = send(
            c.request(method, format!("{}{p}", v.url))
                .bearer_auth(&cred)
                .json(
                    &serde_json::json!({"name": "Codex", "rev": 1, "grants": [], "vault_id": "x"}),
                ),
        )
        .await;
        assert_eq!((r.status, r.code()), (401, "CV-2048".into()), "{m} {p}");
        all_secrets_absent(&r, &["gh-secret"]);
    }
    // The owner token on agent routes is no agent credential.
    for p in ["/v1/agent/read", "/v1/agent/totp", "/v1/agent/inject"] {
        let r = post(
            &v.url,
            p,
            Some(&owner),
            serde_json::json!({"entry": "GitHub", "field": "password", "host": "x", "port": 443, "scheme": "https"}),
        )
        .await;
        assert_eq!((r.status, r.code()), (401, "CV-2048".into()), "{p}");
    }
    let r = send(
        c.get(format!("{}/v1/agent/whoami", v.url))
            .bearer_auth(&owner),
    )
    .await;
    assert_eq!(r.code(), "CV-2048");
    v.stop().await;
}

/// The owner routes and the web vault's share their handlers, not their
/// credentials: the owner token opens no `/v1/web/…` route (refused as a
/// missing session, which is not audited), and the web's own routes do not
/// exist under `/v1/owner/…`, nor the owner CLI's under `/v1/web/…`.
#[tokio::test]
async fn the_owner_token_opens_no_web_route() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    v.add("GitHub", &[("password", "gh-secret")]).await;
    let owner = owner_token(&v);
    let c = http();
    let body = serde_json::json!({"name": "GitHub", "rev": 1, "grants": [], "vault_id": "x"});
    for (m, p) in [
        ("GET", "/v1/web/entries"),
        ("POST", "/v1/web/entries"),
        ("GET", "/v1/web/entry?name=GitHub&reveal=true"),
        ("POST", "/v1/web/entry/reveal"),
        ("POST", "/v1/web/entry/totp"),
        ("POST", "/v1/web/entry/edit"),
        ("POST", "/v1/web/entry/delete"),
        ("GET", "/v1/web/entry/history?name=GitHub"),
        ("GET", "/v1/web/agents"),
        ("POST", "/v1/web/agents"),
        ("POST", "/v1/web/agent/edit"),
        ("POST", "/v1/web/agent/revoke"),
        ("POST", "/v1/web/agent/token"),
        ("GET", "/v1/web/audit"),
        ("GET", "/v1/web/audit/verify"),
        ("GET", "/v1/web/audit.csv"),
        ("GET", "/v1/web/personal-key"),
    ] {
        let method = reqwest::Method::from_bytes(m.as_bytes()).unwrap();
        let before = audit_count(&v);
        let r = send(
            c.request(method, format!("{}{p}", v.url))
                .bearer_auth(&owner)
                .json(&body),
        )
        .await;
        assert_eq!((r.status, r.code()), (401, "CV-2048".into()), "{m} {p}");
        all_secrets_absent(&r, &["gh-secret"]);
        assert_eq!(audit_count(&v), before, "{m} {p}");
    }
    for (m, p) in [
        ("POST", "/v1/owner/entry/reveal"),
        ("POST", "/v1/owner/entry/totp"),
        ("POST", "/v1/owner/entry/personal"),
        ("GET", "/v1/owner/audit.csv"),
        ("POST", "/v1/owner/personal-key"),
        ("GET", "/v1/web/agent?name=Codex"),
        ("PUT", "/v1/web/personal-key"),
    ] {
        let method = reqwest::Method::from_bytes(m.as_bytes()).unwrap();
        let r = send(
            c.request(method, format!("{}{p}", v.url))
                .bearer_auth(&owner)
                .json(&body),
        )
        .await;
        assert!(r.status == 404 || r.status == 405, "{m} {p}: {}", r.status);
    }
    v.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_never_answer_2xx_or_leak() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    v.add("GitHub", &[("password", "gh-secret")]).await;
    let cred = credential(&v, "Codex", whole(&["GitHub"]), (100, 1000)).await;
    let c = http();
    let body = serde_json::json!({"entry": "GitHub", "field": "password"});
    // Wrong methods on agent POST routes.
    for p in [
        "/v1/agent/read",
        "/v1/agent/totp",
        "/v1/agent/inject",
        "/v1/agent/enroll",
        "/v1/agent/reflected",
    ] {
        for m in ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH", "TRACE"] {
            let method = reqwest::Method::from_bytes(m.as_bytes()).unwrap();
            let r = send(
                c.request(method, format!("{}{p}?entry=GitHub&field=password", v.url))
                    .bearer_auth(&cred)
                    .json(&body),
            )
            .await;
            assert!(!(200..300).contains(&r.status), "{m} {p}: {}", r.status);
            all_secrets_absent(&r, &["gh-secret"]);
        }
    }
    // Paths that are not routes, including near-misses.
    for p in [
        "/v1/agent/list",
        "/v1/agent/entries",
        "/v1/agent/search?q=git",
        "/v1/agent/read/",
        "/v1/agent//read",
        "/V1/agent/read",
        "/v1/agent/READ",
        "/v1/agent/%72ead",
        "/v1/agent/./read",
        "/v1/owner/../agent/read",
        "/v2/agent/read",
        "/",
        "/.env",
    ] {
        let r = send(
            c.post(format!("{}{p}", v.url))
                .bearer_auth(&cred)
                .json(&body),
        )
        .await;
        if r.status == 200 {
            // Only a normalised path may reach the real route, and then it
            // behaves exactly as the route does (audited, rate-limited).
            assert!(p.contains("./") || p.contains("/../"), "{p} answered 200");
        } else {
            assert!(
                r.status == 404 || r.status == 405,
                "{p}: {} {}",
                r.status,
                r.text()
            );
            all_secrets_absent(&r, &["gh-secret"]);
        }
    }
    let r = send(c.get(format!("{}/nope", v.url))).await;
    assert_eq!((r.status, r.code()), (404, "CV-1002".into()));
    v.stop().await;
}

/// §6: "Every refusal is a JSON body `{"code":"CV-XXXX","message":"..."}`".
#[tokio::test]
async fn wrong_method_refusals_are_cv_coded_json() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    let r = send(http().get(format!("{}/v1/agent/read", v.url))).await;
    assert!(r.code().starts_with("CV-"), "{} {:?}", r.status, r.text());
    v.stop().await;
}

#[tokio::test]
async fn malformed_and_oversized_requests_are_refused_with_codes() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    v.add("GitHub", &[("password", "gh-secret")]).await;
    let cred = credential(&v, "Codex", whole(&["GitHub"]), (100, 1000)).await;
    let url = v.url.clone();
    let read = "/v1/agent/read";

    // Extra JSON fields are ignored, never interpreted.
    let r = post(
        &url,
        read,
        Some(&cred),
        serde_json::json!({"entry": "GitHub", "field": "password", "agent": "Other", "admin": true, "grants": ["*"]}),
    )
    .await;
    assert_eq!(r.status, 200);
    // Duplicate keys are not "last one wins".
    let r = post_bytes(
        &url,
        read,
        Some(&cred),
        "application/json",
        br#"{"entry":"Nope","entry":"GitHub","field":"password"}"#.to_vec(),
    )
    .await;
    assert_eq!((r.status, r.code()), (400, "CV-1001".into()));
    // > 1 MiB with a content-length: CV-1007.
    let huge = format!(
        r#"{{"entry":"{}","field":"password"}}"#,
        "a".repeat(1024 * 1024 + 10)
    );
    let r = post_bytes(
        &url,
        read,
        Some(&cred),
        "application/json",
        huge.into_bytes(),
    )
    .await;
    assert_eq!((r.status, r.code()), (413, "CV-1007".into()));
    // > 1 MiB chunked (no content-length): CV-1007 too.
    let mut req = format!(
        "POST {read} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {cred}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    let mut chunk = |data: &[u8]| {
        req.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
        req.extend_from_slice(data);
        req.extend_from_slice(b"\r\n");
    };
    chunk(br#"{"entry":""#);
    for _ in 0..20 {
        chunk(&[b'a'; 64 * 1024]);
    }
    chunk(br#"","field":"password"}"#);
    req.extend_from_slice(b"0\r\n\r\n");
    let answer = raw_tcp(&url, &req).await;
    assert!(
        answer.starts_with("HTTP/1.1 413"),
        "{}",
        &answer[..answer.len().min(200)]
    );
    assert!(answer.contains("CV-1007"));
    // Deeply nested JSON: no stack overflow, CV-1001 (or, past the agent
    // routes' 64 KiB body limit, CV-1007 before any parsing).
    for depth in [200usize, 100_000] {
        let nested = format!(
            r#"{{"entry":"GitHub","field":{}1{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let r = post_bytes(
            &url,
            read,
            Some(&cred),
            "application/json",
            nested.into_bytes(),
        )
        .await;
        let expected = if depth > 30_000 {
            (413, "CV-1007".to_string())
        } else {
            (400, "CV-1001".to_string())
        };
        assert_eq!((r.status, r.code()), expected, "depth {depth}");
    }
    // Wrong or missing content type.
    for ct in ["text/plain", "application/x-www-form-urlencoded", ""] {
        let r = post_bytes(
            &url,
            read,
            Some(&cred),
            ct,
            br#"{"entry":"GitHub","field":"password"}"#.to_vec(),
        )
        .await;
        assert_eq!((r.status, r.code()), (400, "CV-1001".into()), "{ct:?}");
    }
    // Invalid UTF-8 in a name, and a lone surrogate escape.
    let mut bad = br#"{"entry":"Git"#.to_vec();
    bad.extend_from_slice(&[0xff, 0xfe, 0xc3]);
    bad.extend_from_slice(br#"Hub","field":"password"}"#);
    let r = post_bytes(&url, read, Some(&cred), "application/json", bad).await;
    assert_eq!((r.status, r.code()), (400, "CV-1001".into()));
    let r = post_bytes(
        &url,
        read,
        Some(&cred),
        "application/json",
        br#"{"entry":"Git\ud800Hub","field":"password"}"#.to_vec(),
    )
    .await;
    assert_eq!((r.status, r.code()), (400, "CV-1001".into()));
    // Type confusion and out-of-range numbers.
    for body in [
        serde_json::json!({"entry": ["GitHub"], "field": "password"}),
        serde_json::json!({"entry": {"$ne": ""}}),
        serde_json::json!({"entry": null}),
        serde_json::json!({"entry": "GitHub", "channel": "owner"}),
        serde_json::json!("GitHub"),
        serde_json::json!([]),
    ] {
        let r = post(&url, read, Some(&cred), body.clone()).await;
        assert_eq!((r.status, r.code()), (400, "CV-1001".into()), "{body}");
    }
    let r = post(
        &url,
        "/v1/agent/inject",
        Some(&cred),
        serde_json::json!({"entry": "GitHub", "field": "password", "host": "x", "port": 70000, "scheme": "https"}),
    )
    .await;
    assert_eq!((r.status, r.code()), (400, "CV-1001".into()));
    // The vault still works afterwards.
    let r = post(
        &url,
        read,
        Some(&cred),
        serde_json::json!({"entry": "GitHub", "field": "password"}),
    )
    .await;
    assert_eq!(r.status, 200);
    v.stop().await;
}

/// Writes `bytes` on a fresh connection and reads until the server closes.
async fn raw_tcp(url: &str, bytes: &[u8]) -> String {
    let addr = url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The server may answer (and close) before reading everything.
    let _ = s.write_all(bytes).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

// ---- hostile names -----------------------------------------------------------

#[tokio::test]
async fn hostile_names_never_match_another_entry_and_never_crash() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    v.add("GitHub", &[("password", "gh-secret")]).await;
    v.add("Other", &[("password", "other-secret")]).await;
    let cred = credential(&v, "Codex", whole(&["GitHub"]), (1000, 10_000)).await;
    let read = |entry: String| {
        let url = v.url.clone();
        let cred = cred.clone();
        async move {
            post(
                &url,
                "/v1/agent/read",
                Some(&cred),
                serde_json::json!({"entry": entry, "field": "password"}),
            )
            .await
        }
    };
    // Spellings that are the same name under the rules: granted.
    for same in [
        "github",
        "GITHUB",
        "  GitHub\t",
        "\u{3000}GitHub\u{2003}",
        "GitHub\u{85}",
    ] {
        let r = read(same.to_string()).await;
        assert_eq!(r.status, 200, "{same:?}: {}", r.text());
    }
    // Look-alikes that are other names: refused, never the granted entry's
    // value nor another entry's.
    let long = "G".repeat(16 * 1024 + 1);
    let longer = "GitHub".repeat(150_000);
    for other in [
        "GitHub\u{200b}",
        "Git\u{200d}Hub",
        "\u{feff}GitHub",
        "GitHub\u{0}",
        "\u{0}",
        "GitHub\u{0}Other",
        "Other\u{0}GitHub",
        "G\u{131}tHub", // dotless i
        "G\u{130}tHub", // dotted capital I
        "\u{421}ithub", // Cyrillic
        "GitHub\u{301}",
        "GitHub/password",
        "GitHub%00",
        "*",
        "%",
        "' OR 1=1 --",
        "",
        " ",
        long.as_str(),
        longer.as_str(),
    ] {
        let r = read(other.to_string()).await;
        assert_ne!(r.status, 200, "{:?} matched", &other[..other.len().min(40)]);
        assert!(
            matches!(r.status, 400 | 403 | 413),
            "{}: {}",
            r.status,
            r.text()
        );
        all_secrets_absent(&r, &["gh-secret", "other-secret"]);
    }
    v.stop().await;
}

/// §3: names match after NFC, trimming and *case folding*. Full Unicode case
/// folding maps ß to ss and final sigma ς to σ; `to_lowercase` does not.
#[tokio::test]
async fn names_match_under_unicode_case_folding() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    v.add("Straße", &[("password", "s1")]).await;
    v.add("οδοσ", &[("password", "s2")]).await;
    let agent = v.agent("Codex", &["Straße", "οδοσ"], Some((10, 100))).await;
    assert_eq!(
        agent
            .read("STRASSE", None, Channel::Cli)
            .await
            .map(|r| r.value)
            .map_err(|e| code(&e)),
        Ok("s1".to_string())
    );
    assert_eq!(
        agent
            .read("ΟΔΟΣ", None, Channel::Cli)
            .await
            .map(|r| r.value)
            .map_err(|e| code(&e)),
        Ok("s2".to_string())
    );
    v.stop().await;
}

/// A name longer than the longest name the vault accepts (16 KiB) is
/// refused as malformed, and nobody — not even an unauthenticated client —
/// can make the vault store a megabyte per request in its audit log.
#[tokio::test]
async fn oversized_names_cannot_bloat_the_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    let before = db_size(&v);
    let name = "x".repeat(1000 * 1024);
    for _ in 0..10 {
        let r = post(
            &v.url,
            "/v1/agent/read",
            None,
            serde_json::json!({"entry": name, "field": "f"}),
        )
        .await;
        assert!(matches!(r.status, 400 | 401 | 413), "{}", r.status);
    }
    let grown = db_size(&v) - before;
    assert!(
        grown < 1024 * 1024,
        "10 unauthenticated requests grew the database by {grown} bytes"
    );
    v.stop().await;
}

fn db_size(v: &TestVault) -> u64 {
    ["vault.db", "vault.db-wal"]
        .iter()
        .map(|f| {
            std::fs::metadata(v.dir.join(f))
                .map(|m| m.len())
                .unwrap_or(0)
        })
        .sum::<u64>()
        + db(v)
            .query_row(
                "SELECT COALESCE(SUM(LENGTH(body)), 0) FROM audit",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap() as u64
}

// ---- rate limits -------------------------------------------------------------

/// Builds `n` pipelined HTTP/1.1 reads for `names` on one connection.
fn pipelined(cred: &str, names: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let body = serde_json::json!({"entry": n, "field": "password"}).to_string();
        let close = if i + 1 == names.len() {
            "Connection: close\r\n"
        } else {
            ""
        };
        out.extend_from_slice(
            format!(
                "POST /v1/agent/read HTTP/1.1\r\nHost: v\r\nAuthorization: Bearer {cred}\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n{close}\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn distinct_names_over_many_connections_and_pipelining_yield_exactly_m() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    let names: Vec<String> = (0..60).map(|i| format!("E{i}")).collect();
    for n in &names {
        v.add(n, &[("password", &format!("value-of-{n}"))]).await;
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let cred = credential(&v, "Codex", whole(&refs), (3, 10)).await;
    // 6 connections × 10 pipelined requests, all at once.
    let mut tasks = Vec::new();
    for chunk in names.chunks(10) {
        let req = pipelined(&cred, chunk);
        let url = v.url.clone();
        tasks.push(tokio::spawn(async move { raw_tcp(&url, &req).await }));
    }
    let mut ok = 0;
    let mut limited = 0;
    for t in tasks {
        let text = t.await.unwrap();
        ok += text.matches("HTTP/1.1 200").count();
        limited += text.matches("CV-2045").count();
    }
    assert_eq!((ok, limited), (3, 57));
    assert_eq!(v.owner().agent("Codex").await.unwrap().state, "active");
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn spellings_of_one_name_count_once_even_in_parallel() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    for n in ["Café Prod", "B", "C", "D"] {
        v.add(n, &[("password", "pw")]).await;
    }
    let agent = v
        .agent("Codex", &["Café Prod", "B", "C", "D"], Some((3, 10)))
        .await;
    let spellings = [
        "Café Prod",
        "CAFÉ PROD",
        "Cafe\u{301} Prod",
        "  cafe\u{301} prod ",
        "CAFE\u{301} PROD",
        "café prod\t",
        "B",
        "b",
        " B ",
        "C",
    ];
    let mut tasks = Vec::new();
    for _ in 0..3 {
        for s in spellings {
            let a = agent.clone();
            tasks.push(tokio::spawn(async move {
                a.read(s, None, Channel::Cli).await.map_err(|e| code(&e))
            }));
        }
    }
    for t in tasks {
        assert!(t.await.unwrap().is_ok());
    }
    assert_eq!(
        code(&agent.read("D", None, Channel::Cli).await.err().unwrap()),
        "CV-2045"
    );
    v.stop().await;
}

#[tokio::test]
async fn unknown_and_ungranted_names_count_and_locked_agents_count_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    for n in ["A", "Hidden"] {
        v.add(n, &[("password", n)]).await;
    }
    let agent = v.agent("Codex", &["A"], Some((3, 10))).await;
    for n in ["Hidden", "Nope 1", "Nope 2"] {
        assert_eq!(
            code(&agent.read(n, None, Channel::Cli).await.err().unwrap()),
            "CV-2041"
        );
    }
    // Three guesses used the minute: the granted entry is now refused.
    assert_eq!(
        code(&agent.read("A", None, Channel::Cli).await.err().unwrap()),
        "CV-2045"
    );
    // Second violation, later: locked.
    v.advance(2 * MINUTE);
    for n in ["Nope 3", "Nope 4", "Nope 5"] {
        let _ = agent.read(n, None, Channel::Cli).await;
    }
    assert_eq!(
        code(
            &agent
                .read("Nope 6", None, Channel::Cli)
                .await
                .err()
                .unwrap()
        ),
        "CV-2046"
    );
    assert_eq!(v.owner().agent("Codex").await.unwrap().state, "locked");
    // Locked: every request is CV-2046, audited, and counts no name.
    let (audit0, rate0) = (audit_count(&v), rate_rows(&v));
    v.advance(2 * MINUTE);
    for n in ["A", "Nope 7", "Nope 8", "Nope 9", "Nope 10"] {
        assert_eq!(
            code(&agent.read(n, None, Channel::Cli).await.err().unwrap()),
            "CV-2046"
        );
        assert_eq!(
            code(&agent.totp(n, Channel::Proxy).await.err().unwrap()),
            "CV-2046"
        );
        assert_eq!(
            code(
                &agent
                    .inject(n, "password", "x.test", 443, "https")
                    .await
                    .err()
                    .unwrap()
            ),
            "CV-2046"
        );
    }
    assert_eq!(audit_count(&v), audit0 + 15);
    assert_eq!(rate_rows(&v), rate0);
    v.stop().await;
}

#[tokio::test]
async fn a_burst_is_one_violation_up_to_its_minute_boundary() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    let names: Vec<String> = (0..10).map(|i| format!("N{i}")).collect();
    for n in &names {
        v.add(n, &[("password", "x")]).await;
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let agent = v.agent("Codex", &refs, Some((1, 100))).await;
    agent.read("N0", None, Channel::Cli).await.unwrap();
    // The violation opens at S = T0.
    assert_eq!(
        code(&agent.read("N1", None, Channel::Cli).await.err().unwrap()),
        "CV-2045"
    );
    // Refusals up to S + 59.999 s belong to it, however many.
    v.advance(MINUTE - 1);
    for i in 2..8 {
        assert_eq!(
            code(
                &agent
                    .read(&format!("N{i}"), None, Channel::Cli)
                    .await
                    .err()
                    .unwrap()
            ),
            "CV-2045"
        );
    }
    assert_eq!(v.owner().agent("Codex").await.unwrap().state, "active");
    // A refusal after the minute is a second violation within two hours.
    // (N0 left the window at T0 + 60 s, so first use one new name.)
    v.advance(2);
    agent.read("N8", None, Channel::Cli).await.unwrap();
    assert_eq!(
        code(&agent.read("N9", None, Channel::Cli).await.err().unwrap()),
        "CV-2046"
    );
    assert_eq!(v.owner().agent("Codex").await.unwrap().state, "locked");
    v.stop().await;
}

/// Parallel requests exactly as old names leave the window: never more than
/// M distinct names in any 60 s, checked over the whole audit log.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_requests_at_window_boundaries_keep_the_sliding_invariant() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(AtomicI64::new(T0));
    let v = TestVault::start_with_clock(dir.path(), clock.clone()).await;
    let names: Vec<String> = (0..40).map(|i| format!("W{i}")).collect();
    for n in &names {
        v.add(n, &[("password", "x")]).await;
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let agent = v.agent("Codex", &refs, Some((3, 100))).await;
    unlock_free(&v).await;
    let mut next = 0usize;
    for at in [
        0,
        MINUTE - 1,
        MINUTE,
        MINUTE + 1,
        2 * MINUTE,
        2 * MINUTE + 1,
        3 * MINUTE + 2,
    ] {
        clock.store(T0 + at, Ordering::SeqCst);
        let mut tasks = Vec::new();
        for _ in 0..5 {
            let n = names[next % names.len()].clone();
            next += 1;
            let a = agent.clone();
            tasks.push(tokio::spawn(async move {
                a.read(&n, None, Channel::Cli).await.map_err(|e| code(&e))
            }));
        }
        for t in tasks {
            if let Err(c) = t.await.unwrap() {
                assert!(c == "CV-2045" || c == "CV-2046", "{c}");
            }
        }
        // Keep the agent unlocked: this test is about the windows.
        unlock_free(&v).await;
    }
    let records = v.owner().audit(Some("Codex"), None, None).await.unwrap();
    let ok: Vec<(i64, String)> = records
        .iter()
        .filter(|r| r.action == "read" && r.outcome == "ok")
        .map(|r| (r.at, r.entry.clone().unwrap()))
        .collect();
    assert!(ok.len() >= 9, "{ok:?}");
    for (t, _) in &ok {
        let mut distinct: Vec<&String> = ok
            .iter()
            .filter(|(u, _)| *u <= *t && *u >= t - MINUTE)
            .map(|(_, n)| n)
            .collect();
        distinct.sort();
        distinct.dedup();
        assert!(distinct.len() <= 3, "at {}: {distinct:?}", t - T0);
    }
    v.stop().await;
}

async fn unlock_free(v: &TestVault) {
    v.owner().unlock_agent("Codex").await.unwrap();
}

// ---- tokens ----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_setup_token_enrols_exactly_once_even_under_20_concurrent_uses() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    v.add("GitHub", &[("password", "gh")]).await;
    let token = create_agent(&v, "Codex", whole(&["GitHub"]), (3, 10), vec![]).await;
    let before = audit_count(&v);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (url, token) = (v.url.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            post(
                &url,
                "/v1/agent/enroll",
                None,
                serde_json::json!({ "token": token }),
            )
            .await
        }));
    }
    let mut creds = Vec::new();
    for t in tasks {
        let r = t.await.unwrap();
        if r.status == 200 {
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            creds.push(v["credential"].as_str().unwrap().to_string());
        } else {
            assert_eq!((r.status, r.code()), (401, "CV-2048".into()));
        }
    }
    assert_eq!(creds.len(), 1);
    // Every attempt is audited.
    assert_eq!(audit_count(&v), before + 20);
    // Sequential reuse also fails, and the one credential works.
    let r = post(
        &v.url,
        "/v1/agent/enroll",
        None,
        serde_json::json!({ "token": token }),
    )
    .await;
    assert_eq!(r.code(), "CV-2048");
    let r = post(
        &v.url,
        "/v1/agent/read",
        Some(&creds[0]),
        serde_json::json!({"entry": "GitHub"}),
    )
    .await;
    assert_eq!(r.status, 200);
    v.stop().await;
}

fn flip_char(s: &str, i: usize) -> String {
    let mut b = s.as_bytes().to_vec();
    b[i] = if b[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(b).unwrap()
}

#[tokio::test]
async fn tampered_expired_and_revoked_setup_tokens_are_refused_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    v.add("GitHub", &[("password", "gh")]).await;
    v.add("Prod", &[("password", "prod-secret")]).await;
    let low = create_agent(&v, "Low", whole(&["GitHub"]), (3, 10), vec![]).await;
    let high = create_agent(&v, "High", whole(&["Prod"]), (3, 10), vec![]).await;
    let low_t = SetupToken::decode(&low).unwrap();
    let high_t = SetupToken::decode(&high).unwrap();
    let enroll = |t: String| {
        let url = v.url.clone();
        async move {
            post(
                &url,
                "/v1/agent/enroll",
                None,
                serde_json::json!({ "token": t }),
            )
            .await
        }
    };
    let mut attempts = 0;
    // Agent id of another agent with this token's secret (checksum redone).
    let mut forged = low_t.clone();
    forged.agent = high_t.agent.clone();
    let forged = forged.encode().expose().to_string();
    // Another agent's secret with its own id swapped for ours.
    let mut forged2 = high_t.clone();
    forged2.agent = low_t.agent.clone();
    let forged2 = forged2.encode().expose().to_string();
    // A guessed secret for a known id; a flipped checksum; a flipped body;
    // the wrong prefix; trailing garbage; an empty token; an owner token.
    let mut guessed = high_t.clone();
    guessed.secret = clavitor_crypto::b64(&[0u8; 32]);
    let guessed = guessed.encode().expose().to_string();
    let last = high.len() - 1;
    for bad in [
        forged,
        forged2,
        guessed,
        flip_char(&high, last),
        flip_char(&high, high.len() / 2),
        high.replacen("cvt_", "cva_", 1),
        format!("{high}x"),
        String::new(),
        owner_token(&v),
        "cvt_".into(),
    ] {
        let r = enroll(bad.clone()).await;
        assert_eq!((r.status, r.code()), (401, "CV-2048".into()), "{bad:.12}…");
        attempts += 1;
    }
    // None of that consumed the real tokens.
    let a0 = audit_count(&v);
    // Expired: 24 h and 1 ms later.
    v.advance(24 * HOUR + 1);
    let r = enroll(high.clone()).await;
    assert_eq!(r.code(), "CV-2048");
    assert_eq!(audit_count(&v), a0 + 1);
    // A fresh token for High works; Low's is revoked before use.
    let fresh = v.owner().agent_token("High").await.unwrap().token;
    v.owner().revoke_agent("Low").await.unwrap();
    let r = enroll(low.clone()).await;
    assert_eq!(r.code(), "CV-2048");
    let r = v.owner().agent_token("Low").await;
    assert!(r.is_err(), "a revoked agent got a new setup token");
    let r = enroll(fresh).await;
    assert_eq!(r.status, 200);
    let records = v.owner().audit(None, None, None).await.unwrap();
    let refused_enrolls = records
        .iter()
        .filter(|r| r.action == "enroll" && r.outcome == "refused")
        .count();
    assert_eq!(refused_enrolls, attempts + 2);
    v.stop().await;
}

#[tokio::test]
async fn a_credential_follows_its_agent_through_rename_edit_and_name_reuse() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    v.add("GitHub", &[("password", "gh"), ("token", "gh-token")])
        .await;
    v.add("Prod", &[("password", "prod-secret")]).await;
    let a = credential(&v, "Codex", whole(&["GitHub"]), (10, 100)).await;
    let read = |cred: String, entry: &'static str, field: Option<&'static str>| {
        let url = v.url.clone();
        async move {
            post(
                &url,
                "/v1/agent/read",
                Some(&cred),
                serde_json::json!({"entry": entry, "field": field}),
            )
            .await
        }
    };
    // Rename Codex to Claude; a new agent takes the old name with more grants.
    v.owner()
        .edit_agent(&AgentEdit {
            name: "Codex".into(),
            rename: Some("Claude".into()),
            ..AgentEdit::default()
        })
        .await
        .unwrap();
    let b = credential(&v, "Codex", whole(&["GitHub", "Prod"]), (10, 100)).await;
    assert_eq!(
        read(a.clone(), "GitHub", Some("password")).await.status,
        200
    );
    assert_eq!(read(a.clone(), "Prod", None).await.code(), "CV-2041");
    assert_eq!(read(b.clone(), "Prod", None).await.status, 200);
    let who = send(
        http()
            .get(format!("{}/v1/agent/whoami", v.url))
            .bearer_auth(&a),
    )
    .await;
    assert!(who.text().contains("Claude"), "{}", who.text());
    // Narrowing takes effect on the next request.
    v.owner()
        .edit_agent(&AgentEdit {
            name: "Claude".into(),
            grants: Some(vec![GrantSpec {
                entry: "GitHub".into(),
                fields: Some(vec!["token".into()]),
            }]),
            ..AgentEdit::default()
        })
        .await
        .unwrap();
    assert_eq!(
        read(a.clone(), "GitHub", Some("password")).await.code(),
        "CV-2041"
    );
    assert_eq!(read(a.clone(), "GitHub", Some("token")).await.status, 200);
    // A short expiry set by an edit takes effect.
    v.owner()
        .edit_agent(&AgentEdit {
            name: "Claude".into(),
            expires_in: Some(Some(1)),
            ..AgentEdit::default()
        })
        .await
        .unwrap();
    v.advance(1000);
    assert_eq!(
        read(a.clone(), "GitHub", Some("token")).await.code(),
        "CV-2048"
    );
    // Revoking the new Codex does not touch the renamed one's history,
    // and revocation is immediate.
    v.owner().revoke_agent("Codex").await.unwrap();
    assert_eq!(read(b, "Prod", None).await.code(), "CV-2048");
    v.stop().await;
}

#[tokio::test]
async fn authorization_header_variants() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    v.add("GitHub", &[("password", "gh-secret")]).await;
    let cred = credential(&v, "Codex", whole(&["GitHub"]), (10, 100)).await;
    let body = serde_json::json!({"entry": "GitHub"});
    let with = |headers: Vec<(&'static str, String)>| {
        let url = v.url.clone();
        let body = body.clone();
        async move {
            let mut req = http().post(format!("{url}/v1/agent/read")).json(&body);
            for (k, val) in headers {
                req = req.header(k, val);
            }
            send(req).await
        }
    };
    // Refused: no scheme, another scheme, the credential without prefix or
    // truncated, a NUL, two credentials in one header.
    for h in [
        cred.clone(),
        format!("Basic {cred}"),
        format!("Token {cred}"),
        format!("Bearer {}", &cred[..cred.len() - 1]),
        format!("Bearer {}", &cred[4..]),
        format!("Bearer {cred} {cred}"),
        format!("Bearer {cred},Bearer x"),
        "Bearer ".into(),
        "Bearer".into(),
    ] {
        let r = with(vec![("authorization", h.clone())]).await;
        assert_eq!((r.status, r.code()), (401, "CV-2048".into()), "{h:.16}");
        all_secrets_absent(&r, &["gh-secret"]);
    }
    // Two Authorization headers: the first decides; a valid second one
    // never rescues an invalid first one.
    let r = with(vec![
        ("authorization", "Bearer cva_wrong".into()),
        ("authorization", format!("Bearer {cred}")),
    ])
    .await;
    assert_eq!(r.code(), "CV-2048");
    // Accepted: surrounding whitespace is not part of a token.
    let r = with(vec![("authorization", format!("Bearer   {cred}  "))]).await;
    assert_eq!(r.status, 200);
    v.stop().await;
}

/// RFC 9110 §11.1: the auth scheme is case-insensitive. Refusing `bearer`
/// fails closed (no security impact) but breaks standard clients.
#[tokio::test]
async fn bearer_scheme_is_case_insensitive() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    v.add("GitHub", &[("password", "gh-secret")]).await;
    let cred = credential(&v, "Codex", whole(&["GitHub"]), (10, 100)).await;
    let r = send(
        http()
            .post(format!("{}/v1/agent/read", v.url))
            .header("authorization", format!("bearer {cred}"))
            .json(&serde_json::json!({"entry": "GitHub"})),
    )
    .await;
    assert_eq!(r.status, 200);
    v.stop().await;
}

// ---- owner token and loopback ----------------------------------------------

/// Serves the data dir `parent/data` on `addr` with the real router.
async fn serve_on(
    parent: &std::path::Path,
    addr: &str,
) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let data = clavitor_vault::DataDir::open(&parent.join("data"))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let local = listener.local_addr().unwrap();
    let vault = clavitor_vault::Vault::new(&data, format!("http://{local}"), None, Arc::new(|| T0));
    let task = tokio::spawn(async move {
        let _keep = data;
        let _ = axum::serve(
            listener,
            clavitor_vault::app(vault).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    (local, task)
}

/// This machine's first non-loopback IPv4 address, if any.
fn non_loopback_ip() -> Option<std::net::IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.1:9")
        .or_else(|_| s.connect("10.255.255.255:9"))
        .ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[tokio::test]
async fn the_owner_api_refuses_a_non_loopback_peer_even_with_the_token() {
    let Some(ip) = non_loopback_ip() else {
        eprintln!("no non-loopback address on this machine: not testable here");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (local, task) = serve_on(dir.path(), "0.0.0.0:0").await;
    let token = std::fs::read_to_string(dir.path().join("data/owner.token"))
        .unwrap()
        .trim()
        .to_string();
    let loopback = format!("http://127.0.0.1:{}", local.port());
    let remote = format!("http://{ip}:{}", local.port());
    let r = send(
        http()
            .get(format!("{loopback}/v1/owner/entries"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(r.status, 200);
    for (m, p) in [
        ("GET", "/v1/owner/entries"),
        ("GET", "/v1/owner/audit"),
        ("POST", "/v1/owner/agents"),
    ] {
        let method = reqwest::Method::from_bytes(m.as_bytes()).unwrap();
        let r = send(
            http()
                .request(method, format!("{remote}{p}"))
                .bearer_auth(&token)
                .header("x-forwarded-for", "127.0.0.1")
                .header("forwarded", "for=127.0.0.1")
                .header("x-real-ip", "127.0.0.1")
                .json(&serde_json::json!({"name": "x", "grants": []})),
        )
        .await;
        assert_eq!((r.status, r.code()), (403, "CV-1005".into()), "{m} {p}");
    }
    task.abort();
}

/// An `owner.token` that is empty (a crash between create and write) or not
/// UTF-8 must not turn into "no token needed".
#[tokio::test]
async fn an_empty_or_garbage_owner_token_file_never_opens_the_owner_api() {
    for content in [&b""[..], b"\n", b"\xff\xfe\xfd"] {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::write(data.join("owner.token"), content).unwrap();
        std::fs::set_permissions(
            data.join("owner.token"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        let started = clavitor_vault::DataDir::open(&data).await;
        let Ok(started) = started else {
            // Refusing to start is a correct answer.
            continue;
        };
        drop(started);
        let (local, task) = serve_on(dir.path(), "127.0.0.1:0").await;
        let r = send(http().get(format!("http://{local}/v1/owner/entries"))).await;
        task.abort();
        assert_eq!(
            (r.status, r.code()),
            (401, "CV-2048".into()),
            "owner.token {content:?}: the owner API answered without a token"
        );
    }
}

// ---- IP allow-list -----------------------------------------------------------

#[tokio::test]
async fn the_allow_list_applies_to_every_value_route() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    add_entry(
        &v,
        EntryCreate {
            name: "GitHub".into(),
            hosts: vec!["api.github.com".into()],
            fields: vec![
                field("password", "gh-secret"),
                field("totp", "JBSWY3DPEHPK3PXP"),
            ],
            ..EntryCreate::default()
        },
    )
    .await;
    let token = create_agent(
        &v,
        "Codex",
        whole(&["GitHub"]),
        (10, 100),
        vec!["10.0.0.0/8".into()],
    )
    .await;
    let agent = v.enroll(&token).await.unwrap();
    assert_eq!(
        code(
            &agent
                .read("GitHub", None, Channel::Cli)
                .await
                .err()
                .unwrap()
        ),
        "CV-2047"
    );
    assert_eq!(
        code(&agent.totp("GitHub", Channel::Cli).await.err().unwrap()),
        "CV-2047"
    );
    assert_eq!(
        code(
            &agent
                .inject("GitHub", "password", "api.github.com", 443, "https")
                .await
                .err()
                .unwrap()
        ),
        "CV-2047"
    );
    v.stop().await;
}

#[tokio::test]
async fn the_allow_list_applies_to_whoami_and_reflected() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    v.add("GitHub", &[("password", "gh-secret")]).await;
    let token = create_agent(
        &v,
        "Codex",
        whole(&["GitHub"]),
        (10, 100),
        vec!["10.0.0.0/8".into()],
    )
    .await;
    let agent = v.enroll(&token).await.unwrap();
    assert_eq!(code(&agent.whoami().await.err().unwrap()), "CV-2047");
    let r = agent
        .report_reflection(&ReflectionReport {
            entry: "GitHub".into(),
            field: "password".into(),
            host: "x".into(),
            port: 443,
        })
        .await;
    assert_eq!(code(&r.err().unwrap()), "CV-2047");
    v.stop().await;
}

// ---- audit -----------------------------------------------------------------

/// Every kind of agent refusal writes exactly one record.
#[tokio::test]
async fn every_agent_refusal_kind_writes_one_record() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    add_entry(
        &v,
        EntryCreate {
            name: "OpenAI".into(),
            hosts: vec!["api.openai.com".into()],
            fields: vec![
                FieldSpec {
                    inject_only: true,
                    ..field("key", "sk-inject")
                },
                field("password", "pw"),
                field("token", "tok"),
            ],
            ..EntryCreate::default()
        },
    )
    .await;
    v.add("Amb", &[("token", "t1"), ("secret", "t2")]).await;
    for n in ["B", "C", "D"] {
        v.add(n, &[("password", n)]).await;
    }
    let cred = credential(
        &v,
        "Codex",
        whole(&["OpenAI", "Amb", "B", "C", "D"]),
        (3, 10),
    )
    .await;
    let ip_token = create_agent(
        &v,
        "Fenced",
        whole(&["OpenAI"]),
        (3, 10),
        vec!["10.1.0.0/16".into()],
    )
    .await;
    let fenced = v.enroll(&ip_token).await.unwrap();
    let cases: Vec<(&str, &str, Option<String>, serde_json::Value)> = vec![
        (
            "CV-2041",
            "/v1/agent/read",
            Some(cred.clone()),
            serde_json::json!({"entry": "Nope"}),
        ),
        (
            "CV-2042",
            "/v1/agent/read",
            Some(cred.clone()),
            serde_json::json!({"entry": "Amb"}),
        ),
        (
            "CV-2044",
            "/v1/agent/read",
            Some(cred.clone()),
            serde_json::json!({"entry": "OpenAI", "field": "key"}),
        ),
        (
            "CV-2043",
            "/v1/agent/inject",
            Some(cred.clone()),
            serde_json::json!({"entry": "OpenAI", "field": "key", "host": "evil.test", "port": 443, "scheme": "https"}),
        ),
        (
            "CV-2043",
            "/v1/agent/inject",
            Some(cred.clone()),
            serde_json::json!({"entry": "OpenAI", "field": "key", "host": "api.openai.com", "port": 443, "scheme": "http"}),
        ),
        (
            "CV-2041",
            "/v1/agent/totp",
            Some(cred.clone()),
            serde_json::json!({"entry": "OpenAI"}),
        ),
        (
            "CV-2045",
            "/v1/agent/read",
            Some(cred.clone()),
            serde_json::json!({"entry": "B"}),
        ),
        (
            "CV-2048",
            "/v1/agent/read",
            Some("cva_forged".into()),
            serde_json::json!({"entry": "OpenAI"}),
        ),
        (
            "CV-2048",
            "/v1/agent/read",
            None,
            serde_json::json!({"entry": "OpenAI"}),
        ),
        (
            "CV-2048",
            "/v1/agent/totp",
            None,
            serde_json::json!({"entry": "OpenAI"}),
        ),
        (
            "CV-2048",
            "/v1/agent/inject",
            None,
            serde_json::json!({"entry": "OpenAI", "field": "key", "host": "api.openai.com", "port": 443, "scheme": "https"}),
        ),
        (
            "CV-2048",
            "/v1/agent/enroll",
            None,
            serde_json::json!({"token": "cvt_nope"}),
        ),
    ];
    for (want, path, bearer, body) in cases {
        let before = audit_count(&v);
        let r = post(&v.url, path, bearer.as_deref(), body.clone()).await;
        assert_eq!(r.code(), want, "{path} {body}");
        assert_eq!(
            audit_count(&v),
            before + 1,
            "{want} {path} {body}: not one record"
        );
    }
    let before = audit_count(&v);
    assert_eq!(
        code(
            &fenced
                .read("OpenAI", None, Channel::Cli)
                .await
                .err()
                .unwrap()
        ),
        "CV-2047"
    );
    assert_eq!(audit_count(&v), before + 1);
    let records = v.owner().audit(None, None, None).await.unwrap();
    for want in [
        "CV-2041", "CV-2042", "CV-2043", "CV-2044", "CV-2045", "CV-2047", "CV-2048",
    ] {
        assert!(
            records
                .iter()
                .any(|r| r.outcome == "refused" && r.reason.as_deref() == Some(want)),
            "no refused record with reason {want}"
        );
    }
    v.stop().await;
}

/// §8: every attempt, by agents and by the owner, is one record. Requests
/// that fail authentication before naming an entry are attempts too.
#[tokio::test]
async fn authentication_failures_on_every_route_are_audited() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    let c = http();
    let attempts: Vec<reqwest::RequestBuilder> = vec![
        c.get(format!("{}/v1/agent/whoami", v.url))
            .bearer_auth("cva_stolen_or_revoked"),
        c.post(format!("{}/v1/agent/reflected", v.url))
            .bearer_auth("cva_x")
            .json(&serde_json::json!({"entry": "a", "field": "b", "host": "c", "port": 1})),
        c.get(format!("{}/v1/owner/entries", v.url))
            .bearer_auth("cvo_guess"),
        c.get(format!("{}/v1/owner/entry?name=x&reveal=true", v.url))
            .bearer_auth("cvo_guess"),
        c.post(format!("{}/v1/owner/agents", v.url))
            .bearer_auth("cvo_guess")
            .json(&serde_json::json!({"name": "x", "grants": []})),
    ];
    for req in attempts {
        let before = audit_count(&v);
        let r = send(req).await;
        assert_eq!(r.status, 401);
        assert_eq!(
            audit_count(&v),
            before + 1,
            "no audit record for a failed authentication"
        );
    }
    v.stop().await;
}

/// No value ever appears in an audit record, whatever the request carried.
#[tokio::test]
async fn audit_records_never_hold_values() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    let canaries = [
        "CANARY-password-7f3a",
        "CANARY-token-91bc",
        "JBSWY3DPEHPK3PXPCANARY",
        "CANARY-inject-55d0",
    ];
    add_entry(
        &v,
        EntryCreate {
            name: "GitHub".into(),
            hosts: vec!["api.github.com".into()],
            fields: vec![
                field("password", canaries[0]),
                field("token", canaries[1]),
                field("totp", canaries[2]),
                FieldSpec {
                    inject_only: true,
                    ..field("key", canaries[3])
                },
            ],
            ..EntryCreate::default()
        },
    )
    .await;
    let agent = v.agent("Codex", &["GitHub"], Some((10, 100))).await;
    let _ = agent
        .read("GitHub", Some("password"), Channel::Cli)
        .await
        .unwrap();
    let _ = agent
        .read("GitHub", Some("token"), Channel::Proxy)
        .await
        .unwrap();
    let code_now = agent.totp("GitHub", Channel::Cli).await.unwrap().code;
    let _ = agent
        .read("GitHub", Some("totp"), Channel::Cli)
        .await
        .unwrap();
    let _ = agent
        .inject("GitHub", "key", "api.github.com", 443, "https")
        .await
        .unwrap();
    let _ = agent.read("GitHub", Some("key"), Channel::Cli).await;
    let _ = v.owner().entry("GitHub", true).await.unwrap();
    let _ = agent
        .report_reflection(&ReflectionReport {
            entry: "GitHub".into(),
            field: "key".into(),
            host: "api.github.com".into(),
            port: 443,
        })
        .await;
    let records = v.owner().audit(None, None, None).await.unwrap();
    let text = serde_json::to_string(&records).unwrap();
    for c in canaries {
        assert!(!text.contains(c), "audit holds {c}");
    }
    assert!(
        !text.contains(&format!("\"{code_now}\"")),
        "audit holds a TOTP code"
    );
    assert!(records.len() >= 8);
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_parallel_mixed_requests_keep_the_chain_intact() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    add_entry(
        &v,
        EntryCreate {
            name: "GitHub".into(),
            hosts: vec!["api.github.com".into()],
            fields: vec![field("password", "gh"), field("totp", "JBSWY3DPEHPK3PXP")],
            ..EntryCreate::default()
        },
    )
    .await;
    v.add("Other", &[("password", "o")]).await;
    let good = v.agent("Codex", &["GitHub"], Some((3, 10))).await;
    let token = create_agent(&v, "Late", whole(&["Other"]), (3, 10), vec![]).await;
    let before = audit_count(&v);
    let mut tasks = Vec::new();
    for i in 0..200usize {
        let good = good.clone();
        let url = v.url.clone();
        let owner = v.owner();
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            match i % 8 {
                0 => drop(good.read("GitHub", None, Channel::Cli).await),
                1 => drop(good.totp("GitHub", Channel::Proxy).await),
                2 => drop(
                    good.inject("GitHub", "password", "api.github.com", 443, "https")
                        .await,
                ),
                3 => drop(good.read(&format!("Guess {i}"), None, Channel::Cli).await),
                4 => drop(
                    post(
                        &url,
                        "/v1/agent/read",
                        Some("cva_bad"),
                        serde_json::json!({"entry": "GitHub"}),
                    )
                    .await,
                ),
                5 => drop(
                    post(
                        &url,
                        "/v1/agent/enroll",
                        None,
                        serde_json::json!({"token": token}),
                    )
                    .await,
                ),
                6 => drop(owner.entry("GitHub", true).await),
                _ => drop(
                    owner
                        .create_entry(&EntryCreate {
                            name: format!("New {i}"),
                            ..EntryCreate::default()
                        })
                        .await,
                ),
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(audit_count(&v), before + 200);
    let check = v.owner().audit_verify().await.unwrap();
    assert!(check.ok, "{check:?}");
    // Sequence numbers are dense and unique.
    let seqs: Vec<i64> = v
        .owner()
        .audit(None, None, None)
        .await
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    // The chain survives a restart too.
    let v = v.restart().await;
    assert!(v.owner().audit_verify().await.unwrap().ok);
    v.stop().await;
}

// ---- host binding ------------------------------------------------------------

#[tokio::test]
async fn host_binding_resists_spelling_tricks() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    let entry = |name: &str, hosts: Vec<&str>, extra: Vec<FieldSpec>| {
        let mut fields = vec![field("key", &format!("{name}-secret"))];
        fields.extend(extra);
        EntryCreate {
            name: name.into(),
            hosts: hosts.into_iter().map(String::from).collect(),
            fields,
            ..EntryCreate::default()
        }
    };
    add_entry(&v, entry("Exact", vec!["api.openai.com"], vec![])).await;
    add_entry(&v, entry("Wild", vec!["*.github.com"], vec![])).await;
    add_entry(&v, entry("Port", vec!["internal.test:8443"], vec![])).await;
    add_entry(&v, entry("V6", vec!["[2001:db8::1]:9443"], vec![])).await;
    add_entry(&v, entry("Ip", vec!["192.0.2.10"], vec![])).await;
    add_entry(&v, entry("Puny", vec!["xn--bcher-kva.example"], vec![])).await;
    add_entry(
        &v,
        entry(
            "ByUrl",
            vec![],
            vec![FieldSpec {
                kind: Some(FieldKind::Url),
                tier: Some(Tier::Info),
                ..field("url", "https://api.example.com/v1")
            }],
        ),
    )
    .await;
    add_entry(
        &v,
        entry(
            "HttpUrl",
            vec![],
            vec![FieldSpec {
                kind: Some(FieldKind::Url),
                tier: Some(Tier::Info),
                ..field("url", "http://plain.example.com/")
            }],
        ),
    )
    .await;
    add_entry(&v, entry("NoHosts", vec![], vec![])).await;
    let all = [
        "Exact", "Wild", "Port", "V6", "Ip", "Puny", "ByUrl", "HttpUrl", "NoHosts",
    ];
    let agent = v.agent("Codex", &all, Some((20, 100))).await;
    let ok = |e: &str, h: &str, p: u16, s: &str| {
        let agent = agent.clone();
        let (e, h, s) = (e.to_string(), h.to_string(), s.to_string());
        async move {
            agent
                .inject(&e, "key", &h, p, &s)
                .await
                .map(|_| ())
                .map_err(|x| code(&x))
        }
    };
    let allowed = [
        ("Exact", "api.openai.com", 443, "https"),
        ("Exact", "API.OpenAI.com", 443, "https"),
        ("Exact", "api.openai.com", 443, "HTTPS"),
        ("Wild", "api.github.com", 443, "https"),
        ("Wild", "UPLOADS.GITHUB.COM", 443, "https"),
        ("Port", "internal.test", 8443, "https"),
        ("V6", "2001:db8::1", 9443, "https"),
        ("V6", "[2001:db8::1]", 9443, "https"),
        ("Ip", "192.0.2.10", 443, "https"),
        ("Puny", "xn--bcher-kva.example", 443, "https"),
        ("ByUrl", "api.example.com", 443, "https"),
    ];
    for (e, h, p, s) in allowed {
        assert_eq!(ok(e, h, p, s).await, Ok(()), "{e} {h}:{p} {s}");
    }
    let refused = [
        ("Exact", "api.openai.com.", 443, "https"),
        ("Exact", "api.openai.com:443", 443, "https"),
        ("Exact", "api.openai.com", 8443, "https"),
        ("Exact", "api.openai.com", 80, "https"),
        ("Exact", "api.openai.com", 443, "http"),
        ("Exact", "api.openai.com", 443, "ws"),
        ("Exact", "api.openai.com", 443, ""),
        ("Exact", "api.openai.com", 443, "https "),
        ("Exact", " api.openai.com", 443, "https"),
        ("Exact", "api.openai.com\u{0}", 443, "https"),
        ("Exact", "api.openai.com.evil.test", 443, "https"),
        ("Exact", "evil.test/api.openai.com", 443, "https"),
        ("Exact", "api.openai.com@evil.test", 443, "https"),
        ("Exact", "evilapi.openai.com", 443, "https"),
        ("Exact", "\u{430}pi.openai.com", 443, "https"),
        ("Exact", "api.openai.com\u{200b}", 443, "https"),
        ("Exact", "api%2eopenai.com", 443, "https"),
        ("Exact", "*.openai.com", 443, "https"),
        ("Exact", "", 443, "https"),
        ("Wild", "github.com", 443, "https"),
        ("Wild", ".github.com", 443, "https"),
        ("Wild", "a.b.github.com", 443, "https"),
        ("Wild", "evilgithub.com", 443, "https"),
        ("Wild", "api.github.com.", 443, "https"),
        ("Wild", "api.github.com", 8443, "https"),
        ("Wild", "api.github.com.evil.test", 443, "https"),
        ("Port", "internal.test", 443, "https"),
        ("V6", "2001:db8::1", 443, "https"),
        ("V6", "2001:db8:0::1", 9443, "https"),
        ("Ip", "192.0.2.010", 443, "https"),
        ("Ip", "::ffff:192.0.2.10", 443, "https"),
        ("Ip", "3221226010", 443, "https"),
        ("Puny", "bücher.example", 443, "https"),
        ("ByUrl", "api.example.com", 80, "https"),
        ("ByUrl", "example.com", 443, "https"),
        ("HttpUrl", "plain.example.com", 80, "http"),
        ("NoHosts", "anything.test", 443, "https"),
    ];
    for (e, h, p, s) in refused {
        assert_eq!(
            ok(e, h, p, s).await,
            Err("CV-2043".into()),
            "{e} {h:?}:{p} {s:?}"
        );
    }
    v.stop().await;
}

/// A wildcard stands for exactly one DNS label: letters, digits, hyphens.
#[tokio::test]
async fn wildcard_labels_are_dns_labels() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    add_entry(
        &v,
        EntryCreate {
            name: "Wild".into(),
            hosts: vec!["*.github.com".into(), "api.openai.com".into()],
            fields: vec![field("key", "wild-secret")],
            ..EntryCreate::default()
        },
    )
    .await;
    let agent = v.agent("Codex", &["Wild"], Some((20, 100))).await;
    for h in [
        "x@api.github.com",
        "localhost#.github.com",
        "localhost/.github.com",
        "evil:1.github.com",
        "a b.github.com",
        "a\u{0}.github.com",
        "[api.openai.com]",
        "[[api.openai.com]]",
        "*.github.com",
    ] {
        let r = agent.inject("Wild", "key", h, 443, "https").await;
        assert_eq!(
            r.map(|_| ()).map_err(|e| code(&e)),
            Err("CV-2043".into()),
            "{h:?}"
        );
    }
    v.stop().await;
}

// ---- storage corruption --------------------------------------------------------

#[tokio::test]
async fn corrupted_bodies_refuse_without_leaking_and_verify_finds_them() {
    let dir = tempfile::tempdir().unwrap();
    let v = TestVault::start(dir.path()).await;
    add_entry(
        &v,
        EntryCreate {
            id: Some("e_corrupt_me".into()),
            name: "GitHub".into(),
            fields: vec![field("password", "gh-corrupt-canary")],
            ..EntryCreate::default()
        },
    )
    .await;
    v.add("Other", &[("password", "other-canary")]).await;
    let cred = credential(&v, "Codex", whole(&["GitHub", "Other"]), (10, 100)).await;
    let second = credential(&v, "Second", whole(&["Other"]), (10, 100)).await;
    let _ = post(
        &v.url,
        "/v1/agent/read",
        Some(&cred),
        serde_json::json!({"entry": "GitHub"}),
    )
    .await;
    let parent = dir.path().to_path_buf();
    let data = v.dir.clone();
    v.stop().await;
    {
        let c = rusqlite::Connection::open(data.join("vault.db")).unwrap();
        let flip = |table: &str, pick: &str| {
            let (rowid, mut body): (i64, Vec<u8>) = c
                .query_row(
                    &format!("SELECT rowid, body FROM {table} {pick}"),
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            let i = body.len() / 2;
            body[i] ^= 0x01;
            c.execute(
                &format!("UPDATE {table} SET body = ?1 WHERE rowid = ?2"),
                rusqlite::params![body, rowid],
            )
            .unwrap();
        };
        flip("entries", "WHERE id = 'e_corrupt_me'");
        let hex: String = clavitor_crypto::token::hash(&second)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        flip("agents", &format!("WHERE credential_hash = X'{hex}'"));
        flip("audit", "ORDER BY seq LIMIT 1 OFFSET 2");
    }
    let v = TestVault::start_with_clock(&parent, Arc::new(AtomicI64::new(T0 + 1000))).await;
    let r = post(
        &v.url,
        "/v1/agent/read",
        Some(&cred),
        serde_json::json!({"entry": "GitHub"}),
    )
    .await;
    assert!(
        r.status == 403 || r.status == 500,
        "{} {}",
        r.status,
        r.text()
    );
    all_secrets_absent(&r, &["gh-corrupt-canary", "other-canary"]);
    // The untouched entry still reads.
    let r = post(
        &v.url,
        "/v1/agent/read",
        Some(&cred),
        serde_json::json!({"entry": "Other"}),
    )
    .await;
    assert_eq!(r.status, 200);
    // The agent whose body was damaged cannot authenticate.
    let r = post(
        &v.url,
        "/v1/agent/read",
        Some(&second),
        serde_json::json!({"entry": "Other"}),
    )
    .await;
    assert_eq!(r.code(), "CV-2048");
    // Owner views refuse with CV-2099, never a panic or plaintext.
    let r = send(
        http()
            .get(format!("{}/v1/owner/entries", v.url))
            .bearer_auth(owner_token(&v)),
    )
    .await;
    assert_eq!((r.status, r.code()), (500, "CV-2099".into()));
    all_secrets_absent(&r, &["gh-corrupt-canary", "other-canary"]);
    let check = v.owner().audit_verify().await.unwrap();
    assert!(!check.ok);
    assert_eq!(check.broken_at, Some(3));
    v.stop().await;
}
