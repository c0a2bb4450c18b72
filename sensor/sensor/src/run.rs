//! `sensor run`: live capture from one or more interfaces until SIGINT or SIGTERM.
//!
//! Before any output is opened, each interface gets its capture ([`open_interface`]):
//! - **AF_XDP** (`afxdp`, or `auto` first): the XDP program is attached (native, else generic,
//!   or as `[capture] xdp_mode` says) with the ignored networks, then one AF_XDP socket is bound
//!   per RX queue. If anything is refused, `auto` detaches the program and takes AF_PACKET,
//!   saying why; `afxdp` stops with the error.
//! - **AF_PACKET**: `[capture.afpacket] workers` sockets sharing the interface by flow hash.
//!
//! Then one worker thread per socket ([`work`]), pinned to `[capture] cpus` when given, runs the
//! replay's pipeline on its frames. The workers share one output (the store's single writer
//! and/or JSON lines, [`Shared`]) and one set of detectors, so that a host whose flows land on
//! different queues is judged on all of them; each has its own decoder and flow table, and uid
//! seed. Flows expire by the wall clock. The main thread waits for signals, renders the metrics
//! once a second (`[capture] metrics_listen`, [`crate::metrics`]) and writes a stats line every
//! `[capture] stats_interval`. On the first SIGINT or SIGTERM every worker ends its flows and the
//! output is flushed before exiting (a second signal exits at once); the XDP program is detached
//! when its [`XdpProgram`] is dropped, and by the kernel if the process dies.

use crate::config::{CaptureMethod, Config};
use crate::metrics::{Published, WorkerView, XdpView};
use crate::pipeline::{Bypass, Pipeline};
use crate::replay::{Outputs, Runner, Summary, drive, summarise};
use crate::sync::RunLink;
use anyhow::Context as _;
use sensor_capture::{
    AfPacketSource, AfXdpSource, BypassTable, KernelStats, MAX_RX_QUEUES, PacketSource, Poll, XdpHandles, XdpProgram,
};
use sensor_detect::Detectors;
use sensor_output::{RecordSink, Shared};
use sensor_wire::Timestamp;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Frames handed over per `poll`.
const BATCH: usize = 4096;
/// How often workers expire idle flows by the wall clock and publish their counters, and the
/// metrics text is rendered.
const PUBLISH_EVERY: Duration = Duration::from_secs(1);
/// How often the main thread looks at the stop flag and the workers.
const MONITOR_EVERY: Duration = Duration::from_millis(100);

/// A live source, ready to move to its worker thread.
type LiveSource = Box<dyn PacketSource + Send>;

/// One socket and what its worker needs.
struct Worker {
    iface: String,
    queue: u32,
    source: LiveSource,
    bypass: Option<BypassTable>,
}

/// An interface being captured: its XDP program, when AF_XDP.
struct Interface {
    name: String,
    xdp: Option<XdpProgram>,
}

/// Captures on the configured interfaces until a signal; returns the summary.
pub fn run(cfg: &Config, outputs: &Outputs, uid_seed: u64) -> anyhow::Result<Summary> {
    if cfg.capture.interfaces.is_empty() {
        anyhow::bail!("no interface to capture on: give -i IFACE or `[capture] interfaces`");
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // The first signal asks for a clean stop; a second one, while stopping, exits at once.
        signal_hook::flag::register_conditional_shutdown(signal, 1, stop.clone())
            .and_then(|_| signal_hook::flag::register(signal, stop.clone()))
            .context("cannot install the signal handlers")?;
    }
    // A missing interface is that, not a reason to try another method: all are checked first.
    for name in &cfg.capture.interfaces {
        sensor_capture::interface_index(name)?;
    }
    let mut interfaces = Vec::new();
    let mut workers = Vec::new();
    for name in &cfg.capture.interfaces {
        let (xdp, mut w) = open_interface(name, cfg)?;
        interfaces.push(Interface { name: name.clone(), xdp });
        workers.append(&mut w);
    }
    let feeds = crate::feeds::Feeds::start(&cfg.detect.intel)?;
    let published = Published::default();
    let _metrics = match cfg.capture.metrics_listen {
        Some(addr) => {
            let server = crate::metrics::MetricsServer::start(addr, published.clone())?;
            eprintln!("sensor: metrics at http://{}/metrics", server.addr());
            Some(server)
        }
        None => None,
    };
    let live = Live { workers, interfaces: &interfaces, cfg, uid_seed, feeds: feeds.as_ref(), stop: &stop, published };
    drive(live, cfg, outputs)
}

