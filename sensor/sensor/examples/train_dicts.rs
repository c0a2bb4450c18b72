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

mod common;

use common::Collected;
use sensor_store::Kind;
use std::path::Path;

/// Dictionary size: zstd's default for its trainer.
const DICT_BYTES: usize = 112_640;

/// The records of `kind`, each framed as a block holds it (length, then postcard bytes).
fn framed(records: &Collected, kind: Kind) -> Vec<Vec<u8>> {
    records
        .of(kind)
        .map(|body| {
            let mut out = (body.len() as u32).to_le_bytes().to_vec();
            out.extend_from_slice(body);
            out
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(pcaps), Some(out)) = (args.get(1), args.get(2)) else {
        panic!("usage: train_dicts PCAP_DIR OUT_DIR");
    };
    let samples = Collected::replay(&common::captures(Path::new(pcaps), &[]), 1);
    std::fs::create_dir_all(out).unwrap();
    let demo_pcap = Path::new(out).join("demo.pcap");
    sensor::demo::write_pcap(&demo_pcap).unwrap();
    let held_out = Collected::replay(&[demo_pcap], 2);
    for kind in [Kind::Conn, Kind::Dns, Kind::Weird] {
        let (name, trained_on, tested_on) = (kind.name(), framed(&samples, kind), framed(&held_out, kind));
        let dict = zstd::dict::from_samples(&trained_on, DICT_BYTES).unwrap();
        let path = Path::new(out).join(format!("{name}.zdict"));
        std::fs::write(&path, &dict).unwrap();
        println!("{}: {} bytes from {} records", path.display(), dict.len(), trained_on.len());
        if tested_on.is_empty() {
            continue;
        }
        for per_block in [16, 64, 8192] {
            println!(
                "  {name} records of the demo in blocks of {per_block:>4}: {:.1} bytes/record without, {:.1} with the dictionary",
                compressed(&tested_on, per_block, &[]),
                compressed(&tested_on, per_block, &dict)
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
