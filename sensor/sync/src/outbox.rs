//! [`Outbox`]: alerts waiting for the hub's acknowledgement, on disk (sled, `DIR/outbox`).
//!
//! Each alert gets the next sequence number of the sensor (sled's persistent id generator:
//! increasing, never reused, even across crashes) and is stored under `(class, seq)`, class 0
//! for critical alerts and 1 for the rest, so that reading the queue in key order hands out
//! critical alerts ahead of any backlog. An alert is made durable before [`Outbox::push`]
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
    /// Unix seconds each alert was queued, by key (for the backlog's age).
    queued: sled::Tree,
}

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
        Ok(Outbox { queue: db.open_tree("queue")?, queued: db.open_tree("queued")?, db })
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
        self.queue.insert(k, json.as_bytes())?;
        self.queued.insert(k, &now().to_be_bytes())?;
        Ok(seq)
    }

    /// Up to `max` queued alerts not in `skip`, critical ones first, then by sequence.
    pub fn next(&self, skip: &HashSet<u64>, max: usize) -> Result<Vec<AlertItem>, SyncError> {
        let mut out = Vec::new();
        for entry in self.queue.iter() {
            let (k, v) = entry?;
            let Some(seq) = seq_of(&k) else { continue };
            if skip.contains(&seq) {
                continue;
            }
            out.push(AlertItem { seq, json: String::from_utf8_lossy(&v).into_owned() });
            if out.len() >= max {
                break;
            }
        }
        Ok(out)
    }

    /// Deletes acknowledged alerts (absent ones are ignored: acknowledged twice).
    pub fn remove(&self, seqs: &[u64]) -> Result<(), SyncError> {
        for &seq in seqs {
            for class in [CRITICAL, NORMAL] {
                self.queue.remove(key(class, seq))?;
                self.queued.remove(key(class, seq))?;
            }
        }
        Ok(())
    }

    /// Alerts waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Seconds the oldest waiting alert has waited (0 when none).
    pub fn oldest_age_secs(&self) -> u64 {
        let oldest = self
            .queued
            .iter()
            .values()
            .filter_map(|v| v.ok())
            .filter_map(|v| Some(u64::from_be_bytes(v.as_ref().try_into().ok()?)))
            .min();
        oldest.map_or(0, |t| now().saturating_sub(t))
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
        let order: Vec<u64> = outbox.next(&HashSet::new(), 10).unwrap().iter().map(|i| i.seq).collect();
        assert_eq!(order, [c, a, b]);
        let skip: HashSet<u64> = [c].into();
        assert_eq!(outbox.next(&skip, 1).unwrap()[0].seq, a);
        outbox.remove(&[a, c, c]).unwrap();
        assert_eq!(outbox.len(), 1);
        drop(outbox);
        // Reopened: what was not acknowledged is still there, and numbers are never reused.
        let outbox = Outbox::open(dir.path()).unwrap();
        assert_eq!(outbox.next(&HashSet::new(), 10).unwrap()[0].seq, b);
        assert!(outbox.push("{}", false).unwrap() > c);
    }
}