/// Opens the capture of one interface: AF_XDP or AF_PACKET, as configured.
fn open_interface(iface: &str, cfg: &Config) -> anyhow::Result<(Option<XdpProgram>, Vec<Worker>)> {
    let c = &cfg.capture;
    let addresses = sensor_capture::interface_addresses(iface);
    if !addresses.is_empty() {
        let list: Vec<String> = addresses.iter().map(ToString::to_string).collect();
        eprintln!(
            "sensor: {iface}: warning: the monitor port has addresses ({}): the host may answer and send on it; \
             remove them and turn IPv6 off on it (docs/capture.md)",
            list.join(", ")
        );
    }
    let opened = match c.method {
        CaptureMethod::Afpacket => None,
        CaptureMethod::Afxdp => Some(open_afxdp(iface, cfg)?),
        CaptureMethod::Auto => match open_afxdp(iface, cfg) {
            Ok(opened) => Some(opened),
            Err(e) => {
                eprintln!("sensor: {iface}: AF_XDP is not available ({e:#}); capturing with AF_PACKET instead");
                None
            }
        },
    };
    if let Some((program, workers)) = opened {
        return Ok((Some(program), workers));
    }
    if !c.ignore.is_empty() || c.bypass_after_bytes > 0 {
        eprintln!(
            "sensor: {iface}: AF_PACKET cannot drop in the kernel: the {} ignored networks are analysed and no flow \
             is bypassed",
            c.ignore.len()
        );
    }
    let count = c.afpacket.workers.max(1);
    let mut ring = c.afpacket.source();
    if count > 1 {
        // One group per interface and process: the kernel spreads the interface's flows over the
        // group's sockets.
        ring.fanout_group = Some((std::process::id() as u16).wrapping_add(cfg.capture.interfaces.len() as u16));
    }
    let mut workers = Vec::new();
    for queue in 0..u32::from(count) {
        let source = AfPacketSource::open(iface, &ring)?;
        workers.push(Worker { iface: iface.into(), queue, source: Box::new(source), bypass: None });
    }
    eprintln!(
        "sensor: capturing on {iface} with AF_PACKET ({count} socket{}, TPACKET_V3 ring of {} x {} KiB, promiscuous); \
         SIGINT or SIGTERM stops",
        if count > 1 { "s with fanout" } else { "" },
        ring.blocks,
        ring.block_bytes / 1024
    );
    Ok((None, workers))
}

/// Attaches the XDP program to `iface` and binds a socket to each of its RX queues.
fn open_afxdp(iface: &str, cfg: &Config) -> anyhow::Result<(XdpProgram, Vec<Worker>)> {
    let c = &cfg.capture;
    let program = XdpProgram::attach(iface, c.xdp_mode.mode(), &c.ignore)?;
    for w in program.warnings() {
        eprintln!("sensor: {iface}: warning: {w}");
    }
    if let Some(id) = program.replaced() {
        eprintln!("sensor: {iface}: removed a stale sensor XDP program (id {id}) left by a previous run");
    }
    let handles = program.handles().with_context(|| format!("{iface}: the XDP program's maps"))?;
    let queues = rx_queues(iface)?;
    let settings = &c.afxdp;
    let mut workers = Vec::new();
    let mut zero_copy = true;
    for queue in 0..queues {
        let source = AfXdpSource::open(iface, queue, settings, &handles)?;
        zero_copy &= source.zero_copy();
        let bypass = bypass_table(&handles, c.bypass_after_bytes)?;
        workers.push(Worker { iface: iface.into(), queue, source: Box::new(source), bypass });
    }
    eprintln!(
        "sensor: capturing on {iface} with AF_XDP ({} XDP, {queues} queue{}, {} mode, {} frames of {} bytes per \
         socket, promiscuous); SIGINT or SIGTERM stops",
        program.mode().name(),
        if queues == 1 { "" } else { "s" },
        if zero_copy { "zero-copy" } else { "copy" },
        settings.frames,
        settings.frame_bytes
    );
    Ok((program, workers))
}

fn bypass_table(handles: &XdpHandles, after_bytes: u64) -> anyhow::Result<Option<BypassTable>> {
    if after_bytes == 0 {
        return Ok(None);
    }
    Ok(Some(handles.bypass_table().context("the XDP program's bypass map")?))
}

/// The RX queues of `iface` (`/sys/class/net/IFACE/queues/rx-N`).
fn rx_queues(iface: &str) -> anyhow::Result<u32> {
    let dir = std::path::Path::new("/sys/class/net").join(iface).join("queues");
    let entries = std::fs::read_dir(&dir).with_context(|| format!("{iface}: cannot list its RX queues"))?;
    let count = entries.filter_map(Result::ok).filter(|e| e.file_name().to_string_lossy().starts_with("rx-")).count();
    match u32::try_from(count) {
        Ok(0) => anyhow::bail!("{iface}: no RX queue"),
        Ok(n) if n <= MAX_RX_QUEUES => Ok(n),
        _ => anyhow::bail!("{iface}: {count} RX queues: the XDP program's socket map holds {MAX_RX_QUEUES}"),
    }
}

