//! Copying a library's catalog from one store to another, row by row, without re-embedding
//! (`cairn migrate`): the rows of every table the two stores share, ids kept, parents first,
//! read from one snapshot of the source and written in one transaction into an empty target.
//! The derived indexes are not copied: the engine's writer rebuilds them from the copied
//! catalog afterwards (`engine::migrate`).
//!
//! What each store adds or leaves out is the store's business: the PostgreSQL sink fills the
//! columns only it has (`chunks.current`, `title`, `words`; collections stay `default`), the
//! SQLite sink drops them; store-specific settings (a retriever's generation, the reviewer
//! role) are not carried.

use std::path::PathBuf;

use super::{embedded, postgres};
use crate::config::EmbeddingConfig;
use crate::error::{Error, Result};

/// One value of a copied row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bytes(Vec<u8>),
}

/// A table both stores have, with the columns they share.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [&'static str],
    /// What a person calls its rows, for progress ("passages").
    pub noun: &'static str,
}

const fn table(name: &'static str, noun: &'static str, columns: &'static [&'static str]) -> Table {
    Table {
        name,
        columns,
        noun,
    }
}

/// The tables a copy carries, parents before children (foreign keys hold at every insert).
/// Not carried: `chunk_mail` (the embedded store's mail sender and date per passage; the team
/// store has no mail filters yet), and the team store's `collections` (access control stays
/// with the database it was granted in).
pub const TABLES: &[Table] = &[
    table("meta", "settings", &["key", "value"]),
    table("folders", "folders", &["id", "path", "added_at"]),
    table(
        "documents",
        "documents",
        &["id", "folder_id", "path", "created_at"],
    ),
    table(
        "versions",
        "versions",
        &[
            "id",
            "doc_id",
            "seq",
            "status",
            "content_hash",
            "size",
            "mtime",
            "kind",
            "title",
            "text_len",
            "page_count",
            "chunk_count",
            "created_at",
            "retired_at",
            "stat_ns",
        ],
    ),
    table(
        "chunks",
        "passages",
        &[
            "id",
            "version_id",
            "ordinal",
            "start",
            "end",
            "page",
            "heading",
            "text",
            "embed_hash",
        ],
    ),
    table(
        "embeddings",
        "cached vectors",
        &["model_id", "hash", "vector"],
    ),
    table(
        "problems",
        "problems",
        &["path", "folder_id", "reason", "at", "size", "stat_ns"],
    ),
    table(
        "skipped",
        "skipped files",
        &["path", "folder_id", "size", "stat_ns"],
    ),
    table(
        "deprecations",
        "deprecations",
        &[
            "target",
            "is_pattern",
            "reason",
            "superseded_by",
            "created_at",
        ],
    ),
    table("tags", "tags", &["target", "tag"]),
    table(
        "conflicts",
        "conflicts",
        &["chunk_a", "chunk_b", "similarity", "found_at"],
    ),
    table("sessions", "sessions", &["id", "created_at", "title"]),
    table(
        "messages",
        "messages",
        &[
            "id",
            "session_id",
            "role",
            "content",
            "rewritten",
            "audit_id",
            "created_at",
        ],
    ),
    table("pins", "pins", &["id", "text", "created_at"]),
    table(
        "audit",
        "audit records",
        &[
            "id",
            "at",
            "session_id",
            "question",
            "rewritten_query",
            "mode",
            "abstained",
            "model_id",
            "endpoint",
            "template_version",
            "answer",
            "record",
        ],
    ),
    table(
        "answer_calibration",
        "calibrations",
        &["model_id", "generation", "passages", "computed_at", "data"],
    ),
    table("forgotten", "forgotten paths", &["path", "at"]),
];

/// `meta` keys that describe one store's own retrievers or roles, never copied.
pub const STORE_KEYS: &[&str] = &[
    "keyword_generation",
    "vector_generation_index",
    postgres::VECTOR_MODEL_KEY,
    "reviewer_role",
];

/// Where a library lives.
#[derive(Debug, Clone)]
pub enum Place {
    /// A data directory (the embedded store).
    Dir(PathBuf),
    /// A team library (PostgreSQL).
    Team(Box<postgres::Target>),
}

impl Place {
    /// How messages name it: the directory, or `user@host:port/db`.
    pub fn describe(&self) -> String {
        match self {
            Place::Dir(d) => d.display().to_string(),
            Place::Team(t) => t.server().to_owned(),
        }
    }
}

