//! Link layer: from a frame of a given link type to the start of the IP packet, collecting VLAN
//! ids on the way.
//!
//! ```text
//! ETHERNET ─► EtherType ─┬─ 0x0800/0x86DD ──────────────────────────► IP
//! SLL, SLL2 ─► protocol ─┤─ 0x0806/0x8035 ──────────────────────────► NotIp::Arp
//!                        ├─ 0x8100/0x88A8/0x9100/0x9200 ─► tag ─► EtherType (loop)
//!                        ├─ 0x8847/0x8848 ─► labels ─► nibble 4/6 ──► IP
//!                        │                           └ nibble 0 ─► control word ─► Ethernet (loop)
//!                        └─ ≤ 1500 (802.3/LLC), others ─────────────► NotIp
//! NULL, LOOP ─► family 2 / 24, 28, 30 ──────────────────────────────► IP
//! RAW (101, 12, 14), IPV4 (228), IPV6 (229) ────────────────────────► IP
//! ```

use smoltcp::wire::{ArpPacket, EthernetFrame};

use crate::ethertype::EtherType;
use crate::null::{self, Family, FamilyOrder};
use crate::sll::{Sll2Packet, SllPacket};
use crate::weird;
use crate::{Anomaly, DropReason, LinkType, NotIp, mpls, vlan};

use super::{MAX_MPLS_LABELS, MAX_PSEUDOWIRE_NESTING, MAX_VLAN_TAGS};

/// What follows the link layer.
#[derive(Debug)]
pub(super) enum L3<'a> {
    /// An IP packet (version not yet checked), up to the end of the frame.
    Ip(&'a [u8]),
    /// Not IP.
    NotIp(NotIp),
}

/// The link layer, decoded.
#[derive(Debug)]
pub(super) struct L2<'a> {
    pub vlan: Option<u16>,
    pub inner_vlan: Option<u16>,
    pub l3: L3<'a>,
}

impl<'a> L2<'a> {
    #[inline]
    fn ip(data: &'a [u8]) -> Self {
        L2 { vlan: None, inner_vlan: None, l3: L3::Ip(data) }
    }
    #[inline]
    fn not_ip(kind: NotIp) -> Self {
        L2 { vlan: None, inner_vlan: None, l3: L3::NotIp(kind) }
    }
}

/// Decodes the link layer of `frame`.
#[inline]
pub(super) fn decode<'a>(link: LinkType, frame: &'a [u8], anomalies: &mut Vec<Anomaly>) -> Result<L2<'a>, DropReason> {
    match link.0 {
        1 => ethernet(frame, anomalies),
        113 => match SllPacket::new_checked(frame) {
            Ok(p) => sll_protocol(p.protocol(), p.payload(), anomalies),
            Err(_) => truncated(anomalies, weird::TRUNCATED_LINUX_SLL_HEADER),
        },
        276 => match Sll2Packet::new_checked(frame) {
            Ok(p) => sll_protocol(p.protocol(), p.payload(), anomalies),
            Err(_) => truncated(anomalies, weird::TRUNCATED_LINUX_SLL2_HEADER),
        },
        0 => loopback(frame, FamilyOrder::Host, anomalies),
        108 => loopback(frame, FamilyOrder::Network, anomalies),
        12 | 14 | 101 | 228 | 229 => Ok(L2::ip(frame)),
        _ => {
            weird::push_addl(anomalies, weird::UNSUPPORTED_LINK_TYPE, None, None, link.0.to_string());
            Err(DropReason::UnsupportedLink)
        }
    }
}

#[cold]
fn truncated<'a>(anomalies: &mut Vec<Anomaly>, name: &'static str) -> Result<L2<'a>, DropReason> {
    weird::push(anomalies, name, None, None);
    Err(DropReason::TruncatedLink)
}

#[inline]
fn ethernet<'a>(frame: &'a [u8], anomalies: &mut Vec<Anomaly>) -> Result<L2<'a>, DropReason> {
    match EthernetFrame::new_checked(frame) {
        Ok(eth) => walk(EtherType::from(eth.ethertype()), eth.payload(), false, anomalies),
        Err(_) => truncated(anomalies, weird::TRUNCATED_ETHERNET_FRAME),
    }
}

/// SLL protocol values below 0x0600 name non-Ethernet payloads (802.3, 802.2 LLC, CAN, …).
fn sll_protocol<'a>(
    protocol: EtherType,
    payload: &'a [u8],
    anomalies: &mut Vec<Anomaly>,
) -> Result<L2<'a>, DropReason> {
    let raw = u16::from(protocol);
    if raw < EtherType::MIN_ETHERTYPE {
        return Ok(L2::not_ip(NotIp::OtherLinkProtocol(u32::from(raw))));
    }
    walk(protocol, payload, false, anomalies)
}

