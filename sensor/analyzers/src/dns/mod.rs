//! DNS analysis producing Zeek `dns.log`-equivalent records, and Zeek's DNS `weird`s.
//!
//! # Map
//! | file | what |
//! |---|---|
//! | `mod.rs` | public types: [`DnsConfig`], [`DnsRecord`], [`DnsSink`], [`DnsStats`], ports |
//! | [`parser`] | pure message parsing with Zeek's semantics, reported to a [`parser::Visitor`] |
//! | `labels.rs` | names and compression pointers; limits [`MAX_COMPRESSION_DEPTH`] … |
//! | `wire.rs` | header, sections, type numbers, decoded RDATA ([`RData`]), the read cursor |
//! | `rdata.rs`, `rdata_dnssec.rs` | RDATA parsing per type |
//! | [`render`] | Zeek's `answers` strings; escaping of names and text |
//! | [`names`] | `qtype_name`, `qclass_name`, `rcode_name`, `opcode_name` tables |
//! | `message.rs` | [`parse_message`]: an owned [`Message`], for tools and fuzzing |
//! | `transactions.rs` | query/response matching per flow (`main.zeek`'s `set_session`) |
//! | `tcp.rs` | length-prefix framing of DNS over TCP |
//! | `flow.rs` | [`DnsFlow`]: UDP/TCP entry points, role flip, violations |
//! | [`weird`] | anomaly names, each checked against Zeek's source |
//! | `crate::stream` | bounded in-order TCP reassembly |
//!
//! # Contract
//! - One [`DnsFlow`] per flow on a DNS port ([`is_dns_port`]): 53, 5353, 5355 over UDP, 53 over
//!   TCP. Records carry no addresses or uid; the caller adds them from the flow, and applies
//!   [`DnsSink::roles_flipped`] to its orientation.
//! - Records follow Zeek's base scripts (`zeek -b base/protocols/dns`, plus
//!   `policy/protocols/dns/log-original-query-case` for [`DnsRecord::original_query`]).
//!   Differences are listed in `docs/dns.md`.
//! - Bounded: pending records per flow, per-record answers, TCP buffers; see
//!   [`DnsConfig`], [`MAX_ANSWERS_PER_RECORD`], [`MAX_ANSWER_BYTES_PER_RECORD`]. No input panics.
//! - Not done: NetBIOS name service (137/udp, which Zeek also logs in `dns.log`), DNS over
//!   HTTPS/TLS/QUIC, DNS on other ports.
//!
//! # Example
//! ```
//! use sensor_analyzers::dns::{DnsConfig, DnsFlow, DnsRecord, DnsSink, DnsTransport};
//! use sensor_wire::Timestamp;
//!
//! #[derive(Default)]
//! struct Out(Vec<DnsRecord>);
//! impl DnsSink for Out {
//!     fn record(&mut self, rec: DnsRecord) { self.0.push(rec) }
//!     fn weird(&mut self, _: Timestamp, _: &'static str, _: Option<String>) {}
//! }
//!
//! // A query for example.com/A, then its response with 93.184.216.34.
//! let query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01";
//! let mut response = query.to_vec();
//! response[2] = 0x81;
//! response[7] = 1;
//! response.extend_from_slice(b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x0e\x10\x00\x04\x5d\xb8\xd8\x22");
//!
//! let (cfg, mut out) = (DnsConfig::default(), Out::default());
//! let mut flow = DnsFlow::new(DnsTransport::Udp);
//! flow.udp(&cfg, Timestamp::from_parts(1, 0), true, query, &mut out);
//! flow.udp(&cfg, Timestamp::from_parts(1, 5_000_000), false, &response, &mut out);
//! flow.finish(&mut out);
//! assert_eq!(out.0.len(), 1);
//! assert_eq!(out.0[0].query.as_deref(), Some("example.com"));
//! assert_eq!(out.0[0].answers, ["93.184.216.34"]);
//! assert_eq!(out.0[0].rtt, Some(core::time::Duration::from_millis(5)));
//! ```

use std::borrow::Cow;
use std::net::IpAddr;

use sensor_wire::Timestamp;

mod flow;
mod labels;
mod message;
pub mod names;
pub mod parser;
mod rdata;
mod rdata_dnssec;
pub mod render;
mod tcp;
mod transactions;
pub mod weird;
mod wire;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_anomalies;
#[cfg(test)]
mod tests_flow;
#[cfg(test)]
mod tests_synthetic;
#[cfg(test)]
mod tests_tcp;

