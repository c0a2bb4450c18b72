//! The per-worker pipeline: decode → flows → analysers → records → detectors, run to completion
//! per frame.
//!
//! One [`Pipeline`] per capture queue or replay, owning its decoder and flow table. A replay's
//! pipeline owns its detectors and output too; the workers of a live capture share one output
//! and one set of detectors ([`Detect::Shared`]), so that a host whose flows land on several
//! queues is still judged on all of them. The same pipeline serves replay and live capture.
//! Every DNS transaction and every ended connection goes to the detectors right after its record
//! is written; an alert raised on a DNS transaction also starts keeping that flow's packets as
//! evidence.

use crate::config::Config;
use crate::evidence::{Evidence, EvidenceFilter};
use ipnet::IpNet;
use sensor_analyzers::dns::{DnsConfig, DnsFlow, DnsRecord, DnsSink, DnsTransport, is_dns_port};
use sensor_capture::{CaptureAnomaly, Frame};
use sensor_detect::{Alert, AlertSink, ConnSeen, DetectStats, Detectors, DnsSeen, FlowSeen};
use sensor_flow::{EndReason, Flow, FlowSink, FlowTable, Uid, community_id, uid};
use sensor_output::{ConnId, ConnRecord, DnsRecordLine, OutputError, RecordSink, WeirdRecord};
use sensor_wire::{Anomaly, Decode, DecodeCounters, FrameDecoder, LinkType, Timestamp, Transport};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The detectors a pipeline feeds: its own (replay), or one set shared by a live capture's
/// workers.
pub enum Detect {
    /// This pipeline's alone: no lock.
    Own(Box<Detectors>),
    /// Shared between workers.
    Shared(Arc<Mutex<Detectors>>),
}

impl Detect {
    /// Runs `f` on the detectors.
    fn with<R>(&mut self, f: impl FnOnce(&mut Detectors) -> R) -> R {
        match self {
            Detect::Own(d) => f(d),
            // A worker that panicked while holding the lock left the detectors usable: their
            // state is only counters and tables.
            Detect::Shared(d) => f(&mut d.lock().unwrap_or_else(|e| e.into_inner())),
        }
    }
}

/// Sheds flows user space has seen enough of: once a flow (TCP, UDP or SCTP, not DNS, not kept
/// as evidence) has carried `after_bytes` IP bytes, the XDP program drops the rest of it in the
/// kernel. The flow stays in the table while the kernel still sees its packets, and its kernel
/// entry is removed when it ends.
pub struct Bypass {
    table: sensor_capture::BypassTable,
    after_bytes: u64,
    /// Inactivity is measured on the kernel's clock for bypassed flows (CLOCK_MONOTONIC).
    stats: BypassStats,
}

/// What the bypass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BypassStats {
    /// Flows handed to the kernel.
    pub flows: u64,
    /// Inserts the kernel refused (table full).
    pub refused: u64,
}

impl Bypass {
    /// Bypasses flows past `after_bytes` through `table`.
    pub fn new(table: sensor_capture::BypassTable, after_bytes: u64) -> Bypass {
        Bypass { table, after_bytes, stats: BypassStats::default() }
    }

    fn key<S>(flow: &Flow<S>) -> Option<sensor_capture::SensorFlowKey> {
        let k = flow.key();
        matches!(k.proto, 6 | 17 | 132)
            .then(|| sensor_capture::SensorFlowKey::new(k.orig_h, k.resp_h, k.orig_p, k.resp_p, k.proto))
    }
}

/// Weirds of one name (per flow, or per name for weirds outside flows) logged before sampling
/// starts: Zeek's `Weird::sampling_threshold`.
const WEIRD_SAMPLING_THRESHOLD: u64 = 25;
/// Past the threshold, one weird in this many is logged: Zeek's `Weird::sampling_rate`. Bounds
/// the weird log when an attacker (or a tunnel) makes every packet odd.
const WEIRD_SAMPLING_RATE: u64 = 1000;
/// How long the counters of weirds outside flows last: Zeek's `Weird::sampling_duration`.
const WEIRD_SAMPLING_DURATION: Duration = Duration::from_secs(600);

/// Whether the `count`-th weird (1-based) of a kind is logged.
fn weird_sampled_in(count: u64) -> bool {
    count <= WEIRD_SAMPLING_THRESHOLD || count.is_multiple_of(WEIRD_SAMPLING_RATE)
}

