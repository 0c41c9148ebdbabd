//! Indexing, stage by stage: scan the folders, plan what changed, parse and chunk the changed
//! files (in parallel), apply each batch to the catalog and mirror it into the derived indexes,
//! then embed the backlog (phase 2, in `embedding.rs`).
//!
//! Phase 1 (scan → plan → parse → apply) commits to the catalog and the text index in batches:
//! the collection is keyword-searchable within seconds; pages without text are only listed.
//! The OCR phase (`ocr.rs`) then recognises them page by page. Phase 2 embeds the backlog of chunks
//! without vectors, most recently modified documents first, in batches that each commit, so it
//! is resumable at any point.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde::Serialize;

use super::Writer;
use crate::catalog::{Batch, BatchOutcome, ChunkMail, Generation, KnownDoc, NewChunk, NewVersion};
use crate::chunk::{embedding_text, ChunkDraft, Chunker};
use crate::error::{Error, Result};
use crate::parse::ParsedDoc;
use crate::stop::StopToken;
use crate::watch::{self, FileEntry};

const BATCH_FILES: usize = 64;
const COMMIT_EVERY: Duration = Duration::from_millis(1500);

/// Indexing progress, reported through the callback of [`Engine::index`].
#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    pub phase: Phase,
    /// Files read (pages recognised in [`Phase::Recognising`]).
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
    /// OCR of the pages without text that the keyword phase listed.
    Recognising,
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
    /// OCR work items done (PDF pages; an image counts once) and the time they took.
    pub pages_recognised: usize,
    pub ocr_seconds: f64,
    /// OCR work left waiting because `tesseract` or `pdftoppm` cannot be started.
    pub ocr_waiting: usize,
    pub embed_seconds: f64,
    pub cancelled: bool,
    pub embedding_error: Option<String>,
}

