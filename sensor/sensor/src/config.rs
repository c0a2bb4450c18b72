//! The sensor's configuration file (TOML). Every field has a default, so an empty file is valid;
//! unknown keys are refused with a message naming the key. `sensor.example.toml` at the
//! repository root lists every field with its default and unit, and a test parses it.

use ipnet::IpNet;
use serde::Deserialize;
use std::path::Path;
use std::time::Duration;

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Identity and network of the site.
    pub site: SiteConfig,
    /// Flow table.
    pub flows: FlowsConfig,
    /// IP fragment reassembly.
    pub fragments: FragmentsConfig,
    /// DNS analyser.
    pub dns: DnsSettings,
    /// Telemetry store (see `sensor_store::StoreConfig` for every field and default).
    pub store: sensor_store::StoreConfig,
    /// Evidence packets.
    pub evidence: crate::evidence::EvidenceConfig,
    /// Detectors (see `sensor_detect::DetectConfig` for every field and default).
    pub detect: sensor_detect::DetectConfig,
    /// Live capture (`sensor run`).
    pub capture: CaptureConfig,
}

/// How `sensor run` captures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum CaptureMethod {
    /// The fastest the interface supports: AF_XDP where the XDP program attaches and the
    /// sockets bind, else AF_PACKET (the log says why).
    #[default]
    Auto,
    /// AF_XDP: the XDP program and one socket per RX queue; an error if either is refused.
    Afxdp,
    /// AF_PACKET with a TPACKET_V3 ring.
    Afpacket,
}

/// Where the XDP program runs (`[capture] xdp_mode`, `--xdp-mode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum XdpModeSetting {
    /// Native where the driver supports it, else generic.
    #[default]
    Auto,
    /// In the driver (fastest).
    Native,
    /// In the generic receive path (any driver).
    Generic,
}

impl XdpModeSetting {
    /// The capture crate's mode.
    pub fn mode(self) -> sensor_capture::XdpMode {
        match self {
            XdpModeSetting::Auto => sensor_capture::XdpMode::Auto,
            XdpModeSetting::Native => sensor_capture::XdpMode::Native,
            XdpModeSetting::Generic => sensor_capture::XdpMode::Generic,
        }
    }
}

/// Live capture settings (the `[capture]` section).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CaptureConfig {
    /// Interfaces to capture on (monitor ports: up, no address). `-i` replaces the list.
    /// Default none.
    pub interfaces: Vec<String>,
    /// Capture method: "auto", "afxdp" or "afpacket". Default "auto".
    pub method: CaptureMethod,
    /// Where the XDP program runs: "auto", "native" or "generic". Default "auto".
    pub xdp_mode: XdpModeSetting,
    /// Networks whose frames (source or destination inside) are dropped in the kernel by the
    /// XDP program, never reaching the sensor (backups, storage replication). AF_XDP only: with
    /// AF_PACKET they are analysed like the rest, and the log says so. Default none.
    pub ignore: Vec<IpNet>,
    /// A flow that has carried this many IP bytes (both directions) is bypassed: the XDP program
    /// drops the rest of it in the kernel (not DNS flows, not flows kept as evidence). Its
    /// conn record counts what was seen before. 0 turns it off. AF_XDP only. Default 0.
    pub bypass_after_bytes: u64,
    /// CPUs the capture workers are pinned to, in order (worker i on `cpus[i % len]`); empty:
    /// not pinned. Default none.
    pub cpus: Vec<usize>,
    /// How often the counters are written to the log. Default "10s".
    #[serde(with = "humantime_serde")]
    pub stats_interval: Duration,
    /// Where the Prometheus metrics endpoint listens (`/metrics`); unset turns it off. Default
    /// "127.0.0.1:9101" (loopback: the monitor port has no address and is never listened on).
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// AF_PACKET ring.
    pub afpacket: AfPacketSettings,
    /// AF_XDP sockets (the `[capture.afxdp]` section; defaults measured on veth at 1 Mpps:
    /// docs/PLATFORM.md).
    pub afxdp: sensor_capture::AfXdpConfig,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            interfaces: Vec::new(),
            method: CaptureMethod::Auto,
            xdp_mode: XdpModeSetting::Auto,
            ignore: Vec::new(),
            bypass_after_bytes: 0,
            cpus: Vec::new(),
            stats_interval: Duration::from_secs(10),
            metrics_listen: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 9101))),
            afpacket: AfPacketSettings::default(),
            afxdp: sensor_capture::AfXdpConfig::default(),
        }
    }
}

