//! Configuration: a TOML file in the data directory, every key optional, documented defaults.
//!
//! See docs/config.md for the file format. `Config::default()` is what Cairn runs with when no
//! file exists.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
// Default locations live in `paths`; kept here at their historical paths.
pub use crate::paths::{default_data_dir, DEFAULT_LOCAL_LLM};

mod embedding;
mod llm;
mod rerank;
pub use embedding::{ChunkingConfig, EmbeddingConfig, Pooling, DEFAULT_MODEL_ID, LEGACY_MODEL_ID};
pub use llm::{
    insecure_http_host, LlmConfig, LlmProvider, LocalLlmConfig, RemoteLlmConfig,
    DEFAULT_API_KEY_ENV,
};
pub use rerank::RerankConfig;

/// Name of the config file inside the data directory.
pub const CONFIG_FILE: &str = "config.toml";

/// All settings.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the library lives: empty for the data directory (the embedded store), or a
    /// PostgreSQL URL, `postgres://USER@HOST:PORT/DB[?sslmode=require]` (a team library,
    /// docs/team.md). The CLI's `--library` / `CAIRN_LIBRARY` override it. A password in it is
    /// refused here: it comes from `PGPASSWORD` or the OS keychain.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub library: String,
    pub embedding: EmbeddingConfig,
    pub chunking: ChunkingConfig,
    pub ingest: IngestConfig,
    pub search: SearchConfig,
    pub answer: AnswerConfig,
    pub llm: LlmConfig,
    pub rerank: RerankConfig,
}

/// Which files are read.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Files larger than this are skipped and reported.
    pub max_file_bytes: u64,
    /// Include hidden files and folders.
    pub include_hidden: bool,
    /// Follow symbolic links that stay inside the folder (loops are detected and reported;
    /// links leading out of the folder or into /proc, /sys, /dev are never followed).
    pub follow_symlinks: bool,
    /// Honour .gitignore / .ignore / .cairnignore files.
    pub respect_ignore_files: bool,
    /// Extra gitignore-style patterns to skip, e.g. `["*.log", "node_modules/"]`.
    pub exclude: Vec<String>,
    /// Cosine similarity above which two differing passages of different documents are
    /// reported as a possible conflict (1.0 disables the check).
    pub conflict_similarity: f32,
    /// Wall-clock budget for parsing one PDF, DOCX or HTML file (in a worker process); a file
    /// that takes longer is reported and not retried until it changes.
    pub parse_timeout_seconds: u64,
    /// Memory a parser worker may use for one file, in MiB.
    pub parse_memory_mb: u64,
}

impl IngestConfig {
    /// The parser budgets as [`crate::parse::isolate::Limits`].
    pub fn parse_limits(&self) -> crate::parse::isolate::Limits {
        crate::parse::isolate::Limits {
            timeout: std::time::Duration::from_secs(self.parse_timeout_seconds.max(1)),
            memory_bytes: self.parse_memory_mb.max(16) * 1024 * 1024,
        }
    }
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            max_file_bytes: 64 * 1024 * 1024,
            include_hidden: false,
            follow_symlinks: true,
            respect_ignore_files: true,
            exclude: Vec::new(),
            conflict_similarity: 0.92,
            parse_timeout_seconds: 60,
            parse_memory_mb: 1024,
        }
    }
}

/// Retrieval mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    Bm25,
    Dense,
    Hybrid,
}

impl SearchMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SearchMode::Bm25 => "bm25",
            SearchMode::Dense => "dense",
            SearchMode::Hybrid => "hybrid",
        }
    }
}

/// How BM25 and dense rankings are fused in hybrid mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fusion {
    /// Reciprocal rank fusion: sum of 1 / (k + rank).
    Rrf,
    /// Weighted sum of min-max normalised scores: alpha * dense + (1 - alpha) * bm25.
    Weighted,
}

/// Search defaults.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchConfig {
    pub mode: SearchMode,
    pub fusion: Fusion,
    /// The k of reciprocal rank fusion.
    pub rrf_k: f32,
    /// Weight of the dense score in weighted fusion (0..=1).
    pub alpha: f32,
    /// Candidates taken from each retriever before fusion.
    pub candidates: usize,
    /// Results returned.
    pub limit: usize,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            mode: SearchMode::Hybrid,
            fusion: Fusion::Weighted,
            rrf_k: 60.0,
            alpha: 0.5,
            candidates: 100,
            limit: 10,
        }
    }
}

