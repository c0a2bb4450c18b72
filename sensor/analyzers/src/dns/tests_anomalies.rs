//! Every anomaly the parser raises, each with a hand-built message that triggers it (names and
//! conditions as in Zeek's `DNS.cc`), and a mutation sweep over a real message.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::parser::{Outcome, ParseOptions, Section};
use super::tests::{header, query, response, rr, wire_name};
use super::*;

fn anomalies(bytes: &[u8]) -> Vec<&'static str> {
    parse_message(bytes).unwrap().anomalies.iter().map(|(n, _)| *n).collect()
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

// ---------------------------------------------------------------- name anomalies

#[test]
fn label_anomalies() {
    let mut long = header(1, 0x0100, [1, 0, 0, 0]);
    long.push(64);
    long.extend_from_slice(&[b'a'; 64]);
    long.extend_from_slice(&[0, 0, 1, 0, 1]);
    assert_eq!(anomalies(&long), [weird::LABEL_TOO_LONG]);

    let mut past = header(1, 0x0100, [1, 0, 0, 0]);
    past.extend_from_slice(&[10, b'a', b'b']);
    assert_eq!(anomalies(&past), [weird::LABEL_LEN_GT_PKT]);

    let mut cut_pointer = header(1, 0x0100, [1, 0, 0, 0]);
    cut_pointer.push(0xc0);
    assert_eq!(anomalies(&cut_pointer), [weird::INVALID_NAME]);

    let mut self_pointer = header(1, 0x0100, [1, 0, 0, 0]);
    self_pointer.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
    assert_eq!(anomalies(&self_pointer), [weird::LABEL_FORWARD_COMPRESS_OFFSET]);

    let mut short = header(1, 0x0100, [1, 0, 0, 0]);
    short.extend(wire_name("a.org"));
    short.extend_from_slice(&[0, 1, 0]);
    assert_eq!(anomalies(&short), [weird::TRUNCATED_QUEST_TOO_SHORT]);
}

#[test]
fn long_names() {
    // Four 63-byte labels: 256 presentation bytes with the dots, reported but kept.
    let name = [["a"; 63].concat(), ["b"; 63].concat(), ["c"; 63].concat(), ["d"; 63].concat()].join(".");
    let m = parse_message(&query(1, &name, 1)).unwrap();
    assert_eq!(m.anomalies, [(weird::NAME_TOO_LONG, None)]);
    assert_eq!(m.questions[0].name.len(), 255);
    // Nine 63-byte labels do not fit Zeek's 512-byte buffer.
    let name = vec![["x"; 63].concat(); 9].join(".");
    let m = parse_message(&query(1, &name, 1)).unwrap();
    assert_eq!(m.anomalies, [(weird::LABEL_LEN_GT_NAME_LEN, None)]);
    assert!(m.questions.is_empty());
}

#[test]
fn compression_chain_is_cut_at_depth_20() {
    // Answer k's owner points at answer k-1's owner; answer 1's is "x". Answer 22 needs 21 hops.
    let n = 23u16;
    let mut msg = header(1, 0x8180, [0, n, 0, 0]);
    let mut prev = msg.len();
    msg.extend_from_slice(&[1, b'x', 0]);
    msg.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 1]);
    for _ in 1..n {
        let at = msg.len();
        msg.extend_from_slice(&[0xc0 | (prev >> 8) as u8, prev as u8]);
        msg.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 1]);
        prev = at;
    }
    let m = parse_message(&msg).unwrap();
    assert_eq!(m.records.len(), 23, "the cut name still parses");
    assert_eq!(m.records[20].name, "x");
    assert_eq!(m.records[21].name, "", "22nd: chain cut");
    assert_eq!(
        m.anomalies,
        [
            (weird::MAX_COMPRESSION_CHAIN_DEPTH_EXCEEDED, Some("21".into())),
            (weird::MAX_COMPRESSION_CHAIN_DEPTH_EXCEEDED, Some("21".into()))
        ]
    );
}

// ---------------------------------------------------------------- record anomalies

