//! IPv6: header and extension-header chain (hop-by-hop, routing, destination options, AH,
//! fragment), lengths from the header, fragments to the reassembler.
//!
//! As in Zeek (`src/IP.cc`, `IPv6_Hdr_Chain`): the chain stops at a fragment header (what follows
//! is in the fragmentable part, read after reassembly), at ESP and at anything that is not an
//! extension header; a routing header of type 0 or 2 with segments left makes its last address
//! the packet's destination (the host that will finally receive it), which is what flows are keyed
//! on. An atomic fragment (offset 0, no MF, RFC 6946) is read through, without reassembly.

use core::net::{IpAddr, Ipv6Addr};

use smoltcp::wire::{IPV6_HEADER_LEN, IpProtocol, Ipv6Packet};

use crate::frag::{FragKey, Fragment, Outcome, Reassembler};
use crate::ipv6ext::{ExtHeader, FRAGMENT_HEADER_LEN, is_ext_header};
use crate::weird;
use crate::{Anomaly, Decode, DecodeCounters, DropReason};

use super::{Ctx, MAX_IPV6_EXT_HEADERS, packet, transport};

/// Offset of the next-header field in the IPv6 header.
const NEXT_HEADER_AT: usize = 6;

/// A fragment header found in the chain.
#[derive(Debug, Clone, Copy)]
struct FragInfo {
    /// Where the fragment header starts: the length of the unfragmentable part.
    at: usize,
    /// Where the byte naming the fragment header is (6, or the start of the header before).
    nh_patch: usize,
    next_header: u8,
    offset: usize,
    more: bool,
    ident: u32,
}

/// The chain, walked.
#[derive(Debug, Clone, Copy)]
struct Chain {
    /// Upper-layer protocol (the last next-header value).
    protocol: u8,
    /// Where the upper-layer payload starts.
    payload_at: usize,
    /// Destination named by a routing header, if any.
    final_dst: Option<Ipv6Addr>,
    /// The fragment header the walk stopped at, if any.
    frag: Option<FragInfo>,
}

/// An IPv6 header that passed the checks.
struct Header<'a> {
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop_limit: u8,
    total_len: usize,
    /// The captured packet cut at `total_len`.
    bytes: &'a [u8],
    chain: Chain,
}

impl Header<'_> {
    fn addrs(&self) -> (Option<IpAddr>, Option<IpAddr>) {
        (Some(IpAddr::V6(self.src)), Some(IpAddr::V6(self.dst)))
    }
}

/// Checks the header of `data` (version 6) and walks its extension headers.
fn parse<'a>(
    data: &'a [u8],
    wire_len: Option<usize>,
    reassembled: bool,
    anomalies: &mut Vec<Anomaly>,
) -> Result<Header<'a>, DropReason> {
    if data.len() < IPV6_HEADER_LEN {
        weird::push(anomalies, weird::TRUNCATED_IP, None, None);
        return Err(DropReason::MalformedIp);
    }
    // 40 bytes are there: every accessor below reads inside them.
    let p = Ipv6Packet::new_unchecked(data);
    let total_len = IPV6_HEADER_LEN + usize::from(p.payload_len());
    if wire_len.is_some_and(|w| total_len > w) {
        let (src, dst) = (IpAddr::V6(p.src_addr()), IpAddr::V6(p.dst_addr()));
        weird::push(anomalies, weird::TRUNCATED_IP_LEN, Some(src), Some(dst));
        return Err(DropReason::MalformedIp);
    }
    let mut h = Header {
        src: p.src_addr(),
        dst: p.dst_addr(),
        hop_limit: p.hop_limit(),
        total_len,
        bytes: &data[..total_len.min(data.len())],
        chain: Chain { protocol: p.next_header().into(), payload_at: IPV6_HEADER_LEN, final_dst: None, frag: None },
    };
    h.chain = walk(&h, h.chain, NEXT_HEADER_AT, !reassembled, anomalies)?;
    Ok(h)
}

