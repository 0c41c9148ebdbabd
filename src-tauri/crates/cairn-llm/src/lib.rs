//! Cairn's answer generators: one [`Generator`] trait, two implementations.
//!
//! - [`LocalGenerator`] runs a GGUF model in-process with llama.cpp (the `llama-cpp-2` crate).
//!   The prompt is built with the chat template stored in the model file. The default model is
//!   SmolLM2-135M-Instruct (Q4_1), installed by `bash models/fetch.sh`; see
//!   [`default_local_model`]. Any other GGUF file works the same way.
//! - [`RemoteGenerator`] talks to any OpenAI-compatible `/chat/completions` endpoint (Ollama,
//!   LM Studio, llama.cpp's server, vLLM, OpenAI, Azure OpenAI) with SSE streaming, timeouts
//!   and bounded retries. The API key comes from an environment variable (default
//!   `CAIRN_API_KEY`) or, with the `keychain` feature, the OS keychain; never from a file, and
//!   it is never logged or shown by `Debug`.
//!
//! # Blocking
//! Everything here is synchronous: [`Generator::generate`] runs on the caller's thread until
//! the answer is complete or cancelled, and calls `on_token` on that thread. Async callers (the
//! desktop app) must call it from a blocking pool (e.g. `tokio::task::spawn_blocking`) and
//! forward tokens through a channel.
//!
//! # Cancelling
//! A generation stops early when `on_token` returns `false` or when the `cancel` flag is set
//! (checked before every token and between stream events). Cancelling is not an error: the
//! result has [`Finish::Cancelled`] and the text produced so far.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

mod error;
mod local;
mod remote;
mod secret;
mod stream;

pub use error::{Error, Result};
pub use local::{LocalConfig, LocalGenerator, TemplateSource};
pub use remote::{RemoteConfig, RemoteGenerator, DEFAULT_API_KEY_ENV};
pub use secret::ApiKey;
#[cfg(feature = "keychain")]
pub use secret::{store_api_key_in_keychain, KEYCHAIN_SERVICE};

/// Who wrote a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Instructions for the model.
    System,
    /// The person asking.
    User,
    /// An earlier answer of the model.
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

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: Role::System,
            content: content.into(),
        }
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
        }
    }

    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// How to sample an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    /// Upper bound on generated tokens; reaching it ends with [`Finish::Length`].
    pub max_tokens: usize,
    /// 0 (or less) picks the most likely token every time (greedy, deterministic locally);
    /// higher is more varied.
    pub temperature: f32,
    /// Strings that end the answer; the stop string itself is not part of the text. Checked by
    /// Cairn for both generators (and also sent to remote servers, at most 4, as OpenAI allows).
    pub stop: Vec<String>,
    /// Sampling seed, for repeatable answers at temperature > 0 (remote: only servers that
    /// support `seed`).
    pub seed: Option<u64>,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            max_tokens: 512,
            temperature: 0.2,
            stop: Vec::new(),
            seed: None,
        }
    }
}

/// Why a generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// The model ended its answer, or a stop string was produced.
    Stop,
    /// `max_tokens` (or the end of the context window) was reached.
    Length,
    /// `on_token` returned false or the cancel flag was set.
    Cancelled,
}

/// The result of one generation.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    /// The answer: exactly the concatenation of the pieces given to `on_token`.
    pub text: String,
    /// Tokens in the prompt, when known (always locally; remotely only if the server reports
    /// usage).
    pub prompt_tokens: Option<usize>,
    /// Generated tokens: counted locally; remotely the server's usage figure if it sends one,
    /// else the number of streamed content pieces (one per token on common servers).
    pub completion_tokens: usize,
    /// From the call to the first non-empty piece (the whole time if there was none).
    pub time_to_first_token: Duration,
    /// From the call to the end.
    pub total: Duration,
    pub finish: Finish,
}

impl Generation {
    /// Generated tokens per second after the first one (decode speed), if measurable.
    pub fn tokens_per_second(&self) -> Option<f64> {
        let decode = self.total.checked_sub(self.time_to_first_token)?;
        (self.completion_tokens > 1 && !decode.is_zero())
            .then(|| (self.completion_tokens - 1) as f64 / decode.as_secs_f64())
    }
}

/// Something that answers a conversation, token by token.
pub trait Generator: Send + Sync {
    /// Identifies the model: `local:<file name>` or `remote:<base URL>#<model>`.
    fn model_id(&self) -> String;

    /// The remote endpoint's base URL; `None` for a local model.
    fn endpoint(&self) -> Option<String>;

    /// Generates an answer to `messages`, streaming pieces of text to `on_token` as they come.
    ///
    /// Blocks the calling thread until done (see the crate docs). Returning `false` from
    /// `on_token`, or setting `cancel`, stops early with [`Finish::Cancelled`]. The returned
    /// [`Generation::text`] is exactly what `on_token` received.
    fn generate(
        &self,
        messages: &[ChatMessage],
        opts: &GenerateOptions,
        cancel: &AtomicBool,
        on_token: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Generation>;
}

/// Environment variable that overrides where the models directory is.
pub const MODELS_DIR_ENV: &str = "CAIRN_MODELS_DIR";

/// Path of the default local model inside the models directory (see `models/manifest.toml`).
pub const DEFAULT_LOCAL_MODEL: &str = "smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf";

/// The models directory, found the way `cairn_core::embed::default_models_dir` finds it:
/// `$CAIRN_MODELS_DIR`; else a `models/dist` folder next to the executable or in any parent
/// folder, then the same from the current directory; else `<exe_dir>/../share/cairn/models` or
/// `<exe_dir>/resources/models`. (Reimplemented so this crate does not depend on `cairn-core`.)
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

/// The default local model (SmolLM2-135M-Instruct Q4_1) if it is installed in the models
/// directory ([`default_models_dir`]); `None` if not (run `bash models/fetch.sh`).
pub fn default_local_model() -> Option<PathBuf> {
    let path = default_models_dir()?.join(DEFAULT_LOCAL_MODEL);
    path.is_file().then_some(path)
}
