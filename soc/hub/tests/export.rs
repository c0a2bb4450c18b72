//! The hub's export to SIEMs, against receivers this test runs on loopback: a syslog receiver
//! over TLS (RFC 5425 framing, its own CA), a Splunk HEC endpoint that refuses its first
//! requests, and an Elasticsearch bulk endpoint. Alerts synced by a sensor reach each of them
//! as OCSF findings, once; a destination that is down keeps its queue across a hub restart
//! and gets everything when it comes back; the secrets never reach the log.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

mod common;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use common::{Hub, enrolled};
use sensor_sync::{Outbox, SyncHandle};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead as _, BufReader, Read as _};
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ALERTS: usize = 2_000;
const HEC_TOKEN: &str = "hec-secret-4f1d";
const ES_KEY: &str = "es-secret-9a2b";
/// Requests the HEC endpoint answers 503 before it works.
const HEC_FAILURES: usize = 3;

/// A syslog receiver over TLS; while down, it closes every connection at once.
struct SyslogReceiver {
    port: u16,
    messages: Arc<Mutex<Vec<String>>>,
    up: Arc<AtomicBool>,
}

impl SyslogReceiver {
    fn start(dir: &Path) -> SyslogReceiver {
        std::fs::create_dir_all(dir).unwrap();
        let ca = soc_hub::ca::Ca::load_or_create(dir).unwrap();
        let (chain, key) = ca.server_identity(&["localhost".into()]).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (messages, up) = (Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicBool::new(false)));
        let (m, u) = (messages.clone(), up.clone());
        std::thread::spawn(move || {
            for tcp in listener.incoming().map_while(Result::ok) {
                if !u.load(Ordering::SeqCst) {
                    continue;
                }
                let (config, m) = (config.clone(), m.clone());
                std::thread::spawn(move || {
                    let tls = rustls::StreamOwned::new(rustls::ServerConnection::new(config).unwrap(), tcp);
                    let mut r = BufReader::new(tls);
                    loop {
                        // RFC 5425: octet count, a space, the message.
                        let mut len = Vec::new();
                        if r.read_until(b' ', &mut len).unwrap_or(0) == 0 {
                            return;
                        }
                        let len: usize = std::str::from_utf8(&len).unwrap().trim().parse().unwrap();
                        let mut msg = vec![0; len];
                        r.read_exact(&mut msg).unwrap();
                        m.lock().unwrap().push(String::from_utf8(msg).unwrap());
                    }
                });
            }
        });
        SyslogReceiver { port, messages, up }
    }
}

/// What the HTTP endpoints received.
#[derive(Default)]
struct Received {
    hec_requests: usize,
    hec_events: Vec<Value>,
    es_docs: HashMap<String, Value>,
}

type Shared = Arc<Mutex<Received>>;

async fn hec(State(r): State<Shared>, headers: HeaderMap, body: String) -> (StatusCode, String) {
    let mut r = r.lock().unwrap();
    r.hec_requests += 1;
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Splunk {HEC_TOKEN}")) {
        return (StatusCode::UNAUTHORIZED, json!({"text": "Invalid token", "code": 4}).to_string());
    }
    if r.hec_requests <= HEC_FAILURES {
        return (StatusCode::SERVICE_UNAVAILABLE, json!({"text": "Server is busy", "code": 9}).to_string());
    }
    let events = serde_json::Deserializer::from_str(&body).into_iter::<Value>();
    r.hec_events.extend(events.map(Result::unwrap));
    (StatusCode::OK, json!({"text": "Success", "code": 0}).to_string())
}

