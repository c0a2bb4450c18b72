//! Benchmark of the telemetry store (`make bench-store`): ingest rate, bytes on disk per record
//! against JSON lines and `gzip -6`, and query latency over millions of stored records.
//!
//! The records are real: every shared capture but the malformed ones is replayed once and its
//! conn and dns records kept; copies of them, each shifted in time and given its own client
//! addresses, are then written until the store holds the requested number (default 10,000,000)
//! spread over three hours. Usage: `store_bench PCAP_DIR STORE_DIR [RECORDS]`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmark code: a failure should panic

mod common;

use sensor_store::{Decoded, Kind, Query, Store, StoreConfig, Writer};
use sensor_wire::Timestamp;
use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Hours the copies are spread over.
const SPAN_HOURS: u64 = 3;
/// Queries timed per kind of query.
const QUERIES: usize = 200;
/// Results a query asks for (a page of an analyst's screen).
const PAGE: usize = 100;

/// Copy `copy` of an address: IPv4 clients move within 10.0.0.0/8 by copy, so that each copy has
/// hosts of its own; others stay.
fn shifted(addr: IpAddr, copy: u32) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let n = u32::from(a);
            IpAddr::V4((0x0a00_0000 | (n.wrapping_add(copy.wrapping_mul(7919)) & 0x00ff_ffff)).into())
        }
        v6 => v6,
    }
}

/// Writes copies of `base` until `total` records, returning (records written, seconds spent in
/// the writer).
fn ingest(writer: &mut Writer, base: &common::Collected, kind: Kind, total: u64, json: &mut impl Write) -> (u64, f64) {
    let base: Vec<&[u8]> = base.of(kind).collect();
    let first = base.iter().map(|b| Decoded::decode(kind, b).unwrap().ts()).min().unwrap();
    let span = Duration::from_secs(SPAN_HOURS * 3600).as_nanos() as u64;
    let copies = total.div_ceil(base.len() as u64);
    let t0 = Timestamp(1_793_491_200_000_000_000);
    let mut written = 0;
    let mut line = Vec::new();
    let mut spent = Duration::ZERO;
    'all: for copy in 0..copies {
        let offset = t0.0 + copy * span / copies;
        for bytes in &base {
            if written == total {
                break 'all;
            }
            let mut rec = Decoded::decode(kind, bytes).unwrap();
            let ts = |t: Timestamp| Timestamp(offset + (t.0 - first.0) % (span / copies).max(1));
            match &mut rec {
                Decoded::Conn(c) => {
                    c.ts = ts(c.ts);
                    c.id.orig_h = shifted(c.id.orig_h, copy as u32);
                    c.restore_community_id();
                }
                Decoded::Dns(d) => {
                    let r = d.rec.to_mut();
                    r.ts = ts(r.ts);
                    d.id.orig_h = shifted(d.id.orig_h, copy as u32);
                }
                Decoded::Weird(_) | Decoded::Evidence(_) | Decoded::Alert(_) => {}
            }
            let started = Instant::now();
            match &rec {
                Decoded::Conn(c) => writer.append(c).unwrap(),
                Decoded::Dns(d) => writer.append(d).unwrap(),
                Decoded::Weird(w) => writer.append(w).unwrap(),
                Decoded::Evidence(e) => writer.append(e).unwrap(),
                Decoded::Alert(a) => writer.store_alert(a).unwrap(),
            }
            writer.tick(started);
            spent += started.elapsed();
            // JSON lines of the same records, for the size comparison (not timed below).
            line.clear();
            rec.write_json(&mut line);
            line.push(b'\n');
            json.write_all(&line).unwrap();
            written += 1;
        }
    }
    let started = Instant::now();
    writer.flush();
    spent += started.elapsed();
    (written, spent.as_secs_f64())
}

/// Counts bytes written to it.
struct Count(u64);

impl Write for Count {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let pcaps = PathBuf::from(args.get(1).expect("usage: store_bench PCAP_DIR STORE_DIR [RECORDS]"));
    let dir = PathBuf::from(args.get(2).expect("usage: store_bench PCAP_DIR STORE_DIR [RECORDS]"));
    let total: u64 = args.get(3).map_or(10_000_000, |n| n.parse().unwrap());
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    let skip = std::env::var("STORE_BENCH_SKIP").unwrap_or_default();
    let base = common::Collected::replay(&common::captures(&pcaps, &skip.split(',').collect::<Vec<_>>()), 1);
    let count = |k| base.of(k).count();
    println!("base records       {} conn, {} dns (from the shared captures)", count(Kind::Conn), count(Kind::Dns));

