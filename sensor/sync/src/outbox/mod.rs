//! [`Outbox`]: alerts waiting for the hub's acknowledgement, on disk.
//!
//! Each alert gets the next sequence number of the sensor (sled's persistent id generator:
//! increasing, never reused, even across crashes). Critical alerts (few) are kept in the main
//! database (`DIR/outbox`, tree `critical`, by sequence number) and handed out ahead of any
//! backlog; the others in [`segments`] (`DIR/outbox-segments`), by sequence number. A value is
//! the Unix second the alert was queued (8 bytes, big-endian: the backlog's age) followed by its
//! JSON. An alert is made durable before [`Outbox::push`] returns, and let go only when the hub
//! acknowledged it ([`Outbox::remove`]): a crash in between sends it again, and the hub, keyed
//! by (sensor, sequence), stores it once.
//!
//! Outboxes of the earlier layouts (one tree `alerts` keyed by class and sequence number, or
//! trees `queue` and `queued`) are moved into this one when opened.

mod segments;

use crate::SyncError;
use segments::{STAMP, Segments};
use soc_protocol::AlertItem;
use std::collections::{BTreeSet, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

/// The outbox; cheap to clone (one database, shared state).
#[derive(Clone)]
pub struct Outbox {
    db: sled::Db,
    critical: sled::Tree,
    state: Arc<Mutex<State>>,
}

/// What the clones share.
struct State {
    /// Sequence numbers of the critical alerts waiting.
    critical: BTreeSet<u64>,
    /// The others.
    segments: Segments,
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn stamped(at: u64, json: &[u8]) -> Vec<u8> {
    [&at.to_be_bytes()[..], json].concat()
}

fn item(seq: u64, value: &[u8]) -> AlertItem {
    AlertItem { seq, json: String::from_utf8_lossy(value.get(STAMP..).unwrap_or_default()).into_owned() }
}

impl Outbox {
    /// Opens (or creates) the outbox in `dir/outbox` and `dir/outbox-segments`.
    pub fn open(dir: &Path) -> Result<Outbox, SyncError> {
        Outbox::open_sized(dir, segments::SEGMENT_ALERTS)
    }

    fn open_sized(dir: &Path, per_segment: usize) -> Result<Outbox, SyncError> {
        let db = sled::open(dir.join("outbox"))?;
        let critical = db.open_tree("critical")?;
        let segments = Segments::open(&dir.join("outbox-segments"), db.open_tree("outbox")?, per_segment)?;
        let mut state = State { critical: BTreeSet::new(), segments };
        migrate(&db, &critical, &mut state)?;
        for key in critical.iter().keys() {
            state.critical.extend(segments::be_u64(&key?));
        }
        Ok(Outbox { db, critical, state: Arc::new(Mutex::new(state)) })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Another tree of the outbox's database (the sensor's tunnel state).
    pub(crate) fn tree(&self, name: &str) -> Result<sled::Tree, SyncError> {
        Ok(self.db.open_tree(name)?)
    }

    /// Queues an alert (its JSON); durable on return. Returns its sequence number.
    pub fn push(&self, json: &str, critical: bool) -> Result<u64, SyncError> {
        Ok(self.push_all([(json, critical)])?[0])
    }

    /// Queues alerts with one flush (a burst, a backlog restored); durable on return. Returns
    /// their sequence numbers.
    pub fn push_all<'a>(&self, alerts: impl IntoIterator<Item = (&'a str, bool)>) -> Result<Vec<u64>, SyncError> {
        let mut state = self.state();
        let (mut seqs, mut any_critical) = (Vec::new(), false);
        for (json, critical) in alerts {
            let seq = self.db.generate_id()?;
            let value = stamped(now(), json.as_bytes());
            if critical {
                self.critical.insert(seq.to_be_bytes(), value)?;
                state.critical.insert(seq);
                any_critical = true;
            } else {
                state.segments.push(seq, &value)?;
            }
            seqs.push(seq);
        }
        state.segments.flush()?;
        if any_critical {
            self.db.flush()?;
        }
        Ok(seqs)
    }

    /// Up to `max` queued alerts to send next: every critical one not in `skip` (they are
    /// few, and overtake the backlog whenever they come), then the others after `cursor` (the
    /// last one already handed out; `None`: from the start), by sequence. Moves `cursor`.
    pub fn next(&self, skip: &HashSet<u64>, cursor: &mut Option<u64>, max: usize) -> Result<Vec<AlertItem>, SyncError> {
        let mut state = self.state();
        let mut out = Vec::new();
        for &seq in state.critical.iter().filter(|s| !skip.contains(s)).take(max) {
            if let Some(value) = self.critical.get(seq.to_be_bytes())? {
                out.push(item(seq, &value));
            }
        }
        if out.len() < max {
            state.segments.next(skip, cursor, max, &mut out)?;
        }
        Ok(out)
    }

    /// Lets go of acknowledged alerts (unknown ones are ignored: acknowledged twice).
    pub fn remove(&self, seqs: &[u64]) -> Result<(), SyncError> {
        let mut state = self.state();
        let mut ordinary = Vec::with_capacity(seqs.len());
        for &seq in seqs {
            if state.critical.remove(&seq) {
                self.critical.remove(seq.to_be_bytes())?;
            } else {
                ordinary.push(seq);
            }
        }
        state.segments.ack(ordinary)
    }

    /// Alerts waiting; ordinary ones acknowledged out of order (at most a window's worth) are
    /// counted until the ones before them are acknowledged too.
    pub fn len(&self) -> usize {
        let state = self.state();
        state.critical.len() + state.segments.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        let state = self.state();
        state.critical.is_empty() && state.segments.is_empty()
    }

    /// Seconds the oldest waiting alert has waited (0 when none): the first of each kind is the
    /// oldest of it (sequence numbers grow with time), so this reads two entries, not the
    /// backlog.
    pub fn oldest_age_secs(&self) -> u64 {
        let mut state = self.state();
        let critical = state.critical.first().and_then(|seq| self.critical.get(seq.to_be_bytes()).ok().flatten());
        let critical = critical.and_then(|v| segments::be_u64(v.get(..STAMP)?));
        let ordinary = state.segments.oldest_stamp().ok().flatten();
        [critical, ordinary].into_iter().flatten().min().map_or(0, |t| now().saturating_sub(t))
    }

    /// Makes everything durable, the tunnel state and the watermark of acknowledgements too.
    pub fn flush(&self) -> Result<(), SyncError> {
        self.state().segments.flush()?;
        self.db.flush()?;
        Ok(())
    }
}

