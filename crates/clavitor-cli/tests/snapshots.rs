//! Snapshots of every `--help` and of every error message (exit code and
//! stderr), normalised for temporary paths and ports.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;

#[test]
fn help_texts() {
    let agent = Agent::new();
    let commands: [&[&str]; 10] = [
        &[],
        &["init"],
        &["get"],
        &["totp"],
        &["render"],
        &["status"],
        &["proxy"],
        &["proxy", "ca"],
        &["env"],
        &["completions"],
    ];
    for args in commands {
        let out = agent
            .cmd()
            .args(args)
            .arg("--help")
            .env("COLUMNS", "100")
            .assert()
            .success();
        let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
        let name = if args.is_empty() {
            "help".to_string()
        } else {
            format!("help_{}", args.join("_"))
        };
        insta::assert_snapshot!(name, text);
    }
}

/// `exit: N` then stdout (if any) and stderr, normalised.
fn outcome(vault: Option<&Vault>, agent: &Agent, args: &[&str], stdin: Option<&str>) -> String {
    let mut cmd = agent.cmd();
    cmd.args(args).env("COLUMNS", "100");
    if let Some(input) = stdin {
        cmd.write_stdin(input.to_string());
    }
    let out = cmd.output().unwrap();
    let mut text = format!("exit: {}\n", out.status.code().unwrap());
    if !out.stdout.is_empty() {
        text.push_str("--- stdout\n");
        text.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    text.push_str("--- stderr\n");
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    normalise(&text, vault, Some(agent))
}

#[test]
fn error_messages() {
    let (vault, agent) = guide_setup();
    let v = Some(&vault);
    let snap = |name: &str, text: String| {
        insta::assert_snapshot!(format!("error_{name}"), text);
    };

    snap(
        "access_denied",
        outcome(v, &agent, &["get", "Stripe API", "--field", "key"], None),
    );
    snap(
        "access_denied_totp",
        outcome(v, &agent, &["totp", "Nope"], None),
    );
    snap(
        "inject_only",
        outcome(v, &agent, &["get", "OpenAI", "--field", "key"], None),
    );

    // init
    snap(
        "already_initialised",
        outcome(v, &agent, &["init"], Some("cvt_x")),
    );
    let token = vault.create_agent("Codex2", &["--entry", "GitHub"]);
    let other = Agent::new();
    other.init(&token);
    snap(
        "used_token",
        outcome(v, &other, &["init", "--force"], Some(&token)),
    );
    snap(
        "truncated_token",
        outcome(
            v,
            &other,
            &["init", "--force"],
            Some(&token[..token.len() - 10]),
        ),
    );
    snap(
        "malformed_token",
        outcome(v, &other, &["init", "--force"], Some("cvt_abcdefghijk")),
    );
    snap(
        "wrong_prefix_token",
        outcome(v, &other, &["init", "--force"], Some("hello")),
    );
    snap(
        "empty_token",
        outcome(v, &other, &["init", "--force"], Some("\n")),
    );

    // configuration
    let fresh = Agent::new();
    snap(
        "not_initialised",
        outcome(v, &fresh, &["get", "GitHub"], None),
    );
    std::fs::set_permissions(other.config_file(), std::fs::Permissions::from_mode(0o644)).unwrap();
    snap(
        "config_readable",
        outcome(v, &other, &["get", "GitHub"], None),
    );
    std::fs::write(other.config_file(), "{not json").unwrap();
    std::fs::set_permissions(other.config_file(), std::fs::Permissions::from_mode(0o600)).unwrap();
    snap("config_damaged", outcome(v, &other, &["status"], None));
    std::fs::set_permissions(other.config_dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let token = vault.create_agent("Codex3", &["--entry", "GitHub"]);
    snap(
        "config_dir_open",
        outcome(v, &other, &["init", "--force"], Some(&token)),
    );

    // render
    std::fs::write(
        agent.path("app.json"),
        "{\n  \"a\": \"clavitor://GitHub/password\",\n  \"b\": \"clavitor://Stripe%20API/key\",\n  \"c\": \"{{ clavitor://No Such/key }}\",\n  \"d\": \"clavitor://GitHub\"\n}\n",
    )
    .unwrap();
    snap(
        "render_failures",
        outcome(v, &agent, &["render", "app.json", "-o", "out.json"], None),
    );
    std::os::unix::fs::symlink("/etc/passwd", agent.path("link.json")).unwrap();
    snap(
        "render_symlink",
        outcome(v, &agent, &["render", "app.json", "-o", "link.json"], None),
    );
    snap(
        "render_missing_dir",
        outcome(
            v,
            &agent,
            &["render", "app.json", "-o", "nodir/out.json"],
            None,
        ),
    );
    snap(
        "render_missing_template",
        outcome(v, &agent, &["render", "missing.json"], None),
    );

    // usage
    snap("usage_missing_entry", outcome(v, &agent, &["get"], None));
    snap(
        "usage_bad_format",
        outcome(v, &agent, &["render", "a", "--format", "xml"], None),
    );

    // rate limit
    let limited = Agent::new();
    limited.init(&vault.create_agent("Limited", &["--entry", "GitHub", "--rate", "1/min,10/h"]));
    limited.cmd().args(["get", "GitHub"]).assert().success();
    snap(
        "rate_limited",
        outcome(v, &limited, &["get", "OpenAI"], None),
    );

    // revoked
    vault.owner(&["agent", "revoke", "Codex2"]);
    let token = vault.create_agent("Codex4", &["--entry", "GitHub"]);
    let revoked = Agent::new();
    revoked.init(&token);
    vault.owner(&["agent", "revoke", "Codex4"]);
    snap("revoked", outcome(v, &revoked, &["get", "GitHub"], None));

    // unreachable
    let port = vault.port;
    drop(vault);
    let text =
        |args: &[&str]| outcome(None, &agent, args, None).replace(&port.to_string(), "[PORT]");
    snap("unreachable_get", text(&["get", "GitHub"]));
    snap("unreachable_render", text(&["render", "app.json"]));
    let status = text(&["status"]);
    // Drop the run-specific lines (ids, times) but keep the shape.
    let status: String = status
        .lines()
        .filter(|l| {
            !l.starts_with("Vault:") && !l.starts_with("Config:") && !l.starts_with("Agent:")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    snap("unreachable_status", status);
}
