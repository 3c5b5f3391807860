#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Adversarial values rendered in every supported position of every format and
//! read back with the format's standard parser.

mod common;

use clavitor_template::{FailureKind, Format, RenderError, render};
use common::{VALUES, one, show};

/// One position: a template with `clavitor://E/f` somewhere, how to read the
/// value back, what the parsed value should be, and which values must be refused.
struct Case {
    template: &'static str,
    read: fn(&str) -> String,
    expect: fn(&str) -> String,
    refuses: fn(&str) -> bool,
}

fn same(v: &str) -> String {
    v.to_string()
}
fn never(_: &str) -> bool {
    false
}

fn run(format: Format, cases: &[Case]) {
    let mut checked = 0;
    for case in cases {
        for value in VALUES {
            let mut resolver = one(value);
            let result = render(case.template, format, &mut resolver);
            if (case.refuses)(value) {
                let err: RenderError = result.expect_err(&format!(
                    "{format} {:?} must refuse {}",
                    case.template,
                    show(value)
                ));
                assert!(
                    err.failures
                        .iter()
                        .all(|f| matches!(f.kind, FailureKind::Unrepresentable(_))),
                    "{err:?}"
                );
                if !value.is_empty() && value.len() > 2 {
                    assert!(!err.to_string().contains(value), "error leaks the value");
                }
                continue;
            }
            let out = result
                .unwrap_or_else(|e| panic!("{format} {:?} {}: {e}", case.template, show(value)));
            let got = (case.read)(&out);
            assert_eq!(
                got,
                (case.expect)(value),
                "{format} template {:?} value {}\noutput:\n{out}",
                case.template,
                show(value)
            );
            checked += 1;
        }
    }
    assert!(checked > 0);
}

// ---------- JSON ----------

fn json_k(out: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(out).unwrap();
    v["k"].as_str().unwrap().to_string()
}

#[test]
fn json_positions() {
    run(
        Format::Json,
        &[
            Case {
                template: r#"{"k": "clavitor://E/f"}"#,
                read: json_k,
                expect: same,
                refuses: never,
            },
            Case {
                template: r#"{"k": clavitor://E/f}"#,
                read: json_k,
                expect: same,
                refuses: never,
            },
            Case {
                template: "{\n  \"k\":\tclavitor://E/f\n}",
                read: json_k,
                expect: same,
                refuses: never,
            },
            Case {
                template: r#"{"k": "pre \"{{ clavitor://E/f }}\" \\ post"}"#,
                read: json_k,
                expect: |v| format!("pre \"{v}\" \\ post"),
                refuses: never,
            },
            Case {
                template: r#"{"a": ["x", clavitor://E/f ], "k": "clavitor://E/f"}"#,
                read: |out| {
                    let v: serde_json::Value = serde_json::from_str(out).unwrap();
                    assert_eq!(v["a"][1], v["k"]);
                    json_k(out)
                },
                expect: same,
                refuses: never,
            },
            Case {
                template: r#"{"clavitor://E/f": 1}"#,
                read: |out| {
                    let v: serde_json::Map<String, serde_json::Value> =
                        serde_json::from_str(out).unwrap();
                    v.keys().next().unwrap().clone()
                },
                expect: same,
                refuses: never,
            },
        ],
    );
}

// ---------- YAML ----------

fn yaml_k(out: &str) -> String {
    let v: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(out).unwrap_or_else(|e| panic!("{e}\n{out}"));
    match &v["k"] {
        serde_yaml_ng::Value::String(s) => s.clone(),
        other => panic!("not a string: {other:?}\n{out}"),
    }
}

fn yaml_block_line_unfit(v: &str) -> bool {
    v.starts_with([' ', '\t'])
        || v.is_empty()
        || v.chars().any(|c| {
            c != '\t' && (c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}'))
        })
}

