//! `sensor run` on a veth pair in a namespace of the test's own: shared captures are sent with
//! tcpreplay into one end, the sensor captures the other, and its records are compared with a
//! replay of the same captures, field by field (times excepted: live frames carry the time they
//! arrived). For AF_PACKET, AF_XDP with native XDP on two RX queues, and AF_XDP with generic XDP;
//! then the XDP program's own jobs: ignored networks dropped in the kernel, bypassed flows no
//! longer reaching user space, nothing left on the interface after SIGKILL, a stale program of
//! ours replaced, another tool's program left alone (and AF_PACKET taken instead under `auto`).
//!
//! The tests run one at a time (each sends traffic and measures drops; two at once on two cores
//! would measure each other).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

use sensor_live_tests::*;
use std::path::Path;
use std::sync::Mutex;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Skips (saying why) when the machine cannot run these tests; else takes the turn.
fn turn() -> Option<std::sync::MutexGuard<'static, ()>> {
    if let Some(why) = skip_reason() {
        eprintln!("SKIPPED live capture test: {why}");
        return None;
    }
    Some(ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner()))
}

/// The MTU for AF_PACKET: above the largest frame of the captures sent (captures taken with
/// segmentation offload carry frames beyond 1500 bytes).
const JUMBO_MTU: u32 = 9000;
/// The MTU for AF_XDP: native XDP on veth takes at most a page per frame, and a 2048-byte UMEM
/// frame holds 1792 bytes of packet.
const XDP_MTU: u32 = 1500;

/// Small captures whose frames all fit AF_XDP's 2048-byte frames.
const XDP_CAPTURES: [&str; 3] =
    ["dns/sv-dns-google-a-aaaa-mx.pcap", "dns-tunnel/sv-dns2tcp-bug-1158.pcap", "mixed/zeek-wikipedia.pcap"];

/// Captures `capture` live with `args`; returns the sensor's log and the metrics it served.
fn capture_live(ns: &Netns, args: &[&str], capture: &Path, out: &Path) -> (String, String) {
    let sensor = Sensor::start(ns, args, out).unwrap_or_else(|log| panic!("the sensor did not start: {log}"));
    let sent = send(ns, capture);
    let metrics = wait_until_seen(ns, sent);
    (sensor.stop(), metrics)
}

/// Every capture, live with `args` and replayed, gives the same records but for `skip`; the
/// kernel dropped nothing. Returns the logs.
fn live_equals_replay(ns: &Netns, args: &[&str], captures: &[&str], skip: &[&str]) -> Vec<String> {
    let mut logs = Vec::new();
    for capture in captures {
        let capture = shared().join(capture);
        let dir = tempfile::tempdir().unwrap();
        let (live, replayed) = (dir.path().join("live"), dir.path().join("replay"));
        let (log, metrics) = capture_live(ns, args, &capture, &live);
        replay(&capture, &replayed, &[]);
        let kernel: Vec<&str> = log.lines().filter(|l| l.starts_with("kernel")).collect();
        assert!(!kernel.is_empty(), "no kernel line: {log}");
        for line in kernel {
            assert!(line.contains(" 0 dropped"), "{}: {line}", capture.display());
        }
        assert!(metric(&metrics, "sensor_kernel_dropped_total{interface=\"vb\",queue=\"0\"}") == Some(0), "{metrics}");
        assert!(metric(&metrics, "sensor_rx_packets_total{interface=\"vb\",queue=\"0\"}").is_some(), "{metrics}");
        assert_same_records(&live, &replayed, skip, &capture.display().to_string());
        logs.push(log);
    }
    logs
}

#[test]
fn afpacket_capture_equals_replay() {
    let Some(_turn) = turn() else { return };
    let ns = Netns::new("afp", JUMBO_MTU, 1);
    let captures =
        ["dns/sv-dns-google-a-aaaa-mx.pcap", "dns-tunnel/sv-dns2tcp-bug-1158.pcap", "mixed/sv-community-id-ipv6.pcap"];
    for log in live_equals_replay(&ns, &["--capture", "afpacket"], &captures, TIMES) {
        assert!(log.contains("with AF_PACKET"), "{log}");
    }
}

