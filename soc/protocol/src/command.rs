//! Commands down the tunnel: what the hub asks a sensor to do, signed by the hub's command key
//! (ed25519) so that a sensor acts only on what that key signed — not on anything that merely
//! arrives over TLS.
//!
//! A [`SignedCommand`] carries the postcard bytes of a [`CommandBody`] and a signature over
//! [`DOMAIN`] followed by those bytes. The sensor checks, in this order, before acting
//! (`sensor-sync`'s command gate): the signature, with the key it pinned at enrollment; that
//! the body decodes; that it names this sensor; that it has not expired; that its id is above
//! every id it received before (so a command delivered again is never acted on twice).

use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};

/// Prefix of every signed message: a signature made for something else (another protocol, a
/// feed file) never verifies as a command.
pub const DOMAIN: &[u8] = b"soc-hub command v1\0";

/// What the hub asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Install (or replace) a threat-intelligence feed file, by name, in the sensor's feeds
    /// directory; the sensor's feed watcher loads it.
    IntelFeed {
        /// File name: the extension says the format (`.txt`, `.list`, `.csv`, `.json`, `.sig`).
        name: String,
        /// The file's bytes.
        content: Vec<u8>,
    },
    /// Send up the evidence packets stored for a flow, as pcapng.
    Evidence {
        /// The flow's uid.
        uid: String,
    },
    /// Replace the detectors' settings: the `[detect]` section of the sensor's configuration,
    /// as TOML, without its `intel` table (feeds come as [`Command::IntelFeed`]). Applied at
    /// once and kept for the next start.
    DetectConfig {
        /// The settings (TOML).
        toml: String,
    },
}

impl Command {
    /// Its name, for logs and the hub's API.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::IntelFeed { .. } => "intel_feed",
            Command::Evidence { .. } => "evidence",
            Command::DetectConfig { .. } => "detect_config",
        }
    }
}

/// What the hub signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandBody {
    /// The hub's id for the command: increasing, never reused.
    pub id: u64,
    /// The sensor it is for.
    pub sensor_id: String,
    /// Unix seconds it was issued.
    pub issued: u64,
    /// Unix seconds after which the sensor refuses it.
    pub expires: u64,
    /// What to do.
    pub command: Command,
}

/// A command and the hub's signature over it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedCommand {
    /// postcard encoding of a [`CommandBody`].
    pub body: Vec<u8>,
    /// ed25519 signature over [`DOMAIN`] and `body` (64 bytes).
    pub signature: Vec<u8>,
}

/// How a command ended, as the sensor reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandStatus {
    /// Done.
    Done,
    /// Accepted but it failed (e.g. no evidence for that uid).
    Failed,
    /// Not acted on: bad signature, another sensor's, expired, or received before.
    Refused,
}

/// Why a signed command is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The signature is malformed or not by the key.
    #[error("signature does not verify with the pinned command key")]
    Signature,
    /// The signed bytes are not a command body.
    #[error("signed body is not a command: {0}")]
    Body(String),
}

fn signed_message(body: &[u8]) -> Vec<u8> {
    [DOMAIN, body].concat()
}

impl SignedCommand {
    /// Signs `body` with the hub's command key.
    pub fn sign(key: &SigningKey, body: &CommandBody) -> Result<SignedCommand, postcard::Error> {
        let body = postcard::to_stdvec(body)?;
        let signature = key.sign(&signed_message(&body)).to_bytes().to_vec();
        Ok(SignedCommand { body, signature })
    }

    /// The body, if `key` signed it.
    pub fn verify(&self, key: &VerifyingKey) -> Result<CommandBody, CommandError> {
        let signature = Signature::from_slice(&self.signature).map_err(|_| CommandError::Signature)?;
        key.verify(&signed_message(&self.body), &signature).map_err(|_| CommandError::Signature)?;
        postcard::from_bytes(&self.body).map_err(|e| CommandError::Body(e.to_string()))
    }

    /// The body without checking the signature: for the hub's own records only.
    pub fn body_unverified(&self) -> Result<CommandBody, CommandError> {
        postcard::from_bytes(&self.body).map_err(|e| CommandError::Body(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> CommandBody {
        CommandBody {
            id: 7,
            sensor_id: "sensor-1".into(),
            issued: 1,
            expires: 2,
            command: Command::Evidence { uid: "Cabc".into() },
        }
    }

    #[test]
    fn a_signed_command_verifies_with_its_key_only() {
        let key = SigningKey::from_bytes(&[1; 32]);
        let other = SigningKey::from_bytes(&[2; 32]);
        let signed = SignedCommand::sign(&key, &body()).unwrap();
        assert_eq!(signed.verify(&key.verifying_key()), Ok(body()));
        assert_eq!(signed.verify(&other.verifying_key()), Err(CommandError::Signature));
    }

    #[test]
    fn any_change_to_the_body_or_signature_is_refused() {
        let key = SigningKey::from_bytes(&[1; 32]);
        let signed = SignedCommand::sign(&key, &body()).unwrap();
        for i in 0..signed.body.len() {
            let mut forged = signed.clone();
            forged.body[i] ^= 1;
            assert_eq!(forged.verify(&key.verifying_key()), Err(CommandError::Signature), "body byte {i}");
        }
        let mut short = signed.clone();
        short.signature.pop();
        assert_eq!(short.verify(&key.verifying_key()), Err(CommandError::Signature));
        let mut flipped = signed;
        flipped.signature[0] ^= 1;
        assert_eq!(flipped.verify(&key.verifying_key()), Err(CommandError::Signature));
    }

    #[test]
    fn a_signature_without_the_domain_does_not_verify() {
        let key = SigningKey::from_bytes(&[1; 32]);
        let bytes = postcard::to_stdvec(&body()).unwrap();
        let bare = SignedCommand { signature: key.sign(&bytes).to_bytes().to_vec(), body: bytes };
        assert_eq!(bare.verify(&key.verifying_key()), Err(CommandError::Signature));
    }
}
