//! Every capture of the shared set replays without a panic or an error, the accounting adds up,
//! and the records are well-formed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

mod common;

use common::*;

#[test]
fn every_shared_capture_replays_cleanly() {
    let captures = all_captures();
    assert!(captures.len() >= 100, "expected the shared captures beside the repository, found {}", captures.len());
    for capture in &captures {
        let r = replay(std::slice::from_ref(capture));
        let s = &r.summary;
        assert!(s.packets > 0, "{}: no packets", capture.display());
        assert_eq!(s.flows as usize, r.conn.len(), "{}", capture.display());
        assert_eq!(s.dns as usize, r.dns.len(), "{}", capture.display());
        for c in &r.conn {
            for key in
                ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "conn_state", "community_id"]
            {
                assert!(c.get(key).is_some(), "{}: conn record without {key}: {c}", capture.display());
            }
        }
        let uids: std::collections::HashSet<_> = r.conn.iter().map(|c| c["uid"].as_str().unwrap().to_owned()).collect();
        assert_eq!(uids.len(), r.conn.len(), "{}: uids repeat", capture.display());
        for d in &r.dns {
            assert!(
                uids.contains(d["uid"].as_str().unwrap()),
                "{}: dns record of an unknown connection",
                capture.display()
            );
        }
    }
}

#[test]
fn malformed_captures_raise_anomalies() {
    for name in ["zeek-trunc-ip4.pcap", "zeek-trunc-ip6.pcap", "zeek-trunc-hdr.pcap", "sv-ipv6-frag-overlap-1.pcap"] {
        let r = replay(&[pcaps().join("malformed").join(name)]);
        assert!(!r.weird.is_empty(), "{name}: no weird record");
    }
}

#[test]
fn several_captures_form_one_timeline() {
    let a = pcaps().join("dns/zeek-dns-two-responses.pcap");
    let b = pcaps().join("dns/sv-dns-google-a-aaaa-mx.pcap");
    let both = replay(&[a.clone(), b.clone()]);
    let (ra, rb) = (replay(&[a]), replay(&[b]));
    assert_eq!(both.summary.packets, ra.summary.packets + rb.summary.packets);
    assert_eq!(both.dns.len(), ra.dns.len() + rb.dns.len());
    let ts: Vec<f64> = both.dns.iter().map(|d| d["ts"].as_f64().unwrap()).collect();
    assert!(ts.windows(2).all(|w| w[0] <= w[1]), "dns records of the merged timeline in time order: {ts:?}");
}
