//! The control socket: how `sensor query` reads a store that a running sensor holds.
//!
//! sled allows one process per database, so while a replay (and later `sensor run`) writes to a
//! store, the process serves queries on a Unix socket, `control.sock`, in the store's directory.
//! Nothing listens on a network interface.
//!
//! **Access**: the store directory is mode 0700 and the socket 0600, and the server also checks
//! the peer's credentials (`SO_PEERCRED`): only root and the sensor's own user are answered.
//!
//! **Protocol**, one request per connection: the client sends one JSON line, a [`Request`]; the
//! server answers with lines, each a tag and a space and then text:
//!
//! | tag | line |
//! |---|---|
//! | `R` | a row of output, as `sensor query` would print it |
//! | `W` | a warning (a damaged block skipped) |
//! | `E` | an error; the last line |
//! | `D` | `rows damaged`; the last line when the query completed |
//!
//! At most [`MAX_CLIENTS`] queries run at once; a request line is at most [`MAX_REQUEST`] bytes
//! and must arrive within [`REQUEST_TIMEOUT`].

use crate::query::{Format, Line, render};
use anyhow::Context as _;
use sensor_store::{Kind, Order, Query, Store};
use sensor_wire::Timestamp;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;

/// The socket's name in the store directory.
pub const SOCKET: &str = "control.sock";
/// Queries served at once; more are refused with an error line.
pub const MAX_CLIENTS: usize = 4;
/// Longest request line accepted.
pub const MAX_REQUEST: u64 = 64 << 10;
/// How long a client may take to send its request before its slot is given back.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// Pause after a failed `accept`.
const ACCEPT_BACKOFF: std::time::Duration = std::time::Duration::from_millis(100);

/// A query as sent over the socket.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Request {
    /// Nanoseconds since the epoch.
    pub from: Option<u64>,
    /// Nanoseconds since the epoch.
    pub to: Option<u64>,
    /// Record type names.
    pub kinds: Vec<String>,
    /// Either side.
    pub host: Option<IpAddr>,
    /// Name or a name under it.
    pub domain: Option<String>,
    /// Connection uid.
    pub uid: Option<String>,
    /// Community ID.
    pub community_id: Option<String>,
    /// Most records.
    pub limit: Option<usize>,
    /// Oldest first instead of newest first.
    pub oldest_first: bool,
    /// Output format.
    pub format: Option<Format>,
}

impl Request {
    /// The request for a query printed in `format`.
    pub fn new(q: &Query, format: Format) -> Request {
        Request {
            from: q.from.map(|t| t.0),
            to: q.to.map(|t| t.0),
            kinds: q.kinds.iter().map(|k| k.name().to_owned()).collect(),
            host: q.host,
            domain: q.domain.clone(),
            uid: q.uid.clone(),
            community_id: q.community_id.clone(),
            limit: q.limit,
            oldest_first: q.order == Order::OldestFirst,
            format: Some(format),
        }
    }

    fn query(&self) -> Result<Query, String> {
        let kinds = self.kinds.iter().map(|k| k.parse::<Kind>()).collect::<Result<Vec<_>, _>>()?;
        Ok(Query {
            from: self.from.map(Timestamp),
            to: self.to.map(Timestamp),
            kinds,
            host: self.host,
            domain: self.domain.clone(),
            uid: self.uid.clone(),
            community_id: self.community_id.clone(),
            limit: self.limit,
            order: if self.oldest_first { Order::OldestFirst } else { Order::NewestFirst },
        })
    }
}

