//! The reranker stage between fusion and the answer: an ONNX cross-encoder (a question and a
//! passage in, one relevance logit out, e.g. ms-marco-MiniLM-L-6-v2 or bge-reranker exported
//! to ONNX) rescoring the fused top `rerank.top_k` passages. Off unless `rerank.model` is set.
//!
//! It runs on the ONNX Runtime the embedder loads (`embed::onnx`: the same environment, input
//! discovery and tensors). fastembed's user-defined rerank models were not used: fastembed
//! brings its own `ort` version with download features and the Hugging Face hub client, a
//! second copy of what Cairn already has (ONNX Runtime loaded dynamically from the pinned
//! file), for about forty lines of tokenising and one session run.
//!
//! A loaded model is kept for the process, shared by every engine that asks for it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ort::session::Session;
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::config::{EmbeddingConfig, RerankConfig};
use crate::embed::onnx::{input_values, model_inputs, ort_environment, trim_heap, ModelInput};
use crate::error::{Error, Result};

/// Pairs scored per model run.
const BATCH: usize = 8;

/// An ONNX cross-encoder.
pub struct CrossEncoder {
    model: PathBuf,
    tokenizer: Tokenizer,
    inputs: Vec<ModelInput>,
    output: String,
    session: Mutex<Session>,
}

impl std::fmt::Debug for CrossEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrossEncoder")
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

type Cache = Mutex<Vec<((PathBuf, PathBuf, usize), Arc<CrossEncoder>)>>;
static LOADED: Cache = Mutex::new(Vec::new());

impl CrossEncoder {
    /// The configured cross-encoder, loaded once per process (None when `rerank.model` is
    /// empty). ONNX Runtime comes from the embedding settings.
    pub fn shared(cfg: &RerankConfig, embedding: &EmbeddingConfig) -> Result<Option<Arc<Self>>> {
        if !cfg.enabled() {
            return Ok(None);
        }
        let tokenizer = cfg.tokenizer_path();
        let key = (cfg.model.clone(), tokenizer.clone(), cfg.max_tokens);
        let mut cache = LOADED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, found)) = cache.iter().find(|(k, _)| *k == key) {
            return Ok(Some(found.clone()));
        }
        let library = crate::embed::resolve(embedding)?.onnxruntime;
        let loaded = Arc::new(CrossEncoder::load(
            &cfg.model,
            &tokenizer,
            &library,
            cfg.max_tokens,
        )?);
        cache.push((key, loaded.clone()));
        Ok(Some(loaded))
    }

    /// Loads `model` (ONNX, BERT-style inputs, output `[batch, 1]` or `[batch]` logits) with
    /// `tokenizer` (tokenizer.json) on the ONNX Runtime at `library`; pairs are cut to
    /// `max_tokens`.
    pub fn load(
        model: &Path,
        tokenizer: &Path,
        library: &Path,
        max_tokens: usize,
    ) -> Result<CrossEncoder> {
        for (path, key) in [(model, "model"), (tokenizer, "tokenizer")] {
            if !path.is_file() {
                return Err(Error::Model(format!(
                    "reranker {key} file {} does not exist; set rerank.{key}, or leave \
                     rerank.model empty to answer without reranking",
                    path.display()
                )));
            }
        }
        let mut tok = Tokenizer::from_file(tokenizer).map_err(|e| {
            Error::Model(format!(
                "cannot load the reranker tokenizer {}: {e}",
                tokenizer.display()
            ))
        })?;
        tok.with_padding(None);
        tok.with_truncation(Some(TruncationParams {
            max_length: max_tokens,
            strategy: TruncationStrategy::LongestFirst,
            stride: 0,
            direction: TruncationDirection::Right,
        }))
        .map_err(|e| Error::Model(format!("cannot set tokenizer truncation: {e}")))?;
        let env = ort_environment(&std::path::absolute(library).unwrap_or(library.to_owned()))?;
        let err = |what: &str, e: &dyn std::fmt::Display| {
            Error::Model(format!(
                "{what} {}: {e}; check rerank.model",
                model.display()
            ))
        };
        let session = Session::builder(&env)
            .map_err(|e| err("cannot prepare a session for", &e))?
            .commit_from_file(model)
            .map_err(|e| err("cannot load the reranker", &e))?;
        trim_heap();
        let inputs = model_inputs(&session, model)?;
        let output = session
            .outputs()
            .first()
            .map(|o| o.name().to_owned())
            .ok_or_else(|| {
                Error::Model(format!("ONNX model {} has no outputs", model.display()))
            })?;
        Ok(CrossEncoder {
            model: model.to_owned(),
            tokenizer: tok,
            inputs,
            output,
            session: Mutex::new(session),
        })
    }

    /// The relevance logit of each passage for `query`, in passage order.
    pub fn score(&self, query: &str, passages: &[&str]) -> Result<Vec<f32>> {
        let mut out = Vec::with_capacity(passages.len());
        for batch in passages.chunks(BATCH) {
            let pairs: Vec<(String, String)> = batch
                .iter()
                .map(|p| (query.to_owned(), (*p).to_owned()))
                .collect();
            let encodings = self
                .tokenizer
                .encode_batch_fast(pairs, true)
                .map_err(|e| Error::Model(format!("cannot tokenize a reranker pair: {e}")))?;
            let refs: Vec<_> = encodings.iter().collect();
            let (_, _, values) = input_values(&self.inputs, &refs)?;
            let mut session = self.session.lock().unwrap_or_else(|e| e.into_inner());
            let outputs = session.run(values).map_err(|e| {
                Error::Model(format!(
                    "reranking failed with {}: {e}",
                    self.model.display()
                ))
            })?;
            let (_, data) = outputs[self.output.as_str()]
                .try_extract_tensor::<f32>()
                .map_err(|e| {
                    Error::Model(format!(
                        "output `{}` of {} is not a float tensor: {e}",
                        self.output,
                        self.model.display()
                    ))
                })?;
            // [batch, 1] or [batch]: one logit per pair; [batch, 2] (a two-class head): the
            // "relevant" class.
            let per = data.len() / batch.len().max(1);
            if per == 0 || data.len() % batch.len() != 0 {
                return Err(Error::Model(format!(
                    "the reranker {} gave {} values for {} pairs",
                    self.model.display(),
                    data.len(),
                    batch.len()
                )));
            }
            out.extend(data.chunks_exact(per).map(|row| row[per - 1]));
        }
        Ok(out)
    }
}

/// Reorders the first `top_k` of `items` by `scores` (best first; ties keep their fused
/// order); the rest stay below them in their order. `scores[i]` belongs to `items[i]`.
pub fn reorder<T>(items: &mut Vec<T>, scores: &[f32]) {
    let k = scores.len().min(items.len());
    let mut head: Vec<(usize, T)> = items.drain(..k).enumerate().collect();
    head.sort_by(|(a, _), (b, _)| scores[*b].total_cmp(&scores[*a]).then(a.cmp(b)));
    let tail = std::mem::take(items);
    items.extend(head.into_iter().map(|(_, t)| t));
    items.extend(tail);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reorder_sorts_the_head_and_keeps_the_tail() {
        let mut v = vec!["a", "b", "c", "d"];
        reorder(&mut v, &[0.1, 0.9, 0.1]);
        assert_eq!(v, vec!["b", "a", "c", "d"]);
        let mut w = vec!["x"];
        reorder(&mut w, &[1.0, 2.0]);
        assert_eq!(w, vec!["x"]);
    }
}
