//! The sled trees, one module each, with their typed keys. All integers in keys are big-endian so
//! that sled's byte order is numeric order.
//!
//! | tree | key | value |
//! |---|---|---|
//! | `blocks` | [`BlockId`] | where the block's bytes are in the segment files |
//! | `segments` | segment number | the id of its first block |
//! | `time` | [`TimeKey`]: kind, bucket, block | [`Span`]: first and last record times |
//! | `hosts` | [`HostKey`]: address, kind, bucket, block | empty |
//! | `domains` | [`DomainKey`]: registered domain, kind, bucket, block | empty |
//! | `wide` | [`TimeKey`]: kind, bucket, block | which index entries the block has too many of ([`wide`]) |
//! | `filters` | [`BlockId`] | the block's membership filter ([`filters`]) |
//! | `meta` | [`meta::Counter`] names | counters that survive restarts |
//! | `alerts` | alert time, alert id | the alert, JSON ([`alerts`]: never evicted) |

pub(crate) mod alerts;
pub(crate) mod blocks;
pub(crate) mod domains;
pub(crate) mod filters;
pub(crate) mod hosts;
pub(crate) mod meta;
pub(crate) mod time;
pub(crate) mod wide;

pub use blocks::BlockId;
pub(crate) use domains::DomainKey;
pub(crate) use hosts::HostKey;
pub(crate) use time::{Span, TimeKey};

use sensor_wire::Timestamp;

/// Width of a time bucket: every block holds records of one bucket, and indices are ordered by
/// bucket, so a time-range query reads only the buckets it covers.
pub const BUCKET_NANOS: u64 = 60_000_000_000;

/// The bucket of a time.
pub(crate) fn bucket_of(ts: Timestamp) -> u64 {
    ts.0 / BUCKET_NANOS
}

/// Every tree of a store.
#[derive(Clone)]
pub(crate) struct Trees {
    pub(crate) blocks: sled::Tree,
    pub(crate) segments: sled::Tree,
    pub(crate) time: sled::Tree,
    pub(crate) hosts: sled::Tree,
    pub(crate) domains: sled::Tree,
    pub(crate) wide: sled::Tree,
    pub(crate) filters: sled::Tree,
    pub(crate) meta: sled::Tree,
    pub(crate) alerts: sled::Tree,
}

impl Trees {
    pub(crate) fn open(db: &sled::Db) -> sled::Result<Trees> {
        Ok(Trees {
            blocks: db.open_tree("blocks")?,
            segments: db.open_tree("segments")?,
            time: db.open_tree("time")?,
            hosts: db.open_tree("hosts")?,
            domains: db.open_tree("domains")?,
            wide: db.open_tree("wide")?,
            filters: db.open_tree("filters")?,
            meta: db.open_tree("meta")?,
            alerts: db.open_tree("alerts")?,
        })
    }
}

/// Reads a big-endian `u64` at `at`, if the slice is long enough.
pub(crate) fn be_u64(bytes: &[u8], at: usize) -> Option<u64> {
    bytes.get(at..at + 8).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes)
}
