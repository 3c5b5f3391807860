//! HTTPS for a vault reachable from other machines (DESIGN.md §11):
//! a certificate from files, or a self-signed one kept in the data dir whose
//! SHA-256 pin travels inside setup tokens.

use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use tokio_rustls::TlsAcceptor;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("TLS setup: {0}")]
    Setup(String),
}

/// A server certificate and key, with the pin of the certificate.
pub struct TlsIdentity {
    pub chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    /// Hex SHA-256 of the leaf certificate (DER).
    pub pin: String,
}

fn file_err(path: &Path) -> impl Fn(String) -> TlsError + '_ {
    move |message| TlsError::File {
        path: path.display().to_string(),
        message,
    }
}

fn pin_of(cert: &CertificateDer<'_>) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(cert.as_ref()))
}

impl TlsIdentity {
    /// Loads PEM files given with `--tls-cert` / `--tls-key`.
    pub fn from_files(cert: &Path, key: &Path) -> Result<TlsIdentity, TlsError> {
        let chain = CertificateDer::pem_file_iter(cert)
            .map_err(|e| file_err(cert)(e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| file_err(cert)(e.to_string()))?;
        let leaf = chain
            .first()
            .ok_or_else(|| file_err(cert)("no certificate in the file".into()))?;
        let pin = pin_of(leaf);
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| file_err(key)(e.to_string()))?;
        Ok(TlsIdentity { chain, key, pin })
    }

    /// The pin of the first certificate in a PEM file.
    pub fn pin_of_file(cert: &Path) -> Result<String, TlsError> {
        let leaf = CertificateDer::pem_file_iter(cert)
            .map_err(|e| file_err(cert)(e.to_string()))?
            .next()
            .ok_or_else(|| file_err(cert)("no certificate in the file".into()))?
            .map_err(|e| file_err(cert)(e.to_string()))?;
        Ok(pin_of(&leaf))
    }

    /// A self-signed certificate kept in `dir` (created on first use, key
    /// 0600), valid for `localhost`, loopback and `hosts`.
    pub fn self_signed(dir: &Path, hosts: &[String]) -> Result<TlsIdentity, TlsError> {
        let cert_path = dir.join("tls-cert.pem");
        let key_path = dir.join("tls-key.pem");
        if !cert_path.exists() || !key_path.exists() {
            let mut names = vec![
                "localhost".to_string(),
                "127.0.0.1".to_string(),
                "::1".to_string(),
            ];
            names.extend(hosts.iter().cloned());
            names.sort();
            names.dedup();
            let certified = rcgen::generate_simple_self_signed(names)
                .map_err(|e| TlsError::Setup(e.to_string()))?;
            write_private(&key_path, certified.signing_key.serialize_pem().as_bytes())?;
            write_private(&cert_path, certified.cert.pem().as_bytes())?;
        }
        Self::from_files(&cert_path, &key_path)
    }

    pub fn acceptor(&self) -> Result<TlsAcceptor, TlsError> {
        let mut config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| TlsError::Setup(e.to_string()))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| file_err(path)(e.to_string()))?;
    f.write_all(bytes)
        .map_err(|e| file_err(path)(e.to_string()))
}

/// Serves `app` over TLS until `shutdown` resolves. Each connection gets the
/// peer address as `ConnectInfo`, like the plain listener.
pub async fn serve(
    listener: tokio::net::TcpListener,
    acceptor: TlsAcceptor,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send,
) {
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let app = app
            .clone()
            .layer(axum::Extension(ConnectInfo::<SocketAddr>(peer)));
        tokio::spawn(async move {
            let Ok(Ok(tls)) =
                tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(tcp))
                    .await
            else {
                tracing::debug!(%peer, "TLS handshake failed");
                return;
            };
            let service = TowerToHyperService::new(app);
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection_with_upgrades(TokioIo::new(tls), service)
                .await;
        });
    }
}
