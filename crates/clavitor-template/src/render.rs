//! `render`: find references, ask the format lexer where each one stands, resolve
//! each distinct reference once, encode, and splice — or report every failure.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use clavitor_core::reference::{Found, ReferenceError, find_references};
use clavitor_core::{Reference, Secret};

use crate::format::{Format, plan_for};
use crate::plan::{Edit, Part};
use crate::resolve::{ResolveError, Resolver};

/// One reason the template could not be rendered. Holds the reference as written in
/// the template (names, never values) and where it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// 1-based line of the reference.
    pub line: usize,
    /// 1-based column (in characters) of the reference.
    pub column: usize,
    /// The reference exactly as written in the template.
    pub reference: String,
    pub kind: FailureKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// The reference text is malformed.
    Reference(ReferenceError),
    /// The resolver refused or failed.
    Unresolved(ResolveError),
    /// The reference stands where no value can go (a key name, outside any value…).
    Misplaced(String),
    /// The resolved value cannot be written where the reference stands without
    /// changing its meaning (the reason describes the obstacle, never the value).
    Unrepresentable(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}: ",
            self.line, self.column, self.reference
        )?;
        match &self.kind {
            FailureKind::Reference(e) => write!(f, "{e}"),
            FailureKind::Unresolved(e) => write!(f, "{e}"),
            FailureKind::Misplaced(why) => write!(f, "{why}"),
            FailureKind::Unrepresentable(why) => write!(f, "{why}"),
        }
    }
}

/// Every failure of one render, in template order. Nothing was produced.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct RenderError {
    pub failures: Vec<Failure>,
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, failure) in self.failures.iter().enumerate() {
            if n > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{failure}")?;
        }
        Ok(())
    }
}

/// Substitutes every reference in `template`, escaping each value for where it
/// stands in `format` (see the crate documentation for the rules per format).
///
/// All failures — malformed or misplaced references, resolver refusals, values that
/// cannot be represented — are collected and returned together; on any failure no
/// output is produced. Each distinct reference is resolved once; references that
/// are misplaced or in comments are never resolved.
pub fn render(
    template: &str,
    format: Format,
    resolver: &mut impl Resolver,
) -> Result<String, RenderError> {
    let found = find_references(template);
    let spans: Vec<Range<usize>> = found.iter().map(|f| f.span.clone()).collect();
    let mut plan = plan_for(format, template, &spans);
    plan.edits.sort_by_key(|e| e.range.start);

    let mut failures: Vec<(usize, Failure)> = Vec::new();
    let fail =
        |i: usize, kind: FailureKind| (found[i].span.start, failure_at(template, &found[i], kind));

    let mut handled = vec![false; found.len()];
    for &i in &plan.ignored {
        handled[i] = true;
    }
    for (i, why) in std::mem::take(&mut plan.errors) {
        if !handled[i] {
            handled[i] = true;
            failures.push(fail(i, FailureKind::Misplaced(why)));
        }
    }
    // Edits must not overlap; a lexer bug must never turn into a corrupted file.
    let mut last_end = 0;
    let mut edits: Vec<Edit> = Vec::new();
    for edit in plan.edits {
        let refs: Vec<usize> = edit.parts.iter().filter_map(part_ref).collect();
        if edit.range.start < last_end || refs.iter().any(|&i| handled[i]) {
            for i in refs {
                if !handled[i] {
                    handled[i] = true;
                    failures.push(fail(
                        i,
                        FailureKind::Misplaced("unsupported position".into()),
                    ));
                }
            }
            continue;
        }
        for &i in &refs {
            handled[i] = true;
        }
        last_end = edit.range.end;
        edits.push(edit);
    }
    for (i, seen) in handled.iter().enumerate() {
        if !seen {
            failures.push(fail(
                i,
                FailureKind::Misplaced("reference in an unsupported position".into()),
            ));
        }
    }

    let mut cache: HashMap<Reference, Result<Secret, ResolveError>> = HashMap::new();
    let mut output = String::with_capacity(template.len());
    let mut copied = 0;
    for edit in &edits {
        let mut value = String::new();
        let mut complete = true;
        for part in &edit.parts {
            match part {
                Part::Lit(text) => value.push_str(text),
                Part::Ref(i) => match &found[*i].result {
                    Err(e) => {
                        complete = false;
                        failures.push(fail(*i, FailureKind::Reference(e.clone())));
                    }
                    Ok(reference) => {
                        let resolved = cache
                            .entry(reference.clone())
                            .or_insert_with(|| resolver.resolve(reference));
                        match resolved {
                            Ok(secret) => value.push_str(secret.expose()),
                            Err(e) => {
                                complete = false;
                                failures.push(fail(*i, FailureKind::Unresolved(e.clone())));
                            }
                        }
                    }
                },
            }
        }
        // Wrap so the joined value is zeroised on drop like the secrets it holds.
        let value = Secret::new(value);
        if !complete {
            continue;
        }
        match (edit.encode)(value.expose()) {
            Ok(encoded) => {
                output.push_str(&template[copied..edit.range.start]);
                output.push_str(&encoded);
                copied = edit.range.end;
            }
            Err(why) => {
                let first = edit.parts.iter().find_map(part_ref).unwrap_or(0);
                failures.push(fail(first, FailureKind::Unrepresentable(why)));
            }
        }
    }
    if !failures.is_empty() {
        failures.sort_by_key(|(at, _)| *at);
        return Err(RenderError {
            failures: failures.into_iter().map(|(_, f)| f).collect(),
        });
    }
    output.push_str(&template[copied..]);
    Ok(output)
}

fn part_ref(part: &Part) -> Option<usize> {
    match part {
        Part::Ref(i) => Some(*i),
        Part::Lit(_) => None,
    }
}

fn failure_at(template: &str, found: &Found, kind: FailureKind) -> Failure {
    let (line, column) = line_column(template, found.span.start);
    Failure {
        line,
        column,
        reference: template[found.span.clone()].to_string(),
        kind,
    }
}

/// 1-based line and character column of byte offset `at`.
pub(crate) fn line_column(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |n| n + 1);
    (line, text[line_start..at].chars().count() + 1)
}
