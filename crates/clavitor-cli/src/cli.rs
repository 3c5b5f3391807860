//! Command-line definitions (clap derive).

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

const MAIN_HELP: &str = "\
Examples:
  echo \"$CLAVITOR_TOKEN\" | clavitor-cli init
  clavitor-cli get \"GitHub\" --field password
  clavitor-cli totp \"GitHub\"
  clavitor-cli render app.config.json -o app.json
  clavitor-cli proxy &
  export HTTPS_PROXY=http://localhost:1983

One credential at a time: there is no command that lists entries.

Exit codes: 0 ok, 1 refused by the vault (CV-xxxx), 2 usage or local error,
3 vault unreachable.

Environment: CLAVITOR_CONFIG_DIR (default: $XDG_CONFIG_HOME/clavitor).";

#[derive(Parser, Debug)]
#[command(
    name = "clavitor-cli",
    version,
    about = "Clavitor agent CLI: fetch one credential at a time from your Clavitor vault",
    after_help = MAIN_HELP
)]
pub struct Cli {
    /// Directory holding this agent's configuration and credential.
    #[arg(
        long,
        global = true,
        env = "CLAVITOR_CONFIG_DIR",
        hide_env_values = true,
        value_name = "DIR"
    )]
    pub config_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Enrol this machine with a setup token from the vault owner.
    #[command(after_help = "\
Examples:
  echo \"$CLAVITOR_TOKEN\" | clavitor-cli init
  clavitor-cli init                     # prompts for the token (not echoed)
  clavitor-cli init --force < token.txt # replace an existing configuration

The token (cvt_…) is single use and expires after 24 hours by default. It is
exchanged with the vault named inside it for an agent credential, stored with
mode 0600 in the config directory. A failed init leaves any existing
configuration untouched.")]
    Init(InitArgs),
    /// Print one field of an entry (default: its password, else its only shared field).
    #[command(after_help = "\
Examples:
  clavitor-cli get \"GitHub\" --field password
  clavitor-cli get \"Prod DB\" --field connection_string
  clavitor-cli get GitHub --json
  TOKEN=$(clavitor-cli get OpenAI --field key -n)

The value goes to stdout followed by a newline (none with -n); errors go to
stderr. A TOTP field prints its current code.")]
    Get(GetArgs),
    /// Print the current TOTP code of an entry.
    #[command(after_help = "\
Examples:
  clavitor-cli totp \"GitHub\"
  clavitor-cli totp GitHub --json   # {\"entry\":…,\"field\":…,\"code\":…,\"seconds_left\":…}")]
    Totp(TotpArgs),
    /// Substitute every clavitor:// reference in a config file.
    #[command(after_help = "\
Examples:
  clavitor-cli render app.config.json
  clavitor-cli render app.config.json -o app.json
  clavitor-cli render .env.tpl -o .env
  clavitor-cli render settings.cfg --format ini -o settings.ini

References: clavitor://ENTRY/FIELD with %XX escapes (clavitor://Prod%20DB/password),
or braced with the name taken raw: {{ clavitor://Prod DB/password }}.
Each value is escaped for where it stands (json, yaml, toml, env, ini; raw copies
it verbatim). The format comes from the file name unless --format is given.

If any reference fails, every failure is listed on stderr, nothing is written
and the exit code is 1. -o writes atomically with mode 0600 and refuses a
symlink; without -o the result goes to stdout only once everything resolved.")]
    Render(RenderArgs),
    /// Show this agent's configuration and whether the vault accepts it (no secrets).
    #[command(after_help = "\
Example:
  clavitor-cli status")]
    Status,
    /// Run the HTTPS proxy that injects clavitor:// references into request headers.
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "\
Examples:
  clavitor-cli proxy &
  export HTTPS_PROXY=http://localhost:1983
  curl -H \"Authorization: Bearer clavitor://OpenAI/key\" https://api.openai.com/v1/models
  eval \"$(clavitor-cli env)\"          # HTTPS_PROXY plus the CA bundle variables
  clavitor-cli proxy ca               # path of the proxy's CA certificate

Header values holding clavitor://ENTRY/FIELD are resolved by the vault for the
exact host of the request (the owner's host patterns apply). Values echoed back
by the server reach the client as [REDACTED]. Stop it with Ctrl-C."
    )]
    Proxy(ProxyArgs),
    /// Print the shell exports that route a program through the proxy.
    #[command(after_help = "\
Examples:
  eval \"$(clavitor-cli env)\"
  clavitor-cli env --shell fish | source
  clavitor-cli env --proxy http://localhost:8083")]
    Env(EnvArgs),
    /// Print shell completions.
    #[command(after_help = "\
Examples:
  clavitor-cli completions bash > ~/.local/share/bash-completion/completions/clavitor-cli
  clavitor-cli completions zsh > \"${fpath[1]}/_clavitor-cli\"
  clavitor-cli completions fish > ~/.config/fish/completions/clavitor-cli.fish")]
    Completions {
        #[arg(value_enum)]
        shell: CompletionShell,
    },
}

