//! `soc-hub`: the hub (`serve`), and commands that talk to a running hub's API with the admin
//! credential it keeps in its data directory (sled allows one process per database, so they
//! never open it themselves).

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use soc_hub::api::{Api, router};
use soc_hub::ca::{Ca, write_private};
use soc_hub::commands::Signer;
use soc_hub::db::Db;
use soc_hub::tunnel::{Hub, api_tls_config, serve, tls_config};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(name = "soc-hub", version, about = "The SOC hub the sensors sync their alerts to")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the hub: the sensors' TLS endpoint and the API.
    Serve {
        /// Data directory (CA, database, admin credential).
        #[arg(long)]
        data: PathBuf,
        /// Where sensors connect (TLS 1.3, client certificates).
        #[arg(long, default_value = "127.0.0.1:8443")]
        listen: String,
        /// Where the API listens (loopback by default).
        #[arg(long, default_value = "127.0.0.1:8080")]
        api: String,
        /// Names sensors reach the hub by (DNS names or addresses), put in its certificate.
        #[arg(long = "name", default_values = ["localhost", "127.0.0.1", "::1"])]
        names: Vec<String>,
        /// Configuration file (TOML): the SIEM destinations (`[[export]]`, see soc/README.md).
        #[arg(long)]
        config: Option<PathBuf>,
        /// How long the sensor certificates issued are valid (sensors renew theirs over the
        /// tunnel when a third is left).
        #[arg(long, default_value = "90d", value_parser = humantime::parse_duration)]
        sensor_cert_validity: std::time::Duration,
    },
    /// Enrollment tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Print the CA's SHA-256 fingerprint (what `sensor enroll --hub-ca-sha256` pins).
    CaFingerprint {
        /// The running hub's data directory.
        #[arg(long)]
        data: PathBuf,
    },
    /// Print the alerts the hub holds, one JSON object per line.
    Alerts {
        /// The running hub's data directory.
        #[arg(long)]
        data: PathBuf,
        /// Only this tenant's.
        #[arg(long)]
        tenant: Option<String>,
        /// Output format: `json` (one object per line) or `table` (one line per alert).
        #[arg(long, default_value = "json")]
        format: String,
        /// At most this many alerts (the first ones, by sensor and sequence).
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Sensors.
    Sensor {
        #[command(subcommand)]
        command: SensorCommand,
    },
    /// Sign an offline enrollment request (a file from `sensor enroll-offline request`) and
    /// write the bundle to carry back to the appliance.
    EnrollOffline {
        #[command(flatten)]
        at: Placement,
        /// HOST:PORT the sensor will sync to.
        #[arg(long)]
        hub: String,
        /// The request file.
        #[arg(long)]
        request: PathBuf,
        /// Where to write the bundle.
        #[arg(long)]
        out: PathBuf,
    },
    /// Analyst accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

/// A running hub, and the tenant and site a sensor belongs to.
#[derive(clap::Args)]
struct Placement {
    /// The running hub's data directory.
    #[arg(long)]
    data: PathBuf,
    /// Tenant (customer).
    #[arg(long)]
    tenant: String,
    /// Site.
    #[arg(long)]
    site: String,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add (or replace) an analyst account; the password is read from standard input.
    Add {
        /// The running hub's data directory.
        #[arg(long)]
        data: PathBuf,
        /// Login name.
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a one-time enrollment token and print it.
    Create {
        #[command(flatten)]
        at: Placement,
        /// Validity, e.g. 24h.
        #[arg(long, default_value = "24h")]
        ttl: String,
    },
}

#[derive(Subcommand)]
enum SensorCommand {
    /// Revoke a sensor: its next handshake fails.
    Revoke {
        /// The running hub's data directory.
        #[arg(long)]
        data: PathBuf,
        /// The sensor's id.
        #[arg(long)]
        id: String,
    },
    /// List the sensors and their health.
    List {
        /// The running hub's data directory.
        #[arg(long)]
        data: PathBuf,
    },
    /// Send a sensor a signed command; prints its id.
    Command {
        /// The running hub's data directory (before or after the command's own arguments).
        #[arg(long, global = true)]
        data: Option<PathBuf>,
        /// The sensor's id.
        #[arg(long)]
        id: String,
        #[command(subcommand)]
        what: What,
    },
    /// A sensor's commands and what became of them, one JSON object per line.
    Commands {
        /// The running hub's data directory.
        #[arg(long)]
        data: PathBuf,
        /// The sensor's id.
        #[arg(long)]
        id: String,
    },
    /// Write what the answer to a command carried (evidence: pcapng) to a file.
    Attachment {
        /// The running hub's data directory.
        #[arg(long)]
        data: PathBuf,
        /// The sensor's id.
        #[arg(long)]
        id: String,
        /// The command's id.
        #[arg(long)]
        command: u64,
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
    },
}

/// What a command asks.
#[derive(Subcommand)]
enum What {
    /// Send up a flow's evidence packets.
    Evidence {
        /// The flow's uid.
        #[arg(long)]
        uid: String,
    },
    /// Install a threat-intelligence feed file (named as the file is).
    IntelFeed {
        /// The feed file.
        #[arg(long)]
        file: PathBuf,
    },
    /// Replace the detectors' settings (`[detect]` as TOML, without `intel`).
    DetectConfig {
        /// The TOML file.
        #[arg(long)]
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Serve { data, listen, api, names, config, sensor_cert_validity } => load_config(config.as_deref())
            .and_then(|cfg| run_server(&data, &listen, &api, &names, &cfg, sensor_cert_validity)),
        Command::Token { command: TokenCommand::Create { at, ttl } } => {
            let body = serde_json::json!({"tenant": at.tenant, "site": at.site, "ttl": ttl});
            call(&at.data, "POST", "/api/v1/tokens", Some(body))
                .map(|v| println!("{}", v["token"].as_str().unwrap_or("")))
        }
        Command::EnrollOffline { at, hub, request, out } => enroll_offline(&at, &hub, &request, &out),
        Command::CaFingerprint { data } => {
            call(&data, "GET", "/api/v1/ca", None).map(|v| println!("{}", v["sha256"].as_str().unwrap_or("")))
        }
        Command::Alerts { data, tenant, format, limit } => alerts(&data, tenant.as_deref(), &format, limit),
        Command::Sensor { command: SensorCommand::Revoke { data, id } } => {
            call(&data, "POST", &format!("/api/v1/sensors/{id}/revoke"), None).map(|v| println!("{v}"))
        }
        Command::User { command: UserCommand::Add { data, name } } => {
            let mut password = String::new();
            std::io::stdin().read_line(&mut password).map_err(anyhow::Error::from).and_then(|_| {
                let body = serde_json::json!({"name": name, "password": password.trim_end_matches(['\r', '\n'])});
                call(&data, "POST", "/api/v1/users", Some(body)).map(|v| println!("{v}"))
            })
        }
        Command::Sensor { command: SensorCommand::List { data } } => call(&data, "GET", "/api/v1/sensors", None)
            .and_then(|v| print_lines(v.as_array().into_iter().flatten()).map(drop)),
        Command::Sensor { command: SensorCommand::Command { data, id, what } } => match data {
            Some(data) => command(&data, &id, what),
            None => Err(anyhow::anyhow!("--data: the running hub's data directory is needed")),
        },
        Command::Sensor { command: SensorCommand::Commands { data, id } } => {
            call(&data, "GET", &format!("/api/v1/sensors/{id}/commands"), None)
                .and_then(|v| print_lines(v.as_array().into_iter().flatten()).map(drop))
        }
        Command::Sensor { command: SensorCommand::Attachment { data, id, command, out } } => {
            request(&data, "GET", &format!("/api/v1/sensors/{id}/commands/{command}/attachment"), None).and_then(
                |bytes| std::fs::write(&out, bytes).with_context(|| format!("cannot write {}", out.display())),
            )
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("soc-hub: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn alerts(data: &Path, tenant: Option<&str>, format: &str, limit: Option<usize>) -> anyhow::Result<()> {
    let table = match format {
        "json" => false,
        "table" => true,
        _ => anyhow::bail!("--format {format}: json or table"),
    };
    if table {
        println!("{:<28} {:<10} {:<10} {:<9} {:<18} title", "alert", "tenant", "site", "severity", "detector");
    }
    let (mut after, mut left) = (None::<String>, limit.unwrap_or(usize::MAX));
    while left > 0 {
        let mut query = vec![format!("limit={}", left.min(API_PAGE))];
        query.extend(tenant.map(|t| format!("tenant={t}")));
        query.extend(after.as_ref().map(|a| format!("after={a}")));
        let page = call(data, "GET", &format!("/api/v1/alerts?{}", query.join("&")), None)?;
        let alerts: Vec<&serde_json::Value> = page["alerts"].as_array().into_iter().flatten().collect();
        left -= alerts.len();
        let reader_gone = !match table {
            true => print_lines(alerts.into_iter().map(|a| serde_json::Value::String(table_row(a))))?,
            false => print_lines(alerts.into_iter())?,
        };
        match page["next"].as_str() {
            Some(next) if !reader_gone => after = Some(next.to_owned()),
            _ => return Ok(()),
        }
    }
    Ok(())
}

/// Alerts asked for per API request.
const API_PAGE: usize = 1_000;

fn enroll_offline(at: &Placement, hub: &str, request: &Path, out: &Path) -> anyhow::Result<()> {
    let Placement { data, tenant, site } = at;
    let text = std::fs::read_to_string(request).with_context(|| format!("cannot read {}", request.display()))?;
    let request: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not a request file", request.display()))?;
    let body = serde_json::json!({"tenant": tenant, "site": site, "hub": hub, "request": request});
    let bundle = call(data, "POST", "/api/v1/enroll-offline", Some(body))?;
    std::fs::write(out, serde_json::to_string_pretty(&bundle)?)
        .with_context(|| format!("cannot write {}", out.display()))?;
    eprintln!(
        "soc-hub: enrolled {} for {tenant}/{site}; carry {} to the appliance",
        bundle["sensor_id"],
        out.display()
    );
    Ok(())
}

/// A stored alert as a line of `--format table`.
fn table_row(a: &serde_json::Value) -> String {
    let s = |v: &serde_json::Value| v.as_str().unwrap_or("-").to_owned();
    format!(
        "{:<28} {:<10} {:<10} {:<9} {:<18} {}",
        format!("{}:{}", s(&a["sensor_id"]), a["seq"]),
        s(&a["tenant"]),
        s(&a["site"]),
        s(&a["alert"]["severity"]),
        s(&a["alert"]["detector"]),
        s(&a["alert"]["title"])
    )
}

/// One value per line on standard output (strings as they are, other values as JSON); false
/// when the reader went away (`| head`).
fn print_lines<T: std::borrow::Borrow<serde_json::Value>>(values: impl Iterator<Item = T>) -> anyhow::Result<bool> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    for v in values {
        let written = match v.borrow() {
            serde_json::Value::String(line) => writeln!(out, "{line}"),
            other => writeln!(out, "{other}"),
        };
        match written {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(false),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(true)
}

/// Files of the data directory the commands read.
const ADMIN_TOKEN: &str = "admin.token";
const API_ADDR: &str = "api.addr";
/// Where the sensors' endpoint listens (for scripts and tests that let the hub pick a port).
const TUNNEL_ADDR: &str = "tunnel.addr";

/// Sends `what` to sensor `id`.
fn command(data: &Path, id: &str, what: What) -> anyhow::Result<()> {
    let read = |file: &Path| std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()));
    let body = match what {
        What::Evidence { uid } => serde_json::json!({"command": "evidence", "uid": uid}),
        What::IntelFeed { file } => {
            let name = file.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            serde_json::json!({"command": "intel_feed", "name": name, "content": read(&file)?})
        }
        What::DetectConfig { file } => serde_json::json!({"command": "detect_config", "toml": read(&file)?}),
    };
    let answer = call(data, "POST", &format!("/api/v1/sensors/{id}/commands"), Some(body))?;
    println!("{}", answer["id"]);
    Ok(())
}

/// One request to the running hub's API, answering JSON.
fn call(data: &Path, method: &str, path: &str, body: Option<serde_json::Value>) -> anyhow::Result<serde_json::Value> {
    Ok(serde_json::from_slice(&request(data, method, path, body)?)?)
}

/// One request to the running hub's API: the answer's bytes.
fn request(data: &Path, method: &str, path: &str, body: Option<serde_json::Value>) -> anyhow::Result<Vec<u8>> {
    let token = std::fs::read_to_string(data.join(ADMIN_TOKEN))
        .with_context(|| format!("{}: no admin credential: is a hub serving this directory?", data.display()))?;
    let addr = std::fs::read_to_string(data.join(API_ADDR))
        .with_context(|| format!("{}: no API address: is a hub serving this directory?", data.display()))?;
    let url = format!("https://{}{path}", addr.trim());
    let auth = format!("Bearer {}", token.trim());
    // The API's certificate is the hub CA's: that CA, and only it, is trusted.
    let ca = std::fs::read(data.join("ca.pem")).with_context(|| format!("{}: no ca.pem", data.display()))?;
    let ca = ureq::tls::Certificate::from_pem(&ca).map_err(|e| anyhow::anyhow!("ca.pem: {e}"))?;
    let tls = ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::new_with_certs(&[ca])).build();
    let config = ureq::Agent::config_builder().tls_config(tls).http_status_as_error(false).build();
    let agent = ureq::Agent::new_with_config(config);
    let mut response = match (method, body) {
        ("POST", Some(b)) => agent.post(&url).header("Authorization", &auth).send_json(b),
        ("POST", None) => agent.post(&url).header("Authorization", &auth).send_empty(),
        _ => agent.get(&url).header("Authorization", &auth).call(),
    }
    .with_context(|| format!("cannot reach the hub's API at {url}"))?;
    let status = response.status();
    let bytes = response.body_mut().with_config().limit(soc_protocol::MAX_FRAME as u64).read_to_vec()?;
    if !status.is_success() {
        anyhow::bail!("{url}: {status}: {}", String::from_utf8_lossy(&bytes).trim());
    }
    Ok(bytes)
}

/// The hub's configuration file.
#[derive(Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct HubConfig {
    /// SIEM destinations.
    #[serde(default)]
    export: Vec<soc_siem::ExportConfig>,
}

fn load_config(path: Option<&Path>) -> anyhow::Result<HubConfig> {
    let Some(path) = path else { return Ok(HubConfig::default()) };
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let cfg: HubConfig = toml::from_str(&text).with_context(|| format!("{}", path.display()))?;
    let mut names = std::collections::HashSet::new();
    for e in &cfg.export {
        e.check()?;
        if !names.insert(&e.name) {
            anyhow::bail!("{}: two [[export]] sections named {:?}", path.display(), e.name);
        }
    }
    Ok(cfg)
}

fn run_server(
    data: &Path,
    listen: &str,
    api_addr: &str,
    names: &[String],
    cfg: &HubConfig,
    sensor_cert_validity: std::time::Duration,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(data).with_context(|| format!("cannot create {}", data.display()))?;
    let ca = Ca::load_or_create(data)?.with_sensor_validity(sensor_cert_validity);
    let exports: Vec<String> = cfg.export.iter().map(|e| e.name.clone()).collect();
    let db = Db::open(&data.join("db"), &exports).context("cannot open the hub's database")?;
    let hub = Arc::new(Hub::new(db, ca, Signer::load_or_create(data)?, &cfg.export)?);
    for e in &cfg.export {
        eprintln!("soc-hub: exporting alerts to {e:?}");
    }
    let tls = tls_config(&hub, names)?;
    let admin_token: String = (0..32).map(|_| format!("{:02x}", rand::random::<u8>())).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let tunnel =
            tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
        let api =
            tokio::net::TcpListener::bind(api_addr).await.with_context(|| format!("cannot listen on {api_addr}"))?;
        write_private(&data.join(ADMIN_TOKEN), admin_token.as_bytes())?;
        // What local clients dial: loopback when the API listens on every address.
        let mut reach = api.local_addr()?;
        if reach.ip().is_unspecified() {
            reach.set_ip(if reach.is_ipv4() {
                std::net::Ipv4Addr::LOCALHOST.into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            });
        }
        std::fs::write(data.join(API_ADDR), reach.to_string())?;
        std::fs::write(data.join(TUNNEL_ADDR), tunnel.local_addr()?.to_string())?;
        eprintln!(
            "soc-hub: sensors connect to {} (TLS 1.3, client certificates); API at https://{}; CA sha256 {}",
            tunnel.local_addr()?,
            api.local_addr()?,
            soc_hub::ca::fingerprint(hub.ca.cert_der())
        );
        let app = router(Api { hub: hub.clone(), admin_token: Arc::new(admin_token) });
        let api = soc_hub::https::TlsListener::new(api, api_tls_config(&hub, names)?)?;
        tokio::select! {
            r = serve(tunnel, hub.clone(), tls) => r,
            r = axum::serve(api, app) => r.map_err(Into::into),
            _ = shutdown() => {
                hub.db.flush()?;
                eprintln!("soc-hub: stopped");
                Ok(())
            }
        }
    })
}

async fn shutdown() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
