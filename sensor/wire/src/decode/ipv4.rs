//! IPv4: header checks in Zeek's order (`packet_analysis/protocol/ip/IP.cc`), lengths from the
//! header rather than the capture, fragments to the reassembler.

use core::net::IpAddr;

use smoltcp::wire::Ipv4Packet;

use crate::frag::{FragKey, Fragment, Outcome, Reassembler};
use crate::weird;
use crate::{Anomaly, Decode, DecodeCounters, DropReason};

use super::{Ctx, packet, transport};

/// An IPv4 header that passed the checks.
struct Header<'a> {
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    protocol: u8,
    /// Header length (IHL × 4).
    header_len: usize,
    /// Total length on the wire (from the header; the captured length if the header says 0).
    total_len: usize,
    /// The captured part of the packet, cut at `total_len` (Ethernet padding removed).
    bytes: &'a [u8],
    ident: u16,
    dont_frag: bool,
    more_frags: bool,
    /// Fragment offset in bytes.
    frag_offset: usize,
}

impl Header<'_> {
    #[inline]
    fn is_fragment(&self) -> bool {
        self.more_frags || self.frag_offset != 0
    }
}

/// Checks the header of `data` (at least 20 bytes, version 4).
#[inline]
fn parse<'a>(data: &'a [u8], wire_len: Option<usize>, anomalies: &mut Vec<Anomaly>) -> Result<Header<'a>, DropReason> {
    // The caller checked 20 bytes: every accessor below reads inside them.
    let p = Ipv4Packet::new_unchecked(data);
    let (src, dst) = (IpAddr::V4(p.src_addr()), IpAddr::V4(p.dst_addr()));
    let header_len = usize::from(p.header_len());
    let mut total_len = usize::from(p.total_len());
    if total_len == 0 {
        // Segmentation offload leaves the length zero; use what was captured (Zeek with -C).
        weird::push(anomalies, weird::IP_HDR_LEN_ZERO, Some(src), Some(dst));
        total_len = data.len();
    }
    let bad = if wire_len.is_some_and(|w| total_len > w) {
        Some(weird::TRUNCATED_IP_LEN)
    } else if header_len > total_len {
        Some(weird::INVALID_IP_HEADER_SIZE)
    } else if header_len > data.len() {
        Some(weird::INTERNALLY_TRUNCATED_HEADER)
    } else if header_len < smoltcp::wire::IPV4_HEADER_LEN {
        Some(weird::IPV4_MIN_HEADER_SIZE)
    } else {
        None
    };
    if let Some(name) = bad {
        weird::push(anomalies, name, Some(src), Some(dst));
        return Err(DropReason::MalformedIp);
    }
    Ok(Header {
        src,
        dst,
        ttl: p.hop_limit(),
        protocol: p.next_header().into(),
        header_len,
        total_len,
        bytes: &data[..total_len.min(data.len())],
        ident: p.ident(),
        dont_frag: p.dont_frag(),
        more_frags: p.more_frags(),
        frag_offset: usize::from(p.frag_offset()),
    })
}

/// Decodes an IPv4 packet (at least 20 bytes, version 4).
pub(super) fn decode<'a>(
    frag: &'a mut Reassembler,
    counters: &mut DecodeCounters,
    ctx: &Ctx,
    data: &'a [u8],
    anomalies: &mut Vec<Anomaly>,
) -> Decode<'a> {
    let h = match parse(data, ctx.wire_ip_len, anomalies) {
        Ok(h) => h,
        Err(reason) => return Decode::Dropped(reason),
    };
    if h.is_fragment() {
        counters.fragments += 1;
        if h.bytes.len() < h.total_len {
            weird::push(anomalies, weird::INCOMPLETELY_CAPTURED_FRAGMENT, Some(h.src), Some(h.dst));
            // Reassembly is doomed; the first fragment is still worth its headers (Zeek).
            if h.frag_offset != 0 {
                return Decode::Dropped(DropReason::BadFragment);
            }
        } else {
            return reassemble(frag, counters, ctx, &h, anomalies);
        }
    }
    finish(ctx, &h, false, anomalies)
}

/// The transport layer of a checked header.
#[inline]
fn finish<'a>(ctx: &Ctx, h: &Header<'a>, reassembled: bool, anomalies: &mut Vec<Anomaly>) -> Decode<'a> {
    let seg = &h.bytes[h.header_len..];
    let wire_len = h.total_len - h.header_len;
    let t = transport::decode(h.protocol, seg, wire_len, h.src, h.dst, anomalies);
    packet(ctx, h.src, h.dst, h.total_len, h.ttl, reassembled, t)
}

#[cold]
fn reassemble<'a>(
    frag: &'a mut Reassembler,
    counters: &mut DecodeCounters,
    ctx: &Ctx,
    h: &Header<'_>,
    anomalies: &mut Vec<Anomaly>,
) -> Decode<'a> {
    let f = Fragment {
        key: FragKey {
            src: h.src,
            dst: h.dst,
            id: u32::from(h.ident),
            proto: h.protocol,
            vlan: ctx.vlan,
            inner_vlan: ctx.inner_vlan,
        },
        v6: false,
        header: &h.bytes[..h.header_len],
        nh_patch: 0,
        next_header: h.protocol,
        offset: h.frag_offset,
        more: h.more_frags,
        dont_frag: h.dont_frag,
        ip_len: h.total_len,
        data: &h.bytes[h.header_len..],
    };
    match frag.insert(&f, ctx.ts, counters, anomalies) {
        Outcome::Held => Decode::Held,
        Outcome::Dropped => Decode::Dropped(DropReason::BadFragment),
        Outcome::Complete(datagram) => match parse(datagram, None, anomalies) {
            // The reassembler cleared MF and the offset, so this is no fragment any more.
            Ok(whole) => finish(ctx, &whole, true, anomalies),
            Err(reason) => Decode::Dropped(reason),
        },
    }
}
