//! The storage seam: everything the engine keeps, reached through narrow traits.
//!
//! A library is a catalog (the source of truth: folders, documents, versions, chunks, the
//! embeddings cache, problems, marks, forgotten paths, sessions, pins, the audit log, settings
//! and generation counters) and two retrievers derived from it, keyword and vector. The engine
//! holds them as [`CatalogStore`], [`KeywordRetriever`] and [`VectorRetriever`] trait objects;
//! parse, chunk, embed, answer and cite never see a store. [`embedded`] builds today's
//! implementations (SQLite, tantivy, usearch in a data directory); it is the only code that
//! opens the concrete types.
//!
//! # What a backend must guarantee
//! - **Generations.** The catalog keeps two counters ([`Generation`]): `Text` grows with every
//!   change to the set of current chunks, `Vector` with that and every stored vector, each in
//!   the same transaction as the change. A retriever records the generation it reflects at each
//!   commit; a retriever whose generation differs from the catalog's lags and is rebuilt by the
//!   writer (`clear`, then every current chunk or vector from the catalog, then `commit`).
//!   A backend whose retrievers read the catalog's own tables may report the catalog's
//!   generation and treat `add`/`remove`/`clear` as no-ops.
//! - **Atomic version switch.** [`DocumentStore::apply_batch`] makes a file's new version
//!   current and its old one superseded (or deleted, or renamed) in one transaction: a reader
//!   sees the old state or the new, never both or neither.
//! - **Superseded text is never retrieved.** Retrievers hold current chunks only, and every
//!   hit is re-checked with [`ChunkStore::current_chunks`] before it is shown, so a lagging
//!   retriever can return a stale id but never stale text.
//! - **Derived indexes are rebuildable from the catalog.** Nothing is kept only in a retriever:
//!   chunk text comes from [`ChunkStore::for_each_current_chunk`], vectors from
//!   [`EmbeddingCache::for_each_current_vector`] (`cairn reindex` rebuilds both without
//!   re-embedding).
//! - **One writer, many readers.** Only the engine's `Writer` calls the `&mut self` methods and
//!   the writes of documents, marks and indexes; readers (any number, other processes included)
//!   never repair or wipe anything, and see a writer's commits after `refresh`. User data that
//!   no index derives from ([`RecordStore`]) is appended by readers too, under the store's own
//!   locking.
//! - **Forget means gone.** [`ForgetStore::erase`] removes the rows and redacts the audit log;
//!   `shrink` makes the bytes leave the disk; the writer then rebuilds both retrievers and calls
//!   [`KeywordRetriever::collect_garbage`].
//!
//! The contract is tested generically in `cairn-core/tests/store.rs`: functions written against
//! these traits, run on the embedded store (and on any future one).

mod catalog;
pub mod copy;
pub mod embedded;
pub mod postgres;
mod retriever;

pub use crate::catalog::Generation;
pub use catalog::{
    ChunkStore, DocumentStore, EmbeddingCache, ForgetStore, MarkStore, MetaStore, OcrStore,
    ProblemStore, RecordStore, StatusStore,
};
pub use retriever::{Hit, KeywordRetriever, VectorRetriever};

/// The whole catalog: every concern's trait, what the engine holds.
pub trait CatalogStore:
    MetaStore
    + StatusStore
    + DocumentStore
    + ChunkStore
    + EmbeddingCache
    + ProblemStore
    + MarkStore
    + ForgetStore
    + RecordStore
    + OcrStore
{
}

impl<T> CatalogStore for T where
    T: MetaStore
        + StatusStore
        + DocumentStore
        + ChunkStore
        + EmbeddingCache
        + ProblemStore
        + MarkStore
        + ForgetStore
        + RecordStore
        + OcrStore
{
}

/// The traits, for code that calls them on a concrete store (a trait object needs no import):
/// `use cairn_core::store::prelude::*`.
pub mod prelude {
    pub use super::{
        CatalogStore, ChunkStore, DocumentStore, EmbeddingCache, ForgetStore, KeywordRetriever,
        MarkStore, MetaStore, OcrStore, ProblemStore, RecordStore, StatusStore, VectorRetriever,
    };
}
