//! The `clavitor://ENTRY/FIELD` reference grammar (DESIGN.md §9).
//!
//! Two written forms exist:
//!
//! * **Bare**: `clavitor://Prod%20DB/password`. ENTRY and FIELD are made of RFC 3986
//!   unreserved characters (`A-Z a-z 0-9 - . _ ~`) and `%XX` escapes, decoded as UTF-8
//!   (`%2F` writes a slash inside a name). The reference ends at the first other
//!   character. A bad escape or invalid UTF-8 is an error.
//! * **Braced**: `{{ clavitor://Prod DB/password }}`. Whitespace just inside the braces
//!   is optional. The text is taken raw (no percent decoding): the field is what follows
//!   the *last* `/`, the entry is everything before it, both trimmed of surrounding
//!   whitespace (names are matched trimmed anyway). The braced form must close on the
//!   same line; the name cannot contain `}}`.
//!
//! Decisions that apply to every caller (render and proxy header injection alike):
//!
//! * A field is always named: `clavitor://GitHub` is an error, never "the default field".
//! * The scheme is matched ASCII case-insensitively (`Clavitor://` is a reference too),
//!   so a mistyped case never leaks a reference name to an upstream unresolved.
//! * A bare reference directly followed by `/` (`clavitor://Prod/DB/password`) is an
//!   error rather than a reference to entry `Prod`, field `DB`: it is almost surely a
//!   name with an unencoded slash, and guessing would resolve the wrong secret.
//! * References are found anywhere in the text, even glued to a preceding word.

use std::fmt;
use std::ops::Range;

/// The scheme prefix, lowercase.
pub const SCHEME: &str = "clavitor://";

/// A parsed reference to one field of one entry, names as written (not normalised).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    pub entry: String,
    pub field: String,
}

/// Why a reference could not be parsed. Messages name no secret (references hold
/// only names) and are stable enough to show to a user.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("not a reference: it must start with `clavitor://`")]
    NotAReference,
    #[error("the reference names no entry")]
    EmptyEntry,
    #[error("the reference names no field: write `clavitor://ENTRY/FIELD`")]
    MissingField,
    #[error("the reference names an empty field")]
    EmptyField,
    #[error("bad percent escape: `%` must be followed by two hexadecimal digits")]
    BadEscape,
    #[error("percent escapes do not decode to valid UTF-8")]
    InvalidUtf8,
    #[error(
        "a bare reference cannot continue with `/`: write `%2F` for a slash inside a name, or use the braced form `{{{{ clavitor://ENTRY/FIELD }}}}`"
    )]
    SlashAfterField,
    #[error("braced reference not closed by `}}}}` on the same line")]
    Unterminated,
    #[error("unexpected text after the reference")]
    TrailingText,
}

/// How a reference was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    Bare,
    Braced,
}

/// One occurrence found by [`find_references`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// Byte range in the scanned text covering the whole written reference (for the
    /// braced form, the braces included). Replacing this range substitutes the value.
    pub span: Range<usize>,
    pub form: Form,
    pub result: Result<Reference, ReferenceError>,
}

impl Reference {
    pub fn new(entry: impl Into<String>, field: impl Into<String>) -> Self {
        Reference {
            entry: entry.into(),
            field: field.into(),
        }
    }

    /// Parses exactly one reference, bare or braced, occupying the whole string.
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        let Some(first) = find_references(s).into_iter().next() else {
            return Err(ReferenceError::NotAReference);
        };
        if first.span.start != 0 {
            return Err(ReferenceError::NotAReference);
        }
        let reference = first.result?;
        if first.span.end != s.len() {
            return Err(ReferenceError::TrailingText);
        }
        Ok(reference)
    }

    /// The bare form, percent-encoding every byte that is not unreserved, so that
    /// [`Reference::parse`] gives back the same reference (for non-empty names).
    pub fn to_bare_string(&self) -> String {
        let mut out = String::with_capacity(SCHEME.len() + self.entry.len() + self.field.len() + 1);
        out.push_str(SCHEME);
        percent_encode_into(&self.entry, &mut out);
        out.push('/');
        percent_encode_into(&self.field, &mut out);
        out
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_bare_string())
    }
}

impl std::str::FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

/// RFC 3986 unreserved characters.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn percent_encode_into(name: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in name.as_bytes() {
        if is_unreserved(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Finds every reference in `text`, in order, bare and braced. Never panics; malformed
/// occurrences are reported with an error and a span covering what was consumed, so
/// that callers can point at them.
pub fn find_references(text: &str) -> Vec<Found> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut pos = 0;
    while let Some(start) = find_scheme(bytes, pos) {
        let after_scheme = start + SCHEME.len();
        let item = match braced_opening(bytes, start) {
            Some(open) => scan_braced(text, open, after_scheme),
            None => scan_bare(bytes, start, after_scheme),
        };
        // Always make progress, even on an empty error span.
        pos = item.span.end.max(after_scheme);
        found.push(item);
    }
    found
}

