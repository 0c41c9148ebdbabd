//! Cairn's answer generators: two implementations of [`cairn_core::answer::Generator`].
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
//! The CLI and the desktop app build the configured generator with [`from_config`], check the
//! settings with [`test_connection`], and keep the API key in the OS keychain with
//! [`store_api_key`] / [`load_api_key`] / [`delete_api_key`].
//!
//! # Blocking
//! Everything here is synchronous: [`Generator::generate`] runs on the caller's thread until
//! the answer is complete or cancelled, and calls `on_token` on that thread. Async callers (the
//! desktop app) must call it from a blocking pool (e.g. `tokio::task::spawn_blocking`) and
//! forward tokens through a channel.
//!
//! # Cancelling
//! A generation stops early when the `cancel` flag is set (checked before every token and
//! between stream events). Cancelling is not an error: the result has [`Finish::Cancelled`]
//! and the text produced so far.
//!
//! # Errors
//! This crate's [`Error`] names the model file, URL or model, and says what to do
//! ([`Error::hint`]); it converts into [`cairn_core::Error::Generation`] keeping its kind,
//! message, hint and user/internal split, which is what the public entry points return.

use cairn_core::stop::StopToken;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use cairn_core::config::{Config, LlmConfig, LlmProvider};
use serde::Serialize;

mod error;
mod local;
mod remote;
mod secret;
mod stream;

pub use cairn_core::answer::{
    ChatMessage, Finish, GenerateOptions, GenerationOutput, Generator, Role,
};
pub use cairn_core::config::{DEFAULT_API_KEY_ENV, DEFAULT_LOCAL_LLM};
pub use error::{Error, Result};
pub use local::{LocalConfig, LocalGenerator, PromptPiece, TemplateSource};
pub use remote::{RemoteConfig, RemoteGenerator};
pub use secret::{
    delete_api_key, endpoint_origin, key_source, keychain_enabled, load_api_key, store_api_key,
    ApiKey, KeySource, KEYCHAIN_SERVICE,
};

/// A generator that can be shared between threads (what [`from_config`] returns).
pub type BoxedGenerator = Box<dyn Generator + Send + Sync>;

/// The default local model (SmolLM2-135M-Instruct Q4_1) if it is installed in the models
/// directory ([`cairn_core::embed::default_models_dir`]); `None` if not (run
/// `bash models/fetch.sh`).
pub fn default_local_model() -> Option<PathBuf> {
    let path = cairn_core::config::LocalLlmConfig::default().model_path();
    path.is_file().then_some(path)
}

/// The [`LocalConfig`] for `[llm.local]` (an empty model path means the default model).
pub fn local_config(cfg: &LlmConfig) -> LocalConfig {
    LocalConfig {
        threads: cfg.local.threads,
        context: cfg.local.context,
        ..LocalConfig::new(cfg.local.model_path())
    }
}

/// The [`RemoteConfig`] for `[llm.remote]`.
pub fn remote_config(cfg: &LlmConfig) -> RemoteConfig {
    let r = &cfg.remote;
    RemoteConfig {
        api_key_env: r.api_key_env.trim().to_owned(),
        timeout: Duration::from_secs(r.timeout_secs.max(1)),
        max_retries: r.max_retries,
        azure_api_version: r.azure_api_version.clone(),
        allow_insecure_http: cfg.allow_insecure_http,
        ..RemoteConfig::new(r.base_url.trim(), r.model.trim())
    }
}

/// The answer generator configured in `config.llm`: a loaded local model, a remote endpoint
/// (not contacted yet), or `None` when `provider = "none"`.
///
/// Loading a local model takes a moment (it maps the file; 135M parameters load in well under
/// a second); call it once and keep the generator. Errors name the model file or the URL and
/// say what to do (see [`Error::hint`]).
pub fn from_config(config: &Config) -> cairn_core::Result<Option<BoxedGenerator>> {
    from_llm_config(&config.llm)
}

