//! `cargo xtask bench [vault|cli|proxy]`: benchmarks print figures as
//! ratios against a baseline measured in the same run (DESIGN.md §12).

use anyhow::bail;

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let which: Vec<&str> = if args.is_empty() {
        vec!["vault", "cli", "proxy"]
    } else {
        args.iter().map(String::as_str).collect()
    };
    for w in which {
        match w {
            "vault" => crate::run(
                "cargo",
                &[
                    "run",
                    "--release",
                    "--quiet",
                    "-p",
                    "clavitor-vault",
                    "--example",
                    "bench_vault",
                ],
            )?,
            "proxy" => crate::bench_proxy::run()?,
            "cli" => crate::bench_cli::run()?,
            other => bail!("unknown benchmark `{other}` (known: vault, cli, proxy)"),
        }
    }
    Ok(())
}
