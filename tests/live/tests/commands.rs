//! A running `sensor run` (AF_PACKET on a veth end in a namespace of the test's own) enrolled
//! with a `soc-hub` on the namespace's loopback answers the hub's commands from the live
//! process: an evidence request read from the store it holds (filled beforehand by a replay
//! with an evidence filter), and new detector settings applied to the running detectors and
//! kept for the next start. Everything runs inside the namespace; the hub is driven with its
//! own command line.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

use sensor_live_tests::*;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed (by its PID) when dropped.
struct Owned(Child);

impl Drop for Owned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn hub_cli(ns: &Netns, hub: &Path, data: &Path, args: &[&str]) -> String {
    let o = ns.exec().arg(hub).args(args).arg("--data").arg(data).output().unwrap();
    assert!(o.status.success(), "soc-hub {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(60), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_running_sensor_answers_evidence_requests_and_takes_new_detector_settings() {
    if let Some(why) = skip_reason() {
        return eprintln!("SKIPPED live command test: {why}");
    }
    let ns = Netns::new("commands", 1500, 1);
    let sensor = sensor_bin();
    let hub = sensor.with_file_name("soc-hub");
    assert!(hub.exists(), "{} is missing: build the workspace first", hub.display());
    let dir = tempfile::tempdir().unwrap();
    let (data, ident, store) = (dir.path().join("hub"), dir.path().join("sensor"), dir.path().join("store"));

    // The store, with the packets of the DNS flows kept as evidence.
    let capture = shared().join("dns/sv-dns-google-a-aaaa-mx.pcap");
    let o = Command::new(&sensor)
        .args(["replay", "--seed", "7", "--evidence-filter", "port 53", "--store"])
        .arg(&store)
        .arg("--out")
        .arg(dir.path().join("replayed"))
        .arg(&capture)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dns = read(&dir.path().join("replayed"), "dns.jsonl");
    let uid = dns[0]["uid"].as_str().unwrap().to_owned();

    // A hub on loopback, and the sensor enrolled with it.
    let mut hub_process = Owned(
        ns.exec()
            .arg(&hub)
            .args(["serve", "--data"])
            .arg(&data)
            .args(["--listen", "127.0.0.1:0", "--api", "127.0.0.1:0"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(hub_process.0.stderr.as_mut().unwrap()).read_line(&mut line).unwrap();
    assert!(line.contains("sensors connect to"), "{line}");
    let hub_cli = |args: &[&str]| hub_cli(&ns, &hub, &data, args);
    let token = hub_cli(&["token", "create", "--tenant", "acme", "--site", "hq", "--ttl", "10m"]);
    let fp = hub_cli(&["ca-fingerprint"]);
    let port = std::fs::read_to_string(data.join("tunnel.addr")).unwrap().trim().rsplit_once(':').unwrap().1.to_owned();
    let o = ns
        .exec()
        .arg(&sensor)
        .args(["enroll", "--hub", &format!("localhost:{port}"), "--token", &token, "--hub-ca-sha256", &fp, "--data"])
        .arg(&ident)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let sensors: serde_json::Value = serde_json::from_str(&hub_cli(&["sensor", "list"])).unwrap();
    let id = sensors["id"].as_str().unwrap().to_owned();

    // The sensor runs, holding the store.
    let mut run = Owned(
        ns.exec()
            .arg(&sensor)
            .args(["run", "-i", "vb", "--capture", "afpacket", "--seed", "7", "--store"])
            .arg(&store)
            .arg("--data")
            .arg(&ident)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = log.clone();
    let stderr = run.0.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push_str(&(line + "\n"));
        }
    });
    wait_for("the sensor to capture", || log.lock().unwrap().contains("capturing on vb"));

    // Evidence, from the store the running process holds.
    let issue = |args: &[&str]| -> String {
        let mut all = vec!["sensor", "command", "--id", id.as_str()];
        all.extend_from_slice(args);
        hub_cli(&all)
    };
    let state = |n: &str| -> serde_json::Value {
        let list = hub_cli(&["sensor", "commands", "--id", &id]);
        let mut found = list.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap());
        found.find(|c| c["id"].as_u64().map(|i| i.to_string()).as_deref() == Some(n)).unwrap()
    };
    let evidence = issue(&["evidence", "--uid", &uid]);
    wait_for("the evidence", || state(&evidence)["state"] != "pending");
    assert_eq!(state(&evidence)["state"], "done", "{}\n{}", state(&evidence), log.lock().unwrap());
    let file = dir.path().join("evidence.pcapng");
    hub_cli(&["sensor", "attachment", "--id", &id, "--command", &evidence, "--out", file.to_str().unwrap()]);

    // New detector settings: applied by the running capture, kept for the next start.
    let toml = dir.path().join("detect.toml");
    std::fs::write(&toml, "[scan]\nports = 4\n").unwrap();
    let settings = issue(&["detect-config", "--file", toml.to_str().unwrap()]);
    wait_for("the settings", || state(&settings)["state"] != "pending");
    assert_eq!(state(&settings)["state"], "done", "{}", state(&settings));
    wait_for("the settings applied", || log.lock().unwrap().contains("detector settings from the SOC hub applied"));
    assert_eq!(std::fs::read_to_string(ident.join("detect.toml")).unwrap(), "[scan]\nports = 4\n");

    // Stopped, the store can be read directly (sled allows one process at a time): the
    // evidence is the flow's packets as the store holds them.
    drop(run);
    let from_store = dir.path().join("from-store.pcapng");
    let o = Command::new(&sensor)
        .args(["evidence", "--uid", &uid, "--store"])
        .arg(&store)
        .arg("--out")
        .arg(&from_store)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        std::fs::read(&file).unwrap() == std::fs::read(&from_store).unwrap(),
        "the packets the store holds for {uid}"
    );
    drop(hub_process);
}