async fn bulk(State(r): State<Shared>, headers: HeaderMap, body: String) -> (StatusCode, String) {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("ApiKey {ES_KEY}")) {
        return (StatusCode::UNAUTHORIZED, "{}".into());
    }
    let mut r = r.lock().unwrap();
    let lines: Vec<Value> = body.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mut items = Vec::new();
    for pair in lines.chunks(2) {
        let id = pair[0]["create"]["_id"].as_str().unwrap().to_owned();
        assert_eq!(pair[0]["create"]["_index"], "soc-alerts");
        let status = if r.es_docs.contains_key(&id) { 409 } else { 201 };
        r.es_docs.entry(id).or_insert_with(|| pair[1].clone());
        items.push(json!({"create": {"status": status}}));
    }
    let errors = items.iter().any(|i| i["create"]["status"] != 201);
    (StatusCode::OK, json!({"errors": errors, "items": items}).to_string())
}

/// The HEC and bulk endpoints on one loopback HTTP server.
fn http_receiver() -> (u16, Shared) {
    let received = Shared::default();
    let app = axum::Router::new()
        .route("/services/collector/event", post(hec))
        .route("/_bulk", post(bulk))
        .with_state(received.clone());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    (port, received)
}

fn wait_for(what: &str, hub: &Hub, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(60), "timed out waiting for {what}: {}", hub.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A sensor alert like the DNS-tunnel detector's, numbered.
fn alert(n: usize) -> String {
    json!({
        "ts": 1_393_406_399.25 + n as f64, "id": format!("A{n:017}"),
        "src": {"ip": "10.30.28.90"}, "dst": {"ip": "10.30.28.94"},
        "severity": if n.is_multiple_of(10) { "high" } else { "medium" }, "confidence": 0.7,
        "detector": "dns.tunnel", "detector_version": 1,
        "title": "DNS tunnel from 10.30.28.90 through tunnel.com", "explanation": "…",
        "techniques": [{"id": "T1071.004", "name": "Application Layer Protocol: DNS", "tactic_id": "TA0011", "tactic": "Command and Control"}],
        "evidence": {"uids": ["C2bQDIha5vDk2VYpYP"], "counts": [["queries", 20.0]], "samples": ["a.tunnel.com"], "domain": "tunnel.com"},
    })
    .to_string()
}

#[test]
fn alerts_reach_syslog_hec_and_elasticsearch_once_each_through_outages_and_a_restart() {
    let (dir, hub, sensor, id) = enrolled();
    let syslog = SyslogReceiver::start(&dir.path().join("syslog-ca"));
    let (http_port, received) = http_receiver();
    let config = dir.path().join("hub.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[[export]]
name = "syslog"
kind = "syslog"
address = "127.0.0.1:{}"
server_name = "localhost"
ca_file = "{}"

[[export]]
name = "splunk"
kind = "splunk_hec"
url = "http://127.0.0.1:{http_port}"
token = "{HEC_TOKEN}"

[[export]]
name = "elastic"
kind = "elasticsearch"
url = "http://127.0.0.1:{http_port}/"
index = "soc-alerts"
api_key = "{ES_KEY}"
"#,
            syslog.port,
            dir.path().join("syslog-ca/ca.pem").display()
        ),
    )
    .unwrap();
    let (data, port) = (hub.data.clone(), hub.port());
    hub.kill();
    let listen = format!("127.0.0.1:{port}");
    let hub = Hub::start_with(&data, &listen, &["--config", config.to_str().unwrap()]);

    let outbox = Outbox::open(&sensor).unwrap();
    let bodies: Vec<String> = (0..ALERTS).map(alert).collect();
    outbox.push_all(bodies.iter().map(|b| (b.as_str(), false))).unwrap();
    let tunnel = SyncHandle::start(&sensor, outbox, None).unwrap();
    assert!(tunnel.wait_drained(Duration::from_secs(60)), "{}", hub.log());

    // HEC refused three times, then took everything; Elasticsearch took everything. (Waiting
    // for the hub to count them sent: it does once their removal from its queue is durable.)
    let exports =
        || -> Vec<Value> { serde_json::from_str(&hub.api("GET", "/api/v1/exports", &hub.admin(), None).1).unwrap() };
    let by_name = |n: &str| exports().into_iter().find(|e| e["name"] == n).unwrap();
    wait_for("HEC and Elasticsearch", &hub, || {
        by_name("splunk")["sent"] == ALERTS && by_name("elastic")["sent"] == ALERTS
    });
    hub.wait_log("export splunk: http://127.0.0.1");
    // Syslog is still down: its queue survives a hub restart.
    assert_eq!(by_name("syslog")["queued"], ALERTS);
    assert!(by_name("syslog")["failures"].as_u64().unwrap() >= 1);
    assert!(by_name("syslog")["last_error"].as_str().unwrap().contains("TLS"));
    assert_eq!(by_name("splunk")["failures"], HEC_FAILURES);
    assert_eq!(
        (by_name("elastic")["queued"].as_u64(), by_name("elastic")["sent"].as_u64()),
        (Some(0), Some(ALERTS as u64))
    );
    let first_log = hub.log();
    hub.kill();
    let hub = Hub::start_with(&data, &listen, &["--config", config.to_str().unwrap()]);
    syslog.up.store(true, Ordering::SeqCst);
    wait_for("syslog", &hub, || syslog.messages.lock().unwrap().len() >= ALERTS);

    // Every destination holds each alert once, as an OCSF Detection Finding.
    let held: HashSet<String> =
        hub.alerts().iter().map(|a| format!("{}:{}", a["sensor_id"].as_str().unwrap(), a["seq"])).collect();
    assert_eq!(held.len(), ALERTS);
    let check = |f: &Value| {
        assert_eq!(f["class_uid"], 2004);
        assert_eq!(f["metadata"]["tenant_uid"], "acme");
        assert_eq!(f["device"]["uid"], id.as_str());
        assert_eq!(f["finding_info"]["attacks"][0]["technique"]["uid"], "T1071.004");
        f["metadata"]["uid"].as_str().unwrap().to_owned()
    };
    let messages = syslog.messages.lock().unwrap().clone();
    let mut from_syslog = HashSet::new();
    for m in &messages {
        let parsed = syslog_rfc5424::parse_message(m.as_str()).unwrap_or_else(|e| panic!("not RFC 5424 ({e}): {m}"));
        assert_eq!(parsed.facility, syslog_rfc5424::SyslogFacility::LOG_AUTH);
        assert_eq!(parsed.appname.as_deref(), Some("soc-hub"));
        assert_eq!(parsed.msgid.as_deref(), Some("2004"));
        let finding: Value = serde_json::from_str(&parsed.msg).unwrap();
        let expected_severity = if finding["severity_id"] == 4 {
            syslog_rfc5424::SyslogSeverity::SEV_ERR
        } else {
            syslog_rfc5424::SyslogSeverity::SEV_WARNING
        };
        assert_eq!(parsed.severity, expected_severity);
        from_syslog.insert(check(&finding));
    }
    assert!(messages.len() == ALERTS && from_syslog == held, "syslog: each alert once ({})", messages.len());
    let r = received.lock().unwrap();
    let from_hec: HashSet<String> = r.hec_events.iter().map(|e| check(&e["event"])).collect();
    assert!(r.hec_events.len() == ALERTS && from_hec == held, "HEC: each alert once ({})", r.hec_events.len());
    assert!(r.hec_events.iter().all(|e| e["sourcetype"] == "ocsf:detection_finding" && e["host"] == id.as_str()));
    let from_es: HashSet<String> = r
        .es_docs
        .iter()
        .map(|(k, f)| {
            assert_eq!(&check(f), k);
            k.clone()
        })
        .collect();
    assert!(from_es == held, "Elasticsearch: each alert once, by _id");

    // Secrets never reach the log.
    let log = first_log + &hub.log();
    assert!(!log.contains(HEC_TOKEN) && !log.contains(ES_KEY), "{log}");
    drop(tunnel);
}
