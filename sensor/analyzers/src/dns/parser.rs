//! Pure DNS message parsing, with Zeek's semantics (`DNS_Interpreter::ParseMessage` in
//! `src/analyzer/protocol/dns/DNS.cc`, zeek/zeek), reported to a [`Visitor`].
//!
//! The parser walks a message the way Zeek does, quirks included, because what Zeek logs depends
//! on them: fields it reads past the end read as 0 without moving; a name inside RDATA may run
//! past RDLENGTH (`DNS_RR_length_mismatch`) and parsing continues after the name, not at
//! RDLENGTH; WKS and dynamic-update prerequisites leave their RDATA unread; types for which Zeek's
//! base scripts have no event handler (HINFO, CAA, TKEY) are skipped by RDLENGTH without a look.
//! A failure inside a section stops the message ([`Outcome::Stopped`]): what was visited stays
//! valid. Nothing here allocates (anomalies' `addl` text is formatted on the stack).
//!
//! By default only the header, questions and answer (or prerequisite/update) sections are
//! parsed, as Zeek does with its defaults `dns_skip_all_auth = T`, `dns_skip_all_addl = T`;
//! [`Sections::All`] parses authority and additional records too (Zeek with both set to `F`).

use std::cell::RefCell;

use super::labels::{NAME_CAPACITY, NameBuf, extract_name};
use super::rdata;
use super::weird::Addl;
pub(crate) use super::wire::Cursor;
pub use super::wire::{
    CLASS_ANY, CLASS_NONE, HEADER_LEN, Header, MAX_QUESTIONS, OPCODE_NOTIFY, OPCODE_QUERY, OPCODE_UPDATE, RData,
    Section, TYPE_SOA,
};
use super::{DnsTransport, weird};

/// A question as the visitor sees it.
#[derive(Debug, Clone, Copy)]
pub struct QuestionRef<'a> {
    /// Name, lowercased (Zeek's `query`).
    pub name: &'a [u8],
    /// Name as sent, except that parts reached through compression are lowercased (Zeek's
    /// `original_query`).
    pub original: &'a [u8],
    /// QTYPE.
    pub qtype: u16,
    /// QCLASS.
    pub qclass: u16,
}

/// A resource record as the visitor sees it.
#[derive(Debug, Clone, Copy)]
pub struct RecordRef<'a> {
    /// Where it was.
    pub section: Section,
    /// Owner name, lowercased.
    pub name: &'a [u8],
    /// TYPE.
    pub rtype: u16,
    /// CLASS (the UDP payload size for OPT).
    pub class: u16,
    /// TTL in seconds.
    pub ttl: u32,
    /// Decoded RDATA.
    pub rdata: RData<'a>,
}

/// Receives what the parser finds, in message order. Zeek raises its events at the same points.
pub trait Visitor {
    /// The header of a message Zeek analyses (its `dns_message` event). Not called for messages
    /// shorter than a header or with another opcode.
    fn header(&mut self, header: &Header) {
        let _ = header;
    }
    /// A question that parsed completely.
    fn question(&mut self, header: &Header, question: &QuestionRef<'_>) {
        let _ = (header, question);
    }
    /// A resource record that parsed (for TXT/SPF, possibly with a cut string list: Zeek raises
    /// its event before failing).
    fn record(&mut self, header: &Header, record: &RecordRef<'_>) {
        let _ = (header, record);
    }
    /// An anomaly, named as in [`super::weird`].
    fn weird(&mut self, name: &'static str, addl: Option<&str>);
    /// An analyzer violation (Zeek's `AnalyzerViolation`): the input does not look like DNS.
    fn violation(&mut self, reason: &'static str) {
        let _ = reason;
    }
}

/// Which sections to parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sections {
    /// Header, questions, answers (prerequisites and updates): Zeek's default.
    #[default]
    AnswersOnly,
    /// All sections, as Zeek with `dns_skip_all_auth = F` and `dns_skip_all_addl = F`.
    All,
}

/// Parser settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Sections to parse.
    pub sections: Sections,
    /// Transport the message came over (EDNS TCP keepalive over UDP is an anomaly).
    pub transport: DnsTransport,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions { sections: Sections::AnswersOnly, transport: DnsTransport::Udp }
    }
}

