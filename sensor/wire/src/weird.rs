//! Anomaly names. Where Zeek has a `weird` for the condition, the name is Zeek's, spelled exactly
//! as in Zeek's source (paths below are in the zeek/zeek repository, `src/`); the others are
//! this sensor's own and say so.
//!
//! `addl` is filled only where Zeek fills it and the condition is rare; everything else leaves it
//! empty, because building the string allocates and a stream of tagged or malformed packets must
//! not allocate per packet.

use core::net::IpAddr;

use crate::Anomaly;

// ---- Link layer (Zeek: packet_analysis/protocol/*) ----

/// Ethernet frame shorter than its header (`ethernet/Ethernet.cc`).
pub const TRUNCATED_ETHERNET_FRAME: &str = "truncated_ethernet_frame";
/// EtherType/length field between 1501 and 1535 (`ethernet/Ethernet.cc`).
pub const UNDEFINED_ETHER_TYPE: &str = "undefined_ether_type";
/// 802.1Q tag cut short (`vlan/VLAN.cc`).
pub const TRUNCATED_VLAN_HEADER: &str = "truncated_VLAN_header";
/// Type/length field after a VLAN tag between 1501 and 1535 (`vlan/VLAN.cc`).
pub const UNDEFINED_VLAN_PROTOCOL: &str = "undefined_vlan_protocol";
/// A third (or further) VLAN tag: only two ids are reported (`vlan/VLAN.cc`).
pub const TRIPLE_TAGGED_VLAN_UNSUPPORTED: &str = "triple_tagged_vlan_unsupported";
/// MPLS label stack (or pseudowire control word) cut short (`mpls/MPLS.cc`).
pub const TRUNCATED_LINK_HEADER: &str = "truncated_link_header";
/// Linux cooked v1 header cut short (`linux_sll/LinuxSLL.cc`).
pub const TRUNCATED_LINUX_SLL_HEADER: &str = "truncated_Linux_SLL_header";
/// Linux cooked v2 header cut short (`linux_sll2/LinuxSLL2.cc`).
pub const TRUNCATED_LINUX_SLL2_HEADER: &str = "truncated_Linux_SLL2_header";
/// BSD loopback header cut short (`null/Null.cc`; used for OpenBSD loop too).
pub const NULL_ANALYZER_FAILED: &str = "null_analyzer_failed";
/// ARP packet shorter than its addresses (`arp/ARP.cc`).
pub const TRUNCATED_ARP: &str = "truncated_ARP";

// ---- IP (Zeek: packet_analysis/protocol/ip/IP.cc, IP.cc) ----

/// Fewer bytes than a minimal IPv4 (20) or IPv6 (40) header (`ip/IP.cc`).
pub const TRUNCATED_IP: &str = "truncated_IP";
/// The IP length reaches past the frame's length *on the wire*: the frame itself is short, not
/// just its capture (`ip/IP.cc`). Only reported by
/// [`crate::FrameDecoder::decode_with_wire_len`].
pub const TRUNCATED_IP_LEN: &str = "truncated_IP_len";
/// IP version nibble neither 4 nor 6 (`ip/IP.cc`).
pub const UNKNOWN_IP_VERSION: &str = "unknown_ip_version";
/// IPv4 total length zero, as segmentation offload leaves it; the captured length is used
/// (`ip/IP.cc`).
pub const IP_HDR_LEN_ZERO: &str = "ip_hdr_len_zero";
/// IP header (with IPv6 extension headers) longer than the IP length fields allow (`ip/IP.cc`).
pub const INVALID_IP_HEADER_SIZE: &str = "invalid_IP_header_size";
/// Header present per the length fields but cut by the capture (`ip/IP.cc`,
/// `ip/IPBasedAnalyzer.cc`).
pub const INTERNALLY_TRUNCATED_HEADER: &str = "internally_truncated_header";
/// IPv4 IHL below 5 (`ip/IP.cc`).
pub const IPV4_MIN_HEADER_SIZE: &str = "IPv4_min_header_size";
/// A fragment cut by the capture: not reassembled; the first one is still analysed
/// (`ip/IP.cc`).
pub const INCOMPLETELY_CAPTURED_FRAGMENT: &str = "incompletely_captured_fragment";
/// IPv6 "No Next Header" (59) (`ip/IP.cc`).
pub const IPV6_NO_NEXT: &str = "ipv6_no_next";
/// IPv6 routing header type 0, deprecated by RFC 5095 (`IP.cc`).
pub const ROUTING0_HDR: &str = "routing0_hdr";
/// Routing header type 0 with an odd length (`IP.cc`).
pub const ODD_ROUTING0_LEN: &str = "odd_routing0_len";
/// Routing header type 2 whose length is not 2 (`IP.cc`).
pub const BAD_ROUTING2_LEN: &str = "bad_routing2_len";
/// Routing header of another type (`IP.cc`; `addl` is the type).
pub const UNKNOWN_ROUTING_TYPE: &str = "unknown_routing_type";
/// A routing header after one that already set the final destination (`IP.cc`).
pub const MULTIPLE_ROUTING_HEADERS: &str = "multiple_routing_headers";

