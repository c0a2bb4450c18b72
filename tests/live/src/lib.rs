//! Privileged end-to-end tests of live capture (`tests/`): they create their own network
//! namespace and veth pair, start the `sensor` binary on one end, send shared captures into the
//! other with tcpreplay, and compare the records with a replay of the same captures.
//!
//! They need root (namespaces, AF_PACKET, XDP) and `ip`, `tcpreplay`, `python3` and `clang-19`;
//! without them each test says why it skipped, on stderr, and passes: a machine that cannot run
//! them is not a failure of the code. CI runs as root with all of them installed (`make
//! setup-test`). Traffic never leaves the namespace, which is deleted when the test ends, pass or
//! fail, and every process a test starts is killed by its PID.
//!
//! This file holds what the tests share: [`Netns`] (the namespace and its veth pair),
//! [`Sensor`] (a running `sensor run`), [`send`] (tcpreplay), [`replay`] and the record
//! comparisons.

#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Frames per second tcpreplay sends at: far below what any capture method keeps up with, so
/// any loss would be a bug, not a limit.
pub const SEND_PPS: &str = "5000";
/// How long the sensor is given, after the last frame, to count it in its metrics (they are
/// published once a second).
const SEEN_LIMIT: Duration = Duration::from_secs(20);
/// How long a stopping sensor may take to write everything.
const STOP_LIMIT: Duration = Duration::from_secs(30);

/// The shared captures.
pub fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/pcaps")
}

/// The sensor binary, built beside the tests (`cargo test --workspace` builds it).
pub fn sensor_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let bin = dir.join("sensor");
    assert!(bin.exists(), "{} is missing: build the workspace first (cargo test --workspace)", bin.display());
    bin
}

/// Why these tests cannot run here, if they cannot.
pub fn skip_reason() -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("not root (network namespaces, AF_PACKET and XDP need it)".into());
    }
    for tool in ["ip", "tcpreplay", "python3", "clang-19", "make"] {
        let found = Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().ok()?;
        if !found.status.success() {
            return Some(format!("`{tool}` is not installed (make setup-test installs it)"));
        }
    }
    None
}

