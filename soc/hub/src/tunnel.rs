//! The sensors' endpoint: TLS 1.3 only, client certificates of the hub's CA.
//!
//! A connection with a certificate is a sensor's tunnel: `Hello` → `Welcome`, then alerts
//! (stored, flushed, acknowledged) and heartbeats up; commands down (each pending one as the
//! session starts, new ones as they are issued) and their results up. A connection without one may only enroll:
//! `Enroll` with a one-time token and a certificate request → `Enrolled`. Revoked certificates
//! fail the handshake itself ([`RevocationAware`]). Anything unexpected (a message out of
//! place, a frame that does not decode, one over the size limit) ends the connection with a
//! log line naming the peer; nothing is stored from it.

use crate::ca::{Ca, fingerprint};
use crate::commands::Signer;
use crate::db::{Db, SensorRecord, now};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use soc_protocol::{Down, ErrorCode, Up, read_frame, write_frame};
use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// How long a peer has for the TLS handshake and its first message.
const FIRST_MESSAGE: Duration = Duration::from_secs(10);
/// How long a sensor may stay silent (it sends heartbeats) before the hub closes the tunnel.
const IDLE: Duration = Duration::from_secs(120);

/// The hub's shared state.
pub struct Hub {
    /// The database.
    pub db: Db,
    /// The CA.
    pub ca: Ca,
    /// Fingerprints of revoked sensor certificates (checked during the handshake).
    pub revoked: Arc<RwLock<HashSet<String>>>,
    /// The command key.
    pub signer: Signer,
    /// Bumped whenever a command is issued, so that sessions send it down.
    pub commands_issued: tokio::sync::watch::Sender<u64>,
    /// The SIEM exporters.
    pub exporters: soc_siem::Exporters,
}

impl Hub {
    /// The hub of `db` and `ca`, signing commands with `signer`, exporting to `exports` (the
    /// destinations `db` was opened with).
    pub fn new(db: Db, ca: Ca, signer: Signer, exports: &[soc_siem::ExportConfig]) -> anyhow::Result<Hub> {
        let revoked = Arc::new(RwLock::new(db.revoked()?.into_iter().collect()));
        let (queues, alerts) = db.exports();
        let exporters = soc_siem::Exporters::start(exports, queues, alerts)?;
        Ok(Hub { db, ca, revoked, signer, commands_issued: tokio::sync::watch::Sender::new(0), exporters })
    }

    /// Enrolls a sensor for `tenant` and `site` from its certificate request (DER): its new id
    /// and certificate, recorded; or why the request is refused.
    pub fn enroll(
        &self,
        tenant: &str,
        site: &str,
        csr_der: &[u8],
    ) -> anyhow::Result<Result<(String, CertificateDer<'static>), String>> {
        let id = self.db.new_sensor_id();
        let cert = match self.ca.sign_sensor(csr_der, &id) {
            Ok(c) => c,
            Err(e) => return Ok(Err(format!("{e:#}"))),
        };
        let sensor = SensorRecord {
            id: id.clone(),
            tenant: tenant.into(),
            site: site.into(),
            cert_sha256: fingerprint(&cert),
            renewed_sha256: None,
            enrolled: now(),
            revoked: false,
            software: String::new(),
            last_seen: now(),
            health: Default::default(),
            heartbeat_at: 0,
            rx_rate: 0.0,
        };
        self.db.add_sensor(&sensor)?;
        eprintln!("soc-hub: enrolled {id} for tenant {tenant} site {site}");
        Ok(Ok((id, cert)))
    }

    /// Says a command was issued: the sessions send what is pending.
    pub fn command_issued(&self) {
        self.commands_issued.send_modify(|n| *n += 1);
    }
}

/// Refuses revoked certificates, then verifies as the CA's verifier does.
#[derive(Debug)]
struct RevocationAware {
    inner: Arc<dyn ClientCertVerifier>,
    revoked: Arc<RwLock<HashSet<String>>>,
}

