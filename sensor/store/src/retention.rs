//! Retention: telemetry blocks written longer ago than the age limit go, then, while the store is
//! over its disk budget, the oldest telemetry blocks by their records' time.
//!
//! Only kinds for which [`Kind::is_telemetry`] holds are evicted; alerts (later) and the sync
//! outbox (its own trees) never are. Evicting a block removes it, its filter and its `time`,
//! `hosts` and `domains` entries (found again by decoding the block) in one transaction, and adds
//! to the persisted eviction counters.

use crate::block::{Block, BlockHeader};
use crate::dict::Dictionaries;
use crate::record::{Decoded, Kind};
use crate::trees::meta::{self, Counter};
use crate::trees::{BlockId, DomainKey, HostKey, TimeEntry, TimeKey, bucket_of, domains};
use crate::{Store, StoreError};
use hashbrown::HashSet;
use sensor_wire::Timestamp;
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

/// Blocks, records and bytes evicted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Evicted {
    /// Blocks.
    pub blocks: u64,
    /// Records in them.
    pub records: u64,
    /// Bytes freed (blocks and index entries).
    pub bytes: u64,
}

impl Evicted {
    pub(crate) fn add(&mut self, other: &Evicted) {
        self.blocks += other.blocks;
        self.records += other.records;
        self.bytes += other.bytes;
    }
}

/// Evicts telemetry blocks written before `written_before` (the age limit), then the oldest
/// telemetry blocks (by their records' time) while more than `target` bytes are stored.
pub(crate) fn evict(
    store: &Store,
    dicts: &mut Dictionaries,
    target: u64,
    written_before: Timestamp,
) -> Result<Evicted, StoreError> {
    let mut evicted = Evicted::default();
    for (key, entry) in expired(store, written_before)? {
        evict_block(store, dicts, key, entry)?;
        evicted.add(&Evicted { blocks: 1, records: u64::from(entry.records), bytes: entry.bytes });
    }
    let mut stored = store.stored_bytes()?;
    while stored > target {
        let Some((key, entry)) = oldest(store)? else { break };
        evict_block(store, dicts, key, entry)?;
        stored = stored.saturating_sub(entry.bytes);
        evicted.add(&Evicted { blocks: 1, records: u64::from(entry.records), bytes: entry.bytes });
    }
    Ok(evicted)
}

/// Telemetry blocks written before `cutoff`. Block ids grow in write order, so the walk stops at
/// the first telemetry block written after it.
fn expired(store: &Store, cutoff: Timestamp) -> Result<Vec<(TimeKey, TimeEntry)>, StoreError> {
    let mut found = Vec::new();
    for item in store.trees.blocks.iter() {
        let (k, v) = item?;
        let Some(id) = k.as_ref().try_into().ok().map(u64::from_be_bytes).map(BlockId) else { continue };
        // A block whose header does not parse is left to the budget (its time entry says where).
        let Ok(header) = BlockHeader::parse(&v) else { continue };
        if !header.kind.is_telemetry() {
            continue;
        }
        if header.written >= cutoff {
            break;
        }
        let key = TimeKey { kind: header.kind, bucket: bucket_of(header.min_ts), block: id };
        let entry = store.trees.time.get(key.key())?.and_then(|e| TimeEntry::parse(&e));
        found.push((key, entry.unwrap_or(TimeEntry { records: header.count, bytes: v.len() as u64 })));
    }
    Ok(found)
}

/// The oldest telemetry block: lowest bucket, then lowest id.
fn oldest(store: &Store) -> Result<Option<(TimeKey, TimeEntry)>, StoreError> {
    let mut best: Option<(TimeKey, TimeEntry)> = None;
    for kind in Kind::ALL.into_iter().filter(|k| k.is_telemetry()) {
        let Some((k, v)) = store.trees.time.range(TimeKey::range(kind, 0, u64::MAX)).next().transpose()? else {
            continue;
        };
        let (Some(key), Some(entry)) = (TimeKey::parse(&k), TimeEntry::parse(&v)) else { continue };
        if best.is_none_or(|(b, _)| (key.bucket, key.block) < (b.bucket, b.block)) {
            best = Some((key, entry));
        }
    }
    Ok(best)
}

/// Removes one block and everything pointing at it.
fn evict_block(store: &Store, dicts: &mut Dictionaries, key: TimeKey, entry: TimeEntry) -> Result<(), StoreError> {
    let t = &store.trees;
    let (hosts, domains) = match t.blocks.get(key.block.key())? {
        Some(bytes) => index_keys(&bytes, dicts, key),
        // Already gone: only the time entry is left to remove.
        None => (Vec::new(), Vec::new()),
    };
    let time_key = key.key();
    (&t.blocks, &t.time, &t.hosts, &t.domains, &t.filters, &t.meta)
        .transaction(|(blocks, time, host_tree, domain_tree, filter_tree, meta_tree)| {
            blocks.remove(&key.block.key())?;
            time.remove(&time_key)?;
            for k in &hosts {
                host_tree.remove(k.as_slice())?;
            }
            for k in &domains {
                domain_tree.remove(k.as_slice())?;
            }
            filter_tree.remove(&key.block.key())?;
            let read = |c: Counter| -> Result<u64, ConflictableTransactionError<()>> {
                Ok(meta_tree.get(c.key())?.and_then(|v| v.as_ref().try_into().ok()).map_or(0, u64::from_be_bytes))
            };
            let stored = read(Counter::StoredBytes)?.saturating_sub(entry.bytes);
            let blocks_gone = read(Counter::EvictedBlocks)? + 1;
            let records_gone = read(Counter::EvictedRecords)? + u64::from(entry.records);
            let bytes_gone = read(Counter::EvictedBytes)? + entry.bytes;
            meta_tree.insert(Counter::StoredBytes.key(), &meta::value(stored))?;
            meta_tree.insert(Counter::EvictedBlocks.key(), &meta::value(blocks_gone))?;
            meta_tree.insert(Counter::EvictedRecords.key(), &meta::value(records_gone))?;
            meta_tree.insert(Counter::EvictedBytes.key(), &meta::value(bytes_gone))?;
            Ok(())
        })
        .map_err(|e| match e {
            sled::transaction::TransactionError::Storage(e) => StoreError::Sled(e),
            sled::transaction::TransactionError::Abort(()) => {
                StoreError::BadBlock { id: key.block, reason: "eviction aborted".into() }
            }
        })
}

/// The `hosts` and `domains` keys of a block, found by decoding it. A block that does not decode
/// leaves its entries behind; queries skip entries whose block is gone.
fn index_keys(bytes: &[u8], dicts: &mut Dictionaries, key: TimeKey) -> (Vec<[u8; 34]>, Vec<Vec<u8>>) {
    let Ok(block) = Block::open(bytes, dicts) else { return (Vec::new(), Vec::new()) };
    let (mut hosts, mut names) = (HashSet::new(), HashSet::new());
    for record in block.records().flatten() {
        let Ok(decoded) = Decoded::decode(key.kind, record) else { continue };
        let keys = decoded.keys();
        hosts.extend(keys.hosts.into_iter().flatten());
        if let Some(domain) = keys.query.and_then(domains::registered) {
            names.insert(domain.to_owned());
        }
    }
    let (kind, bucket, block) = (key.kind, key.bucket, key.block);
    let hosts = hosts.into_iter().map(|host| HostKey { host, kind, bucket, block }.key()).collect();
    let names = names.iter().map(|domain| DomainKey { domain, kind, bucket, block }.key()).collect();
    (hosts, names)
}
