//! [`Outbox`]: alerts waiting for the hub's acknowledgement, on disk (sled, `DIR/outbox`).
//!
//! Each alert gets the next sequence number of the sensor (sled's persistent id generator:
//! increasing, never reused, even across crashes) and is stored in the tree `alerts` under
//! `(class, seq)`, class 0 for critical alerts and 1 for the rest, so that reading the queue in
//! key order hands out critical alerts ahead of any backlog. The value is the Unix second it was
//! queued (8 bytes, big-endian: the backlog's age) followed by the alert's JSON. (An outbox of
//! the first layout, trees `queue` and `queued`, is moved into this one when opened.) An alert is made durable before [`Outbox::push`]
//! returns, and deleted only when the hub acknowledged it ([`Outbox::remove`]): a crash in
//! between sends it again, and the hub, keyed by (sensor, sequence), stores it once.

use crate::SyncError;
use soc_protocol::AlertItem;
use std::collections::HashSet;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Key class of critical alerts (sent first).
const CRITICAL: u8 = 0;
/// Key class of the other alerts.
const NORMAL: u8 = 1;

/// The outbox; cheap to clone (one sled database).
#[derive(Clone)]
pub struct Outbox {
    db: sled::Db,
    queue: sled::Tree,
}

/// Bytes before the JSON in a queued value: when it was queued.
const STAMP: usize = 8;

fn key(class: u8, seq: u64) -> [u8; 9] {
    let mut k = [0; 9];
    k[0] = class;
    k[1..].copy_from_slice(&seq.to_be_bytes());
    k
}

