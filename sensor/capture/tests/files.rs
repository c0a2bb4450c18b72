//! Capture files built byte by byte: both byte orders, micro- and nanosecond pcap, pcapng with
//! several interfaces of different link types and timestamp resolutions, damaged files, and
//! several files merged into one timeline.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

use sensor_capture::{CaptureError, FileSource, MergedFiles, PacketSource, Poll};
use sensor_wire::{LinkType, Timestamp};
use std::path::{Path, PathBuf};

/// A classic pcap file: `magic` picks byte order and resolution.
fn pcap(big_endian: bool, nanos: bool, link: u32, records: &[(u32, u32, &[u8])]) -> Vec<u8> {
    let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
    let w32 = |v: u32| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
    let w16 = |v: u16| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
    let mut f = Vec::new();
    f.extend_from_slice(&w32(magic));
    f.extend_from_slice(&w16(2));
    f.extend_from_slice(&w16(4));
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&w32(65535));
    f.extend_from_slice(&w32(link));
    for (sec, frac, data) in records {
        f.extend_from_slice(&w32(*sec));
        f.extend_from_slice(&w32(*frac));
        f.extend_from_slice(&w32(data.len() as u32));
        f.extend_from_slice(&w32(data.len() as u32));
        f.extend_from_slice(data);
    }
    f
}

/// A pcapng block: type, body (padded to 32 bits), lengths around it.
fn block(kind: u32, body: &[u8]) -> Vec<u8> {
    let mut body = body.to_vec();
    while !body.len().is_multiple_of(4) {
        body.push(0);
    }
    let len = (body.len() + 12) as u32;
    let mut b = Vec::new();
    b.extend_from_slice(&kind.to_le_bytes());
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(&body);
    b.extend_from_slice(&len.to_le_bytes());
    b
}

fn section_header() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    body.extend_from_slice(&1u16.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&u64::MAX.to_le_bytes()); // section length unknown
    block(0x0a0d_0d0a, &body)
}

/// An interface description block, with `if_tsresol` and `if_tsoffset` options when given.
fn interface(link: u16, tsresol: Option<u8>, tsoffset: Option<i64>) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&link.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&65535u32.to_le_bytes());
    if let Some(r) = tsresol {
        body.extend_from_slice(&9u16.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&[r, 0, 0, 0]);
    }
    if let Some(o) = tsoffset {
        body.extend_from_slice(&14u16.to_le_bytes());
        body.extend_from_slice(&8u16.to_le_bytes());
        body.extend_from_slice(&o.to_le_bytes());
    }
    if tsresol.is_some() || tsoffset.is_some() {
        body.extend_from_slice(&[0; 4]); // opt_endofopt
    }
    block(1, &body)
}

fn enhanced_packet(iface: u32, ticks: u64, data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&iface.to_le_bytes());
    body.extend_from_slice(&((ticks >> 32) as u32).to_le_bytes());
    body.extend_from_slice(&(ticks as u32).to_le_bytes());
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(data);
    block(6, &body)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Every frame of a source: (timestamp, link type, bytes).
fn read_all(src: &mut dyn PacketSource) -> Vec<(Timestamp, LinkType, Vec<u8>)> {
    let mut out = Vec::new();
    loop {
        let poll = src.poll(3, &mut |f| out.push((f.ts, f.link, f.data.to_vec()))).unwrap();
        if poll == Poll::End {
            return out;
        }
    }
}

#[test]
fn classic_pcap_in_both_byte_orders_and_resolutions() {
    let dir = tempfile::tempdir().unwrap();
    for (big, nanos) in [(false, false), (true, false), (false, true), (true, true)] {
        let frac = if nanos { 123_456_789 } else { 123_456 };
        let f = write(
            dir.path(),
            "a.pcap",
            &pcap(big, nanos, 1, &[(1_700_000_000, frac, b"frame-one"), (1_700_000_001, 0, b"two")]),
        );
        let frames = read_all(&mut FileSource::open(&f).unwrap());
        let want_ns = if nanos { 123_456_789 } else { 123_456_000 };
        assert_eq!(frames.len(), 2, "big endian {big}, nanos {nanos}");
        assert_eq!(frames[0].0, Timestamp::from_parts(1_700_000_000, want_ns));
        assert_eq!((frames[0].1, frames[0].2.as_slice()), (LinkType::ETHERNET, b"frame-one".as_slice()));
        assert_eq!(frames[1].0, Timestamp::from_parts(1_700_000_001, 0));
    }
}

