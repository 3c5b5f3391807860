#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Arbitrary Unicode values survive JSON, TOML and YAML round trips in every
//! position; reference scanning never panics.

mod common;

use clavitor_template::{Format, find_references, render};
use common::one;
use proptest::prelude::*;

fn json_k(out: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(out).unwrap();
    v["k"].as_str().unwrap().to_string()
}

fn toml_k(out: &str) -> String {
    let v: toml::Table = toml::from_str(out).unwrap();
    v["k"].as_str().unwrap().to_string()
}

fn yaml_k(out: &str) -> String {
    let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(out).unwrap();
    v["k"].as_str().unwrap().to_string()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn json_round_trip(value in any::<String>()) {
        for t in [r#"{"k": "clavitor://E/f"}"#, r#"{"k": clavitor://E/f}"#] {
            let out = render(t, Format::Json, &mut one(&value)).unwrap();
            prop_assert_eq!(json_k(&out), value.clone());
        }
    }

    #[test]
    fn toml_round_trip(value in any::<String>()) {
        for t in ["k = \"clavitor://E/f\"", "k = 'clavitor://E/f'", "k = clavitor://E/f", "k = \"\"\"\nclavitor://E/f\"\"\"", "k = '''\nclavitor://E/f'''"] {
            let out = render(t, Format::Toml, &mut one(&value)).unwrap();
            prop_assert_eq!(toml_k(&out), value.clone());
        }
    }

    #[test]
    fn yaml_round_trip(value in any::<String>()) {
        for t in ["k: \"clavitor://E/f\"\n", "k: 'clavitor://E/f'\n", "k: clavitor://E/f\n", "k: |\n  clavitor://E/f\n", "k: [clavitor://E/f]\n"] {
            let out = render(t, Format::Yaml, &mut one(&value)).unwrap();
            let got = if t.contains('[') {
                let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(&out).unwrap();
                v["k"][0].as_str().unwrap().to_string()
            } else {
                yaml_k(&out)
            };
            prop_assert_eq!(got, value.clone());
        }
    }

    #[test]
    fn env_and_ini_round_trip(value in "[^\u{0}]*") {
        let out = render("K=\"clavitor://E/f\"\n", Format::Env, &mut one(&value)).unwrap();
        let (_, got) = dotenvy::from_read_iter(out.as_bytes()).next().unwrap().unwrap();
        prop_assert_eq!(got, value.clone());
        let out = render("[s]\nk = clavitor://E/f\n", Format::Ini, &mut one(&value)).unwrap();
        let ini = ini::Ini::load_from_str(&out).unwrap();
        prop_assert_eq!(ini.get_from(Some("s"), "k").unwrap(), value.as_str());
    }

    #[test]
    fn render_never_panics(template in "(clavitor://E/f|\\{\\{ clavitor://E/f \\}\\}|[\"'\\\\#:=\\-\\[\\]{}|> \n\t,]|[a-z]|\\PC){0,40}", value in any::<String>()) {
        for format in Format::ALL {
            let _ = render(&template, format, &mut one(&value));
        }
    }

    #[test]
    fn find_references_never_panics(text in any::<String>()) {
        for found in find_references(&text) {
            prop_assert!(found.span.end <= text.len());
        }
    }
}
