//! `sensor query` while another process holds the store: a replay reading a FIFO keeps the store
//! open, and the query goes through the replay's control socket.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn sensor(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sensor")).args(args).output().unwrap()
}

#[test]
fn query_goes_through_the_running_replays_control_socket() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("capture.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let store = dir.path().join("store");
    let replay = Command::new(env!("CARGO_BIN_EXE_sensor"))
        .args(["replay", "--seed", "3", "--store", store.to_str().unwrap(), fifo.to_str().unwrap()])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut replay = common::Child(replay);

    // A DNS capture, then (after the 1 s flush interval) its first packet again, so that the
    // replay flushes the DNS records of the first part while it waits for more.
    let capture = std::fs::read(common::pcaps().join("dns/sv-dns-google-a-aaaa-mx.pcap")).unwrap();
    let first_len = u32::from_le_bytes(capture[24 + 8..24 + 12].try_into().unwrap()) as usize;
    let first_packet = capture[24..24 + 16 + first_len].to_vec();
    let mut writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    writer.write_all(&capture).unwrap();
    writer.flush().unwrap();
    std::thread::sleep(Duration::from_millis(1300));
    writer.write_all(&first_packet).unwrap();
    writer.flush().unwrap();

    // The replay holds the store and answers on its socket.
    let socket = store.join("control.sock");
    let started = Instant::now();
    while !socket.exists() {
        assert!(started.elapsed() < Duration::from_secs(20), "no control socket");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mode = std::fs::metadata(&socket).map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions())).unwrap();
    assert_eq!(mode & 0o777, 0o600, "the socket is for root only");
    let mut dns_lines = 0;
    while started.elapsed() < Duration::from_secs(20) && dns_lines == 0 {
        let o = sensor(&["query", "--store", store.to_str().unwrap(), "--type", "dns"]);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "{err}");
        assert!(err.contains("control socket"), "the query went through the socket: {err}");
        dns_lines =
            String::from_utf8(o.stdout).unwrap().lines().filter(|l| l.starts_with("{\"_path\":\"dns\"")).count();
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(dns_lines > 0, "flushed DNS records are visible through the socket");
    let o = sensor(&["query", "--store", store.to_str().unwrap(), "--type", "nonsense"]);
    assert!(!o.status.success());
    // A request that is not one gets an error line, not a crash or a hang.
    let mut conn = std::os::unix::net::UnixStream::connect(&socket).unwrap();
    conn.write_all(b"{\"colour\": \"red\"}\n").unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut conn, &mut answer).unwrap();
    assert!(answer.starts_with("E bad request"), "{answer}");

    // End of input: the replay finishes, removes its socket, and the store opens directly.
    drop(writer);
    let status = replay.0.wait().unwrap();
    assert!(status.success());
    assert!(!socket.exists(), "the socket is removed at exit");
    let o = sensor(&["query", "--store", store.to_str().unwrap(), "--type", "dns"]);
    assert!(o.status.success());
    assert!(!String::from_utf8_lossy(&o.stderr).contains("control socket"));
    let after = String::from_utf8(o.stdout).unwrap().lines().count();
    assert!(after >= dns_lines);
}
