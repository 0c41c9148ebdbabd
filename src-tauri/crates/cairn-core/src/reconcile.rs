//! One reconcile: the indexing step shared by `cairn watch` and the desktop app's writer thread
//! (`cairn-library`). It marks the changed paths dirty, runs the keyword phase, then embeds the
//! backlog, yielding when an interrupt flag is set so fresh changes never wait behind it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::engine::{Engine, IndexReport, Progress};
use crate::error::{Error, Result};
use crate::watch::live;

/// What one [`reconcile`] did.
#[derive(Debug, Clone, Default)]
pub struct Reconciled {
    pub report: IndexReport,
    /// Milliseconds until the keyword index was committed.
    pub keyword_ms: f64,
    /// Embedding stopped early because `interrupt` was set (files changed, a command or a
    /// pause is waiting); it resumes with the next reconcile.
    pub embedding_paused: bool,
}

/// One reconcile: mark `paths` dirty, run the keyword phase (stopped only by `stop`), then
/// embed the backlog (also stopped by `interrupt`, so fresh changes never wait behind a long
/// backlog). A missing embedding model is reported in the report, not as an error.
pub fn reconcile(
    engine: &mut Engine,
    paths: &[PathBuf],
    embed: bool,
    stop: &AtomicBool,
    interrupt: &AtomicBool,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Reconciled> {
    let started = Instant::now();
    interrupt.store(false, Ordering::SeqCst);
    live::mark_dirty(engine.catalog(), paths)?;
    let mut report = engine.index_text(progress, stop)?;
    let keyword_ms = millis(started.elapsed());
    let mut embedding_paused = false;
    if embed && !report.cancelled {
        // Either flag stops the embedding at its next batch.
        let either = AtomicBool::new(false);
        let watch = || stop.load(Ordering::SeqCst) || interrupt.load(Ordering::SeqCst);
        let mut forward = |p: &Progress| {
            either.store(watch(), Ordering::SeqCst);
            progress(p)
        };
        // `embed_backlog` polls its flag between batches; keep it current from a helper thread
        // so an interrupt lands even between progress callbacks.
        let done = AtomicBool::new(false);
        let result = std::thread::scope(|s| {
            s.spawn(|| {
                while !done.load(Ordering::SeqCst) {
                    if watch() {
                        either.store(true, Ordering::SeqCst);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            });
            let r = engine.embed_backlog(&mut forward, &either, &mut report);
            done.store(true, Ordering::SeqCst);
            r
        });
        match result {
            Ok(()) => {}
            Err(Error::Model(m)) => report.embedding_error = Some(m),
            Err(e) => return Err(e),
        }
        if report.cancelled && !stop.load(Ordering::SeqCst) {
            report.cancelled = false;
            embedding_paused = true;
        }
    }
    Ok(Reconciled {
        report,
        keyword_ms,
        embedding_paused,
    })
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e4).round() / 10.0
}
