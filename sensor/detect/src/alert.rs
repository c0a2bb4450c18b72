//! The alert: what every detector raises, the SOC receives and the analyst reads.
//!
//! An alert is self-contained: who (source, destination, the resolvers on the path), what (a
//! one-line title, an explanation with the numbers that triggered it, ATT&CK techniques), how sure
//! (severity, confidence), and the evidence (uids of the records behind it, counts, sample
//! queries). Its id is stable: it never changes once raised, so the SOC can deduplicate by it.
//! docs/alerts.md documents every field; [`crate::ocsf`] renders it as an OCSF Detection Finding.

use core::fmt;
use core::net::IpAddr;
use sensor_wire::Timestamp;
use serde::{Deserialize, Serialize};

/// How bad it is if true, as the SOC triages it (default SLA per level in the SOC hub).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; no action expected.
    Info,
    /// Policy or hygiene; review when convenient.
    Low,
    /// Suspicious; review within the day.
    Medium,
    /// Likely malicious; review within the hour.
    High,
    /// Active compromise; review now.
    Critical,
}

impl Severity {
    /// The lowercase name, as in `alerts.jsonl`.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The ATT&CK techniques detectors map to (a closed set: adding a detector adds its technique
/// here, with the name and tactic from attack.mitre.org).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Technique {
    /// T1071.004 Application Layer Protocol: DNS (command and control over DNS).
    DnsC2,
    /// T1048 Exfiltration Over Alternative Protocol.
    ExfilAltProtocol,
    /// T1568.002 Dynamic Resolution: Domain Generation Algorithms.
    Dga,
    /// T1568.001 Dynamic Resolution: Fast Flux DNS.
    FastFlux,
    /// T1572 Protocol Tunneling (DNS over HTTPS or TLS hiding lookups from the site's resolvers).
    ProtocolTunneling,
    /// T1105 Ingress Tool Transfer (payloads staged in DNS TXT answers).
    IngressToolTransfer,
    /// T1071 Application Layer Protocol (traffic with infrastructure a threat-intelligence feed
    /// lists).
    AppLayerProtocol,
    /// T1046 Network Service Discovery (port scans, address sweeps).
    NetworkServiceDiscovery,
}

impl Technique {
    /// Every technique.
    pub const ALL: [Technique; 8] = [
        Technique::DnsC2,
        Technique::ExfilAltProtocol,
        Technique::Dga,
        Technique::FastFlux,
        Technique::ProtocolTunneling,
        Technique::IngressToolTransfer,
        Technique::AppLayerProtocol,
        Technique::NetworkServiceDiscovery,
    ];

    /// The ATT&CK id.
    pub fn id(self) -> &'static str {
        match self {
            Technique::DnsC2 => "T1071.004",
            Technique::ExfilAltProtocol => "T1048",
            Technique::Dga => "T1568.002",
            Technique::FastFlux => "T1568.001",
            Technique::ProtocolTunneling => "T1572",
            Technique::IngressToolTransfer => "T1105",
            Technique::AppLayerProtocol => "T1071",
            Technique::NetworkServiceDiscovery => "T1046",
        }
    }

    /// The ATT&CK name.
    pub fn name(self) -> &'static str {
        match self {
            Technique::DnsC2 => "Application Layer Protocol: DNS",
            Technique::ExfilAltProtocol => "Exfiltration Over Alternative Protocol",
            Technique::Dga => "Dynamic Resolution: Domain Generation Algorithms",
            Technique::FastFlux => "Dynamic Resolution: Fast Flux DNS",
            Technique::ProtocolTunneling => "Protocol Tunneling",
            Technique::IngressToolTransfer => "Ingress Tool Transfer",
            Technique::AppLayerProtocol => "Application Layer Protocol",
            Technique::NetworkServiceDiscovery => "Network Service Discovery",
        }
    }

    /// The ATT&CK tactic (its id and name).
    pub fn tactic(self) -> (&'static str, &'static str) {
        match self {
            Technique::ExfilAltProtocol => ("TA0010", "Exfiltration"),
            Technique::NetworkServiceDiscovery => ("TA0007", "Discovery"),
            _ => ("TA0011", "Command and Control"),
        }
    }

    /// The technique of an ATT&CK id.
    pub fn from_id(id: &str) -> Option<Technique> {
        Technique::ALL.into_iter().find(|t| t.id() == id)
    }
}

// In JSON, everything an analyst or a SIEM wants without a lookup table.
impl Serialize for Technique {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (tactic_id, tactic) = self.tactic();
        TechniqueView { id: self.id(), name: self.name(), tactic_id, tactic }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Technique {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let view = TechniqueView::<String>::deserialize(d)?;
        Technique::from_id(&view.id)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown ATT&CK technique {}", view.id)))
    }
}

#[derive(Serialize, Deserialize)]
struct TechniqueView<S> {
    id: S,
    name: S,
    tactic_id: S,
    tactic: S,
}

