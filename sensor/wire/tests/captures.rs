//! End-to-end checks of the decoder on the shared captures (`/work/shared/data/pcaps`, reached
//! as `../../../shared/data/pcaps` from this crate's directory, cargo's working directory for
//! tests). Expected values come from the Zeek / suricata-verify outputs stored beside the
//! captures, or are stated with the reason they hold.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::IpAddr;

use common::*;
use sensor_wire::{DropReason, TcpFlags, weird};

#[test]
fn q_in_q_matches_zeek_conn_log() {
    // vlan 13, inner_vlan 10 on both connections.
    assert_eq!(check_conn_log("decode/zeek-q-in-q.pcap", "decode/zeek-q-in-q.zeek-conn.log"), 2);
}

#[test]
fn mixed_vlan_and_mpls_match_zeek_conn_log() {
    let n = check_conn_log("decode/zeek-mixed-vlan-mpls.pcap", "decode/zeek-mixed-vlan-mpls.zeek-conn.log");
    assert_eq!(n, 3);
    // The telnet connection is the MPLS-labelled one (11 frames, EtherType 0x8847).
    let d = decode("decode/zeek-mixed-vlan-mpls.pcap");
    let telnet = d.packets().filter(|p| p.ports() == Some(("tcp", 11001, 23))).count();
    assert_eq!(telnet, 11);
    assert_eq!(d.counters.dropped.total(), 0);
}

#[test]
fn other_conn_logs_match() {
    for (capture, log) in [
        ("ot-ics/zeek-modbus-and-non-modbus-p502.pcap", "ot-ics/zeek-modbus-and-non-modbus-p502.zeek-conn.log"),
        ("scan-lateral/zeek-ssh-basic.pcap", "scan-lateral/zeek-ssh-basic.zeek-conn.log"),
        ("ot-ics/icsnpp-modbus-example.pcap", "ot-ics/icsnpp-modbus-example.zeek-icsnpp-conn.log"),
        ("ot-ics/icsnpp-dnp3-example.pcap", "ot-ics/icsnpp-dnp3-example.zeek-icsnpp-conn.log"),
        ("ot-ics/icsnpp-s7comm-plus.pcap", "ot-ics/icsnpp-s7comm-plus.zeek-icsnpp-conn.log"),
        ("ot-ics/icsnpp-s7comm-snap7.pcap", "ot-ics/icsnpp-s7comm-snap7.zeek-icsnpp-conn.log"),
        ("ot-ics/icsnpp-enip-cip-example.pcap", "ot-ics/icsnpp-enip-cip-example.zeek-icsnpp-conn.log"),
        ("ot-ics/icsnpp-bacnet-example.pcap", "ot-ics/icsnpp-bacnet-example.zeek-icsnpp-conn.log"),
        ("ot-ics/icsnpp-bacnet-services.pcap", "ot-ics/icsnpp-bacnet-services.zeek-icsnpp-conn.log"),
    ] {
        assert!(check_conn_log(capture, log) > 0, "{log} has no TCP/UDP connection");
    }
}

#[test]
fn three_vlan_tags_decode_through() {
    let d = decode("decode/zeek-vlan-qinqinq.pcap");
    assert_eq!(d.frames.len(), 14);
    for (out, an) in &d.frames {
        let Out::Packet(p) = out else { panic!("{out:?}") };
        assert_eq!((p.vlan, p.inner_vlan), (Some(30), Some(20)));
        assert_eq!(an, &[weird::TRIPLE_TAGGED_VLAN_UNSUPPORTED]);
    }
    let log = zeek_log("decode/zeek-vlan-qinqinq.zeek-weird.log");
    assert_eq!(log[0]["name"], weird::TRIPLE_TAGGED_VLAN_UNSUPPORTED);
}

#[test]
fn vlan_zero_is_logged_as_zero() {
    let d = decode("decode/zeek-http-vlan-0.pcap");
    let log = zeek_log("decode/zeek-http-vlan-0.zeek-conn.log.cut");
    let (vlan, inner) = (log[0]["vlan"].as_str(), log[0]["inner_vlan"].as_str());
    assert_eq!((vlan, inner), ("0", "-"));
    assert_eq!(d.packets().count(), 14);
    assert!(d.packets().all(|p| p.vlan == Some(0) && p.inner_vlan.is_none()));
}

#[test]
fn ipv4_fragmented_syn_reassembles() {
    let d = decode("decode/sv-defrag-eth-vlan-ipv4-syn.pcap");
    let outs: Vec<_> = d.frames.iter().map(|(o, _)| o.clone()).collect();
    assert_eq!(&outs[..2], &[Out::Held, Out::Held]);
    let Out::Packet(p) = &outs[2] else { panic!("{:?}", outs[2]) };
    // suricata-verify's expected packet: Ethernet, VLAN 6, IPv4 total length 44 (0x2c), SYN.
    assert_eq!((p.vlan, p.ip_len, p.reassembled), (Some(6), 44, true));
    assert!(
        matches!(p.t, T::Tcp { sp: 12345, dp: 8080, flags, payload_len: 0, .. } if flags == TcpFlags(TcpFlags::SYN))
    );
    assert_eq!((d.counters.fragments, d.counters.reassembled), (3, 1));
}

