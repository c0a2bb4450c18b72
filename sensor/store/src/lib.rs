//! The telemetry store: the sensor's records on its own disk, compressed, bounded, queryable.
//!
//! Records (conn, dns, weird; alerts and app-layer records later) are not stored one sled key
//! each: a [`Writer`] batches them per [`Kind`] and one-minute time bucket into blocks, sorts
//! each block by time, compresses it with zstd (with a dictionary per kind, [`dict`]), appends it
//! to a segment file, and commits its location and index entries in one sled transaction. Every
//! [`StoreConfig::flush_interval`] (default 1 s) the writer seals its open blocks and a thread of
//! its own makes them durable, so that capture never waits on the disk; a record is durable
//! once that sync is done, or once an explicit [`Writer::flush`] returns.
//!
//! | file | what it holds |
//! |---|---|
//! | `lib.rs` | [`Store`]: opening, the format marker and checkpoint, [`StoreConfig`], errors |
//! | `record.rs` | [`Kind`], the [`Record`] trait a stored type implements, [`Keys`], [`Decoded`] |
//! | `block.rs` | the block format: header, payload, zstd frame |
//! | `dict.rs` | the shipped zstd dictionaries |
//! | `segments.rs` | the segment files holding the blocks' bytes |
//! | `trees/` | one module per sled tree with its typed keys (`blocks`, `time`, `hosts`, `domains`, `filters`, `meta`) |
//! | `writer.rs` | [`Writer`]: batching, sealing, flushing, disk-space checks; also a `RecordSink` |
//! | `syncer.rs` | the thread that makes flushes durable (`fsync`s, sled's flush, the checkpoint) |
//! | `retention.rs` | eviction of whole segments by disk budget and age, oldest first |
//! | `query.rs` | [`Query`] and its streaming result |
//!
//! On disk (docs/store.md has the byte layouts): a directory holding `FORMAT` (`sensor-store
//! <version>`), `CHECKPOINT` (the blocks known durable), the segment files in `segments/` and
//! sled's own files in `sled/`. The
//! format has a version number; opening a store of a newer version is refused, and a store of an
//! older version is migrated forward at open, a step per version ([`MIGRATIONS`]).
//!
//! sled allows one process per database: a query while a sensor writes goes through that
//! sensor's control socket (the `sensor` binary), not through a second [`Store::open`].

#![forbid(unsafe_code)]

mod block;
pub mod dict;
mod query;
mod record;
mod retention;
mod segments;
mod syncer;
pub mod trees;
mod writer;

pub use block::BlockHeader;
pub use query::{Hit, Order, Query, QueryResults};
pub use record::{Decoded, Keys, Kind, Record};
pub use retention::Evicted;
pub use trees::{BUCKET_NANOS, BlockId};
pub use writer::{Health, WriteStats, Writer};

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The on-disk format this build writes.
pub const FORMAT_VERSION: u32 = 2;
/// A migration step: rewrites what changed in the store in `dir` from one version to the next.
type Migration = fn(&Path) -> Result<(), StoreError>;
/// The step from each older version to the next: `MIGRATIONS[v - 1]` brings a store of version
/// `v` to `v + 1`, then `FORMAT` is rewritten. Steps are never removed.
const MIGRATIONS: [Migration; FORMAT_VERSION as usize - 1] = [
    // 1 → 2: DNS text may be packed (`\xNN` as its byte). Version 2 reads version 1's plain
    // strings as they are, so nothing is rewritten; the bump keeps older sensors from opening
    // blocks they would misread.
    |_| Ok(()),
];
/// Name of the format marker file.
const FORMAT_FILE: &str = "FORMAT";
/// Name of the checkpoint file: the next block id after the last durable flush.
const CHECKPOINT_FILE: &str = "CHECKPOINT";
/// Directory of sled's files inside the store.
const SLED_DIR: &str = "sled";

