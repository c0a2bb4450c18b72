//! Threat-intelligence feeds from arbitrary bytes: a plain list, a CSV file, a STIX bundle, or a
//! STIX pattern inside a well-formed bundle (the first byte chooses), loaded as the sensor loads
//! a feeds directory (unsigned bundles allowed, so that the parsers behind the signature check
//! are reached). A feed must load or be refused with a reason, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sensor_detect::intel::{IntelConfig, load};
use std::path::PathBuf;
use std::sync::OnceLock;

/// One directory per fuzzing process, holding one feed at a time.
fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("fuzz-intel-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("a temporary directory");
        d
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    let (name, body) = match mode % 4 {
        0 => ("feed.txt", text.into_owned()),
        1 => ("feed.csv", text.into_owned()),
        2 => ("feed.json", text.into_owned()),
        _ => {
            let pattern = serde_json::to_string(&text).expect("a string serialises");
            ("feed.json", format!(r#"{{"type":"bundle","objects":[{{"type":"indicator","pattern_type":"stix","pattern":{pattern}}}]}}"#))
        }
    };
    for old in std::fs::read_dir(dir()).expect("the directory").flatten() {
        let _ = std::fs::remove_file(old.path());
    }
    std::fs::write(dir().join(name), body).expect("a feed file");
    let cfg = IntelConfig { dir: Some(dir().clone()), dangerous_allow_unsigned_bundles: true, ..IntelConfig::default() };
    let (intel, report) = load(&cfg).expect("the directory loads");
    assert_eq!(report.feeds.len(), 1);
    assert!(report.indicators() >= intel.len() as u64);
    let _ = intel.match_name("a.b.example.com");
    let _ = intel.match_addr("192.0.2.1".parse().expect("an address"));
});
