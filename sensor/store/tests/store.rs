//! The store on a real sled database in a temporary directory: writing, reopening, every query
//! index, order and limit, retention, alerts, and the refusals (not a store, newer format, in
//! use).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

use sensor_analyzers::dns::DnsRecord;
use sensor_detect::{Alert, AlertEvidence, Entity, Severity, Technique};
use sensor_output::{ConnId, ConnRecord, DnsRecordLine, WeirdRecord};
use sensor_store::{Decoded, Kind, Order, Query, Store, StoreConfig, StoreError, Writer};
use sensor_wire::Timestamp;
use std::borrow::Cow;
use std::net::IpAddr;
use std::time::Duration;

/// 2026-11-01 00:00:00 UTC.
const T0: u64 = 1_793_491_200;

fn ts(secs: u64) -> Timestamp {
    Timestamp((T0 + secs) * 1_000_000_000)
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn id(orig: &str, resp: &str, resp_p: u16) -> ConnId {
    ConnId { orig_h: ip(orig), orig_p: 40000, resp_h: ip(resp), resp_p }
}

/// A conn record; its Community ID is computed from its 5-tuple, as the sensor's always is.
fn conn<'a>(at: u64, orig: &str, resp: &str, uid: &'a str) -> ConnRecord<'a> {
    let mut rec = ConnRecord {
        ts: ts(at),
        uid,
        id: id(orig, resp, 443),
        proto: "tcp",
        service: None,
        duration: Some(Duration::from_millis(1500)),
        orig_bytes: Some(100),
        resp_bytes: Some(2000),
        conn_state: "SF",
        local_orig: true,
        local_resp: false,
        missed_bytes: 0,
        history: "ShADadFf",
        orig_pkts: 6,
        orig_ip_bytes: 420,
        resp_pkts: 5,
        resp_ip_bytes: 2300,
        ip_proto: 6,
        community_id: Cow::Borrowed(""),
        vlan: None,
        inner_vlan: None,
    };
    rec.restore_community_id();
    rec
}

fn dns_record(at: u64, query: &str) -> DnsRecord {
    let mut rec = DnsRecord::new(ts(at), 0x1234);
    rec.set_query(Some(query));
    rec.qtype = Some(1);
    rec.qclass = Some(1);
    rec.rcode = Some(0);
    rec.rd = true;
    rec.push_answer("192.0.2.7", 300);
    rec
}

fn dns<'a>(uid: &'a str, orig: &str, rec: &'a DnsRecord) -> DnsRecordLine<'a> {
    DnsRecordLine { uid, id: id(orig, "10.0.0.53", 53), proto: "udp", rec: Cow::Borrowed(rec) }
}

fn weird(at: u64, name: &str) -> WeirdRecord<'_> {
    WeirdRecord { ts: ts(at), uid: None, id: None, name, addl: None, notice: false, peer: "sensor", source: "decode" }
}

fn config() -> StoreConfig {
    StoreConfig { min_free_bytes: 0, ..StoreConfig::default() }
}

/// The JSON lines of every record a query returns.
fn run(store: &Store, q: &Query) -> Vec<String> {
    store
        .query(q)
        .unwrap()
        .map(|hit| {
            let hit = hit.unwrap();
            let mut out = Vec::new();
            hit.decoded().unwrap().write_json(&mut out);
            String::from_utf8(out).unwrap()
        })
        .collect()
}

/// A store with conn and DNS records over three minutes, written in two flushes.
fn sample(dir: &std::path::Path) {
    let store = Store::open(dir, &config()).unwrap();
    let mut w = Writer::new(store, &config()).unwrap();
    w.append(&conn(5, "10.0.0.1", "192.0.2.7", "Cuid1")).unwrap();
    w.append(&conn(70, "10.0.0.2", "192.0.2.8", "Cuid2")).unwrap();
    let a = dns_record(10, "www.example.com");
    w.append(&dns("Cdns1", "10.0.0.1", &a)).unwrap();
    w.flush();
    let b = dns_record(130, "x1.tunnel.example.co.uk");
    w.append(&dns("Cdns2", "10.0.0.2", &b)).unwrap();
    w.append(&conn(125, "10.0.0.1", "198.51.100.1", "Cuid3")).unwrap();
    w.append(&weird(126, "truncated_IP")).unwrap();
    w.flush();
}

