//! `sensor replay`: capture files through the pipeline into records, with a summary; and
//! [`drive`], which runs any source (files, or a live interface for `sensor run`) into the
//! outputs.

use crate::config::Config;
use crate::control::ControlServer;
use crate::evidence::EvidenceStats;
use crate::pipeline::Pipeline;
use anyhow::Context as _;
use sensor_capture::{KernelStats, MergedFiles, PacketSource, Poll};
use sensor_output::{JsonLines, RecordSink, Tee};
use sensor_store::{Health, Store, WriteStats, Writer};
use sensor_wire::Timestamp;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Frames handed over per `poll`: large enough to amortise the call, small enough to keep
/// progress and error checks timely.
const BATCH: usize = 4096;

/// Inputs smaller than this finish too quickly for a progress bar to help.
const PROGRESS_MIN_BYTES: u64 = 64 << 20;

/// What a replay did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Frames read.
    pub packets: u64,
    /// Bytes read (on-wire lengths).
    pub bytes: u64,
    /// Flows (conn records).
    pub flows: u64,
    /// DNS transactions (dns records).
    pub dns: u64,
    /// Anomalies (weird records).
    pub anomalies: u64,
    /// Alerts raised.
    pub alerts: u64,
    /// Frames the decoder dropped, by reason (only reasons with a count).
    pub drops: Vec<(&'static str, u64)>,
    /// Non-IP frames (ARP, LLDP, …): counted, no flow.
    pub non_ip: u64,
    /// Flows ended early because the flow table was full.
    pub evicted: u64,
    /// What the store did, when writing to one.
    pub store: Option<WriteStats>,
    /// Evidence packets kept.
    pub evidence: EvidenceStats,
    /// The kernel's counters, for a live capture.
    pub kernel: Option<KernelStats>,
    /// Wall-clock time.
    pub elapsed: Duration,
}

impl Summary {
    /// Packets per second over the wall-clock time.
    pub fn packets_per_sec(&self) -> f64 {
        self.packets as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "packets      {:>12}", self.packets)?;
        writeln!(f, "bytes        {:>12}", self.bytes)?;
        writeln!(f, "flows        {:>12}", self.flows)?;
        writeln!(f, "dns          {:>12}", self.dns)?;
        writeln!(f, "anomalies    {:>12}", self.anomalies)?;
        writeln!(f, "alerts       {:>12}", self.alerts)?;
        writeln!(f, "non-ip       {:>12}", self.non_ip)?;
        writeln!(f, "evicted      {:>12}", self.evicted)?;
        if self.drops.is_empty() {
            writeln!(f, "drops        {:>12}", 0)?;
        }
        for (reason, n) in &self.drops {
            writeln!(f, "drops        {n:>12}  {reason}")?;
        }
        if let Some(k) = &self.kernel {
            writeln!(
                f,
                "kernel       {:>12} received, {} dropped, ring full {} times",
                k.received, k.dropped, k.freezes
            )?;
        }
        if self.evidence.flows > 0 {
            let e = &self.evidence;
            writeln!(
                f,
                "evidence     {:>12} flows, {} packets kept, {} over the memory cap",
                e.flows, e.packets, e.over_cap
            )?;
        }
        if let Some(store) = &self.store {
            writeln!(f, "stored       {:>12} blocks, {:.1} MiB", store.blocks, store.bytes as f64 / (1 << 20) as f64)?;
            if store.dropped_records > 0 || store.evicted.records > 0 {
                writeln!(f, "store drops  {:>12} records (disk full or write errors)", store.dropped_records)?;
                writeln!(f, "evicted      {:>12} records (retention)", store.evicted.records)?;
            }
            if store.health != Health::Ok {
                writeln!(f, "store health {:?}", store.health)?;
            }
        }
        write!(f, "elapsed      {:>12.3} s  ({:.0} packets/s)", self.elapsed.as_secs_f64(), self.packets_per_sec())
    }
}

/// Where a replay writes its records.
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    /// The telemetry store's directory.
    pub store: Option<PathBuf>,
    /// A directory for `conn.jsonl`, `dns.jsonl` and `weird.jsonl`.
    pub jsonl: Option<PathBuf>,
}

