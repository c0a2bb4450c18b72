//! Blocks: the unit the store writes, compresses, reads and evicts.
//!
//! A block holds records of one [`Kind`] from one time bucket, sorted by time. On disk it is a
//! fixed header followed by one zstd frame (docs/store.md has the byte layout):
//!
//! ```text
//! "SBLK" kind:u8 codec:u8 reserved:u16 dict:u32 count:u32 raw_len:u32 min_ts:u64 max_ts:u64
//! written:u64 | zstd
//! ```
//!
//! all little-endian. Decompressed, the payload is `count` records, each a `u32` length then the
//! record's postcard bytes. `dict` names the zstd dictionary the frame was compressed with (0:
//! none); dictionaries are shipped with the binary and never removed (see [`crate::dict`]).

use crate::StoreError;
use crate::dict::Dictionaries;
use crate::record::Kind;
use sensor_wire::Timestamp;

/// The block magic.
const MAGIC: [u8; 4] = *b"SBLK";
/// Codec code: a zstd frame.
const CODEC_ZSTD: u8 = 1;
/// Header length in bytes.
pub(crate) const HEADER_LEN: usize = 44;
/// Largest decompressed payload accepted when reading: a corrupted header must not make the
/// reader allocate gigabytes. Writers seal blocks far below it ([`crate::WriterConfig`]).
pub(crate) const MAX_RAW_LEN: usize = 64 << 20;

/// A block's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockHeader {
    /// The records' kind.
    pub kind: Kind,
    /// The zstd dictionary (0: none).
    pub dict: u32,
    /// Records in the block.
    pub count: u32,
    /// Decompressed payload length.
    pub raw_len: u32,
    /// Earliest record time.
    pub min_ts: Timestamp,
    /// Latest record time.
    pub max_ts: Timestamp,
    /// When the block was written (wall clock): what the age limit goes by.
    pub written: Timestamp,
}

impl BlockHeader {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&MAGIC);
        out.push(self.kind.code());
        out.push(CODEC_ZSTD);
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&self.dict.to_le_bytes());
        out.extend_from_slice(&self.count.to_le_bytes());
        out.extend_from_slice(&self.raw_len.to_le_bytes());
        out.extend_from_slice(&self.min_ts.0.to_le_bytes());
        out.extend_from_slice(&self.max_ts.0.to_le_bytes());
        out.extend_from_slice(&self.written.0.to_le_bytes());
    }

    /// Reads a header, checking what can be checked without decompressing.
    pub fn parse(bytes: &[u8]) -> Result<BlockHeader, String> {
        let h = bytes.get(..HEADER_LEN).ok_or_else(|| format!("{} bytes, shorter than a header", bytes.len()))?;
        let u32_at = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let u64_at = |i: usize| (u64::from(u32_at(i + 4)) << 32) | u64::from(u32_at(i));
        if h[..4] != MAGIC {
            return Err("bad magic".into());
        }
        let kind = Kind::from_code(h[4]).ok_or_else(|| format!("unknown record kind code {}", h[4]))?;
        if h[5] != CODEC_ZSTD {
            return Err(format!("unknown codec {}", h[5]));
        }
        let header = BlockHeader {
            kind,
            dict: u32_at(8),
            count: u32_at(12),
            raw_len: u32_at(16),
            min_ts: Timestamp(u64_at(20)),
            max_ts: Timestamp(u64_at(28)),
            written: Timestamp(u64_at(36)),
        };
        if header.raw_len as usize > MAX_RAW_LEN {
            return Err(format!("payload of {} bytes declared, more than the limit", header.raw_len));
        }
        if header.min_ts > header.max_ts {
            return Err("earliest time after latest".into());
        }
        Ok(header)
    }
}

/// Records being collected into a block.
#[derive(Debug)]
pub(crate) struct BlockBuilder {
    /// The records framed as in the payload (length, then bytes), in arrival order.
    bytes: Vec<u8>,
    /// `(ts, start, framed length)` of each record in `bytes`.
    entries: Vec<(Timestamp, u32, u32)>,
    /// Whether the records arrived in time order (then `bytes` is the payload as it is).
    sorted: bool,
    /// Scratch: the payload in time order when they did not.
    payload: Vec<u8>,
}

