//! The `sensor` command line.

#![forbid(unsafe_code)]

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use sensor::config::Config;
use sensor::control;
use sensor::evidence::EvidenceFilter;
use sensor::query::{DEFAULT_LIMIT, Format, parse_time};
use sensor::replay::Outputs;
use sensor_store::{Kind, Order, Query, Store, StoreError};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "sensor", version, about = "Network security sensor: captures to Zeek-compatible records")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replay pcap/pcapng captures (as one timeline) into conn, dns, weird and alert records,
    /// written to the store (default) and, with --out, to JSON lines.
    Replay {
        #[command(flatten)]
        common: RunArgs,
        /// Capture files.
        #[arg(required = true)]
        captures: Vec<PathBuf>,
    },
    /// Capture live from interfaces (AF_XDP or AF_PACKET) until SIGINT or SIGTERM, into the same
    /// records.
    Run {
        #[command(flatten)]
        common: RunArgs,
        /// Interface to capture on, repeatable (replaces `[capture] interfaces`).
        #[arg(short = 'i', long = "interface")]
        interfaces: Vec<String>,
        /// Capture method (replaces `[capture] method`).
        #[arg(long, value_enum)]
        capture: Option<sensor::config::CaptureMethod>,
        /// Where the XDP program runs (replaces `[capture] xdp_mode`).
        #[arg(long, value_enum)]
        xdp_mode: Option<sensor::config::XdpModeSetting>,
    },
    /// Enroll this sensor with a SOC hub: a key pair made here (it never leaves DIR), a
    /// certificate from the hub for a one-time token, the hub's CA pinned by its fingerprint.
    Enroll {
        /// The hub's sensor endpoint, HOST:PORT.
        #[arg(long)]
        hub: String,
        /// The token `soc-hub token create` printed.
        #[arg(long)]
        token: String,
        /// The hub CA's SHA-256 (`soc-hub ca-fingerprint`).
        #[arg(long = "hub-ca-sha256")]
        hub_ca_sha256: String,
        /// The sensor's data directory (identity and outbox).
        #[arg(long)]
        data: PathBuf,
        /// Reach the hub through this HTTP proxy (`http://[user:password@]host:port`, with
        /// CONNECT), now and for the tunnel. With credentials, prefer the environment variable
        /// SENSOR_PROXY: a command line is visible to every user of the machine.
        #[arg(long, env = "SENSOR_PROXY", hide_env_values = true)]
        proxy: Option<String>,
    },
    /// Enroll without a network path to the hub (air-gapped sites), with files carried on
    /// removable media: `request` here, `soc-hub enroll-offline` at the SOC, `install` here.
    EnrollOffline {
        #[command(subcommand)]
        step: OfflineStep,
    },
    /// Find records in the store.
    Query(QueryArgs),
    /// Export a flow's evidence packets from the store as pcapng.
    Evidence {
        /// Configuration file (for the default store directory).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Store directory (default: `[store] dir` of the configuration).
        #[arg(long)]
        store: Option<PathBuf>,
        /// The flow's uid.
        #[arg(long)]
        uid: String,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Synthesise a short office scenario (DNS, web, SMB, an NXDOMAIN burst, a DNS tunnel, a
    /// port sweep), write it as a pcap and replay it into a store and JSON lines.
    Demo {
        /// Directory for demo.pcap, the store and the records.
        #[arg(long, default_value = "sensor-demo")]
        out: PathBuf,
        /// Data directory enrolled with a SOC hub (`sensor enroll`): the alerts also go to the
        /// hub, and the demo ends once it acknowledged them.
        #[arg(long)]
        data: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum OfflineStep {
    /// Make the key pair (it stays in DIR) and write the request file.
    Request {
        /// The sensor's data directory.
        #[arg(long)]
        data: PathBuf,
        /// Where to write the request.
        #[arg(long)]
        out: PathBuf,
    },
    /// Install the bundle the SOC sent back, pinning its CA.
    Install {
        /// The sensor's data directory (where the request was made).
        #[arg(long)]
        data: PathBuf,
        /// The bundle file.
        #[arg(long)]
        bundle: PathBuf,
        /// The hub CA's SHA-256, given out of band (`soc-hub ca-fingerprint`).
        #[arg(long = "hub-ca-sha256")]
        hub_ca_sha256: String,
    },
}

/// What `replay` and `run` share: configuration and outputs.
#[derive(Args)]
struct RunArgs {
    /// Configuration file (TOML); defaults apply without one.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Store directory (default: `[store] dir` of the configuration, /var/lib/sensor/store).
    #[arg(long, conflicts_with = "no_store")]
    store: Option<PathBuf>,
    /// Do not write to the store (then --out is required).
    #[arg(long, requires = "out")]
    no_store: bool,
    /// Also write conn.jsonl, dns.jsonl, weird.jsonl and alerts.jsonl into this directory.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Seed for connection uids (random by default; fix it for reproducible uids).
    #[arg(long)]
    seed: Option<u64>,
    /// Keep the first and last packets of matching flows in the store (repeatable; terms
    /// that must all hold: `host IP`, `net CIDR`, `port N`, e.g. "host 10.0.0.5 port 53").
    #[arg(long = "evidence-filter", conflicts_with = "no_store")]
    evidence_filters: Vec<String>,
    /// Data directory enrolled with a SOC hub (`sensor enroll`): alerts also go to the hub.
    #[arg(long)]
    data: Option<PathBuf>,
    /// With --data: at the end, wait at most this many seconds for the hub to acknowledge every
    /// alert; then exit with an error, the rest left in the outbox.
    #[arg(long, default_value_t = 60, requires = "data")]
    sync_timeout: u64,
}

impl RunArgs {
    /// The configuration with the flags applied, the outputs and the uid seed.
    fn resolve(self) -> anyhow::Result<(Config, Outputs, u64)> {
        let mut cfg = load_config(self.config.as_deref())?;
        cfg.evidence.filters.extend(self.evidence_filters);
        EvidenceFilter::parse(&cfg.evidence.filters).map_err(anyhow::Error::msg)?;
        let store = (!self.no_store).then(|| self.store.unwrap_or_else(|| cfg.store.dir.clone()));
        if let Some(data) = &self.data {
            cfg.detect = sensor::sync::with_hub_detect(cfg.detect, data)?;
        }
        let outputs = Outputs {
            store,
            jsonl: self.out,
            data: self.data,
            sync_timeout: std::time::Duration::from_secs(self.sync_timeout),
        };
        Ok((cfg, outputs, self.seed.unwrap_or_else(rand::random)))
    }
}

#[derive(Args)]
struct QueryArgs {
    /// Configuration file (for the default store directory).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Store directory (default: `[store] dir` of the configuration).
    #[arg(long)]
    store: Option<PathBuf>,
    /// Records at or after this time (Unix seconds or RFC 3339, e.g. 2026-11-01T08:00:00Z).
    #[arg(long, value_parser = parse_time)]
    from: Option<sensor_wire::Timestamp>,
    /// Records before this time.
    #[arg(long, value_parser = parse_time)]
    to: Option<sensor_wire::Timestamp>,
    /// Records involving this address on either side.
    #[arg(long)]
    host: Option<IpAddr>,
    /// DNS records whose query is this name or under it (e.g. example.com).
    #[arg(long)]
    domain: Option<String>,
    /// Record types (repeat or separate with commas; default all).
    #[arg(long = "type", value_delimiter = ',')]
    kinds: Vec<Kind>,
    /// Records of this connection uid.
    #[arg(long)]
    uid: Option<String>,
    /// Records of this Community ID.
    #[arg(long)]
    community_id: Option<String>,
    /// At most this many records (default 1000 when nothing narrows the query).
    #[arg(long)]
    limit: Option<usize>,
    /// Oldest first (default: newest first).
    #[arg(long)]
    oldest_first: bool,
    /// Output format (`ocsf`: alerts as OCSF Detection Findings; implies `--type alert`).
    #[arg(long, value_enum, default_value = "json")]
    format: Format,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Replay { common, captures } => replay(common, &captures),
        Command::Run { common, interfaces, capture, xdp_mode } => run(common, interfaces, capture, xdp_mode),
        Command::Evidence { config, store, uid, out } => evidence(config.as_deref(), store, &uid, out.as_deref()),
        Command::Query(args) => query(args),
        Command::Enroll { hub, token, hub_ca_sha256, data, proxy } => {
            sensor_sync::enroll_via(&data, &hub, proxy.as_deref(), &token, &hub_ca_sha256)
                .map(|id| eprintln!("sensor: enrolled with {hub} as {id}; identity in {}", data.display()))
                .map_err(Into::into)
        }
        Command::Demo { out, data } => demo(&out, data),
        Command::EnrollOffline { step } => enroll_offline(step),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sensor: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    Ok(match path {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    })
}

fn replay(args: RunArgs, captures: &[PathBuf]) -> anyhow::Result<()> {
    let (cfg, outputs, seed) = args.resolve()?;
    let summary = sensor::replay::replay(captures, &cfg, &outputs, seed)?;
    eprintln!("{summary}");
    Ok(())
}

fn run(
    args: RunArgs,
    interfaces: Vec<String>,
    method: Option<sensor::config::CaptureMethod>,
    xdp_mode: Option<sensor::config::XdpModeSetting>,
) -> anyhow::Result<()> {
    let (mut cfg, outputs, seed) = args.resolve()?;
    if !interfaces.is_empty() {
        cfg.capture.interfaces = interfaces;
    }
    if let Some(method) = method {
        cfg.capture.method = method;
    }
    if let Some(mode) = xdp_mode {
        cfg.capture.xdp_mode = mode;
    }
    let summary = sensor::run::run(&cfg, &outputs, seed)?;
    eprintln!("{summary}");
    Ok(())
}

fn evidence(config: Option<&Path>, store: Option<PathBuf>, uid: &str, out: Option<&Path>) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let cfg = load_config(config)?;
    let dir = store.unwrap_or_else(|| cfg.store.dir.clone());
    if out.is_none() && std::io::stdout().is_terminal() {
        anyhow::bail!("refusing to write pcapng to a terminal: redirect standard output or give --out FILE");
    }
    let store = Store::open(&dir, &cfg.store)?;
    // Into memory first (evidence is bounded), so that no file is made for a missing uid.
    let mut pcapng = Vec::new();
    let done = sensor::evidence::export(&store, uid, &mut pcapng).with_context(|| format!("{}", dir.display()))?;
    match out {
        Some(path) => std::fs::write(path, &pcapng).with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::Write::write_all(&mut std::io::stdout().lock(), &pcapng)?,
    }
    eprintln!("sensor: {} packets of {uid} ({} skipped between the first and last ones)", done.packets, done.skipped);
    Ok(())
}

fn query(args: QueryArgs) -> anyhow::Result<()> {
    let cfg = load_config(args.config.as_deref())?;
    let dir = args.store.unwrap_or_else(|| cfg.store.dir.clone());
    let mut q = Query {
        from: args.from,
        to: args.to,
        kinds: args.kinds,
        host: args.host,
        domain: args.domain,
        uid: args.uid,
        community_id: args.community_id,
        limit: args.limit,
        order: if args.oldest_first { Order::OldestFirst } else { Order::NewestFirst },
    };
    if args.format == Format::Ocsf {
        if q.kinds.iter().any(|&k| k != Kind::Alert) {
            anyhow::bail!("--format ocsf renders alerts only (--type alert)");
        }
        q.kinds = vec![Kind::Alert];
    }
    if q.limit.is_none() && sensor::query::is_unfiltered(&q) {
        q.limit = Some(DEFAULT_LIMIT);
    }
    if !dir.join("FORMAT").exists() {
        anyhow::bail!("{}: no store here (give --store DIR)", dir.display());
    }
    let out = &mut std::io::stdout().lock();
    let (_, damaged) = match Store::open(&dir, &cfg.store) {
        Ok(store) => sensor::query::print(store.query(&q)?, args.format, out)?,
        Err(StoreError::InUse(_)) => {
            eprintln!("sensor: the store is held by a running sensor; asking it through its control socket");
            control::query_running(&dir, &control::Request::new(&q, args.format), out)?
        }
        Err(e) => return Err(e.into()),
    };
    if damaged > 0 {
        anyhow::bail!("{damaged} damaged blocks or records were skipped (see the warnings above)");
    }
    Ok(())
}

fn enroll_offline(step: OfflineStep) -> anyhow::Result<()> {
    match step {
        OfflineStep::Request { data, out } => {
            let request = sensor_sync::offline_request(&data)?;
            std::fs::write(&out, serde_json::to_string_pretty(&request)?)
                .with_context(|| format!("cannot write {}", out.display()))?;
            eprintln!("sensor: key in {}; carry {} to the SOC", data.display(), out.display());
        }
        OfflineStep::Install { data, bundle, hub_ca_sha256 } => {
            let text = std::fs::read_to_string(&bundle).with_context(|| format!("cannot read {}", bundle.display()))?;
            let parsed = serde_json::from_str(&text).with_context(|| format!("{}: not a bundle", bundle.display()))?;
            let id = sensor_sync::install_bundle(&data, &parsed, &hub_ca_sha256)?;
            eprintln!("sensor: enrolled offline as {id}; identity in {}", data.display());
        }
    }
    Ok(())
}

/// How long the demo waits for the hub to acknowledge its alerts.
const DEMO_SYNC_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

fn demo(out: &Path, data: Option<PathBuf>) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let pcap = out.join("demo.pcap");
    let frames = sensor::demo::write_pcap(&pcap)?;
    println!("wrote {} ({frames} frames): an office scenario synthesised by the sensor", pcap.display());
    // A fresh store each run: the demo's records replace the last run's.
    let store = out.join("store");
    if store.join("FORMAT").exists() {
        std::fs::remove_dir_all(&store).with_context(|| format!("cannot remove the old {}", store.display()))?;
    }
    let synced = data.is_some();
    let outputs =
        Outputs { store: Some(store.clone()), jsonl: Some(out.to_owned()), data, sync_timeout: DEMO_SYNC_TIMEOUT };
    let summary = sensor::replay::replay(&[pcap], &Config::default(), &outputs, 1)?;
    for log in ["conn", "dns", "weird", "alerts"] {
        let path = out.join(format!("{log}.jsonl"));
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        println!("\n== {} ({} records)", path.display(), text.lines().count());
        for line in text.lines().take(6) {
            println!("{line}");
        }
        if text.lines().count() > 6 {
            println!("…");
        }
    }
    println!("\n{summary}");
    let store = Store::open(&store, &Config::default().store)?;
    let q = Query { kinds: vec![Kind::Dns], limit: Some(8), ..Query::default() };
    println!("\n== the store: sensor query --store {}/store --type dns --limit 8 --format table", out.display());
    sensor::query::print(store.query(&q)?, Format::Table, &mut std::io::stdout().lock())?;
    let q = Query { kinds: vec![Kind::Alert], ..Query::default() };
    println!("\n== the alerts: sensor query --store {}/store --type alert --format table", out.display());
    sensor::query::print(store.query(&q)?, Format::Table, &mut std::io::stdout().lock())?;
    if synced {
        println!("\nEvery alert is acknowledged by the SOC hub (written durably there).");
    }
    Ok(())
}
