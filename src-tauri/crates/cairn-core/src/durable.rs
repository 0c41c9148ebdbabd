//! Durable file replacement: how every file Cairn rewrites whole (the vector index, its
//! metadata, the config) reaches the disk. Write a temporary file in the same folder, fsync it,
//! rename it over the old file, fsync the folder; a crash at any point leaves the old file or
//! the new one, and a failure (a full disk) removes the temporary file. SQLite (the catalog)
//! and tantivy (the text index) do the same on their own files.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The temporary file a replacement of `path` is written to: `.{name}.{pid}.tmp` beside it.
pub(crate) fn tmp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Replaces `path` with `bytes`, durably and atomically. On failure the temporary file is
/// removed and `path` is unchanged.
pub(crate) fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = tmp_path(path);
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    match result {
        Ok(()) => commit(&tmp, path),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Moves the finished temporary file `tmp` over `path`: fsyncs `tmp`, renames it, fsyncs the
/// folder. On failure `tmp` is removed.
pub(crate) fn commit(tmp: &Path, path: &Path) -> std::io::Result<()> {
    let result = std::fs::File::open(tmp)
        .and_then(|f| f.sync_all())
        .and_then(|()| std::fs::rename(tmp, path));
    if let Err(e) = result {
        let _ = std::fs::remove_file(tmp);
        return Err(e);
    }
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// Makes renames and removals in `dir` durable (a no-op where folders cannot be synced).
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// True when the file system holding `dir` has less than `bytes` free (for libraries that
/// report a failed write without its cause). Always false where this cannot be asked.
pub(crate) fn lacks_room(dir: &Path, bytes: u64) -> bool {
    available(dir).is_some_and(|free| free < bytes)
}

#[cfg(unix)]
#[allow(unsafe_code)]
fn available(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a NUL-terminated string and `stat` a writable statvfs; statvfs fills
    // it completely when it returns 0.
    if unsafe { libc::statvfs(path.as_ptr(), stat.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: initialised by the successful call above.
    let stat = unsafe { stat.assume_init() };
    #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
    Some(stat.f_bavail as u64 * stat.f_frsize as u64)
}

#[cfg(not(unix))]
fn available(_dir: &Path) -> Option<u64> {
    None
}

/// Removes the temporary files that a killed writer left in `dir`: those whose name `is_stale`
/// accepts. Call only while holding the writer lock.
pub(crate) fn remove_stale_tmp(dir: &Path, is_stale: impl Fn(&str) -> bool) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if is_stale(&name) && entry.file_type().is_ok_and(|t| t.is_file()) {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => tracing::info!("removed {name}, left by an interrupted write"),
                Err(e) => tracing::warn!("cannot remove {name}: {e}"),
            }
        }
    }
}

/// True for a temporary file [`write`] or [`tmp_path`] made for a file called `file_name`.
pub(crate) fn is_tmp_of(name: &str, file_name: &str) -> bool {
    name.strip_prefix('.')
        .and_then(|n| n.strip_prefix(file_name))
        .is_some_and(|rest| rest.starts_with('.') && rest.ends_with(".tmp"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_replaces_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        write(&path, b"one").unwrap();
        write(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["f.json"]);
        // A failed write (the folder is gone) leaves nothing and reports the error.
        let gone = dir.path().join("missing/f.json");
        assert!(write(&gone, b"x").is_err());
    }

    #[test]
    fn stale_temporary_files_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            ".vectors.json.12.tmp",
            ".vectors.json",
            "vectors.json",
            ".tmpAbC1",
            ".x.tmp",
        ] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        remove_stale_tmp(dir.path(), |n| is_tmp_of(n, "vectors.json"));
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [".tmpAbC1", ".vectors.json", ".x.tmp", "vectors.json"]
        );
        assert!(is_tmp_of(
            &tmp_path(Path::new("d/vectors.usearch"))
                .file_name()
                .unwrap()
                .to_string_lossy(),
            "vectors.usearch"
        ));
    }
}
