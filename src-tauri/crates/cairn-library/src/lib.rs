//! `cairn-library`: the desktop app's service over the engine, with no UI code. A [`Library`]
//! opens the data directory in the background, owns the one writer (an engine opened with
//! [`Writer`]) on its own thread, indexes the folders and then follows them live, with
//! pause, resume and cancel, and reports [`IndexProgress`] snapshots (files and passages
//! done/total, phase, rate, ETA) through a callback. Reads (search, status, history, ask) go
//! through read-only engines, so they stay responsive while the writer indexes. When another
//! process (e.g. `cairn watch`) holds the writer lock, the library works read-only and says so.
//!
//! The files: this one holds [`Library`] (opening, state, settings); `writer.rs` the writer
//! thread and its command queue; `reads.rs` the reads; `progress.rs` the progress snapshots;
//! `evaluate.rs` the Evaluate view's run (a question file asked in each answer mode);
//! `views.rs` the types that cross to the window (the UI's contract, with their `specta::Type`
//! derives); `convert.rs` engine types → those views; `error.rs` [`ErrorInfo`] and the app's
//! wording of each engine error; `team.rs` team libraries (PostgreSQL): "Test connection",
//! connecting the app to one and back to the personal library. The indexing step itself is `cairn_core::reconcile`, shared
//! with `cairn watch`.

mod convert;
mod error;
mod evaluate;
mod progress;
mod reads;
mod team;
mod views;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use cairn_core::config::Config;
use cairn_core::embed::OnnxEmbedder;
use cairn_core::engine::{ReaderPool, Writer};
use cairn_core::stop::StopToken;
use cairn_core::watch::live;
use cairn_core::{Error, Result};

pub use convert::segments;
pub use error::ErrorInfo;
pub use progress::{IndexProgress, ProgressPhase};
pub use reads::preview_folder;
pub use team::{create_team, test_team, TeamCheck, TeamConnected, TeamForm, TeamInput};
pub use views::{
    AnswerView, AskInput, AuditDetail, AuditItem, CitationItem, ConflictItem, DocumentItem,
    EvalRow, EvaluateInput, EvaluateProgress, EvaluationView, FolderPreview, ForgetSummary,
    KindCount, LibraryContents, LibraryInfo, MessageItem, ModeResult, PassageContext, ProblemItem,
    RetrievedItem, SearchItem, SearchQuery, SearchResults, Segment, SessionItem, Settings,
    SourceItem, VersionItem,
};

use progress::EMIT_EVERY;
use writer::Command;

/// What the [`Library`] reports.
#[derive(Debug, Clone)]
pub enum LibraryEvent {
    /// A new progress snapshot (throttled to a few per second).
    Progress(IndexProgress),
    /// Folders, documents or marks changed: lists and results should be refreshed.
    Changed,
}

type Callback = Arc<dyn Fn(LibraryEvent) + Send + Sync>;

/// Options of [`Library::open`].
#[derive(Debug, Clone)]
pub struct LibraryOptions {
    pub data_dir: PathBuf,
    /// Quiet time that ends a burst of file changes.
    pub debounce: Duration,
    /// Longest time a burst is collected.
    pub max_wait: Duration,
    /// Embed passages (semantic search); keyword search is always live.
    pub embed: bool,
}

impl LibraryOptions {
    pub fn new(data_dir: impl Into<PathBuf>) -> LibraryOptions {
        LibraryOptions {
            data_dir: data_dir.into(),
            debounce: live::DEFAULT_DEBOUNCE,
            max_wait: live::DEFAULT_MAX_WAIT,
            embed: true,
        }
    }
}

enum OpenState {
    Opening,
    Open,
    Failed(ErrorInfo),
}

struct Inner {
    options: LibraryOptions,
    config: Mutex<Config>,
    state: Mutex<OpenState>,
    opened: Condvar,
    /// Read-only engines for searches, answers and views (cairn-core's one reader pool: one
    /// shared embedding model, engines reopened when the writer has moved on).
    readers: Mutex<Option<Arc<ReaderPool>>>,
    writable: AtomicBool,
    read_only_reason: Mutex<Option<String>>,
    embedding_error: Mutex<Option<String>>,
    commands: Mutex<Option<Sender<Command>>>,
    /// The writer thread, joined when the app switches libraries.
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// `user@host:port/db` when this is a team library (read here, indexed elsewhere).
    team: Mutex<Option<String>>,
    paused: AtomicBool,
    /// Stops the running reconcile (cancel, pause, shutdown).
    cancel: StopToken,
    shutdown: StopToken,
    /// Stopped to make a running embedding yield (a command, pause or cancel is waiting); it is
    /// the watcher's activity token, which files changing stop too.
    interrupt: Mutex<StopToken>,
    /// Stopped when a write command is queued: the keyword phase yields to it between files and
    /// stops a slow parse (the file is parsed again afterwards). Reset before commands are taken.
    command_waiting: StopToken,
    progress: Mutex<IndexProgress>,
    last_emit: Mutex<Instant>,
    callback: Callback,
}

