//! The team store: a library in a PostgreSQL 15+ database with pgvector, opened by a
//! connection URL (`postgres://user@host:port/db?sslmode=require`).
//!
//! - `connect`: the URL, TLS (native-tls; `sslmode` and `sslrootcert` honoured), where the
//!   password comes from (never a config file), errors that name the server;
//! - `admin`: collections, reader grants and the team's audit (`cairn team …`);
//! - `probe`: what a client may do with a server before opening it as a library (the app's
//!   "Test connection"), and creating a library there;
//! - `schema`: versioned migrations, each in one transaction, serialised by an advisory lock;
//! - `catalog`, `chunks`, `records`: the catalog traits over the tables, mirroring the SQLite
//!   catalog's semantics (same statuses, generations bumped in the same transaction);
//! - `retrievers`: keyword search over the catalog's own `chunks` table (a `tsvector` column
//!   with a GIN index, ranked by BM25 computed from the stored term statistics) and vector
//!   search in a pgvector HNSW index (cosine) on the `vectors` table, a derived index the
//!   writer keeps like usearch (rebuildable from the cached embeddings).
//!
//! One writer: the writer's catalog connection holds a session advisory lock
//! ([`WRITER_LOCK`]) for as long as it is open; a second writer fails with `Error::Locked`
//! naming the server. Readers need no lock and see each commit at once.

use crate::error::Result;

mod admin;
mod catalog;
mod chunks;
mod connect;
pub(crate) mod copy;
mod probe;
mod records;
mod retrievers;
mod schema;

pub use admin::{Admin, CollectionInfo, TeamAuditRow};
pub use connect::{is_postgres_url, Remembered, Target, TargetParts, KEYCHAIN_SERVICE};
pub use probe::{create, probe, Probe};
pub use retrievers::VECTOR_MODEL_KEY;

use super::{CatalogStore, KeywordRetriever, VectorRetriever};

/// The advisory lock key a library's writer holds (`pg_try_advisory_lock`).
pub const WRITER_LOCK: i64 = 0x6361_6972_6e5f_7772; // "cairn_wr"

/// A team library's catalog and keyword retriever, as the engine holds them.
pub struct Opened {
    pub catalog: Box<dyn CatalogStore>,
    pub text: Box<dyn KeywordRetriever>,
}

/// Opens the library at `target` (migrating the schema when needed). `writable`: take the
/// writer lock (an `Error::Locked` when another writer holds it).
pub fn open(target: &Target, writable: bool) -> Result<Opened> {
    let catalog = catalog::PgCatalog::connect(target, writable)?;
    let text = retrievers::PgKeyword::open(target)?;
    Ok(Opened {
        catalog: Box::new(catalog),
        text: Box::new(text),
    })
}

/// The vector retriever for `model_id` (`dim` dimensions). A writer (re)creates the index
/// table when it was built for another model or dimension (generation 0: the writer rebuilds
/// it); a reader then sees an empty one.
pub fn open_vectors(
    target: &Target,
    model_id: &str,
    dim: usize,
    writable: bool,
) -> Result<Box<dyn VectorRetriever>> {
    Ok(Box::new(retrievers::PgVectors::open(
        target, model_id, dim, writable,
    )?))
}
