//! The engine: one data directory, its catalog and derived indexes, and the operations the
//! binaries call (add, index, search, status, reindex).
//!
//! Indexing has two phases. Phase 1 scans, parses and chunks files and commits them to the
//! catalog and the text index in batches: the collection is keyword-searchable within
//! seconds. Phase 2 embeds the backlog of chunks without vectors, most recently modified
//! documents first, in batches that each commit, so it is resumable at any point.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde::Serialize;

use crate::catalog::{
    Batch, Catalog, ChunkId, ChunkRecord, Filters, Generation, KnownDoc, NewChunk, NewVersion,
};
use crate::chunk::{embedding_text, Chunker};
use crate::config::{Config, Fusion, SearchMode};
use crate::embed::{Embedder, OnnxEmbedder, TokenCounter};
use crate::error::{Error, Result};
use crate::index::text::TextIndex;
use crate::index::vector::VectorIndex;
use crate::index::Hit;
use crate::retrieve::{self, Snippet};
use crate::watch::{self, FileEntry};

/// How the engine is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads only; never blocks a running indexer and never repairs indexes.
    ReadOnly,
    /// Takes the data directory's writer lock; repairs lagging indexes on open.
    Write,
}

/// Indexing progress, reported through the callback of [`Engine::index`].
#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    pub phase: Phase,
    pub files_done: usize,
    pub files_total: usize,
    pub chunks_done: usize,
    pub chunks_total: usize,
    pub current: Option<PathBuf>,
}

/// The phases of indexing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Scanning,
    Parsing,
    Embedding,
    Done,
}

/// What one [`Engine::index`] run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IndexReport {
    pub files_seen: usize,
    pub files_unchanged: usize,
    pub files_unsupported: usize,
    pub new_versions: usize,
    pub renamed: usize,
    pub deleted: usize,
    pub problems: usize,
    pub chunks_added: usize,
    pub chunks_embedded: usize,
    pub texts_embedded: usize,
    pub chunks_reused: usize,
    pub keyword_ready_seconds: f64,
    pub embed_seconds: f64,
    pub cancelled: bool,
    pub embedding_error: Option<String>,
}

/// A search request.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub query: String,
    pub mode: SearchMode,
    pub limit: usize,
    pub filters: Filters,
    pub fusion: Fusion,
    pub alpha: f32,
    pub rrf_k: f32,
    /// Candidates taken from each retriever.
    pub candidates: usize,
    /// Which state of the collection to search.
    pub state: SearchState,
}

/// Which versions a search sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SearchState {
    /// Current versions only (the default).
    #[default]
    Current,
    /// The versions that were current at this Unix time.
    AsOf(i64),
    /// Every version ever recorded, labelled with its status.
    History,
}

impl SearchRequest {
    /// A request with the configured defaults.
    pub fn new(query: impl Into<String>, config: &Config) -> SearchRequest {
        let s = &config.search;
        SearchRequest {
            query: query.into(),
            mode: s.mode,
            limit: s.limit,
            filters: Filters::default(),
            fusion: s.fusion,
            alpha: s.alpha,
            rrf_k: s.rrf_k,
            candidates: s.candidates,
            state: SearchState::Current,
        }
    }
}

/// One ranked passage.
#[derive(Debug, Clone, Serialize)]
pub struct SearchHit {
    pub chunk_id: ChunkId,
    pub path: PathBuf,
    pub page: Option<u32>,
    pub heading: Vec<String>,
    pub snippet: Snippet,
    pub score: f32,
    /// Version number of the document this passage belongs to (1 = first seen).
    pub version: i64,
    pub kind: String,
    pub title: Option<String>,
    pub byte_start: usize,
    pub byte_end: usize,
    pub text: String,
    /// Version status: `current`, or `superseded` / `deleted` in history searches.
    pub status: String,
    /// Set when the document is deprecated (only returned when asked for).
    pub deprecated: Option<crate::catalog::Deprecation>,
}

/// Search results and how complete the semantic side was.
#[derive(Debug, Clone, Serialize)]
pub struct SearchResponse {
    pub results: Vec<SearchHit>,
    pub mode: SearchMode,
    pub embedded_chunks: u64,
    pub total_chunks: u64,
    /// Set when the results are less than asked for (e.g. embeddings still in progress).
    pub notice: Option<String>,
}

/// Status for `cairn status`.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub data_dir: PathBuf,
    pub folders: Vec<PathBuf>,
    pub stats: crate::catalog::CatalogStats,
    pub problems: Vec<crate::catalog::Problem>,
    pub model_id: String,
    pub embed_backlog: u64,
    pub embed_rate: Option<f64>,
    pub embed_eta_seconds: Option<f64>,
    pub catalog_bytes: u64,
    pub text_index_bytes: u64,
    pub vector_index_bytes: u64,
    pub text_index_chunks: u64,
    pub vector_index_chunks: u64,
    pub deprecations: Vec<crate::catalog::Deprecation>,
    pub conflicts: Vec<crate::catalog::Conflict>,
    pub tags: Vec<(PathBuf, String)>,
}

/// An open data directory.
pub struct Engine {
    data_dir: PathBuf,
    config: Config,
    catalog: Catalog,
    text: TextIndex,
    vectors: Option<VectorIndex>,
    embedder: OnceLock<std::result::Result<Arc<dyn Embedder>, String>>,
    counter: OnceLock<TokenCounter>,
    access: Access,
    _lock: Option<File>,
}

const BATCH_FILES: usize = 64;
const COMMIT_EVERY: Duration = Duration::from_millis(1500);
const SAVE_VECTORS_EVERY: Duration = Duration::from_secs(10);

