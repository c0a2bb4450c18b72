//! The syncer: makes committed blocks durable, and applies retention, on a thread of its own.
//!
//! Making a flush durable is waiting on the disk: `fsync` of the segment, sled's flush (another
//! `fsync`), then the checkpoint (a file, its `fsync`, a rename, the directory's `fsync`). In a
//! sensor the writer is called from the capture workers, so waiting there would stall capture
//! for as long as the disk takes. The writer instead hands each flush to the syncer
//! ([`Syncer::request`]) and goes on; only an explicit [`Writer::flush`](crate::Writer::flush)
//! (the end of a replay, a test) waits for it ([`Syncer::wait`]).
//!
//! After each sync it applies retention ([`crate::retention`]): evicting a segment reads every
//! block in it and deletes its index entries, far too long to do on a capture thread.
//!
//! A request covers every block committed before it, so a request made while the previous one is
//! still running replaces any request waiting behind it: under a slow disk, syncs run back to
//! back and none piles up. Evictions and a failure are kept for the writer to report
//! ([`Syncer::results`]); the next request syncs again.

use crate::dict::Dictionaries;
use crate::retention::{self, Evicted};
use crate::segments::Segment;
use crate::trees::BlockId;
use crate::{Store, StoreConfig, StoreError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often a wait looks whether the thread is still there.
const THREAD_CHECK: Duration = Duration::from_secs(1);

/// What one sync makes durable.
struct Request {
    /// The segments blocks were appended to since the last request ran.
    segments: Vec<Segment>,
    /// Blocks before this id are committed: the checkpoint to write.
    next: BlockId,
    /// Its number, to wait for.
    serial: u64,
}

#[derive(Default)]
struct State {
    /// The request to run next (the newest; it covers those it replaced).
    waiting: Option<Request>,
    /// Serial of the last request made.
    requested: u64,
    /// Serial of the last request done (successfully or not).
    done: u64,
    /// Evicted since the last report.
    evicted: Evicted,
    /// The last failure, not yet reported.
    failure: Option<StoreError>,
    stop: bool,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing in the critical sections panics; a poisoned lock still holds consistent state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The syncing thread and the way to it.
pub(crate) struct Syncer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Syncer {
    /// Starts the thread for `store`, with the retention limits of `cfg`.
    pub(crate) fn start(store: Store, cfg: &StoreConfig) -> Result<Syncer, StoreError> {
        let shared = Arc::new(Shared { state: Mutex::new(State::default()), changed: Condvar::new() });
        let theirs = Arc::clone(&shared);
        let cfg = cfg.clone();
        let thread = std::thread::Builder::new()
            .name("store-sync".into())
            .spawn(move || run(&store, &cfg, &theirs))
            .map_err(|source| StoreError::Io { path: "store-sync thread".into(), source })?;
        Ok(Syncer { shared, thread: Some(thread) })
    }

    /// Asks for the blocks before `next` (appended to `segment` since the last request) to be
    /// made durable, then for retention; returns the request's serial, for [`Syncer::wait`].
    pub(crate) fn request(&self, segment: Option<Segment>, next: BlockId) -> u64 {
        let mut state = self.shared.lock();
        state.requested += 1;
        let serial = state.requested;
        // A request still waiting is replaced, and its segments go with the new one.
        let mut segments = state.waiting.take().map(|r| r.segments).unwrap_or_default();
        if let Some(segment) = segment
            && !segments.iter().any(|s| s.number == segment.number)
        {
            segments.push(segment);
        }
        state.waiting = Some(Request { segments, next, serial });
        self.shared.changed.notify_all();
        serial
    }

    /// Waits until request `serial` is done. Should the thread have died (it never panics on
    /// purpose), the wait ends with a failure instead of hanging.
    pub(crate) fn wait(&self, serial: u64) {
        let mut state = self.shared.lock();
        while state.done < serial {
            if self.thread.as_ref().is_none_or(JoinHandle::is_finished) {
                let stopped = std::io::Error::other("the store's sync thread stopped");
                state.failure = Some(StoreError::Io { path: "store-sync thread".into(), source: stopped });
                return;
            }
            let timeout = self.shared.changed.wait_timeout(state, THREAD_CHECK);
            state = timeout.unwrap_or_else(PoisonError::into_inner).0;
        }
    }

    /// What was evicted since the last call, and the last failure since then, if any.
    pub(crate) fn results(&self) -> (Evicted, Option<StoreError>) {
        let mut state = self.shared.lock();
        (core::mem::take(&mut state.evicted), state.failure.take())
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.changed.notify_all();
        if let Some(thread) = self.thread.take() {
            // The thread only returns; a panic there has been reported already.
            let _ = thread.join();
        }
    }
}

/// The thread: runs requests until stopped, finishing the one waiting first.
fn run(store: &Store, cfg: &StoreConfig, shared: &Shared) {
    let mut dicts = Dictionaries::new(cfg.compression_level);
    loop {
        let request = {
            let mut state = shared.lock();
            loop {
                if let Some(request) = state.waiting.take() {
                    break request;
                }
                if state.stop {
                    return;
                }
                state = shared.changed.wait(state).unwrap_or_else(PoisonError::into_inner);
            }
        };
        let result = sync(store, &request).and_then(|()| enforce_budget(store, &mut dicts, cfg));
        let mut state = shared.lock();
        state.done = request.serial;
        match result {
            Ok(evicted) => state.evicted.add(&evicted),
            Err(e) => state.failure = Some(e),
        }
        shared.changed.notify_all();
    }
}

/// Evicts what the disk budget and the age limit say must go.
///
/// The budget is the configured one, or less when the filesystem cannot hold it with
/// [`StoreConfig::min_free_bytes`] to spare (other files grew, or the disk is small): the store
/// then shrinks to leave the reserve free.
fn enforce_budget(store: &Store, dicts: &mut Dictionaries, cfg: &StoreConfig) -> Result<Evicted, StoreError> {
    let footprint = store.footprint()?;
    let fits = store.disk_free().map_or(u64::MAX, |free| (footprint + free).saturating_sub(cfg.min_free_bytes));
    let budget = cfg.disk_budget.min(fits);
    let cutoff = std::time::SystemTime::now().checked_sub(cfg.max_age).unwrap_or(std::time::UNIX_EPOCH);
    retention::evict(store, dicts, budget, cutoff)
}

/// Segment, then sled, then the checkpoint: the checkpoint never names a block that is not yet
/// on disk.
fn sync(store: &Store, request: &Request) -> Result<(), StoreError> {
    for segment in &request.segments {
        segment.sync()?;
    }
    store.db.flush()?;
    store.write_checkpoint(request.next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreConfig;

    #[test]
    fn the_checkpoint_follows_the_newest_request_and_waits_end() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &StoreConfig::default()).unwrap();
        let syncer = Syncer::start(store, &StoreConfig::default()).unwrap();
        let first = syncer.request(None, BlockId(3));
        // Requests made while one runs replace each other; every wait still ends.
        let last = (4..50).fold(first, |_, n| syncer.request(None, BlockId(n)));
        syncer.wait(first);
        syncer.wait(last);
        assert_eq!(std::fs::read_to_string(dir.path().join("CHECKPOINT")).unwrap(), "49\n");
        assert!(syncer.results().1.is_none());
    }
}
