//! Threat-intelligence feeds at run time: loaded at start (each feed's outcome reported), then
//! reloaded by a thread of their own whenever a file of the feeds directory changes, and
//! published to the workers through an [`IntelHandle`] (no lock on the packet path).

use sensor_detect::intel::{self, IntelConfig, IntelHandle, LoadReport};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

/// How often the reloader wakes to see whether it should stop; the directory itself is checked
/// every `reload_interval`.
const STOP_CHECK: Duration = Duration::from_millis(200);

/// The feeds and the thread reloading them; dropping it stops the thread.
pub struct Feeds {
    handle: IntelHandle,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Feeds {
    /// Loads the feeds of `cfg.dir` (`None` when no directory is configured) and starts
    /// watching it. A directory that cannot be read or a bad public key is an error; a bad feed
    /// is reported on stderr and left out.
    pub fn start(cfg: &IntelConfig) -> anyhow::Result<Option<Feeds>> {
        let Some(dir) = cfg.dir.clone() else { return Ok(None) };
        let (intel, report) = intel::load(cfg).map_err(|e| anyhow::anyhow!("threat-intelligence feeds: {e}"))?;
        print_report(&report, false);
        let handle = IntelHandle::new(intel);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (handle, stop, cfg) = (handle.clone(), stop.clone(), cfg.clone());
            std::thread::Builder::new().name("feeds".into()).spawn(move || watch(&dir, &cfg, &handle, &stop))?
        };
        Ok(Some(Feeds { handle, stop, thread: Some(thread) }))
    }

    /// The handle workers look indicators up through.
    pub fn handle(&self) -> IntelHandle {
        self.handle.clone()
    }
}

impl Drop for Feeds {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn print_report(report: &LoadReport, reload: bool) {
    let verb = if reload { "reloaded" } else { "loaded" };
    for f in &report.feeds {
        match &f.refused {
            Some(reason) => eprintln!("sensor: feed {}: refused: {reason}", f.name),
            None => eprintln!("sensor: feed {}: {verb} {} indicators ({} skipped)", f.name, f.indicators, f.skipped),
        }
    }
}

/// Names, sizes and modification times of the directory's files: a change in any means reload.
fn snapshot(dir: &PathBuf) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            meta.is_file().then(|| (e.path(), meta.len(), meta.modified().ok()))
        })
        .collect();
    files.sort();
    files
}

fn watch(dir: &PathBuf, cfg: &IntelConfig, handle: &IntelHandle, stop: &AtomicBool) {
    let mut seen = snapshot(dir);
    let mut since_check = Duration::ZERO;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(STOP_CHECK);
        since_check += STOP_CHECK;
        if since_check < cfg.reload_interval {
            continue;
        }
        since_check = Duration::ZERO;
        let now = snapshot(dir);
        if now == seen {
            continue;
        }
        seen = now;
        match intel::load(cfg) {
            Ok((intel, report)) => {
                print_report(&report, true);
                handle.replace(intel);
            }
            // The directory went away or became unreadable: keep what was loaded.
            Err(e) => eprintln!("sensor: feeds not reloaded, keeping the loaded ones: {e}"),
        }
    }
}
