//! TCP, UDP, ICMP and ICMPv6, with Zeek's header checks
//! (`packet_analysis/protocol/ip/IPBasedAnalyzer.cc` `CheckHeaderTrunc`, `tcp/TCP.cc`,
//! `udp/UDP.cc`, `icmp/ICMP.cc`). Checksums are not verified: SPAN copies from offloading NICs
//! carry wrong ones.

use core::net::IpAddr;

use smoltcp::wire::{Icmpv4Packet, Icmpv6Packet, TCP_HEADER_LEN, TcpPacket, UDP_HEADER_LEN, UdpPacket};

use crate::weird;
use crate::{Anomaly, DropReason, TcpFlags, TcpSegment, Transport};

/// `ICMP_MINLEN` of `<netinet/ip_icmp.h>`, Zeek's minimum for ICMP and ICMPv6.
const ICMP_MIN_LEN: usize = 8;
/// Type and code and checksum: what [`Transport::Icmp::payload_len`] counts after.
const ICMP_HEADER_LEN: usize = 4;
/// Offset of the TCP flags byte (smoltcp has one accessor per flag; the byte is cheaper).
const TCP_FLAGS_AT: usize = 13;

const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_ICMPV6: u8 = 58;

/// Decodes the transport header in `seg` (the captured bytes after the IP headers, never more
/// than `wire_len`, the length the IP header gives them).
#[inline]
pub(super) fn decode<'a>(
    protocol: u8,
    seg: &'a [u8],
    wire_len: usize,
    src: IpAddr,
    dst: IpAddr,
    anomalies: &mut Vec<Anomaly>,
) -> Result<Transport<'a>, DropReason> {
    let wire = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    match protocol {
        PROTO_TCP => {
            header_fits(TCP_HEADER_LEN, seg, wire_len, src, dst, anomalies)?;
            let p = TcpPacket::new_unchecked(seg);
            let header_len = usize::from(p.header_len());
            if header_len < TCP_HEADER_LEN {
                weird::push(anomalies, weird::BAD_TCP_HEADER_LEN, Some(src), Some(dst));
                return Err(DropReason::MalformedTransport);
            }
            if header_len > wire_len || header_len > seg.len() {
                weird::push(anomalies, weird::TRUNCATED_HEADER, Some(src), Some(dst));
                return Err(DropReason::MalformedTransport);
            }
            Ok(Transport::Tcp(TcpSegment {
                src_port: p.src_port(),
                dst_port: p.dst_port(),
                seq: p.seq_number().0 as u32,
                ack: p.ack_number().0 as u32,
                flags: TcpFlags(seg[TCP_FLAGS_AT]),
                window: p.window_len(),
                payload_len: wire(wire_len - header_len),
                payload: &seg[header_len..],
            }))
        }
        PROTO_UDP => {
            header_fits(UDP_HEADER_LEN, seg, wire_len, src, dst, anomalies)?;
            let p = UdpPacket::new_unchecked(seg);
            let udp_len = usize::from(p.len());
            if udp_len != wire_len {
                weird::push_addl(
                    anomalies,
                    weird::UDP_DATAGRAM_LENGTH_MISMATCH,
                    Some(src),
                    Some(dst),
                    format!("{udp_len} != {wire_len}"),
                );
            }
            // The UDP length when it is sane, else what IP says.
            let len = if (UDP_HEADER_LEN..=wire_len).contains(&udp_len) { udp_len } else { wire_len };
            Ok(Transport::Udp {
                src_port: p.src_port(),
                dst_port: p.dst_port(),
                payload_len: wire(len - UDP_HEADER_LEN),
                payload: &seg[UDP_HEADER_LEN..len.min(seg.len())],
            })
        }
        PROTO_ICMP | PROTO_ICMPV6 => {
            header_fits(ICMP_MIN_LEN, seg, wire_len, src, dst, anomalies)?;
            let (kind, code) = if protocol == PROTO_ICMPV6 {
                let p = Icmpv6Packet::new_unchecked(seg);
                (p.msg_type().into(), p.msg_code())
            } else {
                let p = Icmpv4Packet::new_unchecked(seg);
                (p.msg_type().into(), p.msg_code())
            };
            Ok(Transport::Icmp {
                v6: protocol == PROTO_ICMPV6,
                kind,
                code,
                payload_len: wire(wire_len - ICMP_HEADER_LEN),
            })
        }
        protocol => Ok(Transport::Other { protocol, payload_len: wire(wire_len) }),
    }
}

/// Zeek's `CheckHeaderTrunc`: the IP length must leave room for the header (`truncated_header`),
/// and the capture must hold it (`internally_truncated_header`).
#[inline]
fn header_fits(
    min: usize,
    seg: &[u8],
    wire_len: usize,
    src: IpAddr,
    dst: IpAddr,
    anomalies: &mut Vec<Anomaly>,
) -> Result<(), DropReason> {
    let name = if wire_len < min {
        weird::TRUNCATED_HEADER
    } else if seg.len() < min {
        weird::INTERNALLY_TRUNCATED_HEADER
    } else {
        return Ok(());
    };
    weird::push(anomalies, name, Some(src), Some(dst));
    Err(DropReason::MalformedTransport)
}