    // STORE_LEVEL and STORE_BLOCK_BYTES override the defaults, to compare settings.
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let defaults = StoreConfig::default();
    let cfg = StoreConfig {
        min_free_bytes: 0,
        compression_level: env("STORE_LEVEL").map_or(defaults.compression_level, |l| l as i32),
        block_bytes: env("STORE_BLOCK_BYTES").map_or(defaults.block_bytes, |b| b as usize),
        block_records: env("STORE_BLOCK_BYTES").map_or(defaults.block_records, |_| usize::MAX),
        ..defaults
    };
    println!(
        "settings           zstd level {}, blocks of {} records / {} bytes",
        cfg.compression_level, cfg.block_records, cfg.block_bytes
    );
    let store = Store::open(&dir, &cfg).unwrap();
    let mut writer = Writer::new(store.clone(), &cfg).unwrap();
    // conn and dns in the proportions of the captures; JSON for the size comparison goes to a
    // byte counter and, for the first million records, through `gzip -6`.
    // STORE_BENCH_DNS_ONLY writes DNS records only (to profile their ingest).
    let conn_share = match std::env::var_os("STORE_BENCH_DNS_ONLY") {
        Some(_) => 0.0,
        None => count(Kind::Conn) as f64 / (count(Kind::Conn) + count(Kind::Dns)) as f64,
    };
    let conn_total = (total as f64 * conn_share) as u64;
    let mut json = Count(0);
    let (conn_n, conn_s) = match conn_total {
        0 => (0, 1.0),
        _ => ingest(&mut writer, &base, Kind::Conn, conn_total, &mut json),
    };
    let (dns_n, dns_s) = ingest(&mut writer, &base, Kind::Dns, total - conn_n, &mut json);
    let footprint = store.footprint().unwrap();
    drop(writer);

    let mut gzip = std::process::Command::new("sh")
        .args(["-c", "gzip -6 -c | wc -c"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let sample_json = {
        let mut stdin = gzip.stdin.take().unwrap();
        let mut n = 0u64;
        let hits = store.query(&Query { limit: Some(1_000_000), ..Query::default() }).unwrap();
        let mut line = Vec::new();
        for hit in hits {
            line.clear();
            hit.unwrap().decoded().unwrap().write_json(&mut line);
            line.push(b'\n');
            stdin.write_all(&line).unwrap();
            n += line.len() as u64;
        }
        n
    };
    let gz: u64 = String::from_utf8(gzip.wait_with_output().unwrap().stdout).unwrap().trim().parse().unwrap();

    let records = conn_n + dns_n;
    println!("records stored     {records} ({conn_n} conn, {dns_n} dns) over {SPAN_HOURS} h");
    println!("ingest conn        {:.0} records/s (one core)", conn_n as f64 / conn_s);
    println!("ingest dns         {:.0} records/s (one core)", dns_n as f64 / dns_s);
    println!("store on disk      {footprint} bytes = {:.1} bytes/record", footprint as f64 / records as f64);
    println!("JSON lines         {} bytes = {:.1} bytes/record", json.0, json.0 as f64 / records as f64);
    let gzip_per_record = gz as f64 / sample_json as f64 * json.0 as f64 / records as f64;
    println!("gzip -6 of JSON    {gzip_per_record:.1} bytes/record (measured on the newest 1,000,000 records)");
    println!(
        "ratio              {:.1}x smaller than JSON lines, {:.2}x smaller than gzip -6 (target: 10x smaller than JSON lines)",
        json.0 as f64 / footprint as f64,
        gzip_per_record * records as f64 / footprint as f64
    );

    // Query latency: hosts and domains that occur, one-hour windows inside the span.
    let samples: Vec<(IpAddr, Option<String>, Timestamp)> = store
        .query(&Query { kinds: vec![Kind::Dns], limit: Some(QUERIES * 50), ..Query::default() })
        .unwrap()
        .step_by(50)
        .map(|h| {
            let h = h.unwrap();
            match h.decoded().unwrap() {
                Decoded::Dns(d) => (d.id.orig_h, d.rec.query().map(str::to_owned), d.rec.ts),
                _ => unreachable!("dns only"),
            }
        })
        .collect();
    let hour = 3_600_000_000_000;
    let time = |q: Query| {
        let started = Instant::now();
        let n = store.query(&q).unwrap().count();
        (started.elapsed().as_secs_f64() * 1000.0, n)
    };
    for (name, by_domain) in [("host", false), ("domain", true)] {
        let mut ms = Vec::new();
        let mut found = 0;
        for (host, query, ts) in &samples {
            let window = (Some(Timestamp(ts.0.saturating_sub(hour / 2))), Some(Timestamp(ts.0 + hour / 2)));
            let q = match by_domain {
                false => {
                    Query { host: Some(*host), from: window.0, to: window.1, limit: Some(PAGE), ..Query::default() }
                }
                true => {
                    let Some(name) = query else { continue };
                    Query {
                        domain: Some(name.clone()),
                        from: window.0,
                        to: window.1,
                        limit: Some(PAGE),
                        ..Query::default()
                    }
                }
            };
            let (t, n) = time(q);
            ms.push(t);
            found += n;
        }
        ms.sort_by(f64::total_cmp);
        println!(
            "query by {name:<6}    p50 {:.1} ms, p99 {:.1} ms over {} one-hour queries of up to {PAGE} records ({found} found) (target p99 <= 50 ms for host)",
            percentile(&ms, 0.5),
            percentile(&ms, 0.99),
            ms.len()
        );
    }
}
