//! Robustness on real traffic: every shared capture decodes without a panic and with every
//! frame counted once; truncations of every frame of a few captures and random byte flips of
//! them never panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use sensor_wire::{Decode, DecoderConfig, DropReason, FragmentConfig, FrameDecoder, Timestamp, Transport, weird};

#[test]
fn wire_length_tells_short_frames_from_snap_length_cuts() {
    // Two frames of this trace carry an IPv4 length of 84 in 69 and 60 bytes on the wire
    // (suricata-verify counts 2 decoder.ipv4.trunc_pkt); Zeek calls that truncated_IP_len.
    let frames = read_capture(&shared("malformed/sv-anomaly-packethdr.pcap"));
    let d = decode_frames(&frames, true);
    let short: Vec<usize> = (0..d.frames.len())
        .filter(|&i| d.frames[i] == (Out::Dropped(DropReason::MalformedIp), vec![weird::TRUNCATED_IP_LEN]))
        .collect();
    assert_eq!(short, [12, 29]);
    assert_eq!(d.counters.dropped.total(), 2);
    // Without the wire length they look like snap-length cuts and decode.
    let d = decode_frames(&frames, false);
    assert_eq!(d.counters.dropped.total(), 0);
    assert!(matches!(&d.frames[12].0, Out::Packet(p) if p.ip_len == 84));
    // A real snap-length cut (caplen < orig_len) decodes either way.
    let frames = read_capture(&shared("ot-ics/iti-bacnet-test.pcap"));
    assert!(frames.iter().all(|f| f.data.len() < f.wire_len));
    let d = decode_frames(&frames, true);
    assert_eq!(d.counters.ip_packets, d.counters.frames);
}

/// Drops expected outside `malformed/` (without, with the wire length), and why.
const EXPECTED_DROPS: &[(&str, [u64; 2])] = &[
    // Frame 1 is fuzzed: its IP version nibble is 2 (unknown_ip_version).
    ("ot-ics/zeek-modbus-fuzz-1011.pcap", [1, 1]),
    // Frame 0 says 58 IP bytes in a 60-byte frame (46 after Ethernet), frame 19 says 35124:
    // truncated_IP_len once the wire length is known.
    ("ot-ics/zeek-modbus-fuzz-72.pcap", [0, 2]),
];

#[test]
fn every_shared_capture_decodes() {
    let captures = all_captures();
    assert!(captures.len() >= 100, "found {} captures under {SHARED}", captures.len());
    let (mut frames, mut packets) = (0, 0);
    for path in &captures {
        let rel = path.strip_prefix(SHARED).unwrap().to_string_lossy().into_owned();
        let capture = read_capture(path);
        for wire in [false, true] {
            let c = decode_frames(&capture, wire).counters;
            if !rel.starts_with("malformed/") {
                let expected = EXPECTED_DROPS.iter().find(|(p, _)| *p == rel).map_or(0, |e| e.1[usize::from(wire)]);
                assert_eq!(c.dropped.total(), expected, "{rel}: {c:?}");
            }
            frames += c.frames;
            packets += c.ip_packets;
        }
    }
    assert!(frames > 2 * 240_000, "{frames} frames");
    assert!(packets * 100 > frames * 99, "{packets} packets of {frames} frames");
}

/// xorshift64*: a fixed PRNG, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Captures whose frames are truncated and mutated: every link type and encapsulation of the
/// shared set, fragments of both IP versions, and the malformed traces.
const MUTATED: &[&str] = &[
    "decode/zeek-mixed-vlan-mpls.pcap",
    "decode/zeek-q-in-q.pcap",
    "decode/zeek-vlan-qinqinq.pcap",
    "decode/zeek-linux-sll2.pcap",
    "decode/zeek-ipv6-hbh-routing0.pcap",
    "decode/sv-defrag-eth-vlan-ipv4-syn.pcap",
    "decode/sv-defrag-eth-vlan-ipv6-tcp.pcap",
    "decode/zeek-ipv4-fragmented-1.pcap",
    "dns/zeek-ipv6-fragmented-dns.pcap",
    "dns/sv-dns-srv.pcap",
    "malformed/sv-ipv6-frag-overlap-1.pcap",
    "malformed/sv-anomaly-packethdr.pcap",
    "ot-ics/icsnpp-s7comm-plus.pcap",
];

/// What must hold for any decoded packet.
fn check(out: &Decode<'_>) {
    if let Decode::Packet(p) = out {
        match p.transport {
            Transport::Tcp(t) => assert!(t.payload.len() <= t.payload_len as usize),
            Transport::Udp { payload, payload_len, .. } => {
                assert!(payload.len() <= payload_len as usize)
            }
            Transport::Icmp { payload_len, .. } | Transport::Other { payload_len, .. } => {
                assert!(payload_len <= p.ip_len)
            }
        }
    }
}

#[test]
fn every_prefix_of_every_frame() {
    let mut decoded = 0u64;
    for rel in MUTATED {
        let frames = read_capture(&shared(rel));
        // A small table so the fragments of all those prefixes also exercise eviction.
        let mut d = FrameDecoder::new(DecoderConfig {
            fragments: FragmentConfig { max_datagrams: 16, max_bytes: 64 * 1024, ..Default::default() },
        });
        let mut an = Vec::new();
        for f in &frames {
            for len in 0..=f.data.len().min(1600) {
                let out = d.decode_with_wire_len(f.link, f.ts, &f.data[..len], f.wire_len, &mut an);
                check(&out);
                decoded += 1;
                an.clear();
            }
        }
        assert!(d.counters().is_balanced(), "{rel}: {:?}", d.counters());
    }
    assert!(decoded > 50_000, "{decoded}");
}

#[test]
fn random_byte_flips_of_real_frames() {
    let mut rng = Rng(0x0dd_ba11_cafe_f00d);
    let frames: Vec<Frame> = MUTATED.iter().flat_map(|rel| read_capture(&shared(rel))).collect();
    let mut d = FrameDecoder::new(DecoderConfig::default());
    let mut an = Vec::new();
    let mut buf = Vec::new();
    for round in 0..100_000u64 {
        let f = &frames[rng.below(frames.len())];
        buf.clear();
        buf.extend_from_slice(&f.data);
        // Flip bytes, mostly in the headers where the decisions are made.
        for _ in 0..=rng.below(6) {
            let window = if rng.below(4) == 0 { buf.len() } else { buf.len().min(96) };
            let at = rng.below(window);
            buf[at] ^= 1 << rng.below(8);
        }
        if rng.below(3) == 0 {
            buf.truncate(rng.below(buf.len() + 1));
        }
        let ts = Timestamp::from_parts(round / 1000, 0);
        let out = d.decode(f.link, ts, &buf, &mut an);
        check(&out);
        an.clear();
        if round % 5000 == 0 {
            d.expire(ts, &mut an);
        }
    }
    let c = d.counters();
    assert!(c.is_balanced(), "{c:?}");
    assert!(c.ip_packets > 10_000 && c.dropped.total() > 1_000, "{c:?}");
    assert!(d.fragment_usage().bytes <= FragmentConfig::default().max_bytes);
}
