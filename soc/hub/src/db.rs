//! What the hub keeps, in sled (`DIR/db`), one tree per kind:
//!
//! | tree | key | value |
//! |---|---|---|
//! | `tokens` | SHA-256 of the token (the token itself is never stored) | [`TokenRecord`] |
//! | `sensors` | sensor id | [`SensorRecord`] |
//! | `certs` | SHA-256 of a sensor certificate (hex) | sensor id |
//! | `alerts` | sensor id, `0`, sequence number (big-endian) | the stored alert (JSON) |
//! | `triage` | as `alerts` | the alert's workflow state ([`Triage`]) |
//! | `audit` | id (sled's, increasing) | [`AuditEntry`] |
//! | `tenants` | tenant | its [`Sla`] |
//! | `users` | login name | [`User`] (argon2id hash) |
//! | `sessions` | SHA-256 of an analyst's session token (the token itself is never stored) | [`Session`] |
//! | `commands`, `attachments` | as `alerts`, with the command id | `crate::commands` |
//! | `export:NAME` | arrival id | key of an alert not yet taken by SIEM destination NAME (`soc_siem::Queues`) |
//!
//! An alert is stored if its key is absent (checked while no other session of the same sensor
//! stores), so a batch delivered twice is stored once; it is acknowledged only after
//! [`Db::store_alerts`] wrote it and the database was flushed.

use crate::triage::{Action, AuditEntry, Sla, Status, Triage, User, mean, rank};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use soc_protocol::{AlertItem, Health};
use std::time::{SystemTime, UNIX_EPOCH};

/// An enrollment token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenRecord {
    /// The tenant a sensor enrolled with it belongs to.
    pub tenant: String,
    /// Its site.
    pub site: String,
    /// Unix seconds after which it is refused.
    pub expires: u64,
    /// Redeemed already (tokens are one-time).
    pub used: bool,
}

/// An enrolled sensor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SensorRecord {
    /// Its id (the subject of its certificate).
    pub id: String,
    /// Its tenant.
    pub tenant: String,
    /// Its site.
    pub site: String,
    /// SHA-256 of its certificate, hex.
    pub cert_sha256: String,
    /// SHA-256 of a renewed certificate it has not connected with yet: both are valid until it
    /// does, then only the new one.
    pub renewed_sha256: Option<String>,
    /// Unix seconds of enrollment.
    pub enrolled: u64,
    /// Revoked: its handshakes fail.
    pub revoked: bool,
    /// Software version from its last Hello.
    pub software: String,
    /// Unix seconds of its last message.
    pub last_seen: u64,
    /// Its last heartbeat.
    pub health: Health,
    /// Unix seconds of its last heartbeat.
    pub heartbeat_at: u64,
    /// Frames per second captured between its last two heartbeats.
    pub rx_rate: f64,
}

impl SensorRecord {
    /// The fingerprints of its valid certificates (the current one, and a renewed one not yet
    /// used).
    pub fn certificates(self) -> impl Iterator<Item = String> {
        std::iter::once(self.cert_sha256).chain(self.renewed_sha256)
    }
}

/// An analyst's session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// Who.
    pub user: String,
    /// Unix seconds after which it is refused.
    pub expires: u64,
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// Never issued.
    #[error("unknown token")]
    Unknown,
    /// Redeemed before.
    #[error("token already used")]
    Used,
    /// Past its expiry.
    #[error("token expired")]
    Expired,
}

/// The hub's database.
#[derive(Clone)]
pub struct Db {
    pub(crate) db: sled::Db,
    tokens: sled::Tree,
    sensors: sled::Tree,
    certs: sled::Tree,
    alerts: sled::Tree,
    triage: sled::Tree,
    audit: sled::Tree,
    tenants: sled::Tree,
    users: sled::Tree,
    sessions: sled::Tree,
    pub(crate) commands: sled::Tree,
    pub(crate) attachments: sled::Tree,
    exports: soc_siem::Queues,
    /// Held while a command is numbered and written (`crate::commands`).
    pub(crate) command_order: std::sync::Arc<std::sync::Mutex<()>>,
    /// Per sensor, held while its alerts are stored.
    storing: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<std::sync::Mutex<()>>>>>,
}

/// The sensor id and sequence number of an alert's name, `SENSOR:SEQ`.
pub fn parse_alert_name(name: &str) -> Option<(&str, u64)> {
    let (sensor, seq) = name.rsplit_once(':')?;
    Some((sensor, seq.parse().ok()?))
}

