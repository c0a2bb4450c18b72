//! The `sensor` command line: clear errors naming the file and the reason, non-zero exits, and
//! processing that goes on past a truncated last record.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn sensor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sensor")).args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A classic pcap header (little endian, microseconds) with the given link type.
fn pcap_header(link: u32) -> Vec<u8> {
    let mut h = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
    h.extend_from_slice(&[0; 8]);
    h.extend_from_slice(&65535u32.to_le_bytes());
    h.extend_from_slice(&link.to_le_bytes());
    h
}

fn replay_file(dir: &Path, name: &str, bytes: &[u8]) -> Output {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    sensor(&["replay", "--no-store", "--out", dir.join("out").to_str().unwrap(), path.to_str().unwrap()])
}

#[test]
fn missing_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let o = sensor(&["replay", "--no-store", "--out", dir.path().to_str().unwrap(), "/nonexistent/capture.pcap"]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("/nonexistent/capture.pcap") && e.contains("No such file"), "{e}");
}

#[test]
fn not_a_capture_empty_and_unsupported_link_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let o = replay_file(dir.path(), "notes.txt", b"this is not a capture file at all");
    assert!(!o.status.success());
    assert!(stderr(&o).contains("notes.txt") && stderr(&o).contains("not a pcap or pcapng"), "{}", stderr(&o));

    let o = replay_file(dir.path(), "empty.pcap", b"");
    assert!(!o.status.success());
    assert!(stderr(&o).contains("empty.pcap") && stderr(&o).contains("empty"), "{}", stderr(&o));

    // LINKTYPE_USB_LINUX (189): a real link type the decoder does not support.
    let o = replay_file(dir.path(), "usb.pcap", &pcap_header(189));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("usb.pcap") && stderr(&o).contains("unsupported link type 189"), "{}", stderr(&o));

    let o = replay_file(dir.path(), "short.pcap", &pcap_header(1)[..10]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("short.pcap"), "{}", stderr(&o));
}

#[test]
fn truncated_last_record_is_an_anomaly_and_processing_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let whole = std::fs::read(common::pcaps().join("dns/sv-dns-google-a-aaaa-mx.pcap")).unwrap();
    let cut = &whole[..whole.len() - 20];
    let o = replay_file(dir.path(), "cut.pcap", cut);
    assert!(o.status.success(), "{}", stderr(&o));
    let weird = std::fs::read_to_string(dir.path().join("out/weird.jsonl")).unwrap();
    assert!(weird.contains("truncated_capture_record") && weird.contains("cut.pcap"), "{weird}");
    let dns = std::fs::read_to_string(dir.path().join("out/dns.jsonl")).unwrap();
    assert_eq!(dns.lines().count(), 3, "the records before the cut are all there");
}

#[test]
fn config_errors_name_the_key_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[flows]\nmax_flow = 5\n").unwrap();
    let pcap = common::pcaps().join("dns/zeek-dns-spf.pcap");
    let o = sensor(&[
        "replay",
        "--config",
        cfg.to_str().unwrap(),
        "--no-store",
        "--out",
        dir.path().to_str().unwrap(),
        pcap.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("bad.toml") && stderr(&o).contains("max_flow"), "{}", stderr(&o));
}

