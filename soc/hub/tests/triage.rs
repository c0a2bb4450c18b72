//! The analysts' API: accounts and sessions (which survive a restart of the hub), the queue by
//! severity and SLA deadline, the actions, the audit trail, MTTD/MTTR, what an analyst may not
//! do, and HTTPS only.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

mod common;

use common::{Hub, enrolled};
use sensor_sync::{Outbox, SyncHandle};
use serde_json::{Value, json};
use std::time::Duration;

#[test]
fn analysts_triage_the_queue_and_every_action_is_audited() {
    // Before the enrollment: its token is the first entry of the audit trail.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let (_dir, hub, sensor, id) = enrolled();
    let outbox = Outbox::open(&sensor).unwrap();
    for (n, severity) in ["low", "critical", "medium", "high", "critical"].iter().enumerate() {
        let alert =
            json!({"id": format!("A{n}"), "ts": now - 600, "severity": severity, "title": format!("alert {n}")});
        outbox.push(&alert.to_string(), *severity == "critical").unwrap();
    }
    let tunnel = SyncHandle::start(&sensor, outbox, None).unwrap();
    assert!(tunnel.wait_drained(Duration::from_secs(30)));
    drop(tunnel);

    let admin = hub.admin();
    // No token, a wrong one: refused; health needs none.
    assert_eq!(hub.api("GET", "/api/v1/queue", "", None).0, 401);
    assert_eq!(hub.api("GET", "/api/v1/queue", "nope", None).0, 401);
    assert_eq!(hub.api("GET", "/health", "", None), (200, "ok".into()));
    // An analyst account; a short password is refused.
    let weak = json!({"name": "alice", "password": "short"});
    assert_eq!(hub.api("POST", "/api/v1/users", &admin, Some(weak)).0, 400);
    let password = "correct horse battery";
    assert_eq!(hub.api("POST", "/api/v1/users", &admin, Some(json!({"name": "alice", "password": password}))).0, 200);
    assert_eq!(hub.api("POST", "/api/v1/login", "", Some(json!({"user": "alice", "password": "wrong"}))).0, 401);
    let (status, body) = hub.api("POST", "/api/v1/login", "", Some(json!({"user": "alice", "password": password})));
    assert_eq!(status, 200, "{body}");
    let alice = serde_json::from_str::<Value>(&body).unwrap()["token"].as_str().unwrap().to_owned();
    // Analysts triage; they do not administer.
    let token_req = json!({"tenant": "acme", "site": "x", "ttl": "1h"});
    assert_eq!(hub.api("POST", "/api/v1/tokens", &alice, Some(token_req)).0, 403);

    // The queue: critical first, then high, medium, low; within a severity, by deadline.
    let queue =
        |token: &str| -> Vec<Value> { serde_json::from_str(&hub.api("GET", "/api/v1/queue", token, None).1).unwrap() };
    let q = queue(&alice);
    let severities: Vec<&str> = q.iter().map(|a| a["alert"]["severity"].as_str().unwrap()).collect();
    assert_eq!(severities, ["critical", "critical", "high", "medium", "low"]);
    let critical_deadline = q[0]["deadline"].as_u64().unwrap();
    let received = q[0]["received"].as_u64().unwrap();
    assert_eq!(critical_deadline - received, 15 * 60, "critical: 15 minutes");
    assert_eq!(q[2]["deadline"].as_u64().unwrap() - q[2]["received"].as_u64().unwrap(), 3600, "high: 1 hour");

    // Actions on the first critical alert.
    let key = q[0]["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with(&format!("{id}:")));
    let act = |token: &str, body: Value| hub.api("POST", &format!("/api/v1/alerts/{key}/actions"), token, Some(body));
    assert_eq!(act(&alice, json!({"action": "acknowledge"})).0, 200);
    assert_eq!(act(&alice, json!({"action": "assign", "to": "bob"})).0, 200);
    assert_eq!(act(&alice, json!({"action": "escalate", "reason": "domain controller involved"})).0, 200);
    assert_eq!(act(&alice, json!({"action": "note", "text": "called the customer"})).0, 200);
    assert_eq!(act(&alice, json!({"action": "resolve", "reason": ""})).0, 409, "a resolution needs a reason");
    let (status, body) = act(&alice, json!({"action": "resolve", "reason": "true_positive"}));
    assert_eq!(status, 200, "{body}");
    let t: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (t["status"].as_str(), t["assignee"].as_str(), t["resolution"].as_str()),
        (Some("resolved"), Some("bob"), Some("true_positive"))
    );
    assert_eq!(act(&alice, json!({"action": "acknowledge"})).0, 409, "resolved stays resolved");
    assert_eq!(
        hub.api("POST", "/api/v1/alerts/nosuch:1/actions", &alice, Some(json!({"action": "acknowledge"}))).0,
        409
    );
    assert_eq!(queue(&alice).len(), 4, "resolved alerts leave the queue");

    // The audit trail: who, what, on what, when.
    let audit: Vec<Value> = serde_json::from_str(&hub.api("GET", "/api/v1/audit", &alice, None).1).unwrap();
    let on_key: Vec<(&str, &str)> = audit
        .iter()
        .filter(|e| e["target"] == key.as_str())
        .map(|e| (e["by"].as_str().unwrap(), e["action"].as_str().unwrap()))
        .collect();
    assert_eq!(
        on_key,
        [("alice", "acknowledge"), ("alice", "assign"), ("alice", "escalate"), ("alice", "note"), ("alice", "resolve")]
    );
    assert!(audit.iter().all(|e| e["at"].as_u64().unwrap() >= now));
    assert!(audit.iter().any(|e| e["action"] == "login_failed" && e["by"] == "alice"));
    assert!(audit.iter().any(|e| e["action"] == "user_add" && e["by"] == "admin"));

    // MTTD and MTTR: the alert was raised 10 minutes before it was acknowledged and resolved.
    let m: Value = serde_json::from_str(&hub.api("GET", "/api/v1/metrics?tenant=acme", &alice, None).1).unwrap();
    assert_eq!((m["alerts"].as_u64(), m["open"].as_u64(), m["resolved"].as_u64()), (Some(5), Some(4), Some(1)));
    let (mttd, mttr) = (m["mttd_seconds"].as_f64().unwrap(), m["mttr_seconds"].as_f64().unwrap());
    assert!((600.0..700.0).contains(&mttd) && (600.0..700.0).contains(&mttr), "{m}");

    // A tenant's own SLA moves the deadlines.
    let sla = json!({"critical": 60, "high": 120, "medium": 180, "low": 240});
    assert_eq!(hub.api("PUT", "/api/v1/tenants/acme/sla", &alice, Some(sla.clone())).0, 403);
    assert_eq!(hub.api("PUT", "/api/v1/tenants/acme/sla", &admin, Some(sla)).0, 200);
    let q = queue(&alice);
    assert_eq!(q[0]["deadline"].as_u64().unwrap() - q[0]["received"].as_u64().unwrap(), 60);
}

