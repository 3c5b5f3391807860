//! `clavitor-cli`: the agent CLI of Clavitor (DESIGN.md §9).
//!
//! Exit codes: 0 success; 1 refused by the vault (any CV code) or a render
//! with unresolved references; 2 usage or local error; 3 vault unreachable.

mod cli;
mod config;
mod exit;
mod get;
mod init;
mod proxy;
mod render;
mod skill;
mod status;
mod util;
mod vault;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::exit::{Failure, Result};

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::local(format!("cannot start the async runtime: {e}")))
}

fn run(cli: Cli) -> Result<()> {
    let dir = || config::config_dir(cli.config_dir.as_deref());
    match &cli.command {
        Command::Init(args) => {
            let dir = dir()?;
            runtime()?.block_on(init::run(&dir, args))
        }
        Command::Get(args) => {
            let cfg = config::load(&dir()?)?;
            runtime()?.block_on(get::get(&cfg, args))
        }
        Command::Totp(args) => {
            let cfg = config::load(&dir()?)?;
            runtime()?.block_on(get::totp(&cfg, args))
        }
        Command::Render(args) => render::run(&dir()?, args, &runtime()?),
        Command::Status => {
            let dir = dir()?;
            runtime()?.block_on(status::run(&dir))
        }
        Command::Proxy(args) => proxy::run(&dir()?, args),
        Command::Env(args) => proxy::env(&dir()?, args),
        Command::Completions { shell } => {
            cli::completions(*shell);
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}
