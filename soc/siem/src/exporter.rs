//! [`Exporters`]: one thread per destination. Each takes the oldest [`BATCH`] entries of its
//! queue, renders the alerts as findings, sends them in one go, and removes them from the queue
//! once the destination took them. A failure (refused connection, TLS, HTTP error, an item the
//! destination refused) is logged and counted, and the same batch is tried again after a
//! backoff doubling from [`BACKOFF_MIN`] to [`BACKOFF_MAX`]. An empty queue is looked at again
//! every [`IDLE`].

use crate::config::{Destination, ExportConfig};
use crate::http::{Api, HttpSink};
use crate::queue::Queues;
use crate::syslog::SyslogSink;
use crate::{ExportError, ocsf};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use serde::Serialize;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Alerts per request (HTTP) or per write (syslog).
pub const BATCH: usize = 500;
/// How often an empty queue is looked at.
pub const IDLE: Duration = Duration::from_millis(200);
/// First wait after a failed send.
pub const BACKOFF_MIN: Duration = Duration::from_secs(1);
/// Longest wait after failed sends.
pub const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// An entry whose alert is missing for longer than this is a leftover of a crash between the
/// entry's write and the alert's (the hub writes the entry first), not an alert about to be
/// written: it is dropped.
pub const ORPHAN_AFTER: u64 = 60;
/// Connect, TLS and each request or write, at most.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// One alert on its way out.
pub(crate) struct Doc {
    /// `SENSOR:SEQ`.
    pub uid: String,
    /// As the hub stored it.
    pub stored: Value,
    /// As OCSF.
    pub finding: Value,
}

/// Why a batch was not delivered.
#[derive(Debug)]
pub(crate) enum Refused {
    /// Try again later: the destination is down, busy, or refused the credentials.
    Retry(String),
    /// The destination will never take these alerts (their uids; the rest of the batch was
    /// taken): retrying would block the queue for ever.
    Never(Vec<String>, String),
}

/// A destination's way of sending.
pub(crate) trait Sink: Send {
    /// Sends the batch; `Ok` once the destination took all of it.
    fn send(&mut self, batch: &[Doc]) -> Result<(), Refused>;
}

/// What a destination's exporter did.
#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    failures: AtomicU64,
    rejected: AtomicU64,
    last_success: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// A destination's figures (the hub's API shows them).
#[derive(Debug, Clone, Serialize)]
pub struct ExportStats {
    /// The destination's name.
    pub name: String,
    /// Its kind.
    pub kind: &'static str,
    /// Alerts waiting.
    pub queued: u64,
    /// Alerts delivered since the hub started.
    pub sent: u64,
    /// Failed sends since the hub started.
    pub failures: u64,
    /// Alerts the destination refused for good (logged with their uids), since the hub started.
    pub rejected: u64,
    /// Alerts dropped because the queue was full, since the hub started.
    pub dropped: u64,
    /// Unix seconds of the last delivery.
    pub last_success: Option<u64>,
    /// The last failure, if any.
    pub last_error: Option<String>,
}

/// The exporters; dropping it stops them.
pub struct Exporters {
    queues: Queues,
    kinds: Vec<&'static str>,
    counters: Vec<Arc<Counters>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

fn kind(d: &Destination) -> &'static str {
    match d {
        Destination::SplunkHec { .. } => "splunk_hec",
        Destination::Elasticsearch { .. } => "elasticsearch",
        Destination::Syslog { .. } => "syslog",
    }
}

/// The CA certificates of a PEM file.
fn load_ca(cfg: &ExportConfig) -> Result<Option<Vec<CertificateDer<'static>>>, ExportError> {
    let Some(path) = &cfg.ca_file else { return Ok(None) };
    let bad = |why: String| ExportError::Config(cfg.name.clone(), format!("ca_file {}: {why}", path.display()));
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let certs = CertificateDer::pem_slice_iter(&pem).collect::<Result<Vec<_>, _>>().map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no certificate".into()));
    }
    Ok(Some(certs))
}

fn sink(cfg: &ExportConfig) -> Result<Box<dyn Sink>, ExportError> {
    let ca = load_ca(cfg)?;
    let bad = |why: String| ExportError::Config(cfg.name.clone(), why);
    Ok(match &cfg.destination {
        Destination::Syslog { address, server_name, facility } => {
            let mut roots = rustls::RootCertStore::empty();
            match ca {
                Some(certs) => {
                    for c in certs {
                        roots.add(c).map_err(|e| bad(format!("ca_file: {e}")))?;
                    }
                }
                None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            }
            let config =
                rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                    .with_safe_default_protocol_versions()
                    .map_err(|e| bad(e.to_string()))?
                    .with_root_certificates(roots)
                    .with_no_client_auth();
            Box::new(SyslogSink::new(address, server_name.as_deref(), *facility, Arc::new(config)).map_err(bad)?)
        }
        Destination::SplunkHec { url, token, index } => {
            let api = Api::Hec { token: token.clone(), index: index.clone() };
            Box::new(HttpSink::new(agent(ca), url, api))
        }
        Destination::Elasticsearch { url, index, api_key } => {
            let api = Api::Elastic { index: index.clone(), api_key: api_key.clone() };
            Box::new(HttpSink::new(agent(ca), url, api))
        }
    })
}

