//! IPv4 and IPv6 fragment reassembly, bounded in memory and time.
//!
//! # Map
//! - `mod.rs` (this file): the table — lookup by `FragKey`, limits, eviction, timeout, and
//!   building the reassembled datagram.
//! - `datagram.rs`: one datagram — received ranges, overlap policy, end of datagram.
//!
//! # Key
//! IPv4: (source, destination, identification, protocol, VLAN ids), like Linux
//! (`ip4_frag_match`). IPv6: (source, destination, identification, VLAN ids), as RFC 8200 §4.5
//! defines it; a fragment whose next header differs from the first one's is reassembled with it and
//! flagged `fragment_protocol_inconsistency`, as Zeek does.
//!
//! # Overlap policy: first wins
//! Bytes already received are never overwritten. A fragment that overlaps received bytes raises
//! `fragment_overlap` when the overlapping bytes are identical (retransmission, duplicated frame)
//! and `fragment_inconsistency` when they differ (an evasion attempt, RFC 1858 / Ptacek-Newsham);
//! the datagram is still reassembled, from the first copy of each byte. This is what Zeek
//! (`src/Frag.cc` + `src/Reassem.cc`) and the BSD stacks do. Modern Linux and RFC 5722 (IPv6)
//! instead discard a datagram with any overlap; we keep it so that analysis sees one plausible
//! version of the data, and the anomaly tells the analyst that the hosts may have seen another.
//! Likewise the first fragment without MF fixes where the datagram ends; bytes any fragment
//! places beyond that end are discarded with `fragment_size_inconsistency` (Zeek instead extends
//! the datagram). The rationale is in `docs/decisions/fragment-reassembly.md`.
//!
//! # Bounds (see [`crate::FragmentConfig`])
//! - at most `max_datagrams` datagrams: a new one evicts the one whose first fragment came first;
//! - at most `max_bytes` of buffers in use (payload with its holes, headers, range lists): over
//!   it, the oldest datagrams are evicted; freed buffers are pooled up to `max_bytes` more, and
//!   dropped beyond that;
//! - a datagram may not reach past `max_datagram_len` (`excessively_large_fragment`, dropped);
//! - at most [`MAX_FRAGMENT_RANGES`] disjoint pieces per datagram;
//! - a datagram older than `timeout` is discarded by `FrameDecoder::expire`, or when its next
//!   fragment arrives.
//!
//! No allocation happens per fragment once the pool is warm: slots, their vectors, the hash map
//! and the output buffer keep their capacity. Unfragmented packets never reach this module, so
//! they are never hashed.

mod datagram;
#[cfg(test)]
mod tests;

use core::net::{IpAddr, Ipv4Addr};
use core::time::Duration;

use hashbrown::HashMap;
use smoltcp::wire::{Ipv4Packet, Ipv6Packet};

use crate::weird;
use crate::{Anomaly, DecodeCounters, FragmentConfig, Timestamp};

use datagram::{Added, Datagram};

/// Most disjoint pieces a datagram under reassembly may be split into. Defends against a peer
/// that sends every other 8-byte fragment of a 64 KiB datagram to make each insertion walk a
/// long list (CVE-2018-5391 "FragmentSmack" is this attack on Linux). In-order or mildly
/// reordered traffic needs a handful.
pub const MAX_FRAGMENT_RANGES: usize = 64;

/// Zeek's `MIN_ACCEPTABLE_FRAG_SIZE` (`src/Frag.cc`): a non-final fragment smaller than this
/// (IP header included) is flagged `excessively_small_fragment`.
const MIN_ACCEPTABLE_FRAG_SIZE: usize = 64;

/// No slot.
const NIL: u32 = u32::MAX;

/// What identifies the fragments of one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FragKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub id: u32,
    /// IPv4 protocol; 0 for IPv6 (not part of the RFC 8200 key).
    pub proto: u8,
    pub vlan: Option<u16>,
    pub inner_vlan: Option<u16>,
}

impl Default for FragKey {
    fn default() -> Self {
        FragKey {
            src: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            dst: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            id: 0,
            proto: 0,
            vlan: None,
            inner_vlan: None,
        }
    }
}

/// One fully captured fragment, as the IP decoders hand it over.
#[derive(Debug)]
pub(crate) struct Fragment<'a> {
    pub key: FragKey,
    pub v6: bool,
    /// The unfragmentable part of this fragment (IPv4 header with options; IPv6 header and the
    /// extension headers before the fragment header).
    pub header: &'a [u8],
    /// IPv6: index in `header` of the next-header byte that names the fragment header.
    pub nh_patch: usize,
    /// Protocol of the fragmented payload.
    pub next_header: u8,
    /// Offset of `data` in the datagram's payload, in bytes.
    pub offset: usize,
    pub more: bool,
    pub dont_frag: bool,
    /// Total IP length of this fragment (for `excessively_small_fragment`).
    pub ip_len: usize,
    pub data: &'a [u8],
}

