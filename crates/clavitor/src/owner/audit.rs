//! `clavitor audit`, `clavitor audit verify`.

use anyhow::{Context, bail};
use clavitor_core::api::AuditRecord;

use crate::cli::{AuditCmd, AuditSub, OwnerOpts};
use crate::owner::{client, format_time};

/// RFC 3339 time or a duration ago (`2h`), to epoch milliseconds.
fn parse_since(spec: &str, now_ms: i64) -> anyhow::Result<i64> {
    if let Ok(t) = time::OffsetDateTime::parse(spec, &time::format_description::well_known::Rfc3339)
    {
        return Ok((t.unix_timestamp_nanos() / 1_000_000) as i64);
    }
    let d = humantime::parse_duration(spec).with_context(|| {
        format!(
            "--since {spec}: expected an RFC 3339 time (2026-03-08T10:00:00Z) or a duration (2h)"
        )
    })?;
    Ok(now_ms - d.as_millis() as i64)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub async fn run(opts: &OwnerOpts, cmd: AuditCmd) -> anyhow::Result<()> {
    let vault = client(opts)?;
    if let Some(AuditSub::Verify) = cmd.verify {
        let v = vault.audit_verify().await?;
        if v.ok {
            println!(
                "Audit log verified: {} records, hash chain intact.",
                v.records
            );
            return Ok(());
        }
        bail!(
            "audit log BROKEN at record {}: {} ({} records before it verified)",
            v.broken_at.unwrap_or(0),
            v.problem.unwrap_or_default(),
            v.records
        );
    }
    let since = cmd
        .since
        .as_deref()
        .map(|s| parse_since(s, now_ms()))
        .transpose()?;
    let records = vault
        .audit(cmd.agent.as_deref(), cmd.entry.as_deref(), since)
        .await?;
    if cmd.json {
        for r in &records {
            println!("{}", serde_json::to_string(r)?);
        }
    } else if cmd.csv {
        write_csv(&records)?;
    } else {
        print_rows(&records);
    }
    Ok(())
}

fn write_csv(records: &[AuditRecord]) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(std::io::stdout());
    w.write_record([
        "seq", "time", "action", "entry", "actor", "outcome", "reason", "field", "host", "from",
    ])?;
    for r in records {
        w.write_record([
            r.seq.to_string(),
            format_time(r.at),
            r.action.clone(),
            r.entry.clone().unwrap_or_default(),
            r.actor.clone(),
            r.outcome.clone(),
            r.reason.clone().unwrap_or_default(),
            r.field.clone().unwrap_or_default(),
            r.host.clone().unwrap_or_default(),
            r.source.clone().unwrap_or_default(),
        ])?;
    }
    w.flush()?;
    Ok(())
}

fn print_rows(records: &[AuditRecord]) {
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            let outcome = match &r.reason {
                Some(reason) if r.outcome != "ok" => format!("{} {reason}", r.outcome),
                _ => r.outcome.clone(),
            };
            vec![
                format_time(r.at),
                r.action.clone(),
                r.entry.clone().unwrap_or_else(|| "-".into()),
                r.actor.clone(),
                outcome,
                r.source.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let header = ["# TIME", "ACTION", "ENTRY", "ACTOR", "OUTCOME", "FROM"];
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (i, c) in row.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let fmt = |cells: &[String]| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect::<Vec<_>>()
            .join(" ")
            .trim_end()
            .to_string()
    };
    println!("{}", fmt(&header.map(String::from)));
    for row in &rows {
        println!("{}", fmt(row));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_forms() {
        assert_eq!(
            parse_since("2h", 10_000_000).unwrap(),
            10_000_000 - 7_200_000
        );
        assert_eq!(parse_since("1970-01-01T00:00:01Z", 0).unwrap(), 1000);
        assert!(parse_since("yesterday-ish", 0).is_err());
    }
}
