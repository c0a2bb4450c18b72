//! The writer: batches records into blocks and commits them with their index entries.
//!
//! Each record goes to the open block of its kind and time bucket. A block is sealed (sorted,
//! compressed, committed in one sled transaction with its `time`, `hosts`, `domains` and
//! `filters` entries) when it reaches [`StoreConfig::block_records`] or
//! [`StoreConfig::block_bytes`], and every open block is sealed at each flush, which then makes
//! sled durable and moves the checkpoint. So every record flushed is in exactly one committed
//! block, and a record not yet flushed is either in none (lost with the process) or, if its block
//! was sealed early, in one.
//!
//! Disk trouble never stops the sensor: before committing, free space is checked; below
//! [`StoreConfig::min_free_bytes`] retention evicts old telemetry, and if that is not enough the
//! block is dropped, counted in [`WriteStats`], and [`Health`] says why.

use crate::block::BlockBuilder;
use crate::dict::Dictionaries;
use crate::record::{Kind, Record};
use crate::retention::{self, Evicted};
use crate::trees::meta::{self, Counter};
use crate::trees::{self, BlockId, DomainKey, HostKey, TimeEntry, TimeKey, bucket_of, filters};
use crate::{Store, StoreConfig, StoreError};
use core::net::IpAddr;
use hashbrown::{HashMap, HashSet};
use sensor_output::{ConnRecord, DnsRecordLine, OutputError, OutputStats, RecordSink, WeirdRecord};
use sensor_wire::Timestamp;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use std::time::Instant;

/// Open blocks at most (kinds × buckets in flight); past it the fullest is sealed early. Conn
/// records of long flows land in old buckets, so a few buckets per kind are normal.
const MAX_OPEN_BLOCKS: usize = 64;

/// Whether the store is writing normally.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Health {
    /// Writing normally.
    #[default]
    Ok,
    /// Free space stayed below the reserve after eviction: new telemetry is being dropped.
    DiskFull,
    /// Writing failed; the last error.
    WriteFailed(String),
}

/// What the writer did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Records accepted, by kind (in [`Kind::ALL`] order).
    pub records: [u64; Kind::ALL.len()],
    /// Blocks committed.
    pub blocks: u64,
    /// Bytes committed (blocks and index entries).
    pub bytes: u64,
    /// Records dropped because the disk was full or writing failed.
    pub dropped_records: u64,
    /// Flushes done.
    pub flushes: u64,
    /// Evicted by retention since the writer started.
    pub evicted: Evicted,
    /// Current health.
    pub health: Health,
}

/// A block being filled, with what its index entries will be.
#[derive(Default)]
struct OpenBlock {
    builder: BlockBuilder,
    hosts: HashSet<IpAddr>,
    /// Registered domains, each once.
    domains: Vec<String>,
    domain_seen: HashSet<u64>,
    filter_keys: Vec<u64>,
}

impl OpenBlock {
    fn clear(&mut self) {
        self.hosts.clear();
        self.domains.clear();
        self.domain_seen.clear();
        self.filter_keys.clear();
    }

    /// Notes what `rec` is found by.
    fn index<R: Record>(&mut self, rec: &R) {
        let keys = rec.keys();
        for host in keys.hosts.into_iter().flatten() {
            self.hosts.insert(host);
        }
        if let Some(uid) = keys.uid {
            self.filter_keys.push(filters::hash(filters::Tag::Uid, uid));
        }
        if let Some(id) = keys.community_id {
            self.filter_keys.push(filters::hash(filters::Tag::CommunityId, id));
        }
        if let Some(query) = keys.query {
            let Some(domain) = trees::domains::registered(query) else { return };
            // The name and every parent down to its registered domain, so that a lookup of any
            // of them can trust the filter.
            let mut name = query.strip_suffix('.').unwrap_or(query);
            loop {
                self.filter_keys.push(filters::hash(filters::Tag::Name, name));
                match name.split_once('.') {
                    Some((_, parent)) if name.len() > domain.len() => name = parent,
                    _ => break,
                }
            }
            if self.domain_seen.insert(xxhash_rust::xxh3::xxh3_64(domain.as_bytes())) {
                self.domains.push(domain.to_owned());
            }
        }
    }
}

/// Writes records into a [`Store`]. One per store (sled allows one writing process).
pub struct Writer {
    store: Store,
    cfg: StoreConfig,
    dicts: Dictionaries,
    open: HashMap<(Kind, u64), OpenBlock>,
    spare: Vec<OpenBlock>,
    next_id: BlockId,
    last_flush: Instant,
    stats: WriteStats,
    block_buf: Vec<u8>,
}

