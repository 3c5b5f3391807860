//! Finding `clavitor://ENTRY/FIELD` references in header values (DESIGN.md §9 grammar).
//!
//! Private stand-in until `clavitor_core::reference::find_references` exists: everything goes
//! through [`find_references`], so swapping the implementation is a one-function change.

use std::ops::Range;

const SCHEME: &str = "clavitor://";

/// One reference found in a text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FoundRef {
    /// Byte range of the whole reference (braces included for the braced form).
    pub range: Range<usize>,
    pub entry: String,
    pub field: String,
}

/// A `clavitor://` that is not a well-formed reference.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Malformed;

/// Whether the text mentions the scheme at all (case-insensitive); cheap pre-check.
pub(crate) fn mentions_scheme(text: &[u8]) -> bool {
    text.windows(SCHEME.len())
        .any(|w| w.eq_ignore_ascii_case(SCHEME.as_bytes()))
}

/// Every reference in `text`, in order. Any occurrence of the scheme (in any letter case)
/// that is not part of a well-formed reference is an error, so a broken reference is never
/// forwarded as literal text.
pub(crate) fn find_references(text: &str) -> Result<Vec<FoundRef>, Malformed> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        if bytes[pos..].starts_with(b"{{")
            && let Some(r) = braced(text, pos)
        {
            pos = r.range.end;
            found.push(r);
            continue;
        }
        if bytes.len() - pos >= SCHEME.len()
            && bytes[pos..pos + SCHEME.len()].eq_ignore_ascii_case(SCHEME.as_bytes())
        {
            if !bytes[pos..].starts_with(SCHEME.as_bytes()) {
                return Err(Malformed);
            }
            let r = bare(text, pos).ok_or(Malformed)?;
            pos = r.range.end;
            found.push(r);
            continue;
        }
        pos += 1;
    }
    Ok(found)
}

fn braced(text: &str, start: usize) -> Option<FoundRef> {
    let inner_start = start + 2;
    let close = text[inner_start..].find("}}")? + inner_start;
    let inner = text[inner_start..close].trim();
    let raw = inner.strip_prefix(SCHEME)?;
    let (entry, field) = raw.rsplit_once('/')?;
    let (entry, field) = (entry.trim(), field.trim());
    if entry.is_empty() || field.is_empty() {
        return None;
    }
    Some(FoundRef {
        range: start..close + 2,
        entry: entry.to_owned(),
        field: field.to_owned(),
    })
}

fn bare(text: &str, start: usize) -> Option<FoundRef> {
    let bytes = text.as_bytes();
    let mut pos = start + SCHEME.len();
    let (entry, next) = segment(bytes, pos)?;
    pos = next;
    if bytes.get(pos) != Some(&b'/') {
        return None;
    }
    let (field, end) = segment(bytes, pos + 1)?;
    Some(FoundRef {
        range: start..end,
        entry,
        field,
    })
}

/// One percent-decoded run of unreserved characters or `%XX` escapes (non-empty).
fn segment(bytes: &[u8], mut pos: usize) -> Option<(String, usize)> {
    let mut out = Vec::new();
    while let Some(&b) = bytes.get(pos) {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b);
            pos += 1;
        } else if b == b'%' {
            let hex = bytes.get(pos + 1..pos + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            pos += 3;
        } else {
            break;
        }
    }
    if out.is_empty() {
        return None;
    }
    Some((String::from_utf8(out).ok()?, pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(s: &str) -> Vec<(String, String, &str)> {
        find_references(s)
            .unwrap()
            .into_iter()
            .map(|r| (r.entry, r.field, &s[r.range]))
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
        assert_eq!(find_references("clavitor://NoField"), Err(Malformed));
        assert_eq!(find_references("clavitor:///x"), Err(Malformed));
        assert_eq!(find_references("CLAVITOR://A/b"), Err(Malformed));
        assert_eq!(find_references("clavitor://A/%zz"), Err(Malformed));
        assert!(mentions_scheme(b"x Clavitor://y"));
    }
}
