//! `sensor replay`: capture files through the pipeline into records, with a summary.

use crate::config::Config;
use crate::pipeline::Pipeline;
use anyhow::Context as _;
use sensor_capture::{MergedFiles, PacketSource, Poll};
use sensor_output::{JsonLines, RecordSink};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
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
    /// Frames the decoder dropped, by reason (only reasons with a count).
    pub drops: Vec<(&'static str, u64)>,
    /// Non-IP frames (ARP, LLDP, …): counted, no flow.
    pub non_ip: u64,
    /// Flows ended early because the flow table was full.
    pub evicted: u64,
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
        writeln!(f, "non-ip       {:>12}", self.non_ip)?;
        writeln!(f, "evicted      {:>12}", self.evicted)?;
        if self.drops.is_empty() {
            writeln!(f, "drops        {:>12}", 0)?;
        }
        for (reason, n) in &self.drops {
            writeln!(f, "drops        {n:>12}  {reason}")?;
        }
        write!(f, "elapsed      {:>12.3} s  ({:.0} packets/s)", self.elapsed.as_secs_f64(), self.packets_per_sec())
    }
}

/// Replays `captures` as one timeline into JSON lines in `out_dir`.
pub fn replay(captures: &[PathBuf], cfg: &Config, out_dir: &Path, uid_seed: u64) -> anyhow::Result<Summary> {
    let output = JsonLines::create(out_dir).context("cannot create the output logs")?;
    replay_into(captures, cfg, output, uid_seed)
}

/// Replays `captures` into any record sink.
pub fn replay_into<O: RecordSink>(
    captures: &[PathBuf],
    cfg: &Config,
    output: O,
    uid_seed: u64,
) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let mut source = MergedFiles::open(captures)?;
    let mut pipeline = Pipeline::new(cfg, output, uid_seed);
    let bar = progress_bar(&source);
    loop {
        let poll = source.poll(BATCH, &mut |frame| pipeline.frame(&frame));
        for anomaly in source.take_anomalies() {
            pipeline.capture_anomaly(&anomaly);
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
    let decode = pipeline.decode_counters();
    let drops = [
        sensor_wire::DropReason::TruncatedLink,
        sensor_wire::DropReason::MalformedIp,
        sensor_wire::DropReason::MalformedTransport,
        sensor_wire::DropReason::BadFragment,
        sensor_wire::DropReason::TooDeep,
        sensor_wire::DropReason::UnsupportedLink,
    ]
    .into_iter()
    .map(|r| (r.name(), decode.dropped.get(r)))
    .filter(|&(_, n)| n > 0)
    .collect();
    let out = pipeline.output().stats();
    let mut summary = Summary {
        packets: pipeline.stats().frames,
        bytes: pipeline.stats().bytes,
        flows: out.conn,
        dns: out.dns,
        anomalies: out.weird,
        drops,
        non_ip: decode.non_ip,
        evicted: pipeline.stats().flows_evicted,
        elapsed: Duration::ZERO,
    };
    drop(pipeline); // closes the logs: part of the time
    summary.elapsed = started.elapsed();
    Ok(summary)
}

fn progress_bar(source: &MergedFiles) -> Option<indicatif::ProgressBar> {
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
