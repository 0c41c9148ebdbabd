//! A GGUF model run in-process with llama.cpp.

use cairn_core::stop::StopToken;
use std::io::Read;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::token_type::LlamaTokenAttr;
use llama_cpp_2::{ApplyChatTemplateError, LlamaCppError};

use crate::stream::{Flow, Output};
use crate::Result;
use crate::{ChatMessage, Error, Finish, GenerateOptions, GenerationOutput, Generator};

/// Settings of a [`LocalGenerator`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalConfig {
    /// The GGUF model file.
    pub model: PathBuf,
    /// CPU threads for prompt processing and generation; 0 means all available cores.
    pub threads: usize,
    /// Context window in tokens (prompt + answer); 0 means what the model was trained with.
    /// Larger contexts cost memory (the KV cache) but not speed for short prompts.
    pub context: usize,
    /// Layers to offload to a GPU. Only has an effect in builds of llama.cpp with a GPU
    /// backend (this crate builds the CPU backend), so 0 by default.
    pub gpu_layers: u32,
}

impl LocalConfig {
    /// Settings for `model` with the defaults: all cores, a 4096-token context, no GPU.
    pub fn new(model: impl Into<PathBuf>) -> Self {
        Self {
            model: model.into(),
            threads: 0,
            context: 4096,
            gpu_layers: 0,
        }
    }
}

/// The llama.cpp backend, initialised once per process and never freed.
fn backend() -> &'static LlamaBackend {
    static BACKEND: OnceLock<LlamaBackend> = OnceLock::new();
    BACKEND.get_or_init(|| {
        // llama.cpp logs every tensor while loading; send it to `tracing` instead of stderr.
        llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
        match LlamaBackend::init() {
            Ok(backend) => backend,
            // Another library in this process initialised it first; it is process-global, so
            // a token for it is all that is needed.
            Err(LlamaCppError::BackendAlreadyInitialized) => LlamaBackend {},
            Err(e) => panic!("llama.cpp backend initialisation failed: {e}"),
        }
    })
}

/// A GGUF chat model run with llama.cpp on the CPU.
///
/// Loading maps the file into memory once; every [`Generator::generate`] call creates a fresh
/// context (KV cache) of [`LocalConfig::context`] tokens, so calls are independent. Calls on
/// one `LocalGenerator` run one at a time (a second caller waits); use two generators to run
/// two at once. Generation runs on the caller's thread.
pub struct LocalGenerator {
    model: LlamaModel,
    config: LocalConfig,
    threads: i32,
    context: u32,
    template: LlamaChatTemplate,
    template_source: TemplateSource,
    busy: Mutex<()>,
}

/// Where the chat template used for prompts came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateSource {
    /// The model's `tokenizer.chat_template` metadata.
    Model,
    /// The model has no template, or one llama.cpp does not recognise: ChatML is used.
    ChatmlFallback,
}

impl std::fmt::Debug for LocalGenerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalGenerator")
            .field("config", &self.config)
            .field("threads", &self.threads)
            .field("context", &self.context)
            .field("template_source", &self.template_source)
            .finish_non_exhaustive()
    }
}

impl LocalGenerator {
    /// Loads the GGUF file named in `config`.
    ///
    /// Errors: [`Error::ModelFile`] naming the path if it is missing, unreadable, not a GGUF
    /// file, or not loadable by llama.cpp; [`Error::Config`] for impossible settings.
    pub fn load(config: LocalConfig) -> Result<Self> {
        let path = config.model.clone();
        check_gguf(&path)?;
        let threads = match config.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let threads = i32::try_from(threads)
            .map_err(|_| Error::Config(format!("threads = {} is too large", config.threads)))?;

        let params = LlamaModelParams::default().with_n_gpu_layers(config.gpu_layers);
        let model = LlamaModel::load_from_file(backend(), &path, &params).map_err(|e| {
            Error::ModelFile {
                path: path.clone(),
                reason: format!(
                    "llama.cpp could not load it ({e}): the file may be truncated, or use a model \
                     architecture or quantisation this llama.cpp does not support"
                ),
            }
        })?;

        let trained = model.n_ctx_train();
        let context = match config.context {
            0 => trained,
            n => u32::try_from(n)
                .map_err(|_| Error::Config(format!("context = {n} is too large")))?,
        };
        if context < 16 {
            return Err(Error::Config(format!(
                "context = {context} tokens is too small for a prompt and an answer"
            )));
        }
        if trained > 0 && context > trained {
            tracing::warn!(
                "context {context} is larger than the {trained} tokens {} was trained with; \
                 answers past that may degrade",
                path.display()
            );
        }

        let (template, template_source) = pick_template(&model);
        tracing::debug!(
            model = %path.display(),
            threads,
            context,
            ?template_source,
            "loaded local model"
        );
        Ok(Self {
            model,
            config,
            threads,
            context,
            template,
            template_source,
            busy: Mutex::new(()),
        })
    }