#[test]
fn afxdp_native_on_two_queues_equals_replay() {
    let Some(_turn) = turn() else { return };
    let ns = Netns::new("xdpn", XDP_MTU, 2);
    // Flows of the second queue's worker have uids of another seed: compare without uids.
    let skip = [TIMES, &["uid"]].concat();
    let logs = live_equals_replay(&ns, &["--capture", "afxdp", "--xdp-mode", "native"], &XDP_CAPTURES, &skip);
    for log in logs {
        assert!(log.contains("with AF_XDP (native XDP, 2 queues, copy mode"), "{log}");
        let xdp = log.lines().find(|l| l.starts_with("xdp")).unwrap_or_else(|| panic!("no xdp line: {log}"));
        // Everything the program saw went to a socket.
        let seen: u64 = xdp.split("native: ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
        assert!(
            seen > 0 && xdp.contains(&format!("{seen} redirected, 0 ignored, 0 bypassed, 0 passed, 0 malformed")),
            "{xdp}"
        );
    }
    assert!(!ns.monitor_link().contains("xdp"), "the program is still attached after SIGTERM: {}", ns.monitor_link());
}

#[test]
fn afxdp_generic_equals_replay() {
    let Some(_turn) = turn() else { return };
    let ns = Netns::new("xdpg", XDP_MTU, 1);
    // One queue: the uids are the replay's.
    for log in live_equals_replay(&ns, &["--capture", "afxdp", "--xdp-mode", "generic"], &XDP_CAPTURES, TIMES) {
        assert!(log.contains("with AF_XDP (generic XDP, 1 queue,"), "{log}");
    }
}

/// Writes a configuration file with `body` into `dir`.
fn config(dir: &Path, body: &str) -> String {
    let path = dir.join("sensor.toml");
    std::fs::write(&path, body).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn ignored_networks_are_dropped_in_the_kernel() {
    let Some(_turn) = turn() else { return };
    let ns = Netns::new("ign", XDP_MTU, 1);
    let capture = shared().join("mixed/zeek-wikipedia.pcap");
    let dir = tempfile::tempdir().unwrap();
    let (live, replayed) = (dir.path().join("live"), dir.path().join("replay"));
    replay(&capture, &replayed, &[]);
    // The server of the first TCP connection, ignored as a /32.
    let conns = read(&replayed, "conn.jsonl");
    let first_tcp = conns.iter().find(|c| c["proto"] == "tcp").expect("a TCP connection in the capture");
    let host = first_tcp["id.resp_h"].as_str().unwrap().to_owned();
    let cfg = config(dir.path(), &format!("[capture]\nignore = [\"{host}/32\"]\n"));
    let (log, metrics) = capture_live(&ns, &["--capture", "afxdp", "--config", &cfg], &capture, &live);
    let ignored = metric(&metrics, "sensor_xdp_ignored_total{interface=\"vb\",mode=\"native\"}").unwrap_or(0);
    assert!(ignored > 0, "nothing dropped by the filter: {metrics}\n{log}");
    let involves = |r: &serde_json::Value| r["id.orig_h"] == host.as_str() || r["id.resp_h"] == host.as_str();
    let live_conns = read(&live, "conn.jsonl");
    assert!(!live_conns.iter().any(involves), "{host} reached user space: {live_conns:?}");
    // Everything else is as replayed.
    let expected: Vec<_> = conns.into_iter().filter(|r| !involves(r)).collect();
    assert!(!expected.is_empty());
    // (Fewer flows before some of them: serial numbers, and so uids, differ.)
    let skip = [TIMES, &["uid"]].concat();
    assert_eq!(sorted_without(live_conns, &skip), sorted_without(expected, &skip));
}

#[test]
fn bypassed_flows_stop_reaching_user_space() {
    let Some(_turn) = turn() else { return };
    let ns = Netns::new("byp", XDP_MTU, 1);
    // Long Modbus/TCP sessions: 13,472 frames, the largest 1514 bytes.
    let capture = shared().join("mixed/iti-modbus-mb2.pcap");
    let dir = tempfile::tempdir().unwrap();
    let (live, replayed) = (dir.path().join("live"), dir.path().join("replay"));
    replay(&capture, &replayed, &[]);
    let cfg = config(dir.path(), "[capture]\nbypass_after_bytes = 20000\n");
    let (log, metrics) = capture_live(&ns, &["--capture", "afxdp", "--config", &cfg], &capture, &live);
    let bypassed = metric(&metrics, "sensor_xdp_bypassed_total{interface=\"vb\",mode=\"native\"}").unwrap_or(0);
    let seen = metric(&metrics, "sensor_xdp_seen_total{interface=\"vb\",mode=\"native\"}").unwrap_or(0);
    let received = metric(&metrics, "sensor_rx_packets_total{interface=\"vb\",queue=\"0\"}").unwrap_or(0);
    assert!(bypassed > 0, "no frame bypassed: {metrics}\n{log}");
    assert_eq!(seen, 13_472, "{metrics}");
    assert_eq!(received + bypassed, seen, "every frame either reached user space or was bypassed: {metrics}");
    assert!(log.lines().any(|l| l.starts_with("bypassed") && !l.contains(" 0 flows")), "{log}");
    // The bypassed sessions' records count what was seen before the bypass: fewer packets.
    let packets = |dir: &Path| -> u64 {
        read(dir, "conn.jsonl")
            .iter()
            .map(|c| c["orig_pkts"].as_u64().unwrap() + c["resp_pkts"].as_u64().unwrap())
            .sum()
    };
    // The flows are still open in user space when the capture stops (long timeouts), so no
    // bypass entry has been removed: every frame the kernel dropped is missing from them.
    assert_eq!(packets(&live) + bypassed, packets(&replayed), "{log}");
}

#[test]
fn nothing_is_left_on_the_interface_after_sigkill() {
    let Some(_turn) = turn() else { return };
    let ns = Netns::new("kill", XDP_MTU, 1);
    let dir = tempfile::tempdir().unwrap();
    let sensor = Sensor::start(&ns, &["--capture", "afxdp"], &dir.path().join("first")).unwrap();
    assert!(ns.monitor_link().contains("prog/xdp"), "{}", ns.monitor_link());
    // A second sensor on the same interface is refused, not stacked.
    let second = Sensor::start(&ns, &["--capture", "afxdp"], &dir.path().join("second")).err().expect("it started");
    assert!(second.contains("is another sensor capturing there?"), "{second}");
    sensor.kill();
    // The program was attached through a bpf_link, which died with the process.
    assert!(!ns.monitor_link().contains("xdp"), "left attached after SIGKILL: {}", ns.monitor_link());
    // And the next run attaches as if nothing happened.
    let capture = shared().join(XDP_CAPTURES[0]);
    let (live, replayed) = (dir.path().join("live"), dir.path().join("replay"));
    let (log, _) = capture_live(&ns, &["--capture", "afxdp"], &capture, &live);
    assert!(!log.contains("stale"), "{log}");
    replay(&capture, &replayed, &[]);
    assert_same_records(&live, &replayed, TIMES, "after SIGKILL");
}

#[test]
fn a_stale_program_of_ours_is_replaced_and_another_tools_is_left_alone() {
    let Some(_turn) = turn() else { return };
    let ns = Netns::new("stale", XDP_MTU, 1);
    let dir = tempfile::tempdir().unwrap();
    let capture = shared().join(XDP_CAPTURES[0]);
    let (live, replayed) = (dir.path().join("live"), dir.path().join("replay"));
    replay(&capture, &replayed, &[]);

    // Our program attached the old way (netlink), as a sensor on an older kernel leaves it.
    let ours = build_xdp_object(dir.path());
    sh(&["ip", "-n", ns.name(), "link", "set", "dev", "vb", "xdpgeneric", "obj", ours.to_str().unwrap(), "sec", "xdp"]);
    assert!(ns.monitor_link().contains("sensor_xdp"), "{}", ns.monitor_link());
    let (log, _) = capture_live(&ns, &["--capture", "afxdp"], &capture, &live);
    assert!(log.contains("removed a stale sensor XDP program"), "{log}");
    assert_same_records(&live, &replayed, TIMES, "after replacing a stale program");
    assert!(!ns.monitor_link().contains("xdp"), "{}", ns.monitor_link());

    // Another tool's program: AF_XDP refuses to touch it ...
    let other = build_foreign_xdp_object(dir.path());
    sh(&[
        "ip",
        "-n",
        ns.name(),
        "link",
        "set",
        "dev",
        "vb",
        "xdpgeneric",
        "obj",
        other.to_str().unwrap(),
        "sec",
        "xdp",
    ]);
    let refused = Sensor::start(&ns, &["--capture", "afxdp"], &dir.path().join("refused")).err().expect("it started");
    assert!(refused.contains("does not replace another tool's program"), "{refused}");
    // ... and `auto` says so and captures with AF_PACKET, leaving it in place.
    let fallback = dir.path().join("fallback");
    let (log, _) = capture_live(&ns, &["--capture", "auto"], &capture, &fallback);
    assert!(log.contains("AF_XDP is not available") && log.contains("capturing with AF_PACKET instead"), "{log}");
    assert!(log.contains("capturing on vb with AF_PACKET"), "{log}");
    assert_same_records(&fallback, &replayed, TIMES, "AF_PACKET fallback");
    assert!(ns.monitor_link().contains("other_tool"), "{}", ns.monitor_link());
}

#[test]
fn without_privileges_the_errors_name_the_interface_and_the_step() {
    let Some(_turn) = turn() else { return };
    let ns = Netns::new("priv", XDP_MTU, 1);
    let dir = tempfile::tempdir().unwrap();
    sh(&["chmod", "777", dir.path().to_str().unwrap()]);
    // As `nobody`, with no capability: neither XDP nor a packet socket may be opened.
    let unprivileged = |method: &str| {
        let out = dir.path().join(method);
        let o = ns
            .exec()
            .args(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"])
            .arg(sensor_bin())
            .args(["run", "-i", "vb", "--capture", method, "--no-store", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(!o.status.success(), "{method} started unprivileged");
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let xdp = unprivileged("afxdp");
    assert!(xdp.contains("vb: cannot load the XDP program") && xdp.contains("Operation not permitted"), "{xdp}");
    let packet = unprivileged("afpacket");
    assert!(
        packet.contains("vb: cannot open an AF_PACKET socket (needs root or CAP_NET_RAW)")
            && packet.contains("Operation not permitted"),
        "{packet}"
    );
    // `auto` says why AF_XDP was not taken, then fails on AF_PACKET for the same reason.
    let auto = unprivileged("auto");
    assert!(auto.contains("AF_XDP is not available") && auto.contains("cannot open an AF_PACKET socket"), "{auto}");
}

#[test]
fn two_interfaces_in_one_run() {
    let Some(_turn) = turn() else { return };
    let ns = Netns::new("two", XDP_MTU, 1);
    ns.add_pair("vc", "vd", XDP_MTU);
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live");
    // One worker per interface, pinned: vb's to CPU 0, vd's to CPU 1.
    let cfg = config(dir.path(), "[capture]\ncpus = [0, 1]\n");
    let mut sensor = Sensor::start(&ns, &["-i", "vd", "--capture", "afxdp", "--config", &cfg], &live).unwrap();
    sensor.wait_for("capturing on vd").unwrap();
    let (first, second) = (shared().join(XDP_CAPTURES[0]), shared().join(XDP_CAPTURES[2]));
    let sent = send_on(&ns, "va", &first) + send_on(&ns, "vc", &second);
    let metrics = wait_until_seen(&ns, sent);
    for iface in ["vb", "vd"] {
        let sample = format!("sensor_rx_packets_total{{interface=\"{iface}\",queue=\"0\"}}");
        assert!(metric(&metrics, &sample).is_some_and(|n| n > 0), "{iface}: {metrics}");
    }
    let threads = sensor.thread_cpus();
    for (worker, cpu) in [("rx-vb-0", "0"), ("rx-vd-0", "1")] {
        assert!(threads.contains(&(worker.to_owned(), cpu.to_owned())), "{worker} not on CPU {cpu}: {threads:?}");
    }
    let log = sensor.stop();
    for queue in [" vb/0 ", " vd/0 "] {
        assert!(log.lines().any(|l| l.starts_with("kernel") && l.contains(queue) && l.contains(" 0 dropped")), "{log}");
    }
    // The records of both, written by one output: those of the two replays (uids aside: each
    // interface's worker has its own seed).
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    replay(&first, &a, &[]);
    replay(&second, &b, &[]);
    let skip = [TIMES, &["uid"]].concat();
    for kind in ["conn.jsonl", "dns.jsonl"] {
        let mut expected = read(&a, kind);
        expected.extend(read(&b, kind));
        assert_eq!(sorted_without(read(&live, kind), &skip), sorted_without(expected, &skip), "{kind}");
    }
}
