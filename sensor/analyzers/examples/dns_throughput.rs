//! DNS analyzer throughput on one core: the DNS payloads of a capture are decoded once, then
//! fed to fresh `DnsFlow`s (one per UDP flow, as the pipeline would) several times over. The
//! sink reads every text field, as a log writer would.
//!
//! `cargo run --release -p sensor-analyzers --example dns_throughput [capture under pcaps/] [rounds]`
//!
//! Prints the total and the fastest round (the machine may be shared). To count allocations per
//! message, run it under `heaptrack` with 1 and with N rounds and divide the difference by
//! `(N - 1) × messages`: the first round also reads the capture and warms the record pool.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use sensor_analyzers::dns::{DnsConfig, DnsFlow, DnsRecord, DnsSink, DnsTransport};
use sensor_wire::Timestamp;

/// Counts what it gets and the text bytes it would write; keeps nothing.
#[derive(Default)]
struct Count {
    records: u64,
    answers: u64,
    text_bytes: u64,
    weirds: u64,
}

impl DnsSink for Count {
    fn record(&mut self, rec: &DnsRecord) {
        self.records += 1;
        self.answers += rec.answers().len() as u64;
        let text = rec.answers().map(str::len).sum::<usize>()
            + rec.query().map_or(0, str::len)
            + rec.original_query().map_or(0, str::len);
        self.text_bytes += (text + rec.ttls().len()) as u64;
    }
    fn weird(&mut self, _: Timestamp, _: &'static str, _: Option<&str>) {
        self.weirds += 1;
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let rel = args.next().unwrap_or_else(|| "dns-tunnel/kor-iodine-cname-base128-bind9.pcap".into());
    let rounds: u32 = args.next().map_or(20, |r| r.parse().expect("rounds: a number"));
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
    let mut out = Count::default();
    let mut best = Duration::MAX;
    let start = Instant::now();
    for _ in 0..rounds {
        let round = Instant::now();
        let mut state: Vec<DnsFlow> = (0..flows.len()).map(|_| DnsFlow::new(DnsTransport::Udp)).collect();
        for &(id, from_orig, ts, payload) in &msgs {
            state[id].udp(&cfg, ts, from_orig, payload, &mut out);
        }
        for f in &mut state {
            f.finish(&mut out);
        }
        best = best.min(round.elapsed());
    }
    let elapsed = start.elapsed();
    let n = (msgs.len() as u64 * u64::from(rounds)) as f64;
    let bytes: usize = msgs.iter().map(|m| m.3.len()).sum::<usize>();
    println!(
        "{rel}: {} messages, {} flows, x {rounds} in {elapsed:.2?}: {:.2} M messages/s, {:.0} MB/s; \
         best round {best:.2?}: {:.2} M messages/s, {:.0} ns/message; {} records, {} answers, {} text bytes, {} weirds",
        msgs.len(),
        flows.len(),
        n / elapsed.as_secs_f64() / 1e6,
        bytes as f64 * f64::from(rounds) / elapsed.as_secs_f64() / 1e6,
        msgs.len() as f64 / best.as_secs_f64() / 1e6,
        best.as_secs_f64() * 1e9 / msgs.len() as f64,
        out.records,
        out.answers,
        out.text_bytes,
        out.weirds
    );
}
