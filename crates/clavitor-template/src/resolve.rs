//! How render and header substitution obtain values: through a caller-supplied
//! [`Resolver`], so this crate performs no I/O and tests need no vault.

use std::fmt;

use clavitor_core::{ErrorCode, Reference, Secret};

/// Supplies the value of one reference. Render calls it once per distinct
/// reference (in document order), even when the reference appears several times.
pub trait Resolver {
    fn resolve(&mut self, reference: &Reference) -> Result<Secret, ResolveError>;
}

/// Any `FnMut(&Reference) -> Result<Secret, ResolveError>` is a resolver.
impl<F> Resolver for F
where
    F: FnMut(&Reference) -> Result<Secret, ResolveError>,
{
    fn resolve(&mut self, reference: &Reference) -> Result<Secret, ResolveError> {
        self(reference)
    }
}

/// Why a reference could not be resolved: a stable code (`CV-2041`, or a
/// caller-chosen local code) and a one-line message. Never holds a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolveError {
    pub code: String,
    pub message: String,
}

impl ResolveError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        ResolveError {
            code: code.into(),
            message: message.into(),
        }
    }
}

impl From<ErrorCode> for ResolveError {
    fn from(code: ErrorCode) -> Self {
        ResolveError::new(code.code(), code.message())
    }
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ResolveError {}