#[test]
fn record_anomalies() {
    let resp = |rtype: u16, rdata: &[u8]| response(7, "e.org", rtype, &[rr("e.org", rtype, 1, 60, rdata)]);
    assert_eq!(anomalies(&resp(rr_type::A, &[1, 2, 3, 4, 5])), [weird::RR_BAD_LENGTH]);
    assert_eq!(anomalies(&resp(rr_type::LOC, &[0; 15])), [weird::INVALID_LOC_LENGTH]);
    let mut loc = [0u8; 16];
    loc[0] = 1;
    assert_eq!(anomalies(&resp(rr_type::LOC, &loc)), [weird::LOC_VERSION_UNRECOGNIZED]);
    assert_eq!(anomalies(&resp(rr_type::TXT, &[5, b'a', b'b'])), [weird::TXT_CHAR_STR_PAST_RDLEN]);
    // A name running past RDLENGTH: reported, parsing goes on after the name.
    let mut m = resp(rr_type::CNAME, &wire_name("a.b"));
    let at = m.len() - 5 - 2;
    m[at..at + 2].copy_from_slice(&3u16.to_be_bytes());
    assert_eq!(anomalies(&m), [weird::RR_LENGTH_MISMATCH]);
    // RDLENGTH 0 with bytes after it.
    let mut zero = resp(rr_type::A, &[]);
    zero[7] = 2;
    zero.extend(rr("e.org", 1, 1, 60, &[1, 2, 3, 4]));
    assert_eq!(anomalies(&zero), [weird::ZERO_RDLENGTH]);
    // RDLENGTH past the end.
    let mut past = resp(rr_type::A, &[1, 2, 3, 4]);
    past.truncate(past.len() - 1);
    assert_eq!(anomalies(&past), [weird::TRUNCATED_RR_RDLENGTH_LT_LEN]);
    // Owner name without type and class.
    let mut cut = response(7, "e.org", 1, &[]);
    cut[7] = 1;
    cut.extend(wire_name("e.org"));
    cut.push(0);
    assert_eq!(anomalies(&cut), [weird::TRUNCATED_ANS_TOO_SHORT]);
}

#[test]
fn dnssec_anomalies() {
    let resp = |rtype: u16, rdata: &[u8]| response(7, "e.org", rtype, &[rr("e.org", rtype, 1, 60, rdata)]);
    let rrsig = |algo: u8| cat(&[&[0, 1, algo, 2], &[0; 14], &wire_name("e.org")]);
    assert_eq!(anomalies(&resp(rr_type::RRSIG, &rrsig(1))), [weird::RRSIG_NOT_RECOMMENDED_ALGO]);
    assert_eq!(anomalies(&resp(rr_type::RRSIG, &rrsig(253))), [weird::RRSIG_PRIVATE_DNS_ALGO]);
    assert_eq!(anomalies(&resp(rr_type::RRSIG, &rrsig(9))), [weird::RRSIG_UNKNOWN_ALGO]);
    assert!(anomalies(&resp(rr_type::RRSIG, &rrsig(13))).is_empty());
    assert_eq!(
        anomalies(&resp(rr_type::DNSKEY, &[0x01, 0x81, 2, 252])),
        [weird::DNSKEY_REVOKED_KSK, weird::DNSKEY_INVALID_PROTOCOL, weird::DNSKEY_INDIRECT_ALGO]
    );
    assert_eq!(anomalies(&resp(rr_type::DNSKEY, &[0x80, 0x00, 3, 8])), [weird::DNSKEY_INVALID_FLAG]);
    assert_eq!(anomalies(&resp(rr_type::DS, &[0, 1, 8, 0])), [weird::DS_RESERVED_DIGEST_TYPE]);
    assert_eq!(anomalies(&resp(rr_type::DS, &[0, 1, 8, 9])), [weird::DS_UNKNOWN_DIGEST_TYPE]);
    let nsec = cat(&[&wire_name("f.org"), &[3, 0]]);
    let m = parse_message(&resp(rr_type::NSEC, &nsec)).unwrap();
    assert_eq!(m.anomalies, [(weird::NSEC_BITMAP_LEN0, Some("3".into()))]);
    assert_eq!(anomalies(&resp(rr_type::NSEC3, &[1, 0, 0, 0, 0, 0, 0, 0])), [weird::NSEC3_BITMAP_LEN0]);
}

