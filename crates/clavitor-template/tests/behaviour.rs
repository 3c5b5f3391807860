#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Render semantics beyond escaping: failures, names, resolution, formats, headers.

mod common;

use std::path::Path;

use clavitor_core::{ErrorCode, Secret};
use clavitor_template::{
    FailureKind, Format, HeaderError, Reference, ReferenceError, ResolveError, contains_reference,
    detect_format, render, substitute_header_value,
};
use common::one;

/// Resolves a fixed table; counts calls.
struct Table {
    entries: Vec<(&'static str, &'static str, &'static str)>,
    calls: usize,
}

impl clavitor_template::Resolver for Table {
    fn resolve(&mut self, r: &Reference) -> Result<Secret, ResolveError> {
        self.calls += 1;
        self.entries
            .iter()
            .find(|(e, f, _)| *e == r.entry && *f == r.field)
            .map(|(_, _, v)| Secret::new(*v))
            .ok_or_else(|| ErrorCode::AccessDenied.into())
    }
}

fn table() -> Table {
    Table {
        entries: vec![
            ("Prod DB", "password", "pw-1"),
            ("R&D: \"Lab\" 'X'", "api key", "pw-2"),
            ("Café/Überweisung", "token", "pw-3"),
            ("GitHub", "password", "gh\"pw"),
        ],
        calls: 0,
    }
}

#[test]
fn two_references_on_one_line_and_names_in_both_forms() {
    let template = concat!(
        "{\"a\": \"clavitor://Prod%20DB/password:{{ clavitor://R&D: \\\"Lab\\\" 'X'/api key }}\",\n",
        " \"b\": \"clavitor://R%26D%3A%20%22Lab%22%20%27X%27/api%20key\",\n",
        " \"c\": [clavitor://Caf%C3%A9%2F%C3%9Cberweisung/token, {{ clavitor://Café/Überweisung/token }}]}"
    );
    let mut t = table();
    // The braced name inside a JSON string is raw: the JSON escapes `\"` are part of
    // the name as written, so it does not match; use a name without quotes there.
    let err = render(template, Format::Json, &mut t).unwrap_err();
    assert_eq!(err.failures.len(), 1);
    assert_eq!(err.failures[0].line, 1);

    let template = concat!(
        "{\"a\": \"clavitor://Prod%20DB/password:{{ clavitor://Prod DB/password }}\",\n",
        " \"b\": \"clavitor://R%26D%3A%20%22Lab%22%20%27X%27/api%20key\",\n",
        " \"c\": [clavitor://Caf%C3%A9%2F%C3%9Cberweisung/token, {{ clavitor://Café/Überweisung/token }}]}"
    );
    let mut t = table();
    let out = render(template, Format::Json, &mut t).unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["a"], "pw-1:pw-1");
    assert_eq!(v["b"], "pw-2");
    assert_eq!(v["c"][0], "pw-3");
    assert_eq!(v["c"][1], "pw-3");
    // Each distinct reference is resolved once.
    assert_eq!(t.calls, 3);
}

#[test]
fn braced_names_with_quotes_in_yaml_and_raw() {
    let mut t = table();
    let out = render(
        "k: {{ clavitor://R&D: \"Lab\" 'X'/api key }}\n",
        Format::Yaml,
        &mut t,
    )
    .unwrap();
    let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(&out).unwrap();
    assert_eq!(v["k"], "pw-2");
    let out = render("{{clavitor://GitHub/password}}", Format::Raw, &mut table()).unwrap();
    assert_eq!(out, "gh\"pw");
}

#[test]
fn all_failures_are_listed_and_nothing_is_returned() {
    let template = "{\n  \"a\": \"clavitor://GitHub/password\",\n  \"b\": \"clavitor://Stripe/key\",\n  \"c\": \"clavitor://GitHub\",\n  \"d\": xclavitor://GitHub/password,\n  \"e\": \"clavitor://Nope/x\"\n}";
    let mut t = table();
    let err = render(template, Format::Json, &mut t).unwrap_err();
    let lines: Vec<usize> = err.failures.iter().map(|f| f.line).collect();
    assert_eq!(lines, vec![3, 4, 5, 6]);
    assert!(matches!(&err.failures[0].kind, FailureKind::Unresolved(e) if e.code == "CV-2041"));
    assert_eq!(
        err.failures[1].kind,
        FailureKind::Reference(ReferenceError::MissingField)
    );
    assert!(matches!(err.failures[2].kind, FailureKind::Misplaced(_)));
    assert_eq!(err.failures[3].reference, "clavitor://Nope/x");
    let text = err.to_string();
    assert!(
        text.contains("line 3, column 9: clavitor://Stripe/key: CV-2041: Access denied."),
        "{text}"
    );
    assert!(!text.contains("gh\"pw"), "a value leaked: {text}");
    assert_eq!(text.lines().count(), 4);
}

#[test]
fn unrepresentable_errors_name_the_line_not_the_value() {
    let err = render(
        "A=1\nK=\"clavitor://E/f\"\n",
        Format::Env,
        &mut one("nul\0inside-canary"),
    )
    .unwrap_err();
    assert_eq!(err.failures.len(), 1);
    assert_eq!(err.failures[0].line, 2);
    assert!(matches!(
        err.failures[0].kind,
        FailureKind::Unrepresentable(_)
    ));
    assert!(!err.to_string().contains("canary"));
}

