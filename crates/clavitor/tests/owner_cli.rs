//! The real `clavitor` binary: serve's refusals, the owner CLI, and a canary
//! secret searched for in every log, output, database file and WAL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::{Server, bin, contains, run};

const CANARY: &str = "canary-9f3Kq-value";
const PERSONAL_CANARY: &str = "4111-canary-card";

#[test]
fn a_canary_never_leaves_the_vault_except_to_its_reader() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let log = tmp.path().join("serve.log");
    let server = Server::start(&data, &log, "trace");
    let mut outputs = Vec::new();

    let mut add = server.cli();
    add.args([
        "entry",
        "add",
        "GitHub",
        "--field",
        "username=octo",
        "--field",
        "password=-",
        "--url",
        "https://github.com",
    ]);
    let (code, out, err) = run(add, &format!("{CANARY}\n"));
    assert_eq!(code, 0, "{err}");
    outputs.push(out);
    outputs.push(err);

    let mut show = server.cli();
    show.args(["entry", "show", "GitHub"]);
    let (code, out, err) = run(show, "");
    assert_eq!(code, 0);
    assert!(out.contains("••••"), "masked: {out}");
    outputs.push(out);
    outputs.push(err);

    let mut create = server.cli();
    create.args(["agent", "create", "Codex", "--entry", "GitHub"]);
    let (code, token, err) = run(create, "");
    assert_eq!(code, 0, "{err}");
    assert!(
        token.trim().starts_with("cvt_") && token.trim().lines().count() == 1,
        "only the token on stdout"
    );
    outputs.push(err);

    // The agent reads it (over the raw API: the agent CLI has its own tests).
    let credential = enroll(&server.url, token.trim());
    let body = read(&server.url, &credential, "GitHub", "password");
    assert!(body.contains(CANARY));
    let denied = read(&server.url, &credential, "GitHub", "nope");
    outputs.push(denied);

    let mut audit = server.cli();
    audit.arg("audit");
    let (code, out, err) = run(audit, "");
    assert_eq!(code, 0);
    assert!(out.starts_with("# TIME"), "{out}");
    assert!(out.contains("cli:codex"));
    outputs.push(out);
    outputs.push(err);
    for fmt in ["--json", "--csv"] {
        let mut a = server.cli();
        a.args(["audit", fmt]);
        let (_, out, _) = run(a, "");
        outputs.push(out);
    }
    drop(server);

    let logs = std::fs::read(&log).unwrap();
    assert!(logs.len() > 1000, "trace logging produced output");
    assert!(
        !contains(&logs, CANARY.as_bytes()),
        "canary in the server log"
    );
    for o in &outputs {
        assert!(!o.contains(CANARY), "canary in CLI output: {o}");
    }
    for entry in std::fs::read_dir(&data).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() == "vault.key" {
            continue;
        }
        let bytes = std::fs::read(entry.path()).unwrap();
        assert!(
            !contains(&bytes, CANARY.as_bytes()),
            "canary in {:?}",
            entry.file_name()
        );
    }
}

fn enroll(url: &str, token: &str) -> String {
    let out = Command::new("curl")
        .args([
            "-s",
            "-X",
            "POST",
            &format!("{url}/v1/agent/enroll"),
            "-H",
            "content-type: application/json",
            "-d",
        ])
        .arg(serde_json::json!({ "token": token }).to_string())
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["credential"].as_str().unwrap().to_string()
}

