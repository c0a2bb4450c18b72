//! Zeek's IP and transport header checks, one edit of a real frame at a time.

use super::frames::*;
use super::{decode_with, expect_dropped, expect_packet, names};
use crate::weird;
use crate::{Decode, DecoderConfig, DropReason, FrameDecoder, LinkType, Timestamp, Transport};

/// MPLS_TCP with its IPv4 header (at 18) edited by `edit`.
fn mpls_tcp_with(edit: impl FnOnce(&mut [u8])) -> [u8; 60] {
    let mut f = MPLS_TCP;
    edit(&mut f[18..]);
    f
}

#[test]
fn ipv4_header_checks_follow_zeek() {
    type Edit = fn(&mut [u8]);
    let cases: [(Edit, &str); 4] = [
        (|ip| ip[3] = 10, weird::INVALID_IP_HEADER_SIZE), // total length 10 < IHL 20
        (|ip| ip[0] = 0x44, weird::IPV4_MIN_HEADER_SIZE), // IHL 4
        (|ip| ip[0] = 0x4f, weird::INVALID_IP_HEADER_SIZE), // IHL 15 = 60 > total 40
        (|ip| ip[0] = 0x55, weird::UNKNOWN_IP_VERSION),
    ];
    for (edit, name) in cases {
        let f = mpls_tcp_with(edit);
        let an = decode_with(LinkType::ETHERNET, &f, expect_dropped(DropReason::MalformedIp));
        assert_eq!(an, [name]);
    }
    // IHL 15 with a total length that allows it, but only 42 bytes captured.
    let f = mpls_tcp_with(|ip| {
        ip[0] = 0x4f;
        ip[3] = 100;
    });
    let an = decode_with(LinkType::ETHERNET, &f, expect_dropped(DropReason::MalformedIp));
    assert_eq!(an, [weird::INTERNALLY_TRUNCATED_HEADER]);
}

#[test]
fn zero_total_length_uses_the_captured_length() {
    let f = mpls_tcp_with(|ip| ip[2..4].copy_from_slice(&[0, 0]));
    let an = decode_with(LinkType::ETHERNET, &f, |d| {
        let p = expect_packet(d);
        // 42 captured bytes after the label, padding included (as Zeek does with -C).
        assert_eq!(p.ip_len, 42);
        assert!(matches!(p.transport, Transport::Tcp(t) if t.payload_len == 2));
    });
    assert_eq!(an, [weird::IP_HDR_LEN_ZERO]);
}

#[test]
fn tcp_header_checks_follow_zeek() {
    // Data offset at 18 + 20 + 12.
    let f = mpls_tcp_with(|ip| ip[32] = 0x40);
    let an = decode_with(LinkType::ETHERNET, &f, expect_dropped(DropReason::MalformedTransport));
    assert_eq!(an, [weird::BAD_TCP_HEADER_LEN]);
    let f = mpls_tcp_with(|ip| ip[32] = 0xf0);
    let an = decode_with(LinkType::ETHERNET, &f, expect_dropped(DropReason::MalformedTransport));
    assert_eq!(an, [weird::TRUNCATED_HEADER]);
    // IP length leaves 10 bytes for TCP.
    let f = mpls_tcp_with(|ip| ip[3] = 30);
    let an = decode_with(LinkType::ETHERNET, &f, expect_dropped(DropReason::MalformedTransport));
    assert_eq!(an, [weird::TRUNCATED_HEADER]);
    // Header announced but not captured.
    let an = decode_with(LinkType::ETHERNET, &MPLS_TCP[..18 + 20 + 10], expect_dropped(DropReason::MalformedTransport));
    assert_eq!(an, [weird::INTERNALLY_TRUNCATED_HEADER]);
}

#[test]
fn udp_length_field_is_used_only_when_sane() {
    let run = |udp_len: u16| {
        let mut f = RAW_UDP;
        f[24..26].copy_from_slice(&udp_len.to_be_bytes());
        let mut d = FrameDecoder::new(DecoderConfig::default());
        let mut an = Vec::new();
        let Decode::Packet(p) = d.decode(LinkType::RAW, Timestamp(0), &f, &mut an) else { panic!() };
        let Transport::Udp { payload_len, payload, .. } = p.transport else { panic!() };
        (payload_len, payload.len(), an)
    };
    let (len, cap, an) = run(79);
    assert_eq!((len, cap, an.len()), (71, 71, 0));
    let (len, cap, an) = run(50);
    assert_eq!((len, cap), (42, 42));
    assert_eq!(an[0].name, weird::UDP_DATAGRAM_LENGTH_MISMATCH);
    assert_eq!(an[0].addl.as_deref(), Some("50 != 79"));
    for insane in [200, 4] {
        let (len, cap, an) = run(insane);
        assert_eq!((len, cap), (71, 71));
        assert_eq!(names(&an), [weird::UDP_DATAGRAM_LENGTH_MISMATCH]);
    }
}

#[test]
fn icmp_header_checks_follow_zeek() {
    // IP total length 26: 6 bytes for ICMP.
    let mut f = SLL2_ICMP;
    f[20 + 2..20 + 4].copy_from_slice(&26u16.to_be_bytes());
    let an = decode_with(LinkType::LINUX_SLL2, &f, expect_dropped(DropReason::MalformedTransport));
    assert_eq!(an, [weird::TRUNCATED_HEADER]);
    let an =
        decode_with(LinkType::LINUX_SLL2, &SLL2_ICMP[..20 + 20 + 5], expect_dropped(DropReason::MalformedTransport));
    assert_eq!(an, [weird::INTERNALLY_TRUNCATED_HEADER]);
}
