//! Public types of the decoder: what a decoded packet looks like to the rest of the sensor.

use core::fmt;
use core::net::IpAddr;

/// A capture timestamp: nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// Builds a timestamp from seconds and nanoseconds.
    pub const fn from_parts(secs: u64, nanos: u32) -> Self {
        Timestamp(secs * 1_000_000_000 + nanos as u64)
    }
    /// Nanoseconds since the epoch.
    pub const fn nanos(self) -> u64 {
        self.0
    }
    /// Seconds since the epoch as a float, the way Zeek writes `ts`.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    /// `self - earlier`, saturating at zero.
    pub const fn since(self, earlier: Timestamp) -> core::time::Duration {
        core::time::Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
    /// `self + d`.
    pub const fn add(self, d: core::time::Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(d.as_nanos() as u64))
    }
    /// `self - d`, saturating at the epoch.
    pub const fn sub(self, d: core::time::Duration) -> Timestamp {
        Timestamp(self.0.saturating_sub(d.as_nanos() as u64))
    }
    /// The wall clock now (live frames without a kernel timestamp, expiry by the wall clock,
    /// when a block was written).
    pub fn now() -> Timestamp {
        let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Timestamp(u64::try_from(since.as_nanos()).unwrap_or(u64::MAX))
    }
}

/// A link-layer type as numbered by tcpdump's LINKTYPE_ registry (the pcap and pcapng header value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinkType(pub u32);

impl LinkType {
    /// BSD loopback: 4-byte address family in host byte order of the capturing machine.
    pub const NULL: LinkType = LinkType(0);
    /// Ethernet II / 802.3.
    pub const ETHERNET: LinkType = LinkType(1);
    /// Raw IP (OpenBSD numbering 12 is also accepted as raw).
    pub const RAW: LinkType = LinkType(101);
    /// OpenBSD loopback: 4-byte address family in network byte order.
    pub const LOOP: LinkType = LinkType(108);
    /// Linux cooked capture v1 (SLL).
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// Raw IPv4.
    pub const IPV4: LinkType = LinkType(228);
    /// Raw IPv6.
    pub const IPV6: LinkType = LinkType(229);
    /// Linux cooked capture v2 (SLL2).
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// Whether the decoder understands this link type.
    pub fn is_supported(self) -> bool {
        matches!(self.0, 0 | 1 | 12 | 14 | 101 | 108 | 113 | 228 | 229 | 276)
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            0 => "NULL",
            1 => "ETHERNET",
            12 | 14 | 101 => "RAW",
            108 => "LOOP",
            113 => "LINUX_SLL",
            228 => "IPV4",
            229 => "IPV6",
            276 => "LINUX_SLL2",
            _ => return write!(f, "{}", self.0),
        };
        f.write_str(name)
    }
}

/// TCP header flags, as the low byte of the flags field (CWR ECE URG ACK PSH RST SYN FIN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
    /// URG.
    pub const URG: u8 = 0x20;
    /// Whether all bits of `mask` are set.
    pub const fn has(self, mask: u8) -> bool {
        self.0 & mask == mask
    }
}

/// A TCP segment as seen on the wire.
#[derive(Debug, Clone, Copy)]
pub struct TcpSegment<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number (meaningful only when ACK is set).
    pub ack: u32,
    /// Header flags.
    pub flags: TcpFlags,
    /// Advertised window (unscaled).
    pub window: u16,
    /// Payload length on the wire, from the IP length fields (may exceed `payload.len()` when
    /// the capture was cut by a snap length).
    pub payload_len: u32,
    /// The captured payload bytes.
    pub payload: &'a [u8],
}

