//! YAML (1.2 block and flow syntax as read by libyaml-based parsers).
//!
//! * Inside `"…"`: YAML double-quote escapes in place (line breaks, control and
//!   non-printable characters escaped; leading/trailing spaces escaped where line
//!   folding would strip them).
//! * Inside a one-line `'…'`: kept single-quoted (`'` doubled) when the value is
//!   printable and on one line; otherwise the whole scalar is rewritten as `"…"`.
//!   Inside a multi-line `'…'`, such values are an error.
//! * A plain scalar holding a reference (alone or with other text) is rewritten whole
//!   as a `"…"` scalar with the same text around the value. A plain scalar that
//!   continues on the next line is an error (quote it).
//! * A block scalar (`|`, `>`) whose only content is the reference is replaced by a
//!   `"…"` scalar holding exactly the value (the block's chomping is not applied:
//!   the result is the secret, newlines and all). A reference among other block
//!   text is substituted raw if the value is one printable line; otherwise error.
//! * Comments and directives are left alone.

use crate::plan::Lexer;

pub(crate) fn plan(lx: &mut Lexer<'_>) {
    let mut y = Yaml { flow: 0 };
    let mut pos = 0;
    while pos < lx.b.len() {
        pos = y.line(lx, pos);
    }
}

struct Yaml {
    /// Depth of `[`/`{` nesting.
    flow: usize,
}

fn is_ws_or_end(b: Option<u8>) -> bool {
    matches!(b, None | Some(b' ' | b'\t' | b'\n' | b'\r'))
}

fn is_flow_indicator(b: Option<u8>) -> bool {
    matches!(b, Some(b',' | b'[' | b']' | b'{' | b'}'))
}

impl Yaml {
    /// One line (and whatever it opens that continues: flow collections, quoted and
    /// block scalars). Returns the start of the next line to read.
    fn line(&mut self, lx: &mut Lexer<'_>, start: usize) -> usize {
        let mut pos = start;
        while lx.byte(pos) == Some(b' ') {
            pos += 1;
        }
        let indent = pos - start;
        if self.flow == 0 && lx.ref_at(pos).is_none() {
            match lx.byte(pos) {
                None => return pos,
                Some(b'\n') => return pos + 1,
                Some(b'%') if indent == 0 => return lx.skip_comment(pos) + 1,
                Some(b'-' | b'.') if indent == 0 && is_ws_or_end(lx.byte(pos + 3)) => {
                    if lx.b[pos..].starts_with(b"...") {
                        return lx.skip_comment(pos) + 1;
                    }
                    if lx.b[pos..].starts_with(b"---") {
                        return self.tokens(lx, pos + 3, start, indent);
                    }
                }
                _ => {}
            }
        }
        self.tokens(lx, pos, start, indent)
    }

