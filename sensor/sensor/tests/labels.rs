//! The detectors against the shared captures' ground truth (LABELS.tsv): every `must` label of a
//! technique the detectors cover is met (with the right source, and destination where given),
//! and no `must_not` label is violated, `any-high` included, on any labelled capture.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

mod common;

use common::labels::{self, Expect};
use common::pcaps;
use std::collections::BTreeMap;

#[test]
fn alerts_meet_every_label_of_the_covered_techniques() {
    let all = labels::read(&pcaps().join("LABELS.tsv"));
    assert!(all.len() >= 150, "expected the shared LABELS.tsv, found {} rows", all.len());
    let covered: Vec<&str> = sensor_detect::Technique::ALL.iter().map(|t| t.id()).collect();
    let mut scores = BTreeMap::new();
    let mut failures = Vec::new();
    for (capture, rows) in labels::by_capture(&all) {
        let alerts = labels::alerts_of(&labels::capture_path(&pcaps(), &capture));
        let outcome = labels::score(&rows, &alerts, &covered, &mut scores);
        for l in outcome.unmet {
            failures.push(format!("{capture}: no {} alert from {} to {} ({})", l.technique, l.src, l.dst, l.evidence));
        }
        for (l, bad) in outcome.violated {
            failures.push(format!("{capture}: must not raise {} (src {}): {bad:?}", l.technique, l.src));
        }
    }
    assert!(failures.is_empty(), "{} label failures:\n{}", failures.len(), failures.join("\n"));
    // The tunnel labels are the bulk of this ground truth: they must all have been scored.
    let tunnel = scores.get("T1071.004").copied().unwrap_or_default();
    assert!(tunnel.met >= 14, "tunnel labels met: {tunnel:?}");
    let must_not = all.iter().filter(|l| l.expect == Expect::MustNot).count();
    assert!(must_not >= 90, "must_not labels checked: {must_not}");
}

#[test]
fn technique_ids_match_parents_but_not_siblings() {
    assert!(labels::technique_matches("T1110", "T1110.001"));
    assert!(labels::technique_matches("T1071.004", "T1071"));
    assert!(labels::technique_matches("T1568.002", "T1568.002"));
    assert!(!labels::technique_matches("T1568.001", "T1568.002"));
    assert!(!labels::technique_matches("T1071", "T1072"));
}
