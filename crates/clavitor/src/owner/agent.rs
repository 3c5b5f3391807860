//! `clavitor agent …`

use anyhow::{Context, bail};
use clavitor_core::api::{AgentCreate, AgentEdit, AgentView, GrantSpec};

use crate::cli::{AccessArgs, AgentCmd, OwnerOpts};
use crate::owner::{client, format_time, print_table};

/// `3/min,10/h` → (3, 10). Either part may be given alone.
pub fn parse_rate(spec: &str) -> anyhow::Result<(Option<u32>, Option<u32>)> {
    let (mut minute, mut hour) = (None, None);
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (n, unit) = part
            .split_once('/')
            .with_context(|| format!("rate `{part}`: expected N/min or N/h"))?;
        let n: u32 = n
            .trim()
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .with_context(|| format!("rate `{part}`: N must be a positive whole number"))?;
        match unit.trim().to_ascii_lowercase().as_str() {
            "m" | "min" | "minute" => minute = Some(n),
            "h" | "hour" => hour = Some(n),
            other => bail!("rate `{part}`: unknown unit `{other}` (use min or h)"),
        }
    }
    Ok((minute, hour))
}

/// `--field E/F`: the field is after the last `/`.
fn grants(access: &AccessArgs) -> anyhow::Result<Vec<GrantSpec>> {
    let mut out: Vec<GrantSpec> = access
        .entry
        .iter()
        .map(|e| GrantSpec {
            entry: e.clone(),
            fields: None,
        })
        .collect();
    for spec in &access.field {
        let Some((entry, field)) = spec.rsplit_once('/') else {
            bail!("--field {spec}: expected ENTRY/FIELD");
        };
        if entry.is_empty() || field.is_empty() {
            bail!("--field {spec}: expected ENTRY/FIELD");
        }
        out.push(GrantSpec {
            entry: entry.to_string(),
            fields: Some(vec![field.to_string()]),
        });
    }
    Ok(out)
}

/// Says which names a refused `agent create` is about.
fn explain_create(
    e: clavitor_client::ClientError,
    name: &str,
    access: &AccessArgs,
) -> anyhow::Error {
    let hint = match &e {
        clavitor_client::ClientError::Refused { code, .. } if code == "CV-1002" => {
            let named: Vec<&str> = access
                .entry
                .iter()
                .map(String::as_str)
                .chain(
                    access
                        .field
                        .iter()
                        .filter_map(|f| f.rsplit_once('/').map(|(e, _)| e)),
                )
                .collect();
            Some(format!(
                "an entry named by --entry/--field does not exist ({}); `clavitor entry list` shows the names",
                named.join(", ")
            ))
        }
        clavitor_client::ClientError::Refused { code, .. } if code == "CV-1004" => Some(format!(
            "an agent called \"{name}\" exists, perhaps revoked (`clavitor agent list`); free the \
             name with `clavitor agent edit \"{name}\" --rename \"{name} (old)\"`"
        )),
        _ => None,
    };
    match hint {
        Some(hint) => anyhow::Error::new(e).context(hint),
        None => e.into(),
    }
}

/// `current` with whole-entry grants added and grants removed, by entry name
/// (compared as the vault compares names).
fn changed_grants(
    mut current: Vec<GrantSpec>,
    add: &[String],
    remove: &[String],
) -> anyhow::Result<Vec<GrantSpec>> {
    let same =
        |a: &str, b: &str| clavitor_core::normalize_name(a) == clavitor_core::normalize_name(b);
    for entry in remove {
        let before = current.len();
        current.retain(|g| !same(&g.entry, entry));
        if current.len() == before {
            bail!("--remove-entry {entry}: the agent has no grant of that entry");
        }
    }
    for entry in add {
        current.retain(|g| !same(&g.entry, entry));
        current.push(GrantSpec {
            entry: entry.clone(),
            fields: None,
        });
    }
    if current.is_empty() {
        bail!(
            "that would leave the agent with no grant: revoke it instead (clavitor agent revoke NAME)"
        );
    }
    Ok(current)
}

fn expires(access: &AccessArgs) -> anyhow::Result<Option<i64>> {
    access
        .expires
        .as_deref()
        .map(|d| {
            humantime::parse_duration(d)
                .map(|d| d.as_secs() as i64)
                .with_context(|| format!("--expires {d}: expected a duration such as 30d or 12h"))
        })
        .transpose()
}

