#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
//! Shared helpers: adversarial values and test resolvers.

use clavitor_core::{ErrorCode, Secret};
use clavitor_template::{Reference, ResolveError};

pub const PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\\nkqhkiG9w0B+/=\nAQEFAASC\n-----END PRIVATE KEY-----\n";

pub const VALUES: &[&str] = &[
    "plain-S3cret",
    "\"",
    "'",
    "\\",
    "\\n literally",
    PEM,
    "#not a comment",
    "a # b",
    "$HOME",
    "${HOME}x",
    "a: b",
    "- item",
    "%s %d",
    "a;b ; c",
    "tab\there",
    "\t",
    "ctl\u{1}\u{7}\u{1b}\u{7f}",
    "é漢字🔑",
    "  leading and trailing  ",
    " ",
    "",
    "\r\n",
    "mixed \"'\\ $x #y: z",
    "{{ clavitor://x/y }}",
    "null",
    "true",
    "123",
    "[a, b]",
    "{a: b}",
    "'quoted'",
    "\"dq\"",
    "line1\nline2",
    "trailing newline\n",
    "\u{85}\u{2028}\u{feff}",
];

/// A resolver answering `value` for `clavitor://E/f` (any spelling of E/f) and
/// CV-2041 for anything else.
pub fn one(value: &str) -> impl FnMut(&Reference) -> Result<Secret, ResolveError> + '_ {
    move |r: &Reference| {
        if r.entry == "E" && r.field == "f" {
            Ok(Secret::new(value))
        } else {
            Err(ErrorCode::AccessDenied.into())
        }
    }
}

pub fn show(v: &str) -> String {
    format!("{v:?}")
}