/// The workers of a live capture, run into one output.
struct Live<'a> {
    workers: Vec<Worker>,
    interfaces: &'a [Interface],
    cfg: &'a Config,
    uid_seed: u64,
    feeds: Option<&'a crate::feeds::Feeds>,
    stop: &'a AtomicBool,
    published: Published,
}

impl Runner for Live<'_> {
    fn run<O: RecordSink + Send>(self, output: O, link: &RunLink) -> anyhow::Result<(Summary, O)> {
        let Live { workers, interfaces, cfg, uid_seed, feeds, stop, published } = self;
        let started = Instant::now();
        let shared = Shared::new(output);
        let detectors = Arc::new(Mutex::new(Detectors::new(&cfg.detect, uid_seed)));
        if let Some(feeds) = feeds {
            detectors.lock().unwrap_or_else(|e| e.into_inner()).set_intel(feeds.handle());
        }
        let views: Vec<Mutex<WorkerView>> = workers
            .iter()
            .map(|w| Mutex::new(WorkerView { iface: w.iface.clone(), queue: w.queue, ..WorkerView::default() }))
            .collect();
        let results = std::thread::scope(|scope| {
            let mut handles = Vec::new();
            for (i, worker) in workers.into_iter().enumerate() {
                let job = Job {
                    cfg,
                    out: shared.clone(),
                    detectors: detectors.clone(),
                    uid_seed: worker_seed(uid_seed, i),
                    cpu: (!cfg.capture.cpus.is_empty()).then(|| cfg.capture.cpus[i % cfg.capture.cpus.len()]),
                    stop,
                    view: &views[i],
                };
                let name = format!("rx-{}-{}", worker.iface, worker.queue);
                match std::thread::Builder::new().name(name).spawn_scoped(scope, move || work(worker, job)) {
                    Ok(h) => handles.push(h),
                    Err(e) => {
                        stop.store(true, Ordering::Relaxed);
                        eprintln!("sensor: cannot start a capture worker: {e}");
                    }
                }
            }
            let watch =
                Watch { interfaces, views: &views, detectors: &detectors, cfg, stop, published: &published, link };
            monitor(&handles, &watch, &shared);
            // One worker failing stops them all.
            stop.store(true, Ordering::Relaxed);
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err(anyhow::anyhow!("a worker panicked"))))
                .collect::<Vec<_>>()
        });
        let mut summary = Summary::default();
        for result in results {
            summary.absorb(result?);
        }
        summary.alerts = detectors.lock().unwrap_or_else(|e| e.into_inner()).stats().alerts;
        summary.xdp = xdp_counters(interfaces).into_iter().map(|x| (x.iface.to_owned(), x.mode, x.counters)).collect();
        let output = shared.into_inner().context("a worker still holds the output")?;
        let out = output.stats();
        (summary.flows, summary.dns, summary.anomalies) = (out.conn, out.dns, out.weird);
        summary.elapsed = started.elapsed();
        Ok((summary, output))
    }
}

/// The uid seed of worker `i`: the run's own for the first, so that a one-queue capture names its
/// flows as a replay of the same packets with the same seed does; distinct for the others.
fn worker_seed(seed: u64, i: usize) -> u64 {
    seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// What the monitor reads and where it publishes.
struct Watch<'a> {
    interfaces: &'a [Interface],
    views: &'a [Mutex<WorkerView>],
    detectors: &'a Mutex<Detectors>,
    cfg: &'a Config,
    stop: &'a AtomicBool,
    /// The Prometheus page.
    published: &'a Published,
    /// The heartbeats' figures.
    link: &'a RunLink,
}