#[test]
fn yaml_positions() {
    run(
        Format::Yaml,
        &[
            Case {
                template: "k: \"clavitor://E/f\"\n",
                read: yaml_k,
                expect: same,
                refuses: never,
            },
            Case {
                template: "k: 'clavitor://E/f'\n",
                read: yaml_k,
                expect: same,
                refuses: never,
            },
            Case {
                template: "k: clavitor://E/f\n",
                read: yaml_k,
                expect: same,
                refuses: never,
            },
            Case {
                template: "k: clavitor://E/f",
                read: yaml_k,
                expect: same,
                refuses: never,
            },
            Case {
                template: "k:   {{ clavitor://E/f }}   # comment\nother: 1\n",
                read: yaml_k,
                expect: same,
                refuses: never,
            },
            Case {
                template: "k: pre clavitor://E/f post # note\n",
                read: yaml_k,
                expect: |v| format!("pre {v} post"),
                refuses: never,
            },
            Case {
                template: "k: |\n  clavitor://E/f\nn: 1\n",
                read: yaml_k,
                expect: same,
                refuses: never,
            },
            Case {
                template: "k: >- # folded\n\n    clavitor://E/f   \n\nn: 1\n",
                read: yaml_k,
                expect: same,
                refuses: never,
            },
            Case {
                template: "list:\n  - clavitor://E/f\n  - x\nk: \"clavitor://E/f\"\n",
                read: |out| {
                    let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(out).unwrap();
                    assert_eq!(v["list"][0], v["k"]);
                    yaml_k(out)
                },
                expect: same,
                refuses: never,
            },
            Case {
                template: "a: [x, clavitor://E/f]\nb: {y: clavitor://E/f, z: 1}\nk: clavitor://E/f\n",
                read: |out| {
                    let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(out).unwrap();
                    assert_eq!(v["a"][1], v["k"]);
                    assert_eq!(v["b"]["y"], v["k"]);
                    yaml_k(out)
                },
                expect: same,
                refuses: never,
            },
            Case {
                template: "k: 'it''s {{ clavitor://E/f }}!'\n",
                read: yaml_k,
                expect: |v| format!("it's {v}!"),
                refuses: never,
            },
            Case {
                template: "k: \"a\n  clavitor://E/f\n  b\"\n",
                read: yaml_k,
                expect: |v| format!("a {v} b"),
                refuses: str::is_empty,
            },
            Case {
                template: "- k: &anchor !!str clavitor://E/f\n  n: 2\n",
                read: |out| {
                    let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(out).unwrap();
                    v[0]["k"].as_str().unwrap().to_string()
                },
                expect: same,
                refuses: never,
            },
            Case {
                template: "k: |\n  first\n  x clavitor://E/f y\n",
                read: yaml_k,
                expect: |v| format!("first\nx {v} y\n"),
                refuses: |v| {
                    v.chars().any(|c| {
                        c != '\t'
                            && (c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}'))
                    })
                },
            },
            Case {
                template: "k: |\n  first\n  clavitor://E/f\n",
                read: yaml_k,
                expect: |v| format!("first\n{v}\n"),
                refuses: yaml_block_line_unfit,
            },
            Case {
                template: "clavitor://E/f: 1\nk: x\n",
                read: |out| {
                    let v: serde_yaml_ng::Mapping = serde_yaml_ng::from_str(out).unwrap();
                    v.keys().next().unwrap().as_str().unwrap().to_string()
                },
                expect: same,
                refuses: never,
            },
        ],
    );
}

// ---------- TOML ----------

fn toml_k(out: &str) -> String {
    let v: toml::Table = toml::from_str(out).unwrap_or_else(|e| panic!("{e}\n{out}"));
    v["k"]
        .as_str()
        .unwrap_or_else(|| panic!("{out}"))
        .to_string()
}

#[test]
fn toml_positions() {
    run(
        Format::Toml,
        &[
            Case {
                template: "k = \"clavitor://E/f\"\n",
                read: toml_k,
                expect: same,
                refuses: never,
            },
            Case {
                template: "k = 'clavitor://E/f'\n",
                read: toml_k,
                expect: same,
                refuses: never,
            },
            Case {
                template: "k = clavitor://E/f\n",
                read: toml_k,
                expect: same,
                refuses: never,
            },
            Case {
                template: "k = clavitor://E/f # c clavitor://X/y\n",
                read: toml_k,
                expect: same,
                refuses: never,
            },
            Case {
                template: "k = \"\"\"\nclavitor://E/f\"\"\"\n",
                read: toml_k,
                expect: same,
                refuses: never,
            },
            Case {
                template: "k = \"\"\"a \\\n    clavitor://E/f\"\"\"\n",
                read: toml_k,
                expect: |v| format!("a {v}"),
                refuses: never,
            },
            Case {
                template: "k = '''pre clavitor://E/f'''\n",
                read: toml_k,
                expect: |v| format!("pre {v}"),
                refuses: never,
            },
            Case {
                template: "k = '''\nl1\n{{ clavitor://E/f }}'''\n",
                read: toml_k,
                expect: |v| format!("l1\n{v}"),
                refuses: never,
            },
            Case {
                template: "k = 'C:\\path\\{{ clavitor://E/f }}'\n",
                read: toml_k,
                expect: |v| format!("C:\\path\\{v}"),
                refuses: never,
            },
            Case {
                template: "a = [\"x\", clavitor://E/f]\nt = { y = clavitor://E/f }\nk = \"clavitor://E/f\"\n",
                read: |out| {
                    let v: toml::Table = toml::from_str(out).unwrap();
                    assert_eq!(v["a"][1], v["k"]);
                    assert_eq!(v["t"]["y"], v["k"]);
                    toml_k(out)
                },
                expect: same,
                refuses: never,
            },
            Case {
                template: "[s]\nclavitor://E/f = 1\n[t]\nk = 2\n",
                read: |out| {
                    let v: toml::Table = toml::from_str(out).unwrap();
                    v["s"].as_table().unwrap().keys().next().unwrap().clone()
                },
                expect: same,
                refuses: never,
            },
        ],
    );
}