/// How parsing a message ended.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Shorter than a header: `DNS_truncated_len_lt_hdr_len`, nothing visited.
    TooShort,
    /// Opcode Zeek does not analyse: `DNS_unknown_opcode`, nothing visited.
    UnknownOpcode(u8),
    /// Every requested section parsed.
    Complete,
    /// Stopped at an anomaly; the message still ends normally (Zeek's `dns_end`).
    Stopped,
    /// Dynamic update whose zone is not SOA: Zeek returns without ending the message, so the
    /// transaction never sees this message complete.
    Abandoned,
}

impl Outcome {
    /// Whether the message counts as seen (Zeek raises `dns_end`).
    pub fn ends_message(self) -> bool {
        matches!(self, Outcome::Complete | Outcome::Stopped)
    }
}

/// Name buffers for a message, reused across its records and across messages (see [`parse`]).
pub(crate) struct Scratch {
    pub(crate) owner: NameBuf,
    pub(crate) a: NameBuf,
    pub(crate) b: NameBuf,
}

/// Parses one message, reporting to `v`. Never panics, whatever the bytes.
pub fn parse<V: Visitor + ?Sized>(bytes: &[u8], opts: &ParseOptions, v: &mut V) -> Outcome {
    let Some(h) = Header::parse(bytes) else {
        v.weird(weird::TRUNCATED_LEN_LT_HDR_LEN, None);
        return Outcome::TooShort;
    };
    if !h.is_tracked_opcode() {
        v.weird(weird::UNKNOWN_OPCODE, Some(Addl::num(h.opcode).as_str()));
        return Outcome::UnknownOpcode(h.opcode);
    }
    v.header(&h);
    if h.qdcount > MAX_QUESTIONS {
        v.violation(weird::VIOLATION_CONN_COUNT_TOO_LARGE);
        v.weird(weird::CONN_COUNT_TOO_LARGE, Some(Addl::fmt(format_args!("{} > {MAX_QUESTIONS}", h.qdcount)).as_str()));
        return Outcome::Stopped;
    }
    // One scratch per thread: the name buffers are 3 KiB, too much to zero per message. A
    // visitor that parses from inside a callback gets a fresh one.
    SCRATCH
        .try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => sections(bytes, h, opts, &mut scratch, v),
            Err(_) => sections(bytes, h, opts, &mut Scratch::new(), v),
        })
        .unwrap_or_else(|_| sections(bytes, h, opts, &mut Scratch::new(), v))
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::new());
}

impl Scratch {
    fn new() -> Self {
        Scratch { owner: NameBuf::new(), a: NameBuf::new(), b: NameBuf::new() }
    }
}

/// Everything after the header.
fn sections<V: Visitor + ?Sized>(
    bytes: &[u8],
    h: Header,
    opts: &ParseOptions,
    scratch: &mut Scratch,
    v: &mut V,
) -> Outcome {
    let mut cur = Cursor::new(bytes, HEADER_LEN);
    let mut ctx = Ctx { h, opts, zone_class: 0, scratch };

    if h.is_dynamic_update() {
        if h.qdcount != 1 {
            v.weird(weird::DU_INVALID_ZONE_COUNT, Some(Addl::num(h.qdcount).as_str()));
            return Outcome::Stopped;
        }
        let Some((zone_type, zone_class)) = ctx.rr_header(&mut cur, v) else {
            return Outcome::Stopped;
        };
        if zone_type != TYPE_SOA {
            v.weird(weird::DU_INCORRECT_ZONE_TYPE, None);
            return Outcome::Abandoned;
        }
        ctx.zone_class = zone_class;
        if !ctx.records(&mut cur, h.ancount, Section::Prerequisite, v)
            || !ctx.records(&mut cur, h.nscount, Section::Update, v)
        {
            return Outcome::Stopped;
        }
    } else if !ctx.questions(&mut cur, v) || !ctx.records(&mut cur, h.ancount, Section::Answer, v) {
        return Outcome::Stopped;
    }

    if opts.sections == Sections::AnswersOnly {
        return Outcome::Complete;
    }
    // Zeek skips a section after answers when it is empty (and the server is on a skip list).
    let skip_auth = h.ancount > 0 && h.nscount == 0;
    let skip_addl = h.ancount > 0 && h.arcount == 0;
    if skip_auth && skip_addl {
        return Outcome::Complete;
    }
    if !h.is_dynamic_update() && !ctx.records(&mut cur, h.nscount, Section::Authority, v) {
        return Outcome::Stopped;
    }
    if skip_addl {
        return Outcome::Complete;
    }
    if !ctx.records(&mut cur, h.arcount, Section::Additional, v) {
        return Outcome::Stopped;
    }
    Outcome::Complete
}

