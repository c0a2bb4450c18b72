//! `time`: (kind, bucket, block) → nothing. The time-range index.

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
