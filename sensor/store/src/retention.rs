//! Retention: whole segments go, oldest first, while the store is over its disk budget or the
//! oldest segment was last written longer ago than the age limit.
//!
//! The newest registered segment is never evicted: it is the one being appended to, or the one
//! before a next segment whose first block is not committed yet. Retention runs on the syncer's
//! thread ([`crate::syncer`]) while the writer goes on. Only telemetry is stored in segments so
//! far; alerts (later) and the sync outbox (its own trees) will never be evicted by telemetry
//! pressure. Evicting a segment removes each of its blocks' `blocks`, `time`, `wide`, `hosts`,
//! `domains` and `filters` entries (the index keys are found again by reading the block) in
//! one transaction per block, removes the segment's entry, makes that durable, and only then
//! deletes the file, so that no index entry ever points into a deleted file.

use crate::block::{Block, BlockHeader};
use crate::dict::Dictionaries;
use crate::record::{Kind, Peek, dns_query_name};
use crate::segments::{self, Location};
use crate::trees::meta::{self, Counter};
use crate::trees::{BlockId, DomainKey, HostKey, TimeKey, bucket_of, domains};
use crate::{Store, StoreError};
use hashbrown::HashSet;
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;
use std::time::SystemTime;

/// Blocks, records and bytes evicted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Evicted {
    /// Blocks.
    pub blocks: u64,
    /// Records in them.
    pub records: u64,
    /// Bytes of blocks freed.
    pub bytes: u64,
}

impl Evicted {
    pub(crate) fn add(&mut self, other: &Evicted) {
        self.blocks += other.blocks;
        self.records += other.records;
        self.bytes += other.bytes;
    }
}

/// Evicts the oldest segments (never the newest) while the store takes more than `budget` bytes
/// on disk or the oldest was last written before `written_before`.
pub(crate) fn evict(
    store: &Store,
    dicts: &mut Dictionaries,
    budget: u64,
    written_before: SystemTime,
) -> Result<Evicted, StoreError> {
    let mut evicted = Evicted::default();
    loop {
        // The newest registered segment stays: it is the one being appended to, or the writer,
        // on its own thread, may be committing the first blocks of a next one not registered
        // yet; either way only a next entry says exactly where a segment's blocks end.
        let registered = registered(store)?;
        let [(number, first), (_, end), ..] = registered[..] else { break };
        let path = segments::path(&store.dir, number);
        let too_old = std::fs::metadata(&path).and_then(|m| m.modified()).is_ok_and(|t| t < written_before);
        if store.footprint()? <= budget && !too_old {
            break;
        }
        evicted.add(&evict_segment(store, dicts, number, first, end)?);
    }
    Ok(evicted)
}

/// Registered segments, oldest first: (number, first block).
fn registered(store: &Store) -> Result<Vec<(u64, BlockId)>, StoreError> {
    let mut found = Vec::new();
    for item in store.trees.segments.iter() {
        let (k, v) = item?;
        found.extend(segments::entry(&k, &v));
    }
    Ok(found)
}

/// Removes segment `number`, holding blocks `first..end`.
fn evict_segment(
    store: &Store,
    dicts: &mut Dictionaries,
    number: u64,
    first: BlockId,
    end: BlockId,
) -> Result<Evicted, StoreError> {
    let mut evicted = Evicted::default();
    for id in first.0..end.0 {
        let id = BlockId(id);
        let Some(at) = store.trees.blocks.get(id.key())?.and_then(|v| Location::parse(&v)) else { continue };
        let bytes = segments::read(&store.dir, at).unwrap_or_default();
        let header = BlockHeader::parse(&bytes).ok();
        let (hosts, domains) = match &header {
            Some(h) => index_keys(&bytes, dicts, h, id),
            None => (Vec::new(), Vec::new()),
        };
        let time_key = header.map(|h| TimeKey { kind: h.kind, bucket: bucket_of(h.min_ts), block: id }.key());
        let records = header.map_or(0, |h| u64::from(h.count));
        remove_block(store, id, at, time_key, &hosts, &domains, records)?;
        evicted.add(&Evicted { blocks: 1, records, bytes: u64::from(at.len) });
    }
    store.trees.segments.remove(number.to_be_bytes())?;
    store.db.flush()?;
    let path = segments::path(&store.dir, number);
    std::fs::remove_file(&path).map_err(|source| StoreError::Io { path, source })?;
    Ok(evicted)
}

