//! Flow keys: the 5-tuple plus VLAN tags, oriented originator → responder.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use sensor_wire::{Decoded, Transport};

/// IP protocol numbers the flow table treats specially.
pub mod proto {
    /// ICMP.
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
}

/// A bidirectional flow's identity, oriented from originator to responder.
///
/// For ICMP the "ports" are Zeek's: the originator's port is the message type and the responder's
/// the counterpart type (echo request 8 ↔ reply 0), or the code for one-way messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// Originator address.
    pub orig_h: IpAddr,
    /// Responder address.
    pub resp_h: IpAddr,
    /// Originator port (or ICMP type).
    pub orig_p: u16,
    /// Responder port (or ICMP counterpart type / code).
    pub resp_p: u16,
    /// IP protocol number.
    pub proto: u8,
    /// Outer VLAN id.
    pub vlan: Option<u16>,
    /// Inner VLAN id.
    pub inner_vlan: Option<u16>,
}

impl FlowKey {
    /// The key of a packet as sent (source as originator).
    pub fn of(pkt: &Decoded<'_>) -> FlowKey {
        let (orig_p, resp_p, proto) = match pkt.transport {
            Transport::Tcp(seg) => (seg.src_port, seg.dst_port, proto::TCP),
            Transport::Udp { src_port, dst_port, .. } => (src_port, dst_port, proto::UDP),
            Transport::Icmp { v6, kind, code, .. } => {
                let counterpart = if v6 { icmp6_counterpart(kind, code) } else { icmp4_counterpart(kind, code) };
                (u16::from(kind), u16::from(counterpart), if v6 { proto::ICMPV6 } else { proto::ICMP })
            }
            Transport::Other { protocol, .. } => (0, 0, protocol),
        };
        FlowKey { orig_h: pkt.src, resp_h: pkt.dst, orig_p, resp_p, proto, vlan: pkt.vlan, inner_vlan: pkt.inner_vlan }
    }

    /// The same flow seen from the other side.
    pub fn reversed(&self) -> FlowKey {
        FlowKey { orig_h: self.resp_h, resp_h: self.orig_h, orig_p: self.resp_p, resp_p: self.orig_p, ..*self }
    }
}

/// A [`FlowKey`] as a flow stores it: 24 bytes instead of 48.
///
/// IPv4 addresses are stored inline (8 bytes for both), IPv6 addresses in a box of their own (an
/// allocation per IPv6 flow, made when the flow is created), so that the IPv4 flows that make up
/// most of a network do not carry 24 bytes of mapped-address padding each. One byte says which
/// family each address is and which VLAN tags are present, so packing is lossless for every key:
/// unpacking gives back exactly the key that was packed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PackedKey {
    /// Both addresses IPv4: originator then responder.
    V4 { addrs: [u8; 8], rest: Rest },
    /// Any other pair (IPv6, or the mixed pairs only a hand-built key has), as 16 bytes each with
    /// IPv4 mapped.
    V6 { addrs: Box<[u8; 32]>, rest: Rest },
}

/// What a [`PackedKey`] holds besides addresses (alignment 1, so it fills the enum's padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rest {
    orig_p: [u8; 2],
    resp_p: [u8; 2],
    proto: u8,
    vlan: [u8; 2],
    inner_vlan: [u8; 2],
    /// [`Rest::ORIG_V6`], [`Rest::RESP_V6`], [`Rest::VLAN`], [`Rest::INNER_VLAN`].
    flags: u8,
}

impl Rest {
    /// The originator's address is IPv6 (else IPv4).
    const ORIG_V6: u8 = 0x1;
    /// The responder's address is IPv6.
    const RESP_V6: u8 = 0x2;
    /// The outer VLAN tag is present.
    const VLAN: u8 = 0x4;
    /// The inner VLAN tag is present.
    const INNER_VLAN: u8 = 0x8;

    fn reverse(&mut self) {
        let families = (self.flags & Self::ORIG_V6) << 1 | (self.flags & Self::RESP_V6) >> 1;
        self.flags = self.flags & !(Self::ORIG_V6 | Self::RESP_V6) | families;
        core::mem::swap(&mut self.orig_p, &mut self.resp_p);
    }
}

impl PackedKey {
    pub(crate) fn pack(key: &FlowKey) -> PackedKey {
        let flag = |set: bool, bit: u8| if set { bit } else { 0 };
        let rest = Rest {
            orig_p: key.orig_p.to_ne_bytes(),
            resp_p: key.resp_p.to_ne_bytes(),
            proto: key.proto,
            vlan: key.vlan.unwrap_or(0).to_ne_bytes(),
            inner_vlan: key.inner_vlan.unwrap_or(0).to_ne_bytes(),
            flags: flag(key.orig_h.is_ipv6(), Rest::ORIG_V6)
                | flag(key.resp_h.is_ipv6(), Rest::RESP_V6)
                | flag(key.vlan.is_some(), Rest::VLAN)
                | flag(key.inner_vlan.is_some(), Rest::INNER_VLAN),
        };
        match (key.orig_h, key.resp_h) {
            (IpAddr::V4(orig), IpAddr::V4(resp)) => {
                let mut addrs = [0; 8];
                addrs[..4].copy_from_slice(&orig.octets());
                addrs[4..].copy_from_slice(&resp.octets());
                PackedKey::V4 { addrs, rest }
            }
            (orig, resp) => {
                let wide = |a: IpAddr| match a {
                    IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
                    IpAddr::V6(v6) => v6.octets(),
                };
                let mut addrs = Box::new([0; 32]);
                addrs[..16].copy_from_slice(&wide(orig));
                addrs[16..].copy_from_slice(&wide(resp));
                PackedKey::V6 { addrs, rest }
            }
        }
    }

