//! The two retrievers: keyword (BM25) and vector (nearest neighbours). Both are derived from
//! the catalog, keyed by [`ChunkId`], and record the catalog generation they reflect.

use crate::catalog::{ChunkFilter, ChunkId, ChunkRecord};
use crate::error::Result;

/// A retriever's hit: chunk key and score (higher is better).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub chunk: ChunkId,
    pub score: f32,
}

/// Keyword search over current chunks (title, heading path, body).
///
/// Writes are staged by `add`/`remove`/`clear` and become visible to searches at `commit`,
/// which records the catalog's [`Generation::Text`](crate::catalog::Generation) they reflect.
pub trait KeywordRetriever: Send {
    /// Up to `limit` chunks admitted by `filter`, best first. A query with no searchable term
    /// returns nothing (never a syntax error).
    fn search(&self, query: &str, limit: usize, filter: &ChunkFilter) -> Result<Vec<Hit>>;
    /// Chunks in the last commit.
    fn len(&self) -> u64;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The catalog generation recorded by the last commit (0 for a new retriever).
    fn generation(&self) -> Result<u64>;
    /// Sees what another process committed since (readers call it before searching).
    fn refresh(&self) -> Result<()>;
    fn add(&mut self, chunk: &ChunkRecord) -> Result<()>;
    fn remove(&mut self, id: ChunkId) -> Result<()>;
    /// Removes everything (before a rebuild from the catalog).
    fn clear(&mut self) -> Result<()>;
    /// Makes staged changes visible and durable, recording `generation`.
    fn commit(&mut self, generation: u64) -> Result<()>;
    /// Deletes data no commit refers to any more (after a forget: the old terms leave disk).
    fn collect_garbage(&mut self) -> Result<()>;
    /// Bytes used on disk (0 where the store is not local).
    fn disk_bytes(&self) -> u64;
}

/// Nearest-neighbour search over the vectors of current chunks (cosine; scores in [-1, 1]).
///
/// Changes are visible to this handle at once and durable at `commit`, which records the
/// catalog's [`Generation::Vector`](crate::catalog::Generation) they reflect.
pub trait VectorRetriever: Send {
    fn search(&self, query: &[f32], limit: usize, filter: &ChunkFilter) -> Result<Vec<Hit>>;
    /// Vectors held.
    fn len(&self) -> u64;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The catalog generation this retriever reflects (as last committed or rebuilt).
    fn generation(&self) -> u64;
    /// Adds or replaces a chunk's vector (an error for a vector of the wrong dimension).
    fn add(&mut self, id: ChunkId, vector: &[f32]) -> Result<()>;
    /// Removes a chunk's vector if present.
    fn remove(&mut self, id: ChunkId) -> Result<()>;
    /// Removes every vector (before a rebuild from the catalog); the generation becomes 0.
    fn clear(&mut self) -> Result<()>;
    /// Makes the changes durable, recording `generation` (atomic: a crash leaves the previous
    /// state or the new one).
    fn commit(&mut self, generation: u64) -> Result<()>;
    /// Bytes used on disk (0 where the store is not local).
    fn disk_bytes(&self) -> u64;
}