pub async fn run(opts: &OwnerOpts, cmd: AgentCmd) -> anyhow::Result<()> {
    let vault = client(opts)?;
    match cmd {
        AgentCmd::Create { name, access } => {
            let grants = grants(&access)?;
            if grants.is_empty() {
                bail!("name at least one --entry (or --field ENTRY/FIELD) the agent may use");
            }
            let (rate_minute, rate_hour) = match &access.rate {
                Some(r) => parse_rate(r)?,
                None => (None, None),
            };
            let res = vault
                .create_agent(&AgentCreate {
                    name: name.clone(),
                    grants,
                    rate_minute,
                    rate_hour,
                    ips: access.ip.clone(),
                    expires_in: expires(&access)?,
                })
                .await
                .map_err(|e| explain_create(e, &name, &access))?;
            // Only the token on stdout, so CLAVITOR_TOKEN=$(clavitor agent create …) works.
            println!("{}", res.token);
            eprintln!(
                "Agent \"{name}\" created. On the agent machine: echo \"$CLAVITOR_TOKEN\" | clavitor-cli init   (token valid until {} UTC, single use)",
                format_time(res.expires_at)
            );
        }
        AgentCmd::List { json } => {
            let list = vault.agents().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                println!(
                    "No agents yet. Create one with: clavitor agent create NAME --entry ENTRY"
                );
            } else {
                let rows = list.iter().map(row).collect::<Vec<_>>();
                print_table(
                    &["NAME", "STATE", "ENTRIES", "RATE", "LAST USED", "USES"],
                    &rows,
                );
            }
        }
        AgentCmd::Show { name, json } => {
            let a = vault.agent(&name).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&a)?);
            } else {
                show(&a);
            }
        }
        AgentCmd::Edit {
            name,
            rename,
            access,
            add_entry,
            remove_entry,
            no_expiry,
        } => {
            let grants = if add_entry.is_empty() && remove_entry.is_empty() {
                grants(&access)?
            } else {
                let current = vault.agent(&name).await?.grants;
                changed_grants(current, &add_entry, &remove_entry)?
            };
            let (rate_minute, rate_hour) = match &access.rate {
                Some(r) => parse_rate(r)?,
                None => (None, None),
            };
            let expires_in = if no_expiry {
                Some(None)
            } else {
                expires(&access)?.map(Some)
            };
            let now_called = rename.clone().unwrap_or_else(|| name.clone());
            vault
                .edit_agent(&AgentEdit {
                    name: name.clone(),
                    rename,
                    grants: (!grants.is_empty()).then_some(grants),
                    rate_minute,
                    rate_hour,
                    ips: (!access.ip.is_empty()).then(|| access.ip.clone()),
                    expires_in,
                })
                .await?;
            if now_called == name {
                println!("Updated agent \"{name}\".");
            } else {
                println!("Updated agent \"{name}\", now called \"{now_called}\".");
            }
        }
        AgentCmd::Revoke { name } => {
            vault.revoke_agent(&name).await?;
            println!("Revoked agent \"{name}\": its next request is refused.");
        }
        AgentCmd::Token { name } => {
            let res = vault.agent_token(&name).await?;
            println!("{}", res.token);
            eprintln!(
                "New setup token for \"{name}\" (single use, valid until {} UTC). Enrolling with it replaces the agent's current credential.",
                format_time(res.expires_at)
            );
        }
        AgentCmd::Unlock { name } => {
            vault.unlock_agent(&name).await?;
            println!("Unlocked agent \"{name}\".");
        }
    }
    Ok(())
}

fn grant_text(a: &AgentView) -> String {
    a.grants
        .iter()
        .map(|g| match &g.fields {
            None => g.entry.clone(),
            Some(f) => format!("{}/{}", g.entry, f.join("+")),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn row(a: &AgentView) -> Vec<String> {
    vec![
        a.name.clone(),
        a.state.clone(),
        grant_text(a),
        format!("{}/min,{}/h", a.rate_minute, a.rate_hour),
        a.last_used_at
            .map(format_time)
            .unwrap_or_else(|| "never".into()),
        a.use_count.to_string(),
    ]
}

fn show(a: &AgentView) {
    println!("{}  ({})", a.name, a.state);
    println!("entries:   {}", grant_text(a));
    println!("rate:      {}/min, {}/h", a.rate_minute, a.rate_hour);
    println!(
        "ip:        {}",
        if a.ips.is_empty() {
            "any".into()
        } else {
            a.ips.join(", ")
        }
    );
    println!(
        "expires:   {}",
        a.expires_at
            .map(format_time)
            .unwrap_or_else(|| "never".into())
    );
    println!("created:   {}", format_time(a.created_at));
    println!(
        "last used: {}",
        a.last_used_at
            .map(format_time)
            .unwrap_or_else(|| "never".into())
    );
    println!("uses:      {}", a.use_count);
    if a.setup_pending {
        println!("setup token outstanding (not yet used)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(parse_rate("3/min,10/h").unwrap(), (Some(3), Some(10)));
        assert_eq!(parse_rate("5/m").unwrap(), (Some(5), None));
        assert!(parse_rate("0/min").is_err());
        assert!(parse_rate("3/day").is_err());
        assert!(parse_rate("abc").is_err());
    }
}