/// The desktop app's library: see the module documentation.
#[derive(Clone)]
pub struct Library {
    inner: Arc<Inner>,
}

/// How long a read waits for the library to open before saying so.
const OPEN_WAIT: Duration = Duration::from_secs(60);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Milliseconds, to a tenth.
fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e4).round() / 10.0
}

impl Library {
    /// Starts opening the library in the background and returns at once; `callback` receives
    /// progress snapshots and change notices (from background threads).
    pub fn open(
        options: LibraryOptions,
        callback: impl Fn(LibraryEvent) + Send + Sync + 'static,
    ) -> Library {
        Library::open_with(options, Arc::new(callback))
    }

    fn open_with(options: LibraryOptions, callback: Callback) -> Library {
        let inner = Arc::new(Inner {
            options,
            config: Mutex::new(Config::default()),
            state: Mutex::new(OpenState::Opening),
            opened: Condvar::new(),
            readers: Mutex::new(None),
            writable: AtomicBool::new(false),
            read_only_reason: Mutex::new(None),
            embedding_error: Mutex::new(None),
            commands: Mutex::new(None),
            writer_thread: Mutex::new(None),
            team: Mutex::new(None),
            paused: AtomicBool::new(false),
            cancel: StopToken::new(),
            shutdown: StopToken::new(),
            interrupt: Mutex::new(StopToken::new()),
            command_waiting: StopToken::new(),
            progress: Mutex::new(IndexProgress::initial()),
            last_emit: Mutex::new(Instant::now() - EMIT_EVERY),
            callback,
        });
        let lib = Library { inner };
        let opener = lib.clone();
        std::thread::Builder::new()
            .name("cairn-open".into())
            .spawn(move || opener.open_in_background())
            .expect("spawning a thread");
        lib
    }

    pub fn data_dir(&self) -> &Path {
        &self.inner.options.data_dir
    }