impl ClientCertVerifier for RevocationAware {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }
    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }
    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let revoked = self.revoked.read().unwrap_or_else(|e| e.into_inner()).contains(&fingerprint(end_entity));
        if revoked {
            eprintln!("soc-hub: refused a revoked sensor certificate {}", fingerprint(end_entity));
            return Err(rustls::Error::InvalidCertificate(rustls::CertificateError::Revoked));
        }
        self.inner.verify_client_cert(end_entity, intermediates, now)
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The TLS configuration: TLS 1.3, the server certificate for `names`, client certificates of
/// the CA optional (enrollment has none) and never revoked.
pub fn tls_config(hub: &Hub, names: &[String]) -> anyhow::Result<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(hub.ca.cert_der().clone())?;
    let inner = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()?;
    let verifier = Arc::new(RevocationAware { inner, revoked: hub.revoked.clone() });
    let (chain, key) = hub.ca.server_identity(names)?;
    Ok(rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?)
}

/// The API's TLS configuration: a server certificate of the hub's CA for `names`, no client
/// certificates (analysts authenticate with tokens), TLS 1.2 or 1.3.
pub fn api_tls_config(hub: &Hub, names: &[String]) -> anyhow::Result<rustls::ServerConfig> {
    let (chain, key) = hub.ca.server_identity(names)?;
    Ok(rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?)
}

/// Accepts tunnels until the listener fails.
pub async fn serve(listener: TcpListener, hub: Arc<Hub>, tls: rustls::ServerConfig) -> anyhow::Result<()> {
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    loop {
        let (tcp, peer) = listener.accept().await?;
        let (acceptor, hub) = (acceptor.clone(), hub.clone());
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(FIRST_MESSAGE, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => return eprintln!("soc-hub: {peer}: TLS handshake refused: {e}"),
                Err(_) => return eprintln!("soc-hub: {peer}: TLS handshake timed out"),
            };
            let cert = tls.get_ref().1.peer_certificates().and_then(|c| c.first()).map(|c| fingerprint(c));
            let result = match cert {
                Some(fp) => sensor_session(tls, &hub, &fp).await,
                None => enroll_session(tls, &hub).await,
            };
            if let Err(e) = result {
                eprintln!("soc-hub: {peer}: {e:#}");
            }
        });
    }
}

type Stream = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;

/// Alerts stored before one disk sync and one acknowledgement, at most: the sensor keeps
/// several batches in flight, and syncing once for all that arrived together (group commit)
/// is what lets a backlog drain at disk-sync rate times this, not times one batch.
const GROUP_MAX: usize = 16_384;

async fn refuse<W: tokio::io::AsyncWrite + Unpin>(
    stream: &mut W,
    code: ErrorCode,
    message: String,
) -> anyhow::Result<()> {
    let _ = write_frame(stream, &Down::Error { code, message: message.clone() }).await;
    // A clean close, so that the peer reads the refusal rather than a reset.
    let _ = tokio::io::AsyncWriteExt::shutdown(stream).await;
    anyhow::bail!("refused ({code:?}): {message}")
}

async fn enroll_session(mut stream: Stream, hub: &Hub) -> anyhow::Result<()> {
    let first: Option<Up> = tokio::time::timeout(FIRST_MESSAGE, read_frame(&mut stream)).await??;
    let Some(Up::Enroll { token, csr_der }) = first else {
        return refuse(&mut stream, ErrorCode::UnexpectedMessage, "without a certificate, only Enroll".into()).await;
    };
    let record = match hub.db.redeem_token(&token)? {
        Ok(r) => r,
        Err(e) => return refuse(&mut stream, ErrorCode::BadToken, format!("enrollment refused: {e}")).await,
    };
    let (id, cert) = match hub.enroll(&record.tenant, &record.site, &csr_der)? {
        Ok(issued) => issued,
        Err(why) => return refuse(&mut stream, ErrorCode::BadRequest, why).await,
    };
    let reply = Down::Enrolled {
        sensor_id: id,
        cert_der: cert.to_vec(),
        ca_der: hub.ca.cert_der().to_vec(),
        command_key: hub.signer.public(),
    };
    write_frame(&mut stream, &reply).await?;
    Ok(())
}

