//! Durability under SIGKILL: a child process writes records and reports each flush; it is
//! killed at a random moment, 24 times over; after each kill the store must open, answer
//! queries, and hold every record flushed before the kill exactly once (and no record twice).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

mod common;

use sensor_output::ConnId;
use sensor_store::{Decoded, Query, Store, StoreConfig, Writer};
use sensor_wire::Timestamp;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const KILLS: u32 = 24;
/// Records between two flushes in the child.
const FLUSH_EVERY: u64 = 300;

fn config() -> StoreConfig {
    // Small blocks, so that blocks are also sealed between flushes (records that may or may not
    // survive, but never twice); small segments, so that kills also land around a change of
    // segment.
    StoreConfig {
        min_free_bytes: 0,
        block_records: 64,
        segment_bytes: 64 << 10,
        flush_interval: Duration::from_secs(3600),
        ..StoreConfig::default()
    }
}

/// A small xorshift generator: kill points vary run to run, and the seed is printed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn every_flushed_record_survives_sigkill_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    println!("kill points seeded with {seed}");
    let mut rng = Rng(seed);
    let exe = std::env::current_exe().unwrap();
    // Records flushed per round, as the child reported before it died.
    let mut flushed: HashMap<u32, u64> = HashMap::new();
    for round in 0..KILLS {
        let mut child = Command::new(&exe)
            .args(["--exact", "writer_child", "--include-ignored", "--nocapture", "--test-threads", "1"])
            .env("DURABILITY_STORE", dir.path())
            .env("DURABILITY_ROUND", round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut last = 0;
            let mut started = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // libtest may print the test's name on the same line, before the first output.
                if line.ends_with("open") {
                    started = true;
                }
                if let Some((_, n)) = line.split_once("flushed ") {
                    last = n.trim().parse().unwrap();
                }
            }
            (started, last)
        });
        // Let it open the store, then kill it somewhere in its work.
        std::thread::sleep(Duration::from_millis(150 + rng.next() % 400));
        child.kill().unwrap();
        child.wait().unwrap();
        let (started, last) = reader.join().unwrap();
        assert!(started, "round {round}: the child never opened the store");
        flushed.insert(round, last);
        check(dir.path(), &flushed, round);
    }
    assert!(flushed.values().filter(|&&n| n > 0).count() as u32 >= KILLS / 2, "too few rounds flushed anything");
}

/// The store opens, queries work, every flushed record is there once, nothing is there twice.
fn check(dir: &std::path::Path, flushed: &HashMap<u32, u64>, round: u32) {
    let store = Store::open(dir, &config()).unwrap_or_else(|e| panic!("round {round}: the store does not open: {e}"));
    let mut seen: HashMap<String, u32> = HashMap::new();
    for hit in store.query(&Query::default()).unwrap() {
        let hit = hit.unwrap_or_else(|e| panic!("round {round}: query failed: {e}"));
        let Decoded::Conn(c) = hit.decoded().unwrap() else { panic!("round {round}: not a conn record") };
        *seen.entry(c.uid.to_owned()).or_default() += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|&(_, &n)| n > 1).collect();
    assert!(twice.is_empty(), "round {round}: records stored more than once: {twice:?}");
    for (&r, &n) in flushed {
        for i in 0..n {
            assert!(seen.contains_key(&uid(r, i)), "round {round}: record {i} of round {r} was flushed but is gone");
        }
    }
}

fn uid(round: u32, i: u64) -> String {
    format!("R{round}x{i}")
}

/// The child: writes records of its round, flushing every [`FLUSH_EVERY`] and saying so, until
/// it is killed.
#[test]
#[ignore = "run as a child process by every_flushed_record_survives_sigkill_exactly_once"]
fn writer_child() {
    let Some(dir) = std::env::var_os("DURABILITY_STORE") else { return };
    let round: u32 = std::env::var("DURABILITY_ROUND").unwrap().parse().unwrap();
    let store = Store::open(std::path::Path::new(&dir), &config()).unwrap();
    let mut w = Writer::new(store, &config()).unwrap();
    println!("open");
    let id = ConnId { orig_h: [10, 0, 0, 1].into(), orig_p: 40000, resp_h: [192, 0, 2, 7].into(), resp_p: 443 };
    let started = Instant::now();
    for i in 0.. {
        let uid = uid(round, i);
        // Records spread over minutes, so that several buckets are open at once.
        let ts = Timestamp(1_793_491_200_000_000_000 + (u64::from(round) * 100_000 + i) * 7_000_000_000);
        let rec = common::attempt(ts, &uid, id);
        w.append(&rec).unwrap();
        if (i + 1) % FLUSH_EVERY == 0 {
            w.flush();
            println!("flushed {}", i + 1);
        }
        // Never outlive the parent for long if it fails to kill us.
        if started.elapsed() > Duration::from_secs(30) {
            break;
        }
    }
}
