//! `alerts`: (time, alert id) → the alert as JSON.
//!
//! Alerts live in their own tree, not in segment blocks: retention evicts whole segments under
//! disk pressure, and alerts must never go with them. They are few (a busy site raises
//! thousands a day, not millions), so a key per alert is right here where it is wrong for
//! telemetry, and each is made durable as it is written.

use super::BUCKET_NANOS;
use sensor_wire::Timestamp;

/// The key of an alert: its time (big-endian nanoseconds, so keys sort by time) and its id.
pub(crate) fn key(ts: Timestamp, id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + id.len());
    k.extend_from_slice(&ts.0.to_be_bytes());
    k.extend_from_slice(id.as_bytes());
    k
}

/// The time of a key.
pub(crate) fn ts_of(key: &[u8]) -> Option<Timestamp> {
    super::be_u64(key, 0).map(Timestamp)
}

/// The keys of alerts in buckets `first..=last`, as a sled range. Every key is longer than 8
/// bytes, so the bound (the first time of bucket `last + 1`, alone) sorts after every key of
/// bucket `last` and before every key of the next.
pub(crate) fn range(first: u64, last: u64) -> core::ops::RangeInclusive<[u8; 8]> {
    let low = first.saturating_mul(BUCKET_NANOS);
    let next = last.saturating_add(1).saturating_mul(BUCKET_NANOS);
    low.to_be_bytes()..=next.to_be_bytes()
}
