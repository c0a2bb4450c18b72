//! DNS analyzer throughput on one core: the DNS payloads of a capture are decoded once, then
//! fed to fresh `DnsFlow`s (one per UDP flow, as the pipeline would) several times over.
//!
//! `cargo run --release -p sensor-analyzers --example dns_throughput [capture under pcaps/]`

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::time::Instant;

use sensor_analyzers::dns::{DnsConfig, DnsFlow, DnsRecord, DnsSink, DnsTransport};
use sensor_wire::Timestamp;

/// Counts what it gets, keeps nothing (the cost of records is building them).
#[derive(Default)]
struct Count {
    records: u64,
    answers: u64,
    weirds: u64,
}

impl DnsSink for Count {
    fn record(&mut self, rec: DnsRecord) {
        self.records += 1;
        self.answers += rec.answers.len() as u64;
    }
    fn weird(&mut self, _: Timestamp, _: &'static str, _: Option<String>) {
        self.weirds += 1;
    }
}

fn main() {
    let rel = std::env::args().nth(1).unwrap_or_else(|| "dns-tunnel/kor-iodine-cname-base128-bind9.pcap".into());
    let packets = common::read_packets_with(&rel, false);
    // (flow index, from_orig, ts, payload) for every UDP DNS packet.
    let mut flows: HashMap<_, usize> = HashMap::new();
    let mut msgs = Vec::new();
    for p in packets.iter().filter(|p| p.tcp.is_none() && (p.sport == 53 || p.dport == 53)) {
        let (a, b) = ((p.src, p.sport), (p.dst, p.dport));
        let key = if a <= b { (a, b) } else { (b, a) };
        let n = flows.len();
        let id = *flows.entry(key).or_insert(n);
        msgs.push((id, p.dport == 53, p.ts, p.payload.as_slice()));
    }
    let cfg = DnsConfig::default();
    let rounds = 20;
    let mut out = Count::default();
    let start = Instant::now();
    for _ in 0..rounds {
        let mut state: Vec<DnsFlow> = (0..flows.len()).map(|_| DnsFlow::new(DnsTransport::Udp)).collect();
        for &(id, from_orig, ts, payload) in &msgs {
            state[id].udp(&cfg, ts, from_orig, payload, &mut out);
        }
        for f in &mut state {
            f.finish(&mut out);
        }
    }
    let elapsed = start.elapsed();
    let n = (msgs.len() * rounds) as f64;
    let bytes: usize = msgs.iter().map(|m| m.3.len()).sum::<usize>() * rounds;
    println!(
        "{rel}: {} messages x {rounds} in {elapsed:.2?}: {:.2} M messages/s, {:.0} MB/s; {} records, {} answers, {} weirds",
        msgs.len(),
        n / elapsed.as_secs_f64() / 1e6,
        bytes as f64 / elapsed.as_secs_f64() / 1e6,
        out.records,
        out.answers,
        out.weirds
    );
}
