//! DNS tunnelling (T1071.004, T1048): per client and registered domain, the evidence RITA and
//! the tunnel literature use, and who the client really is when a resolver forwards its queries.
//!
//! ## What is counted
//! Per (client, registered domain), until it has been idle for [`TunnelConfig::idle`]: queries,
//! unique subdomains (a linear-counting bitmap, [`UniqueCounter`]), subdomain length, queries
//! whose subdomain looks encoded ([`Shape`]), queries of record types tunnels favour (TXT, NULL,
//! CNAME, MX, KEY, SRV, private-use types), and bytes of queries and answers.
//!
//! ## When it alerts
//! Once [`TunnelConfig::min_queries`] queries are in, one alert when any rule holds:
//! - volume with shape: the first unique-subdomain band, and either
//!   [`TunnelConfig::encoded_share`] of the queries encoded-looking or a mean subdomain of
//!   [`TunnelConfig::long_mean_length`] characters. High from the second band, or past
//!   [`TunnelConfig::high_bytes`].
//! - low and slow: below the first band, but [`TunnelConfig::slow_encoded_share`] encoded-looking
//!   with a mean subdomain of [`TunnelConfig::slow_mean_length`] (a C2 channel that never reaches
//!   a band). High when nearly all queries are encoded ([`TunnelConfig::strong_encoded_share`]).
//! - volume alone: the last band, whatever the names look like (medium: RITA's rule, and its
//!   false positives, such as reputation lookups, are why it is not high).
//!
//! One alert per client and domain per cooldown, and one more if it turns from medium to high.
//!
//! ## Resolvers
//! A recursive resolver forwards each tunnel query under its own address, so on a capture that
//! sees both legs the same encoded name is asked twice within moments: by the client, then by
//! the resolver (from whichever interface faces upstream). [`Echoes`] remembers recent encoded
//! names; a name asked again by another host within [`ECHO_WINDOW`] marks the later asker as a
//! forwarder of the earlier one for that domain. A forwarder is not alerted on for the domain
//! (its queries are the client's), and the client's alert names it in `path`. When only the
//! resolver's leg is visible, the resolver is the best source there is, and is named.

use super::{DnsSeen, Raise};
use crate::alert::{Alert, AlertEvidence, Entity, Severity, Technique};
use crate::bounded::Bounded;
use crate::config::TunnelConfig;
use crate::names::{Shape, Split};
use core::net::IpAddr;
use sensor_wire::Timestamp;
use std::time::Duration;
use xxhash_rust::xxh3::xxh3_64;

/// The detector's id and version (bump the version when the logic or defaults change).
const DETECTOR: &str = "dns.tunnel";
const VERSION: u16 = 1;

/// How soon after a client's query a forwarder's copy of it follows. Recursive resolvers forward
/// within milliseconds; a second client asking the same one-off encoded name seconds later is
/// not plausible.
pub(crate) const ECHO_WINDOW: Duration = Duration::from_secs(2);
/// Echoes that make a host a forwarder for a domain (besides a quarter of its queries).
const MIN_ECHOES: u64 = 3;
/// Sample query names, uids and path hosts kept per client and domain.
const SAMPLES: usize = 3;
const UIDS: usize = 8;
const PATH: usize = 4;

/// Record types tunnels use for their downstream capacity.
fn tunnel_friendly(qtype: u16) -> bool {
    // TXT, NULL, CNAME, MX, KEY, SRV, private use (iodine's PRIVATE is 65399).
    matches!(qtype, 16 | 10 | 5 | 15 | 25 | 33 | 0xff00..=0xfffe)
}

/// A linear-counting distinct counter (Whang et al., 1990) over a fixed bitmap: accurate to a few
/// percent up to a few thousand, which is past the last band, in 256 bytes.
#[derive(Clone)]
pub(crate) struct UniqueCounter([u64; UniqueCounter::WORDS]);

impl UniqueCounter {
    const WORDS: usize = 32;
    const BITS: usize = Self::WORDS * 64;

    fn new() -> Self {
        UniqueCounter([0; Self::WORDS])
    }

    fn insert(&mut self, hash: u64) {
        let bit = (hash % Self::BITS as u64) as usize;
        self.0[bit / 64] |= 1 << (bit % 64);
    }

    /// The estimated number of distinct values inserted.
    fn estimate(&self) -> u64 {
        let m = Self::BITS as f64;
        let zeros = self.0.iter().map(|w| w.count_zeros()).sum::<u32>();
        // All bits set: saturated, past what the bitmap can tell (about m·ln m).
        let zeros = f64::from(zeros.max(1));
        (m * (m / zeros).ln()).round() as u64
    }
}

/// What is known of one client's queries under one registered domain.
pub(crate) struct Activity {
    domain: String,
    first: Timestamp,
    last: Timestamp,
    queries: u64,
    unique: UniqueCounter,
    encoded: u64,
    friendly_types: u64,
    sub_len: u64,
    bytes: u64,
    /// Times this host repeated another host's encoded name: it forwards for that host.
    echoes: u64,
    /// Hosts seen forwarding this client's queries (resolver interfaces).
    path: Vec<IpAddr>,
    server: IpAddr,
    samples: Vec<String>,
    uids: Vec<String>,
    /// When the last alert was raised, and how severe it was.
    alerted: Option<(Timestamp, Severity)>,
}

