//! Command-line definitions.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "clavitor",
    version,
    about = "Clavitor: a credential vault for AI agents (server and owner CLI)",
    after_help = "Examples:\n  clavitor serve\n  clavitor entry add GitHub --field username=octocat --field password=- --totp JBSWY3DPEHPK3PXP\n  CLAVITOR_TOKEN=$(clavitor agent create Codex --entry GitHub --entry OpenAI)\n  clavitor audit\n\nExit codes: 0 ok, 1 refused by the vault, 2 usage or local error, 3 vault unreachable,\n4 audit log broken (audit verify)."
)]
pub struct Cli {
    #[command(flatten)]
    pub owner: OwnerOpts,
    #[command(subcommand)]
    pub command: Command,
}

/// How the owner CLI reaches the vault.
#[derive(Args, Clone)]
pub struct OwnerOpts {
    /// Vault URL for owner commands.
    #[arg(
        long,
        global = true,
        env = "CLAVITOR_VAULT",
        default_value = "http://127.0.0.1:1984"
    )]
    pub vault: String,
    /// Data directory (where `owner.token` is read from).
    #[arg(long, global = true, env = "CLAVITOR_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the vault server.
    Serve(ServeOpts),
    /// Manage entries (owner).
    #[command(subcommand)]
    Entry(EntryCmd),
    /// Manage agents (owner).
    #[command(subcommand)]
    Agent(AgentCmd),
    /// Show or verify the audit log (owner).
    Audit(AuditCmd),
    /// Print shell completions.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Args)]
#[command(
    after_help = "Example:\n  clavitor serve --data-dir ~/.local/share/clavitor --listen 127.0.0.1:1984"
)]
pub struct ServeOpts {
    /// Address to listen on. A non-loopback address needs --public-url https://…
    #[arg(long, env = "CLAVITOR_LISTEN", default_value = "127.0.0.1:1984")]
    pub listen: SocketAddr,
    /// The URL agents use to reach this vault (written into setup tokens).
    #[arg(long, env = "CLAVITOR_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// TLS certificate chain (PEM) to serve HTTPS.
    #[arg(
        long,
        env = "CLAVITOR_TLS_CERT",
        requires = "tls_key",
        conflicts_with = "tls_self_signed"
    )]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM) for --tls-cert.
    #[arg(long, env = "CLAVITOR_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve HTTPS with a self-signed certificate kept in the data dir; setup
    /// tokens carry its SHA-256 pin, so agents need no CA.
    #[arg(long, env = "CLAVITOR_TLS_SELF_SIGNED")]
    pub tls_self_signed: bool,
    /// Log format.
    #[arg(long, env = "CLAVITOR_LOG_FORMAT", value_parser = ["text", "json"], default_value = "text")]
    pub log_format: String,
}

/// A `LABEL=VALUE` pair; VALUE `-` reads stdin, `@PATH` reads a file.
pub type Pair = String;

#[derive(Args, Default)]
pub struct FieldArgs {
    /// Field with the tier its label implies: password, secret, token, key, api_key, secret_key,
    /// private_key, connection_string… → shared; card_number, cvv, pin, ssn, iban… → personal;
    /// any other label → info (readable in clear). `entry add` prints each field's tier.
    #[arg(long = "field", value_name = "LABEL=VALUE")]
    pub field: Vec<Pair>,
    /// Field readable by granted agents.
    #[arg(long = "shared", value_name = "LABEL=VALUE")]
    pub shared: Vec<Pair>,
    /// Non-secret field (username, notes).
    #[arg(long = "info", value_name = "LABEL=VALUE")]
    pub info: Vec<Pair>,
    /// Personal field: sealed on this machine to the owner's passkey-protected key.
    #[arg(long = "personal", value_name = "LABEL=VALUE")]
    pub personal: Vec<Pair>,
    /// URL field (its host binds injection when no --host is given).
    #[arg(long = "url", value_name = "URL")]
    pub url: Vec<String>,
    /// TOTP seed: an otpauth:// URI or a base32 secret (agents only ever get codes).
    #[arg(long = "totp", value_name = "OTPAUTH_URI_OR_BASE32")]
    pub totp: Option<String>,
    /// Host pattern for injection (`api.openai.com`, `*.github.com`, `host:8443`).
    #[arg(long = "host", value_name = "PATTERN")]
    pub host: Vec<String>,
    /// Make a field usable only through the proxy.
    #[arg(long = "inject-only", value_name = "LABEL")]
    pub inject_only: Vec<String>,
    /// Kind of entry (login, api, ssh, database, card, identity, note).
    #[arg(long)]
    pub kind: Option<String>,
}

