//! DNS over TCP: framing and reassembly. The byte streams are real (sv-dns-tcp-google.pcap,
//! one query and its 12-answer response, each with its 2-byte length); the tests cut and
//! reorder them into segments.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sensor_wire::{TcpFlags, TcpSegment};

use super::tests::{hex, query, response, rr};
use super::tests_flow::{Out, t};
use super::*;

// sv-dns-tcp-google.pcap, packet 4: 10.16.1.11:38195 > 8.8.4.4:53, seq 1988061949, 57 bytes
const QUERY: &[&str] = &[
    "00375f78012000010000000000010377777706676f6f676c6503636f6d000001",
    "0001000029100000000000000c000a00085a760730fb2b37d5",
];
// sv-dns-tcp-google.pcap, packet 6: 8.8.4.4:53 > 10.16.1.11:38195, seq 1301824779, 237 bytes
const RESPONSE: &[&str] = &[
    "00eb5f7881800001000c000000010377777706676f6f676c6503636f6d000001",
    "0001c00c00010001000000080004d8c5f2f4c00c00010001000000080004d8c5",
    "f2e0c00c00010001000000080004d8c5f2eec00c00010001000000080004d8c5",
    "f2d2c00c00010001000000080004d8c5f2e6c00c00010001000000080004d8c5",
    "f2dfc00c00010001000000080004d8c5f2f5c00c00010001000000080004d8c5",
    "f2e7c00c00010001000000080004d8c5f2fbc00c00010001000000080004d8c5",
    "f2edc00c00010001000000080004d8c5f2d9c00c00010001000000080004d8c5",
    "f2d80000290200000000000000",
];
const CLIENT_ISN: u32 = 1_988_061_948;
const SERVER_ISN: u32 = 1_301_824_778;

/// A segment description: direction, seq, flags, payload.
struct Seg<'a> {
    from_orig: bool,
    seq: u32,
    ack: Option<u32>,
    flags: u8,
    payload: &'a [u8],
}

fn seg(from_orig: bool, seq: u32, payload: &[u8]) -> Seg<'_> {
    Seg { from_orig, seq, ack: None, flags: TcpFlags::PSH, payload }
}

