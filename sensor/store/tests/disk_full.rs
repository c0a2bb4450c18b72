//! Disk full: the store on a 16 MiB tmpfs. When another program fills the disk, new telemetry is
//! dropped with counters and a health flag; fed far more than fits, old segments are evicted to
//! keep a reserve free. Writing never fails or panics, and the store stays readable with the
//! newest records.
//!
//! Needs root (it mounts the tmpfs); CI runs as root. Run alone it says why it skipped.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

mod common;

use sensor_output::{ConnId, ConnRecord};
use sensor_store::{Decoded, Health, Query, Store, StoreConfig, Writer};
use sensor_wire::Timestamp;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs of a fixed size, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// High-entropy uids and hosts, so that blocks do not compress to nothing.
fn record(i: u64, uid: &str) -> ConnRecord<'_> {
    let mixed = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let id = ConnId {
        orig_h: std::net::Ipv4Addr::from((mixed >> 32) as u32).into(),
        orig_p: mixed as u16,
        resp_h: std::net::Ipv4Addr::from(mixed as u32).into(),
        resp_p: 443,
    };
    common::attempt(Timestamp(1_793_491_200_000_000_000 + i * 50_000_000), uid, id)
}

#[test]
fn a_full_disk_evicts_then_drops_and_never_fails() {
    if !is_root() {
        eprintln!("skipped: mounting a size-limited tmpfs needs root (CI runs as root)");
        return;
    }
    let base = tempfile::tempdir().unwrap();
    let mount = Tmpfs::mount(base.path(), "16m").expect("mount a tmpfs");
    let dir = mount.0.join("store");
    let cfg = StoreConfig {
        min_free_bytes: 4 << 20,
        segment_bytes: 1 << 20,
        cache_bytes: 4 << 20,
        block_records: 512,
        ..StoreConfig::default()
    };
    let store = Store::open(&dir, &cfg).unwrap();
    let mut w = Writer::new(store.clone(), &cfg).unwrap();
    let mut next: u64 = 0;
    let mut write = |w: &mut Writer, n: u64| {
        for _ in 0..n {
            let uid = format!("C{:016x}", next.wrapping_mul(0x2545_f491_4f6c_dd1d));
            w.append(&record(next, &uid)).unwrap();
            next += 1;
            if next.is_multiple_of(5000) {
                w.flush();
            }
        }
        w.flush();
    };

    // Another program fills the disk: nothing of the store can make room, so blocks are
    // dropped, counted and flagged, and nothing fails.
    let filler = mount.0.join("filler");
    let free = free_bytes(&mount.0);
    std::fs::write(&filler, vec![0u8; (free - (1 << 20)) as usize]).unwrap();
    write(&mut w, 20_000);
    let stats = w.write_stats().clone();
    assert!(stats.dropped_records > 0, "{stats:?}");
    assert_eq!(stats.health, Health::DiskFull, "{stats:?}");
    std::fs::remove_file(&filler).unwrap();

    // With room again, far more than the filesystem holds goes through: old segments are
    // evicted to keep the reserve free, nothing more is dropped, and health recovers.
    write(&mut w, 1_000_000);
    let after = w.write_stats().clone();
    println!("{after:?}");
    assert_eq!(after.dropped_records, stats.dropped_records, "{after:?}");
    assert_eq!(after.health, Health::Ok, "{after:?}");
    assert!(after.evicted.records > 0, "retention made room: {after:?}");
    assert!(after.bytes > 16 << 20, "more was written than the filesystem holds: {after:?}");
    assert!(free_bytes(&mount.0) >= cfg.min_free_bytes / 2, "the reserve stayed free");
    drop(w);
    drop(store);

    // Readable after the ordeal, and the newest records are the last ones written.
    let store = Store::open(&dir, &cfg).unwrap();
    let hits: Vec<_> = store.query(&Query { limit: Some(100), ..Query::default() }).unwrap().collect();
    assert_eq!(hits.len(), 100);
    let Decoded::Conn(c) = hits[0].as_ref().unwrap().decoded().unwrap() else { panic!("not a conn record") };
    assert_eq!(c.ts, record(next - 1, "").ts);
    let damaged = store.query(&Query::default()).unwrap().filter(|h| h.is_err()).count();
    assert_eq!(damaged, 0, "no damaged block");
}

fn free_bytes(dir: &Path) -> u64 {
    let out = Command::new("df").args(["--output=avail", "-B1"]).arg(dir).output().unwrap();
    String::from_utf8(out.stdout).unwrap().lines().nth(1).unwrap().trim().parse().unwrap()
}
