//! Decoder tests on real frames (see `frames.rs` for where each comes from).

mod checks;
mod frames;
mod fuzz;

use core::net::IpAddr;

use frames::*;

use crate::weird;
use crate::{
    Anomaly, Decode, Decoded, DecoderConfig, DropReason, FrameDecoder, LinkType, NotIp, TcpFlags, Timestamp, Transport,
};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn names(a: &[Anomaly]) -> Vec<&'static str> {
    a.iter().map(|a| a.name).collect()
}

/// Decodes `frame` with a fresh decoder; returns the result's debug form, its packet (if any,
/// via `check`) and the anomalies.
fn decode_with(link: LinkType, frame: &[u8], check: impl FnOnce(&Decode<'_>)) -> Vec<&'static str> {
    let mut d = FrameDecoder::new(DecoderConfig::default());
    let mut an = Vec::new();
    let out = d.decode(link, Timestamp::from_parts(1, 0), frame, &mut an);
    check(&out);
    assert!(d.counters().is_balanced());
    names(&an)
}

fn expect_packet<'a>(d: &'a Decode<'a>) -> &'a Decoded<'a> {
    match d {
        Decode::Packet(p) => p,
        other => panic!("expected a packet, got {other:?}"),
    }
}

fn expect_dropped(reason: DropReason) -> impl FnOnce(&Decode<'_>) {
    move |d| assert!(matches!(d, Decode::Dropped(r) if *r == reason), "{d:?}")
}

#[test]
fn mpls_frame_uses_ip_length_not_padding() {
    let an = decode_with(LinkType::ETHERNET, &MPLS_TCP, |d| {
        let p = expect_packet(d);
        assert_eq!((p.src, p.dst), (ip("10.1.2.1"), ip("10.34.0.1")));
        assert_eq!((p.vlan, p.inner_vlan), (None, None));
        assert_eq!((p.ip_len, p.ttl, p.reassembled), (40, 255, false));
        let Transport::Tcp(t) = p.transport else { panic!("{:?}", p.transport) };
        assert_eq!((t.src_port, t.dst_port), (11001, 23));
        assert_eq!(t.flags, TcpFlags(TcpFlags::ACK));
        assert_eq!((t.payload_len, t.payload.len()), (0, 0), "padding must not count");
    });
    assert!(an.is_empty(), "{an:?}");
}

#[test]
fn qinq_reports_outer_and_inner_vlan() {
    // zeek-q-in-q.zeek-conn.log: vlan 13, inner_vlan 10 for this flow.
    let an = decode_with(LinkType::ETHERNET, &QINQ_UDP, |d| {
        let p = expect_packet(d);
        assert_eq!((p.vlan, p.inner_vlan), (Some(13), Some(10)));
        assert_eq!((p.src, p.dst), (ip("172.19.51.37"), ip("172.19.51.63")));
        assert!(matches!(
            p.transport,
            Transport::Udp { src_port: 47808, dst_port: 47808, payload_len: 18, payload }
                if payload.len() == 18
        ));
    });
    assert!(an.is_empty(), "{an:?}");
}

#[test]
fn qinqinq_keeps_the_first_two_tags_and_flags_the_third() {
    let an = decode_with(LinkType::ETHERNET, &QINQINQ_TCP, |d| {
        let p = expect_packet(d);
        assert_eq!((p.vlan, p.inner_vlan), (Some(30), Some(20)));
        let Transport::Tcp(t) = p.transport else { panic!() };
        assert_eq!((t.src_port, t.dst_port, t.flags), (59856, 80, TcpFlags(TcpFlags::SYN)));
    });
    // zeek-vlan-qinqinq.zeek-weird.log
    assert_eq!(an, [weird::TRIPLE_TAGGED_VLAN_UNSUPPORTED]);
}

#[test]
fn priority_tag_is_vlan_zero() {
    // zeek-http-vlan-0.zeek-conn.log.cut: vlan 0, inner_vlan unset.
    decode_with(LinkType::ETHERNET, &VLAN0_TCP, |d| {
        let p = expect_packet(d);
        assert_eq!((p.vlan, p.inner_vlan), (Some(0), None));
        assert_eq!(p.dst, ip("192.150.187.43"));
    });
}

#[test]
fn linux_cooked_v2() {
    decode_with(LinkType::LINUX_SLL2, &SLL2_ICMP, |d| {
        let p = expect_packet(d);
        assert_eq!(p.src, ip("192.0.2.1"));
        assert!(matches!(p.transport, Transport::Icmp { v6: false, kind: 8, code: 0, payload_len: 60 }));
    });
}

#[test]
fn linux_cooked_v1() {
    decode_with(LinkType::LINUX_SLL, &SLL_TCP, |d| {
        let p = expect_packet(d);
        assert_eq!((p.src, p.dst, p.ip_len), (ip("192.168.0.1"), ip("192.168.0.3"), 40));
        let Transport::Tcp(t) = p.transport else { panic!() };
        assert_eq!((t.src_port, t.dst_port, t.payload_len), (102, 49154, 0));
    });
}

#[test]
fn sll_non_ethernet_protocol_is_not_ip() {
    let mut f = SLL_TCP;
    f[14..16].copy_from_slice(&[0x00, 0x04]); // 802.2 LLC
    decode_with(LinkType::LINUX_SLL, &f, |d| assert!(matches!(d, Decode::NotIp(NotIp::OtherLinkProtocol(4))), "{d:?}"));
    let an = decode_with(LinkType::LINUX_SLL, &SLL_TCP[..15], expect_dropped(DropReason::TruncatedLink));
    assert_eq!(an, [weird::TRUNCATED_LINUX_SLL_HEADER]);
    let an = decode_with(LinkType::LINUX_SLL2, &SLL2_ICMP[..19], expect_dropped(DropReason::TruncatedLink));
    assert_eq!(an, [weird::TRUNCATED_LINUX_SLL2_HEADER]);
}

#[test]
fn raw_ip_link_types() {
    for link in [12, 14, 101, 228] {
        let an = decode_with(LinkType(link), &RAW_UDP, |d| {
            let p = expect_packet(d);
            assert_eq!((p.src, p.dst), (ip("172.30.2.70"), ip("172.23.0.22")));
            assert!(matches!(
                p.transport,
                Transport::Udp { src_port: 36441, dst_port: 53, payload_len: 71, payload }
                    if payload.len() == 71
            ));
        });
        assert!(an.is_empty());
    }
}

#[test]
fn bsd_loopback_families() {
    let with = |hdr: [u8; 4], ip: &[u8]| [&hdr[..], ip].concat();
    let v4 = &RAW_UDP[..];
    let v6 = &IPV6_UDP_HBH_RH0[14..];
    for (link, frame) in [
        (LinkType::NULL, with([2, 0, 0, 0], v4)),  // little-endian capturer
        (LinkType::NULL, with([0, 0, 0, 2], v4)),  // big-endian capturer
        (LinkType::NULL, with([30, 0, 0, 0], v6)), // Darwin AF_INET6
        (LinkType::NULL, with([0, 0, 0, 24], v6)), // OpenBSD AF_INET6, big-endian
        (LinkType::LOOP, with([0, 0, 0, 2], v4)),
        (LinkType::LOOP, with([0, 0, 0, 28], v6)), // FreeBSD AF_INET6
    ] {
        decode_with(link, &frame, |d| {
            expect_packet(d);
        });
    }
    decode_with(LinkType::NULL, &with([7, 0, 0, 0], v4), |d| {
        assert!(matches!(d, Decode::NotIp(NotIp::OtherLinkProtocol(7))), "{d:?}")
    });
    let an = decode_with(LinkType::LOOP, &[0, 0, 0], expect_dropped(DropReason::TruncatedLink));
    assert_eq!(an, [weird::NULL_ANALYZER_FAILED]);
}

#[test]
fn arp_and_other_ethertypes_are_not_ip() {
    let an = decode_with(LinkType::ETHERNET, &ARP, |d| assert!(matches!(d, Decode::NotIp(NotIp::Arp)), "{d:?}"));
    assert!(an.is_empty());
    let an = decode_with(LinkType::ETHERNET, &ARP[..24], |d| assert!(matches!(d, Decode::NotIp(NotIp::Arp)), "{d:?}"));
    assert_eq!(an, [weird::TRUNCATED_ARP]);
    let an = decode_with(LinkType::ETHERNET, &LLC, |d| {
        assert!(matches!(d, Decode::NotIp(NotIp::OtherEtherType(0x4d))), "{d:?}")
    });
    assert!(an.is_empty());
    let mut f = LLC;
    f[12..14].copy_from_slice(&[0x05, 0xf0]); // 1520: neither a length nor an EtherType
    let an = decode_with(LinkType::ETHERNET, &f, |d| assert!(matches!(d, Decode::NotIp(_))));
    assert_eq!(an, [weird::UNDEFINED_ETHER_TYPE]);
}

#[test]
fn ipv6_routing_header_type_0_sets_the_final_destination() {
    let an = decode_with(LinkType::ETHERNET, &IPV6_UDP_HBH_RH0, |d| {
        let p = expect_packet(d);
        assert_eq!(p.src, ip("2001:4f8:4:7:2e0:81ff:fe52:ffff"));
        // Zeek's IPv6_Hdr_Chain::DstAddr: the last address of the routing header.
        assert_eq!(p.dst, ip("2001:78:1:32::2"));
        assert_eq!(p.ip_len, 99);
        assert!(matches!(p.transport, Transport::Udp { src_port: 53, dst_port: 53, payload_len: 3, payload: b"XXX" }));
    });
    assert_eq!(an, [weird::ROUTING0_HDR]);
}

#[test]
fn zeek_truncation_captures() {
    // Zeek's core.truncation baseline: truncated_IP, truncated_IP, truncated_ethernet_frame.
    let an = decode_with(LinkType::ETHERNET, &TRUNC_IP4, expect_dropped(DropReason::MalformedIp));
    assert_eq!(an, [weird::TRUNCATED_IP]);
    let an = decode_with(LinkType::ETHERNET, &TRUNC_IP6, expect_dropped(DropReason::MalformedIp));
    assert_eq!(an, [weird::TRUNCATED_IP]);
    let an = decode_with(LinkType::ETHERNET, &TRUNC_HDR, expect_dropped(DropReason::TruncatedLink));
    assert_eq!(an, [weird::TRUNCATED_ETHERNET_FRAME]);
}

#[test]
fn snap_length_cut_still_decodes() {
    // Cut 14 bytes into the 18-byte UDP payload: lengths come from the headers.
    let an = decode_with(LinkType::ETHERNET, &QINQ_UDP[..64], |d| {
        let p = expect_packet(d);
        assert_eq!(p.ip_len, 46);
        assert!(matches!(
            p.transport,
            Transport::Udp { payload_len: 18, payload, .. } if payload.len() == 14
        ));
    });
    assert!(an.is_empty(), "{an:?}");
}

/// An Ethernet header (addresses from MPLS_TCP) with `ethertype`, then `rest`.
fn ether(ethertype: u16, rest: &[u8]) -> Vec<u8> {
    [&MPLS_TCP[..12], &ethertype.to_be_bytes()[..], rest].concat()
}

#[test]
fn vlan_tag_limits() {
    let tags = |n: usize| {
        let mut v = Vec::new();
        for i in 0..n {
            let next: u16 = if i + 1 == n { 0x0800 } else { 0x8100 };
            v.extend_from_slice(&(i as u16 + 1).to_be_bytes());
            v.extend_from_slice(&next.to_be_bytes());
        }
        ether(0x88a8, &[&v[..], &RAW_UDP[..]].concat())
    };
    let an = decode_with(LinkType::ETHERNET, &tags(4), |d| {
        let p = expect_packet(d);
        assert_eq!((p.vlan, p.inner_vlan), (Some(1), Some(2)));
    });
    assert_eq!(an, [weird::TRIPLE_TAGGED_VLAN_UNSUPPORTED; 2]);
    let an = decode_with(LinkType::ETHERNET, &tags(5), expect_dropped(DropReason::TooDeep));
    assert_eq!(an.last(), Some(&weird::EXCESSIVE_VLAN_TAGS));
    let an = decode_with(LinkType::ETHERNET, &ether(0x9100, &[0, 1]), expect_dropped(DropReason::TruncatedLink));
    assert_eq!(an, [weird::TRUNCATED_VLAN_HEADER]);
}

#[test]
fn mpls_limits_and_pseudowire() {
    let label = |bos: bool| [0x00, 0x01, if bos { 0x01 } else { 0x00 }, 0x40];
    // Eight labels are fine, nine are not.
    let stack = |n: usize| (0..n).flat_map(|i| label(i + 1 == n)).collect::<Vec<u8>>();
    decode_with(LinkType::ETHERNET, &ether(0x8847, &[&stack(8)[..], &RAW_UDP[..]].concat()), |d| {
        expect_packet(d);
    });
    let an = decode_with(
        LinkType::ETHERNET,
        &ether(0x8848, &[&stack(9)[..], &RAW_UDP[..]].concat()),
        expect_dropped(DropReason::TooDeep),
    );
    assert_eq!(an, [weird::EXCESSIVE_MPLS_LABELS]);
    let an = decode_with(LinkType::ETHERNET, &ether(0x8847, &[0, 1, 0]), expect_dropped(DropReason::TruncatedLink));
    assert_eq!(an, [weird::TRUNCATED_LINK_HEADER]);

    // Ethernet pseudowire: label, control word, Ethernet, IPv4.
    let cw = [0u8; 4];
    let pw = ether(0x8847, &[&label(true)[..], &cw, &ether(0x0800, &RAW_UDP)].concat());
    decode_with(LinkType::ETHERNET, &pw, |d| {
        let p = expect_packet(d);
        assert_eq!(p.dst, ip("172.23.0.22"));
    });
    let nested = ether(0x8847, &[&label(true)[..], &cw, &pw].concat());
    let an = decode_with(LinkType::ETHERNET, &nested, expect_dropped(DropReason::TooDeep));
    assert_eq!(an, [weird::NESTED_PSEUDOWIRE]);
    let unknown = ether(0x8847, &[&label(true)[..], &[0x10, 0, 0, 0]].concat());
    let an = decode_with(LinkType::ETHERNET, &unknown, expect_dropped(DropReason::MalformedIp));
    assert_eq!(an, [weird::UNKNOWN_IP_VERSION]);
}

#[test]
fn unsupported_link_type() {
    let mut d = FrameDecoder::new(DecoderConfig::default());
    let mut an = Vec::new();
    let out = d.decode(LinkType(147), Timestamp(0), &RAW_UDP, &mut an);
    assert!(matches!(out, Decode::Dropped(DropReason::UnsupportedLink)));
    assert_eq!(an[0].name, weird::UNSUPPORTED_LINK_TYPE);
    assert_eq!(an[0].addl.as_deref(), Some("147"));
    assert_eq!(d.counters().dropped.unsupported_link, 1);
}

#[test]
fn ipv4_fragments_reassemble_into_one_syn() {
    // sv-defrag-eth-vlan-ipv4-syn: suricata-verify expects one SYN (tcp.flags:S) from it.
    for order in [[0, 1, 2], [2, 0, 1], [1, 2, 0]] {
        let frames = [&FRAG4_0[..], &FRAG4_1[..], &FRAG4_2[..]];
        let mut d = FrameDecoder::new(DecoderConfig::default());
        let mut an = Vec::new();
        for (n, &i) in order.iter().enumerate() {
            let out = d.decode(LinkType::ETHERNET, Timestamp::from_parts(1, 0), frames[i], &mut an);
            if n < 2 {
                assert!(matches!(out, Decode::Held), "{out:?}");
                continue;
            }
            let p = expect_packet(&out);
            assert!(p.reassembled);
            assert_eq!((p.vlan, p.ip_len), (Some(6), 44));
            assert_eq!((p.src, p.dst), (ip("1.1.1.1"), ip("2.2.2.2")));
            let Transport::Tcp(t) = p.transport else { panic!() };
            assert_eq!((t.src_port, t.dst_port, t.seq, t.ack), (12345, 8080, 1, 0));
            assert_eq!((t.flags, t.window, t.payload_len), (TcpFlags(TcpFlags::SYN), 8192, 0));
        }
        assert!(an.iter().all(|a| a.name == weird::EXCESSIVELY_SMALL_FRAGMENT), "{an:?}");
        let c = d.counters();
        assert_eq!((c.fragments, c.held, c.reassembled, c.ip_packets), (3, 2, 1, 1));
        assert!(c.is_balanced());
        assert_eq!(d.fragment_usage().datagrams, 0);
    }
}
