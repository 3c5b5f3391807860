//! `clavitor serve`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
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
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

pub async fn run(opts: ServeOpts, data_dir: Option<PathBuf>) -> anyhow::Result<()> {
    init_logs(&opts.log_format);
    let public_url = match &opts.public_url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None if opts.listen.ip().is_loopback() => format!("http://{}", opts.listen),
        None => bail!(
            "refusing to serve plain HTTP on the non-loopback address {}: agents would send \
             credentials in clear. Listen on 127.0.0.1 behind a TLS reverse proxy and pass \
             --public-url https://…",
            opts.listen
        ),
    };
    if !opts.listen.ip().is_loopback() && !public_url.starts_with("https://") {
        bail!(
            "a non-loopback listener needs --public-url https://… (a TLS reverse proxy in front)"
        );
    }
    let dir = match data_dir {
        Some(d) => d,
        None => default_data_dir()?,
    };
    let data = DataDir::open(&dir).await?;
    let vault = Vault::new(
        data.store.clone(),
        clavitor_vault::sealer::Sealer::new(
            data.sealer.vault_id.clone(),
            data.sealer.keys().clone(),
        ),
        data.owner_token_hash,
        public_url.clone(),
        None,
        system_clock(),
    );
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .with_context(|| format!("cannot listen on {}", opts.listen))?;
    let local = listener.local_addr()?;
    tracing::info!(listen = %local, data_dir = %dir.display(), "vault ready");
    println!(
        "Clavitor vault listening on http://{local} (data: {})",
        dir.display()
    );
    axum::serve(
        listener,
        app(vault).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("server error")?;
    tracing::info!("vault stopped");
    drop(data);
    Ok(())
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
