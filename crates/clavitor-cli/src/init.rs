//! `clavitor-cli init`: exchange a setup token for an agent credential.

use std::io::{IsTerminal, Read};
use std::path::Path;

use clavitor_core::Secret;
use clavitor_crypto::token::SetupToken;
use zeroize::Zeroizing;

use crate::cli::InitArgs;
use crate::config::{self, AgentConfig};
use crate::exit::{Failure, Result};
use crate::skill::{self, Installed};
use crate::util::{describe_expiry, now_ms};

const MAX_TOKEN: u64 = 16 * 1024;

fn read_token() -> Result<Secret> {
    let stdin = std::io::stdin();
    let text = if stdin.is_terminal() {
        Zeroizing::new(
            rpassword::prompt_password("Setup token (cvt_…, input hidden): ")
                .map_err(|e| Failure::local(format!("cannot read the setup token: {e}")))?,
        )
    } else {
        let mut buf = Zeroizing::new(String::new());
        stdin
            .lock()
            .take(MAX_TOKEN)
            .read_to_string(&mut buf)
            .map_err(|e| Failure::local(format!("cannot read the setup token from stdin: {e}")))?;
        buf
    };
    let token = text.trim();
    if token.is_empty() {
        return Err(Failure::local(
            "no setup token given: pipe it in, e.g. `echo \"$CLAVITOR_TOKEN\" | clavitor-cli init`",
        ));
    }
    Ok(Secret::new(token.to_string()))
}

pub async fn run(dir: &Path, args: &InitArgs) -> Result<()> {
    if config::exists(dir) && !args.force {
        let path = config::config_path(dir);
        let which = match config::load(dir) {
            Ok(c) => format!(
                "as agent \"{}\" for the vault at {} ({})",
                c.agent,
                c.vault_url,
                path.display()
            ),
            Err(_) => format!("({})", path.display()),
        };
        return Err(Failure::local(format!(
            "already initialised {which}; pass --force to replace it with a new setup token"
        )));
    }
    let token = read_token()?;
    let setup = SetupToken::decode(token.expose())
        .map_err(|e| Failure::local(format!("invalid setup token: {e}")))?;
    let url = setup.url.trim_end_matches('/').to_string();
    let client = crate::vault::connect(&url, setup.pin.as_deref(), None)?;
    let enrolled = client.enroll(&token).await.map_err(|e| {
        let refused = matches!(e, clavitor_client::ClientError::Refused { .. });
        let failure = Failure::from(e);
        if refused {
            failure.hint(
                "setup tokens work once and expire (24 hours by default): ask the vault owner \
                 for a new one (`clavitor agent token NAME`); nothing was changed here",
            )
        } else {
            failure
        }
    })?;
    let credential = Secret::new(enrolled.credential.clone());
    let cfg = AgentConfig::new(
        url,
        setup.pin.clone(),
        enrolled.vault_id.clone(),
        enrolled.agent.clone(),
        enrolled.agent_id.clone(),
        enrolled.expires_at,
        now_ms(),
        &credential,
    );
    drop(Zeroizing::new(enrolled.credential));
    let path = config::save(dir, &cfg)?;
    println!(
        "Initialised agent \"{}\" for the vault at {} (vault {}).",
        cfg.agent, cfg.vault_url, cfg.vault_id
    );
    println!(
        "Credential stored in {} (agent {}).",
        path.display(),
        describe_expiry(cfg.expires_at)
    );
    match skill::install(args.skill) {
        Ok(Installed::Written(p)) => println!("Installed the Claude Code skill: {}", p.display()),
        Ok(Installed::UpToDate(p)) => {
            println!("The Claude Code skill is up to date: {}", p.display());
        }
        Ok(Installed::Skipped) => {}
        Err(e) if args.skill.is_some() => return Err(e),
        Err(e) => eprintln!("clavitor-cli: warning: {e}"),
    }
    Ok(())
}
