//! The catalog's side of the seam: one trait per concern, implemented for the embedded SQLite
//! [`Catalog`](crate::catalog::Catalog) in `embedded/catalog.rs`. [`CatalogStore`](super::CatalogStore)
//! is all of them together, what the engine holds.
//!
//! The record types (`Batch`, `ChunkRecord`, `Marks`, …) are plain data in [`crate::catalog`]
//! and [`crate::audit`]; no trait method exposes a SQLite type.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::answer::abstain::Calibration;
use crate::audit::{
    AuditId, AuditRecord, AuditSummary, Message, MessageRole, Pin, PinId, Session, SessionId,
};
use crate::catalog::{
    Batch, BatchOutcome, CatalogStats, ChunkFilter, ChunkId, ChunkRecord, Conflict, Deprecation,
    DocId, DocumentRow, Erased, Filters, Folder, FolderId, Forgotten, Generation, Integrity,
    KnownDoc, Marks, NewChunk, OcrBacklog, OcrWork, PendingChunk, Problem, VersionId, VersionInfo,
};
use crate::error::Result;

/// Key-value settings of the library and the generation counters.
pub trait MetaStore: Send {
    /// A stored setting (`embedding_model`, `embed_rate`, …).
    fn meta(&self, key: &str) -> Result<Option<String>>;
    fn set_meta(&self, key: &str, value: &str) -> Result<()>;
    /// The current value of a generation counter; it only grows, and is bumped in the same
    /// transaction as the change it counts.
    fn generation(&self, which: Generation) -> Result<u64>;
    /// The embedding model whose vectors this library holds, if any.
    fn index_model(&self) -> Result<Option<String>> {
        self.meta("embedding_model")
    }
}

/// Counts and health, for `cairn status` and `cairn check`.
pub trait StatusStore: Send {
    /// Chunks of current versions.
    fn current_chunk_count(&self) -> Result<u64>;
    fn stats(&self, model_id: &str) -> Result<CatalogStats>;
    /// The store's own consistency check.
    fn integrity(&self) -> Result<Integrity>;
    /// Bytes the catalog uses on disk (0 where the store is not local).
    fn disk_bytes(&self) -> u64;
}

/// Folders, documents and their versions: what a scan reads and an indexing batch writes.
pub trait DocumentStore: Send {
    /// Registers a folder (adopting the documents a removed one left under the same path).
    fn add_folder(&self, path: &Path) -> Result<FolderId>;
    fn folders(&self) -> Result<Vec<Folder>>;
    /// Marks every current version under the folder deleted and unregisters it; returns how
    /// many documents were retired.
    fn remove_folder(&mut self, path: &Path) -> Result<usize>;
    /// The documents of a folder with their current version's stat and hash.
    fn known_docs(&self, folder: FolderId) -> Result<HashMap<PathBuf, KnownDoc>>;
    /// Whether a document (any version) exists at this path.
    fn has_document(&self, path: &Path) -> Result<bool>;
    /// Records a new stat for an unchanged version.
    fn touch_version(&self, version: VersionId, mtime: i64, stat_ns: Option<i64>) -> Result<()>;
    /// Forgets the stat of a version, so the next scan hashes the file.
    fn forget_stat(&self, version: VersionId) -> Result<()>;
    /// Applies new versions, renames, deletions and problems atomically: old versions become
    /// superseded in the same transaction as their successors become current, and the
    /// generations are bumped with them.
    fn apply_batch(&mut self, batch: &Batch) -> Result<BatchOutcome>;
    /// The library list: every document with its latest version.
    fn documents(&self) -> Result<Vec<DocumentRow>>;
    fn document_id(&self, path: &Path) -> Result<Option<DocId>>;
    /// Every version of a document, oldest first.
    fn history(&self, path: &Path) -> Result<Vec<VersionInfo>>;
}

/// Chunk reads: what search re-checks hits against and the keyword index is rebuilt from.
pub trait ChunkStore: Send {
    /// The chunks among `ids` that belong to current versions (the "only current versions are
    /// searchable" check).
    fn current_chunks(&self, ids: &[ChunkId]) -> Result<HashMap<ChunkId, ChunkRecord>>;
    /// Chunks by id whatever their version's status (history, past states).
    fn chunk_records(&self, ids: &[ChunkId]) -> Result<HashMap<ChunkId, ChunkRecord>>;
    /// Calls `f` for every current chunk (rebuilding a keyword retriever).
    fn for_each_current_chunk(&self, f: &mut dyn FnMut(ChunkRecord) -> Result<()>) -> Result<()>;
    /// The chunks that were current at `at` (unix seconds; `None`: every version ever).
    fn chunks_of_state(&self, at: Option<i64>) -> Result<Vec<ChunkRecord>>;
    /// The texts of the chunks before and after this one in its version.
    fn neighbours(&self, id: ChunkId) -> Result<(Option<String>, Option<String>)>;
    /// Search filters resolved to the chunks a retriever may return.
    fn chunk_filter(&self, filters: &Filters, marks: &Marks) -> Result<ChunkFilter>;
}

