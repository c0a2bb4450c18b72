//! `sensor enroll` and `sensor replay --data` against a real `soc-hub` on loopback: the alerts
//! of a replay reach the hub, each once, with the sensor's alert ids, and the replay returns
//! only once the hub acknowledged them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A binary built beside this test by `cargo test --workspace`.
fn binary(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().and_then(Path::parent).unwrap().join(name);
    bin.exists().then_some(bin)
}

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_replay_syncs_its_alerts_to_the_hub_exactly_once() {
    let Some(hub_bin) = binary("soc-hub") else {
        // `cargo test -p sensor` alone does not build the hub; the workspace run (make test) does.
        eprintln!("SKIPPED: soc-hub is not built beside the tests (run cargo test --workspace)");
        return;
    };
    let sensor = env!("CARGO_BIN_EXE_sensor");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    let mut hub = Child(
        Command::new(&hub_bin)
            .args(["serve", "--data"])
            .arg(&data)
            .args(["--listen", "127.0.0.1:0", "--api", "127.0.0.1:0"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(hub.0.stderr.as_mut().unwrap()).read_line(&mut line).unwrap();
    assert!(line.contains("sensors connect to"), "{line}");
    let hub_cli = |args: &[&str]| {
        let o = Command::new(&hub_bin).args(args).arg("--data").arg(&data).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).trim().to_owned()
    };
    let token = hub_cli(&["token", "create", "--tenant", "acme", "--site", "hq", "--ttl", "10m"]);
    let fp = hub_cli(&["ca-fingerprint"]);
    let port = std::fs::read_to_string(data.join("tunnel.addr")).unwrap().trim().rsplit_once(':').unwrap().1.to_owned();
    let ident = dir.path().join("sensor");
    let o = Command::new(sensor)
        .args(["enroll", "--hub", &format!("localhost:{port}"), "--token", &token, "--hub-ca-sha256", &fp, "--data"])
        .arg(&ident)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let capture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/pcaps/dns-tunnel/sv-dns2tcp-bug-1158.pcap");
    let out = dir.path().join("out");
    let started = Instant::now();
    let o = Command::new(sensor)
        .args(["replay", "--no-store", "--seed", "3", "--sync-timeout", "30", "--data"])
        .arg(&ident)
        .arg("--out")
        .arg(&out)
        .arg(&capture)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(started.elapsed() < Duration::from_secs(30));
    let local: Vec<serde_json::Value> = std::fs::read_to_string(out.join("alerts.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!local.is_empty(), "the capture raises alerts");
    // Acknowledged before the replay returned: the hub holds them now, each once.
    let held: Vec<serde_json::Value> =
        hub_cli(&["alerts", "--tenant", "acme"]).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mut held_ids: Vec<&str> = held.iter().map(|a| a["alert"]["id"].as_str().unwrap()).collect();
    let mut local_ids: Vec<&str> = local.iter().map(|a| a["id"].as_str().unwrap()).collect();
    held_ids.sort();
    local_ids.sort();
    assert_eq!(held_ids, local_ids);
    assert!(held.iter().all(|a| a["tenant"] == "acme" && a["site"] == "hq"));
}
