//! Embed: text in, L2-normalised vectors out, with a local ONNX model run by ONNX Runtime.
//!
//! The default model is all-MiniLM-L6-v2 (int8, 384 dimensions, mean pooling), installed with
//! ONNX Runtime into `models/dist/` by `bash models/fetch.sh` (see models/README.md). ONNX
//! Runtime is loaded dynamically from a file path, so the binary links nothing at build time.
//!
//! [`TokenCounter`] measures text in the model's tokens; the chunker uses it so that every chunk
//! fits the model window. [`Embedder`] is the interface the rest of the engine uses;
//! [`OnnxEmbedder`] is its implementation.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ort::session::Session;
use ort::value::{Tensor, TensorElementType, ValueType};
use tokenizers::{Encoding, Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::config::{EmbeddingConfig, Pooling};
use crate::error::{Error, Result};

/// Environment variable naming the folder that holds the model files (what `models/dist` is in
/// the source tree).
pub const MODELS_DIR_ENV: &str = "CAIRN_MODELS_DIR";
/// Environment variable ONNX Runtime's loader uses for the library path.
pub const ORT_DYLIB_ENV: &str = "ORT_DYLIB_PATH";
/// Folder of the default model inside the models directory.
pub const DEFAULT_MODEL_DIR: &str = "all-MiniLM-L6-v2-int8";
/// File name of the bundled ONNX Runtime library inside `<models>/onnxruntime/`.
#[cfg(target_os = "macos")]
pub const ORT_LIBRARY_FILE: &str = "libonnxruntime.1.31.1.dylib";
/// File name of the bundled ONNX Runtime library inside `<models>/onnxruntime/`.
#[cfg(target_os = "windows")]
pub const ORT_LIBRARY_FILE: &str = "onnxruntime.dll";
/// File name of the bundled ONNX Runtime library inside `<models>/onnxruntime/`.
#[cfg(not(any(target_os = "macos", target_os = "windows")))]
pub const ORT_LIBRARY_FILE: &str = "libonnxruntime.so.1.31.1";

const FETCH_HINT: &str = "run `bash models/fetch.sh`";

// ---------------------------------------------------------------------------------------------
// Locating the model files
// ---------------------------------------------------------------------------------------------

/// The folder that holds the default model files, if one can be found.
///
/// In order: `$CAIRN_MODELS_DIR`; a `models/dist` folder in the executable's folder or any of
/// its parents (so `target/debug/cairn` in the source tree finds the repository's
/// `models/dist`), then the same from the current directory; then `<exe_dir>/../share/cairn/models`
/// and `<exe_dir>/resources/models` (installed layouts).
pub fn default_models_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(MODELS_DIR_ENV).filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.canonicalize().ok().or(Some(exe)))
        .and_then(|exe| exe.parent().map(Path::to_owned));
    let cwd = std::env::current_dir().ok();
    for start in exe_dir.iter().chain(cwd.iter()) {
        for dir in start.ancestors() {
            let candidate = dir.join("models").join("dist");
            if candidate.is_dir() {
                return Some(candidate);
            }
        }
    }
    let exe_dir = exe_dir?;
    [
        exe_dir
            .join("..")
            .join("share")
            .join("cairn")
            .join("models"),
        exe_dir.join("resources").join("models"),
    ]
    .into_iter()
    .find(|d| d.is_dir())
}

/// The three files an [`OnnxEmbedder`] needs, with the defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedModel {
    /// The ONNX model file.
    pub model: PathBuf,
    /// The tokenizer.json file.
    pub tokenizer: PathBuf,
    /// The ONNX Runtime shared library.
    pub onnxruntime: PathBuf,
}

/// Fills the empty paths of `cfg` with the default files and checks that all three exist.
///
/// The model and tokenizer default to `<models>/all-MiniLM-L6-v2-int8/`; ONNX Runtime to
/// `$ORT_DYLIB_PATH`, then `<models>/onnxruntime/<library>` (see [`default_models_dir`]).
pub fn resolve(cfg: &EmbeddingConfig) -> Result<ResolvedModel> {
    resolve_with(cfg, default_models_dir)
}

