//! `sensor replay`: capture files through the pipeline into records, with a summary; and
//! [`drive`], which runs any source (files, or a live interface for `sensor run`) into the
//! outputs.

use crate::config::Config;
use crate::control::ControlServer;
use crate::evidence::EvidenceStats;
use crate::pipeline::Pipeline;
use crate::sync::{RunLink, WithHub};
use anyhow::Context as _;
use sensor_capture::{KernelStats, MergedFiles, PacketSource, Poll};
use sensor_output::{JsonLines, RecordSink, Tee};
use sensor_store::{Health, Store, WriteStats, Writer};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
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
    /// The kernel's counters of each socket of a live capture (`IFACE/QUEUE` or `IFACE`).
    pub kernel: Vec<(String, KernelStats)>,
    /// The XDP program's counters per interface of a live AF_XDP capture, with its mode.
    pub xdp: Vec<(String, &'static str, sensor_capture::SensorCounters)>,
    /// Flows bypassed in the kernel.
    pub bypass: crate::pipeline::BypassStats,
    /// Wall-clock time.
    pub elapsed: Duration,
}

impl Summary {
    /// Adds what another worker of the same capture received (records are counted once, by
    /// the shared output, so they are not added).
    pub fn absorb(&mut self, other: Summary) {
        self.packets += other.packets;
        self.bytes += other.bytes;
        self.non_ip += other.non_ip;
        self.evicted += other.evicted;
        for (reason, n) in other.drops {
            match self.drops.iter_mut().find(|(r, _)| *r == reason) {
                Some((_, total)) => *total += n,
                None => self.drops.push((reason, n)),
            }
        }
        self.evidence.flows += other.evidence.flows;
        self.evidence.packets += other.evidence.packets;
        self.evidence.over_cap += other.evidence.over_cap;
        self.evidence.bytes += other.evidence.bytes;
        self.kernel.extend(other.kernel);
        self.bypass.flows += other.bypass.flows;
        self.bypass.refused += other.bypass.refused;
    }

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
        for (queue, k) in &self.kernel {
            writeln!(f, "kernel       {queue:>12}  {k}")?;
        }
        for (iface, mode, c) in &self.xdp {
            writeln!(
                f,
                "xdp          {iface:>12}  {mode}: {} seen, {} redirected, {} ignored, {} bypassed, {} passed, {} malformed",
                c.seen, c.redirected, c.dropped_by_filter, c.bypassed, c.passed, c.errors
            )?;
        }
        if self.bypass.flows > 0 || self.bypass.refused > 0 {
            writeln!(f, "bypassed     {:>12} flows ({} refused: table full)", self.bypass.flows, self.bypass.refused)?;
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
    /// An enrolled data directory: alerts also go to its hub.
    pub data: Option<PathBuf>,
    /// How long to wait, at the end, for the hub to acknowledge every alert.
    pub sync_timeout: Duration,
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
    drive(Files { open, cfg, uid_seed, feeds: feeds.as_ref(), progress: true }, cfg, outputs)
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
    Files { open, cfg, uid_seed, feeds: None, progress: false }.run_into(output, &RunLink::default())
}

/// Runs a source, or several, into an output and gives the output back with the summary:
/// [`Files`] for a replay, `crate::run::Live` for live capture.
pub trait Runner {
    /// Runs into `output`, publishing its packet counts in `link` as it goes.
    fn run<O: RecordSink + Send>(self, output: O, link: &RunLink) -> anyhow::Result<(Summary, O)>;
}

/// Opens the source.
pub type OpenSource<'a> = &'a mut dyn FnMut() -> anyhow::Result<Box<dyn PacketSource>>;

/// Opens `outputs` (the store and its control socket, JSON lines, or both), then runs `runner`
/// into them (which opens its sources: a FIFO waits for its writer, and the store should answer
/// queries meanwhile), and returns what happened, once the outputs are closed.
pub fn drive(runner: impl Runner, cfg: &Config, outputs: &Outputs) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let jsonl = |dir: &Path| JsonLines::create(dir).context("cannot create the output logs");
    let store = outputs.store.as_deref().map(|dir| open_writer(dir, cfg)).transpose()?;
    let link = Arc::new(RunLink::default());
    let hub = match &outputs.data {
        Some(dir) => {
            let local = crate::sync::Local {
                data: dir.clone(),
                detect: std::sync::Mutex::new(cfg.detect.clone()),
                store: store.as_ref().map(|(writer, _)| writer.store().clone()),
                link: link.clone(),
            };
            Some(crate::sync::ToHub::start(dir, local)?)
        }
        None => None,
    };
    let mut summary = match (store, &outputs.jsonl) {
        (Some((writer, _control)), None) => {
            let (mut summary, out) = runner.run(WithHub { inner: writer, hub: hub.clone() }, &link)?;
            summary.store = Some(out.inner.write_stats().clone());
            summary
        }
        (Some((writer, _control)), Some(dir)) => {
            let tee = Tee { first: writer, second: jsonl(dir)? };
            let (mut summary, out) = runner.run(WithHub { inner: tee, hub: hub.clone() }, &link)?;
            summary.store = Some(out.inner.first.write_stats().clone());
            summary
        }
        (None, Some(dir)) => runner.run(WithHub { inner: jsonl(dir)?, hub: hub.clone() }, &link)?.0,
        (None, None) => anyhow::bail!("nothing to write to: give a store or a directory for JSON lines"),
    };
    if let Some(hub) = &hub {
        hub.drain(outputs.sync_timeout)?;
    }
    // Closing the outputs (the logs, the store) is part of the time.
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Capture files through one pipeline, until their end.
pub struct Files<'a> {
    /// Opens the merged files.
    pub open: OpenSource<'a>,
    /// The configuration.
    pub cfg: &'a Config,
    /// Seed of the uids.
    pub uid_seed: u64,
    /// Threat-intelligence feeds, if loaded.
    pub feeds: Option<&'a crate::feeds::Feeds>,
    /// A progress bar on a terminal for large inputs.
    pub progress: bool,
}

