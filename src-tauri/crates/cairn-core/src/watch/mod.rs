//! Finding files: walks registered folders with ignore rules.
//!
//! Hidden files, `.gitignore` / `.ignore` / `.cairnignore` patterns, extra exclude patterns
//! from the config, a size cap and symlink loops are handled here. Live watching of folders
//! ([`live`]) builds on this scan: it only signals when to reconcile, and a reconcile is always
//! a scan.

pub mod live;

use std::path::{Path, PathBuf};

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
    builder.filter_entry(move |e| {
        let p = e.path();
        !skip
            .iter()
            .any(|s| p == s || p.canonicalize().is_ok_and(|c| &c == s))
    });
    let mut out = ScanResult::default();
    for entry in builder.build() {
        let entry = match entry {
            Ok(e) => e,
            Err(err) => {
                let path = error_path(&err).unwrap_or_else(|| root.to_owned());
                let reason = match loop_in(&err) {
                    true => "symbolic link loop: skipped".to_owned(),
                    false => format!("cannot read: {err}"),
                };
                out.problems.push((path, reason));
                continue;
            }
        };
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let path = entry.path().to_owned();
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
        out.files.push(FileEntry {
            path,
            size: meta.len(),
            mtime: mtime_secs(&meta),
            mtime_ns: mtime_ns(&meta),
        });
    }
    Ok(out)
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
