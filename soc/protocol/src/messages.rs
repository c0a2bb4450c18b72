//! The messages of the tunnel. Every message is one frame. A sensor with a certificate sends
//! [`Up::Hello`] first; one without sends [`Up::Enroll`] and nothing else.

use crate::command::{CommandStatus, SignedCommand};
use serde::{Deserialize, Serialize};

/// From the sensor to the hub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Up {
    /// First message on a connection authenticated by the sensor's certificate: the versions it
    /// speaks and its software version.
    Hello {
        /// Oldest protocol version spoken.
        min_version: u16,
        /// Newest protocol version spoken.
        max_version: u16,
        /// The sensor's software version, for the hub's health view.
        software: String,
    },
    /// Alerts from the outbox; each is acknowledged by its sequence number once the hub has
    /// written it durably.
    Alerts(Vec<AlertItem>),
    /// Health, every heartbeat interval.
    Heartbeat(Health),
    /// What became of a [`Down::Command`].
    CommandResult {
        /// The command's id (as its body says; for a refused command, as it claimed).
        id: u64,
        /// Done, failed or refused.
        status: CommandStatus,
        /// For the analyst: what was done, or why not.
        detail: String,
        /// What the command asked for (evidence: the pcapng bytes); empty otherwise.
        attachment: Vec<u8>,
    },
    /// A request for a new certificate for the sensor's key (PKCS#10, DER), sent when the
    /// current one has less than a third of its validity left.
    Renew {
        /// PKCS#10 request, DER.
        csr_der: Vec<u8>,
    },
    /// First and only message of an enrollment connection (no client certificate): a one-time
    /// token and a certificate signing request (DER) for the sensor's own key.
    Enroll {
        /// The token `soc-hub token create` printed.
        token: String,
        /// PKCS#10 request, DER.
        csr_der: Vec<u8>,
    },
}

/// One alert of the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertItem {
    /// The sensor's sequence number: unique per sensor, never reused.
    pub seq: u64,
    /// The alert as the sensor's JSON (docs/alerts.md).
    pub json: String,
}

/// A sensor's health, as its heartbeat carries it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Frames received since start.
    pub rx_packets: u64,
    /// Frames lost in the kernel since start.
    pub kernel_drops: u64,
    /// Alerts waiting in the outbox.
    pub backlog: u64,
    /// Age of the oldest alert waiting, seconds.
    pub backlog_age_secs: u64,
    /// Bytes the telemetry store holds.
    pub store_bytes: u64,
    /// Bytes free on the data disk.
    pub disk_free_bytes: u64,
}

/// From the hub to the sensor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Down {
    /// Answer to [`Up::Hello`]: the version chosen and who the hub knows the sensor as.
    Welcome {
        /// The protocol version of the rest of the connection.
        version: u16,
        /// The sensor's id at the hub.
        sensor_id: String,
        /// Its tenant.
        tenant: String,
        /// The hub's command key: the sensor checks it is the one it pinned (over this
        /// connection, which its pinned CA authenticates, even a key pinned from an offline
        /// bundle is confirmed).
        command_key: [u8; 32],
    },
    /// These alerts are written durably at the hub (or were already: duplicates are
    /// acknowledged too); the sensor may delete them.
    Acks(Vec<u64>),
    /// Answer to [`Up::Enroll`]: the sensor's certificate and the hub's CA, both DER.
    Enrolled {
        /// The sensor's id at the hub (also in its certificate).
        sensor_id: String,
        /// The certificate issued for the sensor's key.
        cert_der: Vec<u8>,
        /// The hub's CA certificate, to pin.
        ca_der: Vec<u8>,
        /// The hub's command key (ed25519 public key), to pin: commands are acted on only if
        /// it signed them.
        command_key: [u8; 32],
    },
    /// Answer to [`Up::Renew`]: the sensor's new certificate (DER); the old one stays valid
    /// until the sensor first connects with the new one.
    Renewed {
        /// The certificate.
        cert_der: Vec<u8>,
    },
    /// A command, signed with the hub's command key ([`crate::command`]).
    Command(SignedCommand),
    /// The hub refuses; the connection closes after this.
    Error {
        /// What kind of refusal.
        code: ErrorCode,
        /// For the log.
        message: String,
    },
}

/// Why the hub refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorCode {
    /// No protocol version in common.
    UnsupportedVersion,
    /// The message was not expected here (e.g. alerts before Hello, Enroll with a certificate).
    UnexpectedMessage,
    /// The enrollment token is unknown, used, or expired.
    BadToken,
    /// The certificate request is malformed.
    BadRequest,
    /// The sensor's certificate is revoked or unknown.
    Unauthorized,
    /// The hub failed to store (disk); try again later.
    Unavailable,
}
