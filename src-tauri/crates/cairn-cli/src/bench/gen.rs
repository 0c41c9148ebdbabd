//! What the benchmarks generate: a deterministic pseudo-random vocabulary and notes, a
//! temporary directory that removes itself, and percentiles.

use std::path::PathBuf;

/// A small deterministic generator (xorshift64*), so the benchmark needs no dependency.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Pronounceable pseudo-words, so every file has varied vocabulary.
pub(crate) fn vocabulary(rng: &mut Rng, n: usize) -> Vec<String> {
    const ONSETS: [&str; 16] = [
        "b", "c", "d", "f", "g", "l", "m", "n", "p", "r", "s", "t", "v", "br", "st", "tr",
    ];
    const VOWELS: [&str; 6] = ["a", "e", "i", "o", "u", "ou"];
    (0..n)
        .map(|_| {
            let syllables = 2 + rng.below(2);
            (0..syllables)
                .map(|_| {
                    format!(
                        "{}{}",
                        ONSETS[rng.below(ONSETS.len())],
                        VOWELS[rng.below(VOWELS.len())]
                    )
                })
                .collect::<String>()
        })
        .collect()
}

pub(crate) fn paragraph(
    rng: &mut Rng,
    vocab: &[String],
    words: usize,
    extra: Option<&str>,
) -> String {
    let mut s = String::new();
    for i in 0..words {
        if i > 0 {
            s.push(if i % 12 == 0 { '\n' } else { ' ' });
        }
        s.push_str(&vocab[rng.below(vocab.len())]);
    }
    if let Some(e) = extra {
        s.push(' ');
        s.push_str(e);
    }
    s.push('\n');
    s
}

/// Removes the benchmark's temporary directory, even on error.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub(crate) fn stats(values: &[f64]) -> serde_json::Value {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    serde_json::json!({
        "p50": percentile(&v, 50.0),
        "p95": percentile(&v, 95.0),
        "p99": percentile(&v, 99.0),
        "max": v.last().copied().unwrap_or(0.0),
    })
}
