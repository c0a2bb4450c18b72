//! The DNS message parser and the per-flow transaction logic on arbitrary payloads, over UDP and
//! over TCP (as a stream split into segments).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sensor_analyzers::dns::{DnsConfig, DnsFlow, DnsRecord, DnsSink, DnsTransport, parse_message};
use sensor_wire::{TcpFlags, TcpSegment, Timestamp};

struct Discard;
impl DnsSink for Discard {
    fn record(&mut self, _: &DnsRecord) {}
    fn weird(&mut self, _: Timestamp, _: &'static str, _: Option<&str>) {}
}

fuzz_target!(|data: &[u8]| {
    let _ = parse_message(data);
    let cfg = DnsConfig::default();
    let mut udp = DnsFlow::new(DnsTransport::Udp);
    udp.udp(&cfg, Timestamp(1), true, data, &mut Discard);
    udp.udp(&cfg, Timestamp(2), false, data, &mut Discard);
    udp.finish(&mut Discard);

    let mut tcp = DnsFlow::new(DnsTransport::Tcp);
    let mut seq = 1000u32;
    for (i, chunk) in data.chunks(7).enumerate() {
        let seg = TcpSegment {
            src_port: 40000,
            dst_port: 53,
            seq,
            ack: 0,
            flags: TcpFlags(TcpFlags::ACK),
            window: 1000,
            payload_len: chunk.len() as u32,
            payload: chunk,
        };
        tcp.tcp(&cfg, Timestamp(i as u64), i % 3 != 2, &seg, &mut Discard);
        seq = seq.wrapping_add(chunk.len() as u32);
    }
    tcp.finish(&mut Discard);
});
