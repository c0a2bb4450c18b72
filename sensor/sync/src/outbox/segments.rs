//! [`Segments`]: the outbox's ordinary (not critical) alerts, in sled databases of at most
//! [`SEGMENT_ALERTS`] alerts each (`DIR/outbox-segments/<first sequence number>`), each deleted as
//! a directory once all of its alerts are acknowledged.
//!
//! Not one tree with a delete per acknowledged alert: sled 0.34 checks every page it frees
//! against its whole free list, a linear scan, so emptying a tree of a million alerts (some
//! 120,000 leaf pages freed with nothing allocated in between) costs time quadratic in the
//! backlog, 61 % of the sync thread in the drain benchmark (docs/decisions/outbox-segments.md).
//! A directory removed frees no page, and gives its disk space back, which sled's log does not.
//!
//! What is acknowledged: every alert numbered below the watermark (kept in the main database,
//! tree `outbox`, key `acked_below`), and the ones acknowledged out of order above it, in
//! memory. After a restart those few are sent again, and the hub, keyed by (sensor, sequence
//! number), stores them once.

use crate::SyncError;
use soc_protocol::AlertItem;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// Alerts per segment: the unit in which disk space comes back, and at most what a crash may
/// send again.
pub(super) const SEGMENT_ALERTS: usize = 65_536;
/// Page cache of each open segment's database (sled's default is 1 GiB).
const SEGMENT_CACHE: u64 = 8 << 20;
/// Acknowledgements above the watermark kept in memory: the client's window holds fewer; more
/// can only come from a confused hub, and costs at worst a repeat after a restart.
const ACKED_MAX: usize = 4 * crate::WINDOW;
/// Key of the watermark in the main database's `outbox` tree.
const WATERMARK: &[u8] = b"acked_below";
/// Prefix of a sealed segment's alert count in that tree (then the first sequence number).
const COUNT: &[u8] = b"count:";
/// Suffix of a segment being deleted (renamed first: a crash never leaves half a database
/// under a segment's name).
const DEAD: &str = ".dead";

/// Bytes before the JSON in a stored value: the Unix second it was queued, big-endian.
pub(super) const STAMP: usize = 8;

/// One segment.
struct Segment {
    /// Open while read or written.
    db: Option<sled::Db>,
    /// Alerts stored in it.
    count: usize,
}

/// The ordinary alerts, by sequence number.
pub(super) struct Segments {
    dir: PathBuf,
    /// The main database's `outbox` tree: watermark and sealed segments' counts.
    meta: sled::Tree,
    /// By first sequence number.
    segments: BTreeMap<u64, Segment>,
    /// Every ordinary alert numbered below this is acknowledged.
    watermark: u64,
    /// Acknowledged above the watermark.
    acked: HashSet<u64>,
    /// Alerts below the watermark still in the first segment.
    below: usize,
    /// Alerts per segment ([`SEGMENT_ALERTS`]; fewer in tests).
    per_segment: usize,
    /// Segments written since the last flush.
    dirty: Vec<u64>,
}

fn name(first: u64) -> String {
    format!("{first:020}")
}

/// A big-endian `u64` (sequence numbers, stamps, counts), if `bytes` is one.
pub(super) fn be_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

fn count_key(first: u64) -> Vec<u8> {
    [COUNT, &first.to_be_bytes()[..]].concat()
}

