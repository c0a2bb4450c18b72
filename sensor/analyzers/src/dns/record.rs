//! [`DnsRecord`], one `dns.log` line, and the per-thread pool that recycles its buffers.
//!
//! A record's text and lists live in buffers it owns: the query and original query in one
//! `String` each, every answer's text in one shared `String` (answers are spans of it), TTLs
//! and addresses in `Vec`s. A [`DnsSink`](super::DnsSink) only borrows the record; afterwards
//! the analyzer clears it and keeps it in a pool for the next transaction, so in the steady state
//! emitting a record allocates nothing.
//!
//! The pool is per thread, like the parser's name scratch: a worker thread that runs its flows
//! to completion reuses its own records, with no lock and no argument to thread through. It
//! keeps at most [`RECORD_POOL_CAPACITY`] records, and trims the buffers of a record it takes
//! back to [`RECORD_POOL_KEEP_TEXT`] bytes and [`RECORD_POOL_KEEP_ANSWERS`] answers, so one
//! hostile message cannot pin large buffers for the life of the thread.

use core::fmt;
use core::iter::FusedIterator;
use core::net::IpAddr;
use core::time::Duration;
use std::cell::RefCell;

use sensor_wire::Timestamp;

use super::names::{self, NameText};
use super::render::push_escaped;

/// Most spare records kept per thread. Records in the pool are spare capacity only: the ones
/// waiting in flows are not counted. 1,024 covers the swings in pending records of a busy
/// worker; beyond it, records are allocated and freed as before.
pub const RECORD_POOL_CAPACITY: usize = 1_024;
/// Text capacity (bytes) a pooled record keeps per buffer; a record that grew past it (long TXT
/// answers, say) has that buffer shrunk when it comes back. Escaped names take at most 2 KiB, so
/// with [`RECORD_POOL_KEEP_ANSWERS`] a spare record holds at most about 10 KiB, the pool about
/// 10 MiB per thread; typical records keep a few hundred bytes.
pub const RECORD_POOL_KEEP_TEXT: usize = 4 * 1024;
/// Answers a pooled record keeps room for (TTL, span and address lists).
pub const RECORD_POOL_KEEP_ANSWERS: usize = 64;

/// One `dns.log` line, minus `uid`, `id.*` and `proto`, which the caller adds from the flow.
///
/// Numbers and flags are public fields; text and lists are read through accessors
/// ([`query`](Self::query), [`original_query`](Self::original_query), [`answers`](Self::answers),
/// [`ttls`](Self::ttls), [`answer_addrs`](Self::answer_addrs)) because they share reused buffers.
/// Text holds Zeek's bytes escaped as by [`render::push_escaped`](super::render::push_escaped).
///
/// The analyzer builds records itself; the setters exist for tools and tests of record writers.
///
/// The telemetry store serialises records with serde in field order: adding, removing or
/// reordering fields changes its on-disk format (docs/store.md).
#[derive(Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct DnsRecord {
    /// When the first message of the transaction was seen.
    pub ts: Timestamp,
    /// Transaction id.
    pub trans_id: u16,
    /// From query to first logged answer; `None` when there was no answer or no query.
    pub rtt: Option<Duration>,
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
    /// The server rejected the query (error with no question echoed, or a response with no
    /// records at all).
    pub rejected: bool,
    /// Opcode of the latest message.
    pub opcode: Option<u8>,
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
    /// See [`DnsRecord::query`].
    query: Text,
    /// See [`DnsRecord::original_query`].
    original_query: Text,
    /// Every answer's text, one after the other.
    #[serde(with = "super::packed_text")]
    answer_text: String,
    /// End of each answer in `answer_text`; as long as `ttls`.
    answer_ends: Vec<u32>,
    /// See [`DnsRecord::ttls`].
    ttls: Vec<u32>,
    /// See [`DnsRecord::answer_addrs`].
    answer_addrs: Vec<IpAddr>,
    /// Answers were dropped at [`super::MAX_ANSWERS_PER_RECORD`] or
    /// [`super::MAX_ANSWER_BYTES_PER_RECORD`] (the weird was reported).
    answers_truncated: bool,
}

/// The query name of a serialised [`DnsRecord`], read without the fields after it (the original
/// query, the answers): what a telemetry store reads to select records by name, deciding before
/// it decodes a record whole.
///
/// It deserialises the record's fields in declaration order up to `query` and stops, which only
/// a format that writes fields in order without names can do (postcard, the store's);
/// `query_name_agrees_with_the_record` keeps the field list below in step with [`DnsRecord`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsQueryName(pub Option<String>);