/// Next ASCII-case-insensitive occurrence of the scheme at or after `from`.
fn find_scheme(bytes: &[u8], from: usize) -> Option<usize> {
    let needle = SCHEME.as_bytes();
    if bytes.len() < needle.len() {
        return None;
    }
    (from..=bytes.len() - needle.len())
        .find(|&i| bytes[i..i + needle.len()].eq_ignore_ascii_case(needle))
}

/// If the scheme at `scheme_start` is preceded by `{{` and optional spaces/tabs,
/// the index of the first `{`.
fn braced_opening(bytes: &[u8], scheme_start: usize) -> Option<usize> {
    let mut i = scheme_start;
    while i > 0 && matches!(bytes[i - 1], b' ' | b'\t') {
        i -= 1;
    }
    (i >= 2 && bytes[i - 1] == b'{' && bytes[i - 2] == b'{').then(|| i - 2)
}

fn scan_braced(text: &str, open: usize, body_start: usize) -> Found {
    let rest = &text[body_start..];
    let line_end = rest.find(['\n', '\r']).unwrap_or(rest.len());
    let line = &rest[..line_end];
    let Some(close) = line.find("}}") else {
        return Found {
            span: open..body_start + line_end,
            form: Form::Braced,
            result: Err(ReferenceError::Unterminated),
        };
    };
    let body = line[..close].trim();
    let result = match body.rfind('/') {
        None if body.is_empty() => Err(ReferenceError::EmptyEntry),
        None => Err(ReferenceError::MissingField),
        Some(slash) => {
            let entry = body[..slash].trim();
            let field = body[slash + 1..].trim();
            if entry.is_empty() {
                Err(ReferenceError::EmptyEntry)
            } else if field.is_empty() {
                Err(ReferenceError::EmptyField)
            } else {
                Ok(Reference::new(entry, field))
            }
        }
    };
    Found {
        span: open..body_start + close + 2,
        form: Form::Braced,
        result,
    }
}

fn scan_bare(bytes: &[u8], start: usize, after_scheme: usize) -> Found {
    let done = |end: usize, result| Found {
        span: start..end,
        form: Form::Bare,
        result,
    };
    let (entry, end) = match scan_bare_name(bytes, after_scheme) {
        Ok(ok) => ok,
        Err((end, e)) => return done(end, Err(e)),
    };
    if entry.is_empty() {
        // `clavitor:///x` or a scheme followed by nothing usable.
        return done(end, Err(ReferenceError::EmptyEntry));
    }
    if bytes.get(end) != Some(&b'/') {
        return done(end, Err(ReferenceError::MissingField));
    }
    let (field, end) = match scan_bare_name(bytes, end + 1) {
        Ok(ok) => ok,
        Err((end, e)) => return done(end, Err(e)),
    };
    if field.is_empty() {
        return done(end, Err(ReferenceError::EmptyField));
    }
    if bytes.get(end) == Some(&b'/') {
        return done(end + 1, Err(ReferenceError::SlashAfterField));
    }
    done(end, Ok(Reference { entry, field }))
}

