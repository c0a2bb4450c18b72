//! Flow table tests: Zeek's conn_state and history for the classic TCP shapes, role flips,
//! UDP and ICMP pairing, and the table's bounds.

use crate::*;
use core::net::IpAddr;
use core::time::Duration;
use sensor_wire::{Decoded, TcpFlags, TcpSegment, Timestamp, Transport};

const A: &str = "10.0.0.1";
const B: &str = "10.0.0.2";

#[derive(Default)]
struct Collect {
    ended: Vec<(String, &'static str, String, u64, u64, EndReason)>,
    weirds: Vec<&'static str>,
}

impl FlowSink<()> for Collect {
    fn ended(&mut self, f: Flow<()>, reason: EndReason) {
        let k = f.key();
        let dir = format!("{}:{}>{}:{}", k.orig_h, k.orig_p, k.resp_h, k.resp_p);
        self.ended.push((dir, f.conn_state(), f.history.letters().to_string(), f.orig_bytes(), f.resp_bytes(), reason));
    }
    fn weird(&mut self, _: &Flow<()>, name: &'static str) {
        self.weirds.push(name);
    }
}

fn tcp<'a>(src: &str, sp: u16, dst: &str, dp: u16, flags: u8, seq: u32, ack: u32, len: u32) -> Decoded<'a> {
    Decoded {
        vlan: None,
        inner_vlan: None,
        src: src.parse::<IpAddr>().unwrap(),
        dst: dst.parse::<IpAddr>().unwrap(),
        ip_len: 40 + len,
        ttl: 64,
        reassembled: false,
        transport: Transport::Tcp(TcpSegment {
            src_port: sp,
            dst_port: dp,
            seq,
            ack,
            flags: TcpFlags(flags),
            window: 1000,
            payload_len: len,
            payload: &[],
        }),
    }
}

fn udp<'a>(src: &str, sp: u16, dst: &str, dp: u16, len: u32) -> Decoded<'a> {
    Decoded {
        vlan: None,
        inner_vlan: None,
        src: src.parse().unwrap(),
        dst: dst.parse().unwrap(),
        ip_len: 28 + len,
        ttl: 64,
        reassembled: false,
        transport: Transport::Udp { src_port: sp, dst_port: dp, payload_len: len, payload: &[] },
    }
}

const S: u8 = TcpFlags::SYN;
const SA: u8 = TcpFlags::SYN | TcpFlags::ACK;
const AK: u8 = TcpFlags::ACK;
const PA: u8 = TcpFlags::ACK | TcpFlags::PSH;
const FA: u8 = TcpFlags::FIN | TcpFlags::ACK;
const R: u8 = TcpFlags::RST;
const RA: u8 = TcpFlags::RST | TcpFlags::ACK;

/// Runs packets (one millisecond apart) through a fresh table and returns the ended flows.
fn run(pkts: &[Decoded<'_>]) -> Collect {
    let mut table = FlowTable::<()>::new(FlowConfig::default());
    let mut sink = Collect::default();
    for (i, p) in pkts.iter().enumerate() {
        table.track(Timestamp(1_000_000_000 + i as u64 * 1_000_000), p, &mut sink);
    }
    table.drain(&mut sink);
    sink
}

#[test]
fn full_tcp_session_is_sf() {
    let c = run(&[
        tcp(A, 40000, B, 80, S, 100, 0, 0),
        tcp(B, 80, A, 40000, SA, 500, 101, 0),
        tcp(A, 40000, B, 80, AK, 101, 501, 0),
        tcp(A, 40000, B, 80, PA, 101, 501, 10),
        tcp(B, 80, A, 40000, PA, 501, 111, 20),
        tcp(A, 40000, B, 80, FA, 111, 521, 0),
        tcp(B, 80, A, 40000, FA, 521, 112, 0),
        tcp(A, 40000, B, 80, AK, 112, 522, 0),
    ]);
    let (dir, state, history, ob, rb, _) = &c.ended[0];
    assert_eq!(dir, "10.0.0.1:40000>10.0.0.2:80");
    assert_eq!((*state, history.as_str(), *ob, *rb), ("SF", "ShADdFf", 10, 20));
}

#[test]
fn syn_only_is_s0_and_rejected_syn_is_rej() {
    let c = run(&[tcp(A, 40000, B, 80, S, 1, 0, 0)]);
    assert_eq!((c.ended[0].1, c.ended[0].2.as_str()), ("S0", "S"));
    let c = run(&[tcp(A, 40000, B, 81, S, 1, 0, 0), tcp(B, 81, A, 40000, RA, 0, 2, 0)]);
    assert_eq!((c.ended[0].1, c.ended[0].2.as_str()), ("REJ", "Sr"));
}

#[test]
fn originator_reset_after_handshake_is_rsto() {
    let c = run(&[
        tcp(A, 40000, B, 502, S, 1, 0, 0),
        tcp(B, 502, A, 40000, SA, 9, 2, 0),
        tcp(A, 40000, B, 502, R, 2, 0, 0),
    ]);
    // The same shape as the third flow of zeek-modbus-and-non-modbus-p502 ("ShR", RSTO).
    assert_eq!((c.ended[0].1, c.ended[0].2.as_str()), ("RSTO", "ShR"));
}

#[test]
fn syn_then_reset_without_answer_is_rstos0() {
    let c = run(&[tcp(A, 40000, B, 80, S, 1, 0, 0), tcp(A, 40000, B, 80, R, 2, 0, 0)]);
    assert_eq!((c.ended[0].1, c.ended[0].2.as_str()), ("RSTOS0", "SR"));
}

#[test]
fn midstream_data_is_oth_and_retransmission_is_t() {
    let c = run(&[
        tcp(A, 40000, B, 20000, PA, 1000, 5000, 100),
        tcp(B, 20000, A, 40000, PA, 5000, 1100, 50),
        tcp(A, 40000, B, 20000, PA, 1000, 5050, 100),
    ]);
    let (_, state, history, ob, rb, _) = &c.ended[0];
    assert_eq!((*state, history.as_str()), ("OTH", "DdT"));
    assert_eq!((*ob, *rb), (100, 50));
}

#[test]
fn syn_ack_first_then_traffic_flips_roles() {
    let c = run(&[tcp(B, 8080, A, 40000, SA, 500, 101, 0), tcp(A, 40000, B, 8080, AK, 101, 501, 0)]);
    // 8080 is a likely server port: the SYN-ACK's receiver becomes the originator at once.
    assert_eq!(c.ended[0].0, "10.0.0.1:40000>10.0.0.2:8080");
    assert!(c.ended[0].2.starts_with('^'), "{}", c.ended[0].2);

    let c = run(&[tcp(B, 7777, A, 40000, SA, 500, 101, 0), tcp(A, 40000, B, 7777, AK, 101, 501, 0)]);
    assert_eq!(c.ended[0].0, "10.0.0.1:40000>10.0.0.2:7777");
    assert_eq!(c.ended[0].2, "^hA");
}

#[test]
fn content_gap_counts_missed_bytes() {
    let mut table = FlowTable::<()>::new(FlowConfig::default());
    let mut sink = Collect::default();
    let pkts = [
        tcp(A, 40000, B, 80, S, 100, 0, 0),
        tcp(B, 80, A, 40000, SA, 500, 101, 0),
        tcp(A, 40000, B, 80, AK, 101, 501, 0),
        tcp(A, 40000, B, 80, PA, 101, 501, 10),
        // 10 bytes at 111 never seen; the responder acks them.
        tcp(A, 40000, B, 80, PA, 121, 501, 10),
        tcp(B, 80, A, 40000, AK, 501, 131, 0),
    ];
    let mut missed = 0;
    for (i, p) in pkts.iter().enumerate() {
        let t = table.track(Timestamp(i as u64), p, &mut sink);
        missed = table.get_mut(t.id).unwrap().missed_bytes;
    }
    assert_eq!(missed, 10);
    table.drain(&mut sink);
    assert!(sink.ended[0].2.contains('G'), "{}", sink.ended[0].2);
}

#[test]
fn udp_pairs_both_directions_and_flips_from_server_port() {
    let c = run(&[udp(A, 5555, B, 53, 30), udp(B, 53, A, 5555, 90)]);
    assert_eq!(c.ended.len(), 1);
    assert_eq!((c.ended[0].1, c.ended[0].2.as_str(), c.ended[0].3, c.ended[0].4), ("SF", "Dd", 30, 90));
    let c = run(&[udp(B, 53, A, 5555, 90)]);
    assert_eq!(c.ended[0].0, "10.0.0.1:5555>10.0.0.2:53");
    assert_eq!((c.ended[0].1, c.ended[0].2.as_str()), ("SHR", "^d"));
}

#[test]
fn inactivity_timeout_ends_flows_by_packet_time() {
    let mut table = FlowTable::<()>::new(FlowConfig::default());
    let mut sink = Collect::default();
    table.track(Timestamp(0), &udp(A, 1000, B, 2000, 1), &mut sink);
    table.track(Timestamp(59_000_000_000), &tcp(A, 1, B, 2, S, 1, 0, 0), &mut sink);
    assert!(sink.ended.is_empty());
    table.track(Timestamp(61_000_000_000), &tcp(A, 1, B, 2, S, 1, 0, 0), &mut sink);
    assert_eq!(sink.ended.len(), 1);
    assert_eq!(sink.ended[0].5, EndReason::Timeout);
    assert_eq!(table.stats().expired, 1);
}

#[test]
fn table_is_bounded_and_evicts_the_flow_idle_longest() {
    let cfg = FlowConfig { max_flows: 100, ..FlowConfig::default() };
    let mut table = FlowTable::<()>::new(cfg);
    let mut sink = Collect::default();
    for port in 0..1000u16 {
        table.track(Timestamp(u64::from(port)), &udp(A, port, B, 9999, 1), &mut sink);
        // Keep flow 0 busy: it must never be the one evicted.
        table.track(Timestamp(u64::from(port)), &udp(A, 0, B, 9999, 1), &mut sink);
        assert!(table.len() <= 100);
    }
    assert_eq!(table.stats().evicted, 900);
    assert!(sink.ended.iter().all(|e| e.0 != "10.0.0.1:0>10.0.0.2:9999"));
    table.drain(&mut sink);
    assert_eq!(sink.ended.len(), 1000, "every flow leaves the table exactly once");
}

#[test]
fn closed_connections_leave_after_the_close_delay() {
    let cfg = FlowConfig { tcp_close_delay: Duration::from_secs(5), ..FlowConfig::default() };
    let mut table = FlowTable::<()>::new(cfg);
    let mut sink = Collect::default();
    table.track(Timestamp(0), &tcp(A, 1, B, 2, S, 1, 0, 0), &mut sink);
    table.track(Timestamp(1), &tcp(B, 2, A, 1, RA, 0, 2, 0), &mut sink);
    table.track(Timestamp(6_000_000_001), &udp(A, 1, B, 2, 1), &mut sink);
    assert_eq!(sink.ended.len(), 1);
    assert_eq!(sink.ended[0].1, "REJ");
}

#[test]
fn flow_memory_per_entry_is_bounded() {
    // docs/PERFORMANCE.md budgets 1,000,000 flows; this keeps the slot from silently growing.
    let size = core::mem::size_of::<Flow<()>>();
    assert!(size <= 232, "Flow<()> grew to {size} bytes");
}

#[test]
fn a_flow_idle_past_its_timeout_splits_even_between_sweeps() {
    // Two packets 60.5 s apart on one UDP 5-tuple, with other traffic keeping the once-a-second
    // sweep from running at the second packet: still two flows, as in Zeek.
    let mut table = FlowTable::<()>::new(FlowConfig::default());
    let mut sink = Collect::default();
    table.track(Timestamp(0), &udp(A, 47808, B, 47808, 10), &mut sink);
    table.track(Timestamp(60_000_000_000), &udp(A, 1, B, 2, 1), &mut sink);
    table.track(Timestamp(60_500_000_000), &udp(A, 47808, B, 47808, 10), &mut sink);
    table.drain(&mut sink);
    let split = sink.ended.iter().filter(|e| e.0 == "10.0.0.1:47808>10.0.0.2:47808").count();
    assert_eq!(split, 2);
}

#[test]
fn packed_keys_unpack_to_the_key_packed() {
    let key = |o: &str, r: &str, vlan, inner_vlan| FlowKey {
        orig_h: o.parse().unwrap(),
        resp_h: r.parse().unwrap(),
        orig_p: 40000,
        resp_p: 443,
        proto: proto::TCP,
        vlan,
        inner_vlan,
    };
    let keys = [
        key(A, B, None, None),
        key(A, B, Some(0), None),
        key(A, B, Some(4095), Some(0xffff)),
        key("2001:db8::1", "2001:db8::2", None, Some(7)),
        // An IPv4-mapped IPv6 address stays IPv6, apart from the IPv4 address it maps.
        key("::ffff:10.0.0.1", "10.0.0.1", None, None),
        key("0.0.0.0", "::", None, None),
    ];
    for k in keys {
        let packed = crate::key::PackedKey::pack(&k);
        assert_eq!(packed.unpack(), k);
        let mut reversed = packed.clone();
        reversed.reverse();
        assert_eq!(reversed.unpack(), k.reversed());
        assert_eq!(crate::key::PackedKey::pack(&k.reversed()), reversed);
        assert_eq!(packed.matches(&k), Some(true));
        assert_eq!(packed.matches(&k.reversed()), Some(false));
    }
    let packed: Vec<_> = keys.iter().map(crate::key::PackedKey::pack).collect();
    for (i, a) in packed.iter().enumerate() {
        for (j, b) in packed.iter().enumerate() {
            assert_eq!(a == b, i == j, "keys {i} and {j}");
            assert_eq!(a.matches(&keys[j]).is_some(), i == j, "keys {i} and {j}");
        }
    }
}

#[test]
fn ipv6_and_vlan_flows_pair_both_directions() {
    let mut p = udp("2001:db8::1", 5555, "2001:db8::2", 53, 30);
    p.vlan = Some(12);
    let mut r = udp("2001:db8::2", 53, "2001:db8::1", 5555, 90);
    r.vlan = Some(12);
    let mut other_vlan = p;
    other_vlan.vlan = None;
    let c = run(&[p, r, other_vlan]);
    assert_eq!(c.ended.len(), 2);
    assert!(c.ended.iter().any(|e| e.0 == "2001:db8::1:5555>2001:db8::2:53" && (e.3, e.4) == (30, 90)));
    assert!(c.ended.iter().any(|e| e.0 == "2001:db8::1:5555>2001:db8::2:53" && (e.3, e.4) == (30, 0)));
}

/// A sink that says flows are still seen elsewhere until `until` (the kernel dropping the
/// packets of a bypassed flow).
struct SeenElsewhere {
    inner: Collect,
    until: Timestamp,
}

impl FlowSink<()> for SeenElsewhere {
    fn ended(&mut self, f: Flow<()>, reason: EndReason) {
        self.inner.ended(f, reason);
    }
    fn weird(&mut self, f: &Flow<()>, name: &'static str) {
        self.inner.weird(f, name);
    }
    fn seen_elsewhere(&mut self, _: &Flow<()>) -> Option<Timestamp> {
        Some(self.until)
    }
}

#[test]
fn a_flow_seen_elsewhere_stays_until_idle_there_too() {
    let mut table = FlowTable::<()>::new(FlowConfig::default());
    let mut sink = SeenElsewhere { inner: Collect::default(), until: Timestamp(50_000_000_000) };
    table.track(Timestamp(0), &udp(A, 1000, B, 2000, 1), &mut sink);
    // Idle here for 61 s, but seen elsewhere 11 s ago: kept.
    table.expire(Timestamp(61_000_000_000), &mut sink);
    assert!(sink.inner.ended.is_empty());
    assert_eq!(table.len(), 1);
    // Idle in both places past the UDP timeout (60 s): ended, once.
    table.expire(Timestamp(111_000_000_000), &mut sink);
    assert_eq!(sink.inner.ended.len(), 1);
    assert_eq!(sink.inner.ended[0].5, EndReason::Timeout);
    assert_eq!(table.len(), 0);
}
