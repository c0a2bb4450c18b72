//! A tunnel frame body from an untrusted peer, decoded as either end would: as a sensor's
//! message (the hub's side) and as the hub's (the sensor's side). Errors are fine; panics,
//! hangs and allocations past the frame limit are not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use soc_protocol::{Down, Up, decode, encode};

fuzz_target!(|data: &[u8]| {
    if let Ok(up) = decode::<Up>(data) {
        // What decodes re-encodes and decodes to the same message.
        let again = encode(&up).expect("a decoded message encodes");
        assert_eq!(decode::<Up>(&again).expect("and decodes again"), up);
    }
    let _ = decode::<Down>(data);
});