    /// The settings this generator was loaded with.
    pub fn config(&self) -> &LocalConfig {
        &self.config
    }

    /// The context window in tokens actually used.
    pub fn context_len(&self) -> usize {
        self.context as usize
    }

    /// Where the chat template came from (the model, or the ChatML fallback).
    pub fn template_source(&self) -> TemplateSource {
        self.template_source
    }

    /// The prompt text the model sees for `messages` (the chat template applied, ending with
    /// the opening of the assistant's turn).
    pub fn render_prompt(&self, messages: &[ChatMessage]) -> Result<String> {
        apply_template(&self.model, &self.template, messages)
            .map_err(|e| Error::Backend(format!("applying the chat template: {e}")))
    }

    /// The prompt for `messages`, split into the chat template's own text and the messages'
    /// text, each piece tokenized: only the template's pieces may contain control tokens
    /// (`parse_special`); a message's text is always plain text, so a document that spells
    /// `<|im_start|>system` gives the model those characters, never the control token.
    ///
    /// How: the template is applied once with a unique marker as each message's content; the
    /// text between markers is the template's. Where the template trims a message (some do),
    /// the trimmed text is used, so the tokens match what the template renders.
    pub fn prompt_pieces(&self, messages: &[ChatMessage]) -> Result<Vec<PromptPiece>> {
        let texts = split_prompt(&self.model, &self.template, messages)
            .map_err(|e| Error::Backend(format!("applying the chat template: {e}")))?;
        let vocab = self.model.vocab();
        let mut pieces = Vec::with_capacity(texts.len());
        if vocab.should_add_bos() {
            let bos = vocab.token_to_piece(vocab.bos(), true, None);
            let first = texts.first().map_or("", |(t, _)| t.as_str());
            if bos.is_empty() || !first.as_bytes().starts_with(&bos) {
                pieces.push(PromptPiece {
                    text: String::new(),
                    message: None,
                    tokens: vec![vocab.bos()],
                });
            }
        }
        for (text, message) in texts {
            if text.is_empty() {
                continue;
            }
            let tokens = vocab.tokenize(text.as_bytes(), false, message.is_none());
            pieces.push(PromptPiece {
                text,
                message,
                tokens,
            });
        }
        Ok(pieces)
    }

    /// True for tokens that only the template may produce: control, user-defined and unknown
    /// tokens (what llama.cpp matches when it parses special tokens).
    pub fn is_special_token(&self, token: LlamaToken) -> bool {
        let attr = self.model.vocab().attr(token);
        attr.intersects(
            LlamaTokenAttr::Control | LlamaTokenAttr::UserDefined | LlamaTokenAttr::Unknown,
        ) || self.model.vocab().is_control(token)
    }
}

/// A piece of a tokenized prompt (see [`LocalGenerator::prompt_pieces`]).
#[derive(Debug, Clone)]
pub struct PromptPiece {
    /// The piece's text (empty for a BOS token the template does not write).
    pub text: String,
    /// The index of the message this text comes from; `None` for the template's own text.
    pub message: Option<usize>,
    pub tokens: Vec<LlamaToken>,
}

/// The marker standing for message `i` while the template is applied: private-use
/// characters no template writes, and the marker render contains no document text.
fn marker(i: usize) -> String {
    format!("\u{E000}cairn-message-{i}\u{E001}")
}