impl<'de> serde::Deserialize<'de> for DnsQueryName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// `ts` to `total_answers` (serde's tuples stop at 16), then up to `query`.
        type Head = (
            (Timestamp, u16, Option<Duration>, Option<u16>, Option<u16>, Option<u16>, bool, bool),
            (bool, bool, u8, bool, Option<u8>, bool, bool, Option<u16>),
            (Option<u32>, Option<u32>, Option<u32>, Text),
        );
        let (_, _, (_, _, _, query)) = <Head as serde::Deserialize>::deserialize(deserializer)?;
        Ok(DnsQueryName(query.set.then_some(query.text)))
    }
}

/// An optional text field whose buffer outlives `None`. Invariant: `text` is empty when unset,
/// so the derived equality compares values.
#[derive(Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
struct Text {
    set: bool,
    #[serde(with = "super::packed_text")]
    text: String,
}

impl Text {
    fn get(&self) -> Option<&str> {
        self.set.then_some(self.text.as_str())
    }

    fn clear(&mut self) {
        self.set = false;
        self.text.clear();
    }

    /// Sets the value and returns its buffer, emptied, to write it into.
    fn start(&mut self) -> &mut String {
        self.set = true;
        self.text.clear();
        &mut self.text
    }

    fn set(&mut self, value: Option<&str>) {
        match value {
            Some(v) => self.start().push_str(v),
            None => self.clear(),
        }
    }
}

impl DnsRecord {
    /// An empty record of transaction `trans_id` first seen at `ts`. Allocates nothing until
    /// text is added.
    pub fn new(ts: Timestamp, trans_id: u16) -> Self {
        DnsRecord { ts, trans_id, ..DnsRecord::default() }
    }

    /// Question name, lowercased; or the first answer's owner name.
    pub fn query(&self) -> Option<&str> {
        self.query.get()
    }

    /// Question name as sent (`policy/protocols/dns/log-original-query-case`), standard
    /// queries only; set whenever [`query`](Self::query) came from a query, even when identical.
    pub fn original_query(&self) -> Option<&str> {
        self.original_query.get()
    }