/// Application protocols the analysers confirm (Zeek's `service`): one byte per flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Service {
    /// None identified.
    #[default]
    Unknown,
    /// DNS.
    Dns,
}

impl Service {
    fn name(self) -> Option<&'static str> {
        match self {
            Service::Unknown => None,
            Service::Dns => Some("dns"),
        }
    }
}

/// What the analysers keep per flow: 8 bytes, since it is multiplied by a million flows, so an
/// analyser's state lives in a box made when the flow turns out to carry its protocol.
#[derive(Default)]
pub struct AppState {
    dns: Option<Box<DnsState>>,
}

// docs/PERFORMANCE.md budgets 1,000,000 flows: keep the per-flow state from silently growing.
const _: () = assert!(size_of::<AppState>() == 8);

impl AppState {
    /// The application protocol confirmed on this flow (Zeek's `service`).
    fn service(&self) -> Service {
        match &self.dns {
            Some(dns) if dns.confirmed => Service::Dns,
            _ => Service::Unknown,
        }
    }
}

/// A flow's DNS analyser and what the pipeline keeps beside it.
struct DnsState {
    analyser: DnsFlow,
    /// The flow's uid, made once: every DNS record and weird of the flow carries it.
    uid: Uid,
    /// A DNS message was logged: the flow's service is `dns`.
    confirmed: bool,
    /// DNS weirds raised on this flow, for sampling (saturates).
    weirds: u16,
}

/// Counters of the pipeline itself (the decoder, flow table and output keep their own).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PipelineStats {
    /// Frames received.
    pub frames: u64,
    /// Bytes received (on-wire lengths).
    pub bytes: u64,
    /// Flows ended, by reason.
    pub flows_ended: u64,
    /// Of `flows_ended`, evicted because the table was full.
    pub flows_evicted: u64,
    /// Anomalies of the capture files themselves.
    pub capture_anomalies: u64,
    /// Weirds not logged because of sampling (Zeek's `Weird::sampling_*`).
    pub weirds_sampled_out: u64,
}

/// Everything a flow's end or an analyser needs besides the flow table.
struct Context<O> {
    out: O,
    stats: PipelineStats,
    uid_seed: u64,
    local_nets: Vec<IpNet>,
    peer: String,
    /// Weirds outside flows, per name: (count, when counting started).
    net_weirds: HashMap<&'static str, (u64, Timestamp)>,
    /// The first output error; the pipeline stops writing once one happened.
    error: Option<OutputError>,
    /// Packets kept of flows selected for evidence.
    evidence: Evidence,
    /// The detectors.
    detect: Detect,
    /// Flows shed in the kernel, for a live AF_XDP capture.
    bypass: Option<Bypass>,
}

/// Where the detectors' alerts go: the output, and the evidence of the flow that raised them.
struct AlertOut<'a, O> {
    out: &'a mut O,
    error: &'a mut Option<OutputError>,
    evidence: &'a mut Evidence,
    /// The flow whose record raised the alert, if it is still live.
    flow: Option<u64>,
}

impl<O: RecordSink> AlertSink for AlertOut<'_, O> {
    fn alert(&mut self, alert: &Alert) {
        if let Err(e) = self.out.alert(alert) {
            self.error.get_or_insert(e);
        }
        if let Some(serial) = self.flow {
            self.evidence.select(serial);
        }
    }
}

impl<O: RecordSink> Context<O> {
    fn record(&mut self, result: Result<(), OutputError>) {
        if let Err(e) = result {
            self.error.get_or_insert(e);
        }
    }

    /// Samples a weird outside any flow, per name.
    fn net_weird_sampled_in(&mut self, ts: Timestamp, name: &'static str) -> bool {
        let (count, since) = self.net_weirds.entry(name).or_insert((0, ts));
        if ts.since(*since) >= WEIRD_SAMPLING_DURATION {
            *count = 0;
            *since = ts;
        }
        *count += 1;
        let keep = weird_sampled_in(*count);
        if !keep {
            self.stats.weirds_sampled_out += 1;
        }
        keep
    }

    fn is_local(&self, addr: &core::net::IpAddr) -> bool {
        self.local_nets.iter().any(|n| n.contains(addr))
    }

