//! Trains zstd dictionaries for the store and measures what they would save (`make dicts`):
//! every shared capture but the malformed ones is replayed with a fixed uid seed, each record
//! serialised as the store frames it in a block (length, then postcard bytes), and zstd's
//! trainer builds one dictionary per kind from those samples (deterministic for the same
//! captures and code). Then the records of the demo scenario, which the dictionaries never saw,
//! are compressed in blocks of several sizes with and without them.
//!
//! Usage: `train_dicts PCAP_DIR OUT_DIR` (writes `conn.zdict`, `dns.zdict`, `weird.zdict`).
//! docs/decisions/store-dictionaries.md has the figures and why none is shipped.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a tool run by hand: a failure should panic

use sensor::config::Config;
use sensor_output::{ConnRecord, DnsRecordLine, OutputError, OutputStats, RecordSink, WeirdRecord};
use std::path::{Path, PathBuf};

/// Dictionary size: zstd's default for its trainer.
const DICT_BYTES: usize = 112_640;

/// The samples of each kind.
#[derive(Default)]
struct Samples {
    conn: Vec<Vec<u8>>,
    dns: Vec<Vec<u8>>,
    weird: Vec<Vec<u8>>,
}

/// A record as a block frames it.
fn framed(rec: &impl serde::Serialize) -> Vec<u8> {
    let body = postcard::to_allocvec(rec).unwrap();
    let mut out = (body.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}

impl RecordSink for Samples {
    fn conn(&mut self, rec: &ConnRecord<'_>) -> Result<(), OutputError> {
        self.conn.push(framed(rec));
        Ok(())
    }
    fn dns(&mut self, rec: &DnsRecordLine<'_>) -> Result<(), OutputError> {
        self.dns.push(framed(rec));
        Ok(())
    }
    fn weird(&mut self, rec: &WeirdRecord<'_>) -> Result<(), OutputError> {
        self.weird.push(framed(rec));
        Ok(())
    }
    fn flush(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
    fn stats(&self) -> OutputStats {
        OutputStats::default()
    }
}

fn captures(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for sub in std::fs::read_dir(dir).unwrap().flatten().filter(|d| d.path().is_dir()) {
        if sub.file_name() == "malformed" {
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

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(pcaps), Some(out)) = (args.get(1), args.get(2)) else {
        panic!("usage: train_dicts PCAP_DIR OUT_DIR");
    };
    let (_, samples) =
        sensor::replay::replay_into(&captures(Path::new(pcaps)), &Config::default(), Samples::default(), 1).unwrap();
    std::fs::create_dir_all(out).unwrap();
    let demo_pcap = Path::new(out).join("demo.pcap");
    sensor::demo::write_pcap(&demo_pcap).unwrap();
    let (_, held_out) = sensor::replay::replay_into(&[demo_pcap], &Config::default(), Samples::default(), 2).unwrap();
    let kinds = [
        ("conn", &samples.conn, &held_out.conn),
        ("dns", &samples.dns, &held_out.dns),
        ("weird", &samples.weird, &held_out.weird),
    ];
    for (name, trained_on, tested_on) in kinds {
        let dict = zstd::dict::from_samples(trained_on, DICT_BYTES).unwrap();
        let path = Path::new(out).join(format!("{name}.zdict"));
        std::fs::write(&path, &dict).unwrap();
        println!("{}: {} bytes from {} records", path.display(), dict.len(), trained_on.len());
        if tested_on.is_empty() {
            continue;
        }
        for per_block in [16, 64, 8192] {
            println!(
                "  {name} records of the demo in blocks of {per_block:>4}: {:.1} bytes/record without, {:.1} with the dictionary",
                compressed(tested_on, per_block, &[]),
                compressed(tested_on, per_block, &dict)
            );
        }
    }
}

/// Bytes per record of `records` compressed in blocks of `per_block` (zstd level 3, with the
/// block header the store adds).
fn compressed(records: &[Vec<u8>], per_block: usize, dict: &[u8]) -> f64 {
    let mut compressor = zstd::bulk::Compressor::with_dictionary(3, dict).unwrap();
    let total: usize =
        records.chunks(per_block).map(|chunk| compressor.compress(&chunk.concat()).unwrap().len() + 44).sum();
    total as f64 / records.len() as f64
}