/// One snapshot of a library's rows.
pub(crate) trait RowSource {
    /// A setting of the source (`embedding_model`, …).
    fn meta(&mut self, key: &str) -> Result<Option<String>>;
    fn count(&mut self, table: &Table) -> Result<u64>;
    /// Calls `f` with every row of `table`, its cells in `table.columns` order.
    fn rows(&mut self, table: &Table, f: &mut dyn FnMut(Vec<Cell>) -> Result<()>) -> Result<()>;
    /// Collections other than `default` (what a copy into the embedded store cannot keep).
    fn collections(&mut self) -> Result<Vec<String>>;
}

/// An empty library being filled in one transaction.
pub(crate) trait RowSink {
    fn insert(&mut self, table: &Table, rows: &[Vec<Cell>]) -> Result<()>;
    /// Commits the copy (nothing of it is visible before).
    fn finish(self: Box<Self>) -> Result<()>;
}

/// Where a copy is: the table and how many of its rows are written.
#[derive(Debug, Clone)]
pub struct CopyProgress {
    pub table: &'static str,
    pub noun: &'static str,
    pub done: u64,
    pub total: u64,
}

/// What a copy carried: rows per table, in [`TABLES`] order.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CopyReport {
    pub rows: Vec<(String, u64)>,
    /// Collections of the source that a data directory cannot keep (everything is readable
    /// by whoever opens it).
    pub dropped_collections: Vec<String>,
}

impl CopyReport {
    /// Rows copied into `table`.
    pub fn count(&self, table: &str) -> u64 {
        self.rows
            .iter()
            .find(|(t, _)| t == table)
            .map_or(0, |(_, n)| *n)
    }
}

const BATCH: usize = 500;

/// Opens `from` for a consistent read and checks its embedding model is the one `embedding`
/// gives that library (the engine's rule: a library of the legacy default keeps it).
fn source(from: &Place, embedding: &EmbeddingConfig) -> Result<Box<dyn RowSource>> {
    let mut src: Box<dyn RowSource> = match from {
        Place::Dir(d) => Box::new(embedded::copy::SqliteSource::open(d)?),
        Place::Team(t) => Box::new(postgres::copy::PgSource::open(t)?),
    };
    if let Some(stored) = src.meta("embedding_model")? {
        let mut wanted = embedding.clone();
        wanted.follow_library(Some(&stored));
        if stored != wanted.model_id {
            return Err(Error::ModelMismatch {
                stored,
                configured: wanted.model_id,
            });
        }
    }
    Ok(src)
}

/// Copies every row of the library at `from` into the empty library at `to` (a new data
/// directory is created; a directory or database that holds a library already is refused).
/// The source is only read, from one snapshot; the target sees the whole copy or nothing.
pub fn copy(
    from: &Place,
    to: &Place,
    embedding: &EmbeddingConfig,
    progress: &mut dyn FnMut(&CopyProgress),
) -> Result<CopyReport> {
    let mut src = source(from, embedding)?;
    let mut sink: Box<dyn RowSink> = match to {
        Place::Dir(d) => Box::new(embedded::copy::SqliteSink::create(d)?),
        Place::Team(t) => Box::new(postgres::copy::PgSink::open(t)?),
    };
    let mut report = CopyReport::default();
    if matches!(to, Place::Dir(_)) {
        report.dropped_collections = src.collections()?;
    }
    for table in TABLES {
        let total = src.count(table)?;
        let mut done = 0u64;
        let mut batch = Vec::with_capacity(BATCH);
        let mut p = CopyProgress {
            table: table.name,
            noun: table.noun,
            done,
            total,
        };
        progress(&p);
        src.rows(table, &mut |row| {
            if table.name == "meta"
                && matches!(&row[0], Cell::Text(k) if STORE_KEYS.contains(&k.as_str()))
            {
                return Ok(());
            }
            batch.push(row);
            if batch.len() == BATCH {
                sink.insert(table, &batch)?;
                done += batch.len() as u64;
                batch.clear();
                p.done = done;
                progress(&p);
            }
            Ok(())
        })?;
        if !batch.is_empty() {
            sink.insert(table, &batch)?;
            done += batch.len() as u64;
        }
        p.done = done;
        progress(&p);
        report.rows.push((table.name.to_owned(), done));
    }
    sink.finish()?;
    Ok(report)
}

/// The error for a cell that does not fit its column.
pub(crate) fn bad_cell(table: &Table, column: &str, cell: &Cell) -> Error {
    Error::Invalid(format!(
        "cannot copy {}.{column}: the value {cell:?} does not fit the target's column",
        table.name
    ))
}
