//! NXDOMAIN storms (T1568.002): a client getting many "no such name" answers for names under
//! many different registered domains in a short window, which is what a domain generation
//! algorithm looks like from the wire (it tries names until one resolves). Many NXDOMAINs under
//! one domain is a misconfiguration or a tunnel, and is not alerted on here.

use super::{DnsSeen, Raise};
use crate::alert::{Alert, AlertEvidence, Entity, Severity, Technique};
use crate::bounded::Bounded;
use crate::config::NxdomainConfig;
use core::net::IpAddr;
use sensor_wire::Timestamp;
use std::time::Duration;

const DETECTOR: &str = "dns.nxdomain";
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
    domains: Vec<u64>,
    samples: Vec<String>,
    uids: Vec<String>,
    server: IpAddr,
    alerted: Option<Timestamp>,
}

pub(crate) struct Nxdomain {
    cfg: NxdomainConfig,
    cooldown: Duration,
    clients: Bounded<IpAddr, Window>,
}

impl Nxdomain {
    pub(crate) fn new(cfg: &NxdomainConfig, cooldown: Duration, max_tracked: usize) -> Nxdomain {
        Nxdomain { cfg: cfg.clone(), cooldown, clients: Bounded::new(max_tracked) }
    }

    pub(crate) fn evicted(&self) -> u64 {
        self.clients.evicted()
    }

    pub(crate) fn observe(&mut self, seen: &DnsSeen<'_>, name: &str, domain: u64, raise: &mut Raise<'_>) {
        if seen.rec.rcode != Some(NXDOMAIN) {
            return;
        }
        let ts = seen.rec.ts;
        let w = self.clients.entry(seen.client, || Window {
            start: ts,
            answers: 0,
            domains: Vec::new(),
            samples: Vec::new(),
            uids: Vec::new(),
            server: seen.server,
            alerted: None,
        });
        if ts.since(w.start) > self.cfg.window {
            *w = Window { start: ts, answers: 0, domains: Vec::new(), samples: Vec::new(), uids: Vec::new(), ..*w };
        }
        w.answers += 1;
        if w.domains.len() < MAX_DOMAINS && !w.domains.contains(&domain) {
            w.domains.push(domain);
            if w.samples.len() < SAMPLES {
                w.samples.push(name.to_owned());
                w.uids.push(seen.uid.to_owned());
            }
        }
        let cooling = w.alerted.is_some_and(|at| ts.since(at) < self.cooldown);
        if cooling || w.answers < self.cfg.min_answers || w.domains.len() < self.cfg.min_domains {
            return;
        }
        w.alerted = Some(ts);
        let secs = ts.since(w.start).as_secs_f64();
        let client = seen.client;
        raise.alert(Alert {
            ts,
            id: String::new(),
            src: Entity::ip(client),
            dst: Some(Entity::ip(w.server)),
            path: Vec::new(),
            severity: Severity::Medium,
            confidence: 0.6,
            detector: DETECTOR.to_owned(),
            detector_version: VERSION,
            title: format!("NXDOMAIN storm from {client} over {} domains", w.domains.len()),
            explanation: format!(
                "{client} received {} NXDOMAIN answers in {secs:.0} s for names under {} different registered \
                 domains, as malware does when it tries generated domain names until one resolves.",
                w.answers,
                w.domains.len()
            ),
            techniques: vec![Technique::Dga],
            evidence: AlertEvidence {
                uids: w.uids.clone(),
                counts: vec![
                    ("nxdomain_answers".to_owned(), w.answers as f64),
                    ("registered_domains".to_owned(), w.domains.len() as f64),
                    ("seconds".to_owned(), secs),
                ],
                samples: w.samples.clone(),
                domain: None,
            },
        });
    }
}
