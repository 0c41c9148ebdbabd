//! The engine: one data directory, its catalog and derived indexes, and the operations the
//! binaries call. One file per stage of the pipeline:
//!
//! - [`open`](self::open): the writer lock, model checks, lazily loaded model parts, index
//!   repair, `status`;
//! - [`indexing`](self::indexing): scan → plan → parse → apply → embed the backlog;
//! - [`search`](self::search): retrieval, fusion, past states, assembling passages;
//! - [`curation`](self::curation): deprecate, tag, history, check, conflicts;
//! - [`records`](self::records): sessions, pins and the audit log.
//!
//! The `ask` driver lives in [`crate::answer`].

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::catalog::Catalog;
use crate::config::Config;
use crate::embed::{Embedder, TokenCounter};
use crate::index::text::TextIndex;
use crate::index::vector::VectorIndex;

mod curation;
mod indexing;
mod open;
mod pool;
mod records;
mod search;

pub use crate::answer::evidence::Retrieved;
pub use curation::CheckReport;
pub use indexing::{IndexReport, Phase, Progress};
pub use open::Status;
pub use pool::{PooledEngine, ReaderPool};
pub(crate) use search::{assemble_hits, combine as combine_hits};
pub use search::{SearchHit, SearchRequest, SearchResponse, SearchState};

/// How the engine is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads only; never blocks a running indexer and never repairs indexes.
    ReadOnly,
    /// Takes the data directory's writer lock; repairs lagging indexes on open.
    Write,
}

/// An open data directory.
pub struct Engine {
    pub(crate) data_dir: PathBuf,
    pub(crate) config: Config,
    pub(crate) catalog: Catalog,
    pub(crate) text: TextIndex,
    pub(crate) vectors: Option<VectorIndex>,
    pub(crate) embedder: OnceLock<std::result::Result<Arc<dyn Embedder>, String>>,
    pub(crate) counter: OnceLock<TokenCounter>,
    pub(crate) access: Access,
    pub(crate) _lock: Option<File>,
}

pub(crate) fn file_size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}
