//! The frame decoder on arbitrary frames. The first byte picks the link type; a few frames in
//! a row share one decoder, so fragment reassembly state is exercised too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sensor_wire::{DecoderConfig, FrameDecoder, LinkType, Timestamp};

const LINKS: [LinkType; 8] = [
    LinkType::ETHERNET,
    LinkType::LINUX_SLL,
    LinkType::LINUX_SLL2,
    LinkType::RAW,
    LinkType::NULL,
    LinkType::LOOP,
    LinkType::IPV4,
    LinkType::IPV6,
];

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else { return };
    let link = LINKS[usize::from(first) % LINKS.len()];
    let mut decoder = FrameDecoder::new(DecoderConfig::default());
    let mut anomalies = Vec::new();
    // Frames are separated by 0xFE bytes, so one input can hold several.
    for (i, frame) in rest.split(|&b| b == 0xfe).enumerate() {
        let _ = decoder.decode(link, Timestamp(i as u64 * 1_000_000), frame, &mut anomalies);
    }
    decoder.expire(Timestamp(u64::MAX), &mut anomalies);
    assert!(decoder.counters().is_balanced());
});