fn loopback<'a>(frame: &'a [u8], order: FamilyOrder, anomalies: &mut Vec<Anomaly>) -> Result<L2<'a>, DropReason> {
    match null::Packet::new_checked(frame) {
        Ok(p) => {
            let family = p.family(order);
            match Family::from(family) {
                Family::Ipv4 | Family::Ipv6 => Ok(L2::ip(p.payload())),
                Family::Other(_) => Ok(L2::not_ip(NotIp::OtherLinkProtocol(family))),
            }
        }
        Err(_) => truncated(anomalies, weird::NULL_ANALYZER_FAILED),
    }
}

/// Follows EtherTypes through VLAN tags, MPLS labels and Ethernet pseudowires. Every turn of the
/// loop consumes at least 4 bytes and is counted against a limit, so it ends on any input.
fn walk<'a>(
    mut ethertype: EtherType,
    mut data: &'a [u8],
    mut after_tag: bool,
    anomalies: &mut Vec<Anomaly>,
) -> Result<L2<'a>, DropReason> {
    let (mut vlan, mut inner_vlan) = (None, None);
    let (mut tags, mut labels, mut pseudowires) = (0usize, 0usize, 0usize);
    loop {
        match ethertype {
            EtherType::Ipv4 | EtherType::Ipv6 => {
                return Ok(L2 { vlan, inner_vlan, l3: L3::Ip(data) });
            }
            EtherType::Vlan | EtherType::QinQ | EtherType::QinQ9100 | EtherType::QinQ9200 => {
                tags += 1;
                if tags > MAX_VLAN_TAGS {
                    weird::push(anomalies, weird::EXCESSIVE_VLAN_TAGS, None, None);
                    return Err(DropReason::TooDeep);
                }
                let Ok(tag) = vlan::Packet::new_checked(data) else {
                    return truncated(anomalies, weird::TRUNCATED_VLAN_HEADER);
                };
                let id = Some(tag.vlan_id());
                if vlan.is_none() {
                    vlan = id;
                } else if inner_vlan.is_none() {
                    inner_vlan = id;
                } else {
                    // Zeek overwrites inner_vlan with the last tag; we keep the second one.
                    weird::push(anomalies, weird::TRIPLE_TAGGED_VLAN_UNSUPPORTED, None, None);
                }
                ethertype = tag.ethertype();
                data = tag.payload();
                after_tag = true;
            }
            EtherType::MplsUnicast | EtherType::MplsMulticast => {
                loop {
                    labels += 1;
                    if labels > MAX_MPLS_LABELS {
                        weird::push(anomalies, weird::EXCESSIVE_MPLS_LABELS, None, None);
                        return Err(DropReason::TooDeep);
                    }
                    let Ok(entry) = mpls::Packet::new_checked(data) else {
                        return truncated(anomalies, weird::TRUNCATED_LINK_HEADER);
                    };
                    data = entry.payload();
                    if entry.bottom_of_stack() {
                        break;
                    }
                }
                match mpls::guess_payload(data) {
                    mpls::Payload::Ipv4 | mpls::Payload::Ipv6 | mpls::Payload::Empty => {
                        // Empty: the IP decoder reports truncated_IP, as Zeek's would.
                        return Ok(L2 { vlan, inner_vlan, l3: L3::Ip(data) });
                    }
                    mpls::Payload::EthernetPseudowire => {
                        pseudowires += 1;
                        if pseudowires > MAX_PSEUDOWIRE_NESTING {
                            weird::push(anomalies, weird::NESTED_PSEUDOWIRE, None, None);
                            return Err(DropReason::TooDeep);
                        }
                        let inner = data.get(mpls::CONTROL_WORD_LEN..).unwrap_or_default();
                        let Ok(eth) = EthernetFrame::new_checked(inner) else {
                            return truncated(anomalies, weird::TRUNCATED_LINK_HEADER);
                        };
                        ethertype = EtherType::from(eth.ethertype());
                        data = eth.payload();
                        after_tag = false;
                    }
                    mpls::Payload::Unknown(_) => {
                        // Zeek hands the payload to its IP analyzer, which says this.
                        weird::push(anomalies, weird::UNKNOWN_IP_VERSION, None, None);
                        return Err(DropReason::MalformedIp);
                    }
                }
            }
            EtherType::Arp | EtherType::Rarp => {
                if ArpPacket::new_checked(data).is_err() {
                    weird::push(anomalies, weird::TRUNCATED_ARP, None, None);
                }
                return Ok(L2 { vlan, inner_vlan, l3: L3::NotIp(NotIp::Arp) });
            }
            EtherType::Unknown(raw) => {
                if raw > EtherType::MAX_802_3_LENGTH && raw < EtherType::MIN_ETHERTYPE {
                    let name = if after_tag { weird::UNDEFINED_VLAN_PROTOCOL } else { weird::UNDEFINED_ETHER_TYPE };
                    weird::push(anomalies, name, None, None);
                }
                return Ok(L2 { vlan, inner_vlan, l3: L3::NotIp(NotIp::OtherEtherType(raw)) });
            }
        }
    }
}
