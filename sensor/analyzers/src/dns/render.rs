//! Zeek's `answers` strings, one per record type, and the text form of names and strings.
//!
//! Each string is what `scripts/base/protocols/dns/main.zeek` (zeek/zeek) passes to
//! `DNS::do_reply` for the record, including the `add: ` prefix that hook puts on dynamic-update
//! additions. Record types without a handler in Zeek's base scripts (HINFO, CAA, TKEY, TSIG, OPT,
//! SVCB, HTTPS, NetBIOS NB) produce no reply at all: they do not even set `AA`, `RA` or `rtt`.
//!
//! Text: Zeek keeps raw bytes and its ASCII writer escapes them. Records here hold the escaped
//! text so they are valid UTF-8: see [`push_escaped`].

use core::fmt::Write;
use core::net::Ipv6Addr;

use super::names::qtype_name;
use super::parser::{CLASS_ANY, CLASS_NONE, Header, RecordRef, Section};
use super::wire::RData;

/// Appends Zeek's reply text for `rr` to `out` and returns true, or returns false, with `out`
/// untouched, when Zeek's base scripts raise no reply for this record. An empty reply (WKS,
/// TXT without strings) still counts as a reply. What `out` held before is left as it was, so
/// one buffer can collect a record's answers one after the other.
pub fn reply(h: &Header, rr: &RecordRef<'_>, out: &mut String) -> bool {
    // Dynamic updates (not NetBIOS, which this crate does not analyse) spell out A/AAAA/A6.
    let du = h.is_dynamic_update();
    let start = out.len();
    match rr.rdata {
        RData::A(a) => {
            if du {
                out.push_str("A ");
                push_escaped(out, rr.name);
                out.push(' ');
            }
            push_ipv4(out, &a);
        }
        RData::Aaaa(a) | RData::A6(a) => {
            if du {
                out.push_str(if matches!(rr.rdata, RData::Aaaa(_)) { "AAAA " } else { "A6 " });
                push_escaped(out, rr.name);
                out.push(' ');
            }
            push_ipv6(out, &a);
        }
        RData::Ns(name) | RData::Cname(name) | RData::Ptr(name) => push_escaped(out, name),
        RData::Soa { mname, .. } => push_escaped(out, mname),
        RData::Wks => {}
        RData::Mx { exchange, .. } => push_escaped(out, exchange),
        RData::Txt(strings) | RData::Spf(strings) => {
            let tag = if matches!(rr.rdata, RData::Txt(_)) { "TXT" } else { "SPF" };
            for (i, s) in strings.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(tag);
                out.push(' ');
                push_decimal(out, s.len() as u64);
                out.push(' ');
                push_escaped(out, s);
            }
        }
        RData::Srv { target, .. } => push_escaped(out, target),
        RData::Naptr { order, preference, flags, services, regexp, replacement } => {
            let _ = write!(out, "NAPTR {order} {preference} ");
            push_escaped(out, flags);
            out.push(' ');
            push_escaped(out, services);
            out.push(' ');
            push_escaped(out, regexp);
            if !replacement.is_empty() {
                if !regexp.is_empty() {
                    out.push(' ');
                }
                push_escaped(out, replacement);
            }
        }
        RData::Rrsig { type_covered, signer, .. } => {
            let _ = write!(out, "RRSIG {type_covered} ");
            if signer.is_empty() {
                out.push_str("<Root>");
            } else {
                push_escaped(out, signer);
            }
        }
        RData::Dnskey { algorithm, .. } => {
            let _ = write!(out, "DNSKEY {algorithm}");
        }
        RData::Nsec { next, .. } => {
            out.push_str("NSEC ");
            push_escaped(out, rr.name);
            out.push(' ');
            push_escaped(out, next);
        }
        RData::Nsec3 { .. } => out.push_str("NSEC3"),
        RData::Nsec3Param { .. } => out.push_str("NSEC3PARAM"),
        RData::Ds { algorithm, digest_type, .. } => {
            let _ = write!(out, "DS {algorithm} {digest_type}");
        }
        RData::Binds { .. } => out.push_str("BIND9 signing signal"),
        RData::Sshfp { fingerprint, .. } => {
            out.push_str("SSHFP: ");
            for &b in fingerprint {
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0x0f)]));
            }
        }
        RData::Loc { size, horiz_pre, vert_pre, .. } => {
            let _ = write!(out, "LOC:  {size} {horiz_pre} {vert_pre}");
        }
        RData::Unknown(_) => {
            let _ = write!(out, "<unknown type={}>", rr.rtype);
        }
        RData::Prerequisite => prerequisite(rr, out),
        RData::UpdateDelete => {
            out.push_str("del: ");
            if rr.class == CLASS_ANY && rr.rtype == CLASS_ANY {
                out.push_str("RRSet * ");
                push_escaped(out, rr.name);
            } else {
                // Zeek's NONE branch is unreachable: deletes are only reported for class ANY.
                let _ = write!(out, "RRSet {}", qtype_name(rr.rtype));
            }
        }
        RData::Opt { .. } | RData::Tsig { .. } | RData::Svcb { .. } | RData::Skipped(_) => {
            return false;
        }
    }
    if du && rr.section == Section::Update && out.get(start..).is_some_and(|t| !t.is_empty() && !t.starts_with("del:"))
    {
        out.insert_str(start, "add: ");
    }
    true
}