fn resolve_with(
    cfg: &EmbeddingConfig,
    models_dir: impl FnOnce() -> Option<PathBuf>,
) -> Result<ResolvedModel> {
    let ort_env = std::env::var_os(ORT_DYLIB_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let needs_default = cfg.model.as_os_str().is_empty()
        || cfg.tokenizer.as_os_str().is_empty()
        || (cfg.onnxruntime.as_os_str().is_empty() && ort_env.is_none());
    let base = if needs_default { models_dir() } else { None };

    let pick = |configured: &Path,
                key: &str,
                env_default: Option<PathBuf>,
                default_rel: &[&str]|
     -> Result<PathBuf> {
        if !configured.as_os_str().is_empty() {
            return check_exists(configured, &format!("embedding.{key}"), false);
        }
        if let Some(path) = env_default {
            return check_exists(&path, &format!("${ORT_DYLIB_ENV}"), true);
        }
        let Some(base) = &base else {
            return Err(Error::Model(format!(
                "cannot find the default model files for embedding.{key}: no models directory \
                 (looked for models/dist next to the executable and the current directory, and \
                 ${MODELS_DIR_ENV}); {FETCH_HINT} in the Cairn source tree, set \
                 ${MODELS_DIR_ENV}, or set embedding.{key} in the config"
            )));
        };
        let path = default_rel
            .iter()
            .fold(base.clone(), |p, part| p.join(part));
        if path.is_file() {
            Ok(path)
        } else {
            Err(Error::Model(format!(
                "default {key} file {} is missing; {FETCH_HINT} or set embedding.{key} in the \
                 config",
                path.display()
            )))
        }
    };

    Ok(ResolvedModel {
        model: pick(
            &cfg.model,
            "model",
            None,
            &[DEFAULT_MODEL_DIR, "model.onnx"],
        )?,
        tokenizer: pick(
            &cfg.tokenizer,
            "tokenizer",
            None,
            &[DEFAULT_MODEL_DIR, "tokenizer.json"],
        )?,
        onnxruntime: pick(
            &cfg.onnxruntime,
            "onnxruntime",
            ort_env,
            &["onnxruntime", ORT_LIBRARY_FILE],
        )?,
    })
}

/// Checks that a user-given path exists. A bare library name (no folder) is left to the
/// system's library search when `bare_ok`.
fn check_exists(path: &Path, key: &str, bare_ok: bool) -> Result<PathBuf> {
    if path.is_file() || (bare_ok && path.components().count() == 1) {
        return Ok(path.to_owned());
    }
    Err(Error::Model(format!(
        "{} (set by {key}) does not exist; fix {key}, or clear it and {FETCH_HINT} to use the \
         default file",
        path.display()
    )))
}

// ---------------------------------------------------------------------------------------------
// Token counting
// ---------------------------------------------------------------------------------------------

/// Counts model tokens; cheap to clone and shareable across threads.
///
/// Padding and truncation are disabled whatever the tokenizer.json says (the default one pads
/// and truncates to 128), so [`TokenCounter::count`] is the full length of the text.
///
/// For BERT WordPiece tokenizers (all-MiniLM, bge, e5...) runs of ASCII text are counted by a
/// direct implementation of the same normalisation, pre-tokenisation and WordPiece rules, many
/// times faster than a full `encode`; everything else (non-ASCII words, special-token text,
/// other tokenizer types) goes through the tokenizer itself. Both give the same count.
#[derive(Clone)]
pub struct TokenCounter {
    tokenizer: Arc<Tokenizer>,
    fast: Option<Arc<FastWordPiece>>,
    /// Identifies this counter (and its clones) in the per-thread cache of slow counts.
    id: u64,
}

/// Source of [`TokenCounter`] ids.
static NEXT_COUNTER_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Longest piece whose slow count is cached, in bytes.
const SLOW_CACHE_MAX_PIECE: usize = 48;
/// Entries after which the per-thread cache is emptied.
const SLOW_CACHE_CAPACITY: usize = 1 << 16;

thread_local! {
    /// Slow-path counts of short non-ASCII pieces (words like "café", "don’t"), per thread so
    /// that counting never contends: (counter id, piece → count).
    static SLOW_CACHE: std::cell::RefCell<(u64, std::collections::HashMap<Box<str>, u32>)> =
        std::cell::RefCell::new((0, std::collections::HashMap::new()));
}

impl std::fmt::Debug for TokenCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCounter")
            .field("vocab_size", &self.tokenizer.get_vocab_size(true))
            .field("fast_path", &self.fast.is_some())
            .finish()
    }
}

