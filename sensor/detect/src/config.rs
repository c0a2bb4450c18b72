//! Detector settings (the `[detect]` section of the sensor's configuration). Every threshold has a
//! documented default; `sensor.example.toml` lists them all and a test parses it.

use ipnet::IpNet;
use serde::Deserialize;
use std::time::Duration;

/// All detectors.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DetectConfig {
    /// Run the detectors. Default true.
    pub enabled: bool,
    /// An alert of one detector about the same source (and domain or peer) is raised at most once
    /// per this long. Default "1h".
    #[serde(with = "humantime_serde")]
    pub cooldown: Duration,
    /// Entries each per-client or per-domain table holds at most; past it the entry idle longest
    /// is dropped and counted. Default 65,536 (tunnel entries take about 400 bytes).
    pub max_tracked: usize,
    /// DNS tunnelling.
    pub tunnel: TunnelConfig,
    /// Domain generation algorithms (generated names, NXDOMAIN storms).
    pub dga: DgaConfig,
    /// Resolvers and encrypted DNS.
    pub resolvers: ResolverConfig,
    /// Fast-flux answers.
    pub fast_flux: FastFluxConfig,
    /// Large TXT answers.
    pub large_txt: LargeTxtConfig,
    /// Threat-intelligence feeds.
    pub intel: crate::intel::IntelConfig,
    /// Port scans and address sweeps.
    pub scan: ScanConfig,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            enabled: true,
            cooldown: Duration::from_secs(3600),
            max_tracked: 65_536,
            tunnel: TunnelConfig::default(),
            dga: DgaConfig::default(),
            resolvers: ResolverConfig::default(),
            fast_flux: FastFluxConfig::default(),
            large_txt: LargeTxtConfig::default(),
            intel: crate::intel::IntelConfig::default(),
            scan: ScanConfig::default(),
        }
    }
}

/// Port scans and address sweeps (`crate::scan`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ScanConfig {
    /// Run this detector. Default true.
    pub enabled: bool,
    /// Distinct ports of one host probed that make a port scan. Default 8.
    pub ports: usize,
    /// Distinct hosts probed on one port that make an address sweep. Default 8.
    pub hosts: usize,
    /// A scanner's counts start over after this long without a probe. Default "30m".
    #[serde(with = "humantime_serde")]
    pub idle: Duration,
    /// Count hosts of any address in sweeps, not only private, unique-local and link-local
    /// ones. Default false.
    pub sweep_any_host: bool,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig { enabled: true, ports: 8, hosts: 8, idle: Duration::from_secs(30 * 60), sweep_any_host: false }
    }
}

/// DNS tunnelling, per client and registered domain.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TunnelConfig {
    /// Counters of a client and domain start over after this long without a query. Default "10m".
    #[serde(with = "humantime_serde")]
    pub idle: Duration,
    /// Queries needed before judging. Default 20.
    pub min_queries: u64,
    /// Unique subdomain bands (RITA's 100/500/800/1000): the first band with encoded-looking or
    /// long names makes a tunnel, the second makes it high, the last makes one on volume alone.
    /// Default [100, 500, 800, 1000].
    pub unique_bands: [u64; 4],
    /// Share of queries whose subdomain looks encoded that, with the first band, makes a tunnel.
    /// Low on purpose: tunnels interleave short polls with their long encoded queries (iodine's
    /// share is about 0.13). Default 0.1.
    pub encoded_share: f64,
    /// Mean subdomain length (characters) that, with the first band, makes a tunnel on its own.
    /// Default 40.
    pub long_mean_length: f64,
    /// Below the first band (a low-and-slow channel): share of encoded-looking queries needed.
    /// Default 0.25.
    pub slow_encoded_share: f64,
    /// Below the first band: mean subdomain length needed. Default 30.
    pub slow_mean_length: f64,
    /// Share of encoded-looking queries that makes the alert high. Default 0.8.
    pub strong_encoded_share: f64,
    /// Bytes (queries and answers) of one client and domain that make the alert high. Default
    /// 1 MB.
    pub high_bytes: u64,
    /// Registered domains never judged: services that use DNS as their transport by design
    /// (anti-virus and e-mail reputation lookups put hashes and addresses in query names).
    /// Default: the well-known ones listed in docs/alerts.md.
    pub allow_domains: Vec<String>,
}

