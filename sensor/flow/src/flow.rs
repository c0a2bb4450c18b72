//! One tracked flow: identity, counters, TCP state, history, and the analysers' state `S`.

use crate::history::{History, Mark};
use crate::key::{FlowKey, PackedKey, proto};
use crate::tcp::{TcpState, WeirdSink};
use sensor_wire::{Decoded, Timestamp, Transport};

/// Per-direction counters (Zeek's `*_pkts` and `*_ip_bytes`). Payload bytes are
/// [`Flow::orig_bytes`] and [`Flow::resp_bytes`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirStats {
    /// Packets sent.
    pub pkts: u64,
    /// IP-level bytes sent (IP total lengths).
    pub ip_bytes: u64,
}

/// What a flow tracks besides the common counters, by protocol: a TCP flow derives its payload
/// bytes from sequence numbers and needs no counters, the others need nothing but counters.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ProtoState {
    /// TCP: both endpoints' state machines.
    Tcp(TcpState),
    /// UDP, ICMP and other protocols: payload bytes sent by the originator and the responder.
    Counted { orig: u64, resp: u64 },
}

/// Why a flow's record is being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// No packet for the protocol's inactivity timeout, or the close delay after FIN/RST.
    Timeout,
    /// The table was full and this flow was the one idle longest.
    Evicted,
    /// End of input (replay finished, capture stopped).
    Shutdown,
}

/// A bidirectional flow.
#[derive(Debug)]
pub struct Flow<S> {
    /// Identity, oriented originator → responder ([`Flow::key`]).
    key: PackedKey,
    /// Serial number in its table, source of the uid.
    pub serial: u64,
    /// First packet.
    pub start: Timestamp,
    /// Last packet that counted as activity.
    pub last: Timestamp,
    /// Originator → responder counters.
    pub orig: DirStats,
    /// Responder → originator counters.
    pub resp: DirStats,
    /// Zeek's history string.
    pub history: History,
    /// Bytes acknowledged but never seen (TCP).
    pub missed_bytes: u64,
    pub(crate) state: ProtoState,
    /// Which weird names this flow already reported (a 32-bit set by name hash; a collision can
    /// only suppress a repeat report, never lose a flow).
    weirds_reported: u32,
    /// Analyser state attached by the pipeline.
    pub app: S,
}

/// Weirds raised while updating a flow, handed to the caller with the flow.
pub(crate) struct Weirds {
    pub(crate) names: [&'static str; 4],
    pub(crate) len: usize,
}

impl WeirdSink for Weirds {
    fn weird(&mut self, name: &'static str) {
        if self.len < self.names.len() {
            self.names[self.len] = name;
            self.len += 1;
        }
    }
}

impl<S> Flow<S> {
    pub(crate) fn new(key: PackedKey, serial: u64, ts: Timestamp, app: S) -> Flow<S> {
        let state = if key.proto() == proto::TCP {
            ProtoState::Tcp(TcpState::default())
        } else {
            ProtoState::Counted { orig: 0, resp: 0 }
        };
        Flow {
            key,
            serial,
            start: ts,
            last: ts,
            orig: DirStats::default(),
            resp: DirStats::default(),
            history: History::default(),
            missed_bytes: 0,
            state,
            weirds_reported: 0,
            app,
        }
    }

    /// Updates the flow with one packet; `from_orig` says which side sent it. Returns the
    /// direction after any role flip.
    pub(crate) fn update(
        &mut self,
        ts: Timestamp,
        pkt: &Decoded<'_>,
        mut from_orig: bool,
        weirds: &mut Weirds,
    ) -> bool {
        let mut active = true;
        // The key holds the protocol, so a TCP flow only ever sees TCP segments and holds
        // `ProtoState::Tcp`, and every other flow holds `ProtoState::Counted`.
        let payload = match pkt.transport {
            Transport::Tcp(seg) => {
                if let ProtoState::Tcp(tcp) = &mut self.state {
                    let mut out = tcp.process(from_orig, &seg, &mut self.history, weirds);
                    if out.flip {
                        tcp.flip();
                        flip_common(&mut self.key, &mut self.orig, &mut self.resp, &mut self.history);
                        self.history.replace(b"^h");
                        from_orig = !from_orig;
                        out = tcp.process(from_orig, &seg, &mut self.history, weirds);
                    }
                    self.missed_bytes += out.missed;
                    active = out.active;
                }
                0
            }
            Transport::Udp { payload_len, .. } => {
                self.history.check(Mark::Data, from_orig, b'D');
                payload_len
            }
            // Zeek counts what follows the 8-byte ICMP header.
            Transport::Icmp { payload_len, .. } => payload_len.saturating_sub(4),
            Transport::Other { payload_len, .. } => payload_len,
        };
        if let ProtoState::Counted { orig, resp } = &mut self.state {
            *(if from_orig { orig } else { resp }) += u64::from(payload);
        }
        let dir = self.dir(from_orig);
        dir.pkts += 1;
        dir.ip_bytes += u64::from(pkt.ip_len);
        if active {
            self.last = ts;
        }
        from_orig
    }

