//! The seam's catalog traits over the SQLite [`Catalog`]: each method is the catalog's own (its
//! tables, queries and transactions are in `catalog/`); conversations, pins and the audit log
//! use the queries of [`crate::audit`], the abstention calibration those of
//! [`crate::answer::abstain`], all in the catalog's file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::answer::abstain::Calibration;
use crate::audit::{
    self, AuditId, AuditRecord, AuditSummary, Message, MessageRole, Pin, PinId, Session, SessionId,
};
use crate::catalog::{
    Batch, BatchOutcome, Catalog, CatalogStats, ChunkFilter, ChunkId, ChunkRecord, Conflict,
    Deprecation, DocId, DocumentRow, Erased, Filters, Folder, FolderId, Forgotten, Generation,
    Integrity, KnownDoc, Marks, NewChunk, OcrBacklog, OcrWork, PendingChunk, Problem, VersionId,
    VersionInfo,
};
use crate::error::Result;
use crate::store::{
    ChunkStore, DocumentStore, EmbeddingCache, ForgetStore, MarkStore, MetaStore, OcrStore,
    ProblemStore, RecordStore, StatusStore,
};

impl OcrStore for Catalog {
    fn ocr_work(&self) -> Result<Vec<OcrWork>> {
        Catalog::ocr_work(self)
    }

    fn ocr_backlog(&self) -> Result<OcrBacklog> {
        Catalog::ocr_backlog(self)
    }

    fn ocr_waiting_paths(&self) -> Result<Vec<PathBuf>> {
        Catalog::ocr_waiting_paths(self)
    }

    fn add_recognised(
        &mut self,
        work: &OcrWork,
        chunks: &[NewChunk],
        text_len: usize,
    ) -> Result<Vec<ChunkId>> {
        Catalog::add_recognised(self, work, chunks, text_len)
    }
}

impl MetaStore for Catalog {
    fn meta(&self, key: &str) -> Result<Option<String>> {
        Catalog::meta(self, key)
    }

    fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        Catalog::set_meta(self, key, value)
    }

    fn generation(&self, which: Generation) -> Result<u64> {
        Catalog::generation(self, which)
    }
}

impl StatusStore for Catalog {
    fn current_chunk_count(&self) -> Result<u64> {
        Catalog::current_chunk_count(self)
    }

    fn stats(&self, model_id: &str) -> Result<CatalogStats> {
        Catalog::stats(self, model_id)
    }

    fn integrity(&self) -> Result<Integrity> {
        Catalog::integrity(self)
    }

    fn disk_bytes(&self) -> u64 {
        Catalog::disk_bytes(self)
    }
}

impl DocumentStore for Catalog {
    fn add_folder(&self, path: &Path) -> Result<FolderId> {
        Catalog::add_folder(self, path)
    }

    fn folders(&self) -> Result<Vec<Folder>> {
        Catalog::folders(self)
    }

    fn remove_folder(&mut self, path: &Path) -> Result<usize> {
        Catalog::remove_folder(self, path)
    }

    fn known_docs(&self, folder: FolderId) -> Result<HashMap<PathBuf, KnownDoc>> {
        Catalog::known_docs(self, folder)
    }

    fn has_document(&self, path: &Path) -> Result<bool> {
        Catalog::has_document(self, path)
    }

    fn touch_version(&self, version: VersionId, mtime: i64, stat_ns: Option<i64>) -> Result<()> {
        Catalog::touch_version(self, version, mtime, stat_ns)
    }

    fn forget_stat(&self, version: VersionId) -> Result<()> {
        Catalog::forget_stat(self, version)
    }

    fn apply_batch(&mut self, batch: &Batch) -> Result<BatchOutcome> {
        Catalog::apply_batch(self, batch)
    }

    fn documents(&self) -> Result<Vec<DocumentRow>> {
        Catalog::documents(self)
    }

    fn document_id(&self, path: &Path) -> Result<Option<DocId>> {
        Catalog::document_id(self, path)
    }

    fn history(&self, path: &Path) -> Result<Vec<VersionInfo>> {
        Catalog::history(self, path)
    }
}

impl ChunkStore for Catalog {
    fn current_chunks(&self, ids: &[ChunkId]) -> Result<HashMap<ChunkId, ChunkRecord>> {
        Catalog::current_chunks(self, ids)
    }

    fn chunk_records(&self, ids: &[ChunkId]) -> Result<HashMap<ChunkId, ChunkRecord>> {
        Catalog::chunk_records(self, ids)
    }

    fn for_each_current_chunk(&self, f: &mut dyn FnMut(ChunkRecord) -> Result<()>) -> Result<()> {
        Catalog::for_each_current_chunk(self, f)
    }

    fn chunks_of_state(&self, at: Option<i64>) -> Result<Vec<ChunkRecord>> {
        Catalog::chunks_of_state(self, at)
    }

    fn neighbours(&self, id: ChunkId) -> Result<(Option<String>, Option<String>)> {
        Catalog::neighbours(self, id)
    }

    fn chunk_filter(&self, filters: &Filters, marks: &Marks) -> Result<ChunkFilter> {
        Catalog::chunk_filter(self, filters, marks)
    }
}

impl EmbeddingCache for Catalog {
    fn for_each_current_vector(
        &self,
        model_id: &str,
        f: &mut dyn FnMut(ChunkId, Vec<f32>) -> Result<()>,
    ) -> Result<()> {
        Catalog::for_each_current_vector(self, model_id, f)
    }