    fn weird(
        &mut self,
        ts: Timestamp,
        uid: Option<&str>,
        id: Option<ConnId>,
        name: &str,
        addl: Option<&str>,
        source: &'static str,
    ) {
        let rec = WeirdRecord { ts, uid, id, name, addl, notice: false, peer: &self.peer, source };
        let result = self.out.weird(&rec);
        self.record(result);
    }
}

fn conn_id<S>(flow: &Flow<S>) -> ConnId {
    let key = flow.key();
    ConnId { orig_h: key.orig_h, orig_p: key.orig_p, resp_h: key.resp_h, resp_p: key.resp_p }
}

/// Writes a flow's DNS transactions with the flow's identity.
struct DnsOut<'a, O> {
    ctx: &'a mut Context<O>,
    id: ConnId,
    serial: u64,
    /// [`DnsState::uid`].
    uid: &'a Uid,
    proto: &'static str,
    /// [`DnsState::confirmed`].
    confirmed: &'a mut bool,
    /// [`DnsState::weirds`].
    weirds: &'a mut u16,
    /// The analyser found the first message was a response from the originator: the flow's
    /// roles must be swapped (Zeek flips the connection).
    flipped: bool,
    /// The flow goes on after this (it is not ending): its packets can still be kept.
    live: bool,
}

impl<O: RecordSink> DnsSink for DnsOut<'_, O> {
    fn record(&mut self, rec: &DnsRecord) {
        *self.confirmed = true;
        let uid = self.uid;
        let line = DnsRecordLine { uid, id: self.id, proto: self.proto, rec: Cow::Borrowed(rec) };
        let result = self.ctx.out.dns(&line);
        self.ctx.record(result);
        let seen = DnsSeen { uid, client: self.id.orig_h, server: self.id.resp_h, server_port: self.id.resp_p, rec };
        let flow = self.live.then_some(self.serial);
        let Context { out, error, evidence, detect, .. } = &mut *self.ctx;
        detect.with(|d| d.dns(&seen, &mut AlertOut { out, error, evidence, flow }));
    }

    fn weird(&mut self, ts: Timestamp, name: &'static str, addl: Option<&str>) {
        *self.weirds = self.weirds.saturating_add(1);
        if !weird_sampled_in(u64::from(*self.weirds)) {
            self.ctx.stats.weirds_sampled_out += 1;
            return;
        }
        self.ctx.weird(ts, Some(self.uid), Some(self.id), name, addl, "dns");
    }

    fn roles_flipped(&mut self, _: Timestamp) {
        let ConnId { orig_h, orig_p, resp_h, resp_p } = self.id;
        self.id = ConnId { orig_h: resp_h, orig_p: resp_p, resp_h: orig_h, resp_p: orig_p };
        self.flipped = !self.flipped;
    }
}

impl<O: RecordSink> FlowSink<AppState> for Context<O> {
    fn ended(&mut self, mut flow: Flow<AppState>, reason: EndReason) {
        self.stats.flows_ended += 1;
        if reason == EndReason::Evicted {
            self.stats.flows_evicted += 1;
        }
        let id = conn_id(&flow);
        let (proto, serial) = (flow.proto_name(), flow.serial);
        if let Some(DnsState { analyser, uid, confirmed, weirds }) = flow.app.dns.as_deref_mut() {
            let mut out = DnsOut { ctx: self, id, serial, uid, proto, confirmed, weirds, flipped: false, live: false };
            analyser.finish(&mut out);
        }
        let uid = uid(self.uid_seed, flow.serial);
        let mut stored = Ok(());
        self.evidence.flow_ended(flow.serial, &uid, id, |rec| stored = self.out.evidence(rec));
        self.record(stored);
        let key = flow.key();
        let community = community_id(&key, 0);
        let duration = flow.duration();
        let has_duration = !duration.is_zero();
        let rec = ConnRecord {
            ts: flow.start,
            uid: &uid,
            id,
            proto: flow.proto_name(),
            service: flow.app.service().name(),
            duration: has_duration.then_some(duration),
            orig_bytes: has_duration.then(|| flow.orig_bytes()),
            resp_bytes: has_duration.then(|| flow.resp_bytes()),
            conn_state: flow.conn_state(),
            local_orig: self.is_local(&key.orig_h),
            local_resp: self.is_local(&key.resp_h),
            missed_bytes: flow.missed_bytes,
            history: &flow.history.letters(),
            orig_pkts: flow.orig.pkts,
            orig_ip_bytes: flow.orig.ip_bytes,
            resp_pkts: flow.resp.pkts,
            resp_ip_bytes: flow.resp.ip_bytes,
            ip_proto: key.proto,
            community_id: Cow::Borrowed(&community),
            vlan: key.vlan,
            inner_vlan: key.inner_vlan,
        };
        let result = self.out.conn(&rec);
        self.record(result);
        let seen = ConnSeen {
            ts: rec.ts,
            uid: &uid,
            orig_h: key.orig_h,
            resp_h: key.resp_h,
            resp_p: key.resp_p,
            ip_proto: key.proto,
            orig_bytes: flow.orig_bytes(),
            resp_bytes: flow.resp_bytes(),
            orig_syn: rec.history.starts_with('S'),
        };
        let Context { out, error, evidence, detect, .. } = self;
        detect.with(|d| d.conn(&seen, &mut AlertOut { out, error, evidence, flow: None }));
        if let Some(b) = &mut self.bypass
            && flow.orig.ip_bytes + flow.resp.ip_bytes >= b.after_bytes
            && let Some(key) = Bypass::key(&flow)
        {
            // Gone from user space: the kernel must deliver the 5-tuple again.
            b.table.remove(&key);
        }
    }