#[derive(Args, Debug)]
pub struct ProxyArgs {
    #[command(subcommand)]
    pub sub: Option<ProxySub>,
    /// Address to listen on (loopback only unless --allow-non-loopback).
    #[arg(long, default_value = clavitor_proxy::DEFAULT_LISTEN, value_name = "ADDR")]
    pub listen: std::net::SocketAddr,
    /// Allow listening on a non-loopback address.
    #[arg(long)]
    pub allow_non_loopback: bool,
    /// Tunnel these hosts untouched (no interception, no injection): host, *.domain, :port.
    #[arg(long, value_name = "PATTERN")]
    pub passthrough: Vec<String>,
    /// Connect to ADDR for HOST:PORT (curl syntax); mapped hosts may receive secrets.
    #[arg(long, value_name = "HOST:PORT:ADDR")]
    pub resolve: Vec<String>,
    /// Extra CA certificate (PEM) trusted for upstream TLS.
    #[arg(long, value_name = "PEM")]
    pub upstream_ca: Vec<PathBuf>,
    /// Require proxy credentials, read from CLAVITOR_PROXY_AUTH=USER:PASSWORD.
    #[arg(long)]
    pub require_auth: bool,
}

#[derive(Subcommand, Debug)]
pub enum ProxySub {
    /// Print the path of the proxy's CA certificate (created on first use).
    #[command(after_help = "\
Examples:
  clavitor-cli proxy ca
  clavitor-cli proxy ca --pem > clavitor-ca.pem")]
    Ca {
        /// Print the certificate itself (PEM) instead of its path.
        #[arg(long)]
        pem: bool,
    },
}

#[derive(Args, Debug)]
pub struct EnvArgs {
    /// Shell syntax: bash, zsh or fish.
    #[arg(long, default_value = "bash", value_name = "SHELL")]
    pub shell: String,
    /// The proxy's URL.
    #[arg(long, default_value = "http://localhost:1983", value_name = "URL")]
    pub proxy: String,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SkillTarget {
    /// Install ~/.claude/skills/clavitor/SKILL.md even if ~/.claude does not exist.
    ClaudeCode,
    /// Install no skill.
    None,
}

#[derive(Args, Debug)]
pub struct InitArgs {
    /// Replace an existing configuration.
    #[arg(long)]
    pub force: bool,
    /// Agent skill to install (default: the Claude Code skill when ~/.claude exists).
    #[arg(long, value_enum, value_name = "TARGET")]
    pub skill: Option<SkillTarget>,
}

#[derive(Args, Debug)]
pub struct GetArgs {
    /// Entry name, as the owner wrote it (matched case-insensitively).
    pub entry: String,
    /// Field label (default: password, else the entry's only shared field).
    #[arg(long, short = 'f', value_name = "FIELD")]
    pub field: Option<String>,
    /// Print {"entry","field","value"} as JSON.
    #[arg(long)]
    pub json: bool,
    /// Do not print a trailing newline.
    #[arg(short = 'n', long = "no-newline")]
    pub no_newline: bool,
}

#[derive(Args, Debug)]
pub struct TotpArgs {
    /// Entry name.
    pub entry: String,
    /// Print {"entry","field","code","seconds_left"} as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct RenderArgs {
    /// Template file (`-` reads stdin).
    pub file: PathBuf,
    /// Write the result here (atomically, mode 0600) instead of stdout.
    #[arg(long, short = 'o', value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// Template syntax (default: from the file name; unknown names are raw).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<FormatArg>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormatArg {
    Json,
    Yaml,
    Toml,
    Env,
    Ini,
    Raw,
}

impl FormatArg {
    pub fn format(self) -> clavitor_template::Format {
        use clavitor_template::Format;
        match self {
            FormatArg::Json => Format::Json,
            FormatArg::Yaml => Format::Yaml,
            FormatArg::Toml => Format::Toml,
            FormatArg::Env => Format::Env,
            FormatArg::Ini => Format::Ini,
            FormatArg::Raw => Format::Raw,
        }
    }
}

pub fn completions(shell: CompletionShell) {
    let mut cmd = Cli::command();
    let shell = match shell {
        CompletionShell::Bash => clap_complete::Shell::Bash,
        CompletionShell::Zsh => clap_complete::Shell::Zsh,
        CompletionShell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(shell, &mut cmd, "clavitor-cli", &mut std::io::stdout());
}