impl Default for BlockBuilder {
    fn default() -> Self {
        BlockBuilder { bytes: Vec::new(), entries: Vec::new(), sorted: true, payload: Vec::new() }
    }
}

impl BlockBuilder {
    /// Adds a record at time `ts`. A record that does not serialise leaves the block as it was.
    pub(crate) fn add(&mut self, ts: Timestamp, rec: &impl serde::Serialize) -> Result<(), postcard::Error> {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(&[0; 4]);
        if let Err(e) = postcard::to_io(rec, &mut self.bytes) {
            self.bytes.truncate(start);
            return Err(e);
        }
        let framed = self.bytes.len() - start;
        self.bytes[start..start + 4].copy_from_slice(&((framed - 4) as u32).to_le_bytes());
        self.sorted &= self.entries.last().is_none_or(|e| e.0 <= ts);
        self.entries.push((ts, start as u32, framed as u32));
        Ok(())
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn raw_len(&self) -> usize {
        self.bytes.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Sorts the records by time and compresses them into `out` (header and frame); empties
    /// the builder and returns the header written.
    pub(crate) fn seal(
        &mut self,
        kind: Kind,
        written: Timestamp,
        dicts: &mut Dictionaries,
        out: &mut Vec<u8>,
    ) -> Result<BlockHeader, StoreError> {
        if !self.sorted {
            self.entries.sort_by_key(|e| e.0);
            self.payload.clear();
            for &(_, start, framed) in &self.entries {
                self.payload.extend_from_slice(&self.bytes[start as usize..(start + framed) as usize]);
            }
            core::mem::swap(&mut self.payload, &mut self.bytes);
        }
        let (first, last) = match (self.entries.first(), self.entries.last()) {
            (Some(f), Some(l)) => (f.0, l.0),
            _ => (Timestamp(0), Timestamp(0)),
        };
        let header = BlockHeader {
            kind,
            dict: dicts.current(kind),
            count: self.entries.len() as u32,
            raw_len: self.bytes.len() as u32,
            min_ts: first,
            max_ts: last,
            written,
        };
        out.clear();
        header.write(out);
        dicts.compress(kind, &self.bytes, out)?;
        self.bytes.clear();
        self.entries.clear();
        self.sorted = true;
        Ok(header)
    }
}

/// A block read back and decompressed.
#[derive(Debug)]
pub struct Block {
    /// Its header.
    pub header: BlockHeader,
    payload: Vec<u8>,
}

impl Block {
    /// Decompresses a block value; `Err` says what is wrong with it.
    pub(crate) fn open(bytes: &[u8], dicts: &mut Dictionaries) -> Result<Block, String> {
        let header = BlockHeader::parse(bytes)?;
        let payload = dicts.decompress(header.kind, header.dict, &bytes[HEADER_LEN..], header.raw_len as usize)?;
        if payload.len() != header.raw_len as usize {
            return Err(format!("payload is {} bytes, header says {}", payload.len(), header.raw_len));
        }
        Ok(Block { header, payload })
    }

    /// The records' bytes, in time order; `Err` when the framing is broken.
    pub fn records(&self) -> impl Iterator<Item = Result<&[u8], String>> {
        let mut rest = self.payload.as_slice();
        let mut left = self.header.count;
        core::iter::from_fn(move || {
            if left == 0 {
                if rest.is_empty() {
                    return None;
                }
                let extra = rest.len();
                rest = &[];
                return Some(Err(format!("{extra} bytes after the last record")));
            }
            left -= 1;
            let Some((len, tail)) = rest.split_first_chunk::<4>() else {
                left = 0;
                rest = &[];
                return Some(Err("record length cut short".into()));
            };
            let len = u32::from_le_bytes(*len) as usize;
            let Some((record, tail)) = tail.split_at_checked(len) else {
                left = 0;
                rest = &[];
                return Some(Err(format!("record of {len} bytes cut short")));
            };
            rest = tail;
            Some(Ok(record))
        })
    }
}
