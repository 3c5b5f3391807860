//! `clavitor serve`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clavitor_vault::tls::TlsIdentity;
use clavitor_vault::{DataDir, Vault, app, system_clock};
use tracing_subscriber::EnvFilter;

use crate::cli::ServeOpts;

pub fn default_data_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("CLAVITOR_DATA_DIR") {
        return Ok(PathBuf::from(dir));
    }
    directories::BaseDirs::new()
        .map(|d| d.data_dir().join("clavitor"))
        .context("cannot find a home directory: pass --data-dir")
}

fn init_logs(format: &str) {
    // Library internals stay quiet unless asked for.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,hyper=warn,h2=warn,rustls=warn,tower=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

pub async fn run(opts: ServeOpts, data_dir: Option<PathBuf>) -> anyhow::Result<()> {
    init_logs(&opts.log_format);
    let tls_wanted = opts.tls_cert.is_some() || opts.tls_self_signed;
    let scheme = if tls_wanted { "https" } else { "http" };
    if opts.public_url.is_none() && !opts.listen.ip().is_loopback() && !tls_wanted {
        bail!(
            "refusing to serve plain HTTP on the non-loopback address {}: agents would send \
             credentials in clear. Use --tls-cert/--tls-key or --tls-self-signed, or listen on \
             127.0.0.1 behind a TLS reverse proxy and pass --public-url https://…",
            opts.listen
        );
    }
    if let Some(url) = &opts.public_url
        && !opts.listen.ip().is_loopback()
        && !tls_wanted
        && !url.starts_with("https://")
    {
        bail!(
            "a non-loopback plain-HTTP listener needs --public-url https://… (a TLS reverse proxy in front)"
        );
    }
    let dir = match data_dir {
        Some(d) => d,
        None => default_data_dir()?,
    };
    // Reserve the port first (bind without listening): a busy port must not
    // leave a new, unused vault behind, and nothing connects before the vault
    // is ready.
    let socket = reserve(opts.listen).with_context(|| {
        format!(
            "cannot listen on {} (is another vault running? choose another address with --listen)",
            opts.listen
        )
    })?;
    let data = DataDir::open(&dir).await?;
    let listener = socket.listen(1024)?;
    let local = listener.local_addr()?;
    // The bound address, so `--listen 127.0.0.1:0` yields a usable URL.
    let public_url = match &opts.public_url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => format!("{scheme}://{local}"),
    };
    let tls = if let (Some(cert), Some(key)) = (&opts.tls_cert, &opts.tls_key) {
        Some(TlsIdentity::from_files(cert, key)?)
    } else if opts.tls_self_signed {
        let mut hosts = vec![opts.listen.ip().to_string()];
        if let Some(host) = url_host(&public_url) {
            hosts.push(host);
        }
        Some(TlsIdentity::self_signed(&dir, &hosts)?)
    } else {
        None
    };
    // Only a self-signed certificate needs pinning; a CA-issued one verifies.
    let pin = tls
        .as_ref()
        .filter(|_| opts.tls_self_signed)
        .map(|t| t.pin.clone());
    let vault = Vault::new(&data, public_url.clone(), pin.clone(), system_clock());
    tracing::info!(listen = %local, data_dir = %dir.display(), "vault ready");
    println!(
        "Clavitor vault listening on {scheme}://{local} (data: {})",
        dir.display()
    );
    if let Some(pin) = &pin {
        println!("Self-signed certificate, SHA-256 pin {pin} (carried in setup tokens)");
    }
    // While no passkey is enrolled: a fresh one-time link to the web vault.
    match clavitor_vault::web::setup_link(&vault).await {
        Ok(Some(link)) => println!("Open this one-time link to set up your passkey: {link}"),
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "no web setup link"),
    }
    match tls {
        Some(identity) => {
            clavitor_vault::tls::serve(
                listener,
                identity.acceptor()?,
                app(vault),
                shutdown_signal(),
            )
            .await;
        }
        None => {
            axum::serve(
                listener,
                app(vault).into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("server error")?;
        }
    }
    tracing::info!("vault stopped");
    drop(data);
    Ok(())
}

fn reserve(addr: SocketAddr) -> std::io::Result<tokio::net::TcpSocket> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    Ok(socket)
}

fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    let host = match authority.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => authority,
    };
    Some(
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
    )
    .filter(|h| !h.is_empty())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
