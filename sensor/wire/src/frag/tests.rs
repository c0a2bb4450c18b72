//! Reassembly through the decoder: policy, keys, limits, time, IPv6 specifics and buffer reuse.
//! Fragments are built here (raw-IP link type) so each case states exactly what it sends.

use core::time::Duration;

use super::*;
use crate::weird;
use crate::{Decode, DecoderConfig, DropReason, FrameDecoder, LinkType, Transport};

const PROTO_UDP: u8 = 17;

/// A UDP datagram (header + `n` payload bytes of a counting pattern).
fn udp(n: usize) -> Vec<u8> {
    let len = (8 + n) as u16;
    let mut v = vec![0x30, 0x39, 0x00, 0x35];
    v.extend_from_slice(&len.to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend((0..n).map(|i| i as u8));
    v
}

/// An IPv4 fragment 10.0.0.1 -> 10.0.0.2 carrying `data` at `offset`.
fn v4(id: u16, proto: u8, offset: usize, data: &[u8], more: bool) -> Vec<u8> {
    let total = (20 + data.len()) as u16;
    let flags_off = (offset / 8) as u16 | if more { 0x2000 } else { 0 };
    let mut v = vec![0x45, 0];
    v.extend_from_slice(&total.to_be_bytes());
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&flags_off.to_be_bytes());
    v.extend_from_slice(&[64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    v.extend_from_slice(data);
    v
}

/// An IPv6 fragment 2001:db8::1 -> 2001:db8::2 with a hop-by-hop header before the fragment
/// header, carrying `data` (of protocol `next`) at `offset`.
fn v6(id: u32, next: u8, offset: usize, data: &[u8], more: bool) -> Vec<u8> {
    let plen = (8 + 8 + data.len()) as u16;
    let mut v = vec![0x60, 0, 0, 0];
    v.extend_from_slice(&plen.to_be_bytes());
    v.extend_from_slice(&[0, 64]); // next: hop-by-hop
    v.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    v.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    v.extend_from_slice(&[44, 0, 1, 4, 0, 0, 0, 0]); // HBH: next fragment, PadN
    let om = offset as u16 | u16::from(more);
    v.extend_from_slice(&[next, 0]);
    v.extend_from_slice(&om.to_be_bytes());
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(data);
    v
}

fn at(secs: u64) -> Timestamp {
    Timestamp::from_parts(secs, 0)
}

struct Run {
    d: FrameDecoder,
    an: Vec<Anomaly>,
}

impl Run {
    fn new(fragments: FragmentConfig) -> Self {
        Run { d: FrameDecoder::new(DecoderConfig { fragments }), an: Vec::new() }
    }
    fn default() -> Self {
        Self::new(FragmentConfig::default())
    }
    /// Decodes a frame; returns "held", "dropped:<reason>" or the reassembled UDP payload.
    fn send(&mut self, ts: Timestamp, frame: &[u8]) -> Result<Vec<u8>, String> {
        match self.d.decode(LinkType::RAW, ts, frame, &mut self.an) {
            Decode::Held => Err("held".into()),
            Decode::Dropped(r) => Err(format!("dropped:{}", r.name())),
            Decode::NotIp(k) => Err(format!("{k:?}")),
            Decode::Packet(p) => match p.transport {
                Transport::Udp { payload, payload_len, .. } => {
                    assert!(p.reassembled);
                    assert_eq!(payload.len(), payload_len as usize);
                    Ok(payload.to_vec())
                }
                other => Err(format!("{other:?}")),
            },
        }
    }
    fn names(&self) -> Vec<&'static str> {
        self.an.iter().map(|a| a.name).collect()
    }
}

fn held() -> Result<Vec<u8>, String> {
    Err("held".into())
}

#[test]
fn out_of_order_with_a_duplicate() {
    let dgram = udp(100); // 108 bytes: 0..48, 48..96, 96..108
    let mut r = Run::default();
    assert_eq!(r.send(at(1), &v4(7, PROTO_UDP, 96, &dgram[96..], false)), held());
    assert_eq!(r.send(at(1), &v4(7, PROTO_UDP, 0, &dgram[..48], true)), held());
    assert_eq!(r.send(at(1), &v4(7, PROTO_UDP, 0, &dgram[..48], true)), held());
    assert_eq!(r.names(), [weird::FRAGMENT_OVERLAP]);
    assert_eq!(r.send(at(1), &v4(7, PROTO_UDP, 48, &dgram[48..96], true)), Ok(dgram[8..].to_vec()));
    let c = r.d.counters();
    assert_eq!((c.fragments, c.reassembled, c.fragment_overlaps, c.held), (4, 1, 1, 3));
    assert!(c.is_balanced());
}

#[test]
fn conflicting_overlap_keeps_the_first_bytes() {
    let dgram = udp(100);
    let mut r = Run::default();
    r.send(at(1), &v4(9, PROTO_UDP, 0, &dgram[..48], true)).unwrap_err();
    // 8..56 all 'Z': overlaps 8..48 (conflict), fills 48..56.
    r.send(at(1), &v4(9, PROTO_UDP, 8, &[b'Z'; 48], true)).unwrap_err();
    let got = r.send(at(1), &v4(9, PROTO_UDP, 48, &dgram[48..], false)).unwrap();
    let mut want = dgram.clone();
    want[48..56].copy_from_slice(&[b'Z'; 8]);
    assert_eq!(got, want[8..]);
    assert_eq!(r.names(), [weird::FRAGMENT_INCONSISTENCY, weird::FRAGMENT_INCONSISTENCY]);
    assert_eq!(r.d.counters().fragment_overlaps, 2);
}

#[test]
fn key_separates_protocols_and_vlans() {
    let dgram = udp(40);
    let mut r = Run::default();
    r.send(at(1), &v4(3, PROTO_UDP, 0, &dgram[..24], true)).unwrap_err();
    r.send(at(1), &v4(3, 6, 24, &dgram[24..], false)).unwrap_err(); // TCP, same id
    assert_eq!(r.d.fragment_usage().datagrams, 2);

    // The same fragment behind VLAN 5 and VLAN 6 (Ethernet + 802.1Q).
    let tagged = |vid: u8, ip: &[u8]| [&[0u8; 12][..], &[0x81, 0x00, 0x00, vid, 0x08, 0x00], ip].concat();
    let mut d = FrameDecoder::new(DecoderConfig::default());
    let mut an = Vec::new();
    let first = v4(4, PROTO_UDP, 0, &dgram[..24], true);
    let last = v4(4, PROTO_UDP, 24, &dgram[24..], false);
    for f in [tagged(5, &first), tagged(6, &last)] {
        assert!(matches!(d.decode(LinkType::ETHERNET, at(1), &f, &mut an), Decode::Held));
    }
    let frame = tagged(5, &last);
    let out = d.decode(LinkType::ETHERNET, at(1), &frame, &mut an);
    assert!(matches!(out, Decode::Packet(p) if p.vlan == Some(5) && p.reassembled));
}

#[test]
fn timeout_by_expire_and_on_arrival() {
    let dgram = udp(100);
    let mut r = Run::default();
    r.send(at(100), &v4(1, PROTO_UDP, 0, &dgram[..48], true)).unwrap_err();
    r.d.expire(at(130), &mut r.an); // exactly 30 s: not yet
    assert_eq!(r.d.fragment_usage().datagrams, 1);
    r.d.expire(at(131), &mut r.an);
    assert_eq!(r.d.fragment_usage().datagrams, 0);
    assert_eq!(r.d.counters().fragment_timeouts, 1);
    assert_eq!(r.names(), [weird::FRAGMENT_REASSEMBLY_TIMEOUT]);
    assert_eq!(r.an[0].src, Some("10.0.0.1".parse().unwrap()));

    // The missing half arriving 40 s after the first: the stale one is discarded.
    r.an.clear();
    r.send(at(200), &v4(2, PROTO_UDP, 0, &dgram[..48], true)).unwrap_err();
    assert_eq!(r.send(at(240), &v4(2, PROTO_UDP, 24, &dgram[48..], false)), held());
    assert_eq!(r.d.counters().fragment_timeouts, 2);
    assert_eq!(r.d.counters().reassembled, 0);
}

#[test]
fn table_full_evicts_the_oldest() {
    let dgram = udp(40);
    let mut r = Run::new(FragmentConfig { max_datagrams: 2, ..Default::default() });
    for id in [1, 2, 3] {
        r.send(at(1), &v4(id, PROTO_UDP, 0, &dgram[..24], true)).unwrap_err();
    }
    assert_eq!(r.d.counters().fragment_evictions, 1);
    assert_eq!(r.d.fragment_usage().datagrams, 2);
    assert_eq!(r.send(at(1), &v4(1, PROTO_UDP, 24, &dgram[24..], false)), held());
    // Completing 1 again started it anew and evicted 2; 3 is still there.
    assert!(r.send(at(1), &v4(3, PROTO_UDP, 24, &dgram[24..], false)).is_ok());
    assert_eq!(r.d.counters().fragment_evictions, 2);
}

#[test]
fn byte_budget_evicts_and_refuses() {
    let big = udp(3000);
    let mut r = Run::new(FragmentConfig { max_bytes: 4096, ..Default::default() });
    r.send(at(1), &v4(1, PROTO_UDP, 0, &big[..1504], true)).unwrap_err();
    // Offset 2000 of another datagram needs more than what is left.
    r.send(at(1), &v4(2, PROTO_UDP, 2000, &big[2000..3000], true)).unwrap_err();
    assert_eq!(r.d.counters().fragment_evictions, 1);
    assert_eq!(r.d.fragment_usage().datagrams, 1);
    assert!(r.d.fragment_usage().bytes <= 4096);
    // A datagram that alone exceeds the budget is refused.
    let out = r.send(at(1), &v4(3, PROTO_UDP, 5000, &big[..8], true));
    assert_eq!(out, Err("dropped:bad_fragment".into()));
    assert_eq!(r.d.fragment_usage().datagrams, 0);
}

#[test]
fn excessively_large_fragment_drops_the_datagram() {
    let dgram = udp(100);
    let mut r = Run::default();
    r.send(at(1), &v4(5, PROTO_UDP, 0, &dgram[..48], true)).unwrap_err();
    let out = r.send(at(1), &v4(5, PROTO_UDP, 65_520, &[0; 16], false));
    assert_eq!(out, Err("dropped:bad_fragment".into()));
    assert_eq!(r.names(), [weird::EXCESSIVELY_LARGE_FRAGMENT]);
    assert_eq!(r.d.fragment_usage().datagrams, 0);
}

#[test]
fn too_many_holes_drops_the_datagram() {
    let mut r = Run::default();
    let piece = [0u8; 64];
    for k in 0..MAX_FRAGMENT_RANGES {
        r.send(at(1), &v4(6, PROTO_UDP, k * 128, &piece, true)).unwrap_err();
    }
    assert!(r.an.is_empty());
    let out = r.send(at(1), &v4(6, PROTO_UDP, 20_000, &piece, true));
    assert_eq!(out, Err("dropped:bad_fragment".into()));
    assert_eq!(r.names(), [weird::EXCESSIVE_FRAGMENT_HOLES]);
    assert_eq!(r.d.fragment_usage().datagrams, 0);
}

#[test]
fn zeek_fragment_weirds() {
    let dgram = udp(100);
    let mut r = Run::default();
    let mut df = v4(8, PROTO_UDP, 0, &dgram[..24], true);
    df[6] |= 0x40;
    r.send(at(1), &df).unwrap_err();
    assert_eq!(r.names(), [weird::FRAGMENT_WITH_DF, weird::EXCESSIVELY_SMALL_FRAGMENT]);
}

#[test]
fn reassembly_can_be_disabled() {
    let mut r = Run::new(FragmentConfig { max_datagrams: 0, ..Default::default() });
    let out = r.send(at(1), &v4(1, PROTO_UDP, 0, &udp(40)[..24], true));
    assert_eq!(out, Err("dropped:bad_fragment".into()));
    assert_eq!(r.d.counters().dropped.get(DropReason::BadFragment), 1);
}

#[test]
fn ipv6_fragment_after_hop_by_hop() {
    let dgram = udp(200);
    let mut r = Run::default();
    r.send(at(1), &v6(0xabcd, PROTO_UDP, 104, &dgram[104..], false)).unwrap_err();
    let got = r.send(at(1), &v6(0xabcd, PROTO_UDP, 0, &dgram[..104], true)).unwrap();
    assert_eq!(got, dgram[8..]);
    assert!(r.an.is_empty(), "{:?}", r.names());
    // ip_len: 40 + 8 (hop-by-hop) + 208; the fragment header is gone.
    let mut d = FrameDecoder::new(DecoderConfig::default());
    let mut an = Vec::new();
    d.decode(LinkType::RAW, at(1), &v6(1, PROTO_UDP, 0, &dgram[..104], true), &mut an);
    let frame = v6(1, PROTO_UDP, 104, &dgram[104..], false);
    let out = d.decode(LinkType::RAW, at(1), &frame, &mut an);
    assert!(matches!(out, Decode::Packet(p) if p.ip_len == 256 && p.dst.to_string() == "2001:db8::2"));
}

#[test]
fn ipv6_next_header_mismatch_is_flagged() {
    let dgram = udp(200);
    let mut r = Run::default();
    r.send(at(1), &v6(5, PROTO_UDP, 0, &dgram[..104], true)).unwrap_err();
    r.send(at(1), &v6(5, 6, 104, &dgram[104..], false)).unwrap();
    assert_eq!(r.names(), [weird::FRAGMENT_PROTOCOL_INCONSISTENCY]);
}

#[test]
fn fragment_header_inside_a_reassembled_datagram_is_refused() {
    // The reassembled payload starts with another (non-atomic) fragment header.
    let inner = [&[PROTO_UDP, 0, 0, 1, 0, 0, 0, 9][..], &udp(100)].concat();
    let mut r = Run::default();
    r.send(at(1), &v6(6, 44, 0, &inner[..56], true)).unwrap_err();
    let out = r.send(at(1), &v6(6, 44, 56, &inner[56..], false));
    assert_eq!(out, Err("dropped:bad_fragment".into()));
    assert_eq!(r.names(), [weird::NESTED_FRAGMENT]);
}

#[test]
fn atomic_fragment_is_read_through() {
    let dgram = udp(20);
    let mut d = FrameDecoder::new(DecoderConfig::default());
    let mut an = Vec::new();
    let frame = v6(1, PROTO_UDP, 0, &dgram, false);
    let out = d.decode(LinkType::RAW, at(1), &frame, &mut an);
    assert!(matches!(out, Decode::Packet(p)
        if !p.reassembled && matches!(p.transport, Transport::Udp { payload_len: 20, .. })));
    assert_eq!(d.counters().fragments, 0);
    assert_eq!(d.fragment_usage(), FragmentUsage::default());
}

#[test]
fn incompletely_captured_fragments() {
    let dgram = udp(100);
    let mut r = Run::default();
    let first = v4(1, PROTO_UDP, 0, &dgram[..48], true);
    // The first fragment, cut: analysed on its own (not reassembled).
    let out = r.d.decode(LinkType::RAW, at(1), &first[..40], &mut r.an);
    assert!(matches!(out, Decode::Packet(p)
        if !p.reassembled && matches!(p.transport, Transport::Udp { dst_port: 53, .. })));
    assert_eq!(r.names(), [weird::INCOMPLETELY_CAPTURED_FRAGMENT, weird::UDP_DATAGRAM_LENGTH_MISMATCH]);
    // A later one, cut: dropped.
    r.an.clear();
    let later = v4(1, PROTO_UDP, 48, &dgram[48..], false);
    assert_eq!(r.send(at(1), &later[..30]), Err("dropped:bad_fragment".into()));
    assert_eq!(r.names(), [weird::INCOMPLETELY_CAPTURED_FRAGMENT]);
    assert_eq!(r.d.fragment_usage().datagrams, 0);
}

#[test]
fn buffers_are_reused_in_steady_state() {
    let mut table = Reassembler::new(&FragmentConfig::default());
    let mut c = DecodeCounters::default();
    let mut an = Vec::new();
    let dgram = [&[0x45u8; 20][..], &udp(1400)].concat();
    let key = |id| FragKey { id, ..FragKey::default() };
    let mut capacity = None;
    for id in 0..1000u32 {
        for (offset, more) in [(0, true), (704, false)] {
            let end = if more { 704 } else { 1408 };
            let f = Fragment {
                key: key(id),
                v6: false,
                header: &dgram[..20],
                nh_patch: 0,
                next_header: PROTO_UDP,
                offset,
                more,
                dont_frag: false,
                ip_len: 20 + end - offset,
                data: &dgram[20 + offset..20 + end],
            };
            let out = table.insert(&f, at(1), &mut c, &mut an);
            assert_eq!(matches!(out, Outcome::Complete(d) if d.len() == 1428), !more);
        }
        let cap = (table.slots[0].data.capacity(), table.out.capacity(), table.map.capacity());
        assert_eq!(*capacity.get_or_insert(cap), cap, "buffers reallocated at datagram {id}");
    }
    assert_eq!(table.slots.len(), 1);
    assert_eq!(table.usage().datagrams, 0);
    assert!(table.usage().pooled_bytes >= 1408);
    assert!(an.is_empty());
}

#[test]
fn default_timeout_is_linux_ipfrag_time() {
    assert_eq!(FragmentConfig::default().timeout, Duration::from_secs(30));
    assert_eq!(FragmentConfig::default().effective_max_datagram_len(), 65_535);
    let huge = FragmentConfig { max_datagram_len: 1 << 20, ..Default::default() };
    assert_eq!(huge.effective_max_datagram_len(), 65_535);
}
