//! `[rerank]`: the optional cross-encoder between fusion and the answer (`crate::rerank`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The reranker. Off while `model` is empty (the default: no cross-encoder ships with Cairn).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RerankConfig {
    /// The ONNX cross-encoder (query/passage pair in, relevance logit out); empty: off.
    pub model: PathBuf,
    /// Its tokenizer.json (empty: `tokenizer.json` beside the model).
    pub tokenizer: PathBuf,
    /// Passages of the fused ranking rescored; the rest keep their place below them.
    pub top_k: usize,
    /// Tokens of one question/passage pair (longer passages are cut).
    pub max_tokens: usize,
}

impl Default for RerankConfig {
    fn default() -> Self {
        RerankConfig {
            model: PathBuf::new(),
            tokenizer: PathBuf::new(),
            top_k: 20,
            max_tokens: 512,
        }
    }
}

impl RerankConfig {
    /// True when a model is configured.
    pub fn enabled(&self) -> bool {
        !self.model.as_os_str().is_empty()
    }

    /// The tokenizer file in effect.
    pub fn tokenizer_path(&self) -> PathBuf {
        if self.tokenizer.as_os_str().is_empty() {
            self.model
                .parent()
                .map(|d| d.join("tokenizer.json"))
                .unwrap_or_else(|| PathBuf::from("tokenizer.json"))
        } else {
            self.tokenizer.clone()
        }
    }

    /// What is wrong with these settings, if anything.
    pub fn check(&self) -> Result<(), String> {
        if self.top_k == 0 || self.top_k > 200 {
            return Err(format!(
                "rerank.top_k must be between 1 and 200, not {}",
                self.top_k
            ));
        }
        if self.max_tokens < 16 {
            return Err("rerank.max_tokens must be at least 16".into());
        }
        Ok(())
    }
}
