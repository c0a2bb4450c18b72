//! Matching queries to responses within a flow, as `scripts/base/protocols/dns/main.zeek`
//! (zeek/zeek) does, and filling the `dns.log` record from the parser's findings.
//!
//! Zeek's rules, mirrored here:
//! - A query waits in a one-entry fast slot (`pending_query`), further ones in a queue
//!   (`pending_queries`); a response takes the oldest waiting query with its transaction id
//!   (refilling the fast slot from the queue, same id first, else the oldest).
//! - A response with no waiting query (unsolicited, or a duplicate after the first one was
//!   matched) waits in `pending_replies`; a later query with its id takes it. Such a record's
//!   `ts` is the response's and it has no `rtt`.
//! - A record is emitted when its query and its response have both been seen; whatever still
//!   waits when the flow ends is emitted then (unanswered queries, unmatched responses).
//! - A queue already holding more than 50 distinct ids, or an id already holding more than 50
//!   entries, is emitted and emptied before the next entry goes in (`max_pending_query_ids`,
//!   `max_pending_msgs`); [`DnsConfig::max_pending_per_flow`] bounds each queue on top of that.
//! - Messages to a multicast responder (mDNS, LLMNR) are never paired: each is a record.
//! - Field sources: `RD`, `TC`, `Z`, `qtype`, `qclass`, `query` from a query's question;
//!   `rcode`, `rejected` from a response header; `AA`, `RA`, `rtt`, `answers`, `TTLs` when an
//!   answer is logged (so a response without answers leaves `AA`/`RA` false and no `rtt`);
//!   `query` from the first answer's owner when no question set it.

use core::net::IpAddr;

use sensor_wire::Timestamp;

use super::parser::{Header, QuestionRef, RecordRef, Section, Visitor};
use super::record::{self, DnsRecord};
use super::render;
use super::weird::Addl;
use super::wire::RData;
use super::{DnsConfig, DnsSink, DnsStats, weird};

/// Zeek `DNS::max_pending_msgs`: entries one id may hold before its queue is emitted.
pub const ZEEK_MAX_PENDING_MSGS: usize = 50;
/// Zeek `DNS::max_pending_query_ids`: distinct ids a queue may hold before it is emitted.
pub const ZEEK_MAX_PENDING_QUERY_IDS: usize = 50;
/// Most answers kept in one record (Zeek keeps all). A 64 KiB message can carry about 5,000
/// records whose rendered names take up to 512 bytes each; without a bound a flow's pending
/// records could hold hundreds of MiB.
pub const MAX_ANSWERS_PER_RECORD: usize = 1_000;
/// Most bytes of answer text kept in one record (see [`MAX_ANSWERS_PER_RECORD`]).
pub const MAX_ANSWER_BYTES_PER_RECORD: usize = 64 * 1024;

/// A record in the making (Zeek's `DNS::Info`), boxed so that queues move a pointer, and taken
/// from (and given back to) the per-thread pool in `record.rs`.
type Info = Box<DnsRecord>;

/// A queue of waiting entries (Zeek's `PendingMessages`), in arrival order.
#[derive(Debug, Default)]
struct Pending {
    items: Vec<(u16, Info)>,
}

impl Pending {
    fn has(&self, id: u16) -> bool {
        self.items.iter().any(|(i, _)| *i == id)
    }

    fn pop(&mut self, id: u16) -> Option<Info> {
        let at = self.items.iter().position(|(i, _)| *i == id)?;
        Some(self.items.remove(at).1)
    }

    fn pop_oldest(&mut self) -> Option<Info> {
        (!self.items.is_empty()).then(|| self.items.remove(0).1)
    }

    /// `enqueue_new_msg`'s flushing, done before the entry goes in (at the end of the message).
    fn make_room(&mut self, id: u16, cap: usize, emit: &mut impl FnMut(Info)) {
        // Zeek's limits are "more than 50": below 51 entries neither can be reached, which keeps
        // the counting below off the common path.
        if self.has(id) {
            if self.items.len() > ZEEK_MAX_PENDING_MSGS
                && self.items.iter().filter(|(i, _)| *i == id).count() > ZEEK_MAX_PENDING_MSGS
            {
                self.items.extract_if(.., |(i, _)| *i == id).for_each(|(_, info)| emit(info));
            }
        } else if self.items.len() > ZEEK_MAX_PENDING_QUERY_IDS && self.distinct_ids() > ZEEK_MAX_PENDING_QUERY_IDS {
            self.drain(emit);
        }
        while !self.items.is_empty() && self.items.len() >= cap.max(1) {
            emit(self.items.remove(0).1);
        }
    }