impl Runner for Files<'_> {
    fn run<O: RecordSink + Send>(self, output: O, link: &RunLink) -> anyhow::Result<(Summary, O)> {
        self.run_into(output, link)
    }
}

impl Files<'_> {
    /// Runs into `output`, which need not be `Send` (one thread).
    fn run_into<O: RecordSink>(self, output: O, link: &RunLink) -> anyhow::Result<(Summary, O)> {
        let Files { open, cfg, uid_seed, feeds, progress } = self;
        let started = Instant::now();
        let mut source = open()?;
        let bar = if progress { progress_bar(&*source) } else { None };
        let mut pipeline = Pipeline::new(cfg, output, uid_seed);
        if let Some(feeds) = feeds {
            pipeline.set_intel(feeds.handle());
        }
        loop {
            let poll = source.poll(BATCH, &mut |frame| pipeline.frame(&frame));
            for anomaly in source.take_anomalies() {
                pipeline.capture_anomaly(&anomaly);
            }
            pipeline.tick(Instant::now());
            link.publish(pipeline.stats().frames, 0);
            if let Some(detect) = link.take_detect() {
                pipeline.reconfigure_detectors(&detect);
            }
            if let Some(e) = pipeline.take_error() {
                return Err(e).context("writing records failed");
            }
            if let Some(bar) = &bar {
                bar.set_position(source.progress().0);
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
        let mut summary = summarise(&mut pipeline, started);
        let out = pipeline.output().stats();
        (summary.flows, summary.dns, summary.anomalies) = (out.conn, out.dns, out.weird);
        Ok((summary, pipeline.into_output()))
    }
}

/// The summary of a finished pipeline: what it received and decoded (the records written are
/// the output's, which several pipelines may share: the caller fills them in).
pub fn summarise<O: RecordSink>(pipeline: &mut Pipeline<O>, started: Instant) -> Summary {
    let decode = pipeline.decode_counters();
    let drops = sensor_wire::DropReason::ALL
        .into_iter()
        .map(|r| (r.name(), decode.dropped.get(r)))
        .filter(|&(_, n)| n > 0)
        .collect();
    let non_ip = decode.non_ip;
    Summary {
        packets: pipeline.stats().frames,
        bytes: pipeline.stats().bytes,
        drops,
        non_ip,
        evicted: pipeline.stats().flows_evicted,
        evidence: pipeline.evidence_stats(),
        alerts: pipeline.detect_stats().alerts,
        elapsed: started.elapsed(),
        ..Summary::default()
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
