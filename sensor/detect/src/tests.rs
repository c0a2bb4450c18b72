//! The detectors through their public API, on synthetic transactions shaped like the traffic
//! each one is for (and like the traffic each one must leave alone). The shared captures are
//! covered end to end by the sensor's `labels` test.

use crate::{Alert, AlertSink, ConnSeen, DetectConfig, Detectors, DnsSeen, Severity, Technique};
use core::net::IpAddr;
use sensor_analyzers::dns::DnsRecord;
use sensor_wire::Timestamp;

#[derive(Default)]
struct Alerts(Vec<Alert>);

impl AlertSink for Alerts {
    fn alert(&mut self, alert: &Alert) {
        self.0.push(alert.clone());
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A transaction at `ms` milliseconds.
fn txn(ms: u64, name: &str, qtype: u16, rcode: u16) -> DnsRecord {
    let mut r = DnsRecord::new(Timestamp(1_700_000_000_000_000_000 + ms * 1_000_000), 1);
    r.set_query(Some(name));
    r.qtype = Some(qtype);
    r.rcode = Some(rcode);
    r.request_len = Some(60 + name.len() as u32);
    r.response_len = Some(120 + name.len() as u32);
    r
}

fn ask(d: &mut Detectors, out: &mut Alerts, client: &str, server: &str, rec: &DnsRecord) {
    let seen = DnsSeen { uid: "Ctest", client: ip(client), server: ip(server), server_port: 53, rec };
    d.dns(&seen, out);
}

/// A base32-looking label of 50 characters, different for each `i`.
fn encoded(i: u64) -> String {
    let alphabet = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..50)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            alphabet[(x % 32) as usize] as char
        })
        .collect()
}

fn techniques(alerts: &Alerts) -> Vec<(&'static str, String)> {
    alerts.0.iter().flat_map(|a| a.techniques.iter().map(|t| (t.id(), a.src.ip.to_string()))).collect()
}

#[test]
fn a_forwarded_tunnel_names_the_client_and_the_resolver_on_the_path() {
    let mut d = Detectors::new(&DetectConfig::default(), 1);
    let mut out = Alerts::default();
    for i in 0..150 {
        let name = format!("{}.t.example.attack", encoded(i));
        // The client asks the resolver; the resolver's upstream interface asks the same name
        // 10 ms later, and its transaction completes (is logged) first.
        ask(&mut d, &mut out, "10.0.0.2", "93.184.216.34", &txn(i * 100 + 10, &name, 16, 0));
        ask(&mut d, &mut out, "192.168.1.30", "192.168.1.10", &txn(i * 100, &name, 16, 0));
    }
    let tunnel: Vec<&Alert> = out.0.iter().filter(|a| a.detector == "dns.tunnel").collect();
    assert!(!tunnel.is_empty(), "no tunnel alert");
    for a in &tunnel {
        assert_eq!(a.src.ip, ip("192.168.1.30"), "{a:?}");
        assert_eq!(a.dst.as_ref().map(|e| e.ip), Some(ip("192.168.1.10")));
        assert_eq!(a.techniques, vec![Technique::DnsC2, Technique::ExfilAltProtocol]);
        assert_eq!(a.evidence.domain.as_deref(), Some("example.attack"));
        assert!(a.id.starts_with('A') && a.id.len() == 18);
    }
    assert!(tunnel.iter().any(|a| a.path.iter().any(|e| e.ip == ip("10.0.0.2"))), "{tunnel:?}");
}

