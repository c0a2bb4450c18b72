//! Offline enrollment, for sites with no network path to the hub (air-gapped OT): two JSON files
//! carried on removable media instead of the `Enroll` exchange.
//!
//! 1. On the appliance, `sensor enroll-offline request` makes the key pair (it stays there) and
//!    writes an [`OfflineRequest`]: a certificate request.
//! 2. At the SOC, `soc-hub enroll-offline` (admin) signs it for a tenant and site and writes an
//!    [`OfflineBundle`]: the certificate, the hub's CA and command key, the hub's address.
//! 3. On the appliance, `sensor enroll-offline install` checks the bundle's CA against the
//!    fingerprint given out of band and the certificate against its key, and installs them.
//!
//! Neither file holds a secret: the private key never leaves the appliance.

use serde::{Deserialize, Serialize};

/// `format` of a request.
pub const REQUEST_FORMAT: &str = "sensor offline enrollment request v1";
/// `format` of a bundle.
pub const BUNDLE_FORMAT: &str = "soc-hub offline enrollment bundle v1";

/// What the appliance sends (file 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfflineRequest {
    /// [`REQUEST_FORMAT`].
    pub format: String,
    /// PKCS#10 request for the appliance's key, PEM.
    pub csr_pem: String,
}

/// What the SOC sends back (file 2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfflineBundle {
    /// [`BUNDLE_FORMAT`].
    pub format: String,
    /// `HOST:PORT` the sensor will sync to when it can (a relay, or the hub).
    pub hub: String,
    /// The sensor's id.
    pub sensor_id: String,
    /// Its tenant.
    pub tenant: String,
    /// Its site.
    pub site: String,
    /// Its certificate, PEM.
    pub cert_pem: String,
    /// The hub's CA, PEM (the appliance pins it by the fingerprint given out of band).
    pub ca_pem: String,
    /// The hub's command key, base64 of the 32 bytes.
    pub command_key: String,
}