impl TokenCounter {
    /// Loads a tokenizer.json.
    pub fn load(path: &Path) -> Result<TokenCounter> {
        TokenCounter::from_tokenizer(load_tokenizer(path)?)
    }

    /// Wraps a tokenizer, disabling its padding and truncation.
    pub fn from_tokenizer(mut tokenizer: Tokenizer) -> Result<TokenCounter> {
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(None)
            .map_err(|e| Error::Model(format!("cannot disable tokenizer truncation: {e}")))?;
        let fast = FastWordPiece::new(&tokenizer).map(Arc::new);
        Ok(TokenCounter {
            tokenizer: Arc::new(tokenizer),
            fast,
            id: NEXT_COUNTER_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        })
    }

    /// Number of tokens in `text`, without special tokens ([CLS], [SEP]).
    pub fn count(&self, text: &str) -> usize {
        match &self.fast {
            Some(fast) => fast.count(text, |piece| self.count_piece_cached(piece)),
            None => self.count_slow(text),
        }
    }

    /// [`TokenCounter::count`] through the tokenizer's full pipeline.
    pub fn count_slow(&self, text: &str) -> usize {
        match self.tokenizer.encode_fast(text, false) {
            Ok(encoding) => encoding.len(),
            // Cannot happen with the WordPiece tokenizers we ship; one token per character is
            // an upper bound for them, so chunks stay within bounds.
            Err(_) => text.chars().count(),
        }
    }

    /// The slow count of a piece the fast path cannot handle, memoised per thread.
    fn count_piece_cached(&self, piece: &str) -> usize {
        if piece.len() > SLOW_CACHE_MAX_PIECE {
            return self.count_slow(piece);
        }
        SLOW_CACHE.with(|cache| {
            let mut cache = cache.borrow_mut();
            let (id, map) = &mut *cache;
            if *id != self.id || map.len() >= SLOW_CACHE_CAPACITY {
                *id = self.id;
                map.clear();
            }
            if let Some(&n) = map.get(piece) {
                return n as usize;
            }
            let n = self.count_slow(piece);
            map.insert(piece.into(), n as u32);
            n
        })
    }

    /// Whether the fast path for BERT WordPiece tokenizers is in use.
    pub fn has_fast_path(&self) -> bool {
        self.fast.is_some()
    }

    /// The wrapped tokenizer (padding and truncation disabled).
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }
}

impl text_splitter::ChunkSizer for TokenCounter {
    fn size(&self, chunk: &str) -> usize {
        self.count(chunk)
    }
}

/// Token counting for ASCII text under a BERT tokenizer (BertNormalizer with clean_text,
/// BertPreTokenizer, WordPiece), equal to the tokenizer's own count.
///
/// The text is cut at ASCII whitespace (space, tab, CR, LF), where the BERT pipeline always
/// splits, so counts add up across pieces. A piece that is all ASCII and cannot contain an added
/// token is counted here: ASCII control characters are removed (clean_text), every ASCII
/// punctuation character is a word of one token, and the other words go through greedy
/// longest-match-first WordPiece over the vocabulary (a word longer than
/// `max_input_chars_per_word`, or with no match, is one [UNK]). Other pieces are counted by the
/// tokenizer.
struct FastWordPiece {
    vocab: std::collections::HashSet<String>,
    prefix: String,
    max_chars: usize,
    lowercase: bool,
    /// First bytes of the added tokens (e.g. `[` of `[CLS]`): pieces containing one go the
    /// slow way, as the tokenizer may match an added token there.
    added_first: Vec<u8>,
}

