//! The user's guide, end to end, with the real binaries against a real vault.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::*;

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The code the vault must give at some instant between `before` and `after`.
fn expected_codes(before: u64, after: u64) -> Vec<String> {
    let p = clavitor_totp::parse(SEED).unwrap();
    (before..=after).map(|t| p.code_at(t)).collect()
}

#[test]
fn guide_sequence() {
    let vault = Vault::start();
    vault.owner(&[
        "entry",
        "add",
        "GitHub",
        "--field",
        "username=octocat",
        "--field",
        &format!("password={GITHUB_PASSWORD}"),
        "--totp",
        SEED,
    ]);
    vault.owner(&["entry", "add", "OpenAI", "--field", "key=sk-openai-test"]);
    vault.owner(&["entry", "add", "Stripe API", "--field", "key=sk_live"]);
    // TOKEN=$(clavitor agent create Codex --entry GitHub --entry OpenAI)
    let token = vault.create_agent("Codex", &["--entry", "GitHub", "--entry", "OpenAI"]);
    assert!(token.starts_with("cvt_"));

    // echo "$CLAVITOR_TOKEN" | clavitor-cli init
    let agent = Agent::new();
    std::fs::create_dir(agent.path(".claude")).unwrap();
    let out = agent.init(&token);
    assert!(out.contains("Initialised agent \"Codex\""), "{out}");
    assert!(out.contains(&vault.url), "{out}");
    assert!(
        !out.contains(&token) && !out.contains("cva_"),
        "init printed a secret"
    );
    assert_eq!(mode(&agent.config_file()), 0o600);
    assert_eq!(mode(&agent.config_dir()), 0o700);
    let skill = agent.path(".claude/skills/clavitor/SKILL.md");
    let text = std::fs::read_to_string(&skill).unwrap();
    assert!(text.starts_with("---\nname: clavitor\n"));
    assert!(text.contains("Never guess names"));

    // clavitor-cli get "GitHub" --field password
    agent
        .cmd()
        .args(["get", "GitHub", "--field", "password"])
        .assert()
        .success()
        .stdout(format!("{GITHUB_PASSWORD}\n"))
        .stderr("");

    // clavitor-cli totp "GitHub", compared with the code from the seed at the same instant.
    let before = now_secs();
    let (code, stdout, stderr) = agent.run(&["totp", "GitHub"]);
    let after = now_secs();
    assert_eq!((code, stderr.as_str()), (0, ""));
    let got = stdout.strip_suffix('\n').unwrap();
    assert_eq!(got.len(), 6);
    assert!(
        expected_codes(before, after).iter().any(|c| c == got),
        "totp {got} is not the code of the seed"
    );

    // clavitor-cli render app.config.json
    std::fs::write(
        agent.path("app.config.json"),
        "{\n  \"github\": {\"user\": \"clavitor://GitHub/username\", \"password\": \"clavitor://GitHub/password\"},\n  \"openai\": clavitor://OpenAI/key\n}\n",
    )
    .unwrap();
    let out = agent
        .cmd()
        .args(["render", "app.config.json"])
        .assert()
        .success();
    let json: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(json["github"]["user"], "octocat");
    assert_eq!(json["github"]["password"], GITHUB_PASSWORD);
    assert_eq!(json["openai"], "sk-openai-test");

    // clavitor-cli get "Stripe API" --field key -> clavitor-cli: CV-2041: Access denied.
    agent
        .cmd()
        .args(["get", "Stripe API", "--field", "key"])
        .assert()
        .code(1)
        .stdout("")
        .stderr("clavitor-cli: CV-2041: Access denied.\n");

    // The owner sees one audit row per access.
    let audit = vault.owner(&["audit"]);
    assert!(
        audit.contains("cli:codex") || audit.contains("cli:Codex"),
        "{audit}"
    );
}

