//! TOML: basic strings (`"…"`, `"""…"""`) get TOML escapes in place; a literal
//! string (`'…'`, `'''…'''`) stays literal when the value fits, and is otherwise
//! rewritten whole as a basic string (same decoded text around the value); a
//! reference standing alone as a value, array item or key becomes a basic string.
//! References in comments are left alone. Nothing is unrepresentable in TOML.

use crate::plan::{Lexer, Part, is_space};

use super::hex;

pub(crate) fn plan(lx: &mut Lexer<'_>) {
    let mut pos = 0;
    while pos < lx.b.len() {
        if let Some(i) = lx.ref_at(pos) {
            let span = lx.span(i);
            if standalone(lx, span.clone()) {
                lx.edit_ref(i, Box::new(|v| Ok(quoted(v))));
            } else {
                lx.error(
                    i,
                    "outside a TOML string and glued to other text: put it inside \"…\"",
                );
            }
            pos = span.end;
            continue;
        }
        pos = match lx.b[pos] {
            b'#' => lx.skip_comment(pos),
            b'"' if lx.b[pos..].starts_with(b"\"\"\"") => basic(lx, pos + 3, true),
            b'"' => basic(lx, pos + 1, false),
            b'\'' if lx.b[pos..].starts_with(b"'''") => multi_literal(lx, pos),
            b'\'' => literal(lx, pos),
            _ => pos + 1,
        };
    }
}

fn standalone(lx: &Lexer<'_>, span: std::ops::Range<usize>) -> bool {
    let before = span.start.checked_sub(1).and_then(|p| lx.byte(p));
    let after = lx.byte(span.end);
    before.is_none_or(|b| is_space(b) || matches!(b, b'=' | b'[' | b'{' | b',' | b'.'))
        && after.is_none_or(|b| is_space(b) || matches!(b, b'=' | b']' | b'}' | b',' | b'#' | b'.'))
}

/// Scans a basic string from just after its opening quote(s); returns the index
/// after the closing quote(s).
fn basic(lx: &mut Lexer<'_>, mut pos: usize, multi: bool) -> usize {
    while pos < lx.b.len() {
        if let Some(i) = lx.ref_at(pos) {
            // After a line-ending backslash TOML trims all following whitespace,
            // which would eat leading whitespace of the value: escape it then.
            let after_trim = multi && after_line_ending_backslash(lx, pos);
            lx.edit_ref(i, Box::new(move |v| Ok(escape(v, after_trim))));
            pos = lx.span(i).end;
            continue;
        }
        match lx.b[pos] {
            b'\\' if lx.ref_at(pos + 1).is_none() => pos += 2,
            b'"' if !multi => return pos + 1,
            b'"' if lx.b[pos..].starts_with(b"\"\"\"") => {
                // Up to two extra quotes before the closing delimiter are content.
                let run = lx.b[pos..].iter().take_while(|&&c| c == b'"').count();
                return pos + run;
            }
            b'\n' if !multi => return pos,
            _ => pos += 1,
        }
    }
    pos
}

fn after_line_ending_backslash(lx: &Lexer<'_>, pos: usize) -> bool {
    let before = &lx.b[..pos];
    let trimmed = before.iter().rposition(|&c| !is_space(c));
    match trimmed {
        Some(p) => lx.b[p] == b'\\' && before[p..].contains(&b'\n'),
        None => false,
    }
}

/// `'…'`: rewritten whole when it holds a reference.
fn literal(lx: &mut Lexer<'_>, open: usize) -> usize {
    let mut pos = open + 1;
    while pos < lx.b.len() {
        if let Some(i) = lx.ref_at(pos) {
            pos = lx.span(i).end;
            continue;
        }
        match lx.b[pos] {
            b'\'' => break,
            b'\n' => {
                lx.error_all(open..pos, "inside an unterminated TOML literal string");
                return pos;
            }
            _ => pos += 1,
        }
    }
    let (parts, any) = lx.parts(open + 1..pos, str::to_string);
    if any {
        lx.edit(
            open..(pos + 1).min(lx.b.len()),
            parts,
            Box::new(|v| {
                Ok(if fits_literal(v, false) {
                    format!("'{v}'")
                } else {
                    quoted(v)
                })
            }),
        );
    }
    pos + 1
}

/// `'''…'''`: rewritten whole when it holds a reference.
fn multi_literal(lx: &mut Lexer<'_>, open: usize) -> usize {
    let mut pos = open + 3;
    while pos < lx.b.len() {
        if let Some(i) = lx.ref_at(pos) {
            pos = lx.span(i).end;
            continue;
        }
        if lx.b[pos..].starts_with(b"'''") {
            break;
        }
        pos += 1;
    }
    let close = pos;
    if close >= lx.b.len() {
        lx.error_all(
            open..close,
            "inside an unterminated TOML multi-line literal string",
        );
        return close;
    }
    let end = (close + lx.b[close..].iter().take_while(|&&c| c == b'\'').count()).max(close);
    let content_end = end.saturating_sub(3).max(close);
    // A newline right after the opening delimiter is not part of the value.
    let mut start = open + 3;
    let mut lead = "";
    for nl in ["\r\n", "\n"] {
        if lx.text[start..].starts_with(nl) {
            start += nl.len();
            lead = nl;
            break;
        }
    }
    let (mut parts, any) = lx.parts(start..content_end.max(start), |s| s.replace("\r\n", "\n"));
    if any {
        let lead = lead.to_string();
        parts.retain(|p| !matches!(p, Part::Lit(s) if s.is_empty()));
        lx.edit(
            open..end,
            parts,
            Box::new(move |v| {
                Ok(if fits_literal(v, true) {
                    format!("'''{lead}{v}'''")
                } else {
                    quoted(v)
                })
            }),
        );
    }
    end
}

/// Whether a literal string can hold `v` unchanged: no apostrophe (so no early
/// close), no control character but tab (and newline when multi-line), and a
/// multi-line value must not start with a newline (it would be trimmed).
fn fits_literal(v: &str, multi: bool) -> bool {
    let early_close = v.contains('\'');
    let trimmed_newline = multi && v.starts_with('\n');
    !early_close
        && !trimmed_newline
        && v.chars()
            .all(|c| c == '\t' || (multi && c == '\n') || !is_toml_control(c))
}

fn is_toml_control(c: char) -> bool {
    u32::from(c) < 0x20 || c == '\u{7f}'
}

/// Basic-string content: quote, backslash and every control character escaped
/// (TOML forbids raw control characters but tab; we escape tab too for clarity).
pub(crate) fn escape(v: &str, escape_leading_space: bool) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    let mut leading = escape_leading_space;
    for c in v.chars() {
        if leading && c == ' ' {
            out.push_str("\\u0020");
            continue;
        }
        leading = false;
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if is_toml_control(c) => {
                out.push_str("\\u");
                out.push_str(&hex(c, 4));
            }
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn quoted(v: &str) -> String {
    format!("\"{}\"", escape(v, false))
}
