//! [`JsonLines`]: one JSON object per line in `conn.jsonl`, `dns.jsonl`, `weird.jsonl` and
//! `alerts.jsonl`.

use crate::records::{ConnRecord, DnsRecordLine, WeirdRecord};
use crate::{Alert, OutputError, OutputStats, RecordSink};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Bytes gathered per log before one `write(2)`: large enough that a system call moves a useful
/// amount of data, small enough to stay in cache.
const BUFFER: usize = 1 << 20;

struct Log {
    path: PathBuf,
    file: File,
    buf: Vec<u8>,
}

impl Log {
    fn create(dir: &Path, name: &str) -> Result<Log, OutputError> {
        let path = dir.join(name);
        let io = |source| OutputError::Io { path: path.clone(), source };
        // A new file rather than a truncated old one: ext4 flushes a file that was truncated and
        // rewritten when it is closed (`auto_da_alloc`), which stalls the end of every re-run.
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
            _ => {}
        }
        let file = File::create_new(&path).map_err(io)?;
        Ok(Log { path, file, buf: Vec::with_capacity(BUFFER + BUFFER / 4) })
    }

    /// Appends one line written by `write`, and hands full buffers to the kernel.
    fn line(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> Result<(), OutputError> {
        write(&mut self.buf);
        self.buf.push(b'\n');
        if self.buf.len() >= BUFFER { self.flush() } else { Ok(()) }
    }

    fn flush(&mut self) -> Result<(), OutputError> {
        let result = self.file.write_all(&self.buf);
        self.buf.clear();
        result.map_err(|source| OutputError::Io { path: self.path.clone(), source })
    }
}

/// Zeek-style JSON logs in a directory.
pub struct JsonLines {
    conn: Log,
    dns: Log,
    weird: Log,
    alerts: Log,
    stats: OutputStats,
}

impl JsonLines {
    /// Creates the four logs in `dir` (replacing earlier ones), creating `dir` if needed.
    pub fn create(dir: &Path) -> Result<JsonLines, OutputError> {
        std::fs::create_dir_all(dir).map_err(|source| OutputError::Io { path: dir.to_owned(), source })?;
        Ok(JsonLines {
            conn: Log::create(dir, "conn.jsonl")?,
            dns: Log::create(dir, "dns.jsonl")?,
            weird: Log::create(dir, "weird.jsonl")?,
            alerts: Log::create(dir, "alerts.jsonl")?,
            stats: OutputStats::default(),
        })
    }
}

impl RecordSink for JsonLines {
    fn conn(&mut self, rec: &ConnRecord<'_>) -> Result<(), OutputError> {
        self.stats.conn += 1;
        self.conn.line(|out| rec.write_json(out))
    }

    fn dns(&mut self, rec: &DnsRecordLine<'_>) -> Result<(), OutputError> {
        self.stats.dns += 1;
        self.dns.line(|out| rec.write_json(out))
    }

    fn weird(&mut self, rec: &WeirdRecord<'_>) -> Result<(), OutputError> {
        self.stats.weird += 1;
        self.weird.line(|out| rec.write_json(out))
    }

    fn alert(&mut self, alert: &Alert) -> Result<(), OutputError> {
        self.stats.alert += 1;
        // Straight to the kernel: an alert must not wait for a buffer to fill.
        self.alerts.line(|out| {
            // Serialising plain data into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, alert);
        })?;
        self.alerts.flush()
    }

    fn flush(&mut self) -> Result<(), OutputError> {
        self.conn.flush()?;
        self.dns.flush()?;
        self.weird.flush()?;
        self.alerts.flush()
    }

    fn stats(&self) -> OutputStats {
        self.stats
    }
}