/// Cited answers (`cairn ask`): how many sources, when to abstain, how citations are checked.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnswerConfig {
    /// Passages given to the model (and the extractive answerer) as numbered sources.
    pub sources: usize,
    /// Answer "I don't know" without calling the model when the question's evidence is below
    /// this level (0..1). The evidence is ½ · the question's best dense cosine placed between
    /// the collection's own calibrated anchors ("related passage" = 0, "its source" = 1) + ½ ·
    /// the share of its content words found in the best passages (see
    /// `cairn_core::answer::abstain`): both scale-free, so one threshold transfers across
    /// corpora and models. 0 never abstains.
    pub abstain_threshold: f32,
    /// Share (0..1) of a cited sentence's content words that must occur in the cited passage
    /// for the citation to count as supported.
    pub min_support: f32,
    /// Upper bound of generated tokens per answer.
    pub max_tokens: usize,
    /// Sampling temperature of the generator (0 = greedy).
    pub temperature: f32,
    /// Sentences quoted by an extractive answer.
    pub extractive_sentences: usize,
    /// Characters of each source passage shown to the model (longer passages are cut).
    pub max_source_chars: usize,
    /// A passage longer than `max_source_chars` shows the model its sentences nearest the
    /// question (in their order, gaps marked) instead of its first characters.
    pub relevant_excerpts: bool,
    /// Passages sampled to calibrate the abstention signal.
    pub calibration_samples: usize,
    /// `[answer.local]`: what an in-process model (a GGUF file, `llm.provider = "local"`) is
    /// given instead of `sources`, `max_source_chars`, `max_tokens` and `relevant_excerpts`.
    pub local: LocalAnswerConfig,
}

/// `[answer.local]`: the answer settings an in-process model uses instead of `[answer]`'s. A
/// small model on a laptop reads slowly and answers better from less text: the defaults are
/// the best measured with the bundled SmolLM2-135M (docs/benchmarks.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocalAnswerConfig {
    pub sources: usize,
    pub max_source_chars: usize,
    pub max_tokens: usize,
    pub relevant_excerpts: bool,
}

impl Default for LocalAnswerConfig {
    fn default() -> Self {
        LocalAnswerConfig {
            sources: 3,
            max_source_chars: 800,
            max_tokens: 128,
            relevant_excerpts: false,
        }
    }
}

impl AnswerConfig {
    /// The settings an in-process model answers with: these, with `[answer.local]`'s values.
    pub fn for_local_model(&self) -> AnswerConfig {
        AnswerConfig {
            sources: self.local.sources,
            max_source_chars: self.local.max_source_chars,
            max_tokens: self.local.max_tokens,
            relevant_excerpts: self.local.relevant_excerpts,
            ..self.clone()
        }
    }
}

impl Default for AnswerConfig {
    fn default() -> Self {
        AnswerConfig {
            sources: 5,
            abstain_threshold: crate::answer::abstain::DEFAULT_THRESHOLD,
            min_support: 0.5,
            max_tokens: 384,
            temperature: 0.1,
            extractive_sentences: 3,
            max_source_chars: 1600,
            relevant_excerpts: false,
            calibration_samples: 200,
            local: LocalAnswerConfig::default(),
        }
    }
}

