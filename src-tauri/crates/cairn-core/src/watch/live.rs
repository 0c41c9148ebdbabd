//! Live watching of registered folders: a debounced "something changed" signal.
//!
//! The engine's [`crate::engine::Engine::index`] is an incremental reconcile (stat every file,
//! re-read only what changed, detect renames by content hash, mark vanished files deleted), so
//! the watcher needs no per-path logic: it only says *when* to reconcile. [`FolderWatcher`]
//! keeps a recursive OS watch (inotify, FSEvents, ReadDirectoryChangesW through `notify`) on
//! each folder and groups editor save bursts, atomic-rename saves and moves into one
//! [`Batch`]; the caller runs a reconcile per batch. Overflow of the OS event queue and watch
//! errors set [`Batch::rescan`]: nothing was lost, because a reconcile is always a full scan.
//!
//! File modification times are whole seconds in the catalog, so a file saved twice within
//! one second with the same size would look unchanged to the reconcile; [`mark_dirty`] makes
//! the next reconcile re-hash the paths of a batch.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, EventKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};

use crate::error::{Error, Result};
use crate::stop::StopToken;
use crate::store::CatalogStore;

/// Default quiet period that ends a batch.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(250);
/// Default longest time a batch keeps collecting once it has started.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(2);
/// How often a blocked [`FolderWatcher::next_batch`] looks at its stop flag.
const POLL: Duration = Duration::from_millis(100);
/// Ignore files whose change can change what a scan finds (they are hidden files themselves).
const IGNORE_FILES: [&str; 3] = [".gitignore", ".ignore", ".cairnignore"];

/// What changed since the previous batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    /// Paths named by the events, sorted and deduplicated (files or folders; some may no
    /// longer exist). Informative: a reconcile finds the changes by itself.
    pub paths: Vec<PathBuf>,
    /// The OS dropped events (queue overflow) or reported an error: do a full reconcile
    /// and do not rely on `paths`.
    pub rescan: bool,
    /// Errors reported by the watcher during this batch, ready to show to the user.
    pub errors: Vec<String>,
}

/// A recursive watch on a set of folders.
pub struct FolderWatcher {
    _watcher: RecommendedWatcher,
    rx: Receiver<Msg>,
    filter: Arc<Filter>,
    /// Set whenever a relevant event arrives; see [`FolderWatcher::activity`].
    activity: StopToken,
}

/// What the OS thread passes on (already filtered).
enum Msg {
    Paths(Vec<PathBuf>),
    Rescan,
    Error(String),
}

/// Which events matter; shared with notify's thread.
struct Filter {
    roots: Vec<PathBuf>,
    ignore: Vec<PathBuf>,
    include_hidden: AtomicBool,
}