impl FastWordPiece {
    fn new(tokenizer: &Tokenizer) -> Option<FastWordPiece> {
        use tokenizers::models::ModelWrapper;
        use tokenizers::normalizers::NormalizerWrapper;
        use tokenizers::pre_tokenizers::PreTokenizerWrapper;

        let Some(NormalizerWrapper::BertNormalizer(normalizer)) = tokenizer.get_normalizer() else {
            return None;
        };
        if !normalizer.clean_text {
            return None;
        }
        if !matches!(
            tokenizer.get_pre_tokenizer(),
            Some(PreTokenizerWrapper::BertPreTokenizer(_))
        ) {
            return None;
        }
        let ModelWrapper::WordPiece(model) = tokenizer.get_model() else {
            return None;
        };
        let vocab: std::collections::HashSet<String> =
            tokenizers::Model::get_vocab(model).into_keys().collect();
        if !vocab.contains(&model.unk_token) {
            return None;
        }
        let mut added_first = Vec::new();
        for token in tokenizer.get_added_tokens_decoder().values() {
            let first = token.content.bytes().next()?;
            // Only added tokens that start with ASCII punctuation and hold no whitespace keep
            // the pieces independent and rare enough to send the slow way.
            if !first.is_ascii_punctuation() || token.content.chars().any(char::is_whitespace) {
                return None;
            }
            if !added_first.contains(&first) {
                added_first.push(first);
            }
        }
        Some(FastWordPiece {
            vocab,
            prefix: model.continuing_subword_prefix.clone(),
            max_chars: model.max_input_chars_per_word,
            lowercase: normalizer.lowercase,
            added_first,
        })
    }

    fn count(&self, text: &str, slow: impl Fn(&str) -> usize) -> usize {
        let mut total = 0;
        let mut word = String::new();
        let mut key = String::new();
        for piece in text.split([' ', '\t', '\n', '\r']) {
            if piece.is_empty() {
                continue;
            }
            if !piece.is_ascii() || piece.bytes().any(|b| self.added_first.contains(&b)) {
                total += slow(piece);
                continue;
            }
            for b in piece.bytes() {
                if b.is_ascii_control() {
                    // Removed by clean_text (\t, \n, \r were split on above).
                } else if b.is_ascii_punctuation() {
                    total += self.word_count(&word, &mut key) + 1;
                    word.clear();
                } else {
                    word.push(char::from(if self.lowercase {
                        b.to_ascii_lowercase()
                    } else {
                        b
                    }));
                }
            }
            total += self.word_count(&word, &mut key);
            word.clear();
        }
        total
    }

    /// WordPiece tokens of one ASCII word.
    fn word_count(&self, word: &str, key: &mut String) -> usize {
        if word.is_empty() {
            return 0;
        }
        if word.len() > self.max_chars {
            return 1;
        }
        let mut n = 0;
        let mut start = 0;
        while start < word.len() {
            let mut end = word.len();
            let found = loop {
                let sub = &word[start..end];
                let hit = if start == 0 {
                    self.vocab.contains(sub)
                } else {
                    key.clear();
                    key.push_str(&self.prefix);
                    key.push_str(sub);
                    self.vocab.contains(key.as_str())
                };
                if hit {
                    break true;
                }
                end -= 1;
                if end == start {
                    break false;
                }
            };
            if !found {
                return 1; // the whole word is [UNK]
            }
            n += 1;
            start = end;
        }
        n
    }
}

