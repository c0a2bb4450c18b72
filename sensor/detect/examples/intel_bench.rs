//! `make bench-intel`: threat-intelligence lookups at a thousand and at a million indicators.
//!
//! Writes a plain-list feed of N indicators (60 % domains, 30 % addresses, 10 % networks of
//! /8 to /30), loads it as the sensor does, then times name and address lookups (a mix of hits
//! and misses, names of three to five labels). The per-lookup cost should not grow with N: names
//! cost one hash lookup per label, addresses one per prefix length present.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: a failure should panic

use sensor_detect::intel::{IntelConfig, load};
use std::hint::black_box;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

/// Lookups timed per kind.
const LOOKUPS: u64 = 2_000_000;
/// Distinct names and addresses cycled through (more than fit in L1, fewer than the feed).
const PROBES: u64 = 1024;

/// A deterministic 64-bit sequence (splitmix64).
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Writes a feed of `n` indicators into `dir`.
fn write_feed(dir: &std::path::Path, n: u64) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join("feed.txt")).unwrap());
    for i in 0..n {
        match i % 10 {
            0..6 => writeln!(f, "example{i}.com").unwrap(),
            6..9 => writeln!(f, "{}", Ipv4Addr::from(mix(i) as u32)).unwrap(),
            _ => {
                let len = 8 + (mix(i) % 23) as u32;
                let net = (mix(i) as u32) & (u32::MAX << (32 - len));
                writeln!(f, "{}/{len}", Ipv4Addr::from(net)).unwrap();
            }
        }
    }
}

/// Nanoseconds per call of `lookup` over `probes`, and the share that hit.
fn time<T>(probes: &[T], lookup: impl Fn(&T) -> bool) -> (f64, f64) {
    let started = Instant::now();
    let mut hits = 0u64;
    for i in 0..LOOKUPS {
        hits += u64::from(black_box(lookup(&probes[(i % PROBES) as usize])));
    }
    (started.elapsed().as_nanos() as f64 / LOOKUPS as f64, 100.0 * hits as f64 / LOOKUPS as f64)
}

fn run(n: u64) {
    let dir = tempfile::tempdir().unwrap();
    write_feed(dir.path(), n);
    let started = Instant::now();
    let (intel, report) = load(&IntelConfig { dir: Some(dir.path().to_owned()), ..IntelConfig::default() }).unwrap();
    let loaded = started.elapsed();
    assert_eq!(report.indicators(), intel.len() as u64 + intel.duplicates());
    // Names under listed domains (indices below n that are domains) and unlisted ones.
    let names: Vec<String> =
        (0..PROBES).map(|i| format!("host{}.cdn.example{}.com", i % 7, (mix(i) % (2 * n)) / 10 * 10)).collect();
    let (per_name, name_hits) = time(&names, |name| intel.match_name(name).is_some());
    let addrs: Vec<IpAddr> = (0..PROBES)
        .map(|i| IpAddr::V4(Ipv4Addr::from(if i % 2 == 0 { mix(i * 10 + 6) as u32 } else { mix(!i) as u32 })))
        .collect();
    let (per_addr, addr_hits) = time(&addrs, |addr| intel.match_addr(*addr).is_some());
    println!(
        "{n:>9} indicators: loaded in {:>7.1} ms; name lookup {per_name:>5.1} ns ({name_hits:.0}% hits), address lookup {per_addr:>5.1} ns ({addr_hits:.0}% hits)",
        loaded.as_secs_f64() * 1e3,
    );
}

fn main() {
    for n in [1_000, 1_000_000] {
        run(n);
    }
}