impl FolderWatcher {
    /// Watches every folder recursively. Events on paths inside `ignore` (the data directory,
    /// which may sit inside a watched folder) are dropped, and so are events on hidden paths
    /// (as the scan skips them; see [`FolderWatcher::include_hidden`]) except the ignore files.
    ///
    /// On Linux each watched directory takes one inotify watch; when the system limit is
    /// reached this fails with advice to raise `fs.inotify.max_user_watches`.
    pub fn new(folders: &[PathBuf], ignore: &[PathBuf]) -> Result<FolderWatcher> {
        let canonical = |p: &PathBuf| p.canonicalize().unwrap_or_else(|_| p.clone());
        let filter = Arc::new(Filter {
            roots: folders.iter().map(canonical).collect(),
            ignore: ignore.iter().map(canonical).collect(),
            include_hidden: AtomicBool::new(false),
        });
        let (tx, rx) = mpsc::channel();
        let activity = StopToken::new();
        let (flag, f) = (activity.clone(), filter.clone());
        let mut watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
            if let Some(msg) = f.classify(ev) {
                flag.stop();
                let _ = tx.send(msg);
            }
        })
        .map_err(|e| watch_error(Path::new("."), e))?;
        for root in &filter.roots {
            watcher
                .watch(root, RecursiveMode::Recursive)
                .map_err(|e| watch_error(root, e))?;
        }
        Ok(FolderWatcher {
            _watcher: watcher,
            rx,
            filter,
            activity,
        })
    }

    /// Whether events on hidden files and folders count (match `ingest.include_hidden`).
    pub fn include_hidden(self, yes: bool) -> FolderWatcher {
        self.filter.include_hidden.store(yes, Ordering::SeqCst);
        self
    }

    /// The folders watched (canonical paths).
    pub fn roots(&self) -> &[PathBuf] {
        &self.filter.roots
    }

    /// A token the watcher stops whenever a relevant event arrives. Reset it, pass it (joined
    /// with the user's stop token) to long work (embedding a backlog), and that work stops at its next
    /// checkpoint when files change, so new changes never wait behind it.
    pub fn activity(&self) -> StopToken {
        self.activity.clone()
    }

    /// Blocks until a relevant event arrives, then collects until `debounce` passes without
    /// one or `max_wait` has passed since the first. Returns `None` once `stop` is set (checked
    /// at least every 100 ms) or if the watcher has stopped.
    pub fn next_batch(
        &self,
        debounce: Duration,
        max_wait: Duration,
        stop: &StopToken,
    ) -> Option<Batch> {
        self.collect(debounce, max_wait, stop, None)
    }

    /// Like [`FolderWatcher::next_batch`], but also returns `None` when no relevant event
    /// starts a batch within `idle` (e.g. to resume paused work once the folders are quiet).
    pub fn next_batch_within(
        &self,
        debounce: Duration,
        max_wait: Duration,
        stop: &StopToken,
        idle: Duration,
    ) -> Option<Batch> {
        self.collect(debounce, max_wait, stop, Some(Instant::now() + idle))
    }

    fn collect(
        &self,
        debounce: Duration,
        max_wait: Duration,
        stop: &StopToken,
        give_up: Option<Instant>,
    ) -> Option<Batch> {
        let mut batch = Batch::default();
        let mut paths = HashSet::new();
        loop {
            if stop.is_stopped() {
                return None;
            }
            let mut wait = POLL;
            if let Some(g) = give_up {
                let now = Instant::now();
                if now >= g {
                    return None;
                }
                wait = wait.min(g - now);
            }
            match self.rx.recv_timeout(wait) {
                Ok(msg) => {
                    absorb(msg, &mut batch, &mut paths);
                    break;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
        let first = Instant::now();
        let mut last = first;
        loop {
            if stop.is_stopped() {
                return None;
            }
            let deadline = (last + debounce).min(first + max_wait);
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            match self.rx.recv_timeout((deadline - now).min(POLL)) {
                Ok(msg) => {
                    absorb(msg, &mut batch, &mut paths);
                    last = Instant::now();
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        batch.paths = paths.into_iter().collect();
        batch.paths.sort();
        Some(batch)
    }
}

fn absorb(msg: Msg, batch: &mut Batch, paths: &mut HashSet<PathBuf>) {
    match msg {
        Msg::Paths(p) => paths.extend(p),
        Msg::Rescan => batch.rescan = true,
        Msg::Error(e) => {
            batch.rescan = true;
            batch.errors.push(e);
        }
    }
}

impl Filter {
    /// The message for an event, or None when it cannot change what is indexed.
    fn classify(&self, ev: notify::Result<notify::Event>) -> Option<Msg> {
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => {
                let at = e
                    .paths
                    .first()
                    .cloned()
                    .unwrap_or_else(|| PathBuf::from("."));
                return Some(Msg::Error(watch_error(&at, e).to_string()));
            }
        };
        if ev.need_rescan() {
            return Some(Msg::Rescan);
        }
        if !relevant_kind(&ev.kind) {
            return None;
        }
        let paths: Vec<PathBuf> = ev
            .paths
            .into_iter()
            .filter(|p| self.relevant_path(p))
            .collect();
        (!paths.is_empty()).then_some(Msg::Paths(paths))
    }

    fn relevant_path(&self, p: &Path) -> bool {
        if self.ignore.iter().any(|i| p.starts_with(i)) {
            return false;
        }
        if self.include_hidden.load(Ordering::Relaxed) {
            return true;
        }
        let Some(rel) = self.roots.iter().find_map(|r| p.strip_prefix(r).ok()) else {
            return true;
        };
        let names: Vec<&OsStr> = rel
            .components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n),
                _ => None,
            })
            .collect();
        let hidden = |n: &OsStr| n.to_string_lossy().starts_with('.');
        match names.split_last() {
            None => true,
            Some((last, parents)) => {
                !parents.iter().any(|n| hidden(n))
                    && (!hidden(last) || IGNORE_FILES.iter().any(|f| *last == *f))
            }
        }
    }
}

/// Events that can change a file's content, name or existence. Reads, opens and closes
/// without writing are not.
fn relevant_kind(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        EventKind::Other => false,
        EventKind::Any | EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) => true,
    }
}