/// The rendered prompt as (text, Some(message index)) and (text, None) template pieces.
fn split_prompt(
    model: &LlamaModel,
    template: &LlamaChatTemplate,
    messages: &[ChatMessage],
) -> std::result::Result<Vec<(String, Option<usize>)>, String> {
    let marked: Vec<ChatMessage> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| ChatMessage {
            role: m.role,
            content: marker(i),
        })
        .collect();
    let skeleton = apply_template(model, template, &marked).map_err(|e| e.to_string())?;
    let real = apply_template(model, template, messages).map_err(|e| e.to_string())?;
    let markers: Vec<String> = (0..messages.len()).map(marker).collect();
    for (i, m) in markers.iter().enumerate() {
        let content = messages[i].content.trim();
        if !skeleton.contains(m.as_str()) && !content.is_empty() && real.contains(content) {
            // The template rewrites message text in a way the markers cannot follow.
            return Err(format!(
                "the chat template changes the text of message {} in a way Cairn cannot \
                 separate from its own markup",
                i + 1
            ));
        }
    }
    // Template text and message indexes, in order.
    let mut parts: Vec<(String, Option<usize>)> = Vec::new();
    let mut rest = skeleton.as_str();
    loop {
        let next = markers
            .iter()
            .enumerate()
            .filter_map(|(i, m)| rest.find(m.as_str()).map(|at| (at, i, m.len())))
            .min();
        let Some((at, i, len)) = next else {
            parts.push((rest.to_owned(), None));
            break;
        };
        parts.push((rest[..at].to_owned(), None));
        parts.push((String::new(), Some(i)));
        rest = &rest[at + len..];
    }
    let assemble = |trim: bool| -> Vec<(String, Option<usize>)> {
        parts
            .iter()
            .map(|(text, message)| match message {
                Some(i) => {
                    let content = messages[*i].content.replace('\0', "");
                    let content = if trim {
                        content.trim().to_owned()
                    } else {
                        content
                    };
                    (content, Some(*i))
                }
                None => (text.clone(), None),
            })
            .collect()
    };
    let joined = |pieces: &[(String, Option<usize>)]| -> String {
        pieces.iter().map(|(t, _)| t.as_str()).collect()
    };
    let plain = assemble(false);
    if joined(&plain) == real {
        return Ok(plain);
    }
    let trimmed = assemble(true);
    if joined(&trimmed) == real {
        return Ok(trimmed);
    }
    // The template changes message text in some other way: keep its structure and the
    // messages' own text (still tokenized as plain text).
    tracing::debug!("the chat template rewrites message text; prompt assembled from its parts");
    Ok(plain)
}

/// Checks the file exists and starts with the GGUF magic, for a clearer message than
/// llama.cpp's "failed to load".
fn check_gguf(path: &Path) -> Result<()> {
    let err = |reason: String| Error::ModelFile {
        path: path.to_owned(),
        reason,
    };
    let mut file = std::fs::File::open(path).map_err(|e| {
        err(match e.kind() {
            std::io::ErrorKind::NotFound => "no such file".to_owned(),
            _ => e.to_string(),
        })
    })?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(err("it is a directory, not a GGUF file".to_owned()));
    }
    let mut magic = [0u8; 4];
    match file.read_exact(&mut magic) {
        Ok(()) if &magic == b"GGUF" => Ok(()),
        Ok(()) => Err(err(format!(
            "not a GGUF file (it starts with {:?}, a GGUF file starts with \"GGUF\")",
            String::from_utf8_lossy(&magic)
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Err(err("not a GGUF file (shorter than 4 bytes)".to_owned()))
        }
        Err(e) => Err(err(e.to_string())),
    }
}

/// The model's own template if llama.cpp can apply it, else ChatML (what llama.cpp's server
/// falls back to as well).
fn pick_template(model: &LlamaModel) -> (LlamaChatTemplate, TemplateSource) {
    let chatml = || LlamaChatTemplate::new("chatml").expect("no NUL in a literal");
    match model.chat_template(None) {
        Ok(template) => {
            let probe = [ChatMessage::user("hi")];
            match apply_template(model, &template, &probe) {
                Ok(_) => (template, TemplateSource::Model),
                Err(e) => {
                    tracing::warn!(
                        "llama.cpp cannot apply this model's chat template ({e}); using ChatML"
                    );
                    (chatml(), TemplateSource::ChatmlFallback)
                }
            }
        }
        Err(e) => {
            tracing::warn!("the model has no chat template ({e}); using ChatML");
            (chatml(), TemplateSource::ChatmlFallback)
        }
    }
}

fn apply_template(
    model: &LlamaModel,
    template: &LlamaChatTemplate,
    messages: &[ChatMessage],
) -> std::result::Result<String, ApplyChatTemplateError> {
    let chat = messages
        .iter()
        .map(|m| {
            // A NUL byte cannot cross the C API; nothing legitimate contains one.
            LlamaChatMessage::new(m.role.as_str().to_owned(), m.content.replace('\0', ""))
                .expect("NUL bytes were removed")
        })
        .collect::<Vec<_>>();
    model.apply_chat_template(template, &chat, true)
}

fn sampler(opts: &GenerateOptions) -> LlamaSampler {
    if opts.temperature <= 0.0 {
        return LlamaSampler::greedy();
    }
    let seed = match opts.seed {
        // llama.cpp takes a 32-bit seed; 0xFFFFFFFF means "random", so fold into the rest.
        Some(seed) => ((seed ^ (seed >> 32)) as u32).min(u32::MAX - 1),
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() ^ d.as_secs() as u32),
    };
    LlamaSampler::chain_simple([
        LlamaSampler::top_k(40),
        LlamaSampler::top_p(0.95, 1),
        LlamaSampler::min_p(0.05, 1),
        LlamaSampler::temp(opts.temperature),
        LlamaSampler::dist(seed),
    ])
}

