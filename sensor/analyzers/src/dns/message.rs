//! [`parse_message`]: one message parsed into owned values, for tools, tests and fuzzing. The
//! packet path uses the [`parser::Visitor`] interface instead, which allocates nothing.

use core::net::IpAddr;

use super::parser::{self, Header, Outcome, ParseOptions, QuestionRef, RecordRef, Section, Sections, Visitor};
use super::render::{self, escaped};
use super::wire::RData;

/// Why a message could not be parsed at all.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Fewer bytes than the 12-byte DNS header.
    #[error("DNS message of {0} bytes is shorter than the 12-byte header")]
    TooShort(usize),
}

/// A question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// Name, lowercased and escaped ([`render::push_escaped`]).
    pub name: String,
    /// Name as sent, escaped.
    pub original: String,
    /// QTYPE.
    pub qtype: u16,
    /// QCLASS.
    pub qclass: u16,
}

/// A resource record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRecord {
    /// Section.
    pub section: Section,
    /// Owner name, lowercased and escaped.
    pub name: String,
    /// TYPE.
    pub rtype: u16,
    /// CLASS.
    pub class: u16,
    /// TTL, seconds.
    pub ttl: u32,
    /// Zeek's reply string for it ([`render::reply`]), `None` when Zeek raises none.
    pub reply: Option<String>,
    /// The address of an A/AAAA/A6 record.
    pub addr: Option<IpAddr>,
}

/// A parsed message, best effort: everything that parsed before an anomaly stopped the parser,
/// plus the anomalies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The header.
    pub header: Header,
    /// Questions that parsed.
    pub questions: Vec<Question>,
    /// Records that parsed, all sections, in message order.
    pub records: Vec<ResourceRecord>,
    /// Anomalies: Zeek weird name and `addl`.
    pub anomalies: Vec<(&'static str, Option<String>)>,
    /// Analyzer violations.
    pub violations: Vec<&'static str>,
    /// How parsing ended.
    pub outcome: Outcome,
}

impl Message {
    /// Records of one section.
    pub fn section(&self, section: Section) -> impl Iterator<Item = &ResourceRecord> {
        self.records.iter().filter(move |r| r.section == section)
    }

    /// Whether `name` was reported.
    pub fn has_anomaly(&self, name: &str) -> bool {
        self.anomalies.iter().any(|(n, _)| *n == name)
    }
}

/// Parses all sections of a message. Never panics; fails only below 12 bytes.
pub fn parse_message(bytes: &[u8]) -> Result<Message, ParseError> {
    parse_message_with(bytes, &ParseOptions { sections: Sections::All, ..ParseOptions::default() })
}

/// [`parse_message`] with explicit options.
pub fn parse_message_with(bytes: &[u8], opts: &ParseOptions) -> Result<Message, ParseError> {
    let header = Header::parse(bytes).ok_or(ParseError::TooShort(bytes.len()))?;
    let mut c = Collect { questions: Vec::new(), records: Vec::new(), anomalies: Vec::new(), violations: Vec::new() };
    let outcome = parser::parse(bytes, opts, &mut c);
    Ok(Message {
        header,
        questions: c.questions,
        records: c.records,
        anomalies: c.anomalies,
        violations: c.violations,
        outcome,
    })
}

struct Collect {
    questions: Vec<Question>,
    records: Vec<ResourceRecord>,
    anomalies: Vec<(&'static str, Option<String>)>,
    violations: Vec<&'static str>,
}

impl Visitor for Collect {
    fn question(&mut self, _: &Header, q: &QuestionRef<'_>) {
        self.questions.push(Question {
            name: escaped(q.name),
            original: escaped(q.original),
            qtype: q.qtype,
            qclass: q.qclass,
        });
    }

    fn record(&mut self, h: &Header, rr: &RecordRef<'_>) {
        let mut text = String::new();
        let reply = render::reply(h, rr, &mut text).then_some(text);
        let addr = match rr.rdata {
            RData::A(a) => Some(IpAddr::V4(a)),
            RData::Aaaa(a) | RData::A6(a) => Some(IpAddr::V6(a)),
            _ => None,
        };
        self.records.push(ResourceRecord {
            section: rr.section,
            name: escaped(rr.name),
            rtype: rr.rtype,
            class: rr.class,
            ttl: rr.ttl,
            reply,
            addr,
        });
    }

    fn weird(&mut self, name: &'static str, addl: Option<&str>) {
        self.anomalies.push((name, addl.map(str::to_owned)));
    }

    fn violation(&mut self, reason: &'static str) {
        self.violations.push(reason);
    }
}