#[test]
fn pcapng_interfaces_keep_their_own_link_type_and_clock() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = section_header();
    f.extend(interface(1, None, None)); // Ethernet, default microseconds
    f.extend(interface(101, Some(9), Some(10))); // raw IP, nanoseconds, +10 s offset
    f.extend(interface(113, Some(0x80 | 10), None)); // Linux SLL, 2^-10 s units
    f.extend(enhanced_packet(0, 1_700_000_000_000_001, b"eth"));
    f.extend(enhanced_packet(1, 1_700_000_000_000_000_007, b"raw"));
    f.extend(enhanced_packet(2, 1024 * 1_700_000_002 + 512, b"sll"));
    let path = write(dir.path(), "multi.pcapng", &f);
    let frames = read_all(&mut FileSource::open(&path).unwrap());
    assert_eq!(frames.len(), 3);
    assert_eq!((frames[0].0, frames[0].1), (Timestamp(1_700_000_000_000_001_000), LinkType::ETHERNET));
    assert_eq!((frames[1].0, frames[1].1), (Timestamp(1_700_000_010_000_000_007), LinkType::RAW));
    assert_eq!((frames[2].0, frames[2].1), (Timestamp(1_700_000_002_500_000_000), LinkType::LINUX_SLL));
    assert_eq!(frames[2].2, b"sll");
}

#[test]
fn packet_naming_an_unknown_interface_is_an_anomaly_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = section_header();
    f.extend(interface(1, None, None));
    f.extend(enhanced_packet(5, 1, b"orphan"));
    f.extend(enhanced_packet(0, 2, b"ok"));
    let path = write(dir.path(), "orphan.pcapng", &f);
    let mut src = FileSource::open(&path).unwrap();
    let frames = read_all(&mut src);
    assert_eq!(frames.len(), 1);
    let anomalies = src.take_anomalies();
    assert_eq!(anomalies.len(), 1);
    assert_eq!(anomalies[0].name, "capture_unknown_interface");
    assert!(anomalies[0].addl.contains("orphan.pcapng"), "{}", anomalies[0].addl);
}

#[test]
fn truncated_last_record_keeps_everything_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let whole = pcap(false, false, 1, &[(1, 0, &[1; 100]), (2, 0, &[2; 100]), (3, 0, &[3; 100])]);
    let path = write(dir.path(), "cut.pcap", &whole[..whole.len() - 30]);
    let mut src = FileSource::open(&path).unwrap();
    let frames = read_all(&mut src);
    assert_eq!(frames.len(), 2);
    let anomalies = src.take_anomalies();
    assert_eq!(anomalies.len(), 1);
    assert_eq!(anomalies[0].name, "truncated_capture_record");
    assert_eq!(anomalies[0].ts, Some(Timestamp::from_parts(2, 0)));
}

#[test]
fn unusable_files_are_errors_that_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write(dir.path(), "empty.pcap", b"");
    assert!(matches!(FileSource::open(&empty), Err(CaptureError::Empty { .. })));
    let text = write(dir.path(), "notes.txt", b"hello, this is not a capture");
    let err = FileSource::open(&text).err().unwrap();
    assert!(matches!(err, CaptureError::NotACapture { .. }));
    assert!(err.to_string().contains("notes.txt"));
    let usb = write(dir.path(), "usb.pcap", &pcap(false, false, 189, &[]));
    let err = FileSource::open(&usb).err().unwrap();
    assert!(err.to_string().contains("unsupported link type 189"), "{err}");
    let missing = FileSource::open(Path::new("/nonexistent/x.pcap")).err().unwrap();
    assert!(missing.to_string().contains("/nonexistent/x.pcap"));
}

#[test]
fn absurd_record_length_does_not_allocate_without_bound() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = pcap(false, false, 1, &[(1, 0, b"fine")]);
    // A record header claiming 3 GB.
    f.extend_from_slice(&2u32.to_le_bytes());
    f.extend_from_slice(&0u32.to_le_bytes());
    f.extend_from_slice(&3_000_000_000u32.to_le_bytes());
    f.extend_from_slice(&3_000_000_000u32.to_le_bytes());
    f.extend_from_slice(&[0; 64]);
    let path = write(dir.path(), "huge.pcap", &f);
    let mut src = FileSource::open(&path).unwrap();
    let mut frames = 0;
    let end = loop {
        match src.poll(16, &mut |_| frames += 1) {
            Ok(Poll::End) => break Ok(()),
            Ok(_) => {}
            Err(e) => break Err(e),
        }
    };
    assert_eq!(frames, 1);
    // Either an error naming the file or a truncation anomaly: never a panic or a 3 GB buffer.
    match end {
        Err(e) => assert!(e.to_string().contains("huge.pcap"), "{e}"),
        Ok(()) => assert_eq!(src.take_anomalies().len(), 1),
    }
}

#[test]
fn several_files_merge_into_one_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.pcap", &pcap(false, false, 1, &[(1, 0, b"a1"), (3, 0, b"a3"), (5, 0, b"a5")]));
    let b = write(dir.path(), "b.pcap", &pcap(true, true, 101, &[(2, 0, b"b2"), (4, 0, b"b4")]));
    let mut merged = MergedFiles::open(&[a, b]).unwrap();
    let frames = read_all(&mut merged);
    let names: Vec<&[u8]> = frames.iter().map(|f| f.2.as_slice()).collect();
    assert_eq!(names, [b"a1".as_slice(), b"b2", b"a3", b"b4", b"a5"]);
    assert_eq!(frames[1].1, LinkType::RAW);
    let (done, total) = merged.progress();
    assert_eq!(Some(done), total);
}
