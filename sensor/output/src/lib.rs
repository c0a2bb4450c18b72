//! Records and where they go.
//!
//! Alerts ([`Alert`], defined by `sensor-detect`) are written as one JSON object per line with
//! serde: they are few, and their schema is docs/alerts.md.
//!
//! Records carry Zeek's JSON log field names (`id.orig_h`, `conn_state`, `qtype_name`, …) so that
//! RITA, Security Onion and SIEM parsers that read Zeek's JSON logs read ours unchanged. Unset
//! fields are omitted, as Zeek's JSON writer does. docs/records.md documents every field and every
//! deliberate difference from Zeek.
//!
//! | file | what it holds |
//! |---|---|
//! | `records.rs` | [`ConnRecord`], [`DnsRecordLine`], [`WeirdRecord`], [`EvidenceRecord`] and their JSON |
//! | `json.rs` | [`json`]: the small JSON object writer the records use |
//! | `jsonl.rs` | [`JsonLines`]: `conn.jsonl`, `dns.jsonl`, `weird.jsonl`, `alerts.jsonl` in a directory |
//! | `tee.rs` | [`Tee`]: one sink writing to two (the store and JSON lines) |
//! | `shared.rs` | [`Shared`]: one sink written by several capture workers, under a lock |
//! | `lib.rs` | the [`RecordSink`] trait every output implements, [`OutputStats`] |
//!
//! The telemetry store (`sensor-store`) is another [`RecordSink`]; [`Tee`] writes to two.

#![forbid(unsafe_code)]

pub mod json;
mod jsonl;
mod records;
mod shared;
mod tee;

pub use jsonl::JsonLines;
pub use records::{ConnId, ConnRecord, DnsRecordLine, EvidencePacket, EvidenceRecord, WeirdRecord};
pub use sensor_detect::Alert;
pub use shared::Shared;
pub use tee::Tee;

/// Errors of an output.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    /// Writing a log file failed.
    #[error("{path}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The telemetry store failed (its own error type, boxed: the store crate comes after this
    /// one in the packet path).
    #[error("store: {0}")]
    Store(Box<dyn std::error::Error + Send + Sync>),
}

/// Records written, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutputStats {
    /// conn records.
    pub conn: u64,
    /// dns records.
    pub dns: u64,
    /// weird records.
    pub weird: u64,
    /// Alerts.
    pub alert: u64,
}

/// Where records go.
pub trait RecordSink {
    /// A connection ended.
    fn conn(&mut self, rec: &ConnRecord<'_>) -> Result<(), OutputError>;
    /// A DNS transaction completed.
    fn dns(&mut self, rec: &DnsRecordLine<'_>) -> Result<(), OutputError>;
    /// An anomaly.
    fn weird(&mut self, rec: &WeirdRecord<'_>) -> Result<(), OutputError>;
    /// An alert. Outputs make it durable before returning where they can (alerts are few and
    /// are what the SOC waits for).
    fn alert(&mut self, alert: &Alert) -> Result<(), OutputError>;
    /// A flow's packets kept as evidence. Outputs that hold no packets ignore it (the default).
    fn evidence(&mut self, rec: &EvidenceRecord<'_>) -> Result<(), OutputError> {
        let _ = rec;
        Ok(())
    }
    /// Whether [`RecordSink::evidence`] keeps what it is given. When it does not (the default),
    /// the pipeline keeps no packets: they would be copied only to be dropped.
    fn keeps_evidence(&self) -> bool {
        false
    }
    /// Makes everything written so far durable.
    fn flush(&mut self) -> Result<(), OutputError>;
    /// Called between batches of packets with the wall-clock time, for outputs that flush on a
    /// timer. Does nothing by default.
    fn tick(&mut self, now: std::time::Instant) -> Result<(), OutputError> {
        let _ = now;
        Ok(())
    }
    /// Records written so far.
    fn stats(&self) -> OutputStats;
}
