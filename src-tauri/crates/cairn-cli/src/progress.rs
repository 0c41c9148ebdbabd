//! The progress bar of indexing and evaluation runs (indicatif), drawn on stderr when it is a
//! terminal.

use std::io::IsTerminal;
use std::time::Duration;

use cairn_core::engine::{Phase, Progress};
use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar on a terminal; silent otherwise.
pub struct Bar {
    bar: ProgressBar,
    phase: std::cell::Cell<Option<Phase>>,
}

impl Bar {
    pub fn new(visible: bool) -> Bar {
        let bar = if visible && std::io::stderr().is_terminal() {
            ProgressBar::new(0)
        } else {
            ProgressBar::hidden()
        };
        bar.enable_steady_tick(Duration::from_millis(200));
        Bar {
            bar,
            phase: std::cell::Cell::new(None),
        }
    }

    pub fn update(&self, p: &Progress) {
        if self.phase.get() != Some(p.phase) {
            self.phase.set(Some(p.phase));
            let (template, len) = match p.phase {
                Phase::Scanning => ("{spinner} scanning folders…".to_owned(), 0),
                Phase::Parsing => (
                    "{spinner} reading  [{bar:30}] {pos}/{len} files  {per_sec}  ETA {eta}  {msg}"
                        .to_owned(),
                    p.files_total,
                ),
                Phase::Recognising => (
                    "{spinner} OCR      [{bar:30}] {pos}/{len} pages  {per_sec}  ETA {eta}  {msg}"
                        .to_owned(),
                    p.files_total,
                ),
                Phase::Embedding => (
                    "{spinner} embedding [{bar:30}] {pos}/{len} passages  {per_sec}  ETA {eta}"
                        .to_owned(),
                    p.chunks_total,
                ),
                Phase::Done => ("{msg}".to_owned(), 0),
            };
            self.bar.reset();
            self.bar.set_style(
                ProgressStyle::with_template(&template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            self.bar.set_length(len as u64);
        }
        match p.phase {
            Phase::Parsing | Phase::Recognising => {
                self.bar.set_position(p.files_done as u64);
                if let Some(c) = &p.current {
                    let name = c.file_name().map(|n| n.to_string_lossy().into_owned());
                    self.bar.set_message(name.unwrap_or_default());
                }
            }
            Phase::Embedding => self.bar.set_position(p.chunks_done as u64),
            _ => {}
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