/// Opens the store in `dir` and a writer on it, and starts answering queries on the store's
/// control socket (a warning, not an error, if that fails: the replay does not need it).
pub fn open_writer(dir: &Path, cfg: &Config) -> anyhow::Result<(Writer, Option<ControlServer>)> {
    let store = Store::open(dir, &cfg.store)?;
    let control = ControlServer::start(store.clone())
        .inspect_err(|e| eprintln!("sensor: warning: {}: no control socket: {e}", dir.display()))
        .ok();
    Ok((Writer::new(store, &cfg.store)?, control))
}

/// Replays `captures` as one timeline into the store and/or JSON lines.
pub fn replay(captures: &[PathBuf], cfg: &Config, outputs: &Outputs, uid_seed: u64) -> anyhow::Result<Summary> {
    let feeds = crate::feeds::Feeds::start(&cfg.detect.intel)?;
    let open = &mut || Ok(Box::new(MergedFiles::open(captures)?) as Box<dyn PacketSource>);
    drive(open, cfg, outputs, uid_seed, feeds.as_ref(), &Drive::Files)
}

/// Replays `captures` into any record sink (no feeds, no progress bar); gives the sink back
/// with the summary.
pub fn replay_into<O: RecordSink>(
    captures: &[PathBuf],
    cfg: &Config,
    output: O,
    uid_seed: u64,
) -> anyhow::Result<(Summary, O)> {
    let open = &mut || Ok(Box::new(MergedFiles::open(captures)?) as Box<dyn PacketSource>);
    Run { open, cfg, uid_seed, feeds: None, how: &Drive::Files }.into(output)
}

/// How a source is driven.
pub enum Drive<'a> {
    /// Capture files: until their end, with a progress bar on a terminal for large inputs.
    Files,
    /// A live interface: until `stop` is set (by SIGINT or SIGTERM); flows and fragments expire
    /// by the wall clock; a stats line on stderr every `stats_every`; the metrics text published
    /// every second.
    Live {
        /// The interface (for the metrics' labels).
        iface: &'a str,
        /// Set when the capture should end.
        stop: &'a AtomicBool,
        /// How often the stats line is written.
        stats_every: Duration,
        /// Where the metrics text goes, when the endpoint is on.
        metrics: Option<&'a crate::metrics::Published>,
    },
}

/// Opens the source.
pub type OpenSource<'a> = &'a mut dyn FnMut() -> anyhow::Result<Box<dyn PacketSource>>;

/// Opens `outputs` (the store and its control socket, JSON lines, or both), then the source
/// (`open`: a FIFO waits for its writer, and the store should answer queries meanwhile), runs it
/// through a pipeline and returns what happened, once the outputs are closed.
pub fn drive(
    open: OpenSource<'_>,
    cfg: &Config,
    outputs: &Outputs,
    uid_seed: u64,
    feeds: Option<&crate::feeds::Feeds>,
    how: &Drive<'_>,
) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let jsonl = |dir: &Path| JsonLines::create(dir).context("cannot create the output logs");
    let run = Run { open, cfg, uid_seed, feeds, how };
    let mut summary = match (&outputs.store, &outputs.jsonl) {
        (Some(store), None) => {
            let (writer, _control) = open_writer(store, cfg)?;
            let (mut summary, writer) = run.into(writer)?;
            summary.store = Some(writer.write_stats().clone());
            summary
        }
        (Some(store), Some(dir)) => {
            let (writer, _control) = open_writer(store, cfg)?;
            let tee = Tee { first: writer, second: jsonl(dir)? };
            let (mut summary, tee) = run.into(tee)?;
            summary.store = Some(tee.first.write_stats().clone());
            summary
        }
        (None, Some(dir)) => run.into(jsonl(dir)?)?.0,
        (None, None) => anyhow::bail!("nothing to write to: give a store or a directory for JSON lines"),
    };
    // Closing the outputs (the logs, the store) is part of the time.
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Everything a pipeline run needs besides its output.
struct Run<'a, 'b> {
    open: OpenSource<'a>,
    cfg: &'a Config,
    uid_seed: u64,
    feeds: Option<&'a crate::feeds::Feeds>,
    how: &'a Drive<'b>,
}

