//! Alerts to the SOC hub: with `--data DIR` (a directory `sensor enroll` enrolled), every alert
//! an output receives is also queued, durably, in the outbox of `DIR`, and the tunnel
//! (`sensor-sync`) carries it to the hub; the replay or capture ends once the hub acknowledged
//! everything, or after `--sync-timeout` with an error and the backlog left in the outbox.
//!
//! Commands the hub signed come back down the tunnel; [`SensorCommands`] carries them out in
//! this process: a feed file written into the feeds directory (the feeds watcher loads it), a
//! flow's evidence packets read from the store this process writes.

use sensor_output::{
    Alert, ConnRecord, DnsRecordLine, EvidenceRecord, OutputError, OutputStats, RecordSink, WeirdRecord,
};
use sensor_store::Store;
use sensor_sync::{Executed, Executor, Outbox, SyncHandle};
use soc_protocol::Command;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The outbox and its tunnel.
#[derive(Clone)]
pub struct ToHub {
    outbox: Outbox,
    tunnel: Arc<SyncHandle>,
}

impl ToHub {
    /// Opens the outbox of the enrolled directory `dir` and starts the tunnel; the hub's
    /// commands go to `commands`.
    pub fn start(dir: &Path, commands: SensorCommands) -> anyhow::Result<ToHub> {
        let outbox = Outbox::open(dir)?;
        let tunnel = Arc::new(SyncHandle::start(dir, outbox.clone(), Some(Arc::new(commands)))?);
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

/// Carries out the hub's commands in this process.
pub struct SensorCommands {
    /// The feeds directory (`[detect.intel] dir`), if any.
    pub feeds: Option<PathBuf>,
    /// The store this process writes, if any.
    pub store: Option<Store>,
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

impl SensorCommands {
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

impl Executor for SensorCommands {
    fn execute(&self, command: &Command) -> Result<Executed, String> {
        match command {
            Command::IntelFeed { name, content } => self.install_feed(name, content),
            Command::Evidence { uid } => self.evidence(uid),
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
        let commands = SensorCommands { feeds: Some(dir.path().to_owned()), store: None };
        let feed = Command::IntelFeed { name: "hub.txt".into(), content: b"evil.example\n".to_vec() };
        commands.execute(&feed).unwrap();
        assert_eq!(std::fs::read(dir.path().join("hub.txt")).unwrap(), b"evil.example\n");
        let escape = Command::IntelFeed { name: "../hub.txt".into(), content: b"x".to_vec() };
        assert!(commands.execute(&escape).is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let none = SensorCommands { feeds: None, store: None };
        assert!(none.execute(&feed).unwrap_err().contains("no feeds directory"));
    }
}