/// AF_PACKET ring settings (the `[capture.afpacket]` section; see
/// `sensor_capture::AfPacketConfig`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AfPacketSettings {
    /// Bytes per ring block (a power of two, a multiple of the page size). Default 1048576.
    pub block_bytes: u32,
    /// Blocks in the ring. Default 64.
    pub blocks: u32,
    /// Sockets (workers) per interface, sharing its traffic by flow hash (fanout). Default 1.
    pub workers: u16,
    /// A block is handed over after this long even when not full. Default "10ms".
    #[serde(with = "humantime_serde")]
    pub block_timeout: Duration,
}

impl Default for AfPacketSettings {
    fn default() -> Self {
        let d = sensor_capture::AfPacketConfig::default();
        AfPacketSettings { block_bytes: d.block_bytes, blocks: d.blocks, workers: 1, block_timeout: d.block_timeout }
    }
}

impl AfPacketSettings {
    /// The capture crate's settings.
    pub fn source(&self) -> sensor_capture::AfPacketConfig {
        sensor_capture::AfPacketConfig {
            block_bytes: self.block_bytes,
            blocks: self.blocks,
            block_timeout: self.block_timeout,
            ..sensor_capture::AfPacketConfig::default()
        }
    }
}

/// The site the sensor watches.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SiteConfig {
    /// This sensor's name, written as `peer` in weird records. Default `"sensor"`.
    pub sensor_name: String,
    /// Networks counted as local (`local_orig`, `local_resp`). Default: the private and
    /// special-use ranges Zeek's `Site::private_address_space` holds.
    pub local_nets: Vec<IpNet>,
}

impl Default for SiteConfig {
    fn default() -> Self {
        let private = [
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "100.64.0.0/10",
            "127.0.0.0/8",
            "169.254.0.0/16",
            "fc00::/7",
            "fe80::/10",
            "::1/128",
        ];
        SiteConfig {
            sensor_name: "sensor".to_owned(),
            local_nets: private.iter().filter_map(|n| n.parse().ok()).collect(),
        }
    }
}

/// Flow table settings (see `sensor_flow::FlowConfig`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FlowsConfig {
    /// Most flows per worker; past it the flow idle longest is evicted. Default 1,000,000.
    pub max_flows: usize,
    /// TCP inactivity timeout. Default "5m".
    #[serde(with = "humantime_serde")]
    pub tcp_inactivity: Duration,
    /// UDP inactivity timeout. Default "1m".
    #[serde(with = "humantime_serde")]
    pub udp_inactivity: Duration,
    /// Inactivity timeout of UDP flows on DNS ports (53, 5353, 5355). Default "10s".
    #[serde(with = "humantime_serde")]
    pub dns_udp_inactivity: Duration,
    /// ICMP inactivity timeout. Default "1m".
    #[serde(with = "humantime_serde")]
    pub icmp_inactivity: Duration,
    /// Other IP protocols. Default "1m".
    #[serde(with = "humantime_serde")]
    pub other_inactivity: Duration,
    /// Linger of closed TCP connections. Default "5s".
    #[serde(with = "humantime_serde")]
    pub tcp_close_delay: Duration,
}

impl Default for FlowsConfig {
    fn default() -> Self {
        let d = sensor_flow::FlowConfig::default();
        FlowsConfig {
            max_flows: d.max_flows,
            tcp_inactivity: d.tcp_inactivity,
            udp_inactivity: d.udp_inactivity,
            dns_udp_inactivity: d.dns_udp_inactivity,
            icmp_inactivity: d.icmp_inactivity,
            other_inactivity: d.other_inactivity,
            tcp_close_delay: d.tcp_close_delay,
        }
    }
}

