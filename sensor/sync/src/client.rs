//! [`SyncHandle`]: the outbound tunnel to the hub, on a thread of its own with a small tokio
//! runtime. The sensor only ever dials out: nothing here listens.
//!
//! A session: TCP, TLS 1.3 with the sensor's certificate and the pinned hub CA, `Hello` →
//! `Welcome`, then alerts go up in batches of [`BATCH`], at most [`WINDOW`] unacknowledged at
//! once, read from the outbox in its order (critical first); each `Acks` deletes what the hub
//! has written durably. A heartbeat carries the backlog every [`HEARTBEAT`]. Commands that
//! come down pass the [`Gate`] and run on the blocking pool through the sensor's [`Appliance`];
//! their results go up as they finish, between alert batches. When the certificate is due for
//! renewal (checked as a session starts and at each heartbeat), a request goes up and the
//! renewed certificate is installed for the next session. When the session
//! ends for any reason, the next one starts after a backoff (doubling from [`BACKOFF_MIN`] to
//! [`BACKOFF_MAX`], each wait drawn between half and all of it, so a fleet that lost its hub
//! does not come back in step) and resends whatever was not acknowledged. Memory stays bounded
//! whatever the backlog: the window's sequence numbers and one batch.

use crate::commands::{Admission, Appliance, Executed, Gate};
use crate::identity::{Identity, STEP, server_name};
use crate::{Outbox, SyncError};
use soc_protocol::{CommandBody, CommandStatus, Down, Health, SignedCommand, Up, read_frame, write_frame};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc};

/// Alerts per `Alerts` message.
pub const BATCH: usize = 256;
/// Alerts sent and not yet acknowledged, at most.
pub const WINDOW: usize = 16_384;
/// How often a heartbeat goes up.
pub const HEARTBEAT: Duration = Duration::from_secs(10);
/// First wait before reconnecting.
pub const BACKOFF_MIN: Duration = Duration::from_millis(500);
/// Longest wait before reconnecting.
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// How often [`SyncHandle::wait_drained`] looks at the outbox.
const DRAIN_CHECK: Duration = Duration::from_millis(2);
/// How long the hub may stay silent while alerts wait for its acknowledgement, and how long one
/// frame may take to send, before the session is given up as stalled (a link that drops
/// everything without a reset) and a new one started.
pub const STALL: Duration = Duration::from_secs(15);
/// How often a waiting session looks at the stop flag.
const STOP_CHECK: Duration = Duration::from_millis(100);
/// Command results waiting to go up, at most.
const RESULTS: usize = 16;
/// Admitted commands waiting to be carried out, at most.
const COMMANDS_WAITING: usize = 64;

/// What the tunnel has done (for stats).
#[derive(Debug, Default)]
pub struct SyncStats {
    /// Alerts the hub acknowledged.
    pub acked: AtomicU64,
    /// Sessions that reached `Welcome`.
    pub sessions: AtomicU64,
    /// Sessions that failed (connect, TLS, refusal, broken connection).
    pub failures: AtomicU64,
    /// Commands carried out (done or failed).
    pub commands: AtomicU64,
    /// Commands refused by the gate.
    pub commands_refused: AtomicU64,
}

/// The running tunnel.
pub struct SyncHandle {
    stop: Arc<AtomicBool>,
    notify: Arc<Notify>,
    outbox: Outbox,
    stats: Arc<SyncStats>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SyncHandle {
    /// Starts syncing `outbox` to the hub the identity in `dir` is enrolled with; commands
    /// from the hub are carried out by `appliance`, which also fills the heartbeats (without
    /// one, commands fail, saying so, and heartbeats carry the backlog only).
    pub fn start(dir: &Path, outbox: Outbox, appliance: Option<Arc<dyn Appliance>>) -> Result<SyncHandle, SyncError> {
        let identity = Identity::new(dir);
        let info = identity.hub()?;
        let gate = Arc::new(Gate::new(info.command_key()?, &info.sensor_id, &outbox)?);
        // Checked now, so that a broken identity is an error here rather than a retry loop.
        identity.client_config()?;
        let name = server_name(&info.hub)?;
        let proxy = info.proxy.as_deref().map(crate::dial::Proxy::parse).transpose()?;
        let stop = Arc::new(AtomicBool::new(false));
        let notify = Arc::new(Notify::new());
        let stats = Arc::new(SyncStats::default());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let task = Task {
            hub: info.hub,
            proxy,
            name,
            identity,
            outbox: outbox.clone(),
            stop: stop.clone(),
            notify: notify.clone(),
            stats: stats.clone(),
            gate,
            appliance,
        };
        let thread = std::thread::Builder::new().name("sync".into()).spawn(move || runtime.block_on(task.run()))?;
        Ok(SyncHandle { stop, notify, outbox, stats, thread: Some(thread) })
    }

    /// Says new alerts are queued (sends them now rather than at the next wakeup).
    pub fn notify(&self) {
        self.notify.notify_one();
    }

    /// What the tunnel has done.
    pub fn stats(&self) -> &SyncStats {
        &self.stats
    }

    /// Waits until the outbox is empty (every alert acknowledged) or `timeout` passed; returns
    /// whether it is empty.
    pub fn wait_drained(&self, timeout: Duration) -> bool {
        let started = Instant::now();
        self.notify();
        while !self.outbox.is_empty() {
            if started.elapsed() >= timeout {
                return false;
            }
            std::thread::sleep(DRAIN_CHECK);
        }
        true
    }
}

impl Drop for SyncHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.notify.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = self.outbox.flush();
    }
}

