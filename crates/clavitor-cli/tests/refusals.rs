//! Refusals, local errors and exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;

const DENIED: &str = "clavitor-cli: CV-2041: Access denied.\n";

#[test]
fn access_denied_is_identical_for_ungranted_nonexistent_and_personal() {
    let (vault, agent) = guide_setup();
    vault.set_personal_key();
    vault.owner(&[
        "entry",
        "add",
        "Visa",
        "--field",
        "password=visa-shared",
        "--personal",
        "card_number=4111111111111111",
    ]);
    vault.owner(&[
        "agent", "edit", "Codex", "--entry", "GitHub", "--entry", "OpenAI", "--entry", "Visa",
    ]);
    // The granted shared field of the same entry is readable...
    agent
        .cmd()
        .args(["get", "Visa", "--field", "password"])
        .assert()
        .success()
        .stdout("visa-shared\n");
    let cases: [&[&str]; 6] = [
        &["get", "Stripe API", "--field", "key"],
        &["get", "Stripe API"],
        &["get", "No Such Entry", "--field", "key"],
        &["get", "GitHub", "--field", "no_such_field"],
        &["get", "Visa", "--field", "card_number"],
        &["totp", "Stripe API"],
    ];
    for args in cases {
        let (code, stdout, stderr) = agent.run(args);
        assert_eq!(
            (code, stdout.as_str(), stderr.as_str()),
            (1, "", DENIED),
            "{args:?}"
        );
    }
    // The personal value never reaches the agent, not even through render.
    std::fs::write(agent.path("c.env"), "CARD=clavitor://Visa/card_number\n").unwrap();
    let (code, stdout, stderr) = agent.run(&["render", "c.env"]);
    assert_eq!(code, 1);
    assert_eq!(stdout, "");
    assert!(stderr.contains("CV-2041: Access denied."), "{stderr}");
    assert!(!stderr.contains("4111"));
}

#[test]
fn inject_only_field_is_refused_by_get() {
    let (_vault, agent) = guide_setup();
    let (code, stdout, stderr) = agent.run(&["get", "OpenAI", "--field", "key"]);
    assert_eq!(code, 1);
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "clavitor-cli: CV-2044: Inject-only field: use it through the proxy.\n"
    );
}

#[test]
fn world_readable_config_is_refused_naming_the_fix() {
    let (_vault, agent) = guide_setup();
    let file = agent.config_file();
    for bad in [0o644, 0o640, 0o604] {
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(bad)).unwrap();
        let (code, stdout, stderr) = agent.run(&["get", "GitHub"]);
        assert_eq!(code, 2);
        assert_eq!(stdout, "");
        assert!(
            stderr.contains(&format!("fix it with `chmod 600 {}`", file.display())),
            "{stderr}"
        );
    }
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    agent.cmd().args(["get", "GitHub"]).assert().success();
}

