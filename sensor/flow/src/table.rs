//! [`FlowTable`]: a bounded table of flows for one worker.
//!
//! Storage is a slab of slots (reused through a free list) indexed by a `hashbrown::HashTable`
//! of slot numbers, hashed direction-independently so one probe finds a flow from either side.
//! Every flow sits in one of six intrusive LRU lists — TCP, UDP, UDP on DNS ports, ICMP, other,
//! and closed TCP waiting out the close delay — each with a single timeout, so the head of a list is always the
//! next flow of that kind to expire and expiry is O(expired).
//!
//! **Eviction rule:** when the table holds `max_flows` flows and a new one arrives, the flow idle
//! longest (the oldest head among the lists) is ended early with [`EndReason::Evicted`]; its
//! record is still written, so nothing is lost but the rest of its lifetime. Evictions are counted.
//!
//! The hasher is seeded at random per table (foldhash), so an attacker cannot precompute colliding
//! 5-tuples.

use crate::flow::{EndReason, Flow, Weirds};
use crate::key::{FlowKey, PackedKey, likely_server_port, proto};
use crate::{FlowConfig, FlowStats};
use core::hash::BuildHasher;
use core::time::Duration;
use hashbrown::HashTable;
use sensor_wire::{Decoded, TcpFlags, Timestamp, Transport};

/// No slot: the end of a list.
const NIL: u32 = u32::MAX;

/// How often (in packet time) the lists are checked for expired flows.
const EXPIRE_INTERVAL: Duration = Duration::from_secs(1);

/// The LRU lists, by kind of flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum List {
    Tcp = 0,
    Udp = 1,
    Icmp = 2,
    Other = 3,
    Closing = 4,
    UdpDns = 5,
}
const LISTS: usize = 6;

/// A handle to a flow in its table, valid until the flow ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowId(u32);

struct Slot<S> {
    flow: Option<Flow<S>>,
    prev: u32,
    next: u32,
}

#[derive(Clone, Copy)]
struct Lru {
    head: u32,
    tail: u32,
}

/// Receives what the table produces besides the flow handle.
pub trait FlowSink<S> {
    /// A flow ended (expired, evicted, or flushed at shutdown): write its record.
    fn ended(&mut self, flow: Flow<S>, reason: EndReason);
    /// The TCP state machine saw something odd on `flow` (Zeek's weird names); reported once per
    /// flow and name.
    fn weird(&mut self, flow: &Flow<S>, name: &'static str);
    /// `flow` has been idle past its timeout here; if its packets are still seen elsewhere (the
    /// kernel drops a bypassed flow's packets before they reach the table), the time of the
    /// latest, which keeps the flow alive. None by default.
    fn seen_elsewhere(&mut self, flow: &Flow<S>) -> Option<Timestamp> {
        let _ = flow;
        None
    }
}

/// Where a packet landed.
#[derive(Debug, Clone, Copy)]
pub struct Tracked {
    /// The flow.
    pub id: FlowId,
    /// Whether the packet was sent by the flow's originator.
    pub from_orig: bool,
    /// Whether this packet created the flow.
    pub created: bool,
}

/// A bounded flow table owned by one worker (no locks).
pub struct FlowTable<S> {
    cfg: FlowConfig,
    hasher: foldhash::fast::RandomState,
    index: HashTable<u32>,
    slots: Vec<Slot<S>>,
    free: Vec<u32>,
    lists: [Lru; LISTS],
    next_serial: u64,
    next_expire: Timestamp,
    stats: FlowStats,
}

impl<S: Default> FlowTable<S> {
    /// An empty table.
    pub fn new(cfg: FlowConfig) -> FlowTable<S> {
        FlowTable {
            cfg,
            hasher: foldhash::fast::RandomState::default(),
            index: HashTable::new(),
            slots: Vec::new(),
            free: Vec::new(),
            lists: [Lru { head: NIL, tail: NIL }; LISTS],
            next_serial: 0,
            next_expire: Timestamp(0),
            stats: FlowStats::default(),
        }
    }

    /// Counters.
    pub fn stats(&self) -> &FlowStats {
        &self.stats
    }

    /// Flows currently tracked.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether no flow is tracked.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The flow behind a handle returned by [`FlowTable::track`] for the current packet.
    pub fn get_mut(&mut self, id: FlowId) -> Option<&mut Flow<S>> {
        self.slots.get_mut(id.0 as usize).and_then(|s| s.flow.as_mut())
    }

    fn hash(&self, key: &FlowKey) -> u64 {
        key_hash(&self.hasher, key)
    }

