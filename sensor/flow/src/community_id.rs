//! Community ID flow hashing, version 1 (<https://github.com/corelight/community-id-spec>).
//!
//! `1:` followed by the base64 of the SHA-1 of: seed (2 bytes, big endian), the smaller
//! endpoint's address then the larger's, protocol, a zero pad byte, and the two ports in the same
//! order. ICMP "ports" are the type and the code, mapped to their counterpart as the spec says so
//! that a request and its reply hash alike.

use crate::key::{FlowKey, proto};
use base64::Engine;
use core::net::IpAddr;
use sha1::{Digest, Sha1};

fn addr_bytes(a: &IpAddr, out: &mut Vec<u8>) {
    match a {
        IpAddr::V4(v4) => out.extend_from_slice(&v4.octets()),
        IpAddr::V6(v6) => out.extend_from_slice(&v6.octets()),
    }
}

/// The ICMP ports of the spec: (type, code) with one-way messages keeping their code, and
/// two-way messages the counterpart type so that both directions order the same.
fn icmp_ports(v6: bool, kind: u16, counterpart_or_code: u16) -> (u16, u16, bool) {
    let two_way = if v6 {
        matches!(kind, 128 | 129 | 130 | 131 | 133 | 134 | 135 | 136 | 139 | 140 | 144 | 145)
    } else {
        matches!(kind, 0 | 8 | 9 | 10 | 13 | 14 | 15 | 16 | 17 | 18)
    };
    (kind, counterpart_or_code, !two_way)
}

/// The Community ID v1 string of a flow, with the given seed (0 by default).
pub fn community_id(key: &FlowKey, seed: u16) -> String {
    let (mut sport, mut dport) = (key.orig_p, key.resp_p);
    let mut one_way = false;
    let has_ports = matches!(key.proto, proto::TCP | proto::UDP | proto::ICMP | proto::ICMPV6 | 132);
    if matches!(key.proto, proto::ICMP | proto::ICMPV6) {
        (sport, dport, one_way) = icmp_ports(key.proto == proto::ICMPV6, sport, dport);
    }
    // Order the endpoints: smaller address first, then smaller port; one-way ICMP stays as sent.
    let orig_first = one_way || key.orig_h < key.resp_h || (key.orig_h == key.resp_h && sport <= dport);
    let mut buf = Vec::with_capacity(2 + 32 + 2 + 4);
    buf.extend_from_slice(&seed.to_be_bytes());
    let (a, b, pa, pb) =
        if orig_first { (&key.orig_h, &key.resp_h, sport, dport) } else { (&key.resp_h, &key.orig_h, dport, sport) };
    addr_bytes(a, &mut buf);
    addr_bytes(b, &mut buf);
    buf.push(key.proto);
    buf.push(0);
    if has_ports {
        buf.extend_from_slice(&pa.to_be_bytes());
        buf.extend_from_slice(&pb.to_be_bytes());
    }
    let digest = Sha1::digest(&buf);
    let mut out = String::with_capacity(30);
    out.push_str("1:");
    base64::engine::general_purpose::STANDARD.encode_string(digest, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(o: &str, op: u16, r: &str, rp: u16, proto: u8) -> FlowKey {
        FlowKey {
            orig_h: o.parse().unwrap(),
            resp_h: r.parse().unwrap(),
            orig_p: op,
            resp_p: rp,
            proto,
            vlan: None,
            inner_vlan: None,
        }
    }

    // Reference vectors of the spec's implementations (corelight c-community-id README, the
    // OpenSearch community_id processor tests): (src, sport, dst, dport, proto) -> id. ICMP keys
    // hold (type, counterpart type) as the flow table builds them.
    #[test]
    fn reference_vectors() {
        let cases = [
            (("128.232.110.120", 34855, "66.35.250.204", 80, 6), "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
            (("66.35.250.204", 80, "128.232.110.120", 34855, 6), "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
            (("192.168.1.52", 54585, "8.8.8.8", 53, 17), "1:d/FP5EW3wiY1vCndhwleRRKHowQ="),
            (("8.8.8.8", 53, "192.168.1.52", 54585, 17), "1:d/FP5EW3wiY1vCndhwleRRKHowQ="),
            (("192.168.170.8", 7, "192.168.170.56", 7, 132), "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs="),
            (("192.168.0.89", 8, "192.168.0.1", 0, 1), "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="),
            (("192.168.0.1", 0, "192.168.0.89", 8, 1), "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="),
            (("fe80::260:97ff:fe07:69ea", 134, "ff02::1", 133, 58), "1:pkvHqCL88/tg1k4cPigmZXUtL00="),
            (
                ("2001:470:e5bf:dead:4957:2174:e82c:4887", 63943, "2607:f8b0:400c:c03::1a", 25, 6),
                "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=",
            ),
        ];
        for ((o, op, r, rp, proto), want) in cases {
            assert_eq!(community_id(&key(o, op, r, rp, proto), 0), want, "{o}:{op} -> {r}:{rp} proto {proto}");
        }
    }
}
