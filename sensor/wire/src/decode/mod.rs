//! The frame decoder: link layer → tags/labels → IP (with reassembly) → transport.
//!
//! # Map
//! - `mod.rs` (this file): [`FrameDecoder`], the hostile-input limits, counting.
//! - `link.rs`: link types, Ethernet, VLAN tags, MPLS labels and pseudowires, ARP.
//! - `ipv4.rs`, `ipv6.rs`: IP headers, length checks, IPv6 extension-header chain, handing
//!   fragments to [`crate::frag`].
//! - `transport.rs`: TCP, UDP, ICMP/ICMPv6.
//!
//! Every step takes a byte slice and returns either the next slice or a verdict; none of them
//! hashes or panics, whatever the bytes, and none allocates except for the `addl` text of three
//! rare anomalies (`UDP_datagram_length_mismatch`, `unknown_routing_type`,
//! `unsupported_link_type`).

mod ipv4;
mod ipv6;
mod link;
#[cfg(test)]
mod tests;
mod transport;

use core::net::IpAddr;

use crate::frag::{FragmentUsage, Reassembler};
use crate::weird;
use crate::{Anomaly, Decode, DecodeCounters, Decoded, DecoderConfig, DropReason, LinkType, NotIp, Timestamp};

/// Most VLAN tags read in one frame. QinQinQ (three tags) occurs in carrier networks; a fourth
/// is allowed as slack. Defends against a frame of nothing but tags making the decoder loop.
pub const MAX_VLAN_TAGS: usize = 4;
/// Most MPLS label stack entries read in one frame. Real stacks are 1–4 deep (transport, VPN,
/// entropy labels); 8 leaves room. Defends against a frame of labels without bottom-of-stack.
pub const MAX_MPLS_LABELS: usize = 8;
/// Most Ethernet pseudowires (MPLS → control word → Ethernet) followed in one frame. Defends
/// against pseudowire-in-pseudowire nesting used to hide traffic or exhaust the decoder.
pub const MAX_PSEUDOWIRE_NESTING: usize = 1;
/// Most IPv6 extension headers read in one packet. Real packets carry 0–3; RFC 8200 §4.1 allows
/// each kind once (destination options twice). Defends against long chains of tiny headers
/// (RFC 7112, RFC 9098: such chains are used to evade filters and slow parsers).
pub const MAX_IPV6_EXT_HEADERS: usize = 8;

/// Decodes captured frames into [`Decoded`] packets, reassembling IP fragments.
///
/// One decoder per worker thread: it owns its reassembly table and counters, and is not shared.
pub struct FrameDecoder {
    frag: Reassembler,
    counters: DecodeCounters,
}

/// Per-frame context handed down to the IP decoders.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx {
    pub ts: Timestamp,
    /// Bytes of the IP packet on the wire, when the caller knows the frame's wire length.
    pub wire_ip_len: Option<usize>,
    pub vlan: Option<u16>,
    pub inner_vlan: Option<u16>,
}

impl FrameDecoder {
    /// Creates a decoder. Allocates nothing until the first fragment arrives.
    pub fn new(cfg: DecoderConfig) -> Self {
        FrameDecoder { frag: Reassembler::new(&cfg.fragments), counters: DecodeCounters::default() }
    }

