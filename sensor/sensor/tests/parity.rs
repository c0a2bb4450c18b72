//! Parity with the peers on the shared captures: our dns and conn records against Zeek's
//! baselines, and every DNS message tshark dissects against our dns records.
//!
//! A difference passes only when docs/parity.md lists it (capture, log, field) with its reason,
//! and a listed difference that no longer occurs fails too, so the table stays true.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

mod common;

use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Mismatch = (String, String, String, String); // capture, log, field, detail

fn capture_name(path: &Path) -> String {
    let rel = path.strip_prefix(pcaps()).unwrap_or(path);
    rel.to_string_lossy().into_owned()
}

/// Baselines of one kind beside the captures: (capture, baseline).
fn baselines(suffixes: &[&str]) -> Vec<(std::path::PathBuf, std::path::PathBuf)> {
    let mut out = Vec::new();
    for capture in all_captures() {
        let stem = capture.with_extension("");
        for suffix in suffixes {
            let log = stem.with_file_name(format!("{}.{suffix}", stem.file_name().unwrap().to_string_lossy()));
            if log.exists() {
                out.push((capture.clone(), log));
            }
        }
    }
    out
}

fn field<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.get(name).filter(|v| !v.is_null())
}

fn endpoints_zeek(r: &ZeekRow) -> Option<String> {
    Some(format!("{} {} {} {}", r.get("id.orig_h")?, r.get("id.orig_p")?, r.get("id.resp_h")?, r.get("id.resp_p")?))
}

fn endpoints_ours(v: &Value) -> String {
    let s = |k| as_zeek(field(v, k)).unwrap_or_default();
    format!("{} {} {} {}", s("id.orig_h"), s("id.orig_p"), s("id.resp_h"), s("id.resp_p"))
}

/// Compares one field present in Zeek's log; `None` on either side means unset.
fn compare_scalar(name: &str, zeek: Option<&String>, ours: Option<&Value>) -> Option<String> {
    let ours = as_zeek(ours);
    let equal = match (zeek, &ours) {
        (None, None) => true,
        (Some(z), Some(o)) => match (z.parse::<f64>(), o.parse::<f64>()) {
            (Ok(a), Ok(b)) if z.contains('.') || o.contains('.') => (a - b).abs() < 2e-6,
            _ => z == o,
        },
        _ => false,
    };
    (!equal).then(|| format!("{name}: zeek {zeek:?} ours {ours:?}"))
}

fn check_dns(capture: &Path, log: &Path, out: &mut Vec<Mismatch>) {
    let name = capture_name(capture);
    let fields = zeek_fields(log);
    let zeek = read_zeek_log(log);
    let ours = replay(&[capture.to_path_buf()]);
    let key_z = |r: &ZeekRow| {
        format!("{} {}", endpoints_zeek(r).unwrap_or_default(), r.get("trans_id").cloned().unwrap_or_default())
    };
    let key_o = |v: &Value| format!("{} {}", endpoints_ours(v), as_zeek(field(v, "trans_id")).unwrap_or_default());
    let mut groups: BTreeMap<String, (Vec<&ZeekRow>, Vec<&Value>)> = BTreeMap::new();
    for r in &zeek {
        groups.entry(key_z(r)).or_default().0.push(r);
    }
    for v in &ours.dns {
        groups.entry(key_o(v)).or_default().1.push(v);
    }
    if zeek.len() != ours.dns.len() {
        out.push((name.clone(), "dns".into(), "count".into(), format!("zeek {} ours {}", zeek.len(), ours.dns.len())));
    }
    for (key, (z, o)) in &groups {
        if z.len() != o.len() {
            out.push((name.clone(), "dns".into(), "count".into(), format!("{key}: zeek {} ours {}", z.len(), o.len())));
        }
        for (zr, ov) in z.iter().zip(o.iter()) {
            for f in [
                "proto",
                "query",
                "qclass",
                "qclass_name",
                "qtype",
                "qtype_name",
                "rcode",
                "rcode_name",
                "AA",
                "TC",
                "RD",
                "RA",
                "Z",
                "rejected",
                "rtt",
                "opcode",
                "opcode_name",
            ] {
                if !fields.iter().any(|x| x == f) {
                    continue;
                }
                if let Some(d) = compare_scalar(f, zr.get(f), field(ov, f)) {
                    out.push((name.clone(), "dns".into(), f.into(), format!("{key}: {d}")));
                }
            }
            if fields.iter().any(|x| x == "answers") {
                let za = zeek_vector(zr.get("answers"));
                let oa: Vec<String> = field(ov, "answers")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
                    .unwrap_or_default();
                if za != oa {
                    out.push((name.clone(), "dns".into(), "answers".into(), format!("{key}: zeek {za:?} ours {oa:?}")));
                }
            }
            if fields.iter().any(|x| x == "TTLs") {
                let zt: Vec<f64> = zeek_vector(zr.get("TTLs")).iter().filter_map(|t| t.parse().ok()).collect();
                let ot: Vec<f64> = field(ov, "TTLs")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_f64).collect())
                    .unwrap_or_default();
                if zt != ot {
                    out.push((name.clone(), "dns".into(), "TTLs".into(), format!("{key}: zeek {zt:?} ours {ot:?}")));
                }
            }
        }
    }
}

