//! `clavitor entry …`

use anyhow::{Context, bail};
use clavitor_core::api::{EntryCreate, EntryEdit, EntryView, FieldSpec};
use clavitor_core::{FieldKind, Tier, default_tier};
use clavitor_crypto::personal::{self, PersonalContext, PersonalPublicKey};

use crate::cli::{EntryCmd, FieldArgs, OwnerOpts};
use crate::owner::{client, format_time, print_table};
use crate::values::ValueReader;

/// Field specs from the command line; personal values are sealed here, on
/// the owner's machine, before anything is sent.
struct Built {
    specs: Vec<FieldSpec>,
}

fn new_id(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        clavitor_crypto::b64(&clavitor_crypto::random_bytes::<12>())
    )
}

async fn build_fields(
    vault: &clavitor_client::VaultClient,
    args: &FieldArgs,
    entry_id: &str,
    rev: u64,
    existing: Option<&EntryView>,
) -> anyhow::Result<Built> {
    let mut reader = ValueReader::default();
    let mut specs: Vec<FieldSpec> = Vec::new();
    let current = |label: &str| {
        let key = clavitor_core::normalize_name(label);
        existing.and_then(|e| {
            e.fields
                .iter()
                .find(|f| clavitor_core::normalize_name(&f.label) == key)
        })
    };
    // A new value for an existing field keeps its inject-only flag, hosts and
    // kind: rotating an inject-only key must not make it readable by `get`.
    let mut push =
        |label: String, value: clavitor_core::Secret, tier: Tier, kind: Option<FieldKind>| {
            let (inject_only, hosts, kind) = match current(&label) {
                Some(f) => (f.inject_only, f.hosts.clone(), kind.or(Some(f.kind))),
                None => (false, Vec::new(), kind),
            };
            specs.push(FieldSpec {
                label,
                tier: Some(tier),
                kind,
                inject_only,
                hosts,
                value: Some(value.expose().to_string()),
                ..FieldSpec::default()
            });
        };
    for raw in &args.field {
        let (label, value) = reader.pair(raw)?;
        // `--field` on an existing label keeps its tier; the label table
        // only chooses for new fields.
        let tier = current(&label).map_or_else(|| default_tier(&label), |f| f.tier);
        push(label, value, tier, None);
    }
    for raw in &args.shared {
        let (label, value) = reader.pair(raw)?;
        push(label, value, Tier::Shared, None);
    }
    for raw in &args.info {
        let (label, value) = reader.pair(raw)?;
        push(label, value, Tier::Info, None);
    }
    for raw in &args.personal {
        let (label, value) = reader.pair(raw)?;
        push(label, value, Tier::Personal, None);
    }
    for (i, url) in args.url.iter().enumerate() {
        let label = if i == 0 {
            "url".to_string()
        } else {
            format!("url{}", i + 1)
        };
        let value = reader.value_for("url", url)?;
        push(label, value, Tier::Info, Some(FieldKind::Url));
    }
    if let Some(totp) = &args.totp {
        let value = reader.value_for("totp", totp)?;
        push("totp".into(), value, Tier::Shared, Some(FieldKind::Totp));
    }
    for label in &args.inject_only {
        let key = clavitor_core::normalize_name(label);
        match specs
            .iter_mut()
            .find(|s| clavitor_core::normalize_name(&s.label) == key)
        {
            Some(spec) => spec.inject_only = true,
            None => match existing.and_then(|e| {
                e.fields
                    .iter()
                    .find(|f| clavitor_core::normalize_name(&f.label) == key)
            }) {
                // Marking an existing field: a metadata-only change.
                Some(f) => specs.push(FieldSpec {
                    label: f.label.clone(),
                    inject_only: true,
                    hosts: f.hosts.clone(),
                    ..FieldSpec::default()
                }),
                None => bail!("--inject-only {label}: no field with that label"),
            },
        }
    }
    if specs.iter().any(|s| s.tier == Some(Tier::Personal)) {
        seal_personal(vault, &mut specs, entry_id, rev, existing).await?;
    }
    Ok(Built { specs })
}