    /// Decodes one frame of link type `link` captured at `ts`.
    ///
    /// Anomalies (named as Zeek names its weirds, see [`crate::weird`]) are pushed to
    /// `anomalies`; a packet can be returned *and* have anomalies (an anomaly is not an error).
    /// The returned packet borrows `frame`, or the decoder's reassembly buffer when it is a
    /// datagram completed by this fragment. Never panics, whatever `frame` holds.
    ///
    /// A frame shorter than its IP length is taken as cut by the snap length: it decodes, with
    /// the payload slice shorter than `payload_len`.
    #[inline]
    pub fn decode<'a>(
        &'a mut self,
        link: LinkType,
        ts: Timestamp,
        frame: &'a [u8],
        anomalies: &mut Vec<Anomaly>,
    ) -> Decode<'a> {
        self.decode_inner(link, ts, frame, None, anomalies)
    }

    /// Like [`FrameDecoder::decode`], for callers that know the frame's length on the wire
    /// (pcap `orig_len`, `tp_len` of AF_PACKET): an IP length reaching past the wire length
    /// means the frame itself is short, which Zeek reports as `truncated_IP_len` and drops; a
    /// frame only cut by the snap length (`frame.len() < wire_len`) still decodes.
    #[inline]
    pub fn decode_with_wire_len<'a>(
        &'a mut self,
        link: LinkType,
        ts: Timestamp,
        frame: &'a [u8],
        wire_len: usize,
        anomalies: &mut Vec<Anomaly>,
    ) -> Decode<'a> {
        self.decode_inner(link, ts, frame, Some(wire_len), anomalies)
    }

    #[inline]
    fn decode_inner<'a>(
        &'a mut self,
        link: LinkType,
        ts: Timestamp,
        frame: &'a [u8],
        wire_len: Option<usize>,
        anomalies: &mut Vec<Anomaly>,
    ) -> Decode<'a> {
        let before = anomalies.len();
        let FrameDecoder { frag, counters } = self;
        counters.frames += 1;
        let out = decode_frame(frag, counters, link, ts, frame, wire_len, anomalies);
        match &out {
            Decode::Packet(p) => {
                counters.ip_packets += 1;
                match p.src {
                    IpAddr::V4(_) => counters.ipv4 += 1,
                    IpAddr::V6(_) => counters.ipv6 += 1,
                }
                counters.reassembled += u64::from(p.reassembled);
            }
            Decode::Held => counters.held += 1,
            Decode::NotIp(kind) => {
                counters.non_ip += 1;
                counters.arp += u64::from(*kind == NotIp::Arp);
            }
            Decode::Dropped(reason) => counters.dropped.add(*reason),
        }
        counters.anomalies += anomalies.len().saturating_sub(before) as u64;
        out
    }

    /// Discards fragment buffers whose first fragment is older than the timeout relative to
    /// `now` (capture time), counting them in `fragment_timeouts` and pushing a
    /// `fragment_reassembly_timeout` anomaly for each. Call it periodically, e.g. once per
    /// second of capture time.
    pub fn expire(&mut self, now: Timestamp, anomalies: &mut Vec<Anomaly>) {
        let before = anomalies.len();
        self.frag.expire(now, &mut self.counters, anomalies);
        self.counters.anomalies += anomalies.len().saturating_sub(before) as u64;
    }

    /// The decoder's counters.
    pub fn counters(&self) -> &DecodeCounters {
        &self.counters
    }

    /// Current use of the fragment reassembly table.
    pub fn fragment_usage(&self) -> FragmentUsage {
        self.frag.usage()
    }
}

/// Link layer, then IP.
fn decode_frame<'a>(
    frag: &'a mut Reassembler,
    counters: &mut DecodeCounters,
    link: LinkType,
    ts: Timestamp,
    frame: &'a [u8],
    wire_len: Option<usize>,
    anomalies: &mut Vec<Anomaly>,
) -> Decode<'a> {
    match link::decode(link, frame, anomalies) {
        Err(reason) => Decode::Dropped(reason),
        Ok(link::L2 { l3: link::L3::NotIp(kind), .. }) => Decode::NotIp(kind),
        Ok(link::L2 { l3: link::L3::Ip(data), vlan, inner_vlan }) => {
            // `data` is a suffix of `frame`: what precedes it is the link layer.
            let link_len = frame.len().saturating_sub(data.len());
            let wire_ip_len = wire_len.map(|w| w.saturating_sub(link_len));
            let ctx = Ctx { ts, wire_ip_len, vlan, inner_vlan };
            decode_ip(frag, counters, &ctx, data, anomalies)
        }
    }
}

/// IP, by version nibble (the EtherType is not trusted to match, as in Zeek).
#[inline]
pub(crate) fn decode_ip<'a>(
    frag: &'a mut Reassembler,
    counters: &mut DecodeCounters,
    ctx: &Ctx,
    data: &'a [u8],
    anomalies: &mut Vec<Anomaly>,
) -> Decode<'a> {
    // Zeek checks for a minimal IPv4 header before looking at the version (ip/IP.cc).
    if data.len() < smoltcp::wire::IPV4_HEADER_LEN {
        weird::push(anomalies, weird::TRUNCATED_IP, None, None);
        return Decode::Dropped(DropReason::MalformedIp);
    }
    match data[0] >> 4 {
        4 => ipv4::decode(frag, counters, ctx, data, anomalies),
        6 => ipv6::decode(frag, counters, ctx, data, anomalies),
        _ => {
            weird::push(anomalies, weird::UNKNOWN_IP_VERSION, None, None);
            Decode::Dropped(DropReason::MalformedIp)
        }
    }
}

/// Assembles the decoded packet once the transport layer is known.
#[inline]
pub(crate) fn packet<'a>(
    ctx: &Ctx,
    src: IpAddr,
    dst: IpAddr,
    ip_len: usize,
    ttl: u8,
    reassembled: bool,
    transport: Result<crate::Transport<'a>, DropReason>,
) -> Decode<'a> {
    match transport {
        Ok(transport) => Decode::Packet(Decoded {
            vlan: ctx.vlan,
            inner_vlan: ctx.inner_vlan,
            src,
            dst,
            ip_len: u32::try_from(ip_len).unwrap_or(u32::MAX),
            ttl,
            reassembled,
            transport,
        }),
        Err(reason) => Decode::Dropped(reason),
    }
}