impl Run<'_, '_> {
    /// Runs the source into `output`; gives the output back with the summary.
    fn into<O: RecordSink>(self, output: O) -> anyhow::Result<(Summary, O)> {
        let Run { open, cfg, uid_seed, feeds, how } = self;
        let started = Instant::now();
        let mut source = open()?;
        let bar = if matches!(how, Drive::Files) { progress_bar(&*source) } else { None };
        let mut pipeline = Pipeline::new(cfg, output, uid_seed);
        if let Some(feeds) = feeds {
            pipeline.set_intel(feeds.handle());
        }
        let mut last_stats = Instant::now();
        let mut last_expiry = Instant::now();
        loop {
            let poll = source.poll(BATCH, &mut |frame| pipeline.frame(&frame));
            for anomaly in source.take_anomalies() {
                pipeline.capture_anomaly(&anomaly);
            }
            let now = Instant::now();
            pipeline.tick(now);
            if let Some(e) = pipeline.take_error() {
                return Err(e).context("writing records failed");
            }
            match how {
                Drive::Files => {
                    if let Some(bar) = &bar {
                        bar.set_position(source.progress().0);
                    }
                }
                Drive::Live { iface, stop, stats_every, metrics } => {
                    if now.duration_since(last_expiry) >= EXPIRY_EVERY {
                        last_expiry = now;
                        pipeline.expire(wall_clock());
                        if let Some(m) = metrics {
                            m.set(crate::metrics::render(iface, &pipeline, source.kernel_stats()));
                        }
                    }
                    if now.duration_since(last_stats) >= *stats_every {
                        last_stats = now;
                        eprintln!("sensor: {}", stats_line(&pipeline, source.kernel_stats()));
                    }
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                }
            }
            match poll? {
                Poll::End => break,
                Poll::Delivered(_) | Poll::Idle => {}
            }
        }
        pipeline.finish().context("writing records failed")?;
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        let mut summary = summarise(&pipeline, started);
        summary.kernel = source.kernel_stats();
        Ok((summary, pipeline.into_output()))
    }
}

/// How often a live capture expires idle flows and fragments by the wall clock (and publishes
/// its metrics).
const EXPIRY_EVERY: Duration = Duration::from_secs(1);

/// Now, as a capture timestamp (live frames carry the kernel's wall-clock time).
fn wall_clock() -> Timestamp {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Timestamp(since.as_nanos() as u64)
}

/// One line of live counters.
fn stats_line<O: RecordSink>(pipeline: &Pipeline<O>, kernel: Option<KernelStats>) -> String {
    let p = pipeline.stats();
    let out = pipeline.output().stats();
    let mut line = format!(
        "rx {} packets {} bytes; records conn {} dns {} weird {} alerts {}",
        p.frames, p.bytes, out.conn, out.dns, out.weird, out.alert
    );
    if let Some(k) = kernel {
        line.push_str(&format!("; kernel received {} dropped {} ring full {} times", k.received, k.dropped, k.freezes));
    }
    line
}

/// The summary of a finished pipeline.
fn summarise<O: RecordSink>(pipeline: &Pipeline<O>, started: Instant) -> Summary {
    let decode = pipeline.decode_counters();
    let drops = sensor_wire::DropReason::ALL
        .into_iter()
        .map(|r| (r.name(), decode.dropped.get(r)))
        .filter(|&(_, n)| n > 0)
        .collect();
    let out = pipeline.output().stats();
    Summary {
        packets: pipeline.stats().frames,
        bytes: pipeline.stats().bytes,
        flows: out.conn,
        dns: out.dns,
        anomalies: out.weird,
        alerts: pipeline.detect_stats().alerts,
        drops,
        non_ip: decode.non_ip,
        evicted: pipeline.stats().flows_evicted,
        store: None,
        evidence: pipeline.evidence_stats(),
        kernel: None,
        elapsed: started.elapsed(),
    }
}

fn progress_bar(source: &dyn PacketSource) -> Option<indicatif::ProgressBar> {
    let total = source.progress().1?;
    if total < PROGRESS_MIN_BYTES || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({eta})",
    ) {
        bar.set_style(style);
    }
    Some(bar)
}
