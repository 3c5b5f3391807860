//! `cargo xtask soak [ROUNDS]`: the kill -9 durability test with more rounds
//! than the regular suite runs (default 500).

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let rounds = args.first().map(String::as_str).unwrap_or("500");
    // SAFETY of intent: only this process's children see the variable.
    let status = std::process::Command::new("cargo")
        .args([
            "test",
            "--release",
            "-p",
            "clavitor",
            "--test",
            "durability",
            "--",
            "--nocapture",
        ])
        .env("CLAVITOR_SOAK_ROUNDS", rounds)
        .current_dir(crate::root())
        .status()?;
    if !status.success() {
        anyhow::bail!("soak failed");
    }
    Ok(())
}