#[derive(Subcommand)]
pub enum EntryCmd {
    /// Add an entry.
    #[command(
        after_help = "Examples:\n  clavitor entry add GitHub --field username=octocat --field password=- --totp 'otpauth://totp/GitHub:octocat?secret=JBSWY3DPEHPK3PXP'\n  clavitor entry add OpenAI --field key=@openai.key --host api.openai.com --inject-only key\n  clavitor entry add Visa --personal card_number=- --personal cvv=@cvv.txt"
    )]
    Add {
        name: String,
        #[command(flatten)]
        fields: FieldArgs,
    },
    /// Show an entry (shared values masked unless --reveal; personal values never).
    Show {
        name: String,
        /// Show shared values too (an access: audited as `reveal`).
        #[arg(long)]
        reveal: bool,
        /// Print JSON (personal values as their ciphertext).
        #[arg(long)]
        json: bool,
    },
    /// List entries.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change an entry: set fields, remove fields, rename, change hosts.
    Edit {
        name: String,
        #[command(flatten)]
        fields: FieldArgs,
        /// New name.
        #[arg(long)]
        rename: Option<String>,
        /// Remove a field.
        #[arg(long = "rm-field", value_name = "LABEL")]
        rm_field: Vec<String>,
        /// Remove every entry-level host pattern.
        #[arg(long)]
        clear_hosts: bool,
    },
    /// Delete an entry (its history is kept).
    Rm { name: String },
    /// Show an entry's revisions.
    History {
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum AgentCmd {
    /// Create an agent; prints only its setup token on stdout.
    #[command(
        after_help = "Example:\n  CLAVITOR_TOKEN=$(clavitor agent create Codex --entry GitHub --entry OpenAI --rate 3/min,10/h)\n  echo \"$CLAVITOR_TOKEN\" | clavitor-cli init        # on the agent machine"
    )]
    Create {
        name: String,
        #[command(flatten)]
        access: AccessArgs,
    },
    /// List agents with state and use.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one agent.
    Show {
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change an agent's grants, limits, allow-list or expiry.
    Edit {
        name: String,
        /// New name (the audit log keeps the old one on past records).
        #[arg(long)]
        rename: Option<String>,
        #[command(flatten)]
        access: AccessArgs,
        /// Add a grant of an entry (all its info and shared fields), keeping the others.
        #[arg(long = "add-entry", value_name = "ENTRY", conflicts_with_all = ["entry", "field"])]
        add_entry: Vec<String>,
        /// Remove the grant of an entry, keeping the others.
        #[arg(long = "remove-entry", value_name = "ENTRY", conflicts_with_all = ["entry", "field"])]
        remove_entry: Vec<String>,
        /// Remove the expiry.
        #[arg(long)]
        no_expiry: bool,
    },
    /// Revoke an agent: its next request is refused.
    Revoke { name: String },
    /// Issue a fresh setup token (enrolling with it replaces the old credential).
    Token { name: String },
    /// Unlock a locked agent (only while no passkey is enrolled; else use the web vault).
    Unlock { name: String },
}

#[derive(Args, Default)]
pub struct AccessArgs {
    /// Grant an entry (all its info and shared fields). With `agent edit`, the
    /// --entry/--field given replace the agent's current grants (see --add-entry).
    #[arg(long = "entry", value_name = "ENTRY")]
    pub entry: Vec<String>,
    /// Grant one field of an entry: ENTRY/FIELD (the field is after the last `/`).
    #[arg(long = "field", value_name = "ENTRY/FIELD")]
    pub field: Vec<String>,
    /// Rate limit: distinct names per minute and per hour, e.g. `3/min,10/h`.
    #[arg(long, value_name = "M/min,H/h")]
    pub rate: Option<String>,
    /// Source addresses allowed (CIDR or address); repeat for several.
    #[arg(long = "ip", value_name = "CIDR")]
    pub ip: Vec<String>,
    /// Expiry of the agent, e.g. `30d`, `12h`.
    #[arg(long, value_name = "DURATION")]
    pub expires: Option<String>,
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditCmd {
    #[command(subcommand)]
    pub verify: Option<AuditSub>,
    /// Only this agent's records.
    #[arg(long)]
    pub agent: Option<String>,
    /// Only records naming this entry.
    #[arg(long)]
    pub entry: Option<String>,
    /// Only records since T: RFC 3339 time (`2026-03-08T10:00:00Z`) or a duration ago (`2h`).
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// JSON lines output.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// CSV output.
    #[arg(long)]
    pub csv: bool,
}

#[derive(Subcommand)]
pub enum AuditSub {
    /// Check the hash chain: detects edited, deleted, reordered or truncated records
    /// (exit status 4 when it is broken).
    Verify,
}

pub fn completions(shell: clap_complete::Shell) {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "clavitor", &mut std::io::stdout());
}
