//! Name matching: entry names, field labels and agent names are compared after
//! Unicode NFC normalisation, trimming and case folding.

use unicode_normalization::UnicodeNormalization;

/// The longest name accepted, in bytes after normalisation.
pub const MAX_NAME_BYTES: usize = 16 * 1024;

/// The matching form of a name: equal keys mean "the same name".
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct NameKey(String);

impl NameKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Normalises a name for matching: NFC, trimmed, Unicode full case folding
/// (so `Straße` matches `STRASSE`, `É` precomposed or decomposed and in
/// either case all match), renormalised to NFC.
pub fn normalize_name(raw: &str) -> NameKey {
    let nfc: String = raw.nfc().collect();
    let folded = caseless::default_case_fold_str(nfc.trim());
    NameKey(folded.nfc().collect())
}

/// Why a display name is not acceptable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    #[error("the name is empty")]
    Empty,
    #[error("the name is longer than {MAX_NAME_BYTES} bytes")]
    TooLong,
    #[error("the name contains a control character")]
    Control,
}

/// Checks a display name and returns it trimmed and NFC-normalised (case kept).
pub fn clean_display_name(raw: &str) -> Result<String, NameError> {
    let nfc: String = raw.nfc().collect();
    let trimmed = nfc.trim();
    if trimmed.is_empty() {
        return Err(NameError::Empty);
    }
    if trimmed.len() > MAX_NAME_BYTES {
        return Err(NameError::TooLong);
    }
    if trimmed.chars().any(char::is_control) {
        return Err(NameError::Control);
    }
    Ok(trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nfc_nfd_case_and_space_match() {
        let nfc = "Caf\u{e9} Prod";
        let nfd = "  CAFE\u{301} prod ";
        assert_eq!(normalize_name(nfc), normalize_name(nfd));
    }

    #[test]
    fn full_case_folding() {
        assert_eq!(normalize_name("Straße"), normalize_name("STRASSE"));
        assert_eq!(normalize_name("ΟΔΟΣ"), normalize_name("οδος"));
        assert_eq!(normalize_name("ΟΔΟΣ"), normalize_name("οδοσ"));
    }

    #[test]
    fn different_names_differ() {
        assert_ne!(normalize_name("GitHub"), normalize_name("GitHub2"));
        assert_ne!(normalize_name("a_b"), normalize_name("a%b"));
    }

    #[test]
    fn display_name_rules() {
        assert_eq!(clean_display_name("  x "), Ok("x".into()));
        assert_eq!(clean_display_name("   "), Err(NameError::Empty));
        assert_eq!(clean_display_name("a\nb"), Err(NameError::Control));
        assert_eq!(
            clean_display_name(&"x".repeat(MAX_NAME_BYTES + 1)),
            Err(NameError::TooLong)
        );
        assert!(clean_display_name(&"x".repeat(10 * 1024)).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn normalisation_is_idempotent(s in "\\PC*") {
            let once = normalize_name(&s);
            let twice = normalize_name(once.as_str());
            proptest::prop_assert_eq!(once, twice);
        }
    }
}