    /// Finds or creates the flow of a packet and updates it. Expired flows (by packet time) and
    /// a flow evicted to make room are handed to `sink` first.
    pub fn track(&mut self, ts: Timestamp, pkt: &Decoded<'_>, sink: &mut impl FlowSink<S>) -> Tracked {
        if ts >= self.next_expire {
            self.expire(ts, sink);
            self.next_expire = ts.add(EXPIRE_INTERVAL);
        }
        let key = FlowKey::of(pkt);
        let hash = self.hash(&key);
        let slots = &self.slots;
        // The direction the flow matched in, kept for the update below.
        let mut way = None;
        let found = self.index.find(hash, |&i| {
            way = slots[i as usize].flow.as_ref().and_then(|f| f.packed_key().matches(&key));
            way.is_some()
        });
        // The periodic sweep runs once a second; a flow whose timeout passed since then must not
        // take this packet (Zeek would have removed it), so check the one found.
        let found = found.copied().filter(|&i| {
            let live = self.slots[i as usize].flow.as_ref().is_some_and(|f| f.last.add(self.timeout(list_of(f))) > ts);
            if !live {
                self.stats.expired += 1;
                self.end(i, EndReason::Timeout, sink);
            }
            live
        });
        let (idx, created) = match found {
            Some(i) => (i, false),
            None => (self.create(ts, key, hash, pkt, sink), true),
        };
        let mut weirds = Weirds { names: [""; 4], len: 0 };
        let slot = &mut self.slots[idx as usize];
        let Some(flow) = slot.flow.as_mut() else {
            // `find` and `create` only return occupied slots.
            unreachable!("flow slot {idx} is empty")
        };
        let before = list_of(flow);
        // A new flow may have been created turned around (`wants_flip`).
        let same_way = if created { flow.packed_key().matches(&key) == Some(true) } else { way == Some(true) };
        let from_orig = flow.update(ts, pkt, same_way, &mut weirds);
        for &name in &weirds.names[..weirds.len] {
            if flow.first_report(name) {
                sink.weird(flow, name);
            }
        }
        let list = list_of(flow);
        self.stats.packets += 1;
        self.touch(idx, before, list);
        Tracked { id: FlowId(idx), from_orig, created }
    }

    fn create(
        &mut self,
        ts: Timestamp,
        mut key: FlowKey,
        hash: u64,
        pkt: &Decoded<'_>,
        sink: &mut impl FlowSink<S>,
    ) -> u32 {
        if self.index.len() >= self.cfg.max_flows.max(1) {
            self.evict_oldest(sink);
        }
        let flip = wants_flip(&key, pkt);
        if flip {
            key = key.reversed();
        }
        let mut flow = Flow::new(PackedKey::pack(&key), self.next_serial, ts, S::default());
        if flip {
            flow.history.push(b'^');
        }
        self.next_serial += 1;
        self.stats.created += 1;
        let idx = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize].flow = Some(flow);
                i
            }
            None => {
                self.slots.push(Slot { flow: Some(flow), prev: NIL, next: NIL });
                (self.slots.len() - 1) as u32
            }
        };
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index.insert_unique(hash, idx, |&i| slot_hash(hasher, &slots[i as usize]));
        self.link_tail(idx, list_for_new(key.proto, key.orig_p, key.resp_p));
        idx
    }

    /// Ends every flow whose timeout passed at `now`.
    pub fn expire(&mut self, now: Timestamp, sink: &mut impl FlowSink<S>) {
        for list in [List::Tcp, List::Udp, List::UdpDns, List::Icmp, List::Other, List::Closing] {
            let timeout = self.timeout(list);
            loop {
                let head = self.lists[list as usize].head;
                if head == NIL {
                    break;
                }
                let expired = self.slots[head as usize].flow.as_ref().is_some_and(|f| f.last.add(timeout) <= now);
                if !expired {
                    break;
                }
                if let Some(flow) = self.slots[head as usize].flow.as_mut()
                    && let Some(seen) = sink.seen_elsewhere(flow)
                    && seen.add(timeout) > now
                {
                    flow.last = seen;
                    self.touch(head, list, list);
                    continue;
                }
                self.stats.expired += 1;
                self.end(head, EndReason::Timeout, sink);
            }
        }
    }

    /// Ends every flow (end of input).
    pub fn drain(&mut self, sink: &mut impl FlowSink<S>) {
        for list in 0..LISTS {
            while self.lists[list].head != NIL {
                let head = self.lists[list].head;
                self.end(head, EndReason::Shutdown, sink);
            }
        }
    }

    fn timeout(&self, list: List) -> Duration {
        match list {
            List::Tcp => self.cfg.tcp_inactivity,
            List::Udp => self.cfg.udp_inactivity,
            List::UdpDns => self.cfg.dns_udp_inactivity,
            List::Icmp => self.cfg.icmp_inactivity,
            List::Other => self.cfg.other_inactivity,
            List::Closing => self.cfg.tcp_close_delay,
        }
    }

    fn evict_oldest(&mut self, sink: &mut impl FlowSink<S>) {
        let oldest = self
            .lists
            .iter()
            .filter(|l| l.head != NIL)
            .min_by_key(|l| self.slots[l.head as usize].flow.as_ref().map_or(Timestamp(0), |f| f.last))
            .map(|l| l.head);
        if let Some(idx) = oldest {
            self.stats.evicted += 1;
            self.end(idx, EndReason::Evicted, sink);
        }
    }

    fn end(&mut self, idx: u32, reason: EndReason, sink: &mut impl FlowSink<S>) {
        let list = self.slots[idx as usize].flow.as_ref().map_or(List::Other, list_of);
        self.unlink(idx, list);
        let Some(flow) = self.slots[idx as usize].flow.take() else { return };
        let hash = self.hash(&flow.key());
        if let Ok(entry) = self.index.find_entry(hash, |&i| i == idx) {
            entry.remove();
        }
        self.free.push(idx);
        sink.ended(flow, reason);
    }

    fn touch(&mut self, idx: u32, from: List, to: List) {
        self.unlink(idx, from);
        self.link_tail(idx, to);
    }

    fn link_tail(&mut self, idx: u32, list: List) {
        let tail = self.lists[list as usize].tail;
        {
            let slot = &mut self.slots[idx as usize];
            slot.prev = tail;
            slot.next = NIL;
        }
        if tail == NIL {
            self.lists[list as usize].head = idx;
        } else {
            self.slots[tail as usize].next = idx;
        }
        self.lists[list as usize].tail = idx;
    }

    /// Takes a slot out of `list` (the list its flow was linked into).
    fn unlink(&mut self, idx: u32, list: List) {
        let list = list as usize;
        let (prev, next) = {
            let s = &self.slots[idx as usize];
            (s.prev, s.next)
        };
        if prev == NIL {
            if self.lists[list].head == idx {
                self.lists[list].head = next;
            }
        } else {
            self.slots[prev as usize].next = next;
        }
        if next == NIL {
            if self.lists[list].tail == idx {
                self.lists[list].tail = prev;
            }
        } else {
            self.slots[next as usize].prev = prev;
        }
        let s = &mut self.slots[idx as usize];
        s.prev = NIL;
        s.next = NIL;
    }
}

