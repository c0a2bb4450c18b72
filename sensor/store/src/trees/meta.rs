//! `meta`: counters that survive restarts, by name.

/// A persisted counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Counter {
    /// Bytes of blocks and index entries stored (what the disk budget is compared with).
    StoredBytes,
    /// Blocks evicted by retention.
    EvictedBlocks,
    /// Records in them.
    EvictedRecords,
    /// Bytes freed.
    EvictedBytes,
    /// The id the next block gets (ids are never reused, even when every block was evicted).
    NextBlock,
}

impl Counter {
    pub(crate) fn key(self) -> &'static [u8] {
        match self {
            Counter::StoredBytes => b"stored_bytes",
            Counter::EvictedBlocks => b"evicted_blocks",
            Counter::EvictedRecords => b"evicted_records",
            Counter::EvictedBytes => b"evicted_bytes",
            Counter::NextBlock => b"next_block",
        }
    }
}

/// Reads a counter (0 when absent or unreadable).
pub(crate) fn get(tree: &sled::Tree, counter: Counter) -> sled::Result<u64> {
    Ok(tree.get(counter.key())?.and_then(|v| v.as_ref().try_into().ok()).map_or(0, u64::from_be_bytes))
}

/// The value bytes of a counter.
pub(crate) fn value(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

/// The id the next block gets (1 in a new store).
pub(crate) fn next_block(tree: &sled::Tree) -> sled::Result<super::BlockId> {
    Ok(super::BlockId(get(tree, Counter::NextBlock)?.max(1)))
}