    fn tokens(
        &mut self,
        lx: &mut Lexer<'_>,
        mut pos: usize,
        mut line_start: usize,
        mut node_col: usize,
    ) -> usize {
        let mut token_col = node_col;
        loop {
            while matches!(lx.byte(pos), Some(b' ' | b'\t')) {
                pos += 1;
            }
            let col = pos - line_start;
            if lx.ref_at(pos).is_some() {
                token_col = col;
                pos = self.plain(lx, pos, node_col);
                continue;
            }
            let next = lx.byte(pos + 1);
            match lx.byte(pos) {
                None => return pos,
                Some(b'\n') => {
                    if self.flow == 0 {
                        return pos + 1;
                    }
                    pos += 1;
                    line_start = pos;
                }
                Some(b'\r') => pos += 1,
                Some(b'#') => pos = lx.skip_comment(pos),
                Some(b'-' | b'?') if self.flow == 0 && is_ws_or_end(next) => {
                    node_col = col;
                    pos += 1;
                }
                Some(b':') if is_ws_or_end(next) || (self.flow > 0 && is_flow_indicator(next)) => {
                    node_col = token_col;
                    pos += 1;
                }
                Some(b'"') => {
                    token_col = col;
                    pos = double_quoted(lx, pos);
                }
                Some(b'\'') => {
                    token_col = col;
                    pos = single_quoted(lx, pos);
                }
                Some(b'|' | b'>') if self.flow == 0 => return block(lx, pos, node_col),
                Some(b'[' | b'{') => {
                    self.flow += 1;
                    pos += 1;
                }
                Some(b']' | b'}') => {
                    self.flow = self.flow.saturating_sub(1);
                    pos += 1;
                }
                Some(b',') if self.flow > 0 => pos += 1,
                Some(b'!' | b'&' | b'*') => {
                    // Tag, anchor or alias: a token up to whitespace.
                    while lx.ref_at(pos).is_none()
                        && !is_ws_or_end(lx.byte(pos))
                        && !(self.flow > 0 && is_flow_indicator(lx.byte(pos)))
                    {
                        pos += 1;
                    }
                }
                Some(_) => {
                    token_col = col;
                    pos = self.plain(lx, pos, node_col);
                }
            }
        }
    }

    /// A plain scalar from `start`; rewritten whole as `"…"` if it holds a reference.
    fn plain(&mut self, lx: &mut Lexer<'_>, start: usize, node_col: usize) -> usize {
        let mut p = start;
        loop {
            if let Some(i) = lx.ref_at(p) {
                p = lx.span(i).end;
                continue;
            }
            let next = lx.byte(p + 1);
            match lx.byte(p) {
                None | Some(b'\n' | b'\r') => break,
                Some(b':') if is_ws_or_end(next) || (self.flow > 0 && is_flow_indicator(next)) => {
                    break;
                }
                Some(b' ' | b'\t') if next == Some(b'#') => break,
                b if self.flow > 0 && is_flow_indicator(b) => break,
                _ => p += 1,
            }
        }
        let end = start + lx.text[start..p].trim_end_matches([' ', '\t']).len();
        let (parts, any) = lx.parts(start..end, str::to_string);
        if any {
            let at_eol = matches!(lx.byte(p), None | Some(b'\n' | b'\r'));
            if at_eol && self.continues(lx, p, node_col) {
                lx.error_all(
                    start..end,
                    "in a plain scalar that continues on the next line: quote it",
                );
            } else {
                lx.edit(start..end, parts, Box::new(|v| Ok(quoted(v, false, false))));
            }
        }
        p
    }

    /// Whether the plain scalar ending at `eol` continues on a following line.
    fn continues(&self, lx: &Lexer<'_>, eol: usize, node_col: usize) -> bool {
        let mut pos = lx.line_end(eol) + 1;
        while pos < lx.b.len() {
            let line_end = lx.line_end(pos);
            let line = lx.text[pos..line_end].trim_end_matches('\r');
            let content = line.trim_start_matches([' ', '\t']);
            if content.is_empty() || content.starts_with('#') {
                pos = line_end + 1;
                continue;
            }
            if self.flow > 0 {
                return !content.starts_with([',', ']', '}']);
            }
            let indent = line.len() - line.trim_start_matches(' ').len();
            return indent > node_col;
        }
        false
    }
}

/// Whether the text between the last line break before `pos` and `pos` is blank,
/// with a line break inside the scalar (after `open`).
fn starts_continuation_line(lx: &Lexer<'_>, open: usize, pos: usize) -> bool {
    match lx.b[open..pos].iter().rposition(|&c| c == b'\n') {
        Some(nl) => lx.b[open + nl + 1..pos]
            .iter()
            .all(|&c| c == b' ' || c == b'\t'),
        None => false,
    }
}

/// Whether only blanks separate `pos` from a line break.
fn ends_line(lx: &Lexer<'_>, mut pos: usize) -> bool {
    while matches!(lx.byte(pos), Some(b' ' | b'\t')) {
        pos += 1;
    }
    matches!(lx.byte(pos), Some(b'\n' | b'\r'))
}

