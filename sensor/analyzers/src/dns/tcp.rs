//! DNS over TCP framing (RFC 1035 §4.2.2): each message is preceded by a 2-byte length. This
//! splits one direction's in-order byte stream into messages, as Zeek's `Contents_DNS` does
//! (`src/analyzer/protocol/dns/DNS.cc`): several messages per segment and messages across
//! segments both work; a length of 0 yields an empty message (Zeek then reports
//! `DNS_truncated_len_lt_hdr_len`); a message cut by the end of the connection is parsed as far
//! as it goes.
//!
//! Where Zeek would splice the bytes after a content gap into the message the gap cut
//! (corrupting it and the framing), this drops that message with
//! [`weird::SENSOR_TCP_GAP_IN_MESSAGE`] and, when the gap ended inside the message, skips to the
//! message's known end, so the next length prefix is read where it is. A gap between messages
//! changes nothing, as in Zeek. Memory: one partial message, at most `max_tcp_message` bytes.

use super::weird::{self, Addl};

/// Where the framer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Expecting the high byte of a length.
    Len,
    /// Got the high byte.
    LenLow(u8),
    /// Inside a message with `left` bytes to come; `skip` when they are to be discarded.
    Body { left: usize, skip: bool },
}

/// What the framer asks its owner to do.
pub(crate) trait FrameSink {
    /// A message: `complete` is false for what [`Framer::flush`] found of a cut one.
    fn message(&mut self, bytes: &[u8], complete: bool);
    /// An anomaly of the framing.
    fn weird(&mut self, name: &'static str, addl: Option<&str>);
}

/// Length-prefix framing of one direction.
#[derive(Debug)]
pub(crate) struct Framer {
    state: State,
    /// Bytes of the current message received so far (unless it is delivered in place).
    buf: Vec<u8>,
}

impl Default for Framer {
    fn default() -> Self {
        Framer { state: State::Len, buf: Vec::new() }
    }
}

impl Framer {
    /// Consumes the next in-order bytes. `max_message` bounds the buffered message.
    pub(crate) fn feed(&mut self, mut data: &[u8], max_message: usize, sink: &mut impl FrameSink) {
        while let Some((&first, rest)) = data.split_first() {
            match self.state {
                State::Len => {
                    self.state = State::LenLow(first);
                    data = rest;
                }
                State::LenLow(hi) => {
                    data = rest;
                    let len = usize::from(u16::from_be_bytes([hi, first]));
                    if len == 0 {
                        sink.message(&[], true);
                        self.state = State::Len;
                    } else if len > max_message {
                        sink.weird(weird::SENSOR_TCP_MESSAGE_TOO_LARGE, Some(Addl::num(len as u64).as_str()));
                        self.state = State::Body { left: len, skip: true };
                    } else {
                        self.state = State::Body { left: len, skip: false };
                    }
                }
                State::Body { left, skip } => {
                    if !skip && self.buf.is_empty() && data.len() >= left {
                        // The whole message is here: parse it in place.
                        sink.message(&data[..left], true);
                        data = &data[left..];
                        self.state = State::Len;
                        continue;
                    }
                    let n = left.min(data.len());
                    if !skip {
                        self.buf.extend_from_slice(&data[..n]);
                    }
                    data = &data[n..];
                    if n == left {
                        if !skip {
                            sink.message(&self.buf, true);
                            self.buf.clear();
                        }
                        self.state = State::Len;
                    } else {
                        self.state = State::Body { left: left - n, skip };
                    }
                }
            }
        }
    }

    /// `len` bytes of the stream are missing here.
    pub(crate) fn gap(&mut self, len: u64, sink: &mut impl FrameSink) {
        match self.state {
            // Between messages: assume the bytes after the gap start a message, as Zeek does.
            State::Len => {}
            State::LenLow(_) => {
                sink.weird(weird::SENSOR_TCP_GAP_IN_MESSAGE, Some(Addl::num(len).as_str()));
                self.state = State::Len;
            }
            State::Body { left, skip } => {
                if !skip {
                    sink.weird(weird::SENSOR_TCP_GAP_IN_MESSAGE, Some(Addl::num(len).as_str()));
                    self.buf.clear();
                }
                self.state = match usize::try_from(len) {
                    Ok(len) if len < left => State::Body { left: left - len, skip: true },
                    _ => State::Len,
                };
            }
        }
    }

    /// The stream ended: a message cut short is parsed as far as it goes (Zeek's
    /// `Contents_DNS::Flush`), and the framer starts over.
    pub(crate) fn flush(&mut self, sink: &mut impl FrameSink) {
        if let State::Body { skip: false, .. } = self.state
            && !self.buf.is_empty()
        {
            sink.message(&self.buf, false);
        }
        self.buf.clear();
        self.state = State::Len;
    }

    /// Bytes buffered for the current message.
    pub(crate) fn buffered(&self) -> usize {
        self.buf.len()
    }
}