/// Moves the alerts of an outbox of an earlier layout into this one: tree `alerts` (key: class,
/// 0 for critical, then sequence number; value: stamp and JSON), or before it trees `queue`
/// (same key, the JSON) and `queued` (the stamps). Idempotent: a crash half way moves the rest
/// at the next start.
fn migrate(db: &sled::Db, critical: &sled::Tree, state: &mut State) -> Result<(), SyncError> {
    let names = db.tree_names();
    let has = |name: &[u8]| names.iter().any(|n| n.as_ref() == name);
    let old = if has(b"alerts") {
        db.open_tree("alerts")?
    } else if has(b"queue") {
        db.open_tree("queue")?
    } else {
        return Ok(());
    };
    let times = has(b"queued").then(|| db.open_tree("queued")).transpose()?;
    // Ordinary alerts moved before a crash: the old tree is read in order, so they are those up
    // to the last one in the segments.
    let moved = state.segments.last_seq()?;
    for entry in old.iter() {
        let (k, v) = entry?;
        let Some(seq) = k.get(1..).and_then(segments::be_u64) else { continue };
        let value = match &times {
            Some(times) => {
                let at = times.get(&k)?.and_then(|t| segments::be_u64(&t)).unwrap_or(0);
                stamped(at, &v)
            }
            None => v.to_vec(),
        };
        if k[0] == 0 {
            critical.insert(seq.to_be_bytes(), value)?;
        } else if moved.is_none_or(|last| seq > last) {
            state.segments.push(seq, &value)?;
        }
    }
    state.segments.flush()?;
    db.flush()?;
    for name in ["alerts", "queue", "queued"] {
        db.drop_tree(name)?;
    }
    db.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn seqs(items: &[AlertItem]) -> Vec<u64> {
        items.iter().map(|i| i.seq).collect()
    }

    fn segment_dirs(dir: &Path) -> usize {
        std::fs::read_dir(dir.join("outbox-segments")).unwrap().count()
    }

    #[test]
    fn critical_first_then_by_sequence_and_acknowledged_ones_go() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        let a = outbox.push("{\"n\":1}", false).unwrap();
        let b = outbox.push("{\"n\":2}", false).unwrap();
        let c = outbox.push("{\"n\":3}", true).unwrap();
        assert!(a < b && b < c, "sequence numbers increase");
        assert_eq!(seqs(&outbox.next(&HashSet::new(), &mut None, 10).unwrap()), [c, a, b]);
        // In flight (skipped) and past the cursor: not handed out again; a new critical one is.
        let skip: HashSet<u64> = [c].into();
        let mut cursor = None;
        assert_eq!(outbox.next(&skip, &mut cursor, 1).unwrap()[0].seq, a);
        assert_eq!(cursor, Some(a));
        let d = outbox.push("{\"n\":4}", true).unwrap();
        assert_eq!(seqs(&outbox.next(&skip, &mut cursor, 10).unwrap()), [d, b]);
        outbox.remove(&[a, c, c, d]).unwrap();
        assert_eq!(outbox.len(), 1);
        drop(outbox);
        // Reopened: what was not acknowledged is still there, and numbers are never reused.
        let outbox = Outbox::open(dir.path()).unwrap();
        assert_eq!(seqs(&outbox.next(&HashSet::new(), &mut None, 10).unwrap()), [b]);
        assert_eq!(outbox.next(&HashSet::new(), &mut None, 10).unwrap()[0].json, "{\"n\":2}");
        assert!(outbox.push("{}", false).unwrap() > d);
    }

    #[test]
    fn segments_go_when_all_their_alerts_are_acknowledged_in_any_order() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open_sized(dir.path(), 10).unwrap();
        let bodies: Vec<String> = (0..35).map(|n| format!("{{\"n\":{n}}}")).collect();
        let all = outbox.push_all(bodies.iter().map(|b| (b.as_str(), false))).unwrap();
        assert_eq!(segment_dirs(dir.path()), 4);
        assert_eq!(outbox.len(), 35);
        let mut cursor = None;
        let sent = outbox.next(&HashSet::new(), &mut cursor, 100).unwrap();
        assert_eq!(seqs(&sent), all);
        assert_eq!(sent[34].json, "{\"n\":34}");

        // The second segment acknowledged first: nothing can go before the first is done.
        outbox.remove(&all[10..20]).unwrap();
        assert_eq!((segment_dirs(dir.path()), outbox.len()), (4, 35));
        outbox.remove(&all[..9]).unwrap();
        assert_eq!((segment_dirs(dir.path()), outbox.len()), (4, 26));
        outbox.remove(&all[9..10]).unwrap();
        assert_eq!((segment_dirs(dir.path()), outbox.len()), (2, 15));
        // Acknowledged twice, or never sent: ignored.
        outbox.remove(&all[..3]).unwrap();
        assert_eq!(outbox.len(), 15);

        // A restart: the watermark holds; acknowledgements above it were in memory only, so
        // those alerts are sent again (the hub stores them once).
        outbox.remove(&[all[25], all[27]]).unwrap();
        assert_eq!(seqs(&outbox.next(&HashSet::new(), &mut None, 3).unwrap()), [all[20], all[21], all[22]]);
        assert_eq!(seqs(&outbox.next(&HashSet::new(), &mut Some(all[24]), 2).unwrap()), [all[26], all[28]]);
        outbox.flush().unwrap();
        drop(outbox);
        let outbox = Outbox::open_sized(dir.path(), 10).unwrap();
        assert_eq!(outbox.len(), 15);
        let again = outbox.next(&HashSet::new(), &mut None, 100).unwrap();
        assert_eq!(seqs(&again), &all[20..]);
        assert!(outbox.oldest_age_secs() < 60);

        // New alerts fill the last segment, then start another.
        let more = outbox.push_all((0..7).map(|_| ("{}", false))).unwrap();
        assert_eq!(segment_dirs(dir.path()), 3);
        outbox.remove(&all[20..]).unwrap();
        outbox.remove(&more).unwrap();
        assert!(outbox.is_empty());
        assert_eq!((segment_dirs(dir.path()), outbox.len(), outbox.oldest_age_secs()), (0, 0, 0));
        let next = outbox.push("{}", false).unwrap();
        assert!(next > more[6]);
        assert_eq!(seqs(&outbox.next(&HashSet::new(), &mut None, 10).unwrap()), [next]);
    }

    #[test]
    fn a_segment_half_deleted_by_a_crash_is_finished_at_the_next_start() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open_sized(dir.path(), 10).unwrap();
        let all = outbox.push_all((0..15).map(|_| ("{}", false))).unwrap();
        drop(outbox);
        let segs = dir.path().join("outbox-segments");
        let first = std::fs::read_dir(&segs).unwrap().map(|e| e.unwrap().path()).min().unwrap();
        let dead = first.with_file_name(format!("{}.dead", first.file_name().unwrap().to_str().unwrap()));
        std::fs::rename(&first, &dead).unwrap();
        let outbox = Outbox::open_sized(dir.path(), 10).unwrap();
        assert!(!dead.exists());
        assert_eq!(seqs(&outbox.next(&HashSet::new(), &mut None, 100).unwrap()), &all[10..]);
        assert_eq!(outbox.len(), 5);
        // The deleted segment's count went with it (the other one is still being written).
        assert_eq!(outbox.db.open_tree("outbox").unwrap().scan_prefix(b"count:").count(), 0);
    }

    #[test]
    fn outboxes_of_the_earlier_layouts_are_moved_on_open() {
        let key = |class: u8, seq: u64| [&[class][..], &seq.to_be_bytes()].concat();
        for layout in ["alerts", "queue"] {
            let dir = tempfile::tempdir().unwrap();
            {
                let db = sled::open(dir.path().join("outbox")).unwrap();
                let tree = db.open_tree(layout).unwrap();
                if layout == "alerts" {
                    tree.insert(key(0, 3), stamped(1_000, b"{\"n\":3}")).unwrap();
                    tree.insert(key(1, 7), stamped(1_000, b"{\"n\":7}")).unwrap();
                } else {
                    let queued = db.open_tree("queued").unwrap();
                    tree.insert(key(1, 7), b"{\"n\":7}".as_slice()).unwrap();
                    queued.insert(key(1, 7), &1_000u64.to_be_bytes()).unwrap();
                }
                db.flush().unwrap();
            }
            let outbox = Outbox::open(dir.path()).unwrap();
            let items = outbox.next(&HashSet::new(), &mut None, 10).unwrap();
            let got: Vec<(u64, &str)> = items.iter().map(|i| (i.seq, i.json.as_str())).collect();
            let want: &[(u64, &str)] =
                if layout == "alerts" { &[(3, "{\"n\":3}"), (7, "{\"n\":7}")] } else { &[(7, "{\"n\":7}")] };
            assert_eq!(got, want, "{layout}");
            assert!(outbox.oldest_age_secs() > 1_000_000, "queued at Unix second 1000");
            assert!(!outbox.db.tree_names().iter().any(|n| n.as_ref() == layout.as_bytes()));
            drop(outbox);
            // Opened again: nothing moved twice.
            let outbox = Outbox::open(dir.path()).unwrap();
            assert_eq!(outbox.next(&HashSet::new(), &mut None, 10).unwrap().len(), want.len());
        }
    }
}