#[test]
fn a_tunnel_is_raised_once_and_again_when_it_turns_high() {
    let mut d = Detectors::new(&DetectConfig::default(), 1);
    let mut out = Alerts::default();
    for i in 0..700 {
        // Mostly short polls, one encoded query in five: iodine's mix.
        let name =
            if i % 5 == 0 { format!("{}.example.attack", encoded(i)) } else { format!("p{i:07}.example.attack") };
        ask(&mut d, &mut out, "192.168.1.30", "192.168.1.10", &txn(i * 50, &name, 10, 0));
    }
    let severities: Vec<Severity> = out.0.iter().map(|a| a.severity).collect();
    assert_eq!(severities, vec![Severity::Medium, Severity::High]);
    assert!(out.0[1].evidence.count("unique_subdomains").unwrap() >= 500.0);
}

#[test]
fn ordinary_names_and_reputation_lookups_are_not_tunnels() {
    let mut d = Detectors::new(&DetectConfig::default(), 1);
    let mut out = Alerts::default();
    for i in 0..1200 {
        // Many hosts of one company, and an anti-virus reputation service's hashed names.
        ask(
            &mut d,
            &mut out,
            "192.168.1.30",
            "192.168.1.10",
            &txn(i * 10, &format!("host-{i}.corp.example.com"), 1, 0),
        );
        let hashed = format!("{}.3.0.sxl.sophosxl.net", encoded(i));
        ask(&mut d, &mut out, "192.168.1.31", "192.168.1.10", &txn(i * 10, &hashed, 1, 0));
    }
    let tunnel: Vec<&Alert> = out.0.iter().filter(|a| a.detector == "dns.tunnel").collect();
    // 1,200 unique names reach the last band: RITA's volume rule, medium, for the company host.
    assert_eq!(tunnel.len(), 1, "{tunnel:?}");
    assert!(tunnel.iter().all(|a| a.severity == Severity::Medium && a.src.ip == ip("192.168.1.30")), "{tunnel:?}");
    assert!(tunnel.iter().all(|a| a.evidence.count("unique_subdomains").unwrap() >= 1000.0));
}

#[test]
fn nxdomain_storms_over_many_domains_are_dga_and_over_one_are_not() {
    let mut d = Detectors::new(&DetectConfig::default(), 1);
    let mut out = Alerts::default();
    for i in 0..60 {
        ask(&mut d, &mut out, "10.1.1.1", "10.0.0.53", &txn(i * 500, &format!("x{i}.example{}.com", i % 12), 1, 3));
        ask(&mut d, &mut out, "10.1.1.2", "10.0.0.53", &txn(i * 500, &format!("n{i}.google.com"), 1, 3));
    }
    assert_eq!(techniques(&out), vec![("T1568.002", "10.1.1.1".to_owned())]);
}

#[test]
fn nxdomains_for_a_few_generated_names_are_dga_and_for_words_are_not() {
    let mut d = Detectors::new(&DetectConfig::default(), 1);
    let mut out = Alerts::default();
    let generated = [
        "xkqjzvbwpfhr",
        "qzvxkwjpmtbn",
        "wpxzqkjvhrtf",
        "jvkqxzpwmbnt",
        "zqxjwkvpfhtr",
        "kxqzjvwpbtmn",
        "vqzxkjwptfhb",
        "pzxqjkvwrtnm",
    ];
    let words = [
        "gardenflowers",
        "mountainview",
        "weatherreport",
        "coffeeshop",
        "bluewater",
        "greenhouse",
        "railwaystation",
        "summerholiday",
    ];
    for (i, (g, w)) in generated.iter().zip(words).enumerate() {
        ask(&mut d, &mut out, "10.1.1.1", "10.0.0.53", &txn(i as u64 * 1000, &format!("{g}.com"), 1, 3));
        ask(&mut d, &mut out, "10.1.1.2", "10.0.0.53", &txn(i as u64 * 1000, &format!("{w}.com"), 1, 3));
    }
    assert_eq!(techniques(&out), vec![("T1568.002", "10.1.1.1".to_owned())]);
    assert_eq!(out.0[0].evidence.count("generated_looking"), Some(8.0));
    assert_eq!(out.0[0].severity, Severity::Medium);
}

