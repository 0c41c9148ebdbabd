//! The crate's one error type.
//!
//! Every variant names the thing it is about (the model file, the endpoint URL, the model name),
//! and [`Error::hint`] says what the user can do next, like `cairn_core::Error`. Cancelling a
//! generation is not an error: it ends with [`crate::Finish::Cancelled`].

use std::path::PathBuf;
use std::time::Duration;

/// Result alias used throughout `cairn-llm`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while loading a model or generating text.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The local GGUF file is missing, unreadable, or not a model llama.cpp can load.
    #[error("cannot load the model file {path}: {reason}")]
    ModelFile { path: PathBuf, reason: String },
    /// A setting is out of range (zero threads, a context too small, …).
    #[error("invalid generator setting: {0}")]
    Config(String),
    /// The prompt does not fit in the local model's context window.
    #[error(
        "the prompt is {prompt_tokens} tokens but the model's context holds {context} \
         (leaving no room for an answer)"
    )]
    ContextOverflow {
        prompt_tokens: usize,
        context: usize,
    },
    /// The endpoint's base URL is not a usable http(s) URL.
    #[error("invalid endpoint URL `{url}`: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// Plain `http://` to another machine, without `llm.allow_insecure_http`.
    #[error(
        "the endpoint `{url}` is plain http:// to {host}, another machine: questions, sources \
         and the API key would cross the network unencrypted"
    )]
    InsecureHttp { url: String, host: String },
    /// Nothing answered at the endpoint (DNS failure, connection refused, TLS failure).
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// The endpoint refused the credentials (HTTP 401 or 403).
    #[error("{url} refused the request (HTTP {status}): {detail}")]
    Auth {
        url: String,
        status: u16,
        detail: String,
    },
    /// The endpoint does not know the requested model (or Azure deployment).
    #[error("{url} does not serve a model named `{model}`: {detail}")]
    UnknownModel {
        model: String,
        url: String,
        detail: String,
    },
    /// HTTP 404 for the chat-completions path itself: the base URL is probably wrong.
    #[error("{url} does not exist (HTTP 404): {detail}")]
    EndpointNotFound { url: String, detail: String },
    /// HTTP 429 on every attempt.
    #[error("{url} kept answering HTTP 429 (rate limited) after {attempts} attempts")]
    RateLimited { url: String, attempts: u32 },
    /// Any other unsuccessful HTTP status (5xx after the retries, other 4xx).
    #[error("{url} answered HTTP {status}: {body}")]
    Http {
        url: String,
        status: u16,
        /// The start of the response body (a few hundred characters).
        body: String,
    },
    /// The endpoint accepted the connection but did not answer in time.
    #[error("{url} did not answer within {after:?}")]
    Timeout { url: String, after: Duration },
    /// The endpoint answered with something that is not an OpenAI chat-completions response.
    #[error("unexpected response from {url}: {reason}")]
    BadResponse { url: String, reason: String },
    /// llama.cpp failed while evaluating the model.
    #[error("llama.cpp: {0}")]
    Backend(String),
    /// The OS keychain cannot be used: the `keychain` feature is off, or no keychain service
    /// (on Linux, a Secret Service such as GNOME Keyring or KWallet over D-Bus) is running.
    #[error("the OS keychain is not available: {0}")]
    Keychain(String),
}

impl From<Error> for cairn_core::Error {
    fn from(e: Error) -> Self {
        e.into_core()
    }
}

impl Error {
    /// This error as [`cairn_core::Error::Generation`], keeping kind, message, hint and the
    /// user/internal split.
    pub fn into_core(self) -> cairn_core::Error {
        cairn_core::Error::Generation(cairn_core::error::GenerationError {
            kind: self.kind(),
            hint: self.hint(),
            user: self.is_user_error(),
            message: self.to_string(),
        })
    }
}

