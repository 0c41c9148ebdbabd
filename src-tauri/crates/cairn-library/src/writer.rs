//! The one writer: commands that change the library (add or remove a folder, re-index,
//! deprecate, forget, tag; pause, resume, cancel) are queued to the writer thread, which owns the
//! [`Writer`]. The thread runs a full reconcile, then follows the
//! folders live with a [`FolderWatcher`], reconciling each batch of changes. A queued command
//! stops the running reconcile's `command_waiting` and interrupt tokens: the keyword phase yields
//! between files (a slow parse's worker is killed and the file parsed again afterwards), a long
//! embedding run at its next batch.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use cairn_core::engine::{reconcile, ForgetReport, Progress, Writer};
use cairn_core::watch::live::FolderWatcher;
use cairn_core::{Error, Result};

use crate::error::ErrorInfo;
use crate::progress::{IndexProgress, Meter, ProgressPhase};
use crate::views::ForgetSummary;
use crate::{lock, Library, LibraryEvent};

/// A reply to a writer command.
type Reply<T> = Sender<Result<T>>;

/// What the writer thread is asked to do.
pub(crate) enum Command {
    AddFolders(Vec<PathBuf>, Reply<Vec<PathBuf>>),
    RemoveFolder(PathBuf, Reply<usize>),
    Reindex(Reply<()>),
    /// Picks paused work up again (a reconcile finds what is left).
    Resume,
    Deprecate {
        path: PathBuf,
        reason: String,
        superseded_by: Option<PathBuf>,
        reply: Reply<()>,
    },
    Undeprecate(String, Reply<()>),
    Forget(PathBuf, Reply<ForgetReport>),
    Tag(PathBuf, Vec<String>, Reply<()>),
    Untag(PathBuf, Vec<String>, Reply<()>),
}

impl Library {
    /// Sends a command to the writer thread and waits for its reply.
    fn write<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, ErrorInfo> {
        self.wait_open()?;
        let tx = lock(&self.inner.commands).clone().ok_or_else(|| {
            match lock(&self.inner.team).as_deref() {
                Some(server) => ErrorInfo::team_read_only(server),
                None => ErrorInfo::from(Error::Locked(self.inner.options.data_dir.clone())),
            }
        })?;
        let (reply, answer) = mpsc::channel();
        tx.send(make(reply))
            .map_err(|_| ErrorInfo::internal("the indexing thread has stopped"))?;
        // A running reconcile yields to the command: the keyword phase between files (a slow
        // parse is stopped), embedding at its next batch.
        self.inner.command_waiting.stop();
        lock(&self.inner.interrupt).stop();
        let result = answer
            .recv()
            .map_err(|_| ErrorInfo::internal("the indexing thread has stopped"))?;
        Ok(result?)
    }

    /// Adds folders (they must exist) and indexes them; returns their absolute paths.
    pub fn add_folders(&self, paths: Vec<PathBuf>) -> Result<Vec<PathBuf>, ErrorInfo> {
        self.write(|r| Command::AddFolders(paths, r))
    }

    /// Stops following a folder; its documents leave search (history is kept).
    pub fn remove_folder(&self, path: PathBuf) -> Result<usize, ErrorInfo> {
        self.write(|r| Command::RemoveFolder(path, r))
    }

    /// Re-scans every folder and embeds what is missing (also resumes a cancelled run).
    pub fn reindex(&self) -> Result<(), ErrorInfo> {
        self.write(Command::Reindex)
    }

    pub fn deprecate(
        &self,
        path: PathBuf,
        reason: String,
        superseded_by: Option<PathBuf>,
    ) -> Result<(), ErrorInfo> {
        self.write(|reply| Command::Deprecate {
            path,
            reason,
            superseded_by,
            reply,
        })
    }

    pub fn undeprecate(&self, target: String) -> Result<(), ErrorInfo> {
        self.write(|r| Command::Undeprecate(target, r))
    }

    /// Erases a document (or a folder's documents) from every store; see `Writer::forget`.
    pub fn forget(&self, path: PathBuf) -> Result<ForgetSummary, ErrorInfo> {
        self.write(|r| Command::Forget(path, r))
            .map(|r| crate::convert::forget_summary(&r))
    }

    pub fn tag(&self, path: PathBuf, tags: Vec<String>) -> Result<(), ErrorInfo> {
        self.write(|r| Command::Tag(path, tags, r))
    }

    pub fn untag(&self, path: PathBuf, tags: Vec<String>) -> Result<(), ErrorInfo> {
        self.write(|r| Command::Untag(path, tags, r))
    }

    /// Pauses indexing at the next batch (the folders are still watched; search works).
    pub fn pause(&self) {
        self.inner.paused.store(true, Ordering::SeqCst);
        self.inner.cancel.stop();
        lock(&self.inner.interrupt).stop();
        self.update(|p| {
            p.phase = ProgressPhase::Paused;
            p.rate = None;
            p.eta_seconds = None;
        });
    }