fn double_quoted(lx: &mut Lexer<'_>, open: usize) -> usize {
    let mut p = open + 1;
    while p < lx.b.len() {
        if let Some(i) = lx.ref_at(p) {
            let span = lx.span(i);
            let lead = starts_continuation_line(lx, open, span.start);
            let trail = ends_line(lx, span.end);
            lx.edit_ref(
                i,
                Box::new(move |v| {
                    if lead && trail && v.is_empty() {
                        Err("an empty value alone on a line of a quoted scalar would change its line folding".into())
                    } else {
                        Ok(escape(v, lead, trail))
                    }
                }),
            );
            p = span.end;
            continue;
        }
        match lx.b[p] {
            b'\\' if lx.ref_at(p + 1).is_none() => p += 2,
            b'"' => return p + 1,
            _ => p += 1,
        }
    }
    p
}

fn single_quoted(lx: &mut Lexer<'_>, open: usize) -> usize {
    let mut p = open + 1;
    let mut multiline = false;
    loop {
        if let Some(i) = lx.ref_at(p) {
            p = lx.span(i).end;
            continue;
        }
        match lx.byte(p) {
            None => {
                lx.error_all(open..p, "inside an unterminated single-quoted scalar");
                return p;
            }
            Some(b'\'') if lx.byte(p + 1) == Some(b'\'') => p += 2,
            Some(b'\'') => break,
            Some(b'\n') => {
                multiline = true;
                p += 1;
            }
            Some(_) => p += 1,
        }
    }
    let close = p;
    if multiline {
        for i in lx.refs_in(open..close) {
            let span = lx.span(i);
            let lead = starts_continuation_line(lx, open, span.start);
            let trail = ends_line(lx, span.end);
            lx.edit_ref(
                i,
                Box::new(move |v| {
                    let blank = |c: char| c == ' ' || c == '\t';
                    if fits_single(v)
                        && !(lead && v.starts_with(blank))
                        && !(trail && v.ends_with(blank))
                        && !(lead && trail && v.is_empty())
                    {
                        Ok(v.replace('\'', "''"))
                    } else {
                        Err("cannot be written inside a multi-line single-quoted scalar: use double quotes".into())
                    }
                }),
            );
        }
    } else {
        let (parts, any) = lx.parts(open + 1..close, |s| s.replace("''", "'"));
        if any {
            lx.edit(
                open..close + 1,
                parts,
                Box::new(|v| {
                    Ok(if fits_single(v) {
                        format!("'{}'", v.replace('\'', "''"))
                    } else {
                        quoted(v, false, false)
                    })
                }),
            );
        }
    }
    close + 1
}

