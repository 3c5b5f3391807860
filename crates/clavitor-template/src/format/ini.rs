//! INI as read by `rust-ini` with default options (quotes and `\` escapes on, no
//! inline comments, `=` or `:` between key and value).
//!
//! * Inside a `"…"` or `'…'` part of a value: escaped in place (`\\ \" \' \n \t \r
//!   \0 \a \b`, other control characters as `\xHHHH`), so newlines are fine.
//! * A reference that is the whole unquoted value becomes a `"…"` value (so leading
//!   and trailing spaces survive the parser's trimming).
//! * Unquoted with other text: escaped in place; a value with leading (trailing)
//!   whitespace where the reference starts (ends) the value would be trimmed: error.
//! * References in section names or keys are errors; comment lines are left alone.

use crate::plan::Lexer;

use super::hex;

pub(crate) fn plan(lx: &mut Lexer<'_>) {
    let mut pos = 0;
    while pos < lx.b.len() {
        pos = line(lx, pos);
    }
}

fn skip_blank(lx: &Lexer<'_>, mut pos: usize) -> usize {
    while matches!(lx.byte(pos), Some(b' ' | b'\t')) {
        pos += 1;
    }
    pos
}

fn line(lx: &mut Lexer<'_>, start: usize) -> usize {
    let pos = skip_blank(lx, start);
    if lx.ref_at(pos).is_none() {
        match lx.byte(pos) {
            None => return pos,
            Some(b'\n' | b'\r') => return pos + 1,
            Some(b';' | b'#') => return lx.skip_comment(pos) + 1,
            Some(b'[') => {
                let end = lx.line_end(pos);
                lx.error_all(pos..end, "in a section name");
                return end + 1;
            }
            _ => {}
        }
    }
    // The key runs to the first `=` or `:`; `\` escapes the next character.
    let mut p = pos;
    loop {
        if let Some(i) = lx.ref_at(p) {
            lx.error(i, "in a key name");
            p = lx.span(i).end;
            continue;
        }
        match lx.byte(p) {
            None | Some(b'\n') => return p + 1,
            Some(b'=' | b':') => break,
            Some(b'\\') => p += 2,
            Some(_) => p += 1,
        }
    }
    value(lx, skip_blank(lx, p + 1))
}

/// Scans the value starting at `start` (blanks skipped); returns the next line start.
fn value(lx: &mut Lexer<'_>, start: usize) -> usize {
    let mut pos = start;
    let mut first_part = true;
    loop {
        let quote = lx
            .byte(pos)
            .filter(|&b| (b == b'"' || b == b'\'') && lx.ref_at(pos).is_none());
        if let Some(q) = quote {
            pos = quoted_part(lx, pos + 1, q);
            first_part = false;
            continue;
        }
        return unquoted_part(lx, pos, first_part);
    }
}

/// A quoted part from just after its quote `q`; returns the index after the close.
fn quoted_part(lx: &mut Lexer<'_>, mut pos: usize, q: u8) -> usize {
    while pos < lx.b.len() {
        if let Some(i) = lx.ref_at(pos) {
            lx.edit_ref(i, Box::new(|v| Ok(escape(v))));
            pos = lx.span(i).end;
            continue;
        }
        match lx.b[pos] {
            b'\\' if lx.ref_at(pos + 1).is_none() => pos += 2,
            b if b == q => return pos + 1,
            _ => pos += 1,
        }
    }
    pos
}

/// The unquoted rest of the value line (continued by `\` + newline); returns the
/// next line start.
fn unquoted_part(lx: &mut Lexer<'_>, start: usize, first_part: bool) -> usize {
    let mut pos = start;
    let mut refs = Vec::new();
    loop {
        if let Some(i) = lx.ref_at(pos) {
            refs.push(i);
            pos = lx.span(i).end;
            continue;
        }
        match lx.byte(pos) {
            None | Some(b'\n' | b'\r') => break,
            Some(b'\\') if lx.ref_at(pos + 1).is_none() => pos += 2,
            Some(_) => pos += 1,
        }
    }
    let end = pos.min(lx.b.len());
    let text_end = start + lx.text[start..end].trim_end().len();
    for i in refs {
        let span = lx.span(i);
        let at_start = first_part && span.start == start;
        let at_end = span.end == text_end;
        // An empty value would expose the template's own neighbouring blank to
        // the parser's trimming.
        let blank = |b: Option<u8>| matches!(b, Some(b' ' | b'\t'));
        let blank_after = blank(lx.byte(span.end));
        let blank_before = span.start.checked_sub(1).is_some_and(|p| blank(lx.byte(p)));
        if at_start && at_end {
            lx.edit_ref(i, Box::new(|v| Ok(format!("\"{}\"", escape(v)))));
        } else {
            lx.edit_ref(
                i,
                Box::new(move |v| {
                    if at_start && (v.starts_with(char::is_whitespace) || (v.is_empty() && blank_after)) {
                        Err("the value starts with whitespace, which INI trims here: quote the whole value".into())
                    } else if at_end && (v.ends_with(char::is_whitespace) || (v.is_empty() && blank_before)) {
                        Err("the value ends with whitespace, which INI trims here: quote the whole value".into())
                    } else {
                        Ok(escape(v))
                    }
                }),
            );
        }
    }
    match lx.byte(end) {
        Some(b'\r') if lx.byte(end + 1) == Some(b'\n') => end + 2,
        _ => end + 1,
    }
}

/// Escapes for rust-ini: `\` followed by any other character yields that character,
/// so quotes are escaped everywhere; `\xHHHH` (exactly four hex digits) covers the
/// control characters that have no letter escape.
pub(crate) fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            c if c.is_control() => {
                out.push_str("\\x");
                out.push_str(&hex(c, 4));
            }
            c => out.push(c),
        }
    }
    out
}