fn seq_of(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.get(1..9)?.try_into().ok()?))
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl Outbox {
    /// Opens (or creates) the outbox in `dir/outbox`.
    pub fn open(dir: &Path) -> Result<Outbox, SyncError> {
        let db = sled::open(dir.join("outbox"))?;
        let outbox = Outbox { queue: db.open_tree("alerts")?, db };
        outbox.migrate()?;
        Ok(outbox)
    }

    /// Moves the alerts of the first layout (JSON in `queue`, times in `queued`) into `alerts`.
    fn migrate(&self) -> Result<(), SyncError> {
        let names = self.db.tree_names();
        if !names.iter().any(|n| n.as_ref() == b"queue") {
            return Ok(());
        }
        let (old, times) = (self.db.open_tree("queue")?, self.db.open_tree("queued")?);
        for entry in old.iter() {
            let (k, json) = entry?;
            let at = times.get(&k)?.map_or([0; STAMP], |t| t.as_ref().try_into().unwrap_or([0; STAMP]));
            self.queue.insert(k, [&at[..], &json].concat())?;
        }
        self.db.flush()?;
        self.db.drop_tree("queue")?;
        self.db.drop_tree("queued")?;
        Ok(())
    }

    /// Another tree of the outbox's database (the sensor's tunnel state).
    pub(crate) fn tree(&self, name: &str) -> Result<sled::Tree, SyncError> {
        Ok(self.db.open_tree(name)?)
    }

    /// Queues an alert (its JSON); durable on return. Returns its sequence number.
    pub fn push(&self, json: &str, critical: bool) -> Result<u64, SyncError> {
        let seq = self.insert(json, critical)?;
        self.db.flush()?;
        Ok(seq)
    }

    /// Queues many alerts with one flush (a backlog restored, a benchmark); durable on return.
    pub fn push_all<'a>(&self, alerts: impl IntoIterator<Item = (&'a str, bool)>) -> Result<Vec<u64>, SyncError> {
        let seqs = alerts.into_iter().map(|(json, critical)| self.insert(json, critical)).collect::<Result<_, _>>()?;
        self.db.flush()?;
        Ok(seqs)
    }

    fn insert(&self, json: &str, critical: bool) -> Result<u64, SyncError> {
        let seq = self.db.generate_id()?;
        let k = key(if critical { CRITICAL } else { NORMAL }, seq);
        self.queue.insert(k, [&now().to_be_bytes()[..], json.as_bytes()].concat())?;
        Ok(seq)
    }

    /// Up to `max` queued alerts to send next: every critical one not in `skip` (they are
    /// few, and overtake the backlog whenever they come), then the others after `cursor` (the
    /// last one already handed out; `None`: from the start), by sequence. Moves `cursor`.
    pub fn next(&self, skip: &HashSet<u64>, cursor: &mut Option<u64>, max: usize) -> Result<Vec<AlertItem>, SyncError> {
        let mut out = Vec::new();
        let item = |(k, v): (sled::IVec, sled::IVec)| {
            let json = v.get(STAMP..).unwrap_or_default();
            seq_of(&k).map(|seq| AlertItem { seq, json: String::from_utf8_lossy(json).into_owned() })
        };
        for entry in self.queue.range(key(CRITICAL, 0)..key(NORMAL, 0)) {
            match item(entry?) {
                Some(i) if !skip.contains(&i.seq) => out.push(i),
                _ => {}
            }
            if out.len() >= max {
                return Ok(out);
            }
        }
        let from = match *cursor {
            Some(seq) => std::ops::Bound::Excluded(key(NORMAL, seq)),
            None => std::ops::Bound::Included(key(NORMAL, 0)),
        };
        for entry in self.queue.range((from, std::ops::Bound::Unbounded)) {
            let Some(i) = item(entry?) else { continue };
            *cursor = Some(i.seq);
            if !skip.contains(&i.seq) {
                out.push(i);
            }
            if out.len() >= max {
                break;
            }
        }
        Ok(out)
    }

    /// Deletes acknowledged alerts (absent ones are ignored: acknowledged twice). Most are
    /// not critical, so that class is tried first.
    pub fn remove(&self, seqs: &[u64]) -> Result<(), SyncError> {
        for &seq in seqs {
            if self.queue.remove(key(NORMAL, seq))?.is_none() {
                self.queue.remove(key(CRITICAL, seq))?;
            }
        }
        Ok(())
    }

    /// Alerts waiting, roughly: the span of sequence numbers waiting (exact when alerts are
    /// acknowledged in order; sled's own count walks the whole tree, too slow for a heartbeat
    /// over a backlog of millions).
    pub fn len(&self) -> usize {
        let seq = |entry: Option<Result<(sled::IVec, sled::IVec), sled::Error>>| entry.and_then(|e| seq_of(&e.ok()?.0));
        let normal =
            match (seq(self.queue.range(key(NORMAL, 0)..).next()), seq(self.queue.range(key(NORMAL, 0)..).next_back()))
            {
                (Some(first), Some(last)) => (last - first + 1) as usize,
                _ => 0,
            };
        normal + self.queue.range(key(CRITICAL, 0)..key(NORMAL, 0)).count()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Seconds the oldest waiting alert has waited (0 when none): the first of each class is
    /// the oldest of it (sequence numbers grow with time), so this reads two entries, not the
    /// backlog.
    pub fn oldest_age_secs(&self) -> u64 {
        let first = |class: u8| {
            let (_, v) = self.queue.range(key(class, 0)..=key(class, u64::MAX)).next()?.ok()?;
            Some(u64::from_be_bytes(v.get(..STAMP)?.try_into().ok()?))
        };
        [first(CRITICAL), first(NORMAL)].into_iter().flatten().min().map_or(0, |t| now().saturating_sub(t))
    }

    /// Makes deletions durable too.
    pub fn flush(&self) -> Result<(), SyncError> {
        self.db.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn critical_first_then_by_sequence_and_acknowledged_ones_go() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        let a = outbox.push("{\"n\":1}", false).unwrap();
        let b = outbox.push("{\"n\":2}", false).unwrap();
        let c = outbox.push("{\"n\":3}", true).unwrap();
        assert!(a < b && b < c, "sequence numbers increase");
        let order: Vec<u64> = outbox.next(&HashSet::new(), &mut None, 10).unwrap().iter().map(|i| i.seq).collect();
        assert_eq!(order, [c, a, b]);
        // In flight (skipped) and past the cursor: not handed out again; a new critical one is.
        let skip: HashSet<u64> = [c].into();
        let mut cursor = None;
        assert_eq!(outbox.next(&skip, &mut cursor, 1).unwrap()[0].seq, a);
        assert_eq!(cursor, Some(a));
        let d = outbox.push("{\"n\":4}", true).unwrap();
        let next: Vec<u64> = outbox.next(&skip, &mut cursor, 10).unwrap().iter().map(|i| i.seq).collect();
        assert_eq!(next, [d, b]);
        outbox.remove(&[a, c, c, d]).unwrap();
        assert_eq!(outbox.len(), 1);
        drop(outbox);
        // Reopened: what was not acknowledged is still there, and numbers are never reused.
        let outbox = Outbox::open(dir.path()).unwrap();
        assert_eq!(outbox.next(&HashSet::new(), &mut None, 10).unwrap()[0].seq, b);
        assert!(outbox.push("{}", false).unwrap() > d);
    }

    #[test]
    fn an_outbox_of_the_first_layout_is_moved_on_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = sled::open(dir.path().join("outbox")).unwrap();
            let (queue, queued) = (db.open_tree("queue").unwrap(), db.open_tree("queued").unwrap());
            queue.insert(key(NORMAL, 7), b"{\"n\":7}".as_slice()).unwrap();
            queued.insert(key(NORMAL, 7), &1_000u64.to_be_bytes()).unwrap();
            db.flush().unwrap();
        }
        let outbox = Outbox::open(dir.path()).unwrap();
        let items = outbox.next(&HashSet::new(), &mut None, 10).unwrap();
        assert_eq!((items[0].seq, items[0].json.as_str()), (7, "{\"n\":7}"));
        assert!(outbox.oldest_age_secs() > 1_000_000, "queued at Unix second 1000");
        assert!(!outbox.db.tree_names().iter().any(|n| n.as_ref() == b"queue"));
    }
}
