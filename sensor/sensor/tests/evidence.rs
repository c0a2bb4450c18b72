//! Evidence packets: a replay keeps the first and last packets of the flows an evidence filter
//! selects, `sensor evidence` exports them as pcapng, and tshark reads exactly those packets of
//! the original capture back (times, lengths, and an MD5 of every frame's bytes).
//!
//! Needs tshark (CI installs it).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

mod common;

use std::path::Path;
use std::process::Command;

fn sensor(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sensor")).args(args).output().unwrap()
}

/// `time length md5` of each frame tshark reads from `file` with display filter `filter`.
fn frames(file: &Path, filter: &str) -> Vec<String> {
    let o = Command::new("tshark")
        .args(["-n", "-o", "frame.generate_md5_hash:TRUE", "-r"])
        .arg(file)
        .args(["-Y", filter, "-T", "fields", "-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.md5_hash"])
        .output()
        .expect("tshark must be installed (CI installs it)");
    assert!(o.status.success(), "tshark: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap().lines().map(str::to_owned).collect()
}

#[test]
fn evidence_of_a_flow_exports_its_first_and_last_packets_as_pcapng() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sensor.toml");
    std::fs::write(&config, "[evidence]\nfirst_packets = 3\nlast_packets = 2\n").unwrap();
    let store = dir.path().join("store");
    let capture = common::pcaps().join("decode/zeek-mixed-vlan-mpls.pcap");
    let o = sensor(&[
        "replay",
        "--config",
        config.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
        "--evidence-filter",
        "host 141.42.64.125 port 80",
        capture.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("evidence"), "the summary counts evidence");

    // The selected flow: 22 packets in the capture.
    let conn = std::fs::read_to_string(dir.path().join("conn.jsonl")).unwrap();
    let flow: serde_json::Value = conn
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|c| c["id.orig_h"] == "141.42.64.125" && c["id.resp_p"] == 80)
        .expect("the HTTP flow");
    let uid = flow["uid"].as_str().unwrap();
    let out = dir.path().join("evidence.pcapng");
    let o = sensor(&["evidence", "--store", store.to_str().unwrap(), "--uid", uid, "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let filter = "ip.addr==141.42.64.125 && tcp.port==56730 && ip.addr==125.190.109.199 && tcp.port==80";
    let original = frames(&capture, filter);
    assert_eq!(original.len(), 22);
    let mut expected = original[..3].to_vec();
    expected.extend_from_slice(&original[original.len() - 2..]);
    assert_eq!(frames(&out, "frame"), expected, "the first 3 and last 2 packets, byte for byte");

    // A flow the filter did not select has no evidence; refusing a terminal is not tested here.
    let other = conn.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()).find(|c| c["uid"] != uid);
    let other_uid = other.unwrap()["uid"].as_str().unwrap().to_owned();
    let o =
        sensor(&["evidence", "--store", store.to_str().unwrap(), "--uid", &other_uid, "--out", out.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no evidence packets"));
}

#[test]
fn bad_evidence_filters_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let capture = common::pcaps().join("dns/sv-dns-google-a-aaaa-mx.pcap");
    let store = dir.path().join("store");
    for bad in ["host nowhere", "port", "colour red"] {
        let o = sensor(&[
            "replay",
            "--store",
            store.to_str().unwrap(),
            "--evidence-filter",
            bad,
            capture.to_str().unwrap(),
        ]);
        assert!(!o.status.success());
        assert!(String::from_utf8_lossy(&o.stderr).contains(bad), "{}", String::from_utf8_lossy(&o.stderr));
    }
}

#[test]
fn evidence_needs_a_store() {
    // Packets kept for JSON lines alone would be copied only to be dropped.
    let dir = tempfile::tempdir().unwrap();
    let capture = common::pcaps().join("dns/sv-dns-google-a-aaaa-mx.pcap");
    let out = dir.path().to_str().unwrap();
    let o = sensor(&["replay", "--no-store", "--out", out, "--evidence-filter", "port 53", capture.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--no-store") && err.contains("--evidence-filter"), "{err}");
    // Alerts select flows too; without a store they keep nothing, so the summary has no evidence.
    let capture = common::pcaps().join("dns-tunnel/kor-dnscat2-c2-bind9.pcap");
    let o = sensor(&["replay", "--no-store", "--out", out, capture.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let alerts = std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap();
    assert!(!alerts.is_empty(), "the tunnel raised an alert");
    assert!(!String::from_utf8_lossy(&o.stderr).contains("packets kept"), "{}", String::from_utf8_lossy(&o.stderr));
}
