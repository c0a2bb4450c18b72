//! Threat intelligence: indicators from feeds, matched against DNS query names, DNS answers and
//! flow endpoints.
//!
//! | file | what it holds |
//! |---|---|
//! | `mod.rs` | [`Intel`]: the compiled indicator set and its lookups; [`IntelHandle`]: how workers see reloads |
//! | `load.rs` | [`load`]: a feeds directory (plain lists, CSV, STIX 2.1 bundles with ed25519 signatures) |
//! | `stix.rs` | the STIX 2.1 pattern subset understood (equality on domain, address and URL values) |
//! | `detector.rs` | the alerts raised on a match |
//!
//! Lookups cost the same at a thousand indicators as at a million: a name is looked up once per
//! label in one hash map (`a.b.example.com`, `b.example.com`, `example.com`, `com`: a domain
//! indicator covers its subdomains); an address once in a map of exact addresses and once per
//! CIDR prefix length present (at most 33 lengths for IPv4 and 129 for IPv6, whatever the number
//! of networks). docs/PERFORMANCE.md has the measurement.
//!
//! Reloads build a new [`Intel`] off the packet path and publish it through an `arc-swap`
//! pointer: a worker picks the new set up at its next lookup, without a lock.

mod detector;
mod load;
mod stix;

pub(crate) use detector::IntelDetector;
pub use load::{FeedReport, IntelConfig, LoadReport, load, parse_public_key};

use arc_swap::ArcSwap;
use core::net::IpAddr;
use std::sync::Arc;

/// The maps behind lookups: foldhash, seeded at random per map (std's SipHash made a lookup at
/// 23 prefix lengths cost 400 ns).
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// What an indicator is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IndicatorKind {
    /// A domain name (and every name under it).
    Domain,
    /// One address.
    Ip,
    /// A network.
    Cidr,
    /// A URL: matched by its host until an HTTP analyser sees URLs.
    Url,
}

/// One indicator of one feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Indicator {
    /// The feed (file name) it came from.
    pub feed: Arc<str>,
    /// The indicator as the feed wrote it (the URL for URL indicators).
    pub value: String,
    /// What it is.
    pub kind: IndicatorKind,
    /// The feed's description, if any.
    pub description: Option<String>,
    /// The feed's confidence, 0–100, if any.
    pub confidence: Option<u8>,
}

/// A compiled set of indicators.
#[derive(Debug, Default)]
pub struct Intel {
    indicators: Vec<Indicator>,
    /// Lower-case names, without a trailing dot.
    domains: HashMap<String, u32>,
    addrs: HashMap<IpAddr, u32>,
    /// Per prefix length (longest first): masked network → indicator.
    nets_v4: Vec<(u8, HashMap<u32, u32>)>,
    nets_v6: Vec<(u8, HashMap<u128, u32>)>,
    /// Indicators given twice (in one feed or several): the first is kept.
    duplicates: u64,
}

impl Intel {
    /// Number of distinct indicators.
    pub fn len(&self) -> usize {
        self.indicators.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.indicators.is_empty()
    }

    /// Indicators given more than once.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// The domain indicator covering `name` (the name itself or a parent), if any.
    pub fn match_name(&self, name: &str) -> Option<&Indicator> {
        if self.domains.is_empty() {
            return None;
        }
        let name = name.strip_suffix('.').unwrap_or(name);
        let mut rest = name;
        loop {
            if let Some(&i) = self.domains.get(rest) {
                return self.indicators.get(i as usize);
            }
            rest = &rest[rest.find('.')? + 1..];
        }
    }

    /// The address or network indicator covering `addr`, if any (the longest prefix wins).
    pub fn match_addr(&self, addr: IpAddr) -> Option<&Indicator> {
        let i = match self.addrs.get(&addr) {
            Some(&i) => Some(i),
            None => match addr {
                IpAddr::V4(v4) => {
                    let bits = u32::from(v4);
                    self.nets_v4.iter().find_map(|(len, map)| map.get(&mask_v4(bits, *len)).copied())
                }
                IpAddr::V6(v6) => {
                    let bits = v6.to_bits();
                    self.nets_v6.iter().find_map(|(len, map)| map.get(&mask_v6(bits, *len)).copied())
                }
            },
        };
        i.and_then(|i| self.indicators.get(i as usize))
    }

    /// Adds an indicator whose `value` is already normalised for its kind: a lower-case name, an
    /// address, a network (`ipnet` syntax). Returns false for a value that is not one.
    pub(crate) fn add(&mut self, ind: Indicator, key: &str) -> bool {
        let index = self.indicators.len() as u32;
        let fresh = match ind.kind {
            IndicatorKind::Domain | IndicatorKind::Url => insert_new(&mut self.domains, key.to_owned(), index),
            IndicatorKind::Ip => match key.parse::<IpAddr>() {
                Ok(a) => insert_new(&mut self.addrs, a, index),
                Err(_) => return false,
            },
            IndicatorKind::Cidr => match key.parse::<ipnet::IpNet>() {
                Ok(ipnet::IpNet::V4(n)) => {
                    let len = n.prefix_len();
                    insert_new(by_len(&mut self.nets_v4, len), mask_v4(u32::from(n.addr()), len), index)
                }
                Ok(ipnet::IpNet::V6(n)) => {
                    let len = n.prefix_len();
                    insert_new(by_len(&mut self.nets_v6, len), mask_v6(n.addr().to_bits(), len), index)
                }
                Err(_) => return false,
            },
        };
        if fresh {
            self.indicators.push(ind);
        } else {
            self.duplicates += 1;
        }
        true
    }
}