/// Runs a command that must succeed; returns its standard output.
pub fn sh(args: &[&str]) -> String {
    let o = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A namespace of the test's own with a veth pair `va` (the sender's end) – `vb` (the monitor
/// port), IPv6 off so that the kernel sends nothing of its own; deleted on drop.
pub struct Netns(String);

impl Netns {
    /// A namespace whose veth ends have `mtu` and `queues` RX/TX queues each.
    pub fn new(tag: &str, mtu: u32, queues: u32) -> Netns {
        let name = format!("sensor-live-{tag}-{}", std::process::id());
        sh(&["ip", "netns", "add", &name]);
        let ns = Netns(name);
        let n = ns.0.as_str();
        sh(&["ip", "netns", "exec", n, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
        sh(&["ip", "netns", "exec", n, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]);
        sh(&["ip", "-n", n, "link", "set", "lo", "up"]);
        let q = queues.to_string();
        #[rustfmt::skip]
        sh(&["ip", "-n", n, "link", "add", "va", "numtxqueues", &q, "numrxqueues", &q, "type", "veth",
             "peer", "name", "vb", "numtxqueues", &q, "numrxqueues", &q]);
        for end in ["va", "vb"] {
            sh(&["ip", "-n", n, "link", "set", end, "mtu", &mtu.to_string(), "up"]);
        }
        ns
    }

    /// Adds another veth pair, `sender` – `monitor`, with `mtu` (IPv6 is off in the namespace).
    pub fn add_pair(&self, sender: &str, monitor: &str, mtu: u32) {
        sh(&["ip", "-n", &self.0, "link", "add", sender, "type", "veth", "peer", "name", monitor]);
        for end in [sender, monitor] {
            sh(&["ip", "-n", &self.0, "link", "set", end, "mtu", &mtu.to_string(), "up"]);
        }
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.0
    }

    /// A command run inside the namespace.
    pub fn exec(&self) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.0]);
        c
    }

    /// What `ip link show vb` says (the XDP program attached, if any).
    pub fn monitor_link(&self) -> String {
        sh(&["ip", "-n", &self.0, "link", "show", "vb"])
    }

    /// The metrics endpoint's text (the namespace's loopback).
    pub fn metrics(&self) -> String {
        let scrape = "import urllib.request; \
                      print(urllib.request.urlopen('http://127.0.0.1:9101/metrics').read().decode())";
        let o = self.exec().args(["python3", "-c", scrape]).output().unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// A running `sensor run` on `vb`, killed by its PID if the test ends before it stops.
pub struct Sensor {
    child: std::process::Child,
    stderr: BufReader<std::process::ChildStderr>,
    /// What it wrote on standard error so far.
    pub log: String,
}

impl Sensor {
    /// Starts `sensor run -i vb ARGS --no-store --seed 7 --out OUT` in `ns`, and waits until it
    /// says it captures (or fails, returning its log as the error).
    pub fn start(ns: &Netns, args: &[&str], out: &Path) -> Result<Sensor, String> {
        let mut child = ns
            .exec()
            .arg(sensor_bin())
            .args(["run", "-i", "vb"])
            .args(args)
            .args(["--no-store", "--seed", "7", "--out"])
            .arg(out)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let mut sensor = Sensor { child, stderr, log: String::new() };
        sensor.wait_for("capturing on vb")?;
        Ok(sensor)
    }

    /// Reads its log until `text` appears; the log as the error if it exits first.
    pub fn wait_for(&mut self, text: &str) -> Result<(), String> {
        while !self.log.contains(text) {
            let before = self.log.len();
            self.stderr.read_line(&mut self.log).unwrap();
            if self.log.len() == before {
                let _ = self.child.wait();
                return Err(self.log.clone());
            }
        }
        Ok(())
    }

    /// The CPUs each of its threads may run on, by thread name (`/proc/PID/task/*`).
    pub fn thread_cpus(&self) -> Vec<(String, String)> {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", self.child.id())).unwrap();
        tasks
            .filter_map(Result::ok)
            .filter_map(|t| {
                let name = std::fs::read_to_string(t.path().join("comm")).ok()?.trim().to_owned();
                let status = std::fs::read_to_string(t.path().join("status")).ok()?;
                let cpus = status.lines().find_map(|l| l.strip_prefix("Cpus_allowed_list:"))?.trim().to_owned();
                Some((name, cpus))
            })
            .collect()
    }

    /// Sends `sig` (`TERM`, `KILL`) to the sensor.
    pub fn signal(&self, sig: &str) {
        sh(&["kill", &format!("-{sig}"), &self.child.id().to_string()]);
    }

    /// Stops it with SIGTERM; returns its whole log once it exited successfully.
    pub fn stop(mut self) -> String {
        self.signal("TERM");
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                self.stderr.read_to_string(&mut self.log).unwrap();
                assert!(status.success(), "the sensor failed: {}", self.log);
                return std::mem::take(&mut self.log);
            }
            assert!(started.elapsed() < STOP_LIMIT, "the sensor did not stop on SIGTERM: {}", self.log);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills it with SIGKILL and waits for it to be gone.
    pub fn kill(mut self) {
        self.signal("KILL");
        let _ = self.child.wait();
    }
}

impl Drop for Sensor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `capture` into `va` with tcpreplay, all of it; returns how many frames were sent.
pub fn send(ns: &Netns, capture: &Path) -> u64 {
    send_on(ns, "va", capture)
}

/// Sends `capture` into `iface` with tcpreplay, all of it; returns how many frames were sent.
pub fn send_on(ns: &Netns, iface: &str, capture: &Path) -> u64 {
    let sent = ns.exec().args(["tcpreplay", "-i", iface, "--pps", SEND_PPS]).arg(capture).output().unwrap();
    let report = String::from_utf8_lossy(&sent.stdout);
    assert!(sent.status.success(), "tcpreplay: {}", String::from_utf8_lossy(&sent.stderr));
    assert!(report.contains("Failed packets:            0"), "tcpreplay could not send everything: {report}");
    let actual = report.split("Actual: ").nth(1).and_then(|r| r.split(' ').next()).and_then(|n| n.parse().ok());
    actual.unwrap_or_else(|| panic!("no packet count in tcpreplay's report: {report}"))
}

/// The sum of every sample of metric `name` (all labels).
pub fn total(text: &str, name: &str) -> u64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l.as_bytes().get(name.len()) == Some(&b'{'))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<u64>().ok())
        .sum()
}

