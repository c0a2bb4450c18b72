//! Threat-intelligence feeds end to end: a plain list, a CSV file and a signed STIX bundle
//! raise alerts naming their feed and indicator; an unsigned bundle is refused; and a feed added
//! while a replay runs is matched without a restart.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

mod common;

use base64::Engine as _;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn alerts(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("alerts.jsonl")).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The (feed, indicator) pairs of intel alerts.
fn matches(alerts: &[Value]) -> Vec<(String, String)> {
    let mut m: Vec<(String, String)> = alerts
        .iter()
        .filter(|a| a["detector"] == "intel")
        .flat_map(|a| a["evidence"]["intel"].as_array().unwrap().clone())
        .map(|i| (i["feed"].as_str().unwrap().to_owned(), i["indicator"].as_str().unwrap().to_owned()))
        .collect();
    m.sort();
    m.dedup();
    m
}

fn config(dir: &Path, feeds: &Path, key: Option<&SigningKey>, reload: &str) -> std::path::PathBuf {
    let keys = key.map(|k| format!("\"{}\"", b64(k.verifying_key().as_bytes()))).unwrap_or_default();
    let text = format!(
        "[detect.intel]\ndir = \"{}\"\npublic_keys = [{keys}]\nreload_interval = \"{reload}\"\n",
        feeds.display()
    );
    let path = dir.join("sensor.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn lists_csv_and_signed_stix_raise_alerts_naming_feed_and_indicator() {
    let dir = tempfile::tempdir().unwrap();
    let feeds = dir.path().join("feeds");
    std::fs::create_dir(&feeds).unwrap();
    let key = SigningKey::from_bytes(&[42; 32]);
    std::fs::write(feeds.join("blocklist.txt"), "# resolvers we forbid\n8.8.8.8\n").unwrap();
    std::fs::write(feeds.join("partner.csv"), "type,indicator,confidence\ndomain,aspmx.l.google.com,90\n").unwrap();
    let bundle = r#"{"type":"bundle","id":"bundle--7","objects":[{"type":"indicator","spec_version":"2.1",
        "id":"indicator--7","pattern_type":"stix","pattern":"[ipv4-addr:value = '216.197.242.0/24']",
        "name":"test hosting range"}]}"#;
    std::fs::write(feeds.join("vendor.json"), bundle).unwrap();
    std::fs::write(feeds.join("vendor.json.sig"), b64(&key.sign(bundle.as_bytes()).to_bytes())).unwrap();
    let unsigned = r#"{"type":"bundle","id":"bundle--8","objects":[{"type":"indicator","id":"indicator--8",
        "pattern_type":"stix","pattern":"[domain-name:value = 'google.com']"}]}"#;
    std::fs::write(feeds.join("unsigned.json"), unsigned).unwrap();
    let cfg = config(dir.path(), &feeds, Some(&key), "30s");
    let pcap = common::pcaps().join("dns/sv-dns-google-a-aaaa-mx.pcap");
    let o = Command::new(env!("CARGO_BIN_EXE_sensor"))
        .args(["replay", "--config", cfg.to_str().unwrap(), "--no-store", "--out", dir.path().to_str().unwrap()])
        .arg(&pcap)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("feed unsigned.json: refused: unsigned STIX bundle"), "{stderr}");
    assert!(stderr.contains("feed vendor.json: loaded 1 indicators"), "{stderr}");
    let all = alerts(dir.path());
    assert_eq!(
        matches(&all),
        [
            ("blocklist.txt".to_owned(), "8.8.8.8".to_owned()),
            ("partner.csv".to_owned(), "aspmx.l.google.com".to_owned()),
            ("vendor.json".to_owned(), "216.197.242.0/24".to_owned()),
        ]
    );
    for a in all.iter().filter(|a| a["detector"] == "intel") {
        assert_eq!(a["src"]["ip"], "10.16.1.11");
        assert_eq!(a["techniques"][0]["id"], "T1071");
        let high = a["evidence"]["intel"][0]["feed"] == "partner.csv";
        assert_eq!(a["severity"], if high { "high" } else { "medium" }, "{a}");
    }
}

#[test]
fn a_feed_added_while_a_replay_runs_is_matched_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let feeds = dir.path().join("feeds");
    std::fs::create_dir(&feeds).unwrap();
    let cfg = config(dir.path(), &feeds, None, "1s");
    let fifo = dir.path().join("capture.fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let out = dir.path().join("out");
    let replay = Command::new(env!("CARGO_BIN_EXE_sensor"))
        .args(["replay", "--config", cfg.to_str().unwrap(), "--no-store", "--out", out.to_str().unwrap()])
        .arg(&fifo)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut replay = common::Child(replay);
    let capture = std::fs::read(common::pcaps().join("dns/sv-dns-google-a-aaaa-mx.pcap")).unwrap();
    let mut writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    // The capture once, with no feed (the replay loaded the empty directory before it opened the
    // FIFO, and has read the capture within the second).
    writer.write_all(&capture).unwrap();
    writer.flush().unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    // A feed appears; the replay reloads within about a second.
    std::fs::write(feeds.join("late.txt"), "google.com\n").unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    // The capture's packets again, 100 s later (little-endian classic pcap: the seconds are the
    // first field of each record header).
    let mut again = Vec::new();
    let mut at = 24;
    while at + 16 <= capture.len() {
        let len = u32::from_le_bytes(capture[at + 8..at + 12].try_into().unwrap()) as usize;
        let secs = u32::from_le_bytes(capture[at..at + 4].try_into().unwrap()) + 100;
        again.extend_from_slice(&secs.to_le_bytes());
        again.extend_from_slice(&capture[at + 4..at + 16 + len]);
        at += 16 + len;
    }
    writer.write_all(&again).unwrap();
    drop(writer);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = replay.0.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the replay did not finish");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(replay.0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{stderr}");
    // The feed was not there at the start: it came in by a reload, and was matched after it.
    assert!(
        stderr.contains("feed late.txt: reloaded 1 indicators") && !stderr.contains("late.txt: loaded"),
        "{stderr}"
    );
    let all = alerts(&out);
    assert_eq!(matches(&all), [("late.txt".to_owned(), "google.com".to_owned())]);
}