/// Vectors cached by (model, hash of the embedded text), the embedding backlog, and the
/// abstention calibration computed from them.
pub trait EmbeddingCache: Send {
    /// Calls `f` for every current chunk with a vector of `model_id` (rebuilding a vector
    /// retriever).
    fn for_each_current_vector(
        &self,
        model_id: &str,
        f: &mut dyn FnMut(ChunkId, Vec<f32>) -> Result<()>,
    ) -> Result<()>;
    /// The cached vectors of these chunks (an unchanged passage is never embedded twice).
    fn cached_vectors(&self, model_id: &str, ids: &[ChunkId]) -> Result<Vec<(ChunkId, Vec<f32>)>>;
    /// Up to `limit` current chunks without a vector, newest first.
    fn pending_chunks(&self, model_id: &str, limit: usize) -> Result<Vec<PendingChunk>>;
    /// Stores vectors by embedded-text hash, bumping the vector generation; returns the
    /// current chunks they serve.
    fn store_vectors(
        &mut self,
        model_id: &str,
        vectors: &[(Vec<u8>, Vec<f32>)],
    ) -> Result<Vec<(ChunkId, Vec<f32>)>>;
    /// Current chunks with a vector of `model_id`, in id order.
    fn embedded_current_chunks(&self, model_id: &str) -> Result<Vec<ChunkId>>;
    fn calibration(&self, model_id: &str) -> Result<Option<Calibration>>;
    fn store_calibration(&self, calibration: &Calibration) -> Result<()>;
}

/// The OCR backlog: pages of current versions waiting for recognition, recorded by
/// [`DocumentStore::apply_batch`] from [`crate::catalog::NewVersion::ocr_pages`] and dropped
/// when their version stops being current. A store that does not keep it (the defaults: no
/// work, nothing added) leaves pages without text unrecognised.
pub trait OcrStore: Send {
    /// Every item of OCR work, most recently modified documents first, then by page.
    fn ocr_work(&self) -> Result<Vec<OcrWork>> {
        Ok(Vec::new())
    }
    /// How many items and documents wait.
    fn ocr_backlog(&self) -> Result<OcrBacklog> {
        Ok(OcrBacklog::default())
    }
    /// The documents with work waiting.
    fn ocr_waiting_paths(&self) -> Result<Vec<PathBuf>> {
        Ok(Vec::new())
    }
    /// Adds the passages recognised for `work` (spans into the `text_len` bytes recognised)
    /// to its version and removes the work, atomically, bumping the generations; none when
    /// the version is no longer current.
    fn add_recognised(
        &mut self,
        _work: &OcrWork,
        _chunks: &[NewChunk],
        _text_len: usize,
    ) -> Result<Vec<ChunkId>> {
        Ok(Vec::new())
    }
}

/// Files that could not be indexed.
pub trait ProblemStore: Send {
    fn problems(&self) -> Result<Vec<Problem>>;
    fn clear_problem(&self, path: &Path) -> Result<()>;
    fn problem_paths(&self, folder: FolderId) -> Result<Vec<PathBuf>>;
    /// Failed files with the (size, mtime) they had: not read again until that changes.
    fn settled_failures(&self, folder: FolderId) -> Result<HashMap<PathBuf, (u64, i64)>>;
}

/// Curation: deprecations, tags and conflicts between passages.
pub trait MarkStore: Send {
    fn deprecate(
        &self,
        target: &str,
        is_pattern: bool,
        reason: &str,
        superseded_by: Option<&str>,
    ) -> Result<()>;
    fn undeprecate(&self, target: &str) -> Result<bool>;
    fn deprecations(&self) -> Result<Vec<Deprecation>>;
    fn tag(&self, target: &Path, tags: &[String]) -> Result<()>;
    /// Removes these tags (all with an empty list); returns how many were removed.
    fn untag(&self, target: &Path, tags: &[String]) -> Result<usize>;
    fn tags(&self) -> Result<Vec<(PathBuf, String)>>;
    /// Deprecations and tags in one value, for filtering and labelling hits.
    fn marks(&self) -> Result<Marks>;
    fn record_conflicts(&mut self, pairs: &[(ChunkId, ChunkId, f32)]) -> Result<()>;
    fn conflicts(&self) -> Result<Vec<Conflict>>;
}

/// Forgetting: erasing documents from every table so their bytes leave the store.
pub trait ForgetStore: Send {
    /// Erases every version, chunk and unshared vector of the documents at or under `target`,
    /// redacts the audit log, and (with `exclude`) records the path so scans skip it.
    fn erase(&mut self, target: &Path, exclude: bool) -> Result<Erased>;
    fn forgotten(&self) -> Result<Forgotten>;
    fn unforget(&self, path: &Path) -> Result<bool>;
    /// Makes erased bytes leave the disk; returns whether the log was truncated.
    fn shrink(&self) -> Result<bool>;
}

/// User data no index derives from: conversations, pinned facts and the audit log. Readers
/// append to it (an answer is recorded by the engine that gave it).
pub trait RecordStore: Send {
    fn create_session(&self, title: &str) -> Result<SessionId>;
    fn session_exists(&self, id: SessionId) -> Result<bool>;
    fn sessions(&self) -> Result<Vec<Session>>;
    fn messages(&self, session: SessionId) -> Result<Vec<Message>>;
    fn add_message(
        &self,
        session: SessionId,
        role: MessageRole,
        content: &str,
        rewritten: Option<&str>,
        audit_id: Option<AuditId>,
    ) -> Result<()>;
    fn add_pin(&self, text: &str) -> Result<PinId>;
    fn pins(&self) -> Result<Vec<Pin>>;
    fn remove_pin(&self, id: PinId) -> Result<()>;
    /// Appends an audit record (credentials in URLs redacted).
    fn insert_audit(&self, record: &AuditRecord) -> Result<AuditId>;
    /// The newest `limit` records, newest first.
    fn audit_list(&self, limit: usize) -> Result<Vec<AuditSummary>>;
    fn audit_record(&self, id: AuditId) -> Result<AuditRecord>;
    /// Every record, oldest first.
    fn audit_export(&self) -> Result<Vec<AuditRecord>>;
}
