//! What a format lexer hands to render: where each reference stands and how the
//! value must be written there. Lexers never see values; encoders see only values.

use std::ops::Range;

/// Writes the final value (literal text around references already joined in) for
/// one position, or says why it cannot be written there. The reason must never
/// quote the value.
pub(crate) type Encode = Box<dyn Fn(&str) -> Result<String, String>>;

/// One piece of the value written by an [`Edit`].
pub(crate) enum Part {
    /// Text that is part of the value as the parser would read it (already decoded).
    Lit(String),
    /// The value of reference number `n` (index into the found references).
    Ref(usize),
}

/// Replace `range` of the template by `encode(concatenation of parts)`.
pub(crate) struct Edit {
    pub range: Range<usize>,
    pub parts: Vec<Part>,
    pub encode: Encode,
}

#[derive(Default)]
pub(crate) struct Plan {
    pub edits: Vec<Edit>,
    /// Reference index and why it cannot stand where it is, whatever its value.
    pub errors: Vec<(usize, String)>,
    /// References deliberately left alone (inside comments).
    pub ignored: Vec<usize>,
}

/// Shared scanning state: the template, the reference spans (sorted, disjoint)
/// and the plan being built.
pub(crate) struct Lexer<'a> {
    pub b: &'a [u8],
    pub text: &'a str,
    spans: &'a [Range<usize>],
    pub plan: Plan,
}

impl<'a> Lexer<'a> {
    pub fn new(text: &'a str, spans: &'a [Range<usize>]) -> Self {
        Lexer {
            b: text.as_bytes(),
            text,
            spans,
            plan: Plan::default(),
        }
    }

    /// The reference starting exactly at `pos`, if any.
    pub fn ref_at(&self, pos: usize) -> Option<usize> {
        self.spans.binary_search_by_key(&pos, |s| s.start).ok()
    }

    pub fn span(&self, i: usize) -> Range<usize> {
        self.spans[i].clone()
    }

    /// References starting inside `range`.
    pub fn refs_in(&self, range: Range<usize>) -> Vec<usize> {
        (0..self.spans.len())
            .filter(|&i| range.contains(&self.spans[i].start))
            .collect()
    }

    pub fn byte(&self, pos: usize) -> Option<u8> {
        self.b.get(pos).copied()
    }

    /// Index of the `\n` ending the line containing `pos`, or the text length.
    pub fn line_end(&self, pos: usize) -> usize {
        self.b[pos.min(self.b.len())..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(self.b.len(), |n| pos + n)
    }

    /// Skips a comment running to the end of the line; references in it are left as
    /// written and never resolved. Returns the index of the line's `\n` (or the end).
    pub fn skip_comment(&mut self, pos: usize) -> usize {
        let end = self.line_end(pos);
        let inside = self.refs_in(pos..end);
        self.plan.ignored.extend(inside);
        end
    }

    /// Substitutes reference `i` in place.
    pub fn edit_ref(&mut self, i: usize, encode: Encode) {
        let range = self.span(i);
        self.plan.edits.push(Edit {
            range,
            parts: vec![Part::Ref(i)],
            encode,
        });
    }

    pub fn edit(&mut self, range: Range<usize>, parts: Vec<Part>, encode: Encode) {
        self.plan.edits.push(Edit {
            range,
            parts,
            encode,
        });
    }

    pub fn error(&mut self, i: usize, reason: impl Into<String>) {
        self.plan.errors.push((i, reason.into()));
    }

    /// Marks every reference in `range` as misplaced.
    pub fn error_all(&mut self, range: Range<usize>, reason: &str) {
        for i in self.refs_in(range) {
            self.error(i, reason);
        }
    }

    /// Splits `range` into literal text and references, the literal text decoded by
    /// `decode`; returns the parts and whether any reference was seen.
    pub fn parts(&self, range: Range<usize>, decode: impl Fn(&str) -> String) -> (Vec<Part>, bool) {
        let mut parts = Vec::new();
        let mut lit_start = range.start;
        let mut pos = range.start;
        let mut any = false;
        while pos < range.end {
            if let Some(i) = self.ref_at(pos) {
                if lit_start < pos {
                    parts.push(Part::Lit(decode(&self.text[lit_start..pos])));
                }
                parts.push(Part::Ref(i));
                any = true;
                pos = self.spans[i].end;
                lit_start = pos;
            } else {
                pos += 1;
            }
        }
        if lit_start < range.end {
            parts.push(Part::Lit(decode(&self.text[lit_start..range.end])));
        }
        (parts, any)
    }

    pub fn finish(self) -> Plan {
        self.plan
    }
}

/// True for bytes that end a bare token in JSON/TOML-like syntax.
pub(crate) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}