    fn rest(&self) -> &Rest {
        match self {
            PackedKey::V4 { rest, .. } | PackedKey::V6 { rest, .. } => rest,
        }
    }

    /// The addresses, originator first, as they were packed.
    fn addrs(&self) -> (IpAddr, IpAddr) {
        match self {
            PackedKey::V4 { addrs, .. } => {
                let v4 = |bytes: &[u8]| IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]));
                (v4(&addrs[..4]), v4(&addrs[4..]))
            }
            PackedKey::V6 { addrs, rest } => {
                let wide = |bytes: &[u8], v6: bool| {
                    let mut octets = [0; 16];
                    octets.copy_from_slice(bytes);
                    let a = Ipv6Addr::from(octets);
                    match a.to_ipv4_mapped() {
                        Some(v4) if !v6 => IpAddr::V4(v4),
                        _ => IpAddr::V6(a),
                    }
                };
                (
                    wide(&addrs[..16], rest.flags & Rest::ORIG_V6 != 0),
                    wide(&addrs[16..], rest.flags & Rest::RESP_V6 != 0),
                )
            }
        }
    }

    /// The VLAN tags, outer then inner.
    fn vlans(&self) -> (Option<u16>, Option<u16>) {
        let rest = self.rest();
        let tag = |bit: u8, id: [u8; 2]| (rest.flags & bit != 0).then(|| u16::from_ne_bytes(id));
        (tag(Rest::VLAN, rest.vlan), tag(Rest::INNER_VLAN, rest.inner_vlan))
    }

    pub(crate) fn unpack(&self) -> FlowKey {
        let (orig_h, resp_h) = self.addrs();
        let (vlan, inner_vlan) = self.vlans();
        FlowKey { orig_h, resp_h, orig_p: self.orig_p(), resp_p: self.resp_p(), proto: self.proto(), vlan, inner_vlan }
    }

    /// Whether this is the flow of `key`: `Some(true)` in the same orientation, `Some(false)`
    /// reversed (sent by the responder). Field by field, without building keys: the flow table
    /// asks this for every packet.
    pub(crate) fn matches(&self, key: &FlowKey) -> Option<bool> {
        if self.proto() != key.proto || self.vlans() != (key.vlan, key.inner_vlan) {
            return None;
        }
        let (orig_h, resp_h) = self.addrs();
        let own = (orig_h, self.orig_p(), resp_h, self.resp_p());
        if own == (key.orig_h, key.orig_p, key.resp_h, key.resp_p) {
            Some(true)
        } else if own == (key.resp_h, key.resp_p, key.orig_h, key.orig_p) {
            Some(false)
        } else {
            None
        }
    }

    pub(crate) fn proto(&self) -> u8 {
        self.rest().proto
    }

    pub(crate) fn orig_p(&self) -> u16 {
        u16::from_ne_bytes(self.rest().orig_p)
    }

    pub(crate) fn resp_p(&self) -> u16 {
        u16::from_ne_bytes(self.rest().resp_p)
    }

    /// Turns the key around: the responder becomes the originator.
    pub(crate) fn reverse(&mut self) {
        match self {
            PackedKey::V4 { addrs, rest } => {
                addrs.rotate_left(4);
                rest.reverse();
            }
            PackedKey::V6 { addrs, rest } => {
                addrs.rotate_left(16);
                rest.reverse();
            }
        }
    }
}

/// ICMPv4 request/reply pairing (Zeek's `ICMP4_counterpart`): one-way messages pair with their code.
fn icmp4_counterpart(kind: u8, code: u8) -> u8 {
    match kind {
        8 => 0,
        0 => 8,
        13 => 14,
        14 => 13,
        15 => 16,
        16 => 15,
        10 => 9,
        9 => 10,
        17 => 18,
        18 => 17,
        _ => code,
    }
}

/// ICMPv6 request/reply pairing (Zeek's `ICMP6_counterpart`).
fn icmp6_counterpart(kind: u8, code: u8) -> u8 {
    match kind {
        128 => 129,
        129 => 128,
        133 => 134,
        134 => 133,
        135 => 136,
        136 => 135,
        130 => 131,
        131 => 130,
        139 => 140,
        140 => 139,
        144 => 145,
        145 => 144,
        _ => code,
    }
}

/// Zeek's `likely_server_ports`: the ports its base analyzers register, plus those of the CISA
/// ICSNPP OT plugins (S7comm 102, EtherNet/IP 44818 and 2222, BACnet 47808, IEC 60870-5-104
/// 2404), which an OT sensor loads. A first packet *from* one of these (to a port that is not one)
/// makes the receiver the originator, with `^` in the history.
pub(crate) fn likely_server_port(proto: u8, port: u16) -> bool {
    match proto {
        proto::TCP => matches!(
            port,
            21 | 22
                | 25
                | 53
                | 79
                | 80
                | 81
                | 88
                | 102
                | 135
                | 139
                | 143
                | 443
                | 445
                | 465
                | 502
                | 514
                | 563
                | 585
                | 587
                | 614
                | 631
                | 636
                | 989
                | 990
                | 992
                | 993
                | 995
                | 1080
                | 1434
                | 1883
                | 2404
                | 2811
                | 3128
                | 3306
                | 3389
                | 5222
                | 5223
                | 5269
                | 6379
                | 6666..=6669 | 8000 | 8080 | 8888 | 20000 | 44818
        ),
        proto::UDP => matches!(
            port,
            53 | 67
                | 68
                | 88
                | 123
                | 137
                | 161
                | 162
                | 443
                | 514
                | 1812
                | 2222
                | 3389
                | 4011
                | 5060
                | 5353
                | 5355
                | 20000
                | 44818
                | 47808
        ),
        _ => false,
    }
}
