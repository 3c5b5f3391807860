//! `clavitor-cli get` and `clavitor-cli totp`: one value on stdout.

use clavitor_core::api::Channel;
use zeroize::Zeroizing;

use crate::cli::{GetArgs, TotpArgs};
use crate::config::AgentConfig;
use crate::exit::{Failure, Result};
use crate::util::write_stdout;

fn to_json(value: &serde_json::Value) -> Result<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(
        serde_json::to_vec(value)
            .map_err(|e| Failure::local(format!("cannot encode JSON: {e}")))?,
    );
    out.push(b'\n');
    Ok(out)
}

pub async fn get(config: &AgentConfig, args: &GetArgs) -> Result<()> {
    let client = crate::vault::client(config)?;
    let res = client
        .read(&args.entry, args.field.as_deref(), Channel::Cli)
        .await?;
    let value = Zeroizing::new(res.value);
    let out = if args.json {
        let mut obj = serde_json::json!({
            "entry": args.entry,
            "field": res.field,
            "value": value.as_str(),
        });
        if let Some(left) = res.seconds_left {
            obj["seconds_left"] = left.into();
        }
        let out = to_json(&obj)?;
        // The JSON tree holds a copy of the value.
        if let Some(serde_json::Value::String(s)) = obj.get_mut("value") {
            drop(Zeroizing::new(std::mem::take(s)));
        }
        out
    } else {
        let mut out = Zeroizing::new(Vec::with_capacity(value.len() + 1));
        out.extend_from_slice(value.as_bytes());
        if !args.no_newline {
            out.push(b'\n');
        }
        out
    };
    write_stdout(&out)
}

pub async fn totp(config: &AgentConfig, args: &TotpArgs) -> Result<()> {
    let client = crate::vault::client(config)?;
    let res = client.totp(&args.entry, Channel::Cli).await?;
    let code = Zeroizing::new(res.code);
    if args.json {
        let obj = serde_json::json!({
            "entry": args.entry,
            "field": res.field,
            "code": code.as_str(),
            "seconds_left": res.seconds_left,
        });
        write_stdout(&to_json(&obj)?)
    } else {
        let line = Zeroizing::new(format!("{}\n", code.as_str()));
        write_stdout(line.as_bytes())
    }
}
