//! Finding files: walks registered folders with ignore rules.
//!
//! Hidden files, `.gitignore` / `.ignore` / `.cairnignore` patterns, extra exclude patterns
//! from the config, a size cap and symlink loops are handled here. Live watching of folders
//! ([`live`]) builds on this scan: it only signals when to reconcile, and a reconcile is always
//! a scan.

pub mod live;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ignore::overrides::OverrideBuilder;
use ignore::WalkBuilder;

use crate::config::IngestConfig;
use crate::error::{Error, Result};

/// A file found by a scan.
#[derive(Debug, Clone)]
pub struct FileEntry {
    pub path: PathBuf,
    pub size: u64,
    /// Modification time, Unix seconds (what filters and views show).
    pub mtime: i64,
    /// Modification time, Unix nanoseconds (0 if unknown): what change detection compares.
    pub mtime_ns: i64,
}

/// What a scan found: files to consider, and paths it could not use with the reason.
#[derive(Debug, Default)]
pub struct ScanResult {
    pub files: Vec<FileEntry>,
    pub problems: Vec<(PathBuf, String)>,
}

/// Walks `root` with the ingest rules. `skip` lists paths never to enter (the data directory).
pub fn scan(root: &Path, cfg: &IngestConfig, skip: &[PathBuf]) -> Result<ScanResult> {
    if !root.is_dir() {
        return Err(Error::NotFound(format!(
            "folder {} does not exist or is not a directory",
            root.display()
        )));
    }
    let mut overrides = OverrideBuilder::new(root);
    for pattern in &cfg.exclude {
        overrides
            .add(&format!("!{pattern}"))
            .map_err(|e| Error::Invalid(format!("bad exclude pattern `{pattern}`: {e}")))?;
    }
    let overrides = overrides
        .build()
        .map_err(|e| Error::Invalid(format!("bad exclude patterns: {e}")))?;
    let mut builder = WalkBuilder::new(root);
    builder
        .hidden(!cfg.include_hidden)
        .follow_links(cfg.follow_symlinks)
        .git_ignore(cfg.respect_ignore_files)
        .git_global(false)
        .git_exclude(cfg.respect_ignore_files)
        .ignore(cfg.respect_ignore_files)
        .parents(cfg.respect_ignore_files)
        .require_git(false)
        .overrides(overrides);
    if cfg.respect_ignore_files {
        builder.add_custom_ignore_filename(".cairnignore");
    }
    let skip: Vec<PathBuf> = skip
        .iter()
        .map(|p| p.canonicalize().unwrap_or_else(|_| p.clone()))
        .collect();
    // The folder's real location: links are followed only while they stay inside it.
    let real_root = root.canonicalize().unwrap_or_else(|_| root.to_owned());
    let refused: Arc<Mutex<Vec<(PathBuf, String)>>> = Arc::default();
    let refused_in_walk = Arc::clone(&refused);
    let edge_root = real_root.clone();
    builder.filter_entry(move |e| {
        let p = e.path();
        if skip
            .iter()
            .any(|s| p == s || p.canonicalize().is_ok_and(|c| &c == s))
        {
            return false;
        }
        // A linked folder leading out of the library (or into the system) is not entered.
        if e.path_is_symlink() && e.file_type().is_some_and(|t| t.is_dir()) {
            let reason = match p.canonicalize() {
                Ok(real) => outside_reason(&real, &edge_root),
                Err(e) => Some(format!("cannot follow the link: {e}")),
            };
            if let Some(reason) = reason {
                refused_in_walk
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((p.to_owned(), reason));
                return false;
            }
        }
        true
    });
    let mut out = ScanResult::default();
    // Canonical path → index in `out.files`, so a file reached twice (through a link inside
    // the folder) is indexed once, under its real path when that path is walked.
    let mut seen: HashMap<PathBuf, usize> = HashMap::new();
    for entry in builder.build() {
        let entry = match entry {
            Ok(e) => e,
            Err(err) => {
                let path = error_path(&err).unwrap_or_else(|| root.to_owned());
                let reason = match loop_in(&err) {
                    true => "symbolic link loop: skipped".to_owned(),
                    false => match err.io_error() {
                        Some(io) => unreadable(io),
                        None => format!("cannot read: {err}"),
                    },
                };
                out.problems.push((path, reason));
                continue;
            }
        };
        match entry.file_type() {
            Some(t) if t.is_file() => {}
            Some(t) if t.is_dir() || t.is_symlink() => continue,
            // FIFOs, sockets, devices: never opened (a FIFO would block the reader).
            Some(_) => {
                out.problems.push((
                    entry.path().to_owned(),
                    "not a regular file (a FIFO, socket or device): skipped".into(),
                ));
                continue;
            }
            None => continue,
        }
        let path = entry.path().to_owned();
        let real = match path.canonicalize() {
            Ok(real) => real,
            Err(err) => {
                out.problems.push((path, unreadable(&err)));
                continue;
            }
        };
        if real != path {
            if let Some(reason) = outside_reason(&real, &real_root) {
                out.problems.push((path, reason));
                continue;
            }
        }
        if let Some(&at) = seen.get(&real) {
            // Keep the walk's real path over a linked one.
            if path == real {
                out.files[at].path = path;
            }
            continue;
        }
        let meta = match entry.metadata() {
            Ok(m) => m,
            Err(err) => {
                out.problems
                    .push((path, format!("cannot read metadata: {err}")));
                continue;
            }
        };
        if meta.len() > cfg.max_file_bytes {
            out.problems.push((
                path,
                format!(
                    "file is {} MiB, larger than the {} MiB limit (ingest.max_file_bytes): skipped",
                    meta.len() / (1024 * 1024),
                    cfg.max_file_bytes / (1024 * 1024)
                ),
            ));
            continue;
        }
        seen.insert(real, out.files.len());
        out.files.push(FileEntry {
            path,
            size: meta.len(),
            mtime: mtime_secs(&meta),
            mtime_ns: mtime_ns(&meta),
        });
    }
    out.problems
        .extend(refused.lock().unwrap_or_else(|e| e.into_inner()).drain(..));
    Ok(out)
}

