//! The per-install CA: ECDSA P-256, created on first use in a directory chosen by the caller.
//!
//! Files in that directory (created 0700):
//! - `ca.key`: the CA private key, PKCS#8 PEM, mode 0600 (a key readable by others is refused);
//! - `ca.pem`: the CA certificate (what `NODE_EXTRA_CA_CERTS` points at);
//! - `ca-bundle.pem`: the system roots followed by our CA, rewritten at every load, for
//!   `SSL_CERT_FILE` / `REQUESTS_CA_BUNDLE` / `GIT_SSL_CAINFO` (which replace the system roots).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SerialNumber,
};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use time::{Duration, OffsetDateTime};

const KEY_FILE: &str = "ca.key";
const CERT_FILE: &str = "ca.pem";
const BUNDLE_FILE: &str = "ca-bundle.pem";

/// System CA bundles, first existing one wins.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}: the CA key is readable by others; run: chmod 600 {0}")]
    KeyPermissions(PathBuf),
    #[error("{0}: not a valid CA key or certificate")]
    Invalid(PathBuf),
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("no secure random source")]
    Random,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CaError + '_ {
    move |source| CaError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The proxy's certificate authority.
pub struct Ca {
    dir: PathBuf,
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca").field("dir", &self.dir).finish()
    }
}

impl Ca {
    /// Loads the CA from `dir`, creating the directory (0700), key (0600) and certificate on
    /// first use, and (re)writes the combined bundle.
    pub fn load_or_create(dir: &Path) -> Result<Ca, CaError> {
        if !dir.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io_err(dir))?;
        }
        let key_path = dir.join(KEY_FILE);
        let cert_path = dir.join(CERT_FILE);
        let key = match fs::read_to_string(&key_path) {
            Ok(pem) => {
                let mode = fs::metadata(&key_path)
                    .map_err(io_err(&key_path))?
                    .permissions()
                    .mode();
                if mode & 0o077 != 0 {
                    return Err(CaError::KeyPermissions(key_path));
                }
                KeyPair::from_pem(&pem).map_err(|_| CaError::Invalid(key_path.clone()))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
                write_new(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
                // A fresh key never goes with an old certificate.
                let _ = fs::remove_file(&cert_path);
                key
            }
            Err(e) => return Err(io_err(&key_path)(e)),
        };
        let params = ca_params(&key);
        let cert_pem = match fs::read_to_string(&cert_path) {
            Ok(pem) => pem,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut creation = params.clone();
                let now = OffsetDateTime::now_utc();
                creation.not_before = now - Duration::days(1);
                creation.not_after = now + Duration::days(3650);
                creation.serial_number = Some(random_serial()?);
                let cert = creation.self_signed(&key)?;
                let pem = cert.pem();
                write_replace(&cert_path, pem.as_bytes(), 0o644)?;
                pem
            }
            Err(e) => return Err(io_err(&cert_path)(e)),
        };
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|_| CaError::Invalid(cert_path.clone()))?;
        let ca = Ca {
            dir: dir.to_owned(),
            cert_pem,
            cert_der,
            issuer: Issuer::new(params, key),
        };
        ca.write_bundle()?;
        Ok(ca)
    }

    /// The directory holding the CA files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of the CA certificate (PEM); `clavitor-cli proxy ca` prints it.
    pub fn cert_path(&self) -> PathBuf {
        self.dir.join(CERT_FILE)
    }

    /// Path of the combined bundle (system roots + our CA) for `SSL_CERT_FILE` and friends.
    pub fn bundle_path(&self) -> PathBuf {
        self.dir.join(BUNDLE_FILE)
    }

    /// The CA certificate as PEM (`clavitor-cli proxy ca --pem`).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA certificate as DER.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    pub(crate) fn issuer(&self) -> &Issuer<'static, KeyPair> {
        &self.issuer
    }

    /// Writes `ca-bundle.pem`: the first system bundle found, then our CA.
    fn write_bundle(&self) -> Result<(), CaError> {
        let mut bundle = String::new();
        if let Some(system) = SYSTEM_BUNDLES
            .iter()
            .find_map(|p| fs::read_to_string(p).ok())
        {
            bundle.push_str(&system);
            if !bundle.ends_with('\n') {
                bundle.push('\n');
            }
        }
        bundle.push_str("# Clavitor proxy CA\n");
        bundle.push_str(&self.cert_pem);
        write_replace(&self.bundle_path(), bundle.as_bytes(), 0o644)
    }
}

/// The CA's name and usages; rebuilt identically from the key at every load (the DN embeds the
/// key identifier, so two installs never share a name).
fn ca_params(key: &KeyPair) -> CertificateParams {
    let mut params = CertificateParams::default();
    let id = params.key_identifier(key);
    let short: String = id.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Clavitor");
    dn.push(DnType::CommonName, format!("Clavitor proxy CA {short}"));
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

/// A positive, non-zero 127-bit serial number.
pub(crate) fn random_serial() -> Result<SerialNumber, CaError> {
    let mut bytes = [0u8; 16];
    rustls::crypto::aws_lc_rs::default_provider()
        .secure_random
        .fill(&mut bytes)
        .map_err(|_| CaError::Random)?;
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    Ok(SerialNumber::from_slice(&bytes))
}

/// Creates `path` exclusively with `mode` (fails if it exists).
fn write_new(path: &Path, data: &[u8], mode: u32) -> Result<(), CaError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(io_err(path))?;
    file.write_all(data).map_err(io_err(path))?;
    file.sync_all().map_err(io_err(path))
}

/// Atomically replaces `path` (temporary file + rename).
fn write_replace(path: &Path, data: &[u8], mode: u32) -> Result<(), CaError> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    write_new(&tmp, data, mode)?;
    fs::rename(&tmp, path).map_err(io_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let ca_dir = dir.path().join("proxy");
        let first = Ca::load_or_create(&ca_dir).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&ca_dir), 0o700);
        assert_eq!(mode(&ca_dir.join(KEY_FILE)), 0o600);
        let second = Ca::load_or_create(&ca_dir).unwrap();
        assert_eq!(first.cert_pem(), second.cert_pem());
        let bundle = fs::read_to_string(second.bundle_path()).unwrap();
        assert!(bundle.ends_with(second.cert_pem()));
        fs::set_permissions(ca_dir.join(KEY_FILE), fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            Ca::load_or_create(&ca_dir),
            Err(CaError::KeyPermissions(_))
        ));
    }
}