impl Engine {
    /// Opens (creating if needed) the data directory with `config`.
    pub fn open(data_dir: &Path, config: Config, access: Access) -> Result<Engine> {
        std::fs::create_dir_all(data_dir).map_err(|e| Error::io("creating", data_dir, e))?;
        let lock = match access {
            Access::Write => {
                let path = data_dir.join("writer.lock");
                let file = File::create(&path).map_err(|e| Error::io("creating", &path, e))?;
                match file.try_lock() {
                    Ok(()) => Some(file),
                    Err(std::fs::TryLockError::WouldBlock) => {
                        return Err(Error::Locked(data_dir.to_owned()))
                    }
                    Err(std::fs::TryLockError::Error(e)) => {
                        return Err(Error::io("locking", path, e))
                    }
                }
            }
            Access::ReadOnly => None,
        };
        let catalog = Catalog::open(&data_dir.join("catalog.sqlite3"))?;
        let text = TextIndex::open(&data_dir.join("text"), access == Access::Write)?;
        let mut engine = Engine {
            data_dir: data_dir.to_owned(),
            config,
            catalog,
            text,
            vectors: None,
            embedder: OnceLock::new(),
            counter: OnceLock::new(),
            access,
            _lock: lock,
        };
        engine.check_model()?;
        if access == Access::Write {
            engine.repair_text()?;
        }
        Ok(engine)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    fn model_id(&self) -> &str {
        &self.config.embedding.model_id
    }

    /// Refuses to mix vectors of two models in one index.
    fn check_model(&self) -> Result<()> {
        match self.catalog.index_model()? {
            Some(stored) if stored != self.config.embedding.model_id => Err(Error::ModelMismatch {
                stored,
                configured: self.config.embedding.model_id.clone(),
            }),
            Some(_) => Ok(()),
            None if self.access == Access::Write => {
                self.catalog
                    .set_meta("embedding_model", &self.config.embedding.model_id)?;
                self.catalog
                    .set_meta("embedding_dim", &self.config.embedding.dim.to_string())
            }
            None => Ok(()),
        }
    }

    /// Switches the collection to the configured embedding model (drops the vector index;
    /// vectors are re-embedded by the next index run, cached ones are reused).
    pub fn adopt_configured_model(data_dir: &Path, config: &Config) -> Result<()> {
        let catalog = Catalog::open(&data_dir.join("catalog.sqlite3"))?;
        catalog.set_meta("embedding_model", &config.embedding.model_id)?;
        catalog.set_meta("embedding_dim", &config.embedding.dim.to_string())?;
        let _ = std::fs::remove_file(data_dir.join("vectors.json"));
        Ok(())
    }

    fn token_counter(&self) -> Result<&TokenCounter> {
        if let Some(c) = self.counter.get() {
            return Ok(c);
        }
        let resolved = crate::embed::resolve(&self.config.embedding)?;
        let counter = TokenCounter::load(&resolved.tokenizer)?;
        Ok(self.counter.get_or_init(|| counter))
    }

    /// The embedding model, loaded on first use.
    pub fn embedder(&self) -> Result<Arc<dyn Embedder>> {
        self.embedder
            .get_or_init(|| {
                crate::embed::resolve(&self.config.embedding)
                    .and_then(|r| OnnxEmbedder::load(&self.config.embedding, &r))
                    .map(|e| Arc::new(e) as Arc<dyn Embedder>)
                    .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(Error::Model)
    }

    fn vectors(&mut self) -> Result<&mut VectorIndex> {
        if self.vectors.is_none() {
            let mut v = VectorIndex::open(
                &self.data_dir,
                &self.config.embedding.model_id,
                self.config.embedding.dim,
            )?;
            if self.access == Access::Write {
                let want = self.catalog.generation(Generation::Vector)?;
                if v.generation() != want {
                    tracing::info!(
                        "vector index at generation {} but catalog at {want}: rebuilding",
                        v.generation()
                    );
                    v.clear()?;
                    let model = self.config.embedding.model_id.clone();
                    self.catalog
                        .for_each_current_vector(&model, |id, vec| v.add(id, &vec))?;
                    v.save(want)?;
                }
            }
            self.vectors = Some(v);
        }
        Ok(self.vectors.as_mut().expect("just set"))
    }

    /// Rebuilds the text index from the catalog when it lags behind.
    fn repair_text(&mut self) -> Result<()> {
        let want = self.catalog.generation(Generation::Text)?;
        if self.text.generation()? != want {
            self.rebuild_text()?;
        }
        Ok(())
    }

    fn rebuild_text(&mut self) -> Result<()> {
        let want = self.catalog.generation(Generation::Text)?;
        self.text.clear()?;
        let text = &mut self.text;
        self.catalog.for_each_current_chunk(|c| text.add(&c))?;
        self.text.commit(want)
    }

    /// `cairn reindex`: rebuilds tantivy and usearch from the catalog (no re-embedding).
    pub fn rebuild_indexes(&mut self) -> Result<()> {
        self.rebuild_text()?;
        let want = self.catalog.generation(Generation::Vector)?;
        let model = self.config.embedding.model_id.clone();
        let v = self.vectors()?;
        v.clear()?;
        let catalog = &self.catalog;
        let v = self.vectors.as_mut().expect("opened above");
        catalog.for_each_current_vector(&model, |id, vec| v.add(id, &vec))?;
        v.save(want)
    }

    /// Registers a folder. It must exist; it is indexed by the next [`Engine::index`].
    pub fn add_folder(&mut self, path: &Path) -> Result<PathBuf> {
        let abs = path
            .canonicalize()
            .map_err(|e| Error::io("opening folder", path, e))?;
        if !abs.is_dir() {
            return Err(Error::Invalid(format!("{} is not a folder", abs.display())));
        }
        self.catalog.add_folder(&abs)?;
        Ok(abs)
    }

    /// Stops following a folder: its documents leave search (their history is kept) and the
    /// derived indexes are rebuilt from the catalog (no re-embedding).
    pub fn remove_folder(&mut self, path: &Path) -> Result<usize> {
        let abs = path.canonicalize().unwrap_or_else(|_| path.to_owned());
        let retired = self.catalog.remove_folder(&abs)?;
        self.rebuild_indexes()?;
        Ok(retired)
    }

    /// Every document with its latest version (the desktop app's library list).
    pub fn documents(&self) -> Result<Vec<crate::catalog::DocumentRow>> {
        self.catalog.documents()
    }

    /// The embedding model if this engine has loaded it (never loads it).
    pub fn loaded_embedder(&self) -> Option<Arc<dyn Embedder>> {
        self.embedder.get().and_then(|r| r.as_ref().ok().cloned())
    }

    /// Uses an embedder already loaded by another engine on the same data directory (the
    /// desktop app's reader and asker share one ONNX session). No effect once loaded.
    pub fn share_embedder(&self, embedder: Arc<dyn Embedder>) {
        let _ = self.embedder.set(Ok(embedder));
    }

    /// A read-only engine keeps the vector index it loaded; this drops it so the next
    /// search loads the one the writer saved since.
    pub fn reload_vectors(&mut self) {
        if self.access == Access::ReadOnly {
            self.vectors = None;
        }
    }

    /// Indexes every registered folder: phase 1 (text) then phase 2 (embeddings).
    pub fn index(
        &mut self,
        progress: &mut dyn FnMut(&Progress),
        cancel: &AtomicBool,
    ) -> Result<IndexReport> {
        let mut report = self.index_text(progress, cancel)?;
        if report.cancelled {
            return Ok(report);
        }
        match self.embed_backlog(progress, cancel, &mut report) {
            Ok(()) => {}
            Err(Error::Model(m)) => report.embedding_error = Some(m),
            Err(e) => return Err(e),
        }
        Ok(report)
    }

    /// Phase 1: scan, parse, chunk, commit to the catalog and the text index.
    pub fn index_text(
        &mut self,
        progress: &mut dyn FnMut(&Progress),
        cancel: &AtomicBool,
    ) -> Result<IndexReport> {
        let started = Instant::now();
        let mut report = IndexReport::default();
        let mut p = Progress {
            phase: Phase::Scanning,
            files_done: 0,
            files_total: 0,
            chunks_done: 0,
            chunks_total: 0,
            current: None,
        };
        progress(&p);
        let skip = vec![self.data_dir.clone()];
        // Work out what changed in every folder before parsing anything.
        struct FolderWork {
            folder: crate::catalog::FolderId,
            todo: Vec<FileEntry>,
            missing: HashMap<PathBuf, KnownDoc>,
            known: HashMap<PathBuf, KnownDoc>,
        }
        let mut work = Vec::new();
        let mut walk_problems = Batch::default();
        for folder in self.catalog.folders()? {
            let scan = match watch::scan(&folder.path, &self.config.ingest, &skip) {
                Ok(s) => s,
                Err(e) => {
                    walk_problems
                        .problems
                        .push((folder.path.clone(), folder.id, e.to_string()));
                    continue;
                }
            };
            for (path, reason) in scan.problems {
                walk_problems.problems.push((path, folder.id, reason));
            }
            let mut known = self.catalog.known_docs(folder.id)?;
            let mut todo = Vec::new();
            let mut seen = HashSet::new();
            for f in scan.files {
                report.files_seen += 1;
                seen.insert(f.path.clone());
                match known.get(&f.path) {
                    Some(k) if k.size == f.size && k.stat_ns == Some(f.mtime_ns) => {
                        report.files_unchanged += 1
                    }
                    _ => todo.push(f),
                }
            }
            let missing: HashMap<PathBuf, KnownDoc> = known
                .iter()
                .filter(|(p, _)| !seen.contains(*p))
                .map(|(p, k)| (p.clone(), k.clone()))
                .collect();
            known.retain(|p, _| seen.contains(p));
            // Problems of files that vanished are forgotten.
            for path in self.catalog.problem_paths(folder.id)? {
                if !seen.contains(&path) && !path.exists() {
                    self.catalog.clear_problem(&path)?;
                }
            }
            todo.sort_by_key(|f| std::cmp::Reverse(f.mtime));
            work.push(FolderWork {
                folder: folder.id,
                todo,
                missing,
                known,
            });
        }
        if !walk_problems.is_empty() {
            report.problems += walk_problems.problems.len();
            self.catalog.apply_batch(&walk_problems)?;
        }
        p.phase = Phase::Parsing;
        p.files_total = work.iter().map(|w| w.todo.len()).sum();
        progress(&p);

        let chunker = Chunker::new(
            self.token_counter()?.clone(),
            &self.config.chunking,
            self.config.chunk_tokens(),
        );
        let mut last_commit = Instant::now();
        let mut dirty = false;
        for mut fw in work {
            // Hash of missing documents, to recognise moves.
            let mut moved_from: HashMap<Vec<u8>, PathBuf> = fw
                .missing
                .iter()
                .map(|(p, k)| (k.content_hash.clone(), p.clone()))
                .collect();
            for files in fw.todo.chunks(BATCH_FILES) {
                if cancel.load(Ordering::Relaxed) {
                    report.cancelled = true;
                    break;
                }
                let outcomes: Vec<FileOutcome> = files
                    .par_iter()
                    .map(|f| process_file(f, fw.known.get(&f.path), &chunker))
                    .collect();
                let mut batch = Batch::default();
                for (f, outcome) in files.iter().zip(outcomes) {
                    match outcome {
                        FileOutcome::Unsupported => report.files_unsupported += 1,
                        FileOutcome::Same { version } => {
                            let stat = watch::trusted_stat(f.mtime_ns);
                            self.catalog.touch_version(version, f.mtime, stat)?;
                            report.files_unchanged += 1;
                        }
                        FileOutcome::Problem(reason) => {
                            batch.problems.push((f.path.clone(), fw.folder, reason));
                            report.problems += 1;
                        }
                        FileOutcome::New(mut v) => {
                            let is_new_path = !fw.known.contains_key(&f.path);
                            match moved_from.remove(&v.content_hash[..]) {
                                Some(old)
                                    if is_new_path && !self.catalog.has_document(&f.path)? =>
                                {
                                    fw.missing.remove(&old);
                                    batch.renames.push((old, f.path.clone()));
                                }
                                _ => {
                                    v.folder = fw.folder;
                                    batch.versions.push(*v);
                                }
                            }
                        }
                    }
                }
                p.files_done += files.len();
                p.current = files.last().map(|f| f.path.clone());
                dirty |= self.apply(&batch, &mut report)?;
                if dirty && last_commit.elapsed() >= COMMIT_EVERY {
                    self.commit_text()?;
                    dirty = false;
                    last_commit = Instant::now();
                }
                progress(&p);
            }
            if report.cancelled {
                break;
            }
            // Whatever is still missing was deleted.
            if !fw.missing.is_empty() {
                let batch = Batch {
                    deletions: fw.missing.keys().cloned().collect(),
                    ..Batch::default()
                };
                dirty |= self.apply(&batch, &mut report)?;
            }
        }
        if dirty || self.text.generation()? != self.catalog.generation(Generation::Text)? {
            self.commit_text()?;
        }
        report.keyword_ready_seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }

    fn commit_text(&mut self) -> Result<()> {
        let generation = self.catalog.generation(Generation::Text)?;
        self.text.commit(generation)
    }

    /// Applies a batch to the catalog, then mirrors it into the derived indexes.
    fn apply(&mut self, batch: &Batch, report: &mut IndexReport) -> Result<bool> {
        if batch.is_empty() {
            return Ok(false);
        }
        let outcome = self.catalog.apply_batch(batch)?;
        report.new_versions += outcome.versions;
        report.renamed += outcome.renamed;
        report.deleted += outcome.deleted;
        report.chunks_added += outcome.added_chunks.len();
        for id in &outcome.removed_chunks {
            self.text.remove(*id)?;
        }
        let added = self.catalog.current_chunks(&outcome.added_chunks)?;
        for id in &outcome.added_chunks {
            if let Some(rec) = added.get(id) {
                self.text.add(rec)?;
            }
        }
        // Vectors: drop removed chunks; new chunks whose text was embedded before get their
        // cached vector right away (an edit re-embeds only what changed).
        let model = self.model_id().to_owned();
        let reused = self.catalog.cached_vectors(&model, &outcome.added_chunks)?;
        report.chunks_reused += reused.len();
        let touches_vectors = !outcome.removed_chunks.is_empty() || !reused.is_empty();
        if touches_vectors {
            let v = self.vectors()?;
            for id in &outcome.removed_chunks {
                v.remove(*id)?;
            }
            for (id, vec) in &reused {
                v.add(*id, vec)?;
            }
        }
        let changed = !outcome.added_chunks.is_empty() || !outcome.removed_chunks.is_empty();
        if touches_vectors || changed {
            let generation = self.catalog.generation(Generation::Vector)?;
            if let Some(v) = self.vectors.as_mut() {
                // Only this process writes, so the index now reflects the catalog.
                v.save(generation)?;
            }
        }
        Ok(changed || outcome.renamed > 0)
    }

    /// Phase 2: embeds current chunks that have no vector yet, newest documents first.
    pub fn embed_backlog(
        &mut self,
        progress: &mut dyn FnMut(&Progress),
        cancel: &AtomicBool,
        report: &mut IndexReport,
    ) -> Result<()> {
        let started = Instant::now();
        let model = self.model_id().to_owned();
        let stats = self.catalog.stats(&model)?;
        let backlog = (stats.current_chunks - stats.embedded_chunks) as usize;
        let mut p = Progress {
            phase: Phase::Embedding,
            files_done: 0,
            files_total: 0,
            chunks_done: 0,
            chunks_total: backlog,
            current: None,
        };
        // Open (and repair) the vector index even when nothing is pending.
        self.vectors()?;
        if backlog == 0 {
            p.phase = Phase::Done;
            progress(&p);
            return Ok(());
        }
        progress(&p);
        let embedder = self.embedder()?;
        let batch = self.config.embedding.batch_size;
        let mut last_save = Instant::now();
        loop {
            if cancel.load(Ordering::Relaxed) {
                report.cancelled = true;
                break;
            }
            let pending = self.catalog.pending_chunks(&model, batch)?;
            if pending.is_empty() {
                break;
            }
            let texts: Vec<String> = pending
                .iter()
                .map(|c| embedding_text(c.title.as_deref(), &c.heading_path, &c.text))
                .collect();
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let t = Instant::now();
            let vectors = embedder.embed_passages(&refs)?;
            let rate = pending.len() as f64 / t.elapsed().as_secs_f64().max(1e-6);
            let rows: Vec<(Vec<u8>, Vec<f32>)> = pending
                .iter()
                .map(|c| c.embed_hash.clone())
                .zip(vectors)
                .collect();
            let ready = self.catalog.store_vectors(&model, &rows)?;
            report.texts_embedded += rows.len();
            report.chunks_embedded += ready.len();
            let v = self.vectors()?;
            for (id, vec) in &ready {
                v.add(*id, vec)?;
            }
            self.detect_conflicts(&ready)?;
            self.catalog.set_meta("embed_rate", &format!("{rate:.2}"))?;
            if last_save.elapsed() >= SAVE_VECTORS_EVERY {
                let generation = self.catalog.generation(Generation::Vector)?;
                self.vectors()?.save(generation)?;
                last_save = Instant::now();
            }
            p.chunks_done += ready.len();
            progress(&p);
        }
        embedder.release_memory();
        let generation = self.catalog.generation(Generation::Vector)?;
        self.vectors()?.save(generation)?;
        report.embed_seconds = started.elapsed().as_secs_f64();
        p.phase = Phase::Done;
        progress(&p);
        Ok(())
    }

    /// Ranked chunk ids for a request, before results are assembled (used by eval too).
    pub fn retrieve(&mut self, req: &SearchRequest) -> Result<(Vec<Hit>, Option<String>)> {
        if req.state != SearchState::Current {
            return self.retrieve_past(req);
        }
        let marks = self.catalog.marks()?;
        let filter = self.catalog.chunk_filter(&req.filters, &marks)?;
        let mut notice = None;
        let bm25 = match req.mode {
            SearchMode::Bm25 | SearchMode::Hybrid => {
                self.text.search(&req.query, req.candidates, &filter)?
            }
            SearchMode::Dense => Vec::new(),
        };
        let dense = match req.mode {
            SearchMode::Dense | SearchMode::Hybrid => match self.dense(req, &filter) {
                Ok(h) => h,
                Err(Error::Model(m)) if req.mode == SearchMode::Hybrid => {
                    notice = Some(format!(
                        "semantic search unavailable ({m}); showing keyword results only"
                    ));
                    Vec::new()
                }
                Err(e) => return Err(e),
            },
            SearchMode::Bm25 => Vec::new(),
        };
        Ok((combine(req, bm25, dense), notice))
    }

    /// Searches a past state (or all history): the derived indexes hold current passages
    /// only, so the passages of that state are scored on the fly from the catalog.
    fn retrieve_past(&mut self, req: &SearchRequest) -> Result<(Vec<Hit>, Option<String>)> {
        let at = match req.state {
            SearchState::AsOf(t) => Some(t),
            _ => None,
        };
        let marks = self.catalog.marks()?;
        let records: Vec<ChunkRecord> = self
            .catalog
            .chunks_of_state(at)?
            .into_iter()
            .filter(|r| req.filters.admits(&r.path, &r.kind, r.mtime, &marks))
            .filter(|r| req.filters.include_deprecated || marks.deprecation(&r.path).is_none())
            .collect();
        let mut bm25 = Vec::new();
        if matches!(req.mode, SearchMode::Bm25 | SearchMode::Hybrid) {
            let mut text = TextIndex::in_ram()?;
            for r in &records {
                text.add(r)?;
            }
            text.commit(0)?;
            bm25 = text.search(
                &req.query,
                req.candidates,
                &crate::catalog::ChunkFilter::All,
            )?;
        }
        let mut dense = Vec::new();
        let mut notice = None;
        if matches!(req.mode, SearchMode::Dense | SearchMode::Hybrid) {
            match self.embedder().and_then(|e| e.embed_query(&req.query)) {
                Ok(q) => {
                    let ids: Vec<ChunkId> = records.iter().map(|r| r.id).collect();
                    let model = self.model_id().to_owned();
                    let mut scored: Vec<Hit> = self
                        .catalog
                        .cached_vectors(&model, &ids)?
                        .into_iter()
                        .map(|(id, v)| Hit {
                            chunk: id,
                            score: v.iter().zip(&q).map(|(a, b)| a * b).sum(),
                        })
                        .collect();
                    scored.sort_by(|a, b| b.score.total_cmp(&a.score));
                    scored.truncate(req.candidates);
                    dense = scored;
                }
                Err(e) if req.mode == SearchMode::Hybrid => {
                    notice = Some(format!("semantic search unavailable ({e})"));
                }
                Err(e) => return Err(e),
            }
        }
        Ok((combine(req, bm25, dense), notice))
    }

    fn dense(
        &mut self,
        req: &SearchRequest,
        filter: &crate::catalog::ChunkFilter,
    ) -> Result<Vec<Hit>> {
        if self.vectors()?.is_empty() {
            return Ok(Vec::new());
        }
        let embedder = self.embedder()?;
        let q = embedder.embed_query(&req.query)?;
        self.vectors()?.search(&q, req.candidates, filter)
    }

    /// Searches and assembles ranked passages with snippets.
    pub fn search(&mut self, req: &SearchRequest) -> Result<SearchResponse> {
        if req.query.trim().is_empty() {
            return Err(Error::Invalid("the search query is empty".into()));
        }
        if self.access == Access::ReadOnly {
            self.text.refresh()?;
        }
        let (hits, mut notice) = self.retrieve(req)?;
        let ids: Vec<ChunkId> = hits.iter().map(|h| h.chunk).collect();
        let records = match req.state {
            SearchState::Current => self.catalog.current_chunks(&ids)?,
            _ => self.catalog.chunk_records(&ids)?,
        };
        let marks = self.catalog.marks()?;
        let results = assemble_hits(&hits, &records, &marks, req);
        // Counted without probing the embeddings table, which costs ~0.25 s at 20k passages.
        let total = self.catalog.current_chunk_count()?;
        if req.mode != SearchMode::Bm25 && notice.is_none() {
            let embedded = self.vectors()?.len() as u64;
            if embedded < total {
                notice = Some(format!(
                    "semantic index covers {embedded} of {total} passages ({:.0}%); embedding continues with `cairn index`",
                    100.0 * embedded as f64 / total.max(1) as f64
                ));
            }
        }
        Ok(SearchResponse {
            results,
            mode: req.mode,
            embedded_chunks: self.vectors.as_ref().map_or(0, |v| v.len() as u64),
            total_chunks: total,
            notice,
        })
    }

    /// Paths of the documents the given chunks belong to (current chunks only).
    pub fn chunk_paths(&self, ids: &[ChunkId]) -> Result<HashMap<ChunkId, PathBuf>> {
        Ok(self
            .catalog
            .current_chunks(ids)?
            .into_iter()
            .map(|(id, r)| (id, r.path))
            .collect())
    }

    /// Everything `cairn status` shows.
    pub fn status(&mut self) -> Result<Status> {
        let model = self.model_id().to_owned();
        let stats = self.catalog.stats(&model)?;
        let backlog = stats.current_chunks.saturating_sub(stats.embedded_chunks);
        let rate: Option<f64> = self
            .catalog
            .meta("embed_rate")?
            .and_then(|r| r.parse().ok());
        let vector_chunks = self.vectors()?.len() as u64;
        Ok(Status {
            data_dir: self.data_dir.clone(),
            folders: self
                .catalog
                .folders()?
                .into_iter()
                .map(|f| f.path)
                .collect(),
            problems: self.catalog.problems()?,
            model_id: model,
            embed_backlog: backlog,
            embed_rate: rate,
            embed_eta_seconds: rate.filter(|r| *r > 0.0).map(|r| backlog as f64 / r),
            catalog_bytes: file_size(&self.data_dir.join("catalog.sqlite3"))
                + file_size(&self.data_dir.join("catalog.sqlite3-wal")),
            text_index_bytes: TextIndex::disk_bytes(&self.data_dir.join("text")),
            vector_index_bytes: VectorIndex::disk_bytes(&self.data_dir),
            text_index_chunks: self.text.len(),
            vector_index_chunks: vector_chunks,
            deprecations: self.catalog.deprecations()?,
            conflicts: self.catalog.conflicts()?,
            tags: self.catalog.tags()?,
            stats,
        })
    }
}

fn file_size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// Ranked hits → passages with snippets, in order, at most `req.limit`. Deprecated documents are
/// dropped unless asked for (re-checked here so a lagging index can never leak them) and
/// labelled otherwise.
fn assemble_hits(
    hits: &[Hit],
    records: &HashMap<ChunkId, ChunkRecord>,
    marks: &crate::catalog::Marks,
    req: &SearchRequest,
) -> Vec<SearchHit> {
    hits.iter()
        .filter_map(|h| records.get(&h.chunk).map(|r| (h, r)))
        .filter_map(|(h, r)| {
            let deprecated = marks.deprecation(&r.path).cloned();
            if deprecated.is_some() && !req.filters.include_deprecated {
                return None;
            }
            let mut hit = to_hit(h, r, &req.query);
            hit.deprecated = deprecated;
            Some(hit)
        })
        .take(req.limit)
        .collect()
}

fn to_hit(h: &Hit, r: &ChunkRecord, query: &str) -> SearchHit {
    SearchHit {
        chunk_id: r.id,
        path: r.path.clone(),
        page: r.page,
        heading: r.heading_path.clone(),
        snippet: retrieve::snippet(&r.text, query, 240),
        score: h.score,
        version: r.version_seq,
        kind: r.kind.clone(),
        title: r.title.clone(),
        byte_start: r.start,
        byte_end: r.end,
        text: r.text.clone(),
        status: r.status.clone(),
        deprecated: None,
    }
}

enum FileOutcome {
    Unsupported,
    Same { version: crate::catalog::VersionId },
    Problem(String),
    New(Box<NewVersion>),
}

/// Reads, hashes, parses and chunks one file (runs on the rayon pool, touches no shared state).
fn process_file(f: &FileEntry, known: Option<&KnownDoc>, chunker: &Chunker) -> FileOutcome {
    let bytes = match std::fs::read(&f.path) {
        Ok(b) => b,
        Err(e) => return FileOutcome::Problem(format!("cannot read: {e}")),
    };
    let hash = blake3::hash(&bytes);
    if let Some(k) = known {
        if k.content_hash == hash.as_bytes() {
            return FileOutcome::Same { version: k.version };
        }
    }
    let head = &bytes[..bytes.len().min(8192)];
    if crate::parse::detect(&f.path, head).is_none() {
        return FileOutcome::Unsupported;
    }
    let doc = match crate::parse::parse(&f.path, &bytes) {
        Ok(d) => d,
        Err(Error::Parse { reason, .. }) => return FileOutcome::Problem(reason),
        Err(e) => return FileOutcome::Problem(e.to_string()),
    };
    let drafts = chunker.chunk(&doc);
    let chunks = drafts
        .into_iter()
        .map(|d| {
            let embed = embedding_text(doc.title.as_deref(), &d.heading_path, &d.text);
            NewChunk {
                ordinal: d.ordinal,
                start: d.start,
                end: d.end,
                page: d.page,
                heading_path: d.heading_path,
                embed_hash: *blake3::hash(embed.as_bytes()).as_bytes(),
                text: d.text,
            }
        })
        .collect();
    FileOutcome::New(Box::new(NewVersion {
        path: f.path.clone(),
        folder: crate::catalog::FolderId(0),
        content_hash: *hash.as_bytes(),
        size: f.size,
        mtime: f.mtime,
        stat_ns: crate::watch::trusted_stat(f.mtime_ns),
        kind: doc.kind.as_str().to_owned(),
        title: doc.title.clone(),
        text_len: doc.text.len(),
        page_count: (!doc.pages.is_empty()).then_some(doc.pages.len() as u32),
        chunks,
    }))
}

fn combine(req: &SearchRequest, bm25: Vec<Hit>, dense: Vec<Hit>) -> Vec<Hit> {
    match req.mode {
        SearchMode::Bm25 => bm25,
        SearchMode::Dense => dense,
        SearchMode::Hybrid if dense.is_empty() => bm25,
        SearchMode::Hybrid => retrieve::fuse(&bm25, &dense, req.fusion, req.alpha, req.rrf_k),
    }
}

/// What `Engine::check` found.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub ok: bool,
    pub catalog: crate::catalog::Integrity,
    pub current_chunks: u64,
    pub embedded_chunks: u64,
    pub text_index_chunks: u64,
    pub vector_index_chunks: u64,
    pub text_generation: (u64, u64),
    pub vector_generation: (u64, u64),
    pub problems: Vec<String>,
}

impl Engine {
    fn known_path(&self, path: &Path) -> Result<PathBuf> {
        let abs = path.canonicalize().unwrap_or_else(|_| path.to_owned());
        let is_doc = self.catalog.document_id(&abs)?.is_some();
        let is_folder = self
            .catalog
            .folders()?
            .iter()
            .any(|f| abs.starts_with(&f.path) || f.path.starts_with(&abs));
        if is_doc || (is_folder && abs.is_dir()) {
            Ok(abs)
        } else {
            Err(Error::NotFound(format!(
                "{} is not a document or folder in the collection",
                path.display()
            )))
        }
    }

    /// Marks a document or folder deprecated (optionally superseded by another document).
    pub fn deprecate(
        &mut self,
        path: &Path,
        superseded_by: Option<&Path>,
        reason: &str,
    ) -> Result<PathBuf> {
        let target = self.known_path(path)?;
        let by = superseded_by.map(|p| self.known_path(p)).transpose()?;
        if by.as_ref() == Some(&target) {
            return Err(Error::Invalid("a document cannot supersede itself".into()));
        }
        self.catalog.deprecate(
            &target.to_string_lossy(),
            false,
            reason,
            by.as_ref().map(|p| p.to_string_lossy()).as_deref(),
        )?;
        Ok(target)
    }

    /// Deprecates every path matching a glob pattern (e.g. `**/archive/**`).
    pub fn deprecate_pattern(&mut self, pattern: &str, reason: &str) -> Result<()> {
        globset::Glob::new(pattern)
            .map_err(|e| Error::Invalid(format!("bad pattern `{pattern}`: {e}")))?;
        self.catalog.deprecate(pattern, true, reason, None)
    }

    /// Removes a deprecation mark from a path or pattern.
    pub fn undeprecate(&mut self, target: &str) -> Result<()> {
        let abs = Path::new(target)
            .canonicalize()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| target.to_owned());
        if self.catalog.undeprecate(&abs)? || self.catalog.undeprecate(target)? {
            Ok(())
        } else {
            Err(Error::NotFound(format!("{target} is not deprecated")))
        }
    }

    /// Adds tags to a document or folder.
    pub fn tag(&mut self, path: &Path, tags: &[String]) -> Result<PathBuf> {
        let target = self.known_path(path)?;
        if tags.iter().any(|t| t.trim().is_empty()) {
            return Err(Error::Invalid("tags must not be empty".into()));
        }
        self.catalog.tag(&target, tags)?;
        Ok(target)
    }

    /// Removes tags (all when `tags` is empty) from a document or folder.
    pub fn untag(&mut self, path: &Path, tags: &[String]) -> Result<usize> {
        let target = path.canonicalize().unwrap_or_else(|_| path.to_owned());
        self.catalog.untag(&target, tags)
    }

    /// The versions of the document at `path`.
    pub fn history(&self, path: &Path) -> Result<Vec<crate::catalog::VersionInfo>> {
        let abs = path.canonicalize().unwrap_or_else(|_| path.to_owned());
        self.catalog.history(&abs)
    }

    /// Verifies that the catalog is sound and the derived indexes match it.
    pub fn check(&mut self) -> Result<CheckReport> {
        let model = self.model_id().to_owned();
        let stats = self.catalog.stats(&model)?;
        let integrity = self.catalog.integrity()?;
        self.text.refresh()?;
        let text_gen = (
            self.text.generation()?,
            self.catalog.generation(Generation::Text)?,
        );
        let vector_len = self.vectors()?.len() as u64;
        let vector_gen = (
            self.vectors()?.generation(),
            self.catalog.generation(Generation::Vector)?,
        );
        let mut problems = Vec::new();
        if !integrity.sqlite_ok {
            problems.push(format!(
                "SQLite integrity check: {}",
                integrity.sqlite_message
            ));
        }
        if integrity.documents_with_two_current_versions > 0 {
            problems.push(format!(
                "{} documents have more than one current version",
                integrity.documents_with_two_current_versions
            ));
        }
        if self.text.len() != stats.current_chunks {
            problems.push(format!(
                "text index holds {} passages, catalog has {} current",
                self.text.len(),
                stats.current_chunks
            ));
        }
        if vector_len != stats.embedded_chunks {
            problems.push(format!(
                "vector index holds {vector_len} vectors, catalog has {} embedded current passages",
                stats.embedded_chunks
            ));
        }
        if text_gen.0 != text_gen.1 {
            problems.push(format!(
                "text index at generation {}, catalog at {}",
                text_gen.0, text_gen.1
            ));
        }
        if vector_gen.0 != vector_gen.1 {
            problems.push(format!(
                "vector index at generation {}, catalog at {}",
                vector_gen.0, vector_gen.1
            ));
        }
        Ok(CheckReport {
            ok: problems.is_empty(),
            catalog: integrity,
            current_chunks: stats.current_chunks,
            embedded_chunks: stats.embedded_chunks,
            text_index_chunks: self.text.len(),
            vector_index_chunks: vector_len,
            text_generation: text_gen,
            vector_generation: vector_gen,
            problems,
        })
    }

    /// Finds current passages in other documents that are near-duplicates of `new` ones but
    /// differ in text, and records them as conflicts for the user to resolve.
    fn detect_conflicts(&mut self, new: &[(ChunkId, Vec<f32>)]) -> Result<()> {
        let threshold = self.config.ingest.conflict_similarity;
        if threshold >= 1.0 || new.is_empty() {
            return Ok(());
        }
        let mut candidates = Vec::new();
        {
            let v = self.vectors()?;
            for (id, vec) in new {
                for hit in v.search(vec, 4, &crate::catalog::ChunkFilter::All)? {
                    if hit.chunk != *id && hit.score >= threshold {
                        candidates.push((*id, hit.chunk, hit.score));
                    }
                }
            }
        }
        if candidates.is_empty() {
            return Ok(());
        }
        let ids: Vec<ChunkId> = candidates.iter().flat_map(|(a, b, _)| [*a, *b]).collect();
        let recs = self.catalog.current_chunks(&ids)?;
        let pairs: Vec<(ChunkId, ChunkId, f32)> = candidates
            .into_iter()
            .filter(|(a, b, _)| match (recs.get(a), recs.get(b)) {
                (Some(ra), Some(rb)) => ra.doc != rb.doc && ra.text.trim() != rb.text.trim(),
                _ => false,
            })
            .collect();
        self.catalog.record_conflicts(&pairs)
    }
}

// ---- Cited answers (answer/, cite.rs, audit.rs) -------------------------------------------------

/// Passages retrieved for a question, and the evidence measured on them.
#[derive(Debug, Clone, Serialize)]
pub struct Retrieved {
    pub hits: Vec<SearchHit>,
    pub evidence: crate::answer::abstain::Evidence,
    pub notice: Option<String>,
}

/// Passages listed with an "I don't know".
const NEAREST: usize = 3;
/// Sentences embedded at most for an extractive answer.
const MAX_EXTRACT_CANDIDATES: usize = 64;

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Filters as recorded in the audit log.
fn describe_filters(f: &Filters) -> serde_json::Value {
    serde_json::json!({
        "folders": f.folders,
        "kinds": f.kinds,
        "path": f.path_glob.as_ref().map(|g| g.glob().glob().to_owned()),
        "modified_after": f.modified_after,
        "modified_before": f.modified_before,
        "tags": f.tags,
        "include_deprecated": f.include_deprecated,
    })
}

impl Engine {
    /// Retrieves up to `limit` passages for `query` (the configured search mode, with
    /// `filters`) and measures the abstention evidence on them (see
    /// [`crate::answer::abstain`]). This is the exact decision `ask` and
    /// `cairn eval --abstention` use.
    pub fn retrieve_with_evidence(
        &mut self,
        query: &str,
        filters: &Filters,
        limit: usize,
    ) -> Result<Retrieved> {
        use crate::answer::abstain::{coverage, Evidence};
        if query.trim().is_empty() {
            return Err(Error::Invalid("the question is empty".into()));
        }
        if self.access == Access::ReadOnly {
            self.text.refresh()?;
        }
        let mut req = SearchRequest::new(query, &self.config);
        req.filters = filters.clone();
        req.limit = limit.max(1);
        let marks = self.catalog.marks()?;
        let filter = self.catalog.chunk_filter(&req.filters, &marks)?;
        let bm25 = match req.mode {
            SearchMode::Dense => Vec::new(),
            _ => self.text.search(query, req.candidates, &filter)?,
        };
        let mut notice = None;
        // Dense scores are the evidence, so they are computed whatever the ranking mode.
        let dense = match self.dense(&req, &filter) {
            Ok(h) => h,
            Err(Error::Model(m)) if req.mode != SearchMode::Dense => {
                notice = Some(format!(
                    "semantic search unavailable ({m}); keyword evidence only"
                ));
                Vec::new()
            }
            Err(e) => return Err(e),
        };
        let head: Vec<ChunkId> = dense.iter().take(8).map(|h| h.chunk).collect();
        let current = self.catalog.current_chunks(&head)?;
        let dense_top1 = dense
            .iter()
            .take(8)
            .find(|h| current.contains_key(&h.chunk))
            .map(|h| h.score);
        let fused = combine(&req, bm25, dense);
        let ids: Vec<ChunkId> = fused.iter().map(|h| h.chunk).collect();
        let records = self.catalog.current_chunks(&ids)?;
        let hits = assemble_hits(&fused, &records, &marks, &req);
        let texts: Vec<String> = hits
            .iter()
            .take(3)
            .map(|h| {
                format!(
                    "{} {} {}",
                    h.title.as_deref().unwrap_or(""),
                    h.heading.join(" "),
                    h.text
                )
            })
            .collect();
        let cov = coverage(query, texts.iter().map(String::as_str));
        let calibration = match dense_top1 {
            Some(_) => self.abstention_calibration()?,
            None => None,
        };
        let evidence = Evidence::decide(
            dense_top1,
            calibration.as_ref(),
            cov,
            !hits.is_empty(),
            self.config.answer.abstain_threshold,
        );
        Ok(Retrieved {
            hits,
            evidence,
            notice,
        })
    }

