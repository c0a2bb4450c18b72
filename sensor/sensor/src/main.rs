//! The `sensor` command line.

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use sensor::config::Config;
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
    /// Replay pcap/pcapng captures (as one timeline) into conn, dns and weird records.
    Replay {
        /// Configuration file (TOML); defaults apply without one.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Directory for conn.jsonl, dns.jsonl and weird.jsonl.
        #[arg(long)]
        out: PathBuf,
        /// Seed for connection uids (random by default; fix it for reproducible uids).
        #[arg(long)]
        seed: Option<u64>,
        /// Capture files.
        #[arg(required = true)]
        captures: Vec<PathBuf>,
    },
    /// Synthesise a short office scenario (DNS, web, SMB, an NXDOMAIN burst, a port sweep),
    /// write it as a pcap and replay it.
    Demo {
        /// Directory for demo.pcap and the records.
        #[arg(long, default_value = "sensor-demo")]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Replay { config, out, seed, captures } => replay(config.as_deref(), &out, seed, &captures),
        Command::Demo { out } => demo(&out),
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

fn replay(config: Option<&Path>, out: &Path, seed: Option<u64>, captures: &[PathBuf]) -> anyhow::Result<()> {
    let cfg = load_config(config)?;
    let seed = seed.unwrap_or_else(rand::random);
    let summary = sensor::replay::replay(captures, &cfg, out, seed)?;
    eprintln!("{summary}");
    Ok(())
}

fn demo(out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let pcap = out.join("demo.pcap");
    let frames = sensor::demo::write_pcap(&pcap)?;
    println!("wrote {} ({frames} frames): an office scenario synthesised by the sensor", pcap.display());
    let summary = sensor::replay::replay(&[pcap], &Config::default(), out, 1)?;
    for log in ["conn", "dns", "weird"] {
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
    Ok(())
}
