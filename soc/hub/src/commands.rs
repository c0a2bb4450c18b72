//! Commands for sensors: issued through the API, signed with the hub's command key, sent down
//! the sensor's tunnel when it is (or next gets) connected, and closed by the result the sensor
//! reports, evidence packets included.
//!
//! The command key (ed25519) lives in `DIR/command.key` (mode 0600) and never leaves the hub;
//! its public half goes to each sensor at enrollment, which acts on nothing it did not sign.
//!
//! | tree | key | value |
//! |---|---|---|
//! | `commands` | sensor id, `0`, command id (big-endian) | [`CommandRecord`] |
//! | `attachments` | as `commands` | what the result carried (evidence: pcapng) |
//!
//! Command ids come from sled's id generator: increasing and never reused, which is what lets
//! a sensor refuse any id it has seen (a command delivered again is not acted on again).

use crate::ca::write_private;
use crate::db::{Db, now, sensor_key};
use anyhow::Context as _;
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use soc_protocol::{Command, CommandBody, CommandStatus, SignedCommand};
use std::path::Path;
use std::time::Duration;

/// How long a sensor accepts a command after it was issued: one offline longer than this gets
/// it refused as expired, and the analyst decides again.
pub const COMMAND_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// The largest attachment kept (an evidence export is bounded by the sensor's evidence limits;
/// a frame by the protocol's).
pub const MAX_ATTACHMENT: usize = soc_protocol::MAX_FRAME;

/// The hub's command key.
pub struct Signer {
    key: SigningKey,
}

impl Signer {
    /// Loads the key from `dir/command.key`, creating it on first use.
    pub fn load_or_create(dir: &Path) -> anyhow::Result<Signer> {
        let path = dir.join("command.key");
        if path.exists() {
            let bytes = std::fs::read(&path).with_context(|| format!("{}", path.display()))?;
            let seed: [u8; 32] =
                bytes.try_into().map_err(|_| anyhow::anyhow!("{}: not a 32-byte ed25519 key", path.display()))?;
            return Ok(Signer { key: SigningKey::from_bytes(&seed) });
        }
        let seed: [u8; 32] = rand::random();
        write_private(&path, &seed)?;
        Ok(Signer { key: SigningKey::from_bytes(&seed) })
    }

    /// The public key sensors pin.
    pub fn public(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    fn sign(&self, body: &CommandBody) -> anyhow::Result<SignedCommand> {
        Ok(SignedCommand::sign(&self.key, body)?)
    }
}

/// Where a command is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandState {
    /// Issued; not yet answered by the sensor.
    Pending,
    /// The sensor did it.
    Done,
    /// The sensor accepted it and failed.
    Failed,
    /// The sensor refused to act on it.
    Refused,
}

/// A command as the hub keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommandRecord {
    /// Its id.
    pub id: u64,
    /// The sensor it is for.
    pub sensor_id: String,
    /// `intel_feed`, `evidence`, `detect_config`.
    pub kind: String,
    /// What it asks, for the analyst (a uid, a feed name and size).
    pub summary: String,
    /// Who issued it.
    pub by: String,
    /// Unix seconds issued.
    pub issued: u64,
    /// Where it is.
    pub state: CommandState,
    /// The sensor's account of it.
    pub detail: String,
    /// Unix seconds the sensor answered.
    pub answered: Option<u64>,
    /// Bytes of the attachment the answer carried.
    pub attachment_bytes: u64,
    /// What goes down the tunnel.
    pub signed: SignedCommand,
}

fn summary(command: &Command) -> String {
    match command {
        Command::IntelFeed { name, content } => format!("{name} ({} bytes)", content.len()),
        Command::Evidence { uid } => uid.clone(),
        Command::DetectConfig { toml } => format!("[detect] settings ({} bytes)", toml.len()),
    }
}

impl Db {
    /// Signs and queues `command` for `sensor`, issued by `by`; its id. Durable on return.
    pub fn queue_command(&self, signer: &Signer, sensor: &str, command: Command, by: &str) -> anyhow::Result<u64> {
        // Ids are taken and written in order: a sensor refuses an id below one it has seen, so
        // two commands issued at once must not reach it 6 then 5.
        let _in_order = self.command_order.lock().unwrap_or_else(|e| e.into_inner());
        let id = self.db.generate_id()?;
        let issued = now();
        let (kind, summary) = (command.kind().to_owned(), summary(&command));
        let body =
            CommandBody { id, sensor_id: sensor.into(), issued, expires: issued + COMMAND_TTL.as_secs(), command };
        let record = CommandRecord {
            id,
            sensor_id: sensor.into(),
            kind,
            summary,
            by: by.into(),
            issued,
            state: CommandState::Pending,
            detail: String::new(),
            answered: None,
            attachment_bytes: 0,
            signed: signer.sign(&body)?,
        };
        self.commands.insert(sensor_key(sensor, id), postcard::to_stdvec(&record)?)?;
        self.audit(by, &format!("command_{}", record.kind), sensor, &format!("{id}: {}", record.summary))?;
        Ok(id)
    }

    /// A sensor's commands, oldest first.
    pub fn commands(&self, sensor: &str) -> anyhow::Result<Vec<CommandRecord>> {
        let prefix = sensor_key(sensor, 0);
        self.commands
            .scan_prefix(&prefix[..prefix.len() - 8])
            .values()
            .map(|v| Ok(postcard::from_bytes(&v?)?))
            .collect()
    }

    /// A sensor's commands not yet answered, oldest first.
    pub fn pending_commands(&self, sensor: &str) -> anyhow::Result<Vec<CommandRecord>> {
        Ok(self.commands(sensor)?.into_iter().filter(|c| c.state == CommandState::Pending).collect())
    }

    /// Records what `sensor` reports of its command `id`, durably; false when it has no such
    /// pending command (an answer to a command the hub never issued, or a second answer).
    pub fn command_result(
        &self,
        sensor: &str,
        id: u64,
        status: CommandStatus,
        detail: &str,
        attachment: &[u8],
    ) -> anyhow::Result<bool> {
        let key = sensor_key(sensor, id);
        let Some(old) = self.commands.get(&key)? else { return Ok(false) };
        let mut record: CommandRecord = postcard::from_bytes(&old)?;
        if record.state != CommandState::Pending {
            return Ok(false);
        }
        record.state = match status {
            CommandStatus::Done => CommandState::Done,
            CommandStatus::Failed => CommandState::Failed,
            CommandStatus::Refused => CommandState::Refused,
        };
        record.detail = detail.into();
        record.answered = Some(now());
        let attachment = &attachment[..attachment.len().min(MAX_ATTACHMENT)];
        record.attachment_bytes = attachment.len() as u64;
        if !attachment.is_empty() {
            self.attachments.insert(&key, attachment)?;
        }
        if self.commands.compare_and_swap(&key, Some(old), Some(postcard::to_stdvec(&record)?))?.is_err() {
            return Ok(false);
        }
        self.db.flush()?;
        Ok(true)
    }

    /// The attachment of a sensor's command, if its answer carried one.
    pub fn attachment(&self, sensor: &str, id: u64) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self.attachments.get(sensor_key(sensor, id))?.map(|v| v.to_vec()))
    }
}
