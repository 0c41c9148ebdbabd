//! [`HashEmbedder`]: a deterministic, model-free [`Embedder`] for tests and benchmarks.
//!
//! Each lower-cased alphanumeric word of a text is hashed (FNV-1a, the same on every platform
//! and run) into one of `dim` buckets; the bag of words is L2-normalised. Texts that share words
//! therefore have a positive cosine similarity, and identical word bags a similarity of 1. It
//! captures no meaning, needs no model files and is fast: use it where the engine's plumbing is
//! under test, not retrieval quality.

use super::{l2_normalize, Embedder};
use crate::error::Result;

/// A hashed bag-of-words embedder (see the module documentation). Meant for tests and
/// benchmarks only: it ignores word order and meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashEmbedder {
    model_id: String,
    dim: usize,
}

impl HashEmbedder {
    /// An embedder recording `model_id` with its vectors, which have `dim` dimensions.
    ///
    /// # Panics
    /// If `dim` is 0.
    pub fn new(model_id: impl Into<String>, dim: usize) -> HashEmbedder {
        assert!(dim > 0, "HashEmbedder needs at least one dimension");
        HashEmbedder {
            model_id: model_id.into(),
            dim,
        }
    }

    /// The vector of one text. A text without words gets the vector of the empty word, so no
    /// vector is ever zero (cosine search needs a length).
    fn vector(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0f32; self.dim];
        let mut words = 0;
        for word in text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            v[self.bucket(&word.to_lowercase())] += 1.0;
            words += 1;
        }
        if words == 0 {
            v[self.bucket("")] = 1.0;
        }
        l2_normalize(&mut v);
        v
    }

    fn bucket(&self, word: &str) -> usize {
        (fnv1a(word.as_bytes()) % self.dim as u64) as usize
    }
}

/// The 64-bit FNV-1a hash: stable across platforms, runs and Rust versions.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Embedder for HashEmbedder {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn embed_passages(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        Ok(texts.iter().map(|t| self.vector(t)).collect())
    }

    fn embed_query(&self, text: &str) -> Result<Vec<f32>> {
        Ok(self.vector(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn vectors_are_deterministic_unit_length_and_of_the_given_size() {
        let e = HashEmbedder::new("hash-test", 64);
        assert_eq!(e.model_id(), "hash-test");
        assert_eq!(e.dim(), 64);
        let passages = e.embed_passages(&["The cat sat.", "", "!!"]).unwrap();
        assert_eq!(passages.len(), 3);
        for v in &passages {
            assert_eq!(v.len(), 64);
            let norm = cosine(v, v).sqrt();
            assert!((norm - 1.0).abs() < 1e-5, "{norm}");
        }
        let again = HashEmbedder::new("other", 64)
            .embed_query("the CAT sat")
            .unwrap();
        assert_eq!(
            again, passages[0],
            "same words, same vector, whatever the case"
        );
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn texts_sharing_words_are_more_similar() {
        let e = HashEmbedder::new("hash-test", 256);
        let q = e.embed_query("battery charging time").unwrap();
        let v = e
            .embed_passages(&[
                "The battery needs two hours of charging.",
                "Paris is the capital of France.",
            ])
            .unwrap();
        let (related, unrelated) = (cosine(&q, &v[0]), cosine(&q, &v[1]));
        assert!(related > 0.3, "{related}");
        assert!(related > unrelated, "{related} vs {unrelated}");
    }
}
