//! `render` round trips: the output, parsed by each format's standard parser,
//! holds exactly the secret, for adversarial values.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

use common::*;

const VALUES: &[&str] = &[
    "plain",
    "dq\"uote",
    "sq'uote",
    "back\\slash\\n",
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nAAAAAAB=\n-----END OPENSSH PRIVATE KEY-----\n",
    "hash # not a comment",
    "dollar $HOME ${PATH} $(id)",
    "colon: space",
    "percent %20 %s %",
    "semi;colon",
    "tab\there",
    "ctl\u{1}\u{1b}[31m\u{7f}",
    "ünïcødé 密码 🔑",
    "  leading and trailing  ",
    "",
    "all \"' \\ \n # $ : ; \t % =[]{} end",
];

/// A vault with entry "Adv" whose field vN holds VALUES[N], and an enrolled agent.
fn setup() -> (Vault, Agent) {
    let vault = Vault::start();
    let labels: Vec<String> = (0..VALUES.len()).map(|i| format!("v{i}")).collect();
    let fields: Vec<(&str, &str)> = labels
        .iter()
        .map(String::as_str)
        .zip(VALUES.iter().copied())
        .collect();
    vault.add_shared("Adv", &fields);
    vault.add_shared("Other", &[("password", "other-pw")]);
    let agent = Agent::new();
    agent.init(&vault.create_agent("Renderer", &["--entry", "Adv"]));
    (vault, agent)
}

fn render_ok(agent: &Agent, file: &str, template: &str) -> String {
    std::fs::write(agent.path(file), template).unwrap();
    let (code, stdout, stderr) = agent.run(&["render", file]);
    assert_eq!(
        code, 0,
        "render {file} failed:\n{stderr}\ntemplate:\n{template}"
    );
    assert_eq!(stderr, "");
    // -o gives the same bytes, mode 0600.
    let out = format!("{file}.out");
    let (code, o, e) = agent.run(&["render", file, "-o", &out]);
    assert_eq!((code, o.as_str(), e.as_str()), (0, "", ""));
    assert_eq!(std::fs::read_to_string(agent.path(&out)).unwrap(), stdout);
    assert_eq!(mode(&agent.path(&out)), 0o600);
    stdout
}

fn lines(f: impl Fn(usize) -> String) -> String {
    (0..VALUES.len()).map(f).collect::<Vec<_>>().join("")
}