    /// A bypassed flow's packets are dropped in the kernel, which notes when it saw the last.
    fn seen_elsewhere(&mut self, flow: &Flow<AppState>) -> Option<Timestamp> {
        let b = self.bypass.as_ref()?;
        if flow.orig.ip_bytes + flow.resp.ip_bytes < b.after_bytes {
            return None;
        }
        let last_ns = b.table.get(&Bypass::key(flow)?)?.last_seen_ns;
        let now_ns = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).ok()?;
        let now_ns = u64::try_from(now_ns.tv_sec()).ok()? * 1_000_000_000 + u64::try_from(now_ns.tv_nsec()).ok()?;
        let ago = Duration::from_nanos(now_ns.saturating_sub(last_ns));
        (last_ns > 0).then(|| Timestamp::now().sub(ago))
    }

    fn weird(&mut self, flow: &Flow<AppState>, name: &'static str) {
        let uid = uid(self.uid_seed, flow.serial);
        self.weird(flow.last, Some(&uid), Some(conn_id(flow)), name, None, "flow");
    }
}

/// One worker's pipeline.
pub struct Pipeline<O: RecordSink> {
    decoder: FrameDecoder,
    flows: FlowTable<AppState>,
    ctx: Context<O>,
    dns: DnsConfig,
    anomalies: Vec<Anomaly>,
    last_ts: Timestamp,
}

impl<O: RecordSink> Pipeline<O> {
    /// A pipeline writing to `out`. `uid_seed` makes uids unique across runs and workers.
    pub fn new(cfg: &Config, out: O, uid_seed: u64) -> Pipeline<O> {
        // Filters were checked when the configuration was read.
        let evidence = match out.keeps_evidence() {
            true => Evidence::new(&cfg.evidence, EvidenceFilter::parse(&cfg.evidence.filters).unwrap_or_default()),
            false => Evidence::none(),
        };
        Pipeline {
            decoder: FrameDecoder::new(cfg.fragments.decoder()),
            flows: FlowTable::new(cfg.flows.table()),
            ctx: Context {
                out,
                stats: PipelineStats::default(),
                uid_seed,
                local_nets: cfg.site.local_nets.clone(),
                peer: cfg.site.sensor_name.clone(),
                net_weirds: HashMap::new(),
                error: None,
                evidence,
                detect: Detect::Own(Box::new(Detectors::new(&cfg.detect, uid_seed))),
                bypass: None,
            },
            dns: cfg.dns.analyzer(),
            anomalies: Vec::new(),
            last_ts: Timestamp(0),
        }
    }

