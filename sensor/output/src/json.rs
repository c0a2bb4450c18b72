//! A small JSON object writer for the record hot path.
//!
//! Records are flat objects of strings, numbers, booleans, addresses and arrays, written a
//! million times a second; `serde_json` spent a fifth of the replay's CPU in its generic
//! escaping and map machinery for them (docs/decisions/json-writer.md has the measurement).
//! This writer appends straight into a reused byte buffer: strings are scanned a word at a time
//! and copied whole when nothing needs escaping, else written through a table of each byte's
//! escaped form without a branch per byte; times are fixed-point like Zeek's (`%.6f`), integers go
//! through `itoa`. Output is standard JSON; the tests parse it back with `serde_json`.

use core::net::IpAddr;
use sensor_analyzers::dns::render::{Ipv4Text, expand};
use std::io::Write as _;

const HEX: &[u8; 16] = b"0123456789abcdef";

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether any byte of the word needs escaping: below 0x20, a quote, or a backslash (SWAR: the
/// classic "has a zero byte" test applied to the word and to the word XOR each special byte).
fn word_needs_escape(w: u64) -> bool {
    let control = w.wrapping_sub(ONES * 0x20) & !w;
    let quote = w ^ (ONES * u64::from(b'"'));
    let backslash = w ^ (ONES * u64::from(b'\\'));
    let zero = |x: u64| x.wrapping_sub(ONES) & !x;
    (control | zero(quote) | zero(backslash)) & HIGHS != 0
}

/// Whether any byte of `bytes` needs escaping, eight bytes at a time (most strings — names,
/// addresses, states — need none, and are then copied in one go).
fn needs_escape(bytes: &[u8]) -> bool {
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        if word_needs_escape(u64::from_le_bytes(word)) {
            return true;
        }
    }
    chunks.remainder().iter().any(|&b| FORMS[usize::from(b)] >> 56 != 1)
}

/// Appends `s` as a JSON string literal.
pub fn string(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    if !needs_escape(bytes) {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    escape_into(out, bytes);
    out.push(b'"');
}

/// How each byte is written inside a string ([`expand`]'s forms): the byte itself, a two-byte
/// escape (`\"`, `\\`, `\n`, `\r`, `\t`), or `\u00XX` for the other control characters.
const FORMS: [u64; 256] = {
    let mut forms = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let (text, len) = match b {
            b'"' | b'\\' => ([b'\\', b, 0, 0, 0, 0], 2),
            b'\n' => ([b'\\', b'n', 0, 0, 0, 0], 2),
            b'\r' => ([b'\\', b'r', 0, 0, 0, 0], 2),
            b'\t' => ([b'\\', b't', 0, 0, 0, 0], 2),
            0..0x20 => ([b'\\', b'u', b'0', b'0', HEX[i >> 4], HEX[i & 0xf]], 6),
            _ => ([b, 0, 0, 0, 0, 0], 1),
        };
        forms[i] = u64::from_le_bytes([text[0], text[1], text[2], text[3], text[4], text[5], 0, len]);
        i += 1;
    }
    forms
};

/// Appends `bytes` escaped. Dense escapes are the common case here (Zeek's `\xNN` in tunnel
/// answers put a backslash every few bytes), where a branch per byte on "escape or not" is
/// mispredicted: [`expand`] writes each byte's form from the table without one (0.87 ns a byte
/// on a rendered tunnel answer against 1.5 for the branching loop, on these machines).
fn escape_into(out: &mut Vec<u8>, bytes: &[u8]) {
    expand(bytes, &FORMS, |chunk| out.extend_from_slice(chunk));
}