    /// Stops this library (its writer thread finished, so the writer lock is free) and opens
    /// the data directory's library again, with the settings config.toml now holds: how the
    /// app switches between the personal library and a team library.
    pub fn reopen(&self) -> Library {
        self.shutdown();
        if let Some(thread) = lock(&self.inner.writer_thread).take() {
            // A file being parsed in-process finishes first; past the wait the new library
            // opens read-only and says so.
            let deadline = Instant::now() + Duration::from_secs(30);
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
        Library::open_with(self.inner.options.clone(), self.inner.callback.clone())
    }

    fn open_in_background(&self) {
        let inner = &self.inner;
        let dir = inner.options.data_dir.clone();
        let result = (|| -> Result<()> {
            let config = Config::load(&dir)?;
            *lock(&inner.config) = config.clone();
            let team = config.team_library()?;
            let writer = match &team {
                // The app reads a team library; the team's indexer writes it.
                Some(target) => {
                    *lock(&inner.team) = Some(target.server().to_owned());
                    *lock(&inner.read_only_reason) = Some(format!(
                        "Team library {}: this app searches and asks it; the team's indexer \
                         (`cairn watch`) adds and updates its documents.",
                        target.server()
                    ));
                    Ok(None)
                }
                None => Writer::open(&dir, config.clone()).map(Some),
            };
            let writer = match writer {
                Ok(w) => w,
                Err(Error::Locked(_)) => {
                    *lock(&inner.read_only_reason) = Some(format!(
                        "Another Cairn process is indexing {}: this window is read-only until it stops.",
                        dir.display()
                    ));
                    None
                }
                Err(e) => return Err(e),
            };
            // The writer's config follows the library's own embedding model (an upgraded
            // library keeps the model it was embedded with).
            let config = match &writer {
                Some(w) => w.config().clone(),
                None => config,
            };
            *lock(&inner.config) = config.clone();
            *lock(&inner.readers) = Some(Arc::new(ReaderPool::new(&dir, config)));
            let writable = writer.is_some();
            inner.writable.store(writable, Ordering::SeqCst);
            // The writer thread takes commands before anyone is told the library is open, so
            // a command sent right after opening never finds it missing.
            if let Some(writer) = writer {
                let (tx, rx) = mpsc::channel();
                *lock(&inner.commands) = Some(tx);
                let me = self.clone();
                let thread = std::thread::Builder::new()
                    .name("cairn-writer".into())
                    .spawn(move || me.writer_loop(writer, rx))
                    .map_err(|e| Error::io("starting", "the indexing thread", e))?;
                *lock(&inner.writer_thread) = Some(thread);
            }
            *lock(&inner.state) = OpenState::Open;
            inner.opened.notify_all();
            self.update(|p| {
                p.ready = true;
                p.writable = writable;
                p.message = lock(&inner.read_only_reason).clone();
            });
            // Keyword search works from here. Load the query-side embedding model once,
            // outside any engine lock, for the reader and the asker. The writer loads its own
            // session when it embeds: a shared one would make every search wait for the
            // embedding batch in flight.
            if inner.options.embed {
                let cfg = lock(&inner.config).embedding.clone();
                match cairn_core::embed::resolve(&cfg).and_then(|r| OnnxEmbedder::load(&cfg, &r)) {
                    Ok(e) => {
                        if let Some(pool) = lock(&inner.readers).as_ref() {
                            pool.share_embedder(Arc::new(e));
                        }
                    }
                    Err(e) => {
                        tracing::warn!("semantic search is off: {e}");
                        *lock(&inner.embedding_error) = Some(e.to_string());
                    }
                }
            }
            Ok(())
        })();
        if let Err(e) = result {
            tracing::error!("opening the library failed: {e}");
            *lock(&inner.state) = OpenState::Failed(ErrorInfo::from(&e));
            inner.opened.notify_all();
            self.update(|p| {
                p.phase = ProgressPhase::Error;
                p.message = Some(e.to_string());
            });
        }
        (inner.callback)(LibraryEvent::Changed);
    }

    /// Blocks until the library is open (or failed to open).
    fn wait_open(&self) -> Result<(), ErrorInfo> {
        let inner = &self.inner;
        let mut state = lock(&inner.state);
        let deadline = Instant::now() + OPEN_WAIT;
        loop {
            match &*state {
                OpenState::Open => return Ok(()),
                OpenState::Failed(e) => return Err(e.clone()),
                OpenState::Opening => {}
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ErrorInfo::still_opening());
            }
            state = inner
                .opened
                .wait_timeout(state, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    // ---- state -------------------------------------------------------------------------------

    /// The latest progress snapshot.
    pub fn progress(&self) -> IndexProgress {
        lock(&self.inner.progress).clone()
    }

    /// The library's state and counts (does not wait for it to open).
    pub fn info(&self) -> LibraryInfo {
        let inner = &self.inner;
        let mut info = LibraryInfo {
            data_dir: inner.options.data_dir.display().to_string(),
            ready: false,
            writable: inner.writable.load(Ordering::SeqCst),
            read_only_reason: lock(&inner.read_only_reason).clone(),
            team: lock(&inner.team).clone(),
            error: None,
            folders: Vec::new(),
            documents: 0,
            passages: 0,
            embedded_passages: 0,
            problems: 0,
            embedding_error: lock(&inner.embedding_error).clone(),
        };
        match &*lock(&inner.state) {
            OpenState::Opening => return info,
            OpenState::Failed(e) => {
                info.error = Some(e.clone());
                return info;
            }
            OpenState::Open => info.ready = true,
        }
        if let Ok((folders, stats)) = self.read(|e| {
            let model = e.config().embedding.model_id.clone();
            Ok((e.catalog().folders()?, e.catalog().stats(&model)?))
        }) {
            info.folders = folders
                .into_iter()
                .map(|f| cairn_core::paths::escaped(&f.path))
                .collect();
            info.documents = stats.current_documents as u32;
            info.passages = stats.current_chunks as u32;
            info.embedded_passages = stats.embedded_chunks as u32;
            info.problems = stats.problems as u32;
        }
        info
    }

    /// The editable settings.
    pub fn settings(&self) -> Settings {
        Settings::from_config(&lock(&self.inner.config), &self.inner.options.data_dir)
    }

    /// The configuration in force.
    pub fn config(&self) -> Config {
        lock(&self.inner.config).clone()
    }

    /// Validates and saves settings to config.toml. Answer settings apply to the next question;
    /// chunking applies to files indexed from now on.
    pub fn save_settings(&self, settings: &Settings) -> Result<Settings, ErrorInfo> {
        let config = settings.apply(self.config())?;
        config.save(&self.inner.options.data_dir)?;
        *lock(&self.inner.config) = config.clone();
        // Readers pick up the new settings: a new pool, keeping the loaded embedding model when
        // the embedding settings did not change.
        let mut readers = lock(&self.inner.readers);
        if let Some(old) = readers.as_ref() {
            let pool = ReaderPool::new(&self.inner.options.data_dir, config.clone());
            if old.config().embedding == config.embedding {
                if let Some(e) = old.loaded_embedder() {
                    pool.share_embedder(e);
                }
            }
            *readers = Some(Arc::new(pool));
        }
        Ok(self.settings())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_indexes_a_folder_and_searches_while_following_it() {
        let dir = tempfile::tempdir().unwrap();
        let docs = dir.path().join("docs");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::write(
            docs.join("a.md"),
            "# Refunds\n\nRefunds are paid within 14 days.\n",
        )
        .unwrap();
        let mut options = LibraryOptions::new(dir.path().join("data"));
        options.embed = false;
        options.debounce = Duration::from_millis(50);
        let phases = Arc::new(Mutex::new(Vec::new()));
        let seen = phases.clone();
        let lib = Library::open(options, move |e| {
            if let LibraryEvent::Progress(p) = e {
                lock(&seen).push(p.phase);
            }
        });
        lib.add_folders(vec![docs.clone()]).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let query = SearchQuery {
            query: "refunds".into(),
            mode: Some("keyword".into()),
            ..SearchQuery::default()
        };
        loop {
            assert!(Instant::now() < deadline, "not indexed in time");
            if lib.progress().phase == ProgressPhase::Done
                && lib.search(&query).is_ok_and(|r| !r.items.is_empty())
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let res = lib.search(&query).unwrap();
        assert!(res.items[0].path.ends_with("a.md"));
        assert!(res.items[0].snippet.iter().any(|s| s.hit));
        let contents = lib.contents().unwrap();
        assert_eq!(contents.documents.len(), 1);
        assert_eq!(contents.documents[0].status, "current");

        // Pause and resume: the phase says so; search keeps working meanwhile.
        lib.pause();
        assert_eq!(lib.progress().phase, ProgressPhase::Paused);
        assert!(!lib.search(&query).unwrap().items.is_empty());
        lib.resume();

        // Live: a new file becomes searchable without a command.
        std::fs::write(docs.join("b.txt"), "Zebras migrate in winter.\n").unwrap();
        let zebra = SearchQuery {
            query: "zebras".into(),
            mode: Some("keyword".into()),
            ..SearchQuery::default()
        };
        loop {
            assert!(
                Instant::now() < deadline,
                "live change not searchable in time"
            );
            if lib.search(&zebra).is_ok_and(|r| !r.items.is_empty()) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }

        // Deprecation takes the document out of results.
        lib.deprecate(docs.join("a.md"), "old policy".into(), None)
            .unwrap();
        assert!(lib.search(&query).unwrap().items.is_empty());
        let contents = lib.contents().unwrap();
        let a = contents
            .documents
            .iter()
            .find(|d| d.path.ends_with("a.md"))
            .unwrap();
        assert_eq!(a.status, "deprecated");

        // A second library on the same data directory is read-only, and says so.
        let mut options = LibraryOptions::new(dir.path().join("data"));
        options.embed = false;
        let other = Library::open(options, |_| {});
        assert!(other.search(&zebra).is_ok());
        let info = other.info();
        assert!(!info.writable);
        assert!(info.read_only_reason.is_some());
        assert_eq!(other.reindex().unwrap_err().kind, "locked");

        // Forget erases a document; it stays out of the index while the folder is followed.
        let forgot = lib.forget(docs.join("b.txt")).unwrap();
        assert_eq!((forgot.documents, forgot.versions), (1, 1));
        assert!(forgot.excluded && !forgot.folder_removed);
        assert!(lib.search(&zebra).unwrap().items.is_empty());
        assert!(!lib
            .contents()
            .unwrap()
            .documents
            .iter()
            .any(|d| d.path.ends_with("b.txt")));
        assert_eq!(
            lib.forget(dir.path().join("elsewhere.md"))
                .unwrap_err()
                .kind,
            "not_found"
        );

        // Removing the folder empties the library; adding it again brings the documents back
        // with their history (and the forgotten file, as the folder is added anew).
        lib.remove_folder(docs.clone()).unwrap();
        assert!(lib.search(&zebra).unwrap().items.is_empty());
        assert!(lib.contents().unwrap().documents.is_empty());
        assert!(lib.info().folders.is_empty());
        lib.add_folders(vec![docs.clone()]).unwrap();
        loop {
            assert!(
                Instant::now() < deadline,
                "re-added folder not searchable in time"
            );
            if lib.search(&zebra).is_ok_and(|r| !r.items.is_empty()) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let b = lib
            .contents()
            .unwrap()
            .documents
            .into_iter()
            .find(|d| d.path.ends_with("b.txt"))
            .unwrap();
        assert_eq!(b.status, "current");
        assert!(lock(&phases).contains(&ProgressPhase::Done));
        lib.shutdown();
    }
}
