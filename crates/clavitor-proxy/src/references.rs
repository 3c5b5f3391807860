//! Finding `clavitor://ENTRY/FIELD` references in header values, with the shared grammar of
//! [`clavitor_core::reference`] (DESIGN.md §9) plus the proxy's stricter rules:
//!
//! - any malformed reference refuses the whole request (CV-3009), so a broken reference is
//!   never forwarded as literal text;
//! - the scheme must be written in lower case: the core grammar accepts `Clavitor://` as a
//!   reference, but in a header the proxy treats a miscased scheme as malformed rather than
//!   guessing (a typo is refused, never resolved nor forwarded);
//! - a header value that is not valid UTF-8 but mentions the scheme is malformed.

use std::ops::Range;

use clavitor_core::Reference;
use clavitor_core::reference::{SCHEME, find_references as core_find};

/// One reference found in a header value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FoundRef {
    /// Byte range of the whole reference (braces included for the braced form).
    pub range: Range<usize>,
    pub reference: Reference,
}

/// A `clavitor://` that is not a well-formed reference.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Malformed;

/// Whether the text mentions the scheme at all (case-insensitive); cheap pre-check.
pub(crate) fn mentions_scheme(text: &[u8]) -> bool {
    text.windows(SCHEME.len())
        .any(|w| w.eq_ignore_ascii_case(SCHEME.as_bytes()))
}

/// Whether every case-insensitive occurrence of the scheme is written in lower case.
fn scheme_lower_case_everywhere(text: &[u8]) -> bool {
    text.windows(SCHEME.len())
        .filter(|w| w.eq_ignore_ascii_case(SCHEME.as_bytes()))
        .all(|w| w == SCHEME.as_bytes())
}

/// Every reference in `text`, in order. Any occurrence of the scheme (in any letter case)
/// that is not part of a well-formed, lower-case-scheme reference is an error.
pub(crate) fn find_references(text: &str) -> Result<Vec<FoundRef>, Malformed> {
    if !scheme_lower_case_everywhere(text.as_bytes()) {
        return Err(Malformed);
    }
    core_find(text)
        .into_iter()
        .map(|found| {
            found
                .result
                .map(|reference| FoundRef {
                    range: found.span,
                    reference,
                })
                .map_err(|_| Malformed)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(s: &str) -> Vec<(String, String, &str)> {
        find_references(s)
            .unwrap()
            .into_iter()
            .map(|r| (r.reference.entry, r.reference.field, &s[r.range]))
            .collect()
    }

    #[test]
    fn bare_and_braced() {
        assert_eq!(
            refs("Bearer clavitor://OpenAI/key"),
            vec![("OpenAI".into(), "key".into(), "clavitor://OpenAI/key")]
        );
        assert_eq!(
            refs("a=clavitor://Prod%20DB/password;b={{ clavitor://My API/v1/token }}"),
            vec![
                (
                    "Prod DB".into(),
                    "password".into(),
                    "clavitor://Prod%20DB/password"
                ),
                (
                    "My API/v1".into(),
                    "token".into(),
                    "{{ clavitor://My API/v1/token }}"
                ),
            ]
        );
        assert_eq!(refs("x clavitor://A/b,clavitor://C/d").len(), 2);
        assert!(refs("no reference {{ here }}").is_empty());
    }

    #[test]
    fn malformed_is_an_error() {
        for text in [
            "clavitor://NoField",
            "clavitor:///x",
            "clavitor://A/",
            "CLAVITOR://A/b",
            "Clavitor://A/b",
            "{{ CLAVITOR://A/b }}",
            "ok clavitor://A/b then cLavitor://C/d",
            "clavitor://A/%zz",
            "clavitor://A/%FF",
            "clavitor://Prod/DB/password",
            "{{ clavitor://A/b",
            "{{ clavitor://A }}",
        ] {
            assert_eq!(find_references(text), Err(Malformed), "{text}");
        }
        assert!(mentions_scheme(b"x Clavitor://y"));
        assert!(!mentions_scheme(b"clavitor:/x"));
    }
}