const CONN_FIELDS: [&str; 16] = [
    "proto",
    "conn_state",
    "history",
    "orig_pkts",
    "orig_ip_bytes",
    "resp_pkts",
    "resp_ip_bytes",
    "orig_bytes",
    "resp_bytes",
    "missed_bytes",
    "duration",
    "local_orig",
    "local_resp",
    "vlan",
    "inner_vlan",
    "service",
];

fn conn_diffs(zr: &ZeekRow, ov: &Value, fields: &[String]) -> Vec<(String, String)> {
    let mut diffs = Vec::new();
    for f in CONN_FIELDS {
        if !fields.iter().any(|x| x == f) {
            continue;
        }
        if f == "service" {
            // Compared where we identify the protocol: DNS, for now.
            let z_dns = zr.get(f).is_some_and(|s| s.split(',').any(|x| x == "dns"));
            let o_dns = field(ov, f).and_then(Value::as_str) == Some("dns");
            if z_dns != o_dns {
                diffs.push((f.to_owned(), format!("service: zeek {:?} ours {:?}", zr.get(f), field(ov, f))));
            }
            continue;
        }
        if (f == "local_orig" || f == "local_resp") && zr.get(f).is_none() {
            continue; // not logged by that Zeek run (no Site::local_nets)
        }
        if let Some(d) = compare_scalar(f, zr.get(f), field(ov, f)) {
            diffs.push((f.to_owned(), d));
        }
    }
    diffs
}

fn check_conn(capture: &Path, log: &Path, out: &mut Vec<Mismatch>) {
    let name = capture_name(capture);
    let fields = zeek_fields(log);
    let zeek = read_zeek_log(log);
    let ours = replay(&[capture.to_path_buf()]);
    let has_ids = fields.iter().any(|f| f == "id.orig_h");
    let key_z = |r: &ZeekRow| {
        if has_ids {
            format!("{} {}", endpoints_zeek(r).unwrap_or_default(), r.get("proto").cloned().unwrap_or_default())
        } else {
            String::new()
        }
    };
    let key_o = |v: &Value| {
        if has_ids {
            format!("{} {}", endpoints_ours(v), as_zeek(field(v, "proto")).unwrap_or_default())
        } else {
            String::new()
        }
    };
    let mut groups: BTreeMap<String, (Vec<&ZeekRow>, Vec<&Value>)> = BTreeMap::new();
    for r in &zeek {
        groups.entry(key_z(r)).or_default().0.push(r);
    }
    for v in &ours.conn {
        groups.entry(key_o(v)).or_default().1.push(v);
    }
    for (key, (z, o)) in &groups {
        if z.len() != o.len() && (has_ids || o.len() < z.len()) {
            out.push((
                name.clone(),
                "conn".into(),
                "count".into(),
                format!("{key}: zeek {} ours {}", z.len(), o.len()),
            ));
        }
        // Pair each Zeek row with the unpaired record of ours that differs least.
        let mut free: Vec<&Value> = o.clone();
        for zr in z {
            let Some((i, _)) = free.iter().enumerate().min_by_key(|(_, ov)| conn_diffs(zr, ov, &fields).len()) else {
                break;
            };
            let ov = free.remove(i);
            for (f, d) in conn_diffs(zr, ov, &fields) {
                out.push((name.clone(), "conn".into(), f, format!("{key}: {d}")));
            }
        }
    }
}

fn check_tshark(capture: &Path, tsv: &Path, out: &mut Vec<Mismatch>) {
    check_tshark_text(capture, &std::fs::read_to_string(tsv).unwrap(), out);
}

