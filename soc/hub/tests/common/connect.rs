//! An HTTP proxy on loopback that only does `CONNECT`, as customer networks have: it checks
//! the `Proxy-Authorization` it was given, records each target, and relays bytes.

use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// The proxy, on a thread of its own until the test ends.
pub struct ConnectProxy {
    /// Its port.
    pub port: u16,
    /// The targets of the `CONNECT` requests it accepted.
    pub accepted: Arc<Mutex<Vec<String>>>,
}

impl ConnectProxy {
    /// Starts a proxy accepting only `authorization` (the header's value).
    pub fn start(authorization: &str) -> ConnectProxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let (seen, expected) = (accepted.clone(), authorization.to_owned());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = TcpListener::from_std(listener).unwrap();
                while let Ok((client, _)) = listener.accept().await {
                    tokio::spawn(relay(client, expected.clone(), seen.clone()));
                }
            });
        });
        ConnectProxy { port, accepted }
    }
}

async fn relay(mut client: TcpStream, expected: String, seen: Arc<Mutex<Vec<String>>>) {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        match client.read_u8().await {
            Ok(b) => head.push(b),
            Err(_) => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let target = head.strip_prefix("CONNECT ").and_then(|r| r.split_whitespace().next()).unwrap_or("").to_owned();
    let authorized = head.lines().any(|l| l.strip_prefix("Proxy-Authorization: ") == Some(expected.as_str()));
    if !authorized {
        let _ = client.write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n").await;
        return;
    }
    let Ok(mut upstream) = TcpStream::connect(target.replace("localhost", "127.0.0.1")).await else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
        return;
    };
    seen.lock().unwrap().push(target);
    if client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await.is_ok() {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
    }
}
