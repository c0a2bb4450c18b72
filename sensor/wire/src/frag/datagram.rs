//! One datagram under reassembly: the bytes received so far, which ranges of them are real, and
//! where the datagram ends. Pure bookkeeping, no limits other than [`MAX_FRAGMENT_RANGES`]; the
//! table in `mod.rs` owns memory accounting, eviction and time.

use core::net::IpAddr;

use crate::Anomaly;
use crate::Timestamp;
use crate::weird;

use super::{FragKey, MAX_FRAGMENT_RANGES, NIL};

/// A slot of the reassembly table. Its vectors keep their capacity when the slot is freed, so a
/// new datagram reuses them instead of allocating.
#[derive(Debug)]
pub(super) struct Datagram {
    pub key: FragKey,
    /// Capture time of the first fragment.
    pub created: Timestamp,
    pub in_use: bool,
    /// Links of the list of datagrams in order of creation (oldest first).
    pub older: u32,
    pub newer: u32,
    pub v6: bool,
    /// Protocol and header length of the first fragment seen, to flag fragments that disagree.
    pub first_next_header: u8,
    pub first_header_len: usize,
    /// The unfragmentable part, from the fragment at offset 0 (IPv4 header; IPv6 header and the
    /// extension headers before the fragment header).
    pub header: Vec<u8>,
    pub have_header: bool,
    /// IPv6: index in `header` of the next-header byte that pointed at the fragment header.
    pub nh_patch: usize,
    /// Protocol of the reassembled payload (from the fragment at offset 0).
    pub next_header: u8,
    /// Payload bytes, indexed by fragment offset; holes are zero.
    pub data: Vec<u8>,
    /// Received byte ranges of `data`: sorted, disjoint and not touching.
    pub ranges: Vec<(usize, usize)>,
    /// Payload length, once a fragment without MF (the last one) has been seen.
    pub end: Option<usize>,
}

impl Default for Datagram {
    fn default() -> Self {
        Datagram {
            key: FragKey::default(),
            created: Timestamp(0),
            in_use: false,
            older: NIL,
            newer: NIL,
            v6: false,
            first_next_header: 0,
            first_header_len: 0,
            header: Vec::new(),
            have_header: false,
            nh_patch: 0,
            next_header: 0,
            data: Vec::new(),
            ranges: Vec::new(),
            end: None,
        }
    }
}

/// What adding a fragment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Added {
    /// Bytes (possibly none) were added.
    Ok {
        /// The fragment overlapped bytes already received.
        overlapped: bool,
    },
    /// The datagram would be split into more than [`MAX_FRAGMENT_RANGES`] pieces.
    TooManyRanges,
}

impl Datagram {
    /// Makes the slot hold a new, empty datagram (keeping the vectors' capacity).
    pub fn reset(&mut self, key: FragKey, now: Timestamp, v6: bool, next_header: u8, hdr_len: usize) {
        self.key = key;
        self.created = now;
        self.in_use = true;
        self.v6 = v6;
        self.first_next_header = next_header;
        self.first_header_len = hdr_len;
        self.header.clear();
        self.have_header = false;
        self.nh_patch = 0;
        self.next_header = next_header;
        self.data.clear();
        self.ranges.clear();
        self.end = None;
    }

    /// Bytes of memory this slot holds.
    pub fn footprint(&self) -> usize {
        self.data.capacity() + self.header.capacity() + self.ranges.capacity() * core::mem::size_of::<(usize, usize)>()
    }

    /// Frees the slot's buffers (when the pool is full).
    pub fn drop_buffers(&mut self) {
        self.data = Vec::new();
        self.header = Vec::new();
        self.ranges = Vec::new();
    }

    /// Length `data` will have after adding `len` bytes at `offset`.
    pub fn len_after(&self, offset: usize, len: usize, more: bool) -> usize {
        let e = offset + len;
        match self.end {
            Some(end) => self.data.len().max(e.min(end)),
            None if !more => e,
            None => self.data.len().max(e),
        }
    }

