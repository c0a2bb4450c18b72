//! Hand-built messages for record types no shared capture carries (their Zeek rendering as in
//! `main.zeek` / `DNS.cc`, and Zeek's btest baselines where named), and the text forms of
//! addresses and strings.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use core::net::{Ipv4Addr, Ipv6Addr};

use super::tests::{header, response, rr, wire_name};
use super::*;

fn one_answer(rtype: u16, rdata: &[u8]) -> Message {
    parse_message(&response(7, "example.com", rtype, &[rr("example.com", rtype, 1, 3600, rdata)])).unwrap()
}

fn reply_of(rtype: u16, rdata: &[u8]) -> Option<String> {
    let m = one_answer(rtype, rdata);
    assert_eq!(m.records.len(), 1, "{m:?}");
    m.records[0].reply.clone()
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

#[test]
fn name_types() {
    let target = wire_name("Host.Example.NET");
    assert_eq!(reply_of(rr_type::NS, &target).as_deref(), Some("host.example.net"));
    assert_eq!(reply_of(rr_type::PTR, &target).as_deref(), Some("host.example.net"));
    assert_eq!(reply_of(rr_type::CNAME, &target).as_deref(), Some("host.example.net"));
    let soa = cat(&[&wire_name("ns1.example.com"), &wire_name("hostmaster.example.com"), &[0; 20]]);
    assert_eq!(reply_of(rr_type::SOA, &soa).as_deref(), Some("ns1.example.com"));
}

#[test]
fn naptr() {
    // As Zeek's naptr baseline: `NAPTR order preference flags service regexp replacement`.
    let rdata = cat(&[&[0, 100, 0, 100, 1, b's', 8], b"SIPS+D2T", &[0], &wire_name("_sips._tcp.Example.com")]);
    assert_eq!(reply_of(rr_type::NAPTR, &rdata).as_deref(), Some("NAPTR 100 100 s SIPS+D2T _sips._tcp.Example.com"));
    // Regexp and no replacement: the root name leaves a trailing space.
    let rdata = cat(&[&[0, 10, 0, 20, 1, b'u', 7], b"E2U+sip", &[18], b"!^.*$!sip:a@b.org!", &[0]]);
    assert_eq!(reply_of(rr_type::NAPTR, &rdata).as_deref(), Some("NAPTR 10 20 u E2U+sip !^.*$!sip:a@b.org!"));
    // Cut after order/preference: an analyzer violation, not a weird.
    let m = one_answer(rr_type::NAPTR, &[0, 1, 0, 2]);
    assert!(m.records.is_empty());
    assert_eq!(m.violations, [weird::VIOLATION_NAPTR_TOO_SHORT]);
}

#[test]
fn dnssec_types() {
    // DNSKEY flags 257 (zone + SEP), protocol 3, algorithm 8: `DNSKEY 8` (dnskey baseline form).
    assert_eq!(reply_of(rr_type::DNSKEY, &[1, 1, 3, 8, 0xaa, 0xbb]).as_deref(), Some("DNSKEY 8"));
    // DS key tag, algorithm 5, digest type 2 (ds baseline: `DS 5 2`).
    assert_eq!(reply_of(rr_type::DS, &[0x12, 0x34, 5, 2, 1, 2, 3]).as_deref(), Some("DS 5 2"));
    // NSEC: `NSEC owner next`.
    let nsec = cat(&[&wire_name("b.example.com"), &[0, 1, 0x40]]);
    assert_eq!(reply_of(rr_type::NSEC, &nsec).as_deref(), Some("NSEC example.com b.example.com"));
    let nsec3 = [1, 0, 0, 10, 2, 0xab, 0xcd, 2, 0x01, 0x02, 0, 1, 0x40];
    assert_eq!(reply_of(rr_type::NSEC3, &nsec3).as_deref(), Some("NSEC3"));
    assert_eq!(reply_of(rr_type::NSEC3PARAM, &[1, 0, 0, 10, 1, 0xab]).as_deref(), Some("NSEC3PARAM"));
    // RRSIG signed by the root prints `<Root>`.
    let rrsig = cat(&[&[0, 48, 8, 0], &[0; 12], &[0x12, 0x34], &[0], &[9, 9, 9]]);
    assert_eq!(reply_of(rr_type::RRSIG, &rrsig).as_deref(), Some("RRSIG 48 <Root>"));
    // SSHFP: lowercase hex of the fingerprint (sshfp baseline form).
    assert_eq!(reply_of(rr_type::SSHFP, &[1, 1, 0xa6, 0xb9, 0x5f]).as_deref(), Some("SSHFP: a6b95f"));
}

#[test]
fn types_without_a_base_handler_give_no_reply() {
    // CAA: Zeek parses it only for a `dns_CAA_reply` handler, which base scripts lack.
    let caa = cat(&[&[0, 5], b"issue", b"letsencrypt.org"]);
    let m = one_answer(rr_type::CAA, &caa);
    assert_eq!((m.records[0].reply.as_ref(), m.anomalies.len()), (None, 0));
    for (rtype, rdata) in [
        (rr_type::HINFO, cat(&[&[3], b"CPU", &[2], b"OS"])),
        (rr_type::TKEY, vec![0; 20]),
        (rr_type::NBS, vec![0; 6]),
        (rr_type::TSIG, cat(&[&wire_name("hmac-sha256"), &[0; 10], &[0, 0], &[0, 7, 0, 0, 0, 0]])),
        (rr_type::OPT, vec![]),
    ] {
        let m = one_answer(rtype, &rdata);
        assert_eq!(m.records.len(), 1, "{rtype}");
        assert_eq!(m.records[0].reply, None, "{rtype}");
        assert!(m.anomalies.is_empty(), "{rtype}: {:?}", m.anomalies);
    }
    // HTTPS (SVCB): priority 1, target ".", alpn "h2".
    let https = [0, 1, 0, 0, 1, 0, 3, 2, b'h', b'2'];
    let m = one_answer(rr_type::HTTPS, &https);
    assert_eq!((m.records[0].reply.as_ref(), m.anomalies.len()), (None, 0));
}

#[test]
fn a6_wks_unknown() {
    let a6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    assert_eq!(reply_of(rr_type::A6, &a6).as_deref(), Some("2001:db8::1"));
    // WKS is a reply with empty text: it sets AA/RA/rtt but adds no answer (wks baseline).
    assert_eq!(reply_of(rr_type::WKS, &[10, 0, 0, 1, 6, 0xff]).as_deref(), Some(""));
    assert_eq!(reply_of(39, &wire_name("x.org")).as_deref(), Some("<unknown type=39>"));
}

#[test]
fn ipv4_text_is_dotted_decimal_for_every_octet() {
    for o in 0..=255u8 {
        for addr in [Ipv4Addr::new(o, 255 - o, o / 7, 9), Ipv4Addr::new(0, o, 100, o)] {
            assert_eq!(render::Ipv4Text::new(&addr).as_str(), addr.to_string());
        }
    }
}

#[test]
fn ipv6_text_matches_zeek() {
    let show = |s: &str| {
        let mut out = String::new();
        render::push_ipv6(&mut out, &s.parse::<Ipv6Addr>().unwrap());
        out
    };
    assert_eq!(show("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1", "first of equal runs");
    assert_eq!(show("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1", "single zero word kept");
    assert_eq!(show("::"), "::");
    assert_eq!(show("::1"), "::1");
    assert_eq!(show("1::"), "1::");
    assert_eq!(show("::ffff:192.0.2.1"), "192.0.2.1", "IPv4-mapped is IPv4 to Zeek");
    assert_eq!(show("::192.0.2.1"), "::192.0.2.1", "IPv4-compatible, inet_ntop style");
    assert_eq!(show("::ffff:0:192.0.2.1"), "::ffff:0:192.0.2.1", "IPv4-translated");
}

#[test]
fn text_escaping() {
    let e = |b: &[u8]| render::escaped(b);
    assert_eq!(e(b"plain.example"), "plain.example");
    assert_eq!(e(b"a\\b"), "a\\\\b");
    assert_eq!(e(b"a\tb"), "a\\x09b");
    assert_eq!(e(b"nul\x00x"), "nul\\x00x");
    assert_eq!(e("caf\u{e9}".as_bytes()), "caf\u{e9}", "valid UTF-8 is kept");
    assert_eq!(e(b"caf\xc3\xa9\x01"), "caf\\xc3\\xa9\\x01", "one bad byte escapes the run");
    assert_eq!(e(b"\xff"), "\\xff");
    // A label holding a dot and a NUL, in a question.
    let mut q = header(1, 0x0100, [1, 0, 0, 0]);
    q.extend_from_slice(&[3, b'a', b'.', 0, 3, b'C', b'o', b'M', 0, 0, 1, 0, 1]);
    let m = parse_message(&q).unwrap();
    assert_eq!(m.questions[0].name, "a.\\x00.com");
    assert_eq!(m.questions[0].original, "a.\\x00.CoM");
}

/// The escaping rule of [`render::push_escaped`], written the plain way: split at `\` and tab,
/// then each run is kept when it is valid UTF-8 of acceptable characters, else escaped byte by
/// byte.
fn escaped_by_the_rule(bytes: &[u8]) -> String {
    let ok = |c: char| !matches!(u32::from(c), 0..=0x1f | 0x7f..=0x9f | 0xe000..=0xf8ff | 0xfff0..=0xffff);
    let mut out = String::new();
    let mut run_start = 0;
    for i in 0..=bytes.len() {
        let sep = bytes.get(i).copied().filter(|&b| b == b'\\' || b == b'\t');
        if i < bytes.len() && sep.is_none() {
            continue;
        }
        let run = &bytes[run_start..i];
        match core::str::from_utf8(run) {
            Ok(s) if s.chars().all(ok) => out.push_str(s),
            _ => {
                for &b in run {
                    if (0x20..0x7f).contains(&b) {
                        out.push(char::from(b));
                    } else {
                        out.push_str(&format!("\\x{b:02x}"));
                    }
                }
            }
        }
        match sep {
            Some(b'\\') => out.push_str("\\\\"),
            Some(_) => out.push_str("\\x09"),
            None => {}
        }
        run_start = i + 1;
    }
    out
}

/// Byte strings mixing what names and TXT strings carry: plain and upper-case ASCII, `\`, tab,
/// controls, UTF-8 (accepted, C1, private use), stray high bytes (iodine's base128 alphabet),
/// of lengths around the escaper's 64-byte chunks.
fn text_corpus() -> Vec<Vec<u8>> {
    let pieces: &[&[u8]] = &[
        b"a",
        b"Z",
        b".",
        b"\\",
        b"\t",
        b"\x00",
        b"\x7f",
        "é".as_bytes(),
        "\u{85}".as_bytes(),
        "\u{e000}".as_bytes(),
        "\u{fff0}".as_bytes(),
        "ü".as_bytes(),
        b"\xbc",
        b"\xc3",
        b"\xfd",
        b"\xff",
    ];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..4000)
        .map(|_| {
            let len = (next() % 300) as usize;
            let mut v = Vec::new();
            while v.len() < len {
                v.extend_from_slice(pieces[(next() % pieces.len() as u64) as usize]);
            }
            v
        })
        .collect()
}

#[test]
fn escaping_follows_the_rule() {
    for bytes in text_corpus() {
        assert_eq!(render::escaped(&bytes), escaped_by_the_rule(&bytes), "{bytes:?}");
    }
}

#[test]
fn escaping_commutes_with_ascii_lowercasing() {
    // The analyzer escapes a question's original name once and lowercases the text for `query`.
    for bytes in text_corpus() {
        let mut lowered = render::escaped(&bytes);
        lowered.make_ascii_lowercase();
        assert_eq!(render::escaped(&bytes.to_ascii_lowercase()), lowered, "{bytes:?}");
    }
}
