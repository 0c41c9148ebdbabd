//! The catalog: Cairn's source of truth, in SQLite (WAL, versioned migrations).
//!
//! Folders hold documents; a document (one path) has versions, each with a content hash and a
//! status (current / superseded / deleted / deprecated); a version has chunks with their byte
//! span, page and heading path. Vectors are cached by (model, hash of the embedded text), so an
//! unchanged chunk is never embedded twice. tantivy and usearch are derived from these tables:
//! each records the catalog generation it reflects, and is rebuilt when it lags.
//!
//! This file holds the [`Catalog`] type (opening, the `meta` table, generation counters), the
//! typed ids and the helpers the submodules share. Each submodule adds one `impl Catalog` block
//! for its tables, and everything public is re-exported here (`catalog::X`). The engine never
//! names a `Catalog`: it holds the storage seam's traits ([`crate::store`]), which
//! `store::embedded` implements over these methods.
//!
//! - `schema`: the migrations and how they are applied;
//! - `documents`: folders, documents, versions, [`Catalog::apply_batch`] (new versions,
//!   renames, deletions), the library list and a document's history;
//! - `chunks`: chunk reads, the embedding cache and the backlog of chunks waiting for a vector;
//! - `filters`: search filters resolved to the chunks a retriever may return;
//! - `marks`: deprecations, tags and conflicts between passages;
//! - `problems`: files that could not be indexed;
//! - `forget`: erasing documents from every table (and redacting the audit log), the list of
//!   forgotten paths a scan leaves alone, shrinking the file so the bytes leave the disk;
//! - `status`: counts for `cairn status` and the integrity check.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use crate::error::Result;
use crate::ids::typed_id;

mod chunks;
mod documents;
mod filters;
mod forget;
mod marks;
mod ocr;
mod problems;
mod schema;
mod status;

pub use chunks::{blob_to_vector, vector_to_blob, ChunkRecord, PendingChunk};
pub use documents::{
    Batch, BatchOutcome, ChunkMail, DocumentRow, Folder, KnownDoc, NewChunk, NewVersion,
    VersionInfo, VersionStatus,
};
pub use filters::{ChunkFilter, Filters};
pub use forget::{Erased, Forgotten};
pub use marks::{Conflict, Deprecation, Marks};
pub use ocr::{OcrBacklog, OcrWork};
pub use problems::Problem;
pub use status::{CatalogStats, Integrity};

typed_id!(
    /// A watched folder.
    FolderId
);
typed_id!(
    /// A document: one path, across all its versions.
    DocId
);
typed_id!(
    /// One version of a document's content.
    VersionId
);
typed_id!(
    /// One chunk of one version; also the key in tantivy and usearch.
    ChunkId
);

impl ChunkId {
    /// The key used in the derived indexes.
    pub fn key(self) -> u64 {
        self.0 as u64
    }
    /// Inverse of [`ChunkId::key`].
    pub fn from_key(key: u64) -> ChunkId {
        ChunkId(key as i64)
    }
}

/// Which derived index a generation counter belongs to.
#[derive(Debug, Clone, Copy)]
pub enum Generation {
    /// Bumped by every change to the set of current chunks (what tantivy reflects).
    Text,
    /// Bumped by that and by every stored vector (what usearch reflects).
    Vector,
}

impl Generation {
    fn key(self) -> &'static str {
        match self {
            Generation::Text => "text_generation",
            Generation::Vector => "vector_generation",
        }
    }
}

/// The SQLite catalog.
pub struct Catalog {
    conn: Connection,
    path: PathBuf,
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The catalog key of a path: exact for names that are not UTF-8 (see [`crate::paths::to_key`]).
fn path_str(path: &Path) -> String {
    crate::paths::to_key(path).into_owned()
}

fn heading_json(path: &[String]) -> String {
    serde_json::to_string(path).unwrap_or_else(|_| "[]".into())
}

fn parse_heading(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

impl Catalog {
    /// Opens (creating and migrating as needed) the catalog at `path`.
    pub fn open(path: &Path) -> Result<Catalog> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // FULL: a committed batch survives a power loss too (NORMAL keeps the database sound
        // but may lose the last commits); one fsync of the WAL per commit.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Deleted rows are overwritten with zeros, not left in free pages (see `forget`).
        conn.pragma_update(None, "secure_delete", "ON")?;
        let mut catalog = Catalog {
            conn,
            path: path.to_owned(),
        };
        catalog.migrate()?;
        Ok(catalog)
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection, for modules that own their tables (answers, sessions, audit).
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    // ---- meta -------------------------------------------------------------------------------

    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// The current value of a generation counter.
    pub fn generation(&self, which: Generation) -> Result<u64> {
        Ok(self
            .meta(which.key())?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    /// Adds one to a generation counter, inside the write transaction that changed what it
    /// counts.
    fn bump(tx: &Transaction<'_>, which: Generation) -> Result<()> {
        tx.execute(
            "INSERT INTO meta(key, value) VALUES (?1, '1')
             ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
            [which.key()],
        )?;
        Ok(())
    }

    /// The embedding model whose vectors this catalog's index holds, if any.
    pub fn index_model(&self) -> Result<Option<String>> {
        self.meta("embedding_model")
    }
}
