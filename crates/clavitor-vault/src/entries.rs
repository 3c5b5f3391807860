//! Owner operations on entries: create, edit, delete, show, list, history.
//! Every change appends a revision; an edit names the revision it changes.

use clavitor_core::api::{EntryCreate, EntryEdit, EntryView, FieldSpec, FieldView, RevisionView};
use clavitor_core::name::clean_display_name;
use clavitor_core::{ErrorCode, FieldKind, Tier, default_tier, normalize_name};
use clavitor_crypto::{b64, unb64};
use clavitor_store::{EntryRow, Tx};

use crate::error::VaultError;
use crate::model::{EntryBody, FieldBody};
use crate::policy::HostPattern;
use crate::sealer::Sealer;

/// Longest accepted field value, in bytes (a large PEM bundle fits).
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

pub fn new_id(prefix: &str) -> String {
    format!("{prefix}{}", b64(&clavitor_crypto::random_bytes::<12>()))
}

/// Ids chosen by clients must look like ours: short and URL-safe.
fn valid_id(id: &str) -> bool {
    (4..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn bad() -> VaultError {
    VaultError::Refused(ErrorCode::BadRequest)
}

fn check_hosts(hosts: &[String]) -> Result<(), VaultError> {
    if hosts.iter().all(|h| HostPattern::parse(h).is_some()) {
        Ok(())
    } else {
        Err(bad())
    }
}

/// Builds one field of revision `rev`, sealing its value.
fn build_field(
    sealer: &Sealer,
    entry_id: &str,
    rev: u64,
    spec: &FieldSpec,
) -> Result<FieldBody, VaultError> {
    let label = clean_display_name(&spec.label).map_err(|_| bad())?;
    let tier = spec.tier.unwrap_or_else(|| default_tier(&label));
    let kind = spec
        .kind
        .unwrap_or_else(|| FieldKind::default_for_label(&label));
    let id = match &spec.id {
        Some(id) if valid_id(id) => id.clone(),
        Some(_) => return Err(bad()),
        None => new_id("f_"),
    };
    check_hosts(&spec.hosts)?;
    let value = match tier {
        Tier::Personal => {
            // The server cannot check a personal value beyond its shape.
            let sealed = spec.sealed.as_deref().ok_or(ErrorCode::NoPersonalKey)?;
            if spec.value.is_some() || unb64(sealed).is_none_or(|b| b.len() > MAX_VALUE_BYTES * 2) {
                return Err(bad());
            }
            sealed.to_string()
        }
        Tier::Info | Tier::Shared => {
            let plain = spec.value.as_deref().ok_or_else(bad)?;
            if spec.sealed.is_some() || plain.len() > MAX_VALUE_BYTES {
                return Err(bad());
            }
            let plain = if kind == FieldKind::Totp {
                // Store the canonical otpauth form; reject what cannot give codes.
                let params = clavitor_totp::parse(plain).map_err(|_| bad())?;
                params.to_uri().expose().to_string()
            } else {
                plain.to_string()
            };
            sealer.seal_field(entry_id, &id, tier, rev, plain.as_bytes())?
        }
    };
    Ok(FieldBody {
        id,
        label,
        kind,
        tier,
        inject_only: spec.inject_only,
        hosts: spec.hosts.clone(),
        sealed_rev: rev,
        value,
    })
}

fn check_unique_labels(fields: &[FieldBody]) -> Result<(), VaultError> {
    let mut seen = std::collections::HashSet::new();
    for f in fields {
        if !seen.insert(normalize_name(&f.label)) {
            return Err(bad());
        }
    }
    Ok(())
}

fn write(
    tx: &mut dyn Tx,
    sealer: &Sealer,
    id: &str,
    rev: u64,
    body: &EntryBody,
    expected: Option<u64>,
    now: i64,
) -> Result<(), VaultError> {
    let row = EntryRow {
        id: id.to_string(),
        name_index: Some(sealer.entry_index(&body.name)),
        rev,
        deleted: false,
        body: sealer.seal_entry(id, rev, body),
        updated_at: now,
    };
    if !tx.entry_write(&row, expected, false)? {
        return Err(ErrorCode::Conflict.into());
    }
    Ok(())
}

pub fn create(
    tx: &mut dyn Tx,
    sealer: &Sealer,
    req: &EntryCreate,
    now: i64,
) -> Result<EntryView, VaultError> {
    let name = clean_display_name(&req.name).map_err(|_| bad())?;
    check_hosts(&req.hosts)?;
    if tx.entry_by_index(&sealer.entry_index(&name))?.is_some() {
        return Err(ErrorCode::NameTaken.into());
    }
    let id = match &req.id {
        Some(id) if valid_id(id) => id.clone(),
        Some(_) => return Err(bad()),
        None => new_id("e_"),
    };
    if tx.entry_by_id(&id)?.is_some() {
        return Err(bad());
    }
    let fields = req
        .fields
        .iter()
        .map(|spec| build_field(sealer, &id, 1, spec))
        .collect::<Result<Vec<_>, _>>()?;
    check_unique_labels(&fields)?;
    let body = EntryBody {
        name,
        kind: req.kind.clone(),
        hosts: req.hosts.clone(),
        fields,
    };
    write(tx, sealer, &id, 1, &body, None, now)?;
    Ok(view(sealer, &id, 1, now, &body, false))
}

/// The live entry called `name`, opened.
pub fn find(
    tx: &mut dyn Tx,
    sealer: &Sealer,
    name: &str,
) -> Result<(EntryRow, EntryBody), VaultError> {
    let row = tx
        .entry_by_index(&sealer.entry_index(name))?
        .ok_or(ErrorCode::NotFound)?;
    let body = sealer.open_entry(&row.id, row.rev, &row.body)?;
    Ok((row, body))
}

pub fn edit(
    tx: &mut dyn Tx,
    sealer: &Sealer,
    req: &EntryEdit,
    now: i64,
) -> Result<EntryView, VaultError> {
    let (row, mut body) = find(tx, sealer, &req.name)?;
    if row.rev != req.rev {
        return Err(ErrorCode::Conflict.into());
    }
    let rev = row.rev + 1;
    if let Some(new_name) = &req.rename {
        let new_name = clean_display_name(new_name).map_err(|_| bad())?;
        if let Some(other) = tx.entry_by_index(&sealer.entry_index(&new_name))?
            && other.id != row.id
        {
            return Err(ErrorCode::NameTaken.into());
        }
        body.name = new_name;
    }
    if let Some(kind) = &req.kind {
        body.kind = Some(kind.clone());
    }
    if let Some(hosts) = &req.hosts {
        check_hosts(hosts)?;
        body.hosts = hosts.clone();
    }
    for label in &req.remove {
        let key = normalize_name(label);
        let before = body.fields.len();
        body.fields.retain(|f| normalize_name(&f.label) != key);
        if body.fields.len() == before {
            return Err(ErrorCode::NotFound.into());
        }
    }
    for spec in &req.set {
        let key = normalize_name(&spec.label);
        let existing = body
            .fields
            .iter()
            .position(|f| normalize_name(&f.label) == key);
        let mut spec = spec.clone();
        if let Some(i) = existing {
            // Keep the field's identity (grants narrowed to it stay valid).
            // A personal value sealed for another field id would never
            // open again: that edit was made against another revision.
            if spec.sealed.is_some() && spec.id.as_ref().is_some_and(|id| *id != body.fields[i].id)
            {
                return Err(ErrorCode::Conflict.into());
            }
            spec.id = Some(body.fields[i].id.clone());
            if spec.value.is_none() && spec.sealed.is_none() {
                // Metadata-only change: keep the sealed value as it is. A
                // new tier needs the value again (a personal value cannot be
                // re-sealed here, and a silent no-op would mislead).
                let f = &mut body.fields[i];
                if spec.tier.is_some_and(|t| t != f.tier) {
                    return Err(bad());
                }
                f.inject_only = spec.inject_only;
                if let Some(kind) = spec.kind {
                    f.kind = kind;
                }
                check_hosts(&spec.hosts)?;
                f.hosts = spec.hosts.clone();
                continue;
            }
            body.fields[i] = build_field(sealer, &row.id, rev, &spec)?;
        } else {
            body.fields.push(build_field(sealer, &row.id, rev, &spec)?);
        }
    }
    check_unique_labels(&body.fields)?;
    write(tx, sealer, &row.id, rev, &body, Some(row.rev), now)?;
    Ok(view(sealer, &row.id, rev, now, &body, false))
}

pub fn delete(
    tx: &mut dyn Tx,
    sealer: &Sealer,
    name: &str,
    rev: u64,
    now: i64,
) -> Result<(), VaultError> {
    let (row, body) = find(tx, sealer, name)?;
    if row.rev != rev {
        return Err(ErrorCode::Conflict.into());
    }
    let new_rev = rev + 1;
    let tomb = EntryRow {
        id: row.id.clone(),
        name_index: None,
        rev: new_rev,
        deleted: true,
        body: sealer.seal_entry(&row.id, new_rev, &body),
        updated_at: now,
    };
    if !tx.entry_write(&tomb, Some(rev), true)? {
        return Err(ErrorCode::Conflict.into());
    }
    Ok(())
}

pub fn list(tx: &mut dyn Tx, sealer: &Sealer) -> Result<Vec<EntryView>, VaultError> {
    let mut out = Vec::new();
    for row in tx.entries()? {
        let body: EntryBody = sealer.open_entry(&row.id, row.rev, &row.body)?;
        out.push(view(sealer, &row.id, row.rev, row.updated_at, &body, false));
    }
    out.sort_by_key(|e| normalize_name(&e.name));
    Ok(out)
}

pub fn history(
    tx: &mut dyn Tx,
    sealer: &Sealer,
    name: &str,
) -> Result<Vec<RevisionView>, VaultError> {
    let (row, _) = find(tx, sealer, name)?;
    tx.entry_revisions(&row.id)?
        .into_iter()
        .map(|r| {
            let body: EntryBody = sealer.open_entry(&r.entry_id, r.rev, &r.body)?;
            Ok(RevisionView {
                rev: r.rev,
                at: r.created_at,
                tombstone: r.tombstone,
                name: body.name,
                labels: body.fields.into_iter().map(|f| f.label).collect(),
            })
        })
        .collect()
}

/// The owner's view. Info values are shown; shared values only when
/// `reveal`; personal values only as ciphertext.
pub fn view(
    sealer: &Sealer,
    id: &str,
    rev: u64,
    updated_at: i64,
    body: &EntryBody,
    reveal: bool,
) -> EntryView {
    let fields = body
        .fields
        .iter()
        .map(|f| {
            let (value, sealed) = match f.tier {
                Tier::Personal => (None, Some(f.value.clone())),
                Tier::Shared if !reveal => (None, None),
                Tier::Info | Tier::Shared => (
                    sealer
                        .open_field(id, &f.id, f.tier, f.sealed_rev, &f.value)
                        .ok()
                        .and_then(|v| String::from_utf8(v.to_vec()).ok()),
                    None,
                ),
            };
            FieldView {
                id: f.id.clone(),
                label: f.label.clone(),
                kind: f.kind,
                tier: f.tier,
                inject_only: f.inject_only,
                hosts: f.hosts.clone(),
                value,
                sealed,
                sealed_rev: f.sealed_rev,
            }
        })
        .collect();
    EntryView {
        id: id.to_string(),
        name: body.name.clone(),
        kind: body.kind.clone(),
        rev,
        hosts: body.hosts.clone(),
        fields,
        updated_at,
    }
}