/// An alert as the hub stores it (JSON): where it came from, and the sensor's alert.
#[derive(Serialize)]
struct Stored<'a> {
    sensor_id: &'a str,
    tenant: &'a str,
    site: &'a str,
    seq: u64,
    received: u64,
    software: &'a str,
    alert: &'a RawValue,
}

/// Now, Unix seconds.
pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn token_key(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The key of a sensor's numbered item (an alert, a command): its id, `0`, the number
/// big-endian, so that a sensor's items are contiguous and in order.
pub(crate) fn sensor_key(sensor: &str, seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(sensor.len() + 9);
    k.extend_from_slice(sensor.as_bytes());
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

fn random_hex(bytes: usize) -> String {
    (0..bytes).map(|_| format!("{:02x}", rand::random::<u8>())).collect()
}

impl Db {
    /// Opens (or creates) the database in `dir`, with an export queue for each of `exports`
    /// (the SIEM destinations' names).
    pub fn open(dir: &std::path::Path, exports: &[String]) -> anyhow::Result<Db> {
        let db = sled::open(dir)?;
        Ok(Db {
            exports: soc_siem::Queues::open(&db, exports)?,
            command_order: Default::default(),
            storing: Default::default(),
            tokens: db.open_tree("tokens")?,
            sensors: db.open_tree("sensors")?,
            certs: db.open_tree("certs")?,
            alerts: db.open_tree("alerts")?,
            triage: db.open_tree("triage")?,
            audit: db.open_tree("audit")?,
            tenants: db.open_tree("tenants")?,
            users: db.open_tree("users")?,
            sessions: db.open_tree("sessions")?,
            commands: db.open_tree("commands")?,
            attachments: db.open_tree("attachments")?,
            db,
        })
    }

    /// A new one-time token for `tenant`/`site`, valid for `ttl_secs`.
    pub fn create_token(&self, tenant: &str, site: &str, ttl_secs: u64) -> anyhow::Result<(String, u64)> {
        let token = random_hex(24);
        let expires = now() + ttl_secs;
        let rec = TokenRecord { tenant: tenant.into(), site: site.into(), expires, used: false };
        self.tokens.insert(token_key(&token), postcard::to_stdvec(&rec)?)?;
        self.db.flush()?;
        Ok((token, expires))
    }

    /// Redeems a token once: its tenant and site.
    pub fn redeem_token(&self, token: &str) -> anyhow::Result<Result<TokenRecord, TokenError>> {
        let key = token_key(token);
        loop {
            let Some(old) = self.tokens.get(&key)? else { return Ok(Err(TokenError::Unknown)) };
            let mut rec: TokenRecord = postcard::from_bytes(&old)?;
            if rec.used {
                return Ok(Err(TokenError::Used));
            }
            if rec.expires < now() {
                return Ok(Err(TokenError::Expired));
            }
            rec.used = true;
            // Two enrollments racing for one token: only one swap succeeds.
            if self.tokens.compare_and_swap(&key, Some(old), Some(postcard::to_stdvec(&rec)?))?.is_ok() {
                self.db.flush()?;
                return Ok(Ok(rec));
            }
        }
    }

    /// A new sensor id.
    pub fn new_sensor_id(&self) -> String {
        format!("sensor-{}", random_hex(8))
    }

    /// Records an enrolled sensor.
    pub fn add_sensor(&self, rec: &SensorRecord) -> anyhow::Result<()> {
        self.sensors.insert(rec.id.as_bytes(), postcard::to_stdvec(rec)?)?;
        self.certs.insert(rec.cert_sha256.as_bytes(), rec.id.as_bytes())?;
        self.db.flush()?;
        Ok(())
    }

    /// The sensor holding the certificate with this fingerprint.
    pub fn sensor_by_cert(&self, cert_sha256: &str) -> anyhow::Result<Option<SensorRecord>> {
        let Some(id) = self.certs.get(cert_sha256.as_bytes())? else { return Ok(None) };
        self.sensor(std::str::from_utf8(&id)?)
    }

    /// A sensor by id.
    pub fn sensor(&self, id: &str) -> anyhow::Result<Option<SensorRecord>> {
        Ok(match self.sensors.get(id.as_bytes())? {
            Some(v) => Some(postcard::from_bytes(&v)?),
            None => None,
        })
    }

    /// Every sensor.
    pub fn sensors(&self) -> anyhow::Result<Vec<SensorRecord>> {
        self.sensors.iter().values().map(|v| Ok(postcard::from_bytes(&v?)?)).collect()
    }

    /// Updates a sensor's record with `f`.
    pub fn update_sensor(&self, id: &str, f: impl Fn(&mut SensorRecord)) -> anyhow::Result<()> {
        self.sensors.fetch_and_update(id.as_bytes(), |old| {
            let mut rec: SensorRecord = postcard::from_bytes(old?).ok()?;
            f(&mut rec);
            postcard::to_stdvec(&rec).ok()
        })?;
        Ok(())
    }

    /// Records a heartbeat of `sensor`.
    pub fn heartbeat(&self, sensor: &str, health: &Health) -> anyhow::Result<()> {
        let at = now();
        self.update_sensor(sensor, |s| {
            if s.heartbeat_at > 0 && at > s.heartbeat_at {
                s.rx_rate = health.rx_packets.saturating_sub(s.health.rx_packets) as f64 / (at - s.heartbeat_at) as f64;
            }
            s.heartbeat_at = at;
            s.last_seen = at;
            s.health = health.clone();
        })
    }

    /// Records a renewed certificate of `sensor` (valid beside the current one until used).
    pub fn certificate_renewed(&self, sensor: &str, cert_sha256: &str) -> anyhow::Result<()> {
        // A renewal never used is replaced: only one renewed certificate is valid at a time.
        if let Some(unused) = self.sensor(sensor)?.and_then(|s| s.renewed_sha256) {
            self.certs.remove(unused.as_bytes())?;
        }
        self.certs.insert(cert_sha256.as_bytes(), sensor.as_bytes())?;
        self.update_sensor(sensor, |s| s.renewed_sha256 = Some(cert_sha256.to_owned()))?;
        self.db.flush()?;
        Ok(())
    }

    /// Notes that `sensor` connected with the certificate `cert_sha256`: if it is its renewed
    /// one, the old one stops being valid. Whether it was.
    pub fn certificate_used(&self, sensor: &SensorRecord, cert_sha256: &str) -> anyhow::Result<bool> {
        if sensor.renewed_sha256.as_deref() != Some(cert_sha256) {
            return Ok(false);
        }
        self.certs.remove(sensor.cert_sha256.as_bytes())?;
        self.update_sensor(&sensor.id, |s| {
            s.cert_sha256 = cert_sha256.to_owned();
            s.renewed_sha256 = None;
        })?;
        self.db.flush()?;
        Ok(true)
    }

    /// Stores a sensor's alerts, each once (duplicates are stored already); they are durable
    /// after the next [`Db::flush_async`], and only then may they be acknowledged.
    pub fn store_alerts(&self, sensor: &SensorRecord, items: &[AlertItem]) -> anyhow::Result<()> {
        // One store at a time per sensor: the check for duplicates and the writes after it must
        // not interleave with another session of the same sensor (a reconnection).
        let lock = self.storing.lock().unwrap_or_else(|e| e.into_inner()).entry(sensor.id.clone()).or_default().clone();
        let _one = lock.lock().unwrap_or_else(|e| e.into_inner());
        let received = now();
        let mut batch = sled::Batch::default();
        let mut in_batch = std::collections::HashSet::new();
        for item in items {
            let key = sensor_key(&sensor.id, item.seq);
            // Present: a duplicate, stored (and queued) before.
            if !in_batch.insert(item.seq) || self.alerts.contains_key(&key)? {
                continue;
            }
            // The alert goes in as it came (checked to be JSON, not parsed into a tree and
            // written again: this is the ingest's inner loop); anything else as a JSON string.
            let fallback;
            let alert: &RawValue = match serde_json::from_str(&item.json) {
                Ok(raw) => raw,
                Err(_) => {
                    fallback = RawValue::from_string(serde_json::to_string(&item.json)?)?;
                    &fallback
                }
            };
            let stored = Stored {
                sensor_id: &sensor.id,
                tenant: &sensor.tenant,
                site: &sensor.site,
                seq: item.seq,
                received,
                software: &sensor.software,
                alert,
            };
            // Queued for the SIEMs before it is stored: a crash between the two leaves an
            // export entry without its alert, which the exporter skips, and the resent alert is
            // queued again. The other order could leave an alert stored and never exported.
            self.exports.push(&key)?;
            batch.insert(key, serde_json::to_vec(&stored)?);
        }
        // One batch for the group: cheaper than an insert per alert (docs/PERFORMANCE.md).
        self.alerts.apply_batch(batch)?;
        Ok(())
    }

    /// Makes everything written so far durable (one disk sync for however many batches).
    pub async fn flush_async(&self) -> anyhow::Result<()> {
        self.db.flush_async().await?;
        Ok(())
    }

    /// Stored alerts, optionally of one tenant, in (sensor, sequence) order: at most `limit`
    /// after the alert named `after` (`SENSOR:SEQ`; `None`: from the first), and the name to
    /// continue after when there may be more.
    pub fn alerts(
        &self,
        tenant: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> anyhow::Result<(Vec<serde_json::Value>, Option<String>)> {
        use std::ops::Bound;
        let start = match after {
            Some(name) => {
                let (sensor, seq) = parse_alert_name(name)
                    .ok_or_else(|| anyhow::anyhow!("{name:?} is not an alert name (SENSOR:SEQ)"))?;
                Bound::Excluded(sensor_key(sensor, seq))
            }
            None => Bound::Unbounded,
        };
        let mut out = Vec::new();
        for v in self.alerts.range::<Vec<u8>, _>((start, Bound::Unbounded)).values() {
            let v: serde_json::Value = serde_json::from_slice(&v?)?;
            if tenant.is_none_or(|t| v["tenant"] == t) {
                out.push(v);
                if out.len() == limit {
                    let next = format!(
                        "{}:{}",
                        out[limit - 1]["sensor_id"].as_str().unwrap_or_default(),
                        out[limit - 1]["seq"]
                    );
                    return Ok((out, Some(next)));
                }
            }
        }
        Ok((out, None))
    }

    /// The alert `SENSOR:SEQ`, with its workflow state.
    fn alert_by_name(&self, name: &str) -> anyhow::Result<Option<(Vec<u8>, serde_json::Value)>> {
        let Some((sensor, seq)) = parse_alert_name(name) else { return Ok(None) };
        let key = sensor_key(sensor, seq);
        Ok(match self.alerts.get(&key)? {
            Some(v) => Some((key, serde_json::from_slice(&v)?)),
            None => None,
        })
    }

    /// Applies an analyst's action to alert `name` (`SENSOR:SEQ`) and records it in the audit
    /// trail; the new state, or why not (`Ok(Err)`: no such alert, or not applicable).
    pub fn act(&self, name: &str, action: &Action, who: &str) -> anyhow::Result<Result<Triage, String>> {
        let Some((key, _)) = self.alert_by_name(name)? else { return Ok(Err(format!("no alert {name}"))) };
        loop {
            let old = self.triage.get(&key)?;
            let mut t: Triage = match &old {
                Some(v) => postcard::from_bytes(v)?,
                None => Triage::default(),
            };
            if let Err(why) = action.apply(&mut t, who, now()) {
                return Ok(Err(why));
            }
            if self.triage.compare_and_swap(&key, old, Some(postcard::to_stdvec(&t)?))?.is_ok() {
                let detail = match action {
                    Action::Assign { to } => to.clone(),
                    Action::Escalate { reason } | Action::Resolve { reason } => reason.clone(),
                    Action::Note { text } => text.clone(),
                    Action::Acknowledge => String::new(),
                };
                self.audit(who, action.name(), name, &detail)?;
                return Ok(Ok(t));
            }
        }
    }

    /// Appends to the audit trail, durably.
    pub fn audit(&self, by: &str, action: &str, target: &str, detail: &str) -> anyhow::Result<()> {
        let entry = AuditEntry {
            at: now(),
            by: by.into(),
            action: action.into(),
            target: target.into(),
            detail: detail.into(),
        };
        self.audit.insert(self.db.generate_id()?.to_be_bytes(), postcard::to_stdvec(&entry)?)?;
        self.db.flush()?;
        Ok(())
    }

    /// The audit trail, oldest first.
    pub fn audit_trail(&self) -> anyhow::Result<Vec<AuditEntry>> {
        self.audit.iter().values().map(|v| Ok(postcard::from_bytes(&v?)?)).collect()
    }

    /// A tenant's SLA (the defaults unless set).
    pub fn sla(&self, tenant: &str) -> anyhow::Result<Sla> {
        Ok(match self.tenants.get(tenant.as_bytes())? {
            Some(v) => postcard::from_bytes(&v)?,
            None => Sla::default(),
        })
    }

    /// Sets a tenant's SLA.
    pub fn set_sla(&self, tenant: &str, sla: &Sla) -> anyhow::Result<()> {
        self.tenants.insert(tenant.as_bytes(), postcard::to_stdvec(sla)?)?;
        self.db.flush()?;
        Ok(())
    }

    /// Adds or replaces an analyst account.
    pub fn put_user(&self, user: &User) -> anyhow::Result<()> {
        self.users.insert(user.name.as_bytes(), postcard::to_stdvec(user)?)?;
        self.db.flush()?;
        Ok(())
    }

    /// Opens a session for `user` valid `secs`; its token. Durable on return, so sessions
    /// survive a restart of the hub.
    pub fn open_session(&self, user: &str, secs: u64) -> anyhow::Result<String> {
        let token = random_hex(32);
        let session = Session { user: user.into(), expires: now() + secs };
        self.sessions.insert(token_key(&token), postcard::to_stdvec(&session)?)?;
        self.db.flush()?;
        Ok(token)
    }

    /// The user of a session token, if it is open (expired sessions are removed).
    pub fn session(&self, token: &str) -> anyhow::Result<Option<String>> {
        let key = token_key(token);
        let Some(v) = self.sessions.get(&key)? else { return Ok(None) };
        let session: Session = postcard::from_bytes(&v)?;
        if session.expires < now() {
            self.sessions.remove(&key)?;
            return Ok(None);
        }
        Ok(Some(session.user))
    }

    /// Ends a session.
    pub fn close_session(&self, token: &str) -> anyhow::Result<()> {
        self.sessions.remove(token_key(token))?;
        self.db.flush()?;
        Ok(())
    }

    /// An analyst account.
    pub fn user(&self, name: &str) -> anyhow::Result<Option<User>> {
        Ok(match self.users.get(name.as_bytes())? {
            Some(v) => Some(postcard::from_bytes(&v)?),
            None => None,
        })
    }

    /// Every alert of `tenant` (all without), each with its name, workflow state and deadline.
    fn triaged(&self, tenant: Option<&str>) -> anyhow::Result<Vec<(serde_json::Value, Triage, u64)>> {
        let mut out = Vec::new();
        for entry in self.alerts.iter() {
            let (key, v) = entry?;
            let mut alert: serde_json::Value = serde_json::from_slice(&v)?;
            let t_name = alert["tenant"].as_str().unwrap_or_default().to_owned();
            if tenant.is_some_and(|t| t != t_name) {
                continue;
            }
            let triage: Triage = match self.triage.get(&key)? {
                Some(t) => postcard::from_bytes(&t)?,
                None => Triage::default(),
            };
            let severity = alert["alert"]["severity"].as_str().unwrap_or("info").to_owned();
            let received = alert["received"].as_u64().unwrap_or(0);
            let deadline = received + self.sla(&t_name)?.seconds(&severity);
            let name = format!("{}:{}", alert["sensor_id"].as_str().unwrap_or_default(), alert["seq"]);
            alert["key"] = name.into();
            alert["deadline"] = deadline.into();
            alert["triage"] = serde_json::to_value(&triage)?;
            out.push((alert, triage, deadline));
        }
        Ok(out)
    }

    /// The open alerts, most severe first, then by deadline.
    pub fn queue(&self, tenant: Option<&str>) -> anyhow::Result<Vec<serde_json::Value>> {
        let mut open: Vec<_> =
            self.triaged(tenant)?.into_iter().filter(|(_, t, _)| t.status != Status::Resolved).collect();
        open.sort_by_key(|(a, _, deadline)| {
            (std::cmp::Reverse(rank(a["alert"]["severity"].as_str().unwrap_or(""))), *deadline)
        });
        Ok(open.into_iter().map(|(a, _, _)| a).collect())
    }

    /// MTTD and MTTR (seconds), open and resolved counts, and open alerts past their deadline.
    pub fn metrics(&self, tenant: Option<&str>) -> anyhow::Result<serde_json::Value> {
        let all = self.triaged(tenant)?;
        let detected = |a: &serde_json::Value| a["alert"]["ts"].as_f64().unwrap_or(0.0) as u64;
        let ack: Vec<u64> =
            all.iter().filter_map(|(a, t, _)| Some(t.acknowledged_at?.saturating_sub(detected(a)))).collect();
        let res: Vec<u64> =
            all.iter().filter_map(|(a, t, _)| Some(t.resolved_at?.saturating_sub(detected(a)))).collect();
        let now = now();
        let open = all.iter().filter(|(_, t, _)| t.status != Status::Resolved);
        Ok(serde_json::json!({
            "alerts": all.len(),
            "open": open.clone().count(),
            "resolved": res.len(),
            "past_deadline": open.filter(|(_, _, deadline)| *deadline < now).count(),
            "mttd_seconds": mean(&ack),
            "mttr_seconds": mean(&res),
        }))
    }

    /// Fingerprints of revoked certificates.
    pub fn revoked(&self) -> anyhow::Result<Vec<String>> {
        Ok(self.sensors()?.into_iter().filter(|s| s.revoked).flat_map(SensorRecord::certificates).collect())
    }

    /// The export queues and the alerts they refer to.
    pub fn exports(&self) -> (&soc_siem::Queues, &sled::Tree) {
        (&self.exports, &self.alerts)
    }

    /// Flushes everything.
    pub fn flush(&self) -> anyhow::Result<()> {
        self.db.flush()?;
        Ok(())
    }
}
