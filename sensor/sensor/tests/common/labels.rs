//! The shared captures' ground truth (`../shared/data/pcaps/LABELS.tsv`) and how alerts are
//! scored against it. Used by the `labels` test (which fails on a violated label) and by
//! `make eval` (which prints precision and recall per technique).
//!
//! LABELS.tsv rows: capture, expect (`must`, `must_not`, `log`), technique, src, dst, evidence.
//! Technique ids match when equal or when one is the parent of the other (T1110 ~ T1110.001);
//! `any-high` forbids any alert of severity high or critical.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One label row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub capture: String,
    pub expect: Expect,
    pub technique: String,
    pub src: String,
    pub dst: String,
    pub evidence: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Must,
    MustNot,
    Log,
}

/// Reads LABELS.tsv.
pub fn read(path: &Path) -> Vec<Label> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut rows = text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty());
    let _header = rows.next();
    rows.map(|line| {
        let f: Vec<&str> = line.split('\t').collect();
        assert!(f.len() >= 5, "LABELS.tsv: short row {line:?}");
        let expect = match f[1] {
            "must" => Expect::Must,
            "must_not" => Expect::MustNot,
            "log" => Expect::Log,
            other => panic!("LABELS.tsv: unknown expect {other:?}"),
        };
        Label {
            capture: f[0].to_owned(),
            expect,
            technique: f[2].to_owned(),
            src: f[3].to_owned(),
            dst: f[4].to_owned(),
            evidence: f.get(5).copied().unwrap_or("").to_owned(),
        }
    })
    .collect()
}

/// Whether two ATT&CK ids match: equal, or one the parent of the other.
pub fn technique_matches(a: &str, b: &str) -> bool {
    let parent = |x: &str| x.split('.').next().unwrap_or(x).to_owned();
    a == b || (a.contains('.') != b.contains('.') && parent(a) == parent(b))
}

/// The ATT&CK ids of an alert (`alerts.jsonl` object).
pub fn techniques(alert: &Value) -> Vec<&str> {
    alert["techniques"].as_array().map(|t| t.iter().filter_map(|t| t["id"].as_str()).collect()).unwrap_or_default()
}

fn host_matches(label: &str, value: Option<&str>) -> bool {
    label == "*" || value == Some(label)
}

/// Whether `alert` satisfies a `must` label (technique, source, and destination unless `*`).
pub fn satisfies(label: &Label, alert: &Value) -> bool {
    techniques(alert).iter().any(|t| technique_matches(t, &label.technique))
        && host_matches(&label.src, alert["src"]["ip"].as_str())
        && host_matches(&label.dst, alert["dst"]["ip"].as_str())
}

/// Whether `alert` violates a `must_not` label.
pub fn violates(label: &Label, alert: &Value) -> bool {
    if label.technique == "any-high" {
        return matches!(alert["severity"].as_str(), Some("high" | "critical"));
    }
    techniques(alert).iter().any(|t| technique_matches(t, &label.technique))
        && host_matches(&label.src, alert["src"]["ip"].as_str())
        && host_matches(&label.dst, alert["dst"]["ip"].as_str())
}

/// Labels of one capture, by capture path.
pub fn by_capture(labels: &[Label]) -> BTreeMap<String, Vec<Label>> {
    let mut map: BTreeMap<String, Vec<Label>> = BTreeMap::new();
    for l in labels {
        map.entry(l.capture.clone()).or_default().push(l.clone());
    }
    map
}

/// Replays `capture` with the default configuration and returns its alerts.
pub fn alerts_of(capture: &Path) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let outputs = sensor::replay::Outputs { store: None, jsonl: Some(dir.path().to_owned()), ..Default::default() };
    sensor::replay::replay(&[capture.to_owned()], &sensor::config::Config::default(), &outputs, 7)
        .unwrap_or_else(|e| panic!("replay of {} failed: {e:#}", capture.display()));
    let text = std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Per technique: `must` labels met and unmet, alerts that satisfy a `must` label of their
/// capture, and alerts no label confirms (not necessarily wrong: the labels list what a capture
/// must and must not raise, not everything it may).
#[derive(Debug, Default, Clone, Copy)]
pub struct Score {
    pub met: u32,
    pub unmet: u32,
    pub alerts_right: u32,
    pub alerts_unlabelled: u32,
}

/// What one capture's alerts did against its labels.
#[derive(Debug, Default)]
pub struct Outcome {
    /// `must` labels of covered techniques with no satisfying alert.
    pub unmet: Vec<Label>,
    /// `must_not` labels with the alerts that violate them (alert titles).
    pub violated: Vec<(Label, Vec<String>)>,
}

/// Scores one capture's `alerts` against its `labels`, for the techniques in `covered`, adding to
/// `scores` (by technique id).
pub fn score(labels: &[Label], alerts: &[Value], covered: &[&str], scores: &mut BTreeMap<String, Score>) -> Outcome {
    let mut outcome = Outcome::default();
    for label in labels {
        match label.expect {
            Expect::Must if covered.iter().any(|c| technique_matches(c, &label.technique)) => {
                let s = scores.entry(label.technique.clone()).or_default();
                if alerts.iter().any(|a| satisfies(label, a)) {
                    s.met += 1;
                } else {
                    s.unmet += 1;
                    outcome.unmet.push(label.clone());
                }
            }
            Expect::MustNot => {
                let bad: Vec<String> = alerts
                    .iter()
                    .filter(|a| violates(label, a))
                    .map(|a| format!("{} [{}]", a["title"].as_str().unwrap_or(""), a["severity"]))
                    .collect();
                if !bad.is_empty() {
                    outcome.violated.push((label.clone(), bad));
                }
            }
            _ => {}
        }
    }
    for alert in alerts {
        for t in techniques(alert) {
            let right = labels
                .iter()
                .any(|l| l.expect == Expect::Must && technique_matches(t, &l.technique) && satisfies(l, alert));
            let s = scores.entry(t.to_owned()).or_default();
            if right {
                s.alerts_right += 1;
            } else {
                s.alerts_unlabelled += 1;
            }
        }
    }
    outcome
}

/// The capture a label names, under the shared captures folder.
pub fn capture_path(pcaps: &Path, label_capture: &str) -> PathBuf {
    pcaps.join(label_capture)
}