async fn seal_personal(
    vault: &clavitor_client::VaultClient,
    specs: &mut [FieldSpec],
    entry_id: &str,
    rev: u64,
    existing: Option<&EntryView>,
) -> anyhow::Result<()> {
    let key = vault.personal_key().await?;
    let vault_id = key.vault_id;
    let Some(public) = key.public_key else {
        // The vault would answer the same code; saying it here seals nothing.
        let code = clavitor_core::ErrorCode::NoPersonalKey;
        return Err(anyhow::Error::new(clavitor_client::ClientError::Refused {
            code: code.code().to_string(),
            message: code.message().to_string(),
        })
        .context(
            "personal fields are sealed to the key a PRF-capable passkey creates: open the \
             one-time setup link that `clavitor serve` prints",
        ));
    };
    let public = PersonalPublicKey::from_base64url(&public)
        .map_err(|_| anyhow::anyhow!("the vault's personal public key is malformed"))?;
    for spec in specs.iter_mut().filter(|s| s.tier == Some(Tier::Personal)) {
        let key = clavitor_core::normalize_name(&spec.label);
        let field_id = existing
            .and_then(|e| {
                e.fields
                    .iter()
                    .find(|f| clavitor_core::normalize_name(&f.label) == key)
            })
            .map(|f| f.id.clone())
            .unwrap_or_else(|| new_id("f_"));
        let plain = spec.value.take().unwrap_or_default();
        let ctx = PersonalContext {
            vault_id: &vault_id,
            entry_id,
            field_id: &field_id,
            revision: rev,
        };
        let blob = personal::seal(&public, &ctx, plain.as_bytes())
            .map_err(|_| anyhow::anyhow!("cannot seal the personal value"))?;
        spec.id = Some(field_id);
        spec.sealed = Some(clavitor_crypto::b64(&blob));
    }
    Ok(())
}

pub async fn run(opts: &OwnerOpts, cmd: EntryCmd) -> anyhow::Result<()> {
    let vault = client(opts)?;
    match cmd {
        EntryCmd::Add { name, fields } => {
            let id = new_id("e_");
            let built = build_fields(&vault, &fields, &id, 1, None).await?;
            let view = vault
                .create_entry(&EntryCreate {
                    id: Some(id),
                    name,
                    kind: fields.kind.clone(),
                    hosts: fields.host.clone(),
                    fields: built.specs,
                })
                .await?;
            let n = view.fields.len();
            let noun = if n == 1 { "field" } else { "fields" };
            let tiers = view
                .fields
                .iter()
                .map(|f| format!("{} {}", f.label, f.tier.as_str()))
                .collect::<Vec<_>>()
                .join(", ");
            println!(
                "Added \"{}\" ({n} {noun}: {tiers}; revision {}).",
                view.name, view.rev
            );
            warn_secret_looking_info(&view);
        }
        EntryCmd::Show { name, reveal, json } => {
            let view = vault
                .entry(&name, reveal)
                .await
                .with_context(|| not_found_hint(&name))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&view)?);
            } else {
                print_entry(&view);
            }
        }
        EntryCmd::List { json } => {
            let list = vault.entries().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                println!(
                    "No entries yet. Add one with: clavitor entry add NAME --field password=-"
                );
            } else {
                let rows = list
                    .iter()
                    .map(|e| {
                        vec![
                            e.name.clone(),
                            e.kind.clone().unwrap_or_default(),
                            e.fields
                                .iter()
                                .map(|f| f.label.clone())
                                .collect::<Vec<_>>()
                                .join(","),
                            e.rev.to_string(),
                            format_time(e.updated_at),
                        ]
                    })
                    .collect::<Vec<_>>();
                print_table(&["NAME", "KIND", "FIELDS", "REV", "UPDATED"], &rows);
            }
        }
        EntryCmd::Edit {
            name,
            fields,
            rename,
            rm_field,
            clear_hosts,
        } => {
            let current = vault
                .entry(&name, false)
                .await
                .with_context(|| not_found_hint(&name))?;
            let rev = current.rev + 1;
            let built = build_fields(&vault, &fields, &current.id, rev, Some(&current)).await?;
            let hosts = if clear_hosts {
                Some(fields.host.clone())
            } else if fields.host.is_empty() {
                None
            } else {
                let mut h = current.hosts.clone();
                h.extend(fields.host.iter().cloned());
                Some(h)
            };
            let view = vault
                .edit_entry(&EntryEdit {
                    name,
                    rev: current.rev,
                    rename,
                    kind: fields.kind.clone(),
                    hosts,
                    set: built.specs,
                    remove: rm_field,
                })
                .await?;
            println!("Updated \"{}\" (revision {}).", view.name, view.rev);
        }
        EntryCmd::Rm { name } => {
            let current = vault
                .entry(&name, false)
                .await
                .with_context(|| not_found_hint(&name))?;
            vault.delete_entry(&name, current.rev).await?;
            println!("Deleted \"{}\" (history kept).", current.name);
        }
        EntryCmd::History { name, json } => {
            let revs = vault
                .entry_history(&name)
                .await
                .with_context(|| not_found_hint(&name))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&revs)?);
            } else {
                let rows = revs
                    .iter()
                    .map(|r| {
                        vec![
                            r.rev.to_string(),
                            format_time(r.at),
                            if r.tombstone {
                                "deleted".into()
                            } else {
                                "saved".into()
                            },
                            r.name.clone(),
                            r.labels.join(","),
                        ]
                    })
                    .collect::<Vec<_>>();
                print_table(&["REV", "TIME", "CHANGE", "NAME", "FIELDS"], &rows);
            }
        }
    }
    Ok(())
}

