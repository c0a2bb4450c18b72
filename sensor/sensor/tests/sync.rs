//! `sensor enroll` and `sensor replay --data` against a real `soc-hub` on loopback: the alerts
//! of a replay reach the hub, each once, with the sensor's alert ids, and the replay returns
//! only once the hub acknowledged them; a sensor killed with SIGKILL while draining a backlog
//! loses nothing and duplicates nothing once restarted; the one-command demo (`make run`) shows
//! the scenario's alerts at a local hub.

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

/// A running hub and a sensor directory enrolled with it.
struct Enrolled {
    dir: tempfile::TempDir,
    _hub: Child,
    hub_bin: PathBuf,
    data: PathBuf,
    ident: PathBuf,
}

impl Enrolled {
    /// `None` when the hub is not built (`cargo test -p sensor` alone does not build it; the
    /// workspace run, `make test`, does).
    fn start() -> Option<Enrolled> {
        let Some(hub_bin) = binary("soc-hub") else {
            eprintln!("SKIPPED: soc-hub is not built beside the tests (run cargo test --workspace)");
            return None;
        };
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
        let ident = dir.path().join("sensor");
        let e = Enrolled { dir, _hub: hub, hub_bin, data, ident };
        let token = e.hub_cli(&["token", "create", "--tenant", "acme", "--site", "hq", "--ttl", "10m"]);
        let fp = e.hub_cli(&["ca-fingerprint"]);
        let tunnel = std::fs::read_to_string(e.data.join("tunnel.addr")).unwrap();
        let port = tunnel.trim().rsplit_once(':').unwrap().1;
        let o = Command::new(env!("CARGO_BIN_EXE_sensor"))
            .args(["enroll", "--hub", &format!("localhost:{port}"), "--token", &token, "--hub-ca-sha256", &fp])
            .arg("--data")
            .arg(&e.ident)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        Some(e)
    }

    fn hub_cli(&self, args: &[&str]) -> String {
        let o = Command::new(&self.hub_bin).args(args).arg("--data").arg(&self.data).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).trim().to_owned()
    }

    fn held(&self) -> Vec<serde_json::Value> {
        self.hub_cli(&["alerts", "--tenant", "acme"]).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }
}

fn capture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/pcaps/dns-tunnel/sv-dns2tcp-bug-1158.pcap")
}

/// `sensor replay` of the small DNS-tunnel capture, syncing to the hub; `seed` makes its alert
/// ids.
fn replay(e: &Enrolled, out: &Path, seed: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sensor"));
    c.args(["replay", "--no-store", "--seed", seed, "--sync-timeout", "60", "--data"])
        .arg(&e.ident)
        .arg("--out")
        .arg(out)
        .arg(capture());
    c
}

#[test]
fn a_replay_syncs_its_alerts_to_the_hub_exactly_once() {
    let Some(e) = Enrolled::start() else { return };
    let out = e.dir.path().join("out");
    let o = replay(&e, &out, "3").output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let local: Vec<serde_json::Value> = std::fs::read_to_string(out.join("alerts.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!local.is_empty(), "the capture raises alerts");
    // Acknowledged before the replay returned: the hub holds them now, each once.
    let held = e.held();
    let mut held_ids: Vec<&str> = held.iter().map(|a| a["alert"]["id"].as_str().unwrap()).collect();
    let mut local_ids: Vec<&str> = local.iter().map(|a| a["id"].as_str().unwrap()).collect();
    held_ids.sort();
    local_ids.sort();
    assert_eq!(held_ids, local_ids);
    assert!(held.iter().all(|a| a["tenant"] == "acme" && a["site"] == "hq"));
}

#[test]
fn a_sensor_killed_with_sigkill_mid_send_delivers_everything_once_after_restart() {
    const BACKLOG: usize = 100_000;
    let Some(e) = Enrolled::start() else { return };
    // A backlog from an outage, queued as the sensor queues alerts.
    let outbox = sensor_sync::Outbox::open(&e.ident).unwrap();
    let bodies: Vec<String> =
        (0..BACKLOG).map(|n| format!("{{\"id\":\"backlog-{n}\",\"severity\":\"low\"}}")).collect();
    outbox.push_all(bodies.iter().map(|b| (b.as_str(), false))).unwrap();
    drop(outbox);

    // The sensor starts draining it; SIGKILL once the hub holds some, not all.
    let out = e.dir.path().join("out");
    let mut first = Child(replay(&e, &out, "3").stderr(Stdio::null()).spawn().unwrap());
    let started = Instant::now();
    // Asking for one alert is cheap, whatever the hub holds.
    while e.hub_cli(&["alerts", "--limit", "1"]).is_empty() {
        assert!(started.elapsed() < Duration::from_secs(60), "nothing reached the hub");
        std::thread::sleep(Duration::from_millis(5));
    }
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    let at_kill = e.held().len();
    assert!(at_kill < BACKLOG, "the backlog drained before the kill: make it larger");

    // Restarted, it sends the rest; the hub holds every alert once (the restarted replay's own
    // alerts get other ids: another seed).
    let o = replay(&e, &out, "4").output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let held = e.held();
    let ids: std::collections::HashSet<&str> = held.iter().map(|a| a["alert"]["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), held.len(), "no alert twice");
    assert!((0..BACKLOG).all(|n| ids.contains(format!("backlog-{n}").as_str())), "none lost");
    assert!(at_kill < held.len());
}

#[test]
fn the_one_command_demo_enrolls_a_sensor_and_shows_its_alerts_at_the_hub() {
    let Some(hub_bin) = binary("soc-hub") else {
        eprintln!("SKIPPED: soc-hub is not built beside the tests (run cargo test --workspace)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../provisioning/demo.sh");
    let o = Command::new("bash")
        .arg(script)
        .arg(dir.path().join("demo"))
        .env("BIN", hub_bin.parent().unwrap())
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{shown}\n{}", String::from_utf8_lossy(&o.stderr));
    // The hub's table: every alert of the scenario, under the demo tenant.
    let at_hub = shown.split("== the alerts at the hub").nth(1).unwrap_or_default();
    for detector in ["dns.dga", "dns.tunnel", "net.scan"] {
        assert!(at_hub.lines().any(|l| l.contains(detector) && l.contains(" demo ")), "{detector}: {at_hub}");
    }
    let local = std::fs::read_to_string(dir.path().join("demo/alerts.jsonl")).unwrap();
    assert_eq!(at_hub.lines().filter(|l| l.starts_with("sensor-")).count(), local.lines().count(), "{at_hub}");
}