/// Reads one percent-encoded name starting at `i`; returns it decoded and the index
/// just past it, or the index reached and the error.
fn scan_bare_name(bytes: &[u8], mut i: usize) -> Result<(String, usize), (usize, ReferenceError)> {
    let mut decoded = Vec::new();
    loop {
        match bytes.get(i) {
            Some(&b) if is_unreserved(b) => {
                decoded.push(b);
                i += 1;
            }
            Some(b'%') => {
                let hi = bytes.get(i + 1).copied().and_then(hex_value);
                let lo = bytes.get(i + 2).copied().and_then(hex_value);
                match (hi, lo) {
                    (Some(hi), Some(lo)) => {
                        decoded.push(hi << 4 | lo);
                        i += 3;
                    }
                    // Cover the `%` and any hex digit that was there, never split a
                    // multi-byte character (non-ASCII bytes are not hex digits).
                    (Some(_), None) => return Err((i + 2, ReferenceError::BadEscape)),
                    _ => return Err((i + 1, ReferenceError::BadEscape)),
                }
            }
            _ => break,
        }
    }
    String::from_utf8(decoded)
        .map(|s| (s, i))
        .map_err(|_| (i, ReferenceError::InvalidUtf8))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn r(e: &str, f: &str) -> Reference {
        Reference::new(e, f)
    }

    #[test]
    fn parses_bare() {
        assert_eq!(
            Reference::parse("clavitor://OpenAI/key"),
            Ok(r("OpenAI", "key"))
        );
        assert_eq!(
            Reference::parse("clavitor://Prod%20DB/pass%2fword"),
            Ok(r("Prod DB", "pass/word"))
        );
        assert_eq!(
            Reference::parse("CLAVITOR://Caf%C3%A9/x~y_z-1.2"),
            Ok(r("Café", "x~y_z-1.2"))
        );
    }

    #[test]
    fn parses_braced() {
        assert_eq!(
            Reference::parse("{{ clavitor://Prod DB/password }}"),
            Ok(r("Prod DB", "password"))
        );
        assert_eq!(
            Reference::parse("{{clavitor://A/B: \"x\" & y/%20}}"),
            Ok(r("A/B: \"x\" & y", "%20"))
        );
        assert_eq!(
            Reference::parse("{{\tclavitor://Été d'or / mot de passe \t}}"),
            Ok(r("Été d'or", "mot de passe"))
        );
    }

    #[test]
    fn errors() {
        use ReferenceError::*;
        let cases = [
            ("clavitor://GitHub", MissingField),
            ("clavitor://GitHub/", EmptyField),
            ("clavitor:///key", EmptyEntry),
            ("clavitor://", EmptyEntry),
            ("clavitor://a%2/b", BadEscape),
            ("clavitor://a%zz/b", BadEscape),
            ("clavitor://a%/b", BadEscape),
            ("clavitor://a%FF/b", InvalidUtf8),
            ("clavitor://a/b/c", SlashAfterField),
            ("clavitor://a/b c", TrailingText),
            ("x clavitor://a/b", NotAReference),
            ("", NotAReference),
            ("{{ clavitor://a/b", Unterminated),
            ("{{ clavitor://GitHub }}", MissingField),
            ("{{ clavitor:// /x }}", EmptyEntry),
            ("{{ clavitor://x/ }}", EmptyField),
            ("{{ clavitor:// }}", EmptyEntry),
        ];
        for (input, want) in cases {
            assert_eq!(Reference::parse(input), Err(want), "{input}");
        }
    }

    #[test]
    fn scans_mixed_text() {
        let text = "Bearer clavitor://OpenAI/key, {{ clavitor://Prod DB/pw }} and clavitor://x.";
        let found = find_references(text);
        assert_eq!(found.len(), 3);
        assert_eq!(&text[found[0].span.clone()], "clavitor://OpenAI/key");
        assert_eq!(found[0].result, Ok(r("OpenAI", "key")));
        assert_eq!(&text[found[1].span.clone()], "{{ clavitor://Prod DB/pw }}");
        assert_eq!(found[1].form, Form::Braced);
        assert_eq!(found[2].result, Err(ReferenceError::MissingField));
        assert_eq!(&text[found[2].span.clone()], "clavitor://x.");
    }

    #[test]
    fn unterminated_braced_stops_at_line_end() {
        let text = "a {{ clavitor://x/y\nclavitor://b/c";
        let found = find_references(text);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].result, Err(ReferenceError::Unterminated));
        assert_eq!(found[0].span, 2..19);
        assert_eq!(found[1].result, Ok(r("b", "c")));
    }

    #[test]
    fn display_is_bare() {
        assert_eq!(
            r("Prod DB/1", "pass wörd").to_string(),
            "clavitor://Prod%20DB%2F1/pass%20w%C3%B6rd"
        );
    }

    proptest! {
        #[test]
        fn bare_round_trip(entry in "\\PC+|.+", field in ".+") {
            let reference = r(&entry, &field);
            prop_assert_eq!(Reference::parse(&reference.to_bare_string()), Ok(reference));
        }

        #[test]
        fn scanner_never_panics(text in "(clavitor://|\\{\\{|\\}\\}|%|/|[a-z]|\\PC|\\s){0,40}") {
            for found in find_references(&text) {
                prop_assert!(found.span.start < found.span.end);
                prop_assert!(text.is_char_boundary(found.span.start));
                prop_assert!(text.is_char_boundary(found.span.end));
                prop_assert!(found.span.end <= text.len());
            }
        }

        #[test]
        fn scanner_never_panics_on_any_string(text in any::<String>()) {
            let _ = find_references(&text);
        }

        #[test]
        fn spans_are_ordered(text in "(clavitor://|\\{\\{ |\\}\\}|%2|/|a| ){0,30}") {
            let found = find_references(&text);
            for pair in found.windows(2) {
                prop_assert!(pair[0].span.end <= pair[1].span.start);
            }
        }
    }
}