/// Turns a `notify` error into the engine's error, with advice for the watch limit.
fn watch_error(path: &Path, e: notify::Error) -> Error {
    let message = match &e.kind {
        notify::ErrorKind::MaxFilesWatch => format!(
            "the system limit on watched folders was reached ({e}); raise it, e.g. \
             `sudo sysctl fs.inotify.max_user_watches=524288` (add it to /etc/sysctl.conf to \
             keep it), or watch fewer folders"
        ),
        _ => e.to_string(),
    };
    let source = match e.kind {
        notify::ErrorKind::Io(io) => std::io::Error::new(io.kind(), message),
        notify::ErrorKind::PathNotFound => {
            std::io::Error::new(std::io::ErrorKind::NotFound, message)
        }
        _ => std::io::Error::other(message),
    };
    Error::io("watching", path, source)
}

/// Makes the next reconcile re-read `paths` even if their (size, mtime) look unchanged.
///
/// A file saved, indexed and saved again with the same size within one tick of the file
/// system's clock keeps its mtime. For each path whose recorded stat still matches the file,
/// the stat is forgotten; the reconcile then hashes the file and either records a new version
/// or records the stat again. Returns how many paths were marked.
pub fn mark_dirty(catalog: &dyn CatalogStore, paths: &[PathBuf]) -> Result<usize> {
    if paths.is_empty() {
        return Ok(0);
    }
    let mut marked = 0;
    for folder in catalog.folders()? {
        let mine: Vec<&PathBuf> = paths
            .iter()
            .filter(|p| p.starts_with(&folder.path))
            .collect();
        if mine.is_empty() {
            continue;
        }
        let known = catalog.known_docs(folder.id)?;
        for p in mine {
            let (Some(k), Ok(meta)) = (known.get(p), std::fs::metadata(p)) else {
                continue;
            };
            if k.size == meta.len() && k.stat_ns == Some(super::mtime_ns(&meta)) {
                catalog.forget_stat(k.version)?;
                marked += 1;
            }
        }
    }
    Ok(marked)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The next batch, or None if none starts within `secs`.
    fn batch_within(w: &FolderWatcher, secs: u64) -> Option<Batch> {
        let stop = StopToken::new();
        let s = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(secs));
            s.stop();
        });
        w.next_batch(DEFAULT_DEBOUNCE, DEFAULT_MAX_WAIT, &stop)
    }

    #[test]
    fn a_burst_of_writes_is_one_batch_and_ignored_paths_are_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let data = root.join("data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        let w =
            FolderWatcher::new(std::slice::from_ref(&root), std::slice::from_ref(&data)).unwrap();
        // Irrelevant: the data directory and hidden paths.
        std::fs::write(data.join("catalog.sqlite3"), "x").unwrap();
        std::fs::write(root.join(".git/index"), "x").unwrap();
        std::fs::write(root.join(".note.md.swp"), "x").unwrap();
        let file = root.join("note.md");
        for i in 0..5 {
            std::fs::write(&file, format!("version {i}")).unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
        std::fs::write(root.join(".gitignore"), "build/\n").unwrap();
        let b = batch_within(&w, 10).expect("a batch");
        assert!(!b.rescan, "{b:?}");
        assert_eq!(b.paths, vec![root.join(".gitignore"), file], "{b:?}");
    }

    #[test]
    fn stop_flag_ends_the_wait() {
        let tmp = tempfile::tempdir().unwrap();
        let w = FolderWatcher::new(&[tmp.path().to_owned()], &[]).unwrap();
        let stop = StopToken::new();
        stop.stop();
        let t = Instant::now();
        assert!(w
            .next_batch(DEFAULT_DEBOUNCE, DEFAULT_MAX_WAIT, &stop)
            .is_none());
        assert!(t.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn access_only_events_are_ignored() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let file = root.join("a.txt");
        std::fs::write(&file, "hello").unwrap();
        let w = FolderWatcher::new(std::slice::from_ref(&root), &[]).unwrap();
        let _ = std::fs::read(&file).unwrap();
        assert_eq!(batch_within(&w, 1), None);
    }

    #[test]
    fn missing_folder_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let err = FolderWatcher::new(&[tmp.path().join("nope")], &[])
            .err()
            .expect("error");
        assert!(err.to_string().contains("watching"), "{err}");
    }
}
