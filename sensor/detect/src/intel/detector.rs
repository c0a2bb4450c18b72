//! Alerts on threat-intelligence matches: a DNS query for a listed name (or a name under it), a
//! DNS answer that is a listed address or name, a flow to or from a listed address (checked when
//! the flow starts, so the alert does not wait for it to end).
//!
//! Every alert names the feed and the indicator. Severity follows the feed's confidence: high at
//! 80 and above, medium otherwise (and when the feed gives none). One alert per (source,
//! indicator) per cooldown.

use super::{Indicator, IntelHandle};
use crate::alert::{Alert, AlertEvidence, Entity, IntelMatch, Severity, Technique};
use crate::bounded::Bounded;
use crate::{DnsSeen, FlowSeen, Raise};
use core::net::IpAddr;
use sensor_wire::Timestamp;
use std::time::Duration;
use xxhash_rust::xxh3::xxh3_64;

const DETECTOR: &str = "intel";
const VERSION: u16 = 1;
/// Feed confidence from which a match is high.
const HIGH_CONFIDENCE: u8 = 80;

pub(crate) struct IntelDetector {
    handle: Option<IntelHandle>,
    cooldown: Duration,
    alerted: Bounded<(IpAddr, u64), Timestamp>,
}

/// Who and when an alert is about.
#[derive(Clone, Copy)]
struct About<'a> {
    src: IpAddr,
    dst: IpAddr,
    ts: Timestamp,
    uid: &'a str,
}

/// What matched, for the alert's words.
enum Seen<'a> {
    Query { name: &'a str },
    Answer { name: &'a str, answer: String },
    FlowTo { port: u16 },
    FlowFrom { port: u16 },
}

impl IntelDetector {
    pub(crate) fn new(cooldown: Duration, max_tracked: usize) -> IntelDetector {
        IntelDetector { handle: None, cooldown, alerted: Bounded::new(max_tracked) }
    }

    /// The same detector with other settings: the indicators stay, the cooldowns start over.
    pub(crate) fn reconfigured(&mut self, cooldown: Duration, max_tracked: usize) -> IntelDetector {
        IntelDetector { handle: self.handle.take(), cooldown, alerted: Bounded::new(max_tracked) }
    }

    pub(crate) fn set_handle(&mut self, handle: IntelHandle) {
        self.handle = Some(handle);
    }

    pub(crate) fn evicted(&self) -> u64 {
        self.alerted.evicted()
    }

    /// Whether flows need looking at (there are indicators).
    pub(crate) fn active(&self) -> bool {
        self.handle.as_ref().is_some_and(|h| !h.current().is_empty())
    }

    pub(crate) fn dns(&mut self, seen: &DnsSeen<'_>, raise: &mut Raise<'_>) {
        let Some(handle) = &self.handle else { return };
        let intel = handle.current();
        if intel.is_empty() {
            return;
        }
        let rec = seen.rec;
        let Some(name) = rec.query() else { return };
        let about = About { src: seen.client, dst: seen.server, ts: rec.ts, uid: seen.uid };
        if let Some(ind) = intel.match_name(name) {
            self.alert(ind, &about, Seen::Query { name }, raise);
        }
        for &addr in rec.answer_addrs() {
            if let Some(ind) = intel.match_addr(addr) {
                self.alert(ind, &about, Seen::Answer { name, answer: addr.to_string() }, raise);
            }
        }
        // Names in answers (CNAME, NS, MX, PTR targets): the renderer writes them as names.
        for answer in rec.answers().filter(|a| !a.contains(' ') && a.parse::<IpAddr>().is_err()) {
            let answer = answer.to_ascii_lowercase();
            if let Some(ind) = intel.match_name(&answer) {
                self.alert(ind, &about, Seen::Answer { name, answer: answer.clone() }, raise);
            }
        }
    }

    pub(crate) fn flow(&mut self, seen: &FlowSeen<'_>, raise: &mut Raise<'_>) {
        let Some(handle) = &self.handle else { return };
        let intel = handle.current();
        let about = About { src: seen.orig_h, dst: seen.resp_h, ts: seen.ts, uid: seen.uid };
        if let Some(ind) = intel.match_addr(seen.resp_h) {
            self.alert(ind, &about, Seen::FlowTo { port: seen.resp_p }, raise);
        }
        if let Some(ind) = intel.match_addr(seen.orig_h) {
            self.alert(ind, &about, Seen::FlowFrom { port: seen.resp_p }, raise);
        }
    }

    fn alert(&mut self, ind: &Indicator, about: &About<'_>, seen: Seen<'_>, raise: &mut Raise<'_>) {
        let About { src, dst, ts, uid } = *about;
        let last = self.alerted.entry((src, xxh3_64(ind.value.as_bytes())), || Timestamp(0));
        if last.0 != 0 && ts.since(*last) < self.cooldown {
            return;
        }
        *last = ts;
        let feed = &*ind.feed;
        let value = &ind.value;
        let (title, what, sample) = match &seen {
            Seen::Query { name } => (
                format!("{src} looked up {name}, listed by {feed}"),
                format!("{src} asked for {name}, which matches `{value}` of the feed {feed}"),
                (*name).to_owned(),
            ),
            Seen::Answer { name, answer } => (
                format!("{src} was answered {answer}, listed by {feed}"),
                format!("{src} asked for {name} and was answered {answer}, which matches `{value}` of the feed {feed}"),
                format!("{name} -> {answer}"),
            ),
            Seen::FlowTo { port } => (
                format!("{src} connected to listed {dst}"),
                format!("{src} opened a connection to port {port} of an address matching `{value}` of the feed {feed}"),
                value.clone(),
            ),
            Seen::FlowFrom { port } => (
                format!("Listed {src} connected in"),
                format!("{src}, which matches `{value}` of the feed {feed}, opened a connection to port {port}"),
                value.clone(),
            ),
        };
        let about = ind.description.as_deref().map(|d| format!(" The feed says: {d}.")).unwrap_or_default();
        let high = ind.confidence.is_some_and(|c| c >= HIGH_CONFIDENCE);
        raise.alert(Alert {
            ts,
            id: String::new(),
            src: Entity::ip(src),
            dst: Some(Entity::ip(dst)),
            path: Vec::new(),
            severity: if high { Severity::High } else { Severity::Medium },
            confidence: ind.confidence.map_or(0.6, |c| f32::from(c) / 100.0),
            detector: DETECTOR.to_owned(),
            detector_version: VERSION,
            title,
            explanation: format!("{what}.{about}"),
            techniques: vec![Technique::AppLayerProtocol],
            evidence: AlertEvidence {
                uids: vec![uid.to_owned()],
                counts: Vec::new(),
                samples: vec![sample],
                domain: None,
                intel: vec![IntelMatch { feed: feed.to_owned(), indicator: value.clone(), kind: ind.kind }],
            },
        });
    }
}
