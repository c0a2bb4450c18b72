//! `make dga-model`: trains the DGA model shipped in `sensor/detect/data/dga-model.bin` and
//! measures it on a labelled evaluation set.
//!
//! ```text
//! dga --words /usr/share/dict/words --top-sites top-sites.json --captures ../shared/data/pcaps --out MODEL
//! ```
//!
//! - Benign training labels: the English word list (Debian's `wamerican`), pairs of its short
//!   words run together (names like `usatoday` or `thehill` cross word boundaries), and the
//!   odd-ranked half of the top-sites list (npm package `top-sites` 1.1.222: the Moz top 500
//!   domains), weighted [`SITE_WEIGHT`] times.
//! - Threshold: the score below which [`FALSE_POSITIVE_TARGET`] of the validation top sites
//!   (ranks divisible by 4) fall.
//! - Evaluation: benign = the other even-ranked top sites and every registered domain in the
//!   shared captures' DNS baselines (Zeek `dns.log`, tshark), tunnel captures excluded, none of
//!   them in training; generated = six DGA families ([`families`]), about 1,000 names each.
//!
//! Everything is deterministic: the same inputs give the same model file.

#![allow(clippy::unwrap_used, clippy::expect_used)] // an offline tool: a failure should panic

mod families;

use sensor_detect::dga::Model;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Smoothing: unseen trigrams get this many pseudo-counts.
const SMOOTHING: f64 = 0.1;
/// Labels shorter than this are never judged (too little to tell).
const MIN_LEN: usize = 6;
/// Share of validation top sites allowed below the threshold.
const FALSE_POSITIVE_TARGET: f64 = 0.05;
/// Each training top-site label counts this many times (there are 250 of them beside 64,000
/// words, and they are what domain names look like).
const SITE_WEIGHT: usize = 20;
/// Words of at most this length are paired into compounds.
const COMPOUND_WORD_MAX: usize = 7;

/// The registered label of a name: `example` of `www.example.co.uk`.
fn registered_label(name: &str) -> Option<String> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if name.ends_with(".arpa") || name.ends_with(".local") {
        return None;
    }
    let registered = psl::domain_str(&name)?;
    Some(registered.split('.').next()?.to_owned())
}

fn arg(name: &str) -> PathBuf {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == name).unwrap_or_else(|| panic!("missing {name}"));
    PathBuf::from(&args[at + 1])
}

/// Top-sites labels split by rank: (training: odd, validation: divisible by 4, test: the rest).
fn top_sites(path: &Path) -> [Vec<String>; 3] {
    let sites: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut split: [Vec<String>; 3] = Default::default();
    for s in sites {
        let (Some(rank), Some(root)) = (s["rank"].as_u64(), s["rootDomain"].as_str()) else { continue };
        if let Some(label) = registered_label(root) {
            split[if rank % 2 == 1 {
                0
            } else if rank % 4 == 0 {
                1
            } else {
                2
            }]
            .push(label);
        }
    }
    split
}

/// Short words run together in pairs, deterministically (word `i` with word `7919 i` modulo
/// their number).
fn compounds(words: &[String]) -> Vec<String> {
    let short: Vec<&String> = words.iter().filter(|w| w.len() <= COMPOUND_WORD_MAX).collect();
    (0..short.len()).map(|i| format!("{}{}", short[i], short[(i * 7919) % short.len()])).collect()
}

/// Registered labels of every DNS name in the captures' Zeek and tshark baselines, tunnels
/// excluded.
fn capture_labels(pcaps: &Path) -> BTreeSet<String> {
    let mut labels = BTreeSet::new();
    let mut stack = vec![pcaps.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = entry.path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                if name != "dns-tunnel" {
                    stack.push(p);
                }
                continue;
            }
            let column = if name.ends_with(".zeek-dns.log") {
                "query"
            } else if name.ends_with(".tshark-dns.tsv") {
                "qname"
            } else {
                continue;
            };
            let text = std::fs::read_to_string(&p).unwrap();
            let mut at = None;
            for line in text.lines() {
                let fields: Vec<&str> = line.trim_start_matches("#fields\t").split('\t').collect();
                if at.is_none() {
                    at = fields.iter().position(|f| *f == column);
                    continue;
                }
                if let Some(label) = at.and_then(|i| fields.get(i)).and_then(|q| registered_label(q)) {
                    labels.insert(label);
                }
            }
        }
    }
    labels
}

