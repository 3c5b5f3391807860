//! Wire types of the vault's HTTP API, shared by the server and the client.
//! Agent routes live under `/v1/agent/`, owner routes under `/v1/owner/`.
//! Values travel only in the fields named `value`, `code`, `sealed`,
//! `credential` and `token`; everything else is metadata.

use serde::{Deserialize, Serialize};

use crate::field::{FieldKind, Tier};

// ---- agent API ----------------------------------------------------------

/// `POST /v1/agent/enroll`: exchange a setup token for a credential.
#[derive(Serialize, Deserialize)]
pub struct EnrollRequest {
    pub token: String,
}

#[derive(Serialize, Deserialize)]
pub struct EnrollResponse {
    pub agent: String,
    pub agent_id: String,
    pub vault_id: String,
    pub credential: String,
    #[serde(default)]
    pub expires_at: Option<i64>,
}

/// Which client is asking (audited as `cli:<agent>` or `proxy:<agent>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    #[default]
    Cli,
    Proxy,
}

/// `POST /v1/agent/read`
#[derive(Serialize, Deserialize)]
pub struct ReadRequest {
    pub entry: String,
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub channel: Channel,
}

#[derive(Serialize, Deserialize)]
pub struct ReadResponse {
    pub field: String,
    pub value: String,
    /// Present when the field is a TOTP seed: `value` is then the live code.
    #[serde(default)]
    pub seconds_left: Option<u64>,
}

/// `POST /v1/agent/totp`
#[derive(Serialize, Deserialize)]
pub struct TotpRequest {
    pub entry: String,
    #[serde(default)]
    pub channel: Channel,
}

#[derive(Serialize, Deserialize)]
pub struct TotpResponse {
    pub field: String,
    pub code: String,
    pub seconds_left: u64,
}

/// `POST /v1/agent/inject`: resolve a field for a request toward `host:port`.
#[derive(Serialize, Deserialize)]
pub struct InjectRequest {
    pub entry: String,
    pub field: String,
    pub host: String,
    pub port: u16,
    /// `https`; anything else is refused with CV-2043.
    pub scheme: String,
}

#[derive(Serialize, Deserialize)]
pub struct InjectResponse {
    pub value: String,
}

/// `POST /v1/agent/reflected`: the proxy saw an injected value come back.
#[derive(Serialize, Deserialize)]
pub struct ReflectionReport {
    pub entry: String,
    pub field: String,
    pub host: String,
    pub port: u16,
}

/// `GET /v1/agent/whoami`
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct WhoAmI {
    pub agent: String,
    pub agent_id: String,
    pub vault_id: String,
    pub state: String,
    #[serde(default)]
    pub expires_at: Option<i64>,
}

// ---- owner API ----------------------------------------------------------

/// A field to create or replace. `value` carries plaintext for info and
/// shared fields (sealed by the server); `sealed` carries a personal value
/// already sealed by the client to the owner's public key (base64url).
#[derive(Serialize, Deserialize, Clone, Default)]
pub struct FieldSpec {
    /// Client-chosen id (needed to seal personal values); the server makes one otherwise.
    #[serde(default)]
    pub id: Option<String>,
    pub label: String,
    #[serde(default)]
    pub kind: Option<FieldKind>,
    #[serde(default)]
    pub tier: Option<Tier>,
    #[serde(default)]
    pub inject_only: bool,
    #[serde(default)]
    pub hosts: Vec<String>,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub sealed: Option<String>,
}

/// `POST /v1/owner/entries`
#[derive(Serialize, Deserialize, Clone, Default)]
pub struct EntryCreate {
    /// Client-chosen id (needed to seal personal values); the server makes one otherwise.
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub hosts: Vec<String>,
    #[serde(default)]
    pub fields: Vec<FieldSpec>,
}

/// `POST /v1/owner/entry/edit`: changes against revision `rev`.
#[derive(Serialize, Deserialize, Clone, Default)]
pub struct EntryEdit {
    pub name: String,
    pub rev: u64,
    #[serde(default)]
    pub rename: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub hosts: Option<Vec<String>>,
    /// Fields added or replaced (matched by label).
    #[serde(default)]
    pub set: Vec<FieldSpec>,
    /// Labels of fields to remove.
    #[serde(default)]
    pub remove: Vec<String>,
}

/// `POST /v1/owner/entry/delete`
#[derive(Serialize, Deserialize, Clone)]
pub struct EntryDelete {
    pub name: String,
    pub rev: u64,
}

/// An entry as the owner sees it.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct EntryView {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub kind: Option<String>,
    pub rev: u64,
    pub hosts: Vec<String>,
    pub fields: Vec<FieldView>,
    pub updated_at: i64,
}