impl Writer {
    /// Registers a folder. It must exist; it is indexed by the next [`Engine::index`].
    pub fn add_folder(&mut self, path: &Path) -> Result<PathBuf> {
        let abs = path
            .canonicalize()
            .map_err(|e| Error::io("opening folder", path, e))?;
        if !abs.is_dir() {
            return Err(Error::Invalid(format!("{} is not a folder", abs.display())));
        }
        if watch::is_system_path(&abs) {
            return Err(Error::Invalid(format!(
                "{} holds system files, not documents: it cannot be added",
                abs.display()
            )));
        }
        // Overlapping folders would index the same files twice.
        for f in self.catalog.folders()? {
            if f.path == abs {
                continue;
            }
            if abs.starts_with(&f.path) {
                return Err(Error::Invalid(format!(
                    "{} is inside {}, which is already in the library",
                    abs.display(),
                    f.path.display()
                )));
            }
            if f.path.starts_with(&abs) {
                return Err(Error::Invalid(format!(
                    "{} contains {}, which is already in the library: remove that folder first, then add this one",
                    abs.display(),
                    f.path.display()
                )));
            }
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

    /// Indexes every registered folder: phase 1 (text), OCR, then phase 2 (embeddings).
    pub fn index(
        &mut self,
        progress: &mut dyn FnMut(&Progress),
        cancel: &StopToken,
    ) -> Result<IndexReport> {
        let mut report = self.index_text(progress, cancel)?;
        if !report.cancelled {
            self.recognise_backlog(progress, cancel, &mut report)?;
        }
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
        cancel: &StopToken,
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
        // Paths the user forgot are left alone (`Writer::forget`).
        let forgotten = self.catalog.forgotten()?;
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
                if !forgotten.covers(&path) {
                    walk_problems.problems.push((path, folder.id, reason));
                }
            }
            let mut known = self.catalog.known_docs(folder.id)?;
            // Files that failed or are not documents: not read again until they change.
            let mut settled = self.catalog.settled_failures(folder.id)?;
            // Files that waited for OCR programs are read again once they are installed.
            let waiting: Vec<PathBuf> = self
                .catalog
                .problems()?
                .into_iter()
                .filter(|p| {
                    settled.contains_key(&p.path) && crate::parse::ocr::waits_for_ocr(&p.reason)
                })
                .map(|p| p.path)
                .collect();
            if !waiting.is_empty() && crate::parse::ocr::available() {
                for path in &waiting {
                    settled.remove(path);
                }
            }
            let mut todo = Vec::new();
            let mut seen = HashSet::new();
            for f in scan
                .files
                .into_iter()
                .filter(|f| !forgotten.covers(&f.path))
            {
                report.files_seen += 1;
                seen.insert(f.path.clone());
                match known.get(&f.path) {
                    Some(k) if k.size == f.size && k.stat_ns == Some(f.mtime_ns) => {
                        report.files_unchanged += 1
                    }
                    None if settled.get(&f.path) == Some(&(f.size, f.mtime_ns)) => {
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
        let max_bytes = self.config.ingest.max_file_bytes;
        crate::parse::isolate::set_limits(self.config.ingest.parse_limits());
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
                if cancel.is_stopped() {
                    report.cancelled = true;
                    break;
                }
                let outcomes: Vec<FileOutcome> = files
                    .par_iter()
                    .map(|f| process_file(f, fw.known.get(&f.path), &chunker, max_bytes, cancel))
                    .collect();
                let mut batch = Batch::default();
                let mut done = 0;
                for (f, outcome) in files.iter().zip(outcomes) {
                    if !matches!(outcome, FileOutcome::Stopped) {
                        done += 1;
                    }
                    match outcome {
                        // Not judged: parsed again by the next run.
                        FileOutcome::Stopped => report.cancelled = true,
                        FileOutcome::Unsupported => {
                            report.files_unsupported += 1;
                            batch.skipped.push((f.path.clone(), fw.folder));
                            if let Some(stat) = watch::trusted_stat(f.mtime_ns) {
                                batch.stats.insert(f.path.clone(), (f.size, stat));
                            }
                        }
                        FileOutcome::Same { version } => {
                            let stat = watch::trusted_stat(f.mtime_ns);
                            self.catalog.touch_version(version, f.mtime, stat)?;
                            report.files_unchanged += 1;
                        }
                        FileOutcome::Problem(reason) => {
                            batch.problems.push((f.path.clone(), fw.folder, reason));
                            if let Some(stat) = watch::trusted_stat(f.mtime_ns) {
                                batch.stats.insert(f.path.clone(), (f.size, stat));
                            }
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
                p.files_done += done;
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

    pub(crate) fn commit_text(&mut self) -> Result<()> {
        let generation = self.catalog.generation(Generation::Text)?;
        self.text.commit(generation)
    }

    /// Applies a batch to the catalog, then mirrors it into the derived indexes.
    pub(crate) fn apply(&mut self, batch: &Batch, report: &mut IndexReport) -> Result<bool> {
        if batch.is_empty() {
            return Ok(false);
        }
        let outcome = self.catalog.apply_batch(batch)?;
        report.new_versions += outcome.versions;
        report.renamed += outcome.renamed;
        report.deleted += outcome.deleted;
        let changed = self.mirror(&outcome, report)?;
        Ok(changed || outcome.renamed > 0)
    }

    /// Mirrors the chunks a catalog change added and removed into the derived indexes;
    /// returns whether any did.
    pub(crate) fn mirror(
        &mut self,
        outcome: &BatchOutcome,
        report: &mut IndexReport,
    ) -> Result<bool> {
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
            let v = self.vectors_mut()?;
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
                v.commit(generation)?;
            }
        }
        Ok(changed)
    }
}

enum FileOutcome {
    /// The run was stopped while this file was being parsed (its worker was killed).
    Stopped,
    Unsupported,
    Same {
        version: crate::catalog::VersionId,
    },
    Problem(String),
    New(Box<NewVersion>),
}

/// Reads, hashes, parses and chunks one file (runs on the rayon pool, touches no shared state).
fn process_file(
    f: &FileEntry,
    known: Option<&KnownDoc>,
    chunker: &Chunker,
    max_bytes: u64,
    stop: &StopToken,
) -> FileOutcome {
    if stop.is_stopped() {
        return FileOutcome::Stopped;
    }
    let bytes = match watch::read_regular_file(&f.path, max_bytes) {
        Ok(b) => b,
        Err(e) => return FileOutcome::Problem(crate::watch::unreadable(&e)),
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
    let doc = match crate::parse::isolate::parse(&f.path, &bytes, stop) {
        Ok(d) => d,
        Err(Error::Cancelled) => return FileOutcome::Stopped,
        Err(Error::Parse { reason, .. }) => return FileOutcome::Problem(reason),
        Err(e) => return FileOutcome::Problem(e.to_string()),
    };
    // Without the OCR programs a file whose text all waits for OCR is a problem that says so
    // (read again once they are installed); a PDF with some text is indexed, its other pages
    // waiting.
    if !doc.ocr_pages.is_empty() && doc.text.trim().is_empty() && !crate::parse::ocr::available() {
        return FileOutcome::Problem(crate::parse::ocr::unavailable_reason(doc.kind));
    }
    let drafts = chunker.chunk(&doc);
    if drafts.len() > crate::parse::limits::MAX_PASSAGES {
        return FileOutcome::Problem(crate::parse::limits::too_many_passages(drafts.len()));
    }
    let chunks = new_chunks(&doc, drafts);
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
        ocr_pages: doc.ocr_pages,
    }))
}

/// The chunks to store for `doc`'s drafts: the hash of the text embedded, the mail metadata.
pub(super) fn new_chunks(doc: &ParsedDoc, drafts: Vec<ChunkDraft>) -> Vec<NewChunk> {
    drafts
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
                mail: doc.message_at(d.start).map(|m| ChunkMail {
                    sender: m.from.clone(),
                    sent_at: m.date,
                }),
                text: d.text,
            }
        })
        .collect()
}