fn load_tokenizer(path: &Path) -> Result<Tokenizer> {
    Tokenizer::from_file(path).map_err(|e| {
        Error::Model(format!(
            "cannot load tokenizer {}: {e}; {FETCH_HINT} or set embedding.tokenizer",
            path.display()
        ))
    })
}

// ---------------------------------------------------------------------------------------------
// Embedding
// ---------------------------------------------------------------------------------------------

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

/// The process-wide ONNX Runtime environment and the library it was loaded from. ONNX Runtime
/// allows one environment per process and `ort` loads one library per process, so this is
/// created once; a failed attempt can be retried (e.g. after fixing the path).
static ORT_ENV: Mutex<Option<(PathBuf, ort::environment::Environment)>> = Mutex::new(None);

fn ort_environment(library: &Path) -> Result<ort::environment::Environment> {
    let mut slot = ORT_ENV.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((loaded, env)) = slot.as_ref() {
        if loaded != library {
            tracing::warn!(
                loaded = %loaded.display(),
                requested = %library.display(),
                "ONNX Runtime is already loaded in this process; keeping the loaded library"
            );
        }
        return Ok(env.clone());
    }
    let builder = ort::init_from(library).map_err(|e| {
        Error::Model(format!(
            "cannot load ONNX Runtime from {}: {e}; {FETCH_HINT} or set embedding.onnxruntime \
             (or ${ORT_DYLIB_ENV})",
            library.display()
        ))
    })?;
    let env = builder.with_name("cairn").build().map_err(|e| {
        Error::Model(format!(
            "cannot start ONNX Runtime from {}: {e}",
            library.display()
        ))
    })?;
    *slot = Some((library.to_owned(), env.clone()));
    Ok(env)
}

/// The model inputs Cairn knows how to feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InputKind {
    InputIds,
    AttentionMask,
    TokenTypeIds,
}

#[derive(Debug, Clone)]
struct ModelInput {
    name: String,
    kind: InputKind,
    /// Int64 (most exports) or Int32.
    int32: bool,
}

/// An [`Embedder`] running an ONNX sentence-embedding model (BERT-style inputs) on the CPU.
pub struct OnnxEmbedder {
    model_id: String,
    dim: usize,
    pooling: Pooling,
    normalize: bool,
    batch_size: usize,
    query_prefix: String,
    passage_prefix: String,
    /// Truncates to `max_tokens` (special tokens included), never pads.
    tokenizer: Tokenizer,
    counter: TokenCounter,
    inputs: Vec<ModelInput>,
    output: String,
    /// `Session::run` takes `&mut self` in ort 2.0.0-rc.15.
    session: Mutex<Session>,
    files: ResolvedModel,
}

