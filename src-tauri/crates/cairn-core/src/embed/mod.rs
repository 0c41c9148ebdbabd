//! Embed: text in, L2-normalised vectors out, with a local ONNX model run by ONNX Runtime.
//!
//! The default model is all-MiniLM-L6-v2 (int8, 384 dimensions, mean pooling), installed with
//! ONNX Runtime into `models/dist/` by `bash models/fetch.sh` (see models/README.md). ONNX
//! Runtime is loaded dynamically from a file path, so the binary links nothing at build time.
//!
//! This module holds the [`Embedder`] trait (the interface the rest of the engine uses) and
//! the pooling and normalisation of token vectors. The rest is in submodules, re-exported
//! here:
//! - [`locate`]: finding the pinned model files ([`resolve`], [`ResolvedModel`]; the default
//!   folders themselves are in [`crate::paths`]);
//! - [`tokens`]: [`TokenCounter`], which measures text in the model's tokens so that every
//!   chunk fits the model window;
//! - [`onnx`]: [`OnnxEmbedder`], the ONNX Runtime implementation of [`Embedder`];
//! - [`hash`]: [`HashEmbedder`], a deterministic model-free embedder for tests and benchmarks.
//!
//! Layering: `embed` depends on `config` and `paths`; neither depends on `embed`.

pub mod hash;
pub mod locate;
pub mod onnx;
pub mod tokens;

pub use hash::HashEmbedder;
pub use locate::{resolve, ResolvedModel};
pub use onnx::{disable_ort_telemetry, OnnxEmbedder};
pub use tokens::TokenCounter;
// Default locations, kept at their historical paths.
pub use crate::paths::{
    default_models_dir, DEFAULT_MODEL_DIR, MODELS_DIR_ENV, ORT_DYLIB_ENV, ORT_LIBRARY_FILE,
};

use crate::config::Pooling;
use crate::error::Result;

/// Turns text into vectors. Implementations are shared between threads.
pub trait Embedder: Send + Sync {
    /// Stable identifier of the model, stored with every vector.
    fn model_id(&self) -> &str;
    /// Length of every vector.
    fn dim(&self) -> usize;
    /// Embeds documents' chunks (with the passage prefix), in input order.
    fn embed_passages(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;
    /// Embeds a search query (with the query prefix).
    fn embed_query(&self, text: &str) -> Result<Vec<f32>>;
    /// Gives back working memory a large pass of `embed_passages` grew (called when an
    /// embedding pass ends). Never fails: at worst the memory stays in use.
    fn release_memory(&self) {}
}

/// Pools one sequence's token vectors (`tokens`: seq × hidden, row-major).
pub(super) fn pool(pooling: Pooling, tokens: &[f32], mask: &[i64], hidden: usize) -> Vec<f32> {
    match pooling {
        Pooling::Cls => tokens[..hidden].to_vec(),
        Pooling::Mean => {
            let mut sum = vec![0f32; hidden];
            let mut n = 0f32;
            for (token, &m) in tokens.chunks_exact(hidden).zip(mask) {
                if m != 0 {
                    n += 1.0;
                    for (s, &x) in sum.iter_mut().zip(token) {
                        *s += x;
                    }
                }
            }
            let n = n.max(1e-9);
            sum.iter_mut().for_each(|s| *s /= n);
            sum
        }
    }
}

/// Scales `v` to unit length (a zero vector stays zero).
pub(super) fn l2_normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 1e-12 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_pooling_ignores_padding() {
        let tokens = [1.0, 2.0, 3.0, 4.0, 100.0, 100.0];
        let v = pool(Pooling::Mean, &tokens, &[1, 1, 0], 2);
        assert_eq!(v, vec![2.0, 3.0]);
        let v = pool(Pooling::Cls, &tokens, &[1, 1, 0], 2);
        assert_eq!(v, vec![1.0, 2.0]);
    }

    #[test]
    fn normalize_gives_unit_length() {
        let mut v = vec![3.0, 4.0];
        l2_normalize(&mut v);
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
        let mut zero = vec![0.0, 0.0];
        l2_normalize(&mut zero);
        assert_eq!(zero, vec![0.0, 0.0]);
    }
}