#[test]
fn fast_flux_needs_many_short_lived_addresses_in_many_networks() {
    let mut d = Detectors::new(&DetectConfig::default(), 1);
    let mut out = Alerts::default();
    for i in 0..6u8 {
        for (name, ttl) in [("www.flux.example", 60), ("www.cdn.example", 3600)] {
            let mut r = txn(u64::from(i) * 1000, name, 1, 0);
            for j in 0..5u8 {
                let addr = IpAddr::from([20 + i * 5 + j, j, 1, i]);
                r.push_answer(&addr.to_string(), ttl);
                r.push_answer_addr(addr);
            }
            ask(&mut d, &mut out, "10.1.1.1", "10.0.0.53", &r);
        }
    }
    assert_eq!(techniques(&out), vec![("T1568.001", "10.1.1.1".to_owned())]);
    assert_eq!(out.0[0].evidence.domain.as_deref(), Some("flux.example"));
}

#[test]
fn repeated_large_txt_answers_are_raised_once() {
    let mut d = Detectors::new(&DetectConfig::default(), 1);
    let mut out = Alerts::default();
    for i in 0..10 {
        let mut r = txn(i * 1000, &format!("stage{i}.payload.example"), 16, 0);
        r.response_len = Some(1400);
        ask(&mut d, &mut out, "10.1.1.1", "10.0.0.53", &r);
    }
    assert_eq!(techniques(&out), vec![("T1105", "10.1.1.1".to_owned())]);
    assert_eq!(out.0[0].severity, Severity::Low);
}

#[test]
fn rogue_resolvers_are_raised_only_against_a_configured_list() {
    let mut out = Alerts::default();
    let rec = txn(0, "www.example.com", 1, 0);
    let mut off = Detectors::new(&DetectConfig::default(), 1);
    ask(&mut off, &mut out, "10.1.1.1", "8.8.8.8", &rec);
    assert!(out.0.is_empty(), "no list, no rogue resolver");
    let mut cfg = DetectConfig::default();
    cfg.resolvers.corporate = vec!["10.0.0.53/32".parse().unwrap()];
    let mut d = Detectors::new(&cfg, 1);
    ask(&mut d, &mut out, "10.1.1.1", "10.0.0.53", &rec); // the corporate resolver
    ask(&mut d, &mut out, "10.0.0.53", "8.8.8.8", &rec); // the resolver itself, upstream
    ask(&mut d, &mut out, "10.1.1.1", "8.8.8.8", &rec); // around it
    ask(&mut d, &mut out, "10.1.1.1", "8.8.8.8", &rec); // again, within the cooldown
    assert_eq!(out.0.len(), 1, "{:?}", out.0);
    assert_eq!((out.0[0].detector.as_str(), out.0[0].dst.as_ref().unwrap().ip), ("dns.rogue_resolver", ip("8.8.8.8")));
}

#[test]
fn encrypted_dns_is_port_853_or_https_to_public_resolvers() {
    let mut d = Detectors::new(&DetectConfig::default(), 1);
    let mut out = Alerts::default();
    let conn = |resp_h: &str, resp_p: u16, ip_proto: u8| ConnSeen {
        ts: Timestamp(1),
        uid: "Cconn",
        orig_h: ip("10.1.1.1"),
        resp_h: ip(resp_h),
        resp_p,
        ip_proto,
        orig_bytes: 500,
        resp_bytes: 4000,
        orig_syn: true,
    };
    for c in [
        conn("1.1.1.1", 443, 6),       // DoH to Cloudflare
        conn("1.1.1.1", 443, 6),       // again: within the cooldown
        conn("93.184.216.34", 443, 6), // ordinary HTTPS
        conn("203.0.113.9", 853, 6),   // DoT anywhere
        conn("2620:fe::fe", 853, 17),  // DoQ to Quad9
        conn("203.0.113.9", 53, 17),   // plain DNS
    ] {
        d.conn(&c, &mut out);
    }
    let dst: Vec<String> = out.0.iter().map(|a| a.dst.as_ref().unwrap().ip.to_string()).collect();
    assert_eq!(dst, ["1.1.1.1", "203.0.113.9", "2620:fe::fe"]);
    assert!(out.0.iter().all(|a| a.techniques == [Technique::ProtocolTunneling]));
}