fn check_tshark_text<'a>(capture: &Path, text: &'a str, out: &mut Vec<Mismatch>) {
    let name = capture_name(capture);
    let ours = replay(&[capture.to_path_buf()]);
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    fn col<'r>(header: &[&str], row: &[&'r str], n: &str) -> &'r str {
        header.iter().position(|h| *h == n).and_then(|i| row.get(i).copied()).unwrap_or("")
    }
    let col = |row: &[&'a str], n: &str| col(&header, row, n);
    // (endpoints either way, transaction id) -> the query names logged, "" for a record whose name
    // is not comparable (no query logged, or a non-standard opcode whose first question is a zone).
    let mut have: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for v in &ours.dns {
        let id = as_zeek(field(v, "trans_id")).unwrap_or_default();
        let standard = field(v, "opcode").and_then(Value::as_u64).is_none_or(|op| op == 0);
        let q = if standard { as_zeek(field(v, "query")).unwrap_or_default() } else { String::new() };
        let (a, b) =
            (as_zeek(field(v, "id.orig_h")).unwrap_or_default(), as_zeek(field(v, "id.resp_h")).unwrap_or_default());
        have.entry((format!("{a} {b}"), id.clone())).or_default().insert(q.clone());
        have.entry((format!("{b} {a}"), id)).or_default().insert(q);
    }
    for line in lines {
        let row: Vec<&str> = line.split('\t').collect();
        let src = [col(&row, "ip_src"), col(&row, "ipv6_src")].concat();
        let dst = [col(&row, "ip_dst"), col(&row, "ipv6_dst")].concat();
        let id = u16::from_str_radix(col(&row, "dns_id").trim_start_matches("0x"), 16).unwrap_or(0).to_string();
        let qname = col(&row, "qname").to_ascii_lowercase();
        let endpoints = format!("{src} {dst}");
        let found = have
            .get(&(endpoints.clone(), id.clone()))
            .is_some_and(|names| names.contains(&qname) || names.contains("") || qname.is_empty());
        if !found {
            let frame = col(&row, "frame");
            out.push((
                name.clone(),
                "tshark".into(),
                "message".into(),
                format!("frame {frame}: {endpoints} id {id} {qname:?} has no dns record"),
            ));
        }
    }
}

/// Fails on any mismatch not documented, and on any documented mismatch that no longer occurs.
fn judge(log: &str, mismatches: Vec<Mismatch>) {
    let documented: BTreeSet<(String, String, String)> =
        documented_exceptions().into_iter().filter(|(_, l, _)| l == log).collect();
    let seen: BTreeSet<(String, String, String)> =
        mismatches.iter().map(|(c, l, f, _)| (c.clone(), l.clone(), f.clone())).collect();
    let undocumented: Vec<&Mismatch> =
        mismatches.iter().filter(|(c, l, f, _)| !documented.contains(&(c.clone(), l.clone(), f.clone()))).collect();
    let stale: Vec<_> = documented.difference(&seen).collect();
    let mut report = String::new();
    for (c, _, f, d) in &undocumented {
        report.push_str(&format!("  undocumented difference: {c} {log}.{f}: {d}\n"));
    }
    for (c, _, f) in &stale {
        report.push_str(&format!("  docs/parity.md lists {c} {log}.{f}, which now agrees: remove the row\n"));
    }
    assert!(report.is_empty(), "parity with the peers ({log}):\n{report}");
}

#[test]
fn dns_records_match_zeek() {
    let mut mismatches = Vec::new();
    let pairs = baselines(&["zeek-dns.log"]);
    assert!(pairs.len() >= 13, "expected the Zeek dns.log baselines, found {}", pairs.len());
    for (capture, log) in pairs {
        check_dns(&capture, &log, &mut mismatches);
    }
    judge("dns", mismatches);
}

#[test]
fn conn_records_match_zeek() {
    let mut mismatches = Vec::new();
    let pairs = baselines(&["zeek-conn.log", "zeek-conn.log.cut", "zeek-icsnpp-conn.log"]);
    assert!(pairs.len() >= 10, "expected the Zeek conn.log baselines, found {}", pairs.len());
    for (capture, log) in pairs {
        check_conn(&capture, &log, &mut mismatches);
    }
    judge("conn", mismatches);
}

#[test]
fn every_tshark_dns_message_is_represented() {
    let mut mismatches = Vec::new();
    let pairs = baselines(&["tshark-dns.tsv"]);
    assert!(pairs.len() >= 28, "expected the tshark dissections, found {}", pairs.len());
    for (capture, tsv) in pairs {
        check_tshark(&capture, &tsv, &mut mismatches);
    }
    judge("tshark", mismatches);
}
