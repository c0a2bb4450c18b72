//! Sync benchmarks (`make bench-sync`; ignored in `make test`): alert-to-hub latency with
//! durable writes on both sides, the drain rate of a large backlog after an outage, and hub
//! ingest from many sensors at once. They print figures; nothing asserts a time.

#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmark code: a failure should panic

mod common;

use common::{Hub, enrolled};
use sensor_sync::{Outbox, SyncHandle, enroll};
use std::time::{Duration, Instant};

/// Backlog drained after an outage (issue target: at least 50,000 alerts/s).
const BACKLOG: usize = 1_000_000;
/// Alerts timed one at a time for the latency figures.
const LATENCY_SAMPLES: usize = 500;
/// Sensors sending at once for the ingest figure.
const SENSORS: usize = 100;
/// Alerts each of them sends.
const PER_SENSOR: usize = 2_000;

fn alert(n: usize) -> String {
    format!(
        "{{\"ts\":1700000000.0,\"id\":\"A{n:017}\",\"severity\":\"medium\",\"detector\":\"dns.tunnel\",\
         \"title\":\"DNS tunnel from 10.1.2.3 through example.net\",\"src\":{{\"ip\":\"10.1.2.3\"}},\
         \"dst\":{{\"ip\":\"10.0.0.53\"}},\"evidence\":{{\"uids\":[\"C{n:017}\"],\"domain\":\"example.net\"}}}}"
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

#[test]
#[ignore = "benchmark: make bench-sync"]
fn latency_drain_and_ingest() {
    let (dir, hub, sensor, _) = enrolled();
    let outbox = Outbox::open(&sensor).unwrap();
    let tunnel = SyncHandle::start(&sensor, outbox.clone(), None).unwrap();

    // Latency: one alert at a time, from the outbox's durable write to its deletion after the
    // hub's durable write and acknowledgement.
    let mut samples = Vec::with_capacity(LATENCY_SAMPLES);
    for n in 0..LATENCY_SAMPLES {
        let started = Instant::now();
        outbox.push(&alert(n), false).unwrap();
        assert!(tunnel.wait_drained(Duration::from_secs(10)));
        samples.push(started.elapsed());
    }
    samples.sort();
    println!(
        "latency, alert queued to acknowledged ({LATENCY_SAMPLES} alerts, durable on both sides): p50 {:.1} ms, p99 {:.1} ms (target p99 <= 1000 ms)",
        percentile(&samples, 0.5).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3
    );

    // Drain: the hub is down while the backlog builds, then comes back.
    let port = hub.port();
    let data = hub.data.clone();
    hub.kill();
    let bodies: Vec<String> = (0..BACKLOG).map(alert).collect();
    let started = Instant::now();
    for chunk in bodies.chunks(10_000) {
        outbox.push_all(chunk.iter().map(|b| (b.as_str(), false))).unwrap();
    }
    println!("backlog of {BACKLOG} queued durably in {:.1} s", started.elapsed().as_secs_f64());
    let hub = Hub::start(&data, &format!("127.0.0.1:{port}"));
    let started = Instant::now();
    // The sensor comes back after its reconnection backoff (up to 30 s, drawn at random): the
    // drain itself is timed from the first acknowledgement, the whole from the hub's return.
    let acked = tunnel.stats().acked.load(std::sync::atomic::Ordering::Relaxed);
    while tunnel.stats().acked.load(std::sync::atomic::Ordering::Relaxed) == acked {
        assert!(started.elapsed() < Duration::from_secs(120), "no reconnection: {}", hub.log());
        std::thread::sleep(Duration::from_millis(1));
    }
    let reconnected = started.elapsed();
    assert!(tunnel.wait_drained(Duration::from_secs(600)), "{}", hub.log());
    let (whole, drain) = (started.elapsed(), started.elapsed() - reconnected);
    println!(
        "drain of {BACKLOG} alerts after the outage: {:.1} s from the first acknowledgement = {:.0} alerts/s (target >= 50,000/s); \
         {:.1} s from the hub's return, the reconnection backoff ({:.1} s) included",
        drain.as_secs_f64(),
        BACKLOG as f64 / drain.as_secs_f64(),
        whole.as_secs_f64(),
        reconnected.as_secs_f64()
    );
    drop(tunnel);

    // Ingest: many sensors at once.
    let fp = hub.cli(&["ca-fingerprint"]);
    let mut tunnels = Vec::new();
    for s in 0..SENSORS {
        let dir_s = dir.path().join(format!("s{s}"));
        enroll(&dir_s, &hub.endpoint(), &hub.token("1h"), &fp).unwrap();
        let outbox = Outbox::open(&dir_s).unwrap();
        outbox.push_all((0..PER_SENSOR).map(alert).collect::<Vec<_>>().iter().map(|b| (b.as_str(), false))).unwrap();
        tunnels.push(outbox);
    }
    let started = Instant::now();
    let handles: Vec<SyncHandle> = tunnels
        .iter()
        .enumerate()
        .map(|(s, o)| SyncHandle::start(&dir.path().join(format!("s{s}")), o.clone(), None).unwrap())
        .collect();
    for h in &handles {
        assert!(h.wait_drained(Duration::from_secs(600)));
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "hub ingest, {SENSORS} sensors x {PER_SENSOR} alerts at once: {secs:.1} s = {:.0} alerts/s",
        (SENSORS * PER_SENSOR) as f64 / secs
    );
}
