//! Port scans and address sweeps (T1046 Network Service Discovery), from ended connections.
//!
//! A **probe** is a TCP connection its originator opened with a SYN and in which neither side
//! sent a byte of payload: unanswered (S0), refused (REJ), reset, or a bare handshake. Per
//! scanner (originator), the distinct (host, port) pairs it probed are counted two ways:
//!
//! - **port scan** (vertical): [`ScanConfig::ports`] distinct ports of one host;
//! - **address sweep** (horizontal): [`ScanConfig::hosts`] distinct hosts on one port; only
//!   private, unique-local and link-local hosts count unless [`ScanConfig::sweep_any_host`]:
//!   east-west sweeps are what this sensor watches, and a client whose outbound connections a
//!   firewall drops would otherwise look like one.
//!
//! A scanner's counts start over after [`ScanConfig::idle`] without a probe, so a slow sweep
//! (a probe every few minutes) is still seen. Each host scanned, and each port swept, is
//! alerted once per scanner until the counts start over. Connections whose originator did not
//! send a SYN (backscatter: SYN-ACKs and RSTs answering someone else's spoofed traffic) are not
//! probes. Memory is bounded: [`DetectConfig::max_tracked`] scanners, each remembering at most
//! [`MAX_PROBES`] pairs.
//!
//! [`DetectConfig::max_tracked`]: crate::DetectConfig::max_tracked

use crate::alert::{Alert, AlertEvidence, Entity, Severity, Technique};
use crate::bounded::Bounded;
use crate::config::ScanConfig;
use crate::{ConnSeen, Raise};
use core::net::IpAddr;
use sensor_wire::Timestamp;
use std::collections::{HashMap, HashSet};

const DETECTOR: &str = "net.scan";
const VERSION: u16 = 1;
/// TCP.
const TCP: u8 = 6;
/// Distinct (host, port) pairs one scanner's state remembers; beyond, probes still count
/// towards nothing new (a scanner that far along has been alerted on).
pub const MAX_PROBES: usize = 4096;
/// Uids kept as evidence per alert.
const EVIDENCE_UIDS: usize = 8;
/// Sample targets listed in an alert.
const SAMPLES: usize = 16;

/// What one scanner did since its counts last started.
#[derive(Default)]
struct Scanner {
    last: Timestamp,
    probes: HashSet<(IpAddr, u16)>,
    ports_of: HashMap<IpAddr, Vec<u16>>,
    hosts_on: HashMap<u16, Vec<IpAddr>>,
    uids: Vec<String>,
    alerted_hosts: HashSet<IpAddr>,
    alerted_ports: HashSet<u16>,
}

/// The scan detector.
pub(crate) struct Scans {
    cfg: ScanConfig,
    scanners: Bounded<IpAddr, Scanner>,
}

/// An address a sweep of which is east-west.
fn internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_private() || a.is_link_local(),
        IpAddr::V6(a) => a.is_unique_local() || a.is_unicast_link_local(),
    }
}

impl Scans {
    pub(crate) fn new(cfg: &ScanConfig, max_tracked: usize) -> Scans {
        Scans { cfg: cfg.clone(), scanners: Bounded::new(max_tracked) }
    }

    pub(crate) fn evicted(&self) -> u64 {
        self.scanners.evicted()
    }

    pub(crate) fn conn(&mut self, seen: &ConnSeen<'_>, raise: &mut Raise<'_>) {
        let probe = seen.ip_proto == TCP && seen.orig_syn && seen.orig_bytes == 0 && seen.resp_bytes == 0;
        if !self.cfg.enabled || !probe || seen.resp_h.is_multicast() || seen.orig_h == seen.resp_h {
            return;
        }
        let (host, port) = (seen.resp_h, seen.resp_p);
        let s = self.scanners.entry(seen.orig_h, Scanner::default);
        if seen.ts.0.saturating_sub(s.last.0) > self.cfg.idle.as_nanos() as u64 && !s.probes.is_empty() {
            *s = Scanner::default();
        }
        s.last = s.last.max(seen.ts);
        if s.probes.len() >= MAX_PROBES || !s.probes.insert((host, port)) {
            return;
        }
        if s.uids.len() < EVIDENCE_UIDS {
            s.uids.push(seen.uid.to_owned());
        }
        let ports = s.ports_of.entry(host).or_default();
        ports.push(port);
        if ports.len() >= self.cfg.ports && s.alerted_hosts.insert(host) {
            let alert = port_scan(seen, host, ports, &s.uids);
            raise.alert(alert);
        }
        if self.cfg.sweep_any_host || internal(host) {
            let hosts = s.hosts_on.entry(port).or_default();
            hosts.push(host);
            if hosts.len() >= self.cfg.hosts && s.alerted_ports.insert(port) {
                let alert = sweep(seen, port, hosts, &s.uids);
                raise.alert(alert);
            }
        }
    }
}

fn alert(
    seen: &ConnSeen<'_>,
    dst: Option<IpAddr>,
    title: String,
    explanation: String,
    evidence: AlertEvidence,
) -> Alert {
    Alert {
        ts: seen.ts,
        id: String::new(),
        src: Entity::ip(seen.orig_h),
        dst: dst.map(Entity::ip),
        path: Vec::new(),
        severity: Severity::Medium,
        confidence: 0.8,
        detector: DETECTOR.to_owned(),
        detector_version: VERSION,
        title,
        explanation,
        techniques: vec![Technique::NetworkServiceDiscovery],
        evidence,
    }
}

fn port_scan(seen: &ConnSeen<'_>, host: IpAddr, ports: &[u16], uids: &[String]) -> Alert {
    let scanner = seen.orig_h;
    let list: Vec<String> = ports.iter().take(SAMPLES).map(u16::to_string).collect();
    alert(
        seen,
        Some(host),
        format!("Port scan of {host} by {scanner}"),
        format!(
            "{scanner} tried {} TCP ports of {host} without exchanging any data on them (unanswered, refused or \
             reset): {}{}.",
            ports.len(),
            list.join(", "),
            if ports.len() > SAMPLES { ", …" } else { "" }
        ),
        AlertEvidence {
            uids: uids.to_vec(),
            counts: vec![("ports".to_owned(), ports.len() as f64)],
            samples: ports.iter().take(SAMPLES).map(|p| format!("{host}:{p}")).collect(),
            domain: None,
            intel: Vec::new(),
        },
    )
}

fn sweep(seen: &ConnSeen<'_>, port: u16, hosts: &[IpAddr], uids: &[String]) -> Alert {
    let scanner = seen.orig_h;
    let list: Vec<String> = hosts.iter().take(SAMPLES).map(IpAddr::to_string).collect();
    alert(
        seen,
        None,
        format!("Address sweep of port {port}/tcp by {scanner}"),
        format!(
            "{scanner} tried TCP port {port} on {} hosts without exchanging any data (unanswered, refused or \
             reset): {}{}.",
            hosts.len(),
            list.join(", "),
            if hosts.len() > SAMPLES { ", …" } else { "" }
        ),
        AlertEvidence {
            uids: uids.to_vec(),
            counts: vec![("hosts".to_owned(), hosts.len() as f64), ("port".to_owned(), f64::from(port))],
            samples: hosts.iter().take(SAMPLES).map(|h| format!("{h}:{port}")).collect(),
            domain: None,
            intel: Vec::new(),
        },
    )
}