/// Direction-independent hash of a key: one probe finds a flow from either side.
fn key_hash(hasher: &foldhash::fast::RandomState, key: &FlowKey) -> u64 {
    let a = (key.orig_h, key.orig_p);
    let b = (key.resp_h, key.resp_p);
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    hasher.hash_one((lo, hi, key.proto, key.vlan, key.inner_vlan))
}

fn slot_hash<S>(hasher: &foldhash::fast::RandomState, slot: &Slot<S>) -> u64 {
    slot.flow.as_ref().map_or(0, |f| key_hash(hasher, &f.key()))
}

/// The list a flow belongs in. A flow only changes list when a packet updates it (it closes),
/// and `track` unlinks it from the list it was in before the update.
fn list_of<S>(flow: &Flow<S>) -> List {
    if flow.closing() {
        List::Closing
    } else {
        list_for_new(flow.packed_key().proto(), flow.packed_key().orig_p(), flow.packed_key().resp_p())
    }
}

/// UDP ports whose flows get Zeek's DNS session timeout.
const DNS_UDP_PORTS: [u16; 3] = [53, 5353, 5355];

fn list_for_new(proto: u8, orig_p: u16, resp_p: u16) -> List {
    match proto {
        proto::TCP => List::Tcp,
        proto::UDP if DNS_UDP_PORTS.contains(&resp_p) || DNS_UDP_PORTS.contains(&orig_p) => List::UdpDns,
        proto::UDP => List::Udp,
        proto::ICMP | proto::ICMPV6 => List::Icmp,
        _ => List::Other,
    }
}

/// Zeek's `WantConnection` role guess for a flow's first packet: a packet from a likely server
/// port to a port that is not one, TCP only when the packet is not a plain SYN.
fn wants_flip(key: &FlowKey, pkt: &Decoded<'_>) -> bool {
    let (src, dst) = (key.orig_p, key.resp_p);
    match pkt.transport {
        Transport::Tcp(seg) => {
            let syn = seg.flags.has(TcpFlags::SYN);
            let ack = seg.flags.has(TcpFlags::ACK);
            if syn && !ack {
                return false;
            }
            if !likely_server_port(proto::TCP, src) {
                return false;
            }
            if likely_server_port(proto::TCP, dst) { !syn && src < dst } else { true }
        }
        Transport::Udp { .. } => likely_server_port(proto::UDP, src) && !likely_server_port(proto::UDP, dst),
        _ => false,
    }
}
