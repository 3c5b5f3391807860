//! `cargo xtask bench [vault|cli|proxy]`: every benchmark, one table
//! (figure, value, baseline measured in the same run, ratio, target from
//! DESIGN.md §12). Each benchmark also prints its progress as it runs.

use std::process::{Command, Stdio};

use anyhow::{Context, bail};

use crate::table::Table;

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let which: Vec<&str> = if args.is_empty() {
        vec!["vault", "cli", "proxy"]
    } else {
        args.iter().map(String::as_str).collect()
    };
    let mut table = Table::default();
    for w in which {
        match w {
            "vault" => vault(&mut table)?,
            "cli" => crate::bench_cli::run(&mut table)?,
            "proxy" => crate::bench_proxy::run(&mut table)?,
            other => bail!("unknown benchmark `{other}` (known: vault, cli, proxy)"),
        }
    }
    println!("\n# Clavitor benchmarks (one machine, one run; baselines measured in the same run)");
    table.print();
    Ok(())
}

/// Runs the vault benchmark example and takes its `ROW\t…` lines.
fn vault(table: &mut Table) -> anyhow::Result<()> {
    crate::run(
        "cargo",
        &[
            "build",
            "--release",
            "--quiet",
            "-p",
            "clavitor-vault",
            "--example",
            "bench_vault",
        ],
    )?;
    let out = Command::new(crate::root().join("target/release/examples/bench_vault"))
        .current_dir(crate::root())
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run the vault benchmark")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("the vault benchmark failed:\n{text}");
    }
    table.section("Vault (cargo xtask bench vault)");
    for line in text.lines() {
        match line.strip_prefix("ROW\t") {
            Some(row) => {
                let cells: Vec<&str> = row.split('\t').collect();
                let cell = |i: usize| cells.get(i).copied().unwrap_or("");
                table.row(cell(0), cell(1), cell(2), cell(3), cell(4), cell(5));
            }
            None => eprintln!("{line}"),
        }
    }
    Ok(())
}