/// Removes one block's entries and counts it, in one transaction.
fn remove_block(
    store: &Store,
    id: BlockId,
    at: Location,
    time_key: Option<[u8; 17]>,
    hosts: &[[u8; 34]],
    domains: &[Vec<u8>],
    records: u64,
) -> Result<(), StoreError> {
    let t = &store.trees;
    (&t.blocks, &t.time, &t.hosts, &t.domains, &t.filters, &t.meta, &t.wide)
        .transaction(|(blocks, time, host_tree, domain_tree, filter_tree, meta_tree, wide_tree)| {
            blocks.remove(&id.key())?;
            if let Some(k) = &time_key {
                time.remove(k)?;
                wide_tree.remove(k)?;
            }
            for k in hosts {
                host_tree.remove(k.as_slice())?;
            }
            for k in domains {
                domain_tree.remove(k.as_slice())?;
            }
            filter_tree.remove(&id.key())?;
            let read = |c: Counter| -> Result<u64, ConflictableTransactionError<()>> {
                Ok(meta_tree.get(c.key())?.and_then(|v| v.as_ref().try_into().ok()).map_or(0, u64::from_be_bytes))
            };
            let stored = read(Counter::StoredBytes)?.saturating_sub(u64::from(at.len));
            let blocks_gone = read(Counter::EvictedBlocks)? + 1;
            let records_gone = read(Counter::EvictedRecords)? + records;
            let bytes_gone = read(Counter::EvictedBytes)? + u64::from(at.len);
            meta_tree.insert(Counter::StoredBytes.key(), &meta::value(stored))?;
            meta_tree.insert(Counter::EvictedBlocks.key(), &meta::value(blocks_gone))?;
            meta_tree.insert(Counter::EvictedRecords.key(), &meta::value(records_gone))?;
            meta_tree.insert(Counter::EvictedBytes.key(), &meta::value(bytes_gone))?;
            Ok(())
        })
        .map_err(|e| match e {
            sled::transaction::TransactionError::Storage(e) => StoreError::Sled(e),
            sled::transaction::TransactionError::Abort(()) => {
                StoreError::BadBlock { id, reason: "eviction aborted".into() }
            }
        })
}

/// The `hosts` and `domains` keys of a block, found by decoding it. A block that does not decode
/// leaves its entries behind; queries skip entries whose block is gone.
fn index_keys(
    bytes: &[u8],
    dicts: &mut Dictionaries,
    header: &BlockHeader,
    block: BlockId,
) -> (Vec<[u8; 34]>, Vec<Vec<u8>>) {
    let Ok(decoded_block) = Block::open(bytes, dicts) else { return (Vec::new(), Vec::new()) };
    let (mut hosts, mut names) = (HashSet::new(), HashSet::new());
    // What a record is indexed by, read as queries read it: its first fields, and a DNS
    // record's name without its answers.
    for record in decoded_block.records().flatten() {
        let Ok(peek) = Peek::read(header.kind, record) else { continue };
        hosts.extend(peek.hosts.into_iter().flatten());
        if header.kind == Kind::Dns
            && let Ok(Some(name)) = dns_query_name(record)
            && let Some(domain) = domains::registered(&name)
        {
            names.insert(domain.to_owned());
        }
    }
    let (kind, bucket) = (header.kind, bucket_of(header.min_ts));
    let hosts = hosts.into_iter().map(|host| HostKey { host, kind, bucket, block }.key()).collect();
    let names = names.iter().map(|domain| DomainKey { domain, kind, bucket, block }.key()).collect();
    (hosts, names)
}

#[cfg(test)]
mod tests {
    use crate::{Store, StoreConfig, Writer};
    use sensor_analyzers::dns::DnsRecord;
    use sensor_output::{ConnId, DnsRecordLine};
    use sensor_wire::Timestamp;
    use std::borrow::Cow;

    #[test]
    fn eviction_removes_every_index_entry_of_its_blocks() {
        let dir = tempfile::tempdir().unwrap();
        // One segment per block; a budget of one byte keeps only the segment being written to.
        let cfg = StoreConfig { disk_budget: 1, segment_bytes: 1, min_free_bytes: 0, ..StoreConfig::default() };
        let store = Store::open(dir.path(), &cfg).unwrap();
        let mut w = Writer::new(store.clone(), &cfg).unwrap();
        for (i, name) in [(1u8, "a.example.com"), (2, "b.example.org"), (3, r"\x8a\x01.example.net")] {
            let id = ConnId { orig_h: [10, 0, 0, i].into(), orig_p: 5000, resp_h: [192, 0, 2, 53].into(), resp_p: 53 };
            let mut rec = DnsRecord::new(Timestamp(1_700_000_000_000_000_000 + u64::from(i) * 60_000_000_000), 1);
            rec.set_query(Some(name));
            w.append(&DnsRecordLine { uid: "Cdns", id, proto: "udp", rec: Cow::Owned(rec) }).unwrap();
            w.flush();
        }
        assert_eq!(w.write_stats().evicted.blocks, 2);
        // What is left is the last block's: its two hosts and its registered domain.
        assert_eq!(store.trees.hosts.len(), 2);
        assert_eq!(store.trees.domains.len(), 1);
        assert_eq!(store.trees.blocks.len(), 1);
    }
}
