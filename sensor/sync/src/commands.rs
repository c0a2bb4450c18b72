//! Commands from the hub: [`Gate`] decides whether one may be acted on at all, the
//! [`Appliance`] (the sensor process) carries it out.
//!
//! The gate accepts a command only if, in this order: the command key pinned at enrollment
//! signed it; it names this sensor; it has not expired; its id is above every id accepted
//! before. The highest accepted id, and the command itself, are written durably (the outbox's
//! database, tree `state`) before the command is handed on, so a command is acted on at most
//! once. A refusal is logged and reported to the hub; nothing acts on a refused command.
//!
//! **The journal** (same tree) follows each accepted command until its result reached the
//! hub's side of the tunnel: `pending` when accepted, `started` when it begins, `result` when
//! it ends (the last [`RESULTS_KEPT`] are kept). Delivered again (the hub resends what it has no
//! result for, after a lost connection), a command with a result gets that result again, one
//! still under way gets nothing more; after a restart, an accepted command that never started
//! is carried out, and one that started and never ended is reported failed, since it is not
//! known whether it took effect.

use crate::{Outbox, SyncError};
use ed25519_dalek::VerifyingKey;
use soc_protocol::{Command, CommandBody, CommandStatus, Health, SignedCommand, Up};

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
/// Prefixes of the journal's keys (then the id, big-endian).
const PENDING: &[u8] = b"pending:";
const STARTED: &[u8] = b"started:";
const RESULT: &[u8] = b"result:";
/// Results kept for commands delivered again.
pub const RESULTS_KEPT: usize = 64;

fn journal_key(prefix: &[u8], id: u64) -> Vec<u8> {
    [prefix, &id.to_be_bytes()].concat()
}

