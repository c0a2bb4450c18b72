//! The hub's certificate authority: it signs the hub's own server certificate at every start
//! and each sensor's certificate at enrollment. Its key lives in `DIR/ca.key` (mode 0600) and
//! never leaves the hub; `DIR/ca.pem` is public, and its SHA-256 fingerprint is what a sensor
//! pins when it enrolls (`soc-hub ca-fingerprint`).

use anyhow::Context as _;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, CertificateSigningRequestDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::path::Path;
use std::time::Duration;

/// How long a sensor certificate is valid unless `soc-hub serve --sensor-cert-validity` says
/// otherwise; sensors renew theirs over the tunnel when a third of it is left.
pub const SENSOR_CERT_VALIDITY: Duration = Duration::from_secs(90 * 24 * 3600);
/// How long the hub's server certificate is valid (it is made anew at every start).
const SERVER_CERT_VALIDITY: Duration = Duration::from_secs(30 * 24 * 3600);
/// How long the CA is valid.
const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// The CA, loaded or created.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    cert_der: CertificateDer<'static>,
    sensor_validity: Duration,
}

pub use soc_protocol::fingerprint;

impl Ca {
    /// Loads the CA from `dir`, creating it on first use.
    pub fn load_or_create(dir: &Path) -> anyhow::Result<Ca> {
        let (key_path, cert_path) = (dir.join("ca.key"), dir.join("ca.pem"));
        if key_path.exists() {
            let key = KeyPair::from_pem(&std::fs::read_to_string(&key_path)?).context("ca.key")?;
            let pem = std::fs::read_to_string(&cert_path).context("ca.pem")?;
            let cert_der = rustls::pki_types::pem::PemObject::from_pem_slice(pem.as_bytes())
                .map_err(|e| anyhow::anyhow!("ca.pem: {e}"))?;
            let issuer = Issuer::from_ca_cert_pem(&pem, key).context("ca.pem")?;
            return Ok(Ca { issuer, cert_der, sensor_validity: SENSOR_CERT_VALIDITY });
        }
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = name("SOC hub CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        validity(&mut params, CA_VALIDITY);
        let cert = params.self_signed(&key)?;
        write_private(&key_path, key.serialize_pem().as_bytes())?;
        std::fs::write(&cert_path, cert.pem())?;
        Ok(Ca { issuer: Issuer::new(params, key), cert_der: cert.der().clone(), sensor_validity: SENSOR_CERT_VALIDITY })
    }

    /// Issues sensor certificates valid for `validity` from now on.
    pub fn with_sensor_validity(self, validity: Duration) -> Ca {
        Ca { sensor_validity: validity, ..self }
    }

    /// The CA certificate, DER.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// A server certificate for `names` (DNS names or IP addresses) and its key.
    pub fn server_identity(
        &self,
        names: &[String],
    ) -> anyhow::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(names.to_vec())?;
        params.distinguished_name = name("SOC hub");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        validity(&mut params, SERVER_CERT_VALIDITY);
        let cert = params.signed_by(&key, &self.issuer)?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Ok((vec![cert.der().clone(), self.cert_der.clone()], key))
    }

    /// Signs a sensor's request: the subject becomes `sensor_id`, for client authentication only.
    pub fn sign_sensor(&self, csr_der: &[u8], sensor_id: &str) -> anyhow::Result<CertificateDer<'static>> {
        let csr = CertificateSigningRequestParams::from_der(&CertificateSigningRequestDer::from(csr_der))
            .context("not a valid certificate request")?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = name(sensor_id);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        validity(&mut params, self.sensor_validity);
        Ok(params.signed_by(&csr.public_key, &self.issuer)?.der().clone())
    }
}

fn name(common: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common);
    dn
}

fn validity(params: &mut CertificateParams, how_long: Duration) {
    let now = rcgen::date_time_ymd(1970, 1, 1)
        + std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    // A little slack for clocks that are slightly behind.
    params.not_before = now - Duration::from_secs(300);
    params.not_after = now + how_long;
}

/// Writes a secret readable by the owner only.
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}