    fn distinct_ids(&self) -> usize {
        let mut n = 0;
        for (k, (id, _)) in self.items.iter().enumerate() {
            if !self.items[..k].iter().any(|(i, _)| i == id) {
                n += 1;
            }
        }
        n
    }

    fn drain(&mut self, emit: &mut impl FnMut(Info)) {
        self.items.drain(..).for_each(|(_, info)| emit(info));
    }
}

/// Where the current message's record goes when the message ends without completing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dest {
    Fast,
    Queries,
    Replies,
    /// Taken from a queue (or multicast): if not complete now, Zeek loses track of it.
    Nowhere,
}

/// Per-flow matching state (Zeek's `DNS::State`).
#[derive(Debug, Default)]
pub(crate) struct Transactions {
    fast: Option<Info>,
    queries: Pending,
    replies: Pending,
}

impl Transactions {
    /// Emits everything still waiting, in Zeek's `finalize_dns` order.
    pub(crate) fn finish(&mut self, stats: &mut DnsStats, out: &mut impl DnsSink) {
        let mut emit = |info: Info| emit_record(info, stats, out);
        if let Some(info) = self.fast.take() {
            emit(info);
        }
        self.queries.drain(&mut emit);
        self.replies.drain(&mut emit);
    }

    /// Records waiting for their other half.
    pub(crate) fn pending(&self) -> usize {
        usize::from(self.fast.is_some()) + self.queries.items.len() + self.replies.items.len()
    }
}

/// Hands a finished record to the sink, then its buffers to the pool.
fn emit_record(info: Info, stats: &mut DnsStats, out: &mut impl DnsSink) {
    stats.records += 1;
    out.record(&info);
    record::recycle(info);
}

/// Everything one message's processing touches. Implements the parser's [`Visitor`] the way
/// Zeek's event handlers react to its events.
pub(crate) struct MessageCtx<'a, S: DnsSink> {
    pub(crate) tx: &'a mut Transactions,
    pub(crate) stats: &'a mut DnsStats,
    pub(crate) cfg: &'a DnsConfig,
    pub(crate) out: &'a mut S,
    pub(crate) ts: Timestamp,
    /// Whether the flow's responder is a multicast address.
    pub(crate) multicast: bool,
    /// Message length in bytes.
    pub(crate) len: usize,
    /// Set by [`Visitor::violation`].
    pub(crate) violated: bool,
    /// The header, once seen.
    pub(crate) header: Option<Header>,
    cur: Option<Info>,
    dest: Dest,
}

impl<'a, S: DnsSink> MessageCtx<'a, S> {
    pub(crate) fn new(
        tx: &'a mut Transactions,
        stats: &'a mut DnsStats,
        cfg: &'a DnsConfig,
        out: &'a mut S,
        ts: Timestamp,
        multicast: bool,
        len: usize,
    ) -> Self {
        MessageCtx {
            tx,
            stats,
            cfg,
            out,
            ts,
            multicast,
            len,
            violated: false,
            header: None,
            cur: None,
            dest: Dest::Nowhere,
        }
    }

    /// Zeek's `set_session` hook, run on the header (`dns_message`).
    pub(crate) fn start(&mut self, h: &Header) {
        self.header = Some(*h);
        let (ts, id) = (self.ts, h.id);
        let (mut rec, dest) = if self.multicast {
            let mut rec = record::take(ts, id);
            rec.saw_query = true;
            rec.saw_reply = true;
            (rec, Dest::Nowhere)
        } else if !h.qr {
            match self.tx.replies.pop(id) {
                Some(rec) => (rec, Dest::Nowhere),
                None if self.tx.fast.is_none() => (record::take(ts, id), Dest::Fast),
                None => (record::take(ts, id), Dest::Queries),
            }
        } else if let Some(rec) = self.tx.fast.take_if(|f| f.trans_id == id) {
            self.tx.fast = self.tx.queries.pop(id).or_else(|| self.tx.queries.pop_oldest());
            (rec, Dest::Nowhere)
        } else if let Some(rec) = self.tx.queries.pop(id) {
            (rec, Dest::Nowhere)
        } else {
            (record::take(ts, id), Dest::Replies)
        };
        let (stats, out) = (&mut *self.stats, &mut *self.out);
        let mut emit = |info: Info| {
            stats.pending_evicted += 1;
            emit_record(info, stats, out);
        };
        match dest {
            Dest::Queries => self.tx.queries.make_room(id, self.cfg.max_pending_per_flow, &mut emit),
            Dest::Replies => self.tx.replies.make_room(id, self.cfg.max_pending_per_flow, &mut emit),
            Dest::Fast | Dest::Nowhere => {}
        }
        let len = u32::try_from(self.len).unwrap_or(u32::MAX);
        if h.qr {
            rec.rcode = Some(u16::from(h.rcode));
            rec.total_answers.get_or_insert(h.ancount);
            rec.total_replies.get_or_insert(u32::from(h.ancount) + u32::from(h.arcount) + u32::from(h.nscount));
            if h.rcode != 0 && h.qdcount == 0 {
                rec.rejected = true;
            }
            rec.response_len = Some(len);
        } else {
            rec.request_len = Some(len);
        }
        rec.opcode = Some(h.opcode);
        self.cur = Some(rec);
        self.dest = dest;
    }

