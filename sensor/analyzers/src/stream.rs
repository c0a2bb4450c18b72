//! Bounded, in-order reassembly of one direction of a TCP byte stream, for analyzers that need
//! the payload bytes in order (DNS over TCP now; others later).
//!
//! What it does, and the reason for each choice:
//! - The stream starts at the SYN's sequence number + 1, or, when the connection is picked up
//!   midstream, at the first segment seen in that direction (as Zeek's partial connections do).
//! - In-order bytes are handed over at once, without copying. Segments ahead of a hole are
//!   copied and held, at most `cap` bytes per direction; retransmitted bytes are dropped (the
//!   first copy wins).
//! - A hole is given up on ("content gap", Zeek's `TCP_Reassembler::Gap`) when the peer
//!   acknowledges data beyond it (the receiver got bytes we never saw), when holding the bytes
//!   after it would pass `cap`, or when the stream is finished. The consumer is told how many
//!   bytes are missing, then gets what follows.
//! - Sequence numbers wrap; offsets more than [`MAX_WINDOW`] ahead are taken as bogus and the
//!   segment is dropped, so a forged sequence number cannot make the stream jump.
//! - A segment cut by the capture's snap length is not delivered (Zeek does not either): its
//!   bytes become a gap once acknowledged.

/// Furthest ahead of the next expected byte a segment or acknowledgement may point (1 GiB):
/// beyond it the number is taken for garbage, not for a hole.
pub const MAX_WINDOW: u32 = 1 << 30;

/// Receives a direction's bytes in order.
pub trait StreamSink {
    /// The next bytes of the stream.
    fn data(&mut self, bytes: &[u8]);
    /// `len` bytes are missing at this point and will never come.
    fn gap(&mut self, len: u64);
    /// The FIN was reached in order: the stream is complete.
    fn end(&mut self);
}

/// Counters of one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Bytes delivered in order.
    pub delivered: u64,
    /// Bytes received again (retransmissions, overlaps) and dropped.
    pub duplicate: u64,
    /// Holes given up on.
    pub gaps: u64,
    /// Bytes in those holes.
    pub gap_bytes: u64,
    /// Segments dropped: sequence number implausibly far ahead.
    pub out_of_window: u64,
    /// Segments not delivered because the capture cut them.
    pub snapped: u64,
}

/// A segment held until the hole before it is filled.
#[derive(Debug)]
struct Held {
    seq: u32,
    data: Vec<u8>,
}

/// One direction of a TCP stream.
#[derive(Debug, Default)]
pub struct Reassembler {
    /// Sequence number of the next byte to deliver.
    next: Option<u32>,
    /// Sequence number just after the last data byte, once a FIN was seen.
    fin: Option<u32>,
    ended: bool,
    delivered_any: bool,
    /// Held segments, ordered by distance from `next`.
    held: Vec<Held>,
    held_bytes: usize,
    stats: StreamStats,
}

/// Signed distance from `from` to `to` in sequence space.
fn dist(from: u32, to: u32) -> i64 {
    i64::from(to.wrapping_sub(from) as i32)
}

impl Reassembler {
    /// A direction with nothing seen yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counters so far.
    pub fn stats(&self) -> &StreamStats {
        &self.stats
    }

    /// Whether the FIN was delivered.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Bytes held ahead of a hole.
    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// A segment sent in this direction. `payload` is `None` when the capture cut it
    /// (`wire_len` is then the length on the wire).
    pub fn segment(
        &mut self,
        seq: u32,
        syn: bool,
        fin: bool,
        payload: Option<&[u8]>,
        wire_len: u32,
        cap: usize,
        sink: &mut impl StreamSink,
    ) {
        let data_seq = if syn { seq.wrapping_add(1) } else { seq };
        if syn && !self.delivered_any && self.held.is_empty() {
            self.next = Some(data_seq);
        }
        let next = *self.next.get_or_insert(data_seq);
        if fin {
            let end = data_seq.wrapping_add(wire_len);
            if dist(next, end) >= 0 {
                self.fin = Some(end);
            }
        }
        match payload {
            Some(bytes) if !bytes.is_empty() => self.insert(data_seq, bytes, cap, sink),
            None if wire_len > 0 => self.stats.snapped += 1,
            _ => {}
        }
        self.check_end(sink);
    }