#[test]
fn get_variants_and_default_field() {
    let (_vault, agent) = guide_setup();
    // Without --field: the password.
    agent
        .cmd()
        .args(["get", "github"])
        .assert()
        .success()
        .stdout(format!("{GITHUB_PASSWORD}\n"));
    // -n: no newline.
    agent
        .cmd()
        .args(["get", "GitHub", "-n"])
        .assert()
        .success()
        .stdout(GITHUB_PASSWORD);
    // --json
    let out = agent
        .cmd()
        .args(["get", "GitHub", "--field", "username", "--json"])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["entry"], "GitHub");
    assert_eq!(v["field"], "username");
    assert_eq!(v["value"], "octocat");
    // A TOTP field read gives the code, never the seed.
    let before = now_secs();
    let (code, stdout, _) = agent.run(&["get", "GitHub", "--field", "totp"]);
    let after = now_secs();
    assert_eq!(code, 0);
    assert!(!stdout.contains(SEED));
    assert!(expected_codes(before, after).contains(&stdout.trim_end().to_string()));
    // totp --json carries seconds_left.
    let before = now_secs();
    let out = agent
        .cmd()
        .args(["totp", "GitHub", "--json"])
        .assert()
        .success();
    let after = now_secs();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let code = v["code"].as_str().unwrap().to_string();
    assert!(expected_codes(before, after).contains(&code));
    let left = v["seconds_left"].as_u64().unwrap();
    assert!((1..=30).contains(&left), "{left}");
    assert_eq!(v["field"], "totp");
}

#[test]
fn status_shows_configuration_without_secrets() {
    let (vault, agent) = guide_setup();
    let (code, stdout, stderr) = agent.run(&["status"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("Agent:       Codex"), "{stdout}");
    assert!(stdout.contains(&vault.url));
    assert!(stdout.contains("never expires"));
    assert!(stdout.contains("Proxy CA:    not created yet"));
    assert!(stdout.contains("State:       active (vault reachable)"));
    let config = std::fs::read_to_string(agent.config_file()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&config).unwrap();
    let credential = v["credential"].as_str().unwrap();
    assert!(credential.starts_with("cva_"));
    assert!(!stdout.contains(credential) && !stderr.contains(credential));
}

#[test]
fn skill_is_installed_on_request_and_idempotent() {
    let vault = Vault::start();
    vault.owner(&["entry", "add", "GitHub", "--field", "password=x"]);
    // No ~/.claude: no skill unless asked.
    let agent = Agent::new();
    agent.init(&vault.create_agent("A1", &["--entry", "GitHub"]));
    assert!(!agent.path(".claude").exists());
    // --skill claude-code creates it; a second install is a no-op.
    let token = vault.create_agent("A2", &["--entry", "GitHub"]);
    let out = agent
        .cmd()
        .args(["init", "--force", "--skill", "claude-code"])
        .write_stdin(token)
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        stdout.contains("Installed the Claude Code skill"),
        "{stdout}"
    );
    let skill = agent.path(".claude/skills/clavitor/SKILL.md");
    let first = std::fs::read_to_string(&skill).unwrap();
    let token = vault.create_agent("A3", &["--entry", "GitHub"]);
    let out = agent
        .cmd()
        .args(["init", "--force"])
        .write_stdin(token)
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(stdout.contains("skill is up to date"), "{stdout}");
    assert_eq!(std::fs::read_to_string(&skill).unwrap(), first);
    let entries: Vec<_> = std::fs::read_dir(skill.parent().unwrap())
        .unwrap()
        .collect();
    assert_eq!(entries.len(), 1, "no stray temporary files");
}

#[test]
fn completions_for_each_shell() {
    let agent = Agent::new();
    for shell in ["bash", "zsh", "fish"] {
        let out = agent.cmd().args(["completions", shell]).assert().success();
        let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
        assert!(text.contains("clavitor-cli"), "{shell}");
        assert!(text.contains("render"), "{shell}");
    }
}