/// Waits until the sensor's metrics account for `sent` frames (received by a worker, ignored
/// or bypassed by the XDP program); returns them.
pub fn wait_until_seen(ns: &Netns, sent: u64) -> String {
    let started = Instant::now();
    loop {
        let text = ns.metrics();
        let seen = total(&text, "sensor_rx_packets_total")
            + total(&text, "sensor_xdp_ignored_total")
            + total(&text, "sensor_xdp_bypassed_total");
        if seen >= sent {
            return text;
        }
        assert!(started.elapsed() < SEEN_LIMIT, "the sensor accounted for {seen} of {sent} frames: {text}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `sensor replay --seed 7` of `capture` into `out`, with `args` (e.g. `--config`).
pub fn replay(capture: &Path, out: &Path, args: &[&str]) {
    let o = Command::new(sensor_bin())
        .args(["replay", "--no-store", "--seed", "7"])
        .args(args)
        .arg("--out")
        .arg(out)
        .arg(capture)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// The records of one log.
pub fn read(dir: &Path, log: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join(log)).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Records without the fields named, as sorted text.
pub fn sorted_without(records: Vec<Value>, fields: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = records
        .into_iter()
        .map(|mut rec| {
            let obj = rec.as_object_mut().unwrap();
            for key in fields {
                obj.remove(*key);
            }
            rec.to_string()
        })
        .collect();
    v.sort();
    v
}

/// Fields that depend on arrival times.
pub const TIMES: &[&str] = &["ts", "duration", "rtt"];

/// Asserts that the conn and dns records of `live` equal those of `replayed`, but for `skip`.
pub fn assert_same_records(live: &Path, replayed: &Path, skip: &[&str], what: &str) {
    for kind in ["conn.jsonl", "dns.jsonl"] {
        let (l, r) = (sorted_without(read(live, kind), skip), sorted_without(read(replayed, kind), skip));
        assert!(!r.is_empty() || kind == "dns.jsonl", "{what}: no {kind} from replay");
        assert_eq!(l, r, "{what}: live {kind} differs from replay");
    }
}

/// The value of one sample of the metrics text (`name{labels}`), if present.
pub fn metric(text: &str, sample: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
}

/// Builds the sensor's XDP program object into `dir` (with the rule of `ebpf/Makefile`).
pub fn build_xdp_object(dir: &Path) -> PathBuf {
    let obj = dir.join("sensor.bpf.o");
    let ebpf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ebpf");
    let o = obj.to_str().unwrap();
    sh(&["make", "-s", "-C", ebpf.to_str().unwrap(), &format!("OBJ={o}"), o]);
    obj
}

/// Builds an XDP program that is not the sensor's (it passes everything) into `dir`.
pub fn build_foreign_xdp_object(dir: &Path) -> PathBuf {
    let src = dir.join("other.bpf.c");
    std::fs::write(
        &src,
        "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n\
         SEC(\"xdp\") int other_tool(struct xdp_md *ctx) { return XDP_PASS; }\n\
         char LICENSE[] SEC(\"license\") = \"GPL\";\n",
    )
    .unwrap();
    let obj = dir.join("other.bpf.o");
    let arch = format!("-I/usr/include/{}-linux-gnu", std::env::consts::ARCH);
    sh(&["clang-19", "-O2", "-g", "-target", "bpf", &arch, "-c", src.to_str().unwrap(), "-o", obj.to_str().unwrap()]);
    obj
}
