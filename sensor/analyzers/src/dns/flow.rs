//! [`DnsFlow`]: one flow's DNS analysis. Hands UDP payloads and reassembled, framed TCP
//! messages to the parser, keeps Zeek's per-connection state (role flip, analyzer disabled after
//! a violation) and the transactions.

use core::net::IpAddr;

use sensor_wire::{TcpFlags, TcpSegment, Timestamp};

use super::parser::{self, ParseOptions};
use super::tcp::{FrameSink, Framer};
use super::transactions::{MessageCtx, Transactions};
use super::{DnsConfig, DnsSink, DnsStats, DnsTransport, is_multicast};
use crate::stream::{Reassembler, StreamSink};

/// Zeek's `max_analyzer_violations`: violations reported per flow before one
/// `too_many_analyzer_violations` weird replaces them.
pub const MAX_VIOLATIONS: u32 = 1_000;
/// Weird raised once a flow passes [`MAX_VIOLATIONS`] (Zeek `Analyzer::AnalyzerViolation`).
pub const TOO_MANY_VIOLATIONS: &str = "too_many_analyzer_violations";

/// Who is originator and responder, as Zeek's DNS analyzer may swap them.
#[derive(Debug, Clone, Copy)]
struct Roles {
    /// No message analysed yet (Zeek's `first_message`).
    first_message: bool,
    /// Originator and responder swapped by this analyzer.
    flipped: bool,
    orig_multicast: bool,
    resp_multicast: bool,
}

/// Everything but the TCP streams, so both can be borrowed at once.
#[derive(Debug)]
struct Core {
    transport: DnsTransport,
    roles: Roles,
    tx: Transactions,
    /// Analysis stopped after a violation (Zeek's `dpd.zeek` disables the analyzer).
    disabled: bool,
    violations: u32,
    payload_bytes: u64,
    last_ts: Timestamp,
    /// The configuration of the latest call, for [`DnsFlow::finish`].
    cfg: DnsConfig,
    stats: DnsStats,
}

/// One direction of a TCP flow.
#[derive(Debug, Default)]
struct Direction {
    stream: Reassembler,
    framer: Framer,
}

/// DNS state of one UDP or TCP flow. Created by the pipeline for flows on DNS ports
/// ([`super::is_dns_port`]); fed every packet of the flow; [`DnsFlow::finish`]ed when the flow
/// ends. Memory is bounded: pending records by [`DnsConfig::max_pending_per_flow`], each TCP
/// direction by [`DnsConfig::max_tcp_message`] (held segments) plus one partial message.
#[derive(Debug)]
pub struct DnsFlow {
    core: Core,
    /// `[originator, responder]` as the pipeline sees them (before any flip); TCP only.
    tcp: Option<Box<[Direction; 2]>>,
}

impl DnsFlow {
    /// A flow whose responder is unicast. Use [`DnsFlow::with_addrs`] when the addresses are
    /// known: messages to multicast responders are logged unpaired.
    pub fn new(transport: DnsTransport) -> Self {
        Self::build(transport, false, false)
    }

    /// A flow between `orig` and `resp` (as the flow table oriented it).
    pub fn with_addrs(transport: DnsTransport, orig: IpAddr, resp: IpAddr) -> Self {
        Self::build(transport, is_multicast(orig), is_multicast(resp))
    }

    fn build(transport: DnsTransport, orig_multicast: bool, resp_multicast: bool) -> Self {
        let roles = Roles { first_message: true, flipped: false, orig_multicast, resp_multicast };
        let tcp = (transport == DnsTransport::Tcp).then(|| Box::new([Direction::default(), Direction::default()]));
        DnsFlow {
            core: Core {
                transport,
                roles,
                tx: Transactions::default(),
                disabled: false,
                violations: 0,
                payload_bytes: 0,
                last_ts: Timestamp::default(),
                cfg: DnsConfig::default(),
                stats: DnsStats::default(),
            },
            tcp,
        }
    }

    /// The transport this flow was created for.
    pub fn transport(&self) -> DnsTransport {
        self.core.transport
    }

    /// Whether the analyzer swapped originator and responder (see [`DnsSink::roles_flipped`]).
    pub fn roles_flipped(&self) -> bool {
        self.core.roles.flipped
    }

    /// Whether analysis stopped after an analyzer violation.
    pub fn is_disabled(&self) -> bool {
        self.core.disabled
    }

    /// Records waiting for their query or response.
    pub fn pending(&self) -> usize {
        self.core.tx.pending()
    }