/// A block scalar from its indicator at `header`; `parent` is the column of the
/// node that owns it. Returns the start of the first line after the block.
fn block(lx: &mut Lexer<'_>, header: usize, parent: usize) -> usize {
    let mut p = header + 1;
    let mut explicit = None;
    while let Some(b) = lx.byte(p) {
        match b {
            b'1'..=b'9' => explicit = Some(usize::from(b - b'0')),
            b'+' | b'-' => {}
            _ => break,
        }
        p += 1;
    }
    while matches!(lx.byte(p), Some(b' ' | b'\t')) {
        p += 1;
    }
    let header_end = lx.line_end(p);
    let comment = match lx.byte(p) {
        Some(b'#') => {
            lx.skip_comment(p);
            Some(lx.text[p..header_end].trim_end_matches('\r').to_string())
        }
        _ => {
            lx.error_all(p..header_end, "after a block scalar indicator");
            None
        }
    };
    // Content lines: blank, or indented deeper than the owner.
    let mut lines = Vec::new(); // (line start, indent, trimmed end) of non-blank lines
    let mut q = header_end + 1;
    let mut end = q.min(lx.b.len());
    while q < lx.b.len() {
        let line_end = lx.line_end(q);
        let line = &lx.text[q..line_end];
        let indent = line.len() - line.trim_start_matches(' ').len();
        let content = line.trim_end_matches([' ', '\t', '\r']);
        if content.trim_start_matches(' ').is_empty() {
            q = line_end + 1;
            continue;
        }
        if indent <= parent {
            break;
        }
        lines.push((q, indent, q + content.len()));
        q = line_end + 1;
        end = q.min(lx.b.len());
    }
    let body = header_end + 1..end;
    let refs = lx.refs_in(body.clone());
    if refs.is_empty() {
        return end;
    }
    let content_indent =
        explicit.map_or_else(|| lines.first().map_or(parent + 1, |l| l.1), |e| parent + e);
    // The reference alone is the whole block: the value replaces the block.
    if let ([(start, _, text_end)], [i]) = (lines.as_slice(), refs.as_slice()) {
        let span = lx.span(*i);
        if span.start == start + content_indent && span.end == *text_end {
            let suffix = comment.map(|c| format!(" {c}")).unwrap_or_default();
            lx.edit(
                header..span.end,
                vec![crate::plan::Part::Ref(*i)],
                Box::new(move |v| Ok(format!("{}{suffix}", quoted(v, false, false)))),
            );
            return end;
        }
    }
    for i in refs {
        let span = lx.span(i);
        let Some(&(start, _, _)) = lines.iter().rev().find(|l| l.0 <= span.start) else {
            lx.error(i, "in a block scalar header");
            continue;
        };
        if span.start < start + content_indent {
            lx.error(i, "less indented than its block scalar");
            continue;
        }
        let at_line_start = span.start == start + content_indent;
        lx.edit_ref(
            i,
            Box::new(move |v| {
                if !v.chars().all(|c| c == '\t' || (printable(c) && !is_break(c))) {
                    Err("a value with line breaks or control characters can fill a block scalar only alone: put the reference alone in the block".into())
                } else if at_line_start && (v.is_empty() || v.starts_with([' ', '\t'])) {
                    Err("a value that is empty or starts with whitespace would change the block's indentation here".into())
                } else {
                    Ok(v.to_string())
                }
            }),
        );
    }
    end
}

/// YAML's printable set (libyaml's `IS_PRINTABLE`), without tab.
fn printable(c: char) -> bool {
    matches!(c, '\n' | '\u{20}'..='\u{7e}' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
        && c != '\u{feff}'
}

/// Line breaks for libyaml (YAML 1.1 counts NEL, LS and PS).
fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// Can sit inside a one-line single-quoted scalar unchanged (`'` aside).
fn fits_single(v: &str) -> bool {
    v.chars()
        .all(|c| c == '\t' || (printable(c) && !is_break(c)))
}

/// Double-quoted scalar content. `lead`/`trail`: the value starts/ends a line of a
/// folded scalar, where bare spaces would be stripped.
pub(crate) fn escape(v: &str, lead: bool, trail: bool) -> String {
    let lead_end = if lead {
        v.len() - v.trim_start_matches(' ').len()
    } else {
        0
    };
    let trail_start = if trail {
        v.trim_end_matches(' ').len()
    } else {
        v.len()
    };
    let mut out = String::with_capacity(v.len() + 2);
    for (idx, c) in v.char_indices() {
        match c {
            ' ' if idx < lead_end || idx >= trail_start => out.push_str("\\x20"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            '\u{1b}' => out.push_str("\\e"),
            '\u{85}' => out.push_str("\\N"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if !printable(c) => {
                let n = u32::from(c);
                if n <= 0xff {
                    out.push_str(&format!("\\x{n:02X}"));
                } else {
                    out.push_str(&format!("\\u{n:04X}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn quoted(v: &str, lead: bool, trail: bool) -> String {
    format!("\"{}\"", escape(v, lead, trail))
}