#[test]
fn records_come_back_identical_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path());
    let store = Store::open(dir.path(), &config()).unwrap();
    let all = run(&store, &Query { order: Order::OldestFirst, ..Query::default() });
    assert_eq!(all.len(), 6);
    let mut expected = Vec::new();
    conn(5, "10.0.0.1", "192.0.2.7", "Cuid1").write_json(&mut expected);
    assert_eq!(all[0], String::from_utf8(expected).unwrap());
    let a = dns_record(10, "www.example.com");
    let mut expected = Vec::new();
    dns("Cdns1", "10.0.0.1", &a).write_json(&mut expected);
    assert_eq!(all[1], String::from_utf8(expected).unwrap());
    // Time order across kinds and blocks, both ways.
    let times = |order| {
        let q = Query { order, ..Query::default() };
        store.query(&q).unwrap().map(|h| h.unwrap().ts).collect::<Vec<_>>()
    };
    let oldest = times(Order::OldestFirst);
    assert_eq!(oldest, [ts(5), ts(10), ts(70), ts(125), ts(126), ts(130)]);
    let mut newest = times(Order::NewestFirst);
    newest.reverse();
    assert_eq!(newest, oldest);
}

#[test]
fn tunnel_payload_text_comes_back_as_written() {
    // Escapes of binary payload are stored packed (docs/store.md); a backslash, upper-case hex
    // and UTF-8 are not, and all must read back as the same JSON.
    let dir = tempfile::tempdir().unwrap();
    let mut rec = dns_record(10, r"\x8a\x01\xff\\xfe\xAB.t.example.com");
    rec.push_answer("NULL \\x00\\x07\\x80\\x0a caf\u{e9}", 0);
    let line = dns("Ctun", "10.0.0.9", &rec);
    {
        let store = Store::open(dir.path(), &config()).unwrap();
        let mut w = Writer::new(store, &config()).unwrap();
        w.append(&line).unwrap();
    }
    let store = Store::open(dir.path(), &config()).unwrap();
    let mut expected = Vec::new();
    line.write_json(&mut expected);
    assert_eq!(run(&store, &Query::default()), [String::from_utf8(expected).unwrap()]);
    let q = Query { domain: Some("t.example.com".into()), ..Query::default() };
    assert_eq!(run(&store, &q).len(), 1);
}

#[test]
fn an_older_format_is_migrated_at_open() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path());
    std::fs::write(dir.path().join("FORMAT"), "sensor-store 1\n").unwrap();
    let store = Store::open(dir.path(), &config()).unwrap();
    let marker = std::fs::read_to_string(dir.path().join("FORMAT")).unwrap();
    assert_eq!(marker, format!("sensor-store {}\n", sensor_store::FORMAT_VERSION));
    assert_eq!(run(&store, &Query::default()).len(), 6);
}

