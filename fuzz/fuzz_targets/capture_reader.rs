//! The capture reader on arbitrary files: every frame it yields is read to the end.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sensor_capture::{FileSource, PacketSource, Poll};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let reader = std::io::Cursor::new(data.to_vec());
    let Ok(mut source) = FileSource::from_reader(Path::new("fuzz.pcap"), reader, Some(data.len() as u64)) else { return };
    let mut bytes = 0usize;
    for _ in 0..10_000 {
        match source.poll(64, &mut |f| bytes += f.data.iter().map(|&b| usize::from(b)).sum::<usize>()) {
            Ok(Poll::Delivered(_)) | Ok(Poll::Idle) => {}
            Ok(Poll::End) | Err(_) => break,
        }
    }
    let _ = source.take_anomalies();
});