/// A host an alert is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entity {
    /// Its address.
    pub ip: IpAddr,
    /// Its MAC address, where the sensor saw it on the local segment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// Its name, where known (a DHCP or DNS name; later analysers fill it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
}

impl Entity {
    /// A host known by its address only.
    pub fn ip(ip: IpAddr) -> Entity {
        Entity { ip, mac: None, hostname: None }
    }
}

/// What an alert rests on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertEvidence {
    /// Uids of the conn and dns records behind it (the first few; `counts` says how many).
    pub uids: Vec<String>,
    /// The numbers that triggered it, by name (`queries`, `unique_subdomains`, ...).
    pub counts: Vec<(String, f64)>,
    /// Sample values: DNS query names, answers.
    pub samples: Vec<String>,
    /// The registered domain it is about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// The threat-intelligence indicators it matched, with their feeds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub intel: Vec<IntelMatch>,
}

/// A threat-intelligence indicator an alert matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntelMatch {
    /// The feed (its file name).
    pub feed: String,
    /// The indicator as the feed wrote it.
    pub indicator: String,
    /// What it is.
    pub kind: crate::intel::IndicatorKind,
}

impl AlertEvidence {
    /// A count by name.
    pub fn count(&self, name: &str) -> Option<f64> {
        self.counts.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }
}

/// An alert, written as one JSON object (`alerts.jsonl`, the store, the SOC): unset optional
/// fields are omitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// When it was raised (capture time of the record that completed the evidence).
    #[serde(with = "ts_serde")]
    pub ts: Timestamp,
    /// Stable unique id: `A` and 17 base62 digits.
    pub id: String,
    /// The host that acts: the client of a tunnel, the querier of a DGA name.
    pub src: Entity,
    /// The host it acts towards, if one: the resolver a tunnel client queries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst: Option<Entity>,
    /// Hosts on the path between them: recursive resolvers seen forwarding the client's queries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path: Vec<Entity>,
    /// How bad it is if true.
    pub severity: Severity,
    /// How sure the detector is, 0 to 1.
    pub confidence: f32,
    /// The detector that raised it (`dns.tunnel`, ...).
    pub detector: String,
    /// The detector's version: bumped whenever its logic or defaults change.
    pub detector_version: u16,
    /// One line for a queue.
    pub title: String,
    /// A few sentences with the numbers that triggered it.
    pub explanation: String,
    /// ATT&CK techniques.
    pub techniques: Vec<Technique>,
    /// What it rests on.
    pub evidence: AlertEvidence,
}

/// `ts` as Zeek writes it in JSON: seconds, a float with microseconds.
mod ts_serde {
    use super::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(ts: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        // Rounded to the microsecond first, so that reading it back and writing it again gives
        // the same text.
        let micros = ts.0.saturating_add(500) / 1000;
        s.serialize_f64(micros as f64 / 1e6)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let secs = f64::deserialize(d)?;
        if !(0.0..1.8e10).contains(&secs) {
            return Err(serde::de::Error::custom(format!("ts {secs} is not a time")));
        }
        Ok(Timestamp((secs * 1e6).round() as u64 * 1000))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Alert {
        Alert {
            ts: Timestamp(1_700_000_000_123_456_000),
            id: "A0123456789abcdefg".into(),
            src: Entity::ip([192, 168, 0, 30].into()),
            dst: Some(Entity::ip([192, 168, 0, 10].into())),
            path: vec![Entity::ip([10, 0, 2, 15].into())],
            severity: Severity::High,
            confidence: 0.9,
            detector: "dns.tunnel".into(),
            detector_version: 1,
            title: "DNS tunnel".into(),
            explanation: "many names".into(),
            techniques: vec![Technique::DnsC2, Technique::ExfilAltProtocol],
            evidence: AlertEvidence {
                uids: vec!["Cabc".into()],
                counts: vec![("queries".into(), 120.0)],
                samples: vec!["aGVsbG8.example.attack".into()],
                domain: Some("example.attack".into()),
                intel: Vec::new(),
            },
        }
    }

    #[test]
    fn json_round_trips() {
        let alert = sample();
        let json = serde_json::to_string(&alert).unwrap();
        assert!(json.starts_with(r#"{"ts":1700000000.123456,"id":"A0123456789abcdefg""#), "{json}");
        assert!(json.contains(r#"{"id":"T1071.004","name":"Application Layer Protocol: DNS","tactic_id":"TA0011""#));
        assert!(json.contains(r#""severity":"high""#));
        assert_eq!(serde_json::from_str::<Alert>(&json).unwrap(), alert);
    }

    #[test]
    fn every_technique_id_maps_back() {
        for t in Technique::ALL {
            assert_eq!(Technique::from_id(t.id()), Some(t));
            assert!(t.id().starts_with('T') && t.tactic().0.starts_with("TA"));
        }
        assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Info);
    }
}
