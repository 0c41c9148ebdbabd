//! [`OnnxEmbedder`]: the [`Embedder`] that runs an ONNX sentence-embedding model (BERT-style
//! inputs) with ONNX Runtime on the CPU. ONNX Runtime is loaded dynamically from a file path
//! once per process (`ort_environment`); after a large pass the embedder gives memory back
//! by shrinking ONNX Runtime's arena and trimming the C heap (`trim_heap`).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ort::session::Session;
use ort::value::{Tensor, TensorElementType, ValueType};
use tokenizers::{Encoding, Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use super::locate::{resolve, ResolvedModel, FETCH_HINT};
use super::tokens::{load_tokenizer, TokenCounter};
use super::{l2_normalize, pool, Embedder};
use crate::config::{EmbeddingConfig, Pooling};
use crate::error::{Error, Result};
use crate::paths::ORT_DYLIB_ENV;

/// The process-wide ONNX Runtime environment and the library it was loaded from. ONNX Runtime
/// allows one environment per process and `ort` loads one library per process, so this is
/// created once; a failed attempt can be retried (e.g. after fixing the path).
static ORT_ENV: Mutex<Option<(PathBuf, ort::environment::Environment)>> = Mutex::new(None);

pub(crate) fn ort_environment(library: &Path) -> Result<ort::environment::Environment> {
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
    disable_ort_telemetry();
    let builder = ort::init_from(library).map_err(|e| {
        Error::Model(format!(
            "cannot load ONNX Runtime from {}: {e}; {FETCH_HINT} or set embedding.onnxruntime \
             (or ${ORT_DYLIB_ENV})",
            library.display()
        ))
    })?;
    let env = builder
        .with_name("cairn")
        .with_telemetry(false)
        .build()
        .map_err(|e| {
            Error::Model(format!(
                "cannot start ONNX Runtime from {}: {e}",
                library.display()
            ))
        })?;
    *slot = Some((library.to_owned(), env.clone()));
    Ok(env)
}

/// The environment variable that stops Microsoft's builds of ONNX Runtime (the PyPI wheel's
/// library Cairn bundles) from starting their telemetry: a thread that uploads usage events to
/// mobile.events.data.microsoft.com and a device id and event queue under
/// `~/.cache/Microsoft/DeveloperTools/.onnxruntime`. `DisableTelemetryEvents` (what `ort`'s
/// `with_telemetry(false)` calls) comes too late to stop it.
pub const ORT_TELEMETRY_ENV: &str = "ORT_DISABLE_TELEMETRY";

/// Sets [`ORT_TELEMETRY_ENV`] before the library is loaded. The binaries set it first thing in
/// `main`, while they have one thread; this is the fallback for other hosts (tests, library
/// users). tests/offline.rs shows that no connection is attempted.
#[allow(unsafe_code)]
pub fn disable_ort_telemetry() {
    if std::env::var_os(ORT_TELEMETRY_ENV).is_some_and(|v| v == "1") {
        return;
    }
    // SAFETY: called before ONNX Runtime is loaded; the binaries call it while single-threaded.
    // Elsewhere a concurrent getenv could race, which is why the binaries set it in `main`.
    unsafe { std::env::set_var(ORT_TELEMETRY_ENV, "1") };
}

/// The model inputs Cairn knows how to feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InputKind {
    InputIds,
    AttentionMask,
    TokenTypeIds,
}

#[derive(Debug, Clone)]
pub(crate) struct ModelInput {
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
    batch_tokens: usize,
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

        let inputs = model_inputs(&session, &files.model)?;
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
            batch_tokens: cfg.batch_tokens,
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

    /// The tokens the model sees for each passage (prefix, truncation and special tokens
    /// included), as [`Embedder::embed_passages`] encodes them: what benchmarks count.
    pub fn passage_tokens(&self, texts: &[&str]) -> Result<Vec<usize>> {
        Ok(self
            .encode(&self.passage_prefix, texts)?
            .iter()
            .map(Encoding::len)
            .collect())
    }

