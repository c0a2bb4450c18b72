//! TCP endpoint state machine with Zeek's semantics, so that `conn_state`, `history`,
//! `orig_bytes`/`resp_bytes` (from sequence numbers) and `missed_bytes` read as Zeek's do.
//!
//! Mirrors `TCPSessionAdapter::Process` and `TCP_Endpoint` of Zeek (this file: endpoints, sequence
//! numbers, history, gaps; `states.rs`: the per-state transitions and `conn_state`): per-endpoint states
//! (inactive, SYN sent, SYN-ACK sent, partial, established, closed, reset), relative sequence
//! numbers that survive 32-bit wrap-around, history letters, and the state-machine weirds.
//!
//! Content gaps (Zeek's `missed_bytes`, history `G`) are found without buffering payload: each
//! endpoint keeps the point up to which its data was seen contiguously and one pending range seen
//! beyond a hole. When the peer acknowledges past a hole, the hole is counted as missed — what
//! Zeek's reassembler reports. Two or more simultaneous holes in one direction are merged, so
//! missed bytes can be undercounted there; docs/conn.md lists this difference.

mod states;

use crate::history::{History, Mark, Scaled};
use sensor_wire::{TcpFlags, TcpSegment};

/// Sequence-number jumps larger than this in a SYN or RST are not trusted (Zeek's
/// `TOO_LARGE_SEQ_DELTA`): a spoofed or broken RST must not make a connection look gigabytes long.
const TOO_LARGE_SEQ_DELTA: i64 = 1_048_576;

/// State of one side of a TCP connection (Zeek's `TCP_ENDPOINT_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EndpointState {
    /// Nothing seen from this side.
    #[default]
    Inactive,
    /// Sent a SYN.
    SynSent,
    /// Sent a SYN-ACK as originator.
    SynAckSent,
    /// Seen mid-stream, without its SYN.
    Partial,
    /// Handshake completed.
    Established,
    /// Sent a FIN.
    Closed,
    /// Sent a RST.
    Reset,
}

/// Difference of two sequence numbers, modulo 2^32.
fn seq_delta(a: u32, b: u32) -> i64 {
    i64::from(a.wrapping_sub(b) as i32)
}

/// A relative sequence number in 48 bits kept as bytes: alignment 1, so that an [`Endpoint`]
/// needs only 4-byte alignment and packs without padding.
///
/// Zeek keeps these in 64 bits so that they survive wrap-around; 48 bits hold ±128 TiB of one
/// direction of one connection, beyond which the value saturates (no connection a sensor watches
/// sends that much before its timeout) and the byte counts derived from it stop growing.
#[derive(Debug, Clone, Copy, Default)]
struct Wide([u8; 6]);

impl Wide {
    const MAX: i64 = (1 << 47) - 1;
    const MIN: i64 = -(1 << 47);

    fn get(self) -> i64 {
        let mut bytes = [0; 8];
        bytes[2..].copy_from_slice(&self.0);
        // Sign-extend from bit 47.
        i64::from_be_bytes(bytes) << 16 >> 16
    }

    fn new(value: i64) -> Wide {
        let bytes = value.clamp(Self::MIN, Self::MAX).to_be_bytes();
        let mut wide = [0; 6];
        wide.copy_from_slice(&bytes[2..]);
        Wide(wide)
    }
}

/// [`Endpoint::bits`]: this side sent a FIN or RST that closed it (Zeek's `did_close`).
const DID_CLOSE: u8 = 0x1;
/// This side sent a FIN (Zeek's `FIN_cnt > 0`, the only way the count is read).
const FIN_SEEN: u8 = 0x2;
/// A packet from this side was seen.
const FIRST_SEEN: u8 = 0x4;
/// Kept in the originator's bits only: the connection started partial (Zeek's `is_partial`).
const PARTIAL: u8 = 0x8;