    pub fn resume(&self) {
        self.inner.paused.store(false, Ordering::SeqCst);
        if let Some(tx) = lock(&self.inner.commands).as_ref() {
            let _ = tx.send(Command::Resume);
        }
    }

    /// Stops the running index at its next batch; committed work is kept. Re-index resumes.
    pub fn cancel(&self) {
        self.inner.paused.store(false, Ordering::SeqCst);
        self.inner.cancel.stop();
        lock(&self.inner.interrupt).stop();
    }

    /// Stops the writer thread (at the end of the current batch).
    pub fn shutdown(&self) {
        self.inner.shutdown.stop();
        self.inner.cancel.stop();
        lock(&self.inner.interrupt).stop();
    }

    // ---- the writer thread -------------------------------------------------------------------

    /// The writer thread's loop: commands first, then a full reconcile when one is due, then
    /// the next batch of file changes.
    pub(crate) fn writer_loop(&self, mut engine: Writer, rx: Receiver<Command>) {
        let inner = &self.inner;
        let mut watcher = self.make_watcher(&engine);
        let mut full = true;
        let mut backlog = false;
        let mut cancelled = false;
        loop {
            if inner.shutdown.is_stopped() {
                return;
            }
            // Commands first: they are what the user is waiting for. A command queued from here
            // on stops the next reconcile's wait for it.
            inner.command_waiting.reset();
            let mut changed_folders = false;
            while let Ok(cmd) = rx.try_recv() {
                let (refold, reindex) = self.handle(&mut engine, cmd);
                changed_folders |= refold;
                if reindex {
                    full = true;
                    cancelled = false;
                }
            }
            if changed_folders {
                watcher = self.make_watcher(&engine);
            }
            if inner.paused.load(Ordering::SeqCst) {
                if !self.wait_for_command(&mut engine, &rx, &mut watcher, &mut full) {
                    return;
                }
                continue;
            }
            if full || (backlog && !cancelled) {
                full = false;
                backlog = self.run_reconcile(&mut engine, &[], &mut cancelled);
                continue;
            }
            let stop = &inner.shutdown;
            let batch = match &watcher {
                Some(w) => w.next_batch_within(
                    inner.options.debounce,
                    inner.options.max_wait,
                    stop,
                    Duration::from_millis(150),
                ),
                None => {
                    if !self.wait_for_command(&mut engine, &rx, &mut watcher, &mut full) {
                        return;
                    }
                    None
                }
            };
            if let Some(batch) = batch {
                for e in &batch.errors {
                    tracing::warn!("watch: {e}");
                }
                cancelled = false;
                let paths = if batch.rescan {
                    Vec::new()
                } else {
                    batch.paths
                };
                backlog = self.run_reconcile(&mut engine, &paths, &mut cancelled);
            }
        }
    }

    /// Waits a moment for one command and runs it (while paused, or with no folder to watch);
    /// false when the command queue is gone.
    fn wait_for_command(
        &self,
        engine: &mut Writer,
        rx: &Receiver<Command>,
        watcher: &mut Option<FolderWatcher>,
        full: &mut bool,
    ) -> bool {
        match rx.recv_timeout(Duration::from_millis(150)) {
            Ok(cmd) => {
                let (refold, reindex) = self.handle(engine, cmd);
                if refold {
                    *watcher = self.make_watcher(engine);
                }
                *full |= reindex;
                true
            }
            Err(RecvTimeoutError::Timeout) => true,
            Err(RecvTimeoutError::Disconnected) => false,
        }
    }

    /// Watches the registered folders (None when there are none or the watch fails).
    fn make_watcher(&self, engine: &cairn_core::engine::Engine) -> Option<FolderWatcher> {
        let folders: Vec<PathBuf> = engine
            .catalog()
            .folders()
            .ok()?
            .into_iter()
            .map(|f| f.path)
            .collect();
        if folders.is_empty() {
            self.update(|p| {
                p.phase = ProgressPhase::Idle;
                p.message = None;
            });
            return None;
        }
        match FolderWatcher::new(&folders, &[engine.data_dir().to_owned()]) {
            Ok(w) => {
                let w = w.include_hidden(engine.config().ingest.include_hidden);
                *lock(&self.inner.interrupt) = w.activity();
                Some(w)
            }
            Err(e) => {
                tracing::warn!("cannot watch the folders live: {e}");
                self.update(|p| {
                    p.message = Some(format!(
                        "Changes are not followed live ({e}); use Re-index after editing files."
                    ))
                });
                None
            }
        }
    }

