//! Detection: records in, alerts out.
//!
//! The worker pipeline hands every DNS transaction ([`DnsSeen`]) and every ended connection
//! ([`ConnSeen`]) to its [`Detectors`], which keep bounded per-client and per-domain state and
//! raise [`Alert`]s into an [`AlertSink`]. One [`Detectors`] per worker: no locks, no shared
//! state; a client's DNS stays on one worker because flows are hashed by address pair.
//!
//! | file | what it holds |
//! |---|---|
//! | `alert.rs` | [`Alert`]: the schema every detector, output and the SOC use |
//! | `ocsf.rs` | [`ocsf::detection_finding`]: an alert as an OCSF Detection Finding (2004) |
//! | `config.rs` | [`DetectConfig`]: every threshold, with its default |
//! | `names.rs` | registered domains (Public Suffix List) and encoded-looking subdomains |
//! | `dga.rs` | [`dga::Model`]: the character trigram model of domain names, shipped in `data/` |
//! | `bounded.rs` | the capped LRU table all state lives in, evictions counted |
//! | `dns/tunnel.rs` | DNS tunnelling, with resolver forwarding resolved to the client |
//! | `dns/dga.rs` | domain generation algorithms: generated-looking names and NXDOMAIN storms per client |
//! | `dns/answers.rs` | fast-flux answers, large TXT answers |
//! | `scan.rs` | port scans and address sweeps from failed connection attempts |
//! | `resolvers.rs` | rogue resolvers (outside the configured list), DNS over TLS and HTTPS |
//! | `intel/` | threat-intelligence feeds (lists, CSV, signed STIX 2.1), their matching and alerts |
//!
//! docs/alerts.md describes each detection, its evidence and thresholds, and how they were
//! evaluated on the shared captures.

#![forbid(unsafe_code)]

mod alert;
mod bounded;
mod config;
pub mod dga;
mod dns;
pub mod intel;
mod names;
pub mod ocsf;
mod resolvers;
mod scan;

pub use alert::{Alert, AlertEvidence, Entity, IntelMatch, Severity, Technique};
pub use config::{DetectConfig, DgaConfig, FastFluxConfig, LargeTxtConfig, ResolverConfig, ScanConfig, TunnelConfig};

use core::net::IpAddr;
use sensor_analyzers::dns::DnsRecord;
use sensor_wire::Timestamp;

/// A DNS transaction, as the detectors see it.
#[derive(Debug, Clone, Copy)]
pub struct DnsSeen<'a> {
    /// The uid of its connection.
    pub uid: &'a str,
    /// The host that asked.
    pub client: IpAddr,
    /// The server it asked.
    pub server: IpAddr,
    /// The server's port.
    pub server_port: u16,
    /// The transaction.
    pub rec: &'a DnsRecord,
}

/// A connection that ended, as the detectors see it.
#[derive(Debug, Clone, Copy)]
pub struct ConnSeen<'a> {
    /// When it started.
    pub ts: Timestamp,
    /// Its uid.
    pub uid: &'a str,
    /// Originator.
    pub orig_h: IpAddr,
    /// Responder.
    pub resp_h: IpAddr,
    /// Responder port.
    pub resp_p: u16,
    /// IP protocol number.
    pub ip_proto: u8,
    /// Payload bytes from the originator.
    pub orig_bytes: u64,
    /// Payload bytes from the responder.
    pub resp_bytes: u64,
    /// The originator opened it with a SYN (its history starts with `S`).
    pub orig_syn: bool,
}

/// A flow that just started, as the detectors see it.
#[derive(Debug, Clone, Copy)]
pub struct FlowSeen<'a> {
    /// Its first packet.
    pub ts: Timestamp,
    /// Its uid.
    pub uid: &'a str,
    /// Originator.
    pub orig_h: IpAddr,
    /// Responder.
    pub resp_h: IpAddr,
    /// Responder port.
    pub resp_p: u16,
}

/// Where alerts go.
pub trait AlertSink {
    /// A detector raised `alert`.
    fn alert(&mut self, alert: &Alert);
}

/// Counters of the detectors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DetectStats {
    /// DNS transactions looked at.
    pub dns: u64,
    /// Connections looked at.
    pub conns: u64,
    /// Alerts raised.
    pub alerts: u64,
    /// Entries dropped from full per-client or per-domain tables.
    pub evicted: u64,
}

/// Hands a detector's alert its id and the MAC addresses known of its hosts, and passes it on.
pub(crate) struct Raise<'a> {
    seed: u64,
    serial: &'a mut u64,
    macs: &'a mut bounded::Bounded<IpAddr, [u8; 6]>,
    sink: &'a mut dyn AlertSink,
}