/// Share of `labels` the model calls generated.
fn flagged(model: &Model, labels: &[String]) -> (usize, usize) {
    (labels.iter().filter(|l| model.looks_generated(l)).count(), labels.len())
}

fn main() {
    let words: Vec<String> = std::fs::read_to_string(arg("--words"))
        .unwrap()
        .lines()
        .filter(|w| w.len() >= 3 && w.bytes().all(|b| b.is_ascii_lowercase()))
        .map(str::to_owned)
        .collect();
    let [train_sites, validation_sites, test_sites] = top_sites(&arg("--top-sites"));
    let compounds = compounds(&words);
    let weighted_sites = train_sites.iter().flat_map(|s| std::iter::repeat_n(s, SITE_WEIGHT));
    let training: Vec<&str> = words.iter().chain(&compounds).chain(weighted_sites).map(String::as_str).collect();
    let model = Model::train(training.iter().copied(), SMOOTHING);
    let trained: BTreeSet<&str> = training.iter().copied().collect();
    let unseen = |labels: Vec<String>| -> Vec<String> {
        labels.into_iter().filter(|l| !trained.contains(l.as_str())).collect::<BTreeSet<_>>().into_iter().collect()
    };
    let validation_sites = unseen(validation_sites);
    let mut scores: Vec<f32> =
        validation_sites.iter().filter(|l| l.len() >= MIN_LEN).filter_map(|l| model.score(l)).collect();
    scores.sort_by(f32::total_cmp);
    let threshold = scores[(scores.len() as f64 * FALSE_POSITIVE_TARGET) as usize];
    let model = model.with_threshold(threshold, MIN_LEN);
    std::fs::write(arg("--out"), model.to_bytes()).unwrap();

    let captures = unseen(capture_labels(&arg("--captures")).into_iter().collect());
    let test_sites = unseen(test_sites);
    println!(
        "trained on {} words, {} compounds and {} top-site labels (x{SITE_WEIGHT}); threshold {threshold:.3} bits per \
         character in the worst window (labels of {MIN_LEN}+), set on {} validation top sites",
        words.len(),
        compounds.len(),
        train_sites.len(),
        validation_sites.len()
    );
    println!("\n| set | names | called generated | rate |\n|---|---|---|---|");
    let row = |name: &str, (hit, n): (usize, usize)| {
        println!("| {name} | {n} | {hit} | {:.3} |", hit as f64 / n.max(1) as f64);
    };
    let benign_sites = flagged(&model, &test_sites);
    let benign_captures = flagged(&model, &captures);
    row("benign: top sites (held out)", benign_sites);
    row("benign: shared captures", benign_captures);
    let (mut tp, mut dga) = (0, 0);
    for (family, names) in families::all_families() {
        let labels: Vec<String> =
            names.iter().filter_map(|n| registered_label(n)).collect::<BTreeSet<_>>().into_iter().collect();
        let (hit, n) = flagged(&model, &labels);
        row(&format!("DGA: {family}"), (hit, n));
        tp += hit;
        dga += n;
    }
    let fp = benign_sites.0 + benign_captures.0;
    let benign = benign_sites.1 + benign_captures.1;
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let recall = tp as f64 / dga.max(1) as f64;
    println!(
        "\nper name: recall {recall:.3} ({tp} of {dga} generated), false positives {fp} of {benign} benign \
         ({:.3}), precision {precision:.3} on this set (as many generated as benign names would give {:.3})",
        fp as f64 / benign.max(1) as f64,
        recall / (recall + fp as f64 / benign.max(1) as f64),
    );
}
