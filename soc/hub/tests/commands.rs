//! Commands down the tunnel, end to end on loopback: issued through the API (while the sensor
//! is offline and while it is connected), signed by the hub, carried out by the sensor's
//! executor, results and evidence back in the API; and a hub that turned hostile (its TLS
//! identity intact, but sending commands the command key did not sign, another sensor's, an
//! expired one, one already carried out) gets every one refused, or its earlier result, and
//! nothing acted on.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

mod common;

use common::{enrolled, runtime};
use ed25519_dalek::SigningKey;
use sensor_sync::{Appliance, Executed, Outbox, SyncHandle};
use soc_hub::ca::Ca;
use soc_hub::commands::Signer;
use soc_hub::db::Db;
use soc_hub::tunnel::{Hub, tls_config};
use soc_protocol::{Command, CommandBody, CommandStatus, Down, Health, SignedCommand, Up, read_frame, write_frame};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Records the commands it carries out; evidence for any uid but `missing`.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<Command>>,
}

const PCAPNG: &[u8] = b"\x0a\x0d\x0d\x0a pretend pcapng";

impl Appliance for Recorder {
    fn health(&self) -> Health {
        Health { rx_packets: 1234, kernel_drops: 5, store_bytes: 6789, disk_free_bytes: 1 << 30, ..Health::default() }
    }

    fn execute(&self, command: &Command) -> Result<Executed, String> {
        self.seen.lock().unwrap().push(command.clone());
        match command {
            Command::Evidence { uid } if uid == "missing" => Err(format!("no evidence packets for uid {uid}")),
            Command::Evidence { .. } => Ok(Executed { detail: "2 packets".into(), attachment: PCAPNG.to_vec() }),
            Command::IntelFeed { name, .. } => Ok(Executed { detail: format!("wrote {name}"), attachment: Vec::new() }),
            Command::DetectConfig { .. } => Ok(Executed { detail: "applied".into(), attachment: Vec::new() }),
        }
    }
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(30), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn commands_issued_through_the_api_are_carried_out_and_evidence_comes_back() {
    let (_dir, hub, sensor, id) = enrolled();
    let admin = hub.admin();
    let issue = |body: serde_json::Value| {
        let (status, text) = hub.api("POST", &format!("/api/v1/sensors/{id}/commands"), &admin, Some(body));
        assert_eq!(status, 200, "{text}");
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["id"].as_u64().unwrap()
    };
    // Issued while the sensor is offline: delivered when it connects.
    let offline = issue(serde_json::json!({"command": "evidence", "uid": "CXWv6p3arKYeMETxOg"}));
    let recorder = Arc::new(Recorder::default());
    let tunnel = SyncHandle::start(&sensor, Outbox::open(&sensor).unwrap(), Some(recorder.clone())).unwrap();
    // Issued while it is connected.
    let feed = issue(serde_json::json!({"command": "intel_feed", "name": "soc.txt", "content": "evil.example\n"}));
    let missing = issue(serde_json::json!({"command": "evidence", "uid": "missing"}));
    let settings = issue(serde_json::json!({"command": "detect_config", "toml": "[scan]\nports = 12\n"}));

    let commands = || {
        let (_, text) = hub.api("GET", &format!("/api/v1/sensors/{id}/commands"), &admin, None);
        serde_json::from_str::<Vec<serde_json::Value>>(&text).unwrap()
    };
    wait_for("four answered commands", || commands().iter().filter(|c| c["state"] != "pending").count() == 4);
    let list = commands();
    let state = |n: u64| list.iter().find(|c| c["id"] == n).unwrap().clone();
    assert_eq!(state(offline)["state"], "done");
    assert_eq!(state(offline)["attachment_bytes"], PCAPNG.len());
    assert_eq!(state(feed)["state"], "done");
    assert_eq!(state(missing)["state"], "failed");
    assert_eq!(
        (state(settings)["state"].as_str(), state(settings)["kind"].as_str()),
        (Some("done"), Some("detect_config"))
    );
    assert!(state(missing)["detail"].as_str().unwrap().contains("no evidence packets"));
    assert!(list.iter().all(|c| c.get("signed").is_none()), "the signed bytes stay internal");

    let (status, body) = hub.api("GET", &format!("/api/v1/sensors/{id}/commands/{offline}/attachment"), &admin, None);
    assert_eq!((status, body.as_bytes()), (200, PCAPNG));
    let (status, _) = hub.api("GET", &format!("/api/v1/sensors/{id}/commands/{feed}/attachment"), &admin, None);
    assert_eq!(status, 404);

    // Each was carried out once, in the order issued.
    let seen = recorder.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 4);
    assert_eq!(seen[1], Command::IntelFeed { name: "soc.txt".into(), content: b"evil.example\n".to_vec() });
    assert_eq!(seen[3], Command::DetectConfig { toml: "[scan]\nports = 12\n".into() });
    assert_eq!(tunnel.stats().commands_refused.load(std::sync::atomic::Ordering::Relaxed), 0);

    // Who issued what is in the audit trail; an unknown sensor gets no command.
    let (_, audit) = hub.api("GET", "/api/v1/audit", &admin, None);
    assert_eq!(audit.matches("command_evidence").count(), 2, "{audit}");
    let (status, _) = hub.api(
        "POST",
        "/api/v1/sensors/sensor-nobody/commands",
        &admin,
        Some(serde_json::json!({"command": "evidence", "uid": "C1"})),
    );
    assert_eq!(status, 404);
    hub.wait_log(&format!("command {offline}: Done"));

