//! Stored records and block headers read back from arbitrary bytes (a damaged or hostile store
//! file): decoding returns an error or a record, and a decoded record renders and indexes without
//! panicking. The first byte picks the record kind.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sensor_store::{BlockHeader, Decoded, Kind};

fuzz_target!(|data: &[u8]| {
    let _ = BlockHeader::parse(data);
    let Some((&selector, bytes)) = data.split_first() else { return };
    let kind = Kind::ALL[usize::from(selector) % Kind::ALL.len()];
    if let Ok(record) = Decoded::decode(kind, bytes) {
        let mut out = Vec::new();
        record.write_json(&mut out);
        let _ = record.keys();
        let _ = record.ts();
    }
});
