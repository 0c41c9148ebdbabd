//! The OCR phase, between the keyword phase and the embedding backlog: the pages the keyword
//! phase found without text (`ocr_pending` in the catalog) are recognised one at a time, in a
//! parser worker under the parse budgets (`isolate::recognise`), and their passages join the
//! document's current version (page kept, heading `recognised text (OCR)`), keyword-searchable
//! as the phase goes and embedded by the backlog after it.
//!
//! Each page commits on its own, so a stopped or killed run continues with the next page; a
//! file whose content changed since its keyword phase is skipped (the next keyword phase makes
//! a new version, which drops the old version's work). Without `tesseract`/`pdftoppm` the work
//! waits, counted in [`IndexReport::ocr_waiting`].

use std::path::Path;
use std::time::{Duration, Instant};

use super::indexing::new_chunks;
use super::{IndexReport, Phase, Progress, Writer};
use crate::catalog::{Batch, BatchOutcome, OcrWork, VersionId};
use crate::chunk::Chunker;
use crate::error::{Error, Result};
use crate::parse::ocr;
use crate::stop::StopToken;

/// How often recognised passages are committed to the keyword index.
const COMMIT_EVERY: Duration = Duration::from_millis(1500);

impl Writer {
    /// Recognises the pages waiting for OCR, most recently modified documents first. Stops
    /// between pages (and kills a running recognition) when `cancel` is stopped, setting
    /// `report.cancelled`.
    pub fn recognise_backlog(
        &mut self,
        progress: &mut dyn FnMut(&Progress),
        cancel: &StopToken,
        report: &mut IndexReport,
    ) -> Result<()> {
        let work = self.catalog.ocr_work()?;
        if work.is_empty() {
            return Ok(());
        }
        if !ocr::available() {
            report.ocr_waiting = work.len();
            return Ok(());
        }
        let started = Instant::now();
        let chunker = Chunker::new(
            self.token_counter()?.clone(),
            &self.config.chunking,
            self.config.chunk_tokens(),
        );
        crate::parse::isolate::set_limits(self.config.ingest.parse_limits());
        let max_bytes = self.config.ingest.max_file_bytes;
        let mut p = Progress {
            phase: Phase::Recognising,
            files_done: 0,
            files_total: work.len(),
            chunks_done: 0,
            chunks_total: 0,
            current: None,
        };
        progress(&p);
        // The bytes of the file being recognised, while they are its version's content.
        let mut file: Option<(VersionId, Option<Vec<u8>>)> = None;
        let mut dirty = false;
        let mut last_commit = Instant::now();
        for w in &work {
            if cancel.is_stopped() {
                report.cancelled = true;
                break;
            }
            p.current = Some(w.path.clone());
            if file.as_ref().map(|(v, _)| *v) != Some(w.version) {
                file = Some((w.version, unchanged_bytes(w, max_bytes)));
            }
            // A changed or vanished file is read anew by the next keyword phase.
            if let Some(bytes) = file.as_ref().and_then(|(_, b)| b.as_deref()) {
                match crate::parse::isolate::recognise(&w.path, bytes, w.page, cancel) {
                    Ok(mut doc) => {
                        doc.title = w.title.clone();
                        let chunks = new_chunks(&doc, chunker.chunk(&doc));
                        let added = self.catalog.add_recognised(w, &chunks, doc.text.len())?;
                        report.pages_recognised += 1;
                        p.chunks_done += added.len();
                        let outcome = BatchOutcome {
                            added_chunks: added,
                            ..BatchOutcome::default()
                        };
                        dirty |= self.mirror(&outcome, report)?;
                    }
                    Err(Error::Cancelled) => {
                        report.cancelled = true;
                        break;
                    }
                    Err(Error::Parse { reason, .. }) if ocr::waits_for_ocr(&reason) => {
                        report.ocr_waiting += 1;
                    }
                    Err(e) => self.page_failed(w, &e)?,
                }
            }
            p.files_done += 1;
            if dirty && last_commit.elapsed() >= COMMIT_EVERY {
                self.commit_text()?;
                dirty = false;
                last_commit = Instant::now();
            }
            progress(&p);
        }
        if dirty {
            self.commit_text()?;
        }
        report.ocr_seconds = started.elapsed().as_secs_f64();
        Ok(())
    }

    /// A page that cannot be recognised (unreadable image, over the budget): its work is
    /// dropped and the file gets a problem naming the page; its other passages stay.
    fn page_failed(&mut self, w: &OcrWork, e: &Error) -> Result<()> {
        let reason = match e {
            Error::Parse { reason, .. } => reason.clone(),
            e => e.to_string(),
        };
        let reason = if w.page == 0 {
            format!("OCR: {reason}")
        } else {
            format!("OCR of page {}: {reason}", w.page)
        };
        self.catalog.add_recognised(w, &[], 0)?;
        let mut batch = Batch::default();
        batch.problems.push((w.path.clone(), w.folder, reason));
        self.catalog.apply_batch(&batch)?;
        Ok(())
    }
}

/// The file's bytes if it still holds the content `w`'s version was read from.
fn unchanged_bytes(w: &OcrWork, max_bytes: u64) -> Option<Vec<u8>> {
    let bytes = crate::watch::read_regular_file(Path::new(&w.path), max_bytes).ok()?;
    (blake3::hash(&bytes).as_bytes()[..] == w.content_hash[..]).then_some(bytes)
}
