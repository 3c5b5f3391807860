//! Per-host leaf certificates: each with its own P-256 key pair, SAN = the host (DNS name or IP
//! address), EKU serverAuth, valid for a few days, signed by the CA, kept in a bounded cache as
//! ready-to-use rustls server configurations (ALPN h2 and http/1.1).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SanType,
};
use rustls::ServerConfig;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::ca::{Ca, CaError, random_serial};

/// Leaves are valid this long (short: a leaked leaf key is worth little).
const LEAF_VALIDITY_DAYS: i64 = 7;
/// Cached leaves are replaced after this age, well before they expire.
const LEAF_REFRESH: Duration = Duration::from_secs(24 * 3600);

pub(crate) struct LeafCache {
    ca: Arc<Ca>,
    capacity: usize,
    entries: Mutex<HashMap<String, (Arc<ServerConfig>, Instant)>>,
}

impl LeafCache {
    pub(crate) fn new(ca: Arc<Ca>, capacity: usize) -> Self {
        LeafCache {
            ca,
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The TLS server configuration presenting a leaf for `host` (lower case, no brackets).
    pub(crate) fn server_config(&self, host: &str) -> Result<Arc<ServerConfig>, CaError> {
        if let Some((config, created)) = self.lock().get(host)
            && created.elapsed() < LEAF_REFRESH
        {
            return Ok(config.clone());
        }
        // Generated outside the lock; two racing handshakes may both generate, which is harmless.
        let config = Arc::new(self.generate(host)?);
        let mut entries = self.lock();
        if entries.len() >= self.capacity
            && !entries.contains_key(host)
            && let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, (_, created))| *created)
                .map(|(k, _)| k.clone())
        {
            entries.remove(&oldest);
        }
        entries.insert(host.to_owned(), (config.clone(), Instant::now()));
        Ok(config)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Arc<ServerConfig>, Instant)>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn generate(&self, host: &str) -> Result<ServerConfig, CaError> {
        let (cert_der, key_der) = issue_leaf(&self.ca, host)?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|_| CaError::Invalid(self.ca.dir().to_owned()))?
            .with_no_client_auth()
            .with_single_cert(vec![cert_der, self.ca.cert_der().clone()], key_der)
            .map_err(|_| CaError::Invalid(self.ca.dir().to_owned()))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// Issues a leaf for `host`; returns its DER certificate and private key.
pub(crate) fn issue_leaf(
    ca: &Ca,
    host: &str,
) -> Result<
    (
        rustls::pki_types::CertificateDer<'static>,
        PrivateKeyDer<'static>,
    ),
    CaError,
> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::default();
    let san = match host.parse::<IpAddr>() {
        Ok(ip) => SanType::IpAddress(ip),
        Err(_) => SanType::DnsName(
            host.to_owned()
                .try_into()
                .map_err(|_| CaError::Invalid(host.into()))?,
        ),
    };
    params.subject_alt_names = vec![san];
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, host);
    params.distinguished_name = dn;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(LEAF_VALIDITY_DAYS);
    params.serial_number = Some(random_serial()?);
    let cert = params.signed_by(&key, ca.issuer())?;
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    Ok((cert.der().clone(), key_der))
}

impl Ca {
    /// Issues a fresh leaf for `host` and returns its certificate as PEM (diagnostics and
    /// tests, e.g. `openssl verify -x509_strict`). The proxy itself issues leaves internally.
    pub fn issue_leaf_pem(&self, host: &str) -> Result<String, CaError> {
        let (cert, _key) = issue_leaf(self, host)?;
        Ok(pem_encode("CERTIFICATE", cert.as_ref()))
    }
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = data_encoding::BASE64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
