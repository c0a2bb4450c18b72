//! zstd dictionaries, one per record kind, trained offline and shipped with the binary.
//!
//! Records of one kind repeat the same field layout and many of the same values (ports,
//! protocol names, states, answer shapes); a dictionary trained on them lets even a block of a
//! few records compress well. `make dicts` retrains them from the shared captures' records
//! (`sensor/store/examples/train_dicts.rs`); each gets a new id.
//!
//! Rule: a shipped dictionary is never removed or changed, since every block names the id it
//! was compressed with; new blocks use the newest dictionary of their kind.

use crate::StoreError;
use crate::record::Kind;

/// The shipped dictionaries: id (never reused), kind, bytes.
const SHIPPED: &[(u32, Kind, &[u8])] = &[];

/// Compressors and decompressors for every kind, with their dictionaries.
pub(crate) struct Dictionaries {
    level: i32,
    compressors: [Option<zstd::bulk::Compressor<'static>>; Kind::ALL.len()],
    decompressors: Vec<(u32, zstd::bulk::Decompressor<'static>)>,
}

impl Dictionaries {
    /// Compression at `level` (zstd's levels, 1 = fastest).
    pub(crate) fn new(level: i32) -> Dictionaries {
        Dictionaries { level, compressors: Default::default(), decompressors: Vec::new() }
    }

    /// The dictionary new blocks of `kind` use (0: none).
    pub(crate) fn current(&self, kind: Kind) -> u32 {
        SHIPPED.iter().filter(|d| d.1 == kind).map(|d| d.0).max().unwrap_or(0)
    }

    fn dictionary(id: u32) -> Option<&'static [u8]> {
        SHIPPED.iter().find(|d| d.0 == id).map(|d| d.2)
    }

    /// Appends `payload` compressed with the current dictionary of `kind` to `out`.
    pub(crate) fn compress(&mut self, kind: Kind, payload: &[u8], out: &mut Vec<u8>) -> Result<(), StoreError> {
        let current = self.current(kind);
        let compressor = match &mut self.compressors[kind.index()] {
            Some(c) => c,
            slot => {
                let dict = Self::dictionary(current).unwrap_or_default();
                let mut c = zstd::bulk::Compressor::with_dictionary(self.level, dict).map_err(StoreError::Compress)?;
                c.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true)).map_err(StoreError::Compress)?;
                slot.insert(c)
            }
        };
        let frame = compressor.compress(payload).map_err(StoreError::Compress)?;
        out.extend_from_slice(&frame);
        Ok(())
    }

    /// Decompresses a frame of `raw_len` bytes compressed with dictionary `id`.
    pub(crate) fn decompress(&mut self, kind: Kind, id: u32, frame: &[u8], raw_len: usize) -> Result<Vec<u8>, String> {
        let position = match self.decompressors.iter().position(|d| d.0 == id) {
            Some(i) => i,
            None => {
                let dict = match id {
                    0 => &[][..],
                    _ => Self::dictionary(id).ok_or_else(|| {
                        format!("compressed with {kind} dictionary {id}, which this build does not have")
                    })?,
                };
                let d = zstd::bulk::Decompressor::with_dictionary(dict).map_err(|e| e.to_string())?;
                self.decompressors.push((id, d));
                self.decompressors.len() - 1
            }
        };
        self.decompressors[position].1.decompress(frame, raw_len).map_err(|e| format!("zstd: {e}"))
    }
}
