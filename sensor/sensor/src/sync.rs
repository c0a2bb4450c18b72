//! Alerts to the SOC hub: with `--data DIR` (a directory `sensor enroll` enrolled), every alert
//! an output receives is also queued, durably, in the outbox of `DIR`, and the tunnel
//! (`sensor-sync`) carries it to the hub; the replay or capture ends once the hub acknowledged
//! everything, or after `--sync-timeout` with an error and the backlog left in the outbox.
//!
//! Commands the hub signed come back down the tunnel; [`Local`] carries them out in this
//! process: a feed file written into the feeds directory (the feeds watcher loads it), a flow's
//! evidence packets read from the store this process writes. It also fills the heartbeats:
//! what the capture published in [`Capturing`], the store's size and the disk's free space.

use sensor_output::{
    Alert, ConnRecord, DnsRecordLine, EvidenceRecord, OutputError, OutputStats, RecordSink, WeirdRecord,
};
use sensor_store::Store;
use sensor_sync::{Appliance, Executed, Outbox, SyncHandle};
use soc_protocol::{Command, Health};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The outbox and its tunnel.
#[derive(Clone)]
pub struct ToHub {
    outbox: Outbox,
    tunnel: Arc<SyncHandle>,
}

impl ToHub {
    /// Opens the outbox of the enrolled directory `dir` and starts the tunnel; the hub's
    /// commands and the heartbeats go to `local`.
    pub fn start(dir: &Path, local: Local) -> anyhow::Result<ToHub> {
        let outbox = Outbox::open(dir)?;
        let tunnel = Arc::new(SyncHandle::start(dir, outbox.clone(), Some(Arc::new(local)))?);
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

/// The extensions of the files the hub may install in the feeds directory: those the feeds
/// loader reads, and signatures.
const FEED_EXTENSIONS: [&str; 5] = ["txt", "list", "csv", "json", "sig"];
/// The longest feed file name accepted.
const MAX_FEED_NAME: usize = 128;
/// Room left in a frame for the rest of a command result: an evidence export larger than a
/// frame minus this fails, saying so, instead of breaking the tunnel.
const RESULT_OVERHEAD: usize = 4096;

/// What the capture publishes as it goes (a replay after each batch, live capture every
/// second), for the heartbeats.
#[derive(Debug, Default)]
pub struct Capturing {
    /// Frames received, all interfaces and queues.
    pub rx_packets: AtomicU64,
    /// Frames the kernel lost for want of room.
    pub kernel_drops: AtomicU64,
}

impl Capturing {
    /// Publishes the totals.
    pub fn publish(&self, rx_packets: u64, kernel_drops: u64) {
        self.rx_packets.store(rx_packets, Ordering::Relaxed);
        self.kernel_drops.store(kernel_drops, Ordering::Relaxed);
    }
}

/// The sensor process as the tunnel sees it.
pub struct Local {
    /// The feeds directory (`[detect.intel] dir`), if any.
    pub feeds: Option<PathBuf>,
    /// The store this process writes, if any.
    pub store: Option<Store>,
    /// What the capture publishes.
    pub capturing: Arc<Capturing>,
}

/// A plain file name with a feed's extension: no path, no hidden file.
fn check_feed_name(name: &str) -> Result<(), String> {
    let plain = !name.is_empty()
        && name.len() <= MAX_FEED_NAME
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match plain && ext.as_deref().is_some_and(|e| FEED_EXTENSIONS.contains(&e)) {
        true => Ok(()),
        false => Err(format!(
            "feed name {name:?} refused: a plain file name of at most {MAX_FEED_NAME} characters (letters, digits, . - _) ending in .{}",
            FEED_EXTENSIONS.join(", .")
        )),
    }
}

impl Local {
    fn install_feed(&self, name: &str, content: &[u8]) -> Result<Executed, String> {
        use std::io::Write as _;
        let dir = self.feeds.as_ref().ok_or("no feeds directory configured ([detect.intel] dir)")?;
        check_feed_name(name)?;
        let (path, tmp) = (dir.join(name), dir.join(format!(".{name}.tmp")));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(content)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        let detail = format!("wrote {} ({} bytes); the feeds watcher loads it", path.display(), content.len());
        Ok(Executed { detail, attachment: Vec::new() })
    }

    fn evidence(&self, uid: &str) -> Result<Executed, String> {
        let store = self.store.as_ref().ok_or("this sensor process keeps no store")?;
        let mut pcapng = Vec::new();
        let done = crate::evidence::export(store, uid, &mut pcapng).map_err(|e| format!("{e:#}"))?;
        if pcapng.len() > soc_protocol::MAX_FRAME - RESULT_OVERHEAD {
            return Err(format!("evidence of {uid} is {} bytes, more than a tunnel frame carries", pcapng.len()));
        }
        let detail =
            format!("{} packets of {uid} as pcapng ({} skipped between first and last)", done.packets, done.skipped);
        Ok(Executed { detail, attachment: pcapng })
    }
}

impl Appliance for Local {
    fn execute(&self, command: &Command) -> Result<Executed, String> {
        match command {
            Command::IntelFeed { name, content } => self.install_feed(name, content),
            Command::Evidence { uid } => self.evidence(uid),
        }
    }

    fn health(&self) -> Health {
        let store = self.store.as_ref();
        Health {
            rx_packets: self.capturing.rx_packets.load(Ordering::Relaxed),
            kernel_drops: self.capturing.kernel_drops.load(Ordering::Relaxed),
            store_bytes: store.and_then(|s| s.footprint().ok()).unwrap_or(0),
            disk_free_bytes: store.and_then(Store::disk_free).unwrap_or(0),
            ..Health::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_names_are_plain_files_with_a_feed_extension() {
        for ok in ["blocklist.txt", "c2.csv", "apt-29.json", "apt-29.json.sig", "x_1.LIST"] {
            assert_eq!(check_feed_name(ok), Ok(()), "{ok}");
        }
        for bad in ["", "../etc/passwd.txt", "a/b.txt", ".hidden.txt", "feed.exe", "feed", "f\u{0}.txt", "feeds..txt/"]
        {
            assert!(check_feed_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_feed_is_written_whole_into_the_feeds_directory_and_nowhere_else() {
        let dir = tempfile::tempdir().unwrap();
        let commands = Local { feeds: Some(dir.path().to_owned()), store: None, capturing: Arc::default() };
        let feed = Command::IntelFeed { name: "hub.txt".into(), content: b"evil.example\n".to_vec() };
        commands.execute(&feed).unwrap();
        assert_eq!(std::fs::read(dir.path().join("hub.txt")).unwrap(), b"evil.example\n");
        let escape = Command::IntelFeed { name: "../hub.txt".into(), content: b"x".to_vec() };
        assert!(commands.execute(&escape).is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let none = Local { feeds: None, store: None, capturing: Arc::default() };
        assert!(none.execute(&feed).unwrap_err().contains("no feeds directory"));
    }
}