    /// Tokenizes `texts` with `prefix` prepended.
    fn encode(&self, prefix: &str, texts: &[&str]) -> Result<Vec<Encoding>> {
        let inputs: Vec<String> = texts.iter().map(|t| format!("{prefix}{t}")).collect();
        self.tokenizer
            .encode_batch_fast(inputs, true)
            .map_err(|e| Error::Model(format!("cannot tokenize input: {e}")))
    }

    /// Embeds `texts` with `prefix` prepended, in input order.
    fn embed_with_prefix(&self, prefix: &str, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self.encode(prefix, texts)?;

        // Batches of similar length waste little on padding: sort by length, embed in
        // batches, put the vectors back in input order.
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&i| encodings[i].len());
        let lengths: Vec<usize> = order.iter().map(|&i| encodings[i].len()).collect();
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); encodings.len()];
        let mut start = 0;
        for size in batch_sizes(&lengths, self.batch_size, self.batch_tokens) {
            let batch = &order[start..start + size];
            start += size;
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
        let (seq, mask, values) = input_values(&self.inputs, encodings)?;

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

/// The inputs of a BERT-style ONNX model (`input_ids`, and `attention_mask`,
/// `token_type_ids` when it has them), refusing any other input.
pub(crate) fn model_inputs(session: &Session, model: &Path) -> Result<Vec<ModelInput>> {
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
                    model.display()
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
                    model.display(),
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
            model.display()
        )));
    }
    Ok(inputs)
}

/// An input tensor fed to an ONNX model.
pub(crate) type InputValue = (String, ort::session::SessionInputValue<'static>);

/// The padded `[batch, seq]` input tensors of `encodings` for `inputs`; returns the sequence
/// length, the attention mask and the tensors.
pub(crate) fn input_values(
    inputs: &[ModelInput],
    encodings: &[&Encoding],
) -> Result<(usize, Vec<i64>, Vec<InputValue>)> {
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
    let mut values: Vec<InputValue> = Vec::new();
    for input in inputs {
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
    Ok((seq, mask, values))
}

/// Returns the C heap's free pages to the system (glibc keeps them otherwise; ONNX Runtime
/// allocates through it).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub(crate) fn trim_heap() {
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
pub(crate) fn trim_heap() {}

/// Splits texts sorted by token count (`lengths`, ascending) into consecutive batches of at
/// most `max_texts` texts and, when `max_tokens` is not 0, at most `max_tokens` padded tokens
/// (texts × the longest one's length); a text longer than `max_tokens` is a batch of its own.
fn batch_sizes(lengths: &[usize], max_texts: usize, max_tokens: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut size = 0usize;
    for &len in lengths {
        let fits = size < max_texts.max(1) && (max_tokens == 0 || (size + 1) * len <= max_tokens);
        if size > 0 && !fits {
            sizes.push(size);
            size = 0;
        }
        size += 1;
    }
    if size > 0 {
        sizes.push(size);
    }
    sizes
}

fn dim_mismatch(model: &Path, actual: usize, configured: usize) -> Error {
    Error::Model(format!(
        "ONNX model {} produces {actual}-dimensional vectors but embedding.dim is {configured}; \
         set embedding.dim = {actual}",
        model.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::batch_sizes;

    #[test]
    fn batches_hold_at_most_the_texts_and_padded_tokens_allowed() {
        // Short texts fill whole batches; long ones go in smaller batches.
        let lengths = [10; 40].into_iter().chain([256; 20]).collect::<Vec<_>>();
        assert_eq!(batch_sizes(&lengths, 32, 2048), vec![32, 8, 8, 8, 4]);
        // The first text of a batch is padded to by the later ones: the batch closes when
        // the next text would pad it past the budget.
        assert_eq!(batch_sizes(&[100, 100, 600, 600], 32, 1000), vec![2, 1, 1]);
        // No token limit: batches of `max_texts`.
        assert_eq!(batch_sizes(&[300; 5], 2, 0), vec![2, 2, 1]);
        // A text longer than the budget still runs, alone.
        assert_eq!(batch_sizes(&[5000, 5000], 32, 2048), vec![1, 1]);
        assert!(batch_sizes(&[], 32, 2048).is_empty());
    }
}
