//! Export of the hub's alerts to the SOC's SIEM: each alert as an OCSF Detection Finding, to
//! every configured destination, from a durable queue of its own.
//!
//! | file | what it holds |
//! |---|---|
//! | `config.rs` | [`ExportConfig`]: the `[[export]]` sections of the hub's configuration |
//! | `ocsf.rs` | a stored alert as an OCSF finding, with the hub's tenant, site and sensor |
//! | `queue.rs` | [`Queues`]: per destination, the alerts not yet delivered (sled, in the hub's database) |
//! | `syslog.rs` | syslog: RFC 5424 messages over TLS with octet counting (RFC 5425) |
//! | `http.rs` | Splunk HEC (`/services/collector/event`) and Elasticsearch (`/_bulk`) |
//! | `exporter.rs` | [`Exporters`]: a thread per destination: batch, send, retry with backoff, count |
//!
//! **Delivery.** An alert enters every destination's queue just before it is stored, in the same
//! flush (so the hub's acknowledgement to the sensor covers both). An entry whose alert is not
//! there yet waits for it (it is being written); one whose alert is still missing a minute
//! later is the leftover of a crash between the two writes, and is dropped (the sensor resent
//! that alert, which was queued again). It leaves a queue only
//! once the destination took it: HTTP 200 (HEC: code 0; Elasticsearch: each item created, or
//! present already), or for syslog the batch written and flushed on the TLS connection; the
//! removal is flushed to disk before the next batch.
//! A destination that is down keeps its queue; the others are not held up. If the hub stops
//! between a delivery and that flush, the batch is delivered again: Elasticsearch
//! deduplicates by `_id` (`SENSOR:SEQ`), HEC and syslog receivers see it twice.

#![forbid(unsafe_code)]

mod config;
mod exporter;
mod http;
mod ocsf;
mod queue;
mod syslog;

pub use config::{Destination, ExportConfig, Facility};
pub use exporter::{ExportStats, Exporters};
pub use ocsf::finding;
pub use queue::{MAX_QUEUED, Queues};

/// What can go wrong exporting.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The configuration is unusable.
    #[error("export {0}: {1}")]
    Config(String, String),
    /// The hub's database failed.
    #[error("export queue: {0}")]
    Db(#[from] sled::Error),
}