fn insert_new<K: core::hash::Hash + Eq>(map: &mut HashMap<K, u32>, key: K, index: u32) -> bool {
    match map.entry(key) {
        std::collections::hash_map::Entry::Occupied(_) => false,
        std::collections::hash_map::Entry::Vacant(e) => {
            e.insert(index);
            true
        }
    }
}

/// The map of prefix length `len`, made if absent; the list stays longest first.
fn by_len<K>(nets: &mut Vec<(u8, HashMap<K, u32>)>, len: u8) -> &mut HashMap<K, u32> {
    let at = match nets.iter().position(|(l, _)| *l <= len) {
        Some(i) if nets[i].0 == len => i,
        Some(i) => {
            nets.insert(i, (len, HashMap::default()));
            i
        }
        None => {
            nets.push((len, HashMap::default()));
            nets.len() - 1
        }
    };
    &mut nets[at].1
}

fn mask_v4(bits: u32, len: u8) -> u32 {
    if len == 0 { 0 } else { bits & (u32::MAX << (32 - u32::from(len))) }
}

fn mask_v6(bits: u128, len: u8) -> u128 {
    if len == 0 { 0 } else { bits & (u128::MAX << (128 - u32::from(len))) }
}

/// The indicator set workers look up, replaced whole on reload.
#[derive(Debug, Clone)]
pub struct IntelHandle(Arc<ArcSwap<Intel>>);

impl IntelHandle {
    /// A handle to `intel`.
    pub fn new(intel: Intel) -> IntelHandle {
        IntelHandle(Arc::new(ArcSwap::from_pointee(intel)))
    }

    /// The current set.
    pub fn current(&self) -> arc_swap::Guard<Arc<Intel>> {
        self.0.load()
    }

    /// Publishes a new set; workers see it at their next lookup.
    pub fn replace(&self, intel: Intel) {
        self.0.store(Arc::new(intel));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ind(kind: IndicatorKind, value: &str) -> Indicator {
        Indicator { feed: "test".into(), value: value.to_owned(), kind, description: None, confidence: None }
    }

    #[test]
    fn names_match_themselves_and_their_subdomains_only() {
        let mut intel = Intel::default();
        assert!(intel.add(ind(IndicatorKind::Domain, "evil.example"), "evil.example"));
        assert_eq!(intel.match_name("evil.example").map(|i| i.value.as_str()), Some("evil.example"));
        assert!(intel.match_name("a.b.evil.example.").is_some());
        assert!(intel.match_name("notevil.example").is_none());
        assert!(intel.match_name("example").is_none());
    }

    #[test]
    fn addresses_match_exactly_or_by_the_longest_network() {
        let mut intel = Intel::default();
        intel.add(ind(IndicatorKind::Cidr, "10.0.0.0/8"), "10.0.0.0/8");
        intel.add(ind(IndicatorKind::Cidr, "10.1.0.0/16"), "10.1.0.0/16");
        intel.add(ind(IndicatorKind::Ip, "192.0.2.7"), "192.0.2.7");
        intel.add(ind(IndicatorKind::Cidr, "2001:db8::/32"), "2001:db8::/32");
        intel.add(ind(IndicatorKind::Cidr, "0.0.0.0/0"), "0.0.0.0/0");
        let hit = |a: &str| intel.match_addr(a.parse().unwrap()).map(|i| i.value.clone());
        assert_eq!(hit("10.1.2.3").as_deref(), Some("10.1.0.0/16"));
        assert_eq!(hit("10.2.2.3").as_deref(), Some("10.0.0.0/8"));
        assert_eq!(hit("192.0.2.7").as_deref(), Some("192.0.2.7"));
        assert_eq!(hit("192.0.2.8").as_deref(), Some("0.0.0.0/0"));
        assert_eq!(hit("2001:db8:1::1").as_deref(), Some("2001:db8::/32"));
        assert_eq!(hit("2001:db9::1"), None);
    }

    #[test]
    fn duplicates_keep_the_first_and_are_counted() {
        let mut intel = Intel::default();
        intel.add(ind(IndicatorKind::Domain, "a.example"), "a.example");
        let mut second = ind(IndicatorKind::Domain, "a.example");
        second.feed = "other".into();
        intel.add(second, "a.example");
        assert_eq!((intel.len(), intel.duplicates()), (1, 1));
        assert_eq!(&*intel.match_name("a.example").unwrap().feed, "test");
    }
}
