//! The hub and the sensor's sync library end to end, on loopback: enrollment, exactly-once
//! delivery while the hub is killed (SIGKILL) and restarted mid-stream, a batch delivered twice,
//! certificate renewal over the tunnel, offline enrollment by files, and every refusal the tunnel must make (no certificate, another CA, a revoked sensor, a used
//! or expired token, garbage and oversize frames), each leaving what is stored unchanged.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

mod common;

use common::{Hub, enrolled, runtime};
use sensor_sync::{Identity, Outbox, SyncHandle, enroll, install_bundle, offline_request};
use soc_protocol::{AlertItem, Down, ErrorCode, Up, read_frame, write_frame};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn alerts_arrive_exactly_once_while_the_hub_is_killed_and_restarted() {
    const ALERTS: usize = 100_000;
    let (dir, hub, sensor, id) = enrolled();
    // The key never left the sensor's directory, and only its owner can read it.
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(sensor.join("key.pem")).unwrap().permissions().mode() & 0o777, 0o600);

    let outbox = Outbox::open(&sensor).unwrap();
    let bodies: Vec<String> = (0..ALERTS).map(|n| format!("{{\"n\":{n},\"severity\":\"medium\"}}")).collect();
    outbox.push_all(bodies.iter().map(|b| (b.as_str(), false))).unwrap();
    let critical = outbox.push("{\"n\":-1,\"severity\":\"critical\"}", true).unwrap();
    let port = hub.port();
    let tunnel = SyncHandle::start(&sensor, outbox.clone(), None).unwrap();
    // Kill the hub twice mid-stream, restarting it on the same port.
    let mut hub = hub;
    for _ in 0..2 {
        let started = Instant::now();
        let before = outbox.len();
        while outbox.len() + 10_000 > before {
            assert!(started.elapsed() < Duration::from_secs(60), "no progress: {}", hub.log());
            std::thread::sleep(Duration::from_millis(5));
        }
        let data = hub.data.clone();
        hub.kill();
        hub = Hub::start(&data, &format!("127.0.0.1:{port}"));
    }
    assert!(tunnel.wait_drained(Duration::from_secs(120)), "{} left: {}", outbox.len(), hub.log());
    assert!(tunnel.stats().sessions.load(std::sync::atomic::Ordering::Relaxed) >= 3);
    drop(tunnel);

    let stored = hub.alerts();
    assert_eq!(stored.len(), ALERTS + 1, "every alert once");
    let ns: HashSet<i64> = stored.iter().map(|a| a["alert"]["n"].as_i64().unwrap()).collect();
    assert_eq!(ns.len(), ALERTS + 1, "no duplicates, none missing");
    assert!(stored.iter().all(|a| a["sensor_id"] == id.as_str() && a["tenant"] == "acme"));
    // The critical alert, queued last, was among the first sent: its sequence is the highest,
    // yet the outbox handed it out first (checked in the outbox's own test); here, it arrived.
    assert!(stored.iter().any(|a| a["seq"] == critical));
    drop(dir);
}

/// Opens a tunnel with the sensor's identity and says Hello.
async fn hello(sensor: &Path, endpoint: &str) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let config = Identity::new(sensor).client_config().unwrap();
    let tcp = tokio::net::TcpStream::connect(endpoint).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await.unwrap();
    write_frame(&mut tls, &Up::Hello { min_version: 1, max_version: 1, software: "test".into() }).await.unwrap();
    assert!(matches!(read_frame::<_, Down>(&mut tls).await.unwrap(), Some(Down::Welcome { .. })));
    tls
}

#[test]
fn a_batch_delivered_twice_is_stored_once_and_tenants_come_from_certificates() {
    let (_dir, hub, sensor, id) = enrolled();
    runtime().block_on(async {
        let mut tls = hello(&sensor, &hub.endpoint()).await;
        // The alert claims another tenant; the hub files it under the certificate's.
        let batch = Up::Alerts(vec![
            AlertItem { seq: 1, json: "{\"n\":1,\"tenant\":\"other\"}".into() },
            AlertItem { seq: 2, json: "{\"n\":2}".into() },
            // Not JSON: kept, as a string.
            AlertItem { seq: 3, json: "not json {".into() },
        ]);
        for _ in 0..2 {
            write_frame(&mut tls, &batch).await.unwrap();
            assert_eq!(read_frame::<_, Down>(&mut tls).await.unwrap(), Some(Down::Acks(vec![1, 2, 3])));
        }
    });
    let stored = hub.alerts();
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[2]["alert"], "not json {");
    assert!(stored.iter().all(|a| a["tenant"] == "acme" && a["sensor_id"] == id.as_str()), "{stored:?}");
}

