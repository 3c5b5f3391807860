//! `clavitor-cli render FILE [-o OUT] [--format F]`.
//!
//! Every reference is resolved (each distinct one once, in document order)
//! before anything is written. Any failure: all of them are listed, nothing is
//! written, exit 1 (3 when the vault cannot be reached).

use std::io::Read;
use std::path::{Path, PathBuf};

use clavitor_client::ClientError;
use clavitor_core::api::Channel;
use clavitor_core::{Reference, Secret};
use clavitor_template::{Format, ResolveError, detect_format, find_references, render};
use zeroize::Zeroizing;

use crate::cli::RenderArgs;
use crate::config;
use crate::exit::{Failure, Result};
use crate::util::write_stdout;

fn read_template(file: &Path) -> Result<String> {
    let mut bytes = Vec::new();
    let res = if file == Path::new("-") {
        std::io::stdin().lock().read_to_end(&mut bytes)
    } else {
        std::fs::File::open(file).and_then(|mut f| f.read_to_end(&mut bytes))
    };
    res.map_err(|e| Failure::local(format!("cannot read {}: {e}", file.display())))?;
    String::from_utf8(bytes)
        .map_err(|_| Failure::local(format!("{} is not UTF-8 text", file.display())))
}

/// Refuses an output path that is a symlink or a directory, before any vault call.
fn check_output(out: &Path) -> Result<()> {
    match std::fs::symlink_metadata(out) {
        Ok(meta) if meta.file_type().is_symlink() => Err(Failure::local(format!(
            "refusing to write {}: it is a symbolic link (remove it or choose another path)",
            out.display()
        ))),
        Ok(meta) if meta.is_dir() => Err(Failure::local(format!(
            "cannot write {}: it is a directory",
            out.display()
        ))),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let parent = match out.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            if parent.is_dir() {
                Ok(())
            } else {
                Err(Failure::local(format!(
                    "cannot write {}: the directory {} does not exist",
                    out.display(),
                    parent.display()
                )))
            }
        }
        Err(e) => Err(Failure::local(format!(
            "cannot write {}: {e}",
            out.display()
        ))),
    }
}

pub fn run(config_dir: &Path, args: &RenderArgs, rt: &tokio::runtime::Runtime) -> Result<()> {
    let template = Zeroizing::new(read_template(&args.file)?);
    let format = match args.format {
        Some(f) => f.format(),
        None if args.file == Path::new("-") => Format::Raw,
        None => detect_format(&args.file),
    };
    if let Some(out) = &args.output {
        check_output(out)?;
    }
    let needs_vault = !find_references(&template).is_empty();
    let client = if needs_vault {
        let cfg = config::load(config_dir)?;
        Some(crate::vault::client(&cfg)?)
    } else {
        None
    };
    let mut unreachable: Option<Failure> = None;
    let mut resolver = |r: &Reference| -> std::result::Result<Secret, ResolveError> {
        let Some(client) = &client else {
            return Err(ResolveError::new("local", "no vault configured"));
        };
        if unreachable.is_some() {
            return Err(ResolveError::new("unreachable", "vault unreachable"));
        }
        match rt.block_on(client.read(&r.entry, Some(&r.field), Channel::Cli)) {
            Ok(res) => Ok(Secret::new(res.value)),
            Err(ClientError::Refused { code, message }) => Err(ResolveError::new(code, message)),
            Err(e) => {
                unreachable = Some(Failure::from(e));
                Err(ResolveError::new("unreachable", "vault unreachable"))
            }
        }
    };
    let rendered = render(&template, format, &mut resolver);
    let output = match rendered {
        Ok(text) => Zeroizing::new(text),
        Err(err) => {
            if let Some(failure) = unreachable {
                return Err(failure.hint("nothing was written"));
            }
            let n = err.failures.len();
            let mut text = format!(
                "cannot render {} as {format}: {n} reference{} failed; nothing was written",
                args.file.display(),
                if n == 1 { "" } else { "s" }
            );
            for failure in &err.failures {
                text.push_str("\n  ");
                text.push_str(&failure.to_string());
            }
            return Err(Failure::Render(text));
        }
    };
    match &args.output {
        Some(out) => config::write_atomic(out, output.as_bytes()),
        None => write_stdout(output.as_bytes()),
    }
}