fn read(url: &str, credential: &str, entry: &str, field: &str) -> String {
    let out = Command::new("curl")
        .args([
            "-s",
            "-X",
            "POST",
            &format!("{url}/v1/agent/read"),
            "-H",
            "content-type: application/json",
        ])
        .args(["-H", &format!("authorization: Bearer {credential}"), "-d"])
        .arg(serde_json::json!({ "entry": entry, "field": field }).to_string())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn personal_fields_are_sealed_by_the_cli_and_need_a_personal_key() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let server = Server::start(&data, &tmp.path().join("log"), "info");
    let mut add = server.cli();
    add.args(["entry", "add", "Visa", "--personal", "card_number=-"]);
    let (code, _, err) = run(add, PERSONAL_CANARY);
    assert_eq!(code, 1, "a refusal by its CV code");
    assert!(
        err.contains("CV-1006: No personal key yet: enrol a passkey in the web vault first"),
        "{err}"
    );

    // Play the web vault's part: register a personal public key.
    let (sk, pk) = clavitor_crypto::personal::PersonalPrivateKey::generate().unwrap();
    let status = Command::new("curl")
        .args([
            "-s",
            "-f",
            "-X",
            "PUT",
            &format!("{}/v1/owner/personal-key", server.url),
        ])
        .args(["-H", "content-type: application/json"])
        .args([
            "-H",
            &format!("authorization: Bearer {}", common::owner_token(&data)),
        ])
        .args([
            "-d",
            &serde_json::json!({"vault_id": "", "public_key": pk.to_base64url()}).to_string(),
        ])
        .status()
        .unwrap();
    assert!(status.success());

    let mut add = server.cli();
    add.args([
        "entry",
        "add",
        "Visa",
        "--personal",
        "card_number=-",
        "--field",
        "cvv=@",
    ]);
    // `cvv` defaults to personal too; give it a file.
    let cvv = tmp.path().join("cvv");
    std::fs::write(&cvv, "123\n").unwrap();
    let mut add = server.cli();
    add.args([
        "entry",
        "add",
        "Visa",
        "--personal",
        "card_number=-",
        "--field",
    ])
    .arg(format!("cvv=@{}", cvv.display()));
    let (code, _, err) = run(add, PERSONAL_CANARY);
    assert_eq!(code, 0, "{err}");

    let mut show = server.cli();
    show.args(["entry", "show", "Visa", "--reveal", "--json"]);
    let (code, out, _) = run(show, "");
    assert_eq!(code, 0);
    assert!(!out.contains(PERSONAL_CANARY));
    let view: serde_json::Value = serde_json::from_str(&out).unwrap();
    let vault_id = {
        let o = Command::new("curl")
            .args(["-s", &format!("{}/v1/owner/personal-key", server.url)])
            .args([
                "-H",
                &format!("authorization: Bearer {}", common::owner_token(&data)),
            ])
            .output()
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["vault_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let mut opened = Vec::new();
    for f in view["fields"].as_array().unwrap() {
        assert_eq!(f["tier"], "personal");
        let blob = clavitor_crypto::unb64(f["sealed"].as_str().unwrap()).unwrap();
        let ctx = clavitor_crypto::personal::PersonalContext {
            vault_id: &vault_id,
            entry_id: view["id"].as_str().unwrap(),
            field_id: f["id"].as_str().unwrap(),
            revision: f["sealed_rev"].as_u64().unwrap(),
        };
        opened.push(
            String::from_utf8(
                clavitor_crypto::personal::open(&sk, &ctx, &blob)
                    .unwrap()
                    .to_vec(),
            )
            .unwrap(),
        );
    }
    opened.sort();
    assert_eq!(opened, vec!["123".to_string(), PERSONAL_CANARY.to_string()]);
}

#[test]
fn serve_refuses_unsafe_setups() {
    let tmp = tempfile::tempdir().unwrap();
    // Plain HTTP on a non-loopback address.
    let out = Command::new(bin())
        .args(["serve", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(tmp.path().join("d1"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to serve plain HTTP"));

    // A data dir others can read.
    let open = tmp.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&open)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("chmod 700"), "{err}");

    // First start creates the files private; a second server is refused.
    let data = tmp.path().join("data");
    let server = Server::start(&data, &tmp.path().join("log"), "info");
    for (f, mode) in [
        ("", 0o700),
        ("vault.key", 0o600),
        ("owner.token", 0o600),
        ("vault.db", 0o600),
    ] {
        let m = std::fs::metadata(data.join(f))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(m, mode, "{f}");
    }
    let out = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already using"));
    // A busy port is refused before anything is written to a new data dir.
    let other = tmp.path().join("other");
    let port = server.url.rsplit(':').next().unwrap().to_string();
    let out = Command::new(bin())
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(&other)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is another vault running"));
    assert!(
        !other.join("vault.key").exists(),
        "no vault created beside a busy port"
    );
    drop(server);

    // A key file others can read is refused, naming the fix.
    std::fs::set_permissions(
        data.join("vault.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let out = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("chmod 600"));
}

#[test]
fn owner_cli_reports_refusals_and_an_unreachable_vault() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut server = Server::start(&data, &tmp.path().join("log"), "info");
    let mut c = server.cli();
    c.args(["entry", "show", "Nope"]);
    let (code, _, err) = run(c, "");
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        "clavitor: CV-1002: No such entry or agent. (entry \"Nope\"; `clavitor entry list` shows the names)"
    );

    // Edits name the revision they change; history shows every revision.
    let mut c = server.cli();
    c.args(["entry", "add", "DB", "--field", "dsn=postgres://a"]);
    assert_eq!(run(c, "").0, 0);
    let mut c = server.cli();
    c.args([
        "entry",
        "edit",
        "DB",
        "--field",
        "dsn=postgres://b",
        "--rename",
        "Prod DB",
    ]);
    assert_eq!(run(c, "").0, 0);
    let mut c = server.cli();
    c.args(["entry", "rm", "Prod DB"]);
    assert_eq!(run(c, "").0, 0);
    let mut c = server.cli();
    c.args(["entry", "list"]);
    assert!(run(c, "").1.contains("No entries yet"));

    server.terminate();
    let mut c = server.cli();
    c.args(["agent", "list"]);
    let (code, _, err) = run(c, "");
    assert_eq!(code, 3);
    assert!(err.contains(&server.url), "names the URL: {err}");
}

#[test]
fn self_signed_tls_is_pinned_by_the_owner_cli_and_in_setup_tokens() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let log = tmp.path().join("log");
    let port = common::free_port();
    let log_file = std::fs::File::create(&log).unwrap();
    let mut child = Command::new(bin())
        .args([
            "serve",
            "--tls-self-signed",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(&data)
        .stdout(std::process::Stdio::null())
        .stderr(log_file)
        .spawn()
        .unwrap();
    let url = format!("https://127.0.0.1:{port}");
    let owner = |args: &[&str]| {
        let mut c = Command::new(bin());
        c.env("CLAVITOR_VAULT", &url)
            .env("CLAVITOR_DATA_DIR", &data)
            .args(args);
        run(c, "")
    };
    let mut ready = false;
    for _ in 0..200 {
        if owner(&["entry", "list"]).0 == 0 {
            ready = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    assert!(ready, "{}", std::fs::read_to_string(&log).unwrap());
    assert_eq!(
        owner(&["entry", "add", "GitHub", "--field", "password=pw"]).0,
        0
    );
    let (code, token, err) = owner(&["agent", "create", "Codex", "--entry", "GitHub"]);
    assert_eq!(code, 0, "{err}");
    let setup = clavitor_crypto::token::SetupToken::decode(token.trim()).unwrap();
    assert_eq!(setup.url, url);
    let pin = clavitor_vault::tls::TlsIdentity::pin_of_file(&data.join("tls-cert.pem")).unwrap();
    assert_eq!(setup.pin.as_deref(), Some(pin.as_str()));
    // Plain curl without the certificate is refused; with it, the vault answers.
    let out = Command::new("curl")
        .args(["-s", &format!("{url}/v1/health")])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let out = Command::new("curl")
        .args(["-s", "--cacert"])
        .arg(data.join("tls-cert.pem"))
        .arg(format!("{url}/v1/health"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), r#"{"ok":true}"#);
    // The agent CLI trusts exactly the pinned certificate.
    let agent_cli = std::path::Path::new(bin()).with_file_name("clavitor-cli");
    assert!(
        agent_cli.exists(),
        "build the workspace binaries first (cargo build --workspace --bins)"
    );
    let config = tmp.path().join("agent-config");
    let agent = |args: &[&str], stdin: &str| {
        let mut c = Command::new(&agent_cli);
        c.env("CLAVITOR_CONFIG_DIR", &config)
            .env("HOME", tmp.path())
            .args(args);
        run(c, stdin)
    };
    let (code, _, err) = agent(&["init"], &token);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = agent(&["get", "GitHub"], "");
    assert_eq!((code, out.as_str()), (0, "pw\n"), "{err}");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn agent_edit_adds_and_removes_grants_keeping_the_others_and_clears_an_expiry() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let server = Server::start(&data, &tmp.path().join("log"), "info");
    let owner = |args: &[&str]| server.owner(args);
    for name in ["GitHub", "OpenAI", "AWS"] {
        assert_eq!(owner(&["entry", "add", name, "--field", "token=t"]).0, 0);
    }
    let created = owner(&[
        "agent",
        "create",
        "Codex",
        "--entry",
        "GitHub",
        "--field",
        "OpenAI/token",
        "--expires",
        "1d",
    ]);
    assert_eq!(created.0, 0, "{}", created.2);
    let show = || -> serde_json::Value {
        serde_json::from_str(&owner(&["agent", "show", "Codex", "--json"]).1).unwrap()
    };
    let edited = owner(&[
        "agent",
        "edit",
        "Codex",
        "--add-entry",
        "aws",
        "--remove-entry",
        "github",
        "--no-expiry",
    ]);
    assert_eq!(edited.0, 0, "{}", edited.2);
    let shown = show();
    let list: Vec<(String, serde_json::Value)> = shown["grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["entry"].as_str().unwrap().to_string(),
                g["fields"].clone(),
            )
        })
        .collect();
    // OpenAI keeps its narrowed field; GitHub is gone; AWS is whole.
    assert_eq!(
        list,
        vec![
            ("OpenAI".to_string(), serde_json::json!(["token"])),
            ("AWS".to_string(), serde_json::Value::Null),
        ]
    );
    assert!(
        shown.get("expires_at").is_none_or(|v| v.is_null()),
        "{shown}"
    );
    // Removing a grant the agent does not have, or the last one, is refused and changes nothing.
    let (code, _, err) = owner(&["agent", "edit", "Codex", "--remove-entry", "GitHub"]);
    assert_eq!(code, 2);
    assert!(err.contains("no grant of that entry"), "{err}");
    let (code, _, err) = owner(&[
        "agent",
        "edit",
        "Codex",
        "--remove-entry",
        "OpenAI",
        "--remove-entry",
        "AWS",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("revoke it instead"), "{err}");
    assert_eq!(show()["grants"].as_array().unwrap().len(), 2);
    // --add-entry and --entry do not mix.
    assert_eq!(
        owner(&["agent", "edit", "Codex", "--add-entry", "A", "--entry", "B"]).0,
        2
    );
}

#[test]
fn audit_verify_exits_4_and_names_the_record_when_the_chain_is_broken() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut server = Server::start(&data, &tmp.path().join("log"), "info");
    for name in ["A", "B", "C"] {
        let mut c = server.cli();
        c.args(["entry", "add", name, "--field", "token=t"]);
        assert_eq!(run(c, "").0, 0);
    }
    let mut c = server.cli();
    c.args(["audit", "verify"]);
    let (code, out, _) = run(c, "");
    assert_eq!(code, 0);
    assert!(out.contains("hash chain intact"), "{out}");
    server.terminate();
    // Someone edits the log at rest: record 3 gets record 2's body.
    let db = rusqlite::Connection::open(data.join("vault.db")).unwrap();
    db.execute(
        "UPDATE audit SET body = (SELECT body FROM audit WHERE seq = 2) WHERE seq = 3",
        [],
    )
    .unwrap();
    drop(db);
    let server = Server::start(&data, &tmp.path().join("log2"), "info");
    let mut c = server.cli();
    c.args(["audit", "verify"]);
    let (code, _, err) = run(c, "");
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("audit log BROKEN at record 3"), "{err}");
}

#[test]
fn owner_cli_says_what_a_new_user_needs_to_know() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let server = Server::start(&data, &tmp.path().join("log"), "info");
    let owner = |args: &[&str]| server.owner(args);
    // Each field's tier is printed; a secret-looking label left as info is flagged.
    let (code, out, err) = owner(&[
        "entry",
        "add",
        "AWS",
        "--field",
        "access_key=AKIA",
        "--field",
        "secret_access_key=wJal",
        "--field",
        "region=eu-west-1",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("access_key shared, secret_access_key info, region info"),
        "{out}"
    );
    assert!(
        err.contains("\"secret_access_key\" is an info field")
            && err.contains("--shared secret_access_key=-"),
        "{err}"
    );
    assert!(!err.contains("region"), "only secret-looking labels: {err}");
    assert!(
        !err.contains("wJal") && !out.contains("wJal"),
        "no value printed"
    );
    // Rotating values keeps what the owner set: an inject-only key stays
    // inject-only, a field made shared stays shared under `--field`.
    let (code, _, err) = owner(&[
        "entry",
        "add",
        "OpenAI",
        "--field",
        "key=sk-one",
        "--host",
        "api.openai.com",
        "--inject-only",
        "key",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        owner(&["entry", "edit", "AWS", "--shared", "secret_access_key=wJal"]).0,
        0
    );
    assert_eq!(
        owner(&["entry", "edit", "OpenAI", "--shared", "key=sk-two"]).0,
        0
    );
    assert_eq!(
        owner(&["entry", "edit", "AWS", "--field", "secret_access_key=wJa2"]).0,
        0
    );
    let field = |entry: &str, label: &str| -> serde_json::Value {
        let shown: serde_json::Value =
            serde_json::from_str(&owner(&["entry", "show", entry, "--json"]).1).unwrap();
        shown["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["label"] == label)
            .unwrap()
            .clone()
    };
    assert_eq!(field("OpenAI", "key")["inject_only"], true);
    assert_eq!(field("AWS", "secret_access_key")["tier"], "shared");
    // A personal field before any passkey: CV-1006, exit 1, nothing written.
    let (code, _, err) = owner(&[
        "entry",
        "add",
        "Visa",
        "--personal",
        "card_number=4111-CANARY",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("CV-1006") && err.contains("setup link"),
        "{err}"
    );
    assert!(!err.contains("4111-CANARY"));
    assert!(!owner(&["entry", "list"]).1.contains("Visa"));
    // An unknown entry in a grant is named.
    let (code, _, err) = owner(&["agent", "create", "Codex", "--entry", "GitHb"]);
    assert_eq!(code, 1);
    assert!(err.contains("CV-1002") && err.contains("(GitHb)"), "{err}");
    // A revoked agent's name: why it is taken, and a revoked agent gets no token.
    assert_eq!(owner(&["agent", "create", "Deploy", "--entry", "AWS"]).0, 0);
    assert_eq!(owner(&["agent", "revoke", "Deploy"]).0, 0);
    let (code, _, err) = owner(&["agent", "create", "Deploy", "--entry", "AWS"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("CV-1004") && err.contains("perhaps revoked"),
        "{err}"
    );
    let (code, _, err) = owner(&["agent", "token", "Deploy"]);
    assert_eq!(code, 1);
    assert!(err.contains("CV-1011"), "{err}");
    let (code, out, _) = owner(&["agent", "edit", "Deploy", "--rename", "Deploy (old)"]);
    assert_eq!(code, 0);
    assert!(out.contains("now called \"Deploy (old)\""), "{out}");
    assert_eq!(owner(&["agent", "create", "Deploy", "--entry", "AWS"]).0, 0);
    // The owner token of another vault: the hint names both settings.
    let other = tmp.path().join("other");
    let other_server = Server::start(&other, &tmp.path().join("log2"), "info");
    let mut c = Command::new(bin());
    c.env("CLAVITOR_VAULT", &server.url)
        .env("CLAVITOR_DATA_DIR", &other)
        .args(["entry", "list"]);
    let (code, _, err) = run(c, "");
    assert_eq!(code, 1);
    assert!(
        err.contains("CV-2048") && err.contains("owner.token") && err.contains("CLAVITOR_VAULT"),
        "{err}"
    );
    drop(other_server);
}
