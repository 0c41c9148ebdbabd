//! Cited answers: the layer between retrieval and a language model.
//!
//! [`crate::engine::Engine::ask`] runs one question through these steps:
//! 1. **Rewrite** a follow-up into a standalone query ([`rewrite`]): with a generator, a small
//!    strict prompt; without one, or when its output is unusable, a heuristic.
//! 2. **Retrieve** passages (hybrid search, the configured filters) and measure the
//!    **evidence** ([`abstain`]): the question's best dense cosine placed between the
//!    collection's own calibrated anchors, averaged with the share of its words the best
//!    passages contain. Below `answer.abstain_threshold` the answer is "I don't know" with the
//!    nearest passages, and no model is called.
//! 3. **Answer**: generatively, with the versioned instructions of
//!    `prompts/answer-v1.toml` and the sources as quoted, fenced data ([`prompt`]); or
//!    extractively, with the best supporting sentences quoted verbatim ([`extract`]).
//! 4. **Check** every `[n]` citation against its passage ([`crate::cite`]).
//! 5. **Record** the whole exchange in the audit log ([`crate::audit`]).
//!
//! The [`Generator`] trait is implemented outside this crate (`cairn-llm`: llama.cpp and
//! OpenAI-compatible endpoints), so `cairn-core` never depends on a model runtime.

pub mod abstain;
pub mod answer_type;
pub mod ask;
pub mod conversation;
pub mod evidence;
pub mod extract;
pub mod prompt;
pub mod quote;
pub mod rewrite;

use crate::stop::StopToken;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::catalog::Filters;
use crate::cite::{SentenceCheck, Verdict};
use crate::engine::SearchHit;
use crate::error::Result;
use conversation::{AuditId, SessionId};

/// Who speaks in a chat prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    /// The role's name in chat templates and the OpenAI API.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One message of a chat prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    pub fn system(content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role: Role::System,
            content: content.into(),
        }
    }

    pub fn user(content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role: Role::User,
            content: content.into(),
        }
    }

    pub fn assistant(content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// Sampling settings for one generation.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    /// Upper bound on generated tokens; reaching it ends with [`Finish::Length`].
    pub max_tokens: usize,
    /// 0 picks the most likely token every time (greedy); higher is more varied.
    pub temperature: f32,
    /// Generation stops before any of these strings (the stop string is not part of the text).
    pub stop: Vec<String>,
    /// Sampling seed, for repeatable answers at temperature > 0 (remote: only servers that
    /// support `seed`).
    pub seed: Option<u64>,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            max_tokens: 512,
            temperature: 0.2,
            stop: Vec::new(),
            seed: None,
        }
    }
}

/// Why a generation ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Finish {
    /// The model ended its answer, or a stop string was produced.
    #[default]
    Stop,
    /// `max_tokens` (or the end of the context window) was reached.
    Length,
    /// The cancel flag was set.
    Cancelled,
}

/// What a generation produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GenerationOutput {
    /// The answer: exactly the concatenation of the pieces given to `on_token`.
    pub text: String,
    /// Tokens in the prompt, when known (always locally; remotely if the server reports usage).
    pub prompt_tokens: Option<usize>,
    /// Generated tokens (remotely the server's usage figure, else the streamed pieces).
    pub completion_tokens: usize,
    /// From the call to the first non-empty piece (None when nothing was generated).
    pub time_to_first_token: Option<Duration>,
    pub total: Duration,
    pub finish: Finish,
}

impl GenerationOutput {
    /// The cancel flag stopped it; `text` holds what came before.
    pub fn cancelled(&self) -> bool {
        self.finish == Finish::Cancelled
    }

    /// Generated tokens per second after the first one (decode speed), if measurable.
    pub fn tokens_per_second(&self) -> Option<f64> {
        let decode = self.total.checked_sub(self.time_to_first_token?)?;
        (self.completion_tokens > 1 && !decode.is_zero())
            .then(|| (self.completion_tokens - 1) as f64 / decode.as_secs_f64())
    }
}

/// A chat model that writes answers: a local GGUF model or a remote OpenAI-compatible
/// endpoint (implemented in `cairn-llm`). Implementations stream tokens to `on_token` as they
/// arrive, stop soon after `cancel` is set (returning the partial text with
/// [`Finish::Cancelled`]), and report failures as [`crate::Error::Generation`].
///
/// `generate` blocks the calling thread until the answer is complete; async callers run it on
/// a blocking pool and forward tokens through a channel.
pub trait Generator: Send + Sync {
    /// The model's identifier, recorded with every answer.
    fn model_id(&self) -> String;
    /// The remote endpoint, or None for a local model.
    fn endpoint(&self) -> Option<String>;
    /// True for a model running in this process (a GGUF file through llama.cpp): its answers
    /// use `[answer.local]` ([`answer_settings`]). Default: false.
    fn in_process(&self) -> bool {
        false
    }
    /// Checks, before the answer prompt is rendered, what can be checked without sending any
    /// document text (a remote generator: that the endpoint serves the model). An error here
    /// means nothing was sent, so [`crate::engine::Engine::ask`] records no audit row for it;
    /// a failure of [`Generator::generate`] is recorded. Default: nothing to check.
    fn prepare(&self) -> Result<()> {
        Ok(())
    }
    fn generate(
        &self,
        messages: &[ChatMessage],
        opts: &GenerateOptions,
        cancel: &StopToken,
        on_token: &mut dyn FnMut(&str),
    ) -> Result<GenerationOutput>;
}

