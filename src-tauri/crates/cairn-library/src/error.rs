//! [`ErrorInfo`], an error as the window shows it, and the app's own wording of what to do about
//! each [`cairn_core::Error`] ([`hint`]): where the engine's hint names a CLI command, the app
//! names its own buttons and settings instead.

use cairn_core::error::DbCause;
use cairn_core::Error;
use serde::{Deserialize, Serialize};

/// An error as the UI shows it: a stable kind, the message, and what to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ErrorInfo {
    /// Stable machine-readable kind (`io`, `locked`, `not_found`, `internal`, ...).
    pub kind: String,
    pub message: String,
    /// What the user can do about it.
    pub hint: String,
    /// True when the user caused it and can fix it; false for internal failures.
    pub user_error: bool,
}

impl ErrorInfo {
    /// An internal failure outside the engine (a crashed task, a failed OS call).
    pub fn internal(message: impl Into<String>) -> ErrorInfo {
        ErrorInfo {
            kind: "internal".into(),
            message: message.into(),
            hint: "This is a bug in Cairn: restart the app; if it happens again, report it with the message.".into(),
            user_error: false,
        }
    }

    /// A team library form that cannot make a URL.
    pub(crate) fn team_form(message: &str) -> ErrorInfo {
        ErrorInfo {
            kind: "team_form".into(),
            message: message.into(),
            hint: "Fill in the server, port, database and user of the team library.".into(),
            user_error: true,
        }
    }

    /// A server that holds no library (or no pgvector) yet.
    pub(crate) fn team_not_ready(server: &str, found: &str) -> ErrorInfo {
        ErrorInfo {
            kind: "team_not_a_library".into(),
            message: format!("team library {server}: {found}"),
            hint: "Create it with \"Create library\" if your role may, or ask the library's administrator to set it up (docs/team.md).".into(),
            user_error: true,
        }
    }

    /// A role that may read no collection.
    pub(crate) fn team_no_collection(server: &str) -> ErrorInfo {
        ErrorInfo {
            kind: "team_no_collection".into(),
            message: format!("team library {server}: your role may read no collection"),
            hint: "Ask the library's administrator to grant your role a collection (`cairn team grant COLLECTION ROLE`).".into(),
            user_error: true,
        }
    }

    /// A write asked of a team library, which this app only reads.
    pub(crate) fn team_read_only(server: &str) -> ErrorInfo {
        ErrorInfo {
            kind: "team_read_only".into(),
            message: format!("team library {server} is indexed by the team's indexer, not by this app"),
            hint: "Folders, indexing and curation of a team library are done where `cairn watch` runs (docs/team.md); switch back to your personal library in Settings to index your own folders.".into(),
            user_error: true,
        }
    }

    /// A read that gave up waiting for the library to open.
    pub(crate) fn still_opening() -> ErrorInfo {
        ErrorInfo {
            kind: "opening".into(),
            message: "the library is still opening".into(),
            hint: "Wait a moment and try again.".into(),
            user_error: true,
        }
    }
}

/// What the user can do about `e`, in the app's words. Every variant is named (no catch-all),
/// so a new engine error makes this crate decide how the window words it.
fn hint(e: &Error) -> &'static str {
    match e {
        _ if e.is_disk_full() => {
            "The disk is full: free some space, then re-index; nothing already indexed was lost."
        }
        Error::Io { .. } if e.is_permission_denied() => {
            "Check the permissions of that file or folder, or choose a folder Cairn may read."
        }
        Error::Io { .. } => "Check that the file or folder exists and can be read.",
        Error::Config { .. } => {
            "Fix the named setting in Settings (or in config.toml; see docs/config.md), or delete config.toml to use the defaults."
        }
        Error::Parse { .. } => "The file is skipped and listed under Problems in the library.",
        Error::ModelMismatch { .. } => {
            "The library was embedded with another model: set that model back in Settings, or re-embed the library with the configured one."
        }
        Error::NotFound(_) => "Check the name or path; the library lists what Cairn knows.",
        Error::Invalid(_) => "Check what was entered and try again.",
        Error::Model(_) => {
            "Keyword search works without it. Install the model files (`bash models/fetch.sh`) or point Settings at an ONNX model."
        }
        Error::Locked(_) => {
            "Another Cairn process (e.g. `cairn watch` or `cairn index`) is indexing this library: the app shows it read-only until that process stops; then restart the app."
        }
        Error::Cancelled => "Re-index the library to resume where it stopped.",
        Error::Generation(_) => {
            "Check the answer model in Settings (a local GGUF file, or a remote endpoint and its key), or switch the answer mode to extractive."
        }
        Error::Catalog(_) | Error::TextIndex(_) | Error::VectorIndex(_) => {
            "Re-index the library to rebuild the search indexes; if that fails, report a bug."
        }
        Error::Database { cause, .. } => match cause {
            DbCause::Url => "Check the team library's address: postgres://USER@HOST:PORT/DATABASE.",
            DbCause::Unreachable => "Check the server name and port, and that the team library's server is running and reachable from this computer.",
            DbCause::Tls => "Check the TLS mode and the certificate files in Settings → Team library (the server's CA; your client certificate and its PKCS#8 key), or ask the library's administrator which the server expects.",
            DbCause::Auth => "Check the user name and password of the team library (Settings → Team library → Connect asks for it again).",
            DbCause::NoDatabase => "Ask the library's administrator for the database name.",
            DbCause::NoExtension => "The server lacks pgvector: ask its administrator to run CREATE EXTENSION vector.",
            DbCause::Permission => "Your database role may not do this: ask the library's administrator.",
            DbCause::Other => "Try again; if it persists, ask the library's administrator to check the server's log.",
        },
    }
}

/// The kind the window sees: the engine's, except team library errors, which say why.
fn kind(e: &Error) -> String {
    match e {
        Error::Database { cause, .. } => match cause {
            DbCause::Url => "team_url",
            DbCause::Unreachable => "team_unreachable",
            DbCause::Tls => "team_tls",
            DbCause::Auth => "team_auth",
            DbCause::NoDatabase => "team_no_database",
            DbCause::NoExtension => "team_no_pgvector",
            DbCause::Permission => "team_permission",
            DbCause::Other => "database",
        }
        .into(),
        _ => e.kind().into(),
    }
}

impl From<&Error> for ErrorInfo {
    fn from(e: &Error) -> ErrorInfo {
        ErrorInfo {
            kind: kind(e),
            message: e.to_string(),
            hint: hint(e).into(),
            user_error: e.is_user_error(),
        }
    }
}

impl From<Error> for ErrorInfo {
    fn from(e: Error) -> ErrorInfo {
        ErrorInfo::from(&e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_are_the_apps_and_the_kind_is_the_engines() {
        let locked = ErrorInfo::from(Error::Locked("/data".into()));
        assert_eq!(locked.kind, "locked");
        assert!(locked.user_error);
        assert!(locked.hint.contains("read-only"));
        let missing = ErrorInfo::from(Error::NotFound("nothing here".into()));
        assert_eq!(missing.message, "nothing here");
        assert!(
            missing.hint.contains("the library lists"),
            "{}",
            missing.hint
        );
        let internal = ErrorInfo::from(Error::VectorIndex("broken".into()));
        assert!(!internal.user_error);
        assert!(internal.hint.starts_with("Re-index the library"));
    }
}
