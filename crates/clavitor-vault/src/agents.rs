//! Owner operations on agents, and enrolment with a setup token.

use std::net::IpAddr;

use clavitor_core::api::{AgentCreate, AgentEdit, AgentView, EnrollResponse, GrantSpec};
use clavitor_core::name::clean_display_name;
use clavitor_core::{ErrorCode, Secret, normalize_name};
use clavitor_crypto::token::{self, SetupToken};
use clavitor_store::{AgentRow, Tx};

use crate::audit::{self, AuditEvent};
use crate::entries;
use crate::error::VaultError;
use crate::model::{AgentBody, DEFAULT_RATE_HOUR, DEFAULT_RATE_MINUTE, EntryBody, Grant, state};
use crate::policy;
use crate::sealer::Sealer;

/// How long a setup token stays valid.
pub const SETUP_TTL_MS: i64 = 24 * 60 * 60 * 1000;

fn bad() -> VaultError {
    VaultError::Refused(ErrorCode::BadRequest)
}

/// Actor names the audit log uses for requests it cannot attribute.
const RESERVED: &[&str] = &["unknown", "unchecked"];

/// A display name usable for an agent.
fn agent_name(raw: &str) -> Result<String, VaultError> {
    let name = clean_display_name(raw).map_err(|_| bad())?;
    if RESERVED.contains(&crate::model::agent_slug(&name).as_str()) {
        return Err(bad());
    }
    Ok(name)
}