    /// Bytes held for TCP reassembly and framing, both directions (0 for UDP).
    pub fn tcp_buffered(&self) -> usize {
        self.tcp.as_deref().map_or(0, |dirs| dirs.iter().map(|d| d.stream.held_bytes() + d.framer.buffered()).sum())
    }

    /// Counters, TCP ones included.
    pub fn stats(&self) -> DnsStats {
        let mut s = self.core.stats;
        if let Some(dirs) = &self.tcp {
            for d in dirs.iter() {
                let t = d.stream.stats();
                s.tcp_gaps += t.gaps;
                s.tcp_gap_bytes += t.gap_bytes;
                s.tcp_duplicate_bytes += t.duplicate;
                s.tcp_dropped_segments += t.out_of_window + t.snapped;
            }
        }
        s
    }

    /// A UDP datagram's payload; `from_orig` is true when sent by the flow originator.
    pub fn udp(&mut self, cfg: &DnsConfig, ts: Timestamp, from_orig: bool, payload: &[u8], out: &mut impl DnsSink) {
        let core = &mut self.core;
        core.last_ts = ts;
        core.cfg = *cfg;
        core.payload_bytes += payload.len() as u64;
        if core.disabled {
            core.stats.ignored += 1;
            return;
        }
        let is_query = from_orig != core.roles.flipped;
        core.message(cfg, ts, payload, Some(is_query), out);
    }

    /// A TCP segment (any order, with SYN/FIN flags, possibly retransmitted, possibly with
    /// gaps): does in-order reassembly of each direction's byte stream (ISN from SYN, or first
    /// seen seq if midstream) and parses length-prefixed messages (several per segment, or one
    /// split across segments). Bounded memory; a gap between messages is skipped as Zeek does,
    /// a gap inside a message drops that message (`sensor_dns_tcp_gap_in_message`) and resyncs
    /// on its length. A message cut by FIN is parsed as far as it goes, as Zeek does.
    pub fn tcp(
        &mut self,
        cfg: &DnsConfig,
        ts: Timestamp,
        from_orig: bool,
        seg: &TcpSegment<'_>,
        out: &mut impl DnsSink,
    ) {
        let Some(dirs) = self.tcp.as_deref_mut() else {
            return;
        };
        let core = &mut self.core;
        core.last_ts = ts;
        core.cfg = *cfg;
        if seg.flags.has(TcpFlags::RST) {
            return;
        }
        let (this, peer) = if from_orig { (0, 1) } else { (1, 0) };
        if seg.flags.has(TcpFlags::ACK) {
            let Direction { stream, framer } = &mut dirs[peer];
            let mut feed = Feed { core: &mut *core, framer, cfg, ts, from_orig: !from_orig, out: &mut *out };
            stream.acknowledged(seg.ack, &mut feed);
        }
        let wire_len = seg.payload_len as usize;
        let payload = seg.payload.get(..wire_len);
        let Direction { stream, framer } = &mut dirs[this];
        let mut feed = Feed { core, framer, cfg, ts, from_orig, out };
        stream.segment(
            seg.seq,
            seg.flags.has(TcpFlags::SYN),
            seg.flags.has(TcpFlags::FIN),
            payload,
            seg.payload_len,
            cfg.max_tcp_message,
            &mut feed,
        );
    }

    /// The flow ended (timeout, close, end of capture): held TCP data is delivered and cut
    /// messages parsed, then every record still waiting is emitted, as Zeek's `finalize_dns`.
    /// Uses the configuration of the latest [`DnsFlow::udp`]/[`DnsFlow::tcp`] call.
    pub fn finish(&mut self, out: &mut impl DnsSink) {
        let core = &mut self.core;
        let cfg_copy = core.cfg;
        let cfg = &cfg_copy;
        let ts = core.last_ts;
        if let Some(dirs) = self.tcp.as_deref_mut() {
            for (i, Direction { stream, framer }) in dirs.iter_mut().enumerate() {
                let mut feed =
                    Feed { core: &mut *core, framer: &mut *framer, cfg, ts, from_orig: i == 0, out: &mut *out };
                stream.finish(&mut feed);
                let mut sink = FramerSink { core: &mut *core, cfg, ts, is_query: None, out: &mut *out };
                framer.flush(&mut sink);
            }
        }
        core.tx.finish(&mut core.stats, out);
    }
}