    fn cached_vectors(&self, model_id: &str, ids: &[ChunkId]) -> Result<Vec<(ChunkId, Vec<f32>)>> {
        Catalog::cached_vectors(self, model_id, ids)
    }

    fn pending_chunks(&self, model_id: &str, limit: usize) -> Result<Vec<PendingChunk>> {
        Catalog::pending_chunks(self, model_id, limit)
    }

    fn store_vectors(
        &mut self,
        model_id: &str,
        vectors: &[(Vec<u8>, Vec<f32>)],
    ) -> Result<Vec<(ChunkId, Vec<f32>)>> {
        Catalog::store_vectors(self, model_id, vectors)
    }

    fn embedded_current_chunks(&self, model_id: &str) -> Result<Vec<ChunkId>> {
        Catalog::embedded_current_chunks(self, model_id)
    }

    fn calibration(&self, model_id: &str) -> Result<Option<Calibration>> {
        crate::answer::abstain::load(self.conn(), model_id)
    }

    fn store_calibration(&self, calibration: &Calibration) -> Result<()> {
        crate::answer::abstain::store(self.conn(), calibration)
    }
}

impl ProblemStore for Catalog {
    fn problems(&self) -> Result<Vec<Problem>> {
        Catalog::problems(self)
    }

    fn clear_problem(&self, path: &Path) -> Result<()> {
        Catalog::clear_problem(self, path)
    }

    fn problem_paths(&self, folder: FolderId) -> Result<Vec<PathBuf>> {
        Catalog::problem_paths(self, folder)
    }

    fn settled_failures(&self, folder: FolderId) -> Result<HashMap<PathBuf, (u64, i64)>> {
        Catalog::settled_failures(self, folder)
    }
}

impl MarkStore for Catalog {
    fn deprecate(
        &self,
        target: &str,
        is_pattern: bool,
        reason: &str,
        superseded_by: Option<&str>,
    ) -> Result<()> {
        Catalog::deprecate(self, target, is_pattern, reason, superseded_by)
    }

    fn undeprecate(&self, target: &str) -> Result<bool> {
        Catalog::undeprecate(self, target)
    }

    fn deprecations(&self) -> Result<Vec<Deprecation>> {
        Catalog::deprecations(self)
    }

    fn tag(&self, target: &Path, tags: &[String]) -> Result<()> {
        Catalog::tag(self, target, tags)
    }

    fn untag(&self, target: &Path, tags: &[String]) -> Result<usize> {
        Catalog::untag(self, target, tags)
    }

    fn tags(&self) -> Result<Vec<(PathBuf, String)>> {
        Catalog::tags(self)
    }

    fn marks(&self) -> Result<Marks> {
        Catalog::marks(self)
    }

    fn record_conflicts(&mut self, pairs: &[(ChunkId, ChunkId, f32)]) -> Result<()> {
        Catalog::record_conflicts(self, pairs)
    }

    fn conflicts(&self) -> Result<Vec<Conflict>> {
        Catalog::conflicts(self)
    }
}

impl ForgetStore for Catalog {
    fn erase(&mut self, target: &Path, exclude: bool) -> Result<Erased> {
        Catalog::erase(self, target, exclude)
    }

    fn forgotten(&self) -> Result<Forgotten> {
        Catalog::forgotten(self)
    }

    fn unforget(&self, path: &Path) -> Result<bool> {
        Catalog::unforget(self, path)
    }

    fn shrink(&self) -> Result<bool> {
        Catalog::shrink(self)
    }
}

impl RecordStore for Catalog {
    fn create_session(&self, title: &str) -> Result<SessionId> {
        audit::create_session(self.conn(), title)
    }

    fn session_exists(&self, id: SessionId) -> Result<bool> {
        audit::session_exists(self.conn(), id)
    }

    fn sessions(&self) -> Result<Vec<Session>> {
        audit::list_sessions(self.conn())
    }

    fn messages(&self, session: SessionId) -> Result<Vec<Message>> {
        audit::messages(self.conn(), session)
    }

    fn add_message(
        &self,
        session: SessionId,
        role: MessageRole,
        content: &str,
        rewritten: Option<&str>,
        audit_id: Option<AuditId>,
    ) -> Result<()> {
        audit::add_message(self.conn(), session, role, content, rewritten, audit_id)
    }

    fn add_pin(&self, text: &str) -> Result<PinId> {
        audit::add_pin(self.conn(), text)
    }

    fn pins(&self) -> Result<Vec<Pin>> {
        audit::pins(self.conn())
    }

    fn remove_pin(&self, id: PinId) -> Result<()> {
        audit::remove_pin(self.conn(), id)
    }

    fn insert_audit(&self, record: &AuditRecord) -> Result<AuditId> {
        audit::insert_audit(self.conn(), record)
    }

    fn audit_list(&self, limit: usize) -> Result<Vec<AuditSummary>> {
        audit::list_audit(self.conn(), limit)
    }

    fn audit_record(&self, id: AuditId) -> Result<AuditRecord> {
        audit::get_audit(self.conn(), id)
    }

    fn audit_export(&self) -> Result<Vec<AuditRecord>> {
        audit::all_audit(self.conn())
    }
}