impl Writer {
    /// A writer for `store`.
    pub fn new(store: Store, cfg: &StoreConfig) -> Result<Writer, StoreError> {
        let next_id = meta::next_block(&store.trees.meta)?;
        Ok(Writer {
            dicts: Dictionaries::new(cfg.compression_level),
            store,
            cfg: cfg.clone(),
            open: HashMap::new(),
            spare: Vec::new(),
            next_id,
            last_flush: Instant::now(),
            stats: WriteStats::default(),
            block_buf: Vec::new(),
        })
    }

    /// The store written to.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// What the writer did so far.
    pub fn write_stats(&self) -> &WriteStats {
        &self.stats
    }

    /// Adds a record. It is durable after the next [`Writer::flush`].
    pub fn append<R: Record>(&mut self, rec: &R) -> Result<(), StoreError> {
        let ts = rec.ts();
        let slot = (R::KIND, bucket_of(ts));
        if !self.open.contains_key(&slot) && self.open.len() >= MAX_OPEN_BLOCKS {
            self.seal_fullest()?;
        }
        let spare = &mut self.spare;
        let open = self.open.entry(slot).or_insert_with(|| spare.pop().unwrap_or_default());
        let buffer = core::mem::take(open.builder.buffer());
        let start = buffer.len();
        *open.builder.buffer() = postcard::to_extend(rec, buffer).map_err(StoreError::Encode)?;
        open.builder.push(ts, start);
        open.index(rec);
        self.stats.records[R::KIND.index()] += 1;
        if open.builder.len() >= self.cfg.block_records || open.builder.raw_len() >= self.cfg.block_bytes {
            self.seal(slot)?;
        }
        Ok(())
    }

    /// Flushes when the flush interval has passed since the last flush.
    pub fn tick(&mut self, now: Instant) -> Result<(), StoreError> {
        if now.duration_since(self.last_flush) >= self.cfg.flush_interval {
            self.flush()?;
        }
        Ok(())
    }

    /// Seals every open block, makes the store durable, and applies retention.
    pub fn flush(&mut self) -> Result<(), StoreError> {
        let slots: Vec<_> = self.open.keys().copied().collect();
        for slot in slots {
            self.seal(slot)?;
        }
        match self.store.db.flush() {
            Ok(_) => self.store.write_checkpoint(self.next_id)?,
            Err(e) => self.stats.health = Health::WriteFailed(e.to_string()),
        }
        self.stats.flushes += 1;
        self.last_flush = Instant::now();
        self.enforce_budget()
    }

    /// Evicts what the disk budget and the age limit say must go.
    fn enforce_budget(&mut self) -> Result<(), StoreError> {
        let stored = self.store.stored_bytes()?;
        // sled's files are larger than what it holds (log segments, fragmentation): scale the
        // budget by the ratio seen now, so that the files, not just the data, stay within it.
        let on_disk = self.store.size_on_disk()?.max(stored).max(1);
        let allowed = (u128::from(self.cfg.disk_budget) * u128::from(stored.max(1)) / u128::from(on_disk)) as u64;
        let cutoff = Timestamp(wall_clock().0.saturating_sub(self.cfg.max_age.as_nanos() as u64));
        let evicted = retention::evict(&self.store, &mut self.dicts, allowed, cutoff)?;
        self.stats.evicted.add(&evicted);
        Ok(())
    }

    fn seal_fullest(&mut self) -> Result<(), StoreError> {
        let fullest = self.open.iter().max_by_key(|(_, b)| b.builder.len()).map(|(slot, _)| *slot);
        match fullest {
            Some(slot) => self.seal(slot),
            None => Ok(()),
        }
    }

    /// Compresses the open block of `slot` and commits it with its index entries.
    fn seal(&mut self, slot: (Kind, u64)) -> Result<(), StoreError> {
        let Some(mut open) = self.open.remove(&slot) else { return Ok(()) };
        let (kind, bucket) = slot;
        let records = open.builder.len() as u64;
        let result = if open.builder.is_empty() {
            Ok(())
        } else {
            open.builder.seal(kind, wall_clock(), &mut self.dicts, &mut self.block_buf)?;
            self.commit(kind, bucket, &mut open, records)
        };
        open.clear();
        self.spare.push(open);
        result
    }