#[test]
fn every_index_finds_its_records() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path());
    let store = Store::open(dir.path(), &config()).unwrap();
    let count = |q: Query| run(&store, &q).len();
    assert_eq!(count(Query { host: Some(ip("10.0.0.1")), ..Query::default() }), 3);
    assert_eq!(count(Query { host: Some(ip("10.0.0.53")), ..Query::default() }), 2);
    assert_eq!(count(Query { host: Some(ip("192.0.2.99")), ..Query::default() }), 0);
    assert_eq!(count(Query { kinds: vec![Kind::Conn], ..Query::default() }), 3);
    assert_eq!(count(Query { kinds: vec![Kind::Weird, Kind::Dns], ..Query::default() }), 3);
    assert_eq!(count(Query { uid: Some("Cuid2".into()), ..Query::default() }), 1);
    assert_eq!(count(Query { uid: Some("Cdns2".into()), ..Query::default() }), 1);
    assert_eq!(count(Query { uid: Some("Cnone".into()), ..Query::default() }), 0);
    let third = conn(125, "10.0.0.1", "198.51.100.1", "Cuid3");
    assert_eq!(count(Query { community_id: Some(third.community_id.to_string()), ..Query::default() }), 1);
    // A registered domain, a name under it, the full name, and the public suffix rule
    // (co.uk is a suffix, so the registered domain is example.co.uk).
    assert_eq!(count(Query { domain: Some("example.com".into()), ..Query::default() }), 1);
    assert_eq!(count(Query { domain: Some("WWW.Example.com.".into()), ..Query::default() }), 1);
    assert_eq!(count(Query { domain: Some("example.co.uk".into()), ..Query::default() }), 1);
    assert_eq!(count(Query { domain: Some("tunnel.example.co.uk".into()), ..Query::default() }), 1);
    assert_eq!(count(Query { domain: Some("other.example.co.uk".into()), ..Query::default() }), 0);
    assert_eq!(count(Query { domain: Some("ample.com".into()), ..Query::default() }), 0);
    // Time range: from inclusive, to exclusive, across bucket edges.
    assert_eq!(count(Query { from: Some(ts(10)), to: Some(ts(126)), ..Query::default() }), 3);
    assert_eq!(count(Query { from: Some(ts(60)), to: Some(ts(120)), ..Query::default() }), 1);
    assert_eq!(count(Query { from: Some(ts(200)), ..Query::default() }), 0);
    // Combined: a host and a time range, a host and a domain.
    let q = Query { host: Some(ip("10.0.0.1")), from: Some(ts(100)), ..Query::default() };
    assert_eq!(count(q), 1);
    let q = Query { host: Some(ip("10.0.0.2")), domain: Some("example.co.uk".into()), ..Query::default() };
    assert_eq!(count(q), 1);
    // Limit, newest first.
    let q = Query { limit: Some(2), ..Query::default() };
    let hits: Vec<_> = store.query(&q).unwrap().map(|h| h.unwrap()).collect();
    assert_eq!(hits.iter().map(|h| h.ts).collect::<Vec<_>>(), [ts(130), ts(126)]);
    assert!(matches!(hits[1].decoded().unwrap(), Decoded::Weird(_)));
}

#[test]
fn filters_spare_blocks_without_the_uid() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path());
    let store = Store::open(dir.path(), &config()).unwrap();
    let mut results = store.query(&Query { uid: Some("Cuid3".into()), ..Query::default() }).unwrap();
    assert_eq!(results.by_ref().count(), 1);
    assert_eq!(results.blocks_read, 1, "only the block holding the uid is read");
    assert!(results.blocks_filtered >= 3);
}

#[test]
fn a_directory_that_is_not_a_store_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    let err = Store::open(dir.path(), &config()).err().unwrap();
    assert!(matches!(err, StoreError::NotAStore(_)), "{err}");
    assert!(err.to_string().contains("not a sensor store"));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn a_newer_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path());
    std::fs::write(dir.path().join("FORMAT"), "sensor-store 99\n").unwrap();
    let err = Store::open(dir.path(), &config()).err().unwrap();
    assert!(matches!(err, StoreError::NewerFormat { found: 99, .. }), "{err}");
}

#[test]
fn a_second_open_while_the_first_holds_the_store_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Store::open(dir.path(), &config()).unwrap();
    // sled's lock is per process (flock), so the second opener is another process: this test
    // binary run as a child that only opens the store.
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args(["--exact", "open_in_child", "--nocapture", "--include-ignored"])
        .env("STORE_UNDER_TEST", dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("in use by another process"), "{stdout}");
}

/// The child of the test above.
#[test]
#[ignore = "run as a child process by a_second_open_while_the_first_holds_the_store_is_refused"]
fn open_in_child() {
    let Some(dir) = std::env::var_os("STORE_UNDER_TEST") else { return };
    match Store::open(std::path::Path::new(&dir), &config()) {
        Ok(_) => println!("opened"),
        Err(e) => println!("{e}"),
    }
}

#[test]
fn retention_evicts_the_oldest_blocks_over_budget_and_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    // One segment per block, so that each block can go on its own.
    let cfg = StoreConfig { disk_budget: 1, segment_bytes: 1, ..config() };
    let store = Store::open(dir.path(), &cfg).unwrap();
    let mut w = Writer::new(store.clone(), &cfg).unwrap();
    for minute in 0..5 {
        let uid = format!("C{minute}");
        w.append(&conn(minute * 60, "10.0.0.1", "192.0.2.7", &uid)).unwrap();
        w.flush();
    }
    // A budget of one byte keeps only the segment being written to.
    let left = run(&store, &Query::default());
    assert_eq!(left.len(), 1);
    assert!(left[0].contains("\"C4\""), "the newest is kept: {left:?}");
    let evicted = store.evicted().unwrap();
    assert_eq!((evicted.blocks, evicted.records), (4, 4));
    assert_eq!(w.write_stats().evicted, evicted);
    // Index entries went with the blocks, and so did the segment files.
    assert_eq!(run(&store, &Query { host: Some(ip("10.0.0.1")), ..Query::default() }).len(), 1);
    let files = std::fs::read_dir(dir.path().join("segments")).unwrap().count();
    assert_eq!(files, 1);
}

