//! Field tiers and kinds.

use serde::{Deserialize, Serialize};

use crate::name::normalize_name;

/// Who may read a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Usernames, URLs, notes: readable by granted agents.
    Info,
    /// Secrets readable by granted agents (TOTP seeds only as codes).
    Shared,
    /// Sealed to the owner's personal key; no agent ever receives it.
    Personal,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Info => "info",
            Tier::Shared => "shared",
            Tier::Personal => "personal",
        }
    }

    pub fn parse(s: &str) -> Option<Tier> {
        match s.trim().to_ascii_lowercase().as_str() {
            "info" => Some(Tier::Info),
            "shared" => Some(Tier::Shared),
            "personal" => Some(Tier::Personal),
            _ => None,
        }
    }
}

/// What a field holds; drives display and defaults, never access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FieldKind {
    Text,
    Password,
    Totp,
    Url,
    Email,
    Note,
    SshKey,
}

impl FieldKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldKind::Text => "text",
            FieldKind::Password => "password",
            FieldKind::Totp => "totp",
            FieldKind::Url => "url",
            FieldKind::Email => "email",
            FieldKind::Note => "note",
            FieldKind::SshKey => "ssh-key",
        }
    }

    pub fn parse(s: &str) -> Option<FieldKind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Some(FieldKind::Text),
            "password" => Some(FieldKind::Password),
            "totp" => Some(FieldKind::Totp),
            "url" => Some(FieldKind::Url),
            "email" => Some(FieldKind::Email),
            "note" => Some(FieldKind::Note),
            "ssh-key" | "ssh_key" => Some(FieldKind::SshKey),
            _ => None,
        }
    }

    /// The kind suggested by a label when none is given.
    pub fn default_for_label(label: &str) -> FieldKind {
        let key = normalize_name(label);
        match key.as_str() {
            "password" | "passphrase" => FieldKind::Password,
            "totp" | "otp" => FieldKind::Totp,
            "url" | "website" => FieldKind::Url,
            "email" => FieldKind::Email,
            "note" | "notes" => FieldKind::Note,
            "ssh_key" | "private_key" => FieldKind::SshKey,
            _ => FieldKind::Text,
        }
    }
}

const SHARED_LABELS: &[&str] = &[
    "password",
    "passphrase",
    "secret",
    "token",
    "key",
    "api_key",
    "access_key",
    "secret_key",
    "client_secret",
    "private_key",
    "connection_string",
    "database_url",
    "dsn",
    "totp",
];

const PERSONAL_LABELS: &[&str] = &[
    "card_number",
    "cvv",
    "cvc",
    "pin",
    "ssn",
    "passport",
    "national_id",
    "recovery_codes",
    "seed_phrase",
    "mnemonic",
    "iban",
    "account_number",
    "routing_number",
];

/// The tier a label gets unless the owner overrides it (DESIGN.md §3).
/// Labels match after normalisation, with spaces and dashes read as `_`.
pub fn default_tier(label: &str) -> Tier {
    let key = normalize_name(label);
    let key = key.as_str().replace([' ', '-'], "_");
    if PERSONAL_LABELS.contains(&key.as_str()) {
        Tier::Personal
    } else if SHARED_LABELS.contains(&key.as_str()) {
        Tier::Shared
    } else {
        Tier::Info
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_by_label() {
        assert_eq!(default_tier("password"), Tier::Shared);
        assert_eq!(default_tier("API_KEY"), Tier::Shared);
        assert_eq!(default_tier("Secret Key"), Tier::Shared);
        assert_eq!(default_tier("totp"), Tier::Shared);
        assert_eq!(default_tier("card-number"), Tier::Personal);
        assert_eq!(default_tier("CVV"), Tier::Personal);
        assert_eq!(default_tier("recovery_codes"), Tier::Personal);
        assert_eq!(default_tier("username"), Tier::Info);
        assert_eq!(default_tier("url"), Tier::Info);
    }
}
