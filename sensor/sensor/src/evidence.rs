//! Evidence packets: for flows selected by a filter, the first and the last packets, kept in
//! memory until the flow ends and then stored with it (`sensor evidence` exports them as pcapng).
//!
//! Each selected flow has a [`Ring`]: its first [`EvidenceConfig::first_packets`] packets, then a
//! circular buffer of its last [`EvidenceConfig::last_packets`], each cut at
//! [`EvidenceConfig::snaplen`]. All rings of a worker together hold at most
//! [`EvidenceConfig::max_bytes`]; a packet that would exceed it is not kept and is counted.
//! Alerts select flows too: the flow whose DNS transaction raised an alert keeps its packets
//! from that moment on ([`Evidence::select`]). Without a store among the outputs nothing is kept
//! ([`Evidence::none`]; `--evidence-filter` is then refused).

use ipnet::IpNet;
use sensor_capture::Frame;
use sensor_flow::FlowKey;
use sensor_output::{ConnId, EvidencePacket, EvidenceRecord};
use sensor_wire::Timestamp;
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

/// Evidence settings (the `[evidence]` section).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EvidenceConfig {
    /// Flows to keep packets of: each entry is terms that must all hold (`host IP`, `net CIDR`,
    /// `port N`), and a flow is kept when any entry holds. Default none. `--evidence-filter`
    /// adds entries.
    pub filters: Vec<String>,
    /// First packets kept per flow. Default 10.
    pub first_packets: usize,
    /// Last packets kept per flow. Default 10.
    pub last_packets: usize,
    /// Bytes kept of each packet. Default 2048.
    pub snaplen: usize,
    /// Bytes all rings of a worker hold at most. Default 64 MiB.
    pub max_bytes: usize,
}

impl Default for EvidenceConfig {
    fn default() -> Self {
        EvidenceConfig { filters: Vec::new(), first_packets: 10, last_packets: 10, snaplen: 2048, max_bytes: 64 << 20 }
    }
}

/// One condition of a filter entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    Host(IpAddr),
    Net(IpNet),
    Port(u16),
}

/// Which flows keep evidence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvidenceFilter {
    /// Any entry; each entry all its terms.
    entries: Vec<Vec<Term>>,
}

impl EvidenceFilter {
    /// Parses filter entries (`host 10.0.0.5 port 53`, `net 192.168.0.0/16`).
    pub fn parse(entries: &[String]) -> Result<EvidenceFilter, String> {
        let mut parsed = Vec::new();
        for entry in entries {
            let words: Vec<&str> = entry.split_whitespace().collect();
            if words.is_empty() || !words.len().is_multiple_of(2) {
                return Err(format!("evidence filter `{entry}`: expected `host IP`, `net CIDR` or `port N` terms"));
            }
            let mut terms = Vec::new();
            for pair in words.chunks(2) {
                let bad = |what: &str| format!("evidence filter `{entry}`: `{}` is not {what}", pair[1]);
                terms.push(match pair[0] {
                    "host" => Term::Host(pair[1].parse().map_err(|_| bad("an IP address"))?),
                    "net" => Term::Net(pair[1].parse().map_err(|_| bad("a network (CIDR)"))?),
                    "port" => Term::Port(pair[1].parse().map_err(|_| bad("a port"))?),
                    other => {
                        return Err(format!("evidence filter `{entry}`: unknown term `{other}` (host, net, port)"));
                    }
                });
            }
            parsed.push(terms);
        }
        Ok(EvidenceFilter { entries: parsed })
    }

    /// Whether no flow is selected.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether the flow of `key` keeps evidence.
    pub fn selects(&self, key: &FlowKey) -> bool {
        self.entries.iter().any(|terms| {
            terms.iter().all(|t| match t {
                Term::Host(h) => key.orig_h == *h || key.resp_h == *h,
                Term::Net(n) => n.contains(&key.orig_h) || n.contains(&key.resp_h),
                Term::Port(p) => key.orig_p == *p || key.resp_p == *p,
            })
        })
    }
}

