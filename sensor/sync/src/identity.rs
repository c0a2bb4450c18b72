//! The sensor's identity at the hub, in its data directory:
//!
//! | file | what |
//! |---|---|
//! | `key.pem` | the sensor's private key (mode 0600; made here, never sent anywhere) |
//! | `cert.pem` | its certificate, issued by the hub at enrollment |
//! | `hub-ca.pem` | the hub's CA, pinned at enrollment by its SHA-256 |
//! | `hub.json` | the hub's address (and proxy), the sensor's id, the hub's command key (pinned); mode 0600 (a proxy's credentials) |
//!
//! [`enroll`] makes them: a key pair, a certificate request sent with a one-time token over TLS
//! to a hub whose CA must have the fingerprint given, and the certificate it answers with.
//!
//! **Renewal.** When the certificate has less than a third of its validity left
//! ([`Identity::renewal_due`]), the tunnel sends a request for the same key and installs the
//! certificate the hub answers with ([`Identity::install_certificate`]): `cert.pem` is replaced
//! atomically (written beside, synced, renamed), so a crash leaves the old certificate or the
//! new one, both valid for the key. The key itself stays: rotating it is a new enrollment.

use crate::SyncError;
use rcgen::{CertificateParams, KeyPair};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde::{Deserialize, Serialize};
use soc_protocol::{Down, Up, fingerprint, pem, read_frame, write_frame};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How long connecting and each step of enrollment may take.
pub(crate) const STEP: Duration = Duration::from_secs(15);

/// Where the hub is and who the sensor is there (`hub.json`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HubInfo {
    /// `HOST:PORT` of the hub's sensor endpoint.
    pub hub: String,
    /// The sensor's id at the hub.
    pub sensor_id: String,
    /// The hub's command key (ed25519 public key, base64), pinned at enrollment: commands are
    /// acted on only if it signed them.
    pub command_key: String,
    /// The HTTP proxy the hub is reached through (`http://[user:password@]host:port`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
}

/// The proxy is shown without its credentials.
impl std::fmt::Debug for HubInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let proxy = self.proxy.as_deref().map(|p| crate::dial::Proxy::parse(p).map(|p| format!("{p:?}")));
        f.debug_struct("HubInfo")
            .field("hub", &self.hub)
            .field("sensor_id", &self.sensor_id)
            .field("command_key", &self.command_key)
            .field("proxy", &proxy.map(|p| p.unwrap_or_else(|_| "(unreadable)".into())))
            .finish()
    }
}

impl HubInfo {
    /// The pinned command key.
    pub fn command_key(&self) -> Result<ed25519_dalek::VerifyingKey, SyncError> {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.command_key)
            .map_err(|e| SyncError::Identity(format!("hub.json: command_key: {e}")))?;
        let bytes: [u8; 32] =
            bytes.try_into().map_err(|_| SyncError::Identity("hub.json: command_key: not 32 bytes".into()))?;
        ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map_err(|e| SyncError::Identity(format!("hub.json: command_key: {e}")))
    }
}

/// The files of an identity.
pub struct Identity {
    dir: PathBuf,
}

impl Identity {
    /// The identity in `dir` (which may not be enrolled yet).
    pub fn new(dir: &Path) -> Identity {
        Identity { dir: dir.to_owned() }
    }

    /// Whether `dir` holds an enrolled identity.
    pub fn enrolled(&self) -> bool {
        self.dir.join("hub.json").exists()
    }

    /// The hub and the sensor's id.
    pub fn hub(&self) -> Result<HubInfo, SyncError> {
        let text = std::fs::read_to_string(self.dir.join("hub.json"))
            .map_err(|e| SyncError::NotEnrolled(format!("{}: {e}", self.dir.display())))?;
        serde_json::from_str(&text).map_err(|e| SyncError::Identity(format!("hub.json: {e}")))
    }

    fn read(&self, name: &str) -> Result<Vec<u8>, SyncError> {
        std::fs::read(self.dir.join(name)).map_err(|e| SyncError::NotEnrolled(format!("{name}: {e}")))
    }