#[test]
fn replay_prints_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = common::pcaps().join("dns/sv-dns-google-a-aaaa-mx.pcap");
    let store = dir.path().join("store");
    let o = sensor(&["replay", "--store", store.to_str().unwrap(), pcap.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    for line in ["packets", "flows", "dns", "anomalies", "drops", "stored", "packets/s"] {
        assert!(e.contains(line), "summary lacks {line}: {e}");
    }
}

#[test]
fn demo_produces_records_of_every_kind_of_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let o = sensor(&["demo", "--out", dir.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let conn = std::fs::read_to_string(dir.path().join("conn.jsonl")).unwrap();
    let dns = std::fs::read_to_string(dir.path().join("dns.jsonl")).unwrap();
    let nx = dns.lines().filter(|l| l.contains("\"rcode_name\":\"NXDOMAIN\"")).count();
    assert_eq!(nx, 25, "the NXDOMAIN burst");
    assert!(conn.contains("\"service\":\"dns\""));
    assert!(conn.contains("\"id.resp_p\":445") && conn.contains("\"conn_state\":\"SF\""), "SMB session");
    let rej = conn.lines().filter(|l| l.contains("\"conn_state\":\"REJ\"")).count();
    assert_eq!(rej, 18, "closed ports of the sweep");
    // The NXDOMAIN burst of generated names is a DGA alert, raised again when it turns high.
    let alerts = std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap();
    let severities: Vec<String> = alerts
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|a| a["detector"] == "dns.dga" && a["src"]["ip"] == "10.1.0.23")
        .map(|a| a["severity"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(severities, ["medium", "high"], "{alerts}");
    // The DNS tunnel and the sweep are alerted too.
    assert!(alerts.contains("\"detector\":\"dns.tunnel\"") && alerts.contains("sync.example.org"), "{alerts}");
    assert!(alerts.contains("\"title\":\"Port scan of 10.1.0.10 by 10.1.0.66\""), "{alerts}");
    let shown = String::from_utf8(o.stdout).unwrap();
    assert!(shown.contains("== the alerts") && shown.contains(" alert "), "{shown}");
}

#[test]
fn query_finds_replayed_records_by_host_domain_type_and_uid() {
    let dir = tempfile::tempdir().unwrap();
    let store = replay_into_store(dir.path(), &[common::pcaps().join("dns/sv-dns-google-a-aaaa-mx.pcap")]);
    let store = store.as_str();
    let query = |args: &[&str]| {
        let mut all = vec!["query", "--store", store];
        all.extend_from_slice(args);
        let o = sensor(&all);
        assert!(o.status.success(), "{}", stderr(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    let dns_file = std::fs::read_to_string(dir.path().join("dns.jsonl")).unwrap();
    let first = dns_file.lines().next().unwrap();
    let q: serde_json::Value = serde_json::from_str(first).unwrap();
    assert_store_holds_the_json_lines(store, dir.path(), "dns");
    // By the client's address, by domain, by uid, as a table.
    let client = q["id.orig_h"].as_str().unwrap();
    assert!(query(&["--host", client]).lines().count() >= dns_file.lines().count());
    let name = q["query"].as_str().unwrap();
    let by_domain = query(&["--domain", name, "--type", "dns"]);
    assert!(by_domain.lines().count() >= 1 && by_domain.lines().all(|l| l.contains(name)), "{by_domain}");
    let uid = q["uid"].as_str().unwrap();
    let by_uid = query(&["--uid", uid]);
    assert!(by_uid.lines().count() >= 2 && by_uid.lines().all(|l| l.contains(uid)), "conn and dns of {uid}: {by_uid}");
    let table = query(&["--type", "conn", "--format", "table", "--limit", "1"]);
    assert_eq!(table.lines().count(), 2, "{table}");
    assert!(table.lines().nth(1).unwrap().contains(" conn "), "{table}");
    // Nothing before the capture.
    assert_eq!(query(&["--to", "1000000000"]).lines().count(), 0);
}

/// Replays `pcaps` into a store in `dir/store` and JSON lines in `dir`; returns the store's path.
fn replay_into_store(dir: &Path, pcaps: &[std::path::PathBuf]) -> String {
    let store = dir.join("store").to_str().unwrap().to_owned();
    let mut args = vec!["replay", "--store", &store, "--out", dir.to_str().unwrap()];
    args.extend(pcaps.iter().map(|p| p.to_str().unwrap()));
    let o = sensor(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    store
}

/// Every record of `kind` in the store, oldest first, is its `KIND.jsonl` line in `out` with
/// `_path` in front.
fn assert_store_holds_the_json_lines(store: &str, out: &Path, kind: &str) {
    let file = std::fs::read_to_string(out.join(format!("{kind}.jsonl"))).unwrap();
    let o = sensor(&["query", "--store", store, "--type", kind, "--oldest-first", "--limit", "1000000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stored = String::from_utf8(o.stdout).unwrap();
    let prefix = format!("{{\"_path\":\"{kind}\",");
    assert!(stored.lines().all(|l| l.starts_with(&prefix)), "{stored}");
    let mut got: Vec<String> = stored.lines().map(|l| format!("{{{}", &l[prefix.len()..])).collect();
    let mut expected: Vec<&str> = file.lines().collect();
    got.sort();
    expected.sort();
    assert_eq!(got.len(), expected.len());
    assert!(got.iter().zip(&expected).all(|(g, e)| g == e), "a stored {kind} record differs from its JSON line");
}

#[test]
fn tunnel_payload_comes_back_from_the_store_as_written() {
    // Names and answers of binary payload (iodine's NULL records, base128 names) are stored
    // packed (docs/store.md); read back, they must be Zeek's text again, byte for byte.
    let dir = tempfile::tempdir().unwrap();
    let tunnels = common::pcaps().join("dns-tunnel");
    let pcaps = ["kor-iodine-null-base128-coredns.pcap", "kor-dnscat2-c2-bind9.pcap"].map(|p| tunnels.join(p));
    let store = replay_into_store(dir.path(), &pcaps);
    let dns = std::fs::read_to_string(dir.path().join("dns.jsonl")).unwrap();
    assert!(dns.lines().filter(|l| l.contains(r"\\x")).count() > 1000, "the captures carry escaped payload");
    assert_store_holds_the_json_lines(&store, dir.path(), "dns");
}

#[test]
fn query_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let o = sensor(&["query", "--store", dir.path().to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no store here"), "{}", stderr(&o));
    let o = sensor(&["query", "--store", dir.path().to_str().unwrap(), "--from", "last tuesday"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("last tuesday"), "{}", stderr(&o));
}

#[test]
fn alerts_are_written_stored_and_exported_as_ocsf_with_their_evidence_packets() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let store = store.to_str().unwrap();
    let pcap = common::pcaps().join("dns-tunnel/sv-dns2tcp-bug-1158.pcap");
    let o = sensor(&["replay", "--store", store, "--out", dir.path().to_str().unwrap(), pcap.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary = stderr(&o);
    assert!(summary.lines().any(|l| l.starts_with("alerts") && !l.ends_with(" 0")), "{summary}");
    let written = std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap();
    let alert: serde_json::Value = serde_json::from_str(written.lines().next().unwrap()).unwrap();
    assert_eq!(alert["src"]["ip"], "10.30.28.90");
    // The client's MAC, from the Ethernet frames of the capture (tshark: eth.src).
    assert_eq!(alert["src"]["mac"], "00:50:56:ac:b2:7b");
    assert_eq!(alert["techniques"][0]["id"], "T1071.004");
    let query = |args: &[&str]| {
        let o = sensor(&[&["query", "--store", store][..], args].concat());
        assert!(o.status.success(), "{}", stderr(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    // The stored alert is the written one.
    let stored = query(&["--type", "alert"]);
    let stored: serde_json::Value = serde_json::from_str(stored.lines().next().unwrap()).unwrap();
    assert_eq!(stored["_path"], "alert");
    assert_eq!(stored["id"], alert["id"]);
    // As an OCSF Detection Finding.
    let ocsf = query(&["--format", "ocsf", "--host", "10.30.28.90"]);
    let finding: serde_json::Value = serde_json::from_str(ocsf.lines().next().unwrap()).unwrap();
    assert_eq!(finding["class_uid"], 2004);
    assert_eq!(finding["finding_info"]["uid"], alert["id"]);
    assert_eq!(finding["finding_info"]["attacks"][0]["technique"]["uid"], "T1071.004");
    assert_eq!(finding["evidences"][0]["src_endpoint"]["ip"], "10.30.28.90");
    // The flow that raised it kept its packets from then on: exportable by its uid.
    let uid = alert["evidence"]["uids"][0].as_str().unwrap();
    let pcapng = dir.path().join("evidence.pcapng");
    let o = sensor(&["evidence", "--store", store, "--uid", uid, "--out", pcapng.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::metadata(&pcapng).unwrap().len() > 100);
    let o = sensor(&["query", "--store", store, "--format", "ocsf", "--type", "dns"]);
    assert!(!o.status.success() && stderr(&o).contains("alerts only"), "{}", stderr(&o));
}

#[test]
fn run_errors_name_the_interface_and_the_step() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let o = sensor(&["run", "-i", "nosuchif0", "--no-store", "--out", out]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("nosuchif0: cannot find the interface: no such interface"), "{}", stderr(&o));
    let o = sensor(&["run", "--no-store", "--out", out]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no interface to capture on: give -i IFACE"), "{}", stderr(&o));
    // Several interfaces: each is checked before any capture starts.
    let o = sensor(&["run", "-i", "lo", "-i", "nosuchif1", "--capture", "afpacket", "--no-store", "--out", out]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("nosuchif1: cannot find the interface: no such interface"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("AF_XDP is not available"), "{}", stderr(&o));
}