/// One side of a TCP connection.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Endpoint {
    pub(crate) state: EndpointState,
    prev_state: EndpointState,
    /// [`DID_CLOSE`], [`FIN_SEEN`], [`FIRST_SEEN`], [`PARTIAL`].
    bits: u8,
    /// Initial sequence number (the SYN's, or one before the first byte seen).
    start: u32,
    /// Highest sequence number sent, relative to `start` (48-bit, so it survives wrap-around).
    last: Wide,
    /// Highest sequence number of this side acknowledged by the peer, relative to `start`
    /// (48-bit: with one direction unseen it runs ahead of `last` without bound).
    ack: Wide,
    /// Relative sequence just past this side's FIN (low 32 bits; see [`Endpoint::near_last`]).
    fin_seq: u32,
    /// Relative sequence of the last SYN, FIN and RST, truncated to 32 bits (only compared for
    /// equality, to tell a repeat from a retransmission).
    hist_last_syn: u32,
    hist_last_fin: u32,
    hist_last_rst: u32,
    rxmt: Scaled,
    zero_window: Scaled,
    gaps: Scaled,
    /// Data seen contiguously up to this relative sequence (low 32 bits).
    contig: u32,
    /// A range seen beyond a hole, `[pending_start, pending_end)`; empty when equal (low 32 bits).
    pending_start: u32,
    pending_end: u32,
}

impl Endpoint {
    fn last(&self) -> i64 {
        self.last.get()
    }

    fn set_last(&mut self, last: i64) {
        self.last = Wide::new(last);
    }

    fn ack(&self) -> i64 {
        self.ack.get()
    }

    fn set_ack(&mut self, ack: i64) {
        self.ack = Wide::new(ack);
    }

    fn bit(&self, bit: u8) -> bool {
        self.bits & bit != 0
    }

    fn set_bit(&mut self, bit: u8, on: bool) {
        if on {
            self.bits |= bit;
        } else {
            self.bits &= !bit;
        }
    }

    pub(crate) fn did_close(&self) -> bool {
        self.bit(DID_CLOSE)
    }

    /// A relative sequence stored in 32 bits, widened again next to `last`: the gap-tracking and
    /// FIN positions are always within 2 GiB of the highest sequence sent, and keeping them in 32
    /// bits saves 16 bytes per endpoint, which matters at a million flows.
    fn near_last(&self, low: u32) -> i64 {
        let last = self.last();
        last + i64::from(low.wrapping_sub(last as u32) as i32)
    }

    fn raw(&self, rel: i64) -> u32 {
        self.start.wrapping_add(rel as u32)
    }

    /// Relative position of `seq`, using the last sequence as the reference point.
    fn rel(&self, seq: u32) -> i64 {
        self.last() + seq_delta(seq, self.raw(self.last()))
    }

    fn init(&mut self, start: u32, last: u32) {
        self.start = start;
        self.set_ack(0);
        self.set_last(seq_delta(last, start));
        self.contig = 1;
        self.pending_start = 0;
        self.pending_end = 0;
    }

    fn set_state(&mut self, state: EndpointState) {
        if state != self.state {
            self.prev_state = self.state;
            self.state = state;
        }
    }

    /// Payload bytes sent, from sequence numbers (Zeek's `TCP_Endpoint::Size`).
    pub(crate) fn size(&self, peer: &Endpoint) -> u64 {
        if self.prev_state == EndpointState::SynSent
            && self.state == EndpointState::Reset
            && peer.state == EndpointState::Inactive
            && !(self.ack() == 0 || self.ack() == 1)
        {
            // A half-open connection discovered and aborted: its numbers mean nothing.
            return 0;
        }
        // Less the SYN octet.
        let mut size = (self.last().max(self.ack()).max(0) as u64).saturating_sub(1);
        if self.bit(FIN_SEEN) && size != 0 {
            size -= 1; // the FIN octet
        }
        size
    }