/// Walks extension headers from `chain.payload_at`, whose type is `chain.protocol`.
fn walk(
    h: &Header<'_>,
    mut chain: Chain,
    mut nh_at: usize,
    fragments_allowed: bool,
    anomalies: &mut Vec<Anomaly>,
) -> Result<Chain, DropReason> {
    let (src, dst) = h.addrs();
    let fail = |anomalies: &mut Vec<Anomaly>, name, reason| {
        weird::push(anomalies, name, src, dst);
        Err(reason)
    };
    let mut count = 0;
    loop {
        let kind = IpProtocol::from(chain.protocol);
        if !is_ext_header(kind) {
            return Ok(chain);
        }
        count += 1;
        if count > MAX_IPV6_EXT_HEADERS {
            return fail(anomalies, weird::EXCESSIVE_IPV6_EXT_HEADERS, DropReason::TooDeep);
        }
        let at = chain.payload_at;
        let rest = h.bytes.get(at..).unwrap_or_default();
        // The length field must be there before the header can be measured.
        if at + 2 > h.total_len {
            return fail(anomalies, weird::INVALID_IP_HEADER_SIZE, DropReason::MalformedIp);
        }
        if rest.len() < 2 {
            return fail(anomalies, weird::INTERNALLY_TRUNCATED_HEADER, DropReason::MalformedIp);
        }
        let ext = ExtHeader::new_unchecked(rest, kind);
        let len = ext.header_len();
        if at + len > h.total_len {
            return fail(anomalies, weird::INVALID_IP_HEADER_SIZE, DropReason::MalformedIp);
        }
        if len > rest.len() {
            return fail(anomalies, weird::INTERNALLY_TRUNCATED_HEADER, DropReason::MalformedIp);
        }
        // From here `ext` holds `len` >= 8 bytes: its accessors stay inside them.
        match kind {
            IpProtocol::Ipv6Route => routing(&ext, &mut chain.final_dst, src, dst, anomalies),
            IpProtocol::Ipv6Frag => {
                let (offset, more) = (usize::from(ext.frag_offset()), ext.more_frags());
                if offset != 0 || more {
                    if !fragments_allowed {
                        return fail(anomalies, weird::NESTED_FRAGMENT, DropReason::BadFragment);
                    }
                    chain.frag = Some(FragInfo {
                        at,
                        nh_patch: nh_at,
                        next_header: ext.next_header().into(),
                        offset,
                        more,
                        ident: ext.frag_ident(),
                    });
                    chain.payload_at = at + FRAGMENT_HEADER_LEN;
                    chain.protocol = ext.next_header().into();
                    return Ok(chain);
                }
                // Atomic fragment: read through it.
            }
            _ => {}
        }
        nh_at = at;
        chain.protocol = ext.next_header().into();
        chain.payload_at = at + len;
    }
}

/// Routing header semantics of Zeek's `IPv6_Hdr_Chain::ProcessRoutingHeader` (`src/IP.cc`).
fn routing(
    ext: &ExtHeader<&[u8]>,
    final_dst: &mut Option<Ipv6Addr>,
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    anomalies: &mut Vec<Anomaly>,
) {
    if final_dst.is_some() {
        // RFC 8200 §4.1: at most one routing header.
        weird::push(anomalies, weird::MULTIPLE_ROUTING_HEADERS, src, dst);
        return;
    }
    let (segments_left, len_field) = (ext.segments_left(), ext.length_field());
    match ext.routing_type() {
        0 => {
            if segments_left > 0 && len_field >= 2 {
                if len_field % 2 == 0 {
                    *final_dst = ext.routing_last_address();
                } else {
                    weird::push(anomalies, weird::ODD_ROUTING0_LEN, src, dst);
                }
            }
            // Deprecated by RFC 5095 (amplification, firewall bypass): always flagged.
            weird::push(anomalies, weird::ROUTING0_HDR, src, dst);
        }
        2 => {
            if segments_left > 0 {
                if len_field == 2 {
                    *final_dst = ext.routing_last_address();
                } else {
                    weird::push(anomalies, weird::BAD_ROUTING2_LEN, src, dst);
                }
            }
        }
        other => {
            weird::push_addl(anomalies, weird::UNKNOWN_ROUTING_TYPE, src, dst, other.to_string());
        }
    }
}

