//! The metrics endpoint of `sensor run`: the counters in Prometheus' text format at
//! `http://[capture] metrics_listen/metrics` (default 127.0.0.1:9101: loopback, never the
//! monitor port, which has no address).
//!
//! Once a second each capture worker publishes its counters ([`WorkerView`]) and the main thread
//! renders them, with the XDP program's and the shared output's, into the text ([`render`]); a thread of its own
//! serves the latest text (`tiny_http`), one request at a time. Anything but `GET /metrics` is
//! answered 404 or 405; the packet path never waits for a scrape.

use crate::pipeline::{BypassStats, PipelineStats};
use sensor_capture::{KernelStats, SensorCounters};
use sensor_detect::DetectStats;
use sensor_output::OutputStats;
use sensor_wire::DecodeCounters;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long the server waits for a request before checking whether it should stop.
const STOP_CHECK: Duration = Duration::from_millis(200);

/// The latest metrics text, shared between the worker and the server.
#[derive(Clone, Default)]
pub struct Published(Arc<Mutex<String>>);

impl Published {
    /// Replaces the text.
    pub fn set(&self, text: String) {
        // A poisoned lock means the server thread panicked while reading: keep serving anyway.
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = text;
    }

    fn get(&self) -> String {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The running endpoint; dropping it stops the server.
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// Listens on `addr` and serves `published`.
    pub fn start(addr: SocketAddr, published: Published) -> anyhow::Result<MetricsServer> {
        let server =
            tiny_http::Server::http(addr).map_err(|e| anyhow::anyhow!("cannot listen for metrics on {addr}: {e}"))?;
        let addr = server.server_addr().to_ip().unwrap_or(addr);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new().name("metrics".into()).spawn(move || serve(&server, &published, &stop))?
        };
        Ok(MetricsServer { addr, stop, thread: Some(thread) })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(server: &tiny_http::Server, published: &Published, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let request = match server.recv_timeout(STOP_CHECK) {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            // A broken listener: nothing more to serve.
            Err(_) => return,
        };
        let (status, body) = match (request.method(), request.url()) {
            (tiny_http::Method::Get, "/metrics") => (200, published.get()),
            (tiny_http::Method::Get, _) => (404, "not found: the metrics are at /metrics\n".to_owned()),
            _ => (405, "method not allowed: GET /metrics\n".to_owned()),
        };
        let mut response = tiny_http::Response::from_string(body).with_status_code(status);
        // Constant, valid header bytes: the `Err` arm cannot happen.
        if let Ok(h) = tiny_http::Header::from_bytes("Content-Type", "text/plain; version=0.0.4") {
            response = response.with_header(h);
        }
        // A client that went away is its own problem.
        let _ = request.respond(response);
    }
}

/// One metric: its help line, type and samples.
fn metric(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(&str, u64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{labels} {value}");
    }
}

/// What one capture worker last published (once a second).
#[derive(Debug, Clone, Default)]
pub struct WorkerView {
    /// The interface.
    pub iface: String,
    /// Its RX queue (AF_XDP) or the worker's index on the interface (AF_PACKET).
    pub queue: u32,
    /// Pipeline counters.
    pub pipeline: PipelineStats,
    /// Decoder counters.
    pub decode: DecodeCounters,
    /// The socket's kernel counters.
    pub kernel: Option<KernelStats>,
    /// Flows bypassed in the kernel.
    pub bypass: BypassStats,
}

/// The XDP program's counters on one interface.
pub struct XdpView<'a> {
    /// The interface.
    pub iface: &'a str,
    /// `native` or `generic`.
    pub mode: &'static str,
    /// The counters, summed over the CPUs.
    pub counters: SensorCounters,
}

/// Collects the samples of one metric.
struct Samples(Vec<(String, u64)>);

impl Samples {
    fn per_worker(workers: &[WorkerView], value: impl Fn(&WorkerView) -> Option<u64>) -> Samples {
        Samples(
            workers
                .iter()
                .filter_map(|w| value(w).map(|v| (format!("{{interface=\"{}\",queue=\"{}\"}}", w.iface, w.queue), v)))
                .collect(),
        )
    }

    fn write(&self, out: &mut String, name: &str, kind: &str, help: &str) {
        let samples: Vec<(&str, u64)> = self.0.iter().map(|(l, v)| (l.as_str(), *v)).collect();
        metric(out, name, kind, help, &samples);
    }
}

