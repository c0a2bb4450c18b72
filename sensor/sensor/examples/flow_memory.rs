//! Benchmark: resident memory of one worker's flow table holding 1,000,000 concurrent flows.
//!
//! Creates one million distinct TCP connections (SYN, SYN-ACK, ACK and one data segment each, so
//! both TCP endpoints are live) in a table sized for them, then prints the growth of the process's
//! resident set. Run with `make bench-flows`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

use sensor::pipeline::AppState;
use sensor_flow::{EndReason, Flow, FlowConfig, FlowSink, FlowTable};
use sensor_wire::{Decoded, TcpFlags, TcpSegment, Timestamp, Transport};
use std::net::{IpAddr, Ipv4Addr};

const FLOWS: u32 = 1_000_000;

struct Discard(u64);

impl FlowSink<AppState> for Discard {
    fn ended(&mut self, _: Flow<AppState>, _: EndReason) {
        self.0 += 1;
    }
    fn weird(&mut self, _: &Flow<AppState>, _: &'static str) {}
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn segment(src: IpAddr, sp: u16, dst: IpAddr, dp: u16, flags: u8, seq: u32, ack: u32, len: u32) -> Decoded<'static> {
    Decoded {
        vlan: None,
        inner_vlan: None,
        src,
        dst,
        ip_len: 40 + len,
        ttl: 64,
        reassembled: false,
        transport: Transport::Tcp(TcpSegment {
            src_port: sp,
            dst_port: dp,
            seq,
            ack,
            flags: TcpFlags(flags),
            window: 65535,
            payload_len: len,
            payload: &[],
        }),
    }
}

fn main() {
    let before = rss_kib();
    let cfg = FlowConfig { max_flows: FLOWS as usize, ..FlowConfig::default() };
    let mut table = FlowTable::<AppState>::new(cfg);
    let mut sink = Discard(0);
    let server = IpAddr::V4(Ipv4Addr::new(10, 9, 0, 1));
    for i in 0..FLOWS {
        // 10.x.y.z clients, one port each: a million distinct 5-tuples.
        let client = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (i >> 4)));
        let port = 1024 + (i & 0xf) as u16;
        let ts = Timestamp(1_700_000_000_000_000_000 + u64::from(i) * 1000);
        let (syn, ack, psh) = (TcpFlags::SYN, TcpFlags::ACK, TcpFlags::PSH | TcpFlags::ACK);
        table.track(ts, &segment(client, port, server, 443, syn, 1, 0, 0), &mut sink);
        table.track(ts, &segment(server, 443, client, port, syn | ack, 9, 2, 0), &mut sink);
        table.track(ts, &segment(client, port, server, 443, ack, 2, 10, 0), &mut sink);
        table.track(ts, &segment(client, port, server, 443, psh, 2, 10, 100), &mut sink);
    }
    let after = rss_kib();
    let grown = after.saturating_sub(before);
    println!("flows held        {:>10}", table.len());
    println!("flows ended       {:>10}  (evicted/expired while filling; must be 0)", sink.0);
    println!("rss before        {:>10} KiB", before);
    println!("rss after         {:>10} KiB", after);
    println!(
        "rss for the table {:>10} KiB = {:.1} MiB ({:.0} bytes/flow)",
        grown,
        grown as f64 / 1024.0,
        grown as f64 * 1024.0 / f64::from(FLOWS)
    );
    println!("target            {:>10} MiB", 256);
}
