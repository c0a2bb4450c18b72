//! Parser and rendering tests: real messages from the shared captures (hex of the UDP/TCP
//! payload, capture and packet named above each) for every record type they contain, and
//! hand-built messages for the others and for each anomaly. Expected strings follow Zeek's
//! `main.zeek` handlers; where a Zeek btest baseline shows the same form it is named.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::parser::{Outcome, ParseOptions, Section};
use super::*;

/// Bytes from hex lines.
pub(super) fn hex(lines: &[&str]) -> Vec<u8> {
    let s: String = lines.concat();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// A name in wire form, uncompressed.
pub(super) fn wire_name(name: &str) -> Vec<u8> {
    let mut v = Vec::new();
    for label in name.split('.').filter(|l| !l.is_empty()) {
        v.push(label.len() as u8);
        v.extend_from_slice(label.as_bytes());
    }
    v.push(0);
    v
}

/// A header.
pub(super) fn header(id: u16, flags: u16, counts: [u16; 4]) -> Vec<u8> {
    let mut v = id.to_be_bytes().to_vec();
    v.extend_from_slice(&flags.to_be_bytes());
    for c in counts {
        v.extend_from_slice(&c.to_be_bytes());
    }
    v
}

/// A resource record with an uncompressed owner.
pub(super) fn rr(owner: &str, rtype: u16, class: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
    let mut v = wire_name(owner);
    v.extend_from_slice(&rtype.to_be_bytes());
    v.extend_from_slice(&class.to_be_bytes());
    v.extend_from_slice(&ttl.to_be_bytes());
    v.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    v.extend_from_slice(rdata);
    v
}

/// A response (QR, RD, RA) to `qname`/`qtype` with the given answer records.
pub(super) fn response(id: u16, qname: &str, qtype: u16, answers: &[Vec<u8>]) -> Vec<u8> {
    let mut v = header(id, 0x8180, [1, answers.len() as u16, 0, 0]);
    v.extend(wire_name(qname));
    v.extend_from_slice(&qtype.to_be_bytes());
    v.extend_from_slice(&1u16.to_be_bytes());
    answers.iter().for_each(|a| v.extend_from_slice(a));
    v
}

/// A standard query.
pub(super) fn query(id: u16, qname: &str, qtype: u16) -> Vec<u8> {
    let mut v = header(id, 0x0100, [1, 0, 0, 0]);
    v.extend(wire_name(qname));
    v.extend_from_slice(&qtype.to_be_bytes());
    v.extend_from_slice(&1u16.to_be_bytes());
    v
}

fn replies(m: &Message, section: Section) -> Vec<Option<String>> {
    m.section(section).map(|r| r.reply.clone()).collect()
}

fn answers(m: &Message) -> Vec<String> {
    m.section(Section::Answer).filter_map(|r| r.reply.clone()).collect()
}

fn all(bytes: &[u8]) -> Message {
    parse_message(bytes).unwrap()
}

// ---------------------------------------------------------------- real captures

// zeek-dns-two-responses.pcap, packet 2: 222.195.43.124:53 > 55.247.223.174:27285
pub(super) const TWO_RESPONSES_REPLY: &[&str] = &[
    "5294841000010004000200040377777703636d75036564750000010001c00c00",
    "050001000151800011075757572d434d5506414e44524557c010c00c002e0001",
    "00015180009b0005070300015180515cb25b5135187a1b2303636d7503656475",
    "006b741ab2616a3f33b02d97c41edb5fc04bde32780687bdcf24b8208dae7550",
    "e35b164428fba91d0c72e757a70dcb38924d702d04a5919b673d05065e2406b9",
    "3b99cb4ad945c46d550a28edbcc1cbe6db31c7b8650a6428acfab46fc5987db5",
    "61a714893a1003e464f1550d3e3c344c093a3475efddd7d5d2176c6203350a2e",
    "aac0290005000100000005000c095757572d434d552d32c031c0ed0001000100",
    "005460000480020aa3c0310002000100015180000e074e534155544831034e45",
    "54c058c0310002000100015180000a074e534155544832c11dc1150001000100",
    "015180000480020108c115001c00010001518000102607fb2800000000000000",
    "0000000004c12f0001000100015180000480ed94a80000291000000080000000",
];

#[test]
fn cname_rrsig_a_ns_aaaa_from_two_responses() {
    let m = all(&hex(TWO_RESPONSES_REPLY));
    assert_eq!(m.outcome, Outcome::Complete);
    assert!(m.anomalies.is_empty(), "{:?}", m.anomalies);
    // Zeek's baseline (duplicate-reponses/dns.log): compressed uppercase names come out lowered.
    assert_eq!(answers(&m), ["www-cmu.andrew.cmu.edu", "RRSIG 5 cmu.edu", "www-cmu-2.andrew.cmu.edu", "128.2.10.163"]);
    let ttls: Vec<u32> = m.section(Section::Answer).map(|r| r.ttl).collect();
    assert_eq!(ttls, [86400, 86400, 5, 21600]);
    assert_eq!(
        replies(&m, Section::Authority),
        [Some("nsauth1.net.cmu.edu".into()), Some("nsauth2.net.cmu.edu".into())]
    );
    let addl: Vec<_> = m.section(Section::Additional).map(|r| r.reply.clone()).collect();
    assert_eq!(addl[..3], [Some("128.2.1.8".into()), Some("2607:fb28::4".into()), Some("128.237.148.168".into())]);
    assert_eq!(addl[3], None, "OPT has no reply");
}

#[test]
fn answers_only_is_the_default() {
    let m = parse_message_with(&hex(TWO_RESPONSES_REPLY), &ParseOptions::default()).unwrap();
    assert_eq!(m.records.len(), 4);
    assert!(m.records.iter().all(|r| r.section == Section::Answer));
}

#[test]
fn aaaa_from_mdns() {
    // zeek-mdns-no-assoc.pcap, packet 4: 192.168.0.2:5353 > 224.0.0.251:5353
    let m = all(&hex(&[
        "00008400000000010000000014756e72656c617465642d7265706c792d616161",
        "61056c6f63616c00001c0001000000780010fe800000000000000200defffead",
        "beef",
    ]));
    assert_eq!(answers(&m), ["fe80::200:deff:fead:beef"]);
    assert_eq!(m.records[0].name, "unrelated-reply-aaaa.local");
    assert_eq!(m.records[0].ttl, 120);
}

#[test]
fn loc_and_rrsig() {
    // zeek-dns-loc.pcap, packet 2: 192.188.22.52:53 > 79.141.82.250:57483 (802.1Q)
    let m = all(&hex(&[
        "820f840000010002000000010873756e6e2d707431026573036e65740000ff00",
        "01c00c001d0001000002580010001215138805025065d2d40000989680c00c00",
        "2e000100000258007a001d0e03000002585fced1875fa7397f7f2a026573036e",
        "6574009778824d12effb20c5bd16db06025c34c6bc0345598fbd77f3b9e18a58",
        "fdf08982f069f51839762c138c5c0f149a6c8f2422004faeb6595110905fd6c2",
        "91cad2f04fbad0711851ad1cf7049d45a120547d6a6e7315bf68e3d3cb87cc53",
        "09e305000029100000008000001c000a0018bc31985b673b6cb8010000005fa8",
        "86fa4d7134934d3ca9c4",
    ]));
    // Zeek's baseline (loc/dns.log): `LOC:  size horiz vert`, two spaces.
    assert_eq!(answers(&m), ["LOC:  18 21 19", "RRSIG 29 es.net"]);
    assert!(m.anomalies.is_empty());
}

#[test]
fn bind9_private_type_65534() {
    // zeek-dns-binds.pcap, packet 2: 10.87.1.10:53 > 10.87.3.74:51871
    let m = all(&hex(&[
        "6bb385800001001000000001076578616d706c65036e657400fffe0001c00cff",
        "fe0001000000000005077d120001c00cfffe00010000000000050508940001c0",
        "0cfffe00010000000000050f32c20001c00cfffe0001000000000005105d3c00",
        "01c00cfffe00010000000000050792eb0001c00cfffe00010000000000050825",
        "4f0001c00cfffe000100000000000505bc7e0001c00cfffe0001000000000005",
        "08816a0001c00cfffe00010000000000050e3b250001c00cfffe000100000000",
        "00050aa2cb0001c00cfffe00010000000000050af8df0001c00cfffe00010000",
        "000000050dff730001c00cfffe00010000000000050d7aa80001c00cfffe0001",
        "0000000000050eeb810001c00cfffe00010000000000050f79180001c00cfffe",
        "0001000000000005109cfb000100002904d0000000000000",
    ]));
    assert_eq!(answers(&m), vec!["BIND9 signing signal"; 16]);
    assert_eq!(m.questions[0].qtype, 65534);
    assert_eq!(names::qtype_name(65534), "query-65534");
}

#[test]
fn soa_rrsig_nsec_in_authority_of_notify_capture() {
    // zeek-dns-notify.pcap, packet 1: 203.0.113.26:53 > 214.187.42.114:53669 (802.1Q)
    let m = all(&hex(&[
        "73dd8410000100000004000103616569036d706702646500002b0001c0100006",
        "00010000003c002f04646e73310467776467026465000a686f73746d61737465",
        "72c02d2f4859160000546000000e100024ea0000000e10c010002e0001000000",
        "3c005a00060d020000003c69ce301e69c0f30e7280036d706702646500584284",
        "6b3bc08ea73afdc7ecc0d15877101c69b825d30c736162ea265c82643831f712",
        "102ee58d3d3a3ea69e427c17889f496c48884bd3f18a5a5eaeb743deb5c00c00",
        "2f00010000003c001c0b6165692d706f747364616d036d706702646500000620",
        "0000000003c00c002e00010000003c005a002f0d030000003c69ce210469c0f0",
        "d87280036d70670264650044635b48a1b041000d3b0445cabf3d0be8b23136c4",
        "001225178140ff98ba627d3c5a6f6ec5633b9f9ab66e9fc405db66e29783ec05",
        "d08d39479b84e60a5bf25800002904d0000080000000",
    ]));
    assert!(m.anomalies.is_empty(), "{:?}", m.anomalies);
    assert_eq!(
        replies(&m, Section::Authority),
        [
            Some("dns1.gwdg.de".into()),
            Some("RRSIG 6 mpg.de".into()),
            Some("NSEC aei.mpg.de aei-potsdam.mpg.de".into()),
            Some("RRSIG 47 mpg.de".into()),
        ]
    );
}

#[test]
fn soa_answer_in_notify_request() {
    // zeek-dns-notify.pcap, packet 2: 203.0.113.82:57394 > 203.0.113.22:53 (opcode NOTIFY)
    let m = all(&hex(&[
        "5131240000010001000000000464686370046c626e6c0275730000060001c00c",
        "0006000100000000003f096c6f63616c686f7374036c626c03676f76000a686f",
        "73746d6173746572036e7378036c626c03676f760081f6a03200003840000007",
        "080083d6000000a8c0",
    ]));
    assert_eq!(m.header.opcode, 4);
    assert_eq!(answers(&m), ["localhost.lbl.gov"]);
}

#[test]
fn mx_from_google() {
    // sv-dns-google-a-aaaa-mx.pcap, packet 6: 8.8.8.8:53 > 10.16.1.11:54380
    let m = all(&hex(&[
        "56168180000100050000000106676f6f676c6503636f6d00000f0001c00c000f",
        "000100000257000c000a056173706d78016cc00cc00c000f0001000002570009",
        "001404616c7431c02ac00c000f0001000002570009001e04616c7432c02ac00c",
        "000f0001000002570009002804616c7433c02ac00c000f000100000257000900",
        "3204616c7434c02a0000290200000000000000",
    ]));
    assert_eq!(
        answers(&m),
        [
            "aspmx.l.google.com",
            "alt1.aspmx.l.google.com",
            "alt2.aspmx.l.google.com",
            "alt3.aspmx.l.google.com",
            "alt4.aspmx.l.google.com"
        ]
    );
}

// sv-dns-srv.pcap and malformed/sv-dns-corrupt-additionals.pcap, packet 2:
// 172.23.0.22:53 > 172.30.2.70:36441. The corrupt copy differs in the OPT's last two bytes:
// RDLENGTH 0x0102 with nothing after it.
const SRV_REPLY: &[&str] = &[
    "eb5681800001000200000001045f736970045f7564700373697005766f696365",
    "06676f6f676c6503636f6d0000210001c00c0021000100000113002600140001",
    "13c40d7369702d616e79636173742d3205766f69636506676f6f676c6503636f",
    "6d00c00c00210001000001130026000a000113c40d7369702d616e7963617374",
    "2d3105766f69636506676f6f676c6503636f6d000000291000000000000000",
];

#[test]
fn srv_target() {
    let m = all(&hex(SRV_REPLY));
    assert_eq!(answers(&m), ["sip-anycast-2.voice.google.com", "sip-anycast-1.voice.google.com"]);
    assert!(m.anomalies.is_empty());
}

#[test]
fn corrupt_additional_only_seen_when_parsing_all_sections() {
    let mut bytes = hex(SRV_REPLY);
    let n = bytes.len();
    bytes[n - 2..].copy_from_slice(&[0x01, 0x02]);
    let default = parse_message_with(&bytes, &ParseOptions::default()).unwrap();
    assert!(default.anomalies.is_empty(), "Zeek skips additional records by default");
    assert_eq!(answers(&default).len(), 2);
    let m = all(&bytes);
    assert_eq!(m.anomalies, [(weird::TRUNCATED_RR_RDLENGTH_LT_LEN, None)]);
    assert_eq!(m.outcome, Outcome::Stopped);
    assert_eq!(answers(&m).len(), 2, "answers before the bad record stay");
}

#[test]
fn null_record_is_unknown() {
    // sv-dns-null-record.pcap, packet 2: 10.0.2.20:53 > 10.0.2.30:44639
    let m = all(&hex(&[
        "12b0840000010001000000000b76616161616b6172646c690670697261746503",
        "73656100000a0001c00c000a00010000000000095641434b4403c5e901",
    ]));
    assert_eq!(answers(&m), ["<unknown type=10>"]);
    assert_eq!(m.anomalies, [(weird::RR_UNKNOWN_TYPE, Some("10".into()))]);
}

#[test]
fn forward_compression_pointer_is_refused() {
    // malformed/sv-dns-forward-pointer.pcap, packet 1: 10.16.1.11:51721 > 8.8.8.8:53. The first
    // question is a pointer (c012) to offset 18, after itself.
    let m = all(&hex(&["8e0401000002000000000000c012000100010a636f64656d6f6e6b6579036e65", "740000010001"]));
    assert_eq!(m.anomalies, [(weird::LABEL_FORWARD_COMPRESS_OFFSET, None)]);
    assert!(m.questions.is_empty());
    assert_eq!(m.outcome, Outcome::Stopped);
}

#[test]
fn dynamic_update_sections() {
    // zeek-dns-dynamic-update.pcap, packet 2: 192.168.1.108:53 > 192.168.1.106:62763 (REFUSED)
    let m = all(&hex(&[
        "bb50a80500010001000300010953747261746f4c6162036f7267000006000105",
        "4e57696e320953747261746f4c6162036f726700000500fe000000000000c01f",
        "001c00ff000000000000c01f000100ff000000000000c01f00010001000004b0",
        "0004c0a8016a09313036382d6d732d370b3332382d3266303234643424376139",
        "34363362382d623130392d313165642d323661332d3038303032376632323065",
        "350000fa00ff000000000036086773732d7473696700000063f4163c8ca0001c",
        "040404ffffffffff000000000677093930fb1c81196247ff4899884fbb500000",
        "0000",
    ]));
    assert!(m.questions.is_empty(), "the zone is not a question");
    // Zeek's baseline (dynamic-update/dns.log).
    assert_eq!(replies(&m, Section::Prerequisite), [Some("pre: NoRRSet CNAME nwin2.stratolab.org".into())]);
    assert_eq!(
        replies(&m, Section::Update),
        [
            Some("del: RRSet AAAA".into()),
            Some("del: RRSet A".into()),
            Some("add: A nwin2.stratolab.org 192.168.1.106".into()),
        ]
    );
    let tsig: Vec<_> = m.section(Section::Additional).collect();
    assert_eq!((tsig[0].rtype, &tsig[0].reply), (250, &None), "TSIG parsed, never logged");
    assert!(m.anomalies.is_empty());
}

#[test]
fn soa_in_authority_of_nxdomain() {
    // sv-dns-nxdomain-soa.pcap, packet 2: 8.8.4.4:53 > 10.16.1.11:59465
    let m = all(&hex(&[
        "82958183000100000001000103646e65046f697366036e65740000010001c010",
        "00060001000003830045066e732d31313009617773646e732d313303636f6d00",
        "11617773646e732d686f73746d617374657206616d617a6f6ec03b0000000100",
        "001c200000038400127500000151800000290200000000000000",
    ]));
    assert_eq!(replies(&m, Section::Authority), [Some("ns-110.awsdns-13.com".into())]);
    assert_eq!(m.header.rcode, 3);
}

#[test]
fn question_case() {
    // zeek-dns-original-case.pcap, packet 1: 192.168.3.138:63374 > 192.168.3.1:53
    let m = all(&hex(&[
        "518d01200001000000000001025573035632370b4469537452694275546544034e",
        "455400000100010000291000000000000000",
    ]));
    assert_eq!(m.questions[0].name, "us.v27.distributed.net");
    assert_eq!(m.questions[0].original, "Us.V27.DiStRiBuTeD.NET");
    assert_eq!(m.header.z, 2, "AD set: Zeek's Z holds Z, AD, CD");
}

#[test]
fn txt_with_several_strings_and_spf() {
    // zeek-dns-txt-multiple.pcap, packet 2 (first 200 bytes: question, 2 CNAMEs, the TXT).
    let bytes = hex(&[
        "6daf8500000100030005000504666c6b720a5f646f6d61696e6b657906666c69",
        "636b7203636f6d0000100001c00c000500010000038400070466613134c011c0",
        "380005000100000384001804666131340a5f646f6d61696e6b6579057961686f",
        "6fc023c04b0010000100001c2000e37f6b3d7273613b20703d4d4947664d4130",
        "47435371475349623344514542415155414134474e4144434269514b42675144",
        "50645066794a4d32523247714d795a4d31666c547a46654449552b65374b6d69",
        "4b527735797a335868742b6367454969486d6d356c4947427557436335727469",
        "7930436378655070716363504b6a6e624853724449323350552b484f75714a36",
        "6572674531494f734c364c4f4567473659543533764d62385a36556942537359",
        "506c724445432b384355496b544c4d4c584a6175524b35624e524b5631415447",
        "7a4746706633546a5a745777494441514142",
    ]);
    let mut m = parse_message_with(&bytes, &ParseOptions::default()).unwrap();
    let txt = m.records.pop().unwrap().reply.unwrap();
    assert!(txt.starts_with("TXT 127 k=rsa; p=MIGfMA0"), "{txt}");
    assert!(txt.contains("PKjn TXT 98 HSrD"), "{txt}");
    assert_eq!(answers(&m), ["fa14._domainkey.flickr.com", "fa14._domainkey.yahoo.com"]);

    // zeek-dns-spf.pcap, packet 2: 10.91.1.59:53 > 10.91.0.62:57806
    let m = all(&hex(&[
        "faa181800001000200000001046d61696c05766c616467036e65740000630001",
        "c00c006300010000012c001413763d73706631206d78202d616c6c2074657374",
        "c00c006300010000012c000f0e763d73706631206d78202d616c6c00002905ac",
        "000000000000",
    ]));
    assert_eq!(answers(&m), ["SPF 19 v=spf1 mx -all test", "SPF 14 v=spf1 mx -all"]);
}
