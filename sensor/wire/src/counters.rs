//! What the decoder counts: every frame it receives ends in exactly one of `ip_packets`,
//! `non_ip`, `held` or `dropped` (see [`DecodeCounters::is_balanced`]).

use crate::DropReason;

/// Counters of a [`crate::FrameDecoder`]. Plain monotonically increasing `u64`s.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodeCounters {
    /// Frames passed to `decode` (received).
    pub frames: u64,
    /// Frames that produced a [`crate::Decode::Packet`] (emitted), reassembled datagrams included.
    pub ip_packets: u64,
    /// Of `ip_packets`, IPv4.
    pub ipv4: u64,
    /// Of `ip_packets`, IPv6.
    pub ipv6: u64,
    /// Frames that produced [`crate::Decode::NotIp`].
    pub non_ip: u64,
    /// Of `non_ip`, ARP and RARP.
    pub arp: u64,
    /// Frames that produced [`crate::Decode::Held`]: a fragment buffered for reassembly.
    pub held: u64,
    /// Frames that produced [`crate::Decode::Dropped`], by reason.
    pub dropped: DropCounters,
    /// Anomalies pushed by `decode` and `expire`.
    pub anomalies: u64,
    /// IP fragments seen (every fragment that is not an atomic fragment).
    pub fragments: u64,
    /// Datagrams completed by reassembly (each also counted in `ip_packets`).
    pub reassembled: u64,
    /// Incomplete datagrams discarded because their first fragment is older than the timeout.
    pub fragment_timeouts: u64,
    /// Incomplete datagrams discarded to make room (`max_datagrams` or `max_bytes` reached).
    pub fragment_evictions: u64,
    /// Fragments that overlapped data already received (identical or conflicting).
    pub fragment_overlaps: u64,
}

impl DecodeCounters {
    /// Whether every received frame is accounted for exactly once:
    /// `frames == ip_packets + non_ip + held + dropped.total()`.
    pub fn is_balanced(&self) -> bool {
        self.frames == self.ip_packets + self.non_ip + self.held + self.dropped.total()
    }
}

/// Dropped frames, one counter per [`DropReason`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DropCounters {
    /// [`DropReason::TruncatedLink`].
    pub truncated_link: u64,
    /// [`DropReason::MalformedIp`].
    pub malformed_ip: u64,
    /// [`DropReason::MalformedTransport`].
    pub malformed_transport: u64,
    /// [`DropReason::BadFragment`].
    pub bad_fragment: u64,
    /// [`DropReason::TooDeep`].
    pub too_deep: u64,
    /// [`DropReason::UnsupportedLink`].
    pub unsupported_link: u64,
}

impl DropCounters {
    /// The counter of `reason`.
    pub fn get(&self, reason: DropReason) -> u64 {
        match reason {
            DropReason::TruncatedLink => self.truncated_link,
            DropReason::MalformedIp => self.malformed_ip,
            DropReason::MalformedTransport => self.malformed_transport,
            DropReason::BadFragment => self.bad_fragment,
            DropReason::TooDeep => self.too_deep,
            DropReason::UnsupportedLink => self.unsupported_link,
        }
    }

    /// All dropped frames.
    pub fn total(&self) -> u64 {
        self.truncated_link
            + self.malformed_ip
            + self.malformed_transport
            + self.bad_fragment
            + self.too_deep
            + self.unsupported_link
    }

    #[inline]
    pub(crate) fn add(&mut self, reason: DropReason) {
        let c = match reason {
            DropReason::TruncatedLink => &mut self.truncated_link,
            DropReason::MalformedIp => &mut self.malformed_ip,
            DropReason::MalformedTransport => &mut self.malformed_transport,
            DropReason::BadFragment => &mut self.bad_fragment,
            DropReason::TooDeep => &mut self.too_deep,
            DropReason::UnsupportedLink => &mut self.unsupported_link,
        };
        *c += 1;
    }
}