#[test]
fn alerts_carry_the_mac_learned_for_a_local_host() {
    let mut d = Detectors::new(&DetectConfig::default(), 1);
    let mut out = Alerts::default();
    d.learn_mac(ip("10.1.1.1"), [0x02, 0, 0, 0, 0xab, 0x01]);
    d.conn(
        &ConnSeen {
            ts: Timestamp(1),
            uid: "C",
            orig_h: ip("10.1.1.1"),
            resp_h: ip("203.0.113.9"),
            resp_p: 853,
            ip_proto: 6,
            orig_bytes: 0,
            resp_bytes: 0,
            orig_syn: false,
        },
        &mut out,
    );
    assert_eq!(out.0[0].src.mac.as_deref(), Some("02:00:00:00:ab:01"));
    assert_eq!(out.0[0].dst.as_ref().unwrap().mac, None);
}

#[test]
fn full_tables_drop_the_oldest_entry_and_count_it() {
    let cfg = DetectConfig { max_tracked: 4, ..DetectConfig::default() };
    let mut d = Detectors::new(&cfg, 1);
    let mut out = Alerts::default();
    for i in 0..10u8 {
        ask(&mut d, &mut out, &format!("10.1.1.{i}"), "10.0.0.53", &txn(u64::from(i), "www.example.com", 1, 0));
    }
    let stats = d.stats();
    assert_eq!(stats.dns, 10);
    assert!(stats.evicted >= 6, "{stats:?}");
}

#[test]
fn disabled_detectors_look_at_nothing() {
    let cfg = DetectConfig { enabled: false, ..DetectConfig::default() };
    let mut d = Detectors::new(&cfg, 1);
    let mut out = Alerts::default();
    for i in 0..200 {
        ask(&mut d, &mut out, "10.1.1.1", "10.0.0.53", &txn(i, &format!("{}.example.attack", encoded(i)), 16, 0));
    }
    assert!(out.0.is_empty());
    assert_eq!(d.stats().dns, 0);
}

/// A TCP connection attempt from `orig` to `resp:port` at `secs`, with no payload either way.
fn probe(orig: &str, resp: &str, port: u16, secs: u64) -> ConnSeen<'static> {
    ConnSeen {
        ts: Timestamp(secs * 1_000_000_000),
        uid: "Cprobe",
        orig_h: ip(orig),
        resp_h: ip(resp),
        resp_p: port,
        ip_proto: 6,
        orig_bytes: 0,
        resp_bytes: 0,
        orig_syn: true,
    }
}

#[test]
fn failed_attempts_on_many_ports_of_one_host_are_a_port_scan_alerted_once() {
    let mut d = Detectors::new(&DetectConfig::default(), 1);
    let mut out = Alerts::default();
    for (i, port) in [21, 22, 23, 25, 80, 110, 135, 139, 143, 443].into_iter().enumerate() {
        d.conn(&probe("10.1.0.66", "10.1.0.10", port, i as u64), &mut out);
        // The same pair again adds nothing.
        d.conn(&probe("10.1.0.66", "10.1.0.10", port, i as u64), &mut out);
    }
    assert_eq!(out.0.len(), 1, "{:?}", out.0);
    let a = &out.0[0];
    assert_eq!(
        (a.detector.as_str(), a.src.ip, a.dst.as_ref().map(|e| e.ip)),
        ("net.scan", ip("10.1.0.66"), Some(ip("10.1.0.10")))
    );
    assert_eq!(a.techniques, [Technique::NetworkServiceDiscovery]);
    assert_eq!(a.evidence.count("ports"), Some(8.0));
}

