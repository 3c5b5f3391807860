//! What an agent can ask for (DESIGN.md §6): one named entry per request.
//!
//! Each request is one store unit: authenticate, check the allow-list and
//! lock, count the name, look the entry up, check grant and tier, write the
//! audit record and the rate state — then, only once that commit is durable,
//! release the value. Every cause of CV-2041 takes the same path and produces
//! the same response.

use std::net::IpAddr;
use std::sync::Arc;

use clavitor_core::{ErrorCode, Secret, Tier, normalize_name};
use clavitor_store::{AgentRow, EntryRow, StoreError, Tx};

use crate::audit::{self, AuditEvent};
use crate::model::{AgentBody, EntryBody, FieldBody, state};
use crate::policy::{self, RateOutcome};
use crate::sealer::Sealer;

pub use clavitor_core::api::Channel;
use clavitor_core::name::MAX_NAME_BYTES;

/// At most 200 characters, control characters shown as `?`.
fn audit_copy(text: &str) -> String {
    text.chars()
        .take(200)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn channel_str(c: Channel) -> &'static str {
    match c {
        Channel::Cli => "cli",
        Channel::Proxy => "proxy",
    }
}

/// One agent request.
#[derive(Clone, Debug)]
pub enum Ask {
    Read {
        entry: String,
        field: Option<String>,
    },
    Totp {
        entry: String,
    },
    Inject {
        entry: String,
        field: String,
        host: String,
        port: u16,
        https: bool,
    },
}

impl Ask {
    fn action(&self) -> &'static str {
        match self {
            Ask::Read { .. } => "read",
            Ask::Totp { .. } => "totp",
            Ask::Inject { .. } => "inject",
        }
    }

    /// Names of at most `MAX_NAME_BYTES` without control characters other
    /// than whitespace (which name matching trims), and a host of at most 255
    /// bytes. Host *validity* is
    /// the host patterns' job (CV-2043).
    fn well_formed(&self) -> bool {
        let name_ok = |n: &str| {
            n.len() <= MAX_NAME_BYTES && !n.chars().any(|c| c.is_control() && !c.is_whitespace())
        };
        let host_ok = |h: &str| h.len() <= 255;
        match self {
            Ask::Read { entry, field } => name_ok(entry) && field.as_deref().is_none_or(name_ok),
            Ask::Totp { entry } => name_ok(entry),
            Ask::Inject {
                entry, field, host, ..
            } => name_ok(entry) && name_ok(field) && host_ok(host),
        }
    }

    fn entry(&self) -> &str {
        match self {
            Ask::Read { entry, .. } | Ask::Totp { entry } | Ask::Inject { entry, .. } => entry,
        }
    }
}

/// What a successful request releases.
#[derive(Debug)]
pub enum Released {
    Value {
        field: String,
        value: Secret,
    },
    Code {
        field: String,
        code: Secret,
        seconds_left: u64,
    },
}

/// An authenticated agent (credential hash matched, not revoked or expired).
pub struct Authenticated {
    pub row: AgentRow,
    pub body: AgentBody,
}

/// Looks the credential up; refusals are audited by the caller.
pub fn authenticate(
    tx: &mut dyn Tx,
    sealer: &Sealer,
    credential_hash: &[u8],
    now: i64,
) -> Result<Result<Authenticated, ErrorCode>, StoreError> {
    let Some(row) = tx.agent_by_credential(credential_hash)? else {
        return Ok(Err(ErrorCode::InvalidToken));
    };
    if !clavitor_crypto::token::hashes_equal(
        row.credential_hash.as_deref().unwrap_or(&[]),
        credential_hash,
    ) || row.state == state::REVOKED
        || row.expires_at.is_some_and(|e| e <= now)
    {
        return Ok(Err(ErrorCode::InvalidToken));
    }
    let Ok(body) = sealer.open_agent::<AgentBody>(&row.id, &row.body) else {
        return Ok(Err(ErrorCode::InvalidToken));
    };
    Ok(Ok(Authenticated { row, body }))
}

/// Everything needed to run one agent request in a store unit.
pub struct AgentCall {
    pub sealer: Arc<Sealer>,
    pub credential_hash: [u8; 32],
    pub source: IpAddr,
    pub channel: Channel,
    pub ask: Ask,
    pub now: i64,
}

