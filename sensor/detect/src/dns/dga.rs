//! Domain generation algorithms (T1568.002), from the NXDOMAIN answers a client gets: malware
//! with a DGA tries generated names until one resolves, so most of its lookups fail, each under
//! a registered domain of its own. Two signals, per client and window:
//!
//! - **generated names**: distinct registered domains answered NXDOMAIN whose label the
//!   character model ([`crate::dga::Model`]) calls generated, at least
//!   [`DgaConfig::min_generated`];
//! - **an NXDOMAIN storm**: at least [`DgaConfig::min_answers`] NXDOMAIN answers under at least
//!   [`DgaConfig::min_domains`] registered domains, whatever the names look like (a DGA of
//!   dictionary words, which the model does not catch).
//!
//! Many NXDOMAINs under one domain (a misconfigured search list, a tunnel probing) are neither.
//! High when both hold or generated names reach twice the threshold; medium otherwise.

use super::{DnsSeen, Raise};
use crate::alert::{Alert, AlertEvidence, Entity, Severity, Technique};
use crate::bounded::Bounded;
use crate::config::DgaConfig;
use crate::dga::Model;
use crate::names::Split;
use core::net::IpAddr;
use sensor_wire::Timestamp;
use std::time::Duration;

const DETECTOR: &str = "dns.dga";
const VERSION: u16 = 1;
/// NXDOMAIN rcode.
const NXDOMAIN: u16 = 3;
/// Distinct domains remembered per client and window (past it, the count stops growing: enough
/// to pass any sensible threshold).
const MAX_DOMAINS: usize = 64;
const SAMPLES: usize = 5;

/// One client's window.
struct Window {
    start: Timestamp,
    answers: u64,
    /// Registered domains answered NXDOMAIN, by hash.
    domains: Vec<u64>,
    /// Of those, the ones whose label looks generated.
    generated: Vec<u64>,
    samples: Vec<String>,
    uids: Vec<String>,
    server: IpAddr,
    /// When the last alert was raised, and how severe it was.
    alerted: Option<(Timestamp, Severity)>,
}

impl Window {
    fn new(ts: Timestamp, server: IpAddr, alerted: Option<(Timestamp, Severity)>) -> Window {
        Window {
            start: ts,
            answers: 0,
            domains: Vec::new(),
            generated: Vec::new(),
            samples: Vec::new(),
            uids: Vec::new(),
            server,
            alerted,
        }
    }
}

pub(crate) struct Dga {
    cfg: DgaConfig,
    cooldown: Duration,
    model: Model,
    clients: Bounded<IpAddr, Window>,
}

impl Dga {
    pub(crate) fn new(cfg: &DgaConfig, cooldown: Duration, max_tracked: usize) -> Dga {
        Dga { cfg: cfg.clone(), cooldown, model: Model::shipped(), clients: Bounded::new(max_tracked) }
    }

    pub(crate) fn evicted(&self) -> u64 {
        self.clients.evicted()
    }

    pub(crate) fn observe(
        &mut self,
        seen: &DnsSeen<'_>,
        name: &str,
        split: Split<'_>,
        domain: u64,
        raise: &mut Raise<'_>,
    ) {
        if seen.rec.rcode != Some(NXDOMAIN) {
            return;
        }
        let ts = seen.rec.ts;
        let w = self.clients.entry(seen.client, || Window::new(ts, seen.server, None));
        if ts.since(w.start) > self.cfg.window {
            *w = Window::new(ts, seen.server, w.alerted);
        }
        w.answers += 1;
        if w.domains.len() < MAX_DOMAINS && !w.domains.contains(&domain) {
            w.domains.push(domain);
            let label = split.registered.split('.').next().unwrap_or_default();
            let generated = self.model.looks_generated(label);
            if generated {
                w.generated.push(domain);
            }
            // Generated names first: they are what an analyst wants to see.
            if w.samples.len() < SAMPLES || generated && w.samples.len() < 2 * SAMPLES {
                w.samples.push(name.to_owned());
                w.uids.push(seen.uid.to_owned());
            }
        }
        let generated = w.generated.len();
        let by_model = generated >= self.cfg.min_generated;
        let storm = w.answers >= self.cfg.min_answers && w.domains.len() >= self.cfg.min_domains;
        if !by_model && !storm {
            return;
        }
        let high = (by_model && storm) || generated >= 2 * self.cfg.min_generated;
        let severity = if high { Severity::High } else { Severity::Medium };
        if w.alerted.is_some_and(|(at, was)| ts.since(at) < self.cooldown && severity <= was) {
            return;
        }
        w.alerted = Some((ts, severity));
        let secs = ts.since(w.start).as_secs_f64();
        let client = seen.client;
        let domains = w.domains.len();
        let title = if by_model {
            format!("{client} tried {generated} generated-looking domains")
        } else {
            format!("NXDOMAIN storm from {client} over {domains} domains")
        };
        raise.alert(Alert {
            ts,
            id: String::new(),
            src: Entity::ip(client),
            dst: Some(Entity::ip(w.server)),
            path: Vec::new(),
            severity,
            confidence: if high { 0.85 } else { 0.6 },
            detector: DETECTOR.to_owned(),
            detector_version: VERSION,
            title,
            explanation: format!(
                "{client} received {} NXDOMAIN answers in {secs:.0} s for names under {domains} different \
                 registered domains, {generated} of which look generated to the character model: malware with a \
                 domain generation algorithm tries generated names until one resolves.",
                w.answers
            ),
            techniques: vec![Technique::Dga],
            evidence: AlertEvidence {
                uids: w.uids.clone(),
                counts: vec![
                    ("nxdomain_answers".to_owned(), w.answers as f64),
                    ("registered_domains".to_owned(), domains as f64),
                    ("generated_looking".to_owned(), generated as f64),
                    ("seconds".to_owned(), secs),
                ],
                samples: w.samples.clone(),
                domain: None,
                intel: Vec::new(),
            },
        });
    }
}
