//! Certificate pinning for a vault with a self-signed certificate: the setup
//! token carries the SHA-256 of the vault's end-entity certificate, and the
//! agent accepts exactly that certificate (its chain, names and validity
//! period are not consulted: the pin is the trust anchor). Handshake
//! signatures are still verified against the pinned certificate's key.

use std::sync::Arc;
use std::time::Duration;

use clavitor_core::Secret;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};

use crate::{ClientError, VaultClient};

/// Parses a pin: 64 hex digits, optionally separated by `:`, any case.
pub(crate) fn parse_pin(pin: &str) -> Option<[u8; 32]> {
    let hex: Vec<u8> = pin.bytes().filter(|b| *b != b':').collect();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in hex.chunks(2).enumerate() {
        let text = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(text, 16).ok()?;
    }
    Some(out)
}

#[derive(Debug)]
struct PinVerifier {
    pin: [u8; 32],
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let digest: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
        if digest == self.pin {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "the vault's certificate does not match the pin in the setup token".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

impl VaultClient {
    /// A client of the HTTPS vault at `base_url` that accepts only the
    /// certificate whose SHA-256 is `pin` (hex, as carried by setup tokens).
    pub fn new_pinned(
        base_url: &str,
        bearer: Option<Secret>,
        pin: &str,
    ) -> Result<VaultClient, ClientError> {
        let base = base_url.trim_end_matches('/').to_string();
        if !base.starts_with("https://") {
            return Err(ClientError::Setup(format!(
                "a certificate pin needs an https:// vault URL, not {base}"
            )));
        }
        let pin = parse_pin(pin).ok_or_else(|| {
            ClientError::Setup("the certificate pin is not 64 hex digits".to_string())
        })?;
        let provider = CryptoProvider::get_default()
            .cloned()
            .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
        let mut tls = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| ClientError::Setup(format!("cannot set up TLS: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinVerifier { pin, provider }))
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let http = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("clavitor/", env!("CARGO_PKG_VERSION")))
            .http1_only()
            .tls_backend_preconfigured(tls)
            .build()
            .map_err(|e| ClientError::Setup(format!("cannot set up HTTP: {e}")))?;
        Ok(VaultClient { http, base, bearer })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_parse() {
        let hex = "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff";
        let pin = parse_pin(hex).unwrap();
        assert_eq!(pin[1], 0x11);
        assert_eq!(pin[31], 0xff);
        let colons: String = hex
            .as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(parse_pin(&colons), Some(pin));
        assert_eq!(parse_pin("abc"), None);
        assert_eq!(parse_pin(&"zz".repeat(32)), None);
        assert!(VaultClient::new_pinned("http://127.0.0.1:1", None, hex).is_err());
        assert!(VaultClient::new_pinned("https://127.0.0.1:1", None, "00").is_err());
    }
}
