//! EtherType values the decoder dispatches on (a superset of smoltcp's `EthernetProtocol`,
//! which knows only IPv4, IPv6 and ARP).

use crate::macros::enum_with_unknown;

enum_with_unknown! {
    /// An EtherType, or a VLAN tag protocol identifier (TPID).
    pub enum EtherType(u16) {
        /// IPv4.
        Ipv4 = 0x0800,
        /// ARP.
        Arp = 0x0806,
        /// Reverse ARP.
        Rarp = 0x8035,
        /// 802.1Q customer VLAN tag (C-tag).
        Vlan = 0x8100,
        /// IPv6.
        Ipv6 = 0x86DD,
        /// MPLS, unicast.
        MplsUnicast = 0x8847,
        /// MPLS, multicast.
        MplsMulticast = 0x8848,
        /// 802.1ad service VLAN tag (S-tag, QinQ outer tag).
        QinQ = 0x88A8,
        /// Pre-802.1ad QinQ outer tag (Cisco, Juniper).
        QinQ9100 = 0x9100,
        /// Pre-802.1ad QinQ outer tag, legacy.
        QinQ9200 = 0x9200,
    }
}

impl EtherType {
    /// Values up to this one are an 802.3 length, not an EtherType.
    pub const MAX_802_3_LENGTH: u16 = 1500;
    /// EtherTypes start here; values between 1501 and 1535 are undefined.
    pub const MIN_ETHERTYPE: u16 = 0x0600;

    /// Whether this is a VLAN tag protocol identifier.
    #[inline]
    pub fn is_vlan_tpid(self) -> bool {
        matches!(self, EtherType::Vlan | EtherType::QinQ | EtherType::QinQ9100 | EtherType::QinQ9200)
    }
}

impl From<smoltcp::wire::EthernetProtocol> for EtherType {
    #[inline]
    fn from(value: smoltcp::wire::EthernetProtocol) -> Self {
        EtherType::from(u16::from(value))
    }
}
