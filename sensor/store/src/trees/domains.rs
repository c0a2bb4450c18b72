//! `domains`: (registered domain, kind, bucket, block) → nothing. One entry per registered
//! domain (the Public Suffix List's eTLD+1 of a query name), bucket and block.

use super::{BlockId, be_u64};
use crate::record::Kind;

/// Bytes after the domain: separator, kind, bucket, block.
const TAIL: usize = 18;
/// Longest registered domain indexed: a DNS name is at most 253 characters, and escaped text
/// (`\x..` for odd bytes) at most four times that.
pub(crate) const MAX_DOMAIN: usize = 4 * 253;

/// A key of the `domains` tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DomainKey<'a> {
    pub(crate) domain: &'a str,
    pub(crate) kind: Kind,
    pub(crate) bucket: u64,
    pub(crate) block: BlockId,
}

impl DomainKey<'_> {
    pub(crate) fn key(&self) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.domain.len() + TAIL);
        k.extend_from_slice(self.domain.as_bytes());
        // Names as the DNS analyser renders them never hold a NUL byte (it is escaped).
        k.push(0);
        k.push(self.kind.code());
        k.extend_from_slice(&self.bucket.to_be_bytes());
        k.extend_from_slice(&self.block.key());
        k
    }

    /// The bucket and block of a key.
    pub(crate) fn parse_tail(key: &[u8]) -> Option<(u64, BlockId)> {
        let at = key.len().checked_sub(16)?;
        Some((be_u64(key, at)?, BlockId(be_u64(key, at + 8)?)))
    }

    /// The keys of `domain` and `kind` in buckets `first..=last`, as a sled range.
    pub(crate) fn range(domain: &str, kind: Kind, first: u64, last: u64) -> core::ops::RangeInclusive<Vec<u8>> {
        let low = DomainKey { domain, kind, bucket: first, block: BlockId(0) };
        let high = DomainKey { domain, kind, bucket: last, block: BlockId(u64::MAX) };
        low.key()..=high.key()
    }
}

/// The registered domain of a query name (lower case): the Public Suffix List's eTLD+1, or the
/// name itself when it has none (a single label, a suffix itself, a local name).
pub(crate) fn registered(name: &str) -> Option<&str> {
    let name = name.strip_suffix('.').unwrap_or(name);
    let domain = psl::domain_str(name).unwrap_or(name);
    (!domain.is_empty() && domain.len() <= MAX_DOMAIN).then_some(domain)
}