/// Errors of the store. Messages name the directory, block or file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The directory holds something else.
    #[error(
        "{0}: not a sensor store (the directory is not empty and has no {FORMAT_FILE} file); refusing to write into it"
    )]
    NotAStore(PathBuf),
    /// A store written by a newer sensor.
    #[error("{path}: store format version {found}, newer than this sensor's {FORMAT_VERSION}; upgrade the sensor")]
    NewerFormat {
        /// The store.
        path: PathBuf,
        /// Its version.
        found: u32,
    },
    /// Another process has the store open.
    #[error("{0}: the store is in use by another process (query a running sensor through its control socket)")]
    InUse(PathBuf),
    /// The store is damaged.
    #[error("{path}: store damaged: {reason}")]
    Corrupt {
        /// The store or the file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A block cannot be read.
    #[error("block {id:?}: {reason}")]
    BadBlock {
        /// The block.
        id: BlockId,
        /// What is wrong.
        reason: String,
    },
    /// A stored alert cannot be read.
    #[error("stored alert: {0}")]
    BadAlert(String),
    /// A file of the store cannot be read or written.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// sled failed.
    #[error("sled")]
    Sled(#[from] sled::Error),
    /// zstd failed to set up or compress.
    #[error("zstd: {0}")]
    Compress(std::io::Error),
    /// A record could not be serialised.
    #[error("encoding a record: {0}")]
    Encode(postcard::Error),
    /// A query asked for something impossible.
    #[error("{0}")]
    BadQuery(String),
}

/// Store settings (the `[store]` section of the sensor's configuration).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// The store's directory. Default `/var/lib/sensor/store`.
    pub dir: PathBuf,
    /// How often buffered records are written and made durable. Default "1s".
    #[serde(with = "humantime_serde")]
    pub flush_interval: Duration,
    /// Bytes of telemetry kept; past it the oldest telemetry blocks are evicted. Default 64 GiB.
    pub disk_budget: u64,
    /// Telemetry written longer ago than this is evicted (by when it was stored, so that a replay
    /// of old captures is kept as long as live records). Default "30days".
    #[serde(with = "humantime_serde")]
    pub max_age: Duration,
    /// Free bytes kept on the filesystem: below it, old telemetry is evicted and, if that is not
    /// enough, new telemetry is dropped (counted, health flag set). Default 256 MiB.
    pub min_free_bytes: u64,
    /// zstd level of blocks (1 fastest … 19). Default 3.
    pub compression_level: i32,
    /// Records per block at most. Default 8192.
    pub block_records: usize,
    /// Uncompressed bytes per block at most. Default 1 MiB.
    pub block_bytes: usize,
    /// sled's page cache in bytes. Default 64 MiB.
    pub cache_bytes: u64,
    /// Size of a segment file, the unit retention deletes. Default 64 MiB.
    pub segment_bytes: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            dir: PathBuf::from("/var/lib/sensor/store"),
            flush_interval: Duration::from_secs(1),
            disk_budget: 64 << 30,
            max_age: Duration::from_secs(30 * 24 * 3600),
            min_free_bytes: 256 << 20,
            compression_level: 3,
            block_records: 8192,
            block_bytes: 1 << 20,
            cache_bytes: 64 << 20,
            segment_bytes: 64 << 20,
        }
    }
}

/// An open store.
#[derive(Clone)]
pub struct Store {
    dir: PathBuf,
    db: sled::Db,
    trees: trees::Trees,
}