impl FlowsConfig {
    /// The flow table's settings.
    pub fn table(&self) -> sensor_flow::FlowConfig {
        sensor_flow::FlowConfig {
            max_flows: self.max_flows,
            tcp_inactivity: self.tcp_inactivity,
            udp_inactivity: self.udp_inactivity,
            dns_udp_inactivity: self.dns_udp_inactivity,
            icmp_inactivity: self.icmp_inactivity,
            other_inactivity: self.other_inactivity,
            tcp_close_delay: self.tcp_close_delay,
        }
    }
}

/// Fragment reassembly bounds (see `sensor_wire::FragmentConfig`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FragmentsConfig {
    /// Datagrams under reassembly at once. Default 8192.
    pub max_datagrams: usize,
    /// Bytes buffered for reassembly. Default 33554432 (32 MiB).
    pub max_bytes: usize,
    /// Largest reassembled datagram in bytes. Default 65535 (also the ceiling).
    pub max_datagram_len: usize,
    /// How long an incomplete datagram is kept. Default "30s".
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for FragmentsConfig {
    fn default() -> Self {
        let d = sensor_wire::FragmentConfig::default();
        FragmentsConfig {
            max_datagrams: d.max_datagrams,
            max_bytes: d.max_bytes,
            max_datagram_len: d.max_datagram_len,
            timeout: d.timeout,
        }
    }
}

impl FragmentsConfig {
    /// The decoder's settings.
    pub fn decoder(&self) -> sensor_wire::DecoderConfig {
        sensor_wire::DecoderConfig {
            fragments: sensor_wire::FragmentConfig {
                max_datagrams: self.max_datagrams,
                max_bytes: self.max_bytes,
                max_datagram_len: self.max_datagram_len.min(sensor_wire::FragmentConfig::DATAGRAM_LEN_CEILING),
                timeout: self.timeout,
            },
        }
    }
}

/// DNS analyser settings (see `sensor_analyzers::dns::DnsConfig`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DnsSettings {
    /// Unanswered queries remembered per flow. Default 64.
    pub max_pending_per_flow: usize,
    /// Bytes buffered per direction for DNS over TCP. Default 65537.
    pub max_tcp_message: usize,
}

impl Default for DnsSettings {
    fn default() -> Self {
        let d = sensor_analyzers::dns::DnsConfig::default();
        DnsSettings { max_pending_per_flow: d.max_pending_per_flow, max_tcp_message: d.max_tcp_message }
    }
}

impl DnsSettings {
    /// The analyser's settings.
    pub fn analyzer(&self) -> sensor_analyzers::dns::DnsConfig {
        sensor_analyzers::dns::DnsConfig {
            max_pending_per_flow: self.max_pending_per_flow,
            max_tcp_message: self.max_tcp_message,
            ..Default::default()
        }
    }
}

/// A configuration file that could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}")]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this configuration (the message names the key and line).
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: std::path::PathBuf,
        /// The parser's message.
        message: String,
    },
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Config::parse(&text).map_err(|message| ConfigError::Invalid { path: path.to_owned(), message })
    }

    /// Parses configuration text.
    pub fn parse(text: &str) -> Result<Config, String> {
        let cfg: Config = toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())?;
        crate::evidence::EvidenceFilter::parse(&cfg.evidence.filters)?;
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_example_parses_and_equals_the_defaults() {
        let text = include_str!("../../../sensor.example.toml");
        let cfg = Config::parse(text).unwrap();
        assert_eq!(cfg, Config::default(), "sensor.example.toml must list the defaults");
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let err = Config::parse("[flows]\nmax_flow = 10\n").unwrap_err();
        assert!(err.contains("max_flow"), "{err}");
        let err = Config::parse("[nonsense]\n").unwrap_err();
        assert!(err.contains("nonsense"), "{err}");
    }

    #[test]
    fn durations_and_networks_parse() {
        let cfg =
            Config::parse("[flows]\nudp_inactivity = \"90s\"\n[site]\nlocal_nets = [\"192.0.2.0/24\"]\n").unwrap();
        assert_eq!(cfg.flows.udp_inactivity, Duration::from_secs(90));
        assert_eq!(cfg.site.local_nets, vec!["192.0.2.0/24".parse::<IpNet>().unwrap()]);
        assert!(Config::parse("[flows]\nudp_inactivity = \"soon\"\n").is_err());
    }
}
