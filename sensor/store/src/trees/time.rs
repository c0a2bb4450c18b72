//! `time`: (kind, bucket, block) → the times of the block's first and last records. The
//! time-range index; the span lets a query with a limit read a bucket's blocks newest (or oldest)
//! first and stop early.

use super::{BlockId, be_u64};
use crate::record::Kind;
use sensor_wire::Timestamp;

/// Key length: kind, bucket, block.
const LEN: usize = 17;

/// A key of the `time` tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeKey {
    pub(crate) kind: Kind,
    pub(crate) bucket: u64,
    pub(crate) block: BlockId,
}

impl TimeKey {
    pub(crate) fn key(&self) -> [u8; LEN] {
        let mut k = [0; LEN];
        k[0] = self.kind.code();
        k[1..9].copy_from_slice(&self.bucket.to_be_bytes());
        k[9..].copy_from_slice(&self.block.key());
        k
    }

    pub(crate) fn parse(key: &[u8]) -> Option<TimeKey> {
        if key.len() != LEN {
            return None;
        }
        Some(TimeKey { kind: Kind::from_code(key[0])?, bucket: be_u64(key, 1)?, block: BlockId(be_u64(key, 9)?) })
    }

    /// The keys of `kind` in buckets `first..=last`, as a sled range.
    pub(crate) fn range(kind: Kind, first: u64, last: u64) -> core::ops::RangeInclusive<[u8; LEN]> {
        let low = TimeKey { kind, bucket: first, block: BlockId(0) };
        let high = TimeKey { kind, bucket: last, block: BlockId(u64::MAX) };
        low.key()..=high.key()
    }
}

/// A value of the `time` tree: the block's earliest and latest record times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) min: Timestamp,
    pub(crate) max: Timestamp,
}

impl Span {
    pub(crate) fn value(&self) -> [u8; 16] {
        let mut v = [0; 16];
        v[..8].copy_from_slice(&self.min.0.to_be_bytes());
        v[8..].copy_from_slice(&self.max.0.to_be_bytes());
        v
    }

    pub(crate) fn parse(value: &[u8]) -> Option<Span> {
        Some(Span { min: Timestamp(be_u64(value, 0)?), max: Timestamp(be_u64(value, 8)?) })
    }
}