/// [`from_config`] for the `[llm]` section alone.
pub fn from_llm_config(cfg: &LlmConfig) -> cairn_core::Result<Option<BoxedGenerator>> {
    cfg.check().map_err(|m| Error::Config(m).into_core())?;
    Ok(match cfg.provider {
        LlmProvider::None => None,
        LlmProvider::Local => Some(Box::new(LocalGenerator::load(local_config(cfg))?)),
        LlmProvider::Remote => Some(Box::new(RemoteGenerator::new(remote_config(cfg))?)),
    })
}

/// What [`test_connection`] found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionReport {
    pub provider: LlmProvider,
    /// The id recorded with answers: `local:<file name>` or `remote:<base URL>#<model>`.
    pub model_id: String,
    /// The remote base URL (None for a local model).
    pub endpoint: Option<String>,
    /// How long the check took: loading the model and one token locally; the model list or a
    /// one-token completion remotely.
    pub latency_ms: f64,
    /// Models the endpoint lists at `GET /models` (empty locally, or if it lists none).
    pub models: Vec<String>,
    /// Where the API key came from, e.g. "environment variable CAIRN_API_KEY", "OS keychain",
    /// or "none" (never the key itself). None for a local model.
    pub api_key: Option<String>,
    /// A one-line summary for the settings screen.
    pub message: String,
}

/// Checks the `[llm]` settings for a "Test connection" button: loads the local model and
/// generates one token, or asks the remote endpoint for its models (`GET /models`, checking
/// the configured model is among them) and, when it does not list models, for a one-token
/// completion. Errors are the ones an answer would hit (missing file, bad URL, bad key,
/// unknown model, unreachable, timeout), with what to do.
pub fn test_connection(cfg: &LlmConfig) -> cairn_core::Result<ConnectionReport> {
    test_connection_with_key(cfg, None)
}

/// [`test_connection`] with an API key the user has just typed (remote only), used for this
/// test alone: nothing is stored, so settings and keychain stay as they were until the user
/// saves.
pub fn test_connection_with_key(
    cfg: &LlmConfig,
    key: Option<ApiKey>,
) -> cairn_core::Result<ConnectionReport> {
    cfg.check().map_err(|m| Error::Config(m).into_core())?;
    let started = Instant::now();
    let one_token = GenerateOptions {
        max_tokens: 1,
        temperature: 0.0,
        ..GenerateOptions::default()
    };
    let hi = [ChatMessage::user("Say OK.")];
    let never = StopToken::new();
    match cfg.provider {
        LlmProvider::None => Ok(ConnectionReport {
            provider: cfg.provider,
            model_id: "none".into(),
            endpoint: None,
            latency_ms: 0.0,
            models: Vec::new(),
            api_key: None,
            message: "No answer model: answers are extractive (verbatim sentences from the \
                      sources)."
                .into(),
        }),
        LlmProvider::Local => {
            let g = LocalGenerator::load(local_config(cfg))?;
            g.generate(&hi, &one_token, &never, &mut |_| {})?;
            let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
            Ok(ConnectionReport {
                provider: cfg.provider,
                model_id: g.model_id(),
                endpoint: None,
                latency_ms,
                models: Vec::new(),
                api_key: None,
                message: format!(
                    "Loaded {} ({}-token context) and generated a token in {latency_ms:.0} ms.",
                    g.config().model.display(),
                    g.context_len()
                ),
            })
        }
        LlmProvider::Remote => {
            let g = match key {
                Some(key) => RemoteGenerator::with_api_key(remote_config(cfg), key)?,
                None => RemoteGenerator::new(remote_config(cfg))?,
            };
            let models = g.check_model()?;
            if models.is_empty() {
                // No model list (e.g. Azure deployments): a one-token completion instead.
                g.generate(&hi, &one_token, &never, &mut |_| {})?;
            }
            let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
            Ok(ConnectionReport {
                provider: cfg.provider,
                model_id: g.model_id(),
                endpoint: g.endpoint(),
                latency_ms,
                api_key: Some(g.key_source().describe()),
                message: format!(
                    "{} answered in {latency_ms:.0} ms{}; API key: {}.",
                    g.base_url(),
                    if models.is_empty() {
                        String::new()
                    } else {
                        format!(" and serves `{}`", g.config().model)
                    },
                    g.key_source().describe()
                ),
                models,
            })
        }
    }
}
