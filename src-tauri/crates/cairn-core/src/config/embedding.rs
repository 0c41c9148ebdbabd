//! `[embedding]` (the ONNX model and how it is run) and `[chunking]` (how documents are cut
//! into the passages it embeds).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// How vectors are pooled from the model's token outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// Mean over tokens weighted by the attention mask (sentence-transformers MiniLM, e5).
    Mean,
    /// The first token's vector (bge).
    Cls,
}

/// Model id of the default embedding model (all-MiniLM-L6-v2 with int8 matrix products).
pub const DEFAULT_MODEL_ID: &str = "all-MiniLM-L6-v2-int8-dynamic";
/// Model id of the default before it ran int8 products (same weights, float products). A library
/// embedded with it keeps it (see [`EmbeddingConfig::follow_library`]) until `cairn reindex
/// --embeddings` moves it to the configured model.
pub const LEGACY_MODEL_ID: &str = "all-MiniLM-L6-v2-int8";
/// Inference batch of the legacy model while `batch_size` is left at its default.
const LEGACY_BATCH_SIZE: usize = 32;

/// The ONNX embedding model. Empty paths mean "the default model from models/dist".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddingConfig {
    /// Stable identifier recorded with every vector; vectors of two ids never mix in one index.
    pub model_id: String,
    /// Path to the ONNX model file (empty: default model).
    pub model: PathBuf,
    /// Path to the tokenizer.json (empty: default tokenizer).
    pub tokenizer: PathBuf,
    /// Path to libonnxruntime (empty: `ORT_DYLIB_PATH`, then the bundled library).
    pub onnxruntime: PathBuf,
    /// Output dimension of the model.
    pub dim: usize,
    pub pooling: Pooling,
    /// L2-normalise vectors (required for cosine search).
    pub normalize: bool,
    /// Maximum tokens per input, including special tokens; longer input is truncated.
    pub max_tokens: usize,
    /// Texts per inference batch, at most. The default, 1, embeds each text alone: the default
    /// model quantises its activations per batch, so a text's vector would otherwise depend on
    /// the texts it shared a batch with (and padding would be computed for nothing); on a CPU
    /// one text at a time is as fast. Float models gain from larger batches (e.g. 32).
    pub batch_size: usize,
    /// Padded tokens per inference batch, at most (texts × the longest one's tokens): long
    /// passages go in smaller batches. ONNX Runtime's memory grows with the largest batch it
    /// runs while throughput on a CPU is flat from a few texts per batch; 0: no limit.
    pub batch_tokens: usize,
    /// Intra-op threads for ONNX Runtime (0: all cores).
    pub threads: usize,
    /// Text prepended to queries (e.g. "query: " for e5, bge's instruction); empty for MiniLM.
    pub query_prefix: String,
    /// Text prepended to passages (e.g. "passage: " for e5).
    pub passage_prefix: String,
}

impl Default for EmbeddingConfig {
    fn default() -> Self {
        EmbeddingConfig {
            model_id: DEFAULT_MODEL_ID.into(),
            model: PathBuf::new(),
            tokenizer: PathBuf::new(),
            onnxruntime: PathBuf::new(),
            dim: 384,
            pooling: Pooling::Mean,
            normalize: true,
            max_tokens: 256,
            batch_size: 1,
            batch_tokens: 2048,
            threads: 0,
            query_prefix: String::new(),
            passage_prefix: String::new(),
        }
    }
}

impl EmbeddingConfig {
    /// A library embedded with the legacy default model keeps that model while the config
    /// names the default one and no model file: upgrading Cairn must not force re-embedding a
    /// whole library, nor mix two models' vectors in one index. Any explicit choice wins.
    pub fn follow_library(&mut self, stored_model: Option<&str>) {
        if stored_model == Some(LEGACY_MODEL_ID)
            && self.model_id == DEFAULT_MODEL_ID
            && self.model.as_os_str().is_empty()
        {
            self.model_id = LEGACY_MODEL_ID.into();
            if self.batch_size == 1 {
                // Its float products are faster in batches (sorted by length, see batch_tokens).
                self.batch_size = LEGACY_BATCH_SIZE;
            }
        }
    }
}

/// How documents are cut into chunks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChunkingConfig {
    /// Upper bound of a chunk in model tokens (never above the model's `max_tokens`).
    pub max_tokens: usize,
    /// Chunks smaller than this many tokens are merged with a neighbour in the same section.
    pub min_tokens: usize,
    /// Tokens of overlap between consecutive chunks of one section.
    pub overlap_tokens: usize,
}

impl Default for ChunkingConfig {
    fn default() -> Self {
        ChunkingConfig {
            max_tokens: 200,
            min_tokens: 32,
            overlap_tokens: 0,
        }
    }
}
