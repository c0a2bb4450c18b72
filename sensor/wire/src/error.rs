//! The error type of the wire views (`Packet::new_checked`, `Repr::parse`).
//!
//! The frame decoder itself never returns an error: it returns [`crate::Decode`] plus anomalies.
//! Errors exist only for callers that use the views directly (fuzz targets, frame builders).

/// Why a wire view or representation was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The buffer is shorter than the header, or than a length field of the header says.
    #[error("{what}: {len} bytes, but the header needs {need}")]
    Truncated {
        /// The header being read, e.g. `"802.1Q tag"`.
        what: &'static str,
        /// Bytes available.
        len: usize,
        /// Bytes needed.
        need: usize,
    },
    /// A field holds a value the format does not allow.
    #[error("{what}: field `{field}` holds a value the format does not allow")]
    Malformed {
        /// The header being read.
        what: &'static str,
        /// The offending field.
        field: &'static str,
    },
}

/// Result of the wire views.
pub type Result<T> = core::result::Result<T, WireError>;

/// Checks that `buf` holds at least `need` bytes.
#[inline]
pub(crate) fn need(what: &'static str, len: usize, need: usize) -> Result<()> {
    if len < need { Err(WireError::Truncated { what, len, need }) } else { Ok(()) }
}