    /// Runs a command; returns (folders changed, a full reconcile is due).
    fn handle(&self, engine: &mut Writer, cmd: Command) -> (bool, bool) {
        let changed = |ok: bool| {
            if ok {
                (self.inner.callback)(LibraryEvent::Changed);
            }
        };
        match cmd {
            Command::AddFolders(paths, reply) => {
                let r: Result<Vec<PathBuf>> = paths.iter().map(|p| engine.add_folder(p)).collect();
                let ok = r.is_ok();
                let _ = reply.send(r);
                changed(ok);
                (ok, ok)
            }
            Command::RemoveFolder(path, reply) => {
                let r = engine.remove_folder(&path);
                let ok = r.is_ok();
                let _ = reply.send(r);
                changed(ok);
                (ok, false)
            }
            Command::Reindex(reply) => {
                let _ = reply.send(Ok(()));
                (false, true)
            }
            Command::Resume => (false, true),
            Command::Deprecate {
                path,
                reason,
                superseded_by,
                reply,
            } => {
                let r = engine
                    .deprecate(&path, superseded_by.as_deref(), &reason)
                    .map(|_| ());
                changed(r.is_ok());
                let _ = reply.send(r);
                (false, false)
            }
            Command::Undeprecate(target, reply) => {
                let r = engine.undeprecate(&target);
                changed(r.is_ok());
                let _ = reply.send(r);
                (false, false)
            }
            Command::Forget(path, reply) => {
                let r = engine.forget(&path);
                let ok = r.is_ok();
                let _ = reply.send(r);
                changed(ok);
                (ok, false)
            }
            Command::Tag(path, tags, reply) => {
                let r = engine.tag(&path, &tags).map(|_| ());
                changed(r.is_ok());
                let _ = reply.send(r);
                (false, false)
            }
            Command::Untag(path, tags, reply) => {
                let r = engine.untag(&path, &tags).map(|_| ());
                changed(r.is_ok());
                let _ = reply.send(r);
                (false, false)
            }
        }
    }

    /// One reconcile with progress; returns true when embedding work is left (it yielded).
    fn run_reconcile(&self, engine: &mut Writer, paths: &[PathBuf], cancelled: &mut bool) -> bool {
        let inner = &self.inner;
        if engine.catalog().folders().is_ok_and(|f| f.is_empty()) {
            self.update(|s| {
                *s = IndexProgress {
                    phase: ProgressPhase::Idle,
                    message: Some("No folders yet: add one to start.".into()),
                    writable: true,
                    ready: true,
                    ..IndexProgress::initial()
                }
            });
            return false;
        }
        inner.cancel.reset();
        let interrupt = lock(&inner.interrupt).clone();
        let mut meter = Meter::default();
        let embed = inner.options.embed;
        let me = self.clone();
        let mut on_progress = |p: &Progress| {
            let measured = meter.observe(p);
            me.update(|s| s.follow(p, measured));
        };
        let result = reconcile(
            engine,
            paths,
            embed,
            &inner.cancel,
            &interrupt,
            &inner.command_waiting,
            &mut on_progress,
        );
        let changed = match &result {
            Ok(r) => {
                let rep = &r.report;
                rep.new_versions + rep.renamed + rep.deleted + rep.problems + rep.texts_embedded > 0
            }
            Err(_) => false,
        };
        let left = match result {
            Ok(r) => {
                if let Some(e) = &r.report.embedding_error {
                    *lock(&inner.embedding_error) = Some(e.clone());
                }
                let paused = inner.paused.load(Ordering::SeqCst);
                // A pause stops the run like a cancel, but the work resumes with `resume`.
                *cancelled = r.report.cancelled && !paused;
                self.update(|s| {
                    s.rate = None;
                    s.eta_seconds = None;
                    s.current = None;
                    if paused {
                        s.phase = ProgressPhase::Paused;
                        s.message = Some("Paused.".into());
                    } else if r.report.cancelled {
                        s.phase = ProgressPhase::Idle;
                        s.message = Some(
                            "Indexing cancelled; committed work is kept. Re-index to resume."
                                .into(),
                        );
                    } else if r.embedding_paused || r.keyword_paused {
                        // Yielded to a command or fresh changes: resumes right away.
                    } else {
                        s.phase = ProgressPhase::Done;
                        s.files_done = s.files_total;
                        s.chunks_done = s.chunks_total;
                        s.message = r.report.embedding_error.as_ref().map(|e| {
                            format!("Semantic search is off ({e}); keyword search works.")
                        });
                    }
                });
                r.embedding_paused || r.keyword_paused || (paused && r.report.cancelled)
            }
            Err(e) => {
                tracing::error!("indexing failed: {e}");
                self.update(|s| {
                    s.phase = ProgressPhase::Error;
                    s.message = Some(format!("{e} — {}", ErrorInfo::from(&e).hint));
                    s.rate = None;
                    s.eta_seconds = None;
                });
                false
            }
        };
        if changed {
            (inner.callback)(LibraryEvent::Changed);
        }
        left
    }
}