/// Why a link whose target is `real` (canonical) is not followed: it leads outside
/// `real_root` (the folder's canonical path) or into the system's virtual file systems. None
/// when it stays inside.
fn outside_reason(real: &Path, real_root: &Path) -> Option<String> {
    if is_system_path(real) {
        return Some(format!(
            "link into {}: system files are never read",
            real.display()
        ));
    }
    (!real.starts_with(real_root)).then(|| {
        format!(
            "link leads outside the folder (to {}): not followed",
            real.display()
        )
    })
}

/// `/proc`, `/sys` and `/dev`: virtual files that are not documents (and can block or leak
/// secrets). Never read, whatever links lead there.
pub fn is_system_path(path: &Path) -> bool {
    ["/proc", "/sys", "/dev"]
        .iter()
        .any(|p| path.starts_with(p))
}

/// Reads a whole regular file, at most `max` bytes. Opened without blocking, so a file swapped
/// for a FIFO (or a device) after the scan fails at once instead of hanging.
pub fn read_regular_file(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut bytes = Vec::with_capacity(meta.len().min(max) as usize);
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::other(format!(
            "grew beyond the {} MiB limit (ingest.max_file_bytes) while being read",
            max / (1024 * 1024)
        )));
    }
    Ok(bytes)
}

/// A file's modification time in whole Unix seconds (0 if unknown): the `mtime` that filters
/// and views use.
pub(crate) fn mtime_secs(meta: &std::fs::Metadata) -> i64 {
    mtime_ns(meta) / 1_000_000_000
}

/// A file's modification time in Unix nanoseconds (0 if unknown). Every comparison with a
/// recorded stat (`KnownDoc::stat_ns`) goes through this one conversion.
pub(crate) fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// How close to "now" a modification time may be before it is not trusted to tell a later
/// edit apart: file systems stamp times from a coarse clock (a few ms on ext4, 2 s on FAT), so
/// a file saved again within the same tick keeps its mtime.
const RACY_WINDOW_NS: i64 = 2_000_000_000;

/// The stat to record for a file whose content was just read: its ns mtime, or `None` when that
/// mtime is within [`RACY_WINDOW_NS`] of now ("racily clean", as git calls it). A `None` stat
/// never matches, so the next reconcile re-hashes the file instead of trusting (size, mtime).
pub(crate) fn trusted_stat(mtime_ns: i64) -> Option<i64> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    (mtime_ns != 0 && now.saturating_sub(mtime_ns).abs() >= RACY_WINDOW_NS).then_some(mtime_ns)
}

/// Why a file or folder could not be read, in words a person can act on.
pub fn unreadable(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => {
            "does not exist (a link to nothing, or removed during the scan): skipped".to_owned()
        }
        std::io::ErrorKind::PermissionDenied => {
            "permission denied: Cairn may not read it (allow reading it, or leave it out of the folder)"
                .to_owned()
        }
        _ if err.raw_os_error() == Some(libc::ELOOP) => "symbolic link loop: skipped".to_owned(),
        _ => format!("cannot read: {err}"),
    }
}

fn loop_in(err: &ignore::Error) -> bool {
    match err {
        ignore::Error::Loop { .. } => true,
        ignore::Error::WithPath { err, .. }
        | ignore::Error::WithDepth { err, .. }
        | ignore::Error::WithLineNumber { err, .. } => loop_in(err),
        _ => false,
    }
}

fn error_path(err: &ignore::Error) -> Option<PathBuf> {
    match err {
        ignore::Error::Loop { child, .. } => Some(child.clone()),
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        _ => None,
    }
}