/// What a fragment led to.
#[derive(Debug)]
pub(crate) enum Outcome<'a> {
    /// Buffered; the datagram is not complete yet.
    Held,
    /// The datagram is complete: the whole reassembled IP datagram, with its length fields set
    /// and (IPv4) MF/offset cleared or (IPv6) the fragment header removed.
    Complete(&'a [u8]),
    /// The fragment (and, where the anomaly says so, its datagram) was discarded.
    Dropped,
}

/// Current use of the reassembly table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FragmentUsage {
    /// Datagrams under reassembly.
    pub datagrams: usize,
    /// Bytes of buffers held by them.
    pub bytes: usize,
    /// Bytes of buffers pooled for reuse.
    pub pooled_bytes: usize,
}

/// The reassembly table.
pub(crate) struct Reassembler {
    max_datagrams: usize,
    max_bytes: usize,
    max_len: usize,
    timeout: Duration,
    map: HashMap<FragKey, u32, foldhash::fast::RandomState>,
    slots: Vec<Datagram>,
    free: Vec<u32>,
    oldest: u32,
    newest: u32,
    in_use_bytes: usize,
    pooled_bytes: usize,
    out: Vec<u8>,
}

impl Reassembler {
    pub fn new(cfg: &FragmentConfig) -> Self {
        Reassembler {
            max_datagrams: cfg.max_datagrams,
            max_bytes: cfg.max_bytes,
            max_len: cfg.effective_max_datagram_len(),
            timeout: cfg.timeout,
            // Randomly seeded per process, so that keys cannot be chosen to collide.
            map: HashMap::with_hasher(foldhash::fast::RandomState::default()),
            slots: Vec::new(),
            free: Vec::new(),
            oldest: NIL,
            newest: NIL,
            in_use_bytes: 0,
            pooled_bytes: 0,
            out: Vec::new(),
        }
    }

    pub fn usage(&self) -> FragmentUsage {
        FragmentUsage { datagrams: self.map.len(), bytes: self.in_use_bytes, pooled_bytes: self.pooled_bytes }
    }