fn feed(flow: &mut DnsFlow, cfg: &DnsConfig, segs: &[Seg<'_>], out: &mut Out) {
    for (i, s) in segs.iter().enumerate() {
        let flags = s.flags | if s.ack.is_some() { TcpFlags::ACK } else { 0 };
        let tcp = TcpSegment {
            src_port: if s.from_orig { 38195 } else { 53 },
            dst_port: if s.from_orig { 53 } else { 38195 },
            seq: s.seq,
            ack: s.ack.unwrap_or(0),
            flags: TcpFlags(flags),
            window: 65535,
            payload_len: s.payload.len() as u32,
            payload: s.payload,
        };
        flow.tcp(cfg, t(i as u64 * 1000), s.from_orig, &tcp, out);
    }
}

/// The handshake, then `segs`, then finish.
fn session(segs: &[Seg<'_>]) -> (Out, DnsStats) {
    let mut flow = DnsFlow::new(DnsTransport::Tcp);
    let cfg = DnsConfig::default();
    let mut out = Out::default();
    let syn = [
        Seg { from_orig: true, seq: CLIENT_ISN, ack: None, flags: TcpFlags::SYN, payload: &[] },
        Seg { from_orig: false, seq: SERVER_ISN, ack: Some(CLIENT_ISN + 1), flags: TcpFlags::SYN, payload: &[] },
    ];
    feed(&mut flow, &cfg, &syn, &mut out);
    feed(&mut flow, &cfg, segs, &mut out);
    flow.finish(&mut out);
    (out, flow.stats())
}

fn check_google(out: &Out) {
    assert_eq!(out.records.len(), 1, "{:?}", out.weirds);
    let r = &out.records[0];
    assert_eq!((r.trans_id, r.query(), r.qtype), (0x5f78, Some("www.google.com"), Some(1)));
    assert_eq!(r.answers().len(), 12);
    assert_eq!(r.answer(0).unwrap(), "216.197.242.244");
    assert!(r.rtt.is_some());
    assert!(out.weirds.is_empty(), "{:?}", out.weirds);
}

#[test]
fn whole_messages_in_segments() {
    let (q, r) = (hex(QUERY), hex(RESPONSE));
    let (out, _) = session(&[seg(true, CLIENT_ISN + 1, &q), seg(false, SERVER_ISN + 1, &r)]);
    check_google(&out);
}

#[test]
fn one_message_across_three_segments() {
    let (q, r) = (hex(QUERY), hex(RESPONSE));
    let s = SERVER_ISN + 1;
    // The length prefix itself is split: 1 byte, then 100, then the rest.
    let (out, _) = session(&[
        seg(true, CLIENT_ISN + 1, &q),
        seg(false, s, &r[..1]),
        seg(false, s + 1, &r[1..101]),
        seg(false, s + 101, &r[101..]),
    ]);
    check_google(&out);
}

#[test]
fn out_of_order_segments() {
    let (q, r) = (hex(QUERY), hex(RESPONSE));
    let s = SERVER_ISN + 1;
    let (out, stats) = session(&[
        seg(true, CLIENT_ISN + 1, &q),
        seg(false, s + 150, &r[150..]),
        seg(false, s + 60, &r[60..150]),
        seg(false, s, &r[..60]),
    ]);
    check_google(&out);
    assert_eq!((stats.tcp_gaps, stats.tcp_duplicate_bytes), (0, 0));
}

#[test]
fn retransmissions_and_overlaps() {
    let (q, r) = (hex(QUERY), hex(RESPONSE));
    let s = SERVER_ISN + 1;
    let (out, stats) = session(&[
        seg(true, CLIENT_ISN + 1, &q),
        seg(true, CLIENT_ISN + 1, &q),
        seg(false, s, &r[..100]),
        seg(false, s + 50, &r[50..200]),
        seg(false, s, &r[..100]),
        seg(false, s + 200, &r[200..]),
        seg(false, s + 200, &r[200..]),
    ]);
    check_google(&out);
    assert_eq!(stats.tcp_duplicate_bytes, 57 + 50 + 100 + 37);
}

#[test]
fn several_messages_in_one_segment_and_midstream() {
    // No handshake: the stream starts at the first segment seen in each direction.
    let queries: Vec<u8> = (0..3u16)
        .flat_map(|id| {
            let m = query(id, "m.example", 1);
            [(m.len() as u16).to_be_bytes().to_vec(), m].concat()
        })
        .collect();
    let answers: Vec<u8> = (0..3u16)
        .flat_map(|id| {
            let m = response(id, "m.example", 1, &[rr("m.example", 1, 1, 5, &[10, 0, 0, id as u8])]);
            [(m.len() as u16).to_be_bytes().to_vec(), m].concat()
        })
        .collect();
    let mut flow = DnsFlow::new(DnsTransport::Tcp);
    let mut out = Out::default();
    feed(&mut flow, &DnsConfig::default(), &[seg(true, 7, &queries), seg(false, 9_000, &answers)], &mut out);
    assert_eq!(out.records.len(), 3);
    assert_eq!(
        out.records.iter().map(|r| r.answer(0).unwrap().to_string()).collect::<Vec<_>>(),
        ["10.0.0.0", "10.0.0.1", "10.0.0.2"]
    );
    assert_eq!(flow.stats().messages, 6);
}

#[test]
fn gap_between_messages_keeps_framing() {
    // The query is never seen; the server's ACK covers it: a 57-byte gap at a message boundary.
    let r = hex(RESPONSE);
    let (out, stats) = session(&[Seg {
        from_orig: false,
        seq: SERVER_ISN + 1,
        ack: Some(CLIENT_ISN + 58),
        flags: TcpFlags::PSH,
        payload: &r,
    }]);
    assert_eq!((stats.tcp_gaps, stats.tcp_gap_bytes), (1, 57));
    assert_eq!(out.records.len(), 1);
    assert!(out.records[0].saw_reply && !out.records[0].saw_query);
    assert!(out.weirds.is_empty());
}

#[test]
fn gap_inside_a_message_drops_it_and_resyncs() {
    // Two responses back to back; bytes 40..90 of the first are lost and the client ACKs past them.
    let r = hex(RESPONSE);
    let stream = [r.clone(), r.clone()].concat();
    let s = SERVER_ISN + 1;
    let (out, stats) = session(&[
        seg(true, CLIENT_ISN + 1, &hex(QUERY)),
        seg(false, s, &stream[..40]),
        seg(false, s + 90, &stream[90..]),
        Seg { from_orig: true, seq: CLIENT_ISN + 58, ack: Some(s + stream.len() as u32), flags: 0, payload: &[] },
    ]);
    assert_eq!(out.weirds, [weird::SENSOR_TCP_GAP_IN_MESSAGE]);
    assert_eq!(stats.tcp_gap_bytes, 50);
    // The second copy is parsed: it answers the query.
    assert_eq!(out.records.len(), 1);
    assert_eq!(out.records[0].answers().len(), 12);
}

#[test]
fn cut_message_is_parsed_at_fin_and_rst_payload_ignored() {
    let r = hex(RESPONSE);
    let s = SERVER_ISN + 1;
    let (out, _) = session(&[
        seg(true, CLIENT_ISN + 1, &hex(QUERY)),
        Seg { from_orig: false, seq: s, ack: None, flags: TcpFlags::RST, payload: &r },
        Seg { from_orig: false, seq: s, ack: None, flags: TcpFlags::FIN, payload: &r[..100] },
    ]);
    // 98 of 235 bytes: the answers that fit, then Zeek's weird for the cut record.
    assert_eq!(out.records.len(), 1);
    assert_eq!(out.records[0].answers().len(), 4);
    assert_eq!(out.weirds, [weird::TRUNCATED_ANS_TOO_SHORT]);
}

#[test]
fn zero_length_and_oversized_messages() {
    // A 0-length message, the 55-byte query (over a 40-byte limit), then a 21-byte query.
    let q = hex(QUERY);
    let small_query = query(0x77, "a.b", 1);
    let mut stream = vec![0, 0];
    stream.extend_from_slice(&q);
    stream.extend_from_slice(&(small_query.len() as u16).to_be_bytes());
    stream.extend_from_slice(&small_query);
    let mut flow = DnsFlow::new(DnsTransport::Tcp);
    let mut out = Out::default();
    let small = DnsConfig { max_tcp_message: 40, ..DnsConfig::default() };
    feed(&mut flow, &small, &[seg(true, 1, &stream[..30]), seg(true, 31, &stream[30..])], &mut out);
    assert_eq!(out.weirds, [weird::TRUNCATED_LEN_LT_HDR_LEN, weird::SENSOR_TCP_MESSAGE_TOO_LARGE]);
    flow.finish(&mut out);
    assert_eq!(out.records.iter().map(|r| r.trans_id).collect::<Vec<_>>(), [0x77], "framing kept after the skip");
}

#[test]
fn snapped_segment_is_not_delivered() {
    let r = hex(RESPONSE);
    let s = SERVER_ISN + 1;
    let mut flow = DnsFlow::new(DnsTransport::Tcp);
    let mut out = Out::default();
    let cut = TcpSegment {
        src_port: 53,
        dst_port: 38195,
        seq: s,
        ack: 0,
        flags: TcpFlags(TcpFlags::PSH),
        window: 1,
        payload_len: r.len() as u32,
        payload: &r[..60],
    };
    flow.tcp(&DnsConfig::default(), t(0), false, &cut, &mut out);
    flow.finish(&mut out);
    assert_eq!(flow.stats().tcp_dropped_segments, 1);
    assert!(out.records.is_empty());
}

/// xorshift64*: deterministic noise for the shuffling test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn shuffled_segments_stay_bounded_and_never_panic() {
    // Many rounds of the real query/response streams cut at random points, reordered, repeated,
    // dropped, flagged at random and acknowledged at random places, with small limits.
    let (q, r) = (hex(QUERY), hex(RESPONSE));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let cfg = DnsConfig { max_tcp_message: 300, max_pending_per_flow: 3, ..DnsConfig::default() };
    let mut complete = 0;
    for _ in 0..300 {
        let mut flow = DnsFlow::new(DnsTransport::Tcp);
        let mut out = Out::default();
        let streams = [(true, CLIENT_ISN + 1, q.repeat(3)), (false, SERVER_ISN + 1, r.repeat(3))];
        let mut segs = Vec::new();
        for (from_orig, base, bytes) in &streams {
            let mut at = 0;
            while at < bytes.len() {
                let len = 1 + rng.below(120).min(bytes.len() - at - 1);
                segs.push((*from_orig, base.wrapping_add(at as u32), at, len));
                at += len;
            }
        }
        for _ in 0..segs.len() {
            let (i, j) = (rng.below(segs.len()), rng.below(segs.len()));
            segs.swap(i, j);
        }
        for (n, &(from_orig, seq, at, len)) in segs.iter().enumerate() {
            if rng.below(10) == 0 {
                continue; // lost
            }
            let bytes = if from_orig { &streams[0].2 } else { &streams[1].2 };
            let flags = if rng.below(8) == 0 {
                [TcpFlags::FIN, TcpFlags::RST, TcpFlags::SYN][rng.below(3)]
            } else {
                TcpFlags::PSH
            };
            let ack_flag = if rng.below(2) == 0 { TcpFlags::ACK } else { 0 };
            let ack = if from_orig { SERVER_ISN } else { CLIENT_ISN }.wrapping_add(rng.below(800) as u32);
            let seg = TcpSegment {
                src_port: 1,
                dst_port: 53,
                seq,
                ack,
                flags: TcpFlags(flags | ack_flag),
                window: 1,
                payload_len: len as u32,
                payload: &bytes[at..at + len],
            };
            flow.tcp(&cfg, t(n as u64), from_orig, &seg, &mut out);
            assert!(flow.tcp_buffered() <= 2 * (2 * cfg.max_tcp_message), "{}", flow.tcp_buffered());
            assert!(flow.pending() <= 1 + 2 * cfg.max_pending_per_flow);
        }
        flow.finish(&mut out);
        complete += out.records.iter().filter(|r| r.answers().len() == 12 && r.saw_query).count();
    }
    assert!(complete > 0, "some rounds reassemble a full transaction");
}
