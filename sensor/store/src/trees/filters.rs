//! `filters`: block id → a binary fuse filter (`xorf`, 9 bits per key, under 0.4% false
//! positives) of the block's uids, Community IDs, hosts and DNS names, so that a lookup by one of
//! them reads only the blocks that hold it.
//!
//! Value: `xxh3_64` of the rest (`u64`, little-endian), then the filter's descriptor and
//! fingerprints as `xorf` lays them out for storage; nothing after the checksum means a block
//! without keys. A value that is missing, fails its checksum or does not parse prunes nothing:
//! the block is read.

use xorf::{BinaryFuse8, BinaryFuse8Ref, DmaSerializable, Filter, FilterRef};

/// What a filter key is, so that a uid never matches a name with the same text.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Tag {
    Uid = 1,
    CommunityId = 2,
    Name = 3,
    Host = 4,
}

/// The filter key of a value.
pub(crate) fn hash(tag: Tag, value: &str) -> u64 {
    hash_bytes(tag, value.as_bytes())
}

/// The filter key of a host.
pub(crate) fn host(addr: core::net::IpAddr) -> u64 {
    match addr {
        core::net::IpAddr::V4(a) => hash_bytes(Tag::Host, &a.octets()),
        core::net::IpAddr::V6(a) => hash_bytes(Tag::Host, &a.octets()),
    }
}

/// xxh3-64 of the value, seeded with the tag.
fn hash_bytes(tag: Tag, value: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(value, tag as u64)
}

/// The stored value of a filter over `keys` (sorted and deduplicated here). `None` when the
/// filter cannot be built, which leaves the block unfiltered.
pub(crate) fn build(keys: &mut Vec<u64>) -> Option<Vec<u8>> {
    keys.sort_unstable();
    keys.dedup();
    let mut body = Vec::new();
    if !keys.is_empty() {
        let filter = BinaryFuse8::try_from(keys.as_slice()).ok()?;
        let mut descriptor = [0; BinaryFuse8::DESCRIPTOR_LEN];
        filter.dma_copy_descriptor_to(&mut descriptor);
        body.extend_from_slice(&descriptor);
        body.extend_from_slice(filter.dma_fingerprints());
    }
    let mut value = xxhash_rust::xxh3::xxh3_64(&body).to_le_bytes().to_vec();
    value.extend_from_slice(&body);
    Some(value)
}

/// Whether a block whose filter value is `value` may hold every key in `keys`. `true` when the
/// value is missing or damaged.
pub(crate) fn may_contain(value: Option<&[u8]>, keys: &[u64]) -> bool {
    let Some((sum, body)) = value.and_then(|v| v.split_first_chunk::<8>()) else { return true };
    if u64::from_le_bytes(*sum) != xxhash_rust::xxh3::xxh3_64(body) {
        return true;
    }
    if body.is_empty() {
        return keys.is_empty();
    }
    let Some((descriptor, fingerprints)) = body.split_at_checked(BinaryFuse8::DESCRIPTOR_LEN) else { return true };
    let filter = BinaryFuse8Ref::from_dma(descriptor, fingerprints);
    keys.iter().all(|k| filter.contains(k))
}
