//! Indexing progress as the window shows it: [`IndexProgress`] snapshots (phase, files, OCR
//! pages and passages done/total, rate, ETA), how an engine [`Progress`] report updates one, the rate/ETA
//! [`Meter`], and the throttled delivery of snapshots through the [`Library`] callback.

use std::time::{Duration, Instant};

use cairn_core::engine::{Phase, Progress};
use serde::{Deserialize, Serialize};

use crate::{lock, Library, LibraryEvent};

/// Minimum time between two progress events of the same phase.
pub(crate) const EMIT_EVERY: Duration = Duration::from_millis(120);

/// The phase shown by the progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "lowercase")]
pub enum ProgressPhase {
    /// Nothing to do (no folders, still opening, or a run was cancelled).
    Idle,
    Scanning,
    Parsing,
    /// OCR of pages without text (after the keyword phase).
    Recognising,
    Embedding,
    /// Everything indexed; following the folders live.
    Done,
    Paused,
    Error,
}

/// A snapshot of indexing, delivered through the [`Library`] callback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct IndexProgress {
    pub phase: ProgressPhase,
    pub files_done: u32,
    pub files_total: u32,
    pub chunks_done: u32,
    pub chunks_total: u32,
    /// Pages recognised by the OCR phase, and how many it has (an image counts once).
    pub pages_done: u32,
    pub pages_total: u32,
    /// Items per second of the current phase (files while parsing, pages while recognising,
    /// passages while embedding).
    pub rate: Option<f64>,
    /// Seconds left in the current phase at the current rate.
    pub eta_seconds: Option<f64>,
    /// The file being read.
    pub current: Option<String>,
    /// A notice or error to show next to the bar.
    pub message: Option<String>,
    /// The library accepts changes (false: read-only because another process writes it).
    pub writable: bool,
    /// The library is open (search works).
    pub ready: bool,
}

impl IndexProgress {
    /// The snapshot before the library has opened.
    pub(crate) fn initial() -> IndexProgress {
        IndexProgress {
            phase: ProgressPhase::Idle,
            files_done: 0,
            files_total: 0,
            chunks_done: 0,
            chunks_total: 0,
            pages_done: 0,
            pages_total: 0,
            rate: None,
            eta_seconds: None,
            current: None,
            message: Some("Opening the library…".into()),
            writable: false,
            ready: false,
        }
    }

    /// Takes in one engine progress report, with the rate and ETA [`Meter`] measured for it.
    pub(crate) fn follow(&mut self, p: &Progress, (rate, eta): (Option<f64>, Option<f64>)) {
        self.phase = match p.phase {
            Phase::Scanning => ProgressPhase::Scanning,
            Phase::Parsing => ProgressPhase::Parsing,
            Phase::Recognising => ProgressPhase::Recognising,
            Phase::Embedding => ProgressPhase::Embedding,
            Phase::Done => ProgressPhase::Done,
        };
        if p.phase == Phase::Embedding {
            // Keep the file counts of the text phase; passages are the embedding's.
            self.chunks_done = p.chunks_done as u32;
            self.chunks_total = p.chunks_total as u32;
        } else if p.phase == Phase::Recognising {
            // Keep the file counts of the text phase; pages are the OCR's.
            self.pages_done = p.files_done as u32;
            self.pages_total = p.files_total as u32;
        } else if p.phase != Phase::Done {
            self.files_done = p.files_done as u32;
            self.files_total = p.files_total as u32;
            self.chunks_done = p.chunks_done as u32;
            self.chunks_total = p.chunks_total.max(p.chunks_done) as u32;
        }
        self.rate = rate;
        self.eta_seconds = eta;
        self.current = p.current.as_ref().map(|c| cairn_core::paths::escaped(c));
        self.message = None;
    }
}

/// Rate and ETA of the current phase.
#[derive(Default)]
pub(crate) struct Meter {
    phase: Option<Phase>,
    started: Option<Instant>,
    done_at_start: usize,
}

impl Meter {
    /// The rate (items per second) and seconds left of `p`'s phase, once it has moved.
    pub(crate) fn observe(&mut self, p: &Progress) -> (Option<f64>, Option<f64>) {
        let (done, total) = match p.phase {
            Phase::Embedding => (p.chunks_done, p.chunks_total),
            _ => (p.files_done, p.files_total),
        };
        if self.phase != Some(p.phase) {
            self.phase = Some(p.phase);
            self.started = Some(Instant::now());
            self.done_at_start = done;
            return (None, None);
        }
        let elapsed = self.started.map_or(0.0, |s| s.elapsed().as_secs_f64());
        let moved = done.saturating_sub(self.done_at_start);
        if elapsed < 0.5 || moved == 0 {
            return (None, None);
        }
        let rate = moved as f64 / elapsed;
        let eta = (total.saturating_sub(done)) as f64 / rate;
        (Some(rate), Some(eta))
    }
}

impl Library {
    /// Replaces the progress snapshot and reports it (throttled, except phase changes).
    pub(crate) fn update(&self, f: impl FnOnce(&mut IndexProgress)) {
        let snapshot = {
            let mut p = lock(&self.inner.progress);
            let before = p.phase;
            f(&mut p);
            let mut last = lock(&self.inner.last_emit);
            if p.phase == before && last.elapsed() < EMIT_EVERY {
                return;
            }
            *last = Instant::now();
            p.clone()
        };
        (self.inner.callback)(LibraryEvent::Progress(snapshot));
    }
}
