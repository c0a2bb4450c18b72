//! Parity with Zeek's `dns.log`: every `dns/zeek-*.pcap` that has a `.zeek-dns.log` baseline
//! is run through [`DnsFlow`]s and each record is compared, field by field, with Zeek's line
//! (all fields but `ts`, masked in the baselines, and `uid`). Records are compared as sorted
//! lists: Zeek's order across connections depends on its hash tables.
//!
//! `zeek-ipv6-fragmented-dns` needs IPv6 reassembly and is left to the end-to-end test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Logged, capture_path, run_capture};
use sensor_analyzers::dns::DnsConfig;

/// Fields compared, in Zeek's column names.
const FIELDS: &[&str] = &[
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "trans_id",
    "rtt",
    "query",
    "qclass",
    "qclass_name",
    "qtype",
    "qtype_name",
    "rcode",
    "rcode_name",
    "AA",
    "TC",
    "RD",
    "RA",
    "Z",
    "answers",
    "TTLs",
    "rejected",
    "opcode",
    "opcode_name",
    "original_query",
];

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(
        || "-".to_string(),
        |v| {
            if v.to_string().is_empty() { "(empty)".into() } else { v.to_string() }
        },
    )
}

fn flag(b: bool) -> String {
    if b { "T" } else { "F" }.to_string()
}

fn vector<T: ToString>(v: &[T]) -> String {
    if v.is_empty() {
        "-".to_string()
    } else {
        v.iter().map(|x| x.to_string().replace(',', "\\x2c")).collect::<Vec<_>>().join(",")
    }
}

/// Our record as Zeek's ASCII writer would print the compared fields.
fn render(l: &Logged, with_original: bool) -> Vec<String> {
    let r = &l.rec;
    let mut row = vec![
        l.orig.0.to_string(),
        l.orig.1.to_string(),
        l.resp.0.to_string(),
        l.resp.1.to_string(),
        l.proto.to_string(),
        r.trans_id.to_string(),
        opt(r.rtt.map(|d| format!("{:.6}", d.as_secs_f64()))),
        opt(r.query()),
        opt(r.qclass),
        opt(r.qclass_label()),
        opt(r.qtype),
        opt(r.qtype_name()),
        opt(r.rcode),
        opt(r.rcode_name()),
        flag(r.aa),
        flag(r.tc),
        flag(r.rd),
        flag(r.ra),
        r.z.to_string(),
        vector(&r.answers().collect::<Vec<_>>()),
        vector(&r.ttls().iter().map(|t| format!("{t}.000000")).collect::<Vec<_>>()),
        flag(r.rejected),
        opt(r.opcode),
        opt(r.opcode_name()),
    ];
    if with_original {
        row.push(opt(r.original_query()));
    }
    row
}

/// Zeek's rows, compared fields only.
fn baseline(rel: &str) -> (Vec<Vec<String>>, bool) {
    let text = std::fs::read_to_string(capture_path(rel)).unwrap();
    let fields: Vec<&str> =
        text.lines().find_map(|l| l.strip_prefix("#fields\t")).expect("#fields line").split('\t').collect();
    let with_original = fields.contains(&"original_query");
    let cols: Vec<usize> = FIELDS
        .iter()
        .filter(|f| with_original || **f != "original_query")
        .map(|f| fields.iter().position(|x| x == f).unwrap_or_else(|| panic!("{rel}: no column {f}")))
        .collect();
    let rows = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let v: Vec<&str> = l.split('\t').collect();
            cols.iter().map(|&c| v[c].to_string()).collect()
        })
        .collect();
    (rows, with_original)
}

fn check(stem: &str) {
    let (mut want, with_original) = baseline(&format!("dns/{stem}.zeek-dns.log"));
    let (logged, _) = run_capture(&format!("dns/{stem}.pcap"), &DnsConfig::default());
    let mut got: Vec<Vec<String>> = logged.iter().map(|l| render(l, with_original)).collect();
    want.sort();
    got.sort();
    let names: Vec<&str> = FIELDS.iter().copied().filter(|f| with_original || *f != "original_query").collect();
    assert_eq!(got.len(), want.len(), "{stem}: record count\n got: {got:#?}\nwant: {want:#?}");
    for (g, w) in got.iter().zip(&want) {
        for ((name, a), b) in names.iter().zip(g).zip(w) {
            assert_eq!(a, b, "{stem}: field {name}\n got: {g:?}\nwant: {w:?}");
        }
    }
}

#[test]
fn dns53_flip() {
    check("zeek-dns53-flip");
}

#[test]
fn two_responses() {
    check("zeek-dns-two-responses");
}

#[test]
fn txt_multiple() {
    check("zeek-dns-txt-multiple");
}

#[test]
fn binds() {
    check("zeek-dns-binds");
}

#[test]
fn dynamic_update() {
    check("zeek-dns-dynamic-update");
}

#[test]
fn notify() {
    check("zeek-dns-notify");
}

#[test]
fn spf() {
    check("zeek-dns-spf");
}

#[test]
fn rrsig() {
    check("zeek-dnssec-rrsig");
}

#[test]
fn tkey() {
    check("zeek-dns-tkey");
}

#[test]
fn mdns_no_assoc() {
    check("zeek-mdns-no-assoc");
}

#[test]
fn original_case() {
    check("zeek-dns-original-case");
}

#[test]
fn loc() {
    check("zeek-dns-loc");
}

/// Every baseline beside a capture is covered by a test above (or knowingly skipped).
#[test]
fn every_baseline_is_checked() {
    let dir = capture_path("dns");
    let covered = [
        "zeek-dns53-flip",
        "zeek-dns-two-responses",
        "zeek-dns-txt-multiple",
        "zeek-dns-binds",
        "zeek-dns-dynamic-update",
        "zeek-dns-notify",
        "zeek-dns-spf",
        "zeek-dnssec-rrsig",
        "zeek-dns-tkey",
        "zeek-mdns-no-assoc",
        "zeek-dns-original-case",
        "zeek-dns-loc",
        "zeek-ipv6-fragmented-dns", // needs IPv6 reassembly: end-to-end test
    ];
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if let Some(stem) = name.strip_suffix(".zeek-dns.log") {
            assert!(covered.contains(&stem), "{stem} has a Zeek baseline but no parity test");
        }
    }
}
