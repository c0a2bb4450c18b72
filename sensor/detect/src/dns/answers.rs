//! What answers reveal: fast flux (T1568.001), many short-lived addresses spread over many
//! networks for one domain; and unusually large TXT answers (T1105), the way payloads and
//! scripts are staged in DNS.

use super::{DnsSeen, Raise};
use crate::alert::{Alert, AlertEvidence, Entity, Severity, Technique};
use crate::bounded::Bounded;
use crate::config::{DetectConfig, FastFluxConfig, LargeTxtConfig};
use crate::names::Split;
use core::net::IpAddr;
use sensor_wire::Timestamp;
use std::time::Duration;

const FLUX: &str = "dns.fast_flux";
const FLUX_VERSION: u16 = 1;
const TXT: &str = "dns.large_txt";
const TXT_VERSION: u16 = 1;
/// Distinct addresses remembered per domain (past it, the count stops growing).
const MAX_ADDRESSES: usize = 64;
const SAMPLES: usize = 5;
/// QTYPE TXT.
const TXT_TYPE: u16 = 16;

/// The network an address counts in for spread: its /16 (IPv4) or /32 (IPv6).
fn network(addr: IpAddr) -> u32 {
    match addr {
        IpAddr::V4(v4) => u32::from(v4) >> 16,
        IpAddr::V6(v6) => (v6.to_bits() >> 96) as u32,
    }
}

struct Flux {
    first: Timestamp,
    last: Timestamp,
    addrs: Vec<IpAddr>,
    uids: Vec<String>,
    alerted: Option<Timestamp>,
}

struct LargeTxt {
    count: u64,
    largest: u32,
    first: Timestamp,
    uids: Vec<String>,
    alerted: Option<Timestamp>,
}

pub(crate) struct Answers {
    flux_cfg: FastFluxConfig,
    txt_cfg: LargeTxtConfig,
    cooldown: Duration,
    flux: Bounded<u64, Flux>,
    txt: Bounded<(IpAddr, u64), LargeTxt>,
}

impl Answers {
    pub(crate) fn new(cfg: &DetectConfig) -> Answers {
        Answers {
            flux_cfg: cfg.fast_flux.clone(),
            txt_cfg: cfg.large_txt.clone(),
            cooldown: cfg.cooldown,
            flux: Bounded::new(cfg.max_tracked),
            txt: Bounded::new(cfg.max_tracked),
        }
    }

    pub(crate) fn evicted(&self) -> u64 {
        self.flux.evicted() + self.txt.evicted()
    }

    pub(crate) fn observe(&mut self, seen: &DnsSeen<'_>, split: Split<'_>, domain: u64, raise: &mut Raise<'_>) {
        self.fast_flux(seen, split, domain, raise);
        self.large_txt(seen, split, domain, raise);
    }