/// Watches the workers until a signal (or one of them ends), publishing the counters.
fn monitor<O: RecordSink, T>(workers: &[std::thread::ScopedJoinHandle<'_, T>], watch: &Watch<'_>, out: &Shared<O>) {
    let Watch { interfaces, views, detectors, cfg, stop, published, link } = *watch;
    let (mut last_publish, mut last_stats) = (Instant::now(), Instant::now());
    while !stop.load(Ordering::Relaxed) && !workers.iter().any(|h| h.is_finished()) {
        std::thread::sleep(MONITOR_EVERY);
        let now = Instant::now();
        let publish = now.duration_since(last_publish) >= PUBLISH_EVERY;
        let log = now.duration_since(last_stats) >= cfg.capture.stats_interval;
        if !publish && !log {
            continue;
        }
        let snapshot: Vec<WorkerView> =
            views.iter().map(|v| v.lock().unwrap_or_else(|e| e.into_inner()).clone()).collect();
        let records = out.stats();
        if let Some(detect) = link.take_detect() {
            detectors.lock().unwrap_or_else(|e| e.into_inner()).reconfigure(&detect);
            eprintln!("sensor: detector settings from the SOC hub applied");
        }
        if publish {
            last_publish = now;
            let rx = snapshot.iter().map(|w| w.pipeline.frames).sum();
            link.publish(rx, snapshot.iter().filter_map(|w| w.kernel).map(|k| k.dropped()).sum());
            let detect = detectors.lock().unwrap_or_else(|e| e.into_inner()).stats();
            published.set(crate::metrics::render(&snapshot, &xdp_counters(interfaces), records, detect));
        }
        if log {
            last_stats = now;
            for w in &snapshot {
                let kernel = w.kernel.map(|k| format!("; kernel {k}")).unwrap_or_default();
                eprintln!(
                    "sensor: {}/{}: rx {} packets {} bytes{kernel}",
                    w.iface, w.queue, w.pipeline.frames, w.pipeline.bytes
                );
            }
            eprintln!(
                "sensor: records conn {} dns {} weird {} alerts {}",
                records.conn, records.dns, records.weird, records.alert
            );
        }
    }
}

/// The XDP program's counters on each AF_XDP interface (an interface whose map cannot be read
/// is left out, not reported as zero).
fn xdp_counters(interfaces: &[Interface]) -> Vec<XdpView<'_>> {
    interfaces
        .iter()
        .filter_map(|i| {
            let xdp = i.xdp.as_ref()?;
            Some(XdpView { iface: &i.name, mode: xdp.mode().name(), counters: xdp.counters().ok()? })
        })
        .collect()
}

/// What a worker thread gets besides its socket.
struct Job<'a, O> {
    cfg: &'a Config,
    out: Shared<O>,
    detectors: Arc<Mutex<Detectors>>,
    uid_seed: u64,
    cpu: Option<usize>,
    stop: &'a AtomicBool,
    view: &'a Mutex<WorkerView>,
}

/// One worker: its socket through a pipeline into the shared output, until `stop`.
fn work<O: RecordSink>(worker: Worker, job: Job<'_, O>) -> anyhow::Result<Summary> {
    let Worker { iface, queue, mut source, bypass } = worker;
    let Job { cfg, out, detectors, uid_seed, cpu, stop, view } = job;
    if let Some(cpu) = cpu {
        pin(cpu).unwrap_or_else(|e| eprintln!("sensor: {iface}/{queue}: warning: cannot pin to CPU {cpu}: {e}"));
    }
    let started = Instant::now();
    let mut pipeline = Pipeline::new(cfg, out, uid_seed);
    pipeline.share_detectors(detectors);
    if let Some(table) = bypass {
        pipeline.set_bypass(Bypass::new(table, cfg.capture.bypass_after_bytes));
    }
    let mut last_publish = Instant::now();
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
        if now.duration_since(last_publish) >= PUBLISH_EVERY {
            last_publish = now;
            pipeline.expire(Timestamp::now());
            *view.lock().unwrap_or_else(|e| e.into_inner()) = snapshot(&iface, queue, &pipeline, source.kernel_stats());
        }
        match poll.with_context(|| format!("{iface}/{queue}"))? {
            Poll::End => break,
            Poll::Delivered(_) | Poll::Idle => {}
        }
        if stop.load(Ordering::Relaxed) {
            break;
        }
    }
    pipeline.finish().context("writing records failed")?;
    let kernel = source.kernel_stats();
    *view.lock().unwrap_or_else(|e| e.into_inner()) = snapshot(&iface, queue, &pipeline, kernel);
    let mut summary = summarise(&mut pipeline, started);
    summary.kernel = kernel.map(|k| (format!("{iface}/{queue}"), k)).into_iter().collect();
    summary.bypass = pipeline.bypass_stats();
    Ok(summary)
}

fn snapshot<O: RecordSink>(iface: &str, queue: u32, p: &Pipeline<O>, kernel: Option<KernelStats>) -> WorkerView {
    WorkerView {
        iface: iface.into(),
        queue,
        pipeline: *p.stats(),
        decode: p.decode_counters().clone(),
        kernel,
        bypass: p.bypass_stats(),
    }
}

/// Pins the calling thread to `cpu`.
fn pin(cpu: usize) -> nix::Result<()> {
    let mut set = nix::sched::CpuSet::new();
    set.set(cpu)?;
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
}