struct Task {
    hub: String,
    proxy: Option<crate::dial::Proxy>,
    name: rustls::pki_types::ServerName<'static>,
    identity: Identity,
    outbox: Outbox,
    stop: Arc<AtomicBool>,
    notify: Arc<Notify>,
    stats: Arc<SyncStats>,
    gate: Arc<Gate>,
    appliance: Option<Arc<dyn Appliance>>,
}

impl Task {
    /// Whether the certificate should be renewed now (an unreadable one is left to the next
    /// handshake to report).
    fn renewal_due(&self) -> bool {
        match self.identity.renewal_due(unix_now() as i64) {
            Ok((due, until)) => {
                if due {
                    eprintln!("sensor: sync: certificate expires at {until} (Unix time): asking the hub for a new one");
                }
                due
            }
            Err(e) => {
                eprintln!("sensor: sync: cannot read the certificate: {e}");
                false
            }
        }
    }
}

/// Writes one frame, or fails as stalled after [`STALL`].
async fn send<W: tokio::io::AsyncWrite + Unpin>(wr: &mut W, msg: &Up) -> Result<(), SyncError> {
    tokio::time::timeout(STALL, write_frame(wr, msg)).await.map_err(|_| SyncError::Timeout)??;
    Ok(())
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl Task {
    /// Passes `signed` through the gate and, if admitted, queues it for `work` (commands run
    /// one after another, in the order they came); a refusal goes to `results`.
    fn command(&self, signed: &SignedCommand, work: &mpsc::Sender<CommandBody>, results: &mpsc::Sender<Up>) {
        let failed = |id, status, detail: String| Up::CommandResult { id, status, detail, attachment: Vec::new() };
        let body = match self.gate.admit(signed, unix_now()) {
            Ok(Admission::Run(body)) => body,
            Ok(Admission::Answer(result)) => {
                eprintln!("sensor: sync: a command delivered again, carried out before: its result goes again");
                let _ = results.try_send(result);
                return;
            }
            Ok(Admission::UnderWay(id)) => {
                eprintln!("sensor: sync: command {id} delivered again while under way: its result will follow");
                return;
            }
            Err(refusal) => {
                eprintln!("sensor: sync: refused command {} from the hub: {}", refusal.id, refusal.reason);
                self.stats.commands_refused.fetch_add(1, Ordering::Relaxed);
                let _ = results.try_send(failed(refusal.id, CommandStatus::Refused, refusal.reason));
                return;
            }
        };
        eprintln!("sensor: sync: command {} from the hub: {}", body.id, body.command.kind());
        let id = body.id;
        if work.try_send(body).is_err() {
            let why = format!("more than {COMMANDS_WAITING} commands waiting: not carried out, issue it again");
            let result = failed(id, CommandStatus::Failed, why);
            if let Err(e) = self.gate.finished(&result) {
                eprintln!("sensor: sync: command {id}: cannot record its result: {e}");
            }
            let _ = results.try_send(result);
        }
    }

    /// Carries out the commands of `work` one after another on the blocking pool, following
    /// each in the journal; each result goes to `results`.
    async fn carry_out(
        mut work: mpsc::Receiver<CommandBody>,
        gate: Arc<Gate>,
        appliance: Option<Arc<dyn Appliance>>,
        results: mpsc::Sender<Up>,
        stats: Arc<SyncStats>,
    ) {
        while let Some(body) = work.recv().await {
            let (appliance, gate2) = (appliance.clone(), gate.clone());
            let (id, command) = (body.id, body.command);
            let outcome = tokio::task::spawn_blocking(move || {
                gate2.started(id).map_err(|e| format!("cannot record the command's start: {e}"))?;
                match appliance {
                    Some(a) => a.execute(&command),
                    None => Err("this sensor process takes no commands".into()),
                }
            })
            .await
            .unwrap_or_else(|e| Err(format!("the command failed: {e}")));
            stats.commands.fetch_add(1, Ordering::Relaxed);
            let (status, Executed { detail, attachment }) = match outcome {
                Ok(done) => (CommandStatus::Done, done),
                Err(why) => (CommandStatus::Failed, Executed { detail: why, attachment: Vec::new() }),
            };
            eprintln!("sensor: sync: command {id}: {status:?}: {detail}");
            let result = Up::CommandResult { id, status, detail, attachment };
            let recorded = {
                let (gate, result) = (gate.clone(), result.clone());
                tokio::task::spawn_blocking(move || gate.finished(&result)).await
            };
            if let Ok(Err(e)) | Err(e) = recorded.map_err(|e| SyncError::Refused(e.to_string())) {
                eprintln!("sensor: sync: command {id}: cannot record its result: {e}");
            }
            if results.send(result).await.is_err() {
                return;
            }
        }
    }

    async fn run(self) {
        // Commands are carried out by one worker for the life of the process, whatever the
        // sessions do: a result that finds no session is in the journal, and goes up when the
        // hub delivers its command again.
        let (work, queued) = mpsc::channel::<CommandBody>(COMMANDS_WAITING);
        let (results_tx, mut results) = mpsc::channel::<Up>(RESULTS);
        let worker = tokio::spawn(Task::carry_out(
            queued,
            self.gate.clone(),
            self.appliance.clone(),
            results_tx.clone(),
            self.stats.clone(),
        ));
        // What a restart interrupted: commands never started run now; the others are reported
        // failed.
        match self.gate.unfinished() {
            Ok((again, interrupted)) => {
                for result in interrupted {
                    if let Err(e) = self.gate.finished(&result) {
                        eprintln!("sensor: sync: cannot record an interrupted command: {e}");
                    }
                }
                for body in again {
                    let _ = work.try_send(body);
                }
            }
            Err(e) => eprintln!("sensor: sync: cannot read the command journal: {e}"),
        }
        let mut backoff = BACKOFF_MIN;
        while !self.stop.load(Ordering::Relaxed) {
            let mut welcomed = false;
            match self.session(&mut welcomed, &work, &mut results).await {
                Ok(()) => {}
                Err(e) => {
                    self.stats.failures.fetch_add(1, Ordering::Relaxed);
                    eprintln!("sensor: sync: {}: {e}; retrying", self.hub);
                }
            }
            if welcomed {
                backoff = BACKOFF_MIN;
            }
            let wait = backoff.mul_f64(0.5 + rand::random::<f64>() * 0.5);
            let until = Instant::now() + wait;
            while Instant::now() < until && !self.stop.load(Ordering::Relaxed) {
                tokio::time::sleep(STOP_CHECK.min(until - Instant::now())).await;
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
        worker.abort();
    }

    async fn session(
        &self,
        welcomed: &mut bool,
        work: &mpsc::Sender<CommandBody>,
        results: &mut mpsc::Receiver<Up>,
    ) -> Result<(), SyncError> {
        let tcp = crate::dial::dial(&self.hub, self.proxy.as_ref()).await?;
        tcp.set_nodelay(true)?;
        // Read at each session: a renewed certificate is used from the next one on.
        let connector = tokio_rustls::TlsConnector::from(Arc::new(self.identity.client_config()?));
        let mut tls = tokio::time::timeout(STEP, connector.connect(self.name.clone(), tcp))
            .await
            .map_err(|_| SyncError::Timeout)??;
        let hello = Up::Hello {
            min_version: *soc_protocol::VERSIONS.start(),
            max_version: *soc_protocol::VERSIONS.end(),
            software: env!("CARGO_PKG_VERSION").into(),
        };
        write_frame(&mut tls, &hello).await?;
        match tokio::time::timeout(STEP, read_frame::<_, Down>(&mut tls)).await.map_err(|_| SyncError::Timeout)?? {
            // The key pinned at enrollment (from an offline bundle, possibly) must be the one
            // the hub, authenticated by the pinned CA, says it signs with.
            Some(Down::Welcome { command_key, .. }) if command_key != self.gate.key().to_bytes() => {
                return Err(SyncError::Refused(
                    "the hub's command key is not the one pinned at enrollment: commands would be refused; enroll again".into(),
                ));
            }
            Some(Down::Welcome { .. }) => {}
            Some(Down::Error { code, message }) => return Err(SyncError::Refused(format!("{code:?}: {message}"))),
            other => return Err(SyncError::Refused(format!("expected Welcome, got {other:?}"))),
        }
        *welcomed = true;
        self.stats.sessions.fetch_add(1, Ordering::Relaxed);
        let (mut rd, mut wr) = tokio::io::split(tls);
        // Frames are read on a task of their own: a read cut short by another event would
        // lose its bytes.
        let (tx, mut rx) = mpsc::channel::<Result<Down, SyncError>>(16);
        let reader = tokio::spawn(async move {
            loop {
                let msg = match read_frame::<_, Down>(&mut rd).await {
                    Ok(Some(m)) => Ok(m),
                    Ok(None) => Err(SyncError::Refused("the hub closed the connection".into())),
                    Err(e) => Err(e.into()),
                };
                let end = msg.is_err();
                if tx.send(msg).await.is_err() || end {
                    return;
                }
            }
        });
        let mut inflight: HashSet<u64> = HashSet::new();
        // Since when the hub has been silent while alerts were in flight.
        let mut quiet = Instant::now();
        // Alerts after the cursor were never sent in this session; before it, they were sent
        // and are in flight or acknowledged.
        let mut cursor = None;
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        // Refusals and repeated results, from this session; the worker's results come on
        // `results`.
        let (answers_tx, mut answers) = mpsc::channel::<Up>(RESULTS);
        // A renewal request is out (one per session).
        let mut renewing = false;
        let result = loop {
            if self.stop.load(Ordering::Relaxed) {
                break Ok(());
            }
            if inflight.is_empty() {
                quiet = Instant::now();
            } else if quiet.elapsed() > STALL {
                break Err(SyncError::Stalled(inflight.len()));
            }
            while inflight.len() < WINDOW {
                let batch = self.outbox.next(&inflight, &mut cursor, BATCH.min(WINDOW - inflight.len()))?;
                if batch.is_empty() {
                    break;
                }
                inflight.extend(batch.iter().map(|i| i.seq));
                send(&mut wr, &Up::Alerts(batch)).await?;
            }
            tokio::select! {
                msg = rx.recv() => match msg.inspect(|_| quiet = Instant::now()) {
                    Some(Ok(Down::Acks(seqs))) => {
                        self.outbox.remove(&seqs)?;
                        for s in &seqs {
                            inflight.remove(s);
                        }
                        self.stats.acked.fetch_add(seqs.len() as u64, Ordering::Relaxed);
                    }
                    Some(Ok(Down::Command(signed))) => self.command(&signed, work, &answers_tx),
                    Some(Ok(Down::Renewed { cert_der })) => match self.identity.install_certificate(&cert_der) {
                        Ok(()) => eprintln!("sensor: sync: certificate renewed; used from the next session"),
                        Err(e) => eprintln!("sensor: sync: renewed certificate not installed: {e}"),
                    },
                    Some(Ok(Down::Error { code, message })) => break Err(SyncError::Refused(format!("{code:?}: {message}"))),
                    Some(Ok(other)) => break Err(SyncError::Refused(format!("unexpected {other:?}"))),
                    Some(Err(e)) => break Err(e),
                    None => break Err(SyncError::Refused("connection lost".into())),
                },
                Some(up) = results.recv() => send(&mut wr, &up).await?,
                Some(up) = answers.recv() => send(&mut wr, &up).await?,
                _ = self.notify.notified() => {}
                _ = heartbeat.tick() => {
                    if !renewing && self.renewal_due() {
                        send(&mut wr, &Up::Renew { csr_der: self.identity.renewal_request()? }).await?;
                        renewing = true;
                    }
                    let appliance = self.appliance.clone();
                    let health = tokio::task::spawn_blocking(move || appliance.map(|a| a.health()).unwrap_or_default());
                    let health = Health {
                        backlog: self.outbox.len() as u64,
                        backlog_age_secs: self.outbox.oldest_age_secs(),
                        ..health.await.unwrap_or_default()
                    };
                    send(&mut wr, &Up::Heartbeat(health)).await?;
                }
                _ = tokio::time::sleep(STOP_CHECK) => {}
            }
        };
        reader.abort();
        result
    }
}
