//! Syslog over TLS: each finding is one RFC 5424 message (formatted by the `syslog` crate:
//! priority from the facility and the finding's severity, the send time, the hub's host name,
//! `soc-hub` and its pid, MSGID 2004 (the OCSF class), `[origin software="soc-hub"
//! swVersion=…]`, and the finding as JSON), framed with octet counting (`LEN SP MSG`, RFC 5425),
//! on one TLS connection kept open between batches and opened again after any failure.

use crate::config::Facility;
use crate::exporter::{Doc, IO_TIMEOUT, Refused, Sink};
use rustls::pki_types::ServerName;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::{TcpStream, ToSocketAddrs as _};
use std::sync::Arc;
use syslog::{Formatter5424, LogFormat as _, Severity};

/// MSGID of every message: the OCSF class of what it carries (Detection Finding).
const MSGID: u32 = 2004;

pub(crate) struct SyslogSink {
    address: String,
    server_name: ServerName<'static>,
    config: Arc<rustls::ClientConfig>,
    formatter: Formatter5424,
    conn: Option<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>,
}

fn facility(f: Facility) -> syslog::Facility {
    match f {
        Facility::Auth => syslog::Facility::LOG_AUTH,
        Facility::Authpriv => syslog::Facility::LOG_AUTHPRIV,
        Facility::Local0 => syslog::Facility::LOG_LOCAL0,
        Facility::Local1 => syslog::Facility::LOG_LOCAL1,
        Facility::Local2 => syslog::Facility::LOG_LOCAL2,
        Facility::Local3 => syslog::Facility::LOG_LOCAL3,
        Facility::Local4 => syslog::Facility::LOG_LOCAL4,
        Facility::Local5 => syslog::Facility::LOG_LOCAL5,
        Facility::Local6 => syslog::Facility::LOG_LOCAL6,
        Facility::Local7 => syslog::Facility::LOG_LOCAL7,
    }
}

/// OCSF `severity_id` (1 informational … 5 critical, 6 fatal) as a syslog severity.
fn severity(severity_id: u64) -> Severity {
    match severity_id {
        6.. => Severity::LOG_ALERT,
        5 => Severity::LOG_CRIT,
        4 => Severity::LOG_ERR,
        3 => Severity::LOG_WARNING,
        2 => Severity::LOG_NOTICE,
        _ => Severity::LOG_INFO,
    }
}

impl SyslogSink {
    pub fn new(
        address: &str,
        server_name: Option<&str>,
        fac: Facility,
        config: Arc<rustls::ClientConfig>,
    ) -> Result<SyslogSink, String> {
        let host = server_name.unwrap_or_else(|| address.rsplit_once(':').map_or(address, |(h, _)| h));
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let server_name =
            ServerName::try_from(host.to_owned()).map_err(|_| format!("{host:?} is not a host name or address"))?;
        let formatter = Formatter5424 { facility: facility(fac), ..Formatter5424::default() };
        let formatter = Formatter5424 { process: "soc-hub".into(), ..formatter };
        Ok(SyslogSink { address: address.into(), server_name, config, formatter, conn: None })
    }

    fn connect(&self) -> Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>, String> {
        let addrs = self.address.to_socket_addrs().map_err(|e| format!("{}: {e}", self.address))?;
        let mut last = format!("{}: no address", self.address);
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, IO_TIMEOUT) {
                Ok(tcp) => {
                    tcp.set_read_timeout(Some(IO_TIMEOUT)).map_err(|e| e.to_string())?;
                    tcp.set_write_timeout(Some(IO_TIMEOUT)).map_err(|e| e.to_string())?;
                    let conn = rustls::ClientConnection::new(self.config.clone(), self.server_name.clone())
                        .map_err(|e| e.to_string())?;
                    let mut stream = rustls::StreamOwned::new(conn, tcp);
                    // The handshake now, so that a refused certificate is reported as such.
                    while stream.conn.is_handshaking() {
                        stream.conn.complete_io(&mut stream.sock).map_err(|e| format!("{addr}: TLS: {e}"))?;
                    }
                    return Ok(stream);
                }
                Err(e) => last = format!("{addr}: {e}"),
            }
        }
        Err(last)
    }

    fn message(&self, doc: &Doc, out: &mut Vec<u8>) -> Result<(), String> {
        let origin = BTreeMap::from([
            ("software".to_owned(), "soc-hub".to_owned()),
            ("swVersion".to_owned(), env!("CARGO_PKG_VERSION").to_owned()),
        ]);
        let data = BTreeMap::from([("origin".to_owned(), origin)]);
        let mut msg = Vec::new();
        let sev = severity(doc.finding["severity_id"].as_u64().unwrap_or(0));
        self.formatter.format(&mut msg, sev, (MSGID, data, &doc.finding)).map_err(|e| e.to_string())?;
        write!(out, "{} ", msg.len()).map_err(|e| e.to_string())?;
        out.extend_from_slice(&msg);
        Ok(())
    }
}

/// Whether a kept connection is still open: the receiver sends nothing, so anything readable
/// now (its close, or a TLS alert) means it is gone, and a write would vanish into a dead
/// socket's buffer.
fn still_open(conn: &mut rustls::StreamOwned<rustls::ClientConnection, TcpStream>) -> bool {
    use std::io::Read as _;
    if conn.sock.set_nonblocking(true).is_err() {
        return false;
    }
    let mut byte = [0u8; 1];
    let open = matches!(conn.read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
    conn.sock.set_nonblocking(false).is_ok() && open
}

impl Sink for SyslogSink {
    fn send(&mut self, batch: &[Doc]) -> Result<(), Refused> {
        let mut frames = Vec::new();
        for doc in batch {
            self.message(doc, &mut frames).map_err(Refused::Retry)?;
        }
        let kept = self.conn.take().and_then(|mut c| still_open(&mut c).then_some(c));
        let mut conn = match kept {
            Some(c) => c,
            None => self.connect().map_err(Refused::Retry)?,
        };
        conn.write_all(&frames)
            .and_then(|()| conn.flush())
            .map_err(|e| Refused::Retry(format!("{}: {e}", self.address)))?;
        self.conn = Some(conn);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_map_from_ocsf_to_syslog() {
        assert!(matches!(severity(5), Severity::LOG_CRIT));
        assert!(matches!(severity(3), Severity::LOG_WARNING));
        assert!(matches!(severity(0), Severity::LOG_INFO));
    }
}
