//! The detectors that read DNS transactions: tunnelling, DGA (generated names, NXDOMAIN storms), fast flux, large TXT
//! answers. Each query name is split at its registered domain once, here, for all of them; the
//! tunnel detector's knowledge of which hosts forward for which (resolvers) serves the others.

mod answers;
mod dga;
mod tunnel;

pub(crate) use crate::{DnsSeen, Raise};

use crate::config::DetectConfig;
use crate::names;
use xxhash_rust::xxh3::xxh3_64;

/// The DNS detectors of one worker.
pub(crate) struct DnsDetectors {
    tunnel: tunnel::Tunnel,
    dga: dga::Dga,
    answers: answers::Answers,
}

impl DnsDetectors {
    pub(crate) fn new(cfg: &DetectConfig) -> DnsDetectors {
        DnsDetectors {
            tunnel: tunnel::Tunnel::new(&cfg.tunnel, cfg.cooldown, cfg.max_tracked),
            dga: dga::Dga::new(&cfg.dga, cfg.cooldown, cfg.max_tracked),
            answers: answers::Answers::new(cfg),
        }
    }

    pub(crate) fn observe(&mut self, seen: &DnsSeen<'_>, raise: &mut Raise<'_>) {
        let Some(name) = seen.rec.query() else { return };
        let Some(split) = names::split(name) else { return };
        let domain = xxh3_64(split.registered.as_bytes());
        self.tunnel.observe(seen, name, split, domain, raise);
        self.dga.observe(seen, name, split, domain, raise);
        // A resolver's copies of its clients' queries are theirs, not its own.
        if !self.tunnel.forwards(seen.client, domain) {
            self.answers.observe(seen, split, domain, raise);
        }
    }

    /// Entries dropped from full tables.
    pub(crate) fn evicted(&self) -> u64 {
        self.tunnel.evicted() + self.dga.evicted() + self.answers.evicted()
    }
}