impl Raise<'_> {
    pub(crate) fn alert(&mut self, mut alert: Alert) {
        *self.serial += 1;
        alert.id = sensor_flow::tagged_id(b'A', self.seed, *self.serial).to_string();
        let entities = core::iter::once(&mut alert.src).chain(alert.dst.as_mut()).chain(alert.path.iter_mut());
        for e in entities {
            if e.mac.is_none()
                && let Some(mac) = self.macs.get_mut(&e.ip)
            {
                e.mac = Some(mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":"));
            }
        }
        self.sink.alert(&alert);
    }
}

/// One worker's detectors.
pub struct Detectors {
    enabled: bool,
    dns: dns::DnsDetectors,
    resolvers: resolvers::Resolvers,
    scans: scan::Scans,
    intel: intel::IntelDetector,
    /// MAC addresses of local hosts, learned from the frames that started their flows.
    macs: bounded::Bounded<IpAddr, [u8; 6]>,
    seed: u64,
    serial: u64,
    stats: DetectStats,
}

impl Detectors {
    /// Detectors configured by `cfg`; `seed` keeps alert ids of runs and workers apart.
    pub fn new(cfg: &DetectConfig, seed: u64) -> Detectors {
        Detectors {
            enabled: cfg.enabled,
            dns: dns::DnsDetectors::new(cfg),
            resolvers: resolvers::Resolvers::new(cfg),
            scans: scan::Scans::new(&cfg.scan, cfg.max_tracked),
            intel: intel::IntelDetector::new(cfg.cooldown, cfg.max_tracked),
            macs: bounded::Bounded::new(cfg.max_tracked),
            seed,
            serial: 0,
            stats: DetectStats::default(),
        }
    }

    /// Applies new settings at once. The detectors' counts and cooldowns start over (a change
    /// of thresholds under way would judge old counts by new rules); the indicators loaded, the
    /// MAC addresses learned, the alert ids and the counters stay.
    pub fn reconfigure(&mut self, cfg: &DetectConfig) {
        self.enabled = cfg.enabled;
        self.dns = dns::DnsDetectors::new(cfg);
        self.resolvers = resolvers::Resolvers::new(cfg);
        self.scans = scan::Scans::new(&cfg.scan, cfg.max_tracked);
        self.intel = self.intel.reconfigured(cfg.cooldown, cfg.max_tracked);
    }

    /// Looks at a DNS transaction.
    pub fn dns(&mut self, seen: &DnsSeen<'_>, sink: &mut dyn AlertSink) {
        if !self.enabled {
            return;
        }
        self.stats.dns += 1;
        let mut raise = Raise { seed: self.seed, serial: &mut self.serial, macs: &mut self.macs, sink };
        self.resolvers.dns(seen, &mut raise);
        self.intel.dns(seen, &mut raise);
        self.dns.observe(seen, &mut raise);
    }

    /// Matches threat-intelligence indicators from `handle` (reloads published through it are
    /// seen at the next lookup).
    pub fn set_intel(&mut self, handle: intel::IntelHandle) {
        self.intel.set_handle(handle);
    }

    /// Whether starting flows need to be shown ([`Detectors::flow`]): only when indicators are
    /// loaded, so that the pipeline does not build a [`FlowSeen`] for nothing.
    pub fn watches_flows(&self) -> bool {
        self.enabled && self.intel.active()
    }

    /// Looks at a flow that just started.
    pub fn flow(&mut self, seen: &FlowSeen<'_>, sink: &mut dyn AlertSink) {
        if !self.enabled {
            return;
        }
        let mut raise = Raise { seed: self.seed, serial: &mut self.serial, macs: &mut self.macs, sink };
        self.intel.flow(seen, &mut raise);
    }

    /// Looks at an ended connection.
    pub fn conn(&mut self, seen: &ConnSeen<'_>, sink: &mut dyn AlertSink) {
        if !self.enabled {
            return;
        }
        self.stats.conns += 1;
        let mut raise = Raise { seed: self.seed, serial: &mut self.serial, macs: &mut self.macs, sink };
        self.resolvers.conn(seen, &mut raise);
        self.scans.conn(seen, &mut raise);
    }

    /// Notes the MAC address a local host sent a frame from (called when a flow starts: the
    /// first frame of a flow from a host on the monitored segment). Alerts about the host carry
    /// it. Only for local addresses: a remote host's frames come from the router's MAC.
    pub fn learn_mac(&mut self, host: IpAddr, mac: [u8; 6]) {
        if self.enabled {
            *self.macs.entry(host, || mac) = mac;
        }
    }

    /// Counters.
    pub fn stats(&self) -> DetectStats {
        let evicted = self.dns.evicted()
            + self.resolvers.evicted()
            + self.scans.evicted()
            + self.intel.evicted()
            + self.macs.evicted();
        DetectStats { alerts: self.serial, evicted, ..self.stats }
    }
}

#[cfg(test)]
mod tests;
