//! Alerts to the SOC hub: with `--data DIR` (a directory `sensor enroll` enrolled), every alert
//! an output receives is also queued, durably, in the outbox of `DIR`, and the tunnel
//! (`sensor-sync`) carries it to the hub; the replay or capture ends once the hub acknowledged
//! everything, or after `--sync-timeout` with an error and the backlog left in the outbox.
//!
//! Commands the hub signed come back down the tunnel; [`Local`] carries them out in this
//! process: a feed file written into the feeds directory (the feeds watcher loads it), a flow's
//! evidence packets read from the store this process writes. It also fills the heartbeats:
//! what the capture published in [`RunLink`], the store's size and the disk's free space.

use sensor_detect::DetectConfig;
use sensor_output::{
    Alert, ConnRecord, DnsRecordLine, EvidenceRecord, OutputError, OutputStats, RecordSink, WeirdRecord,
};
use sensor_store::Store;
use sensor_sync::{Appliance, Executed, Outbox, SyncHandle};
use soc_protocol::{Command, Health};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    fn keeps_evidence(&self) -> bool {
        self.inner.keeps_evidence()
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

/// What the running capture and the tunnel share: the packet counts the capture publishes as
/// it goes (a replay after each batch, live capture every second), for the heartbeats; and
/// detector settings the hub pushed, for the capture to apply.
#[derive(Debug, Default)]
pub struct RunLink {
    /// Frames received, all interfaces and queues.
    pub rx_packets: AtomicU64,
    /// Frames the kernel lost for want of room.
    pub kernel_drops: AtomicU64,
    /// New detector settings not yet applied.
    detect: Mutex<Option<DetectConfig>>,
    /// Whether `detect` holds some: read without the lock after every batch of packets.
    detect_waiting: AtomicBool,
}

impl RunLink {
    /// Publishes the totals.
    pub fn publish(&self, rx_packets: u64, kernel_drops: u64) {
        self.rx_packets.store(rx_packets, Ordering::Relaxed);
        self.kernel_drops.store(kernel_drops, Ordering::Relaxed);
    }

    /// Hands new detector settings to the capture.
    pub fn push_detect(&self, cfg: DetectConfig) {
        let mut detect = self.detect.lock().unwrap_or_else(|e| e.into_inner());
        *detect = Some(cfg);
        self.detect_waiting.store(true, Ordering::Release);
    }

    /// New detector settings, once.
    pub fn take_detect(&self) -> Option<DetectConfig> {
        if !self.detect_waiting.load(Ordering::Acquire) {
            return None;
        }
        let mut detect = self.detect.lock().unwrap_or_else(|e| e.into_inner());
        self.detect_waiting.store(false, Ordering::Release);
        detect.take()
    }
}

/// The sensor process as the tunnel sees it.
pub struct Local {
    /// The enrolled data directory (where settings from the hub are kept).
    pub data: PathBuf,
    /// The detector settings in force (their `intel` part is never changed from the hub).
    pub detect: Mutex<DetectConfig>,
    /// The store this process writes, if any.
    pub store: Option<Store>,
    /// What the capture publishes and applies.
    pub link: Arc<RunLink>,
}

/// Where a sensor keeps the detector settings the hub pushed, in its data directory.
pub const HUB_DETECT_FILE: &str = "detect.toml";

/// `cfg` with the detector settings the hub pushed to `data` earlier, if any (their `intel`
/// part stays the configuration's).
pub fn with_hub_detect(mut cfg: DetectConfig, data: &Path) -> anyhow::Result<DetectConfig> {
    let path = data.join(HUB_DETECT_FILE);
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(cfg) };
    let intel = cfg.intel.clone();
    cfg = parse_detect(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    cfg.intel = intel;
    eprintln!("sensor: detector settings from the SOC hub ({}) replace [detect]", path.display());
    Ok(cfg)
}

/// Detector settings as the hub sends them: `[detect]` keys as TOML, no `intel` table.
fn parse_detect(text: &str) -> Result<DetectConfig, String> {
    let table: toml::Table = toml::from_str(text).map_err(|e| format!("not TOML: {e}"))?;
    if table.contains_key("intel") {
        return Err("the intel table is not changed from the hub (feeds come as intel_feed commands)".into());
    }
    toml::from_str(text).map_err(|e| format!("not detector settings: {e}"))
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
        let dir = self.detect.lock().unwrap_or_else(|e| e.into_inner()).intel.dir.clone();
        let dir = dir.ok_or("no feeds directory configured ([detect.intel] dir)")?;
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

    fn detect_config(&self, text: &str) -> Result<Executed, String> {
        let mut cfg = parse_detect(text)?;
        let mut current = self.detect.lock().unwrap_or_else(|e| e.into_inner());
        cfg.intel = current.intel.clone();
        let path = self.data.join(HUB_DETECT_FILE);
        let tmp = self.data.join(format!("{HUB_DETECT_FILE}.new"));
        let write = || -> std::io::Result<()> {
            use std::io::Write as _;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| format!("cannot keep the settings in {}: {e}", path.display()))?;
        self.link.push_detect(cfg.clone());
        *current = cfg;
        let detail = format!(
            "detector settings applied (their counts start over) and kept in {} for the next start",
            path.display()
        );
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
            Command::DetectConfig { toml } => self.detect_config(toml),
        }
    }

    fn health(&self) -> Health {
        let store = self.store.as_ref();
        Health {
            rx_packets: self.link.rx_packets.load(Ordering::Relaxed),
            kernel_drops: self.link.kernel_drops.load(Ordering::Relaxed),
            store_bytes: store.and_then(|s| s.footprint().ok()).unwrap_or(0),
            disk_free_bytes: store.and_then(Store::disk_free).unwrap_or(0),
            ..Health::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(data: &Path, detect: DetectConfig) -> Local {
        Local { data: data.to_owned(), detect: Mutex::new(detect), store: None, link: Arc::default() }
    }

    #[test]
    fn detector_settings_from_the_hub_apply_are_kept_and_never_touch_intel() {
        let dir = tempfile::tempdir().unwrap();
        let mut detect = DetectConfig::default();
        detect.intel.dir = Some("/etc/sensor/feeds".into());
        let l = local(dir.path(), detect.clone());
        let intel = Command::DetectConfig { toml: "[intel]\ndangerous_allow_unsigned_bundles = true\n".into() };
        assert!(l.execute(&intel).unwrap_err().contains("intel table"));
        let typo = Command::DetectConfig { toml: "[scan]\nprots = 3\n".into() };
        assert!(l.execute(&typo).unwrap_err().contains("prots"));
        assert!(l.link.take_detect().is_none() && !dir.path().join(HUB_DETECT_FILE).exists(), "nothing applied");

        l.execute(&Command::DetectConfig { toml: "[scan]\nports = 3\n".into() }).unwrap();
        let pushed = l.link.take_detect().unwrap();
        assert_eq!((pushed.scan.ports, pushed.intel.dir.as_deref()), (3, detect.intel.dir.as_deref()));
        // The next start reads it back, over the configuration's own, intel kept.
        let next = with_hub_detect(detect.clone(), dir.path()).unwrap();
        assert_eq!((next.scan.ports, next.intel), (3, detect.intel));
    }

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
        let mut detect = DetectConfig::default();
        detect.intel.dir = Some(dir.path().to_owned());
        let commands = local(dir.path(), detect);
        let feed = Command::IntelFeed { name: "hub.txt".into(), content: b"evil.example\n".to_vec() };
        commands.execute(&feed).unwrap();
        assert_eq!(std::fs::read(dir.path().join("hub.txt")).unwrap(), b"evil.example\n");
        let escape = Command::IntelFeed { name: "../hub.txt".into(), content: b"x".to_vec() };
        assert!(commands.execute(&escape).is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let none = local(dir.path(), DetectConfig::default());
        assert!(none.execute(&feed).unwrap_err().contains("no feeds directory"));
    }
}