// ---- Fragments (Zeek: Frag.cc) ----

/// Fragments of one datagram disagree on protocol or header length.
pub const FRAGMENT_PROTOCOL_INCONSISTENCY: &str = "fragment_protocol_inconsistency";
/// IPv4 fragment with Don't Fragment set.
pub const FRAGMENT_WITH_DF: &str = "fragment_with_DF";
/// Fragments disagree on where the datagram ends.
pub const FRAGMENT_SIZE_INCONSISTENCY: &str = "fragment_size_inconsistency";
/// A non-final fragment smaller than 64 bytes (IP header included).
pub const EXCESSIVELY_SMALL_FRAGMENT: &str = "excessively_small_fragment";
/// A fragment reaching past the largest datagram allowed.
pub const EXCESSIVELY_LARGE_FRAGMENT: &str = "excessively_large_fragment";
/// A fragment overlapping received data with the same bytes.
pub const FRAGMENT_OVERLAP: &str = "fragment_overlap";
/// A fragment overlapping received data with different bytes.
pub const FRAGMENT_INCONSISTENCY: &str = "fragment_inconsistency";

// ---- Transport (Zeek: packet_analysis/protocol/{ip,tcp,udp}) ----

/// The IP length leaves less room than the transport header needs (`ip/IPBasedAnalyzer.cc`),
/// or the TCP data offset reaches past the segment (`tcp/TCP.cc`).
pub const TRUNCATED_HEADER: &str = "truncated_header";
/// TCP data offset below 5 (`tcp/TCP.cc`).
pub const BAD_TCP_HEADER_LEN: &str = "bad_TCP_header_len";
/// UDP length field differs from the IP payload length (`udp/UDP.cc`; `addl` is
/// `"<udp len> != <ip payload len>"`).
pub const UDP_DATAGRAM_LENGTH_MISMATCH: &str = "UDP_datagram_length_mismatch";

// ---- This sensor's own (no Zeek weird exists for these) ----

/// The link type is not one this decoder reads (Zeek logs these to `unknown_protocols.log`).
pub const UNSUPPORTED_LINK_TYPE: &str = "unsupported_link_type";
/// More VLAN tags than [`crate::decode::MAX_VLAN_TAGS`].
pub const EXCESSIVE_VLAN_TAGS: &str = "excessive_vlan_tags";
/// More MPLS labels than [`crate::decode::MAX_MPLS_LABELS`].
pub const EXCESSIVE_MPLS_LABELS: &str = "excessive_mpls_labels";
/// An MPLS pseudowire inside an MPLS pseudowire (more than
/// [`crate::decode::MAX_PSEUDOWIRE_NESTING`]).
pub const NESTED_PSEUDOWIRE: &str = "nested_pseudowire";
/// More IPv6 extension headers than [`crate::decode::MAX_IPV6_EXT_HEADERS`].
pub const EXCESSIVE_IPV6_EXT_HEADERS: &str = "excessive_ipv6_ext_headers";
/// A fragment header inside a reassembled IPv6 datagram.
pub const NESTED_FRAGMENT: &str = "nested_fragment";
/// A datagram split into more disjoint pieces than [`crate::frag::MAX_FRAGMENT_RANGES`].
pub const EXCESSIVE_FRAGMENT_HOLES: &str = "excessive_fragment_holes";
/// An incomplete datagram discarded by the reassembly timeout.
pub const FRAGMENT_REASSEMBLY_TIMEOUT: &str = "fragment_reassembly_timeout";

/// Pushes an anomaly without `addl`. Kept out of line: anomalies are the cold path.
#[cold]
#[inline(never)]
pub(crate) fn push(anomalies: &mut Vec<Anomaly>, name: &'static str, src: Option<IpAddr>, dst: Option<IpAddr>) {
    anomalies.push(Anomaly { name, src, dst, addl: None });
}

/// Pushes an anomaly with `addl`.
#[cold]
#[inline(never)]
pub(crate) fn push_addl(
    anomalies: &mut Vec<Anomaly>,
    name: &'static str,
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    addl: String,
) {
    anomalies.push(Anomaly { name, src, dst, addl: Some(addl) });
}