impl Segments {
    /// Opens the segments in `dir` (created if absent); `meta` is the main database's `outbox`
    /// tree.
    pub(super) fn open(dir: &Path, meta: sled::Tree, per_segment: usize) -> Result<Segments, SyncError> {
        std::fs::create_dir_all(dir)?;
        let watermark = meta.get(WATERMARK)?.and_then(|v| be_u64(&v)).unwrap_or(0);
        let mut segments = BTreeMap::new();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if file_name.ends_with(DEAD) {
                std::fs::remove_dir_all(&path)?;
            } else if let Ok(first) = file_name.parse::<u64>() {
                segments.insert(first, Segment { db: None, count: 0 });
            }
        }
        let mut s = Segments {
            dir: dir.to_owned(),
            meta,
            segments,
            watermark,
            acked: HashSet::new(),
            below: 0,
            per_segment,
            dirty: Vec::new(),
        };
        // Counts of segments a crash deleted before their count was.
        for key in s.meta.scan_prefix(COUNT).keys() {
            let key = key?;
            if key.get(COUNT.len()..).and_then(be_u64).is_none_or(|first| !s.segments.contains_key(&first)) {
                s.meta.remove(key)?;
            }
        }
        let last = s.segments.keys().next_back().copied();
        for first in s.segments.keys().copied().collect::<Vec<_>>() {
            // Sealed segments have their count on record; the last one is counted.
            let sealed = s.meta.get(count_key(first))?.and_then(|v| be_u64(&v)).filter(|_| Some(first) != last);
            let count = match sealed {
                Some(n) => n as usize,
                None => s.db(first)?.len(),
            };
            if let Some(seg) = s.segments.get_mut(&first) {
                seg.count = count;
            }
        }
        if let Some(&first) = s.segments.keys().next() {
            let watermark = s.watermark.to_be_bytes();
            let below = s.db(first)?.range(..watermark).count();
            s.below = below;
        }
        // A crash between the watermark passing a segment and its deletion.
        s.advance()?;
        s.close_idle(None);
        Ok(s)
    }

    /// The database of the segment starting at `first`, opened if needed.
    fn db(&mut self, first: u64) -> Result<&sled::Db, SyncError> {
        let seg = self.segments.entry(first).or_insert(Segment { db: None, count: 0 });
        if seg.db.is_none() {
            let path = self.dir.join(name(first));
            seg.db = Some(sled::Config::new().path(path).cache_capacity(SEGMENT_CACHE).open()?);
        }
        Ok(seg.db.as_ref().unwrap_or_else(|| unreachable!("opened above")))
    }

    /// Stores an alert (`value`: stamp and JSON) under `seq`, which is above every stored one.
    /// Not durable until [`Segments::flush`].
    pub(super) fn push(&mut self, seq: u64, value: &[u8]) -> Result<(), SyncError> {
        let tail = match self.segments.last_key_value() {
            Some((&first, seg)) if seg.count < self.per_segment => first,
            Some((&first, seg)) => {
                self.meta.insert(count_key(first), &(seg.count as u64).to_be_bytes())?;
                seq
            }
            None => seq,
        };
        self.db(tail)?.insert(seq.to_be_bytes(), value)?;
        if let Some(seg) = self.segments.get_mut(&tail) {
            seg.count += 1;
        }
        if self.dirty.last() != Some(&tail) {
            self.dirty.push(tail);
        }
        Ok(())
    }

    /// Appends to `out` up to `max` alerts after `cursor` (`None`: from the first not
    /// acknowledged) that are neither in `skip` nor acknowledged, by sequence number; moves
    /// `cursor` past what it read.
    pub(super) fn next(
        &mut self,
        skip: &HashSet<u64>,
        cursor: &mut Option<u64>,
        max: usize,
        out: &mut Vec<AlertItem>,
    ) -> Result<(), SyncError> {
        let from = cursor.map_or(0, |c| c + 1).max(self.watermark);
        let start = self.segments.range(..=from).next_back().map_or(0, |(&first, _)| first);
        let firsts: Vec<u64> = self.segments.range(start..).map(|(&first, _)| first).collect();
        for first in firsts {
            if out.len() >= max {
                break;
            }
            let db = self.db(first)?.clone();
            for entry in db.range(from.to_be_bytes()..) {
                let (k, v) = entry?;
                let Some(seq) = be_u64(&k) else { continue };
                *cursor = Some(seq);
                if !skip.contains(&seq) && !self.acked.contains(&seq) {
                    let json = v.get(STAMP..).unwrap_or_default();
                    out.push(AlertItem { seq, json: String::from_utf8_lossy(json).into_owned() });
                    if out.len() >= max {
                        break;
                    }
                }
            }
        }
        self.close_idle(*cursor);
        Ok(())
    }

    /// Closes the segments neither acknowledged (the first), written (the last) nor read (the
    /// one holding `cursor`).
    fn close_idle(&mut self, cursor: Option<u64>) {
        let (head, last) = (self.segments.keys().next().copied(), self.segments.keys().next_back().copied());
        let reading = cursor.and_then(|c| self.segments.range(..=c).next_back().map(|(&first, _)| first));
        for (&first, seg) in &mut self.segments {
            if ![head, last, reading].contains(&Some(first)) {
                seg.db = None;
            }
        }
    }

    /// Records acknowledgements; segments all acknowledged are deleted.
    pub(super) fn ack(&mut self, seqs: impl IntoIterator<Item = u64>) -> Result<(), SyncError> {
        for seq in seqs {
            if seq >= self.watermark && self.acked.len() < ACKED_MAX {
                self.acked.insert(seq);
            }
        }
        self.advance()
    }

    /// Moves the watermark over the acknowledged alerts at it and after, deleting each segment
    /// it passes the end of.
    fn advance(&mut self) -> Result<(), SyncError> {
        let before = self.watermark;
        while let Some(&first) = self.segments.keys().next() {
            let db = self.db(first)?.clone();
            let mut open = false;
            for entry in db.range(self.watermark.to_be_bytes()..) {
                let Some(seq) = be_u64(&entry?.0) else { continue };
                if !self.acked.remove(&seq) {
                    open = true;
                    break;
                }
                self.watermark = seq + 1;
                self.below += 1;
            }
            if open {
                break;
            }
            self.delete(first)?;
        }
        if self.watermark != before {
            self.meta.insert(WATERMARK, &self.watermark.to_be_bytes())?;
        }
        Ok(())
    }

    /// Deletes a segment: closed, renamed, removed.
    fn delete(&mut self, first: u64) -> Result<(), SyncError> {
        drop(self.segments.remove(&first));
        self.below = 0;
        let (path, dead) = (self.dir.join(name(first)), self.dir.join(name(first) + DEAD));
        if path.exists() {
            std::fs::rename(&path, &dead)?;
            std::fs::remove_dir_all(&dead)?;
        }
        self.meta.remove(count_key(first))?;
        Ok(())
    }

    /// The highest sequence number stored.
    pub(super) fn last_seq(&mut self) -> Result<Option<u64>, SyncError> {
        let Some(&first) = self.segments.keys().next_back() else { return Ok(None) };
        Ok(self.db(first)?.last()?.and_then(|(k, _)| be_u64(&k)))
    }

    /// Alerts below the watermark and after it: those acknowledged out of order are counted
    /// until the ones before them are acknowledged too (an acknowledgement is not checked
    /// against what is stored: a repeated one must not count twice).
    pub(super) fn len(&self) -> usize {
        let stored: usize = self.segments.values().map(|s| s.count).sum();
        stored.saturating_sub(self.below)
    }

    /// Whether every alert is acknowledged.
    pub(super) fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// When the first alert not acknowledged was queued (Unix seconds).
    pub(super) fn oldest_stamp(&mut self) -> Result<Option<u64>, SyncError> {
        let Some(&first) = self.segments.keys().next() else { return Ok(None) };
        let from = self.watermark.to_be_bytes();
        let Some(entry) = self.db(first)?.range(from..).next() else { return Ok(None) };
        Ok(entry?.1.get(..STAMP).and_then(be_u64))
    }

    /// Makes what was pushed durable.
    pub(super) fn flush(&mut self) -> Result<(), SyncError> {
        for first in std::mem::take(&mut self.dirty) {
            if let Some(db) = self.segments.get(&first).and_then(|s| s.db.as_ref()) {
                db.flush()?;
            }
        }
        Ok(())
    }
}
