//! The writer: batches records into blocks and commits them with their index entries.
//!
//! Each record goes to the open block of its kind and time bucket. A block is sealed (sorted,
//! compressed, appended to the current segment file, and committed in one sled transaction with
//! its location and its `time`, `wide`, `hosts`, `domains` and `filters` entries) when it
//! reaches [`StoreConfig::block_records`] or [`StoreConfig::block_bytes`], and every open block
//! is sealed at each flush, which then has the syncer ([`crate::syncer`]) sync the segment, make
//! sled durable and move the checkpoint, on its own thread. So every record flushed and synced is
//! in exactly one committed block, and a record not yet synced is either in none (lost with the
//! process) or, if its block made it to disk anyway, in one.
//!
//! Disk trouble never stops the sensor. The disk budget shrinks to what the filesystem holds with
//! [`StoreConfig::min_free_bytes`] to spare, so retention keeps that reserve free; if free space
//! still falls below half the reserve (another program filled the disk), blocks are dropped
//! instead of written, counted in [`WriteStats`], and [`Health`] says why.

use crate::block::{BlockBuilder, BlockHeader};
use crate::dict::Dictionaries;
use crate::record::{Kind, Record};
use crate::retention::Evicted;
use crate::segments::{self, Active};
use crate::syncer::Syncer;
use crate::trees::meta::{self, Counter};
use crate::trees::{self, BlockId, DomainKey, HostKey, Span, TimeKey, alerts, bucket_of, filters, wide};
use crate::{Store, StoreConfig, StoreError};
use core::net::IpAddr;
use hashbrown::{HashMap, HashSet};
use sensor_output::{
    Alert, ConnRecord, DnsRecordLine, EvidenceRecord, OutputError, OutputStats, RecordSink, WeirdRecord,
};
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

impl Health {
    /// The health an error leaves the store in.
    fn of(e: &StoreError) -> Health {
        let full = match e {
            StoreError::Sled(sled::Error::Io(io)) | StoreError::Io { source: io, .. } => {
                io.kind() == std::io::ErrorKind::StorageFull
            }
            _ => false,
        };
        if full { Health::DiskFull } else { Health::WriteFailed(chain(e)) }
    }
}

/// An error with its sources, as one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
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
            self.filter_keys.push(filters::host(host));
            if self.hosts.len() <= wide::MAX_HOSTS {
                self.hosts.insert(host);
            }
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
            if self.domains.len() <= wide::MAX_DOMAINS
                && self.domain_seen.insert(xxhash_rust::xxh3::xxh3_64(domain.as_bytes()))
            {
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
    /// The segment blocks are appended to.
    active: Option<Active>,
    /// Whether `active` is in the `segments` tree yet (it is once a block in it is committed).
    registered: bool,
    /// Makes flushes durable off this thread.
    syncer: Syncer,
}