    /// Processes one frame.
    pub fn frame(&mut self, frame: &Frame<'_>) {
        let Pipeline { decoder, flows, ctx, dns, anomalies, last_ts } = self;
        ctx.stats.frames += 1;
        ctx.stats.bytes += u64::from(frame.orig_len);
        *last_ts = frame.ts;
        if let Decode::Packet(pkt) =
            decoder.decode_with_wire_len(frame.link, frame.ts, frame.data, frame.orig_len as usize, anomalies)
        {
            let tracked = flows.track(frame.ts, &pkt, ctx);
            if let Some(flow) = flows.get_mut(tracked.id) {
                // Unpacking the key costs: only when a filter may select the flow.
                if tracked.created && ctx.evidence.selecting() {
                    ctx.evidence.flow_created(flow.serial, &flow.key());
                }
                // The sender's MAC, for alerts about it: once per flow, local senders only.
                if tracked.created
                    && frame.link == LinkType::ETHERNET
                    && let Some(mac) = frame.data.get(6..12).and_then(|m| <[u8; 6]>::try_from(m).ok())
                    && ctx.is_local(&pkt.src)
                {
                    ctx.detect.with(|d| d.learn_mac(pkt.src, mac));
                }
                // Likewise, only when threat-intelligence indicators are loaded.
                if tracked.created && ctx.detect.with(|d| d.watches_flows()) {
                    let key = flow.key();
                    let uid = uid(ctx.uid_seed, flow.serial);
                    let seen = FlowSeen {
                        ts: frame.ts,
                        uid: &uid,
                        orig_h: key.orig_h,
                        resp_h: key.resp_h,
                        resp_p: key.resp_p,
                    };
                    let Context { out, error, evidence, detect, .. } = &mut *ctx;
                    detect.with(|d| d.flow(&seen, &mut AlertOut { out, error, evidence, flow: Some(flow.serial) }));
                }
                if let Some(b) = &mut ctx.bypass {
                    let total = flow.orig.ip_bytes + flow.resp.ip_bytes;
                    if total >= b.after_bytes
                        && total - u64::from(pkt.ip_len) < b.after_bytes
                        && flow.app.dns.is_none()
                        && !ctx.evidence.keeps(flow.serial)
                        && let Some(key) = Bypass::key(flow)
                    {
                        match b.table.insert(&key) {
                            Ok(()) => b.stats.flows += 1,
                            Err(_) => b.stats.refused += 1,
                        }
                    }
                }
                ctx.evidence.packet(flow.serial, frame);
                analyse(ctx, dns, flow, frame.ts, tracked.from_orig, &pkt.transport);
            }
        }
        for a in anomalies.drain(..) {
            if !ctx.net_weird_sampled_in(frame.ts, a.name) {
                continue;
            }
            let id = match (a.src, a.dst) {
                (Some(orig_h), Some(resp_h)) => Some(ConnId { orig_h, orig_p: 0, resp_h, resp_p: 0 }),
                _ => None,
            };
            ctx.weird(frame.ts, None, id, a.name, a.addl.as_deref(), "decode");
        }
    }

    /// Records an anomaly of the capture itself.
    pub fn capture_anomaly(&mut self, a: &CaptureAnomaly) {
        self.ctx.stats.capture_anomalies += 1;
        let ts = a.ts.unwrap_or(self.last_ts);
        if self.ctx.net_weird_sampled_in(ts, a.name) {
            self.ctx.weird(ts, None, None, a.name, Some(&a.addl), "capture");
        }
    }

    /// Lets the output flush on its timer (call between batches of frames).
    pub fn tick(&mut self, now: std::time::Instant) {
        let result = self.ctx.out.tick(now);
        self.ctx.record(result);
    }

    /// The first output error, if writing failed; the caller should stop.
    pub fn take_error(&mut self) -> Option<OutputError> {
        self.ctx.error.take()
    }

    /// Ends the flows and fragments idle at `now` (a live capture calls this by the wall clock;
    /// a replay's time comes from its packets).
    pub fn expire(&mut self, now: Timestamp) {
        let Pipeline { decoder, flows, ctx, anomalies, .. } = self;
        flows.expire(now, ctx);
        decoder.expire(now, anomalies);
        for a in anomalies.drain(..) {
            if ctx.net_weird_sampled_in(now, a.name) {
                ctx.weird(now, None, None, a.name, a.addl.as_deref(), "decode");
            }
        }
    }