impl AgentCall {
    /// Runs the request inside a transaction. A refusal is `Ok(Err(code))`:
    /// its audit record and rate state are kept.
    pub fn run(self, tx: &mut dyn Tx) -> Result<Result<Released, ErrorCode>, StoreError> {
        let sealer = self.sealer.clone();
        let mut event = AuditEvent::new("", self.ask.action());
        event.entry = Some(self.ask.entry().to_string());
        event.source = Some(self.source.to_string());
        match &self.ask {
            Ask::Read { field, .. } => event.field = field.clone(),
            Ask::Totp { .. } => {}
            Ask::Inject {
                field, host, port, ..
            } => {
                event.field = Some(field.clone());
                event.host = Some(format!("{host}:{port}"));
            }
        }
        if !self.ask.well_formed() {
            // Audit a bounded, printable copy: a refusal must not let anyone
            // grow the log or forge rows with control characters.
            event.entry = event.entry.as_deref().map(audit_copy);
            event.field = event.field.as_deref().map(audit_copy);
            event.host = event.host.as_deref().map(audit_copy);
            event.actor = format!("{}:unchecked", channel_str(self.channel));
            audit::append(
                tx,
                &sealer,
                self.now,
                &event.refused(ErrorCode::BadRequest.code()),
            )?;
            return Ok(Err(ErrorCode::BadRequest));
        }
        let auth = authenticate(tx, &sealer, &self.credential_hash, self.now)?;
        let mut agent = match auth {
            Ok(agent) => agent,
            Err(code) => {
                event.actor = format!("{}:unknown", channel_str(self.channel));
                audit::append(tx, &sealer, self.now, &event.refused(code.code()))?;
                return Ok(Err(code));
            }
        };
        event.actor = format!("{}:{}", channel_str(self.channel), agent.body.slug());
        let outcome = self.decide(tx, &mut agent, &mut event)?;
        match &outcome {
            Ok(_) => {
                agent.row.last_used_at = Some(self.now);
                agent.row.use_count += 1;
            }
            Err(code) => event = event.refused(code.code()),
        }
        tx.agent_put(&agent.row)?;
        audit::append(tx, &sealer, self.now, &event)?;
        Ok(outcome)
    }

    fn decide(
        &self,
        tx: &mut dyn Tx,
        agent: &mut Authenticated,
        event: &mut AuditEvent,
    ) -> Result<Result<Released, ErrorCode>, StoreError> {
        if !policy::source_allowed(&agent.body.ips, self.source) {
            return Ok(Err(ErrorCode::SourceNotAllowed));
        }
        if agent.row.state == state::LOCKED {
            return Ok(Err(ErrorCode::AgentLocked));
        }
        let name_index = self.sealer.entry_index(self.ask.entry());
        match policy::count_name(tx, &mut agent.row, &agent.body, &name_index, self.now)? {
            RateOutcome::Allowed => {}
            RateOutcome::Refused { locked } => {
                if locked {
                    // The refusal that locks says so: the agent learns now,
                    // not on its next request.
                    event.reason = Some("locked".into());
                    return Ok(Err(ErrorCode::AgentLocked));
                }
                return Ok(Err(ErrorCode::RateLimited));
            }
        }
        let Some((row, entry)) = self.granted_entry(tx, &agent.body, &name_index)? else {
            return Ok(Err(ErrorCode::AccessDenied));
        };
        let field = match self.pick_field(&entry, &agent.body, &row.id) {
            Ok(f) => f,
            Err(code) => return Ok(Err(code)),
        };
        event.field = Some(field.label.clone());
        Ok(self.release(&row, field))
    }

    fn granted_entry(
        &self,
        tx: &mut dyn Tx,
        agent: &AgentBody,
        name_index: &[u8],
    ) -> Result<Option<(EntryRow, EntryBody)>, StoreError> {
        // Check the grant on the id alone: an ungranted entry costs the
        // same as an unknown name, whatever its size.
        let Some(id) = tx.entry_id_by_index(name_index)? else {
            return Ok(None);
        };
        if agent.grant_for(&id).is_none() {
            return Ok(None);
        }
        let Some(row) = tx.entry_by_id(&id)? else {
            return Ok(None);
        };
        match self
            .sealer
            .open_entry::<EntryBody>(&row.id, row.rev, &row.body)
        {
            Ok(body) => Ok(Some((row, body))),
            Err(_) => {
                tracing::error!(entry_id = %row.id, "entry record does not decrypt");
                Ok(None)
            }
        }
    }