#[derive(Serialize, Deserialize, Clone)]
pub struct FieldView {
    pub id: String,
    pub label: String,
    pub kind: FieldKind,
    pub tier: Tier,
    pub inject_only: bool,
    pub hosts: Vec<String>,
    /// Info values always; shared values only when revealed.
    #[serde(default)]
    pub value: Option<String>,
    /// Personal values: the HPKE ciphertext (base64url), never plaintext.
    #[serde(default)]
    pub sealed: Option<String>,
    pub sealed_rev: u64,
}

impl std::fmt::Debug for FieldView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FieldView")
            .field("label", &self.label)
            .field("tier", &self.tier)
            .finish_non_exhaustive()
    }
}

/// One revision in an entry's history.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct RevisionView {
    pub rev: u64,
    pub at: i64,
    pub tombstone: bool,
    pub name: String,
    pub labels: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct GrantSpec {
    pub entry: String,
    /// `None`: the whole entry (info and shared fields).
    #[serde(default)]
    pub fields: Option<Vec<String>>,
}

/// `POST /v1/owner/agents`
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct AgentCreate {
    pub name: String,
    pub grants: Vec<GrantSpec>,
    #[serde(default)]
    pub rate_minute: Option<u32>,
    #[serde(default)]
    pub rate_hour: Option<u32>,
    #[serde(default)]
    pub ips: Vec<String>,
    /// Agent expiry, seconds from now.
    #[serde(default)]
    pub expires_in: Option<i64>,
}

/// `POST /v1/owner/agent/edit`
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct AgentEdit {
    pub name: String,
    #[serde(default)]
    pub rename: Option<String>,
    #[serde(default)]
    pub grants: Option<Vec<GrantSpec>>,
    #[serde(default)]
    pub rate_minute: Option<u32>,
    #[serde(default)]
    pub rate_hour: Option<u32>,
    #[serde(default)]
    pub ips: Option<Vec<String>>,
    /// `Some(None)` (JSON `null`) removes the expiry; absent keeps it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub expires_in: Option<Option<i64>>,
}

/// A field that is present (even as `null`) is `Some`; serde's default
/// would read `null` as absent.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Names one agent: revoke, unlock, new token, show.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct AgentName {
    pub name: String,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct AgentView {
    pub id: String,
    pub name: String,
    pub state: String,
    pub grants: Vec<GrantSpec>,
    pub rate_minute: u32,
    pub rate_hour: u32,
    pub ips: Vec<String>,
    #[serde(default)]
    pub expires_at: Option<i64>,
    pub created_at: i64,
    #[serde(default)]
    pub last_used_at: Option<i64>,
    pub use_count: i64,
    /// Whether an unused setup token is outstanding.
    pub setup_pending: bool,
}

/// A fresh setup token, shown once.
#[derive(Serialize, Deserialize)]
pub struct SetupTokenResponse {
    pub token: String,
    pub expires_at: i64,
}

/// The owner's personal public key and its wrapped private key blobs.
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct PersonalKey {
    pub vault_id: String,
    /// Uncompressed P-256 point, base64url; `None` until the web vault enrols one.
    #[serde(default)]
    pub public_key: Option<String>,
    /// Opaque wrapped private-key blobs (per passkey, recovery code).
    #[serde(default)]
    pub wraps: Vec<serde_json::Value>,
}

/// One audit record.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    pub seq: i64,
    /// Milliseconds since the Unix epoch, UTC.
    pub at: i64,
    pub actor: String,
    pub action: String,
    #[serde(default)]
    pub entry: Option<String>,
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub host: Option<String>,
    pub outcome: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
}

/// `GET /v1/owner/audit/verify`
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    pub ok: bool,
    pub records: i64,
    #[serde(default)]
    pub broken_at: Option<i64>,
    #[serde(default)]
    pub problem: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_edit_tells_a_null_expiry_from_an_absent_one() {
        let absent: AgentEdit = serde_json::from_str(r#"{"name":"a"}"#).unwrap();
        assert_eq!(absent.expires_in, None);
        let cleared: AgentEdit = serde_json::from_str(r#"{"name":"a","expires_in":null}"#).unwrap();
        assert_eq!(cleared.expires_in, Some(None));
        let set: AgentEdit = serde_json::from_str(r#"{"name":"a","expires_in":60}"#).unwrap();
        assert_eq!(set.expires_in, Some(Some(60)));
        // What the owner CLI sends round-trips.
        for edit in [absent, cleared, set] {
            let back: AgentEdit =
                serde_json::from_str(&serde_json::to_string(&edit).unwrap()).unwrap();
            assert_eq!(back.expires_in, edit.expires_in);
        }
    }
}
