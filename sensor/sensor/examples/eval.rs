//! `make eval`: the detectors against the shared captures' ground truth (LABELS.tsv), as a
//! precision/recall table per ATT&CK technique. The `labels` test fails on any violated label;
//! this prints how well each technique does, including those no detector covers yet.
//!
//! Recall: `must` labels met / `must` labels. Precision: alerts that satisfy a `must` label of
//! their capture / all alerts of the technique (an alert no label confirms is counted against
//! precision even where it may be right: the labels list what must and must not be raised, not
//! everything that may).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark-style tool: a failure should panic

#[path = "../tests/common/labels.rs"]
mod labels;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn main() {
    // The shared captures folder: the argument, else beside the repository.
    let pcaps = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/pcaps"));
    let all = labels::read(&pcaps.join("LABELS.tsv"));
    let covered: Vec<&str> = sensor_detect::Technique::ALL.iter().map(|t| t.id()).collect();
    let every: Vec<&str> = all.iter().map(|l| l.technique.as_str()).filter(|t| t.starts_with('T')).collect();
    let mut scores = BTreeMap::new();
    let (mut violations, mut captures) = (Vec::new(), 0);
    for (capture, rows) in labels::by_capture(&all) {
        captures += 1;
        let alerts = labels::alerts_of(&labels::capture_path(&pcaps, &capture));
        let outcome = labels::score(&rows, &alerts, &every, &mut scores);
        for (l, bad) in outcome.violated {
            violations.push(format!("{capture}: {} {bad:?}", l.technique));
        }
    }
    println!("{captures} labelled captures, {} labels\n", all.len());
    println!(
        "{:<11} {:>7} {:>6} {:>8} {:>10} {:>10}  covered",
        "technique", "must", "met", "recall", "alerts", "precision"
    );
    for (t, s) in &scores {
        let must = s.met + s.unmet;
        let alerts = s.alerts_right + s.alerts_unlabelled;
        let ratio =
            |a: u32, b: u32| if b == 0 { "-".to_owned() } else { format!("{:.2}", f64::from(a) / f64::from(b)) };
        let is_covered = covered.iter().any(|c| labels::technique_matches(c, t));
        println!(
            "{t:<11} {must:>7} {:>6} {:>8} {alerts:>10} {:>10}  {}",
            s.met,
            ratio(s.met, must),
            ratio(s.alerts_right, alerts),
            if is_covered { "yes" } else { "not yet" }
        );
    }
    println!("\nmust_not violations (any-high included): {}", violations.len());
    for v in violations {
        println!("  {v}");
    }
}