impl Store {
    /// Opens the store in `dir`, creating it when the directory is missing or empty.
    pub fn open(dir: &Path, cfg: &StoreConfig) -> Result<Store, StoreError> {
        let marker = dir.join(FORMAT_FILE);
        let version = match std::fs::read_to_string(&marker) {
            Ok(text) => check_format(dir, &text)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(dir).map(|()| FORMAT_VERSION)?,
            Err(source) => return Err(StoreError::Io { path: marker, source }),
        };
        let config = sled::Config::new()
            .path(dir.join(SLED_DIR))
            .cache_capacity(cfg.cache_bytes)
            .mode(sled::Mode::LowSpace)
            .flush_every_ms(None);
        let db = config.open().map_err(|e| match e {
            sled::Error::Io(ref err) if err.kind() == std::io::ErrorKind::WouldBlock => {
                StoreError::InUse(dir.to_owned())
            }
            sled::Error::Io(err) if err.to_string().contains("lock") => StoreError::InUse(dir.to_owned()),
            sled::Error::Corruption { .. } => StoreError::Corrupt { path: dir.to_owned(), reason: e.to_string() },
            other => StoreError::Sled(other),
        })?;
        migrate(dir, version)?;
        let trees = trees::Trees::open(&db)?;
        let segment_dir = dir.join(segments::DIR);
        std::fs::create_dir_all(&segment_dir).map_err(|source| StoreError::Io { path: segment_dir, source })?;
        let store = Store { dir: dir.to_owned(), db, trees };
        // Before anything is deleted: a store that lost flushed blocks is refused as it is.
        store.check_checkpoint()?;
        segments::remove_orphans(&store)?;
        Ok(store)
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Blocks written up to the last durable flush must all be there: sled's recovery stops at
    /// the first damaged log entry, and a store that lost flushed blocks that way is refused
    /// rather than silently written over.
    fn check_checkpoint(&self) -> Result<(), StoreError> {
        let path = self.dir.join(CHECKPOINT_FILE);
        let durable = match std::fs::read_to_string(&path) {
            Ok(text) => text.trim().parse::<u64>().map_err(|_| StoreError::Corrupt {
                path: path.clone(),
                reason: format!("unreadable checkpoint {:?}", text.trim()),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => return Err(StoreError::Io { path, source }),
        };
        let next = trees::meta::next_block(&self.trees.meta)?;
        if next.0 < durable {
            return Err(StoreError::Corrupt {
                path: self.dir.clone(),
                reason: format!(
                    "blocks before id {durable} were flushed, but the database ends before id {}: \
                     part of it was lost (damaged file?); move the directory away to start a new store",
                    next.0
                ),
            });
        }
        Ok(())
    }

    /// Records the next block id as durable (after a flush).
    pub(crate) fn write_checkpoint(&self, next: BlockId) -> Result<(), StoreError> {
        write_atomically(&self.dir, CHECKPOINT_FILE, format!("{}\n", next.0).as_bytes())
    }

    /// Bytes the store takes on disk: its segment files and sled's files (what the disk budget
    /// counts).
    pub fn footprint(&self) -> Result<u64, StoreError> {
        let segments: u64 = segments::files(&self.dir)?.iter().map(|f| f.1).sum();
        Ok(segments + self.db.size_on_disk()?)
    }

    /// A block's bytes, `None` when it is gone (evicted, possibly while it was being read).
    pub(crate) fn read_block(&self, id: BlockId) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(value) = self.trees.blocks.get(id.key())? else { return Ok(None) };
        let at = segments::Location::parse(&value)
            .ok_or_else(|| StoreError::BadBlock { id, reason: "unreadable location".into() })?;
        match segments::read(&self.dir, at) {
            Ok(bytes) => Ok(Some(bytes)),
            // Retention removes the entry before the file: no entry now means evicted meanwhile.
            Err(_) if !self.trees.blocks.contains_key(id.key())? => Ok(None),
            Err(reason) => Err(StoreError::BadBlock { id, reason }),
        }
    }

    /// Bytes free on the store's filesystem, for an unprivileged writer.
    pub fn disk_free(&self) -> Option<u64> {
        free_bytes(&self.dir)
    }

    /// Bytes of blocks stored.
    pub fn stored_bytes(&self) -> Result<u64, StoreError> {
        Ok(trees::meta::get(&self.trees.meta, trees::meta::Counter::StoredBytes)?)
    }

    /// Blocks, records and bytes evicted by retention over the store's life.
    pub fn evicted(&self) -> Result<Evicted, StoreError> {
        use trees::meta::{Counter, get};
        let meta = &self.trees.meta;
        Ok(Evicted {
            blocks: get(meta, Counter::EvictedBlocks)?,
            records: get(meta, Counter::EvictedRecords)?,
            bytes: get(meta, Counter::EvictedBytes)?,
        })
    }
}

/// Reads the format marker of an existing store: its version, when this build can read it.
fn check_format(dir: &Path, text: &str) -> Result<u32, StoreError> {
    let version = text.trim().strip_prefix("sensor-store ").and_then(|v| v.parse::<u32>().ok()).ok_or_else(|| {
        StoreError::Corrupt { path: dir.join(FORMAT_FILE), reason: format!("unreadable marker {text:?}") }
    })?;
    match version {
        0 => Err(StoreError::Corrupt { path: dir.join(FORMAT_FILE), reason: "format version 0".into() }),
        v if v > FORMAT_VERSION => Err(StoreError::NewerFormat { path: dir.to_owned(), found: v }),
        v => Ok(v),
    }
}

/// Brings a store of `version` to [`FORMAT_VERSION`], once this process holds it (sled's lock).
fn migrate(dir: &Path, version: u32) -> Result<(), StoreError> {
    for from in version..FORMAT_VERSION {
        MIGRATIONS[from as usize - 1](dir)?;
        write_atomically(dir, FORMAT_FILE, format!("sensor-store {}\n", from + 1).as_bytes())?;
    }
    Ok(())
}

/// Makes a new store in `dir`, which must be missing or empty.
fn create(dir: &Path) -> Result<(), StoreError> {
    let io = |source| StoreError::Io { path: dir.to_owned(), source };
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(StoreError::NotAStore(dir.to_owned()));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new().recursive(true).create(dir).map_err(io)?;
        }
        Err(e) => return Err(io(e)),
    }
    restrict(dir)?;
    write_atomically(dir, FORMAT_FILE, format!("sensor-store {FORMAT_VERSION}\n").as_bytes())
}

/// Telemetry is the customer's data: only the owner may read the store.
fn restrict(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|source| StoreError::Io { path: dir.to_owned(), source })
}

/// Writes `name` in `dir` through a temporary file, a rename and fsyncs, so that it is either
/// the old or the new content after a crash.
fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
    use std::io::Write;
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}.tmp"));
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| StoreError::Io { path, source }
    };
    let mut file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    file.write_all(bytes).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// Free bytes of the filesystem holding `dir`, for an unprivileged writer.
fn free_bytes(dir: &Path) -> Option<u64> {
    let st = nix::sys::statvfs::statvfs(dir).ok()?;
    Some((st.blocks_available() as u64).saturating_mul(st.fragment_size() as u64))
}
