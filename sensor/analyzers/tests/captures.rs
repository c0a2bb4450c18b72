//! Captures without a Zeek baseline, checked against what their MANIFEST entry, Suricata's
//! expected results or the resolver's own query log say. The TCP ones exercise reassembly on
//! real traffic; the tunnel ones, pairing at volume.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;

use common::{capture_path, run_capture_stats};
use sensor_analyzers::dns::DnsConfig;

#[test]
fn tcp_gap_capture() {
    // sv-dns-tcp-gap: the client's second query (id 1, 34 bytes) is missing; the server ACKs
    // past it. Suricata expects 2 requests and 3 responses of 12 answers.
    let (logged, weirds, stats) = run_capture_stats("dns/sv-dns-tcp-gap.pcap", &DnsConfig::default(), true);
    assert_eq!((stats.tcp_gaps, stats.tcp_gap_bytes), (1, 34));
    assert!(weirds.is_empty(), "{weirds:?}");
    let mut got: Vec<_> =
        logged.iter().map(|l| (l.rec.trans_id, l.rec.saw_query, l.rec.saw_reply, l.rec.answers().len())).collect();
    got.sort();
    assert_eq!(got, [(0, true, true, 12), (1, false, true, 12), (2, true, true, 12)]);
}

#[test]
fn tcp_twenty_queries_in_one_segment() {
    // sv-dns-tcp-multirequest: 20 queries in one 650-byte segment, then FIN; 20 NXDOMAIN
    // responses, one per segment (Suricata: 20 requests, 20 responses).
    let (logged, weirds, stats) = run_capture_stats("dns/sv-dns-tcp-multirequest.pcap", &DnsConfig::default(), true);
    assert!(weirds.is_empty());
    assert_eq!(stats.messages, 40);
    assert_eq!(logged.len(), 20);
    assert!(logged.iter().all(|l| l.rec.saw_query && l.rec.saw_reply && l.rec.rcode == Some(3) && l.proto == "tcp"));
    let names: HashSet<_> = logged.iter().map(|l| l.rec.query().unwrap().to_string()).collect();
    assert!(names.contains("0.google.com") && names.contains("19.google.com"));
}

#[test]
fn tcp_query_across_three_segments() {
    // zeek-dns-tkey: a 3,245-byte TKEY query in segments of 1460, 1460 and 327 bytes (also in
    // the parity test against Zeek's log).
    let (logged, _, stats) = run_capture_stats("dns/zeek-dns-tkey.pcap", &DnsConfig::default(), true);
    assert_eq!(stats.messages, 2);
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].rec.request_len, Some(3245));
    assert_eq!(logged[0].rec.qtype, Some(249));
}

#[test]
fn tcp_several_transactions() {
    // sv-dns-ids-keywords: three transactions over TCP (Suricata: one alert each).
    let (logged, weirds, _) = run_capture_stats("dns/sv-dns-ids-keywords.pcap", &DnsConfig::default(), true);
    assert!(weirds.is_empty());
    let mut names: Vec<_> = logged.iter().map(|l| l.rec.query().unwrap().to_string()).collect();
    names.sort();
    assert_eq!(names, ["oisf.net", "suricata.io", "suricata.org"]);
    assert!(logged.iter().all(|l| l.rec.saw_query && l.rec.saw_reply));
}

/// Query and response counts from MANIFEST.md (tshark), for tunnel captures taken on the
/// resolver with checksum offload (so read as `zeek -C` would).
fn tunnel(stem: &str, queries: usize, responses: usize) {
    let (logged, _, _) = run_capture_stats(&format!("dns-tunnel/{stem}.pcap"), &DnsConfig::default(), false);
    assert_eq!(logged.iter().filter(|l| l.rec.saw_query).count(), queries, "{stem}: queries");
    assert_eq!(logged.iter().filter(|l| l.rec.saw_reply).count(), responses, "{stem}: responses");
    assert_eq!(logged.len(), queries.max(responses), "{stem}: every response paired");
}

#[test]
fn tunnels_pair_every_response() {
    tunnel("sv-dns2tcp-bug-1158", 81, 80);
    tunnel("kor-dns2tcp-c2-key-bind9", 208, 207);
    tunnel("kor-dns2tcp-c2-txt-bind9", 230, 229);
    tunnel("kor-dnscat2-c2-bind9", 438, 430);
    tunnel("kor-dnscat2-c2-powerdns", 373, 365);
}

#[test]
fn large_tunnels_pair_every_response() {
    tunnel("kor-iodine-private-base64-bind9", 22982, 22971);
    tunnel("kor-iodine-cname-base128-bind9", 22977, 22967);
    tunnel("kor-dns2tcp-filexfer-txt-bind9", 15116, 15108);
    tunnel("kor-iodine-srv-raw-bind9", 8176, 8135);
    tunnel("kor-iodine-mx-base64-bind9", 8093, 8021);
    tunnel("kor-dnscat2-filexfer-bind9", 4434, 4431);
    tunnel("kor-iodine-txt-raw-bind9", 4023, 3950);
    tunnel("kor-iodine-null-base32-bind9", 4007, 3952);
    tunnel("kor-iodine-null-base128-coredns", 3987, 3914);
}

#[test]
fn resolver_log_matches_client_queries() {
    // BIND logs each client query: `client @… 192.168.0.30#PORT (NAME): query: NAME IN TYPE …`.
    // Each must be a record from that port with that name as sent and that type.
    for stem in ["kor-dns2tcp-c2-key-bind9", "kor-dns2tcp-c2-txt-bind9", "kor-dnscat2-c2-bind9"] {
        let (logged, _, _) = run_capture_stats(&format!("dns-tunnel/{stem}.pcap"), &DnsConfig::default(), false);
        let ours: HashSet<(u16, String, String)> = logged
            .iter()
            .filter(|l| l.orig.0.to_string() == "192.168.0.30")
            .map(|l| (l.orig.1, l.rec.original_query().unwrap().to_string(), l.rec.qtype_name().unwrap().to_string()))
            .collect();
        let log = std::fs::read_to_string(capture_path(&format!("dns-tunnel/{stem}.bind9-query.log"))).unwrap();
        let mut n = 0;
        for line in log.lines() {
            let Some(rest) = line.split("192.168.0.30#").nth(1) else {
                continue;
            };
            let port: u16 = rest.split(' ').next().unwrap().parse().unwrap();
            let query = rest.split("query: ").nth(1).unwrap();
            let mut f = query.split(' ');
            let (name, _class, qtype) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
            assert!(ours.contains(&(port, name.to_string(), qtype.to_string())), "{stem}: {port} {name} {qtype}");
            n += 1;
        }
        assert!(n > 100, "{stem}: {n} log lines");
    }
}
