//! Phase 2 of indexing: embed the backlog of current passages that have no vector yet.
//!
//! The model runs on a thread of its own while the writer stores the previous batch (catalog
//! commit, vector index, conflict search), so storing hides beside embedding instead of adding
//! up after it. Every stored batch commits, so the phase is resumable at any point.

use std::collections::VecDeque;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::indexing::{IndexReport, Phase, Progress};
use super::Writer;
use crate::catalog::{ChunkId, Generation, PendingChunk};
use crate::chunk::embedding_text;
use crate::error::Result;
use crate::stop::StopToken;

const SAVE_VECTORS_EVERY: Duration = Duration::from_secs(10);
/// Passages per job of the model thread, stored in one catalog commit (the model splits a job
/// into inference batches of `embedding.batch_size`).
const JOB_PASSAGES: usize = 32;
/// Jobs of pending passages read from the catalog at once.
const PENDING_PAGE_JOBS: usize = 32;
/// Batches handed to the model thread at once: one being embedded, one waiting, so the model
/// never waits for the writer.
const IN_FLIGHT: usize = 2;

/// One embedded batch coming back from the model thread.
struct Embedded {
    pending: Vec<PendingChunk>,
    vectors: Result<Vec<Vec<f32>>>,
    seconds: f64,
}

impl Writer {
    /// Phase 2: embeds current chunks that have no vector yet, newest documents first.
    pub fn embed_backlog(
        &mut self,
        progress: &mut dyn FnMut(&Progress),
        cancel: &StopToken,
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
        self.vectors_mut()?;
        if backlog == 0 {
            p.phase = Phase::Done;
            progress(&p);
            return Ok(());
        }
        progress(&p);
        let embedder = self.embedder()?;
        let result = std::thread::scope(|scope| -> Result<()> {
            let (jobs_tx, jobs) = mpsc::sync_channel::<Vec<PendingChunk>>(IN_FLIGHT);
            let (done_tx, done) = mpsc::sync_channel::<Embedded>(IN_FLIGHT);
            let model_thread = embedder.clone();
            scope.spawn(move || {
                for pending in jobs {
                    let texts: Vec<String> = pending
                        .iter()
                        .map(|c| embedding_text(c.title.as_deref(), &c.heading_path, &c.text))
                        .collect();
                    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                    let t = Instant::now();
                    let vectors = model_thread.embed_passages(&refs);
                    let seconds = t.elapsed().as_secs_f64();
                    let failed = vectors.is_err();
                    let sent = done_tx.send(Embedded {
                        pending,
                        vectors,
                        seconds,
                    });
                    if failed || sent.is_err() {
                        break;
                    }
                }
            });
            let mut last_save = Instant::now();
            // Pending passages are read a page at a time (finding them scans the current
            // chunks; one scan per batch made the backlog quadratic). A page is read only when
            // nothing is in flight, so no passage is handed out twice.
            let mut page: VecDeque<PendingChunk> = VecDeque::new();
            let mut in_flight = 0usize;
            loop {
                while in_flight < IN_FLIGHT {
                    if cancel.is_stopped() {
                        report.cancelled = true;
                        break;
                    }
                    if page.is_empty() {
                        if in_flight > 0 {
                            break;
                        }
                        let mut next = self
                            .catalog
                            .pending_chunks(&model, JOB_PASSAGES * PENDING_PAGE_JOBS)?;
                        // Batches of passages of about one length waste little on padding.
                        next.sort_by_key(|c| c.text.len());
                        page = next.into();
                        if page.is_empty() {
                            break;
                        }
                    }
                    let pending: Vec<_> = page.drain(..JOB_PASSAGES.min(page.len())).collect();
                    if jobs_tx.send(pending).is_err() {
                        break; // the model thread stopped on an error it has sent back
                    }
                    in_flight += 1;
                }
                if in_flight == 0 {
                    break;
                }
                let Ok(embedded) = done.recv() else { break };
                in_flight -= 1;
                let vectors = embedded.vectors?;
                let rate = embedded.pending.len() as f64 / embedded.seconds.max(1e-6);
                let ready = self.store_embedded(&model, &embedded.pending, vectors, report)?;
                if page.is_empty() || last_save.elapsed() >= SAVE_VECTORS_EVERY {
                    self.catalog.set_meta("embed_rate", &format!("{rate:.2}"))?;
                }
                if last_save.elapsed() >= SAVE_VECTORS_EVERY {
                    let generation = self.catalog.generation(Generation::Vector)?;
                    self.vectors_mut()?.commit(generation)?;
                    last_save = Instant::now();
                }
                p.chunks_done += ready;
                progress(&p);
            }
            Ok(())
        });
        embedder.release_memory();
        let generation = self.catalog.generation(Generation::Vector)?;
        self.vectors_mut()?.commit(generation)?;
        result?;
        report.embed_seconds = started.elapsed().as_secs_f64();
        p.phase = Phase::Done;
        progress(&p);
        Ok(())
    }

    /// Stores one embedded batch: the vectors in the catalog (keyed by text), every current
    /// passage with that text in the vector index, and the conflicts they reveal. Returns how
    /// many passages became searchable by meaning.
    fn store_embedded(
        &mut self,
        model: &str,
        pending: &[PendingChunk],
        vectors: Vec<Vec<f32>>,
        report: &mut IndexReport,
    ) -> Result<usize> {
        let rows: Vec<(Vec<u8>, Vec<f32>)> = pending
            .iter()
            .map(|c| c.embed_hash.clone())
            .zip(vectors)
            .collect();
        let ready = self.catalog.store_vectors(model, &rows)?;
        report.texts_embedded += rows.len();
        report.chunks_embedded += ready.len();
        let v = self.vectors_mut()?;
        for (id, vec) in &ready {
            v.add(*id, vec)?;
        }
        self.detect_conflicts(&ready)?;
        Ok(ready.len())
    }

    /// Finds current passages in other documents that are near-duplicates of `new` ones but
    /// differ in text, and records them as conflicts for the user to resolve.
    pub(crate) fn detect_conflicts(&mut self, new: &[(ChunkId, Vec<f32>)]) -> Result<()> {
        let threshold = self.config.ingest.conflict_similarity;
        if threshold >= 1.0 || new.is_empty() {
            return Ok(());
        }
        let mut candidates = Vec::new();
        {
            let v = self.vectors_mut()?;
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
