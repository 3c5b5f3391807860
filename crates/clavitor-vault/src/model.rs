//! The vault's records as they are sealed into store bodies.

use clavitor_core::{FieldKind, Tier};
use serde::{Deserialize, Serialize};

/// One entry at one revision (sealed with the info key into `entries.body`).
#[derive(Clone, Serialize, Deserialize)]
pub struct EntryBody {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default)]
    pub hosts: Vec<String>,
    pub fields: Vec<FieldBody>,
}

/// One field; `value` is an envelope (info/shared) or an HPKE blob (personal).
#[derive(Clone, Serialize, Deserialize)]
pub struct FieldBody {
    pub id: String,
    pub label: String,
    pub kind: FieldKind,
    pub tier: Tier,
    #[serde(default)]
    pub inject_only: bool,
    #[serde(default)]
    pub hosts: Vec<String>,
    /// The revision whose context sealed `value`.
    pub sealed_rev: u64,
    /// base64url of the sealed value.
    pub value: String,
}

impl EntryBody {
    pub fn field_by_label(&self, label: &str) -> Option<&FieldBody> {
        let key = clavitor_core::normalize_name(label);
        self.fields
            .iter()
            .find(|f| clavitor_core::normalize_name(&f.label) == key)
    }

    /// The TOTP field: kind `totp`, else a field labelled `totp`.
    pub fn totp_field(&self) -> Option<&FieldBody> {
        self.fields
            .iter()
            .find(|f| f.kind == FieldKind::Totp)
            .or_else(|| self.field_by_label("totp"))
    }
}

/// What an agent may use: whole entries or some of their fields.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq, Debug)]
pub struct Grant {
    pub entry_id: String,
    /// `None`: every info and shared field; `Some`: only these field ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
}

/// An agent's settings (sealed with the info key into `agents.body`).
#[derive(Clone, Serialize, Deserialize, Debug)]
pub struct AgentBody {
    pub name: String,
    pub grants: Vec<Grant>,
    pub rate_minute: u32,
    pub rate_hour: u32,
    #[serde(default)]
    pub ips: Vec<String>,
}

impl AgentBody {
    pub fn grant_for(&self, entry_id: &str) -> Option<&Grant> {
        self.grants.iter().find(|g| g.entry_id == entry_id)
    }

    /// The actor slug used in audit records: `cli:codex`.
    pub fn slug(&self) -> String {
        agent_slug(&self.name)
    }
}

/// Lower-cased, whitespace turned into `-`.
pub fn agent_slug(name: &str) -> String {
    name.trim()
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("-")
}

pub const DEFAULT_RATE_MINUTE: u32 = 3;
pub const DEFAULT_RATE_HOUR: u32 = 10;

/// Agent states as stored.
pub mod state {
    pub const ACTIVE: &str = "active";
    pub const LOCKED: &str = "locked";
    pub const REVOKED: &str = "revoked";
}