impl Activity {
    fn new(domain: &str, ts: Timestamp, server: IpAddr) -> Activity {
        Activity {
            domain: domain.to_owned(),
            first: ts,
            last: ts,
            queries: 0,
            unique: UniqueCounter::new(),
            encoded: 0,
            friendly_types: 0,
            sub_len: 0,
            bytes: 0,
            echoes: 0,
            path: Vec::new(),
            server,
            samples: Vec::new(),
            uids: Vec::new(),
            alerted: None,
        }
    }

    /// Whether this host forwards other hosts' queries for the domain (a resolver leg).
    fn is_forwarder(&self) -> bool {
        self.echoes >= MIN_ECHOES.max(self.queries / 4)
    }
}

/// Recent names, by hash: who asked and when.
pub(crate) struct Echoes(Bounded<u64, (IpAddr, Timestamp)>);

/// The tunnel detector of one worker.
pub(crate) struct Tunnel {
    cfg: TunnelConfig,
    /// [`TunnelConfig::allow_domains`], lower case.
    allowed: Vec<String>,
    cooldown: Duration,
    activity: Bounded<(IpAddr, u64), Activity>,
    echoes: Echoes,
}

impl Tunnel {
    pub(crate) fn new(cfg: &TunnelConfig, cooldown: Duration, max_tracked: usize) -> Tunnel {
        Tunnel {
            cfg: cfg.clone(),
            allowed: cfg.allow_domains.iter().map(|d| d.trim_end_matches('.').to_ascii_lowercase()).collect(),
            cooldown,
            activity: Bounded::new(max_tracked),
            echoes: Echoes(Bounded::new(max_tracked)),
        }
    }

    /// Whether `client` is seen forwarding other hosts' queries under the domain of
    /// `domain_hash` (its traffic there is theirs).
    pub(crate) fn forwards(&mut self, client: IpAddr, domain_hash: u64) -> bool {
        self.activity.get_mut(&(client, domain_hash)).is_some_and(|a| a.is_forwarder())
    }

    /// Entries dropped from full tables.
    pub(crate) fn evicted(&self) -> u64 {
        self.activity.evicted() + self.echoes.0.evicted()
    }

    pub(crate) fn observe(
        &mut self,
        seen: &DnsSeen<'_>,
        name: &str,
        split: Split<'_>,
        domain_hash: u64,
        raise: &mut Raise<'_>,
    ) {
        let ts = seen.rec.ts;
        if self.allowed.iter().any(|d| d.eq_ignore_ascii_case(split.registered)) {
            return;
        }
        let shape = Shape::of(split.sub);
        if !split.sub.is_empty() {
            self.echo(seen.client, ts, xxh3_64(name.as_bytes()), domain_hash);
        }
        let key = (seen.client, domain_hash);
        let idle = self.cfg.idle;
        let a = self.activity.entry(key, || Activity::new(split.registered, ts, seen.server));
        if ts.since(a.last) > idle {
            *a = Activity::new(split.registered, ts, seen.server);
        }
        a.last = a.last.max(ts);
        a.queries += 1;
        if !split.sub.is_empty() {
            a.unique.insert(xxh3_64(split.sub.as_bytes()));
        }
        a.encoded += u64::from(shape.encoded());
        a.friendly_types += u64::from(seen.rec.qtype.is_some_and(tunnel_friendly));
        a.sub_len += shape.len as u64;
        a.bytes += u64::from(seen.rec.request_len.unwrap_or(0)) + u64::from(seen.rec.response_len.unwrap_or(0));
        if a.samples.len() < SAMPLES && shape.encoded() {
            a.samples.push(name.to_owned());
        }
        if a.uids.len() < UIDS && !a.uids.iter().any(|u| u == seen.uid) {
            a.uids.push(seen.uid.to_owned());
        }
        if a.is_forwarder() {
            return;
        }
        let Some(x) = assess(&self.cfg, a) else { return };
        // Once per cooldown, unless it got worse: a tunnel first seen at medium is raised again
        // when it turns high.
        if a.alerted.is_some_and(|(at, was)| ts.since(at) < self.cooldown && x.severity <= was) {
            return;
        }
        a.alerted = Some((ts, x.severity));
        raise.alert(alert(seen.client, a, &x));
    }