    /// Stores the unfragmentable part from the fragment at offset 0 (the first one wins).
    pub fn set_header(&mut self, header: &[u8], nh_patch: usize, next_header: u8) {
        if !self.have_header {
            self.header.clear();
            self.header.extend_from_slice(header);
            self.nh_patch = nh_patch;
            self.next_header = next_header;
            self.have_header = true;
        }
    }

    /// Adds `bytes` at `offset`. Bytes already received win over new ones (first-wins); the
    /// first fragment without MF fixes the end, and bytes beyond it are discarded. Overlaps and
    /// size disagreements are reported as anomalies.
    pub fn add(&mut self, offset: usize, bytes: &[u8], more: bool, anomalies: &mut Vec<Anomaly>) -> Added {
        let (src, dst) = (Some(self.key.src), Some(self.key.dst));
        let start = offset;
        let mut end = offset + bytes.len();
        let mut size_inconsistent = false;
        match (self.end, more) {
            (None, false) => {
                if self.data.len() > end {
                    size_inconsistent = true;
                    self.clip(end);
                }
                self.end = Some(end);
            }
            (Some(known), false) if known != end => {
                size_inconsistent = true;
                end = end.min(known);
            }
            (Some(known), true) if end > known => {
                size_inconsistent = true;
                end = known;
            }
            _ => {}
        }
        if size_inconsistent {
            weird::push(anomalies, weird::FRAGMENT_SIZE_INCONSISTENCY, src, dst);
        }
        if start >= end {
            return Added::Ok { overlapped: false };
        }
        let bytes = &bytes[..end - start];
        if self.data.len() < end {
            self.data.resize(end, 0);
        }

        let Datagram { data, ranges, .. } = self;
        let (mut overlapped, mut conflicting) = (false, false);
        let mut cursor = start;
        for &(rs, re) in ranges.iter() {
            if re <= start {
                continue;
            }
            if rs >= end {
                break;
            }
            let (os, oe) = (start.max(rs), end.min(re));
            overlapped = true;
            conflicting |= data[os..oe] != bytes[os - start..oe - start];
            if rs > cursor {
                data[cursor..rs].copy_from_slice(&bytes[cursor - start..rs - start]);
            }
            cursor = cursor.max(re);
        }
        if cursor < end {
            data[cursor..end].copy_from_slice(&bytes[cursor - start..]);
        }
        if conflicting {
            weird::push(anomalies, weird::FRAGMENT_INCONSISTENCY, src, dst);
        } else if overlapped {
            weird::push(anomalies, weird::FRAGMENT_OVERLAP, src, dst);
        }
        if insert_range(ranges, start, end) { Added::Ok { overlapped } } else { Added::TooManyRanges }
    }

    /// Whether every byte from 0 to the end has arrived, and the header with it.
    pub fn is_complete(&self) -> bool {
        match self.end {
            Some(0) => self.have_header,
            Some(end) => self.have_header && self.ranges.as_slice() == [(0, end)],
            None => false,
        }
    }

    /// Discards everything at or beyond `end`.
    fn clip(&mut self, end: usize) {
        self.data.truncate(end);
        self.ranges.retain(|&(rs, _)| rs < end);
        if let Some(last) = self.ranges.last_mut() {
            last.1 = last.1.min(end);
        }
    }

    /// Source and destination, for anomalies.
    pub fn addrs(&self) -> (Option<IpAddr>, Option<IpAddr>) {
        (Some(self.key.src), Some(self.key.dst))
    }
}

