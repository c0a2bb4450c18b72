//! `sensor run`: live capture from an interface into the pipeline, until SIGINT or SIGTERM.
//!
//! The interface comes from `-i` or `[capture] interfaces`; the capture method from `--capture`
//! or `[capture] method`. AF_PACKET (TPACKET_V3) is built; AF_XDP is the next step (`auto`
//! takes AF_PACKET until then, and says so). Records go where a replay's go (the store, JSON
//! lines); flows expire by the wall clock; a stats line goes to stderr every
//! `[capture] stats_interval`, and the same counters to the Prometheus endpoint
//! (`[capture] metrics_listen`, [`crate::metrics`]); on the first SIGINT or SIGTERM every flow is ended, every record
//! written and the outputs flushed before exiting (a second signal exits at once).

use crate::config::{CaptureMethod, Config};
use crate::replay::{Drive, Outputs, Summary, drive};
use anyhow::Context as _;
use sensor_capture::AfPacketSource;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Captures on the configured interface until a signal; returns the summary.
pub fn run(cfg: &Config, outputs: &Outputs, uid_seed: u64) -> anyhow::Result<Summary> {
    let iface = match cfg.capture.interfaces.as_slice() {
        [one] => one,
        [] => anyhow::bail!("no interface to capture on: give -i IFACE or `[capture] interfaces`"),
        more => anyhow::bail!(
            "{} interfaces configured: one `sensor run` captures one interface for now (run one per interface)",
            more.len()
        ),
    };
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // The first signal asks for a clean stop; a second one, while stopping, exits at once.
        signal_hook::flag::register_conditional_shutdown(signal, 1, stop.clone())
            .and_then(|_| signal_hook::flag::register(signal, stop.clone()))
            .context("cannot install the signal handlers")?;
    }
    let feeds = crate::feeds::Feeds::start(&cfg.detect.intel)?;
    let ring = cfg.capture.afpacket.source();
    if cfg.capture.method == CaptureMethod::Auto {
        eprintln!("sensor: capture method auto: AF_XDP is not built yet, using AF_PACKET");
    }
    let open = &mut || {
        let source = AfPacketSource::open(iface, &ring)?;
        eprintln!(
            "sensor: capturing on {iface} with AF_PACKET (TPACKET_V3 ring of {} x {} KiB, promiscuous); \
             SIGINT or SIGTERM stops",
            ring.blocks,
            ring.block_bytes / 1024
        );
        Ok(Box::new(source) as Box<dyn sensor_capture::PacketSource>)
    };
    let published = crate::metrics::Published::default();
    let _metrics = match cfg.capture.metrics_listen {
        Some(addr) => {
            let server = crate::metrics::MetricsServer::start(addr, published.clone())?;
            eprintln!("sensor: metrics at http://{}/metrics", server.addr());
            Some(server)
        }
        None => None,
    };
    let how = Drive::Live {
        iface,
        stop: &stop,
        stats_every: cfg.capture.stats_interval,
        metrics: cfg.capture.metrics_listen.map(|_| &published),
    };
    drive(open, cfg, outputs, uid_seed, feeds.as_ref(), &how)
}
