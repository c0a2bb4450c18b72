//! `blocks`: block id → its [`crate::segments::Location`]. Ids grow with every block written and are never reused
//! ([`super::meta::Counter::NextBlock`]).

/// A block's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockId(pub u64);

impl BlockId {
    /// The key bytes.
    pub(crate) fn key(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }
}
