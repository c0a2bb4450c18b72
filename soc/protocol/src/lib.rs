//! The tunnel between a sensor and the SOC hub: its messages and how they are framed.
//! docs/protocol.md is the written specification; this crate is its one implementation, used
//! by both ends.
//!
//! | file | what it holds |
//! |---|---|
//! | `lib.rs` | versions, limits, [`ProtocolError`] |
//! | `messages.rs` | [`Up`] (sensor to hub) and [`Down`] (hub to sensor) |
//! | `offline.rs` | the files of offline enrollment (air-gapped sites) |
//! | `command.rs` | [`SignedCommand`]: commands down the tunnel, signed by the hub (ed25519) |
//! | `frame.rs` | [`encode`], [`decode`]: length-prefixed postcard, zstd above a size; async read and write |
//!
//! Nothing here trusts its input: a frame longer than [`MAX_FRAME`], a payload that does not
//! decompress within the limit, or does not decode as a message, is an error, never a panic or
//! an unbounded allocation (`fuzz/` holds a target for [`decode`]).

#![forbid(unsafe_code)]

pub mod command;
mod frame;
mod messages;
pub mod offline;

pub use command::{Command, CommandBody, CommandStatus, SignedCommand};

pub use frame::{decode, encode, read_frame, write_frame};
pub use messages::{AlertItem, Down, ErrorCode, Health, Up};

/// Protocol versions this build speaks, oldest first. The sensor offers its range in
/// [`Up::Hello`]; the hub answers with the highest version both speak in [`Down::Welcome`].
pub const VERSIONS: std::ops::RangeInclusive<u16> = 1..=1;

/// The largest frame either end accepts (length prefix excluded), compressed or not, and the
/// largest a payload may decompress to: an alert with its evidence summary is a few KiB; a
/// batch of evidence packets is bounded by the sensor's export limit.
pub const MAX_FRAME: usize = 16 << 20;

/// Payloads at least this long are compressed with zstd (shorter ones gain nothing).
pub const COMPRESS_FROM: usize = 512;

/// zstd level of frame payloads: fast, since alerts are latency-bound.
pub const ZSTD_LEVEL: i32 = 3;

/// The SHA-256 of a certificate (DER), lowercase hex: what a sensor pins the hub's CA by at
/// enrollment, and how the hub knows a sensor's certificate.
pub fn fingerprint(der: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(der).iter().map(|b| format!("{b:02x}")).collect()
}

/// `der` as PEM with `label` (Unix line endings): the certificate and request files both ends
/// write.
pub fn pem(label: &str, der: &[u8]) -> String {
    let config = ::pem::EncodeConfig::new().set_line_ending(::pem::LineEnding::LF);
    ::pem::encode_config(&::pem::Pem::new(label, der), config)
}

/// The highest version both ends speak, given the sensor's range; `None` if none.
pub fn negotiate(min: u16, max: u16) -> Option<u16> {
    let top = max.min(*VERSIONS.end());
    (top >= min.max(*VERSIONS.start())).then_some(top)
}

/// What can go wrong reading or writing the tunnel.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// The connection failed or closed.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    /// A frame announced more bytes than [`MAX_FRAME`].
    #[error("frame of {0} bytes exceeds the limit of {MAX_FRAME}")]
    Oversize(usize),
    /// The frame's flags byte has bits this version does not know.
    #[error("unknown frame flags {0:#04x}")]
    Flags(u8),
    /// The payload is not valid zstd, or decompresses beyond the limit.
    #[error("frame payload does not decompress: {0}")]
    Compression(String),
    /// The payload is not a message of this protocol.
    #[error("frame payload is not a message: {0}")]
    Decode(#[from] postcard::Error),
}

#[cfg(test)]
mod tests {
    #[test]
    fn sha256_of_the_der_in_hex() {
        // SHA-256 of the empty input.
        assert_eq!(super::fingerprint(&[]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
}
