//! JSON: a reference inside a string is JSON-escaped into it; a reference standing
//! alone as a value (or key) outside any string becomes a quoted JSON string. A
//! reference glued to other text outside a string is an error.

use crate::plan::{Lexer, is_space};

use super::hex;

pub(crate) fn plan(lx: &mut Lexer<'_>) {
    let mut in_string = false;
    let mut pos = 0;
    while pos < lx.b.len() {
        if let Some(i) = lx.ref_at(pos) {
            let span = lx.span(i);
            if in_string {
                lx.edit_ref(i, Box::new(|v| Ok(escape(v))));
            } else if standalone(lx, span.clone()) {
                lx.edit_ref(i, Box::new(|v| Ok(quoted(v))));
            } else {
                lx.error(
                    i,
                    "outside a JSON string and glued to other text: put it inside \"…\"",
                );
            }
            pos = span.end;
            continue;
        }
        match lx.b[pos] {
            // Skip the escaped byte, unless a reference starts there (then the
            // template is broken anyway, but the reference must still be handled).
            b'\\' if in_string && lx.ref_at(pos + 1).is_none() => pos += 2,
            b'"' => {
                in_string = !in_string;
                pos += 1;
            }
            _ => pos += 1,
        }
    }
}

/// Bounded by whitespace or JSON punctuation on both sides.
fn standalone(lx: &Lexer<'_>, span: std::ops::Range<usize>) -> bool {
    let before = span.start.checked_sub(1).and_then(|p| lx.byte(p));
    let after = lx.byte(span.end);
    before.is_none_or(|b| is_space(b) || matches!(b, b'[' | b'{' | b',' | b':'))
        && after.is_none_or(|b| is_space(b) || matches!(b, b']' | b'}' | b',' | b':'))
}

/// JSON string content (RFC 8259): quote, backslash and control characters escaped.
pub(crate) fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => {
                out.push_str("\\u");
                out.push_str(&hex(c, 4));
            }
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn quoted(v: &str) -> String {
    format!("\"{}\"", escape(v))
}