pub use flow::{DnsFlow, MAX_VIOLATIONS, TOO_MANY_VIOLATIONS};
pub use labels::{MAX_COMPRESSION_DEPTH, MAX_LABEL_LEN, MAX_LABELS, NAME_CAPACITY, NAME_TOO_LONG, TSIG_NAME_CAPACITY};
pub use message::{Message, ParseError, Question, ResourceRecord, parse_message, parse_message_with};
pub use parser::{MAX_QUESTIONS, Sections};
pub use transactions::{
    MAX_ANSWER_BYTES_PER_RECORD, MAX_ANSWERS_PER_RECORD, ZEEK_MAX_PENDING_MSGS, ZEEK_MAX_PENDING_QUERY_IDS,
};
pub use wire::{CharStrings, RData, rr_type};

/// Transport a flow's DNS messages travel over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DnsTransport {
    /// One message per datagram.
    Udp,
    /// Length-prefixed messages in a byte stream.
    Tcp,
}

/// DNS analysis settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DnsConfig {
    /// Records kept per flow in each of the two waiting queues (unanswered queries, unmatched
    /// responses), besides Zeek's own limits (50 ids, 50 entries per id). When a queue is full
    /// its oldest record is emitted as is. Default 64.
    pub max_pending_per_flow: usize,
    /// Bytes per TCP direction: the most held ahead of a hole, and the longest message
    /// buffered (longer ones are skipped with `sensor_dns_tcp_message_too_large`). Default
    /// 65,537 (a 65,535-byte message and its length prefix).
    pub max_tcp_message: usize,
    /// Sections parsed. Default [`Sections::AnswersOnly`], Zeek's default
    /// (`dns_skip_all_auth`, `dns_skip_all_addl`); [`Sections::All`] adds the anomalies of
    /// authority and additional records (no record field changes).
    pub sections: Sections,
    /// Stop analysing a flow after an analyzer violation, as Zeek's default `dpd.zeek` does.
    /// Default true.
    pub disable_on_violation: bool,
    /// Violations after this many payload bytes (both directions) do not stop analysis
    /// (Zeek `DPD::ignore_violations_after`). Default 10,240 bytes.
    pub ignore_violations_after: u64,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            max_pending_per_flow: 64,
            max_tcp_message: 65_535 + 2,
            sections: Sections::AnswersOnly,
            disable_on_violation: true,
            ignore_violations_after: 10 * 1024,
        }
    }
}

/// Receives a flow's records and anomalies.
pub trait DnsSink {
    /// One `dns.log` line.
    fn record(&mut self, rec: DnsRecord);
    /// One `weird.log` line: `name` is Zeek's (see [`weird`]); every occurrence is reported,
    /// sampling and de-duplication are the weird stage's.
    fn weird(&mut self, ts: Timestamp, name: &'static str, addl: Option<String>);
    /// An analyzer violation (Zeek's `analyzer_violation_info`): the flow does not look like
    /// DNS. Default: ignored.
    fn violation(&mut self, ts: Timestamp, reason: &'static str) {
        let _ = (ts, reason);
    }
    /// The first message was a response sent by the originator, so Zeek swaps originator and
    /// responder (`Connection::FlipRoles`): the caller should swap the flow's `id.*` fields for
    /// every record of this flow, those already emitted included. Not called when the responder
    /// is multicast. Default: ignored.
    fn roles_flipped(&mut self, ts: Timestamp) {
        let _ = ts;
    }
}

/// One `dns.log` line, minus `uid`, `id.*` and `proto`, which the caller adds from the flow.
/// Text fields hold Zeek's bytes escaped as by [`render::push_escaped`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DnsRecord {
    /// When the first message of the transaction was seen.
    pub ts: Timestamp,
    /// Transaction id.
    pub trans_id: u16,
    /// From query to first logged answer; `None` when there was no answer or no query.
    pub rtt: Option<core::time::Duration>,
    /// Question name, lowercased; or the first answer's owner name.
    pub query: Option<String>,
    /// QCLASS of the query.
    pub qclass: Option<u16>,
    /// QTYPE of the query.
    pub qtype: Option<u16>,
    /// RCODE of the response.
    pub rcode: Option<u16>,
    /// AA of the response (set when an answer is logged).
    pub aa: bool,
    /// TC of the query.
    pub tc: bool,
    /// RD of the query.
    pub rd: bool,
    /// RA of the response (set when an answer is logged).
    pub ra: bool,
    /// Zeek's `Z` of the query: the three bits Z, AD, CD.
    pub z: u8,
    /// Zeek's rendering of each answer (see [`render::reply`]).
    pub answers: Vec<String>,
    /// TTL of each answer, seconds (Zeek writes them as intervals, `300.000000`).
    pub ttls: Vec<u32>,
    /// The server rejected the query (error with no question echoed, or a response with no
    /// records at all).
    pub rejected: bool,
    /// Opcode of the latest message.
    pub opcode: Option<u8>,
    /// Question name as sent (`policy/protocols/dns/log-original-query-case`), standard
    /// queries only; set whenever `query` came from a query, even when identical.
    pub original_query: Option<String>,
    /// Zeek's `saw_query`: a query (or, for multicast, any message) was seen.
    pub saw_query: bool,
    /// Zeek's `saw_reply`.
    pub saw_reply: bool,
    /// Zeek's `total_answers`: ANCOUNT of the response.
    pub total_answers: Option<u16>,
    /// Zeek's `total_replies`: ANCOUNT + NSCOUNT + ARCOUNT of the response.
    pub total_replies: Option<u32>,
    /// Size of the query message in bytes (not in Zeek's log).
    pub request_len: Option<u32>,
    /// Size of the response message in bytes (not in Zeek's log).
    pub response_len: Option<u32>,
    /// Addresses of the logged A/AAAA answers, in order (not in Zeek's log).
    pub answer_addrs: Vec<IpAddr>,
}

