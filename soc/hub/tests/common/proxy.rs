//! A TCP proxy on loopback that the test controls, between a sensor and the hub: it forwards,
//! stalls, black-holes, corrupts one byte, or resets every connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the link does to the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Fault {
    /// Forwards.
    Pass,
    /// Holds the bytes until the fault ends, then forwards them.
    Stall,
    /// Drops the connections that exist and everything new, without a reset: connections that
    /// were black-holed stay dead after the fault ends, as through a firewall that dropped them.
    Blackhole,
    /// Flips one byte of the next chunk from the sensor, then forwards again.
    Corrupt,
}

/// The proxy, running on a thread of its own until the test ends.
pub struct Proxy {
    /// Where sensors connect.
    pub addr: SocketAddr,
    fault: Arc<AtomicU8>,
    reset: tokio::sync::watch::Sender<u64>,
}

const POLL: Duration = Duration::from_millis(5);

impl Proxy {
    /// Starts a proxy to `upstream`.
    pub fn start(upstream: SocketAddr) -> Proxy {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        let fault = Arc::new(AtomicU8::new(Fault::Pass as u8));
        let (reset, _) = tokio::sync::watch::channel(0);
        let (f, r) = (fault.clone(), reset.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = TcpListener::from_std(std_listener).unwrap();
                loop {
                    let Ok((down, _)) = listener.accept().await else { return };
                    let Ok(up) = TcpStream::connect(upstream).await else { continue };
                    tokio::spawn(connection(down, up, f.clone(), r.subscribe()));
                }
            });
        });
        Proxy { addr, fault, reset }
    }

    /// Sets what the link does from now on.
    pub fn set(&self, fault: Fault) {
        self.fault.store(fault as u8, Ordering::SeqCst);
    }

    /// Ends every open connection with a TCP reset.
    pub fn reset(&self) {
        self.reset.send_modify(|n| *n += 1);
    }
}

fn current(fault: &AtomicU8) -> Fault {
    match fault.load(Ordering::SeqCst) {
        1 => Fault::Stall,
        2 => Fault::Blackhole,
        3 => Fault::Corrupt,
        _ => Fault::Pass,
    }
}

async fn connection(
    down: TcpStream,
    up: TcpStream,
    fault: Arc<AtomicU8>,
    mut reset: tokio::sync::watch::Receiver<u64>,
) {
    // Any close is a reset (linger 0): what a reset fault needs, harmless otherwise. (tokio
    // deprecates linger because a non-zero one blocks on drop; a zero one never does.)
    #[allow(deprecated)]
    for s in [&down, &up] {
        let _ = s.set_linger(Some(Duration::ZERO));
    }
    let (mut down_rd, mut down_wr) = down.into_split();
    let (mut up_rd, mut up_wr) = up.into_split();
    let holed = AtomicBool::new(false);
    let to_hub = pump(&mut down_rd, &mut up_wr, &fault, &holed, true);
    let to_sensor = pump(&mut up_rd, &mut down_wr, &fault, &holed, false);
    tokio::select! {
        _ = async { tokio::join!(to_hub, to_sensor) } => {}
        _ = reset.changed() => {}
    }
}

/// Forwards one direction of a connection; `holed` is shared by both directions.
async fn pump(
    rd: &mut (impl AsyncReadExt + Unpin),
    wr: &mut (impl AsyncWriteExt + Unpin),
    fault: &AtomicU8,
    holed: &AtomicBool,
    from_sensor: bool,
) {
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = match rd.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        loop {
            match current(fault) {
                Fault::Stall => tokio::time::sleep(POLL).await,
                Fault::Blackhole => {
                    holed.store(true, Ordering::SeqCst);
                    tokio::time::sleep(POLL).await;
                }
                Fault::Corrupt if from_sensor => {
                    buf[n / 2] ^= 0x5a;
                    fault.store(Fault::Pass as u8, Ordering::SeqCst);
                    break;
                }
                _ => break,
            }
        }
        if holed.load(Ordering::SeqCst) {
            // Swallow everything, forever.
            while rd.read(&mut buf).await.is_ok_and(|n| n > 0) {}
            return std::future::pending().await;
        }
        if wr.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