    fn certificate(&self) -> Result<CertificateDer<'static>, SyncError> {
        CertificateDer::from_pem_slice(&self.read("cert.pem")?)
            .map_err(|e| SyncError::Identity(format!("cert.pem: {e}")))
    }

    fn key(&self) -> Result<KeyPair, SyncError> {
        let pem = String::from_utf8(self.read("key.pem")?).map_err(|e| SyncError::Identity(format!("key.pem: {e}")))?;
        KeyPair::from_pem(&pem).map_err(|e| SyncError::Identity(format!("key.pem: {e}")))
    }

    /// Whether the certificate has less than a third of its validity left at `now` (Unix
    /// seconds), and when it expires.
    pub fn renewal_due(&self, now: i64) -> Result<(bool, i64), SyncError> {
        let der = self.certificate()?;
        let (_, cert) =
            x509_parser::parse_x509_certificate(&der).map_err(|e| SyncError::Identity(format!("cert.pem: {e}")))?;
        let (from, until) = (cert.validity().not_before.timestamp(), cert.validity().not_after.timestamp());
        Ok(((until - now) * 3 < until - from, until))
    }

    /// A certificate request for the sensor's key (DER).
    pub fn renewal_request(&self) -> Result<Vec<u8>, SyncError> {
        let key = self.key()?;
        let csr = CertificateParams::new(Vec::<String>::new())
            .and_then(|p| p.serialize_request(&key))
            .map_err(|e| SyncError::Identity(e.to_string()))?;
        Ok(csr.der().to_vec())
    }

    /// Refuses a certificate (DER) that is not for the sensor's key.
    fn check_for_key(&self, der: &[u8]) -> Result<(), SyncError> {
        let (_, cert) =
            x509_parser::parse_x509_certificate(der).map_err(|e| SyncError::Identity(format!("certificate: {e}")))?;
        if cert.public_key().subject_public_key.data.as_ref() != self.key()?.public_key_raw() {
            return Err(SyncError::Identity("the certificate is not for this sensor's key".into()));
        }
        Ok(())
    }

    /// Installs a renewed certificate (DER) after checking it is for the sensor's key.
    pub fn install_certificate(&self, der: &[u8]) -> Result<(), SyncError> {
        self.check_for_key(der)?;
        let (path, tmp) = (self.dir.join("cert.pem"), self.dir.join("cert.pem.new"));
        let write = || -> std::io::Result<()> {
            use std::io::Write as _;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(pem("CERTIFICATE", der).as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(&self.dir)?.sync_all()
        };
        write().map_err(SyncError::Io)
    }

    /// A TLS client configuration that presents the sensor's certificate and trusts only the
    /// pinned hub CA, TLS 1.3 only.
    pub fn client_config(&self) -> Result<rustls::ClientConfig, SyncError> {
        let ca = CertificateDer::from_pem_slice(&self.read("hub-ca.pem")?)
            .map_err(|e| SyncError::Identity(e.to_string()))?;
        let cert = self.certificate()?;
        let key =
            PrivateKeyDer::from_pem_slice(&self.read("key.pem")?).map_err(|e| SyncError::Identity(e.to_string()))?;
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca).map_err(|e| SyncError::Identity(e.to_string()))?;
        rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| SyncError::Identity(e.to_string()))?
            .with_root_certificates(roots)
            .with_client_auth_cert(vec![cert], key)
            .map_err(|e| SyncError::Identity(e.to_string()))
    }
}

pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server name to check the hub's certificate against: the host part of `HOST:PORT`.
pub(crate) fn server_name(hub: &str) -> Result<ServerName<'static>, SyncError> {
    let host = hub.rsplit_once(':').map_or(hub, |(h, _)| h).trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned()).map_err(|_| SyncError::Identity(format!("{hub}: not HOST:PORT")))
}

/// Accepts the hub's certificate only if it chains to a CA certificate, sent along, whose
/// SHA-256 is the pinned one.
#[derive(Debug)]
struct PinnedCa {
    sha256: String,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCa {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let ca = intermediates
            .iter()
            .find(|c| fingerprint(c) == self.sha256)
            .ok_or(rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer))?;
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.clone().into_owned())?;
        let verifier =
            rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                .build()
                .map_err(|e| rustls::Error::General(e.to_string()))?;
        verifier.verify_server_cert(end_entity, &[], server_name, ocsp, now)
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// Enrolls the sensor whose data directory is `dir` with the hub at `hub` (`HOST:PORT`),
/// redeeming `token` and pinning the hub CA `ca_sha256`. Returns the sensor's id.
pub fn enroll(dir: &Path, hub: &str, token: &str, ca_sha256: &str) -> Result<String, SyncError> {
    enroll_via(dir, hub, None, token, ca_sha256)
}