#[test]
fn sessions_survive_a_restart_end_at_logout_and_the_api_speaks_https_only() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    let hub = Hub::start(&data, "127.0.0.1:0");
    let password = "correct horse battery";
    assert_eq!(
        hub.api("POST", "/api/v1/users", &hub.admin(), Some(json!({"name": "bob", "password": password}))).0,
        200
    );
    let (_, body) = hub.api("POST", "/api/v1/login", "", Some(json!({"user": "bob", "password": password})));
    let bob = serde_json::from_str::<Value>(&body).unwrap()["token"].as_str().unwrap().to_owned();
    assert_eq!(hub.api("GET", "/api/v1/queue", &bob, None).0, 200);

    // Plain HTTP gets no answer; a client that does not trust the hub's CA gets no session.
    let addr = std::fs::read_to_string(data.join("api.addr")).unwrap();
    let plain = ureq::get(&format!("http://{}/health", addr.trim())).call();
    assert!(plain.is_err(), "plain HTTP answered: {plain:?}");
    let other_ca = ureq::get(&format!("https://{}/health", addr.trim())).call();
    assert!(other_ca.is_err(), "a certificate of the hub's own CA passed the public roots");

    hub.kill();
    let hub = Hub::start(&data, "127.0.0.1:0");
    assert_eq!(hub.api("GET", "/api/v1/queue", &bob, None).0, 200, "the session survived the restart");
    assert_eq!(hub.api("POST", "/api/v1/logout", &bob, None).0, 200);
    assert_eq!(hub.api("GET", "/api/v1/queue", &bob, None).0, 401, "logged out");
    let (_, audit) = hub.api("GET", "/api/v1/audit", &hub.admin(), None);
    assert!(audit.contains("\"logout\""), "{audit}");
}