impl Core {
    /// Parses one message and runs it through the transactions.
    fn message(
        &mut self,
        cfg: &DnsConfig,
        ts: Timestamp,
        bytes: &[u8],
        is_query: Option<bool>,
        out: &mut impl DnsSink,
    ) {
        self.stats.messages += 1;
        let opts = ParseOptions { sections: cfg.sections, transport: self.transport };
        let roles = &mut self.roles;
        let mut ctx = MessageCtx::new(&mut self.tx, &mut self.stats, cfg, out, ts, roles.resp_multicast, bytes.len());
        let mut flip = Flip { roles, is_query, ctx: &mut ctx };
        let outcome = parser::parse(bytes, &opts, &mut flip);
        let violated = ctx.violated;
        let analysed = ctx.header.is_some();
        ctx.end(outcome.ends_message());
        if !analysed {
            self.stats.not_dns += 1;
        }
        if violated {
            self.violations += 1;
            if self.violations == MAX_VIOLATIONS + 1 {
                self.stats.weirds += 1;
                out.weird(ts, TOO_MANY_VIOLATIONS, None);
            }
            if cfg.disable_on_violation && self.payload_bytes <= cfg.ignore_violations_after {
                self.disabled = true;
            }
        }
    }
}

/// Wraps the transactions' visitor to apply Zeek's role flip on the first message: a response
/// sent by the originator makes it the responder (unless the responder is multicast).
struct Flip<'r, 'c, 'a, S: DnsSink> {
    roles: &'r mut Roles,
    is_query: Option<bool>,
    ctx: &'c mut MessageCtx<'a, S>,
}

impl<S: DnsSink> parser::Visitor for Flip<'_, '_, '_, S> {
    fn header(&mut self, h: &parser::Header) {
        let roles = &mut *self.roles;
        if roles.first_message && h.qr && self.is_query == Some(true) && !roles.resp_multicast {
            roles.flipped = !roles.flipped;
            core::mem::swap(&mut roles.orig_multicast, &mut roles.resp_multicast);
            self.ctx.multicast = roles.resp_multicast;
            self.ctx.out.roles_flipped(self.ctx.ts);
        }
        roles.first_message = false;
        self.ctx.header(h);
    }
    fn question(&mut self, h: &parser::Header, q: &parser::QuestionRef<'_>) {
        self.ctx.question(h, q);
    }
    fn record(&mut self, h: &parser::Header, rr: &parser::RecordRef<'_>) {
        self.ctx.record(h, rr);
    }
    fn weird(&mut self, name: &'static str, addl: Option<&str>) {
        self.ctx.weird(name, addl);
    }
    fn violation(&mut self, reason: &'static str) {
        self.ctx.violation(reason);
    }
}

/// Connects a direction's reassembler to its framer and the parser.
struct Feed<'a, S: DnsSink> {
    core: &'a mut Core,
    framer: &'a mut Framer,
    cfg: &'a DnsConfig,
    ts: Timestamp,
    /// Sent by the originator as the pipeline oriented the flow.
    from_orig: bool,
    out: &'a mut S,
}

impl<S: DnsSink> StreamSink for Feed<'_, S> {
    fn data(&mut self, bytes: &[u8]) {
        self.core.payload_bytes += bytes.len() as u64;
        if self.core.disabled {
            return;
        }
        let is_query = Some(self.from_orig != self.core.roles.flipped);
        let mut sink = FramerSink { core: &mut *self.core, cfg: self.cfg, ts: self.ts, is_query, out: &mut *self.out };
        self.framer.feed(bytes, self.cfg.max_tcp_message, &mut sink);
    }
    fn gap(&mut self, len: u64) {
        let is_query = Some(self.from_orig != self.core.roles.flipped);
        let mut sink = FramerSink { core: &mut *self.core, cfg: self.cfg, ts: self.ts, is_query, out: &mut *self.out };
        self.framer.gap(len, &mut sink);
    }
    fn end(&mut self) {
        let mut sink =
            FramerSink { core: &mut *self.core, cfg: self.cfg, ts: self.ts, is_query: None, out: &mut *self.out };
        self.framer.flush(&mut sink);
    }
}

/// Receives framed messages.
struct FramerSink<'a, S: DnsSink> {
    core: &'a mut Core,
    cfg: &'a DnsConfig,
    ts: Timestamp,
    is_query: Option<bool>,
    out: &'a mut S,
}

impl<S: DnsSink> FrameSink for FramerSink<'_, S> {
    fn message(&mut self, bytes: &[u8], complete: bool) {
        if self.core.disabled {
            self.core.stats.ignored += 1;
            return;
        }
        // Zeek parses a flushed partial message with `is_query` unknown.
        let is_query = if complete { self.is_query } else { None };
        self.core.message(self.cfg, self.ts, bytes, is_query, self.out);
    }
    fn weird(&mut self, name: &'static str, addl: Option<&str>) {
        self.core.stats.weirds += 1;
        self.out.weird(self.ts, name, addl);
    }
}