#[test]
fn bad_clients_are_refused_and_nothing_stored_changes() {
    let (dir, hub, sensor, id) = enrolled();
    let fp = hub.cli(&["ca-fingerprint"]);
    let endpoint = hub.endpoint();

    // A used token, an unknown one, an expired one.
    let used = hub.token("1h");
    enroll(&dir.path().join("s2"), &endpoint, &used, &fp).unwrap();
    let again = enroll(&dir.path().join("s3"), &endpoint, &used, &fp).unwrap_err().to_string();
    assert!(again.contains("BadToken") && again.contains("already used"), "{again}");
    let unknown = enroll(&dir.path().join("s4"), &endpoint, "00ff", &fp).unwrap_err().to_string();
    assert!(unknown.contains("unknown token"), "{unknown}");
    let short = hub.token("1s");
    std::thread::sleep(Duration::from_millis(2100));
    let expired = enroll(&dir.path().join("s5"), &endpoint, &short, &fp).unwrap_err().to_string();
    assert!(expired.contains("expired"), "{expired}");
    // The wrong CA pinned: the sensor refuses the hub.
    let pinned = enroll(&dir.path().join("s6"), &endpoint, &hub.token("1h"), &"0".repeat(64)).unwrap_err().to_string();
    assert!(!pinned.is_empty());
    assert!(!dir.path().join("s6/cert.pem").exists());

    runtime().block_on(async {
        // No certificate: only enrollment is possible.
        let no_cert = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_root_certificates({
                let mut roots = rustls::RootCertStore::empty();
                let pem = std::fs::read(sensor.join("hub-ca.pem")).unwrap();
                use rustls::pki_types::pem::PemObject as _;
                roots.add(rustls::pki_types::CertificateDer::from_pem_slice(&pem).unwrap()).unwrap();
                roots
            })
            .with_no_client_auth();
        let tcp = tokio::net::TcpStream::connect(&endpoint).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut tls = tokio_rustls::TlsConnector::from(Arc::new(no_cert)).connect(name, tcp).await.unwrap();
        write_frame(&mut tls, &Up::Alerts(vec![AlertItem { seq: 9, json: "{}".into() }])).await.unwrap();
        let refused = read_frame::<_, Down>(&mut tls).await.unwrap();
        assert!(matches!(refused, Some(Down::Error { code: ErrorCode::UnexpectedMessage, .. })), "{refused:?}");

        // Garbage after Hello: the connection is closed; an oversize length likewise.
        let mut tls = hello(&sensor, &endpoint).await;
        use tokio::io::AsyncWriteExt as _;
        tls.write_all(&[0, 0, 0, 3, 0x80, 1, 2]).await.unwrap();
        assert!(read_frame::<_, Down>(&mut tls).await.map(|m| m.is_none()).unwrap_or(true));
        let mut tls = hello(&sensor, &endpoint).await;
        tls.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
        assert!(read_frame::<_, Down>(&mut tls).await.map(|m| m.is_none()).unwrap_or(true));
    });
    hub.wait_log("unknown frame flags");
    hub.wait_log("exceeds the limit");
    hub.wait_log("without a certificate, only Enroll");

    // A certificate from another CA: the handshake fails.
    let other = Hub::start(&dir.path().join("other-hub"), "127.0.0.1:0");
    let other_sensor = dir.path().join("other-sensor");
    enroll(&other_sensor, &other.endpoint(), &other.token("1h"), &other.cli(&["ca-fingerprint"])).unwrap();
    std::fs::copy(sensor.join("hub-ca.pem"), other_sensor.join("hub-ca.pem")).unwrap();
    assert!(runtime().block_on(try_hello(&other_sensor, &endpoint)).is_err());
    hub.wait_log("TLS handshake refused");

    // Revoked: the next handshake fails.
    assert!(runtime().block_on(try_hello(&sensor, &endpoint)).is_ok());
    hub.cli(&["sensor", "revoke", "--id", &id]);
    assert!(runtime().block_on(try_hello(&sensor, &endpoint)).is_err());
    hub.wait_log("refused a revoked sensor certificate");

    // Nothing of all this was stored.
    assert!(hub.alerts().is_empty());
}

