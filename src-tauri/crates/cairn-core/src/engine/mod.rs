//! The engine: one data directory, its catalog and derived indexes, and the operations the
//! binaries call. One file per stage of the pipeline:
//!
//! - `open`: opening for reading, model checks, lazily loaded model parts, `status`;
//! - `writer`: [`Writer`], the only type that changes documents or indexes (holds the lock,
//!   repairs lagging indexes);
//! - `pool`: [`ReaderPool`], read-only engines for concurrent callers, one shared embedder;
//! - `indexing`: scan → plan → parse → apply → embed the backlog;
//! - `ocr`: the OCR phase between them: pages without text recognised one at a time;
//! - `reconcile`: the step `cairn watch` and the app repeat (keyword phase, then the backlog);
//! - `search`: retrieval, fusion, past states, assembling passages;
//! - `curation`: deprecate, tag, history, check, conflicts;
//! - `forget`: erasing a document from every store, so its bytes leave the disk;
//! - `records`: sessions, pins and the audit log;
//! - `migrate`: copying a library between the embedded store and a team library.
//!
//! The `ask` driver lives in [`crate::answer`]. Storage is reached only through the traits of
//! [`crate::store`]; `open` is where the embedded store is opened.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use crate::config::Config;
use crate::embed::{Embedder, TokenCounter};
use crate::store::{CatalogStore, KeywordRetriever, VectorRetriever};

mod curation;
mod embedding;
mod forget;
mod indexing;
mod migrate;
mod ocr;
mod open;
mod pool;
mod reconcile;
mod records;
mod search;
mod writer;

pub use crate::answer::evidence::Retrieved;
pub use crate::retrieve::SearchHit;
pub use curation::CheckReport;
pub use forget::ForgetReport;
pub use indexing::{IndexReport, Phase, Progress};
pub use migrate::{migrate, MigrateReport};
pub use open::Status;
pub use pool::{PooledEngine, ReaderPool};
pub use reconcile::{reconcile, Reconciled};
pub use records::Records;
pub(crate) use search::{assemble_hits, combine as combine_hits};
pub use search::{SearchRequest, SearchResponse, SearchState};
pub use writer::Writer;

/// An open data directory, for reading: search, status, history, check, answers. Changing
/// documents or indexes takes a [`Writer`].
pub struct Engine {
    pub(crate) data_dir: PathBuf,
    pub(crate) config: Config,
    /// The storage seam ([`crate::store`]): the engine never names a concrete store.
    pub(crate) catalog: Box<dyn CatalogStore>,
    pub(crate) text: Box<dyn KeywordRetriever>,
    pub(crate) vectors: Option<Box<dyn VectorRetriever>>,
    pub(crate) embedder: OnceLock<std::result::Result<Arc<dyn Embedder>, String>>,
    pub(crate) counter: OnceLock<TokenCounter>,
    /// Opened by a [`Writer`] (its text index is writable and always current).
    pub(crate) writable: bool,
}