    /// Zeek's `dns_end` handlers (when the message ended) and the pending tables' insertion.
    pub(crate) fn end(mut self, ended: bool) {
        let (Some(mut rec), Some(h)) = (self.cur.take(), self.header) else {
            return;
        };
        if ended {
            if h.qr {
                rec.saw_reply = true;
            } else {
                rec.saw_query = true;
            }
            if rec.saw_query && rec.saw_reply {
                emit_record(rec, self.stats, self.out);
                return;
            }
        }
        match self.dest {
            Dest::Fast => self.tx.fast = Some(rec),
            Dest::Queries => self.tx.queries.items.push((h.id, rec)),
            Dest::Replies => self.tx.replies.items.push((h.id, rec)),
            Dest::Nowhere => {
                self.stats.records_lost += 1;
                record::recycle(rec);
            }
        }
    }

    /// `DNS::do_reply`.
    fn reply(&mut self, h: &Header, rr: &RecordRef<'_>) {
        if !h.qr || !matches!(rr.section, Section::Answer | Section::Prerequisite | Section::Update) {
            return;
        }
        let Some(rec) = self.cur.as_deref_mut() else {
            return;
        };
        // The reply text goes straight after the previous answers; it is cut off again when
        // it turns out not to be kept.
        let start = rec.answer_bytes();
        if !render::reply(h, rr, rec.answer_text_mut()) {
            return;
        }
        if rec.query().is_none() {
            rec.set_query_escaped(rr.name);
        }
        rec.aa = h.aa;
        rec.ra = h.ra;
        if rec.rtt.is_none() {
            let rtt = self.ts.since(rec.ts);
            rec.rtt = (!rtt.is_zero()).then_some(rtt);
        }
        if rec.answer_bytes() == start {
            return;
        }
        let kept = rec.ttls().len();
        if kept >= MAX_ANSWERS_PER_RECORD || rec.answer_bytes() > MAX_ANSWER_BYTES_PER_RECORD {
            rec.answer_text_mut().truncate(start);
            if !rec.mark_answers_truncated() {
                self.stats.weirds += 1;
                self.out.weird(self.ts, weird::SENSOR_ANSWERS_TRUNCATED, Some(Addl::num(kept as u64).as_str()));
            }
            return;
        }
        rec.end_answer(rr.ttl);
        if !h.is_dynamic_update() {
            match rr.rdata {
                RData::A(a) => rec.push_answer_addr(IpAddr::V4(a)),
                RData::Aaaa(a) | RData::A6(a) => rec.push_answer_addr(IpAddr::V6(a)),
                _ => {}
            }
        }
    }
}

impl<S: DnsSink> Visitor for MessageCtx<'_, S> {
    fn header(&mut self, header: &Header) {
        self.start(header);
    }

    fn question(&mut self, h: &Header, q: &QuestionRef<'_>) {
        let Some(rec) = self.cur.as_deref_mut() else {
            return;
        };
        if !h.qr {
            // dns_request (and log-original-query-case.zeek, which only fills standard queries).
            rec.rd = h.rd;
            rec.tc = h.tc;
            rec.qclass = Some(q.qclass);
            rec.qtype = Some(q.qtype);
            rec.z = h.z;
            if h.opcode == super::parser::OPCODE_QUERY {
                // `q.name` is `q.original` lowercased: escape once, lowercase the copy.
                rec.set_queries_escaped(q.original);
            } else {
                rec.set_query_escaped(q.name);
            }
        } else if h.ancount == 0 && h.nscount == 0 && h.arcount == 0 {
            // dns_rejected: a response carrying nothing at all.
            rec.rejected = true;
        }
    }

    fn record(&mut self, h: &Header, rr: &RecordRef<'_>) {
        self.reply(h, rr);
    }

    fn weird(&mut self, name: &'static str, addl: Option<&str>) {
        self.stats.weirds += 1;
        self.out.weird(self.ts, name, addl);
    }

    fn violation(&mut self, reason: &'static str) {
        self.violated = true;
        self.out.violation(self.ts, reason);
    }
}
