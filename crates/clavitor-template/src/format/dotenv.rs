//! `.env` as read by `dotenvy`: `KEY=value` lines, optional `export`, `#` comments.
//!
//! * Inside `"…"`: escaped for dotenvy (`\\`, `\"`, `\$` so no `$VAR` expansion, `\n`
//!   for a newline; everything else raw).
//! * Inside `'…'` (literal in dotenvy): kept when the value has no `'` and no `\`
//!   (dotenvy's line joiner treats `\` as an escape even there); otherwise the whole
//!   single-quoted part is rewritten as a double-quoted one.
//! * Unquoted: the whole value is rewritten double-quoted, provided the rest of the
//!   value is plain text (no quotes, `\` or `$`, whose meaning would change).
//! * A NUL can never be loaded into an environment variable: error.
//! * References in keys, or on lines that are not `KEY=value`, are errors.

use crate::plan::{Lexer, Part};

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

/// Handles one logical line starting at `start`; returns the start of the next.
fn line(lx: &mut Lexer<'_>, start: usize) -> usize {
    let mut pos = skip_blank(lx, start);
    match lx.byte(pos) {
        None => return pos,
        Some(b'\n' | b'\r') => return pos + 1,
        Some(b'#') => return lx.skip_comment(pos) + 1,
        _ => {}
    }
    if lx.b[pos..].starts_with(b"export") && matches!(lx.byte(pos + 6), Some(b' ' | b'\t')) {
        pos = skip_blank(lx, pos + 6);
    }
    let key_start = pos;
    while lx.ref_at(pos).is_none()
        && lx
            .byte(pos)
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
    {
        pos += 1;
    }
    pos = skip_blank(lx, pos);
    if pos == key_start || lx.byte(pos) != Some(b'=') {
        let end = lx.line_end(pos);
        lx.error_all(start..end, "not in the value of a KEY=value line");
        return end + 1;
    }
    pos = skip_blank(lx, pos + 1);
    value(lx, pos)
}

/// Scans a value from `start`; returns the start of the next line.
fn value(lx: &mut Lexer<'_>, start: usize) -> usize {
    let mut pos = start;
    let mut unquoted_refs = Vec::new();
    let mut plain = true; // only plain characters outside quotes
    loop {
        if let Some(i) = lx.ref_at(pos) {
            unquoted_refs.push(i);
            pos = lx.span(i).end;
            continue;
        }
        match lx.byte(pos) {
            None | Some(b'\n' | b'\r' | b' ' | b'\t') => break,
            Some(b'"') => {
                plain = false;
                pos = double(lx, pos + 1);
            }
            Some(b'\'') => {
                plain = false;
                pos = single(lx, pos);
            }
            Some(b'\\') => {
                plain = false;
                pos += if lx.ref_at(pos + 1).is_some() { 1 } else { 2 };
            }
            Some(b'$') => {
                plain = false;
                pos += 1;
            }
            Some(_) => pos += 1,
        }
    }
    let value_end = pos.min(lx.b.len());
    if !unquoted_refs.is_empty() {
        if plain {
            let (parts, _) = lx.parts(start..value_end, str::to_string);
            lx.edit(start..value_end, parts, Box::new(double_quoted));
        } else {
            for i in unquoted_refs {
                lx.error(
                    i,
                    "unquoted next to quotes, `\\` or `$`: put the whole value in double quotes",
                );
            }
        }
    }
    // After the value only blanks and a comment may follow.
    let mut pos = skip_blank(lx, value_end);
    if lx.byte(pos) == Some(b'#') {
        pos = lx.skip_comment(pos);
    }
    let end = lx.line_end(pos);
    lx.error_all(
        pos..end,
        "after the end of the value (a space ends an unquoted value)",
    );
    end + 1
}

/// `"…"` from just after the opening quote; may span lines. Returns the index after
/// the closing quote.
fn double(lx: &mut Lexer<'_>, mut pos: usize) -> usize {
    while pos < lx.b.len() {
        if let Some(i) = lx.ref_at(pos) {
            lx.edit_ref(i, Box::new(escape));
            pos = lx.span(i).end;
            continue;
        }
        match lx.b[pos] {
            b'\\' if lx.ref_at(pos + 1).is_none() => pos += 2,
            b'"' => return pos + 1,
            _ => pos += 1,
        }
    }
    pos
}

/// `'…'` from its opening quote; may span lines. Rewritten whole when it holds a
/// reference.
fn single(lx: &mut Lexer<'_>, open: usize) -> usize {
    let mut pos = open + 1;
    while pos < lx.b.len() {
        if let Some(i) = lx.ref_at(pos) {
            pos = lx.span(i).end;
            continue;
        }
        if lx.b[pos] == b'\'' {
            break;
        }
        pos += 1;
    }
    if pos >= lx.b.len() {
        lx.error_all(open..pos, "inside an unterminated single-quoted value");
        return pos;
    }
    let (parts, any) = lx.parts(open + 1..pos, str::to_string);
    if any {
        let parts: Vec<Part> = parts;
        lx.edit(
            open..pos + 1,
            parts,
            Box::new(|v| {
                if v.contains('\0') {
                    Err(NUL.to_string())
                } else if v.contains(['\'', '\\']) {
                    double_quoted(v)
                } else {
                    Ok(format!("'{v}'"))
                }
            }),
        );
    }
    pos + 1
}

const NUL: &str = "the value contains a NUL character, which no environment variable can hold";

/// Double-quoted content as dotenvy unescapes it: it knows `\\ \" \' \$ \n` and `\ `;
/// every other character, control characters included, is taken raw.
pub(crate) fn escape(v: &str) -> Result<String, String> {
    let mut out = String::with_capacity(v.len() + 2);
    for c in v.chars() {
        match c {
            '\0' => return Err(NUL.to_string()),
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '$' => out.push_str("\\$"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    Ok(out)
}

fn double_quoted(v: &str) -> Result<String, String> {
    Ok(format!("\"{}\"", escape(v)?))
}
