//! `time`: (kind, bucket, block) → how many records and bytes. The time-range index, and what
//! retention walks oldest first.

use super::{BlockId, be_u64};
use crate::record::Kind;

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

/// A value of the `time` tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeEntry {
    /// Records in the block.
    pub(crate) records: u32,
    /// Bytes the block and its index entries take (keys and values), as retention counts them.
    pub(crate) bytes: u64,
}

impl TimeEntry {
    pub(crate) fn value(&self) -> [u8; 12] {
        let mut v = [0; 12];
        v[..4].copy_from_slice(&self.records.to_be_bytes());
        v[4..].copy_from_slice(&self.bytes.to_be_bytes());
        v
    }

    pub(crate) fn parse(value: &[u8]) -> Option<TimeEntry> {
        let records = u32::from_be_bytes(value.get(..4)?.try_into().ok()?);
        Some(TimeEntry { records, bytes: be_u64(value, 4)? })
    }
}