    /// Zeek's rendering of each answer (see [`render::reply`](super::render::reply)), in order.
    pub fn answers(&self) -> Answers<'_> {
        Answers { text: &self.answer_text, ends: self.answer_ends.iter(), start: 0 }
    }

    /// The `i`th answer.
    pub fn answer(&self, i: usize) -> Option<&str> {
        let end = *self.answer_ends.get(i)? as usize;
        let start = match i.checked_sub(1) {
            Some(prev) => self.answer_ends.get(prev).map_or(0, |&e| e as usize),
            None => 0,
        };
        self.answer_text.get(start..end)
    }

    /// TTL of each answer, seconds (Zeek writes them as intervals, `300.000000`); as long as
    /// [`answers`](Self::answers).
    pub fn ttls(&self) -> &[u32] {
        &self.ttls
    }

    /// Addresses of the logged A/AAAA/A6 answers, in order, dynamic updates excepted (not in
    /// Zeek's log).
    pub fn answer_addrs(&self) -> &[IpAddr] {
        &self.answer_addrs
    }

    /// Whether answers were left out at [`MAX_ANSWERS_PER_RECORD`](super::MAX_ANSWERS_PER_RECORD)
    /// or [`MAX_ANSWER_BYTES_PER_RECORD`](super::MAX_ANSWER_BYTES_PER_RECORD) (Zeek keeps all;
    /// the `sensor_dns_answers_truncated` weird was raised).
    pub fn answers_truncated(&self) -> bool {
        self.answers_truncated
    }

    /// `qclass_name` when Zeek's table names the class; `None` when unset or when Zeek would
    /// print its default `qclass-N` (use [`DnsRecord::qclass_label`] for the exact text).
    pub fn qclass_name(&self) -> Option<&'static str> {
        self.qclass.and_then(names::qclass_table)
    }

    /// `qclass_name` exactly as Zeek logs it.
    pub fn qclass_label(&self) -> Option<NameText> {
        self.qclass.map(names::qclass_name)
    }

    /// `qtype_name` exactly as Zeek logs it (`query-N` for unnamed types).
    pub fn qtype_name(&self) -> Option<NameText> {
        self.qtype.map(names::qtype_name)
    }

    /// `rcode_name` exactly as Zeek logs it.
    pub fn rcode_name(&self) -> Option<NameText> {
        self.rcode.map(names::rcode_name)
    }

    /// `opcode_name` exactly as Zeek logs it.
    pub fn opcode_name(&self) -> Option<NameText> {
        self.opcode.map(names::opcode_name)
    }

    /// Sets [`query`](Self::query) (text as logged, already escaped).
    pub fn set_query(&mut self, query: Option<&str>) {
        self.query.set(query);
    }

    /// Sets [`original_query`](Self::original_query) (text as logged, already escaped).
    pub fn set_original_query(&mut self, original_query: Option<&str>) {
        self.original_query.set(original_query);
    }

    /// Appends an answer (text as logged) and its TTL.
    pub fn push_answer(&mut self, text: &str, ttl: u32) {
        self.answer_text.push_str(text);
        self.end_answer(ttl);
    }

    /// Appends an address to [`answer_addrs`](Self::answer_addrs).
    pub fn push_answer_addr(&mut self, addr: IpAddr) {
        self.answer_addrs.push(addr);
    }

    /// Sets `query` to the escaped form of raw name bytes.
    pub(crate) fn set_query_escaped(&mut self, name: &[u8]) {
        push_escaped(self.query.start(), name);
    }

    /// Sets `original_query` to the escaped form of `original`, and `query` to that text
    /// lowercased. Same as escaping the lowercased name (which is the question's `name`):
    /// lowercasing touches only ASCII letters, which escaping copies as they are, and the `\xNN`
    /// and `\\` it writes are lowercase already; nor does it change which runs are valid UTF-8.
    pub(crate) fn set_queries_escaped(&mut self, original: &[u8]) {
        push_escaped(self.original_query.start(), original);
        let query = self.query.start();
        query.push_str(&self.original_query.text);
        query.make_ascii_lowercase();
    }

    /// The answer text buffer, for [`render::reply`](super::render::reply) to append the next
    /// answer to; then [`DnsRecord::end_answer`] or `answer_text_mut().truncate(start)`.
    pub(crate) fn answer_text_mut(&mut self) -> &mut String {
        &mut self.answer_text
    }

    /// Bytes of answer text so far.
    pub(crate) fn answer_bytes(&self) -> usize {
        self.answer_text.len()
    }

    /// Closes the answer whose text was appended since the previous one.
    pub(crate) fn end_answer(&mut self, ttl: u32) {
        // Bounded by MAX_ANSWER_BYTES_PER_RECORD (plus one answer) in the analyzer; a caller of
        // `push_answer` past 4 GiB gets the last answers cut to nothing rather than a panic.
        self.answer_ends.push(u32::try_from(self.answer_text.len()).unwrap_or(u32::MAX));
        self.ttls.push(ttl);
    }

    /// Marks answers as dropped; returns whether they already were.
    pub(crate) fn mark_answers_truncated(&mut self) -> bool {
        core::mem::replace(&mut self.answers_truncated, true)
    }

    /// Empties the record for reuse as `DnsRecord::new(ts, trans_id)`, keeping its buffers.
    fn reset(&mut self, new_ts: Timestamp, id: u16) {
        // Exhaustive on purpose: a new field must be reset here too.
        let DnsRecord {
            ts,
            trans_id,
            rtt,
            qclass,
            qtype,
            rcode,
            aa,
            tc,
            rd,
            ra,
            z,
            rejected,
            opcode,
            saw_query,
            saw_reply,
            total_answers,
            total_replies,
            request_len,
            response_len,
            query,
            original_query,
            answer_text,
            answer_ends,
            ttls,
            answer_addrs,
            answers_truncated,
        } = self;
        (*ts, *trans_id, *rtt) = (new_ts, id, None);
        (*qclass, *qtype, *rcode, *opcode) = (None, None, None, None);
        (*aa, *tc, *rd, *ra, *z, *rejected) = (false, false, false, false, 0, false);
        (*saw_query, *saw_reply, *answers_truncated) = (false, false, false);
        (*total_answers, *total_replies, *request_len, *response_len) = (None, None, None, None);
        query.clear();
        original_query.clear();
        answer_text.clear();
        answer_ends.clear();
        ttls.clear();
        answer_addrs.clear();
    }

    /// Shrinks buffers past the pool's limits (after [`DnsRecord::reset`], so to the limit).
    fn trim(&mut self) {
        for s in [&mut self.query.text, &mut self.original_query.text, &mut self.answer_text] {
            if s.capacity() > RECORD_POOL_KEEP_TEXT {
                s.shrink_to(RECORD_POOL_KEEP_TEXT);
            }
        }
        if self.ttls.capacity() > RECORD_POOL_KEEP_ANSWERS {
            self.answer_ends.shrink_to(RECORD_POOL_KEEP_ANSWERS);
            self.ttls.shrink_to(RECORD_POOL_KEEP_ANSWERS);
        }
        if self.answer_addrs.capacity() > RECORD_POOL_KEEP_ANSWERS {
            self.answer_addrs.shrink_to(RECORD_POOL_KEEP_ANSWERS);
        }
    }
}