#[test]
fn edns_and_svcb_anomalies() {
    let resp = |rtype: u16, rdata: &[u8]| response(7, "e.org", rtype, &[rr("e.org", rtype, 1, 60, rdata)]);
    assert_eq!(anomalies(&resp(rr_type::OPT, &[0, 8, 0, 9, 1])), [weird::EDNS_TRUNCATED_OPTION]);
    assert_eq!(anomalies(&resp(rr_type::OPT, &[0, 10, 0, 0, 7])), [weird::EDNS_TRUNCATED_OPTION]);
    assert_eq!(anomalies(&resp(rr_type::OPT, &[0, 8, 0, 4, 0, 1, 24, 0])), [weird::EDNS_ECS_INVALID_OPTION_LEN]);
    let m = parse_message(&resp(rr_type::OPT, &[0, 8, 0, 5, 0, 1, 33, 0, 10])).unwrap();
    assert_eq!(m.anomalies, [(weird::EDNS_ECS_INVALID_ADDR_V4_PREFIX, Some("33 bits".into()))]);
    let m = parse_message(&resp(rr_type::OPT, &[0, 8, 0, 5, 0, 1, 24, 0, 10])).unwrap();
    assert_eq!(m.anomalies, [(weird::EDNS_ECS_INVALID_ADDR_V4, Some("need 24 bits, have 8 bits".into()))]);
    assert_eq!(anomalies(&resp(rr_type::OPT, &[0, 11, 0, 0])), [weird::EDNS_TCP_KEEPALIVE_IN_UDP]);
    let tcp = ParseOptions { transport: DnsTransport::Tcp, sections: Sections::All };
    assert!(parse_message_with(&resp(rr_type::OPT, &[0, 11, 0, 0]), &tcp).unwrap().anomalies.is_empty());

    assert_eq!(anomalies(&resp(rr_type::SVCB, &[0, 1])), [weird::SVCB_WRONG_LENGTH]);
    assert_eq!(
        anomalies(&resp(rr_type::SVCB, &[0, 0, 0, 0, 3, 0, 1, 9])),
        [weird::SVCB_ALIASMODE_WITH_PARAMS, weird::SVCB_PORT_LENGTH_INVALID]
    );
    let m = parse_message(&resp(rr_type::HTTPS, &[0, 1, 0, 0, 1, 0, 9, 2, b'h', b'2'])).unwrap();
    assert_eq!(m.anomalies, [(weird::SVCB_PARAM_VALUE_TOOBIG, Some("9 capped to 3".into()))]);
    assert_eq!(
        anomalies(&resp(rr_type::HTTPS, &[0, 1, 0, 0, 1, 0, 3, 5, b'h', b'2'])),
        [weird::SVCB_ALPN_LENGTH_INVALID]
    );
    assert_eq!(anomalies(&resp(rr_type::HTTPS, &[0, 1, 0, 0, 9, 0, 0])), [weird::SVCB_KEY_RESERVED_OR_INVALID]);
    assert_eq!(anomalies(&resp(rr_type::HTTPS, &[0, 1, 0, 0, 4, 0, 3, 1, 2, 3])), [weird::SVCB_HINT_LENGTH_INVALID]);
}

// ---------------------------------------------------------------- message anomalies

#[test]
fn message_anomalies() {
    let too_short = parse_message(&[0; 11]);
    assert_eq!(too_short, Err(ParseError::TooShort(11)));
    let mut c = Vec::new();
    let outcome = parser::parse(&[0; 11], &ParseOptions::default(), &mut Anoms(&mut c));
    assert_eq!((outcome, c.as_slice()), (Outcome::TooShort, &[weird::TRUNCATED_LEN_LT_HDR_LEN][..]));

    // Opcode 2 (server status): not analysed.
    let m = parse_message(&header(1, 0x1000, [0; 4])).unwrap();
    assert_eq!(
        (m.outcome, m.anomalies.clone()),
        (Outcome::UnknownOpcode(2), vec![(weird::UNKNOWN_OPCODE, Some("2".into()))])
    );

    // 26 questions: taken for non-DNS.
    let m = parse_message(&header(1, 0x0100, [26, 0, 0, 0])).unwrap();
    assert_eq!(m.anomalies, [(weird::CONN_COUNT_TOO_LARGE, Some("26 > 25".into()))]);
    assert_eq!(m.violations, [weird::VIOLATION_CONN_COUNT_TOO_LARGE]);
}