// ---------- .env ----------

fn env_k(out: &str) -> String {
    let mut found = None;
    for item in dotenvy::from_read_iter(out.as_bytes()) {
        let (k, v) = item.unwrap_or_else(|e| panic!("{e}\n{out}"));
        if k == "K" {
            found = Some(v);
        }
    }
    found.unwrap_or_else(|| panic!("no K in\n{out}"))
}

#[test]
fn env_positions() {
    run(
        Format::Env,
        &[
            Case {
                template: "K=\"clavitor://E/f\"\n",
                read: env_k,
                expect: same,
                refuses: never,
            },
            Case {
                template: "K='clavitor://E/f'\n",
                read: env_k,
                expect: same,
                refuses: never,
            },
            Case {
                template: "K=clavitor://E/f\n",
                read: env_k,
                expect: same,
                refuses: never,
            },
            Case {
                template: "# clavitor://X/y\nexport K=clavitor://E/f # note\nN=1\n",
                read: env_k,
                expect: same,
                refuses: never,
            },
            Case {
                template: "K = {{ clavitor://E/f }}\r\nN=1\r\n",
                read: env_k,
                expect: same,
                refuses: never,
            },
            Case {
                template: "K=\"pre {{ clavitor://E/f }} \\$post\"\n",
                read: env_k,
                expect: |v| format!("pre {v} $post"),
                refuses: never,
            },
            Case {
                template: "K='pre clavitor://E/f'\n",
                read: env_k,
                expect: |v| format!("pre {v}"),
                refuses: never,
            },
        ],
    );
}

// ---------- INI ----------

fn ini_k(out: &str) -> String {
    let ini = ini::Ini::load_from_str(out).unwrap_or_else(|e| panic!("{e}\n{out}"));
    ini.get_from(Some("s"), "k")
        .unwrap_or_else(|| panic!("no k in\n{out}"))
        .to_string()
}

#[test]
fn ini_positions() {
    run(
        Format::Ini,
        &[
            Case {
                template: "[s]\nk = \"clavitor://E/f\"\n",
                read: ini_k,
                expect: same,
                refuses: never,
            },
            Case {
                template: "[s]\nk = 'clavitor://E/f'\n",
                read: ini_k,
                expect: same,
                refuses: never,
            },
            Case {
                template: "[s]\nk = clavitor://E/f\n",
                read: ini_k,
                expect: same,
                refuses: never,
            },
            Case {
                template: "; clavitor://X/y\n[s]\nk: {{ clavitor://E/f }}  \r\nn=1\n",
                read: ini_k,
                expect: same,
                refuses: never,
            },
            Case {
                template: "[s]\nk = pre clavitor://E/f post\n",
                read: ini_k,
                expect: |v| format!("pre {v} post"),
                refuses: never,
            },
            Case {
                template: "[s]\nk = clavitor://E/f tail\n",
                read: ini_k,
                expect: |v| format!("{v} tail"),
                refuses: |v| v.is_empty() || v.starts_with(char::is_whitespace),
            },
            Case {
                template: "[s]\nk = \"a\"clavitor://E/f\n",
                read: ini_k,
                expect: |v| format!("a{v}"),
                refuses: |v| v.ends_with(char::is_whitespace),
            },
        ],
    );
}

// ---------- Raw ----------

#[test]
fn raw_is_verbatim() {
    for value in common::VALUES {
        let out = render(
            "x=clavitor://E/f;{{clavitor://E/f}}",
            Format::Raw,
            &mut one(value),
        )
        .unwrap();
        assert_eq!(out, format!("x={value};{value}"));
    }
}