    fn fast_flux(&mut self, seen: &DnsSeen<'_>, split: Split<'_>, domain_hash: u64, raise: &mut Raise<'_>) {
        let rec = seen.rec;
        let addrs = rec.answer_addrs();
        let max_ttl = rec.ttls().iter().copied().max().unwrap_or(u32::MAX);
        if addrs.is_empty() || max_ttl > self.flux_cfg.max_ttl {
            return;
        }
        let ts = rec.ts;
        let f = self.flux.entry(domain_hash, || Flux {
            first: ts,
            last: ts,
            addrs: Vec::new(),
            uids: Vec::new(),
            alerted: None,
        });
        if ts.since(f.last) > self.flux_cfg.idle {
            *f = Flux { first: ts, last: ts, addrs: Vec::new(), uids: Vec::new(), alerted: f.alerted };
        }
        f.last = f.last.max(ts);
        for &a in addrs {
            if f.addrs.len() < MAX_ADDRESSES && !f.addrs.contains(&a) {
                f.addrs.push(a);
            }
        }
        if f.uids.len() < SAMPLES && !f.uids.iter().any(|u| u == seen.uid) {
            f.uids.push(seen.uid.to_owned());
        }
        let cooling = f.alerted.is_some_and(|at| ts.since(at) < self.cooldown);
        if cooling || f.addrs.len() < self.flux_cfg.min_addresses {
            return;
        }
        // Only now, for the few domains with that many addresses: most low-TTL answers are CDNs
        // with a handful.
        let mut networks: Vec<u32> = f.addrs.iter().map(|&a| network(a)).collect();
        networks.sort_unstable();
        networks.dedup();
        if networks.len() < self.flux_cfg.min_networks {
            return;
        }
        f.alerted = Some(ts);
        let domain = split.registered;
        let secs = ts.since(f.first).as_secs_f64();
        raise.alert(Alert {
            ts,
            id: String::new(),
            src: Entity::ip(seen.client),
            dst: Some(Entity::ip(seen.server)),
            path: Vec::new(),
            severity: Severity::Medium,
            confidence: 0.6,
            detector: FLUX.to_owned(),
            detector_version: FLUX_VERSION,
            title: format!("Fast-flux answers for {domain}"),
            explanation: format!(
                "{domain} resolved to {} distinct addresses in {} networks within {secs:.0} s, every TTL at most \
                 {max_ttl} s: the pattern of fast-flux hosting, which hides servers behind a changing set of \
                 compromised machines. Last asked by {}.",
                f.addrs.len(),
                networks.len(),
                seen.client
            ),
            techniques: vec![Technique::FastFlux],
            evidence: AlertEvidence {
                uids: f.uids.clone(),
                counts: vec![
                    ("addresses".to_owned(), f.addrs.len() as f64),
                    ("networks".to_owned(), networks.len() as f64),
                    ("max_ttl".to_owned(), f64::from(max_ttl)),
                ],
                samples: f.addrs.iter().take(SAMPLES).map(IpAddr::to_string).collect(),
                domain: Some(domain.to_owned()),
                intel: Vec::new(),
            },
        });
    }

    fn large_txt(&mut self, seen: &DnsSeen<'_>, split: Split<'_>, domain_hash: u64, raise: &mut Raise<'_>) {
        let rec = seen.rec;
        let size = rec.response_len.unwrap_or(0);
        if rec.qtype != Some(TXT_TYPE) || (size as usize) < self.txt_cfg.min_bytes {
            return;
        }
        let ts = rec.ts;
        let t = self.txt.entry((seen.client, domain_hash), || LargeTxt {
            count: 0,
            largest: 0,
            first: ts,
            uids: Vec::new(),
            alerted: None,
        });
        if t.alerted.is_some_and(|at| ts.since(at) >= self.cooldown) {
            *t = LargeTxt { count: 0, largest: 0, first: ts, uids: Vec::new(), alerted: None };
        }
        t.count += 1;
        t.largest = t.largest.max(size);
        if t.uids.len() < SAMPLES && !t.uids.iter().any(|u| u == seen.uid) {
            t.uids.push(seen.uid.to_owned());
        }
        if t.alerted.is_some() || t.count < self.txt_cfg.min_answers {
            return;
        }
        t.alerted = Some(ts);
        let (client, domain) = (seen.client, split.registered);
        raise.alert(Alert {
            ts,
            id: String::new(),
            src: Entity::ip(client),
            dst: Some(Entity::ip(seen.server)),
            path: Vec::new(),
            severity: Severity::Low,
            confidence: 0.4,
            detector: TXT.to_owned(),
            detector_version: TXT_VERSION,
            title: format!("Large TXT answers from {domain} to {client}"),
            explanation: format!(
                "{client} received {} TXT responses of at least {} bytes for names under {domain} (largest {} \
                 bytes) in {:.0} s; TXT records are where payloads and scripts are staged in DNS.",
                t.count,
                self.txt_cfg.min_bytes,
                t.largest,
                ts.since(t.first).as_secs_f64()
            ),
            techniques: vec![Technique::IngressToolTransfer],
            evidence: AlertEvidence {
                uids: t.uids.clone(),
                counts: vec![
                    ("large_responses".to_owned(), t.count as f64),
                    ("largest".to_owned(), f64::from(t.largest)),
                ],
                samples: vec![rec.query().unwrap_or_default().to_owned()],
                domain: Some(domain.to_owned()),
                intel: Vec::new(),
            },
        });
    }
}
