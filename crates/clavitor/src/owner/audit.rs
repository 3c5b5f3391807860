//! `clavitor audit`, `clavitor audit verify`.

use anyhow::Context;
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
        return Err(crate::exit::AuditBroken(format!(
            "audit log BROKEN at record {}: {} ({} records before it verified)",
            v.broken_at.unwrap_or(0),
            v.problem.unwrap_or_default(),
            v.records
        ))
        .into());
    }
    let since = cmd
        .since
        .as_deref()
        .map(|s| parse_since(s, now_ms()))
        .transpose()?;
    let records = vault
        .audit(cmd.agent.as_deref(), cmd.entry.as_deref(), since)
        .await?;
    let text = if cmd.json {
        let mut out = String::new();
        for r in &records {
            out.push_str(&serde_json::to_string(r)?);
            out.push('\n');
        }
        out
    } else if cmd.csv {
        csv_text(&records)?
    } else {
        table_text(&records)
    };
    write_stdout(&text)
}

/// Writes to stdout; a reader that closed the pipe (`| head`) is not an error.
fn write_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Names in the log come from agents, so they may hold anything: control
/// and bidirectional-override characters are shown as `?`, so a name can
/// neither fake a row nor drive the owner's terminal.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}');
            if c.is_control() || bidi { '?' } else { c }
        })
        .collect()
}

/// CSV cells that a spreadsheet would run as a formula get a leading `'`.
fn csv_cell(text: &str) -> String {
    let text = printable(text);
    if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text
    }
}

fn csv_text(records: &[AuditRecord]) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "seq", "time", "action", "entry", "actor", "outcome", "reason", "field", "host", "from",
    ])?;
    for r in records {
        w.write_record([
            r.seq.to_string(),
            format_time(r.at),
            csv_cell(&r.action),
            csv_cell(r.entry.as_deref().unwrap_or_default()),
            csv_cell(&r.actor),
            csv_cell(&r.outcome),
            csv_cell(r.reason.as_deref().unwrap_or_default()),
            csv_cell(r.field.as_deref().unwrap_or_default()),
            csv_cell(r.host.as_deref().unwrap_or_default()),
            csv_cell(r.source.as_deref().unwrap_or_default()),
        ])?;
    }
    let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("csv: {e}"))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn table_text(records: &[AuditRecord]) -> String {
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            let outcome = match &r.reason {
                Some(reason) if r.outcome != "ok" => format!("{} {reason}", r.outcome),
                _ => r.outcome.clone(),
            };
            vec![
                format_time(r.at),
                printable(&r.action),
                r.entry
                    .as_deref()
                    .map(printable)
                    .unwrap_or_else(|| "-".into()),
                printable(&r.actor),
                printable(&outcome),
                r.source
                    .as_deref()
                    .map(printable)
                    .unwrap_or_else(|| "-".into()),
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
    let mut out = fmt(&header.map(String::from));
    out.push('\n');
    for row in &rows {
        out.push_str(&fmt(row));
        out.push('\n');
    }
    out
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