#[test]
fn second_init_with_used_token_fails_and_keeps_the_working_config() {
    let vault = Vault::start();
    vault.owner(&["entry", "add", "GitHub", "--field", "password=pw1"]);
    let token = vault.create_agent("Codex", &["--entry", "GitHub"]);
    let agent = Agent::new();
    agent.init(&token);
    let before = std::fs::read(agent.config_file()).unwrap();

    // Without --force: refused before the token is even sent.
    let (code, _, stderr) = agent
        .cmd()
        .arg("init")
        .write_stdin(token.clone())
        .output()
        .map(|o| {
            (
                o.status.code().unwrap(),
                String::from_utf8_lossy(&o.stdout).into_owned(),
                String::from_utf8_lossy(&o.stderr).into_owned(),
            )
        })
        .unwrap();
    assert_eq!(code, 2);
    assert!(
        stderr.contains("already initialised as agent \"Codex\""),
        "{stderr}"
    );
    assert!(stderr.contains("--force"), "{stderr}");

    // With --force: the vault refuses the used token; nothing changes here.
    let out = agent
        .cmd()
        .args(["init", "--force"])
        .write_stdin(token.clone())
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.starts_with("clavitor-cli: CV-2048: Invalid, expired or revoked token.\n"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(agent.config_file()).unwrap(), before);
    agent
        .cmd()
        .args(["get", "GitHub"])
        .assert()
        .success()
        .stdout("pw1\n");

    // Malformed and truncated tokens: refused locally, config untouched.
    for bad in [
        token[..token.len() - 8].to_string(),
        format!("{}x", token),
        "cvt_abc".to_string(),
        "hello".to_string(),
        String::new(),
    ] {
        let out = agent
            .cmd()
            .args(["init", "--force"])
            .write_stdin(bad.clone())
            .assert()
            .code(2);
        let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        assert!(stderr.starts_with("clavitor-cli: "), "{stderr}");
        assert!(!stderr.contains(&token), "the token was echoed");
        assert_eq!(std::fs::read(agent.config_file()).unwrap(), before);
    }
    let leftovers: Vec<_> = std::fs::read_dir(agent.config_dir()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary files left behind");
}

#[test]
fn force_init_with_a_fresh_token_replaces_the_config() {
    let vault = Vault::start();
    vault.owner(&["entry", "add", "GitHub", "--field", "password=pw1"]);
    vault.owner(&["entry", "add", "GitLab", "--field", "password=pw2"]);
    let agent = Agent::new();
    agent.init(&vault.create_agent("One", &["--entry", "GitHub"]));
    let token = vault.create_agent("Two", &["--entry", "GitLab"]);
    agent
        .cmd()
        .args(["init", "--force"])
        .write_stdin(token)
        .assert()
        .success()
        .stdout(predicates::str::contains("Initialised agent \"Two\""));
    agent
        .cmd()
        .args(["get", "GitLab"])
        .assert()
        .success()
        .stdout("pw2\n");
    agent.cmd().args(["get", "GitHub"]).assert().code(1);
}

#[test]
fn vault_calls_ignore_https_proxy() {
    let (_vault, agent) = guide_setup();
    // A dead proxy: any request sent through it would fail.
    let dead = "http://127.0.0.1:9";
    for args in [
        &["get", "GitHub"][..],
        &["totp", "GitHub"][..],
        &["status"][..],
    ] {
        agent
            .cmd()
            .args(args)
            .env("HTTPS_PROXY", dead)
            .env("HTTP_PROXY", dead)
            .env("ALL_PROXY", dead)
            .env("https_proxy", dead)
            .env("http_proxy", dead)
            .env("all_proxy", dead)
            .assert()
            .success();
    }
}

#[test]
fn unreachable_vault_exits_3_naming_the_url() {
    let (vault, agent) = guide_setup();
    let url = vault.url.clone();
    drop(vault);
    for args in [
        &["get", "GitHub"][..],
        &["totp", "GitHub"][..],
        &["status"][..],
    ] {
        let (code, _stdout, stderr) = agent.run(args);
        assert_eq!(code, 3, "{args:?}");
        assert!(
            stderr.contains(&format!("cannot reach the vault at {url}")),
            "{stderr}"
        );
    }
    std::fs::write(
        agent.path("a.json"),
        "{\"a\": \"clavitor://GitHub/password\"}",
    )
    .unwrap();
    let (code, stdout, stderr) = agent.run(&["render", "a.json", "-o", "out.json"]);
    assert_eq!((code, stdout.as_str()), (3, ""));
    assert!(stderr.contains(&url), "{stderr}");
    assert!(!agent.path("out.json").exists());
}

#[test]
fn not_initialised_is_a_local_error() {
    let agent = Agent::new();
    let (code, stdout, stderr) = agent.run(&["get", "GitHub"]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert!(stderr.contains("not initialised"), "{stderr}");
    assert!(stderr.contains("clavitor-cli init"), "{stderr}");
}

#[test]
fn usage_errors_exit_2() {
    let agent = Agent::new();
    assert_eq!(agent.run(&["get"]).0, 2);
    assert_eq!(agent.run(&["frobnicate"]).0, 2);
    assert_eq!(agent.run(&["render", "x.json", "--format", "xml"]).0, 2);
}

#[test]
fn revoked_agent_is_refused() {
    let (vault, agent) = guide_setup();
    vault.owner(&["agent", "revoke", "Codex"]);
    let (code, _, stderr) = agent.run(&["get", "GitHub"]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        "clavitor-cli: CV-2048: Invalid, expired or revoked token.\n"
    );
}

#[test]
fn no_plaintext_cache_on_disk() {
    let (_vault, agent) = guide_setup();
    agent.cmd().args(["get", "GitHub"]).assert().success();
    agent.cmd().args(["totp", "GitHub"]).assert().success();
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(agent.home.path(), &mut files);
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("gh-pass"), "{} holds a value", f.display());
    }
}