impl fmt::Debug for DnsRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DnsRecord")
            .field("ts", &self.ts)
            .field("trans_id", &self.trans_id)
            .field("rtt", &self.rtt)
            .field("query", &self.query())
            .field("qclass", &self.qclass)
            .field("qtype", &self.qtype)
            .field("rcode", &self.rcode)
            .field("aa", &self.aa)
            .field("tc", &self.tc)
            .field("rd", &self.rd)
            .field("ra", &self.ra)
            .field("z", &self.z)
            .field("answers", &self.answers())
            .field("ttls", &self.ttls)
            .field("rejected", &self.rejected)
            .field("opcode", &self.opcode)
            .field("original_query", &self.original_query())
            .field("saw_query", &self.saw_query)
            .field("saw_reply", &self.saw_reply)
            .field("total_answers", &self.total_answers)
            .field("total_replies", &self.total_replies)
            .field("request_len", &self.request_len)
            .field("response_len", &self.response_len)
            .field("answer_addrs", &self.answer_addrs)
            .field("answers_truncated", &self.answers_truncated)
            .finish()
    }
}

/// The answers of a [`DnsRecord`], in order: an exact-size, double-ended iterator of `&str`.
/// `Clone` it to walk the answers twice (a serializer's `collect_seq(answers.clone())`).
#[derive(Clone)]
pub struct Answers<'a> {
    text: &'a str,
    ends: core::slice::Iter<'a, u32>,
    /// Start of the next answer from the front.
    start: usize,
}

impl Answers<'_> {
    /// Whether there is no answer left.
    pub fn is_empty(&self) -> bool {
        self.ends.len() == 0
    }
}

impl<'a> Iterator for Answers<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let end = *self.ends.next()? as usize;
        let s = self.text.get(self.start..end).unwrap_or_default();
        self.start = end;
        Some(s)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.ends.size_hint()
    }
}

impl ExactSizeIterator for Answers<'_> {}

impl FusedIterator for Answers<'_> {}

impl DoubleEndedIterator for Answers<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let end = *self.ends.next_back()? as usize;
        let start = self.ends.as_slice().last().map_or(self.start, |&e| e as usize);
        Some(self.text.get(start..end).unwrap_or_default())
    }
}

impl fmt::Debug for Answers<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

/// Counters of this thread's record pool (see the module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordPoolStats {
    /// Records allocated because the pool was empty.
    pub allocated: u64,
    /// Records taken from the pool.
    pub reused: u64,
    /// Records freed because the pool was full.
    pub freed: u64,
    /// Records in the pool now.
    pub spare: usize,
}

struct Pool {
    /// Boxed because records travel boxed through the flows' queues: taking and giving back
    /// moves a pointer.
    #[expect(clippy::vec_box, reason = "records are boxed outside the pool too")]
    spare: Vec<Box<DnsRecord>>,
    stats: RecordPoolStats,
}

thread_local! {
    static POOL: RefCell<Pool> = const {
        RefCell::new(Pool { spare: Vec::new(), stats: RecordPoolStats { allocated: 0, reused: 0, freed: 0, spare: 0 } })
    };
}

/// This thread's record pool counters.
pub fn record_pool_stats() -> RecordPoolStats {
    POOL.try_with(|p| p.try_borrow().map(|p| RecordPoolStats { spare: p.spare.len(), ..p.stats }).unwrap_or_default())
        .unwrap_or_default()
}

