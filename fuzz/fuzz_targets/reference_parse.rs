//! The reference scanner and parser must never panic on any text; every reference
//! they accept must survive a bare-form round trip; render and header substitution
//! must never panic in any format.
#![no_main]

use clavitor_core::Reference;
use clavitor_core::reference::find_references;
use clavitor_template::{Format, ResolveError, render, substitute_header_value};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut last_end = 0;
    for found in find_references(text) {
        assert!(found.span.start >= last_end && found.span.end <= text.len());
        assert!(found.span.start < found.span.end);
        last_end = found.span.end;
        if let Ok(reference) = found.result {
            let again = Reference::parse(&reference.to_bare_string());
            assert_eq!(again.as_ref(), Ok(&reference));
        }
    }
    if let Ok(reference) = Reference::parse(text) {
        assert_eq!(Reference::parse(&reference.to_bare_string()), Ok(reference));
    }
    let mut resolver = |r: &Reference| -> Result<clavitor_core::Secret, ResolveError> {
        Ok(clavitor_core::Secret::new(format!("\"'\\\n#$ {}", r.field)))
    };
    for format in Format::ALL {
        let _ = render(text, format, &mut resolver);
    }
    let _ = substitute_header_value(text, &mut resolver);
});
