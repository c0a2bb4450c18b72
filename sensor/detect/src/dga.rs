//! A character-level model of domain names, for telling generated names (DGA) from names people
//! choose.
//!
//! A trigram model over the registered label (`example` of `www.example.co.uk`): the log-
//! probability of each character given the two before it, with start and end marks; a label's
//! score is the lowest mean over [`WINDOW`] consecutive characters. Names made of words and
//! syllables score high; random letters, hex and consonant-heavy runs score low. It is trained offline (`make dga-model`: the
//! `sensor-detect` example `dga`, on an English word list and a public top-sites list) and
//! shipped as `data/dga-model.bin`; docs/alerts.md has the training data, the evaluation on six
//! DGA families and the precision and recall.
//!
//! ## File format (`DGA1`)
//! | bytes | field |
//! |---|---|
//! | 4 | magic `DGA1` |
//! | 4 | threshold: the score below which a label looks generated (f32, little-endian) |
//! | 4 | shortest label judged (u32, little-endian) |
//! | 2 × 39³ | log2-probabilities × [`SCALE`], i16 little-endian, indexed by (first, second, next) symbol |
//!
//! Symbols: `a`–`z`, `0`–`9`, `-`, and two marks: before the first character (start) and after
//! the last (end).

/// Symbols: 26 letters, 10 digits, hyphen, the start mark, the end mark.
pub const SYMBOLS: usize = 39;
const HYPHEN: usize = 36;
const START: usize = 37;
const END: usize = 38;
/// Log-probabilities are stored as fixed point with this many steps per bit.
pub const SCALE: f32 = 1024.0;
const MAGIC: &[u8; 4] = b"DGA1";
const HEADER: usize = 12;
/// Transitions per window of [`Model::window_score`].
pub const WINDOW: usize = 4;

/// The shipped model.
const SHIPPED: &[u8] = include_bytes!("../data/dga-model.bin");

/// A trained model.
#[derive(Clone)]
pub struct Model {
    table: Vec<i16>,
    threshold: f32,
    min_len: usize,
}

impl core::fmt::Debug for Model {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Model").field("threshold", &self.threshold).field("min_len", &self.min_len).finish()
    }
}

fn symbol(b: u8) -> Option<usize> {
    match b {
        b'a'..=b'z' => Some(usize::from(b - b'a')),
        b'A'..=b'Z' => Some(usize::from(b - b'A')),
        b'0'..=b'9' => Some(26 + usize::from(b - b'0')),
        b'-' => Some(HYPHEN),
        _ => None,
    }
}

fn index(a: usize, b: usize, c: usize) -> usize {
    (a * SYMBOLS + b) * SYMBOLS + c
}

/// The trigrams of `label` (with its marks), or `None` if it holds a character outside the
/// alphabet (an underscore, an escaped byte: not a name a DGA registers).
fn trigrams(label: &str) -> Option<impl Iterator<Item = usize> + '_> {
    let mut s = Vec::with_capacity(label.len() + 3);
    s.extend([START, START]);
    for b in label.bytes() {
        s.push(symbol(b)?);
    }
    s.push(END);
    Some((0..s.len() - 2).map(move |i| index(s[i], s[i + 1], s[i + 2])))
}

impl Model {
    /// The model shipped with the sensor.
    pub fn shipped() -> Model {
        // The shipped bytes are checked by a test; a damaged build falls back to a model that
        // judges nothing rather than failing the sensor.
        Model::from_bytes(SHIPPED).unwrap_or(Model { table: Vec::new(), threshold: f32::MIN, min_len: usize::MAX })
    }

