//! [`JsonLines`]: one JSON object per line in `conn.jsonl`, `dns.jsonl` and `weird.jsonl`.

use crate::records::{ConnRecord, DnsRecordLine, WeirdRecord};
use crate::{OutputError, OutputStats, RecordSink};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Buffer per log file: large enough that a write system call moves a useful amount of data.
const BUFFER: usize = 1 << 20;

struct Log {
    path: PathBuf,
    out: BufWriter<File>,
}

impl Log {
    fn create(dir: &Path, name: &str) -> Result<Log, OutputError> {
        let path = dir.join(name);
        let file = File::create(&path).map_err(|source| OutputError::Io { path: path.clone(), source })?;
        Ok(Log { path, out: BufWriter::with_capacity(BUFFER, file) })
    }

    fn io(&self, source: std::io::Error) -> OutputError {
        OutputError::Io { path: self.path.clone(), source }
    }

    fn line(&mut self, write: impl FnOnce(&mut BufWriter<File>) -> serde_json::Result<()>) -> Result<(), OutputError> {
        let result = write(&mut self.out).map_err(std::io::Error::from).and_then(|()| self.out.write_all(b"\n"));
        result.map_err(|e| self.io(e))
    }
}

/// Zeek-style JSON logs in a directory.
pub struct JsonLines {
    conn: Log,
    dns: Log,
    weird: Log,
    stats: OutputStats,
    ttls: Vec<f64>,
}

impl JsonLines {
    /// Creates (truncating) the three logs in `dir`, creating `dir` if needed.
    pub fn create(dir: &Path) -> Result<JsonLines, OutputError> {
        std::fs::create_dir_all(dir).map_err(|source| OutputError::Io { path: dir.to_owned(), source })?;
        Ok(JsonLines {
            conn: Log::create(dir, "conn.jsonl")?,
            dns: Log::create(dir, "dns.jsonl")?,
            weird: Log::create(dir, "weird.jsonl")?,
            stats: OutputStats::default(),
            ttls: Vec::new(),
        })
    }
}

impl RecordSink for JsonLines {
    fn conn(&mut self, rec: &ConnRecord<'_>) -> Result<(), OutputError> {
        self.stats.conn += 1;
        self.conn.line(|w| serde_json::to_writer(w, rec))
    }

    fn dns(&mut self, rec: &DnsRecordLine<'_>) -> Result<(), OutputError> {
        self.stats.dns += 1;
        let ttls = &mut self.ttls;
        self.dns.line(|w| rec.write_json(w, ttls))
    }

    fn weird(&mut self, rec: &WeirdRecord<'_>) -> Result<(), OutputError> {
        self.stats.weird += 1;
        self.weird.line(|w| serde_json::to_writer(w, rec))
    }

    fn flush(&mut self) -> Result<(), OutputError> {
        for log in [&mut self.conn, &mut self.dns, &mut self.weird] {
            log.out.flush().map_err(|e| log.io(e))?;
        }
        Ok(())
    }

    fn stats(&self) -> OutputStats {
        self.stats
    }
}