/// State shared by the section parsers of one message.
pub(crate) struct Ctx<'s> {
    pub(crate) h: Header,
    pub(crate) opts: &'s ParseOptions,
    /// Class of a dynamic update's zone.
    pub(crate) zone_class: u16,
    pub(crate) scratch: &'s mut Scratch,
}

impl Ctx<'_> {
    /// `ParseQuestions`.
    fn questions<V: Visitor + ?Sized>(&mut self, cur: &mut Cursor<'_>, v: &mut V) -> bool {
        for _ in 0..self.h.qdcount {
            let Scratch { owner, a, .. } = &mut *self.scratch;
            if !extract_name(cur, owner, NAME_CAPACITY, false, v) {
                return false;
            }
            if cur.remaining() < 4 {
                v.weird(weird::TRUNCATED_QUEST_TOO_SHORT, None);
                return false;
            }
            let qtype = cur.u16();
            let qclass = cur.u16();
            a.set_lowercase(owner);
            let q = QuestionRef { name: a.as_bytes(), original: owner.as_bytes(), qtype, qclass };
            v.question(&self.h, &q);
        }
        true
    }

    /// `ParseAnswerHeader`: owner name into `scratch.owner`, then type and class.
    fn rr_header<V: Visitor + ?Sized>(&mut self, cur: &mut Cursor<'_>, v: &mut V) -> Option<(u16, u16)> {
        if !extract_name(cur, &mut self.scratch.owner, NAME_CAPACITY, true, v) {
            return None;
        }
        if cur.remaining() < 4 {
            v.weird(weird::TRUNCATED_ANS_TOO_SHORT, None);
            return None;
        }
        Some((cur.u16(), cur.u16()))
    }

    /// `ParseAnswers`: up to `n` records; false when one fails.
    fn records<V: Visitor + ?Sized>(&mut self, cur: &mut Cursor<'_>, n: u16, section: Section, v: &mut V) -> bool {
        (0..n).all(|_| self.record(cur, section, v))
    }

    /// `ParseAnswer`.
    fn record<V: Visitor + ?Sized>(&mut self, cur: &mut Cursor<'_>, section: Section, v: &mut V) -> bool {
        let Some((rtype, class)) = self.rr_header(cur, v) else {
            return false;
        };
        let ttl = cur.u32();
        let rdlength = usize::from(cur.u16());
        if rdlength > cur.remaining() {
            v.weird(weird::TRUNCATED_RR_RDLENGTH_LT_LEN, None);
            return false;
        }
        let rr = rdata::RrHeader { section, rtype, class, ttl, rdlength };
        if self.h.is_dynamic_update() {
            match section {
                Section::Update => {
                    if class == CLASS_ANY && ttl == 0 && rdlength == 0 {
                        self.visit(&rr, RData::UpdateDelete, v);
                        return true;
                    }
                    if !((class == CLASS_NONE && ttl == 0) || class == self.zone_class) {
                        v.weird(weird::DYNAMIC_UPDATE_INVALID_UPDATE, None);
                        return true;
                    }
                }
                Section::Prerequisite => {
                    // Zeek leaves a prerequisite's RDATA unread.
                    if ttl != 0 {
                        v.weird(
                            weird::DYNAMIC_UPDATE_PREREQ_NONZERO_TTL,
                            Some(Addl::fmt(format_args!("{}", ttl as i32)).as_str()),
                        );
                    } else if ((class == CLASS_ANY || class == CLASS_NONE) && rdlength == 0) || class == self.zone_class
                    {
                        self.visit(&rr, RData::Prerequisite, v);
                    } else {
                        v.weird(weird::DYNAMIC_UPDATE_INVALID_PREREQ, None);
                    }
                    return true;
                }
                _ => {}
            }
        }
        if rdlength == 0 && cur.remaining() > 0 {
            if self.h.is_dynamic_update() {
                return true;
            }
            v.weird(weird::ZERO_RDLENGTH, None);
            return false;
        }
        rdata::parse(self, cur, &rr, v)
    }

    /// Reports a record whose owner name is in `scratch.owner`.
    pub(crate) fn visit<V: Visitor + ?Sized>(&self, rr: &rdata::RrHeader, rdata: RData<'_>, v: &mut V) {
        let record = RecordRef {
            section: rr.section,
            name: self.scratch.owner.as_bytes(),
            rtype: rr.rtype,
            class: rr.class,
            ttl: rr.ttl,
            rdata,
        };
        v.record(&self.h, &record);
    }
}
