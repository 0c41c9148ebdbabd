//! [`reconcile`]: the step `cairn watch` and the desktop app repeat — mark changed paths dirty,
//! run the keyword phase, recognise the pages waiting for OCR, then embed the backlog,
//! yielding to commands and fresh changes.

use std::path::PathBuf;
use std::time::Instant;

use super::{IndexReport, Progress, Writer};
use crate::error::{Error, Result};
use crate::stop::StopToken;

/// What one [`reconcile`] did.
#[derive(Debug, Clone, Default)]
pub struct Reconciled {
    pub report: IndexReport,
    /// Milliseconds until the keyword index was committed.
    pub keyword_ms: f64,
    /// OCR or embedding stopped early because `interrupt` was stopped (files changed, a
    /// command or a pause is waiting); it resumes with the next reconcile.
    pub embedding_paused: bool,
    /// The keyword phase stopped early because `command_waiting` was stopped; files not yet
    /// parsed are parsed by the next reconcile (committed work is kept).
    pub keyword_paused: bool,
}

/// One reconcile, the step `cairn watch` and the desktop app repeat: mark `paths` dirty, run
/// the keyword phase (stopped by `stop`, and yielding to `command_waiting` between files and
/// during a slow parse), then embed the backlog (also stopped by `interrupt`, so fresh changes
/// never wait behind a long backlog). `interrupt` is reset first; `command_waiting` is the
/// caller's to reset (before it takes its queued commands). A missing embedding model is
/// reported in the report, not as an error.
pub fn reconcile(
    writer: &mut Writer,
    paths: &[PathBuf],
    embed: bool,
    stop: &StopToken,
    interrupt: &StopToken,
    command_waiting: &StopToken,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Reconciled> {
    let started = Instant::now();
    interrupt.reset();
    crate::watch::live::mark_dirty(writer.catalog(), paths)?;
    let mut report = writer.index_text(progress, &stop.joined(command_waiting))?;
    let keyword_ms = (started.elapsed().as_secs_f64() * 1e4).round() / 10.0;
    if report.cancelled && !stop.is_stopped() {
        report.cancelled = false;
        return Ok(Reconciled {
            report,
            keyword_ms,
            embedding_paused: false,
            keyword_paused: true,
        });
    }
    let mut embedding_paused = false;
    if !report.cancelled {
        writer.recognise_backlog(progress, &stop.joined(interrupt), &mut report)?;
        if report.cancelled && !stop.is_stopped() {
            report.cancelled = false;
            embedding_paused = true;
        }
    }
    if embed && !report.cancelled && !embedding_paused {
        match writer.embed_backlog(progress, &stop.joined(interrupt), &mut report) {
            Ok(()) => {}
            Err(Error::Model(m)) => report.embedding_error = Some(m),
            Err(e) => return Err(e),
        }
        if report.cancelled && !stop.is_stopped() {
            report.cancelled = false;
            embedding_paused = true;
        }
    }
    Ok(Reconciled {
        report,
        keyword_ms,
        embedding_paused,
        keyword_paused: false,
    })
}