impl Writer {
    /// A writer for `store`.
    pub fn new(store: Store, cfg: &StoreConfig) -> Result<Writer, StoreError> {
        let next_id = meta::next_block(&store.trees.meta)?;
        Ok(Writer {
            syncer: Syncer::start(store.clone(), cfg)?,
            dicts: Dictionaries::new(cfg.compression_level),
            store,
            cfg: cfg.clone(),
            open: HashMap::new(),
            spare: Vec::new(),
            next_id,
            last_flush: Instant::now(),
            stats: WriteStats::default(),
            block_buf: Vec::new(),
            active: None,
            registered: false,
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

    /// Adds a record. It is durable after the next [`Writer::flush`]. Only a record that cannot
    /// be serialised is an error; trouble writing is counted ([`WriteStats`], [`Health`]).
    pub fn append<R: Record>(&mut self, rec: &R) -> Result<(), StoreError> {
        let ts = rec.ts();
        let slot = (R::KIND, bucket_of(ts));
        if !self.open.contains_key(&slot) && self.open.len() >= MAX_OPEN_BLOCKS {
            self.seal_fullest();
        }
        let spare = &mut self.spare;
        let open = self.open.entry(slot).or_insert_with(|| spare.pop().unwrap_or_default());
        open.builder.add(ts, rec).map_err(StoreError::Encode)?;
        open.index(rec);
        self.stats.records[R::KIND.index()] += 1;
        if open.builder.len() >= self.cfg.block_records || open.builder.raw_len() >= self.cfg.block_bytes {
            self.seal(slot);
        }
        Ok(())
    }

    /// Flushes when the flush interval has passed since the last flush, without waiting for the
    /// disk: the syncer makes the flush durable on its own thread ([`crate::syncer`]).
    pub fn tick(&mut self, now: Instant) {
        if now.duration_since(self.last_flush) >= self.cfg.flush_interval {
            self.start_flush();
        }
    }

    /// Seals every open block and returns once everything appended before is durable and
    /// retention has run. A failure is not returned: its records are counted as dropped and [`Health`]
    /// says what went wrong, so that the sensor keeps capturing.
    pub fn flush(&mut self) {
        let serial = self.start_flush();
        self.syncer.wait(serial);
        self.take_sync_results();
    }

    /// Seals every open block and asks the syncer to make them durable and apply retention;
    /// returns the request.
    fn start_flush(&mut self) -> u64 {
        let slots: Vec<_> = self.open.keys().copied().collect();
        for slot in slots {
            self.seal(slot);
        }
        self.take_sync_results();
        let dir = self.store.dir.clone();
        let segment = match self.active.as_mut().map(|a| a.unsynced(&dir)).transpose() {
            Ok(segment) => segment.flatten(),
            Err(e) => {
                self.stats.health = Health::of(&e);
                None
            }
        };
        let serial = self.syncer.request(segment, self.next_id);
        self.stats.flushes += 1;
        self.last_flush = Instant::now();
        serial
    }

    /// Takes up what the syncer did since the last call: evictions, and a failure in [`Health`].
    fn take_sync_results(&mut self) {
        let (evicted, failure) = self.syncer.results();
        self.stats.evicted.add(&evicted);
        if let Some(e) = failure {
            self.stats.health = Health::of(&e);
        }
    }

    fn seal_fullest(&mut self) {
        let fullest = self.open.iter().max_by_key(|(_, b)| b.builder.len()).map(|(slot, _)| *slot);
        if let Some(slot) = fullest {
            self.seal(slot);
        }
    }

    /// Compresses the open block of `slot` and commits it with its index entries; on failure
    /// its records are counted as dropped.
    fn seal(&mut self, slot: (Kind, u64)) {
        let Some(mut open) = self.open.remove(&slot) else { return };
        let (kind, bucket) = slot;
        let records = open.builder.len() as u64;
        if !open.builder.is_empty() {
            let sealed = open.builder.seal(kind, Timestamp::now(), &mut self.dicts, &mut self.block_buf);
            let span = |h: BlockHeader| Span { min: h.min_ts, max: h.max_ts };
            if let Err(e) = sealed.and_then(|h| self.commit(kind, bucket, span(h), &mut open, records)) {
                self.stats.dropped_records += records;
                self.stats.health = Health::of(&e);
            }
        }
        open.clear();
        self.spare.push(open);
    }

    fn commit(
        &mut self,
        kind: Kind,
        bucket: u64,
        span: Span,
        open: &mut OpenBlock,
        records: u64,
    ) -> Result<(), StoreError> {
        let id = self.next_id;
        let filter = filters::build(&mut open.filter_keys);
        // Past the limits a block is indexed as wide instead ([`wide`]).
        let wide_hosts = open.hosts.len() > wide::MAX_HOSTS;
        let wide_domains = open.domains.len() > wide::MAX_DOMAINS;
        let hosts: Vec<[u8; 34]> = match wide_hosts {
            true => Vec::new(),
            false => open.hosts.iter().map(|&host| HostKey { host, kind, bucket, block: id }.key()).collect(),
        };
        let domains: Vec<Vec<u8>> = match wide_domains {
            true => Vec::new(),
            false => open.domains.iter().map(|domain| DomainKey { domain, kind, bucket, block: id }.key()).collect(),
        };
        let wide_bits = if wide_hosts { wide::HOSTS } else { 0 } | if wide_domains { wide::DOMAINS } else { 0 };
        let time_key = TimeKey { kind, bucket, block: id }.key();
        let bytes = self.block_buf.len() as u64;
        if !self.room_for(bytes) {
            self.stats.dropped_records += records;
            return Ok(());
        }
        let new_segment = self.segment_for(bytes)?;
        let dir = self.store.dir.clone();
        let Some(active) = self.active.as_mut() else { unreachable!("segment_for opened a segment") };
        let at = active.append(&dir, &self.block_buf)?;
        let t = &self.store.trees;
        let result = (&t.blocks, &t.time, &t.hosts, &t.domains, &t.filters, &t.meta, &t.segments, &t.wide).transaction(
            |(blocks, time, host_tree, domain_tree, filter_tree, meta_tree, segment_tree, wide_tree)| {
                blocks.insert(&id.key(), &at.value())?;
                time.insert(&time_key, &span.value())?;
                if wide_bits != 0 {
                    wide_tree.insert(&time_key, &[wide_bits])?;
                }
                for key in &hosts {
                    host_tree.insert(key.as_slice(), &[])?;
                }
                for key in &domains {
                    domain_tree.insert(key.as_slice(), &[])?;
                }
                if let Some(f) = &filter {
                    filter_tree.insert(&id.key(), f.as_slice())?;
                }
                if new_segment {
                    segment_tree.insert(&at.segment.to_be_bytes(), &id.key())?;
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
                self.registered = true;
                self.stats.blocks += 1;
                self.stats.bytes += bytes;
                if self.stats.health != Health::DiskFull {
                    self.stats.health = Health::Ok;
                }
                Ok(())
            }
            Err(TransactionError::Storage(e)) => Err(e.into()),
            Err(TransactionError::Abort(())) => Ok(()),
        }
    }

    /// Makes sure a segment with room is open; returns whether it still has to be registered
    /// (its first block is the one about to be committed).
    fn segment_for(&mut self, bytes: u64) -> Result<bool, StoreError> {
        let full = self.active.as_ref().is_none_or(|a| a.len > 0 && a.len + bytes > self.cfg.segment_bytes);
        if full {
            let number = match &self.active {
                Some(a) => a.number + 1,
                None => segments::last(&self.store)?.map_or(1, |n| n + 1),
            };
            if let Some(mut old) = self.active.take() {
                // Its last blocks are committed: the syncer makes them durable with the next
                // checkpoint, as at a flush.
                self.syncer.request(old.unsynced(&self.store.dir)?, self.next_id);
            }
            self.active = Some(Active::open(&self.store.dir, number)?);
            self.registered = false;
        }
        Ok(!self.registered)
    }

    /// Whether `bytes` more may be written: not when free space is below half the reserve. The
    /// block is then dropped rather than written, because sled stops for good (until restart) at
    /// its first failed write; the budget, shrunk at the next flush, makes room again.
    fn room_for(&mut self, bytes: u64) -> bool {
        let floor = self.cfg.min_free_bytes / 2;
        let room = self.store.disk_free().is_none_or(|free| free >= floor.saturating_add(bytes));
        if room && self.stats.health == Health::DiskFull {
            self.stats.health = Health::Ok;
        } else if !room {
            self.stats.health = Health::DiskFull;
        }
        room
    }
}

impl Writer {
    /// Stores an alert in the `alerts` tree and makes it durable before returning: alerts do
    /// not wait for the flush interval.
    pub fn store_alert(&mut self, alert: &Alert) -> Result<(), StoreError> {
        let json = serde_json::to_vec(alert).map_err(|e| StoreError::BadAlert(e.to_string()))?;
        self.store.trees.alerts.insert(alerts::key(alert.ts, &alert.id), json)?;
        self.store.trees.alerts.flush()?;
        self.stats.records[Kind::Alert.index()] += 1;
        Ok(())
    }
}

impl Drop for Writer {
    /// Flushes what is buffered, so that a writer dropped on the way out (an error elsewhere,
    /// a normal end) loses nothing it was given.
    fn drop(&mut self) {
        self.flush();
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

    fn evidence(&mut self, rec: &EvidenceRecord<'_>) -> Result<(), OutputError> {
        self.append(rec).map_err(output_error)
    }

    fn keeps_evidence(&self) -> bool {
        true
    }

    fn alert(&mut self, alert: &Alert) -> Result<(), OutputError> {
        self.store_alert(alert).map_err(output_error)
    }

    fn flush(&mut self) -> Result<(), OutputError> {
        Writer::flush(self);
        Ok(())
    }

    fn tick(&mut self, now: Instant) -> Result<(), OutputError> {
        Writer::tick(self, now);
        Ok(())
    }

    fn stats(&self) -> OutputStats {
        let r = &self.stats.records;
        OutputStats {
            conn: r[Kind::Conn.index()],
            dns: r[Kind::Dns.index()],
            weird: r[Kind::Weird.index()],
            alert: r[Kind::Alert.index()],
        }
    }
}
