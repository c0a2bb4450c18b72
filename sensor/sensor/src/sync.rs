//! Alerts to the SOC hub: with `--data DIR` (a directory `sensor enroll` enrolled), every alert
//! an output receives is also queued, durably, in the outbox of `DIR`, and the tunnel
//! (`sensor-sync`) carries it to the hub; the replay or capture ends once the hub acknowledged
//! everything, or after `--sync-timeout` with an error and the backlog left in the outbox.

use sensor_output::{
    Alert, ConnRecord, DnsRecordLine, EvidenceRecord, OutputError, OutputStats, RecordSink, WeirdRecord,
};
use sensor_sync::{Outbox, SyncHandle};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The outbox and its tunnel.
#[derive(Clone)]
pub struct ToHub {
    outbox: Outbox,
    tunnel: Arc<SyncHandle>,
}

impl ToHub {
    /// Opens the outbox of the enrolled directory `dir` and starts the tunnel.
    pub fn start(dir: &Path) -> anyhow::Result<ToHub> {
        let outbox = Outbox::open(dir)?;
        let tunnel = Arc::new(SyncHandle::start(dir, outbox.clone())?);
        Ok(ToHub { outbox, tunnel })
    }

    /// Queues an alert for the hub.
    fn push(&self, alert: &Alert) -> Result<(), OutputError> {
        let json = serde_json::to_string(alert).map_err(|e| OutputError::Store(Box::new(e)))?;
        let critical = alert.severity == sensor_detect::Severity::Critical;
        self.outbox.push(&json, critical).map_err(|e| OutputError::Store(Box::new(e)))?;
        self.tunnel.notify();
        Ok(())
    }

    /// Waits until the hub acknowledged every queued alert, at most `timeout`.
    pub fn drain(&self, timeout: Duration) -> anyhow::Result<()> {
        if !self.tunnel.wait_drained(timeout) {
            anyhow::bail!(
                "{} alerts not acknowledged by the hub after {timeout:?}: they stay in the outbox and go at the next run",
                self.outbox.len()
            );
        }
        Ok(())
    }
}

/// An output whose alerts also go to the hub when syncing.
pub struct WithHub<O> {
    /// The output.
    pub inner: O,
    /// The hub, when syncing.
    pub hub: Option<ToHub>,
}

impl<O: RecordSink> RecordSink for WithHub<O> {
    fn conn(&mut self, rec: &ConnRecord<'_>) -> Result<(), OutputError> {
        self.inner.conn(rec)
    }
    fn dns(&mut self, rec: &DnsRecordLine<'_>) -> Result<(), OutputError> {
        self.inner.dns(rec)
    }
    fn weird(&mut self, rec: &WeirdRecord<'_>) -> Result<(), OutputError> {
        self.inner.weird(rec)
    }
    fn alert(&mut self, alert: &Alert) -> Result<(), OutputError> {
        self.inner.alert(alert)?;
        match &self.hub {
            Some(hub) => hub.push(alert),
            None => Ok(()),
        }
    }
    fn evidence(&mut self, rec: &EvidenceRecord<'_>) -> Result<(), OutputError> {
        self.inner.evidence(rec)
    }
    fn flush(&mut self) -> Result<(), OutputError> {
        self.inner.flush()
    }
    fn tick(&mut self, now: std::time::Instant) -> Result<(), OutputError> {
        self.inner.tick(now)
    }
    fn stats(&self) -> OutputStats {
        self.inner.stats()
    }
}
