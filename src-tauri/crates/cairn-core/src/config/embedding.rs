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
    /// Texts per inference batch, at most.
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
            model_id: "all-MiniLM-L6-v2-int8".into(),
            model: PathBuf::new(),
            tokenizer: PathBuf::new(),
            onnxruntime: PathBuf::new(),
            dim: 384,
            pooling: Pooling::Mean,
            normalize: true,
            max_tokens: 256,
            batch_size: 32,
            batch_tokens: 2048,
            threads: 0,
            query_prefix: String::new(),
            passage_prefix: String::new(),
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
