//! `sensor run` on AF_PACKET produces what `sensor replay` produces: shared captures are sent
//! with tcpreplay into one end of a veth pair in a namespace of the test's own, the sensor
//! captures the other end, and the conn and dns records of both are compared field by field
//! (times excepted: live frames carry the time they arrived). Also: the kernel dropped nothing,
//! the metrics endpoint says so, and SIGTERM stops the capture cleanly with every record written.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Frames per second tcpreplay sends at: far below what AF_PACKET keeps up with, so any loss
/// would be a bug, not a limit.
const SEND_PPS: &str = "5000";
/// The veth MTU: above the largest frame of the captures sent.
const MTU: &str = "9000";
/// How long the sensor is given to start and, after the last frame, to see it.
const SETTLE: Duration = Duration::from_millis(1500);

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/pcaps")
}

/// The sensor binary, built beside this test (`cargo test --workspace` builds it).
fn sensor_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let bin = dir.join("sensor");
    assert!(bin.exists(), "{} is missing: build the workspace first (cargo test --workspace)", bin.display());
    bin
}

/// Why these tests cannot run here, if they cannot.
fn skip_reason() -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("not root (network namespaces and AF_PACKET need it)".into());
    }
    for tool in ["ip", "tcpreplay", "python3"] {
        let found = Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().ok()?;
        if !found.status.success() {
            return Some(format!("`{tool}` is not installed (make setup-test installs it)"));
        }
    }
    None
}

fn sh(args: &[&str]) {
    let o = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
}

/// A namespace with a veth pair `va` (the sender's end) – `vb` (the monitor port), IPv6 off so
/// that the kernel sends nothing of its own, and an MTU that lets captures taken with
/// segmentation offload through (their frames exceed 1500 bytes); deleted on drop.
struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Netns {
        let name = format!("sensor-live-{tag}-{}", std::process::id());
        sh(&["ip", "netns", "add", &name]);
        let ns = Netns(name);
        let n = ns.0.as_str();
        sh(&["ip", "netns", "exec", n, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
        sh(&["ip", "netns", "exec", n, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]);
        sh(&["ip", "-n", n, "link", "set", "lo", "up"]);
        sh(&["ip", "-n", n, "link", "add", "va", "type", "veth", "peer", "name", "vb"]);
        for end in ["va", "vb"] {
            sh(&["ip", "-n", n, "link", "set", end, "mtu", MTU, "up"]);
        }
        ns
    }

    fn exec(&self) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.0]);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// A child process killed (by its PID) if the test fails before it exits.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn read(dir: &Path, log: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join(log)).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// A record without the fields that depend on arrival times, as sortable text.
fn timeless(mut rec: Value) -> String {
    let obj = rec.as_object_mut().unwrap();
    for key in ["ts", "duration", "rtt"] {
        obj.remove(key);
    }
    rec.to_string()
}

fn sorted(records: Vec<Value>) -> Vec<String> {
    let mut v: Vec<String> = records.into_iter().map(timeless).collect();
    v.sort();
    v
}

/// Captures `capture` live on `ns` with AF_PACKET; returns the output directory and the
/// sensor's stderr.
fn capture_live(ns: &Netns, capture: &Path, out: &Path) -> String {
    let child = ns
        .exec()
        .arg(sensor_bin())
        .args(["run", "-i", "vb", "--capture", "afpacket", "--no-store", "--seed", "7", "--out"])
        .arg(out)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Child(child);
    let mut stderr = BufReader::new(child.0.stderr.take().unwrap());
    let mut log = String::new();
    // Ready once it says it captures.
    while !log.contains("capturing on vb") {
        let before = log.len();
        stderr.read_line(&mut log).unwrap();
        assert!(log.len() > before, "the sensor exited: {log}");
    }
    let sent = ns.exec().args(["tcpreplay", "-i", "va", "--pps", SEND_PPS]).arg(capture).output().unwrap();
    let report = String::from_utf8_lossy(&sent.stdout);
    assert!(sent.status.success(), "tcpreplay: {}", String::from_utf8_lossy(&sent.stderr));
    assert!(report.contains("Failed packets:            0"), "tcpreplay could not send everything: {report}");
    std::thread::sleep(SETTLE);
    // The metrics endpoint (loopback of the namespace) counts what was received.
    let scrape =
        "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:9101/metrics').read().decode())";
    let metrics = ns.exec().args(["python3", "-c", scrape]).output().unwrap();
    let metrics = String::from_utf8_lossy(&metrics.stdout);
    assert!(metrics.contains("sensor_kernel_dropped_total{interface=\"vb\"} 0\n"), "{metrics}");
    assert!(!metrics.contains("sensor_rx_packets_total{interface=\"vb\"} 0\n"), "{metrics}");
    sh(&["kill", "-TERM", &child.0.id().to_string()]);
    let started = Instant::now();
    loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            std::io::Read::read_to_string(&mut stderr, &mut log).unwrap();
            assert!(status.success(), "the sensor failed: {log}");
            return log;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "the sensor did not stop on SIGTERM: {log}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn replay(capture: &Path, out: &Path) {
    let o = Command::new(sensor_bin())
        .args(["replay", "--no-store", "--seed", "7", "--out"])
        .arg(out)
        .arg(capture)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn afpacket_capture_equals_replay() {
    if let Some(why) = skip_reason() {
        eprintln!("SKIPPED live capture test: {why}");
        return;
    }
    let ns = Netns::new("afp");
    for capture in
        ["dns/sv-dns-google-a-aaaa-mx.pcap", "dns-tunnel/sv-dns2tcp-bug-1158.pcap", "mixed/sv-community-id-ipv6.pcap"]
    {
        let capture = shared().join(capture);
        let dir = tempfile::tempdir().unwrap();
        let (live, replayed) = (dir.path().join("live"), dir.path().join("replay"));
        let log = capture_live(&ns, &capture, &live);
        replay(&capture, &replayed);
        let kernel = log.lines().find(|l| l.starts_with("kernel")).unwrap_or_else(|| panic!("no kernel line: {log}"));
        assert!(kernel.contains(" 0 dropped"), "{}: {kernel}", capture.display());
        for kind in ["conn.jsonl", "dns.jsonl"] {
            let (l, r) = (sorted(read(&live, kind)), sorted(read(&replayed, kind)));
            assert!(!r.is_empty() || kind == "dns.jsonl", "{}: no {kind} from replay", capture.display());
            assert_eq!(l, r, "{}: live {kind} differs from replay", capture.display());
        }
    }
}