/// Resolves grant specs (entry names, field labels) to ids.
fn resolve_grants(
    tx: &mut dyn Tx,
    sealer: &Sealer,
    specs: &[GrantSpec],
) -> Result<Vec<Grant>, VaultError> {
    let mut grants: Vec<Grant> = Vec::new();
    for spec in specs {
        let (row, body) = entries::find(tx, sealer, &spec.entry)?;
        let fields = match &spec.fields {
            None => None,
            Some(labels) => Some(
                labels
                    .iter()
                    .map(|l| {
                        body.field_by_label(l)
                            .map(|f| f.id.clone())
                            .ok_or(ErrorCode::NotFound)
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        match grants.iter_mut().find(|g| g.entry_id == row.id) {
            // `--entry E --field E/F`: the whole entry wins; several
            // `--field E/x` accumulate.
            Some(existing) => match (&mut existing.fields, fields) {
                (Some(have), Some(more)) => have.extend(more),
                (have, None) => *have = None,
                (None, Some(_)) => {}
            },
            None => grants.push(Grant {
                entry_id: row.id,
                fields,
            }),
        }
    }
    Ok(grants)
}

fn check_limits(minute: u32, hour: u32, ips: &[String]) -> Result<(), VaultError> {
    if minute == 0 || hour == 0 || minute > hour || !ips.iter().all(|s| policy::valid_ip_spec(s)) {
        return Err(bad());
    }
    Ok(())
}

fn open(sealer: &Sealer, row: &AgentRow) -> Result<AgentBody, VaultError> {
    sealer.open_agent(&row.id, &row.body)
}

pub fn find(
    tx: &mut dyn Tx,
    sealer: &Sealer,
    name: &str,
) -> Result<(AgentRow, AgentBody), VaultError> {
    let row = tx
        .agent_by_index(&sealer.agent_index(name))?
        .ok_or(ErrorCode::NotFound)?;
    let body = open(sealer, &row)?;
    Ok((row, body))
}

/// A fresh single-use setup token for `row`, stored as its hash.
fn issue_setup(
    row: &mut AgentRow,
    public_url: &str,
    pin: Option<String>,
    now: i64,
) -> (Secret, i64) {
    let setup = SetupToken::new(public_url, pin, &row.id);
    row.setup_hash = Some(token::hash(&setup.secret).to_vec());
    let expires = now + SETUP_TTL_MS;
    row.setup_expires_at = Some(expires);
    (setup.encode(), expires)
}

pub struct Issued {
    pub token: Secret,
    pub expires_at: i64,
}

pub fn create(
    tx: &mut dyn Tx,
    sealer: &Sealer,
    req: &AgentCreate,
    public_url: &str,
    pin: Option<String>,
    now: i64,
) -> Result<Issued, VaultError> {
    let name = agent_name(&req.name)?;
    let index = sealer.agent_index(&name);
    if tx.agent_by_index(&index)?.is_some() {
        return Err(ErrorCode::NameTaken.into());
    }
    let minute = req.rate_minute.unwrap_or(DEFAULT_RATE_MINUTE);
    let hour = req.rate_hour.unwrap_or(DEFAULT_RATE_HOUR);
    check_limits(minute, hour, &req.ips)?;
    let body = AgentBody {
        name,
        grants: resolve_grants(tx, sealer, &req.grants)?,
        rate_minute: minute,
        rate_hour: hour,
        ips: req.ips.clone(),
    };
    let id = entries::new_id("a_");
    let mut row = AgentRow {
        id: id.clone(),
        name_index: index,
        body: sealer.seal_agent(&id, &body),
        state: state::ACTIVE.into(),
        credential_hash: None,
        setup_hash: None,
        setup_expires_at: None,
        expires_at: match req.expires_in {
            Some(secs) if secs > 0 => Some(now.saturating_add(secs.saturating_mul(1000))),
            Some(_) => return Err(bad()),
            None => None,
        },
        created_at: now,
        last_used_at: None,
        use_count: 0,
        violation_started_at: None,
    };
    let (token, expires_at) = issue_setup(&mut row, public_url, pin, now);
    tx.agent_put(&row)?;
    Ok(Issued { token, expires_at })
}

pub fn edit(tx: &mut dyn Tx, sealer: &Sealer, req: &AgentEdit, now: i64) -> Result<(), VaultError> {
    let (mut row, mut body) = find(tx, sealer, &req.name)?;
    if let Some(new_name) = &req.rename {
        let new_name = agent_name(new_name)?;
        let index = sealer.agent_index(&new_name);
        if let Some(other) = tx.agent_by_index(&index)?
            && other.id != row.id
        {
            return Err(ErrorCode::NameTaken.into());
        }
        row.name_index = index;
        body.name = new_name;
    }
    if let Some(grants) = &req.grants {
        body.grants = resolve_grants(tx, sealer, grants)?;
    }
    body.rate_minute = req.rate_minute.unwrap_or(body.rate_minute);
    body.rate_hour = req.rate_hour.unwrap_or(body.rate_hour);
    if let Some(ips) = &req.ips {
        body.ips = ips.clone();
    }
    check_limits(body.rate_minute, body.rate_hour, &body.ips)?;
    match req.expires_in {
        Some(Some(secs)) if secs > 0 => {
            row.expires_at = Some(now.saturating_add(secs.saturating_mul(1000)))
        }
        Some(Some(_)) => return Err(bad()),
        Some(None) => row.expires_at = None,
        None => {}
    }
    row.body = sealer.seal_agent(&row.id, &body);
    tx.agent_put(&row)?;
    Ok(())
}

pub fn revoke(tx: &mut dyn Tx, sealer: &Sealer, name: &str) -> Result<(), VaultError> {
    let (mut row, _) = find(tx, sealer, name)?;
    row.state = state::REVOKED.into();
    row.credential_hash = None;
    row.setup_hash = None;
    tx.agent_put(&row)?;
    Ok(())
}

/// A new setup token. Enrolling with it replaces the current credential.
/// A revoked agent stays revoked.
pub fn new_token(
    tx: &mut dyn Tx,
    sealer: &Sealer,
    name: &str,
    public_url: &str,
    pin: Option<String>,
    now: i64,
) -> Result<Issued, VaultError> {
    let (mut row, _) = find(tx, sealer, name)?;
    if row.state == state::REVOKED {
        return Err(ErrorCode::AgentRevoked.into());
    }
    let (token, expires_at) = issue_setup(&mut row, public_url, pin, now);
    tx.agent_put(&row)?;
    Ok(Issued { token, expires_at })
}

pub fn unlock(tx: &mut dyn Tx, sealer: &Sealer, name: &str) -> Result<(), VaultError> {
    let (mut row, _) = find(tx, sealer, name)?;
    if row.state == state::LOCKED {
        row.state = state::ACTIVE.into();
    }
    row.violation_started_at = None;
    tx.agent_put(&row)?;
    Ok(())
}

pub fn view(sealer: &Sealer, tx: &mut dyn Tx, row: &AgentRow) -> Result<AgentView, VaultError> {
    let body = open(sealer, row)?;
    let mut grants = Vec::new();
    for g in &body.grants {
        // A grant whose entry was deleted shows as nothing.
        let Some(entry) = tx.entry_by_id(&g.entry_id)?.filter(|e| !e.deleted) else {
            continue;
        };
        let eb: EntryBody = sealer.open_entry(&entry.id, entry.rev, &entry.body)?;
        let fields = g.fields.as_ref().map(|ids| {
            eb.fields
                .iter()
                .filter(|f| ids.contains(&f.id))
                .map(|f| f.label.clone())
                .collect()
        });
        grants.push(GrantSpec {
            entry: eb.name,
            fields,
        });
    }
    Ok(AgentView {
        id: row.id.clone(),
        name: body.name,
        state: row.state.clone(),
        grants,
        rate_minute: body.rate_minute,
        rate_hour: body.rate_hour,
        ips: body.ips,
        expires_at: row.expires_at,
        created_at: row.created_at,
        last_used_at: row.last_used_at,
        use_count: row.use_count,
        setup_pending: row.setup_hash.is_some(),
    })
}

pub fn list(tx: &mut dyn Tx, sealer: &Sealer) -> Result<Vec<AgentView>, VaultError> {
    let rows = tx.agents()?;
    let mut out = Vec::new();
    for row in &rows {
        out.push(view(sealer, tx, row)?);
    }
    out.sort_by_key(|a| normalize_name(&a.name));
    Ok(out)
}

/// Exchanges a setup token for a credential. Single use: the token's hash is
/// cleared as the credential is issued. Every attempt is audited.
pub fn enroll(
    tx: &mut dyn Tx,
    sealer: &Sealer,
    raw_token: &str,
    source: IpAddr,
    now: i64,
) -> Result<Result<EnrollResponse, ErrorCode>, VaultError> {
    let mut event = AuditEvent::new("cli:unknown", "enroll");
    event.source = Some(source.to_string());
    let setup = match SetupToken::decode(raw_token) {
        Ok(t) => t,
        Err(_) => {
            audit::append(
                tx,
                sealer,
                now,
                &event.refused(ErrorCode::InvalidToken.code()),
            )?;
            return Ok(Err(ErrorCode::InvalidToken));
        }
    };
    let hash = token::hash(&setup.secret);
    let by_id = tx.agent_by_id(&setup.agent)?;
    if let Some(row) = &by_id
        && let Ok(body) = open(sealer, row)
    {
        event.actor = format!("cli:{}", body.slug());
    }
    let valid = by_id.filter(|row| {
        row.setup_hash
            .as_deref()
            .is_some_and(|h| token::hashes_equal(h, &hash))
            && row.setup_expires_at.is_some_and(|e| e > now)
            && row.state != state::REVOKED
            && row.expires_at.is_none_or(|e| e > now)
    });
    let Some(mut row) = valid else {
        audit::append(
            tx,
            sealer,
            now,
            &event.refused(ErrorCode::InvalidToken.code()),
        )?;
        return Ok(Err(ErrorCode::InvalidToken));
    };
    let body = open(sealer, &row)?;
    let credential = token::random_token(token::AGENT_PREFIX);
    row.credential_hash = Some(token::hash(credential.expose()).to_vec());
    row.setup_hash = None;
    row.setup_expires_at = None;
    tx.agent_put(&row)?;
    audit::append(tx, sealer, now, &event)?;
    Ok(Ok(EnrollResponse {
        agent: body.name,
        agent_id: row.id,
        vault_id: sealer.vault_id.clone(),
        credential: credential.expose().to_string(),
        expires_at: row.expires_at,
    }))
}