/// Reputation services that carry hashes, URLs or addresses in DNS query names.
const REPUTATION_DOMAINS: &[&str] = &[
    "mcafee.com",
    "sophosxl.net",
    "trendmicro.com",
    "spamhaus.org",
    "spamcop.net",
    "surbl.org",
    "uribl.com",
    "barracudacentral.org",
    "sorbs.net",
    "mailspike.net",
];

impl Default for TunnelConfig {
    fn default() -> Self {
        TunnelConfig {
            idle: Duration::from_secs(600),
            min_queries: 20,
            unique_bands: [100, 500, 800, 1000],
            encoded_share: 0.1,
            long_mean_length: 40.0,
            slow_encoded_share: 0.25,
            slow_mean_length: 30.0,
            strong_encoded_share: 0.8,
            high_bytes: 1_000_000,
            allow_domains: REPUTATION_DOMAINS.iter().map(|d| (*d).to_owned()).collect(),
        }
    }
}

/// Domain generation algorithms, from the NXDOMAIN answers of each client.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DgaConfig {
    /// Counting window. Default "5m".
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// Distinct registered domains answered NXDOMAIN whose label the character model calls
    /// generated (about 5 % of real names of six letters or more score that low, so one is
    /// nothing; eight in a window is a DGA at work). Twice this is high. Default 8.
    pub min_generated: usize,
    /// An NXDOMAIN storm: this many NXDOMAIN answers... Default 50.
    pub min_answers: u64,
    /// ...under at least this many registered domains (many names under one domain is a
    /// misconfiguration or a tunnel, not DGA). Default 10.
    pub min_domains: usize,
}

impl Default for DgaConfig {
    fn default() -> Self {
        DgaConfig { window: Duration::from_secs(300), min_generated: 8, min_answers: 50, min_domains: 10 }
    }
}

/// The site's resolvers, and DNS that goes around them.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ResolverConfig {
    /// The corporate resolvers. Clients querying any other server on port 53 raise a rogue-
    /// resolver alert; empty (the default) turns that detection off, since the sensor cannot
    /// guess the site's resolvers.
    pub corporate: Vec<IpNet>,
    /// Public DNS-over-HTTPS endpoints besides the built-in list (docs/alerts.md).
    pub extra_doh_servers: Vec<IpNet>,
}

/// Fast-flux answers, per registered domain.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FastFluxConfig {
    /// Distinct A/AAAA addresses answered for one domain within `idle` of each other.
    /// Default 20.
    pub min_addresses: usize,
    /// Distinct /16 (IPv4) or /32 (IPv6) networks among them. Default 10.
    pub min_networks: usize,
    /// Answers with a longer TTL (seconds) are not fast flux. Default 300.
    pub max_ttl: u32,
    /// Counters start over after this long without an answer. Default "10m".
    #[serde(with = "humantime_serde")]
    pub idle: Duration,
}

impl Default for FastFluxConfig {
    fn default() -> Self {
        FastFluxConfig { min_addresses: 20, min_networks: 10, max_ttl: 300, idle: Duration::from_secs(600) }
    }
}

/// Unusually large TXT answers, per client and registered domain.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LargeTxtConfig {
    /// Size in bytes of a response to a TXT query that counts as large. Default 1000.
    pub min_bytes: usize,
    /// Large responses under one domain to one client, within the cooldown. Default 5.
    pub min_answers: u64,
}

impl Default for LargeTxtConfig {
    fn default() -> Self {
        LargeTxtConfig { min_bytes: 1000, min_answers: 5 }
    }
}
