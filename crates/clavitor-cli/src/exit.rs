//! Exit codes and how failures are printed.
//!
//! 0 success; 1 refused by the vault (any CV code, and any render failure);
//! 2 usage or local error; 3 vault unreachable. Every message goes to stderr,
//! prefixed `clavitor-cli: `, and never contains a secret.

use std::fmt;
use std::process::ExitCode;

use clavitor_client::ClientError;

/// The vault refused (any CV code), or a render left references unresolved.
pub const REFUSED: u8 = 1;
/// Usage or local error (clap also exits 2 on bad usage).
pub const LOCAL: u8 = 2;
/// The vault could not be reached.
pub const UNREACHABLE: u8 = 3;

/// Why a command failed.
#[derive(Debug)]
pub enum Failure {
    /// The vault refused: printed as `CODE: MESSAGE`.
    Refused { code: String, message: String },
    /// The vault could not be reached (or answered something that is not a vault).
    Unreachable(String),
    /// A render that could not complete; the text lists every failure.
    Render(String),
    /// A local problem: configuration, files, input.
    Local(String),
    /// Any failure followed by a line saying what to do about it.
    Hinted(Box<Failure>, String),
}

impl Failure {
    pub fn local(message: impl Into<String>) -> Failure {
        Failure::Local(message.into())
    }

    /// Adds a line saying what to do about it.
    pub fn hint(self, hint: impl Into<String>) -> Failure {
        Failure::Hinted(Box::new(self), hint.into())
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Hinted(inner, _) => inner.exit_code(),
            Failure::Refused { .. } | Failure::Render(_) => REFUSED,
            Failure::Unreachable(_) => UNREACHABLE,
            Failure::Local(_) => LOCAL,
        }
    }

    /// Prints the failure on stderr and gives the exit code.
    pub fn report(&self) -> ExitCode {
        eprintln!("clavitor-cli: {self}");
        ExitCode::from(self.exit_code())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Refused { code, message } => write!(f, "{code}: {message}"),
            Failure::Unreachable(m) | Failure::Render(m) | Failure::Local(m) => f.write_str(m),
            Failure::Hinted(inner, hint) => write!(f, "{inner}\nclavitor-cli: {hint}"),
        }
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Failure {
        match e {
            ClientError::Refused { code, message } => {
                let hint = refusal_hint(&code);
                let refused = Failure::Refused { code, message };
                match hint {
                    Some(hint) => refused.hint(hint),
                    None => refused,
                }
            }
            ClientError::Unreachable { url, detail } => {
                Failure::Unreachable(format!("cannot reach the vault at {url}: {detail}"))
            }
            ClientError::Protocol { url, detail } => Failure::Unreachable(format!(
                "unexpected answer from the vault at {url}: {detail}"
            )),
            ClientError::Setup(m) => Failure::Local(m),
        }
    }
}

/// What to do about a refusal whose fixed message cannot say it. CV-2041
/// gets none: its line is the same whatever the cause, by design.
fn refusal_hint(code: &str) -> Option<&'static str> {
    match code {
        "CV-2045" => Some(
            "names this agent used in the last minute still work; wait a minute (an hour if the \
             hourly limit is full) before asking for others: another refusal more than a minute \
             from now, within two hours, locks this agent",
        ),
        "CV-2046" => {
            Some("only the owner can unlock it: Agents > Unlock in the web vault (a passkey tap)")
        }
        "CV-2047" => Some("this machine's address is outside the agent's IP allow-list"),
        _ => None,
    }
}

pub type Result<T> = std::result::Result<T, Failure>;