/// Sends `sensor` its pending commands not yet sent in this session.
async fn send_commands<W: tokio::io::AsyncWrite + Unpin>(
    stream: &mut W,
    hub: &Hub,
    sensor: &str,
    sent: &mut HashSet<u64>,
) -> anyhow::Result<()> {
    for command in hub.db.pending_commands(sensor)? {
        if sent.insert(command.id) {
            write_frame(stream, &Down::Command(command.signed)).await?;
        }
    }
    Ok(())
}

/// How a sensor's session ends.
enum End {
    /// The sensor closed the connection between frames.
    Closed,
    /// A message out of place: refused.
    Unexpected(String),
    /// A frame that could not be read.
    Broken(anyhow::Error),
}

async fn sensor_session(mut stream: Stream, hub: &Hub, cert_fp: &str) -> anyhow::Result<()> {
    // The first message is read before any refusal, so that the sensor reads the refusal (a
    // frame at most, within the first-message time).
    let first: Option<Up> = tokio::time::timeout(FIRST_MESSAGE, read_frame(&mut stream)).await??;
    let Some(mut sensor) = hub.db.sensor_by_cert(cert_fp)? else {
        let why = format!("no sensor holds certificate {cert_fp} (replaced by a renewed one, or never issued here)");
        return refuse(&mut stream, ErrorCode::Unauthorized, why).await;
    };
    if sensor.revoked {
        return refuse(&mut stream, ErrorCode::Unauthorized, format!("{} is revoked", sensor.id)).await;
    }
    let Some(Up::Hello { min_version, max_version, software }) = first else {
        return refuse(&mut stream, ErrorCode::UnexpectedMessage, format!("{}: Hello expected first", sensor.id)).await;
    };
    let Some(version) = soc_protocol::negotiate(min_version, max_version) else {
        let msg = format!(
            "{}: speaks versions {min_version}..={max_version}, the hub {:?}",
            sensor.id,
            soc_protocol::VERSIONS
        );
        return refuse(&mut stream, ErrorCode::UnsupportedVersion, msg).await;
    };
    hub.db.update_sensor(&sensor.id, |s| {
        s.software = software.clone();
        s.last_seen = now();
    })?;
    sensor.software = software;
    if hub.db.certificate_used(&sensor, cert_fp)? {
        eprintln!("soc-hub: {} connected with its renewed certificate; the previous one is no longer valid", sensor.id);
    }
    let welcome = Down::Welcome {
        version,
        sensor_id: sensor.id.clone(),
        tenant: sensor.tenant.clone(),
        command_key: hub.signer.public(),
    };
    write_frame(&mut stream, &welcome).await?;
    let mut issued = hub.commands_issued.subscribe();
    let mut sent = HashSet::new();
    send_commands(&mut stream, hub, &sensor.id, &mut sent).await?;
    let (mut rd, mut wr) = tokio::io::split(stream);
    // Frames are read on a task of their own, so that all that arrived while the last group
    // was being synced can be taken at once.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Option<Up>, soc_protocol::ProtocolError>>(64);
    let reader = tokio::spawn(async move {
        loop {
            let msg = read_frame::<_, Up>(&mut rd).await;
            let end = !matches!(msg, Ok(Some(_)));
            if tx.send(msg).await.is_err() || end {
                return;
            }
        }
    });
    let result = async {
        loop {
            let first = tokio::select! {
                m = tokio::time::timeout(IDLE, rx.recv()) => match m {
                    Ok(Some(m)) => m,
                    Ok(None) => return Ok(()),
                    Err(_) => anyhow::bail!("{}: silent for {IDLE:?}, closing", sensor.id),
                },
                Ok(()) = issued.changed() => {
                    send_commands(&mut wr, hub, &sensor.id, &mut sent).await?;
                    continue;
                }
            };
            let mut group = vec![first];
            let mut alerts = 0;
            while alerts < GROUP_MAX
                && let Ok(m) = rx.try_recv()
            {
                if let Ok(Some(Up::Alerts(items))) = &m {
                    alerts += items.len();
                }
                group.push(m);
            }
            let mut acks = Vec::new();
            let mut end = None;
            for msg in group {
                match msg.map_err(|e| anyhow::anyhow!("{}: {e}", sensor.id)) {
                    Ok(Some(Up::Alerts(items))) => {
                        if let Err(e) = hub.db.store_alerts(&sensor, &items) {
                            return refuse(&mut wr, ErrorCode::Unavailable, format!("cannot store: {e:#}")).await;
                        }
                        acks.extend(items.iter().map(|i| i.seq));
                    }
                    Ok(Some(Up::Heartbeat(health))) => hub.db.heartbeat(&sensor.id, &health)?,
                    Ok(Some(Up::Renew { csr_der })) => {
                        // Revoked while this session was open: no new certificate.
                        if hub.db.sensor(&sensor.id)?.is_none_or(|s| s.revoked) {
                            let why = format!("{}: revoked, no renewal", sensor.id);
                            return refuse(&mut wr, ErrorCode::Unauthorized, why).await;
                        }
                        let cert = match hub.ca.sign_sensor(&csr_der, &sensor.id) {
                            Ok(c) => c,
                            Err(e) => {
                                return refuse(
                                    &mut wr,
                                    ErrorCode::BadRequest,
                                    format!("{}: renewal: {e:#}", sensor.id),
                                )
                                .await;
                            }
                        };
                        hub.db.certificate_renewed(&sensor.id, &fingerprint(&cert))?;
                        eprintln!("soc-hub: {}: certificate renewed ({})", sensor.id, fingerprint(&cert));
                        write_frame(&mut wr, &Down::Renewed { cert_der: cert.to_vec() }).await?;
                    }
                    Ok(Some(Up::CommandResult { id, status, detail, attachment })) => {
                        let known = hub.db.command_result(&sensor.id, id, status, &detail, &attachment)?;
                        match known {
                            true => eprintln!("soc-hub: {}: command {id}: {status:?}: {detail}", sensor.id),
                            false => {
                                eprintln!("soc-hub: {}: ignored a result for command {id}, not pending", sensor.id)
                            }
                        }
                    }
                    Ok(Some(other)) => {
                        let name = match other {
                            Up::Hello { .. } => "Hello",
                            Up::Enroll { .. } => "Enroll",
                            _ => "message",
                        };
                        end = Some(End::Unexpected(format!("{}: unexpected {name}", sensor.id)));
                        break;
                    }
                    Ok(None) => {
                        end = Some(End::Closed);
                        break;
                    }
                    Err(e) => {
                        end = Some(End::Broken(e));
                        break;
                    }
                }
            }
            // What was stored before the end (or the error) is still synced and acknowledged.
            if !acks.is_empty() {
                if let Err(e) = hub.db.flush_async().await {
                    return refuse(&mut wr, ErrorCode::Unavailable, format!("cannot store: {e:#}")).await;
                }
                write_frame(&mut wr, &Down::Acks(acks)).await?;
            }
            match end {
                None => {}
                Some(End::Closed) => return Ok(()),
                Some(End::Unexpected(why)) => return refuse(&mut wr, ErrorCode::UnexpectedMessage, why).await,
                Some(End::Broken(e)) => return Err(e),
            }
        }
    }
    .await;
    reader.abort();
    result
}