#[test]
fn dynamic_update_anomalies() {
    let mut two_zones = header(1, 0x2800, [2, 0, 0, 0]);
    two_zones.extend(wire_name("e.org"));
    assert_eq!(anomalies(&two_zones), [weird::DU_INVALID_ZONE_COUNT]);

    let mut not_soa = header(1, 0x2800, [1, 0, 0, 0]);
    not_soa.extend(wire_name("e.org"));
    not_soa.extend_from_slice(&[0, 1, 0, 1]);
    let m = parse_message(&not_soa).unwrap();
    assert_eq!((m.outcome, m.anomalies.len()), (Outcome::Abandoned, 1));
    assert!(!m.outcome.ends_message());

    let zone = |prcount: u16, upcount: u16| {
        let mut v = header(1, 0x2800, [1, prcount, upcount, 0]);
        v.extend(wire_name("e.org"));
        v.extend_from_slice(&[0, 6, 0, 1]);
        v
    };
    let m = parse_message(&cat(&[&zone(1, 0), &rr("h.e.org", 1, 255, 5, &[])])).unwrap();
    assert_eq!(m.anomalies, [(weird::DYNAMIC_UPDATE_PREREQ_NONZERO_TTL, Some("5".into()))]);
    let m = parse_message(&cat(&[&zone(1, 0), &rr("h.e.org", 1, 3, 0, &[])])).unwrap();
    assert_eq!(m.anomalies, [(weird::DYNAMIC_UPDATE_INVALID_PREREQ, None)]);
    let m = parse_message(&cat(&[&zone(0, 1), &rr("h.e.org", 1, 3, 0, &[1, 2, 3, 4])])).unwrap();
    assert_eq!(m.anomalies, [(weird::DYNAMIC_UPDATE_INVALID_UPDATE, None)]);
    // Prerequisite name forms.
    let m = parse_message(&cat(&[
        &zone(2, 1),
        &rr("h.e.org", 255, 254, 0, &[]),
        &rr("h.e.org", 255, 255, 0, &[]),
        &rr("h.e.org", 255, 255, 0, &[]),
    ]))
    .unwrap();
    let texts: Vec<_> = m.records.iter().map(|r| r.reply.clone().unwrap()).collect();
    assert_eq!(texts, ["pre: NameNotInUse h.e.org", "pre: NameInUse h.e.org", "del: RRSet * h.e.org"]);
    assert_eq!(m.section(Section::Update).count(), 1);
}

/// Collects anomaly names only.
struct Anoms<'a>(&'a mut Vec<&'static str>);

impl parser::Visitor for Anoms<'_> {
    fn weird(&mut self, name: &'static str, _: Option<&str>) {
        self.0.push(name);
    }
}

#[test]
fn never_panics_on_mutations() {
    // Every truncation and every single-byte change of a real response parses without panic.
    let base = super::tests::hex(&[
        "5294841000010004000200040377777703636d75036564750000010001c00c00",
        "050001000151800011075757572d434d5506414e44524557c010c00c002e0001",
        "00015180009b0005070300015180515cb25b5135187a1b2303636d7503656475",
        "006b741ab2616a3f33b02d97c41edb5fc04bde32780687bdcf24b8208dae7550",
    ]);
    let opts = ParseOptions { sections: Sections::All, transport: DnsTransport::Udp };
    let mut seen = 0;
    for cut in 0..base.len() {
        let _ = parse_message_with(&base[..cut], &opts);
    }
    for i in 0..base.len() {
        for b in [0x00, 0x01, 0x3f, 0x40, 0x7f, 0xc0, 0xc1, 0xff] {
            let mut m = base.clone();
            m[i] = b;
            if let Ok(msg) = parse_message_with(&m, &opts) {
                seen += msg.records.len();
            }
        }
    }
    assert!(seen > 0);
}