    // The heartbeat carried what the appliance reported, and the tunnel's backlog.
    let (_, sensors) = hub.api("GET", "/api/v1/sensors", &admin, None);
    let sensors: Vec<serde_json::Value> = serde_json::from_str(&sensors).unwrap();
    let health = &sensors.iter().find(|s| s["id"] == id.as_str()).unwrap()["health"];
    assert_eq!((health["rx_packets"].as_u64(), health["kernel_drops"].as_u64()), (Some(1234), Some(5)), "{health}");
    assert_eq!((health["store_bytes"].as_u64(), health["backlog"].as_u64()), (Some(6789), Some(0)), "{health}");
    assert!(health["heartbeat_at"].as_u64().unwrap() > 0);
}

#[test]
fn forged_replayed_misaddressed_and_expired_commands_are_refused() {
    let (_dir, hub, sensor, id) = enrolled();
    let admin = hub.admin();
    let recorder = Arc::new(Recorder::default());
    let tunnel = SyncHandle::start(&sensor, Outbox::open(&sensor).unwrap(), Some(recorder.clone())).unwrap();
    let (status, text) = hub.api(
        "POST",
        &format!("/api/v1/sensors/{id}/commands"),
        &admin,
        Some(serde_json::json!({"command": "evidence", "uid": "C1"})),
    );
    assert_eq!(status, 200, "{text}");
    wait_for("the genuine command", || recorder.seen.lock().unwrap().len() == 1);

    // The hub turns hostile: same data directory (its CA, so TLS still succeeds), but it now
    // sends what it likes. The sensor reconnects to it.
    let (data, port) = (hub.data.clone(), hub.port());
    hub.kill();
    let db = Db::open(&data.join("db"), &[]).unwrap();
    let first = db.commands(&id).unwrap().remove(0);
    let (genuine_id, genuine_command) = (first.id, first.signed);
    let key: [u8; 32] = std::fs::read(data.join("command.key")).unwrap().try_into().unwrap();
    let genuine = SigningKey::from_bytes(&key);
    let forger = SigningKey::from_bytes(&[9; 32]);
    let hostile =
        Hub::new(db, Ca::load_or_create(&data).unwrap(), Signer::load_or_create(&data).unwrap(), &[]).unwrap();
    let tls = tls_config(&hostile, &["localhost".into()]).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let body = |n: u64, sensor: &str, expires: u64| CommandBody {
        id: n,
        sensor_id: sensor.into(),
        issued: now,
        expires,
        command: Command::IntelFeed { name: "x.txt".into(), content: b"example.org\n".to_vec() },
    };
    let sent = [
        SignedCommand::sign(&forger, &body(1000, &id, now + 3600)).unwrap(),
        SignedCommand::sign(&genuine, &body(1001, "sensor-someone-else", now + 3600)).unwrap(),
        SignedCommand::sign(&genuine, &body(1002, &id, now - 10)).unwrap(),
        genuine_command,
        // Forged by tampering: a genuine signature over other bytes.
        {
            let mut c = SignedCommand::sign(&genuine, &body(1003, &id, now + 3600)).unwrap();
            let last = c.body.len() - 1;
            c.body[last] ^= 1;
            c
        },
    ];
    let reasons = runtime().block_on(async {
        let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await.unwrap();
        let (tcp, _) = listener.accept().await.unwrap();
        let mut stream = tokio_rustls::TlsAcceptor::from(Arc::new(tls)).accept(tcp).await.unwrap();
        assert!(matches!(read_frame::<_, Up>(&mut stream).await.unwrap(), Some(Up::Hello { .. })));
        let welcome = Down::Welcome {
            version: 1,
            sensor_id: id.clone(),
            tenant: "acme".into(),
            command_key: genuine.verifying_key().to_bytes(),
        };
        write_frame(&mut stream, &welcome).await.unwrap();
        for c in &sent {
            write_frame(&mut stream, &Down::Command(c.clone())).await.unwrap();
        }
        let mut reasons = Vec::new();
        while reasons.len() < sent.len() {
            match tokio::time::timeout(Duration::from_secs(30), read_frame::<_, Up>(&mut stream)).await {
                Ok(Ok(Some(Up::CommandResult { id: result_id, status, detail, attachment }))) => {
                    // The genuine command's result may still have been on its way when the
                    // first hub was killed: results go up at least once, so it comes first here.
                    if reasons.is_empty() && result_id == genuine_id && status == CommandStatus::Done {
                        continue;
                    }
                    reasons.push((status, detail, attachment));
                }
                Ok(Ok(Some(_))) => {}
                other => panic!("expected command results, got {other:?}"),
            }
        }
        reasons
    });
    let refused = |i: usize, why: &str| {
        let (status, detail, attachment) = &reasons[i];
        assert!(*status == CommandStatus::Refused && detail.contains(why) && attachment.is_empty(), "{i}: {reasons:?}");
    };
    refused(0, "signature does not verify");
    refused(1, "not to this sensor");
    refused(2, "expired");
    // The genuine command, delivered again: its result, from the sensor's journal, not a
    // second run.
    assert_eq!((reasons[3].0, reasons[3].2.as_slice()), (CommandStatus::Done, PCAPNG), "{reasons:?}");
    refused(4, "signature does not verify");
    // Nothing was acted on but the one genuine command.
    assert_eq!(recorder.seen.lock().unwrap().len(), 1);
    assert_eq!(tunnel.stats().commands_refused.load(std::sync::atomic::Ordering::Relaxed), 4);
}
