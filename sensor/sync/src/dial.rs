//! Dialling the hub: straight to it, or through the customer's HTTP proxy with `CONNECT`
//! (RFC 9110 §9.3.6), optionally with Basic credentials. Either way the TLS session is the
//! sensor's own, end to end with the hub: the proxy only relays bytes.

use crate::SyncError;
use crate::identity::STEP;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// The longest proxy answer header read.
const MAX_ANSWER: usize = 8 << 10;

/// An HTTP proxy: `http://[user:password@]host:port`.
#[derive(Clone)]
pub struct Proxy {
    /// `host:port`.
    addr: String,
    /// `Basic …` credentials, if any.
    authorization: Option<String>,
}

impl std::fmt::Debug for Proxy {
    /// The address only: credentials stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "http://{}", self.addr)
    }
}

impl Proxy {
    /// Parses a proxy URL.
    pub fn parse(text: &str) -> Result<Proxy, SyncError> {
        let bad = |why: &str| SyncError::Identity(format!("proxy: {why} (expected http://[user:password@]host:port)"));
        let url = url::Url::parse(text).map_err(|_| bad("not a URL"))?;
        if url.scheme() != "http" {
            return Err(bad("only http:// proxies"));
        }
        let host = url.host_str().ok_or_else(|| bad("no host"))?;
        let port = url.port_or_known_default().ok_or_else(|| bad("no port"))?;
        let authorization = match (url.username(), url.password()) {
            ("", None) => None,
            (user, password) => {
                use base64::Engine as _;
                let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
                let pair = format!("{}:{}", decode(user), decode(password.unwrap_or("")));
                Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair)))
            }
        };
        Ok(Proxy { addr: format!("{host}:{port}"), authorization })
    }
}

/// A TCP connection to `hub` (`HOST:PORT`), through `proxy` if given.
pub(crate) async fn dial(hub: &str, proxy: Option<&Proxy>) -> Result<TcpStream, SyncError> {
    let within = |what: &str| {
        let what = what.to_owned();
        move |_| SyncError::Refused(format!("{what}: timed out"))
    };
    let Some(proxy) = proxy else {
        return Ok(tokio::time::timeout(STEP, TcpStream::connect(hub)).await.map_err(|_| SyncError::Timeout)??);
    };
    let mut tcp = tokio::time::timeout(STEP, TcpStream::connect(&proxy.addr))
        .await
        .map_err(within(&format!("proxy {proxy:?}")))?
        .map_err(|e| SyncError::Refused(format!("proxy {proxy:?}: {e}")))?;
    let mut request = format!("CONNECT {hub} HTTP/1.1\r\nHost: {hub}\r\n");
    if let Some(auth) = &proxy.authorization {
        request.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
    }
    request.push_str("\r\n");
    tcp.write_all(request.as_bytes()).await?;
    // The answer's header, byte by byte: nothing of the tunnelled stream may be read here.
    let mut answer = Vec::new();
    let read = async {
        while !answer.ends_with(b"\r\n\r\n") {
            if answer.len() >= MAX_ANSWER {
                return Err(SyncError::Refused(format!("proxy {proxy:?}: answer header over {MAX_ANSWER} bytes")));
            }
            let byte = tcp.read_u8().await?;
            answer.push(byte);
        }
        Ok(())
    };
    tokio::time::timeout(STEP, read).await.map_err(within(&format!("proxy {proxy:?}")))??;
    let status_line = String::from_utf8_lossy(answer.split(|&b| b == b'\r').next().unwrap_or_default()).into_owned();
    let status = status_line.split_whitespace().nth(1).and_then(|s| s.parse::<u16>().ok());
    match status {
        Some(200..=299) => Ok(tcp),
        _ => Err(SyncError::Refused(format!("proxy {proxy:?} refused CONNECT {hub}: {status_line}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls_are_parsed_and_their_credentials_never_shown() {
        let p = Proxy::parse("http://ops%40site:s3cr%3At@proxy.corp:3128").unwrap();
        assert_eq!(p.addr, "proxy.corp:3128");
        // ops@site:s3cr:t
        assert_eq!(p.authorization.as_deref(), Some("Basic b3BzQHNpdGU6czNjcjp0"));
        assert_eq!(format!("{p:?}"), "http://proxy.corp:3128");
        assert_eq!(Proxy::parse("http://10.0.0.1:8080").unwrap().authorization, None);
        assert_eq!(Proxy::parse("http://proxy:80").unwrap().addr, "proxy:80");
        for bad in ["https://proxy:3128", "proxy:3128", "socks5://p:1080"] {
            assert!(Proxy::parse(bad).is_err(), "{bad}");
        }
    }
}
