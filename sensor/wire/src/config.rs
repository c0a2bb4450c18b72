//! Decoder configuration: the bounds of fragment reassembly.
//!
//! Why these defaults, and what each bound defends against, is written down in
//! `docs/decisions/fragment-reassembly.md` at the workspace root.

use core::time::Duration;

/// Configuration of a [`crate::FrameDecoder`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DecoderConfig {
    /// Bounds of IPv4/IPv6 fragment reassembly.
    pub fragments: FragmentConfig,
}

/// Bounds of IPv4/IPv6 fragment reassembly. Every bound is enforced per decoder (one decoder per
/// worker thread), and every overflow is counted in [`crate::DecodeCounters`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FragmentConfig {
    /// Datagrams under reassembly at once. Default 8192. When the table is full, the datagram
    /// whose first fragment arrived earliest is evicted (`fragment_evictions`). Zero disables
    /// reassembly: every non-atomic fragment is dropped as [`crate::DropReason::BadFragment`].
    pub max_datagrams: usize,
    /// Bytes buffered by datagrams under reassembly, in bytes. Default 32 MiB. Buffers are kept in
    /// a pool for reuse; the pool itself holds at most this many bytes again, so a decoder holds at
    /// most twice this value in fragment buffers. Over the bound, the oldest datagrams are evicted.
    pub max_bytes: usize,
    /// Largest reassembled datagram (IP header included), in bytes. Default 65 535, which is also
    /// the ceiling: a reassembled datagram must fit the 16-bit IPv4 total length / IPv6 payload
    /// length field, so IPv6 jumbograms (RFC 2675) are refused. A fragment reaching past it
    /// drops its datagram with the `excessively_large_fragment` anomaly.
    pub max_datagram_len: usize,
    /// How long a datagram may stay incomplete, measured from its first fragment in capture time.
    /// Default 30 s: Linux's `net.ipv4.ipfrag_time` and `net.ipv6.ip6frag_time` are 30 s, so a
    /// fragment the monitored Linux hosts would still reassemble is still reassembled here, and
    /// one they have dropped is dropped here (RFC 791 suggests 15 s, RFC 8200 60 s).
    pub timeout: Duration,
}

impl FragmentConfig {
    /// The ceiling of [`FragmentConfig::max_datagram_len`]: the largest length an IPv4 total
    /// length or (header + IPv6 payload length) field can describe without a jumbo option.
    pub const DATAGRAM_LEN_CEILING: usize = 65_535;

    /// `max_datagram_len`, clamped to [`FragmentConfig::DATAGRAM_LEN_CEILING`].
    pub fn effective_max_datagram_len(&self) -> usize {
        self.max_datagram_len.min(Self::DATAGRAM_LEN_CEILING)
    }
}

impl Default for FragmentConfig {
    fn default() -> Self {
        FragmentConfig {
            max_datagrams: 8192,
            max_bytes: 32 * 1024 * 1024,
            max_datagram_len: Self::DATAGRAM_LEN_CEILING,
            timeout: Duration::from_secs(30),
        }
    }
}