/// The transport layer of a decoded packet.
#[derive(Debug, Clone, Copy)]
pub enum Transport<'a> {
    /// TCP.
    Tcp(TcpSegment<'a>),
    /// UDP.
    Udp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
        /// Payload length on the wire (UDP length minus 8, bounded by the IP length).
        payload_len: u32,
        /// The captured payload bytes.
        payload: &'a [u8],
    },
    /// ICMP (v4) or ICMPv6.
    Icmp {
        /// True for ICMPv6.
        v6: bool,
        /// ICMP type.
        kind: u8,
        /// ICMP code.
        code: u8,
        /// Bytes after the 4-byte ICMP header, length on the wire.
        payload_len: u32,
    },
    /// Any other IP protocol: no ports.
    Other {
        /// The IP protocol number.
        protocol: u8,
        /// Bytes after the IP headers, length on the wire.
        payload_len: u32,
    },
}

/// A decoded IP packet (after reassembly when it was fragmented).
#[derive(Debug, Clone, Copy)]
pub struct Decoded<'a> {
    /// Outer VLAN id (802.1Q/802.1ad), when tagged.
    pub vlan: Option<u16>,
    /// Second VLAN id, when double-tagged.
    pub inner_vlan: Option<u16>,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Total IP length on the wire (header + payload; for a reassembled datagram, the whole datagram).
    pub ip_len: u32,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// Whether this packet is a datagram reassembled from fragments.
    pub reassembled: bool,
    /// The transport layer.
    pub transport: Transport<'a>,
}

/// What a frame decoded to.
#[derive(Debug)]
pub enum Decode<'a> {
    /// An IP packet with its transport layer.
    Packet(Decoded<'a>),
    /// A fragment was buffered for reassembly; nothing to process yet.
    Held,
    /// Not IP (ARP, LLDP, STP, …): counted, creates no flow.
    NotIp(NotIp),
    /// The frame could not be decoded; `anomalies` says why.
    Dropped(DropReason),
}

/// Non-IP frames, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotIp {
    /// ARP or RARP.
    Arp,
    /// Any other EtherType (LLDP, STP, IPX, …); for an 802.3 frame (LLC, STP, CDP), its length
    /// field (≤ 1500).
    OtherEtherType(u16),
    /// A link-layer protocol value that is not an EtherType: a BSD loopback address family other
    /// than IPv4/IPv6, or a Linux cooked-capture protocol below 0x0600 (0x0001 Novell 802.3,
    /// 0x0004 802.2 LLC, 0x000C CAN, …).
    OtherLinkProtocol(u32),
}

/// Why a frame was dropped by the decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// The link layer was shorter than its header.
    TruncatedLink,
    /// The network header was shorter than needed, or its length fields are inconsistent.
    MalformedIp,
    /// The transport header was truncated or inconsistent.
    MalformedTransport,
    /// A fragment that could not be reassembled (overlap policy, limits, bad offsets).
    BadFragment,
    /// Too many stacked tags (VLAN/MPLS) or IPv6 extension headers.
    TooDeep,
    /// The link type is not supported.
    UnsupportedLink,
}

impl DropReason {
    /// Every reason.
    pub const ALL: [DropReason; 6] = [
        DropReason::TruncatedLink,
        DropReason::MalformedIp,
        DropReason::MalformedTransport,
        DropReason::BadFragment,
        DropReason::TooDeep,
        DropReason::UnsupportedLink,
    ];

    /// A stable snake_case name for stats.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::TruncatedLink => "truncated_link",
            DropReason::MalformedIp => "malformed_ip",
            DropReason::MalformedTransport => "malformed_transport",
            DropReason::BadFragment => "bad_fragment",
            DropReason::TooDeep => "too_deep",
            DropReason::UnsupportedLink => "unsupported_link",
        }
    }
}

/// An anomaly found while decoding, named as Zeek names its `weird`s where Zeek has one
/// (e.g. `truncated_IP`, `truncated_header`, `fragment_overlap`, `excessively_large_fragment`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anomaly {
    /// Zeek-style weird name.
    pub name: &'static str,
    /// Source address, when the IP header was readable.
    pub src: Option<IpAddr>,
    /// Destination address, when the IP header was readable.
    pub dst: Option<IpAddr>,
    /// Extra detail (Zeek's `addl`), if any.
    pub addl: Option<String>,
}