    /// Notes a name asked by `client`; if another host asked it moments apart, the later
    /// of the two forwards for the earlier.
    fn echo(&mut self, client: IpAddr, ts: Timestamp, name_hash: u64, domain_hash: u64) {
        let (other, other_ts) = match self.echoes.0.get_mut(&name_hash) {
            Some(&mut (other, other_ts))
                if other != client && ts.since(other_ts).max(other_ts.since(ts)) <= ECHO_WINDOW =>
            {
                (other, other_ts)
            }
            Some(entry) => {
                *entry = (client, ts);
                return;
            }
            None => {
                self.echoes.0.entry(name_hash, || (client, ts));
                return;
            }
        };
        self.echoes.0.remove(&name_hash);
        let (origin, forwarder) = if other_ts <= ts { (other, client) } else { (client, other) };
        if let Some(f) = self.activity.get_mut(&(forwarder, domain_hash)) {
            f.echoes += 1;
        }
        if let Some(o) = self.activity.get_mut(&(origin, domain_hash))
            && o.path.len() < PATH
            && !o.path.contains(&forwarder)
        {
            o.path.push(forwarder);
        }
    }
}

/// The numbers an assessment rests on.
struct Assessment {
    severity: Severity,
    unique: u64,
    bands: usize,
    encoded: f64,
    mean_len: f64,
    friendly: f64,
}

/// The severity `a` deserves, if it is a tunnel (no allocation: this runs on every query of a
/// busy pair).
fn assess(cfg: &TunnelConfig, a: &Activity) -> Option<Assessment> {
    if a.queries < cfg.min_queries {
        return None;
    }
    let unique = a.unique.estimate().min(a.queries);
    let bands = cfg.unique_bands.iter().filter(|&&b| unique >= b).count();
    let n = a.queries as f64;
    let encoded = a.encoded as f64 / n;
    let mean_len = a.sub_len as f64 / n;
    let friendly = a.friendly_types as f64 / n;
    let shaped = encoded >= cfg.encoded_share || mean_len >= cfg.long_mean_length;
    let volume = bands >= 1 && shaped;
    let slow = encoded >= cfg.slow_encoded_share && mean_len >= cfg.slow_mean_length && unique >= cfg.min_queries;
    let sheer = bands == cfg.unique_bands.len();
    if !volume && !slow && !sheer {
        return None;
    }
    let high = (volume && (bands >= 2 || a.bytes >= cfg.high_bytes)) || (slow && encoded >= cfg.strong_encoded_share);
    let severity = if high { Severity::High } else { Severity::Medium };
    Some(Assessment { severity, unique, bands, encoded, mean_len, friendly })
}

/// The alert for `a`, assessed as `x`.
fn alert(client: IpAddr, a: &Activity, x: &Assessment) -> Alert {
    let Assessment { severity, unique, bands, encoded, mean_len, friendly } = *x;
    let n = a.queries as f64;
    let confidence = (0.5 + 0.1 * bands as f64 + 0.25 * encoded + 0.1 * friendly).min(0.99) as f32;
    let secs = a.last.since(a.first).as_secs_f64();
    let via = if a.path.is_empty() {
        String::new()
    } else {
        let hosts: Vec<String> = a.path.iter().map(IpAddr::to_string).collect();
        format!(" Forwarded upstream by {}.", hosts.join(", "))
    };
    let explanation = format!(
        "{client} sent {} queries for {} unique names under {} in {secs:.0} s: {:.0}% with encoded-looking \
         labels (mean subdomain {mean_len:.0} characters), {:.0}% of record types tunnels favour (TXT, NULL, \
         CNAME, MX, SRV, KEY, private), {} bytes of queries and answers.{via}",
        a.queries,
        unique,
        a.domain,
        encoded * 100.0,
        friendly * 100.0,
        a.bytes,
    );
    Alert {
        ts: a.last,
        id: String::new(),
        src: Entity::ip(client),
        dst: Some(Entity::ip(a.server)),
        path: a.path.iter().filter(|&&h| h != a.server).map(|&h| Entity::ip(h)).collect(),
        severity,
        confidence,
        detector: DETECTOR.to_owned(),
        detector_version: VERSION,
        title: format!("DNS tunnel from {client} through {}", a.domain),
        explanation,
        techniques: vec![Technique::DnsC2, Technique::ExfilAltProtocol],
        evidence: AlertEvidence {
            uids: a.uids.clone(),
            counts: vec![
                ("queries".to_owned(), n),
                ("unique_subdomains".to_owned(), unique as f64),
                ("encoded_share".to_owned(), encoded),
                ("mean_subdomain_length".to_owned(), mean_len),
                ("tunnel_type_share".to_owned(), friendly),
                ("bytes".to_owned(), a.bytes as f64),
                ("seconds".to_owned(), secs),
            ],
            samples: a.samples.clone(),
            domain: Some(a.domain.clone()),
            intel: Vec::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::UniqueCounter;

    #[test]
    fn the_unique_counter_is_close_through_the_bands() {
        for n in [10u64, 100, 500, 1000, 2000] {
            let mut c = UniqueCounter::new();
            for i in 0..n {
                c.insert(xxhash_rust::xxh3::xxh3_64(&i.to_le_bytes()));
                c.insert(xxhash_rust::xxh3::xxh3_64(&i.to_le_bytes())); // repeats do not count
            }
            let e = c.estimate() as f64;
            assert!((e - n as f64).abs() <= n as f64 * 0.06 + 1.0, "{n}: {e}");
        }
    }
}