    fn commit(&mut self, kind: Kind, bucket: u64, open: &mut OpenBlock, records: u64) -> Result<(), StoreError> {
        let id = self.next_id;
        let filter = filters::build(&mut open.filter_keys);
        let hosts: Vec<[u8; 34]> =
            open.hosts.iter().map(|&host| HostKey { host, kind, bucket, block: id }.key()).collect();
        let domains: Vec<Vec<u8>> =
            open.domains.iter().map(|domain| DomainKey { domain, kind, bucket, block: id }.key()).collect();
        let time_key = TimeKey { kind, bucket, block: id }.key();
        let bytes = (self.block_buf.len()
            + filter.as_ref().map_or(0, |f| f.len() + 8)
            + hosts.iter().map(|k| k.len()).sum::<usize>()
            + domains.iter().map(|k| k.len()).sum::<usize>()
            + time_key.len()
            + 20) as u64;
        let entry = TimeEntry { records: records as u32, bytes };
        if !self.room_for(bytes)? {
            self.stats.dropped_records += records;
            return Ok(());
        }
        let t = &self.store.trees;
        let block = self.block_buf.as_slice();
        let result = (&t.blocks, &t.time, &t.hosts, &t.domains, &t.filters, &t.meta).transaction(
            |(blocks, time, host_tree, domain_tree, filter_tree, meta_tree)| {
                blocks.insert(&id.key(), block)?;
                time.insert(&time_key, &entry.value())?;
                for key in &hosts {
                    host_tree.insert(key.as_slice(), &[])?;
                }
                for key in &domains {
                    domain_tree.insert(key.as_slice(), &[])?;
                }
                if let Some(f) = &filter {
                    filter_tree.insert(&id.key(), f.as_slice())?;
                }
                let stored = meta_tree.get(Counter::StoredBytes.key())?;
                let stored = stored.and_then(|v| v.as_ref().try_into().ok()).map_or(0, u64::from_be_bytes);
                meta_tree.insert(Counter::StoredBytes.key(), &meta::value(stored + bytes))?;
                meta_tree.insert(Counter::NextBlock.key(), &meta::value(id.0 + 1))?;
                Ok::<(), ConflictableTransactionError<()>>(())
            },
        );
        match result {
            Ok(()) => {
                self.next_id = BlockId(id.0 + 1);
                self.stats.blocks += 1;
                self.stats.bytes += bytes;
                if self.stats.health != Health::DiskFull {
                    self.stats.health = Health::Ok;
                }
            }
            Err(TransactionError::Storage(e)) => {
                self.stats.dropped_records += records;
                self.stats.health = Health::WriteFailed(e.to_string());
            }
            Err(TransactionError::Abort(())) => {}
        }
        Ok(())
    }

    /// Whether `bytes` more fit on the filesystem above the reserve, evicting old telemetry to
    /// make room if needed.
    fn room_for(&mut self, bytes: u64) -> Result<bool, StoreError> {
        let free = match free_bytes(&self.store.dir) {
            Some(free) => free,
            None => return Ok(true),
        };
        let needed = self.cfg.min_free_bytes.saturating_add(bytes);
        if free >= needed {
            if self.stats.health == Health::DiskFull {
                self.stats.health = Health::Ok;
            }
            return Ok(true);
        }
        // Evict a tenth of what is stored (at least what is missing), oldest first; sled reuses
        // the space its freed pages leave.
        let stored = self.store.stored_bytes()?;
        let shortfall = needed - free;
        let target = stored.saturating_sub(shortfall.max(stored / 10));
        let evicted = retention::evict(&self.store, &mut self.dicts, target, Timestamp(0))?;
        self.stats.evicted.add(&evicted);
        let room = free_bytes(&self.store.dir).is_none_or(|free| free >= needed);
        self.stats.health = if room { Health::Ok } else { Health::DiskFull };
        Ok(room)
    }
}

/// Now, as a [`Timestamp`].
fn wall_clock() -> Timestamp {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Timestamp(since.as_nanos() as u64)
}

/// Free bytes of the filesystem holding `dir`, for an unprivileged writer.
fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    let st = nix::sys::statvfs::statvfs(dir).ok()?;
    Some((st.blocks_available() as u64).saturating_mul(st.fragment_size() as u64))
}

impl Drop for Writer {
    /// Flushes what is buffered, so that a writer dropped on the way out (an error elsewhere,
    /// a normal end) loses nothing it was given.
    fn drop(&mut self) {
        // Nothing to report the error to; the records of a failed flush are counted as dropped.
        let _ = self.flush();
    }
}

/// Store errors as the pipeline's output errors.
fn output_error(e: StoreError) -> OutputError {
    OutputError::Store(Box::new(e))
}

impl RecordSink for Writer {
    fn conn(&mut self, rec: &ConnRecord<'_>) -> Result<(), OutputError> {
        self.append(rec).map_err(output_error)
    }

    fn dns(&mut self, rec: &DnsRecordLine<'_>) -> Result<(), OutputError> {
        self.append(rec).map_err(output_error)
    }

    fn weird(&mut self, rec: &WeirdRecord<'_>) -> Result<(), OutputError> {
        self.append(rec).map_err(output_error)
    }

    fn flush(&mut self) -> Result<(), OutputError> {
        Writer::flush(self).map_err(output_error)
    }

    fn tick(&mut self, now: Instant) -> Result<(), OutputError> {
        Writer::tick(self, now).map_err(output_error)
    }

    fn stats(&self) -> OutputStats {
        let r = &self.stats.records;
        OutputStats { conn: r[Kind::Conn.index()], dns: r[Kind::Dns.index()], weird: r[Kind::Weird.index()] }
    }
}
