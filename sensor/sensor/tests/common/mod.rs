//! Helpers shared by the end-to-end tests: where the shared captures are, replaying one into a
//! temporary directory, reading our JSON lines and Zeek's TSV logs.

#![allow(dead_code)] // each test binary uses a different subset

pub mod labels;

use sensor::config::Config;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The shared captures, beside the repository (`../shared/data/pcaps`).
pub fn pcaps() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/pcaps")
}

/// Every capture file of the shared set, sorted.
pub fn all_captures() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let dirs = std::fs::read_dir(pcaps()).expect("../shared/data/pcaps must exist beside the repository");
    for dir in dirs.flatten().filter(|d| d.path().is_dir()) {
        for f in std::fs::read_dir(dir.path()).unwrap().flatten() {
            let p = f.path();
            if matches!(p.extension().and_then(|e| e.to_str()), Some("pcap" | "pcapng")) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A child process, killed (by its PID) and reaped if the test fails before it exits.
pub struct Child(pub std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The records of one replay.
pub struct Replayed {
    pub dir: tempfile::TempDir,
    pub summary: sensor::replay::Summary,
    pub conn: Vec<Value>,
    pub dns: Vec<Value>,
    pub weird: Vec<Value>,
    pub alerts: Vec<Value>,
}

/// Replays captures with the default configuration and a fixed uid seed, into JSON lines and a
/// store, and checks that the store gives back exactly the JSON lines' records.
pub fn replay(captures: &[PathBuf]) -> Replayed {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let outputs = sensor::replay::Outputs {
        store: Some(store.clone()),
        jsonl: Some(dir.path().to_owned()),
        ..Default::default()
    };
    let summary = sensor::replay::replay(captures, &Config::default(), &outputs, 7)
        .unwrap_or_else(|e| panic!("replay of {captures:?} failed: {e:#}"));
    let text = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    let read = |name: &str| -> Vec<Value> {
        text(name)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{name}: bad JSON {e}: {l}")))
            .collect()
    };
    let (conn, dns, weird, alerts) = (read("conn.jsonl"), read("dns.jsonl"), read("weird.jsonl"), read("alerts.jsonl"));
    let mut from_files: Vec<String> = ["conn.jsonl", "dns.jsonl", "weird.jsonl", "alerts.jsonl"]
        .iter()
        .flat_map(|f| text(f).lines().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    let mut from_store = stored_lines(&store);
    from_files.sort();
    from_store.sort();
    if from_store != from_files {
        let missing: Vec<_> = from_files.iter().filter(|l| !from_store.contains(l)).take(2).collect();
        let extra: Vec<_> = from_store.iter().filter(|l| !from_files.contains(l)).take(2).collect();
        panic!(
            "{captures:?}: the store gives back {} records for {} JSON lines; missing {missing:?}, extra {extra:?}",
            from_store.len(),
            from_files.len()
        );
    }
    Replayed { dir, summary, conn, dns, weird, alerts }
}

/// Every record of a store that JSON lines also hold (all but evidence packets), as its JSON line.
pub fn stored_lines(dir: &Path) -> Vec<String> {
    use sensor_store::Kind;
    let store = sensor_store::Store::open(dir, &sensor_store::StoreConfig::default()).unwrap();
    let kinds = vec![Kind::Conn, Kind::Dns, Kind::Weird, Kind::Alert];
    store
        .query(&sensor_store::Query { kinds, ..sensor_store::Query::default() })
        .unwrap()
        .map(|hit| {
            let mut line = Vec::new();
            hit.unwrap().decoded().unwrap().write_json(&mut line);
            String::from_utf8(line).unwrap()
        })
        .collect()
}

/// One row of a Zeek TSV log, by field name, with `-` (unset) rows left out.
pub type ZeekRow = BTreeMap<String, String>;

/// Reads a Zeek ASCII log (btest baseline). Files cut with zeek-cut have no `#fields` line: their
/// first non-comment line is the header.
pub fn read_zeek_log(path: &Path) -> Vec<ZeekRow> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut fields: Option<Vec<String>> = None;
    let mut rows = Vec::new();
    for line in text.lines() {
        if let Some(f) = line.strip_prefix("#fields\t") {
            fields = Some(f.split('\t').map(str::to_owned).collect());
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let Some(names) = &fields else {
            fields = Some(line.split('\t').map(str::to_owned).collect());
            continue;
        };
        let row = names
            .iter()
            .zip(line.split('\t'))
            .filter(|(_, v)| *v != "-")
            .map(|(k, v)| (k.clone(), v.to_owned()))
            .collect();
        rows.push(row);
    }
    rows
}

/// The field names a Zeek log declares (to know which ones it has at all).
pub fn zeek_fields(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    for line in text.lines() {
        if let Some(f) = line.strip_prefix("#fields\t") {
            return f.split('\t').map(str::to_owned).collect();
        }
        if !line.starts_with('#') {
            return line.split('\t').map(str::to_owned).collect();
        }
    }
    Vec::new()
}

/// Undoes Zeek's `\xNN` escaping of log values.
pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b.get(i + 1) == Some(&b'x')
            && let Ok(v) = u8::from_str_radix(&s[i + 2..i + 4], 16)
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A Zeek vector field split into elements.
pub fn zeek_vector(v: Option<&String>) -> Vec<String> {
    match v {
        None => Vec::new(),
        Some(s) if s == "(empty)" => Vec::new(),
        Some(s) => s.split(',').map(unescape).collect(),
    }
}

/// Our JSON value as a string in Zeek's TSV spelling (T/F for booleans, "%.6f" for floats).
pub fn as_zeek(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Bool(b) => Some(if *b { "T" } else { "F" }.to_owned()),
        Value::Number(n) if n.is_f64() => Some(format!("{:.6}", n.as_f64()?)),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// The documented parity exceptions: rows of the table in docs/parity.md between the
/// `<!-- exceptions -->` markers, as (capture, log, field).
pub fn documented_exceptions() -> Vec<(String, String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/parity.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut inside = false;
    let mut rows = Vec::new();
    for line in text.lines() {
        if line.trim() == "<!-- exceptions -->" {
            inside = !inside;
            continue;
        }
        if !inside || !line.starts_with('|') || line.starts_with("|---") || line.starts_with("| capture") {
            continue;
        }
        let cells: Vec<String> = line.split('|').map(|c| c.trim().trim_matches('`').to_owned()).collect();
        if cells.len() >= 5 {
            rows.push((cells[1].clone(), cells[2].clone(), cells[3].clone()));
        }
    }
    rows
}
