//! `clavitor`: the vault server (`clavitor serve`) and the owner CLI.
//!
//! Exit codes: 0 success; 1 refused by the vault (any CV code);
//! 2 usage or local error; 3 vault unreachable.

mod cli;
mod exit;
mod owner;
mod serve;
mod values;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let args = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("clavitor: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(exit::LOCAL);
        }
    };
    let result = runtime.block_on(async move {
        match args.command {
            cli::Command::Serve(opts) => serve::run(opts, args.owner.data_dir.clone()).await,
            cli::Command::Entry(cmd) => owner::entry::run(&args.owner, cmd).await,
            cli::Command::Agent(cmd) => owner::agent::run(&args.owner, cmd).await,
            cli::Command::Audit(cmd) => owner::audit::run(&args.owner, cmd).await,
            cli::Command::Completions { shell } => {
                cli::completions(shell);
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => exit::OK,
        Err(e) => exit::report(&e),
    }
}