/// A cleared record for transaction `trans_id` at `ts`, from the pool when it has one.
pub(crate) fn take(ts: Timestamp, trans_id: u16) -> Box<DnsRecord> {
    let spare = POOL
        .try_with(|p| {
            let mut p = p.try_borrow_mut().ok()?;
            let rec = p.spare.pop();
            match rec {
                Some(_) => p.stats.reused += 1,
                None => p.stats.allocated += 1,
            }
            rec
        })
        .ok()
        .flatten();
    match spare {
        // Pooled records were reset when they came back.
        Some(mut rec) => {
            rec.ts = ts;
            rec.trans_id = trans_id;
            rec
        }
        None => Box::new(DnsRecord::new(ts, trans_id)),
    }
}

/// Gives an emitted (or lost) record back to the pool, cleared; frees it when the pool is full.
pub(crate) fn recycle(mut rec: Box<DnsRecord>) {
    // During thread teardown the pool may be gone: the record is then simply dropped.
    let _ = POOL.try_with(|p| {
        let Ok(mut p) = p.try_borrow_mut() else { return };
        if p.spare.len() < RECORD_POOL_CAPACITY {
            rec.reset(Timestamp::default(), 0);
            rec.trim();
            p.spare.push(rec);
        } else {
            p.stats.freed += 1;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three_answers() -> DnsRecord {
        let mut rec = DnsRecord::new(Timestamp(5), 9);
        rec.push_answer("a.example", 60);
        rec.push_answer("", 0);
        rec.push_answer("192.0.2.1", 300);
        rec
    }

    #[test]
    fn query_name_agrees_with_the_record() {
        let mut rec = three_answers();
        for query in [None, Some("www.example.com"), Some(r"\x8a\x01q.t.example.com")] {
            rec.set_query(query);
            rec.set_original_query(query.map(|_| "WWW.Example.com"));
            rec.rtt = Some(Duration::from_millis(3));
            rec.total_replies = Some(4);
            let bytes = postcard::to_allocvec(&rec).unwrap();
            let (name, _): (DnsQueryName, _) = postcard::take_from_bytes(&bytes).unwrap();
            assert_eq!(name.0.as_deref(), query);
        }
    }

    #[test]
    fn answers_are_spans_of_one_text() {
        let rec = three_answers();
        assert_eq!(rec.answers().collect::<Vec<_>>(), ["a.example", "", "192.0.2.1"]);
        assert_eq!(rec.answers().rev().collect::<Vec<_>>(), ["192.0.2.1", "", "a.example"]);
        let mut both = rec.answers();
        assert_eq!(
            (both.len(), both.next(), both.next_back(), both.len()),
            (3, Some("a.example"), Some("192.0.2.1"), 1)
        );
        assert_eq!((both.next_back(), both.next(), both.is_empty()), (Some(""), None, true));
        assert_eq!(
            (rec.answer(0), rec.answer(1), rec.answer(2), rec.answer(3)),
            (Some("a.example"), Some(""), Some("192.0.2.1"), None)
        );
        assert_eq!(rec.ttls(), [60, 0, 300]);
        assert_eq!(format!("{:?}", rec.answers()), r#"["a.example", "", "192.0.2.1"]"#);
    }

    #[test]
    fn unset_text_compares_as_never_set() {
        let mut rec = DnsRecord::new(Timestamp(5), 9);
        rec.set_query(Some("x.example"));
        rec.set_original_query(Some("X.example"));
        assert_eq!((rec.query(), rec.original_query()), (Some("x.example"), Some("X.example")));
        rec.set_query(None);
        rec.set_original_query(None);
        assert_eq!(rec, DnsRecord::new(Timestamp(5), 9));
        rec.set_query(Some(""));
        assert_eq!(rec.query(), Some(""), "empty is not unset");
        assert_ne!(rec, DnsRecord::new(Timestamp(5), 9));
    }

    #[test]
    fn reset_keeps_buffers_and_trims_big_ones() {
        let mut rec = three_answers();
        rec.set_query(Some(&"q".repeat(RECORD_POOL_KEEP_TEXT * 2)));
        rec.push_answer_addr("192.0.2.1".parse().unwrap_or(IpAddr::V4(core::net::Ipv4Addr::LOCALHOST)));
        let kept = rec.answer_text.capacity();
        rec.reset(Timestamp(7), 3);
        rec.trim();
        assert_eq!(rec, DnsRecord::new(Timestamp(7), 3));
        assert_eq!(rec.answer_text.capacity(), kept, "small buffers are kept");
        assert!(rec.query.text.capacity() <= RECORD_POOL_KEEP_TEXT, "big ones are shrunk");
    }
}