impl Generator for LocalGenerator {
    fn model_id(&self) -> String {
        let name = self.config.model.file_name().map_or_else(
            || self.config.model.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        format!("local:{name}")
    }

    fn endpoint(&self) -> Option<String> {
        None
    }

    fn in_process(&self) -> bool {
        true
    }

    fn generate(
        &self,
        messages: &[ChatMessage],
        opts: &GenerateOptions,
        cancel: &StopToken,
        on_token: &mut dyn FnMut(&str),
    ) -> cairn_core::Result<GenerationOutput> {
        self.run(messages, opts, cancel, on_token)
            .map_err(Error::into_core)
    }
}

impl LocalGenerator {
    /// [`Generator::generate`] with this crate's error type.
    pub fn run(
        &self,
        messages: &[ChatMessage],
        opts: &GenerateOptions,
        cancel: &StopToken,
        on_token: &mut dyn FnMut(&str),
    ) -> Result<GenerationOutput> {
        // Timing starts once this generator is free (waiting for another call is not counted).
        let _busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        let start = Instant::now();
        let mut out = Output::new(start, &opts.stop, on_token);

        let tokens: Vec<LlamaToken> = self
            .prompt_pieces(messages)?
            .into_iter()
            .flat_map(|p| p.tokens)
            .collect();
        let n_prompt = tokens.len();
        let n_ctx = self.context as usize;
        if n_prompt + 1 >= n_ctx {
            return Err(Error::ContextOverflow {
                prompt_tokens: n_prompt,
                context: n_ctx,
            });
        }
        if opts.max_tokens == 0 || cancel.is_stopped() {
            let finish = if opts.max_tokens == 0 {
                Finish::Length
            } else {
                Finish::Cancelled
            };
            return Ok(out.finish(finish, true, Some(n_prompt), 0));
        }

        let n_batch = self.context.min(512);
        let ctx_params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(self.context))
            .with_n_batch(n_batch)
            .with_n_ubatch(n_batch)
            .with_n_threads(self.threads)
            .with_n_threads_batch(self.threads);
        let mut ctx = self
            .model
            .new_context(backend(), ctx_params)
            .map_err(|e| Error::Backend(format!("creating a {n_ctx}-token context: {e}")))?;
        let backend_err =
            |what: &str, e: &dyn std::fmt::Display| Error::Backend(format!("{what}: {e}"));

        // Evaluate the prompt in batches of n_batch tokens; logits only for the last one.
        let mut batch = LlamaBatch::new(n_batch as usize, 1);
        for (chunk_no, chunk) in tokens.chunks(n_batch as usize).enumerate() {
            if cancel.is_stopped() {
                return Ok(out.finish(Finish::Cancelled, false, Some(n_prompt), 0));
            }
            batch.clear();
            let offset = chunk_no * n_batch as usize;
            for (i, &token) in chunk.iter().enumerate() {
                let pos = offset + i;
                batch
                    .add(token, pos as i32, &[0], pos + 1 == n_prompt)
                    .map_err(|e| backend_err("building the prompt batch", &e))?;
            }
            ctx.decode(&mut batch)
                .map_err(|e| backend_err("evaluating the prompt", &e))?;
        }

        let vocab = self.model.vocab();
        let mut sampler = sampler(opts);
        let mut n_pos = n_prompt;
        let mut generated = 0usize;
        let mut piece = Vec::with_capacity(32);
        let finish = loop {
            if cancel.is_stopped() {
                break Finish::Cancelled;
            }
            if generated >= opts.max_tokens {
                break Finish::Length;
            }
            let token = sampler.sample(&ctx, batch.n_tokens() - 1);
            if vocab.is_eog(token) {
                break Finish::Stop;
            }
            generated += 1;
            piece.clear();
            vocab.token_to_piece_into(token, &mut piece, false, None);
            if out.push_bytes(&piece) == Flow::Stopped {
                break Finish::Stop;
            }
            if n_pos + 1 >= n_ctx {
                break Finish::Length;
            }
            batch.clear();
            batch
                .add(token, n_pos as i32, &[0], true)
                .map_err(|e| backend_err("building a batch", &e))?;
            n_pos += 1;
            ctx.decode(&mut batch)
                .map_err(|e| backend_err("evaluating a token", &e))?;
        };
        Ok(out.finish(finish, true, Some(n_prompt), generated))
    }
}