/// Appends an unsigned integer.
pub fn uint(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Appends nanoseconds as seconds with six decimals (Zeek's precision for times and intervals).
pub fn secs6(out: &mut Vec<u8>, nanos: u64) {
    let micros = (nanos + 500) / 1000;
    uint(out, micros / 1_000_000);
    // Six digits with leading zeros: those of 1,000,000 + the fraction, less its leading 1.
    let mut digits = itoa::Buffer::new();
    let frac = digits.format(1_000_000 + micros % 1_000_000).as_bytes();
    out.push(b'.');
    out.extend_from_slice(&frac[1..]);
}

/// Appends an address as a JSON string (dotted quad without the formatting machinery; IPv6 in
/// its RFC 5952 form through `Display`).
pub fn addr(out: &mut Vec<u8>, a: &IpAddr) {
    out.push(b'"');
    match a {
        IpAddr::V4(v4) => out.extend_from_slice(Ipv4Text::new(v4).as_bytes()),
        // Display of an address never fails on a Vec.
        IpAddr::V6(_) => {
            let _ = write!(out, "{a}");
        }
    }
    out.push(b'"');
}

/// Builds one JSON object: `{"k":v,...}`.
pub struct Object<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Object<'a> {
    /// Starts an object at the end of `out`.
    pub fn new(out: &'a mut Vec<u8>) -> Object<'a> {
        out.push(b'{');
        Object { out, first: true }
    }

    #[inline]
    fn key(&mut self, k: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(k.as_bytes()); // keys are fixed identifiers, never escaped
        self.out.extend_from_slice(b"\":");
        self.out
    }

    /// A string field.
    #[inline]
    pub fn str(&mut self, k: &str, v: &str) -> &mut Self {
        string(self.key(k), v);
        self
    }

    /// A string field when `v` is set.
    #[inline]
    pub fn opt_str(&mut self, k: &str, v: Option<&str>) -> &mut Self {
        if let Some(v) = v {
            self.str(k, v);
        }
        self
    }

    /// An unsigned integer field.
    #[inline]
    pub fn uint(&mut self, k: &str, v: u64) -> &mut Self {
        uint(self.key(k), v);
        self
    }

    /// An unsigned integer field when `v` is set.
    #[inline]
    pub fn opt_uint(&mut self, k: &str, v: Option<u64>) -> &mut Self {
        if let Some(v) = v {
            self.uint(k, v);
        }
        self
    }

    /// A time or interval field in seconds, from nanoseconds.
    #[inline]
    pub fn secs(&mut self, k: &str, nanos: u64) -> &mut Self {
        secs6(self.key(k), nanos);
        self
    }

    /// A time or interval field when `nanos` is set.
    #[inline]
    pub fn opt_secs(&mut self, k: &str, nanos: Option<u64>) -> &mut Self {
        if let Some(n) = nanos {
            self.secs(k, n);
        }
        self
    }

    /// A boolean field.
    #[inline]
    pub fn bool(&mut self, k: &str, v: bool) -> &mut Self {
        self.key(k).extend_from_slice(if v { b"true" } else { b"false" });
        self
    }

    /// An address field.
    #[inline]
    pub fn addr(&mut self, k: &str, v: &IpAddr) -> &mut Self {
        addr(self.key(k), v);
        self
    }

    /// An array of strings; left out when empty (Zeek leaves out empty vectors).
    pub fn strs<'s>(&mut self, k: &str, items: impl IntoIterator<Item = &'s str>) -> &mut Self {
        let mut items = items.into_iter().peekable();
        if items.peek().is_none() {
            return self;
        }
        let out = self.key(k);
        out.push(b'[');
        for (i, s) in items.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            string(out, s);
        }
        out.push(b']');
        self
    }

    /// An array of intervals in whole seconds (written `300.0`); left out when empty.
    pub fn whole_secs(&mut self, k: &str, items: &[u32]) -> &mut Self {
        if items.is_empty() {
            return self;
        }
        let out = self.key(k);
        out.push(b'[');
        for (i, &s) in items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            uint(out, u64::from(s));
            out.extend_from_slice(b".0");
        }
        out.push(b']');
        self
    }

    /// Closes the object.
    pub fn end(&mut self) {
        self.out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(s: &str) -> String {
        let mut out = Vec::new();
        string(&mut out, s);
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn strings_round_trip_through_a_json_parser() {
        for s in [
            "plain",
            "quote\" and \\ backslash",
            "tab\tnew\nline\r",
            "\u{1}\u{1f}",
            "x\u{1}y\\\"z\u{1f}\\",
            "é ✓ 𝄞",
            "k\\xe6a\\xdf",
            "",
        ] {
            assert_eq!(roundtrip(s), s);
        }
    }

    #[test]
    fn the_word_scan_finds_every_special_byte_at_every_position() {
        for special in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
            for len in 1..40 {
                for at in 0..len {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = special;
                    assert!(needs_escape(&bytes), "byte {special:#x} at {at} of {len}");
                }
            }
        }
        let plain: Vec<u8> = (0x20u8..=0x7e).filter(|b| *b != b'"' && *b != b'\\').chain(0x80..=0xff).collect();
        assert!(!needs_escape(&plain));
    }

    #[test]
    fn addresses() {
        let mut out = Vec::new();
        addr(&mut out, &"10.0.255.1".parse().unwrap());
        addr(&mut out, &"fe80::1".parse().unwrap());
        assert_eq!(String::from_utf8(out).unwrap(), "\"10.0.255.1\"\"fe80::1\"");
    }

    #[test]
    fn numbers_and_times() {
        let mut out = Vec::new();
        uint(&mut out, 0);
        out.push(b' ');
        uint(&mut out, u64::MAX);
        out.push(b' ');
        secs6(&mut out, 1_700_000_013_079_974_400);
        out.push(b' ');
        secs6(&mut out, 999);
        assert_eq!(String::from_utf8(out).unwrap(), "0 18446744073709551615 1700000013.079974 0.000001");
    }

    #[test]
    fn objects_parse_back() {
        let mut out = Vec::new();
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        Object::new(&mut out)
            .secs("ts", 1_500_000_000_250_000_000)
            .str("uid", "Cabc")
            .addr("id.orig_h", &ip)
            .uint("id.orig_p", 53)
            .bool("AA", true)
            .opt_str("none", None)
            .strs("answers", ["a", "b\"c"])
            .strs("empty", [])
            .whole_secs("TTLs", &[300, 0])
            .end();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["ts"].as_f64(), Some(1_500_000_000.25));
        assert_eq!(v["id.orig_h"], "2001:db8::1");
        assert_eq!(v["answers"][1], "b\"c");
        assert_eq!(v["TTLs"][0].as_f64(), Some(300.0));
        assert!(v.get("none").is_none() && v.get("empty").is_none());
    }
}
