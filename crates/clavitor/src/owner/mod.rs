//! Owner commands: they talk to the running vault with the owner token.

pub mod agent;
pub mod audit;
pub mod entry;

use anyhow::Context;
use clavitor_client::VaultClient;
use clavitor_core::Secret;

use crate::cli::OwnerOpts;

/// A client carrying the owner token from `CLAVITOR_OWNER_TOKEN` or the data dir.
pub fn client(opts: &OwnerOpts) -> anyhow::Result<VaultClient> {
    let token = match std::env::var("CLAVITOR_OWNER_TOKEN") {
        Ok(t) if !t.trim().is_empty() => t.trim().to_string(),
        _ => {
            let path = data_dir(opts)?.join(clavitor_vault::datadir::OWNER_TOKEN_FILE);
            std::fs::read_to_string(&path)
                .with_context(|| {
                    format!(
                        "cannot read the owner token at {} (start `clavitor serve` once, \
                         or set --data-dir / CLAVITOR_DATA_DIR / CLAVITOR_OWNER_TOKEN)",
                        path.display()
                    )
                })?
                .trim()
                .to_string()
        }
    };
    // A vault serving --tls-self-signed keeps its certificate in the data
    // dir: the owner CLI pins exactly that certificate.
    let cert = data_dir(opts)
        .ok()
        .map(|d| d.join("tls-cert.pem"))
        .filter(|p| p.exists());
    if let (true, Some(cert)) = (opts.vault.starts_with("https://"), cert) {
        let pin = clavitor_vault::tls::TlsIdentity::pin_of_file(&cert)?;
        return Ok(VaultClient::new_pinned(
            &opts.vault,
            Some(Secret::new(token)),
            &pin,
        )?);
    }
    Ok(VaultClient::new(&opts.vault, Some(Secret::new(token)))?)
}

fn data_dir(opts: &OwnerOpts) -> anyhow::Result<std::path::PathBuf> {
    match &opts.data_dir {
        Some(d) => Ok(d.clone()),
        None => crate::serve::default_data_dir(),
    }
}

/// `2026-03-08 10:23:14` (UTC) from epoch milliseconds.
pub fn format_time(ms: i64) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// Prints rows as aligned columns.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        println!("{}", out.trim_end());
    };
    line(header.iter().map(|s| s.to_string()).collect());
    for row in rows {
        line(row.clone());
    }
}