    fn dir(&mut self, from_orig: bool) -> &mut DirStats {
        if from_orig { &mut self.orig } else { &mut self.resp }
    }

    /// Swaps originator and responder (Zeek's `FlipRoles`), e.g. when an analyser sees that the
    /// first packet came from the server.
    pub fn flip(&mut self) {
        match &mut self.state {
            ProtoState::Tcp(tcp) => tcp.flip(),
            ProtoState::Counted { orig, resp } => core::mem::swap(orig, resp),
        }
        flip_common(&mut self.key, &mut self.orig, &mut self.resp, &mut self.history);
    }

    /// Identity, oriented originator → responder.
    pub fn key(&self) -> FlowKey {
        self.key.unpack()
    }

    /// The stored key, for the table's lookups.
    pub(crate) fn packed_key(&self) -> &PackedKey {
        &self.key
    }

    /// Whether `name` was not yet reported for this flow (and marks it reported).
    pub(crate) fn first_report(&mut self, name: &'static str) -> bool {
        let bit = 1u32 << (name.bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b))) % 32);
        let first = self.weirds_reported & bit == 0;
        self.weirds_reported |= bit;
        first
    }

    /// Whether a TCP flow is closed and only waits for the close delay.
    pub(crate) fn closing(&self) -> bool {
        matches!(&self.state, ProtoState::Tcp(tcp) if tcp.closing())
    }

    /// Zeek's `conn_state`.
    pub fn conn_state(&self) -> &'static str {
        match (&self.state, self.key.proto()) {
            (ProtoState::Tcp(tcp), _) => tcp.conn_state(&self.history.letters()),
            (_, proto::UDP) => match (self.orig.pkts > 0, self.resp.pkts > 0) {
                (true, true) => "SF",
                (true, false) => "S0",
                (false, true) => "SHR",
                (false, false) => "OTH",
            },
            _ => "OTH",
        }
    }

    /// Payload bytes sent by the originator (`orig_bytes`): from sequence numbers for TCP.
    pub fn orig_bytes(&self) -> u64 {
        match &self.state {
            ProtoState::Tcp(tcp) => tcp.orig.size(&tcp.resp),
            ProtoState::Counted { orig, .. } => *orig,
        }
    }

    /// Payload bytes sent by the responder (`resp_bytes`).
    pub fn resp_bytes(&self) -> u64 {
        match &self.state {
            ProtoState::Tcp(tcp) => tcp.resp.size(&tcp.orig),
            ProtoState::Counted { resp, .. } => *resp,
        }
    }

    /// `last - start`.
    pub fn duration(&self) -> core::time::Duration {
        self.last.since(self.start)
    }

    /// Zeek's transport name for `proto`.
    pub fn proto_name(&self) -> &'static str {
        match self.key.proto() {
            proto::TCP => "tcp",
            proto::UDP => "udp",
            proto::ICMP | proto::ICMPV6 => "icmp",
            _ => "unknown_transport",
        }
    }
}

/// The part of [`Flow::flip`] outside the protocol state (fields, so that the TCP state can stay
/// borrowed while it flips).
fn flip_common(key: &mut PackedKey, orig: &mut DirStats, resp: &mut DirStats, history: &mut History) {
    key.reverse();
    core::mem::swap(orig, resp);
    history.flip();
}