    /// The collection's calibration of the abstention signal: cached, recomputed when the
    /// embedded collection changed size by more than 10% (about a second per 100 samples).
    /// None when there are no vectors.
    pub fn abstention_calibration(
        &mut self,
    ) -> Result<Option<crate::answer::abstain::Calibration>> {
        use crate::answer::abstain::{self, Calibration};
        let model = self.model_id().to_owned();
        let passages = self.vectors()?.len() as u64;
        if passages == 0 {
            return Ok(None);
        }
        if let Some(c) = abstain::load(self.catalog.conn(), &model)? {
            if c.is_fresh(&model, passages) {
                return Ok(Some(c));
            }
        }
        let samples = self.config.answer.calibration_samples;
        let scores = self.pseudo_query_scores(samples, &abstain::pseudo_query)?;
        if scores.is_empty() {
            return Ok(None);
        }
        let generation = self.catalog.generation(Generation::Vector)?;
        let c = Calibration::new(&model, generation, passages, scores);
        if let Err(e) = abstain::store(self.catalog.conn(), &c) {
            tracing::warn!("cannot cache the abstention calibration: {e}");
        }
        Ok(Some(c))
    }

    /// For each pseudo-query `make` builds from up to `samples` current embedded passages spread
    /// evenly over the collection: the best dense score it reaches, and the best score of a
    /// passage other than the one it was made from (None when the collection has one passage).
    pub fn pseudo_query_scores(
        &mut self,
        samples: usize,
        make: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Vec<(f32, Option<f32>)>> {
        let ids: Vec<ChunkId> = {
            let mut stmt = self.catalog.conn().prepare(
                "SELECT c.id FROM chunks c JOIN versions v ON v.id = c.version_id
                 WHERE v.status = 'current' AND EXISTS
                   (SELECT 1 FROM embeddings e WHERE e.model_id = ?1 AND e.hash = c.embed_hash)
                 ORDER BY c.id",
            )?;
            let rows = stmt.query_map([self.model_id()], |r| r.get::<_, i64>(0))?;
            rows.map(|r| r.map(ChunkId))
                .collect::<rusqlite::Result<_>>()?
        };
        if ids.is_empty() || samples == 0 {
            return Ok(Vec::new());
        }
        let n = samples.min(ids.len());
        let picked: Vec<ChunkId> = (0..n).map(|i| ids[i * ids.len() / n]).collect();
        let records = self.catalog.current_chunks(&picked)?;
        let embedder = self.embedder()?;
        let mut scores = Vec::with_capacity(n);
        for id in &picked {
            let Some(q) = records.get(id).and_then(|r| make(&r.text)) else {
                continue;
            };
            let v = embedder.embed_query(&q)?;
            let hits = self
                .vectors()?
                .search(&v, 4, &crate::catalog::ChunkFilter::All)?;
            if let Some(h) = hits.first() {
                let other = hits.iter().find(|o| o.chunk != *id).map(|o| o.score);
                scores.push((h.score, other));
            }
        }
        Ok(scores)
    }

    /// Answers a question from the collection, with checked citations, and records it in the
    /// audit log.
    ///
    /// Weak evidence (see [`crate::answer::abstain`]) gives "I don't know" with the nearest
    /// passages, and the generator is not called. [`AnswerMode::Generative`] needs a
    /// generator: without one this returns [`Error::Generation`] (callers that want a
    /// model-free answer ask for [`AnswerMode::Extractive`]). Tokens stream to `on_token`
    /// (the extractive answer streams one quoted sentence at a time). With a session, a
    /// follow-up is rewritten into a standalone query and the exchange is appended to it.
    ///
    /// When the generator fails after [`Generator::prepare`] (the prompt, with its passages,
    /// may have reached the model), the attempt is still recorded in the audit log (empty
    /// answer, no citations, `error` set, nothing appended to the session) and its error is
    /// returned. Failures before that (no question, no generator, `prepare`) record nothing.
    ///
    /// [`Generator::prepare`]: crate::answer::Generator::prepare
    /// [`AnswerMode::Generative`]: crate::answer::AnswerMode::Generative
    /// [`AnswerMode::Extractive`]: crate::answer::AnswerMode::Extractive
    pub fn ask(
        &mut self,
        req: &crate::answer::AskRequest,
        generator: Option<&dyn crate::answer::Generator>,
        cancel: &AtomicBool,
        on_token: &mut dyn FnMut(&str),
    ) -> Result<crate::answer::Answer> {
        use crate::answer::{
            prompt, rewrite, AbstainedBy, Answer, AnswerMode, Citation, GenerateOptions, Source,
            Timings,
        };
        use crate::audit::{self, AuditRecord, MessageRole, RetrievedPassage};
        use crate::cite::{self, SourceText};

        let started = Instant::now();
        let question = req.question.trim();
        if question.is_empty() {
            return Err(Error::Invalid("the question is empty".into()));
        }
        let generator = match (req.mode, generator) {
            (AnswerMode::Generative, None) => {
                return Err(Error::generation(
                    "generative answers need a language model, and none is configured",
                ))
            }
            (AnswerMode::Generative, g) => g,
            (AnswerMode::Extractive, _) => None,
        };
        let spec = prompt::spec();
        let cfg = self.config.answer.clone();
        let history = match req.session {
            Some(id) => {
                if !audit::session_exists(self.catalog.conn(), id)? {
                    return Err(Error::NotFound(format!("there is no conversation {id}")));
                }
                audit::messages(self.catalog.conn(), id)?
            }
            None => Vec::new(),
        };

        let t = Instant::now();
        let (query, how) = rewrite::standalone(question, &history, generator, spec, cancel);
        let rewrite_ms = millis(t.elapsed());

        let t = Instant::now();
        let limit = if req.limit == 0 {
            cfg.sources
        } else {
            req.limit
        };
        let retrieved = self.retrieve_with_evidence(&query, &req.filters, limit.max(NEAREST))?;
        let retrieval_ms = millis(t.elapsed());

        let pins = audit::pins(self.catalog.conn())?;
        let mut sources: Vec<Source> = Vec::new();
        let mut abstained_by = None;
        let mut ttft_ms = None;
        let mut prompt_tokens = None;
        let mut completion_tokens = None;
        let mut tokens_per_second = None;
        let mut cancelled = false;
        let mut prompt_pins = Vec::new();
        // A generation that failed once the prompt was on its way: audited, then returned.
        let mut failure: Option<Error> = None;

        let t = Instant::now();
        let text = if !retrieved.evidence.answerable {
            abstained_by = Some(AbstainedBy::Evidence);
            let why = if retrieved.hits.is_empty() {
                "Nothing in the collection matches this question."
            } else {
                "No passage in the collection answers this closely enough; the nearest ones are listed."
            };
            let text = format!("{} {why}", spec.refusal);
            on_token(&text);
            text
        } else {
            sources = retrieved
                .hits
                .iter()
                .take(limit)
                .enumerate()
                .map(|(i, h)| Source::from_hit(i + 1, h))
                .collect();
            match generator {
                None => {
                    self.extractive_answer(&query, &sources, cfg.extractive_sentences, on_token)
                }
                Some(g) => {
                    // Nothing has been sent yet: a failure here is not an attempt to audit.
                    g.prepare()?;
                    let messages = prompt::render_answer(
                        spec,
                        &sources,
                        &pins,
                        question,
                        Some(&query),
                        cfg.max_source_chars,
                        4,
                    );
                    prompt_pins = pins.iter().map(|p| p.text.clone()).collect();
                    let opts = GenerateOptions {
                        max_tokens: cfg.max_tokens,
                        temperature: cfg.temperature,
                        stop: spec.stop.clone(),
                        seed: None,
                    };
                    match g.generate(&messages, &opts, cancel, on_token) {
                        Ok(out) => {
                            ttft_ms = out.time_to_first_token.map(millis);
                            prompt_tokens = out.prompt_tokens;
                            completion_tokens = Some(out.completion_tokens);
                            tokens_per_second = out.tokens_per_second();
                            cancelled = out.cancelled();
                            let text = out.text.trim().to_owned();
                            if cite::parse_marks(&text).is_empty()
                                && cite::is_refusal(&text, &spec.refusal)
                            {
                                abstained_by = Some(AbstainedBy::Model);
                            }
                            text
                        }
                        Err(e) => {
                            failure = Some(e);
                            String::new()
                        }
                    }
                }
            }
        };
        let generation_ms = millis(t.elapsed());
        // The model is recorded only when it took part (rewrite or answer).
        let used = how == rewrite::Rewrite::Model || (generator.is_some() && !sources.is_empty());
        let (model_id, endpoint) = match generator {
            Some(g) if used => (Some(g.model_id()), g.endpoint()),
            _ => (None, None),
        };

        let checked: Vec<SourceText<'_>> = sources
            .iter()
            .map(|s| SourceText {
                n: s.n,
                text: &s.text,
                context: s.context(),
            })
            .collect();
        let mut verification = if failure.is_some() {
            cite::Verification::default()
        } else {
            cite::verify(&text, &checked, cfg.min_support, &spec.refusal)
        };
        if abstained_by.is_some() {
            // An "I don't know" and its explanation cite nothing, by design.
            for s in &mut verification.sentences {
                s.uncited = false;
            }
        }
        let citations: Vec<Citation> = verification
            .citations
            .iter()
            .map(|c| {
                let s = sources.iter().find(|s| s.n == c.n);
                Citation {
                    n: c.n,
                    sentence: c.sentence,
                    verdict: c.verdict,
                    support: c.support,
                    reason: c.reason.clone(),
                    path: s.map(|s| s.path.clone()),
                    version: s.map(|s| s.version),
                    page: s.and_then(|s| s.page),
                    byte_span: s.map(|s| s.byte_span),
                    chunk_id: s.map(|s| s.chunk_id),
                }
            })
            .collect();
        let abstained = abstained_by.is_some();
        let nearest: Vec<SearchHit> = if abstained {
            retrieved.hits.iter().take(NEAREST).cloned().collect()
        } else {
            Vec::new()
        };
        let timings = Timings {
            rewrite_ms,
            retrieval_ms,
            ttft_ms,
            prompt_tokens,
            completion_tokens,
            tokens_per_second,
            generation_ms,
            total_ms: millis(started.elapsed()),
        };
        let record = AuditRecord {
            id: crate::audit::AuditId(0),
            at: crate::catalog::now(),
            session: req.session,
            question: question.to_owned(),
            rewritten_query: query.clone(),
            rewrite: how.as_str().to_owned(),
            mode: req.mode,
            filters: describe_filters(&req.filters),
            retrieved: retrieved
                .hits
                .iter()
                .enumerate()
                .map(|(i, h)| RetrievedPassage {
                    rank: i + 1,
                    chunk_id: h.chunk_id.0,
                    score: h.score,
                    path: h.path.clone(),
                    version: h.version,
                    page: h.page,
                    byte_span: (h.byte_start, h.byte_end),
                    source: sources
                        .iter()
                        .find(|s| s.chunk_id == h.chunk_id.0)
                        .map(|s| s.n),
                })
                .collect(),
            evidence: retrieved.evidence.clone(),
            template_version: spec.version.clone(),
            model_id: model_id.clone(),
            endpoint: endpoint.clone(),
            timings,
            answer: text.clone(),
            abstained,
            citations: citations.clone(),
            uncited: verification.uncited().map(|s| s.text.clone()).collect(),
            pins: prompt_pins,
            cancelled,
            error: failure.as_ref().map(|e| match e {
                Error::Generation(g) => g.message.clone(),
                other => other.to_string(),
            }),
        };
        let conn = self.catalog.conn();
        if let Some(e) = failure {
            // The caller sees the generator's error, as without the audit; the record is kept
            // if it can be, and its own failure is only logged.
            if let Err(db) = audit::insert_audit(conn, &record) {
                tracing::warn!("cannot record the failed answer attempt in the audit log: {db}");
            }
            return Err(e);
        }
        let audit_id = audit::insert_audit(conn, &record)?;
        if let Some(session) = req.session {
            audit::add_message(
                conn,
                session,
                MessageRole::User,
                question,
                Some(&query),
                None,
            )?;
            audit::add_message(
                conn,
                session,
                MessageRole::Assistant,
                &text,
                None,
                Some(audit_id),
            )?;
        }
        Ok(Answer {
            text,
            mode: req.mode,
            citations,
            sentences: verification.sentences,
            sources,
            abstained,
            abstained_by,
            nearest,
            evidence: retrieved.evidence,
            audit_id,
            session: req.session,
            question: question.to_owned(),
            rewritten_query: query,
            template_version: spec.version.clone(),
            model_id,
            endpoint,
            timings,
            cancelled,
            notice: retrieved.notice,
        })
    }

    /// The extractive answer: best supporting sentences, verbatim, each cited; streamed one
    /// line at a time. Uses embedding similarity when the embedder loads, word overlap alone
    /// otherwise.
    fn extractive_answer(
        &mut self,
        query: &str,
        sources: &[crate::answer::Source],
        k: usize,
        on_token: &mut dyn FnMut(&str),
    ) -> String {
        use crate::answer::extract;
        let mut cands = extract::candidates(query, sources);
        cands.truncate(MAX_EXTRACT_CANDIDATES);
        let similarities = self.embedder().ok().and_then(|e| {
            let q = e.embed_query(query).ok()?;
            let texts: Vec<&str> = cands.iter().map(|c| c.text.as_str()).collect();
            let vs = e.embed_passages(&texts).ok()?;
            Some(
                vs.iter()
                    .map(|v| v.iter().zip(&q).map(|(a, b)| a * b).sum::<f32>())
                    .collect::<Vec<f32>>(),
            )
        });
        let picks = extract::pick(cands, similarities.as_deref(), k);
        let mut lines = extract::render(&picks);
        if lines.is_empty() {
            // No full sentence to quote (a table, a list of words): quote the best passage.
            if let Some(s) = sources.first() {
                let words: Vec<&str> = s.text.split_whitespace().take(60).collect();
                lines.push(format!("{} [{}]", words.join(" "), s.n));
            }
        }
        for (i, line) in lines.iter().enumerate() {
            if i > 0 {
                on_token("\n");
            }
            on_token(line);
        }
        lines.join("\n")
    }

    /// Starts a conversation; `ask` with its id continues it.
    pub fn new_session(&self, title: &str) -> Result<crate::audit::SessionId> {
        crate::audit::create_session(self.catalog.conn(), title.trim())
    }

    /// Conversations, oldest first.
    pub fn sessions(&self) -> Result<Vec<crate::audit::Session>> {
        crate::audit::list_sessions(self.catalog.conn())
    }

    /// The messages of a conversation.
    pub fn session_messages(
        &self,
        id: crate::audit::SessionId,
    ) -> Result<Vec<crate::audit::Message>> {
        if !crate::audit::session_exists(self.catalog.conn(), id)? {
            return Err(Error::NotFound(format!("there is no conversation {id}")));
        }
        crate::audit::messages(self.catalog.conn(), id)
    }

    /// Pins a fact: it is added to every generated answer's prompt.
    pub fn pin_add(&self, text: &str) -> Result<crate::audit::PinId> {
        let text = text.trim();
        if text.is_empty() {
            return Err(Error::Invalid("a pinned fact must not be empty".into()));
        }
        if text.len() > 2000 {
            return Err(Error::Invalid(
                "a pinned fact must be at most 2000 characters".into(),
            ));
        }
        crate::audit::add_pin(self.catalog.conn(), text)
    }

    /// Pinned facts, oldest first.
    pub fn pins(&self) -> Result<Vec<crate::audit::Pin>> {
        crate::audit::pins(self.catalog.conn())
    }

    /// Unpins a fact.
    pub fn pin_remove(&self, id: crate::audit::PinId) -> Result<()> {
        crate::audit::remove_pin(self.catalog.conn(), id)
    }

    /// The newest `limit` audit records, newest first.
    pub fn audit_list(&self, limit: usize) -> Result<Vec<crate::audit::AuditSummary>> {
        crate::audit::list_audit(self.catalog.conn(), limit)
    }

    /// One full audit record.
    pub fn audit_record(&self, id: crate::audit::AuditId) -> Result<crate::audit::AuditRecord> {
        crate::audit::get_audit(self.catalog.conn(), id)
    }

    /// Every audit record, oldest first.
    pub fn audit_export(&self) -> Result<Vec<crate::audit::AuditRecord>> {
        crate::audit::all_audit(self.catalog.conn())
    }
}
