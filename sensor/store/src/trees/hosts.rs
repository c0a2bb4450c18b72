//! `hosts`: (address, kind, bucket, block) → nothing. One entry per host, bucket and block it
//! appears in, on either side of a record.

use super::{BlockId, be_u64};
use crate::record::Kind;
use core::net::IpAddr;

/// Key length: family, 16 address bytes, kind, bucket, block.
const LEN: usize = 34;

/// A key of the `hosts` tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HostKey {
    pub(crate) host: IpAddr,
    pub(crate) kind: Kind,
    pub(crate) bucket: u64,
    pub(crate) block: BlockId,
}

/// The family byte and 16 address bytes (IPv4 in the first four).
fn host_bytes(host: IpAddr) -> [u8; 17] {
    let mut k = [0; 17];
    match host {
        IpAddr::V4(a) => {
            k[0] = 4;
            k[1..5].copy_from_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            k[0] = 6;
            k[1..].copy_from_slice(&a.octets());
        }
    }
    k
}

impl HostKey {
    pub(crate) fn key(&self) -> [u8; LEN] {
        let mut k = [0; LEN];
        k[..17].copy_from_slice(&host_bytes(self.host));
        k[17] = self.kind.code();
        k[18..26].copy_from_slice(&self.bucket.to_be_bytes());
        k[26..].copy_from_slice(&self.block.key());
        k
    }

    /// The bucket and block of a key (the rest is known to whoever scanned for it).
    pub(crate) fn parse_tail(key: &[u8]) -> Option<(u64, BlockId)> {
        (key.len() == LEN).then_some(())?;
        Some((be_u64(key, 18)?, BlockId(be_u64(key, 26)?)))
    }

    /// The keys of `host` and `kind` in buckets `first..=last`, as a sled range.
    pub(crate) fn range(host: IpAddr, kind: Kind, first: u64, last: u64) -> core::ops::RangeInclusive<[u8; LEN]> {
        let low = HostKey { host, kind, bucket: first, block: BlockId(0) };
        let high = HostKey { host, kind, bucket: last, block: BlockId(u64::MAX) };
        low.key()..=high.key()
    }
}
