//! An alert as an OCSF Detection Finding (class 2004, OCSF 1.3), the shape SIEMs and data lakes
//! (Amazon Security Lake, Splunk, Sentinel) take findings in.
//!
//! The mapping (docs/alerts.md has it as a table): `finding_info` carries the id, title,
//! explanation, the detector as the analytic, and the ATT&CK techniques; the source and
//! destination go into `evidences` with the sample queries; severity maps to `severity_id` 1–5
//! (Informational to Critical), confidence to `confidence_score` 0–100.

use crate::alert::{Alert, Entity, Severity};
use serde_json::{Value, json};

/// OCSF schema version written in `metadata.version`.
pub const OCSF_VERSION: &str = "1.3.0";
/// Detection Finding.
const CLASS_UID: u32 = 2004;
/// Findings.
const CATEGORY_UID: u32 = 2;
/// Activity "Create": a new finding.
const ACTIVITY_CREATE: u32 = 1;

fn severity_id(s: Severity) -> u8 {
    match s {
        Severity::Info => 1,
        Severity::Low => 2,
        Severity::Medium => 3,
        Severity::High => 4,
        Severity::Critical => 5,
    }
}

fn endpoint(e: &Entity) -> Value {
    let mut v = json!({ "ip": e.ip.to_string() });
    if let Some(mac) = &e.mac {
        v["mac"] = json!(mac);
    }
    if let Some(name) = &e.hostname {
        v["hostname"] = json!(name);
    }
    v
}

/// `alert` as an OCSF Detection Finding; `product_version` is the sensor's version.
pub fn detection_finding(alert: &Alert, product_version: &str) -> Value {
    let time_ms = alert.ts.0 / 1_000_000;
    let attacks: Vec<Value> = alert
        .techniques
        .iter()
        .map(|t| {
            let (tactic_uid, tactic) = t.tactic();
            json!({
                "technique": { "uid": t.id(), "name": t.name() },
                "tactic": { "uid": tactic_uid, "name": tactic },
            })
        })
        .collect();
    let mut evidence = json!({ "src_endpoint": endpoint(&alert.src) });
    if let Some(dst) = &alert.dst {
        evidence["dst_endpoint"] = endpoint(dst);
    }
    if let Some(query) = alert.evidence.samples.first() {
        evidence["query"] = json!({ "hostname": query });
    }
    let mut unmapped = json!({
        "uids": alert.evidence.uids,
        "samples": alert.evidence.samples,
        "counts": alert.evidence.counts.iter().map(|(k, v)| json!({ "name": k, "value": v })).collect::<Vec<_>>(),
    });
    if !alert.path.is_empty() {
        unmapped["path"] = json!(alert.path.iter().map(|e| e.ip.to_string()).collect::<Vec<_>>());
    }
    if let Some(domain) = &alert.evidence.domain {
        unmapped["domain"] = json!(domain);
    }
    if !alert.evidence.intel.is_empty() {
        unmapped["intel"] = json!(alert.evidence.intel);
    }
    json!({
        "class_uid": CLASS_UID,
        "class_name": "Detection Finding",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "activity_id": ACTIVITY_CREATE,
        "activity_name": "Create",
        "type_uid": CLASS_UID * 100 + ACTIVITY_CREATE,
        "time": time_ms,
        "severity_id": severity_id(alert.severity),
        "severity": match alert.severity { Severity::Info => "Informational", Severity::Low => "Low",
            Severity::Medium => "Medium", Severity::High => "High", Severity::Critical => "Critical" },
        "confidence_score": (f64::from(alert.confidence) * 100.0).round(),
        "status_id": 1,
        "status": "New",
        "message": alert.title,
        "metadata": {
            "version": OCSF_VERSION,
            "product": { "name": "sensor", "vendor_name": "sensor", "version": product_version },
        },
        "finding_info": {
            "uid": alert.id,
            "title": alert.title,
            "desc": alert.explanation,
            "created_time": time_ms,
            "analytic": { "uid": alert.detector, "name": alert.detector, "type_id": 1, "type": "Rule",
                "version": alert.detector_version.to_string() },
            "attacks": attacks,
        },
        "evidences": [evidence],
        "unmapped": unmapped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{AlertEvidence, Technique};
    use sensor_wire::Timestamp;

    #[test]
    fn a_tunnel_alert_maps_to_a_detection_finding() {
        let alert = Alert {
            ts: Timestamp(1_700_000_000_123_000_000),
            id: "A1".into(),
            src: Entity::ip([192, 168, 0, 30].into()),
            dst: Some(Entity::ip([192, 168, 0, 10].into())),
            path: vec![],
            severity: Severity::High,
            confidence: 0.87,
            detector: "dns.tunnel".into(),
            detector_version: 1,
            title: "DNS tunnel".into(),
            explanation: "numbers".into(),
            techniques: vec![Technique::DnsC2],
            evidence: AlertEvidence { samples: vec!["abc.example.attack".into()], ..AlertEvidence::default() },
        };
        let f = detection_finding(&alert, "0.1.0");
        assert_eq!(f["class_uid"], 2004);
        assert_eq!(f["type_uid"], 200_401);
        assert_eq!(f["severity_id"], 4);
        assert_eq!(f["confidence_score"], 87.0);
        assert_eq!(f["time"], 1_700_000_000_123u64);
        assert_eq!(f["finding_info"]["attacks"][0]["technique"]["uid"], "T1071.004");
        assert_eq!(f["finding_info"]["attacks"][0]["tactic"]["uid"], "TA0011");
        assert_eq!(f["evidences"][0]["src_endpoint"]["ip"], "192.168.0.30");
        assert_eq!(f["evidences"][0]["query"]["hostname"], "abc.example.attack");
    }
}