#[test]
fn certificates_are_renewed_over_the_tunnel_and_the_old_one_refused_once_the_new_one_is_used() {
    let dir = tempfile::tempdir().unwrap();
    // Certificates of one minute: a third of their validity (with the five minutes of clock
    // slack before it) is left at once, so the sensor renews as soon as it connects.
    let hub = Hub::start_with(&dir.path().join("hub"), "127.0.0.1:0", &["--sensor-cert-validity", "1m"]);
    let sensor = dir.path().join("sensor");
    let id = enroll(&sensor, &hub.endpoint(), &hub.token("1h"), &hub.cli(&["ca-fingerprint"])).unwrap();
    let old = dir.path().join("old-identity");
    std::fs::create_dir(&old).unwrap();
    for f in ["key.pem", "cert.pem", "hub-ca.pem", "hub.json"] {
        std::fs::copy(sensor.join(f), old.join(f)).unwrap();
    }
    let first = std::fs::read(sensor.join("cert.pem")).unwrap();

    let outbox = Outbox::open(&sensor).unwrap();
    let tunnel = SyncHandle::start(&sensor, outbox.clone(), None).unwrap();
    let started = Instant::now();
    while std::fs::read(sensor.join("cert.pem")).unwrap() == first {
        assert!(started.elapsed() < Duration::from_secs(30), "not renewed: {}", hub.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    hub.wait_log(&format!("{id}: certificate renewed"));
    // Until the sensor uses the new certificate, the old one still works.
    assert!(runtime().block_on(try_hello(&old, &hub.endpoint())).is_ok());

    // The next session uses the new one; from then on the old one is refused.
    drop(tunnel);
    let tunnel = SyncHandle::start(&sensor, outbox.clone(), None).unwrap();
    hub.wait_log("connected with its renewed certificate");
    let refused = runtime().block_on(try_hello(&old, &hub.endpoint())).unwrap_err();
    assert!(refused.contains("Unauthorized"), "{refused}");
    outbox.push("{\"n\":1}", false).unwrap();
    assert!(tunnel.wait_drained(Duration::from_secs(30)), "{}", hub.log());
    assert_eq!(hub.alerts().len(), 1);
}

#[test]
fn an_air_gapped_sensor_enrolls_with_files_and_its_key_never_leaves_it() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(&dir.path().join("hub"), "127.0.0.1:0");
    let sensor = dir.path().join("sensor");
    // On the appliance: the request (asking twice gives a request for the same key).
    offline_request(&sensor).unwrap();
    let key = std::fs::read_to_string(sensor.join("key.pem")).unwrap();
    let request = offline_request(&sensor).unwrap();
    assert_eq!(std::fs::read_to_string(sensor.join("key.pem")).unwrap(), key);
    let request_file = dir.path().join("request.json");
    std::fs::write(&request_file, serde_json::to_string(&request).unwrap()).unwrap();
    assert!(!std::fs::read_to_string(&request_file).unwrap().contains("PRIVATE KEY"));

    // At the SOC: the bundle.
    let bundle_file = dir.path().join("bundle.json");
    let (req, out) = (request_file.to_str().unwrap(), bundle_file.to_str().unwrap());
    let endpoint = hub.endpoint();
    hub.cli(&[
        "enroll-offline",
        "--tenant",
        "plant",
        "--site",
        "line-2",
        "--hub",
        &endpoint,
        "--request",
        req,
        "--out",
        out,
    ]);
    let bundle: soc_protocol::offline::OfflineBundle =
        serde_json::from_str(&std::fs::read_to_string(&bundle_file).unwrap()).unwrap();

    // Back on the appliance: a wrong pin, or a bundle for another key, is refused.
    let wrong = install_bundle(&sensor, &bundle, &"0".repeat(64)).unwrap_err().to_string();
    assert!(wrong.contains("not the pinned one"), "{wrong}");
    let other = dir.path().join("other");
    offline_request(&other).unwrap();
    let fp = hub.cli(&["ca-fingerprint"]);
    let not_mine = install_bundle(&other, &bundle, &fp).unwrap_err().to_string();
    assert!(not_mine.contains("not for this sensor's key"), "{not_mine}");
    let id = install_bundle(&sensor, &bundle, &fp).unwrap();
    assert_eq!(std::fs::read_to_string(sensor.join("key.pem")).unwrap(), key, "the same key");

    // When a path opens, it syncs like any sensor, under the bundle's tenant and site.
    let outbox = Outbox::open(&sensor).unwrap();
    outbox.push("{\"n\":1}", false).unwrap();
    let tunnel = SyncHandle::start(&sensor, outbox, None).unwrap();
    assert!(tunnel.wait_drained(Duration::from_secs(30)), "{}", hub.log());
    let stored = hub.alerts();
    assert_eq!(
        (stored.len(), &stored[0]["sensor_id"], &stored[0]["tenant"], &stored[0]["site"]),
        (1, &id.clone().into(), &"plant".into(), &"line-2".into())
    );
    let (_, audit) = hub.api("GET", "/api/v1/audit", &hub.admin(), None);
    assert!(audit.contains("enroll_offline"), "{audit}");
}

/// Hello with the sensor's identity; the error if the tunnel is refused.
async fn try_hello(sensor: &Path, endpoint: &str) -> Result<(), String> {
    let config = Identity::new(sensor).client_config().map_err(|e| e.to_string())?;
    let tcp = tokio::net::TcpStream::connect(endpoint).await.map_err(|e| e.to_string())?;
    let name = rustls::pki_types::ServerName::try_from("localhost").map_err(|e| e.to_string())?;
    let mut tls =
        tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await.map_err(|e| e.to_string())?;
    write_frame(&mut tls, &Up::Hello { min_version: 1, max_version: 1, software: "test".into() })
        .await
        .map_err(|e| e.to_string())?;
    match read_frame::<_, Down>(&mut tls).await.map_err(|e| e.to_string())? {
        Some(Down::Welcome { .. }) => Ok(()),
        other => Err(format!("{other:?}")),
    }
}
