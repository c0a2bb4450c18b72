//! What the hub keeps, in sled (`DIR/db`), one tree per kind:
//!
//! | tree | key | value |
//! |---|---|---|
//! | `tokens` | SHA-256 of the token (the token itself is never stored) | [`TokenRecord`] |
//! | `sensors` | sensor id | [`SensorRecord`] |
//! | `certs` | SHA-256 of a sensor certificate (hex) | sensor id |
//! | `alerts` | sensor id, `0`, sequence number (big-endian) | the stored alert (JSON) |
//!
//! An alert is stored if its key is absent (compare-and-swap), so a batch delivered twice is
//! stored once; it is acknowledged only after [`Db::store_alerts`] flushed it to disk.

use serde::{Deserialize, Serialize};
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
    db: sled::Db,
    tokens: sled::Tree,
    sensors: sled::Tree,
    certs: sled::Tree,
    alerts: sled::Tree,
}

/// Now, Unix seconds.
pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn token_key(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn alert_key(sensor: &str, seq: u64) -> Vec<u8> {
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
    /// Opens (or creates) the database in `dir`.
    pub fn open(dir: &std::path::Path) -> anyhow::Result<Db> {
        let db = sled::open(dir)?;
        Ok(Db {
            tokens: db.open_tree("tokens")?,
            sensors: db.open_tree("sensors")?,
            certs: db.open_tree("certs")?,
            alerts: db.open_tree("alerts")?,
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

    /// Stores a sensor's alerts, each once, and makes them durable; returns the sequence numbers
    /// to acknowledge (duplicates included: they are stored already).
    pub async fn store_alerts(&self, sensor: &SensorRecord, items: &[AlertItem]) -> anyhow::Result<Vec<u64>> {
        let received = now();
        for item in items {
            let alert: serde_json::Value =
                serde_json::from_str(&item.json).unwrap_or_else(|_| serde_json::Value::String(item.json.clone()));
            let stored = serde_json::json!({
                "sensor_id": sensor.id, "tenant": sensor.tenant, "site": sensor.site,
                "seq": item.seq, "received": received, "alert": alert,
            });
            let value = serde_json::to_vec(&stored)?;
            // Absent: store; present: a duplicate, stored before.
            let _ = self.alerts.compare_and_swap(alert_key(&sensor.id, item.seq), None::<&[u8]>, Some(value))?;
        }
        self.db.flush_async().await?;
        Ok(items.iter().map(|i| i.seq).collect())
    }

    /// Stored alerts, optionally of one tenant, in (sensor, sequence) order.
    pub fn alerts(&self, tenant: Option<&str>) -> anyhow::Result<Vec<serde_json::Value>> {
        let mut out = Vec::new();
        for v in self.alerts.iter().values() {
            let v: serde_json::Value = serde_json::from_slice(&v?)?;
            if tenant.is_none_or(|t| v["tenant"] == t) {
                out.push(v);
            }
        }
        Ok(out)
    }

    /// Fingerprints of revoked certificates.
    pub fn revoked(&self) -> anyhow::Result<Vec<String>> {
        Ok(self.sensors()?.into_iter().filter(|s| s.revoked).map(|s| s.cert_sha256).collect())
    }

    /// Flushes everything.
    pub fn flush(&self) -> anyhow::Result<()> {
        self.db.flush()?;
        Ok(())
    }
}
