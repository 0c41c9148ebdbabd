//! What to do about an engine error, in the CLI's words (the desktop app and the MCP server word
//! their own).

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
        }
}