/// The metrics of a live capture, in Prometheus' text format.
pub fn render(workers: &[WorkerView], xdp: &[XdpView<'_>], records: OutputStats, detect: DetectStats) -> String {
    let mut out = String::new();
    let per = |f: fn(&WorkerView) -> Option<u64>| Samples::per_worker(workers, f);
    per(|w| Some(w.pipeline.frames)).write(&mut out, "sensor_rx_packets_total", "counter", "Frames received.");
    per(|w| Some(w.pipeline.bytes)).write(
        &mut out,
        "sensor_rx_bytes_total",
        "counter",
        "Bytes received (lengths on the wire).",
    );
    per(|w| w.kernel.map(|k| k.received())).write(
        &mut out,
        "sensor_kernel_received_total",
        "counter",
        "Frames the kernel handed to the socket.",
    );
    per(|w| w.kernel.map(|k| k.dropped())).write(
        &mut out,
        "sensor_kernel_dropped_total",
        "counter",
        "Frames the kernel dropped for want of room (ring full, no free frame).",
    );
    per(|w| match w.kernel {
        Some(KernelStats::Packet { freezes, .. }) => Some(freezes),
        _ => None,
    })
    .write(
        &mut out,
        "sensor_kernel_ring_full_total",
        "counter",
        "AF_PACKET: times every ring block waited for user space.",
    );
    for (name, help, pick) in [
        (
            "sensor_xsk_rx_dropped_total",
            "AF_XDP: frames dropped by the kernel (too large for a frame, no free frame).",
            (|k| match k {
                KernelStats::Xsk { rx_dropped, .. } => Some(rx_dropped),
                _ => None,
            }) as fn(KernelStats) -> Option<u64>,
        ),
        ("sensor_xsk_rx_ring_full_total", "AF_XDP: frames dropped because the RX ring was full.", |k| match k {
            KernelStats::Xsk { rx_ring_full, .. } => Some(rx_ring_full),
            _ => None,
        }),
        ("sensor_xsk_fill_ring_empty_total", "AF_XDP: times the kernel found the fill ring empty.", |k| match k {
            KernelStats::Xsk { fill_ring_empty, .. } => Some(fill_ring_empty),
            _ => None,
        }),
    ] {
        Samples::per_worker(workers, |w| w.kernel.and_then(pick)).write(&mut out, name, "counter", help);
    }
    let xdp_samples = |f: fn(&SensorCounters) -> u64| {
        Samples(
            xdp.iter()
                .map(|x| (format!("{{interface=\"{}\",mode=\"{}\"}}", x.iface, x.mode), f(&x.counters)))
                .collect(),
        )
    };
    for (name, help, f) in [
        ("sensor_xdp_seen_total", "XDP: frames the program ran on.", (|c| c.seen) as fn(&SensorCounters) -> u64),
        ("sensor_xdp_redirected_total", "XDP: frames handed to an AF_XDP socket.", |c| c.redirected),
        ("sensor_xdp_ignored_total", "XDP: frames dropped because of an ignored network.", |c| c.dropped_by_filter),
        ("sensor_xdp_bypassed_total", "XDP: frames of bypassed flows dropped.", |c| c.bypassed),
        ("sensor_xdp_passed_total", "XDP: frames passed to the kernel: no socket on their queue.", |c| c.passed),
        ("sensor_xdp_malformed_total", "XDP: malformed frames, delivered unfiltered.", |c| c.errors),
    ] {
        xdp_samples(f).write(&mut out, name, "counter", help);
    }
    let reasons: Vec<(String, u64)> = workers
        .iter()
        .flat_map(|w| {
            sensor_wire::DropReason::ALL.into_iter().map(move |r| {
                (
                    format!("{{interface=\"{}\",queue=\"{}\",reason=\"{}\"}}", w.iface, w.queue, r.name()),
                    w.decode.dropped.get(r),
                )
            })
        })
        .collect();
    Samples(reasons).write(
        &mut out,
        "sensor_pipeline_dropped_total",
        "counter",
        "Frames the decoder dropped, by reason.",
    );
    let kinds = [("conn", records.conn), ("dns", records.dns), ("weird", records.weird), ("alert", records.alert)];
    Samples(kinds.iter().map(|(k, v)| (format!("{{kind=\"{k}\"}}"), *v)).collect()).write(
        &mut out,
        "sensor_records_total",
        "counter",
        "Records written, by kind.",
    );
    per(|w| Some(w.pipeline.flows_evicted)).write(
        &mut out,
        "sensor_flows_evicted_total",
        "counter",
        "Flows ended early: the flow table was full.",
    );
    per(|w| Some(w.bypass.flows)).write(
        &mut out,
        "sensor_flows_bypassed_total",
        "counter",
        "Flows handed to the kernel to drop (bypass).",
    );
    per(|w| Some(w.pipeline.weirds_sampled_out)).write(
        &mut out,
        "sensor_weirds_sampled_out_total",
        "counter",
        "Weirds not logged (sampling).",
    );
    metric(
        &mut out,
        "sensor_detect_evicted_total",
        "counter",
        "Detector table entries dropped: a table was full.",
        &[("", detect.evicted)],
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// The answer to `request`, as far as it came within a second (a server that keeps the
    /// connection open for more is not waited for).
    fn get(addr: SocketAddr, request: &str) -> String {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    }

    /// The status code of an HTTP answer.
    fn status(answer: &str) -> &str {
        answer.split_whitespace().nth(1).unwrap_or("none")
    }

    #[test]
    fn serves_the_latest_text_and_nothing_else() {
        let published = Published::default();
        let server = MetricsServer::start("127.0.0.1:0".parse().unwrap(), published.clone()).unwrap();
        published.set("sensor_rx_packets_total{interface=\"x\"} 7\n".into());
        let ok = get(server.addr(), "GET /metrics HTTP/1.0\r\n\r\n");
        assert_eq!(status(&ok), "200", "{ok}");
        assert!(ok.ends_with("\r\n\r\nsensor_rx_packets_total{interface=\"x\"} 7\n"), "{ok}");
        assert!(ok.contains("text/plain; version=0.0.4"), "{ok}");
        assert_eq!(status(&get(server.addr(), "GET / HTTP/1.0\r\n\r\n")), "404");
        assert_eq!(status(&get(server.addr(), "POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n")), "405");
        let garbage = get(server.addr(), "\u{1}\u{2} not http at all\r\n\r\n");
        assert!(matches!(status(&garbage), "400" | "none"), "{garbage}");
        // Still serving after it.
        assert_eq!(status(&get(server.addr(), "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")), "200");
        drop(server);
    }

    #[test]
    fn renders_prometheus_text() {
        let workers = [
            WorkerView {
                iface: "eth1".into(),
                queue: 0,
                kernel: Some(KernelStats::Packet { received: 5, dropped: 1, freezes: 0 }),
                ..WorkerView::default()
            },
            WorkerView {
                iface: "eth2".into(),
                queue: 3,
                pipeline: PipelineStats { frames: 9, ..PipelineStats::default() },
                kernel: Some(KernelStats::Xsk {
                    received: 9,
                    rx_dropped: 2,
                    rx_ring_full: 1,
                    fill_ring_empty: 4,
                    invalid_descs: 0,
                }),
                ..WorkerView::default()
            },
        ];
        let counters = SensorCounters { seen: 12, redirected: 9, dropped_by_filter: 3, ..SensorCounters::default() };
        let xdp = [XdpView { iface: "eth2", mode: "native", counters }];
        let text = render(&workers, &xdp, OutputStats::default(), DetectStats::default());
        assert!(text.contains(
            "# TYPE sensor_rx_packets_total counter\nsensor_rx_packets_total{interface=\"eth1\",queue=\"0\"} 0\n"
        ));
        assert!(text.contains("sensor_rx_packets_total{interface=\"eth2\",queue=\"3\"} 9\n"));
        assert!(text.contains("sensor_kernel_dropped_total{interface=\"eth1\",queue=\"0\"} 1\n"));
        assert!(text.contains("sensor_kernel_dropped_total{interface=\"eth2\",queue=\"3\"} 3\n"));
        assert!(text.contains("sensor_kernel_ring_full_total{interface=\"eth1\",queue=\"0\"} 0\n"));
        assert!(!text.contains("sensor_kernel_ring_full_total{interface=\"eth2\""));
        assert!(text.contains("sensor_xsk_fill_ring_empty_total{interface=\"eth2\",queue=\"3\"} 4\n"));
        assert!(text.contains("sensor_xdp_ignored_total{interface=\"eth2\",mode=\"native\"} 3\n"));
        assert!(text.contains("sensor_records_total{kind=\"alert\"} 0\n"));
        assert!(
            text.contains("sensor_pipeline_dropped_total{interface=\"eth1\",queue=\"0\",reason=\"malformed_ip\"} 0\n")
        );
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<u64>().is_ok() && !name.is_empty(), "{line}");
        }
    }
}