impl DnsRecord {
    /// `qclass_name` when Zeek's table names the class; `None` when unset or when Zeek would
    /// print its default `qclass-N` (use [`DnsRecord::qclass_label`] for the exact text).
    pub fn qclass_name(&self) -> Option<&'static str> {
        self.qclass.and_then(names::qclass_table)
    }
    /// `qclass_name` exactly as Zeek logs it.
    pub fn qclass_label(&self) -> Option<Cow<'static, str>> {
        self.qclass.map(names::qclass_name)
    }
    /// `qtype_name` exactly as Zeek logs it (`query-N` for unnamed types).
    pub fn qtype_name(&self) -> Option<Cow<'static, str>> {
        self.qtype.map(names::qtype_name)
    }
    /// `rcode_name` exactly as Zeek logs it.
    pub fn rcode_name(&self) -> Option<Cow<'static, str>> {
        self.rcode.map(names::rcode_name)
    }
    /// `opcode_name` exactly as Zeek logs it.
    pub fn opcode_name(&self) -> Option<Cow<'static, str>> {
        self.opcode.map(names::opcode_name)
    }
}

/// Counters of one flow's DNS analysis.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DnsStats {
    /// Messages handed to the parser.
    pub messages: u64,
    /// Messages Zeek would not analyse (shorter than a header, other opcodes).
    pub not_dns: u64,
    /// Records emitted.
    pub records: u64,
    /// Of those, emitted early because a waiting queue was full.
    pub pending_evicted: u64,
    /// Records dropped as Zeek drops them (taken from a queue by a message that then did not
    /// end).
    pub records_lost: u64,
    /// Weirds reported.
    pub weirds: u64,
    /// Messages ignored because analysis stopped after a violation.
    pub ignored: u64,
    /// TCP holes given up on.
    pub tcp_gaps: u64,
    /// Bytes in those holes.
    pub tcp_gap_bytes: u64,
    /// TCP bytes seen twice and dropped.
    pub tcp_duplicate_bytes: u64,
    /// TCP segments dropped (implausible sequence number, cut by the capture).
    pub tcp_dropped_segments: u64,
}

/// Whether a flow between these ports gets a [`DnsFlow`]: 53, 5353 (mDNS), 5355 (LLMNR) over
/// UDP, 53 over TCP, on either side.
pub fn is_dns_port(transport: DnsTransport, src_port: u16, dst_port: u16) -> bool {
    let dns = |p: u16| match transport {
        DnsTransport::Udp => matches!(p, 53 | 5353 | 5355),
        DnsTransport::Tcp => p == 53,
    };
    dns(src_port) || dns(dst_port)
}

/// Zeek's `DNS::multicast_subnets` (224.0.0.0/4, ff00::/8): messages to these responders are
/// logged one record each, never paired.
pub fn is_multicast(addr: IpAddr) -> bool {
    addr.is_multicast()
}
