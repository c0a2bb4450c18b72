//! Flow tracking: bidirectional flows with Zeek `conn.log` semantics, in a bounded table.
//!
//! | file | what it holds |
//! |---|---|
//! | `key.rs` | [`FlowKey`] (5-tuple + VLANs, originator first) and its packed stored form, ICMP type pairing, Zeek's likely server ports |
//! | `table.rs` | [`FlowTable`]: slab + hash index + LRU lists, expiry, the eviction rule, [`FlowSink`] |
//! | `flow.rs` | [`Flow`]: counters, `conn_state`, bytes, role flips |
//! | `tcp/` | the TCP endpoint state machine (Zeek's `TCPSessionAdapter`), content gaps |
//! | `history.rs` | the inline history string (5 bits a letter) and its once/scaled letters |
//! | `community_id.rs` | [`community_id`] v1 |
//! | `uid.rs` | [`uid`]: Zeek-style connection ids |
//!
//! Invariants: one table per worker, no locks; no allocation per packet once the slab has grown
//! (a new flow reuses a freed slot); the table never holds more than
//! [`FlowConfig::max_flows`] flows; every flow that enters the table leaves it through
//! [`FlowSink::ended`] exactly once (timeout, eviction or shutdown).
//!
//! Not done here: payload reassembly (analysers that need a byte stream do their own, bounded),
//! checksum validation (SPAN copies from offloading NICs often carry wrong checksums).

#![forbid(unsafe_code)]

mod community_id;
mod flow;
mod history;
mod key;
mod table;
mod tcp;
mod uid;

#[cfg(test)]
mod tests;

pub use community_id::community_id;
pub use flow::{DirStats, EndReason, Flow};
pub use history::{History, HistoryStr, MAX_HISTORY};
pub use key::{FlowKey, proto};
pub use table::{FlowId, FlowSink, FlowTable, Tracked};
pub use tcp::EndpointState;
pub use uid::{Uid, tagged_id, uid};

use core::time::Duration;

/// Flow table settings. Defaults are Zeek's timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowConfig {
    /// Most flows held at once; past it the flow idle longest is evicted. Default 1,000,000
    /// (about 280 MiB with the sensor's analyser state; see docs/PERFORMANCE.md).
    pub max_flows: usize,
    /// TCP inactivity timeout. Default 5 min (Zeek's `tcp_inactivity_timeout`).
    pub tcp_inactivity: Duration,
    /// UDP inactivity timeout. Default 1 min (`udp_inactivity_timeout`).
    pub udp_inactivity: Duration,
    /// Inactivity timeout of UDP flows on DNS ports (53, 5353, 5355). Default 10 s (Zeek's
    /// `dns_session_timeout`): a lookup is one request and one reply, and resolvers reuse ports.
    pub dns_udp_inactivity: Duration,
    /// ICMP inactivity timeout. Default 1 min (`icmp_inactivity_timeout`).
    pub icmp_inactivity: Duration,
    /// Other IP protocols. Default 1 min (`unknown_ip_inactivity_timeout`).
    pub other_inactivity: Duration,
    /// How long a closed or reset TCP connection lingers for late packets. Default 5 s
    /// (`tcp_close_delay`).
    pub tcp_close_delay: Duration,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            max_flows: 1_000_000,
            tcp_inactivity: Duration::from_secs(300),
            udp_inactivity: Duration::from_secs(60),
            dns_udp_inactivity: Duration::from_secs(10),
            icmp_inactivity: Duration::from_secs(60),
            other_inactivity: Duration::from_secs(60),
            tcp_close_delay: Duration::from_secs(5),
        }
    }
}

/// Flow table counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowStats {
    /// Packets tracked.
    pub packets: u64,
    /// Flows created.
    pub created: u64,
    /// Flows ended by timeout.
    pub expired: u64,
    /// Flows ended early because the table was full.
    pub evicted: u64,
}
