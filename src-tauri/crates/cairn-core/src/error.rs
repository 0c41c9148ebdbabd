//! The engine's one error type.
//!
//! Errors are split the way a user sees them (after meilisearch): a [`Error::is_user_error`]
//! is something the user caused and can fix (bad path, bad config, missing model file); the
//! rest are internal failures. Every variant names the thing it is about; [`Error::kind`] is a
//! stable [`ErrorKind`]. What to do next is worded by each front end (the CLI's `hints.rs`,
//! the MCP server, the desktop app's `cairn-library`), except for generation errors, whose
//! generator gives its own hint.

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
    /// A team library's PostgreSQL server refused or failed (`server` is `user@host:port/db`,
    /// never a password).
    #[error("team library {server}: {message}")]
    Database {
        server: String,
        cause: DbCause,
        message: String,
    },
}

/// Why a team library's database failed, for the front ends' hints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbCause {
    /// The URL is malformed or names an unsupported setting.
    Url,
    /// No server answered (host, port, firewall).
    Unreachable,
    /// TLS failed: the server refused it, its certificate was not trusted, or a certificate
    /// or key file (`sslrootcert`, `sslcert`, `sslkey`) is wrong; the message names which.
    Tls,
    /// The server refused the user or password.
    Auth,
    /// The database does not exist.
    NoDatabase,
    /// The `vector` extension (pgvector) is not installed in the database.
    NoExtension,
    /// The role lacks a privilege (read-only role writing, schema not created yet).
    Permission,
    /// Anything else the server reported.
    Other,
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
            || matches!(self, Error::Database { cause, .. } if *cause != DbCause::Other)
            || self.is_disk_full()
    }

    /// The kind of error, a stable machine-readable value.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Io { .. } => ErrorKind::Io,
            Error::Config { .. } => ErrorKind::Config,
            Error::Parse { .. } => ErrorKind::Parse,
            Error::Model(_) => ErrorKind::Model,
            Error::ModelMismatch { .. } => ErrorKind::ModelMismatch,
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::Invalid(_) => ErrorKind::Invalid,
            Error::Locked(_) => ErrorKind::Locked,
            Error::Cancelled => ErrorKind::Cancelled,
            Error::Catalog(_) => ErrorKind::Catalog,
            Error::TextIndex(_) => ErrorKind::TextIndex,
            Error::VectorIndex(_) => ErrorKind::VectorIndex,
            Error::Generation(_) => ErrorKind::Generation,
            Error::Database { .. } => ErrorKind::Database,
        }
    }

    /// The generator's own hint, for [`Error::Generation`] (other hints are worded by each
    /// front end: the CLI, the MCP server, the desktop app).
    pub fn generation_hint(&self) -> Option<&'static str> {
        match self {
            Error::Generation(g) => Some(g.hint),
            _ => None,
        }
    }

    /// True when the failure is a full disk (the front ends say "free some space"), whichever
    /// store hit it: a file Cairn writes, the catalog (SQLite) or the text index (tantivy).
    pub fn is_disk_full(&self) -> bool {
        use tantivy::directory::error::OpenWriteError;
        use tantivy::TantivyError;
        let full = |e: &std::io::Error| e.kind() == std::io::ErrorKind::StorageFull;
        match self {
            Error::Io { source, .. } => full(source),
            Error::Catalog(rusqlite::Error::SqliteFailure(e, _)) => {
                e.code == rusqlite::ErrorCode::DiskFull
            }
            Error::TextIndex(TantivyError::IoError(e)) => full(e),
            Error::TextIndex(TantivyError::OpenWriteError(OpenWriteError::IoError {
                io_error,
                ..
            })) => full(io_error),
            _ => false,
        }
    }

    /// True when the failure is a permission refused by the OS.
    pub fn is_permission_denied(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied)
    }
}

/// The kinds of [`Error`], serialised as snake_case strings (`not_found`, `model_mismatch`,
/// ...), the values the CLI's JSON, the MCP server and the app's bindings carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Io,
    Config,
    Parse,
    Model,
    ModelMismatch,
    NotFound,
    Invalid,
    Locked,
    Cancelled,
    Catalog,
    TextIndex,
    VectorIndex,
    Generation,
    Database,
}

impl ErrorKind {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Io => "io",
            ErrorKind::Config => "config",
            ErrorKind::Parse => "parse",
            ErrorKind::Model => "model",
            ErrorKind::ModelMismatch => "model_mismatch",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Invalid => "invalid",
            ErrorKind::Locked => "locked",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Catalog => "catalog",
            ErrorKind::TextIndex => "text_index",
            ErrorKind::VectorIndex => "vector_index",
            ErrorKind::Generation => "generation",
            ErrorKind::Database => "database",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ErrorKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl From<ErrorKind> for String {
    fn from(k: ErrorKind) -> String {
        k.as_str().to_owned()
    }
}