fn agent(ca: Option<Vec<CertificateDer<'static>>>) -> ureq::Agent {
    use ureq::tls::{Certificate, RootCerts, TlsConfig};
    let tls = match ca {
        Some(certs) => {
            let certs: Vec<Certificate<'static>> = certs.iter().map(|c| Certificate::from_der(c).to_owned()).collect();
            TlsConfig::builder().root_certs(RootCerts::new_with_certs(&certs)).build()
        }
        None => TlsConfig::default(),
    };
    let config = ureq::Agent::config_builder()
        .tls_config(tls)
        .timeout_global(Some(IO_TIMEOUT))
        .http_status_as_error(false)
        .build();
    ureq::Agent::new_with_config(config)
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl Exporters {
    /// Starts an exporter per destination of `configs`, reading its queue of `queues` (opened
    /// for the same names, in the same order) and the alerts from `alerts`.
    pub fn start(configs: &[ExportConfig], queues: &Queues, alerts: &sled::Tree) -> Result<Exporters, ExportError> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut exporters =
            Exporters { queues: queues.clone(), kinds: Vec::new(), counters: Vec::new(), stop, threads: Vec::new() };
        for (i, cfg) in configs.iter().enumerate() {
            cfg.check()?;
            let sink = sink(cfg)?;
            let counters = Arc::new(Counters::default());
            let worker = Worker {
                index: i,
                queues: queues.clone(),
                alerts: alerts.clone(),
                sink,
                counters: counters.clone(),
                stop: exporters.stop.clone(),
            };
            let thread = std::thread::Builder::new()
                .name(format!("export-{}", cfg.name))
                .spawn(move || worker.run())
                .map_err(|e| ExportError::Config(cfg.name.clone(), e.to_string()))?;
            exporters.kinds.push(kind(&cfg.destination));
            exporters.counters.push(counters);
            exporters.threads.push(thread);
        }
        Ok(exporters)
    }

    /// Each destination's figures.
    pub fn stats(&self) -> Vec<ExportStats> {
        (0..self.queues.count())
            .map(|i| {
                let (q, c) = (self.queues.get(i), &self.counters[i]);
                ExportStats {
                    name: q.name.clone(),
                    kind: self.kinds[i],
                    queued: q.len(),
                    sent: c.sent.load(Ordering::Relaxed),
                    failures: c.failures.load(Ordering::Relaxed),
                    rejected: c.rejected.load(Ordering::Relaxed),
                    dropped: q.dropped.load(Ordering::Relaxed),
                    last_success: Some(c.last_success.load(Ordering::Relaxed)).filter(|&t| t > 0),
                    last_error: c.last_error.lock().unwrap_or_else(|e| e.into_inner()).clone(),
                }
            })
            .collect()
    }
}

impl Drop for Exporters {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        let _ = self.queues.db().flush();
    }
}

struct Worker {
    index: usize,
    queues: Queues,
    alerts: sled::Tree,
    sink: Box<dyn Sink>,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
}

impl Worker {
    fn run(mut self) {
        let mut backoff = BACKOFF_MIN;
        while !self.stop.load(Ordering::Relaxed) {
            match self.once() {
                Ok(true) => backoff = BACKOFF_MIN,
                Ok(false) => self.sleep(IDLE),
                Err(e) => {
                    let name = &self.queues.get(self.index).name;
                    eprintln!("soc-hub: export {name}: {e}; trying again in {backoff:?}");
                    self.counters.failures.fetch_add(1, Ordering::Relaxed);
                    *self.counters.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
                    self.sleep(backoff);
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
    }

    /// Sends one batch: whether there was one.
    fn once(&mut self) -> Result<bool, String> {
        let queue = self.queues.get(self.index);
        let entries = queue.peek(BATCH).map_err(|e| format!("queue: {e}"))?;
        if entries.is_empty() {
            return Ok(false);
        }
        let mut docs = Vec::with_capacity(entries.len());
        let mut taken = 0;
        for (_, at, key) in &entries {
            match self.alerts.get(key).map_err(|e| format!("alerts: {e}"))? {
                Some(bytes) => {
                    let stored: Value = serde_json::from_slice(&bytes).map_err(|e| format!("stored alert: {e}"))?;
                    docs.push(Doc { uid: ocsf::uid(&stored), finding: ocsf::finding(&stored), stored });
                }
                // Queued just before its alert is written: this batch ends here, the rest next
                // time.
                None if now().saturating_sub(*at) < ORPHAN_AFTER => break,
                // A leftover of a crash: nothing to send.
                None => {}
            }
            taken += 1;
        }
        if taken == 0 {
            return Ok(false);
        }
        if !docs.is_empty() {
            match self.sink.send(&docs) {
                Ok(()) => {}
                Err(Refused::Retry(why)) => return Err(why),
                Err(Refused::Never(uids, why)) => {
                    let name = &queue.name;
                    eprintln!(
                        "soc-hub: export {name}: {} alerts refused for good ({why}): {}",
                        uids.len(),
                        uids.join(" ")
                    );
                    self.counters.rejected.fetch_add(uids.len() as u64, Ordering::Relaxed);
                }
            }
        }
        queue.remove(entries.into_iter().take(taken).map(|(k, _, _)| k)).map_err(|e| format!("queue: {e}"))?;
        // Durable now: a restart must not send the batch again.
        self.queues.db().flush().map_err(|e| format!("queue: {e}"))?;
        self.counters.sent.fetch_add(docs.len() as u64, Ordering::Relaxed);
        self.counters.last_success.store(now(), Ordering::Relaxed);
        Ok(true)
    }

    fn sleep(&self, d: Duration) {
        let until = std::time::Instant::now() + d;
        while !self.stop.load(Ordering::Relaxed) && std::time::Instant::now() < until {
            std::thread::sleep(IDLE.min(until - std::time::Instant::now()));
        }
    }
}
