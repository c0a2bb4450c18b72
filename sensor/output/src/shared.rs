//! [`Shared`]: one sink written by several capture workers.

use crate::{Alert, ConnRecord, DnsRecordLine, EvidenceRecord, OutputError, OutputStats, RecordSink, WeirdRecord};
use std::sync::{Arc, Mutex, MutexGuard};

/// A sink shared by the workers of a live capture: each record is written under a lock, so
/// the store sees one writer and the logs one line at a time. Records are per flow or per
/// transaction, not per packet, so the lock is taken far less often than frames arrive.
/// Flushing (`flush`, `tick`) is done by whichever worker calls it, under the lock.
#[derive(Debug)]
pub struct Shared<O>(Arc<Mutex<O>>);

impl<O> Clone for Shared<O> {
    fn clone(&self) -> Self {
        Shared(self.0.clone())
    }
}

impl<O> Shared<O> {
    /// Shares `out`.
    pub fn new(out: O) -> Shared<O> {
        Shared(Arc::new(Mutex::new(out)))
    }

    /// The sink back, once every other handle is gone; `None` while one is left.
    pub fn into_inner(self) -> Option<O> {
        Arc::into_inner(self.0).map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
    }

    /// The sink, locked. A worker that panicked while writing left it as it was: later records
    /// are still written.
    pub fn lock(&self) -> MutexGuard<'_, O> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<O: RecordSink> RecordSink for Shared<O> {
    fn conn(&mut self, rec: &ConnRecord<'_>) -> Result<(), OutputError> {
        self.lock().conn(rec)
    }

    fn dns(&mut self, rec: &DnsRecordLine<'_>) -> Result<(), OutputError> {
        self.lock().dns(rec)
    }

    fn weird(&mut self, rec: &WeirdRecord<'_>) -> Result<(), OutputError> {
        self.lock().weird(rec)
    }

    fn alert(&mut self, alert: &Alert) -> Result<(), OutputError> {
        self.lock().alert(alert)
    }

    fn evidence(&mut self, rec: &EvidenceRecord<'_>) -> Result<(), OutputError> {
        self.lock().evidence(rec)
    }

    fn keeps_evidence(&self) -> bool {
        self.lock().keeps_evidence()
    }

    fn flush(&mut self) -> Result<(), OutputError> {
        self.lock().flush()
    }

    fn tick(&mut self, now: std::time::Instant) -> Result<(), OutputError> {
        self.lock().tick(now)
    }

    fn stats(&self) -> OutputStats {
        self.lock().stats()
    }
}