impl Error {
    /// True when the user can fix this (a setting, a file, a URL, a key); false for failures
    /// inside the backend or the remote service.
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            Error::ModelFile { .. }
                | Error::Config(_)
                | Error::ContextOverflow { .. }
                | Error::InvalidUrl { .. }
                | Error::InsecureHttp { .. }
                | Error::Unreachable { .. }
                | Error::Auth { .. }
                | Error::UnknownModel { .. }
                | Error::EndpointNotFound { .. }
                | Error::Keychain(_)
                | Error::Timeout { .. }
        )
    }

    /// A short, stable machine-readable name for the kind of error.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::ModelFile { .. } => "model_file",
            Error::Config(_) => "config",
            Error::ContextOverflow { .. } => "context_overflow",
            Error::InvalidUrl { .. } => "invalid_url",
            Error::InsecureHttp { .. } => "insecure_http",
            Error::Unreachable { .. } => "unreachable",
            Error::Auth { .. } => "auth",
            Error::UnknownModel { .. } => "unknown_model",
            Error::EndpointNotFound { .. } => "endpoint_not_found",
            Error::RateLimited { .. } => "rate_limited",
            Error::Http { .. } => "http",
            Error::Timeout { .. } => "timeout",
            Error::BadResponse { .. } => "bad_response",
            Error::Backend(_) => "backend",
            Error::Keychain(_) => "keychain",
        }
    }

    /// What the user should do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            Error::ModelFile { .. } => {
                "Run `bash models/fetch.sh` to install the default model, or point the setting at a \
                 GGUF file (a llama.cpp model, e.g. from Hugging Face, ending in .gguf)."
            }
            Error::Config(_) => "Fix the named setting; threads and context must be positive.",
            Error::ContextOverflow { .. } => {
                "Ask with fewer or shorter sources, or raise the context size (up to what the \
                 model was trained with)."
            }
            Error::InvalidUrl { .. } => {
                "Give the endpoint's base URL with its scheme, e.g. http://localhost:11434/v1 \
                 (Ollama) or https://api.openai.com/v1."
            }
            Error::InsecureHttp { .. } => {
                "Use the endpoint's https:// URL; if the network is trusted, set \
                 allow_insecure_http = true under [llm] in the config file (docs/config.md)."
            }
            Error::Unreachable { .. } => {
                "Check that the server is running and the host and port are right \
                 (e.g. `ollama serve`, LM Studio's server tab, or `llama-server --port 8080`)."
            }
            Error::Auth { .. } => {
                "Set the API key in the environment variable named by llm.remote.api_key_env \
                 (default CAIRN_API_KEY), or store it in the OS keychain (the app's settings); \
                 check that it is valid for this endpoint. A key stored for another base URL is \
                 never sent: enter it again after changing the URL."
            }
            Error::UnknownModel { .. } => {
                "Use a model name the server lists at GET <base URL>/models (for Ollama, \
                 `ollama pull NAME` first; for Azure, the deployment name)."
            }
            Error::EndpointNotFound { .. } => {
                "The base URL should be the part before /chat/completions, usually ending in \
                 /v1 (e.g. http://localhost:8080/v1)."
            }
            Error::RateLimited { .. } => {
                "The service is rate limiting this key: wait a minute, lower the request rate, \
                 or raise the retry count."
            }
            Error::Http { .. } => {
                "The server reported a failure; check its logs, or try again later."
            }
            Error::Timeout { .. } => {
                "The server is slow or stuck: raise the timeout, choose a smaller model, or \
                 check the server's load."
            }
            Error::BadResponse { .. } => {
                "Check that the URL points at an OpenAI-compatible chat-completions API."
            }
            Error::Backend(_) => {
                "Try a smaller context or another GGUF file; if it persists, report a bug."
            }
            Error::Keychain(_) => {
                "Set the API key in the environment variable named by llm.remote.api_key_env \
                 (default CAIRN_API_KEY) instead, e.g. `export CAIRN_API_KEY=...` before starting \
                 Cairn."
            }
        }
    }
}