#[test]
fn connections_with_data_or_without_a_syn_are_not_probes() {
    let mut d = Detectors::new(&DetectConfig::default(), 1);
    let mut out = Alerts::default();
    for port in 1..=20 {
        d.conn(&ConnSeen { resp_bytes: 10, ..probe("10.1.0.66", "10.1.0.10", port, 1) }, &mut out);
        d.conn(&ConnSeen { orig_bytes: 10, ..probe("10.1.0.66", "10.1.0.10", port, 1) }, &mut out);
        // Backscatter: the originator answered a SYN-ACK nobody here asked for.
        d.conn(&ConnSeen { orig_syn: false, ..probe("10.1.0.66", "10.1.0.10", port, 1) }, &mut out);
        d.conn(&ConnSeen { ip_proto: 17, ..probe("10.1.0.66", "10.1.0.10", port, 1) }, &mut out);
    }
    assert!(out.0.is_empty(), "{:?}", out.0);
}

#[test]
fn failed_attempts_on_one_port_of_many_internal_hosts_are_a_sweep() {
    let mut d = Detectors::new(&DetectConfig::default(), 1);
    let mut out = Alerts::default();
    // A slow sweep: one probe every five minutes.
    for i in 0..9u64 {
        d.conn(&probe("176.192.150.3", &format!("192.168.3.{i}"), 445, i * 300), &mut out);
        // Public hosts are not counted by default.
        d.conn(&probe("176.192.150.3", &format!("203.0.113.{i}"), 443, i * 300), &mut out);
    }
    assert_eq!(out.0.len(), 1, "{:?}", out.0);
    assert!(out.0[0].title.contains("445/tcp") && out.0[0].dst.is_none());
    let cfg = DetectConfig { scan: scan_any_host(), ..DetectConfig::default() };
    let mut d = Detectors::new(&cfg, 1);
    let mut out = Alerts::default();
    for i in 0..9u64 {
        d.conn(&probe("10.1.1.1", &format!("203.0.113.{i}"), 443, i), &mut out);
    }
    assert_eq!(out.0.len(), 1);
}

fn scan_any_host() -> crate::ScanConfig {
    crate::ScanConfig { sweep_any_host: true, ..crate::ScanConfig::default() }
}

#[test]
fn a_scanner_idle_longer_than_the_window_starts_over() {
    let mut d = Detectors::new(&DetectConfig::default(), 1);
    let mut out = Alerts::default();
    for port in 1..=7 {
        d.conn(&probe("10.1.0.66", "10.1.0.10", port, 0), &mut out);
    }
    for port in 8..=14 {
        d.conn(&probe("10.1.0.66", "10.1.0.10", port, 31 * 60), &mut out);
    }
    assert!(out.0.is_empty(), "{:?}", out.0);
}

#[test]
fn new_settings_apply_at_once() {
    let mut d = Detectors::new(&DetectConfig::default(), 1);
    let mut out = Alerts::default();
    for port in 1..=5 {
        d.conn(&probe("10.1.0.66", "10.1.0.10", port, 0), &mut out);
    }
    assert!(out.0.is_empty());
    let fewer = DetectConfig {
        scan: crate::ScanConfig { ports: 3, ..crate::ScanConfig::default() },
        ..DetectConfig::default()
    };
    d.reconfigure(&fewer);
    for port in 6..=8 {
        d.conn(&probe("10.1.0.66", "10.1.0.10", port, 0), &mut out);
    }
    assert_eq!(out.0.len(), 1, "three ports now make a scan: {:?}", out.0);
    d.reconfigure(&DetectConfig { enabled: false, ..DetectConfig::default() });
    for port in 9..=30 {
        d.conn(&probe("10.1.0.66", "10.1.0.11", port, 0), &mut out);
    }
    assert_eq!(out.0.len(), 1, "disabled");
}
