//! Exit codes and how errors are printed (`clavitor: CV-2041: Access denied.`).

use std::process::ExitCode;

use clavitor_client::ClientError;

pub const OK: ExitCode = ExitCode::SUCCESS;
/// The vault refused (any CV code).
pub const REFUSED: u8 = 1;
/// Usage or local error.
pub const LOCAL: u8 = 2;
/// The vault could not be reached.
pub const UNREACHABLE: u8 = 3;
/// `clavitor audit verify` found the hash chain broken.
pub const AUDIT_BROKEN: u8 = 4;

/// The audit log failed verification (its own exit status, for scripts).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AuditBroken(pub String);

pub fn report(err: &anyhow::Error) -> ExitCode {
    if let Some(client) = err.downcast_ref::<ClientError>() {
        // Context added by a command (which entry, which agent) follows the
        // stable code and message.
        let outer = err.to_string();
        if outer == client.to_string() || !matches!(client, ClientError::Refused { .. }) {
            eprintln!("clavitor: {client}");
        } else {
            eprintln!("clavitor: {client} ({outer})");
        }
        return match client {
            ClientError::Refused { code, .. } => {
                if code == "CV-2048" {
                    eprintln!(
                        "clavitor: the owner token (owner.token in --data-dir / CLAVITOR_DATA_DIR) was refused: \
                         it must belong to the vault at --vault / CLAVITOR_VAULT"
                    );
                }
                ExitCode::from(REFUSED)
            }
            ClientError::Unreachable { .. } => {
                eprintln!(
                    "clavitor: is `clavitor serve` running? (set --vault or CLAVITOR_VAULT if it listens elsewhere)"
                );
                ExitCode::from(UNREACHABLE)
            }
            _ => ExitCode::from(UNREACHABLE),
        };
    }
    eprintln!("clavitor: {err:#}");
    if err.downcast_ref::<AuditBroken>().is_some() {
        return ExitCode::from(AUDIT_BROKEN);
    }
    ExitCode::from(LOCAL)
}