/// One kept packet.
#[derive(Debug)]
struct Packet {
    ts: Timestamp,
    link: u32,
    orig_len: u32,
    data: Vec<u8>,
}

/// The packets kept of one flow.
#[derive(Debug, Default)]
struct Ring {
    first: Vec<Packet>,
    last: VecDeque<Packet>,
    skipped: u64,
}

/// Evidence counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvidenceStats {
    /// Flows whose packets are being kept.
    pub flows: u64,
    /// Packets kept.
    pub packets: u64,
    /// Packets not kept because the memory cap was reached.
    pub over_cap: u64,
    /// Bytes held now.
    pub bytes: usize,
}

/// The rings of one worker, by flow serial number.
#[derive(Debug)]
pub struct Evidence {
    cfg: EvidenceConfig,
    filter: EvidenceFilter,
    /// Whether alerts select flows ([`Evidence::select`]).
    on_alerts: bool,
    rings: HashMap<u64, Ring>,
    stats: EvidenceStats,
}

impl Evidence {
    /// Keeps packets of the flows `filter` selects.
    pub fn new(cfg: &EvidenceConfig, filter: EvidenceFilter) -> Evidence {
        Evidence { cfg: cfg.clone(), filter, on_alerts: true, rings: HashMap::new(), stats: EvidenceStats::default() }
    }

    /// Keeps nothing, for outputs that keep no evidence (JSON lines alone): neither a filter nor
    /// an alert selects a flow.
    pub fn none() -> Evidence {
        Evidence { on_alerts: false, ..Evidence::new(&EvidenceConfig::default(), EvidenceFilter::default()) }
    }

    /// Counters.
    pub fn stats(&self) -> EvidenceStats {
        self.stats
    }

    /// Whether any flow may be selected (no filter: none is).
    pub fn selecting(&self) -> bool {
        !self.filter.is_empty()
    }

    /// Whether the packets of flow `serial` are being kept.
    pub fn keeps(&self, serial: u64) -> bool {
        self.rings.contains_key(&serial)
    }

    /// A flow was created: start keeping its packets if the filter selects it.
    pub fn flow_created(&mut self, serial: u64, key: &FlowKey) {
        if self.filter.selects(key) {
            self.rings.insert(serial, Ring::default());
            self.stats.flows += 1;
        }
    }

    /// Starts keeping the packets of flow `serial` from now on, if not already (an alert
    /// selected it).
    pub fn select(&mut self, serial: u64) {
        if !self.on_alerts {
            return;
        }
        if let std::collections::hash_map::Entry::Vacant(e) = self.rings.entry(serial) {
            e.insert(Ring::default());
            self.stats.flows += 1;
        }
    }

    /// A packet of flow `serial`.
    pub fn packet(&mut self, serial: u64, frame: &Frame<'_>) {
        if self.rings.is_empty() {
            return;
        }
        let Some(ring) = self.rings.get_mut(&serial) else { return };
        let keep = frame.data.len().min(self.cfg.snaplen);
        let in_first = ring.first.len() < self.cfg.first_packets;
        if !in_first && self.cfg.last_packets == 0 {
            ring.skipped += 1;
            return;
        }
        // A packet that rotates out of the last ones frees its buffer for the new one.
        let reused = (!in_first && ring.last.len() >= self.cfg.last_packets).then(|| ring.last.pop_front()).flatten();
        if let Some(old) = &reused {
            self.stats.bytes -= old.data.len();
            ring.skipped += 1;
        }
        if self.stats.bytes + keep > self.cfg.max_bytes {
            self.stats.over_cap += 1;
            ring.skipped += 1;
            return;
        }
        let mut data = reused.map(|p| p.data).unwrap_or_default();
        data.clear();
        data.extend_from_slice(&frame.data[..keep]);
        let packet = Packet { ts: frame.ts, link: frame.link.0, orig_len: frame.orig_len, data };
        self.stats.bytes += keep;
        self.stats.packets += 1;
        if in_first {
            ring.first.push(packet);
        } else {
            ring.last.push_back(packet);
        }
    }