impl std::fmt::Debug for OnnxEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxEmbedder")
            .field("model_id", &self.model_id)
            .field("dim", &self.dim)
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl OnnxEmbedder {
    /// Resolves the configured (or default) files and loads the model.
    pub fn new(cfg: &EmbeddingConfig) -> Result<OnnxEmbedder> {
        OnnxEmbedder::load(cfg, &resolve(cfg)?)
    }

    /// Loads the model from already resolved files.
    pub fn load(cfg: &EmbeddingConfig, files: &ResolvedModel) -> Result<OnnxEmbedder> {
        if cfg.batch_size == 0 || cfg.max_tokens < 3 || cfg.dim == 0 {
            return Err(Error::Model(
                "embedding.batch_size, embedding.dim must be positive and embedding.max_tokens at \
                 least 3"
                    .into(),
            ));
        }
        for (path, key) in [(&files.model, "model"), (&files.tokenizer, "tokenizer")] {
            if !path.is_file() {
                return Err(Error::Model(format!(
                    "{key} file {} does not exist; {FETCH_HINT} or set embedding.{key}",
                    path.display()
                )));
            }
        }
        let base = load_tokenizer(&files.tokenizer)?;
        let counter = TokenCounter::from_tokenizer(base.clone())?;
        let mut tokenizer = base;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: cfg.max_tokens,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(|e| Error::Model(format!("cannot set tokenizer truncation: {e}")))?;

        let library =
            std::path::absolute(&files.onnxruntime).unwrap_or_else(|_| files.onnxruntime.clone());
        let env = ort_environment(&library)?;
        let model_err = |what: &str, e: &dyn std::fmt::Display| {
            Error::Model(format!(
                "{what} {}: {e}; check embedding.model, or {FETCH_HINT}",
                files.model.display()
            ))
        };
        let mut builder =
            Session::builder(&env).map_err(|e| model_err("cannot prepare a session for", &e))?;
        if cfg.threads > 0 {
            builder = builder
                .with_intra_threads(cfg.threads)
                .map_err(|e| model_err("cannot set the thread count for", &e))?;
        }
        let session = builder
            .commit_from_file(&files.model)
            .map_err(|e| model_err("cannot load ONNX model", &e))?;
        // Loading folds the model's int8 weights into float ones; the scratch memory of that
        // (about 65 MB) is free now but still held by the C allocator.
        trim_heap();

        let mut inputs = Vec::new();
        for input in session.inputs() {
            let kind = match input.name() {
                "input_ids" => InputKind::InputIds,
                "attention_mask" => InputKind::AttentionMask,
                "token_type_ids" => InputKind::TokenTypeIds,
                other => {
                    return Err(Error::Model(format!(
                        "ONNX model {} has an input `{other}` that Cairn cannot feed (it feeds \
                         input_ids, attention_mask and token_type_ids)",
                        files.model.display()
                    )))
                }
            };
            let int32 = match input.dtype() {
                ValueType::Tensor {
                    ty: TensorElementType::Int64,
                    ..
                } => false,
                ValueType::Tensor {
                    ty: TensorElementType::Int32,
                    ..
                } => true,
                other => {
                    return Err(Error::Model(format!(
                        "ONNX model {} input `{}` has type {other}, expected int64 or int32",
                        files.model.display(),
                        input.name()
                    )))
                }
            };
            inputs.push(ModelInput {
                name: input.name().to_owned(),
                kind,
                int32,
            });
        }
        if !inputs.iter().any(|i| i.kind == InputKind::InputIds) {
            return Err(Error::Model(format!(
                "ONNX model {} has no `input_ids` input",
                files.model.display()
            )));
        }
        let outlet = session
            .outputs()
            .iter()
            .find(|o| o.name() == "last_hidden_state")
            .or_else(|| session.outputs().first())
            .ok_or_else(|| {
                Error::Model(format!(
                    "ONNX model {} has no outputs",
                    files.model.display()
                ))
            })?;
        if let ValueType::Tensor { shape, .. } = outlet.dtype() {
            // The last dimension is usually static: check the dimension before the first batch.
            if let Some(&last) = shape.last() {
                if last > 0 && last as usize != cfg.dim {
                    return Err(dim_mismatch(&files.model, last as usize, cfg.dim));
                }
            }
        }
        let output = outlet.name().to_owned();

        Ok(OnnxEmbedder {
            model_id: cfg.model_id.clone(),
            dim: cfg.dim,
            pooling: cfg.pooling,
            normalize: cfg.normalize,
            batch_size: cfg.batch_size,
            query_prefix: cfg.query_prefix.clone(),
            passage_prefix: cfg.passage_prefix.clone(),
            tokenizer,
            counter,
            inputs,
            output,
            session: Mutex::new(session),
            files: files.clone(),
        })
    }

    /// A token counter for the same tokenizer (for the chunker).
    pub fn token_counter(&self) -> TokenCounter {
        self.counter.clone()
    }

    /// The files this embedder was loaded from.
    pub fn files(&self) -> &ResolvedModel {
        &self.files
    }

    /// Embeds `texts` with `prefix` prepended, in input order.
    fn embed_with_prefix(&self, prefix: &str, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let inputs: Vec<String> = texts.iter().map(|t| format!("{prefix}{t}")).collect();
        let encodings = self
            .tokenizer
            .encode_batch_fast(inputs, true)
            .map_err(|e| Error::Model(format!("cannot tokenize input: {e}")))?;

        // Batches of similar length waste little on padding: sort by length, embed in
        // batches, put the vectors back in input order.
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&i| encodings[i].len());
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); encodings.len()];
        for batch in order.chunks(self.batch_size) {
            let refs: Vec<&Encoding> = batch.iter().map(|&i| &encodings[i]).collect();
            let vectors = self.run_batch(&refs)?;
            for (&i, v) in batch.iter().zip(vectors) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    /// Runs one padded batch through the model and pools it.
    fn run_batch(&self, encodings: &[&Encoding]) -> Result<Vec<Vec<f32>>> {
        self.run_batch_with(encodings, false)
    }

    /// [`Self::run_batch`]; with `shrink`, ONNX Runtime also returns its memory arena's unused
    /// regions to the system after the run. The arena otherwise keeps the high-water mark of
    /// every batch shape it has seen: about 1.1 GB after embedding batches of long passages.
    fn run_batch_with(&self, encodings: &[&Encoding], shrink: bool) -> Result<Vec<Vec<f32>>> {
        let batch = encodings.len();
        let seq = encodings.iter().map(|e| e.len()).max().unwrap_or(0).max(1);
        let mut ids = vec![0i64; batch * seq];
        let mut mask = vec![0i64; batch * seq];
        let mut types = vec![0i64; batch * seq];
        for (row, enc) in encodings.iter().enumerate() {
            let at = row * seq;
            let n = enc.len();
            for (dst, &src) in ids[at..at + n].iter_mut().zip(enc.get_ids()) {
                *dst = i64::from(src);
            }
            for (dst, &src) in mask[at..at + n].iter_mut().zip(enc.get_attention_mask()) {
                *dst = i64::from(src);
            }
            for (dst, &src) in types[at..at + n].iter_mut().zip(enc.get_type_ids()) {
                *dst = i64::from(src);
            }
        }

        let shape = [batch, seq];
        let mut values: Vec<(String, ort::session::SessionInputValue<'static>)> = Vec::new();
        for input in &self.inputs {
            let data = match input.kind {
                InputKind::InputIds => &ids,
                InputKind::AttentionMask => &mask,
                InputKind::TokenTypeIds => &types,
            };
            let value: ort::session::SessionInputValue<'static> = if input.int32 {
                let data: Vec<i32> = data.iter().map(|&x| x as i32).collect();
                Tensor::from_array((shape, data)).map(Into::into)
            } else {
                Tensor::from_array((shape, data.clone())).map(Into::into)
            }
            .map_err(|e| Error::Model(format!("cannot build the `{}` tensor: {e}", input.name)))?;
            values.push((input.name.clone(), value));
        }

        let mut options = ort::session::RunOptions::new()
            .map_err(|e| Error::Model(format!("cannot prepare an ONNX Runtime run: {e}")))?;
        if shrink {
            options
                .set("memory.enable_memory_arena_shrinkage", "cpu:0")
                .map_err(|e| Error::Model(format!("cannot prepare an ONNX Runtime run: {e}")))?;
        }
        let mut session = self.session.lock().unwrap_or_else(|e| e.into_inner());
        let outputs = session.run_with_options(values, &options).map_err(|e| {
            Error::Model(format!(
                "inference failed with {}: {e}",
                self.files.model.display()
            ))
        })?;
        let (out_shape, data) = outputs[self.output.as_str()]
            .try_extract_tensor::<f32>()
            .map_err(|e| {
                Error::Model(format!(
                    "output `{}` of {} is not a float tensor: {e}",
                    self.output,
                    self.files.model.display()
                ))
            })?;
        let dims: Vec<usize> = out_shape.iter().map(|&d| d.max(0) as usize).collect();

        let mut vectors = Vec::with_capacity(batch);
        match dims.as_slice() {
            // [batch, seq, hidden]: token vectors, pooled here.
            &[b, s, hidden] if b == batch && s == seq => {
                if hidden != self.dim {
                    return Err(dim_mismatch(&self.files.model, hidden, self.dim));
                }
                for row in 0..batch {
                    let tokens = &data[row * seq * hidden..(row + 1) * seq * hidden];
                    let row_mask = &mask[row * seq..(row + 1) * seq];
                    vectors.push(pool(self.pooling, tokens, row_mask, hidden));
                }
            }
            // [batch, hidden]: the model pools itself.
            &[b, hidden] if b == batch => {
                if hidden != self.dim {
                    return Err(dim_mismatch(&self.files.model, hidden, self.dim));
                }
                vectors.extend(data.chunks_exact(hidden).map(<[f32]>::to_vec));
            }
            other => {
                return Err(Error::Model(format!(
                    "output `{}` of {} has shape {other:?}, expected [{batch}, {seq}, {}] or \
                     [{batch}, {}]",
                    self.output,
                    self.files.model.display(),
                    self.dim,
                    self.dim
                )))
            }
        }
        if self.normalize {
            vectors.iter_mut().for_each(|v| l2_normalize(v));
        }
        Ok(vectors)
    }
}

