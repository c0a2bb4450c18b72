//! DNS that goes around the site's resolvers: clients querying a server outside the configured
//! corporate list (rogue or direct-to-internet DNS, T1071.004), and DNS over TLS (port 853) or
//! over HTTPS to well-known public resolvers (T1572), which hides lookups from the site's
//! resolvers and from this sensor.
//!
//! DNS over HTTPS to a server not in the lists looks like any HTTPS; the TLS analyser's server
//! names will widen this detection when it exists.

use crate::alert::{Alert, AlertEvidence, Entity, Severity, Technique};
use crate::bounded::Bounded;
use crate::config::DetectConfig;
use crate::{ConnSeen, DnsSeen, Raise};
use core::net::IpAddr;
use ipnet::IpNet;
use sensor_wire::Timestamp;
use std::time::Duration;

const ROGUE: &str = "dns.rogue_resolver";
const ROGUE_VERSION: u16 = 1;
const ENCRYPTED: &str = "dns.encrypted";
const ENCRYPTED_VERSION: u16 = 1;
/// DNS over TLS (RFC 7858) and over QUIC (RFC 9250).
const DOT_PORT: u16 = 853;
const HTTPS_PORT: u16 = 443;

/// Public DNS-over-HTTPS resolvers by address (the providers' published addresses; docs/alerts.md
/// lists them). `ResolverConfig::extra_doh_servers` adds to it.
const PUBLIC_DOH: &[&str] = &[
    // Cloudflare
    "1.1.1.1/32",
    "1.0.0.1/32",
    "1.1.1.2/32",
    "1.0.0.2/32",
    "1.1.1.3/32",
    "1.0.0.3/32",
    "2606:4700:4700::1111/128",
    "2606:4700:4700::1001/128",
    "2606:4700:4700::1112/128",
    "2606:4700:4700::1002/128",
    "2606:4700:4700::1113/128",
    "2606:4700:4700::1003/128",
    // Google
    "8.8.8.8/32",
    "8.8.4.4/32",
    "2001:4860:4860::8888/128",
    "2001:4860:4860::8844/128",
    // Quad9
    "9.9.9.9/32",
    "149.112.112.112/32",
    "9.9.9.10/32",
    "9.9.9.11/32",
    "2620:fe::fe/128",
    "2620:fe::9/128",
    // OpenDNS (Cisco Umbrella)
    "208.67.222.222/32",
    "208.67.220.220/32",
    "146.112.41.2/32",
    "2620:119:35::35/128",
    "2620:119:53::53/128",
    // AdGuard
    "94.140.14.14/32",
    "94.140.15.15/32",
    "2a10:50c0::ad1:ff/128",
    "2a10:50c0::ad2:ff/128",
    // CleanBrowsing
    "185.228.168.168/32",
    "185.228.169.168/32",
    // NextDNS (anycast ranges)
    "45.90.28.0/24",
    "45.90.30.0/24",
];

/// Which of the two detections an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Rogue,
    Encrypted,
}

pub(crate) struct Resolvers {
    corporate: Vec<IpNet>,
    doh: Vec<IpNet>,
    cooldown: Duration,
    /// When each (detection, client, server) was last alerted.
    alerted: Bounded<(Kind, IpAddr, IpAddr), Timestamp>,
}

impl Resolvers {
    pub(crate) fn new(cfg: &DetectConfig) -> Resolvers {
        let builtin = PUBLIC_DOH.iter().filter_map(|n| n.parse::<IpNet>().ok());
        Resolvers {
            corporate: cfg.resolvers.corporate.clone(),
            doh: builtin.chain(cfg.resolvers.extra_doh_servers.iter().copied()).collect(),
            cooldown: cfg.cooldown,
            alerted: Bounded::new(cfg.max_tracked),
        }
    }

    pub(crate) fn evicted(&self) -> u64 {
        self.alerted.evicted()
    }

    /// Whether this (detection, client, server) may alert now; if so, notes that it did.
    fn first_in_cooldown(&mut self, kind: Kind, client: IpAddr, server: IpAddr, ts: Timestamp) -> bool {
        let cooldown = self.cooldown;
        let last = self.alerted.entry((kind, client, server), || Timestamp(0));
        if last.0 != 0 && ts.since(*last) < cooldown {
            return false;
        }
        *last = ts;
        true
    }

    pub(crate) fn dns(&mut self, seen: &DnsSeen<'_>, raise: &mut Raise<'_>) {
        let (client, server) = (seen.client, seen.server);
        let listed = |h: &IpAddr| self.corporate.iter().any(|n| n.contains(h));
        if self.corporate.is_empty()
            || seen.server_port != 53
            || server.is_multicast()
            || listed(&server)
            || listed(&client)
            || !self.first_in_cooldown(Kind::Rogue, client, server, seen.rec.ts)
        {
            return;
        }
        raise.alert(Alert {
            ts: seen.rec.ts,
            id: String::new(),
            src: Entity::ip(client),
            dst: Some(Entity::ip(server)),
            path: Vec::new(),
            severity: Severity::Low,
            confidence: 0.5,
            detector: ROGUE.to_owned(),
            detector_version: ROGUE_VERSION,
            title: format!("{client} resolves through {server}, not a corporate resolver"),
            explanation: format!(
                "{client} sent DNS queries to {server}, which is not in the configured corporate resolver list: \
                 lookups that bypass the site's resolvers escape its filtering and logging (a rogue resolver, or \
                 malware resolving directly)."
            ),
            techniques: vec![Technique::DnsC2],
            evidence: AlertEvidence {
                uids: vec![seen.uid.to_owned()],
                counts: Vec::new(),
                samples: seen.rec.query().map(str::to_owned).into_iter().collect(),
                domain: None,
                intel: Vec::new(),
            },
        });
    }

    pub(crate) fn conn(&mut self, seen: &ConnSeen<'_>, raise: &mut Raise<'_>) {
        let (client, server) = (seen.orig_h, seen.resp_h);
        let how = match seen.resp_p {
            DOT_PORT if seen.ip_proto == 6 => "DNS over TLS (TCP port 853)",
            DOT_PORT if seen.ip_proto == 17 => "DNS over QUIC (UDP port 853)",
            HTTPS_PORT if self.doh.iter().any(|n| n.contains(&server)) => "HTTPS to a public DNS-over-HTTPS resolver",
            _ => return,
        };
        if !self.first_in_cooldown(Kind::Encrypted, client, server, seen.ts) {
            return;
        }
        raise.alert(Alert {
            ts: seen.ts,
            id: String::new(),
            src: Entity::ip(client),
            dst: Some(Entity::ip(server)),
            path: Vec::new(),
            severity: Severity::Low,
            confidence: if seen.resp_p == DOT_PORT { 0.8 } else { 0.6 },
            detector: ENCRYPTED.to_owned(),
            detector_version: ENCRYPTED_VERSION,
            title: format!("Encrypted DNS from {client} to {server}"),
            explanation: format!(
                "{client} used {how} at {server} ({} bytes back): its lookups are hidden from the site's \
                 resolvers and from this sensor's DNS analytics.",
                seen.resp_bytes
            ),
            techniques: vec![Technique::ProtocolTunneling],
            evidence: AlertEvidence {
                uids: vec![seen.uid.to_owned()],
                counts: vec![("resp_bytes".to_owned(), seen.resp_bytes as f64)],
                samples: Vec::new(),
                domain: None,
                intel: Vec::new(),
            },
        });
    }
}