    /// Adds a fragment captured at `now`.
    pub fn insert<'s>(
        &'s mut self,
        f: &Fragment<'_>,
        now: Timestamp,
        c: &mut DecodeCounters,
        anomalies: &mut Vec<Anomaly>,
    ) -> Outcome<'s> {
        let (src, dst) = (Some(f.key.src), Some(f.key.dst));
        if f.dont_frag {
            // Linux path-MTU discovery for UDP can do this (Zeek's comment in Frag.cc).
            weird::push(anomalies, weird::FRAGMENT_WITH_DF, src, dst);
        }
        if f.more && f.ip_len < MIN_ACCEPTABLE_FRAG_SIZE {
            weird::push(anomalies, weird::EXCESSIVELY_SMALL_FRAGMENT, src, dst);
        }
        if self.max_datagrams == 0 {
            return Outcome::Dropped;
        }
        let existing = self.map.get(&f.key).copied();
        if f.header.len() + f.offset + f.data.len() > self.max_len {
            weird::push(anomalies, weird::EXCESSIVELY_LARGE_FRAGMENT, src, dst);
            if let Some(idx) = existing {
                self.release(idx);
            }
            return Outcome::Dropped;
        }

        let idx = match existing {
            Some(idx) if now.since(self.slot(idx).created) > self.timeout => {
                self.time_out(idx, c, anomalies);
                self.start(f, now, c)
            }
            Some(idx) => idx,
            None => self.start(f, now, c),
        };

        let dg = self.slot(idx);
        if dg.first_next_header != f.next_header || dg.first_header_len != f.header.len() {
            weird::push(anomalies, weird::FRAGMENT_PROTOCOL_INCONSISTENCY, src, dst);
        }

        // Make room before growing the buffers.
        let header_growth = if f.offset == 0 && !dg.have_header { f.header.len() } else { 0 };
        let growth = dg.len_after(f.offset, f.data.len(), f.more).saturating_sub(dg.data.capacity())
            + header_growth.saturating_sub(dg.header.capacity())
            + 2 * core::mem::size_of::<(usize, usize)>();
        while self.in_use_bytes + growth > self.max_bytes {
            let victim = if self.oldest == idx { self.slot(idx).newer } else { self.oldest };
            c.fragment_evictions += 1;
            if victim == NIL {
                // This datagram alone does not fit.
                self.release(idx);
                return Outcome::Dropped;
            }
            self.release(victim);
        }

        let slot = &mut self.slots[idx as usize];
        let before = slot.footprint();
        if f.offset == 0 {
            slot.set_header(f.header, f.nh_patch, f.next_header);
        }
        let added = slot.add(f.offset, f.data, f.more, anomalies);
        let after = slot.footprint();
        self.in_use_bytes = self.in_use_bytes - before + after;
        match added {
            Added::Ok { overlapped } => c.fragment_overlaps += u64::from(overlapped),
            Added::TooManyRanges => {
                weird::push(anomalies, weird::EXCESSIVE_FRAGMENT_HOLES, src, dst);
                self.release(idx);
                return Outcome::Dropped;
            }
        }
        if !self.slots[idx as usize].is_complete() {
            return Outcome::Held;
        }

        let built = assemble(&mut self.out, &self.slots[idx as usize], self.max_len);
        self.release(idx);
        if built {
            Outcome::Complete(&self.out)
        } else {
            weird::push(anomalies, weird::EXCESSIVELY_LARGE_FRAGMENT, src, dst);
            Outcome::Dropped
        }
    }

    /// Discards datagrams whose first fragment is older than the timeout at `now`.
    pub fn expire(&mut self, now: Timestamp, c: &mut DecodeCounters, anomalies: &mut Vec<Anomaly>) {
        while self.oldest != NIL && now.since(self.slot(self.oldest).created) > self.timeout {
            self.time_out(self.oldest, c, anomalies);
        }
    }

    #[inline]
    fn slot(&self, idx: u32) -> &Datagram {
        &self.slots[idx as usize]
    }

    fn time_out(&mut self, idx: u32, c: &mut DecodeCounters, anomalies: &mut Vec<Anomaly>) {
        let (src, dst) = self.slot(idx).addrs();
        weird::push(anomalies, weird::FRAGMENT_REASSEMBLY_TIMEOUT, src, dst);
        c.fragment_timeouts += 1;
        self.release(idx);
    }

    /// Starts a datagram for `f`, evicting the oldest one if the table is full.
    fn start(&mut self, f: &Fragment<'_>, now: Timestamp, c: &mut DecodeCounters) -> u32 {
        if self.map.len() >= self.max_datagrams && self.oldest != NIL {
            c.fragment_evictions += 1;
            self.release(self.oldest);
        }
        let idx = match self.free.pop() {
            Some(idx) => idx,
            None => {
                self.slots.push(Datagram::default());
                // Slots never outnumber max_datagrams (a u32 would need 4 G of them).
                u32::try_from(self.slots.len() - 1).unwrap_or(NIL - 1)
            }
        };
        let slot = &mut self.slots[idx as usize];
        let footprint = slot.footprint();
        slot.reset(f.key, now, f.v6, f.next_header, f.header.len());
        self.pooled_bytes -= footprint;
        self.in_use_bytes += footprint;
        self.link_newest(idx);
        self.map.insert(f.key, idx);
        idx
    }

    /// Frees a slot: out of the map and the age list, buffers back to the pool (or dropped when
    /// the pool is full).
    fn release(&mut self, idx: u32) {
        self.unlink(idx);
        let slot = &mut self.slots[idx as usize];
        self.map.remove(&slot.key);
        slot.in_use = false;
        let footprint = slot.footprint();
        self.in_use_bytes -= footprint;
        if self.pooled_bytes + footprint > self.max_bytes {
            slot.drop_buffers();
        } else {
            self.pooled_bytes += footprint;
        }
        self.free.push(idx);
    }

    fn link_newest(&mut self, idx: u32) {
        let newest = self.newest;
        let slot = &mut self.slots[idx as usize];
        slot.older = newest;
        slot.newer = NIL;
        if newest == NIL {
            self.oldest = idx;
        } else {
            self.slots[newest as usize].newer = idx;
        }
        self.newest = idx;
    }

    fn unlink(&mut self, idx: u32) {
        let (older, newer) = {
            let s = self.slot(idx);
            (s.older, s.newer)
        };
        if older == NIL {
            self.oldest = newer;
        } else {
            self.slots[older as usize].newer = newer;
        }
        if newer == NIL {
            self.newest = older;
        } else {
            self.slots[newer as usize].older = older;
        }
        let slot = &mut self.slots[idx as usize];
        slot.older = NIL;
        slot.newer = NIL;
    }
}

/// Writes the reassembled datagram into `out`: header, payload, fixed-up length fields, no more
/// fragmentation. Returns false if it would exceed `max_len` (the header of the first fragment
/// can be longer than the one the size check saw).
fn assemble(out: &mut Vec<u8>, dg: &Datagram, max_len: usize) -> bool {
    let end = dg.end.unwrap_or(0).min(dg.data.len());
    let total = dg.header.len() + end;
    let Ok(total16) = u16::try_from(total) else {
        return false;
    };
    if total > max_len {
        return false;
    }
    out.clear();
    out.extend_from_slice(&dg.header);
    out.extend_from_slice(&dg.data[..end]);
    if dg.v6 {
        // The header is at least 40 bytes (checked by the IPv6 decoder) and nh_patch indexes it.
        let mut p = Ipv6Packet::new_unchecked(&mut out[..]);
        p.set_payload_len(total16.saturating_sub(40));
        if let Some(nh) = out.get_mut(dg.nh_patch) {
            *nh = dg.next_header;
        }
    } else {
        // The header is at least 20 bytes (checked by the IPv4 decoder).
        let mut p = Ipv4Packet::new_unchecked(&mut out[..]);
        p.set_total_len(total16);
        p.set_more_frags(false);
        p.set_frag_offset(0);
    }
    true
}