/// Decodes an IPv6 packet (version 6).
pub(super) fn decode<'a>(
    frag: &'a mut Reassembler,
    counters: &mut DecodeCounters,
    ctx: &Ctx,
    data: &'a [u8],
    anomalies: &mut Vec<Anomaly>,
) -> Decode<'a> {
    let mut h = match parse(data, ctx.wire_ip_len, false, anomalies) {
        Ok(h) => h,
        Err(reason) => return Decode::Dropped(reason),
    };
    if let Some(fi) = h.chain.frag {
        counters.fragments += 1;
        if h.bytes.len() < h.total_len {
            let (src, dst) = h.addrs();
            weird::push(anomalies, weird::INCOMPLETELY_CAPTURED_FRAGMENT, src, dst);
            if fi.offset != 0 {
                return Decode::Dropped(DropReason::BadFragment);
            }
            // The first fragment is still worth its headers (Zeek): read on past the fragment
            // header as if the packet ended there.
            h.chain = match walk(&h, h.chain, fi.at, false, anomalies) {
                Ok(chain) => chain,
                Err(reason) => return Decode::Dropped(reason),
            };
        } else {
            return reassemble(frag, counters, ctx, &h, fi, anomalies);
        }
    }
    finish(ctx, &h, false, anomalies)
}

/// The transport layer of a checked header.
#[inline]
fn finish<'a>(ctx: &Ctx, h: &Header<'a>, reassembled: bool, anomalies: &mut Vec<Anomaly>) -> Decode<'a> {
    let src = IpAddr::V6(h.src);
    let dst = IpAddr::V6(h.chain.final_dst.unwrap_or(h.dst));
    let at = h.chain.payload_at;
    let seg = h.bytes.get(at..).unwrap_or_default();
    let wire_len = h.total_len.saturating_sub(at);
    let t = match h.chain.protocol {
        59 => {
            weird::push(anomalies, weird::IPV6_NO_NEXT, Some(src), Some(dst));
            transport::decode(59, seg, wire_len, src, dst, anomalies)
        }
        p => transport::decode(p, seg, wire_len, src, dst, anomalies),
    };
    packet(ctx, src, dst, h.total_len, h.hop_limit, reassembled, t)
}

#[cold]
fn reassemble<'a>(
    frag: &'a mut Reassembler,
    counters: &mut DecodeCounters,
    ctx: &Ctx,
    h: &Header<'_>,
    fi: FragInfo,
    anomalies: &mut Vec<Anomaly>,
) -> Decode<'a> {
    let f = Fragment {
        key: FragKey {
            src: IpAddr::V6(h.src),
            dst: IpAddr::V6(h.dst),
            id: fi.ident,
            proto: 0,
            vlan: ctx.vlan,
            inner_vlan: ctx.inner_vlan,
        },
        v6: true,
        header: h.bytes.get(..fi.at).unwrap_or_default(),
        nh_patch: fi.nh_patch,
        next_header: fi.next_header,
        offset: fi.offset,
        more: fi.more,
        dont_frag: false,
        ip_len: h.total_len,
        data: h.bytes.get(fi.at + FRAGMENT_HEADER_LEN..).unwrap_or_default(),
    };
    match frag.insert(&f, ctx.ts, counters, anomalies) {
        Outcome::Held => Decode::Held,
        Outcome::Dropped => Decode::Dropped(DropReason::BadFragment),
        Outcome::Complete(datagram) => match parse(datagram, None, true, anomalies) {
            Ok(whole) => finish(ctx, &whole, true, anomalies),
            Err(reason) => Decode::Dropped(reason),
        },
    }
}
