//! [`Tee`]: records written to two sinks, e.g. the store and JSON lines.

use crate::{Alert, ConnRecord, DnsRecordLine, EvidenceRecord, OutputError, OutputStats, RecordSink, WeirdRecord};
use std::time::Instant;

/// Writes every record to `first`, then to `second`. Stats are the first sink's.
#[derive(Debug)]
pub struct Tee<A, B> {
    /// The primary sink.
    pub first: A,
    /// The extra sink.
    pub second: B,
}

impl<A: RecordSink, B: RecordSink> RecordSink for Tee<A, B> {
    fn conn(&mut self, rec: &ConnRecord<'_>) -> Result<(), OutputError> {
        self.first.conn(rec)?;
        self.second.conn(rec)
    }

    fn dns(&mut self, rec: &DnsRecordLine<'_>) -> Result<(), OutputError> {
        self.first.dns(rec)?;
        self.second.dns(rec)
    }

    fn weird(&mut self, rec: &WeirdRecord<'_>) -> Result<(), OutputError> {
        self.first.weird(rec)?;
        self.second.weird(rec)
    }

    fn alert(&mut self, alert: &Alert) -> Result<(), OutputError> {
        self.first.alert(alert)?;
        self.second.alert(alert)
    }

    fn evidence(&mut self, rec: &EvidenceRecord<'_>) -> Result<(), OutputError> {
        self.first.evidence(rec)?;
        self.second.evidence(rec)
    }

    fn keeps_evidence(&self) -> bool {
        self.first.keeps_evidence() || self.second.keeps_evidence()
    }

    fn flush(&mut self) -> Result<(), OutputError> {
        self.first.flush()?;
        self.second.flush()
    }

    fn tick(&mut self, now: Instant) -> Result<(), OutputError> {
        self.first.tick(now)?;
        self.second.tick(now)
    }

    fn stats(&self) -> OutputStats {
        self.first.stats()
    }
}