/// The answer settings for `generator`: `[answer]`, with `[answer.local]`'s values for an
/// in-process model.
pub fn answer_settings(
    cfg: &crate::config::AnswerConfig,
    generator: Option<&dyn Generator>,
) -> crate::config::AnswerConfig {
    match generator {
        Some(g) if g.in_process() => cfg.for_local_model(),
        _ => cfg.clone(),
    }
}

/// How to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnswerMode {
    /// A model writes the answer from the sources (needs a [`Generator`]).
    Generative,
    /// No model: the best supporting sentences of the sources, verbatim, each cited.
    Extractive,
}

impl AnswerMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerMode::Generative => "generative",
            AnswerMode::Extractive => "extractive",
        }
    }
}

/// A question for [`crate::engine::Engine::ask`].
#[derive(Debug, Clone)]
pub struct AskRequest {
    pub question: String,
    /// Continue this conversation (its last question informs the rewrite; the exchange is
    /// appended to it).
    pub session: Option<SessionId>,
    pub filters: Filters,
    pub mode: AnswerMode,
    /// Sources given to the answerer (0: `answer.sources` from the config).
    pub limit: usize,
}

impl AskRequest {
    pub fn new(question: impl Into<String>, mode: AnswerMode) -> AskRequest {
        AskRequest {
            question: question.into(),
            session: None,
            filters: Filters::default(),
            mode,
            limit: 0,
        }
    }
}

/// A numbered source passage of an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub n: usize,
    pub chunk_id: i64,
    #[serde(with = "crate::paths::serde_key")]
    pub path: PathBuf,
    pub version: i64,
    pub page: Option<u32>,
    pub heading: Vec<String>,
    pub title: Option<String>,
    /// Byte span of the passage in the version's extracted text.
    pub byte_span: (usize, usize),
    pub score: f32,
    pub text: String,
}

impl Source {
    pub(crate) fn from_hit(n: usize, h: &SearchHit) -> Source {
        Source {
            n,
            chunk_id: h.chunk_id.0,
            path: h.path.clone(),
            version: h.version,
            page: h.page,
            heading: h.heading.clone(),
            title: h.title.clone(),
            byte_span: (h.byte_start, h.byte_end),
            score: h.score,
            text: h.text.clone(),
        }
    }

    /// Title and heading path, for the citation checker.
    pub(crate) fn context(&self) -> String {
        let mut c = self.title.clone().unwrap_or_default();
        for h in &self.heading {
            c.push(' ');
            c.push_str(h);
        }
        c
    }
}

/// A citation of an answer, resolved to its passage and checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Citation {
    pub n: usize,
    /// Index of the sentence carrying it, in [`Answer::sentences`].
    pub sentence: usize,
    pub verdict: Verdict,
    /// Share of the sentence's content words found in the passage.
    pub support: f32,
    pub reason: Option<String>,
    /// The cited passage (None for an invalid citation).
    #[serde(with = "crate::paths::serde_key::option")]
    pub path: Option<PathBuf>,
    pub version: Option<i64>,
    pub page: Option<u32>,
    pub byte_span: Option<(usize, usize)>,
    pub chunk_id: Option<i64>,
}

/// Latencies of one answer, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// Rewriting the question (a model call when a generator rewrote it).
    pub rewrite_ms: f64,
    /// Retrieval and the evidence check.
    pub retrieval_ms: f64,
    /// From the start of generation to its first token.
    pub ttft_ms: Option<f64>,
    /// Tokens of the answer prompt, when the model reports them (None without a model).
    #[serde(default)]
    pub prompt_tokens: Option<usize>,
    /// Tokens the model generated for the answer (None without a model).
    #[serde(default)]
    pub completion_tokens: Option<usize>,
    /// Decode speed of the answer: generated tokens per second after the first.
    #[serde(default)]
    pub tokens_per_second: Option<f64>,
    /// Generation (or extraction) alone.
    pub generation_ms: f64,
    /// The whole call.
    pub total_ms: f64,
}

/// Why an answer is "I don't know".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AbstainedBy {
    /// The evidence was below the threshold: no model was called.
    Evidence,
    /// The model said the sources do not hold the answer.
    Model,
}

/// A cited answer.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    pub text: String,
    pub mode: AnswerMode,
    pub citations: Vec<Citation>,
    /// The answer's sentences; `uncited` ones carry no citation.
    pub sentences: Vec<SentenceCheck>,
    /// The numbered sources the answer was written from (empty when abstained by evidence).
    pub sources: Vec<Source>,
    pub abstained: bool,
    pub abstained_by: Option<AbstainedBy>,
    /// The nearest passages, shown with an "I don't know".
    pub nearest: Vec<SearchHit>,
    pub evidence: abstain::Evidence,
    pub audit_id: AuditId,
    pub session: Option<SessionId>,
    pub question: String,
    pub rewritten_query: String,
    pub template_version: String,
    pub model_id: Option<String>,
    pub endpoint: Option<String>,
    pub timings: Timings,
    pub cancelled: bool,
    /// E.g. "semantic index covers 40% of passages".
    pub notice: Option<String>,
}

impl Answer {
    /// True when every citation is supported and no sentence is uncited.
    pub fn fully_supported(&self) -> bool {
        self.citations
            .iter()
            .all(|c| c.verdict == Verdict::Supported)
            && self.sentences.iter().all(|s| !s.uncited)
    }
}