    /// Records data `[seq, seq + len)` for gap detection.
    fn data_seen(&mut self, seq: i64, len: i64) {
        let end = seq + len;
        let mut contig = self.near_last(self.contig);
        let (mut start, mut stop) = (self.near_last(self.pending_start), self.near_last(self.pending_end));
        if seq <= contig {
            contig = contig.max(end);
            if stop > start && start <= contig {
                contig = contig.max(stop);
                (start, stop) = (0, 0);
            }
        } else if stop > start {
            start = start.min(seq);
            stop = stop.max(end);
        } else {
            (start, stop) = (seq, end);
        }
        (self.contig, self.pending_start, self.pending_end) = (contig as u32, start as u32, stop as u32);
    }

    /// The peer acknowledged up to `ack` (relative to this endpoint): returns the bytes that were
    /// acknowledged but never seen.
    fn acked(&mut self, mut ack: i64) -> u64 {
        let fin_seq = self.near_last(self.fin_seq);
        if self.bit(FIN_SEEN) && ack >= fin_seq {
            ack = fin_seq - 1;
        }
        let mut contig = self.near_last(self.contig);
        if ack <= contig {
            return 0;
        }
        let (start, stop) = (self.near_last(self.pending_start), self.near_last(self.pending_end));
        let mut missing = 0;
        if stop > start && start < ack {
            missing += start - contig;
            contig = stop;
            (self.pending_start, self.pending_end) = (0, 0);
        }
        if ack > contig {
            missing += ack - contig;
            contig = ack;
        }
        self.contig = contig as u32;
        missing.max(0) as u64
    }
}

/// Both endpoints of a TCP connection. The connection's own flags live in the endpoints' spare
/// bits ([`FIRST_SEEN`] per side, [`PARTIAL`] in the originator's), so the whole is 120 bytes.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TcpState {
    pub(crate) orig: Endpoint,
    pub(crate) resp: Endpoint,
}

/// What one segment did to the connection.
#[derive(Debug, Default)]
pub(crate) struct SegmentOutcome {
    /// Bytes acknowledged by this segment that were never seen.
    pub(crate) missed: u64,
    /// The connection saw a SYN-ACK first and then real traffic: swap the roles.
    pub(crate) flip: bool,
    /// Whether the connection's last-activity time should advance (Zeek stops once both closed).
    pub(crate) active: bool,
}

/// Collects state-machine weirds (Zeek's names).
pub(crate) trait WeirdSink {
    fn weird(&mut self, name: &'static str);
}

impl TcpState {
    /// Zeek's `is_partial`: the connection was first seen without its handshake.
    fn is_partial(&self) -> bool {
        self.orig.bit(PARTIAL)
    }

    fn set_partial(&mut self, partial: bool) {
        self.orig.set_bit(PARTIAL, partial);
    }

    /// Whether the connection is closed and can be removed after the close delay.
    pub(crate) fn closing(&self) -> bool {
        use EndpointState::*;
        let (o, r) = (&self.orig, &self.resp);
        (o.did_close() && r.did_close())
            || o.state == Reset
            || r.state == Reset
            || ((o.did_close() || r.did_close()) && (o.state == Inactive || r.state == Inactive))
    }

