//! What to do about an engine error, in the CLI's words (the desktop app and the MCP server word
//! their own).

use cairn_core::error::DbCause;
use cairn_core::Error;

/// The CLI's hint for `e`.
pub fn hint(e: &Error) -> &'static str {
    match e {
            _ if e.is_disk_full() => {
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
            Error::Database { cause, .. } => match cause {
                DbCause::Url => "Check the library URL: postgres://USER@HOST:PORT/DATABASE[?sslmode=require] (docs/team.md).",
                DbCause::Unreachable => "Check that the PostgreSQL server named is running and reachable from here (host, port, firewall, sslmode).",
                DbCause::Tls => "Check sslmode and the certificate files in the URL (sslrootcert: the server's CA; sslcert/sslkey: your client certificate and its PKCS#8 key, PEM) (docs/team.md, TLS).",
                DbCause::Auth => "Check the user and password: set PGPASSWORD, or store it in the OS keychain (service cairn-postgres, account USER@HOST:PORT/DB); never in a config file.",
                DbCause::NoDatabase => "Create the database first (`createdb`), or check its name in the URL (docs/team.md).",
                DbCause::NoExtension => "Install pgvector on the server and run `CREATE EXTENSION vector;` in the database as a superuser (docs/team.md).",
                DbCause::Permission => "Your database role lacks a privilege for this: ask the library's administrator (docs/team.md, roles).",
                DbCause::Other => "Check the PostgreSQL server's log; if the error persists, report a bug.",
            },
        }
}