    /// Ends every flow, writes the remaining records and flushes the output.
    pub fn finish(&mut self) -> Result<(), OutputError> {
        let Pipeline { decoder, flows, ctx, anomalies, last_ts, .. } = self;
        decoder.expire(Timestamp(u64::MAX), anomalies);
        for a in anomalies.drain(..) {
            if ctx.net_weird_sampled_in(*last_ts, a.name) {
                ctx.weird(*last_ts, None, None, a.name, a.addl.as_deref(), "decode");
            }
        }
        flows.drain(ctx);
        let flushed = ctx.out.flush();
        match ctx.error.take() {
            Some(e) => Err(e),
            None => flushed,
        }
    }

    /// Decoder counters.
    pub fn decode_counters(&self) -> &DecodeCounters {
        self.decoder.counters()
    }

    /// Flow table counters.
    pub fn flow_stats(&self) -> &sensor_flow::FlowStats {
        self.flows.stats()
    }

    /// Evidence counters.
    pub fn evidence_stats(&self) -> crate::evidence::EvidenceStats {
        self.ctx.evidence.stats()
    }

    /// Matches threat-intelligence indicators published through `handle`.
    pub fn set_intel(&mut self, handle: sensor_detect::intel::IntelHandle) {
        self.ctx.detect.with(|d| d.set_intel(handle));
    }

    /// Applies new detector settings at once ([`Detectors::reconfigure`]).
    pub fn reconfigure_detectors(&mut self, cfg: &sensor_detect::DetectConfig) {
        self.ctx.detect.with(|d| d.reconfigure(cfg));
    }

    /// Feeds `detectors`, shared with other workers, instead of this pipeline's own.
    pub fn share_detectors(&mut self, detectors: Arc<Mutex<Detectors>>) {
        self.ctx.detect = Detect::Shared(detectors);
    }

    /// Sheds flows in the kernel past the bypass threshold.
    pub fn set_bypass(&mut self, bypass: Bypass) {
        self.ctx.bypass = Some(bypass);
    }

    /// What the bypass did (zero without one).
    pub fn bypass_stats(&self) -> BypassStats {
        self.ctx.bypass.as_ref().map(|b| b.stats).unwrap_or_default()
    }

    /// Detector counters.
    pub fn detect_stats(&mut self) -> DetectStats {
        self.ctx.detect.with(|d| d.stats())
    }

    /// Pipeline counters.
    pub fn stats(&self) -> &PipelineStats {
        &self.ctx.stats
    }

    /// The output (for its counters).
    pub fn output(&self) -> &O {
        &self.ctx.out
    }

    /// The output, given back (closing it is then the caller's).
    pub fn into_output(self) -> O {
        self.ctx.out
    }
}

/// Hands a packet's payload to the analysers its flow needs.
fn analyse<O: RecordSink>(
    ctx: &mut Context<O>,
    cfg: &DnsConfig,
    flow: &mut Flow<AppState>,
    ts: Timestamp,
    from_orig: bool,
    transport: &Transport<'_>,
) {
    let (dns_transport, sport, dport) = match transport {
        Transport::Udp { src_port, dst_port, .. } => (DnsTransport::Udp, *src_port, *dst_port),
        Transport::Tcp(seg) => (DnsTransport::Tcp, seg.src_port, seg.dst_port),
        _ => return,
    };
    if flow.app.dns.is_none() {
        if !is_dns_port(dns_transport, sport, dport) {
            return;
        }
        let key = flow.key();
        let analyser = DnsFlow::with_addrs(dns_transport, key.orig_h, key.resp_h);
        let uid = uid(ctx.uid_seed, flow.serial);
        flow.app.dns = Some(Box::new(DnsState { analyser, uid, confirmed: false, weirds: 0 }));
    }
    let id = conn_id(flow);
    let proto = flow.proto_name();
    let serial = flow.serial;
    let Some(DnsState { analyser, uid, confirmed, weirds }) = flow.app.dns.as_deref_mut() else { return };
    let mut out = DnsOut { ctx, id, serial, uid, proto, confirmed, weirds, flipped: false, live: true };
    match transport {
        Transport::Udp { payload, .. } => analyser.udp(cfg, ts, from_orig, payload, &mut out),
        Transport::Tcp(seg) => analyser.tcp(cfg, ts, from_orig, seg, &mut out),
        _ => {}
    }
    if out.flipped {
        flow.flip();
    }
}