#[test]
fn misplaced_references_are_errors_and_not_resolved() {
    let cases = [
        (Format::Json, "{\"a\": clavitor://E/f+x}"),
        (Format::Json, "{\"a\": 1clavitor://E/f}"),
        (Format::Toml, "a = xclavitor://E/f"),
        (Format::Env, "clavitor://E/f=1"),
        (Format::Env, "K=a clavitor://E/f"),
        (Format::Env, "K=\"a\"clavitor://E/f"),
        (Format::Env, "just text clavitor://E/f"),
        (Format::Ini, "[clavitor://E/f]\nk=1"),
        (Format::Ini, "[s]\nclavitor://E/f = 1"),
        (Format::Yaml, "k: clavitor://E/f\n  continued\n"),
        (Format::Yaml, "k: [a, clavitor://E/f\n  b]\n"),
    ];
    for (format, template) in cases {
        let mut calls = 0;
        let mut resolver = |_: &Reference| {
            calls += 1;
            Ok(Secret::new("v"))
        };
        let err = render(template, format, &mut resolver).unwrap_err();
        assert!(
            err.failures
                .iter()
                .all(|f| matches!(f.kind, FailureKind::Misplaced(_))),
            "{format} {template:?}: {err:?}"
        );
        assert_eq!(calls, 0, "{format} {template:?}");
    }
}

#[test]
fn comments_are_left_alone() {
    let cases = [
        (Format::Yaml, "# clavitor://X/y\nk: 1 # clavitor://X/y\n"),
        (Format::Toml, "# clavitor://X/y\nk = 1 # clavitor://X/y\n"),
        (Format::Env, "# clavitor://X/y\nK=1 # clavitor://X/y\n"),
        (
            Format::Ini,
            "; clavitor://X/y\n# clavitor://X/y\n[s]\nk=1\n",
        ),
    ];
    for (format, template) in cases {
        let mut resolver =
            |_: &Reference| -> Result<Secret, ResolveError> { panic!("resolved a comment") };
        assert_eq!(render(template, format, &mut resolver).unwrap(), template);
    }
}

#[test]
fn text_without_references_is_unchanged() {
    for format in Format::ALL {
        let text = "{\"a\": \"b\"}\n# c\nk = 'v'\n";
        let mut resolver =
            |_: &Reference| -> Result<Secret, ResolveError> { panic!("no reference") };
        assert_eq!(render(text, format, &mut resolver).unwrap(), text);
    }
}

#[test]
fn formats_by_name() {
    let cases = [
        ("app.config.json", Format::Json),
        ("x/APP.JSON", Format::Json),
        ("a.yaml", Format::Yaml),
        ("a.yml", Format::Yaml),
        ("Cargo.toml", Format::Toml),
        (".env", Format::Env),
        (".env.local", Format::Env),
        ("prod.env", Format::Env),
        ("setup.cfg", Format::Ini),
        ("php.ini", Format::Ini),
        ("nginx.conf", Format::Ini),
        ("app.json.tpl", Format::Json),
        (".env.tmpl", Format::Env),
        ("README", Format::Raw),
        ("notes.txt", Format::Raw),
        ("", Format::Raw),
    ];
    for (path, want) in cases {
        assert_eq!(detect_format(Path::new(path)), want, "{path}");
    }
    for format in Format::ALL {
        assert_eq!(format.name().parse::<Format>().unwrap(), format);
    }
    assert!("xml".parse::<Format>().is_err());
}

#[test]
fn header_values() {
    let mut t = table();
    assert_eq!(
        substitute_header_value("Bearer clavitor://GitHub/password", &mut t).unwrap(),
        "Bearer gh\"pw"
    );
    assert_eq!(
        substitute_header_value(
            "{{ clavitor://Prod DB/password }}:clavitor://Prod%20DB/password",
            &mut t
        )
        .unwrap(),
        "pw-1:pw-1"
    );
    assert_eq!(t.calls, 2);
    assert!(contains_reference("x Clavitor://a/b"));
    assert!(!contains_reference("Bearer abc"));
    assert!(matches!(
        substitute_header_value("Bearer clavitor://GitHub", &mut table()),
        Err(HeaderError::BadReference {
            error: ReferenceError::MissingField,
            ..
        })
    ));
    assert!(matches!(
        substitute_header_value("clavitor://Stripe/key", &mut table()),
        Err(HeaderError::Unresolved { .. })
    ));
    for bad in ["a\r\nX-Evil: 1", "a\nb", "a\0", "a\tb", "\u{7f}", "\u{85}"] {
        let err = substitute_header_value("Bearer clavitor://E/f", &mut one(bad)).unwrap_err();
        assert_eq!(
            err,
            HeaderError::UnsafeValue {
                reference: "clavitor://E/f".into()
            }
        );
        assert!(!err.to_string().contains(bad));
    }
    assert_eq!(
        substitute_header_value("k=clavitor://E/f", &mut one("é漢字 \"x\"")).unwrap(),
        "k=é漢字 \"x\""
    );
}