impl Embedder for OnnxEmbedder {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn embed_passages(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.embed_with_prefix(&self.passage_prefix, texts)
    }

    fn embed_query(&self, text: &str) -> Result<Vec<f32>> {
        let mut v = self.embed_with_prefix(&self.query_prefix, &[text])?;
        Ok(v.pop().unwrap_or_default())
    }

    fn release_memory(&self) {
        // A one-token run with arena shrinkage frees every region no batch is using.
        let shrunk = self
            .tokenizer
            .encode_fast(".", true)
            .map_err(|e| Error::Model(format!("cannot tokenize input: {e}")))
            .and_then(|enc| self.run_batch_with(&[&enc], true));
        if let Err(e) = shrunk {
            tracing::debug!("could not shrink ONNX Runtime's memory arena: {e}");
        }
        trim_heap();
    }
}

/// Returns the C heap's free pages to the system (glibc keeps them otherwise; ONNX Runtime
/// allocates through it).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn trim_heap() {
    unsafe extern "C" {
        fn malloc_trim(pad: usize) -> std::ffi::c_int;
    }
    // SAFETY: glibc's malloc_trim only releases free memory; it takes no pointers and is safe
    // to call from any thread at any time.
    unsafe {
        malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim_heap() {}

fn dim_mismatch(model: &Path, actual: usize, configured: usize) -> Error {
    Error::Model(format!(
        "ONNX model {} produces {actual}-dimensional vectors but embedding.dim is {configured}; \
         set embedding.dim = {actual}",
        model.display()
    ))
}

/// Pools one sequence's token vectors (`tokens`: seq × hidden, row-major).
fn pool(pooling: Pooling, tokens: &[f32], mask: &[i64], hidden: usize) -> Vec<f32> {
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

fn l2_normalize(v: &mut [f32]) {
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

    #[test]
    fn missing_default_files_name_the_file_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = EmbeddingConfig::default();
        let err = resolve_with(&cfg, || Some(dir.path().to_owned())).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::Model(_)), "{msg}");
        assert!(msg.contains("model.onnx"), "{msg}");
        assert!(msg.contains("models/fetch.sh"), "{msg}");
        assert!(msg.contains("embedding.model"), "{msg}");

        let err = resolve_with(&cfg, || None).unwrap_err();
        assert!(err.to_string().contains("models/fetch.sh"), "{err}");
    }

    #[test]
    fn configured_paths_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("m.onnx");
        std::fs::write(&model, b"x").unwrap();
        let cfg = EmbeddingConfig {
            model: model.clone(),
            tokenizer: dir.path().join("nope.json"),
            ..EmbeddingConfig::default()
        };
        let err = resolve_with(&cfg, || None).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("nope.json") && msg.contains("embedding.tokenizer"),
            "{msg}"
        );
    }
}
