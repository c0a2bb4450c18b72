//! Segment files: where the blocks' bytes live.
//!
//! Blocks are appended to numbered files in `segments/` (`0000000000000001.seg`, …), each up to
//! [`crate::StoreConfig::segment_bytes`]; sled holds only where each block is ([`Location`]) and
//! the indices. Retention deletes whole segments, oldest first, which gives their space back to
//! the filesystem at once: sled's own files never shrink, and in a measurement it kept growing
//! past three times the data it held while blocks were deleted (docs/decisions/store-segments.md).
//!
//! The tree `segments` maps each segment number to the id of its first block; a segment holds
//! the blocks from that id up to the next segment's first id.

use crate::StoreError;
use crate::trees::BlockId;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Directory of the segment files inside the store.
pub(crate) const DIR: &str = "segments";

/// Where a block's bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Location {
    pub(crate) segment: u64,
    pub(crate) offset: u64,
    pub(crate) len: u32,
}

impl Location {
    /// The `blocks` tree value.
    pub(crate) fn value(&self) -> [u8; 20] {
        let mut v = [0; 20];
        v[..8].copy_from_slice(&self.segment.to_be_bytes());
        v[8..16].copy_from_slice(&self.offset.to_be_bytes());
        v[16..].copy_from_slice(&self.len.to_be_bytes());
        v
    }

    pub(crate) fn parse(value: &[u8]) -> Option<Location> {
        let value: &[u8; 20] = value.try_into().ok()?;
        let (segment, rest) = value.split_first_chunk::<8>()?;
        let (offset, len) = rest.split_first_chunk::<8>()?;
        Some(Location {
            segment: u64::from_be_bytes(*segment),
            offset: u64::from_be_bytes(*offset),
            len: u32::from_be_bytes(len.try_into().ok()?),
        })
    }
}

/// The path of segment `number` in the store `dir`.
pub(crate) fn path(dir: &Path, number: u64) -> PathBuf {
    dir.join(DIR).join(format!("{number:016x}.seg"))
}

/// The segment number of a file name, if it is one.
pub(crate) fn number_of(name: &str) -> Option<u64> {
    let hex = name.strip_suffix(".seg")?;
    (hex.len() == 16).then(|| u64::from_str_radix(hex, 16).ok()).flatten()
}

/// Reads a block's bytes.
pub(crate) fn read(dir: &Path, at: Location) -> Result<Vec<u8>, String> {
    let file = File::open(path(dir, at.segment)).map_err(|e| format!("segment {:016x}: {e}", at.segment))?;
    let mut bytes = vec![0; at.len as usize];
    file.read_exact_at(&mut bytes, at.offset)
        .map_err(|e| format!("segment {:016x} at {}: {e}", at.segment, at.offset))?;
    Ok(bytes)
}

/// The segment being appended to.
pub(crate) struct Active {
    pub(crate) number: u64,
    file: File,
    pub(crate) len: u64,
    /// Written since the last handle to sync it was taken ([`Active::unsynced`]).
    dirty: bool,
}

impl Active {
    /// Opens segment `number` for appending (creating it).
    pub(crate) fn open(dir: &Path, number: u64) -> Result<Active, StoreError> {
        let path = path(dir, number);
        let io = |source| StoreError::Io { path: path.clone(), source };
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        Ok(Active { number, file, len, dirty: false })
    }

    /// Appends a block; returns where it went.
    pub(crate) fn append(&mut self, dir: &Path, bytes: &[u8]) -> Result<Location, StoreError> {
        let at = Location { segment: self.number, offset: self.len, len: bytes.len() as u32 };
        let result = self.file.write_all(bytes);
        if let Err(source) = result {
            // A partial write leaves bytes no index points to; the next block goes after them.
            self.len = self.file.metadata().map_or(self.len, |m| m.len());
            return Err(StoreError::Io { path: path(dir, self.number), source });
        }
        self.len += bytes.len() as u64;
        self.dirty = true;
        Ok(at)
    }

    /// A handle to sync what was appended since the last call on another thread; `None` when
    /// nothing was.
    pub(crate) fn unsynced(&mut self, dir: &Path) -> Result<Option<Segment>, StoreError> {
        if !self.dirty {
            return Ok(None);
        }
        let path = path(dir, self.number);
        let file = self.file.try_clone().map_err(|source| StoreError::Io { path: path.clone(), source })?;
        self.dirty = false;
        Ok(Some(Segment { number: self.number, file, path }))
    }
}

/// The first block of segment `number`, from the `segments` tree key and value.
pub(crate) fn entry(key: &[u8], value: &[u8]) -> Option<(u64, BlockId)> {
    let number = u64::from_be_bytes(key.try_into().ok()?);
    let first = u64::from_be_bytes(value.try_into().ok()?);
    Some((number, BlockId(first)))
}

/// Every segment file in the store with its length.
pub(crate) fn files(dir: &Path) -> Result<Vec<(u64, u64)>, StoreError> {
    let seg_dir = dir.join(DIR);
    let io = |source| StoreError::Io { path: seg_dir.clone(), source };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&seg_dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let Some(number) = entry.file_name().to_str().and_then(number_of) else { continue };
        found.push((number, entry.metadata().map_err(io)?.len()));
    }
    found.sort_unstable();
    Ok(found)
}

/// The newest registered segment.
pub(crate) fn last(store: &crate::Store) -> Result<Option<u64>, StoreError> {
    let last = store.trees.segments.last()?;
    Ok(last.and_then(|(k, v)| entry(&k, &v)).map(|(number, _)| number))
}

/// Deletes segment files the `segments` tree does not know, left by a crash between creating a
/// segment and committing its first block (newer than every known one) or between forgetting an
/// evicted segment and deleting it (older than every known one). An unknown segment between
/// known ones means the database lost track of data: the store is refused, nothing is deleted.
pub(crate) fn remove_orphans(store: &crate::Store) -> Result<(), StoreError> {
    let first = store.trees.segments.first()?.and_then(|(k, v)| entry(&k, &v)).map(|e| e.0);
    let last = last(store)?;
    let mut orphans = Vec::new();
    for (number, _) in files(&store.dir)? {
        if store.trees.segments.contains_key(number.to_be_bytes())? {
            continue;
        }
        if first.zip(last).is_some_and(|(f, l)| f < number && number < l) {
            return Err(StoreError::Corrupt {
                path: path(&store.dir, number),
                reason: "a segment between known ones is missing from the index; nothing was deleted".into(),
            });
        }
        orphans.push(number);
    }
    for number in orphans {
        let path = path(&store.dir, number);
        std::fs::remove_file(&path).map_err(|source| StoreError::Io { path, source })?;
    }
    Ok(())
}

/// A segment's file, to make durable away from the writer ([`crate::syncer`]).
pub(crate) struct Segment {
    pub(crate) number: u64,
    file: File,
    path: PathBuf,
}

impl Segment {
    /// `fsync`s the data appended to it.
    pub(crate) fn sync(&self) -> Result<(), StoreError> {
        self.file.sync_data().map_err(|source| StoreError::Io { path: self.path.clone(), source })
    }
}