/// `dns_dynamic_update_pre`'s wording.
fn prerequisite(rr: &RecordRef<'_>, out: &mut String) {
    out.push_str("pre: ");
    let what = match (rr.class, rr.rtype == CLASS_ANY) {
        (CLASS_NONE, true) => "NameNotInUse ",
        (CLASS_ANY, true) => "NameInUse ",
        (CLASS_NONE, false) => {
            let _ = write!(out, "NoRRSet {} ", qtype_name(rr.rtype));
            ""
        }
        _ => {
            let _ = write!(out, "RRSetExists {} ", qtype_name(rr.rtype));
            ""
        }
    };
    out.push_str(what);
    push_escaped(out, rr.name);
}

/// Appends `bytes` as Zeek's ASCII writer (UTF-8 mode, its default) shows a string value:
/// `\` becomes `\\`, a tab `\x09`; between those, a run that is valid UTF-8 without control,
/// private-use or special characters is kept as is, any other run has every byte outside
/// printable ASCII written `\xNN` (lowercase hex). The set separator `,` is left to the log
/// writer, which escapes it only inside vectors.
pub fn push_escaped(out: &mut String, bytes: &[u8]) {
    // One branch-free pass over the whole slice, so it vectorizes: names are mostly plain, and
    // the others (tunnels' binary labels) rarely hold a `\` or a tab to split at.
    // (Three separate accumulators: packing them into one byte defeats the vectorizer.)
    let (mut unprintable, mut backslash, mut tab) = (0u8, 0u8, 0u8);
    for &b in bytes {
        unprintable |= u8::from(!printable(b));
        backslash |= u8::from(b == b'\\');
        tab |= u8::from(b == b'\t');
    }
    let (plain, split) = (unprintable | backslash == 0, backslash | tab != 0);
    if plain {
        push_ascii(out, bytes);
        return;
    }
    if !split {
        push_mixed_run(out, bytes);
        return;
    }
    let mut rest = bytes;
    loop {
        let cut = rest.iter().position(|&b| b == b'\\' || b == b'\t');
        let run = &rest[..cut.unwrap_or(rest.len())];
        push_run(out, run);
        let Some(i) = cut else { return };
        out.push_str(if rest[i] == b'\\' { "\\\\" } else { "\\x09" });
        rest = &rest[i + 1..];
    }
}

/// Returns `bytes` escaped by [`push_escaped`].
pub fn escaped(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    push_escaped(&mut s, bytes);
    s
}

/// Printable ASCII, space included.
pub(super) const fn printable(b: u8) -> bool {
    b >= 0x20 && b < 0x7f
}

