//! What the store's benchmark and dictionary trainer share: the shared captures to replay, and
//! a sink that keeps every record serialised as the store serialises it.

use sensor::config::Config;
use sensor_output::{Alert, ConnRecord, DnsRecordLine, OutputError, OutputStats, RecordSink, WeirdRecord};
use sensor_store::Kind;
use std::path::{Path, PathBuf};

/// The captures below `dir`, without `malformed/` and the folders named in `skip`.
pub fn captures(dir: &Path, skip: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for sub in std::fs::read_dir(dir).unwrap().flatten().filter(|d| d.path().is_dir()) {
        let name = sub.file_name().to_string_lossy().into_owned();
        if name == "malformed" || skip.contains(&name.as_str()) {
            continue;
        }
        for f in std::fs::read_dir(sub.path()).unwrap().flatten() {
            let p = f.path();
            if matches!(p.extension().and_then(|e| e.to_str()), Some("pcap" | "pcapng")) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Every record of a replay, postcard-serialised, with its kind.
#[derive(Default)]
pub struct Collected(pub Vec<(Kind, Vec<u8>)>);

impl Collected {
    /// Replays `captures` with uid seed `seed` and keeps the records.
    pub fn replay(captures: &[PathBuf], seed: u64) -> Collected {
        sensor::replay::replay_into(captures, &Config::default(), Collected::default(), seed).unwrap().1
    }

    /// The records of one kind.
    pub fn of(&self, kind: Kind) -> impl Iterator<Item = &[u8]> {
        self.0.iter().filter(move |r| r.0 == kind).map(|r| r.1.as_slice())
    }

    fn keep(&mut self, kind: Kind, rec: &impl serde::Serialize) -> Result<(), OutputError> {
        self.0.push((kind, postcard::to_allocvec(rec).unwrap()));
        Ok(())
    }
}

impl RecordSink for Collected {
    fn conn(&mut self, rec: &ConnRecord<'_>) -> Result<(), OutputError> {
        self.keep(Kind::Conn, rec)
    }
    fn dns(&mut self, rec: &DnsRecordLine<'_>) -> Result<(), OutputError> {
        self.keep(Kind::Dns, rec)
    }
    fn weird(&mut self, rec: &WeirdRecord<'_>) -> Result<(), OutputError> {
        self.keep(Kind::Weird, rec)
    }
    fn alert(&mut self, _: &Alert) -> Result<(), OutputError> {
        Ok(())
    }
    fn flush(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
    fn stats(&self) -> OutputStats {
        OutputStats::default()
    }
}
