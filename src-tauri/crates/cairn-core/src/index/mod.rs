//! Derived indexes: [`text`] (tantivy BM25) and [`vector`] (usearch cosine ANN).
//!
//! Both are keyed by [`crate::catalog::ChunkId`], hold only current chunks, and record the
//! catalog generation they reflect, so that a lagging index is detected on open and rebuilt
//! from SQLite.

pub mod text;
pub mod vector;

/// A retriever's hit (defined with the retriever traits in [`crate::store`]).
pub use crate::store::Hit;