#[test]
fn retention_evicts_by_age_of_writing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig { max_age: Duration::from_secs(1), segment_bytes: 1, ..config() };
    let store = Store::open(dir.path(), &cfg).unwrap();
    let mut w = Writer::new(store.clone(), &cfg).unwrap();
    // Records from years apart, written now: the age limit goes by when they were written.
    w.append(&conn(0, "10.0.0.1", "192.0.2.7", "Cold")).unwrap();
    w.append(&conn(3 * 365 * 86400, "10.0.0.1", "192.0.2.7", "Cnew")).unwrap();
    w.flush();
    assert_eq!(run(&store, &Query::default()).len(), 2);
    std::thread::sleep(Duration::from_millis(1100));
    w.append(&conn(60, "10.0.0.1", "192.0.2.7", "Clate")).unwrap();
    w.flush();
    let left = run(&store, &Query::default());
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].contains("Clate"));
    assert_eq!(w.write_stats().evicted.records, 2);
}

#[test]
fn a_store_that_lost_flushed_blocks_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path());
    // The checkpoint says more blocks were made durable than the database holds.
    std::fs::write(dir.path().join("CHECKPOINT"), "1000\n").unwrap();
    let stray = dir.path().join("segments/00000000000000ff.seg");
    std::fs::write(&stray, b"data the index may have lost").unwrap();
    let err = Store::open(dir.path(), &config()).err().unwrap();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("lost"), "{err}");
    assert!(stray.exists(), "a refused store is left as it is");
}

#[test]
fn segment_files_left_by_a_crash_are_removed_at_open() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path());
    // A segment created for a block whose commit never happened (newer than every known one),
    // and one whose eviction stopped before the file was deleted (older).
    let newer = dir.path().join("segments/0000000000000009.seg");
    let older = dir.path().join("segments/0000000000000000.seg");
    std::fs::write(&newer, b"half a block").unwrap();
    std::fs::write(&older, b"evicted").unwrap();
    let store = Store::open(dir.path(), &config()).unwrap();
    assert!(!newer.exists() && !older.exists());
    assert_eq!(run(&store, &Query::default()).len(), 6, "nothing known was touched");
}

#[test]
fn a_damaged_segment_is_reported_and_the_rest_still_answers() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path());
    // Overwrite the middle of every segment file: each block's zstd checksum or framing fails.
    for entry in std::fs::read_dir(dir.path().join("segments")).unwrap() {
        let path = entry.unwrap().path();
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        for b in &mut bytes[middle..middle + 16] {
            *b ^= 0xa5;
        }
        std::fs::write(&path, bytes).unwrap();
    }
    let store = Store::open(dir.path(), &config()).unwrap();
    let results: Vec<_> = store.query(&Query::default()).unwrap().collect();
    let damaged = results.iter().filter(|r| r.is_err()).count();
    assert!(damaged >= 1, "the damage is reported");
    for e in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(matches!(e, StoreError::BadBlock { .. }), "{e}");
    }
    // Records of undamaged blocks still come back.
    assert!(results.iter().any(|r| r.is_ok()));
}

#[test]
fn a_limited_query_returns_exactly_the_first_records_of_the_full_answer() {
    // Blocks of 4 records, written out of time order, several per bucket: a limited query may
    // stop reading early, and must still return the newest (or oldest) records exactly.
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig { block_records: 4, ..config() };
    let store = Store::open(dir.path(), &cfg).unwrap();
    let mut w = Writer::new(store.clone(), &cfg).unwrap();
    let uids: Vec<String> = (0..40).map(|i| format!("C{i}")).collect();
    for (i, uid) in uids.iter().enumerate() {
        let at = (i as u64 * 37) % 119;
        w.append(&conn(at, "10.0.0.1", "192.0.2.7", uid)).unwrap();
    }
    w.flush();
    for order in [Order::NewestFirst, Order::OldestFirst] {
        let all: Vec<_> = store.query(&Query { order, ..Query::default() }).unwrap().map(|h| h.unwrap().ts).collect();
        assert_eq!(all.len(), 40);
        for limit in [1, 3, 4, 5, 17, 40] {
            let q = Query { order, limit: Some(limit), ..Query::default() };
            let some: Vec<_> = store.query(&q).unwrap().map(|h| h.unwrap().ts).collect();
            assert_eq!(some, all[..limit], "{order:?} limit {limit}");
        }
    }
}