/// Appends bytes known to be printable ASCII.
fn push_ascii(out: &mut String, bytes: &[u8]) {
    // Printable ASCII is valid UTF-8, so this never falls back.
    match core::str::from_utf8(bytes) {
        Ok(s) => out.push_str(s),
        Err(_) => bytes.iter().for_each(|&b| out.push(char::from(b))),
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends a run without `\` or tab.
fn push_run(out: &mut String, run: &[u8]) {
    if run.iter().fold(0u8, |seen, &b| seen | u8::from(!printable(b))) == 0 {
        push_ascii(out, run);
    } else {
        push_mixed_run(out, run);
    }
}

/// Appends a run without `\` or tab that is not all printable ASCII.
fn push_mixed_run(out: &mut String, run: &[u8]) {
    if let Ok(s) = core::str::from_utf8(run)
        && s.chars().all(utf8_char_ok)
    {
        out.push_str(s);
        return;
    }
    // Each chunk is printable ASCII once escaped: one (ASCII) validation per chunk.
    expand(run, &BYTE_FORMS, |chunk| push_ascii(out, chunk));
}

/// Writes `bytes` through `forms`, each byte's written form (its text in the low six bytes,
/// little-endian, padded with zeros; the text's length in the top byte), a chunk at a time
/// into a stack buffer handed to `emit`. One table load and one whole-word store per byte,
/// kept for its length: no branch on the byte to mispredict on binary data. The JSON writer
/// escapes strings this way too.
pub fn expand(bytes: &[u8], forms: &[u64; 256], mut emit: impl FnMut(&[u8])) {
    const CHUNK: usize = 64;
    let mut buf = [0u8; CHUNK * 8 + 8];
    for chunk in bytes.chunks(CHUNK) {
        let mut n = 0;
        for &b in chunk {
            let form = forms[usize::from(b)];
            // n <= 6 × (CHUNK - 1) here, so the mask changes nothing; it lets the compiler see
            // that the word fits without a check per byte.
            let at = n & (CHUNK * 8 - 1);
            buf[at..at + 8].copy_from_slice(&form.to_le_bytes());
            n += (form >> 56) as usize;
        }
        emit(&buf[..n]);
    }
}

/// How an escaped run writes each byte ([`expand`]'s forms): the byte itself when printable,
/// else `\xNN`.
pub(super) const BYTE_FORMS: [u64; 256] = {
    let mut forms = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        forms[i] = if printable(b) {
            b as u64 | 1 << 56
        } else {
            u32::from_le_bytes([b'\\', b'x', HEX[i >> 4], HEX[i & 0x0f]]) as u64 | 4 << 56
        };
        i += 1;
    }
    forms
};

/// Appends a number in decimal (`itoa`: two digits per step, no formatting machinery).
pub(crate) fn push_decimal(out: &mut String, n: u64) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// Appends an IPv4 address, dotted decimal.
pub fn push_ipv4(out: &mut String, addr: &core::net::Ipv4Addr) {
    out.push_str(Ipv4Text::new(addr).as_str());
}

/// Each octet's decimal digits, their count in the last byte.
const OCTETS: [[u8; 4]; 256] = {
    let mut octets = [[0u8; 4]; 256];
    let mut i = 0;
    while i < 256 {
        let (h, t, u) = ((i / 100) as u8, (i / 10 % 10) as u8, (i % 10) as u8);
        octets[i] = match i {
            0..10 => [b'0' + u, 0, 0, 1],
            10..100 => [b'0' + t, b'0' + u, 0, 2],
            _ => [b'0' + h, b'0' + t, b'0' + u, 3],
        };
        i += 1;
    }
    octets
};

/// An IPv4 address in dotted decimal, written on the stack from a table of the 256 octets: every
/// record prints two addresses or more (the JSON writer uses this too).
pub struct Ipv4Text {
    buf: [u8; 20],
    len: usize,
}

impl Ipv4Text {
    /// The text of `addr`.
    pub fn new(addr: &core::net::Ipv4Addr) -> Ipv4Text {
        let mut buf = [0u8; 20];
        let mut len = 0;
        for octet in addr.octets() {
            // Four bytes copied whole (the count byte is overwritten by the dot or left past the
            // end): at most 3 digits and a dot an octet, so 16 bytes suffice.
            let digits = OCTETS[usize::from(octet)];
            buf[len..len + 4].copy_from_slice(&digits);
            len += usize::from(digits[3]);
            buf[len] = b'.';
            len += 1;
        }
        Ipv4Text { buf, len: len - 1 }
    }

    /// The text's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The text (digits and dots only, so always valid UTF-8).
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

/// Appends a 16-bit word in lowercase hex without leading zeros.
fn push_hex_word(out: &mut String, w: u16) {
    let mut started = false;
    for shift in [12, 8, 4, 0] {
        let d = (w >> shift) & 0x0f;
        if d != 0 || started || shift == 0 {
            out.push(char::from(HEX[usize::from(d)]));
            started = true;
        }
    }
}

/// Zeek's `check_ok_utf8` without the decoding: controls, C1, private use and specials are bad.
fn utf8_char_ok(c: char) -> bool {
    let c = u32::from(c);
    !(c <= 0x1f
        || c == 0x7f
        || (0x80..=0x9f).contains(&c)
        || (0xe000..=0xf8ff).contains(&c)
        || (0xfff0..=0xffff).contains(&c))
}

/// Appends an IPv6 address as Zeek prints an `addr`: IPv4-mapped addresses (`::ffff:a.b.c.d`)
/// are IPv4 to Zeek and print dotted; the rest follows Zeek's `zeek_inet_ntop6` (longest run of
/// two or more zero words as `::`, first run on ties, embedded IPv4 for `::a.b.c.d` and
/// `::ffff:0:a.b.c.d`), which differs from Rust's `Display` for those embedded forms.
pub fn push_ipv6(out: &mut String, addr: &Ipv6Addr) {
    if let Some(v4) = addr.to_ipv4_mapped() {
        push_ipv4(out, &v4);
        return;
    }
    let words = addr.segments();
    let (mut best, mut cur): ((usize, usize), Option<(usize, usize)>) = ((0, 0), None);
    for (i, &w) in words.iter().enumerate() {
        if w == 0 {
            let run = cur.map_or((i, 1), |(base, len)| (base, len + 1));
            cur = Some(run);
        } else if let Some(run) = cur.take()
            && run.1 > best.1
        {
            best = run;
        }
    }
    if let Some(run) = cur
        && run.1 > best.1
    {
        best = run;
    }
    let best = (best.1 >= 2).then_some(best);
    let octets = addr.octets();
    for i in 0..8 {
        if let Some((base, len)) = best
            && i >= base
            && i < base + len
        {
            if i == base {
                out.push(':');
            }
            continue;
        }
        if i != 0 {
            out.push(':');
        }
        let embedded_v4 = i == 6
            && best.is_some_and(|(base, len)| {
                base == 0
                    && (len == 6
                        || (len == 5 && words[5] == 0xffff)
                        || (len == 4 && words[4] == 0xffff && words[5] == 0))
            });
        if embedded_v4 {
            push_ipv4(out, &core::net::Ipv4Addr::new(octets[12], octets[13], octets[14], octets[15]));
            return;
        }
        push_hex_word(out, words[i]);
    }
    if best.is_some_and(|(base, len)| base + len == 8) {
        out.push(':');
    }
}
