//! The metrics endpoint of `sensor run`: the counters in Prometheus' text format at
//! `http://[capture] metrics_listen/metrics` (default 127.0.0.1:9101: loopback, never the
//! monitor port, which has no address).
//!
//! The worker renders the text once a second ([`render`]) and publishes it; a thread of its own
//! serves the latest text (`tiny_http`), one request at a time. Anything but `GET /metrics` is
//! answered 404 or 405; the packet path never waits for a scrape.

use crate::pipeline::Pipeline;
use sensor_capture::KernelStats;
use sensor_output::RecordSink;
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

/// The metrics of a live pipeline on `iface`, in Prometheus' text format.
pub fn render<O: RecordSink>(iface: &str, pipeline: &Pipeline<O>, kernel: Option<KernelStats>) -> String {
    let mut out = String::new();
    let on = format!("{{interface=\"{iface}\"}}");
    let p = pipeline.stats();
    let records = pipeline.output().stats();
    let detect = pipeline.detect_stats();
    metric(&mut out, "sensor_rx_packets_total", "counter", "Frames received.", &[(&on, p.frames)]);
    metric(&mut out, "sensor_rx_bytes_total", "counter", "Bytes received (lengths on the wire).", &[(&on, p.bytes)]);
    if let Some(k) = kernel {
        metric(
            &mut out,
            "sensor_kernel_received_total",
            "counter",
            "Frames the kernel queued to the ring.",
            &[(&on, k.received)],
        );
        metric(
            &mut out,
            "sensor_kernel_dropped_total",
            "counter",
            "Frames the kernel dropped: the ring was full.",
            &[(&on, k.dropped)],
        );
        metric(
            &mut out,
            "sensor_kernel_ring_full_total",
            "counter",
            "Times every ring block waited for user space.",
            &[(&on, k.freezes)],
        );
    }
    let drops = pipeline.decode_counters();
    let reasons: Vec<(String, u64)> = sensor_wire::DropReason::ALL
        .into_iter()
        .map(|r| (format!("{{interface=\"{iface}\",reason=\"{}\"}}", r.name()), drops.dropped.get(r)))
        .collect();
    let reasons: Vec<(&str, u64)> = reasons.iter().map(|(l, v)| (l.as_str(), *v)).collect();
    metric(&mut out, "sensor_pipeline_dropped_total", "counter", "Frames the decoder dropped, by reason.", &reasons);
    let kinds = [("conn", records.conn), ("dns", records.dns), ("weird", records.weird), ("alert", records.alert)];
    let kinds: Vec<(String, u64)> = kinds.iter().map(|(k, v)| (format!("{{kind=\"{k}\"}}"), *v)).collect();
    let kinds: Vec<(&str, u64)> = kinds.iter().map(|(l, v)| (l.as_str(), *v)).collect();
    metric(&mut out, "sensor_records_total", "counter", "Records written, by kind.", &kinds);
    metric(
        &mut out,
        "sensor_flows_evicted_total",
        "counter",
        "Flows ended early: the flow table was full.",
        &[("", p.flows_evicted)],
    );
    metric(
        &mut out,
        "sensor_weirds_sampled_out_total",
        "counter",
        "Weirds not logged (sampling).",
        &[("", p.weirds_sampled_out)],
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
        let pipeline = Pipeline::new(
            &crate::config::Config::default(),
            sensor_output::JsonLines::create(tempfile::tempdir().unwrap().path()).unwrap(),
            1,
        );
        let text = render("eth1", &pipeline, Some(KernelStats { received: 5, dropped: 1, freezes: 0 }));
        assert!(
            text.contains("# TYPE sensor_rx_packets_total counter\nsensor_rx_packets_total{interface=\"eth1\"} 0\n")
        );
        assert!(text.contains("sensor_kernel_dropped_total{interface=\"eth1\"} 1\n"));
        assert!(text.contains("sensor_records_total{kind=\"alert\"} 0\n"));
        assert!(text.contains("sensor_pipeline_dropped_total{interface=\"eth1\",reason=\"malformed_ip\"} 0\n"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<u64>().is_ok() && !name.is_empty(), "{line}");
        }
    }
}
