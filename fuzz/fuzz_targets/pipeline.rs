//! The whole pipeline (decode, flows, TCP state, DNS over UDP and TCP, records) on a capture
//! built from arbitrary bytes: the input is a sequence of Ethernet frames separated by 0xFE.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sensor::config::Config;
use sensor::pipeline::Pipeline;
use sensor_capture::Frame;
use sensor_output::{Alert, ConnRecord, DnsRecordLine, OutputError, OutputStats, RecordSink, WeirdRecord};
use sensor_wire::{LinkType, Timestamp};

/// Writes every record's JSON (so the output path runs too) and throws it away.
struct Discard(Vec<u8>);
impl RecordSink for Discard {
    fn conn(&mut self, r: &ConnRecord<'_>) -> Result<(), OutputError> {
        self.0.clear();
        r.write_json(&mut self.0);
        Ok(())
    }
    fn dns(&mut self, r: &DnsRecordLine<'_>) -> Result<(), OutputError> {
        self.0.clear();
        r.write_json(&mut self.0);
        Ok(())
    }
    fn weird(&mut self, r: &WeirdRecord<'_>) -> Result<(), OutputError> {
        self.0.clear();
        r.write_json(&mut self.0);
        Ok(())
    }
    fn alert(&mut self, a: &Alert) -> Result<(), OutputError> {
        self.0.clear();
        serde_json::to_writer(&mut self.0, a).expect("an alert serialises");
        Ok(())
    }
    fn flush(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
    fn stats(&self) -> OutputStats {
        OutputStats::default()
    }
}

fuzz_target!(|data: &[u8]| {
    let mut pipeline = Pipeline::new(&Config::default(), Discard(Vec::new()), 1);
    for (i, frame) in data.split(|&b| b == 0xfe).enumerate() {
        let ts = Timestamp(1_700_000_000_000_000_000 + i as u64 * 7_000_000_000);
        pipeline.frame(&Frame { ts, link: LinkType::ETHERNET, data: frame, orig_len: frame.len() as u32 });
    }
    let _ = pipeline.finish();
});