/// Merges `[start, end)` into `ranges` (sorted, disjoint, not touching). Returns false, leaving
/// `ranges` unchanged, if that would need more than [`MAX_FRAGMENT_RANGES`] entries.
fn insert_range(ranges: &mut Vec<(usize, usize)>, start: usize, end: usize) -> bool {
    // First range that touches or follows `start`, and first range wholly after `end`.
    let i = ranges.partition_point(|&(_, re)| re < start);
    let j = ranges.partition_point(|&(rs, _)| rs <= end);
    if i == j {
        if ranges.len() >= MAX_FRAGMENT_RANGES {
            return false;
        }
        ranges.insert(i, (start, end));
    } else {
        let merged = (start.min(ranges[i].0), end.max(ranges[j - 1].1));
        ranges[i] = merged;
        ranges.drain(i + 1..j);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dg() -> Datagram {
        let mut d = Datagram::default();
        d.reset(FragKey::default(), Timestamp(0), false, 17, 20);
        d.set_header(&[0x45; 20], 0, 17);
        d
    }

    #[test]
    fn ranges_merge_and_stay_sorted() {
        let mut r = Vec::new();
        assert!(insert_range(&mut r, 16, 24));
        assert!(insert_range(&mut r, 0, 8));
        assert_eq!(r, [(0, 8), (16, 24)]);
        assert!(insert_range(&mut r, 8, 16)); // touches both: one range
        assert_eq!(r, [(0, 24)]);
        assert!(insert_range(&mut r, 40, 48));
        assert!(insert_range(&mut r, 4, 44)); // swallows both
        assert_eq!(r, [(0, 48)]);
    }

    #[test]
    fn range_count_is_bounded() {
        let mut r = Vec::new();
        for k in 0..MAX_FRAGMENT_RANGES {
            assert!(insert_range(&mut r, k * 16, k * 16 + 8));
        }
        assert!(!insert_range(&mut r, 100_000, 100_008));
        assert_eq!(r.len(), MAX_FRAGMENT_RANGES);
        // Filling a hole still works at the limit.
        assert!(insert_range(&mut r, 8, 16));
        assert_eq!(r.len(), MAX_FRAGMENT_RANGES - 1);
    }

    #[test]
    fn in_order_fragments_complete() {
        let mut d = dg();
        let mut an = Vec::new();
        assert_eq!(d.add(0, &[1; 8], true, &mut an), Added::Ok { overlapped: false });
        assert!(!d.is_complete());
        assert_eq!(d.add(8, &[2; 4], false, &mut an), Added::Ok { overlapped: false });
        assert!(d.is_complete());
        assert_eq!(d.data, [1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2]);
        assert!(an.is_empty());
    }

    #[test]
    fn first_wins_on_conflicting_overlap() {
        let mut d = dg();
        let mut an = Vec::new();
        d.add(8, &[b'Z'; 8], true, &mut an);
        assert_eq!(d.add(0, &[b'A'; 16], true, &mut an), Added::Ok { overlapped: true });
        assert_eq!(&d.data[..], b"AAAAAAAAZZZZZZZZ");
        assert_eq!(an.len(), 1);
        assert_eq!(an[0].name, weird::FRAGMENT_INCONSISTENCY);
    }

    #[test]
    fn identical_overlap_is_only_an_overlap() {
        let mut d = dg();
        let mut an = Vec::new();
        d.add(0, &[7; 16], true, &mut an);
        d.add(8, &[7; 16], false, &mut an);
        assert!(d.is_complete());
        assert_eq!(an.len(), 1);
        assert_eq!(an[0].name, weird::FRAGMENT_OVERLAP);
    }

    #[test]
    fn first_last_fragment_fixes_the_end() {
        let mut d = dg();
        let mut an = Vec::new();
        d.add(0, &[1; 8], true, &mut an);
        d.add(8, &[2; 8], false, &mut an); // end = 16
        d.add(8, &[3; 16], true, &mut an); // claims up to 24: clipped, inconsistent
        assert_eq!(d.end, Some(16));
        assert_eq!(d.data.len(), 16);
        assert_eq!(an[0].name, weird::FRAGMENT_SIZE_INCONSISTENCY);
        assert!(d.is_complete());
    }

    #[test]
    fn late_last_fragment_clips_data_beyond_it() {
        let mut d = dg();
        let mut an = Vec::new();
        d.add(0, &[1; 8], true, &mut an);
        d.add(16, &[2; 8], true, &mut an);
        assert_eq!(d.len_after(8, 0, false), 8);
        d.add(8, &[], false, &mut an); // zero-length last fragment: end = 8
        assert_eq!(an[0].name, weird::FRAGMENT_SIZE_INCONSISTENCY);
        assert_eq!(d.ranges, [(0, 8)]);
        assert!(d.is_complete());
    }
}
