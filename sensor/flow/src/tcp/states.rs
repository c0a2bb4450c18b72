//! The per-state transitions of Zeek's TCP endpoint state machine (`UpdateStateMachine` and its
//! `Update*State` helpers) and the `conn_state` summary computed from the final states.

use super::{EndpointState, TcpState, WeirdSink};
use sensor_wire::{TcpFlags, TcpSegment};

impl TcpState {
    /// Zeek's `UpdateStateMachine` and its per-state helpers.
    pub(super) fn update_state_machine(
        &mut self,
        from_orig: bool,
        seg: &TcpSegment<'_>,
        delta_last: i64,
        weirds: &mut impl WeirdSink,
    ) {
        use EndpointState::*;
        let flags = seg.flags;
        let (syn, fin, rst, ack) =
            (flags.has(TcpFlags::SYN), flags.has(TcpFlags::FIN), flags.has(TcpFlags::RST), flags.has(TcpFlags::ACK));
        let len = seg.payload_len;
        // Zeek clears `is_partial` on a completed handshake; the bit lives in the originator's
        // endpoint, which is borrowed below, so it is cleared after the match.
        let mut handshake_done = false;
        let (endpoint, peer) =
            if from_orig { (&mut self.orig, &mut self.resp) } else { (&mut self.resp, &mut self.orig) };
        match endpoint.state {
            Inactive => {
                if syn {
                    if from_orig {
                        if ack {
                            weirds.weird("connection_originator_SYN_ack");
                            endpoint.set_state(SynAckSent);
                        } else {
                            endpoint.set_state(SynSent);
                        }
                    } else {
                        if ack {
                            let in_window = {
                                let a = peer.rel(seg.ack);
                                a >= 0 && a <= peer.last()
                            };
                            if peer.state != Inactive && peer.state != Partial && !in_window {
                                weirds.weird("bad_SYN_ack");
                            }
                        } else if peer.state == SynAckSent && seg.seq == endpoint.start {
                            handshake_done = true;
                            peer.set_state(Established);
                        } else {
                            weirds.weird("simultaneous_open");
                        }
                        if peer.state == SynSent {
                            peer.set_state(Established);
                        } else if peer.state == Inactive {
                            weirds.weird("unsolicited_SYN_response");
                        }
                        endpoint.set_state(Established);
                    }
                }
                if fin {
                    endpoint.set_state(Closed);
                    if peer.state != Partial && !syn {
                        weirds.weird("spontaneous_FIN");
                    }
                }
                if rst {
                    endpoint.set_state(Reset);
                    let is_reject =
                        if from_orig { peer.state == Established } else { matches!(peer.state, SynSent | SynAckSent) };
                    if !is_reject && peer.state == Inactive {
                        weirds.weird("spontaneous_RST");
                    }
                }
                if endpoint.state == Inactive {
                    if !from_orig && len == 0 && peer.state == SynSent {
                        // a bare ACK answering a SYN: still waiting for the SYN-ACK
                    } else if ack && peer.state == Established {
                        endpoint.set_state(Established);
                        handshake_done = true;
                    } else {
                        endpoint.set_state(Partial);
                    }
                }
            }
            SynSent | SynAckSent => {
                if syn {
                    if from_orig {
                        if ack && !fin && !rst && endpoint.state != SynAckSent {
                            weirds.weird("repeated_SYN_with_ack");
                        }
                    } else if !ack && endpoint.state != SynSent {
                        weirds.weird("repeated_SYN_reply_wo_ack");
                    }
                }
                if fin {
                    if matches!(peer.state, Inactive | SynSent) {
                        weirds.weird("inappropriate_FIN");
                    }
                    endpoint.set_state(Closed);
                }
                if rst {
                    endpoint.set_state(Reset);
                } else if len > 0 {
                    weirds.weird("data_before_established");
                }
            }
            Established | Partial => {
                if syn && endpoint.state == Partial && peer.state == Inactive && !ack {
                    weirds.weird("SYN_after_partial");
                    endpoint.set_state(SynSent);
                }
                if fin && !rst {
                    endpoint.set_state(Closed);
                    if peer.state == Reset && peer.prev_state == Closed {
                        peer.set_state(Closed);
                    }
                }
                if rst {
                    endpoint.set_state(Reset);
                }
            }
            Closed => {
                if syn {
                    weirds.weird("SYN_after_close");
                }
                if fin && delta_last > 0 {
                    weirds.weird("FIN_advanced_last_seq");
                }
                if rst && peer.state != Closed {
                    endpoint.set_state(Reset);
                }
            }
            Reset => {
                if syn {
                    weirds.weird("SYN_after_reset");
                }
                if fin {
                    weirds.weird("FIN_after_reset");
                }
                if len > 0 && !rst {
                    weirds.weird("data_after_reset");
                }
            }
        }
        if handshake_done {
            self.set_partial(false);
        }
    }

    /// Zeek's `conn_state` for TCP, with the history for the RSTOS0 test.
    pub(crate) fn conn_state(&self, history: &str) -> &'static str {
        use EndpointState::*;
        let (os, rs) = (self.orig.state, self.resp.state);
        let o_inactive = matches!(os, Inactive | Partial);
        let r_inactive = matches!(rs, Inactive | Partial);
        if rs == Reset {
            let sizes_zero = self.orig.size(&self.resp) == 0 && self.resp.size(&self.orig) == 0;
            if matches!(os, SynSent | SynAckSent) || (os == Reset && sizes_zero) {
                "REJ"
            } else if o_inactive {
                "RSTRH"
            } else {
                "RSTR"
            }
        } else if os == Reset {
            if r_inactive { if syn_then_rst(history) { "RSTOS0" } else { "OTH" } } else { "RSTO" }
        } else if rs == Closed && os == Closed {
            "SF"
        } else if os == Closed {
            if r_inactive { "SH" } else { "S2" }
        } else if rs == Closed {
            if o_inactive { "SHR" } else { "S3" }
        } else if os == SynSent && rs == Inactive {
            "S0"
        } else if os == Established && rs == Established {
            "S1"
        } else {
            "OTH"
        }
    }
}

/// Zeek's `/\^?S[^HAFGIQ]*R.*/` on the history.
fn syn_then_rst(history: &str) -> bool {
    let h = history.strip_prefix('^').unwrap_or(history);
    let Some(rest) = h.strip_prefix('S') else { return false };
    for c in rest.chars() {
        match c {
            'R' => return true,
            'H' | 'A' | 'F' | 'G' | 'I' | 'Q' => return false,
            _ => {}
        }
    }
    false
}