    /// The field asked for, if this agent may use it. Personal fields and
    /// fields outside a narrowed grant are indistinguishable from absent ones.
    fn pick_field<'e>(
        &self,
        entry: &'e EntryBody,
        agent: &AgentBody,
        entry_id: &str,
    ) -> Result<&'e FieldBody, ErrorCode> {
        let usable = |f: &&FieldBody| {
            f.tier != Tier::Personal
                && agent
                    .grant_for(entry_id)
                    .is_some_and(|g| g.fields.as_ref().is_none_or(|ids| ids.contains(&f.id)))
        };
        let field = match &self.ask {
            Ask::Read {
                field: Some(label), ..
            }
            | Ask::Inject { field: label, .. } => {
                if normalize_name(label).as_str() == "totp" {
                    entry.totp_field()
                } else {
                    entry.field_by_label(label)
                }
            }
            Ask::Totp { .. } => entry.totp_field(),
            Ask::Read { field: None, .. } => {
                if let Some(f) = entry.field_by_label("password").filter(usable) {
                    Some(f)
                } else {
                    let mut shared = entry
                        .fields
                        .iter()
                        .filter(|f| f.tier == Tier::Shared)
                        .filter(usable);
                    match (shared.next(), shared.next()) {
                        (Some(f), None) => Some(f),
                        (Some(_), Some(_)) => return Err(ErrorCode::AmbiguousField),
                        // No secret to default to, but fields the agent may
                        // read: it has to name one (it is granted this entry,
                        // so saying so reveals nothing).
                        _ if entry.fields.iter().any(|f| usable(&f)) => {
                            return Err(ErrorCode::AmbiguousField);
                        }
                        _ => None,
                    }
                }
            }
        };
        let field = field.filter(usable).ok_or(ErrorCode::AccessDenied)?;
        match &self.ask {
            Ask::Read { .. } if field.inject_only => Err(ErrorCode::InjectOnly),
            Ask::Totp { .. } if field.kind != clavitor_core::FieldKind::Totp => {
                Err(ErrorCode::AccessDenied)
            }
            Ask::Inject {
                host, port, https, ..
            } => {
                if *https && self.host_bound(entry_id, entry, field, host, *port) {
                    Ok(field)
                } else {
                    Err(ErrorCode::HostNotAllowed)
                }
            }
            _ => Ok(field),
        }
    }

    /// Field patterns, else entry patterns, else the hosts of URL fields.
    fn host_bound(
        &self,
        entry_id: &str,
        entry: &EntryBody,
        field: &FieldBody,
        host: &str,
        port: u16,
    ) -> bool {
        let explicit = if field.hosts.is_empty() {
            &entry.hosts
        } else {
            &field.hosts
        };
        if !explicit.is_empty() {
            return explicit
                .iter()
                .filter_map(|p| policy::HostPattern::parse(p))
                .any(|p| p.matches(host, port));
        }
        entry
            .fields
            .iter()
            .filter(|f| f.kind == clavitor_core::FieldKind::Url && f.tier == Tier::Info)
            .filter_map(|f| {
                let url = self
                    .sealer
                    .open_field(entry_id, &f.id, f.tier, f.sealed_rev, &f.value)
                    .ok()?;
                policy::pattern_from_url(std::str::from_utf8(&url).ok()?)
            })
            .any(|p| p.matches(host, port))
    }

    fn release(&self, row: &EntryRow, field: &FieldBody) -> Result<Released, ErrorCode> {
        let plain = self
            .sealer
            .open_field(
                &row.id,
                &field.id,
                field.tier,
                field.sealed_rev,
                &field.value,
            )
            .map_err(|_| ErrorCode::Internal)?;
        let text = String::from_utf8(plain.to_vec()).map_err(|_| ErrorCode::Internal)?;
        if field.kind == clavitor_core::FieldKind::Totp {
            let params = clavitor_totp::parse(&text).map_err(|_| ErrorCode::Internal)?;
            let secs = (self.now / 1000).max(0) as u64;
            return Ok(Released::Code {
                field: field.label.clone(),
                code: Secret::new(params.code_at(secs)),
                seconds_left: params.seconds_left(secs),
            });
        }
        Ok(Released::Value {
            field: field.label.clone(),
            value: Secret::new(text),
        })
    }
}