    /// The peer acknowledged everything before `ack`: bytes of ours it has and we have not
    /// become a gap.
    pub fn acknowledged(&mut self, ack: u32, sink: &mut impl StreamSink) {
        let Some(next) = self.next else { return };
        let mut target = ack;
        if let Some(fin) = self.fin
            && dist(fin, target) > 0
        {
            target = fin; // the FIN itself takes a sequence number
        }
        let d = dist(next, target);
        if d > 0 && d <= i64::from(MAX_WINDOW) {
            self.skip_to(target, sink);
            self.check_end(sink);
        }
    }

    /// The connection is over: everything held is delivered, holes become gaps.
    pub fn finish(&mut self, sink: &mut impl StreamSink) {
        let (Some(next), Some(last)) = (self.next, self.held.last()) else {
            return;
        };
        let end = last.seq.wrapping_add(last.data.len() as u32);
        if dist(next, end) > 0 {
            self.skip_to(end, sink);
        }
        self.check_end(sink);
    }

    fn insert(&mut self, seq: u32, bytes: &[u8], cap: usize, sink: &mut impl StreamSink) {
        let Some(next) = self.next else { return };
        let off = dist(next, seq);
        let len = bytes.len() as i64;
        if off + len <= 0 {
            self.stats.duplicate += bytes.len() as u64;
            return;
        }
        if off > i64::from(MAX_WINDOW) {
            self.stats.out_of_window += 1;
            return;
        }
        if off <= 0 {
            let skip = (-off) as usize;
            self.stats.duplicate += skip as u64;
            self.deliver(&bytes[skip..], sink);
            self.drain(sink);
            return;
        }
        // Ahead of a hole: make room, oldest hole first, then hold a copy.
        while self.held_bytes + bytes.len() > cap && !self.held.is_empty() {
            let first = self.held[0].seq;
            self.skip_to(first, sink);
        }
        let Some(next) = self.next else { return };
        if dist(next, seq) <= 0 {
            // Making room moved the stream past this segment's start.
            return self.insert(seq, bytes, cap, sink);
        }
        if self.held_bytes + bytes.len() > cap {
            self.skip_to(seq, sink);
            return self.insert(seq, bytes, cap, sink);
        }
        let at = self.held.partition_point(|h| dist(next, h.seq) <= dist(next, seq));
        self.held.insert(at, Held { seq, data: bytes.to_vec() });
        self.held_bytes += bytes.len();
    }

    fn deliver(&mut self, bytes: &[u8], sink: &mut impl StreamSink) {
        if bytes.is_empty() {
            return;
        }
        if let Some(next) = self.next.as_mut() {
            *next = next.wrapping_add(bytes.len() as u32);
        }
        self.delivered_any = true;
        self.stats.delivered += bytes.len() as u64;
        sink.data(bytes);
    }

    /// Delivers held segments that are now contiguous.
    fn drain(&mut self, sink: &mut impl StreamSink) {
        while let (Some(next), Some(first)) = (self.next, self.held.first()) {
            let off = dist(next, first.seq);
            if off > 0 {
                break;
            }
            let held = self.held.remove(0);
            self.held_bytes -= held.data.len();
            let skip = (-off) as usize;
            if skip >= held.data.len() {
                self.stats.duplicate += held.data.len() as u64;
                continue;
            }
            self.stats.duplicate += skip as u64;
            self.deliver(&held.data[skip..], sink);
        }
    }

