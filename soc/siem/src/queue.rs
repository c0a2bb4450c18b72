//! [`Queues`]: per destination, the alerts it has not taken yet, in the hub's database: tree
//! `export:NAME`, key an id of the database's generator (so, arrival order), value the Unix
//! second it was queued (8 bytes, big-endian) and the alert's key in the `alerts` tree. The
//! hub pushes just before it stores the alert, and its flush before acknowledging the sensor
//! makes both durable together.
//!
//! A queue holds at most [`MAX_QUEUED`] alerts: a destination down for so long loses its
//! oldest ones, counted (the alerts stay at the hub).

use sled::IVec;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Alerts one destination's queue holds at most.
pub const MAX_QUEUED: u64 = 10_000_000;

/// One destination's queue.
pub(crate) struct Queue {
    /// The destination's name.
    pub name: String,
    tree: sled::Tree,
    len: AtomicU64,
    /// Alerts dropped because the queue was full.
    pub dropped: AtomicU64,
}

/// Every destination's queue; cheap to clone.
#[derive(Clone)]
pub struct Queues {
    db: sled::Db,
    queues: Arc<[Queue]>,
}

impl Queues {
    /// Opens the queues of `names` in `db`. Counting what each holds reads it once.
    pub fn open(db: &sled::Db, names: &[String]) -> Result<Queues, sled::Error> {
        let queues = names
            .iter()
            .map(|name| {
                let tree = db.open_tree(format!("export:{name}"))?;
                let len = AtomicU64::new(tree.len() as u64);
                Ok(Queue { name: name.clone(), tree, len, dropped: AtomicU64::new(0) })
            })
            .collect::<Result<Vec<_>, sled::Error>>()?;
        Ok(Queues { db: db.clone(), queues: queues.into() })
    }

    /// Queues the alert stored under `alert_key` for every destination (durable with the
    /// database's next flush).
    pub fn push(&self, alert_key: &[u8]) -> Result<(), sled::Error> {
        for q in self.queues.iter() {
            let at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
            q.tree.insert(self.db.generate_id()?.to_be_bytes(), [&at.to_be_bytes()[..], alert_key].concat())?;
            if q.len.fetch_add(1, Ordering::Relaxed) + 1 > MAX_QUEUED && q.tree.pop_min()?.is_some() {
                q.len.fetch_sub(1, Ordering::Relaxed);
                q.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    pub(crate) fn get(&self, i: usize) -> &Queue {
        &self.queues[i]
    }

    pub(crate) fn count(&self) -> usize {
        self.queues.len()
    }

    pub(crate) fn db(&self) -> &sled::Db {
        &self.db
    }
}

impl Queue {
    /// The oldest `max` entries: (queue key, Unix second queued, alert key).
    pub fn peek(&self, max: usize) -> Result<Vec<(IVec, u64, Vec<u8>)>, sled::Error> {
        let entry = |(k, v): (IVec, IVec)| {
            let at = v.get(..8).and_then(|b| b.try_into().ok()).map_or(0, u64::from_be_bytes);
            (k, at, v.get(8..).unwrap_or_default().to_vec())
        };
        self.tree.iter().take(max).map(|e| e.map(entry)).collect()
    }

    /// Removes delivered entries.
    pub fn remove(&self, keys: impl IntoIterator<Item = IVec>) -> Result<(), sled::Error> {
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for k in keys {
            batch.remove(k);
            n += 1;
        }
        self.tree.apply_batch(batch)?;
        self.len.fetch_sub(n, Ordering::Relaxed);
        Ok(())
    }

    /// Entries waiting.
    pub fn len(&self) -> u64 {
        self.len.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_destination_gets_every_alert_in_arrival_order() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let queues = Queues::open(&db, &["a".into(), "b".into()]).unwrap();
        for k in [b"s2\0x", b"s1\0y", b"s3\0z"] {
            queues.push(k).unwrap();
        }
        let a = queues.get(0).peek(10).unwrap();
        let keys: Vec<&[u8]> = a.iter().map(|(_, _, v)| v.as_ref()).collect();
        assert_eq!(keys, [b"s2\0x", b"s1\0y", b"s3\0z"]);
        assert!(a.iter().all(|(_, at, _)| *at > 1_700_000_000), "queued now");
        queues.get(0).remove(a.into_iter().take(2).map(|(k, _, _)| k)).unwrap();
        assert_eq!(queues.get(0).len(), 1);
        assert_eq!(queues.get(1).len(), 3);
        // The counts survive a reopen.
        drop(queues);
        let queues = Queues::open(&db, &["a".into(), "b".into()]).unwrap();
        assert_eq!((queues.get(0).len(), queues.get(1).len()), (1, 3));
    }
}
