//! "Fuzz-ish" robustness: every prefix of every test frame, and many random byte flips, under
//! every link type. Nothing may panic, every frame must be counted once, and every decoded packet
//! must be self-consistent. (Coverage-guided fuzz targets live outside the workspace.)

use super::frames::*;
use crate::{Decode, DecoderConfig, FragmentConfig, FrameDecoder, LinkType, Timestamp, Transport};

/// xorshift64*: a fixed, dependency-free PRNG so failures reproduce.
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

const LINKS: [LinkType; 10] = [
    LinkType::ETHERNET,
    LinkType::LINUX_SLL,
    LinkType::LINUX_SLL2,
    LinkType::RAW,
    LinkType::IPV4,
    LinkType::IPV6,
    LinkType::NULL,
    LinkType::LOOP,
    LinkType(12),
    LinkType(9999),
];

fn corpus() -> Vec<(LinkType, &'static [u8])> {
    vec![
        (LinkType::ETHERNET, &MPLS_TCP[..]),
        (LinkType::ETHERNET, &QINQ_UDP[..]),
        (LinkType::ETHERNET, &QINQINQ_TCP[..]),
        (LinkType::ETHERNET, &VLAN0_TCP[..]),
        (LinkType::LINUX_SLL2, &SLL2_ICMP[..]),
        (LinkType::LINUX_SLL, &SLL_TCP[..]),
        (LinkType::RAW, &RAW_UDP[..]),
        (LinkType::ETHERNET, &ARP[..]),
        (LinkType::ETHERNET, &LLC[..]),
        (LinkType::ETHERNET, &IPV6_UDP_HBH_RH0[..]),
        (LinkType::ETHERNET, &FRAG4_0[..]),
        (LinkType::ETHERNET, &FRAG4_1[..]),
        (LinkType::ETHERNET, &FRAG4_2[..]),
    ]
}

/// What must hold for any packet the decoder returns.
fn check(out: &Decode<'_>, frame_len: usize) {
    let Decode::Packet(p) = out else { return };
    match p.transport {
        Transport::Tcp(t) => assert!(t.payload.len() <= t.payload_len as usize),
        Transport::Udp { payload, payload_len, .. } => {
            assert!(payload.len() <= payload_len as usize)
        }
        Transport::Icmp { payload_len, .. } | Transport::Other { payload_len, .. } => {
            assert!(payload_len as usize <= p.ip_len as usize)
        }
    }
    if !p.reassembled {
        // A packet that is not reassembled can only borrow the frame.
        if let Transport::Tcp(t) = p.transport {
            assert!(t.payload.len() < frame_len.max(1));
        }
    }
}

/// A small table, so that garbage fragments also exercise eviction.
fn decoder() -> FrameDecoder {
    FrameDecoder::new(DecoderConfig {
        fragments: FragmentConfig { max_datagrams: 4, max_bytes: 16 * 1024, ..Default::default() },
    })
}

#[test]
fn every_prefix_under_every_link_type() {
    let mut d = decoder();
    let mut an = Vec::new();
    let mut packets = 0;
    for (_, frame) in corpus() {
        for len in 0..=frame.len() {
            for link in LINKS {
                let out = d.decode(link, Timestamp::from_parts(len as u64, 0), &frame[..len], &mut an);
                check(&out, len);
                packets += usize::from(matches!(out, Decode::Packet(_)));
                an.clear();
            }
        }
    }
    assert!(d.counters().is_balanced(), "{:?}", d.counters());
    // Sanity: the corpus is real traffic, so plenty of prefixes decode.
    assert!(packets > 300, "only {packets} packets");
}

#[test]
fn random_byte_flips() {
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut d = decoder();
    let mut an = Vec::new();
    let corpus = corpus();
    let mut buf = Vec::with_capacity(256);
    for round in 0..40_000u64 {
        let (link, frame) = corpus[rng.below(corpus.len())];
        buf.clear();
        buf.extend_from_slice(frame);
        for _ in 0..=rng.below(4) {
            let at = rng.below(buf.len());
            buf[at] = rng.next() as u8;
        }
        if rng.below(4) == 0 {
            buf.truncate(rng.below(buf.len() + 1));
        }
        let link = if rng.below(8) == 0 { LINKS[rng.below(LINKS.len())] } else { link };
        let out = d.decode(link, Timestamp::from_parts(round / 100, 0), &buf, &mut an);
        check(&out, buf.len());
        an.clear();
        if round % 1000 == 0 {
            d.expire(Timestamp::from_parts(round / 100, 0), &mut an);
        }
    }
    let c = d.counters();
    assert!(c.is_balanced(), "{c:?}");
    assert!(c.ip_packets > 0 && c.dropped.total() > 0, "{c:?}");
}
