//! The engine's one error type.
//!
//! Errors are split the way a user sees them (after meilisearch): a [`Error::is_user_error`]
//! is something the user caused and can fix (bad path, bad config, missing model file); the
//! rest are internal failures. Every variant names the thing it is about, and
//! [`Error::hint`] says what to do next.

use std::path::PathBuf;

/// Result alias used throughout `cairn-core`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong inside the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or folder could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The configuration file is invalid.
    #[error("invalid configuration in {path}: {message}")]
    Config { path: PathBuf, message: String },
    /// A document could not be parsed; recorded as a problem, never fatal to a run.
    #[error("cannot parse {path}: {reason}")]
    Parse { path: PathBuf, reason: String },
    /// The embedding model (or ONNX Runtime) could not be loaded or run.
    #[error("embedding model: {0}")]
    Model(String),
    /// The index was built with a different embedding model than the one configured.
    #[error(
        "the index holds vectors from model `{stored}` but the configured model is `{configured}`"
    )]
    ModelMismatch { stored: String, configured: String },
    /// A folder, document or other named thing does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The user asked for something invalid (a bad argument, filter or dataset).
    #[error("{0}")]
    Invalid(String),
    /// Another process holds the writer lock on this data directory.
    #[error("another Cairn process is writing to {0}")]
    Locked(PathBuf),
    /// The operation was cancelled (Ctrl-C); committed work is kept.
    #[error("cancelled")]
    Cancelled,
    /// SQLite catalog failure.
    #[error("catalog (SQLite): {0}")]
    Catalog(#[from] rusqlite::Error),
    /// tantivy full-text index failure.
    #[error("text index (tantivy): {0}")]
    TextIndex(#[from] tantivy::TantivyError),
    /// usearch vector index failure.
    #[error("vector index (usearch): {0}")]
    VectorIndex(String),
    /// An answer generator (local model or remote endpoint) is missing or failed.
    #[error("answer generation: {0}")]
    Generation(GenerationError),
}

/// What went wrong with an answer generator, as told by the generator crate (`cairn-llm`):
/// its own kind, message and hint survive the trip through [`Error::Generation`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct GenerationError {
    /// A short, stable name of the cause: `model_file`, `unreachable`, `auth`,
    /// `unknown_model`, `timeout`, `invalid_url`, `keychain`, … (`generation` when unknown).
    pub kind: &'static str,
    /// The message, naming the model file, endpoint or setting concerned.
    pub message: String,
    /// What the user should do about it.
    pub hint: &'static str,
    /// True when the user can fix it (a setting, a file, a URL, a key).
    pub user: bool,
}

impl GenerationError {
    /// The default hint for generation errors without a more specific one.
    pub const DEFAULT_HINT: &'static str = "Check the answer model settings ([llm] in the config: a local GGUF file, or a remote endpoint, its model and its key), or answer without a model: `cairn ask --extractive`.";

    /// A user-fixable generation error with the default hint.
    pub fn new(message: impl Into<String>) -> GenerationError {
        GenerationError {
            kind: "generation",
            message: message.into(),
            hint: Self::DEFAULT_HINT,
            user: true,
        }
    }
}

impl Error {
    /// A user-fixable [`Error::Generation`] with the default hint.
    pub fn generation(message: impl Into<String>) -> Error {
        Error::Generation(GenerationError::new(message))
    }
}

impl Error {
    /// Wraps an I/O error with the action and path it concerns.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// True when the user caused this and can fix it; false for internal failures.
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            Error::Io { .. }
                | Error::Config { .. }
                | Error::Parse { .. }
                | Error::Model(_)
                | Error::ModelMismatch { .. }
                | Error::NotFound(_)
                | Error::Invalid(_)
                | Error::Locked(_)
                | Error::Cancelled
        ) || matches!(self, Error::Generation(g) if g.user)
    }

    /// A short, stable machine-readable name for the kind of error.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Io { .. } => "io",
            Error::Config { .. } => "config",
            Error::Parse { .. } => "parse",
            Error::Model(_) => "model",
            Error::ModelMismatch { .. } => "model_mismatch",
            Error::NotFound(_) => "not_found",
            Error::Invalid(_) => "invalid",
            Error::Locked(_) => "locked",
            Error::Cancelled => "cancelled",
            Error::Catalog(_) => "catalog",
            Error::TextIndex(_) => "text_index",
            Error::VectorIndex(_) => "vector_index",
            Error::Generation(_) => "generation",
        }
    }

    /// What the user should do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::StorageFull => {
                "The disk is full: free some space and run the command again; nothing committed was lost."
            }
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied => {
                "Check the permissions of that path, or choose another data directory with --data-dir."
            }
            Error::Io { .. } => "Check that the path exists and is readable.",
            Error::Config { .. } => {
                "Fix the named setting in the config file (see docs/config.md), or delete the file to use the defaults."
            }
            Error::Parse { .. } => "The file is skipped and listed under problems in `cairn status`.",
            Error::Model(_) => {
                "Run `bash models/fetch.sh` to install the default model files, or point [embedding] in the config at an ONNX model and tokenizer."
            }
            Error::ModelMismatch { .. } => {
                "Run `cairn reindex --embeddings` to re-embed the collection with the configured model, or set the model back in the config."
            }
            Error::NotFound(_) => "Check the name or path; `cairn status` lists what Cairn knows.",
            Error::Invalid(_) => "Check the command's arguments (`cairn help`).",
            Error::Locked(_) => "Wait for the other `cairn index` to finish, or stop it (Ctrl-C) first.",
            Error::Cancelled => "Run the same command again to resume where it stopped.",
            Error::Generation(g) => g.hint,
            Error::Catalog(_) | Error::TextIndex(_) | Error::VectorIndex(_) => {
                "Run `cairn reindex` to rebuild the search indexes from the catalog; if that fails, report a bug."
            }
        }
    }
}