/// [`enroll`] through an HTTP proxy (`http://[user:password@]host:port`), which the tunnel
/// then uses too.
pub fn enroll_via(
    dir: &Path,
    hub: &str,
    proxy: Option<&str>,
    token: &str,
    ca_sha256: &str,
) -> Result<String, SyncError> {
    let via = proxy.map(crate::dial::Proxy::parse).transpose()?;
    std::fs::create_dir_all(dir).map_err(|e| SyncError::Identity(format!("{}: {e}", dir.display())))?;
    let key = KeyPair::generate().map_err(|e| SyncError::Identity(e.to_string()))?;
    let csr = CertificateParams::new(Vec::<String>::new())
        .and_then(|p| p.serialize_request(&key))
        .map_err(|e| SyncError::Identity(e.to_string()))?;
    let verifier = Arc::new(PinnedCa { sha256: ca_sha256.trim().to_ascii_lowercase(), provider: provider() });
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| SyncError::Identity(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    let name = server_name(hub)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(SyncError::Io)?;
    let reply = runtime.block_on(async {
        let tcp = crate::dial::dial(hub, via.as_ref()).await?;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let mut tls =
            tokio::time::timeout(STEP, connector.connect(name, tcp)).await.map_err(|_| SyncError::Timeout)??;
        let enroll = Up::Enroll { token: token.to_owned(), csr_der: csr.der().to_vec() };
        write_frame(&mut tls, &enroll).await?;
        let reply: Option<Down> =
            tokio::time::timeout(STEP, read_frame(&mut tls)).await.map_err(|_| SyncError::Timeout)??;
        Ok::<_, SyncError>(reply)
    })?;
    let (sensor_id, cert_der, ca_der, command_key) = match reply {
        Some(Down::Enrolled { sensor_id, cert_der, ca_der, command_key }) => (sensor_id, cert_der, ca_der, command_key),
        Some(Down::Error { code, message }) => return Err(SyncError::Refused(format!("{code:?}: {message}"))),
        other => return Err(SyncError::Refused(format!("unexpected answer {other:?}"))),
    };
    crate::write_private(&dir.join("key.pem"), key.serialize_pem().as_bytes())?;
    let issued = Issued { hub: hub.into(), proxy: proxy.map(str::to_owned), sensor_id, cert_der, ca_der, command_key };
    install(dir, issued, ca_sha256)
}

/// What an enrollment issued the sensor.
pub(crate) struct Issued {
    pub hub: String,
    pub proxy: Option<String>,
    pub sensor_id: String,
    pub cert_der: Vec<u8>,
    pub ca_der: Vec<u8>,
    pub command_key: [u8; 32],
}

/// Installs what an enrollment issued into `dir`, whose `key.pem` the certificate must be for,
/// after checking the CA is the one pinned by `ca_sha256`. Returns the sensor's id.
pub(crate) fn install(dir: &Path, issued: Issued, ca_sha256: &str) -> Result<String, SyncError> {
    if fingerprint(&issued.ca_der) != ca_sha256.trim().to_ascii_lowercase() {
        return Err(SyncError::Refused("the hub's CA is not the pinned one (its SHA-256 differs)".into()));
    }
    Identity::new(dir).check_for_key(&issued.cert_der)?;
    std::fs::write(dir.join("cert.pem"), pem("CERTIFICATE", &issued.cert_der)).map_err(SyncError::Io)?;
    std::fs::write(dir.join("hub-ca.pem"), pem("CERTIFICATE", &issued.ca_der)).map_err(SyncError::Io)?;
    let info = HubInfo {
        hub: issued.hub,
        sensor_id: issued.sensor_id.clone(),
        command_key: {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(issued.command_key)
        },
        proxy: issued.proxy,
    };
    let json = serde_json::to_string(&info).map_err(|e| SyncError::Identity(e.to_string()))?;
    crate::write_private(&dir.join("hub.json"), json.as_bytes())?;
    Ok(issued.sensor_id)
}
