//! The sensor's side of the SOC tunnel (docs/protocol.md).
//!
//! | file | what it holds |
//! |---|---|
//! | `identity.rs` | the sensor's key, certificate and pinned hub CA; [`enroll`] |
//! | `offline.rs` | offline enrollment: the request file, the bundle installed |
//! | `dial.rs` | reaching the hub: directly or through an HTTP proxy (`CONNECT`) |
//! | `outbox/mod.rs` | [`Outbox`]: alerts on disk until the hub acknowledges them, critical first |
//! | `outbox/segments.rs` | the ordinary alerts in segment databases, each deleted whole once acknowledged |
//! | `commands.rs` | [`Gate`]: commands from the hub checked (signature, sensor, expiry, replay) before the [`Appliance`] acts |
//! | `client.rs` | [`SyncHandle`]: the outbound mTLS tunnel, exactly-once delivery, backoff |
//!
//! The sensor opens no listening socket for any of this.

#![forbid(unsafe_code)]

mod client;
mod commands;
mod dial;
mod identity;
mod offline;
mod outbox;

pub use client::{BATCH, STALL, SyncHandle, SyncStats, WINDOW};
pub use commands::{Appliance, Executed, Gate, Refusal};
pub use dial::Proxy;
pub use identity::{HubInfo, Identity, enroll, enroll_via};
pub use offline::{install_bundle, offline_request};
pub use outbox::Outbox;

/// What can go wrong syncing.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// A system call or the connection failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The outbox's database failed.
    #[error("outbox: {0}")]
    Outbox(#[from] sled::Error),
    /// The tunnel carried something this end cannot read.
    #[error("{0}")]
    Protocol(#[from] soc_protocol::ProtocolError),
    /// A step took too long.
    #[error("timed out")]
    Timeout,
    /// The hub acknowledged nothing for [`client::STALL`] while alerts waited.
    #[error("stalled: no answer from the hub for {stall:?} with {0} alerts unacknowledged", stall = client::STALL)]
    Stalled(usize),
    /// The hub refused, or answered out of turn.
    #[error("hub: {0}")]
    Refused(String),
    /// The data directory holds no enrollment.
    #[error("not enrolled ({0}): run `sensor enroll` first")]
    NotEnrolled(String),
    /// The identity files are unusable.
    #[error("identity: {0}")]
    Identity(String),
}

/// Writes a secret readable by the owner only (mode 0600), durably.
pub(crate) fn write_private(path: &std::path::Path, bytes: &[u8]) -> Result<(), SyncError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}
