//! A stored alert (the hub's JSON: `sensor_id`, `tenant`, `site`, `seq`, `received`,
//! `software`, and the sensor's `alert`) as an OCSF Detection Finding.
//!
//! The finding itself is the sensor's own mapping (`sensor_detect::ocsf`, docs/alerts.md);
//! the hub adds who it came from: `metadata.tenant_uid` (the tenant), `metadata.uid`
//! (`SENSOR:SEQ`, unique at the hub), `device` (the sensor, its site as location). An alert the
//! mapping cannot read (a sensor of another version) still goes out, as a finding whose
//! `raw_data` is the alert.

use sensor_detect::Alert;
use sensor_detect::ocsf::{OCSF_VERSION, detection_finding};
use serde::Deserialize as _;
use serde_json::{Value, json};

/// The hub's unique name of a stored alert: `SENSOR:SEQ`.
pub fn uid(stored: &Value) -> String {
    format!("{}:{}", stored["sensor_id"].as_str().unwrap_or_default(), stored["seq"])
}

/// `stored` as an OCSF Detection Finding.
pub fn finding(stored: &Value) -> Value {
    let software = stored["software"].as_str().unwrap_or_default();
    let mut f = match Alert::deserialize(&stored["alert"]).ok() {
        Some(alert) => detection_finding(&alert, software),
        None => json!({
            "class_uid": 2004,
            "class_name": "Detection Finding",
            "category_uid": 2,
            "activity_id": 1,
            "type_uid": 200_401,
            "time": stored["received"].as_u64().unwrap_or(0) * 1000,
            "severity_id": 0,
            "metadata": { "version": OCSF_VERSION, "product": { "name": "sensor", "version": software } },
            "finding_info": { "uid": uid(stored), "title": "unreadable sensor alert" },
            "raw_data": stored["alert"].to_string(),
        }),
    };
    f["metadata"]["tenant_uid"] = stored["tenant"].clone();
    f["metadata"]["uid"] = uid(stored).into();
    f["device"] = json!({
        "uid": stored["sensor_id"],
        "name": stored["sensor_id"],
        "type_id": 99,
        "type": "Network sensor",
        "location": { "desc": stored["site"] },
    });
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An alert as `sensor replay` wrote it for the dns2tcp capture of the shared set.
    const TUNNEL_ALERT: &str = r#"{"ts":1393406399.257882,"id":"ADNctdhHRlA90WSgjW","src":{"ip":"10.30.28.90","mac":"00:50:56:ac:b2:7b"},"dst":{"ip":"10.30.28.94"},"severity":"medium","confidence":0.725,"detector":"dns.tunnel","detector_version":1,"title":"DNS tunnel from 10.30.28.90 through tunnel.com","explanation":"…","techniques":[{"id":"T1071.004","name":"Application Layer Protocol: DNS","tactic_id":"TA0011","tactic":"Command and Control"}],"evidence":{"uids":["C2bQDIha5vDk2VYpYP"],"counts":[["queries",20.0]],"samples":["hvp1kf5bahnzaa.=connect.srv.tunnel.com"],"domain":"tunnel.com"}}"#;

    #[test]
    fn a_sensor_alert_is_the_sensors_finding_with_the_hubs_origin() {
        let alert: Value = serde_json::from_str(TUNNEL_ALERT).unwrap();
        let stored = json!({"sensor_id": "sensor-1", "tenant": "acme", "site": "hq", "seq": 7, "received": 5,
            "software": "0.1.0", "alert": alert});
        let f = finding(&stored);
        assert_eq!(f["class_uid"], 2004);
        assert_eq!(f["finding_info"]["uid"], "ADNctdhHRlA90WSgjW");
        assert_eq!(f["finding_info"]["attacks"][0]["technique"]["uid"], "T1071.004");
        assert_eq!(f["severity_id"], 3);
        assert_eq!(f["metadata"]["product"]["version"], "0.1.0");
        assert_eq!(f["metadata"]["uid"], "sensor-1:7");
        assert_eq!(f["metadata"]["tenant_uid"], "acme");
        assert!(f.get("raw_data").is_none());
    }

    #[test]
    fn an_unreadable_alert_still_goes_out_with_its_origin() {
        let stored = json!({"sensor_id": "sensor-1", "tenant": "acme", "site": "hq", "seq": 7, "received": 5,
            "alert": {"n": 1}});
        let f = finding(&stored);
        assert_eq!(f["class_uid"], 2004);
        assert_eq!(f["metadata"]["uid"], "sensor-1:7");
        assert_eq!(f["metadata"]["tenant_uid"], "acme");
        assert_eq!(f["device"]["location"]["desc"], "hq");
        assert_eq!(f["raw_data"], "{\"n\":1}");
    }
}