    /// The flow ended: its evidence record, if its packets were kept, handed to `write`.
    pub fn flow_ended(&mut self, serial: u64, uid: &str, id: ConnId, write: impl FnOnce(&EvidenceRecord<'_>)) {
        let Some(ring) = self.rings.remove(&serial) else { return };
        let packets: Vec<EvidencePacket<'_>> = ring
            .first
            .iter()
            .chain(ring.last.iter())
            .map(|p| EvidencePacket { ts: p.ts, link: p.link, orig_len: p.orig_len, data: Cow::Borrowed(&p.data) })
            .collect();
        self.stats.bytes -= packets.iter().map(|p| p.data.len()).sum::<usize>();
        let Some(ts) = packets.first().map(|p| p.ts) else { return };
        write(&EvidenceRecord { ts, uid, id, packets, skipped: ring.skipped });
    }
}

/// What [`export`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exported {
    /// Packets written.
    pub packets: usize,
    /// Packets the flow had between the first and the last ones kept.
    pub skipped: u64,
}

/// Writes the evidence packets `store` holds for flow `uid` as pcapng.
pub fn export(store: &sensor_store::Store, uid: &str, out: &mut impl std::io::Write) -> anyhow::Result<Exported> {
    use sensor_store::{Decoded, Kind, Query};
    let q = Query { kinds: vec![Kind::Evidence], uid: Some(uid.to_owned()), limit: Some(1), ..Query::default() };
    let Some(hit) = store.query(&q)?.next().transpose()? else {
        anyhow::bail!("no evidence packets for uid {uid} (was the flow selected by an evidence filter or an alert?)");
    };
    let Decoded::Evidence(rec) = hit.decoded()? else { anyhow::bail!("uid {uid}: not an evidence record") };
    write_pcapng(&rec, out)?;
    Ok(Exported { packets: rec.packets.len(), skipped: rec.skipped })
}