    /// Reads a model file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Model, String> {
        let cells = SYMBOLS * SYMBOLS * SYMBOLS;
        if bytes.len() != HEADER + 2 * cells || &bytes[..4] != MAGIC {
            return Err(format!("not a DGA1 model of {} bytes", HEADER + 2 * cells));
        }
        let word = |at: usize| [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]];
        let threshold = f32::from_le_bytes(word(4));
        let min_len = u32::from_le_bytes(word(8)) as usize;
        let table = bytes[HEADER..].chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect();
        Ok(Model { table, threshold, min_len })
    }

    /// The model file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + 2 * self.table.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.threshold.to_le_bytes());
        out.extend_from_slice(&(self.min_len as u32).to_le_bytes());
        for v in &self.table {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }

    /// Trains on benign labels with add-`k` smoothing; the threshold and shortest judged length
    /// are set by [`Model::with_threshold`].
    pub fn train<'a>(labels: impl Iterator<Item = &'a str>, k: f64) -> Model {
        let mut counts = vec![0u32; SYMBOLS * SYMBOLS * SYMBOLS];
        for label in labels {
            for t in trigrams(label).into_iter().flatten() {
                counts[t] += 1;
            }
        }
        let mut table = vec![0i16; counts.len()];
        for context in 0..SYMBOLS * SYMBOLS {
            let row = &counts[context * SYMBOLS..(context + 1) * SYMBOLS];
            let total: f64 = row.iter().map(|&c| f64::from(c)).sum::<f64>() + k * SYMBOLS as f64;
            for (next, &c) in row.iter().enumerate() {
                let log2p = ((f64::from(c) + k) / total).log2();
                table[context * SYMBOLS + next] = (log2p * f64::from(SCALE)).round().clamp(-32768.0, 32767.0) as i16;
            }
        }
        Model { table, threshold: f32::MIN, min_len: usize::MAX }
    }

    /// This model judging labels of at least `min_len` characters, generated below `threshold`.
    pub fn with_threshold(self, threshold: f32, min_len: usize) -> Model {
        Model { threshold, min_len, ..self }
    }

    /// The threshold.
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// The score of `label`: the lowest mean log2-probability of any [`WINDOW`] consecutive
    /// transitions (the whole label when shorter). A window rather than the whole label, because
    /// a random run inside an otherwise ordinary name is generated too (Banjori changes the first
    /// four letters of a long phrase), and a mean over the whole name would dilute it. `None`
    /// for labels outside the alphabet.
    pub fn score(&self, label: &str) -> Option<f32> {
        if self.table.is_empty() {
            return None;
        }
        let logs: Vec<i64> = trigrams(label)?.map(|t| i64::from(self.table[t])).collect();
        let width = WINDOW.min(logs.len());
        logs.windows(width).map(|w| w.iter().sum::<i64>() as f32 / width as f32 / SCALE).reduce(f32::min)
    }

    /// Whether `label` (a registered label, without the public suffix) looks generated.
    pub fn looks_generated(&self, label: &str) -> bool {
        label.len() >= self.min_len && self.score(label).is_some_and(|s| s < self.threshold)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_model_reads_and_tells_words_from_random_letters() {
        let m = Model::from_bytes(SHIPPED).unwrap();
        assert!(m.threshold < 0.0 && m.min_len >= 4, "{m:?}");
        assert_eq!(Model::from_bytes(&m.to_bytes()).unwrap().table, m.table);
        for benign in ["wikipedia", "microsoft", "weatherforecast", "bankofamerica", "stackoverflow"] {
            assert!(!m.looks_generated(benign), "{benign}: {:?}", m.score(benign));
        }
        for generated in ["xjwqpzkrvbnh", "qzkxvjwpfh", "kqmzvxwjrtp"] {
            assert!(m.looks_generated(generated), "{generated}: {:?}", m.score(generated));
        }
        assert!(!m.looks_generated("under_score"), "outside the alphabet: not judged");
    }

    #[test]
    fn training_learns_what_it_saw() {
        let m = Model::train(["banana", "bandana", "cabana"].into_iter(), 0.01);
        assert!(m.score("banana").unwrap() > m.score("zzqxzz").unwrap());
        assert!(Model::from_bytes(b"DGA1").is_err());
    }
}
