//! What the hub's tests share: a running `soc-hub` ([`Hub`]) and an enrolled sensor directory.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // shared by several test files

pub mod connect;
pub mod proxy;

use sensor_sync::enroll;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A running `soc-hub serve`, killed by its PID when dropped.
pub struct Hub {
    child: Child,
    pub data: PathBuf,
    log: Arc<std::sync::Mutex<String>>,
}

impl Hub {
    /// Starts a hub on `data`, its sensor endpoint on `listen` (port 0: any).
    pub fn start(data: &Path, listen: &str) -> Hub {
        Hub::start_with(data, listen, &[])
    }

    /// Starts a hub with more arguments to `serve`.
    pub fn start_with(data: &Path, listen: &str, args: &[&str]) -> Hub {
        let _ = std::fs::remove_file(data.join("tunnel.addr"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_soc-hub"))
            .args(["serve", "--data"])
            .arg(data)
            .args(["--listen", listen, "--api", "127.0.0.1:0"])
            .args(args)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(std::sync::Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let hub = Hub { child, data: data.to_owned(), log };
        hub.wait_log("sensors connect to");
        hub
    }

    pub fn wait_log(&self, text: &str) {
        let started = Instant::now();
        while !self.log.lock().unwrap().contains(text) {
            assert!(started.elapsed() < Duration::from_secs(20), "no {text:?} in the hub's log: {}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The sensors' endpoint as a sensor names it (the certificate is for localhost).
    pub fn endpoint(&self) -> String {
        let addr = std::fs::read_to_string(self.data.join("tunnel.addr")).unwrap();
        format!("localhost:{}", addr.trim().rsplit_once(':').unwrap().1)
    }

    pub fn port(&self) -> String {
        self.endpoint().rsplit_once(':').unwrap().1.to_owned()
    }

    pub fn cli(&self, args: &[&str]) -> String {
        let o = Command::new(env!("CARGO_BIN_EXE_soc-hub")).args(args).arg("--data").arg(&self.data).output().unwrap();
        assert!(o.status.success(), "soc-hub {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).trim().to_owned()
    }

    pub fn token(&self, ttl: &str) -> String {
        self.cli(&["token", "create", "--tenant", "acme", "--site", "plant-1", "--ttl", ttl])
    }

    /// One API call with `token` (an admin or session token); the status and the body.
    pub fn api(&self, method: &str, path: &str, token: &str, body: Option<serde_json::Value>) -> (u16, String) {
        let addr = std::fs::read_to_string(self.data.join("api.addr")).unwrap();
        let url = format!("https://{}{path}", addr.trim());
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder().tls_config(self.api_tls()).http_status_as_error(false).build(),
        );
        let auth = format!("Bearer {token}");
        let mut r = match (method, body) {
            ("POST", Some(b)) => agent.post(&url).header("Authorization", &auth).send_json(b),
            ("PUT", Some(b)) => agent.put(&url).header("Authorization", &auth).send_json(b),
            ("POST", None) => agent.post(&url).header("Authorization", &auth).send_empty(),
            _ => agent.get(&url).header("Authorization", &auth).call(),
        }
        .unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    }

    /// Trusting the hub's CA, and only it.
    pub fn api_tls(&self) -> ureq::tls::TlsConfig {
        let ca = ureq::tls::Certificate::from_pem(&std::fs::read(self.data.join("ca.pem")).unwrap()).unwrap();
        ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::new_with_certs(&[ca])).build()
    }

    /// The admin credential.
    pub fn admin(&self) -> String {
        std::fs::read_to_string(self.data.join("admin.token")).unwrap().trim().to_owned()
    }

    pub fn alerts(&self) -> Vec<serde_json::Value> {
        self.cli(&["alerts"]).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A hub and an enrolled sensor directory.
pub fn enrolled() -> (tempfile::TempDir, Hub, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(&dir.path().join("hub"), "127.0.0.1:0");
    let fp = hub.cli(&["ca-fingerprint"]);
    let sensor = dir.path().join("sensor");
    let id = enroll(&sensor, &hub.endpoint(), &hub.token("1h"), &fp).unwrap();
    (dir, hub, sensor, id)
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}