#[test]
fn ipv6_fragmented_tcp_reassembles() {
    let d = decode("decode/sv-defrag-eth-vlan-ipv6-tcp.pcap");
    let p: Vec<&Pkt> = d.packets().collect();
    assert_eq!(p.len(), 1);
    // suricata-verify: one alert on dsize:1000. 3 fragments of 440 + 440 + 140 bytes.
    assert_eq!((p[0].vlan, p[0].ip_len, p[0].reassembled), (Some(6), 40 + 1020, true));
    let T::Tcp { sp, dp, payload_len, payload, .. } = &p[0].t else { panic!() };
    assert_eq!((*sp, *dp, *payload_len), (12345, 8080, 1000));
    assert_eq!(payload, &vec![b'A'; 1000]);
    assert!(d.anomalies().next().is_none());
}

#[test]
fn ipv6_fragmented_dns_reassembles() {
    let d = decode("dns/zeek-ipv6-fragmented-dns.pcap");
    let udp: Vec<&Pkt> = d.packets().collect();
    // 3 queries, a small response, and the 3-fragment response to txtpadding_3230 (id 0x9f91
    // in tshark-dns.tsv). The response with id 1 lost its first fragments: it never completes.
    assert_eq!(udp.len(), 5);
    let big: Vec<_> = udp.iter().filter(|p| p.reassembled).collect();
    assert_eq!(big.len(), 1);
    let T::Udp { sp, dp, payload_len, payload } = &big[0].t else { panic!() };
    assert_eq!((*sp, *dp), (53, 51851));
    // 1432 + 1432 + 374 fragment bytes, minus the 8-byte UDP header.
    assert_eq!((*payload_len, payload.len(), big[0].ip_len), (3230, 3230, 40 + 3238));
    assert_eq!(&payload[..2], &[0x9f, 0x91], "DNS id of the txtpadding_3230 query");
    assert_eq!(d.counters.held, 3);
    assert_eq!(d.counters.fragment_timeouts, 1);
    assert_eq!(d.expired, [weird::FRAGMENT_REASSEMBLY_TIMEOUT]);
}

#[test]
fn zeek_ipv4_fragmented_1_raises_zeeks_weirds() {
    // Zeek's core.reassembly baseline for this trace: excessively_small_fragment,
    // fragment_size_inconsistency, fragment_inconsistency (twice, once per overlapped block;
    // once per fragment here).
    let d = decode("decode/zeek-ipv4-fragmented-1.pcap");
    let names: Vec<_> = d.anomalies().collect();
    assert_eq!(
        names,
        [
            weird::EXCESSIVELY_SMALL_FRAGMENT,
            weird::FRAGMENT_SIZE_INCONSISTENCY,
            weird::FRAGMENT_INCONSISTENCY,
            weird::UDP_DATAGRAM_LENGTH_MISMATCH,
        ]
    );
    // First-wins: the last fragment (offset 48, 116 bytes) fixed the end at 164; the UDP header
    // is the first fragment's (length 18), the IP length the reassembled one.
    let p: Vec<&Pkt> = d.packets().collect();
    assert_eq!(p.len(), 1);
    assert_eq!((p[0].ip_len, p[0].reassembled), (20 + 164, true));
    assert!(matches!(p[0].t, T::Udp { sp: 123, dp: 137, payload_len: 10, .. }));
}

#[test]
fn ipv6_overlapping_fragments_are_flagged() {
    // suricata-verify expects its ipv6.frag_overlap event: frame 7 resends offset 408..808 with
    // 'A's where frame 5 had 'Z's.
    let d = decode("malformed/sv-ipv6-frag-overlap-1.pcap");
    assert_eq!(d.frames[7].1, [weird::FRAGMENT_INCONSISTENCY]);
    let Out::Packet(p) = &d.frames[8].0 else { panic!("{:?}", d.frames[8]) };
    assert_eq!((p.ip_len, p.reassembled), (40 + 1208, true));
    assert!(matches!(p.t, T::Icmp { v6: true, kind: 128, code: 0, payload_len: 1204 }));
    assert_eq!(d.counters.fragment_overlaps, 1);
}

#[test]
fn ipv6_routing_header_capture() {
    let d = decode("decode/zeek-ipv6-hbh-routing0.pcap");
    let p: Vec<&Pkt> = d.packets().collect();
    assert_eq!(p[0].dst, "2001:78:1:32::2".parse::<IpAddr>().unwrap());
    assert_eq!(d.anomalies().collect::<Vec<_>>(), [weird::ROUTING0_HDR]);
}

#[test]
fn linux_cooked_captures() {
    // 4 IPv4/IPv6 packets, then an ARP and a RARP frame.
    let d = decode("decode/zeek-linux-sll2.pcap");
    assert_eq!(d.packets().count(), 4);
    assert_eq!(d.counters.arp, 2);
    let d = decode("dns-tunnel/kor-dnscat2-c2-bind9.pcap");
    assert_eq!(d.counters.ip_packets, d.counters.frames);
    assert!(d.packets().any(|p| matches!(p.t, T::Udp { dp: 53, .. })));
}

#[test]
fn zeek_truncation_traces() {
    // zeek-trunc-ip4.zeek-weird-combined.log: ip4-trunc and ip6-trunc give truncated_IP.
    let log = zeek_log("malformed/zeek-trunc-ip4.zeek-weird-combined.log");
    assert_eq!(log[0]["name"], weird::TRUNCATED_IP);
    for (capture, name, reason) in [
        ("malformed/zeek-trunc-ip4.pcap", weird::TRUNCATED_IP, DropReason::MalformedIp),
        ("malformed/zeek-trunc-ip6.pcap", weird::TRUNCATED_IP, DropReason::MalformedIp),
        ("malformed/zeek-trunc-hdr.pcap", weird::TRUNCATED_ETHERNET_FRAME, DropReason::TruncatedLink),
    ] {
        let d = decode(capture);
        assert_eq!(d.frames, [(Out::Dropped(reason), vec![name])], "{capture}");
    }
}
