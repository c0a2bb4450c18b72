//! Offline enrollment on the appliance (soc-protocol's `offline` module has the flow): the
//! request file, made with a new key that stays in the data directory, and the installation of
//! the bundle the SOC sends back.

use crate::SyncError;
use crate::identity::{Identity, Issued, install};
use rcgen::{CertificateParams, KeyPair};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use soc_protocol::offline::{BUNDLE_FORMAT, OfflineBundle, OfflineRequest, REQUEST_FORMAT};
use soc_protocol::pem;
use std::path::Path;

/// A request for the appliance whose data directory is `dir`: its key is made (mode 0600) the
/// first time and kept, so that asking again gives a request for the same key.
pub fn offline_request(dir: &Path) -> Result<OfflineRequest, SyncError> {
    if Identity::new(dir).enrolled() {
        return Err(SyncError::Identity(format!("{} is enrolled already", dir.display())));
    }
    std::fs::create_dir_all(dir).map_err(|e| SyncError::Identity(format!("{}: {e}", dir.display())))?;
    let path = dir.join("key.pem");
    let key = match std::fs::read_to_string(&path) {
        Ok(text) => KeyPair::from_pem(&text).map_err(|e| SyncError::Identity(format!("key.pem: {e}")))?,
        Err(_) => {
            let key = KeyPair::generate().map_err(|e| SyncError::Identity(e.to_string()))?;
            crate::write_private(&path, key.serialize_pem().as_bytes())?;
            key
        }
    };
    let csr = CertificateParams::new(Vec::<String>::new())
        .and_then(|p| p.serialize_request(&key))
        .map_err(|e| SyncError::Identity(e.to_string()))?;
    Ok(OfflineRequest { format: REQUEST_FORMAT.into(), csr_pem: pem("CERTIFICATE REQUEST", csr.der()) })
}

/// Installs `bundle` into `dir` (which made the request): its CA must have the SHA-256
/// `ca_sha256`, given out of band, and its certificate must be for the key in `dir`. Returns
/// the sensor's id.
pub fn install_bundle(dir: &Path, bundle: &OfflineBundle, ca_sha256: &str) -> Result<String, SyncError> {
    if bundle.format != BUNDLE_FORMAT {
        return Err(SyncError::Identity(format!("bundle format {:?}, expected {BUNDLE_FORMAT:?}", bundle.format)));
    }
    let der = |what: &str, text: &str| {
        CertificateDer::from_pem_slice(text.as_bytes())
            .map(|c| c.to_vec())
            .map_err(|e| SyncError::Identity(format!("bundle {what}: {e}")))
    };
    let command_key: [u8; 32] = {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&bundle.command_key)
            .map_err(|e| SyncError::Identity(format!("bundle command_key: {e}")))?;
        bytes.try_into().map_err(|_| SyncError::Identity("bundle command_key: not 32 bytes".into()))?
    };
    let issued = Issued {
        hub: bundle.hub.clone(),
        proxy: None,
        sensor_id: bundle.sensor_id.clone(),
        cert_der: der("cert_pem", &bundle.cert_pem)?,
        ca_der: der("ca_pem", &bundle.ca_pem)?,
        command_key,
    };
    install(dir, issued, ca_sha256)
}