/// Writes an evidence record as pcapng: one interface per link type, nanosecond timestamps.
pub fn write_pcapng(rec: &EvidenceRecord<'_>, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    use pcap_parser::{
        EnhancedPacketBlock, InterfaceDescriptionBlock, Linktype, SectionHeaderBlock, ToVec, pcapng::PcapNGOption,
    };
    let encode = |e| anyhow::anyhow!("cannot encode pcapng: {e:?}");
    let mut shb = SectionHeaderBlock {
        block_type: 0,
        block_len1: 0,
        bom: 0,
        major_version: 1,
        minor_version: 0,
        section_len: -1,
        options: Vec::<PcapNGOption<'_>>::new(),
        block_len2: 0,
    };
    out.write_all(&shb.to_vec().map_err(encode)?)?;
    let mut links: Vec<u32> = Vec::new();
    for p in &rec.packets {
        if !links.contains(&p.link) {
            links.push(p.link);
            let mut idb = InterfaceDescriptionBlock {
                block_type: 0,
                block_len1: 0,
                linktype: Linktype(p.link as i32),
                reserved: 0,
                snaplen: 0,
                options: Vec::new(),
                block_len2: 0,
                // 10^-9: nanoseconds.
                if_tsresol: 9,
                if_tsoffset: 0,
            };
            out.write_all(&idb.to_vec().map_err(encode)?)?;
        }
    }
    for p in &rec.packets {
        let if_id = links.iter().position(|&l| l == p.link).unwrap_or(0) as u32;
        let mut epb = EnhancedPacketBlock {
            block_type: 0,
            block_len1: 0,
            if_id,
            ts_high: (p.ts.0 >> 32) as u32,
            ts_low: p.ts.0 as u32,
            caplen: p.data.len() as u32,
            origlen: p.orig_len,
            data: &p.data,
            options: Vec::new(),
            block_len2: 0,
        };
        out.write_all(&epb.to_vec().map_err(encode)?)?;
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sensor_wire::LinkType;

    fn key() -> FlowKey {
        FlowKey {
            orig_h: [10, 0, 0, 1].into(),
            resp_h: [192, 0, 2, 7].into(),
            orig_p: 40000,
            resp_p: 443,
            proto: 6,
            vlan: None,
            inner_vlan: None,
        }
    }

    fn id() -> ConnId {
        ConnId { orig_h: [10, 0, 0, 1].into(), orig_p: 40000, resp_h: [192, 0, 2, 7].into(), resp_p: 443 }
    }

    /// Feeds `n` packets of `len` bytes (the first byte is the packet's number) to flow 1.
    fn feed(e: &mut Evidence, n: u8, len: usize) {
        for i in 0..n {
            let mut data = vec![0; len];
            data[0] = i;
            let frame =
                Frame { ts: Timestamp(u64::from(i)), link: LinkType::ETHERNET, data: &data, orig_len: len as u32 };
            e.packet(1, &frame);
        }
    }

    fn ended(e: &mut Evidence) -> (Vec<u8>, u64) {
        let mut got = (Vec::new(), 0);
        e.flow_ended(1, "C1", id(), |rec| got = (rec.packets.iter().map(|p| p.data[0]).collect(), rec.skipped));
        got
    }

    #[test]
    fn keeps_the_first_and_the_last_packets_and_counts_the_rest() {
        let cfg = EvidenceConfig { first_packets: 3, last_packets: 2, ..EvidenceConfig::default() };
        let mut e = Evidence::new(&cfg, EvidenceFilter::parse(&["port 443".into()]).unwrap());
        e.flow_created(1, &key());
        feed(&mut e, 10, 100);
        assert_eq!(ended(&mut e), (vec![0, 1, 2, 8, 9], 5));
        assert_eq!(e.stats().bytes, 0, "memory given back");
    }

    #[test]
    fn the_memory_cap_refuses_packets_and_counts_them() {
        let cfg = EvidenceConfig { first_packets: 10, last_packets: 0, max_bytes: 250, ..EvidenceConfig::default() };
        let mut e = Evidence::new(&cfg, EvidenceFilter::parse(&["net 10.0.0.0/8".into()]).unwrap());
        e.flow_created(1, &key());
        feed(&mut e, 5, 100);
        assert_eq!(e.stats().over_cap, 3);
        assert_eq!(ended(&mut e), (vec![0, 1], 3));
    }

    #[test]
    fn only_selected_flows_are_kept() {
        let filter =
            EvidenceFilter::parse(&["host 10.0.0.1 port 53".into(), "net 192.0.2.0/24 port 443".into()]).unwrap();
        assert!(filter.selects(&key()), "second entry");
        let mut e = Evidence::new(&EvidenceConfig::default(), EvidenceFilter::parse(&["port 22".into()]).unwrap());
        e.flow_created(1, &key());
        feed(&mut e, 3, 60);
        assert_eq!(ended(&mut e), (vec![], 0));
        assert_eq!(e.stats().packets, 0);
    }

    #[test]
    fn alerts_select_flows_unless_nothing_keeps_evidence() {
        let mut e = Evidence::new(&EvidenceConfig::default(), EvidenceFilter::default());
        e.select(1);
        feed(&mut e, 3, 60);
        assert_eq!(ended(&mut e), (vec![0, 1, 2], 0));
        let mut none = Evidence::none();
        none.select(1);
        feed(&mut none, 3, 60);
        assert_eq!(ended(&mut none), (vec![], 0));
        assert_eq!(none.stats(), EvidenceStats::default());
    }
}