impl Config {
    /// Loads `config.toml` from `data_dir`, or the defaults when there is none.
    pub fn load(data_dir: &Path) -> Result<Config> {
        let path = data_dir.join(CONFIG_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Config::from_toml(&text, &path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(e) => Err(Error::io("reading", path, e)),
        }
    }

    /// The team library to open instead of the data directory, if `library` names one.
    pub fn team_library(&self) -> Result<Option<crate::store::postgres::Target>> {
        if self.library.trim().is_empty() {
            return Ok(None);
        }
        crate::store::postgres::Target::parse(&self.library).map(Some)
    }

    /// Parses and validates a config file's text; `path` is only used in messages.
    pub fn from_toml(text: &str, path: &Path) -> Result<Config> {
        let config: Config = toml::from_str(text).map_err(|e| {
            // A secret in the file is refused with its own message (never echoed).
            let secret = toml::from_str::<toml::Table>(text).ok().is_some_and(|t| {
                t.get("llm")
                    .and_then(|l| l.get("remote"))
                    .and_then(toml::Value::as_table)
                    .is_some_and(|r| {
                        r.keys()
                            .any(|k| matches!(k.as_str(), "api_key" | "key" | "apikey" | "token"))
                    })
            });
            Error::Config {
                path: path.to_owned(),
                message: if secret {
                    "API keys are never read from the config file: remove llm.remote.api_key and \
                     set the environment variable named by llm.remote.api_key_env (default \
                     CAIRN_API_KEY), or store the key in the OS keychain"
                        .into()
                } else {
                    e.to_string()
                },
            }
        })?;
        config.validate(path)?;
        Ok(config)
    }

    /// Writes this configuration to `config.toml` in `data_dir` (created if missing), after
    /// validating it. The file is replaced atomically (written to a temporary file in the same
    /// folder, synced, then renamed), so a crash leaves the old or the new file, never half of
    /// one. Holds no secret: API keys are not part of [`Config`].
    pub fn save(&self, data_dir: &Path) -> Result<()> {
        let path = data_dir.join(CONFIG_FILE);
        self.validate(&path)?;
        let text = toml::to_string_pretty(self).map_err(|e| Error::Config {
            path: path.clone(),
            message: format!("cannot write the settings as TOML: {e}"),
        })?;
        std::fs::create_dir_all(data_dir).map_err(|e| Error::io("creating", data_dir, e))?;
        let header =
            "# Cairn settings (docs/config.md). Written by Cairn; comments are not kept.\n";
        crate::durable::write(&path, format!("{header}{text}").as_bytes())
            .map_err(|e| Error::io("writing", path.clone(), e))
    }

    fn validate(&self, path: &Path) -> Result<()> {
        let bad = |message: String| {
            Err(Error::Config {
                path: path.to_owned(),
                message,
            })
        };
        if !self.library.is_empty() {
            if !crate::store::postgres::is_postgres_url(&self.library) {
                return bad(format!(
                    "library must be empty (the data directory) or a postgres:// URL, not `{}`",
                    crate::audit::redact_url(&self.library)
                ));
            }
            if crate::store::postgres::Target::parse(&self.library)?.password_in_url {
                return bad(
                    "library: a password in the URL is not allowed in a config file; set \
                     PGPASSWORD or store it in the OS keychain (docs/team.md)"
                        .into(),
                );
            }
        }
        let e = &self.embedding;
        if e.dim == 0 {
            return bad("embedding.dim must be positive".into());
        }
        if e.max_tokens < 8 {
            return bad("embedding.max_tokens must be at least 8".into());
        }
        if e.model_id.trim().is_empty() {
            return bad("embedding.model_id must not be empty".into());
        }
        if e.batch_size == 0 {
            return bad("embedding.batch_size must be positive".into());
        }
        let c = &self.chunking;
        if c.max_tokens < 16 {
            return bad("chunking.max_tokens must be at least 16".into());
        }
        if c.overlap_tokens >= c.max_tokens / 2 {
            return bad(
                "chunking.overlap_tokens must be less than half of chunking.max_tokens".into(),
            );
        }
        let s = &self.search;
        if !(0.0..=1.0).contains(&s.alpha) {
            return bad(format!(
                "search.alpha must be between 0 and 1, not {}",
                s.alpha
            ));
        }
        if s.rrf_k <= 0.0 {
            return bad("search.rrf_k must be positive".into());
        }
        if s.limit == 0 || s.candidates == 0 {
            return bad("search.limit and search.candidates must be positive".into());
        }
        let a = &self.answer;
        if a.sources == 0 || a.sources > 20 {
            return bad(format!(
                "answer.sources must be between 1 and 20, not {}",
                a.sources
            ));
        }
        if !(0.0..=1.0).contains(&a.abstain_threshold) {
            return bad(format!(
                "answer.abstain_threshold must be between 0 and 1, not {}",
                a.abstain_threshold
            ));
        }
        if !(0.0..=1.0).contains(&a.min_support) {
            return bad(format!(
                "answer.min_support must be between 0 and 1, not {}",
                a.min_support
            ));
        }
        if a.max_tokens == 0 {
            return bad("answer.max_tokens must be positive".into());
        }
        if !(0.0..=2.0).contains(&a.temperature) {
            return bad(format!(
                "answer.temperature must be between 0 and 2, not {}",
                a.temperature
            ));
        }
        if a.extractive_sentences == 0 {
            return bad("answer.extractive_sentences must be positive".into());
        }
        if a.max_source_chars < 200 {
            return bad("answer.max_source_chars must be at least 200".into());
        }
        let l = &a.local;
        if l.sources == 0 || l.sources > 20 {
            return bad(format!(
                "answer.local.sources must be between 1 and 20, not {}",
                l.sources
            ));
        }
        if l.max_tokens == 0 {
            return bad("answer.local.max_tokens must be positive".into());
        }
        if l.max_source_chars < 200 {
            return bad("answer.local.max_source_chars must be at least 200".into());
        }
        if a.calibration_samples < 20 {
            return bad("answer.calibration_samples must be at least 20".into());
        }
        if self.ingest.exclude.iter().any(|p| p.trim().is_empty()) {
            return bad("ingest.exclude must not contain empty patterns".into());
        }
        if let Err(message) = self.llm.check() {
            return bad(message);
        }
        if let Err(message) = self.rerank.check() {
            return bad(message);
        }
        Ok(())
    }

    /// Largest chunk size in tokens that still fits the model window.
    pub fn chunk_tokens(&self) -> usize {
        // Leave room for [CLS]/[SEP] and the title/heading prefix that is embedded with a chunk.
        self.chunking
            .max_tokens
            .min(self.embedding.max_tokens.saturating_sub(2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_then_load_round_trips_and_replaces_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let mut c = Config::default();
        c.llm.provider = LlmProvider::Remote;
        c.llm.remote.base_url = "http://127.0.0.1:8080/v1".into();
        c.llm.remote.model = "smol".into();
        c.llm.remote.azure_api_version = Some("2024-10-21".into());
        c.llm.local.threads = 2;
        c.answer.abstain_threshold = 0.3;
        c.save(&data).unwrap();
        let back = Config::load(&data).unwrap();
        assert_eq!(back.llm, c.llm);
        assert_eq!(back.answer.abstain_threshold, 0.3);
        c.llm.provider = LlmProvider::None;
        c.save(&data).unwrap();
        assert_eq!(Config::load(&data).unwrap().llm.provider, LlmProvider::None);
        let names: Vec<_> = std::fs::read_dir(&data)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            [std::ffi::OsString::from(CONFIG_FILE)],
            "no temp files left"
        );
    }

    #[test]
    fn invalid_settings_are_not_saved() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Config::default();
        c.llm.provider = LlmProvider::Remote;
        let err = c.save(dir.path()).unwrap_err();
        assert!(err.to_string().contains("llm.remote.base_url"), "{err}");
        assert!(!dir.path().join(CONFIG_FILE).exists());
    }

    #[test]
    fn an_in_process_model_answers_with_the_local_settings() {
        let text = "[answer]\nsources = 6\nmax_tokens = 400\n[answer.local]\nmax_tokens = 96\n";
        let c = Config::from_toml(text, Path::new("c.toml")).unwrap();
        let local = c.answer.for_local_model();
        // Given values win, missing ones are the local defaults, the rest is [answer]'s.
        assert_eq!((local.sources, local.max_tokens), (3, 96));
        assert_eq!(local.max_source_chars, 800);
        assert_eq!((c.answer.sources, c.answer.max_tokens), (6, 400));
        assert_eq!(local.min_support, c.answer.min_support);
        let err =
            Config::from_toml("[answer.local]\nsources = 0\n", Path::new("c.toml")).unwrap_err();
        assert!(err.to_string().contains("answer.local.sources"), "{err}");
    }

    #[test]
    fn api_keys_in_the_file_are_refused_without_echoing_them() {
        let text = "[llm]\nprovider = \"remote\"\n[llm.remote]\nbase_url = \"http://x/v1\"\nmodel = \"m\"\napi_key = \"sk-secret-123\"\n";
        let err = Config::from_toml(text, Path::new("c.toml")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("never read from the config file"), "{msg}");
        assert!(!msg.contains("sk-secret-123"), "{msg}");
        let text = "[llm.remote]\napi_key_env = \"sk-secret-123\"\n";
        let err = Config::from_toml(text, Path::new("c.toml")).unwrap_err();
        assert!(
            err.to_string().contains("NAME of an environment variable"),
            "{err}"
        );
    }

    #[test]
    fn llm_defaults_and_checks() {
        let c = Config::from_toml("", Path::new("c.toml")).unwrap();
        assert_eq!(c.llm.provider, LlmProvider::Local);
        assert_eq!(c.llm.remote.api_key_env, DEFAULT_API_KEY_ENV);
        assert!(c.llm.local.model_path().ends_with(DEFAULT_LOCAL_LLM));
        let err =
            Config::from_toml("[llm]\nprovider = \"cloud\"\n", Path::new("c.toml")).unwrap_err();
        assert!(err.to_string().contains("provider"), "{err}");
        let err = Config::from_toml(
            "[llm.remote]\nbase_url = \"localhost:8080\"\n",
            Path::new("c.toml"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("http://"), "{err}");
    }
}