/// What to do with a command that came down.
#[derive(Debug)]
pub enum Admission {
    /// Carry it out.
    Run(CommandBody),
    /// It was carried out before: send this result again.
    Answer(Up),
    /// It is being carried out: its result will follow.
    UnderWay(u64),
}

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

    /// What to do with `signed` (see the module's documentation): the command, its id and
    /// itself recorded durably; or why not. `now` is Unix seconds.
    pub fn admit(&self, signed: &SignedCommand, now: u64) -> Result<Admission, Refusal> {
        let claimed = signed.body_unverified().map_or(0, |b| b.id);
        let refuse = |reason: String| Refusal { id: claimed, reason };
        let body = signed.verify(&self.key).map_err(|e| refuse(e.to_string()))?;
        if body.sensor_id != self.sensor_id {
            return Err(refuse(format!("addressed to {}, not to this sensor ({})", body.sensor_id, self.sensor_id)));
        }
        if body.expires < now {
            return Err(refuse(format!("expired {} s ago", now - body.expires)));
        }
        let io = |e: SyncError| refuse(format!("cannot read or write the command journal: {e}"));
        let last = self.last_id().map_err(io)?;
        if body.id <= last {
            if let Some(result) = self.state.get(journal_key(RESULT, body.id)).map_err(|e| io(e.into()))? {
                let (status, detail, attachment) =
                    postcard::from_bytes(&result).map_err(|e| io(SyncError::Identity(e.to_string())))?;
                return Ok(Admission::Answer(Up::CommandResult { id: body.id, status, detail, attachment }));
            }
            if self.state.contains_key(journal_key(PENDING, body.id)).map_err(|e| io(e.into()))? {
                return Ok(Admission::UnderWay(body.id));
            }
            return Err(refuse(format!("replayed: command ids up to {last} were received before")));
        }
        let mut batch = sled::Batch::default();
        batch.insert(LAST_ID, &body.id.to_be_bytes());
        let bytes = postcard::to_stdvec(signed).map_err(|e| io(SyncError::Identity(e.to_string())))?;
        batch.insert(journal_key(PENDING, body.id), bytes);
        self.state.apply_batch(batch).map_err(|e| io(e.into()))?;
        self.outbox.flush().map_err(io)?;
        Ok(Admission::Run(body))
    }

    /// Notes that command `id` begins.
    pub fn started(&self, id: u64) -> Result<(), SyncError> {
        self.state.insert(journal_key(STARTED, id), &[])?;
        self.outbox.flush()
    }

    /// Records the result of command `id` (a [`Up::CommandResult`]), durably, and forgets the
    /// oldest results past [`RESULTS_KEPT`].
    pub fn finished(&self, result: &Up) -> Result<(), SyncError> {
        let Up::CommandResult { id, status, detail, attachment } = result else { return Ok(()) };
        let bytes =
            postcard::to_stdvec(&(status, detail, attachment)).map_err(|e| SyncError::Identity(e.to_string()))?;
        let mut batch = sled::Batch::default();
        batch.insert(journal_key(RESULT, *id), bytes);
        batch.remove(journal_key(PENDING, *id));
        batch.remove(journal_key(STARTED, *id));
        let old: Vec<sled::IVec> = self.state.scan_prefix(RESULT).keys().collect::<Result<_, _>>()?;
        for k in old.iter().take((old.len() + 1).saturating_sub(RESULTS_KEPT)) {
            batch.remove(k);
        }
        self.state.apply_batch(batch)?;
        self.outbox.flush()
    }

    /// Commands accepted before a restart and not finished: those never started, to carry out
    /// now, and the results of those that started (failed: unknown whether they took effect).
    pub fn unfinished(&self) -> Result<(Vec<CommandBody>, Vec<Up>), SyncError> {
        let (mut again, mut interrupted) = (Vec::new(), Vec::new());
        for entry in self.state.scan_prefix(PENDING) {
            let (_, v) = entry?;
            let signed: SignedCommand = postcard::from_bytes(&v).map_err(|e| SyncError::Identity(e.to_string()))?;
            let Ok(body) = signed.body_unverified() else { continue };
            if self.state.contains_key(journal_key(STARTED, body.id))? {
                let detail = "interrupted (the sensor stopped while carrying it out): it may or may not have taken \
                              effect; issue it again if needed"
                    .to_owned();
                interrupted.push(Up::CommandResult {
                    id: body.id,
                    status: CommandStatus::Failed,
                    detail,
                    attachment: Vec::new(),
                });
            } else {
                again.push(body);
            }
        }
        Ok((again, interrupted))
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
        let refused = |r: Result<Admission, Refusal>| r.unwrap_err().reason;
        let run = |r: Result<Admission, Refusal>| match r {
            Ok(Admission::Run(body)) => body.id,
            other => panic!("{other:?}"),
        };

        assert!(refused(gate.admit(&signed(&forger, 5, "s1", 100), 10)).contains("signature"));
        assert!(refused(gate.admit(&signed(&hub, 5, "s2", 100), 10)).contains("not to this sensor"));
        assert!(refused(gate.admit(&signed(&hub, 5, "s1", 100), 101)).contains("expired"));
        assert_eq!(run(gate.admit(&signed(&hub, 5, "s1", 100), 10)), 5);
        // Delivered again while under way: nothing more; an older id never seen: a replay.
        assert!(matches!(gate.admit(&signed(&hub, 5, "s1", 100), 10), Ok(Admission::UnderWay(5))));
        assert!(refused(gate.admit(&signed(&hub, 4, "s1", 100), 10)).contains("replayed"));
        gate.started(5).unwrap();
        let done = Up::CommandResult { id: 5, status: CommandStatus::Done, detail: "ok".into(), attachment: vec![1] };
        gate.finished(&done).unwrap();
        // Delivered again once finished: the same result, not a second run.
        assert!(matches!(gate.admit(&signed(&hub, 5, "s1", 100), 10), Ok(Admission::Answer(ref r)) if *r == done));
        assert_eq!(run(gate.admit(&signed(&hub, 6, "s1", 100), 10)), 6);
        assert_eq!(run(gate.admit(&signed(&hub, 7, "s1", 100), 10)), 7);
        gate.started(7).unwrap();

        // After a restart: the highest id stands; 6 (never started) is carried out, 7 (started,
        // never finished) is reported failed.
        drop((gate, outbox));
        let outbox = Outbox::open(dir.path()).unwrap();
        let gate = Gate::new(hub.verifying_key(), "s1", &outbox).unwrap();
        assert!(refused(gate.admit(&signed(&hub, 4, "s1", 100), 10)).contains("replayed"));
        let (again, interrupted) = gate.unfinished().unwrap();
        assert_eq!(again.iter().map(|b| b.id).collect::<Vec<_>>(), [6]);
        assert!(matches!(&interrupted[..], [Up::CommandResult { id: 7, status: CommandStatus::Failed, .. }]));
    }
}