fn alert(at: u64, id: &str, src: &str, dst: &str, uid: &str, domain: &str) -> Alert {
    Alert {
        ts: ts(at),
        id: id.to_owned(),
        src: Entity::ip(ip(src)),
        dst: Some(Entity::ip(ip(dst))),
        path: Vec::new(),
        severity: Severity::High,
        confidence: 0.9,
        detector: "dns.tunnel".to_owned(),
        detector_version: 1,
        title: format!("DNS tunnel from {src}"),
        explanation: "numbers".to_owned(),
        techniques: vec![Technique::DnsC2],
        evidence: AlertEvidence {
            uids: vec![uid.to_owned()],
            counts: vec![("queries".to_owned(), 120.0)],
            samples: Vec::new(),
            domain: Some(domain.to_owned()),
            intel: Vec::new(),
        },
    }
}

#[test]
fn alerts_are_found_by_time_host_uid_and_domain_and_survive_retention() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig { disk_budget: 1, segment_bytes: 1, ..config() };
    let store = Store::open(dir.path(), &cfg).unwrap();
    let mut w = Writer::new(store.clone(), &cfg).unwrap();
    w.store_alert(&alert(30, "Aone", "10.0.0.1", "10.0.0.53", "Cdns1", "example.attack")).unwrap();
    for minute in 0..4 {
        w.append(&conn(minute * 60, "10.0.0.1", "192.0.2.7", &format!("C{minute}"))).unwrap();
        w.flush();
    }
    w.store_alert(&alert(200, "Atwo", "10.0.0.2", "10.0.0.53", "Cdns2", "tunnel.example.co.uk")).unwrap();
    // Retention kept one telemetry segment of four; both alerts stay.
    assert_eq!(run(&store, &Query { kinds: vec![Kind::Conn], ..Query::default() }).len(), 1);
    let ids = |q: Query| -> Vec<String> {
        store
            .query(&q)
            .unwrap()
            .map(|h| match h.unwrap().decoded().unwrap() {
                Decoded::Alert(a) => a.id.clone(),
                other => panic!("not an alert: {other:?}"),
            })
            .collect()
    };
    let alerts = || Query { kinds: vec![Kind::Alert], ..Query::default() };
    assert_eq!(ids(alerts()), ["Atwo", "Aone"], "newest first");
    assert_eq!(ids(Query { order: Order::OldestFirst, ..alerts() }), ["Aone", "Atwo"]);
    assert_eq!(ids(Query { host: Some(ip("10.0.0.2")), ..alerts() }), ["Atwo"]);
    assert_eq!(ids(Query { host: Some(ip("10.0.0.53")), ..alerts() }).len(), 2);
    assert_eq!(ids(Query { uid: Some("Cdns1".to_owned()), ..alerts() }), ["Aone"], "by an evidence uid");
    assert_eq!(ids(Query { uid: Some("Atwo".to_owned()), ..alerts() }), ["Atwo"], "by its own id");
    assert_eq!(ids(Query { domain: Some("example.co.uk".to_owned()), ..alerts() }), ["Atwo"]);
    assert_eq!(ids(Query { from: Some(ts(100)), ..alerts() }), ["Atwo"]);
    assert_eq!(ids(Query { to: Some(ts(100)), limit: Some(5), ..alerts() }), ["Aone"]);
    // Mixed with telemetry, in one time order.
    let all = run(&store, &Query { order: Order::OldestFirst, ..Query::default() });
    assert!(all.first().unwrap().contains("\"Aone\"") && all.last().unwrap().contains("\"Atwo\""), "{all:?}");
    // And after reopening: they were durable when written.
    drop(w);
    drop(store);
    let store = Store::open(dir.path(), &cfg).unwrap();
    assert_eq!(run(&store, &Query { kinds: vec![Kind::Alert], ..Query::default() }).len(), 2);
}