    /// Processes one segment (Zeek's `TCPSessionAdapter::Process`).
    pub(crate) fn process(
        &mut self,
        from_orig: bool,
        seg: &TcpSegment<'_>,
        history: &mut History,
        weirds: &mut impl WeirdSink,
    ) -> SegmentOutcome {
        use EndpointState::*;
        let flags = seg.flags;
        let (syn, fin, rst, ack_flag) =
            (flags.has(TcpFlags::SYN), flags.has(TcpFlags::FIN), flags.has(TcpFlags::RST), flags.has(TcpFlags::ACK));
        let len = i64::from(seg.payload_len);
        let mut out = SegmentOutcome::default();

        // Partial status: the first packet of each side decides.
        if from_orig {
            if !self.orig.bit(FIRST_SEEN) {
                self.set_partial(!syn || ack_flag);
            }
        } else if !self.resp.bit(FIRST_SEEN) && !self.is_partial() {
            self.set_partial(!syn);
        }

        let mut seg_len = len + i64::from(syn) + i64::from(fin);
        if rst {
            seg_len -= len;
        }
        let (endpoint, peer) =
            if from_orig { (&mut self.orig, &mut self.resp) } else { (&mut self.resp, &mut self.orig) };
        let past = seg.seq.wrapping_add(seg_len as u32);

        // init_endpoint
        match endpoint.state {
            Inactive => {
                if syn {
                    endpoint.init(seg.seq, past);
                } else {
                    endpoint.init(seg.seq.wrapping_sub(1), seg.seq);
                }
            }
            SynSent | SynAckSent => {
                if syn && seg.seq != endpoint.start {
                    weirds.weird("SYN_seq_jump");
                    endpoint.init(seg.seq, past);
                }
            }
            Established | Partial => {
                if syn {
                    if endpoint.size(peer) > 0 {
                        weirds.weird("SYN_inside_connection");
                    }
                    if seg.seq != endpoint.start {
                        weirds.weird("SYN_seq_jump");
                    }
                    endpoint.init(seg.seq, past);
                }
            }
            Reset => {
                if syn && endpoint.prev_state == Inactive {
                    endpoint.init(seg.seq, past);
                }
            }
            Closed => {}
        }

        let rel_seq = endpoint.rel(seg.seq);
        let underflow = rel_seq < 0;
        if underflow && !rst {
            weirds.weird("TCP_seq_underflow_or_misorder");
        }

        // History: a SYN-ACK-first connection flips on the first real traffic.
        let bits = u8::from(syn) + u8::from(fin) + u8::from(rst);
        let productive = bits == 0 && (len > 0 || ack_flag);
        if productive && history.is(b"H") {
            out.flip = true;
            return out; // the caller swaps the roles and processes the segment again
        }
        if bits > 1 {
            if fin && rst {
                history.check(Mark::FinRst, from_orig, b'I');
            } else {
                history.check(Mark::MultiFlag, from_orig, b'Q');
            }
        } else if bits == 1 {
            if syn {
                let letter = if ack_flag { b'H' } else { b'S' };
                if history.check(Mark::Syn, from_orig, letter) && rel_seq as u32 != endpoint.hist_last_syn {
                    history.push(crate::history::case(letter, from_orig));
                }
                endpoint.hist_last_syn = rel_seq as u32;
            }
            if fin {
                if history.check(Mark::Fin, from_orig, b'F') && (rel_seq + len) as u32 != endpoint.hist_last_fin {
                    history.push(crate::history::case(b'F', from_orig));
                }
                endpoint.hist_last_fin = (rel_seq + len) as u32;
            }
            if rst {
                if history.check(Mark::Rst, from_orig, b'R') && rel_seq as u32 != endpoint.hist_last_rst {
                    history.push(crate::history::case(b'R', from_orig));
                }
                endpoint.hist_last_rst = rel_seq as u32;
            }
        } else if len > 0 {
            history.check(Mark::Data, from_orig, b'D');
        } else if ack_flag {
            history.check(Mark::Ack, from_orig, b'A');
        }

        // Zero window (boring with or after a RST, or after the peer's FIN).
        if seg.window == 0 && !rst && peer.state != Closed && endpoint.state != Reset && endpoint.zero_window.hit() {
            history.push(crate::history::case(b'W', from_orig));
        }

        out.active = !self.orig.did_close() || !self.resp.did_close();
        let (endpoint, peer) =
            if from_orig { (&mut self.orig, &mut self.resp) } else { (&mut self.resp, &mut self.orig) };

        if fin {
            endpoint.set_bit(FIN_SEEN, true);
            endpoint.fin_seq = (rel_seq + seg_len) as u32;
        }

        let mut rel_ack = None;
        if ack_flag {
            if peer.state == Inactive {
                if !syn && !fin && !rst && matches!(endpoint.state, SynSent | SynAckSent | Established) {
                    weirds.weird("possible_split_routing");
                }
                let start = seg.ack.wrapping_sub(1);
                peer.init(start, start);
                rel_ack = Some(1);
            } else {
                let ack_rel = peer.ack() + seq_delta(seg.ack, peer.raw(peer.ack()));
                if ack_rel < 0 {
                    weirds.weird("TCP_ack_underflow_or_misorder");
                    rel_ack = Some(0);
                } else {
                    if !rst {
                        let delta = seq_delta(seg.ack, peer.raw(peer.ack()));
                        if !(seg.ack == 0 && delta > TOO_LARGE_SEQ_DELTA) && delta > 0 {
                            peer.set_ack(peer.ack() + delta);
                        }
                    }
                    rel_ack = Some(ack_rel);
                }
            }
        }

        // update_last_seq
        let delta_last = seq_delta(past, endpoint.raw(endpoint.last()));
        if (syn || rst) && delta_last.abs() > TOO_LARGE_SEQ_DELTA {
            // not trusted
        } else if fin && endpoint.last() == 1 {
            endpoint.set_last(endpoint.last() + delta_last);
        } else if endpoint.state == Reset {
            // nothing after a RST is trusted
        } else if delta_last > 0 {
            endpoint.set_last(endpoint.last() + delta_last);
        } else if len > 0 && endpoint.rxmt.hit() {
            history.push(crate::history::case(b'T', from_orig));
        }

        self.update_state_machine(from_orig, seg, delta_last, weirds);

        // Content gaps, now that the state machine knows whether this ACK closes the connection.
        let is_partial = self.is_partial();
        let (endpoint, peer) =
            if from_orig { (&mut self.orig, &mut self.resp) } else { (&mut self.resp, &mut self.orig) };
        if let Some(ack) = rel_ack {
            let partial_start = ack <= 2 && is_partial;
            let missed = peer.acked(ack);
            let clean = matches!(peer.state, Established | Closed) && matches!(endpoint.state, Established | Closed);
            if missed > 0 && !partial_start && clean {
                out.missed = missed;
                if !fin && !rst && peer.gaps.hit() {
                    history.push(crate::history::case(b'G', !from_orig));
                }
            }
        }
        if len > 0 && !rst && !underflow {
            let data_seq = if syn { rel_seq + 1 } else { rel_seq };
            endpoint.data_seen(data_seq, len);
        }
        if fin || rst {
            let closing = if fin && !rst { Closed } else { endpoint.state };
            if matches!(closing, Closed | Reset) {
                endpoint.set_bit(DID_CLOSE, true);
            }
        }
        if from_orig {
            self.orig.set_bit(FIRST_SEEN, true);
        } else {
            self.resp.set_bit(FIRST_SEEN, true);
        }
        out
    }

    /// Swaps the roles of the two endpoints (the partial flag stays with the connection).
    pub(crate) fn flip(&mut self) {
        let partial = self.is_partial();
        core::mem::swap(&mut self.orig, &mut self.resp);
        self.resp.set_bit(PARTIAL, false);
        self.set_partial(partial);
        self.orig.set_bit(FIRST_SEEN, true);
    }
}

#[cfg(test)]
mod tests {
    use super::Wide;

    #[test]
    fn wide_sequences_round_trip_and_saturate() {
        for v in [0, 1, -1, 4_294_967_296, -4_294_967_297, Wide::MAX, Wide::MIN] {
            assert_eq!(Wide::new(v).get(), v);
        }
        assert_eq!(Wide::new(i64::MAX).get(), Wide::MAX);
        assert_eq!(Wide::new(i64::MIN).get(), Wide::MIN);
    }
}