#[test]
fn json_round_trip() {
    let (_vault, agent) = setup();
    let body = lines(|i| {
        format!(
            "  \"q{i}\": \"clavitor://Adv/v{i}\",\n  \"b{i}\": clavitor://Adv/v{i},\n  \"w{i}\": \"<{{{{ clavitor://Adv/v{i} }}}}>\",\n"
        )
    });
    let out = render_ok(
        &agent,
        "app.json",
        &format!("{{\n{body}  \"end\": true\n}}\n"),
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for (i, value) in VALUES.iter().enumerate() {
        assert_eq!(v[format!("q{i}")], *value, "q{i}");
        assert_eq!(v[format!("b{i}")], *value, "b{i}");
        assert_eq!(v[format!("w{i}")], format!("<{value}>"), "w{i}");
    }
}

#[test]
fn yaml_round_trip() {
    let (_vault, agent) = setup();
    let body = lines(|i| {
        format!(
            "p{i}: clavitor://Adv/v{i}\nd{i}: \"clavitor://Adv/v{i}\"\ns{i}: 'clavitor://Adv/v{i}'\nb{i}: |\n  clavitor://Adv/v{i}\n"
        )
    });
    let out = render_ok(&agent, "app.yaml", &format!("# config\n{body}"));
    let v: BTreeMap<String, String> = serde_yaml_ng::from_str(&out).unwrap();
    for (i, value) in VALUES.iter().enumerate() {
        for k in ["p", "d", "s", "b"] {
            assert_eq!(v[&format!("{k}{i}")], *value, "{k}{i} in\n{out}");
        }
    }
}

#[test]
fn toml_round_trip() {
    let (_vault, agent) = setup();
    let body = lines(|i| {
        format!(
            "d{i} = \"clavitor://Adv/v{i}\"\nl{i} = 'clavitor://Adv/v{i}'\nb{i} = clavitor://Adv/v{i}\nm{i} = \"\"\"clavitor://Adv/v{i}\"\"\"\n"
        )
    });
    let out = render_ok(&agent, "app.toml", &format!("[s]\n{body}"));
    let v: BTreeMap<String, BTreeMap<String, String>> = toml::from_str(&out).unwrap();
    for (i, value) in VALUES.iter().enumerate() {
        for k in ["d", "l", "b", "m"] {
            assert_eq!(v["s"][&format!("{k}{i}")], *value, "{k}{i} in\n{out}");
        }
    }
}

#[test]
fn dotenv_round_trip() {
    let (_vault, agent) = setup();
    let body = lines(|i| {
        format!(
            "D{i}=\"clavitor://Adv/v{i}\"\nU{i}=clavitor://Adv/v{i}\nS{i}='clavitor://Adv/v{i}'\n"
        )
    });
    let out = render_ok(&agent, ".env", &format!("# secrets\n{body}"));
    let parsed: BTreeMap<String, String> = dotenvy::from_read_iter(out.as_bytes())
        .map(|r| r.unwrap())
        .collect();
    for (i, value) in VALUES.iter().enumerate() {
        for k in ["D", "U", "S"] {
            assert_eq!(parsed[&format!("{k}{i}")], *value, "{k}{i} in\n{out}");
        }
    }
}

#[test]
fn ini_round_trip() {
    let (_vault, agent) = setup();
    let body = lines(|i| format!("u{i} = clavitor://Adv/v{i}\nq{i} = \"clavitor://Adv/v{i}\"\n"));
    let out = render_ok(&agent, "app.ini", &format!("; settings\n[s]\n{body}"));
    let ini = ini::Ini::load_from_str(&out).unwrap();
    let s = ini.section(Some("s")).unwrap();
    for (i, value) in VALUES.iter().enumerate() {
        for k in ["u", "q"] {
            assert_eq!(
                s.get(format!("{k}{i}")).unwrap(),
                *value,
                "{k}{i} in\n{out}"
            );
        }
    }
}

#[test]
fn raw_is_verbatim_and_format_flag_overrides() {
    let (_vault, agent) = setup();
    let out = render_ok(
        &agent,
        "notes.txt",
        "a=clavitor://Adv/v1 b={{ clavitor://Adv/v2 }}\n",
    );
    assert_eq!(out, format!("a={} b={}\n", VALUES[1], VALUES[2]));
    std::fs::write(agent.path("conf.tpl"), "{\"k\": \"clavitor://Adv/v1\"}").unwrap();
    let (code, stdout, _) = agent.run(&["render", "conf.tpl", "--format", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["k"], VALUES[1]);
}

#[test]
fn any_unresolved_reference_writes_nothing_and_lists_all_failures() {
    let (_vault, agent) = setup();
    let template = "{\n  \"ok\": \"clavitor://Adv/v0\",\n  \"missing\": \"clavitor://Nope/key\",\n  \"ungranted\": \"clavitor://Other/password\",\n  \"nofield\": \"clavitor://Adv/nope\"\n}\n";
    std::fs::write(agent.path("app.json"), template).unwrap();
    std::fs::write(agent.path("out.json"), "previous").unwrap();
    let (code, stdout, stderr) = agent.run(&["render", "app.json", "-o", "out.json"]);
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert_eq!(
        std::fs::read_to_string(agent.path("out.json")).unwrap(),
        "previous"
    );
    assert!(
        stderr.contains("3 references failed; nothing was written"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 3, column 15: clavitor://Nope/key: CV-2041: Access denied."),
        "{stderr}"
    );
    assert!(
        stderr.contains("clavitor://Other/password: CV-2041"),
        "{stderr}"
    );
    assert!(stderr.contains("clavitor://Adv/nope: CV-2041"), "{stderr}");
    assert!(!stderr.contains("plain"), "a value leaked into the error");
    // Without -o: nothing on stdout either.
    let (code, stdout, _) = agent.run(&["render", "app.json"]);
    assert_eq!((code, stdout.as_str()), (1, ""));
    let leftovers: Vec<_> = std::fs::read_dir(agent.home.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn output_never_follows_a_symlink() {
    let (_vault, agent) = setup();
    std::fs::write(agent.path("app.json"), "{\"k\": \"clavitor://Adv/v0\"}").unwrap();
    std::fs::write(agent.path("target.txt"), "keep").unwrap();
    std::os::unix::fs::symlink(agent.path("target.txt"), agent.path("link.json")).unwrap();
    let (code, _, stderr) = agent.run(&["render", "app.json", "-o", "link.json"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("symbolic link"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(agent.path("target.txt")).unwrap(),
        "keep"
    );
    assert!(
        std::fs::symlink_metadata(agent.path("link.json"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // An existing world-readable output is replaced by a 0600 file.
    std::fs::write(agent.path("out.json"), "old").unwrap();
    std::fs::set_permissions(
        agent.path("out.json"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    agent
        .cmd()
        .args(["render", "app.json", "-o", "out.json"])
        .assert()
        .success();
    assert_eq!(mode(&agent.path("out.json")), 0o600);
}

/// Percent-encodes everything but unreserved characters.
fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn names_with_special_characters_in_both_forms() {
    let vault = Vault::start();
    let names = [
        "Prod DB",
        "R&D: \"main\"",
        "Café Ünïcode",
        "it's/a path",
        "a:b",
    ];
    for (i, name) in names.iter().enumerate() {
        vault.add_shared(
            name,
            &[
                ("password", &format!("pw-{i}")),
                ("user", &format!("u-{i}")),
            ],
        );
    }
    let mut args = Vec::new();
    for name in names {
        args.push("--entry");
        args.push(name);
    }
    let agent = Agent::new();
    agent.init(&vault.create_agent("Names", &args));
    let mut template = String::new();
    for (i, name) in names.iter().enumerate() {
        template.push_str(&format!(
            "bare{i}=clavitor://{}/password\nbraced{i}={{{{ clavitor://{name}/password }}}}\n",
            pct(name)
        ));
        // Inside quotes, and two references on one line.
        template.push_str(&format!(
            "quoted{i}=\"clavitor://{e}/user:clavitor://{e}/password\"\ndsn{i}=postgres://clavitor://{e}/user:clavitor://{e}/password@db/x\n",
            e = pct(name)
        ));
    }
    std::fs::write(agent.path("names.txt"), &template).unwrap();
    let (code, stdout, stderr) = agent.run(&["render", "names.txt"]);
    assert_eq!(code, 0, "{stderr}");
    let mut expected = String::new();
    for i in 0..names.len() {
        expected.push_str(&format!(
            "bare{i}=pw-{i}\nbraced{i}=pw-{i}\nquoted{i}=\"u-{i}:pw-{i}\"\ndsn{i}=postgres://u-{i}:pw-{i}@db/x\n"
        ));
    }
    assert_eq!(stdout, expected);
    // And in JSON: two references inside one string.
    std::fs::write(
        agent.path("db.json"),
        format!(
            "{{\"dsn\": \"postgres://clavitor://{e}/user:clavitor://{e}/password@db/x\", \"b\": \"{{{{ clavitor://{n}/password }}}}\"}}",
            e = pct(names[1]),
            n = names[2]
        ),
    )
    .unwrap();
    let (code, stdout, stderr) = agent.run(&["render", "db.json"]);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["dsn"], "postgres://u-1:pw-1@db/x");
    assert_eq!(v["b"], "pw-2");
    // `get` reaches the same names.
    for (i, name) in names.iter().enumerate() {
        agent
            .cmd()
            .args(["get", name])
            .assert()
            .success()
            .stdout(format!("pw-{i}\n"));
    }
}