    /// Gives up on everything missing before `target`, delivering held data on the way.
    fn skip_to(&mut self, target: u32, sink: &mut impl StreamSink) {
        loop {
            self.drain(sink);
            let Some(next) = self.next else { return };
            let remaining = dist(next, target);
            if remaining <= 0 {
                return;
            }
            let hole = match self.held.first() {
                Some(h) if dist(next, h.seq) < remaining => dist(next, h.seq),
                _ => remaining,
            };
            self.stats.gaps += 1;
            self.stats.gap_bytes += hole as u64;
            self.next = Some(next.wrapping_add(hole as u32));
            sink.gap(hole as u64);
        }
    }

    fn check_end(&mut self, sink: &mut impl StreamSink) {
        if !self.ended && self.fin.is_some() && self.fin == self.next {
            self.ended = true;
            sink.end();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Records what the stream hands over: bytes, `[gap N]`, `[end]`.
    #[derive(Default)]
    struct Log(Vec<String>);

    impl StreamSink for Log {
        fn data(&mut self, bytes: &[u8]) {
            self.0.push(String::from_utf8_lossy(bytes).into_owned());
        }
        fn gap(&mut self, len: u64) {
            self.0.push(format!("[gap {len}]"));
        }
        fn end(&mut self) {
            self.0.push("[end]".into());
        }
    }

    fn data(r: &mut Reassembler, seq: u32, bytes: &[u8], cap: usize, log: &mut Log) {
        r.segment(seq, false, false, Some(bytes), bytes.len() as u32, cap, log);
    }

    #[test]
    fn sequence_numbers_wrap() {
        let (mut r, mut log) = (Reassembler::new(), Log::default());
        let isn = u32::MAX - 2;
        r.segment(isn, true, false, Some(&[]), 0, 100, &mut log);
        data(&mut r, isn.wrapping_add(4), b"def", 100, &mut log);
        data(&mut r, isn.wrapping_add(1), b"abc", 100, &mut log);
        r.segment(isn.wrapping_add(7), false, true, Some(&[]), 0, 100, &mut log);
        assert_eq!(log.0, ["abc", "def", "[end]"]);
        assert!(r.is_ended());
    }

    #[test]
    fn full_buffer_gives_up_the_oldest_hole() {
        let (mut r, mut log) = (Reassembler::new(), Log::default());
        data(&mut r, 100, b"aa", 4, &mut log);
        data(&mut r, 105, b"cc", 4, &mut log); // hole 102..105
        data(&mut r, 110, b"ee", 4, &mut log); // hole 107..110, 4 bytes held
        data(&mut r, 115, b"gg", 4, &mut log); // over the cap: first hole skipped
        assert_eq!(log.0, ["aa", "[gap 3]", "cc"]);
        assert_eq!(r.held_bytes(), 4);
        r.finish(&mut log);
        assert_eq!(log.0[3..], ["[gap 3]", "ee", "[gap 3]", "gg"]);
        assert_eq!((r.stats().gaps, r.stats().gap_bytes), (3, 9));
    }

    #[test]
    fn bogus_sequence_numbers_are_dropped() {
        let (mut r, mut log) = (Reassembler::new(), Log::default());
        data(&mut r, 1000, b"x", 100, &mut log);
        data(&mut r, 1001 + MAX_WINDOW + 1, b"far", 100, &mut log);
        r.acknowledged(1001u32.wrapping_add(MAX_WINDOW + 5), &mut log);
        data(&mut r, 1001, b"y", 100, &mut log);
        assert_eq!(log.0, ["x", "y"]);
        assert_eq!(r.stats().out_of_window, 1);
    }

    #[test]
    fn ack_of_fin_skips_only_to_fin() {
        let (mut r, mut log) = (Reassembler::new(), Log::default());
        data(&mut r, 10, b"ab", 100, &mut log);
        r.segment(14, false, true, Some(b"ef"), 2, 100, &mut log); // FIN after "ef", hole 12..14
        r.acknowledged(17, &mut log); // acks the FIN too
        assert_eq!(log.0, ["ab", "[gap 2]", "ef", "[end]"]);
    }
}
