//! DNS analysis producing Zeek `dns.log`-equivalent records, and Zeek's DNS `weird`s.
//!
//! # Map
//! | file | what |
//! |---|---|
//! | `mod.rs` | public types: [`DnsConfig`], [`DnsSink`], [`DnsStats`], ports |
//! | `record.rs` | [`DnsRecord`] and its accessors; the per-thread pool that recycles records |
//! | [`parser`] | pure message parsing with Zeek's semantics, reported to a [`parser::Visitor`] |
//! | `labels.rs` | names and compression pointers; limits [`MAX_COMPRESSION_DEPTH`] … |
//! | `wire.rs` | header, sections, type numbers, decoded RDATA ([`RData`]), the read cursor |
//! | `rdata.rs`, `rdata_dnssec.rs` | RDATA parsing per type |
//! | [`render`] | Zeek's `answers` strings; escaping of names and text |
//! | `packed_text.rs` | escaped text in binary serialisations (the store): `\xNN` packed into its byte |
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
//! - Nothing is allocated per message in the steady state. [`DnsSink::record`] borrows the
//!   record for the call (serialise it there, or clone it); its buffers then go back to a
//!   per-thread pool for a later transaction. The pool is bounded ([`RECORD_POOL_CAPACITY`],
//!   [`RECORD_POOL_KEEP_TEXT`]); its counters are [`record_pool_stats`]. A weird's `addl` is
//!   lent the same way ([`DnsSink::weird`]). What still allocates, per flow: a pending queue
//!   on first use (a second query in flight, an unmatched response), TCP reassembly buffers.
//! - Bounded: pending records per flow, per-record answers, TCP buffers; see
//!   [`DnsConfig`], [`MAX_ANSWERS_PER_RECORD`], [`MAX_ANSWER_BYTES_PER_RECORD`]. No input panics.
//! - Not done: NetBIOS name service (137/udp, which Zeek also logs in `dns.log`), DNS over
//!   HTTPS/TLS/QUIC, DNS on other ports.
//!
//! # Reading a record
//! Every `dns.log` column, for a record writer:
//!
//! | column | from [`DnsRecord`] `r` |
//! |---|---|
//! | `ts`, `trans_id`, `rtt` | `r.ts`, `r.trans_id`, `r.rtt` (`Option<Duration>`) |
//! | `query`, `original_query` | [`r.query()`](DnsRecord::query), [`r.original_query()`](DnsRecord::original_query): `Option<&str>` |
//! | `qclass`, `qclass_name` | `r.qclass`, [`r.qclass_label()`](DnsRecord::qclass_label) |
//! | `qtype`, `qtype_name` | `r.qtype`, [`r.qtype_name()`](DnsRecord::qtype_name) |
//! | `rcode`, `rcode_name` | `r.rcode`, [`r.rcode_name()`](DnsRecord::rcode_name) |
//! | `opcode`, `opcode_name` | `r.opcode`, [`r.opcode_name()`](DnsRecord::opcode_name) |
//! | `AA`, `TC`, `RD`, `RA`, `Z`, `rejected` | `r.aa`, `r.tc`, `r.rd`, `r.ra`, `r.z`, `r.rejected` |
//! | `answers` | [`r.answers()`](DnsRecord::answers): [`Answers`], an exact-size iterator of `&str` |
//! | `TTLs` | [`r.ttls()`](DnsRecord::ttls): `&[u32]` seconds, one per answer |
//! | (extra) | [`r.answer_addrs()`](DnsRecord::answer_addrs), `r.request_len`, `r.response_len`, `r.total_answers`, `r.total_replies`, `r.saw_query`, `r.saw_reply` |
//!
//! The `*_name` methods (and `qclass_label`) return a [`NameText`], which derefs to `str`: Zeek's
//! table text, or its default (`query-N`) built inline; none allocates.
//!
//! # Example
//! ```
//! use sensor_analyzers::dns::{DnsConfig, DnsFlow, DnsRecord, DnsSink, DnsTransport};
//! use sensor_wire::Timestamp;
//!
//! #[derive(Default)]
//! struct Out(Vec<DnsRecord>);
//! impl DnsSink for Out {
//!     // A log writer would serialise `rec` here; this test keeps a copy.
//!     fn record(&mut self, rec: &DnsRecord) { self.0.push(rec.clone()) }
//!     fn weird(&mut self, _: Timestamp, _: &'static str, _: Option<&str>) {}
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
//! let rec = &out.0[0];
//! assert_eq!(rec.query(), Some("example.com"));
//! assert!(rec.answers().eq(["93.184.216.34"]));
//! assert_eq!(rec.ttls(), [3600]);
//! assert_eq!(rec.rtt, Some(core::time::Duration::from_millis(5)));
//! ```

use std::net::IpAddr;

use sensor_wire::Timestamp;

mod flow;
mod labels;
mod message;
pub mod names;
mod packed_text;
pub mod parser;
mod rdata;
mod rdata_dnssec;
mod record;
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
pub use names::NameText;
pub use parser::{MAX_QUESTIONS, Sections};
pub use record::{
    Answers, DnsQueryName, DnsRecord, RECORD_POOL_CAPACITY, RECORD_POOL_KEEP_ANSWERS, RECORD_POOL_KEEP_TEXT,
    RecordPoolStats, record_pool_stats,
};
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
    /// One `dns.log` line. The record is borrowed for the call only: the analyzer reuses its
    /// buffers afterwards (clone it to keep it).
    fn record(&mut self, rec: &DnsRecord);
    /// One `weird.log` line: `name` is Zeek's (see [`weird`]); every occurrence is reported,
    /// sampling and de-duplication are the weird stage's. `addl` is formatted on the stack and
    /// lent for the call.
    fn weird(&mut self, ts: Timestamp, name: &'static str, addl: Option<&str>);
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