/// Serves queries on the store's control socket until dropped.
pub struct ControlServer {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ControlServer {
    /// Listens on `control.sock` in the store's directory. A socket left by a process that died
    /// is replaced: the caller holds the store, so no other server can be running on it.
    pub fn start(store: Store) -> std::io::Result<ControlServer> {
        let path = store.dir().join(SOCKET);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let listener = UnixListener::bind(&path)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread =
            std::thread::Builder::new().name("control".into()).spawn(move || serve(&listener, &store, &flag))?;
        Ok(ControlServer { path, stop, thread: Some(thread) })
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept call; the server sees the flag and returns.
        let _ = UnixStream::connect(&self.path);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn serve(listener: &UnixListener, store: &Store, stop: &AtomicBool) {
    let busy = Arc::new(AtomicUsize::new(0));
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(mut conn) = conn else {
            // Out of descriptors or similar: wait instead of spinning on the error.
            std::thread::sleep(ACCEPT_BACKOFF);
            continue;
        };
        if !peer_allowed(&conn) {
            let _ = writeln!(conn, "E permission denied: only root and the sensor's user may query");
            continue;
        }
        if busy.fetch_add(1, Ordering::SeqCst) >= MAX_CLIENTS {
            busy.fetch_sub(1, Ordering::SeqCst);
            let _ = writeln!(conn, "E busy: {MAX_CLIENTS} queries already running");
            continue;
        }
        let (store, running) = (store.clone(), Arc::clone(&busy));
        let spawned = std::thread::Builder::new().name("control-query".into()).spawn(move || {
            // A client that went away mid-answer is no error of the sensor's.
            let _ = answer(conn, &store);
            running.fetch_sub(1, Ordering::SeqCst);
        });
        if spawned.is_err() {
            busy.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Root, or the user the sensor runs as.
fn peer_allowed(conn: &UnixStream) -> bool {
    use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
    getsockopt(conn, PeerCredentials).is_ok_and(|c| c.uid() == 0 || c.uid() == nix::unistd::geteuid().as_raw())
}

/// Reads one request and streams its answer.
fn answer(conn: UnixStream, store: &Store) -> std::io::Result<()> {
    conn.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    let mut out = std::io::BufWriter::new(conn.try_clone()?);
    let mut request = String::new();
    BufReader::new(conn.take(MAX_REQUEST)).read_line(&mut request)?;
    if !request.ends_with('\n') {
        return writeln!(out, "E request too long or cut short");
    }
    let parsed: Result<Request, String> = serde_json::from_str(&request).map_err(|e| format!("bad request: {e}"));
    let (query, format) = match parsed.and_then(|r| Ok((r.query()?, r.format.unwrap_or(Format::Json)))) {
        Ok(q) => q,
        Err(e) => return writeln!(out, "E {e}"),
    };
    let results = match store.query(&query) {
        Ok(results) => results,
        Err(e) => return writeln!(out, "E {e}"),
    };
    let (rows, damaged) = render(results, format, &mut |line| match line {
        Line::Row(row) => {
            out.write_all(b"R ")?;
            out.write_all(row)?;
            out.write_all(b"\n")
        }
        Line::Warning(w) => writeln!(out, "W {w}"),
    })?;
    writeln!(out, "D {rows} {damaged}")?;
    out.flush()
}

/// Asks the sensor holding the store in `dir`; prints rows to `out` and warnings to stderr.
/// Returns the rows printed and the damaged blocks skipped.
pub fn query_running(dir: &Path, request: &Request, out: &mut impl Write) -> anyhow::Result<(u64, u64)> {
    let path = dir.join(SOCKET);
    let mut conn = UnixStream::connect(&path)
        .with_context(|| format!("{}: the store is in use, and its control socket does not answer", path.display()))?;
    let mut line = serde_json::to_string(request)?;
    line.push('\n');
    conn.write_all(line.as_bytes())?;
    for line in BufReader::new(conn).lines() {
        let line = line.with_context(|| format!("{}: reading the answer", path.display()))?;
        let (tag, text) = line.split_at_checked(2).unwrap_or((line.as_str(), ""));
        match tag {
            "R " => writeln!(out, "{text}")?,
            "W " => eprintln!("sensor: warning: {text}"),
            "E " => anyhow::bail!("the running sensor: {text}"),
            "D " => {
                let mut counts = text.split(' ').map(str::parse::<u64>);
                if let (Some(Ok(rows)), Some(Ok(damaged))) = (counts.next(), counts.next()) {
                    out.flush()?;
                    return Ok((rows, damaged));
                }
                anyhow::bail!("the running sensor: unreadable end line {line:?}");
            }
            _ => anyhow::bail!("the running sensor: unreadable line {line:?}"),
        }
    }
    anyhow::bail!("the running sensor closed the connection before the end of the answer")
}