fn print_entry(view: &EntryView) {
    println!(
        "{}  (revision {}, updated {})",
        view.name,
        view.rev,
        format_time(view.updated_at)
    );
    if let Some(kind) = &view.kind {
        println!("kind: {kind}");
    }
    if !view.hosts.is_empty() {
        println!("hosts: {}", view.hosts.join(", "));
    }
    let rows = view
        .fields
        .iter()
        .map(|f| {
            let value = match (f.tier, &f.value) {
                (Tier::Personal, _) => "(personal: decrypt in the web vault)".to_string(),
                (_, Some(v)) => v.clone(),
                (_, None) => "••••••••  (--reveal to show)".to_string(),
            };
            let mut flags = Vec::new();
            if f.inject_only {
                flags.push("inject-only".to_string());
            }
            if !f.hosts.is_empty() {
                flags.push(format!("hosts={}", f.hosts.join(",")));
            }
            vec![
                f.label.clone(),
                f.tier.as_str().into(),
                f.kind.as_str().into(),
                value,
                flags.join(" "),
            ]
        })
        .collect::<Vec<_>>();
    print_table(&["FIELD", "TIER", "KIND", "VALUE", "FLAGS"], &rows);
}

/// A label that reads like a secret but got the info tier by default (the
/// table is exact: `secret_access_key` is not in it) is said on stderr.
fn warn_secret_looking_info(view: &EntryView) {
    const HINTS: [&str; 6] = ["secret", "password", "passwd", "token", "key", "credential"];
    for f in view.fields.iter().filter(|f| f.tier == Tier::Info) {
        let label = clavitor_core::normalize_name(&f.label);
        if HINTS.iter().any(|h| label.as_str().contains(h)) {
            eprintln!(
                "clavitor: note: \"{}\" is an info field (readable in clear by granted agents, \
                 shown by `entry show`); if it is a secret: clavitor entry edit \"{}\" --shared {}=-",
                f.label, view.name, f.label
            );
        }
    }
}

/// Names the entry a refusal is about and where to look.
fn not_found_hint(name: &str) -> String {
    format!("entry \"{name}\"; `clavitor entry list` shows the names")
}
