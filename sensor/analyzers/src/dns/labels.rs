//! Domain-name extraction with compression pointers, the way Zeek's `ExtractName` /
//! `ExtractLabel` do it (`src/analyzer/protocol/dns/DNS.cc`).
//!
//! Rules, each with its hostile-input reason:
//! - pointers only go backwards: a pointer to its own offset or later is
//!   `DNS_label_forward_compress_offset` (a forward pointer is how loops are built), and the name a
//!   pointer leads to must end before the pointer;
//! - at most [`MAX_COMPRESSION_DEPTH`] pointers are followed (Zeek's
//!   `dns_max_compression_chain_depth`): past it the name is cut where it stands, with
//!   `DNS_max_compression_chain_depth_exceeded`;
//! - labels are at most [`MAX_LABEL_LEN`] bytes; the presentation form must fit Zeek's name
//!   buffer ([`NAME_CAPACITY`] bytes, [`TSIG_NAME_CAPACITY`] for the TSIG algorithm name), which
//!   also bounds the label count to [`MAX_LABELS`];
//! - a name of [`NAME_TOO_LONG`] bytes or more is reported but kept, as Zeek does.
//!
//! The result is the raw presentation bytes: labels joined by `.`, no trailing dot, nothing
//! escaped (a `.` inside a label stays a `.`). Each call lowercases (ASCII only, as C's
//! `tolower`) the part it produced when asked to; the part reached through a pointer is always
//! lowercased, as in Zeek, so the "original case" of a compressed question is partly lowered.

use super::parser::{Cursor, Visitor};
use super::weird::{self, Addl};

/// Most compression pointers followed for one name (Zeek `dns_max_compression_chain_depth`,
/// `scripts/base/init-bare.zeek`). Backward-only pointers already make loops impossible; this
/// bounds the work per name.
pub const MAX_COMPRESSION_DEPTH: u32 = 20;
/// Longest label (RFC 1035 §2.3.4); longer is `DNS_label_too_long`.
pub const MAX_LABEL_LEN: usize = 63;
/// Room for a name's presentation form: Zeek's `u_char name[513]` less the terminator.
pub const NAME_CAPACITY: usize = 512;
/// Room for the TSIG algorithm name: Zeek's `u_char alg_name[1024]` less the terminator.
pub const TSIG_NAME_CAPACITY: usize = 1023;
/// Most labels a name can have: each takes at least two bytes of [`NAME_CAPACITY`].
pub const MAX_LABELS: usize = NAME_CAPACITY / 2;
/// Presentation length (trailing dot included) at which `DNS_NAME_too_long` is raised
/// (RFC 1035 §2.3.4 allows 255 octets on the wire).
pub const NAME_TOO_LONG: usize = 255;

/// Bytes copied per label when the message and the buffer have them: a fixed-size copy is a few
/// vector moves where a label-sized one is a `memcpy` call. The longest label and its dot.
const LABEL_BLOCK: usize = MAX_LABEL_LEN + 1;

/// A name being extracted: a fixed buffer, no allocation. [`LABEL_BLOCK`] bytes of slack past the
/// largest capacity let every label be copied as a whole block.
pub(crate) struct NameBuf {
    buf: [u8; TSIG_NAME_CAPACITY + 1 + LABEL_BLOCK],
    len: usize,
}

impl NameBuf {
    pub(crate) const fn new() -> Self {
        NameBuf { buf: [0; TSIG_NAME_CAPACITY + 1 + LABEL_BLOCK], len: 0 }
    }

    /// The presentation bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }

    /// Replaces the content with `bytes` (at most the buffer size).
    pub(crate) fn set(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(self.buf.len());
        self.buf[..n].copy_from_slice(&bytes[..n]);
        self.len = n;
    }

    /// Copies `other`, lowercased.
    pub(crate) fn set_lowercase(&mut self, other: &NameBuf) {
        self.set(other.as_bytes());
        self.buf[..self.len].make_ascii_lowercase();
    }
}

/// Extracts the name at the cursor into `out` (cleared first), advancing the cursor past it.
/// `capacity` is [`NAME_CAPACITY`] or [`TSIG_NAME_CAPACITY`]. Returns false, with the anomaly
/// reported, when the name is malformed; the cursor then stands where Zeek's would.
pub(crate) fn extract_name<V: Visitor + ?Sized>(
    cur: &mut Cursor<'_>,
    out: &mut NameBuf,
    capacity: usize,
    downcase: bool,
    v: &mut V,
) -> bool {
    out.clear();
    let msg = cur.message();
    let mut pos = cur.pos();
    let ok = extract(msg, &mut pos, msg.len(), out, capacity, downcase, 0, v);
    cur.set_pos(pos);
    ok
}

/// One `ExtractName` call: labels from `*pos` up to `end`, appended to `out` with `room` bytes
/// left in Zeek's buffer.
fn extract<V: Visitor + ?Sized>(
    msg: &[u8],
    pos: &mut usize,
    end: usize,
    out: &mut NameBuf,
    mut room: usize,
    downcase: bool,
    depth: u32,
    v: &mut V,
) -> bool {
    if depth > MAX_COMPRESSION_DEPTH {
        v.weird(weird::MAX_COMPRESSION_CHAIN_DEPTH_EXCEEDED, Some(Addl::num(depth).as_str()));
        return true;
    }
    let start = out.len;
    loop {
        // ExtractLabel
        if *pos >= end {
            v.weird(weird::INVALID_NAME, None);
            return false;
        }
        let label_at = *pos;
        let label_len = msg[label_at];
        *pos += 1;
        if label_len == 0 {
            break;
        }
        if label_len & 0xc0 == 0xc0 {
            if *pos >= end {
                v.weird(weird::INVALID_NAME, None);
                return false;
            }
            let offset = (usize::from(label_len & 0x3f) << 8) | usize::from(msg[*pos]);
            *pos += 1;
            if offset >= label_at {
                v.weird(weird::LABEL_FORWARD_COMPRESS_OFFSET, None);
                return false;
            }
            // The name there must end before this pointer; its part is always lowercased.
            let mut target = offset;
            if !extract(msg, &mut target, label_at, out, room, true, depth + 1, v) {
                return false;
            }
            break;
        }
        let label_len = usize::from(label_len);
        if label_len > end - *pos {
            v.weird(weird::LABEL_LEN_GT_PKT, None);
            *pos = end;
            return false;
        }
        if label_len > MAX_LABEL_LEN {
            v.weird(weird::LABEL_TOO_LONG, None);
            return false;
        }
        if label_len >= room {
            v.weird(weird::LABEL_LEN_GT_NAME_LEN, None);
            return false;
        }
        // room <= capacity <= buffer size, so the label and its dot fit. Bytes copied past the
        // label are overwritten by the dot and what follows, or lie past `len`.
        let (at, from) = (out.len, *pos);
        match (out.buf.get_mut(at..at + LABEL_BLOCK), msg.get(from..from + LABEL_BLOCK)) {
            (Some(dst), Some(src)) => dst.copy_from_slice(src),
            _ => out.buf[at..at + label_len].copy_from_slice(&msg[from..from + label_len]),
        }
        out.buf[at + label_len] = b'.';
        out.len += label_len + 1;
        room -= label_len + 1;
        *pos += label_len;
    }
    let n = out.len - start;
    if n >= NAME_TOO_LONG {
        v.weird(weird::NAME_TOO_LONG, None);
    }
    if n >= 2 && out.buf[out.len - 1] == b'.' {
        out.len -= 1;
    }
    if downcase {
        out.buf[start..out.len].make_ascii_lowercase();
    }
    true
}
