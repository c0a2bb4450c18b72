//! The link between sensor and hub misbehaving, through a proxy the test controls: it stalls,
//! resets every connection, corrupts a byte, and drops everything without a reset (a
//! firewall's DROP); the sensor notices each, reconnects, and the hub ends up holding every
//! alert exactly once. And a customer network that only lets the sensor out through an HTTP
//! proxy with credentials.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

mod common;

use common::connect::ConnectProxy;
use common::proxy::{Fault, Proxy};
use common::{Hub, enrolled};
use sensor_sync::{HubInfo, Outbox, STALL, SyncHandle, enroll_via};
use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[test]
fn alerts_arrive_exactly_once_through_a_link_that_stalls_resets_corrupts_and_drops() {
    const ALERTS: usize = 100_000;
    const STEP: usize = 10_000;
    let (_dir, hub, sensor, _id) = enrolled();
    let upstream = std::fs::read_to_string(hub.data.join("tunnel.addr")).unwrap().trim().parse().unwrap();
    let proxy = Proxy::start(upstream);
    // The sensor dials the proxy, by the name in the hub's certificate.
    let info_path = sensor.join("hub.json");
    let mut info: HubInfo = serde_json::from_str(&std::fs::read_to_string(&info_path).unwrap()).unwrap();
    info.hub = format!("localhost:{}", proxy.addr.port());
    std::fs::write(&info_path, serde_json::to_string(&info).unwrap()).unwrap();

    let outbox = Outbox::open(&sensor).unwrap();
    let bodies: Vec<String> = (0..ALERTS).map(|n| format!("{{\"n\":{n},\"severity\":\"low\"}}")).collect();
    outbox.push_all(bodies.iter().map(|b| (b.as_str(), false))).unwrap();
    let tunnel = SyncHandle::start(&sensor, outbox.clone(), None).unwrap();
    let acked = || tunnel.stats().acked.load(Ordering::Relaxed) as usize;
    let progress = |what: &str| {
        let (before, started) = (acked(), Instant::now());
        while acked() < before + STEP {
            assert!(started.elapsed() < STALL * 4, "no progress after {what}: {}", hub.log());
            std::thread::sleep(Duration::from_millis(5));
        }
    };

    progress("the start");
    proxy.set(Fault::Stall);
    std::thread::sleep(Duration::from_secs(2));
    proxy.set(Fault::Pass);
    progress("a stall");
    proxy.reset();
    progress("a reset");
    proxy.set(Fault::Corrupt);
    progress("a corrupted byte");
    hub.wait_log("TLS");
    // Everything dropped, for longer than a reconnect attempt; the connection it caught stays
    // dead, and only the sensor's stall timeout gets it out.
    proxy.set(Fault::Blackhole);
    std::thread::sleep(Duration::from_secs(3));
    proxy.set(Fault::Pass);
    progress("a black hole");

    assert!(tunnel.wait_drained(Duration::from_secs(120)), "{} left: {}", outbox.len(), hub.log());
    assert!(
        tunnel.stats().failures.load(Ordering::Relaxed) >= 3,
        "reset, corruption and black hole each ended a session"
    );
    drop(tunnel);
    let stored = hub.alerts();
    let ns: HashSet<i64> = stored.iter().map(|a| a["alert"]["n"].as_i64().unwrap()).collect();
    assert_eq!(stored.len(), ALERTS, "every alert once");
    assert_eq!(ns.len(), ALERTS, "no duplicates, none missing");
}

#[test]
fn enrollment_and_the_tunnel_go_through_an_http_proxy_with_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(&dir.path().join("hub"), "127.0.0.1:0");
    // ops:s3cret
    let proxy = ConnectProxy::start("Basic b3BzOnMzY3JldA==");
    let fp = hub.cli(&["ca-fingerprint"]);
    let sensor = dir.path().join("sensor");
    let via = |password: &str| format!("http://ops:{password}@127.0.0.1:{}", proxy.port);

    let refused = enroll_via(&sensor, &hub.endpoint(), Some(&via("wrong")), &hub.token("1h"), &fp).unwrap_err();
    assert!(refused.to_string().contains("407"), "{refused}");
    assert!(!refused.to_string().contains("wrong"), "credentials in an error: {refused}");
    enroll_via(&sensor, &hub.endpoint(), Some(&via("s3cret")), &hub.token("1h"), &fp).unwrap();

    let outbox = Outbox::open(&sensor).unwrap();
    let bodies: Vec<String> = (0..100).map(|n| format!("{{\"n\":{n}}}")).collect();
    outbox.push_all(bodies.iter().map(|b| (b.as_str(), false))).unwrap();
    let tunnel = SyncHandle::start(&sensor, outbox, None).unwrap();
    assert!(tunnel.wait_drained(Duration::from_secs(30)), "{}", hub.log());
    assert_eq!(hub.alerts().len(), 100);
    // Both the enrollment and the tunnel went through the proxy, to the hub's endpoint.
    let accepted = proxy.accepted.lock().unwrap().clone();
    assert!(accepted.len() >= 2 && accepted.iter().all(|t| *t == hub.endpoint()), "{accepted:?}");
    // The credentials are kept for the tunnel, readable by the owner only.
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(sensor.join("hub.json")).unwrap().permissions().mode() & 0o777, 0o600);
}
