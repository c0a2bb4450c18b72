//! Commands from the hub: [`Gate`] decides whether one may be acted on at all, the
//! [`Appliance`] (the sensor process) carries it out.
//!
//! The gate accepts a command only if, in this order: the command key pinned at enrollment
//! signed it; it names this sensor; it has not expired; its id is above every id accepted
//! before. The highest accepted id is written durably (the outbox's database, tree `state`)
//! before the command is handed on, so a command is acted on at most once, even if the sensor
//! crashes before reporting it: delivered again, it is refused as a replay. A refusal is
//! logged and reported to the hub; nothing acts on a refused command.

use crate::{Outbox, SyncError};
use ed25519_dalek::VerifyingKey;
use soc_protocol::{Command, CommandBody, Health, SignedCommand};

/// What an executed command gives back.
#[derive(Debug, Default)]
pub struct Executed {
    /// For the analyst: what was done.
    pub detail: String,
    /// What the command asked for (evidence: pcapng), empty otherwise.
    pub attachment: Vec<u8>,
}

/// The sensor process, as the tunnel sees it: it carries out accepted commands and says how it
/// is doing for the heartbeats. Called off the tunnel's thread, so it may block (a store query,
/// the disk's free space).
pub trait Appliance: Send + Sync + 'static {
    /// Does `command`; the error says why it failed, for the analyst.
    fn execute(&self, command: &Command) -> Result<Executed, String>;

    /// Capture, store and disk figures for the next heartbeat (the tunnel adds the backlog).
    fn health(&self) -> Health;
}

/// A command the gate refused.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The id the command claims (0 when its body is unreadable).
    pub id: u64,
    /// Why.
    pub reason: String,
}

/// Key of the highest accepted command id in the `state` tree.
const LAST_ID: &[u8] = b"last_command_id";

/// Checks commands before anything acts on them.
pub struct Gate {
    key: VerifyingKey,
    sensor_id: String,
    state: sled::Tree,
    outbox: Outbox,
}

impl Gate {
    /// The gate of `sensor_id`, trusting `key`, remembering ids in `outbox`'s database.
    pub fn new(key: VerifyingKey, sensor_id: &str, outbox: &Outbox) -> Result<Gate, SyncError> {
        Ok(Gate { key, sensor_id: sensor_id.into(), state: outbox.tree("state")?, outbox: outbox.clone() })
    }

    /// The key commands must be signed with.
    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }

    fn last_id(&self) -> Result<u64, SyncError> {
        Ok(self.state.get(LAST_ID)?.and_then(|v| Some(u64::from_be_bytes(v.as_ref().try_into().ok()?))).unwrap_or(0))
    }

    /// The command in `signed` if it may be acted on (see the module's documentation), its id
    /// recorded durably; or why not. `now` is Unix seconds.
    pub fn admit(&self, signed: &SignedCommand, now: u64) -> Result<CommandBody, Refusal> {
        let claimed = signed.body_unverified().map_or(0, |b| b.id);
        let refuse = |reason: String| Refusal { id: claimed, reason };
        let body = signed.verify(&self.key).map_err(|e| refuse(e.to_string()))?;
        if body.sensor_id != self.sensor_id {
            return Err(refuse(format!("addressed to {}, not to this sensor ({})", body.sensor_id, self.sensor_id)));
        }
        if body.expires < now {
            return Err(refuse(format!("expired {} s ago", now - body.expires)));
        }
        let last = self.last_id().map_err(|e| refuse(format!("cannot read the last command id: {e}")))?;
        if body.id <= last {
            return Err(refuse(format!("replayed: command ids up to {last} were received before")));
        }
        let recorded = self
            .state
            .insert(LAST_ID, &body.id.to_be_bytes())
            .map_err(SyncError::from)
            .and_then(|_| self.outbox.flush());
        recorded.map_err(|e| refuse(format!("cannot record the command id: {e}")))?;
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    fn signed(key: &SigningKey, id: u64, sensor: &str, expires: u64) -> SignedCommand {
        let body = CommandBody {
            id,
            sensor_id: sensor.into(),
            issued: 0,
            expires,
            command: Command::Evidence { uid: "C1".into() },
        };
        SignedCommand::sign(key, &body).unwrap()
    }

    #[test]
    fn only_new_unexpired_commands_for_this_sensor_signed_by_the_pinned_key_pass() {
        let dir = tempfile::tempdir().unwrap();
        let hub = SigningKey::from_bytes(&[7; 32]);
        let forger = SigningKey::from_bytes(&[8; 32]);
        let outbox = Outbox::open(dir.path()).unwrap();
        let gate = Gate::new(hub.verifying_key(), "s1", &outbox).unwrap();
        let refused = |r: Result<CommandBody, Refusal>| r.unwrap_err().reason;

        assert!(refused(gate.admit(&signed(&forger, 5, "s1", 100), 10)).contains("signature"));
        assert!(refused(gate.admit(&signed(&hub, 5, "s2", 100), 10)).contains("not to this sensor"));
        assert!(refused(gate.admit(&signed(&hub, 5, "s1", 100), 101)).contains("expired"));
        assert_eq!(gate.admit(&signed(&hub, 5, "s1", 100), 10).unwrap().id, 5);
        assert!(refused(gate.admit(&signed(&hub, 5, "s1", 100), 10)).contains("replayed"));
        assert!(refused(gate.admit(&signed(&hub, 4, "s1", 100), 10)).contains("replayed"));
        assert_eq!(gate.admit(&signed(&hub, 6, "s1", 100), 10).unwrap().id, 6);

        // The highest id survives a restart.
        drop((gate, outbox));
        let outbox = Outbox::open(dir.path()).unwrap();
        let gate = Gate::new(hub.verifying_key(), "s1", &outbox).unwrap();
        assert!(refused(gate.admit(&signed(&hub, 6, "s1", 100), 10)).contains("replayed"));
    }
}
